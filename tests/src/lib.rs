//! Shared helpers for the end-to-end tests: the workspace layout, the external tools
//! (cfn-lint, checkov, terraform) and the deployed-table check.

pub mod counting;
pub mod deployed;
pub mod terraform_root;
pub mod typescript;

use std::path::{Path, PathBuf};

pub use cachegen_testkit::workspace_root;
use std::process::Command;

/// Each bundled example: its name and its compiled project.
pub fn examples() -> Vec<(String, cachegen_compiler::Project)> {
    cachegen_testkit::example_specs()
        .into_iter()
        .map(|(name, spec)| {
            let project = cachegen_compiler::Project::load(spec)
                .unwrap_or_else(|err| panic!("example {name}: {err}"));
            (name, project)
        })
        .collect()
}

/// Creates table `table`, on demand and keyed by the string attribute `partition_key`, and
/// waits until it is ACTIVE (dynalite, like DynamoDB, creates tables asynchronously).
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str, partition_key: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TableStatus,
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(partition_key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(partition_key)
                .key_type(KeyType::Hash)
                .build()
                .expect("name and type are set"),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("CreateTable {table}: {err:?}"));
    for _ in 0..200 {
        let described = client.describe_table().table_name(table).send().await;
        let status = described
            .unwrap_or_else(|err| panic!("DescribeTable {table}: {err:?}"))
            .table()
            .and_then(|table| table.table_status().cloned());
        if status == Some(TableStatus::Active) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("table {table} never became active");
}

/// The compiled project of `tests/fixtures/<name>.cache.yaml`.
pub fn fixture(name: &str) -> cachegen_compiler::Project {
    let spec = workspace_root().join(format!("tests/fixtures/{name}.cache.yaml"));
    cachegen_compiler::Project::load(&spec).unwrap_or_else(|err| panic!("fixture {name}: {err}"))
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

/// What a deployment of a spec's sync functions needs, made ready on moto.
pub struct SyncFunctions {
    /// Template parameters (Terraform variables, by their parameter names) and values.
    pub parameters: Vec<(String, String)>,
    /// The ARN of each bucket's sync function made ready here, by bucket name, once
    /// deployed by Terraform, which names a created function after the stack
    /// (CloudFormation adds a suffix of its own).
    pub arns: std::collections::BTreeMap<String, String>,
}

/// The name of the function `bucket`'s events reach when `stack` is deployed, and of its
/// stub; a created function's code zip is in a bucket of that name with `-code`.
fn sync_function_name(stack: &str, bucket: &cachegen_compiler::ir::Bucket) -> String {
    format!("{stack}-{}-sync", bucket.name)
}

/// The key of a created function's code zip.
const CODE_KEY: &str = "sync.zip";

/// What a deployment of `model` as `stack` is given for its sync functions, and their ARNs
/// once deployed, as [`sync_functions`] makes them ready. A function passed by a literal
/// ARN is left as it is.
pub fn sync_function_inputs(
    model: &cachegen_compiler::ir::CacheModel,
    stack: &str,
) -> SyncFunctions {
    use cachegen_compiler::ir::{NamePart, NameTemplate, SyncFunction};
    let parameter = |template: &NameTemplate| match template.0.as_slice() {
        [NamePart::Parameter(parameter)] => Some(parameter.clone()),
        _ => None,
    };
    let mut functions = SyncFunctions {
        parameters: Vec::new(),
        arns: Default::default(),
    };
    for bucket in &model.buckets {
        let Some(events) = &bucket.events else {
            continue;
        };
        let name = sync_function_name(stack, bucket);
        let arn = cachegen_testkit::stub_function_arn(&name);
        match &events.function {
            SyncFunction::Arn(template) => {
                let Some(parameter) = parameter(template) else {
                    continue;
                };
                functions.parameters.push((parameter, arn.clone()));
            }
            SyncFunction::Created(function) => {
                for (template, value) in [
                    (&function.code_bucket, format!("{name}-code")),
                    (&function.code_key, CODE_KEY.to_owned()),
                ] {
                    functions
                        .parameters
                        .extend(parameter(template).map(|p| (p, value)));
                }
            }
        }
        functions.arns.insert(bucket.name.clone(), arn);
    }
    functions
}

/// Makes ready, on moto, the sync functions of `model` deployed as `stack` and returns
/// [`sync_function_inputs`]: a stub function for each bucket whose events go to a function
/// passed by a parameter, and the code zip of each function the template creates.
pub async fn sync_functions(
    sdk: &aws_config::SdkConfig,
    model: &cachegen_compiler::ir::CacheModel,
    stack: &str,
) -> SyncFunctions {
    use cachegen_compiler::ir::SyncFunction;
    let cloudformation = aws_sdk_cloudformation::Client::new(sdk);
    let s3 = cachegen_runtime::config::s3_client(sdk);
    for bucket in &model.buckets {
        let Some(events) = &bucket.events else {
            continue;
        };
        let name = sync_function_name(stack, bucket);
        match &events.function {
            SyncFunction::Arn(_) => {
                cloudformation
                    .create_stack()
                    .stack_name(&name)
                    .template_body(cachegen_testkit::stub_function_template(&name))
                    .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
                    .send()
                    .await
                    .expect("stub function stack is created");
            }
            SyncFunction::Created(_) => {
                let code_bucket = format!("{name}-code");
                s3.create_bucket()
                    .bucket(&code_bucket)
                    .send()
                    .await
                    .expect("the code bucket is created");
                s3.put_object()
                    .bucket(&code_bucket)
                    .key(CODE_KEY)
                    .body(cachegen_testkit::EMPTY_ZIP.to_vec().into())
                    .send()
                    .await
                    .expect("the code zip is uploaded");
            }
        }
    }
    sync_function_inputs(model, stack)
}

/// Deploys `project`'s CloudFormation template as `stack` with `cachegen::deploy`,
/// returning the stack outputs and the progress lines it printed.
pub async fn deploy(
    cloudformation: &aws_sdk_cloudformation::Client,
    project: &cachegen_compiler::Project,
    stack: &str,
    parameters: &[(&str, &str)],
    execute: bool,
) -> Result<(cachegen::deploy::DeployOutcome, Vec<String>), cachegen::deploy::DeployError> {
    let template = project
        .files(Some(&[cachegen_compiler::ir::Target::Cloudformation]))
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
        template_url: None,
        dynamodb: None,
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
    project: &cachegen_compiler::Project,
    stack: &str,
    table: &str,
) -> String {
    let table = project
        .model
        .table_named(table)
        .unwrap_or_else(|| panic!("the spec declares no table `{table}`"));
    cachegen::deploy::stack::table_name(cloudformation, stack, table)
        .await
        .expect("the stack has the table")
}

/// Writes generated files under `dir`, creating folders.
pub fn write_files(dir: &Path, files: &[cachegen_compiler::emit::GeneratedFile]) {
    for file in files {
        let path = dir.join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.contents).unwrap();
    }
}

/// checkov from its own virtualenv (`.venv-checkov`, which `scripts/test.sh` fills),
/// or from `CACHEGEN_CHECKOV`.
pub fn checkov() -> Command {
    let path = std::env::var_os("CACHEGEN_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv-checkov/bin/checkov"));
    assert!(
        path.is_file(),
        "checkov is not at {}: run the suite with scripts/test.sh, which installs it",
        path.display()
    );
    Command::new(path)
}

/// Where `terraform init` finds the AWS provider offline (`CACHEGEN_TF_PLUGIN_DIR`).
pub fn terraform_plugin_dir() -> PathBuf {
    std::env::var_os("CACHEGEN_TF_PLUGIN_DIR")
        .map_or_else(|| PathBuf::from("/opt/tf-plugins"), PathBuf::from)
}

/// `terraform` in `dir` with no user CLI configuration, or `None` (with a loud notice)
/// when it is not installed: only the Terraform tests are skipped then.
pub fn terraform(dir: &Path) -> Option<Command> {
    let found = Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!(
            "\n!!!! terraform is not on PATH: SKIPPING the Terraform tests (fmt, validate, plan, apply) !!!!\n"
        );
        return None;
    }
    let mut command = Command::new("terraform");
    command
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
    Some(command)
}

/// Runs a command to success, or panics with its output.
pub fn run(mut command: Command) -> String {
    let output = command.output().expect("the command starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}
