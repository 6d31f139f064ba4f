//! Documents in S3 with DynamoDB as their cache, against moto's S3 and DynamoDB:
//! write-through, rollback when S3 fails, fallback reads that backfill, and sync from
//! real S3 event bodies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use backon::ExponentialBuilder;
use cachegen_runtime::TieredCache;
use cachegen_runtime::documents::{DocumentError, DocumentType, Documents, SyncSummary};
use cachegen_runtime::store::{AttrValue, Attributes, DynamoStore};
use cachegen_runtime::typed::{DataType, TypedCache, push_key_part};
use cachegen_testkit::{shared_moto_endpoint, unique_name};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Change {
    id: String,
    customer: String,
    status: String,
}

/// What the generator writes for a document data type: key `change#{id}`, object
/// `changes/{id}.json`, and a `customerCode` attribute for the index.
enum ChangeType {}

impl DataType for ChangeType {
    type Key = String;
    type Value = Change;
    const NAME: &'static str = "change";
    const TTL: Duration = Duration::from_secs(3600);
    const MEMORY_TTL: Duration = Duration::from_secs(60);
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "change#";

    fn key(key: &String) -> String {
        let mut out = String::from("change#");
        push_key_part(&mut out, key);
        out
    }

    fn attributes(_key: &String, value: &Change, _now: u64) -> Attributes {
        Attributes::from([(
            "customerCode".to_owned(),
            AttrValue::S(value.customer.clone()),
        )])
    }
}

impl DocumentType for ChangeType {
    fn object_key(key: &String) -> String {
        format!("changes/{key}.json")
    }

    fn parse_object_key(object_key: &str) -> Option<String> {
        object_key
            .strip_prefix("changes/")?
            .strip_suffix(".json")
            .map(str::to_owned)
    }
}

struct Setup {
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
    cache: TieredCache,
    _moto: cachegen_testkit::SharedServer,
}

async fn setup() -> Setup {
    let moto = shared_moto_endpoint().unwrap();
    let dynamo = common::dynamo_client(moto.url());
    let table = unique_name("documents");
    common::create_table(&dynamo, &table, false).await;
    let s3 = common::s3_client(moto.url());
    let bucket = unique_name("docs").to_lowercase().replace('_', "-");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let store = DynamoStore::new(dynamo.clone(), &table, common::layout(false));
    // A default (degrading) cache: documents use it strictly on their own.
    let cache = TieredCache::builder()
        .store(Arc::new(store))
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .build();
    Setup {
        dynamo,
        s3,
        table,
        bucket,
        cache,
        _moto: moto,
    }
}

impl Setup {
    fn documents(&self, bucket: &str) -> Documents<ChangeType> {
        Documents::new(TypedCache::new(&self.cache), self.s3.clone(), bucket).retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(1))
                .with_max_times(2),
        )
    }

    /// The raw DynamoDB item of `id`, bypassing every cache layer.
    /// The document's item, unless there is none or only a tombstone (a deleted entry).
    async fn item(&self, id: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("change#{id}")))
            .send()
            .await
            .unwrap()
            .item
            .filter(|item| item.contains_key("value"))
    }

    async fn object(&self, id: &str) -> Option<Change> {
        let output = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(format!("changes/{id}.json"))
            .send()
            .await
            .ok()?;
        Some(serde_json::from_slice(&output.body.collect().await.unwrap().into_bytes()).unwrap())
    }

    async fn object_count(&self) -> usize {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .unwrap();
        listed.contents().len()
    }
}

fn change(id: &str, status: &str) -> Change {
    Change {
        id: id.to_owned(),
        customer: "ACME".to_owned(),
        status: status.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn write_through_stores_item_and_object_once() {
    let setup = setup().await;
    let documents = setup.documents(&setup.bucket);
    let value = change("c1", "approved");
    documents.write(&"c1".to_owned(), &value).await.unwrap();
    documents.write(&"c1".to_owned(), &value).await.unwrap();

    let item = setup.item("c1").await.expect("item in DynamoDB");
    assert_eq!(
        item.get("customerCode"),
        Some(&AttributeValue::S("ACME".into()))
    );
    assert_eq!(setup.object("c1").await, Some(value));
    assert_eq!(setup.object_count().await, 1, "written twice, stored once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_s3_write_rolls_the_cache_back() {
    let setup = setup().await;
    let good = setup.documents(&setup.bucket);
    let original = change("c2", "pending");
    good.write(&"c2".to_owned(), &original).await.unwrap();

    // The same cache, but S3 refuses: the bucket does not exist.
    let failing = setup.documents("no-such-bucket-for-cachegen");
    let err = failing
        .write(&"c2".to_owned(), &change("c2", "approved"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DocumentError::S3 {
                operation: "PutObject",
                ..
            }
        ),
        "{err}"
    );
    let fresh = Documents::<ChangeType>::new(
        TypedCache::new(&setup.cache.for_type("other-handle")),
        setup.s3.clone(),
        &setup.bucket,
    );
    assert_eq!(
        fresh.read(&"c2".to_owned()).await.unwrap(),
        Some(original.clone()),
        "restored"
    );
    assert!(setup.item("c2").await.is_some());

    // A new document whose S3 write fails leaves no item behind.
    let err = failing
        .write(&"c3".to_owned(), &change("c3", "new"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("PutObject of s3://no-such-bucket-for-cachegen/changes/c3.json failed"),
        "{err}"
    );
    assert!(setup.item("c3").await.is_none(), "rolled back");

    // A retried write after the partial failure converges.
    good.write(&"c3".to_owned(), &change("c3", "new"))
        .await
        .unwrap();
    assert!(setup.item("c3").await.is_some());
    assert_eq!(setup.object("c3").await, Some(change("c3", "new")));
}

#[tokio::test(flavor = "multi_thread")]
async fn fallback_reads_s3_and_backfills_the_cache() {
    let setup = setup().await;
    let documents = setup.documents(&setup.bucket);
    let value = change("c4", "approved");
    // Written straight to S3: the cache has never seen it.
    setup
        .s3
        .put_object()
        .bucket(&setup.bucket)
        .key("changes/c4.json")
        .body(serde_json::to_vec(&value).unwrap().into())
        .send()
        .await
        .unwrap();
    assert!(setup.item("c4").await.is_none());

    assert_eq!(documents.read(&"c4".to_owned()).await.unwrap(), Some(value));
    assert!(setup.item("c4").await.is_some(), "backfilled");
    assert_eq!(documents.read(&"missing".to_owned()).await.unwrap(), None);

    // An object that is not a document is an error naming it, not a crash.
    setup
        .s3
        .put_object()
        .bucket(&setup.bucket)
        .key("changes/bad.json")
        .body(b"not json".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = documents.read(&"bad".to_owned()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("changes/bad.json is not a valid document"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_events_sync_the_cache() {
    let setup = setup().await;
    let documents = setup.documents(&setup.bucket);
    let value = change("c 5", "approved");
    setup
        .s3
        .put_object()
        .bucket(&setup.bucket)
        .key("changes/c 5.json")
        .body(serde_json::to_vec(&value).unwrap().into())
        .send()
        .await
        .unwrap();

    // The body S3 sends a subscribed Lambda (keys URL-encoded, spaces as `+`).
    let event = |name: &str, bucket: &str, key: &str| -> aws_lambda_events::s3::S3Event {
        serde_json::from_value(serde_json::json!({
            "Records": [{
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
            }]
        }))
        .unwrap()
    };
    let created = documents
        .sync(&event(
            "ObjectCreated:Put",
            &setup.bucket,
            "changes/c+5.json",
        ))
        .await
        .unwrap();
    assert_eq!(
        created,
        SyncSummary {
            updated: 1,
            removed: 0,
            skipped: 0
        }
    );
    assert!(
        setup.item("c%205").await.is_some(),
        "the escaped key `change#c%205` was written"
    );

    let other = documents
        .sync(&event(
            "ObjectCreated:Put",
            "another-bucket",
            "changes/c+5.json",
        ))
        .await
        .unwrap();
    assert_eq!(other.skipped, 1);
    let foreign = documents
        .sync(&event("ObjectCreated:Put", &setup.bucket, "reports/x.csv"))
        .await
        .unwrap();
    assert_eq!(foreign.skipped, 1);

    let removed = documents
        .sync(&event(
            "ObjectRemoved:Delete",
            &setup.bucket,
            "changes/c+5.json",
        ))
        .await
        .unwrap();
    assert_eq!(
        removed,
        SyncSummary {
            updated: 0,
            removed: 1,
            skipped: 0
        }
    );
    assert!(setup.item("c%205").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_reads_but_writes_nothing() {
    let setup = setup().await;
    let documents = setup.documents(&setup.bucket).dry_run(true);
    documents
        .write(&"c6".to_owned(), &change("c6", "new"))
        .await
        .unwrap();
    assert!(setup.item("c6").await.is_none());
    assert_eq!(setup.object_count().await, 0);
    assert_eq!(documents.read(&"c6".to_owned()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_cache_write_fails_the_document_write() {
    let setup = setup().await;
    let documents = setup.documents(&setup.bucket);
    setup
        .dynamo
        .delete_table()
        .table_name(&setup.table)
        .send()
        .await
        .unwrap();
    let err = documents
        .write(&"c7".to_owned(), &change("c7", "new"))
        .await
        .unwrap_err();
    assert!(matches!(err, DocumentError::Cache(_)), "{err}");
    assert_eq!(
        setup.object_count().await,
        0,
        "S3 is not written when DynamoDB refused"
    );
}

/// A `Write` sink for the JSON log lines of one test.
#[derive(Clone, Default)]
struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_rollbacks_and_fallbacks_log_json_with_durations() {
    let lines = Lines::default();
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || sink.clone())
        .finish();
    // Global, not per thread: the other tests of this binary run on other threads, and a
    // per-thread subscriber can miss callsites they registered first. Their events land
    // here too; the assertions below look for this test's keys only.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");

    let setup = setup().await;
    let documents = setup.documents(&setup.bucket);
    documents
        .write(&"j1".to_owned(), &change("j1", "new"))
        .await
        .unwrap();
    setup
        .documents("no-such-bucket-for-cachegen")
        .write(&"j1".to_owned(), &change("j1", "changed"))
        .await
        .unwrap_err();
    setup
        .s3
        .put_object()
        .bucket(&setup.bucket)
        .key("changes/j2.json")
        .body(serde_json::to_vec(&change("j2", "new")).unwrap().into())
        .send()
        .await
        .unwrap();
    documents.read(&"j2".to_owned()).await.unwrap();

    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect();
    for op in ["write", "rollback", "fallback"] {
        let event = events
            .iter()
            .find(|event| {
                event["op"] == op
                    && event["key"]
                        .as_str()
                        .is_some_and(|key| key.starts_with("changes/j"))
                    && event.get("duration_ms").is_some()
            })
            .unwrap_or_else(|| panic!("no `{op}` event with a duration in {text}"));
        assert!(event["duration_ms"].is_u64(), "{event}");
    }
}
