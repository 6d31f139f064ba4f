//! `cachegen check`: fails when the checked-in outputs differ from what `build` writes.

use std::process::ExitCode;

use anyhow::Result;

use cachegen_compiler::output;

use super::SPEC_PROBLEMS;
use super::outputs::{load_args, outputs};
use crate::BuildArgs;

/// Names each stale or missing output of `args`, exiting 1 when there is any.
pub(crate) fn run(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load_args(args)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let Some((dir, files)) = outputs(args, &project)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let stale = output::stale(&dir, &files);
    if stale.is_empty() {
        println!(
            "{} outputs of {} are up to date",
            files.len(),
            args.spec.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for path in &stale {
        eprintln!("stale: {}", path.display());
    }
    eprintln!(
        "{} of {} outputs differ from the spec; run `cachegen build {}`",
        stale.len(),
        files.len(),
        args.spec.path().display()
    );
    Ok(ExitCode::FAILURE)
}
