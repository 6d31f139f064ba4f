//! `cachegen verify`: a deployed stack's tables and document buckets, compared with the
//! spec.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::{SPEC_PROBLEMS, load, runtime};

/// Prints every difference between stack `stack` and the spec at `spec`, exiting 1 when
/// there is any.
pub(crate) fn run(spec: &Path, stack: &str) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let report = cachegen::verify::verify_stack(
            &aws_sdk_cloudformation::Client::new(&config),
            &aws_sdk_dynamodb::Client::new(&config),
            &cachegen_runtime::config::s3_client(&config),
            &project.model,
            stack,
        )
        .await?;
        print!("{report}");
        if report.is_ok() {
            println!();
            Ok(ExitCode::SUCCESS)
        } else {
            Ok(ExitCode::FAILURE)
        }
    })
}
