//! Keys that carry their sort key (`SortKey::FromKey`), on a string and on a numeric sort
//! key, read back raw: every path writes and reads the item under both keys (set, get,
//! get_many, wrap under a lease, delete's tombstone, index queries, clear), and the
//! runtime's own items (stamps) take the sort value it keeps for them. A request the table
//! refuses reads as what was asked and why. Runs on moto and, in the suite's second pass,
//! on dynalite. An index key attribute DynamoDB would refuse (empty, or over its 2,048
//! bytes) leaves the item out of the index rather than failing the write (found by the
//! conformance harness).
//!
//! Run: `cargo test -p cachegen-runtime --test sort_keys`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::query::IndexQuery;
use cachegen_runtime::store::{AttrValue, DynamoLayout, DynamoStore, IndexKeyRole, SortKeyType};
use cachegen_runtime::{BoxError, CacheError, TieredCache, WriteOptions};
use cachegen_testkit::{shared_moto_endpoint, unique_name};
use common::{attr_def, dynamo_client, key_elem, wait_until_active};

const MINUTE: Duration = Duration::from_secs(60);
const SEP: char = '\u{1f}';

/// A table keyed `pk` (S) and `sk` of `kind`, with a keys-only index on `owner`.
async fn create_table(client: &Client, table: &str, kind: ScalarAttributeType) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .attribute_definitions(attr_def("sk", kind))
        .attribute_definitions(attr_def("owner", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash))
        .key_schema(key_elem("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-owner")
                .key_schema(key_elem("owner", KeyType::Hash))
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
    wait_until_active(client, table).await;
}

struct Setup {
    client: Client,
    table: String,
    store: Arc<DynamoStore>,
    _server: cachegen_testkit::SharedServer,
}

impl Setup {
    async fn new(kind: SortKeyType) -> Self {
        let server = shared_moto_endpoint().expect("moto_server");
        let client = dynamo_client(server.url());
        let table = unique_name("sort-keys");
        let scalar = match kind {
            SortKeyType::S => ScalarAttributeType::S,
            SortKeyType::N => ScalarAttributeType::N,
        };
        create_table(&client, &table, scalar).await;
        let layout = DynamoLayout::builder("pk")
            .sort_key_from_keys("sk", kind)
            .ttl_attribute("ttl")
            .index_key("owner", IndexKeyRole::Partition)
            .build();
        let store = Arc::new(DynamoStore::new(client.clone(), &table, layout));
        Self {
            client,
            table,
            store,
            _server: server,
        }
    }

    /// A cache with no L1, as a fresh container sees the table.
    fn cache(&self) -> TieredCache {
        TieredCache::builder()
            .store(self.store.clone())
            .key_prefix("dev#")
            .store_timeout(common::TEST_STORE_TIMEOUT)
            .memory(MemoryLimit::entries(0))
            .build()
    }

    /// The sort values of the items whose partition key starts with `prefix`.
    async fn sort_values_under(&self, prefix: &str) -> Vec<AttributeValue> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(pk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        items
            .into_iter()
            .map(|mut item| item.remove("sk").unwrap())
            .collect()
    }

    /// The item at `pk` and `sk` (a number on a numeric sort key), if any.
    async fn raw(&self, pk: &str, sk: AttributeValue) -> Option<HashMap<String, AttributeValue>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", sk)
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

/// Every path of the tiered cache on keys `<partition>\u{1f}<sort>`, with `sorts` two sort
/// values and `sort_value` making the attribute value of one.
async fn round_trip(kind: SortKeyType, sorts: [&str; 2], internal: AttributeValue) {
    let setup = Setup::new(kind).await;
    let sort_value = |text: &str| match kind {
        SortKeyType::S => AttributeValue::S(text.into()),
        SortKeyType::N => AttributeValue::N(text.into()),
    };
    let key = |sort: &str| format!("order#1{SEP}{sort}");
    let cache = setup.cache();
    let options = |owner: &str| {
        WriteOptions::ttl(MINUTE)
            .tag("team:1")
            .attribute("owner", AttrValue::S(owner.into()))
    };
    for (n, sort) in sorts.iter().enumerate() {
        cache
            .set_with(&key(sort), &format!("line {n}"), &options("ann"))
            .await
            .unwrap();
    }
    // Two items in one partition, each under its own sort value.
    for sort in sorts {
        let item = setup.raw("dev#order#1", sort_value(sort)).await;
        assert!(
            item.is_some_and(|item| item.contains_key("value")),
            "{sort}"
        );
    }
    let reader = setup.cache();
    assert_eq!(
        reader
            .get::<String>(&key(sorts[1]))
            .await
            .unwrap()
            .as_deref(),
        Some("line 1")
    );
    let many = reader
        .get_many::<String>(&[key(sorts[0]), key("999"), key(sorts[1])])
        .await
        .unwrap();
    assert_eq!(
        (many.get(&key(sorts[0])).map(String::as_str), many.len()),
        (Some("line 0"), 2)
    );

    // An index query gives back whole keys, sort part included, and selects one type's
    // items by the fixed text of each part: another type's item in the same partition
    // and index partition is left out.
    let (query_prefix, other) = match kind {
        SortKeyType::S => (format!("order#{SEP}LINE#"), "NOTE#1"),
        SortKeyType::N => (format!("order#{SEP}"), ""),
    };
    if !other.is_empty() {
        cache
            .set_with(&key(other), &"a note".to_owned(), &options("ann"))
            .await
            .unwrap();
    }
    let page = reader
        .query::<String>(
            &query_prefix,
            IndexQuery::new("by-owner", "owner", AttrValue::S("ann".into())),
        )
        .await
        .unwrap();
    let mut values = page.items;
    values.sort();
    assert_eq!(values, ["line 0", "line 1"]);

    // A tag invalidation bumps a stamp: an internal item under the runtime's sort value.
    cache.invalidate_tag("team:1").await.unwrap();
    let reader = setup.cache();
    assert_eq!(reader.get::<String>(&key(sorts[0])).await.unwrap(), None);
    assert_eq!(setup.sort_values_under("dev#!g#team:1").await, [internal]);

    // A fill under the cross-process lease, then a delete's tombstone, both under both keys.
    let calls = AtomicUsize::new(0);
    let leased = cache.with_distributed_flight(true);
    for _ in 0..2 {
        let value = leased
            .wrap(&key(sorts[0]), MINUTE, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, BoxError>("filled".to_owned())
            })
            .await
            .unwrap();
        assert_eq!(value, "filled");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    cache.delete(&key(sorts[0])).await.unwrap();
    let tombstone = setup
        .raw("dev#order#1", sort_value(sorts[0]))
        .await
        .unwrap();
    assert!(!tombstone.contains_key("value") && tombstone.contains_key("itemVersion"));
    assert_eq!(reader.get::<String>(&key(sorts[0])).await.unwrap(), None);

    // A clear tombstones the data items, whatever their sort value.
    cache
        .set(&key(sorts[1]), &"again".to_owned(), MINUTE)
        .await
        .unwrap();
    let notes = u64::from(!other.is_empty());
    assert_eq!(cache.clear().await.unwrap(), 1 + notes);
    assert_eq!(reader.get::<String>(&key(sorts[1])).await.unwrap(), None);

    // A key whose sort part is empty is refused before any request.
    let empty = format!("order#1{SEP}");
    assert!(matches!(
        cache.set(&empty, &1u8, MINUTE).await,
        Err(CacheError::InvalidKey { .. })
    ));
}

#[tokio::test]
async fn string_sort_keys_come_from_the_keys() {
    round_trip(
        SortKeyType::S,
        ["LINE#1", "LINE#2"],
        AttributeValue::S("!".into()),
    )
    .await;
}

#[tokio::test]
async fn numeric_sort_keys_come_from_the_keys() {
    round_trip(SortKeyType::N, ["3", "12"], AttributeValue::N("0".into())).await;
}

#[tokio::test]
async fn a_refused_request_says_what_was_asked_of_which_table_and_why() {
    let setup = Setup::new(SortKeyType::S).await;
    // A layout without the table's sort key: every write is refused by the table.
    let store = DynamoStore::new(
        setup.client.clone(),
        &setup.table,
        DynamoLayout::builder("pk").build(),
    );
    let cache = TieredCache::builder()
        .store(Arc::new(store))
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .build();
    let err = cache.set("user#1", &1u8, MINUTE).await.unwrap_err();
    let message = err.to_string();
    let expected = format!(
        "DynamoDB rejected PutItem on table {}: ValidationException: ",
        setup.table
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        !message.contains("Headers") && !message.contains("SdkBody"),
        "no raw response in the message: {message}"
    );
    let CacheError::Store(store_error) = &err else {
        panic!("{err:?}");
    };
    // The SDK's error, raw response and all, is one step down the chain.
    let source = std::error::Error::source(store_error.as_ref()).expect("the SDK error");
    assert!(format!("{source:?}").contains("ValidationException"));
}

#[tokio::test]
async fn an_index_key_dynamodb_refuses_leaves_the_item_out_of_the_index() {
    let setup = Setup::new(SortKeyType::S).await;
    let cache = setup.cache();
    // Empty, one byte over the partition key limit, and exactly at it.
    for (n, owner, indexed) in [
        (1, String::new(), false),
        (2, "o".repeat(2049), false),
        (3, "o".repeat(2048), true),
    ] {
        let key = format!("order#{n}{SEP}LINE#1");
        let options = WriteOptions::ttl(MINUTE).attribute("owner", AttrValue::S(owner));
        cache
            .set_with(&key, &format!("v{n}"), &options)
            .await
            .unwrap();
        let item = setup
            .raw(
                &format!("dev#order#{n}"),
                AttributeValue::S("LINE#1".into()),
            )
            .await
            .unwrap();
        assert_eq!(
            (item.contains_key("value"), item.contains_key("owner")),
            (true, indexed),
            "owner #{n}"
        );
        assert_eq!(
            setup.cache().get::<String>(&key).await.unwrap(),
            Some(format!("v{n}"))
        );
    }
}
