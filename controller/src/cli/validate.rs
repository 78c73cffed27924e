//! `o365-controller validate -f PATH...`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::manifest;

/// Validates the manifests and prints every problem as `file:line:column: message`.
pub fn run(files: &[PathBuf], max_file_size: u64) -> ExitCode {
    match manifest::load_with(files, &manifest::Limits { max_file_size }) {
        Ok(manifests) => {
            println!("{} objects valid", manifests.len());
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            eprintln!("{} problem(s) found", diagnostics.len());
            ExitCode::FAILURE
        }
    }
}
