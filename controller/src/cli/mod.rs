//! The command line: argument parsing and one function per subcommand.

mod crds;
mod sim;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Manage an Office 365 / Microsoft Entra tenant declaratively: federated domains, users and
/// licenses from Kubernetes objects or YAML files.
#[derive(Debug, Parser)]
#[command(name = "o365-controller", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every CRD as multi-document YAML (or write one file per CRD with --output-dir).
    Crds {
        /// Write `<name>.yaml` files into this directory instead of printing.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Check manifests against the CRD schemas and admission rules, offline.
    /// Exits 0 when every document is valid, 1 otherwise.
    Validate {
        /// A manifest file or a directory (read recursively). Repeatable.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve the Microsoft Graph simulator (token endpoint + Graph v1.0) until interrupted.
    Sim(sim::SimArgs),
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crds { output_dir } => crds::run(output_dir.as_deref()),
        Command::Validate { files } => validate::run(&files),
        Command::Sim(args) => sim::run(args),
    }
}
