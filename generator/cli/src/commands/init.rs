//! `cachegen init`: writes the commented starter spec.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

/// Writes the starter spec to `path`, which must not exist yet.
pub(crate) fn run(path: &Path) -> Result<ExitCode> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(cachegen_compiler::STARTER_SPEC.as_bytes())?;
    println!(
        "wrote {}; next: cachegen build {}",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
