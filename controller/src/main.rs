//! The `o365-controller` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    o365_controller::cli::run(o365_controller::cli::Cli::parse())
}
