//! `cachegen explain CG0310`: a diagnostic code's page, as the book's index shows it.

use cachegen_compiler::diagnostics::codes::Code;

/// Why a code cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// No diagnostic has this code.
    #[error(
        "`{0}` is not a cachegen diagnostic code\n  = help: codes are `CG` and four digits, as in `error[CG0310]`; the book's diagnostic index lists them all"
    )]
    Unknown(String),
}

/// The page of the code `id` (case-insensitive).
pub fn explain(id: &str) -> Result<&'static str, ExplainError> {
    let code = Code::find(id.trim()).ok_or_else(|| ExplainError::Unknown(id.to_owned()))?;
    Ok(code.explanation())
}
