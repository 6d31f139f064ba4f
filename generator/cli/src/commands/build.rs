//! `cachegen build`: writes the spec's outputs, all together or none.

use std::process::ExitCode;

use anyhow::{Context, Result};

use cachegen_compiler::output;

use super::SPEC_PROBLEMS;
use super::outputs::{load_args, outputs};
use crate::BuildArgs;

/// Writes the outputs of `args`, refusing to replace a file cachegen did not write unless
/// `force`.
pub(crate) fn run(args: &BuildArgs, force: bool) -> Result<ExitCode> {
    let Some(project) = load_args(args)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let Some((dir, files)) = outputs(args, &project)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let foreign = output::not_generated(&dir, &files);
    if !force && !foreign.is_empty() {
        for path in &foreign {
            eprintln!(
                "error: {} was not written by cachegen (it has no `{}` header)",
                path.display(),
                cachegen_compiler::emit::GENERATED_MARKER.trim_end()
            );
        }
        eprintln!(
            "refusing to overwrite {} file(s); nothing was written. Move them away, or pass --force to overwrite them",
            foreign.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    let written = output::write_all(&dir, &files)
        .with_context(|| format!("writing outputs to {}", dir.display()))?;
    for note in &project.model.notes {
        eprintln!("note: {note}");
    }
    for file in &files {
        let path = dir.join(&file.path);
        let state = if written.contains(&path) {
            "wrote"
        } else {
            "unchanged"
        };
        println!("{state:>9} {}", path.display());
    }
    println!("fingerprint {}", project.model.fingerprint);
    Ok(ExitCode::SUCCESS)
}
