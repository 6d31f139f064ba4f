//! `cachegen schema`: the JSON Schema of the spec format, for editors.

use std::process::ExitCode;

use anyhow::Result;

/// Prints the spec's JSON Schema.
pub(crate) fn run() -> Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&cachegen_compiler::spec::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
