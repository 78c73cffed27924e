//! `o365-controller crds`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::api::{crd_file_name, crd_yaml, crds};

/// Prints the CRDs, or writes them into `output_dir`.
pub fn run(output_dir: Option<&Path>) -> ExitCode {
    match write(output_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write(output_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    for crd in crds() {
        let yaml = crd_yaml(&crd)?;
        match output_dir {
            Some(dir) => std::fs::write(dir.join(crd_file_name(&crd)), yaml)?,
            None => stdout.write_all(yaml.as_bytes())?,
        }
    }
    Ok(())
}
