//! `cachegen cost`: the monthly DynamoDB cost of the traffic the spec declares.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::{SPEC_PROBLEMS, load};

/// Prints the estimate for the spec at `spec`, as a table or with `json` as JSON.
pub(crate) fn run(spec: &Path, json: bool) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let estimate = cachegen_compiler::cost::estimate(&project.model);
    if json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        print!("{}", cachegen_compiler::cost::render(&estimate));
    }
    Ok(ExitCode::SUCCESS)
}
