//! The `o365-controller` binary: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: the controller's memory comes and goes in
/// bursts (a full read of the tenant, every reconcile's plan), and glibc's malloc kept the
/// freed memory of those bursts resident (B3, README Benchmarks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    o365_controller::cli::run(o365_controller::cli::Cli::parse())
}
