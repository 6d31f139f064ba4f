//! `cachegen deploy`, `verify` and `diff` as a user runs them; deploy and verify against
//! a moto server on loopback, configured only through the AWS SDK's environment variables.

mod support;

use std::process::Output;

use cachegen_testkit::TestServer;

fn cachegen(moto: &TestServer, args: &[&str]) -> Output {
    support::cachegen_command()
        .args(args)
        .current_dir(cachegen_testkit::workspace_root())
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("cachegen runs")
}

/// Runs `work` with an AWS configuration for `moto` (dummy credentials, loopback only).
fn on_moto<T>(moto: &TestServer, work: impl AsyncFnOnce(aws_config::SdkConfig) -> T) -> T {
    let endpoint = moto.endpoint();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
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
        work(sdk).await
    })
}

/// `cachegen deploy` of the change-metadata example as stack `stack`, with `extra`
/// arguments. The stack creates its sync function: its code zip is uploaded to moto first,
/// in a bucket named after the stack, and passed with `--param`s.
fn deploy_changes(moto: &TestServer, stack: &str, extra: &[&str]) -> Output {
    let code_bucket = format!("{stack}-sync-code");
    on_moto(moto, async |sdk| {
        let s3 = cachegen_runtime::config::s3_client(&sdk);
        s3.create_bucket()
            .bucket(&code_bucket)
            .send()
            .await
            .expect("the code bucket is created");
        s3.put_object()
            .bucket(&code_bucket)
            .key("sync.zip")
            .body(cachegen_testkit::EMPTY_ZIP.to_vec().into())
            .send()
            .await
            .expect("the code zip is uploaded");
    });
    let code_bucket = format!("SyncCodeBucketName={code_bucket}");
    let mut args = vec![
        "deploy",
        "examples/change-metadata/cache.yaml",
        "--stack",
        stack,
        "--param",
        "env=dev",
        "--param",
        &code_bucket,
        "--param",
        "SyncCodeKey=sync.zip",
    ];
    args.extend(extra);
    cachegen(moto, &args)
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

    let planned = deploy_changes(&moto, "changes", &["--no-execute"]);
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

    let deployed = deploy_changes(&moto, "changes-dev", &[]);
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
    // Moto's CloudFormation ignores the table's TTL and, on the bucket, its versioning,
    // public access block and notifications (it keeps encryption and tags): verify names
    // each, in plain words, and the notifications' function by the ARN of the one the
    // stack created. Terraform sets them all (tests/terraform.rs).
    let function = on_moto(&moto, async |sdk| {
        let resources = aws_sdk_cloudformation::Client::new(&sdk)
            .describe_stack_resources()
            .stack_name("changes-dev")
            .send()
            .await
            .unwrap();
        let function = (resources.stack_resources().iter())
            .find(|resource| resource.logical_resource_id() == Some("DocumentsSyncFunction"))
            .expect("the stack created the sync function");
        cachegen_testkit::stub_function_arn(function.physical_resource_id().unwrap())
    });
    assert_eq!(
        String::from_utf8_lossy(&verified.stdout),
        format!(
            "table metadata: TTL disabled\n\
             bucket documents: versioning is off, expected Enabled: overwritten and deleted documents cannot be recovered\n\
             bucket documents: has no public access block, expected all four settings on\n\
             bucket documents: no notification sends s3:ObjectCreated:*, s3:ObjectRemoved:* on keys with prefix `changes/` and suffix `.json` to `{function}`\n\
             bucket documents: no notification sends s3:ObjectCreated:*, s3:ObjectRemoved:* on keys with prefix `announcements/` and suffix `.json` to `{function}`\n"
        ),
        "{}",
        text(&verified)
    );
}

/// Without the sync code's two parameters, deploy names both, with their descriptions,
/// and makes no AWS call: moto has no stack afterwards (a change set would have made one).
#[test]
fn deploy_lists_every_missing_parameter_before_any_aws_call() {
    let moto = TestServer::moto().unwrap();
    let output = cachegen(
        &moto,
        &[
            "deploy",
            "examples/change-metadata/cache.yaml",
            "--stack",
            "changes-dev",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("2 parameter(s) without a default; pass each as --param NAME=VALUE"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  SyncCodeBucketName: Bucket holding the sync Lambda's deployment zip"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  SyncCodeKey: Object key of the sync Lambda's deployment zip"),
        "{stderr}"
    );
    assert!(!stderr.contains("  env"), "`env` has a default: {stderr}");
    let stacks = on_moto(&moto, async |sdk| {
        aws_sdk_cloudformation::Client::new(&sdk)
            .list_stacks()
            .send()
            .await
            .unwrap()
            .stack_summaries()
            .len()
    });
    assert_eq!(stacks, 0, "no change set was created");
}

#[test]
fn verify_names_a_stack_from_another_spec() {
    let moto = TestServer::moto().unwrap();
    let deployed = deploy_changes(&moto, "changes-dev", &[]);
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

/// Puts `count` change documents into the deployed example's bucket, alternating customers.
fn seed_changes(moto: &TestServer, bucket: &str, count: usize) {
    on_moto(moto, async |sdk| {
        let s3 = cachegen_runtime::config::s3_client(&sdk);
        for n in 0..count {
            let customer = if n % 2 == 0 { "ACME" } else { "INITECH" };
            let body = serde_json::json!({
                "change_id": format!("c{n}"),
                "customer_code": customer,
                "status": "approved",
                "title": format!("change {n}"),
                "scheduled_at": n,
                "approvers": ["ops"],
            });
            s3.put_object()
                .bucket(bucket)
                .key(format!("changes/c{n}.json"))
                .body(serde_json::to_vec(&body).unwrap().into())
                .send()
                .await
                .unwrap();
        }
    });
}

#[test]
fn backfill_then_query_from_the_command_line() {
    let moto = TestServer::moto().unwrap();
    let spec = "examples/change-metadata/cache.yaml";
    let deployed = deploy_changes(&moto, "changes-dev", &[]);
    assert!(deployed.status.success(), "{}", text(&deployed));
    let bucket = "change-notifier-documents-dev-123456789012";
    seed_changes(&moto, bucket, 20);
    let backfill = |extra: &[&str]| {
        let mut args = vec![
            "backfill",
            "--spec",
            spec,
            "--data-type",
            "change",
            "--stack",
            "changes-dev",
        ];
        args.extend(extra);
        cachegen(&moto, &args)
    };

    let acme = backfill(&["--customer", "ACME", "--rps", "200", "--log-format", "json"]);
    assert!(acme.status.success(), "{}", text(&acme));
    assert_eq!(
        String::from_utf8_lossy(&acme.stdout),
        format!(
            "backfill of change from s3://{bucket}: scanned 20, written 10, skipped 10, failed 0\n"
        )
    );
    // The summary is also a structured log line, with its duration.
    let logged: serde_json::Value = String::from_utf8_lossy(&acme.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .find(|line: &serde_json::Value| line["op"] == "backfill")
        .unwrap_or_else(|| panic!("no JSON backfill log: {}", text(&acme)));
    assert_eq!(logged["written"], 10);
    assert!(logged["duration_ms"].is_u64(), "{logged}");

    let rest = backfill(&[]);
    assert!(
        String::from_utf8_lossy(&rest.stdout)
            .contains("scanned 20, written 10, skipped 10, failed 0"),
        "{}",
        text(&rest)
    );

    let query = |format: &str| {
        cachegen(
            &moto,
            &[
                "query",
                "--spec",
                spec,
                "--data-type",
                "change",
                "--stack",
                "changes-dev",
                "--index",
                "CustomerTimeIndex",
                "--key",
                "ACME",
                "--from",
                "0",
                "--to",
                "9",
                "--format",
                format,
            ],
        )
    };
    let lines = query("json");
    assert!(lines.status.success(), "{}", text(&lines));
    let ids: Vec<String> = String::from_utf8_lossy(&lines.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["change_id"].to_string()
        })
        .collect();
    assert_eq!(ids, ["\"c0\"", "\"c2\"", "\"c4\"", "\"c6\"", "\"c8\""]);
    let table = String::from_utf8_lossy(&query("table").stdout).into_owned();
    assert!(
        table.contains("change_id") && table.contains("c8") && !table.contains("c9"),
        "{table}"
    );

    let unknown = cachegen(
        &moto,
        &[
            "backfill",
            "--spec",
            spec,
            "--data-type",
            "chnage",
            "--stack",
            "changes-dev",
        ],
    );
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("declares no data type `chnage`; did you mean `change`?"),
        "{}",
        text(&unknown)
    );
}

#[test]
fn backfill_names_what_locates_the_table_when_nothing_does() {
    let moto = TestServer::moto().unwrap();
    let output = cachegen(
        &moto,
        &[
            "backfill",
            "--spec",
            "examples/change-metadata/cache.yaml",
            "--data-type",
            "change",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).contains("set DOCUMENTS_BUCKET to its name, or pass --stack"),
        "{}",
        text(&output)
    );
    let plain = cachegen(
        &moto,
        &[
            "backfill",
            "--spec",
            "examples/drs-query-cache/cache.yaml",
            "--data-type",
            "drs-quotas",
        ],
    );
    assert!(
        text(&plain).contains("keeps no documents in S3"),
        "{}",
        text(&plain)
    );
}

/// A spec of `types` data types whose parameter `pad` defaults to `pad`; its table is
/// named after the stack, so each test stack has its own.
fn sized_spec(types: usize, pad: &str) -> String {
    let mut text = format!(
        "version: 1\nservice: big\nparameters:\n  pad: {{ default: {pad} }}\ntables:\n  cache:\n    \
         name: \"${{AWS::StackName}}-cache\"\n    tags: {{ Pad: \"${{pad}}\" }}\ndata_types:\n"
    );
    for n in 0..types {
        text.push_str(&format!(
            "  t{n:03}:\n    key: \"t{n:03}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n"
        ));
    }
    text
}

/// The size of the CloudFormation template of `text`, written as `dir/cache.yaml`.
fn template_size(dir: &std::path::Path, text: &str) -> usize {
    let path = dir.join("cache.yaml");
    std::fs::write(&path, text).unwrap();
    let project = cachegen_compiler::Project::load(&path).unwrap();
    project
        .files(Some(&[cachegen_compiler::ir::Target::Cloudformation]))
        .remove(0)
        .contents
        .len()
}

#[test]
fn a_template_over_the_inline_limit_is_deployed_from_the_template_bucket() {
    let moto = TestServer::moto().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inline = cachegen_compiler::limits::TEMPLATE_BODY_INLINE;
    // Data types to just under the limit, then a parameter default fills it to the byte
    // (with a letter that keeps the fingerprint's quoting, which moves the size by two).
    let types = (1..200)
        .take_while(|types| template_size(dir.path(), &sized_spec(*types, "x")) < inline - 1_000)
        .last()
        .unwrap();
    let (at_limit, over) = ('a'..='z')
        .find_map(|letter| {
            let padded = |length: usize| sized_spec(types, &letter.to_string().repeat(length));
            let length = 1 + inline - template_size(dir.path(), &padded(1));
            let (at_limit, over) = (padded(length), padded(length + 1));
            (template_size(dir.path(), &at_limit) == inline
                && template_size(dir.path(), &over) == inline + 1)
                .then_some((at_limit, over))
        })
        .expect("some padding letter keeps the fingerprint's quoting");
    let spec = dir.path().join("cache.yaml");
    let spec = spec.to_str().unwrap();
    let deploy = |text: &str, stack: &str, extra: &[&str]| {
        std::fs::write(spec, text).unwrap();
        let mut args = vec!["deploy", spec, "--stack", stack];
        args.extend(extra);
        cachegen(&moto, &args)
    };

    let inline_deploy = deploy(&at_limit, "at-limit", &[]);
    assert!(inline_deploy.status.success(), "{}", text(&inline_deploy));
    assert!(!text(&inline_deploy).contains("uploaded"));

    let refused = deploy(&over, "over", &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!(
            "the template is {} bytes; CloudFormation takes at most {inline} bytes inline: pass --template-bucket",
            inline + 1
        )),
        "{}",
        text(&refused)
    );

    on_moto(&moto, async |sdk| {
        cachegen_runtime::config::s3_client(&sdk)
            .create_bucket()
            .bucket("deploy-templates")
            .send()
            .await
            .unwrap();
    });
    let uploaded = deploy(&over, "over", &["--template-bucket", "deploy-templates"]);
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    assert!(
        text(&uploaded).contains("stack over deployed"),
        "{}",
        text(&uploaded)
    );
    let fingerprint = cachegen_compiler::Project::load(spec)
        .unwrap()
        .model
        .fingerprint;
    let key = format!("cachegen/over/{fingerprint}.yaml");
    assert!(
        text(&uploaded).contains(&format!(
            "uploaded the {}-byte template to https://deploy-templates.s3.us-east-1.amazonaws.com/{key}",
            inline + 1
        )),
        "{}",
        text(&uploaded)
    );
    let (stored, deployed) = on_moto(&moto, async |sdk| {
        let object = cachegen_runtime::config::s3_client(&sdk)
            .get_object()
            .bucket("deploy-templates")
            .key(&key)
            .send()
            .await
            .unwrap();
        let stored = object.body.collect().await.unwrap().into_bytes();
        let deployed = aws_sdk_cloudformation::Client::new(&sdk)
            .get_template()
            .stack_name("over")
            .send()
            .await
            .unwrap()
            .template_body
            .unwrap();
        (String::from_utf8(stored.to_vec()).unwrap(), deployed)
    });
    assert_eq!(stored.len(), inline + 1);
    assert_eq!(deployed, stored, "the stack runs the uploaded template");
}

/// A spec whose one index is renamed: `cachegen deploy` applies the delete and the create
/// as two updates, waiting between them until the table and its indexes are active.
#[test]
fn an_index_rename_deploys_in_two_steps() {
    let moto = TestServer::moto().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("cachegen.yaml");
    std::fs::write(&spec, cachegen_compiler::STARTER_SPEC).unwrap();
    let spec_arg = spec.to_str().unwrap();
    let deploy = |moto: &TestServer| {
        cachegen(
            moto,
            &["deploy", spec_arg, "--stack", "steps", "--param", "env=dev"],
        )
    };
    let created = deploy(&moto);
    assert!(created.status.success(), "{}", text(&created));

    std::fs::write(
        &spec,
        cachegen_compiler::STARTER_SPEC
            .replace("      by-type:", "      by-kind:")
            .replace("invalidate_by: by-type", "invalidate_by: by-kind"),
    )
    .unwrap();
    let stepped = deploy(&moto);
    assert!(stepped.status.success(), "{}", text(&stepped));
    let out = text(&stepped);
    assert!(
        out.contains("step 1 of 2: CacheTable: delete index by-type"),
        "{out}"
    );
    assert!(
        out.contains("step 2 of 2: CacheTable: create index by-kind"),
        "{out}"
    );
    assert_eq!(out.matches("executing change set").count(), 2, "{out}");
    assert!(out.contains("stack steps deployed"), "{out}");
}
