//! What `build`, `check` and `diff` compare: the outputs `--target` asks for (else the
//! spec's targets and templates), and the directory they go to.

use std::path::PathBuf;

use anyhow::Result;

use cachegen_compiler::emit::GeneratedFile;
use cachegen_compiler::ir::Target;
use cachegen_compiler::{Error, Project};

use super::{load_for, report_problems};
use crate::BuildArgs;

/// The targets `--target` asks for, if any.
fn requested_targets(args: &BuildArgs) -> Vec<Target> {
    args.target.iter().copied().map(Target::from).collect()
}

/// Loads the spec of `args`, checking the targets they ask for against AWS's limits.
pub(crate) fn load_args(args: &BuildArgs) -> Result<Option<Project>> {
    let targets = requested_targets(args);
    load_for(
        args.spec.path(),
        (!targets.is_empty()).then_some(targets.as_slice()),
    )
}

/// Where the outputs go and what they are: the targets given, or the spec's targets and
/// templates. `None` when a template has problems, which are printed.
pub(crate) fn outputs(
    args: &BuildArgs,
    project: &Project,
) -> Result<Option<(PathBuf, Vec<GeneratedFile>)>> {
    let targets = requested_targets(args);
    let files = match project.outputs((!targets.is_empty()).then_some(targets.as_slice())) {
        Ok(files) => files,
        Err(Error::Spec(diagnostics)) => {
            report_problems(&diagnostics);
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| project.default_out_dir());
    Ok(Some((dir, files)))
}
