//! Helpers shared by the CLI's integration tests.

// Each test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The `cachegen` binary this package built, ready for arguments.
pub(crate) fn cachegen_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cachegen"))
}

/// Runs `cachegen args` in `dir`.
pub(crate) fn cachegen(dir: &Path, args: &[&str]) -> Output {
    cachegen_command()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cachegen runs")
}
