//! Documents end to end on moto: the change-metadata stack deployed (its bucket and table
//! created by CloudFormation), then the generated module's document accessors, the sync
//! handler on real S3 event bodies, a value over DynamoDB's item limit, and
//! `cachegen backfill` of 10,000 objects, re-run, filtered and rate-limited.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant};

use cachegen::operate::backfill::{Backfill, BackfillOptions, BackfillSummary};
use cachegen::operate::{Deployment, connect};
use cachegen_runtime::aws_sdk_s3;
use cachegen_runtime::documents::S3Event;
use cachegen_testkit::TestServer;
use cachegen_tests::{deploy, moto_sdk, sync_functions, workspace_root};
use change_notifier_cache::{Cache, Change, ChangeKey};
use futures::StreamExt;

const STACK: &str = "changes-dev";

/// The deployed example: its spec, SDK configuration, S3 client, table and bucket.
struct Deployed {
    _moto: TestServer,
    project: cachegen_compiler::Project,
    sdk: cachegen_runtime::aws_config::SdkConfig,
    s3: aws_sdk_s3::Client,
    deployment: Deployment,
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
    let table = deployment
        .table(project.model.table_named("metadata").unwrap())
        .unwrap()
        .to_owned();
    let bucket = deployment
        .bucket(project.model.bucket_named("documents").unwrap())
        .unwrap()
        .to_owned();
    Deployed {
        _moto: moto,
        s3: cachegen_runtime::config::s3_client(&sdk),
        project,
        sdk,
        deployment,
        table,
        bucket,
    }
}

impl Deployed {
    /// The generated module, configured as the templates configure a Lambda.
    async fn cache(&self) -> Cache {
        let (table, bucket) = (self.table.clone(), self.bucket.clone());
        Cache::from_lookup(Some(&self.sdk), move |name| match name {
            change_notifier_cache::metadata::ENV_VAR => Some(table.clone()),
            change_notifier_cache::buckets::documents::ENV_VAR => Some(bucket.clone()),
            // moto on a loaded machine can take longer than a Lambda's 200 ms.
            cachegen_runtime::config::STORE_TIMEOUT_ENV => Some("5000".into()),
            _ => None,
        })
        .await
        .unwrap()
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(object.body.collect().await.unwrap().into_bytes().to_vec())
    }

    fn backfill(&self) -> Backfill<'_> {
        let data_type = self.project.model.data_type_named("change").unwrap();
        Backfill::new(
            data_type,
            connect(&self.sdk, &self.project.model, &self.deployment, data_type).unwrap(),
            self.s3.clone(),
            &self.bucket,
        )
        .unwrap()
    }
}

fn change(id: &str, customer: &str, scheduled_at: i64) -> Change {
    Change {
        change_id: id.to_owned(),
        customer_code: customer.to_owned(),
        status: "approved".to_owned(),
        title: format!("change {id}"),
        scheduled_at,
        approvers: vec!["ops".into()],
    }
}

fn key(id: &str) -> ChangeKey {
    ChangeKey {
        change_id: id.to_owned(),
    }
}

/// The body S3 sends the bucket's sync Lambda, one record per `(event, key)`.
fn event(bucket: &str, records: &[(&str, &str)]) -> S3Event {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(name, key)| {
            serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-21T06:00:00.000Z",
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
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_documents_write_through_fall_back_and_sync_from_events() {
    let deployed = deployed().await;
    let cache = deployed.cache().await;
    let documents = cache.change_documents(&deployed.s3).unwrap();

    // Write-through: the item and the object, at the key the spec's template gives.
    let c1 = change("c1", "ACME", 100);
    documents.write(&key("c1"), &c1).await.unwrap();
    let stored: Change =
        serde_json::from_slice(&deployed.object("changes/c1.json").await.unwrap()).unwrap();
    assert_eq!(stored, c1);
    assert_eq!(cache.change().get(&key("c1")).await.unwrap(), Some(c1));

    // Fallback: a document only in S3 is read from there and cached.
    let c2 = change("c2", "INITECH", 200);
    deployed
        .put("changes/c2.json", serde_json::to_vec(&c2).unwrap())
        .await;
    assert_eq!(cache.change().get(&key("c2")).await.unwrap(), None);
    assert_eq!(documents.read(&key("c2")).await.unwrap(), Some(c2.clone()));
    assert_eq!(cache.change().get(&key("c2")).await.unwrap(), Some(c2));

    // Sync: a put and a delete made straight to S3 reach the cache through the event
    // bodies S3 sends; records of other types, prefixes and buckets are skipped.
    let c3 = change("c3", "ACME", 300);
    deployed
        .put("changes/c3.json", serde_json::to_vec(&c3).unwrap())
        .await;
    deployed
        .s3
        .delete_object()
        .bucket(&deployed.bucket)
        .key("changes/c1.json")
        .send()
        .await
        .unwrap();
    let summary = cache
        .sync_documents(
            &deployed.s3,
            &event(
                &deployed.bucket,
                &[
                    ("ObjectCreated:Put", "changes/c3.json"),
                    ("ObjectRemoved:Delete", "changes/c1.json"),
                    ("ObjectCreated:Put", "elsewhere/c9.json"),
                ],
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        (summary.updated, summary.removed, summary.skipped),
        (1, 1, 1)
    );
    assert_eq!(cache.change().get(&key("c3")).await.unwrap(), Some(c3));
    assert_eq!(cache.change().get(&key("c1")).await.unwrap(), None);

    // An announcement event is applied by the announcement type, through the same handler.
    let announcement = change_notifier_cache::Announcement {
        announcement_id: "a1".into(),
        customer_code: "ACME".into(),
        status: "approved".into(),
        title: "maintenance".into(),
        scheduled_at: 400,
    };
    deployed
        .put(
            "announcements/a1.json",
            serde_json::to_vec(&announcement).unwrap(),
        )
        .await;
    let summary = cache
        .sync_documents(
            &deployed.s3,
            &event(
                &deployed.bucket,
                &[("ObjectCreated:Put", "announcements/a1.json")],
            ),
        )
        .await
        .unwrap();
    assert_eq!((summary.updated, summary.skipped), (1, 0));
    let key = change_notifier_cache::AnnouncementKey {
        announcement_id: "a1".into(),
    };
    assert_eq!(
        cache.announcement().get(&key).await.unwrap(),
        Some(announcement)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_over_the_item_limit_keeps_its_body_in_the_bucket() {
    let deployed = deployed().await;
    let cache = deployed.cache().await;
    // Pseudo-random names, so compression cannot bring the value under the limit.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut big = change("big", "ACME", 500);
    big.approvers = (0..40_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("{state:016x}{:016x}", state.rotate_left(29))
        })
        .collect();
    assert!(serde_json::to_vec(&big).unwrap().len() > 1_000_000);
    cache.change().set(&key("big"), &big).await.unwrap();

    // The item keeps its index attributes and points at the body in S3.
    let item = aws_sdk_dynamodb::Client::new(&deployed.sdk)
        .get_item()
        .table_name(&deployed.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("change#big".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the item is written");
    let names: Vec<&String> = item.keys().collect();
    assert!(
        item.contains_key(cachegen_compiler::ir::item::VALUE_REF),
        "{names:?}"
    );
    assert!(!item.contains_key(cachegen_compiler::ir::item::VALUE));
    assert!(item.contains_key("customerCode") && item.contains_key("scheduledAt"));
    let bodies = deployed
        .s3
        .list_objects_v2()
        .bucket(&deployed.bucket)
        .prefix(cachegen_compiler::ir::OVERFLOW_PREFIX)
        .send()
        .await
        .unwrap();
    assert_eq!(bodies.contents().len(), 1);

    // Read back whole by another container, and found through the index.
    let other = deployed.cache().await;
    assert_eq!(other.change().get(&key("big")).await.unwrap(), Some(big));
    let found = other
        .change()
        .query_customer_time_index("ACME", 500..=500, None)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}

/// Puts `count` change documents, `changes/c{n}.json`, alternating two customers.
async fn seed(deployed: &Deployed, count: usize) {
    futures::stream::iter(0..count)
        .map(|n| {
            let customer = if n % 2 == 0 { "ACME" } else { "INITECH" };
            let body = serde_json::to_vec(&change(&format!("c{n}"), customer, n as i64)).unwrap();
            async move { deployed.put(&format!("changes/c{n}.json"), body).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_fills_10000_documents_and_a_rerun_writes_nothing_new() {
    const COUNT: usize = 10_000;
    let deployed = deployed().await;
    seed(&deployed, COUNT).await;
    deployed
        .put("changes/broken.json", b"{ not json".to_vec())
        .await;
    deployed
        .put("changes/README.txt", b"not a document".to_vec())
        .await;

    let backfill = deployed.backfill();
    let options = BackfillOptions {
        concurrency: NonZeroUsize::new(32).unwrap(),
        rps: NonZeroU32::new(5_000),
        ..BackfillOptions::default()
    };
    let started = Instant::now();
    let first = backfill.run(&options, &|_| {}).await.unwrap();
    assert_eq!(
        first,
        BackfillSummary {
            scanned: COUNT as u64 + 2,
            written: COUNT as u64,
            skipped: 1,
            failed: 1,
        }
    );
    assert!(started.elapsed() >= Duration::from_secs_f64((COUNT - 1) as f64 / 5_000.0));

    // What the CLI wrote is what the generated module reads, by key and through an index.
    let cache = deployed.cache().await;
    assert_eq!(
        cache.change().get(&key("c42")).await.unwrap(),
        Some(change("c42", "ACME", 42))
    );
    let found = cache
        .change()
        .query_customer_time_index("INITECH", 100..200, None)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 50);
    assert!(found.items.iter().all(|c| c.customer_code == "INITECH"));

    // Re-run: everything is up to date; only the broken object fails again.
    let rerun = backfill.run(&options, &|_| {}).await.unwrap();
    assert_eq!(
        rerun,
        BackfillSummary {
            scanned: COUNT as u64 + 2,
            written: 0,
            skipped: COUNT as u64 + 1,
            failed: 1,
        }
    );

    // Two documents change; a dry run filtered to one customer counts one and writes none.
    deployed
        .put(
            "changes/c7.json",
            serde_json::to_vec(&change("c7", "INITECH", 7_000)).unwrap(),
        )
        .await;
    deployed
        .put(
            "changes/c8.json",
            serde_json::to_vec(&change("c8", "ACME", 8_000)).unwrap(),
        )
        .await;
    let dry = backfill
        .run(
            &BackfillOptions {
                dry_run: true,
                filters: vec![("customerCode".into(), "INITECH".into())],
                ..options.clone()
            },
            &|_| {},
        )
        .await
        .unwrap();
    // Skipped: the 9,998 unchanged, the README and the ACME change.
    assert_eq!((dry.written, dry.skipped, dry.failed), (1, COUNT as u64, 1));
    assert_eq!(
        cache.change().get(&key("c7")).await.unwrap(),
        Some(change("c7", "INITECH", 7))
    );
    let changed = backfill.run(&options, &|_| {}).await.unwrap();
    assert_eq!(changed.written, 2);
    // This container held c7 in memory; the backfill's stamp reaches it within the
    // type's 2 s version check.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let current = cache.change().get(&key("c7")).await.unwrap();
        if current == Some(change("c7", "INITECH", 7_000)) {
            break;
        }
        assert!(Instant::now() < deadline, "still {current:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_keeps_to_its_rate_limit() {
    const COUNT: usize = 40;
    const RPS: u32 = 20;
    let deployed = deployed().await;
    seed(&deployed, COUNT).await;
    let backfill = deployed.backfill();
    let options = BackfillOptions {
        concurrency: NonZeroUsize::new(16).unwrap(),
        rps: NonZeroU32::new(RPS),
        ..BackfillOptions::default()
    };
    // Completion times: with a burst of one, the n-th object cannot start before n/RPS.
    let times = std::sync::Mutex::new(Vec::new());
    let started = Instant::now();
    let summary = backfill
        .run(&options, &|tally| {
            if tally.written > 0 {
                times
                    .lock()
                    .unwrap()
                    .push((tally.written, started.elapsed()));
            }
        })
        .await
        .unwrap();
    assert_eq!(summary.written, COUNT as u64);
    for (written, at) in times.into_inner().unwrap() {
        let earliest = Duration::from_secs_f64((written - 1) as f64 / f64::from(RPS));
        assert!(
            at + Duration::from_millis(5) >= earliest,
            "{written} written after {at:?}, before {earliest:?}"
        );
    }
}
