//! The body of each `cachegen` command, one module per command (`build`, `check`, `diff`
//! share their outputs in `outputs.rs`; `backfill` and `query` their deployed cache in
//! `operation.rs`), and what every command shares: loading the spec, reporting its
//! problems as `--error-format` asks, the exit codes, and the async runtime the AWS
//! commands run on.

pub(crate) mod backfill;
pub(crate) mod breaking;
pub(crate) mod build;
pub(crate) mod check;
pub(crate) mod cost;
pub(crate) mod deploy;
pub(crate) mod diff;
pub(crate) mod docs;
pub(crate) mod explain;
pub(crate) mod init;
pub(crate) mod ir;
mod operation;
mod outputs;
pub(crate) mod query;
pub(crate) mod schema;
pub(crate) mod verify;

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};

use cachegen_compiler::diagnostics::Diagnostics;
use cachegen_compiler::ir::Target;
use cachegen_compiler::{Error, Project};

use crate::ErrorFormat;

/// Exit code for a spec with problems.
pub(crate) const SPEC_PROBLEMS: u8 = 2;
/// Exit code for a command missing input it needs (as clap exits on a usage error).
pub(crate) const USAGE: u8 = 2;

/// The `--error-format` of this run, set once in `main`.
pub(crate) static ERROR_FORMAT: OnceLock<ErrorFormat> = OnceLock::new();

/// Prints a spec's problems as `--error-format` asks.
pub(crate) fn report_problems(diagnostics: &Diagnostics) {
    eprint!("{diagnostics}");
    if ERROR_FORMAT.get() == Some(&ErrorFormat::Github) {
        print!("{}", diagnostics.render_github());
    }
}

/// Loads the spec, printing its problems and returning `None` when it has any.
pub(crate) fn load(spec: &Path) -> Result<Option<Project>> {
    load_for(spec, None)
}

/// [`load`], checking the outputs of `targets` (the spec's own when `None`) against AWS's
/// limits.
pub(crate) fn load_for(spec: &Path, targets: Option<&[Target]>) -> Result<Option<Project>> {
    match Project::load_for(spec, targets) {
        Ok(project) => Ok(Some(project)),
        Err(Error::Spec(diagnostics)) => {
            report_problems(&diagnostics);
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// The single-threaded runtime the AWS commands block on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
