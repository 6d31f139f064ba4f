//! `cachegen diff`: what a spec change does to the checked-in outputs, for review.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::SPEC_PROBLEMS;
use super::outputs::{load_args, outputs};
use crate::BuildArgs;

/// Prints each table's CloudFormation changes and a unified diff of every changed output
/// of `args`, exiting 1 when any changes.
pub(crate) fn run(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load_args(args)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let Some((dir, files)) = outputs(args, &project)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let mut changed = false;
    for file in &files {
        let path = dir.join(&file.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old == file.contents {
            continue;
        }
        changed = true;
        if file.path.extension().is_some_and(|ext| ext == "yaml") {
            let changes = cachegen::deploy::plan::table_changes(&old, &file.contents)
                .with_context(|| format!("reading {}", path.display()))?;
            for change in &changes {
                for line in change.describe() {
                    println!("{line}");
                }
                if let Some(refusal) = change.refusal() {
                    println!("warning: deploy refuses this: {refusal}");
                }
            }
            let steps = cachegen::deploy::steps::steps(&old, &file.contents)
                .with_context(|| format!("reading {}", path.display()))?;
            if !old.is_empty() && steps.len() > 1 {
                for line in cachegen::deploy::describe_steps(&steps) {
                    println!("{line}");
                }
            }
        }
        let name = path.display().to_string();
        print!(
            "{}",
            similar::TextDiff::from_lines(&old, &file.contents)
                .unified_diff()
                .context_radius(3)
                .header(&name, &name)
        );
    }
    if !changed {
        println!("no output of {} changes", args.spec.path().display());
    }
    Ok(if changed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
