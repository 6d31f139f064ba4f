//! Every example's SAM template, expanded by aws-sam-translator (moto has no SAM
//! transform) and created as a plain CloudFormation stack in moto.
//!
//! What this proves: the template is valid SAM; its expansion is a stack moto's
//! CloudFormation creates; the table, its keys, GSIs with projections and tags (the
//! fingerprint included) come out as the IR says; the policies attach to existing roles.
//! What it does not: moto's CloudFormation ignores TTL, point-in-time recovery, SSE and
//! `AWS::CloudWatch::Alarm`, so those are proved by the Terraform deploy and by
//! cfn-lint, not here.

use std::process::Command;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use cachegen_compiler::ir::{Role, SyncFunction, Target};
use cachegen_testkit::{MOTO_ACCOUNT_ID, TestServer};
use cachegen_tests::deployed::{self, Resolver};
use cachegen_tests::{examples, moto_sdk, run, sync_functions, workspace_root, write_files};
use serde_json::json;

/// The SAM template expanded to CloudFormation JSON by aws-sam-translator.
fn translate(sam: &std::path::Path) -> String {
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run the suite with scripts/test.sh, which installs aws-sam-translator",
        python.display()
    );
    let mut command = Command::new(python);
    command
        .arg(workspace_root().join("tests/sam_translate.py"))
        .arg(sam)
        .env("AWS_DEFAULT_REGION", "us-east-1");
    run(command)
}

/// A stack parameter and its value.
fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

async fn create_stack(client: &Client, name: &str, body: String, parameters: Vec<Parameter>) {
    client
        .create_stack()
        .stack_name(name)
        .template_body(body)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .unwrap_or_else(|err| panic!("CreateStack {name}: {err:?}"));
    for _ in 0..100 {
        let stack = client
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
            .unwrap()
            .stacks()[0]
            .clone();
        match stack.stack_status() {
            Some(StackStatus::CreateComplete) => return,
            Some(StackStatus::CreateInProgress) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => panic!("stack {name}: {other:?} {:?}", stack.stack_status_reason()),
        }
    }
    panic!("stack {name} never completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_sam_template_expands_and_deploys_to_moto() {
    // A private moto: the Terraform deploy test creates tables of the same names.
    let moto = TestServer::moto().expect("moto_server starts");
    let sdk = moto_sdk(&moto.endpoint()).await;
    let client = Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    for (name, project) in examples() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &project.files(Some(&[Target::Sam])));
        let template = translate(&dir.path().join("sam.yaml"));
        let redis = project.model.store.redis();
        if redis.is_some_and(|redis| redis.created.is_some()) {
            // moto has no ElastiCache Serverless: translated above, linted by cfn-lint.
            eprintln!("{name}: not deployed, moto cannot create an ElastiCache Serverless cache");
            continue;
        }

        // The consumers' existing roles, in a stack of their own so they exist first.
        let mut roles = serde_json::Map::new();
        let mut parameters = Vec::new();
        for (index, consumer) in project.model.consumers.iter().enumerate() {
            let role_name = match &consumer.role {
                Role::Create => continue,
                Role::Existing(role) => role.clone(),
                Role::Parameter(_) | Role::ArnParameter(_) => format!("{name}-{}", consumer.name),
            };
            roles.insert(
                format!("Role{index}"),
                json!({
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": role_name,
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{ "Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": { "Service": "lambda.amazonaws.com" } }],
                        },
                    },
                }),
            );
            let value = match &consumer.role {
                Role::Parameter(parameter) => (parameter, role_name),
                Role::ArnParameter(parameter) => (
                    parameter,
                    format!("arn:aws:iam::123456789012:role/{role_name}"),
                ),
                _ => continue,
            };
            parameters.push(parameter(value.0, &value.1));
        }
        if !roles.is_empty() {
            let body = json!({ "AWSTemplateFormatVersion": "2010-09-09", "Resources": roles });
            create_stack(
                &client,
                &format!("{name}-roles"),
                body.to_string(),
                Vec::new(),
            )
            .await;
        }
        for (key, value) in sync_functions(&sdk, &project.model, &name).await.parameters {
            parameters.push(parameter(&key, &value));
        }
        create_stack(&client, &name, template, parameters).await;

        let resolver = Resolver::defaults(&project.model, &name);
        for table in &project.model.tables {
            let expected = deployed::expected(&project.model, table, &resolver);
            let actual = deployed::describe(&dynamodb, &expected.name).await;
            // moto's CloudFormation leaves TTL off; everything else must match.
            assert_eq!(
                (&actual.name, &actual.keys, &actual.indexes, &actual.tags),
                (
                    &expected.name,
                    &expected.keys,
                    &expected.indexes,
                    &expected.tags
                ),
                "{name}: table {}",
                table.name
            );
        }
        let stack = client
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .unwrap();
        let outputs = stack.stacks()[0].outputs().len();
        // A consumer of a Redis store has no cache policy, so no output of one.
        let policies = project
            .model
            .consumers
            .iter()
            .filter(|consumer| !consumer.grants.is_empty() || !consumer.bucket_grants.is_empty())
            .count();
        let functions = project
            .model
            .buckets
            .iter()
            .filter(|bucket| {
                bucket
                    .events
                    .as_ref()
                    .is_some_and(|events| matches!(events.function, SyncFunction::Created(_)))
            })
            .count();
        assert_eq!(
            outputs,
            project.model.tables.len() * 2 + project.model.buckets.len() + policies + functions,
            "{name}: outputs (tables, buckets, policies, created functions)"
        );
    }
}

/// The fixture whose bucket's events reach a sync function the template creates: its SAM
/// template expands and deploys to moto (the code zip uploaded first), and the function's
/// ARN is a stack output naming a function that exists.
#[tokio::test(flavor = "multi_thread")]
async fn a_created_sync_function_expands_and_deploys_to_moto() {
    let moto = TestServer::moto().expect("moto_server starts");
    let sdk = moto_sdk(&moto.endpoint()).await;
    let client = Client::new(&sdk);
    let project = cachegen_tests::fixture("sync_function");
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &project.files(Some(&[Target::Sam])));
    let template = translate(&dir.path().join("sam.yaml"));
    let name = "sam-sync-function";
    let parameters = sync_functions(&sdk, &project.model, name)
        .await
        .parameters
        .iter()
        .map(|(key, value)| parameter(key, value))
        .collect();
    create_stack(&client, name, template, parameters).await;
    let stack = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap();
    let arn = stack.stacks()[0]
        .outputs()
        .iter()
        .find(|output| output.output_key() == Some("DocumentsSyncFunctionArn"))
        .and_then(|output| output.output_value())
        .expect("the function's ARN is an output")
        .to_owned();
    // CloudFormation names the function after the stack and its logical ID.
    assert!(
        arn.starts_with(&format!(
            "arn:aws:lambda:us-east-1:{MOTO_ACCOUNT_ID}:function:{name}-DocumentsSyncFunction-"
        )),
        "{arn}"
    );
}

/// A consumer's function, as its authors add it to the SAM template, with its code in
/// `bucket` under `bot.zip`.
fn with_function(sam: &str, bucket: &str) -> String {
    let function = format!(
        "Resources:\n  BotFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
         Handler: bootstrap\n      Runtime: provided.al2023\n      \
         CodeUri: {{ Bucket: {bucket}, Key: bot.zip }}\n"
    );
    assert!(sam.contains("\nResources:\n"), "{sam}");
    sam.replacen("Resources:\n", &function, 1)
}

/// A Redis URL from a hidden parameter or a secret reaches the functions a consumer adds to
/// the SAM template: the translator gives them `REDIS_URL` from `Globals`, and the stack
/// with the parameter's value deploys to moto. moto resolves no dynamic reference, so the
/// secret's reference is checked as the translator writes it, for CloudFormation to resolve.
#[tokio::test(flavor = "multi_thread")]
async fn a_redis_url_from_a_parameter_or_a_secret_reaches_the_functions() {
    let moto = TestServer::moto().expect("moto_server starts");
    let sdk = moto_sdk(&moto.endpoint()).await;
    let client = Client::new(&sdk);
    let s3 = cachegen_runtime::config::s3_client(&sdk);
    let code_bucket = "cachegen-sam-bot-code";
    s3.create_bucket().bucket(code_bucket).send().await.unwrap();
    s3.put_object()
        .bucket(code_bucket)
        .key("bot.zip")
        .body(cachegen_testkit::EMPTY_ZIP.to_vec().into())
        .send()
        .await
        .unwrap();
    let cases = [
        ("redis_url_parameter", json!({ "Ref": "RedisUrl" })),
        (
            "redis_url_secret",
            json!({ "Fn::Sub": "{{resolve:secretsmanager:bot-redis-${Stage}:SecretString:url}}" }),
        ),
    ];
    for (fixture, url) in cases {
        let project = cachegen_tests::fixture(fixture);
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &project.files(Some(&[Target::Sam])));
        let sam = dir.path().join("sam.yaml");
        let text = std::fs::read_to_string(&sam).unwrap();
        std::fs::write(&sam, with_function(&text, code_bucket)).unwrap();
        let template = translate(&sam);
        let expanded: serde_json::Value = serde_json::from_str(&template).unwrap();
        let function = &expanded["Resources"]["BotFunction"];
        assert_eq!(function["Type"], "AWS::Lambda::Function", "{fixture}");
        assert_eq!(
            function["Properties"]["Environment"]["Variables"]["REDIS_URL"], url,
            "{fixture}: {function}"
        );
        if fixture == "redis_url_parameter" {
            assert_eq!(expanded["Parameters"]["RedisUrl"]["NoEcho"], true);
            let name = "sam-redis-url";
            let value = "rediss://bot:token@redis.example:6379";
            create_stack(&client, name, template, vec![parameter("RedisUrl", value)]).await;
            let resources = client
                .describe_stack_resources()
                .stack_name(name)
                .send()
                .await
                .unwrap();
            assert!(
                resources.stack_resources().iter().any(|resource| {
                    resource.logical_resource_id() == Some("BotFunction")
                        && resource.resource_type() == Some("AWS::Lambda::Function")
                }),
                "{resources:?}"
            );
        }
    }
}
