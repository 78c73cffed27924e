//! The command line: argument parsing and one function per subcommand.

mod apply;
mod crds;
mod import;
mod markdown;
mod output;
mod plan;
mod run;
mod session;
mod sim;
mod skus;
mod synced;
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
        /// The largest manifest file read (e.g. 128MiB); only regular files are read.
        #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = crate::manifest::parse_size)]
        max_file_size: u64,
    },
    /// Show what would change in the tenant, and drift. Exits 0 when every object is InSync,
    /// 2 when anything is Drifted, Blocked or held, 1 on error (a CI drift gate).
    Plan(plan::PlanArgs),
    /// Converge the tenant toward the manifests and print a report.
    /// Exits 0 only when converged with nothing blocked, held or short of seats; 2 when
    /// something is still Drifted, Blocked or held; 1 when an action or a read failed.
    Apply(apply::ApplyArgs),
    /// Write the tenant as manifests (Tenant, FederatedDomains, AppAssignments, inferred
    /// LicensePolicies) that plan as a no-op; or, with --domain, one AppAssignment (IMPORT USERS).
    Import(import::ImportArgs),
    /// List the SKUs the tenant subscribes to, with seats and service-plan names (REFRESH
    /// LICENSES): what a LicensePolicy may name.
    Skus(skus::SkusArgs),
    /// Run the Kubernetes controller: reconcile Tenants and their domains, assignments and
    /// policies from the API server until SIGTERM.
    Run(run::RunArgs),
    /// Serve the Microsoft Graph simulator (token endpoint + Graph v1.0) until interrupted.
    Sim(sim::SimArgs),
}

/// Runs the parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Crds { output_dir } => crds::run(output_dir.as_deref()),
        Command::Validate {
            files,
            max_file_size,
        } => validate::run(&files, max_file_size),
        Command::Sim(args) => sim::run(args),
        Command::Run(args) => run::run(args),
        Command::Plan(args) => block_on(plan::run(args)),
        Command::Apply(args) => block_on(apply::run(args)),
        Command::Import(args) => block_on(import::run(args)),
        Command::Skus(args) => block_on(skus::run(args)),
    }
}

/// Runs an async subcommand on a fresh runtime; a [`session::CliError`] prints and exits 1.
fn block_on(
    command: impl std::future::Future<Output = Result<ExitCode, session::CliError>>,
) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error; `RUST_LOG` selects what (default: warnings).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
