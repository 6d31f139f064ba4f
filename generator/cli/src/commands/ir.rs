//! `cachegen ir`: the validated model as JSON, the view user templates read, or its JSON
//! Schema.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::{SPEC_PROBLEMS, load};

/// Prints the view of the spec at `spec`, or with `schema` the view's JSON Schema.
pub(crate) fn run(spec: &Path, schema: bool) -> Result<ExitCode> {
    if schema {
        println!(
            "{}",
            serde_json::to_string_pretty(&cachegen_compiler::view::json_schema())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let view = cachegen_compiler::view::View::new(&project.model);
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(ExitCode::SUCCESS)
}
