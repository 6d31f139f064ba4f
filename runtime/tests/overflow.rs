//! Values over DynamoDB's item limit, against moto's DynamoDB and S3: the item keeps its
//! attributes and a pointer, S3 keeps the body, reads follow the pointer, a lost or
//! replaced body is a miss, and deletions remove both.
//!
//! Run: `cargo test -p cachegen-runtime --test overflow`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use cachegen_runtime::config::{CacheConfig, MemoryLimit};
use cachegen_runtime::query::IndexQuery;
use cachegen_runtime::store::{AttrValue, Attributes, DynamoStore, MAX_ITEM_BYTES, S3Overflow};
use cachegen_runtime::typed::{DataType, TypedCache};
use cachegen_runtime::{CacheError, StoreError, TieredCache, WriteOptions};
use cachegen_testkit::{SharedServer, shared_moto_endpoint, unique_name};
use common::{attr_def, key_elem};
use serde::{Deserialize, Serialize};

const INDEX: &str = "dataType-createdAt-index";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct Report {
    id: String,
    body: String,
}

/// Short, so a failed comparison of megabyte values stays readable.
impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Report({}, {} bytes)", self.id, self.body.len())
    }
}

/// A data type that opts into large values, found by a GSI on `dataType`.
enum Reports {}

impl DataType for Reports {
    type Key = String;
    type Value = Report;
    const NAME: &'static str = "report";
    const TTL: Duration = Duration::from_secs(3600);
    const MEMORY_TTL: Duration = Duration::from_secs(60);
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "report#";
    const LARGE_VALUES: bool = true;

    fn key(key: &String) -> String {
        format!("report#{key}")
    }

    fn tags(_key: &String) -> Vec<String> {
        vec!["reports".to_owned()]
    }

    fn attributes(_key: &String, _value: &Report, _now: u64) -> Attributes {
        Attributes::from([("dataType".to_owned(), AttrValue::S("report".into()))])
    }
}

/// The same values, without the opt-in.
enum PlainReports {}

impl DataType for PlainReports {
    type Key = String;
    type Value = Report;
    const NAME: &'static str = "plain-report";
    const TTL: Duration = Duration::from_secs(3600);
    const MEMORY_TTL: Duration = Duration::from_secs(60);
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "plain#";

    fn key(key: &String) -> String {
        format!("plain#{key}")
    }
}

/// About `len` bytes of text that zstd cannot bring under DynamoDB's limit.
fn incompressible(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

fn report(id: &str, len: usize) -> Report {
    Report {
        id: id.to_owned(),
        body: incompressible(len, id.bytes().map(u64::from).sum()),
    }
}

/// A table keyed by `pk` with a GSI on `dataType` and `createdAt`, like the generated one.
async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("dataType", ScalarAttributeType::S))
        .attribute_definitions(attr_def("createdAt", ScalarAttributeType::N))
        .key_schema(key_elem("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(key_elem("dataType", KeyType::Hash))
                .key_schema(key_elem("createdAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
}

struct Setup {
    dynamo: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
    overflow: S3Overflow,
    cache: TieredCache,
    moto: SharedServer,
}

async fn setup() -> Setup {
    let moto = shared_moto_endpoint().expect("moto_server");
    let dynamo = common::dynamo_client(moto.url());
    let table = unique_name("overflow");
    create_table(&dynamo, &table).await;
    let s3 = common::s3_client(moto.url());
    let bucket = unique_name("overflow").to_lowercase().replace('_', "-");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let overflow = S3Overflow::new(s3.clone(), &bucket);
    let setup = Setup {
        cache: TieredCache::builder().build(),
        dynamo,
        s3,
        table,
        bucket,
        overflow,
        moto,
    };
    Setup {
        cache: setup.fresh_cache(),
        ..setup
    }
}

impl Setup {
    /// Another process's cache: its own L1 (off), the same table and bucket.
    fn fresh_cache(&self) -> TieredCache {
        let store = DynamoStore::new(self.dynamo.clone(), &self.table, common::layout(false))
            .with_overflow(self.overflow.clone());
        TieredCache::builder()
            .store(Arc::new(store))
            .store_timeout(common::TEST_STORE_TIMEOUT)
            .memory(MemoryLimit::entries(0))
            .build()
    }

    fn reports(&self) -> TypedCache<Reports> {
        TypedCache::new(&self.cache).strict()
    }

    async fn item(&self, key: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    fn object_key(&self, key: &str) -> String {
        self.overflow.object_key(&self.table, key)
    }

    async fn object(&self, object_key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(object_key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.unwrap().to_vec())
    }

    async fn put_object(&self, object_key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .body(body.into())
            .send()
            .await
            .unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn a_large_value_keeps_its_attributes_in_dynamodb_and_its_body_in_s3() {
    let setup = setup().await;
    let big = report("r1", 1_000_000);
    setup
        .reports()
        .set(&"r1".to_owned(), &big)
        .await
        .expect("a large value is stored");

    let item = setup.item("report#r1").await.expect("item in DynamoDB");
    assert!(!item.contains_key("value"), "no inline value");
    for attribute in ["dataType", "createdAt", "expiresAt", "ttl"] {
        assert!(item.contains_key(attribute), "{attribute} kept: {item:?}");
    }
    let pointer = item["valueRef"].as_m().expect("a pointer map");
    let object_key = setup.object_key("report#r1");
    assert_eq!(pointer["key"].as_s().unwrap(), &object_key);
    assert!(object_key.starts_with(&format!("overflow/{}/", setup.table)));
    let body = setup.object(&object_key).await.expect("body in S3");
    assert!(body.len() > MAX_ITEM_BYTES, "{} bytes", body.len());
    assert_eq!(pointer["sha256"].as_s().unwrap().len(), 64);

    // Another process, with nothing in L1, reads it back through the pointer.
    let other = setup.fresh_cache();
    let reports = TypedCache::<Reports>::new(&other).strict();
    assert_eq!(
        reports.get(&"r1".to_owned()).await.unwrap(),
        Some(big.clone())
    );
    assert_eq!(
        reports
            .get_many(&["r1".to_owned(), "absent".to_owned()])
            .await
            .unwrap(),
        vec![Some(big.clone()), None]
    );

    // The GSI still finds it, and the query reads its body.
    let page = reports
        .query(IndexQuery::new(
            INDEX,
            "dataType",
            AttrValue::S("report".into()),
        ))
        .await
        .unwrap();
    assert_eq!(page.items, vec![big.clone()]);

    // Overwritten with another large value: the same object, the new body.
    let bigger = report("r1-v2", 1_100_000);
    reports.set(&"r1".to_owned(), &bigger).await.unwrap();
    assert_eq!(
        TypedCache::<Reports>::new(&setup.fresh_cache())
            .get(&"r1".to_owned())
            .await
            .unwrap(),
        Some(bigger)
    );
    assert_eq!(setup.object_count().await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_opt_in_a_large_value_is_too_large() {
    let setup = setup().await;
    let plain = TypedCache::<PlainReports>::new(&setup.cache);
    let err = plain
        .set(&"p1".to_owned(), &report("p1", 1_000_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CacheError::Store(e) if matches!(**e, StoreError::TooLarge { .. })),
        "{err}"
    );
    assert!(setup.item("plain#p1").await.is_none());
    assert_eq!(setup.object_count().await, 0);

    // Opted in, but the store has no bucket: still too large.
    let store = DynamoStore::new(setup.dynamo.clone(), &setup.table, common::layout(false));
    let no_bucket = TieredCache::builder()
        .store(Arc::new(store))
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .build();
    let err = TypedCache::<Reports>::new(&no_bucket)
        .set(&"r9".to_owned(), &report("r9", 1_000_000))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("over the 409600-byte limit"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_lost_or_replaced_behind_the_item_is_a_miss() {
    let setup = setup().await;
    let reports = setup.reports();
    for id in ["lost", "replaced", "swapped"] {
        reports
            .set(&id.to_owned(), &report(id, 800_000))
            .await
            .unwrap();
    }
    let lost = setup.object_key("report#lost");
    setup
        .s3
        .delete_object()
        .bucket(&setup.bucket)
        .key(&lost)
        .send()
        .await
        .unwrap();
    // A racing writer's body, or another key's, under this key's object.
    let foreign = setup
        .object(&setup.object_key("report#replaced"))
        .await
        .unwrap();
    setup
        .put_object(&setup.object_key("report#swapped"), foreign)
        .await;
    let replaced = setup.object_key("report#replaced");
    setup.put_object(&replaced, b"not the body".to_vec()).await;

    let other = TypedCache::<Reports>::new(&setup.fresh_cache()).strict();
    for id in ["lost", "replaced", "swapped"] {
        assert_eq!(other.get(&id.to_owned()).await.unwrap(), None, "{id}");
    }
    let ids: Vec<String> = ["lost", "replaced", "swapped"].map(str::to_owned).into();
    assert_eq!(other.get_many(&ids).await.unwrap(), vec![None, None, None]);

    // A miss calls the origin, whose value heals the entry.
    let healed = report("lost", 700_000);
    let served = other
        .wrap(&"lost".to_owned(), || async {
            Ok::<_, std::io::Error>(healed.clone())
        })
        .await
        .unwrap();
    assert_eq!(served, healed);
    assert_eq!(other.get(&"lost".to_owned()).await.unwrap(), Some(healed));
}

#[tokio::test(flavor = "multi_thread")]
async fn deletions_remove_the_item_and_its_body() {
    let setup = setup().await;
    let reports = setup.reports();
    for id in ["d1", "d2", "d3", "d4", "d5"] {
        reports
            .set(&id.to_owned(), &report(id, 800_000))
            .await
            .unwrap();
    }
    assert_eq!(setup.object_count().await, 5);

    reports.delete(&"d1".to_owned()).await.unwrap();
    let tombstone = setup.item("report#d1").await.unwrap();
    assert!(!tombstone.contains_key("valueRef") && !tombstone.contains_key("value"));
    assert!(setup.object(&setup.object_key("report#d1")).await.is_none());
    assert_eq!(setup.object_count().await, 4);

    // Replaced by a small value: inline now, the old body removed.
    let small = Report {
        id: "d2".into(),
        body: "short".into(),
    };
    reports.set(&"d2".to_owned(), &small).await.unwrap();
    assert!(setup.item("report#d2").await.unwrap().contains_key("value"));
    assert_eq!(setup.object_count().await, 3);

    // By tag, then every item of the type: one stamp write each. Items and bodies stay
    // (the table's TTL and the bucket's lifecycle rule reclaim them), read as misses.
    setup.cache.invalidate_tag("reports").await.unwrap();
    assert_eq!(reports.get(&"d3".to_owned()).await.unwrap(), None);
    assert_eq!(setup.object_count().await, 3);
    for id in ["d6", "d7"] {
        reports
            .set(&id.to_owned(), &report(id, 800_000))
            .await
            .unwrap();
    }
    assert!(reports.get(&"d6".to_owned()).await.unwrap().is_some());
    reports.invalidate_all().await.unwrap();
    assert_eq!(reports.get(&"d6".to_owned()).await.unwrap(), None);
    assert!(
        setup
            .item("report#d6")
            .await
            .unwrap()
            .contains_key("valueRef")
    );

    // Clearing (maintenance, a scan) tombstones every entry and removes their bodies.
    setup.cache.clear().await.unwrap();
    assert!(
        !setup
            .item("report#d6")
            .await
            .unwrap()
            .contains_key("valueRef")
    );
    assert_eq!(setup.object_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_value_stays_inline() {
    let setup = setup().await;
    let small = report("s1", 1_000);
    setup.reports().set(&"s1".to_owned(), &small).await.unwrap();
    let item = setup.item("report#s1").await.unwrap();
    assert!(item.contains_key("value"));
    assert!(!item.contains_key("valueRef"));
    assert_eq!(setup.object_count().await, 0);
    assert_eq!(
        TypedCache::<Reports>::new(&setup.fresh_cache())
            .get(&"s1".to_owned())
            .await
            .unwrap(),
        Some(small)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_failure_is_a_store_error_and_writes_no_item() {
    let setup = setup().await;
    let store =
        DynamoStore::new(setup.dynamo.clone(), &setup.table, common::layout(false)).with_overflow(
            S3Overflow::new(setup.s3.clone(), "no-such-bucket-for-cachegen"),
        );
    let cache = TieredCache::builder()
        .store(Arc::new(store))
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .build()
        .with_large_values(true);
    let opts = WriteOptions::ttl(Duration::from_secs(60));
    let err = cache
        .with_strict(true)
        .set_with("broken", &report("broken", 800_000), &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CacheError::Store(e) if matches!(**e, StoreError::Request { store: "s3", .. })),
        "{err}"
    );
    assert!(err.to_string().contains("PutObject"), "{err}");
    assert!(
        setup.item("broken").await.is_none(),
        "S3 first, then the item"
    );

    // An item whose bucket fails to answer is an error in strict mode, not a miss.
    setup
        .cache
        .with_large_values(true)
        .set_with("elsewhere", &report("elsewhere", 800_000), &opts)
        .await
        .unwrap();
    let err = cache
        .with_strict(true)
        .get::<Report>("elsewhere")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("GetObject"), "{err}");
    // Degrading (the default), it is the origin's turn.
    assert_eq!(cache.get::<Report>("elsewhere").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_environment_names_the_overflow_bucket() {
    let setup = setup().await;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .endpoint_url(setup.moto.url())
        .build();
    let vars = HashMap::from([
        ("USERS_CACHE_TABLE", setup.table.clone()),
        ("CACHE_OVERFLOW_BUCKET", setup.bucket.clone()),
        ("CACHE_MEMORY_SIZE", "0".to_owned()),
    ]);
    let config = CacheConfig::from_lookup("USERS_CACHE_TABLE", |k| vars.get(k).cloned()).unwrap();
    assert_eq!(
        config.overflow_bucket.as_deref(),
        Some(setup.bucket.as_str())
    );
    let cache = config
        .builder_with_sdk(
            Some(&sdk),
            common::layout(false),
            common::TEST_STORE_TIMEOUT,
        )
        .await
        .unwrap()
        .build();
    let reports = TypedCache::<Reports>::new(&cache).strict();
    let big = report("e1", 800_000);
    reports.set(&"e1".to_owned(), &big).await.unwrap();
    assert!(setup.object(&setup.object_key("report#e1")).await.is_some());
    assert_eq!(reports.get(&"e1".to_owned()).await.unwrap(), Some(big));
}
