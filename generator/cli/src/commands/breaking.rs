//! `cachegen breaking`: classifies what each change since an earlier spec does to a live
//! cache, and refuses the classes not allowed.

use std::process::ExitCode;

use anyhow::{Context, Result};

use cachegen_compiler::breaking::{self, Report};
use cachegen_compiler::validate;

use super::{ERROR_FORMAT, SPEC_PROBLEMS, report_problems};
use crate::{BreakingArgs, BreakingFormat, ErrorFormat};

/// Compares the spec of `args` with `--against`, exiting 1 when a change is refused.
pub(crate) fn run(args: &BreakingArgs) -> Result<ExitCode> {
    let spec = args.spec.path();
    let bytes = std::fs::read(spec).with_context(|| format!("reading {}", spec.display()))?;
    let compiled = validate::decode(&spec.display().to_string(), &bytes)
        .and_then(|file| cachegen_compiler::compile(&file).map(|model| (file, model)));
    let (file, new) = match compiled {
        Ok(compiled) => compiled,
        Err(diagnostics) => {
            report_problems(&diagnostics);
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        }
    };
    let Some(earlier) = cachegen::against::read(spec, &args.against)? else {
        println!(
            "{} is new at {}: nothing to compare",
            spec.display(),
            args.against
        );
        return Ok(ExitCode::SUCCESS);
    };
    let old = match cachegen_compiler::compile_text(&earlier.label, &earlier.text) {
        Ok(old) => old,
        Err(diagnostics) => {
            report_problems(&diagnostics);
            eprintln!(
                "the earlier spec ({}) does not compile: nothing to compare",
                earlier.label
            );
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        }
    };
    let report = Report::new(
        &file,
        &earlier.label,
        breaking::compare(&old, &new),
        &args.allow,
    );
    let format = args.format.unwrap_or(match ERROR_FORMAT.get() {
        Some(ErrorFormat::Github) => BreakingFormat::Github,
        _ => BreakingFormat::Text,
    });
    match format {
        BreakingFormat::Text => print!("{}", report.render_text()),
        BreakingFormat::Json => print!("{}", report.render_json()),
        BreakingFormat::Github => {
            print!("{}", report.render_github());
            eprint!("{}", report.render_text());
        }
    }
    Ok(if report.refused() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
