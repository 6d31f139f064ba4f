//! `cachegen deploy`: the spec's CloudFormation template, deployed through change sets.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use cachegen::deploy::{DeployOptions, DeployOutcome};
use cachegen_compiler::ir::Target;
use cachegen_compiler::limits::TEMPLATE_BODY_INLINE;

use super::{SPEC_PROBLEMS, USAGE, load_for, runtime};

/// Deploys the spec at `spec` as `stack` with `parameters`, only creating the first change
/// set unless `execute`; a template too large to send inline is uploaded to
/// `template_bucket` first.
pub(crate) fn run(
    spec: &Path,
    stack: String,
    parameters: Vec<(String, String)>,
    execute: bool,
    template_bucket: Option<String>,
) -> Result<ExitCode> {
    let Some(project) = load_for(spec, Some(&[Target::Cloudformation]))? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let template = project
        .files(Some(&[Target::Cloudformation]))
        .remove(0)
        .contents;
    // Before any AWS call (the upload below is one): every missing parameter at once.
    if let Err(err) = cachegen::deploy::check_parameters(&template, &parameters) {
        eprintln!("error: {err}");
        return Ok(ExitCode::from(USAGE));
    }
    let fingerprint = &project.model.fingerprint;
    runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let template_url = match &template_bucket {
            Some(bucket) => {
                upload_if_large(&config, bucket, &stack, fingerprint, &template).await?
            }
            None => None,
        };
        let options = DeployOptions {
            stack,
            parameters,
            poll: std::time::Duration::from_secs(2),
            execute,
            template_url,
            dynamodb: Some(aws_sdk_dynamodb::Client::new(&config)),
        };
        let client = aws_sdk_cloudformation::Client::new(&config);
        let outcome =
            cachegen::deploy::deploy(&client, &template, fingerprint, &options, &mut |line| {
                println!("{line}")
            })
            .await?;
        print_outcome(&options.stack, outcome);
        Ok(ExitCode::SUCCESS)
    })
}

/// Uploads `template` to `bucket` when it is over what CloudFormation takes inline, and
/// returns its URL; `None` when it is sent inline.
async fn upload_if_large(
    config: &aws_config::SdkConfig,
    bucket: &str,
    stack: &str,
    fingerprint: &str,
    template: &str,
) -> Result<Option<String>> {
    if template.len() <= TEMPLATE_BODY_INLINE {
        return Ok(None);
    }
    let url = cachegen::deploy::upload_template(
        &cachegen_runtime::config::s3_client(config),
        bucket,
        stack,
        fingerprint,
        template,
    )
    .await?;
    println!("uploaded the {}-byte template to {url}", template.len());
    Ok(Some(url))
}

/// Says what the deploy of `stack` did, with the stack's outputs when it deployed.
fn print_outcome(stack: &str, outcome: DeployOutcome) {
    match outcome {
        DeployOutcome::NoChanges => {
            println!("stack {stack} is up to date");
        }
        DeployOutcome::Planned { change_set, .. } => {
            println!("change set {change_set} created and left for review");
        }
        DeployOutcome::Deployed(outputs) => {
            println!("stack {stack} deployed");
            for (key, value) in outputs {
                println!("{key} = {value}");
            }
        }
    }
}
