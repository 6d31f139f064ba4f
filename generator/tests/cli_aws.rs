//! `cachegen deploy`, `verify` and `diff` as a user runs them; deploy and verify against
//! a moto server on loopback, configured only through the AWS SDK's environment variables.

mod support;

use std::process::{Command, Output};

use cachegen_testkit::TestServer;

fn cachegen(moto: &TestServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachegen"))
        .args(args)
        .current_dir(support::workspace_root())
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("cachegen runs")
}

/// Creates a stub function on moto for the change-metadata bucket's events to name, and
/// returns the `--param` that passes its ARN.
fn stub_sync_function(moto: &TestServer, name: &str) -> String {
    let endpoint = moto.endpoint();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "cli-tests",
            ))
            .load()
            .await;
        aws_sdk_cloudformation::Client::new(&sdk)
            .create_stack()
            .stack_name(name)
            .template_body(cachegen_testkit::stub_function_template(name))
            .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
            .send()
            .await
            .expect("stub function stack is created");
    });
    format!(
        "SyncFunctionArn={}",
        cachegen_testkit::stub_function_arn(name)
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn deploy_then_verify_reports_what_moto_ignored() {
    let moto = TestServer::moto().unwrap();
    let spec = "examples/change-metadata/cache.yaml";
    let function = stub_sync_function(&moto, "changes-sync");

    let planned = cachegen(
        &moto,
        &[
            "deploy",
            spec,
            "--stack",
            "changes",
            "--param",
            "env=dev",
            "--param",
            &function,
            "--no-execute",
        ],
    );
    assert!(planned.status.success(), "{}", text(&planned));
    assert!(
        text(&planned).contains("Add MetadataTable (AWS::DynamoDB::Table)"),
        "{}",
        text(&planned)
    );
    assert!(
        text(&planned).contains("left for review"),
        "{}",
        text(&planned)
    );

    let deployed = cachegen(
        &moto,
        &[
            "deploy",
            spec,
            "--stack",
            "changes-dev",
            "--param",
            "env=dev",
            "--param",
            &function,
        ],
    );
    assert!(deployed.status.success(), "{}", text(&deployed));
    assert!(
        text(&deployed).contains("stack changes-dev deployed"),
        "{}",
        text(&deployed)
    );
    assert!(
        text(&deployed).contains("CREATE_COMPLETE"),
        "stack events are shown: {}",
        text(&deployed)
    );

    let verified = cachegen(&moto, &["verify", spec, "--stack", "changes-dev"]);
    assert_eq!(verified.status.code(), Some(1), "{}", text(&verified));
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout),
        "table metadata: TTL disabled\n"
    );
}

#[test]
fn verify_names_a_stack_from_another_spec() {
    let moto = TestServer::moto().unwrap();
    let function = stub_sync_function(&moto, "changes-sync");
    let deployed = cachegen(
        &moto,
        &[
            "deploy",
            "examples/change-metadata/cache.yaml",
            "--stack",
            "changes-dev",
            "--param",
            "env=dev",
            "--param",
            &function,
        ],
    );
    assert!(deployed.status.success(), "{}", text(&deployed));
    let verified = cachegen(
        &moto,
        &[
            "verify",
            "examples/server-provider-map/cache.yaml",
            "--stack",
            "changes-dev",
        ],
    );
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        text(&verified).contains("ServerCacheTable"),
        "{}",
        text(&verified)
    );
}
