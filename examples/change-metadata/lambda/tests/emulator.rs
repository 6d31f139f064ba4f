//! The sync Lambda run as a Lambda: its binary under cargo-lambda's runtime API emulator,
//! the change-metadata stack (table and bucket) deployed on moto, invoked with
//! `cargo lambda invoke` and the event bodies S3 sends: an `ObjectCreated` event caches
//! the document, an `ObjectRemoved` one removes it, records of other keys are skipped.

use std::path::Path;

use cachegen::operate::Deployment;
use cachegen_runtime::aws_sdk_s3;
use cachegen_testkit::TestServer;
use cachegen_testkit::lambda::Emulator;
use cachegen_tests::{deploy, moto_sdk, sync_functions, workspace_root};
use change_notifier_cache::{Cache, Change, ChangeKey};
use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_change-sync-lambda");
const STACK: &str = "changes-lambda";

/// moto with the example's stack deployed: its table, its bucket, an S3 client.
struct Deployed {
    moto: TestServer,
    sdk: cachegen_runtime::aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
}

async fn deployed() -> Deployed {
    let moto = TestServer::moto().expect("moto_server starts");
    let sdk = moto_sdk(&moto.endpoint()).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let project = cachegen_compiler::Project::load(
        workspace_root().join("examples/change-metadata/cache.yaml"),
    )
    .unwrap();
    let functions = sync_functions(&sdk, &project.model, STACK).await.parameters;
    let mut parameters = vec![("env", "dev")];
    parameters.extend(functions.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    deploy(&cloudformation, &project, STACK, &parameters, true)
        .await
        .unwrap();
    let deployment = Deployment::from_stack(&cloudformation, STACK, &project.model)
        .await
        .unwrap();
    let table = deployment.table(project.model.table_named("metadata").unwrap());
    let bucket = deployment.bucket(project.model.bucket_named("documents").unwrap());
    Deployed {
        table: table.unwrap().to_owned(),
        bucket: bucket.unwrap().to_owned(),
        s3: cachegen_runtime::config::s3_client(&sdk),
        sdk,
        moto,
    }
}

impl Deployed {
    /// The function's environment as the templates set it, AWS pointed at moto.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("METADATA_CACHE_TABLE", self.table.clone()),
            ("DOCUMENTS_BUCKET", self.bucket.clone()),
            ("AWS_ENDPOINT_URL", self.moto.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            // moto on a loaded machine can take longer than a Lambda's 200 ms.
            ("CACHE_STORE_TIMEOUT_MS", "5000".into()),
        ]
    }

    /// The generated module reading the same table, to see what the function wrote.
    async fn cache(&self) -> Cache {
        let table = self.table.clone();
        Cache::from_lookup(Some(&self.sdk), move |name| match name {
            change_notifier_cache::metadata::ENV_VAR => Some(table.clone()),
            cachegen_runtime::config::STORE_TIMEOUT_ENV => Some("5000".into()),
            _ => None,
        })
        .await
        .unwrap()
    }
}

/// The body S3 sends the bucket's notification target: one record per `(event, key)`.
fn event(bucket: &str, records: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(name, key)| {
            json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-07T06:00:00.000Z",
                "eventName": name,
                "userIdentity": { "principalId": "AWS:EXAMPLE" },
                "requestParameters": { "sourceIPAddress": "127.0.0.1" },
                "responseElements": { "x-amz-request-id": "1", "x-amz-id-2": "2" },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "cache-sync",
                    "bucket": { "name": bucket, "ownerIdentity": { "principalId": "EXAMPLE" }, "arn": format!("arn:aws:s3:::{bucket}") },
                    "object": { "key": key, "size": 64, "eTag": "0123", "sequencer": "0A1B" }
                }
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_events_reach_the_cache_through_the_function() {
    let deployed = deployed().await;
    let change = Change {
        change_id: "c-1".into(),
        customer_code: "ACME".into(),
        status: "approved".into(),
        title: "patch the fleet".into(),
        scheduled_at: 1_700_000_000,
        approvers: vec!["ops".into()],
    };
    let key = ChangeKey {
        change_id: "c-1".into(),
    };
    deployed
        .s3
        .put_object()
        .bucket(&deployed.bucket)
        .key("changes/c-1.json")
        .body(serde_json::to_vec(&change).unwrap().into())
        .send()
        .await
        .unwrap();

    let (emulator, function, created) = tokio::task::block_in_place(|| {
        let emulator = Emulator::start(&workspace_root()).expect("cargo lambda watch starts");
        let function = emulator.run(Path::new(BINARY), &deployed.env()).unwrap();
        let created = emulator.invoke(&event(
            &deployed.bucket,
            &[
                ("ObjectCreated:Put", "changes/c-1.json"),
                ("ObjectCreated:Put", "drafts/c-1.txt"),
            ],
        ));
        (emulator, function, created)
    });
    assert_eq!(
        created.unwrap(),
        json!("updated 1, removed 0, skipped 1"),
        "{:#?}",
        function.lines()
    );
    assert_eq!(
        deployed.cache().await.change().get(&key).await.unwrap(),
        Some(change)
    );
    assert!(function.wait_until(|function| function.count("S3 event applied") == 1));

    deployed
        .s3
        .delete_object()
        .bucket(&deployed.bucket)
        .key("changes/c-1.json")
        .send()
        .await
        .unwrap();
    let removed = tokio::task::block_in_place(|| {
        emulator.invoke(&event(
            &deployed.bucket,
            &[("ObjectRemoved:Delete", "changes/c-1.json")],
        ))
    });
    assert_eq!(removed.unwrap(), json!("updated 0, removed 1, skipped 0"));
    assert_eq!(
        deployed.cache().await.change().get(&key).await.unwrap(),
        None
    );
    assert!(function.wait_until(|function| function.count("S3 event applied") == 2));
}
