//! `cachegen explain`: a diagnostic code's page of the book's index.

use std::process::ExitCode;

use super::SPEC_PROBLEMS;

/// Prints the page of `code`, exiting 2 for a code that does not exist.
pub(crate) fn run(code: &str) -> ExitCode {
    match cachegen::explain::explain(code) {
        Ok(page) => {
            print!("{page}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(SPEC_PROBLEMS)
        }
    }
}
