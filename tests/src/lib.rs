//! Shared helpers for the end-to-end tests: the workspace layout and the external tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Each bundled example: its name and its compiled project.
pub fn examples() -> Vec<(String, cachegen::Project)> {
    let mut examples: Vec<(String, cachegen::Project)> =
        std::fs::read_dir(workspace_root().join("examples"))
            .expect("examples/ exists")
            .map(|entry| entry.expect("readable entry").path())
            .filter(|dir| dir.join("cache.yaml").is_file())
            .map(|dir| {
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                let project = cachegen::Project::load(dir.join("cache.yaml"))
                    .unwrap_or_else(|err| panic!("example {name}: {err}"));
                (name, project)
            })
            .collect();
    examples.sort_by(|a, b| a.0.cmp(&b.0));
    examples
}

/// A command for an external tool the test script installs, failing clearly when absent.
pub fn tool(name: &str) -> Command {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "`{name}` is not on PATH: run the suite with scripts/test.sh, which installs it"
    );
    Command::new(name)
}

/// AWS configuration for a moto server at `endpoint`: dummy credentials, loopback only.
pub async fn moto_sdk(endpoint: &str) -> aws_config::SdkConfig {
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "tests only talk to loopback"
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cachegen-tests",
        ))
        .load()
        .await
}

/// Creates IAM roles named `names` (consumers' existing roles) through a CloudFormation stack.
pub async fn create_roles(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: &str,
    names: &[&str],
) {
    let resources: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .enumerate()
        .map(|(position, name)| {
            (
                format!("Role{position}"),
                serde_json::json!({
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": name,
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }]
                        }
                    }
                }),
            )
        })
        .collect();
    let template = serde_json::json!({ "Resources": resources }).to_string();
    cloudformation
        .create_stack()
        .stack_name(stack)
        .template_body(template)
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("roles stack is created");
}

/// Deploys `project`'s CloudFormation template as `stack` with `cachegen::deploy`,
/// returning the stack outputs and the progress lines it printed.
pub async fn deploy(
    cloudformation: &aws_sdk_cloudformation::Client,
    project: &cachegen::Project,
    stack: &str,
    parameters: &[(&str, &str)],
    execute: bool,
) -> Result<(cachegen::deploy::DeployOutcome, Vec<String>), cachegen::deploy::DeployError> {
    let template = project
        .files(Some(&[cachegen::ir::Target::Cloudformation]))
        .remove(0)
        .contents;
    deploy_template(
        cloudformation,
        &template,
        &project.model.fingerprint,
        stack,
        parameters,
        execute,
    )
    .await
}

/// Like [`deploy`], for an explicit template text.
pub async fn deploy_template(
    cloudformation: &aws_sdk_cloudformation::Client,
    template: &str,
    fingerprint: &str,
    stack: &str,
    parameters: &[(&str, &str)],
    execute: bool,
) -> Result<(cachegen::deploy::DeployOutcome, Vec<String>), cachegen::deploy::DeployError> {
    let options = cachegen::deploy::DeployOptions {
        stack: stack.to_owned(),
        parameters: parameters
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        poll: std::time::Duration::from_millis(200),
        execute,
    };
    let mut lines = Vec::new();
    let outcome = cachegen::deploy::deploy(
        cloudformation,
        template,
        fingerprint,
        &options,
        &mut |line| lines.push(line.to_owned()),
    )
    .await?;
    Ok((outcome, lines))
}

/// The physical name of `project`'s table `table` in `stack` (moto leaves stacks made by
/// change sets without Outputs, so tests find tables as `cachegen verify` does).
pub async fn table_name(
    cloudformation: &aws_sdk_cloudformation::Client,
    project: &cachegen::Project,
    stack: &str,
    table: &str,
) -> String {
    cachegen::deploy::stack_table_name(cloudformation, stack, project.model.table(table))
        .await
        .expect("the stack has the table")
}
