//! The DynamoDB item layout and tag items, read back raw from moto.
//!
//! Run: `cargo test -p cachegen-runtime --test dynamo_layout`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use cachegen_runtime::clock::{Clock, ManualClock};
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::envelope;
use cachegen_runtime::store::{AttrValue, DynamoLayout, DynamoStore};
use cachegen_runtime::{TieredCache, WriteOptions};
use cachegen_testkit::{shared_moto_endpoint, unique_name};
use common::{create_table, dynamo_client, layout};

const MINUTE: Duration = Duration::from_secs(60);

async fn raw(
    client: &Client,
    table: &str,
    pk: &str,
    sk: Option<&str>,
) -> HashMap<String, AttributeValue> {
    let mut req = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk.into()))
        .consistent_read(true);
    if let Some(sk) = sk {
        req = req.key("sk", AttributeValue::S(sk.into()));
    }
    req.send().await.unwrap().item.unwrap_or_default()
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

struct Setup {
    client: Client,
    table: String,
    clock: ManualClock,
    cache: TieredCache,
    _server: cachegen_testkit::SharedServer,
}

async fn setup(layout: DynamoLayout, sort_key: bool) -> Setup {
    let server = shared_moto_endpoint().expect("moto_server");
    let client = dynamo_client(server.url());
    let table = unique_name("layout");
    create_table(&client, &table, sort_key).await;
    let clock = ManualClock::at_ms(1_700_000_000_500);
    let store =
        DynamoStore::new(client.clone(), &table, layout).with_clock(Arc::new(clock.clone()));
    let cache = TieredCache::builder()
        .store(Arc::new(store))
        .clock(Arc::new(clock.clone()))
        .key_prefix("dev#")
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .memory(MemoryLimit::entries(0))
        .build();
    Setup {
        client,
        table,
        clock,
        cache,
        _server: server,
    }
}

#[tokio::test]
async fn item_layout_with_sort_key_ttl_and_extra_attributes() {
    let s = setup(layout(true), true).await;
    let opts = WriteOptions::ttl(MINUTE)
        .tag("team:1")
        .attribute("gsi1pk", AttrValue::S("team#1".into()))
        .attribute("score", AttrValue::N("42".into()));
    s.cache
        .set_with("user#1", &"alice".to_owned(), &opts)
        .await
        .unwrap();

    let item = raw(&s.client, &s.table, "dev#user#1", Some("cache")).await;
    let now_s = s.clock.now_ms() / 1000;
    let expires = 1_700_000_061; // ceil((now_ms + 60 s) / 1000)
    assert_eq!(n(&item, "expiresAt"), expires);
    assert_eq!(
        n(&item, "ttl"),
        expires + 3600,
        "TTL attribute gets a 1 h grace"
    );
    assert_eq!(n(&item, "createdAt"), now_s);
    assert_eq!(item["gsi1pk"].as_s().unwrap(), "team#1");
    assert_eq!(item["score"].as_n().unwrap(), "42");
    assert!(
        n(&item, "itemVersion") > 0,
        "every item carries its version"
    );
    let decoded: envelope::Decoded<String> =
        envelope::decode(item["value"].as_b().unwrap().as_ref(), 1).unwrap();
    assert_eq!(
        (decoded.value.as_str(), decoded.meta.expires_at_ms),
        ("alice", 1_700_000_060_500)
    );
    let scopes: Vec<(&str, u64)> = decoded
        .scopes
        .iter()
        .map(|scope| (scope.name.as_str(), scope.generation))
        .collect();
    assert_eq!(
        scopes,
        [("default", 0), ("team:1", 0)],
        "its scopes: type and tag"
    );

    // A tag invalidation is one stamp item under the same table and sort key; members
    // stay in the table (reclaimed by TTL) and read as misses.
    s.cache.invalidate_tag("team:1").await.unwrap();
    let stamp = raw(&s.client, &s.table, "dev#!g#team:1", Some("cache")).await;
    assert_eq!(n(&stamp, "stamp:gen"), 1);
    assert!(
        n(&stamp, "ttl") > expires + 300 * 24 * 3600,
        "stamps outlive entries"
    );
    assert!(
        !raw(&s.client, &s.table, "dev#user#1", Some("cache"))
            .await
            .is_empty()
    );
    assert_eq!(s.cache.get::<String>("user#1").await.unwrap(), None);

    // Batch reads carry the sort key.
    for i in 2..5 {
        s.cache
            .set(&format!("user#{i}"), &format!("u{i}"), MINUTE)
            .await
            .unwrap();
    }
    let got = s
        .cache
        .get_many::<String>(&["user#1", "user#2", "user#3", "user#4"])
        .await
        .unwrap();
    assert_eq!(got.len(), 3);

    // A delete leaves a tombstone: the key, a new version, and when TTL reclaims it.
    let before = n(
        &raw(&s.client, &s.table, "dev#user#2", Some("cache")).await,
        "itemVersion",
    );
    s.cache.delete("user#2").await.unwrap();
    let tombstone = raw(&s.client, &s.table, "dev#user#2", Some("cache")).await;
    let mut names: Vec<&str> = tombstone.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["itemVersion", "pk", "sk", "ttl"]);
    assert_ne!(n(&tombstone, "itemVersion"), before);
    assert_eq!(n(&tombstone, "ttl"), now_s + 24 * 3600);
}

#[tokio::test]
async fn ttl_attribute_may_be_expires_at_and_names_are_configurable() {
    let layout = DynamoLayout::builder("pk")
        .value_attribute("payload")
        .expires_at_attribute("expiresAt")
        .ttl_attribute("expiresAt")
        .created_at_attribute("born")
        .build();
    let s = setup(layout, false).await;
    s.cache.set("k", &1u8, MINUTE).await.unwrap();
    let item = raw(&s.client, &s.table, "dev#k", None).await;
    assert_eq!(
        n(&item, "expiresAt"),
        1_700_000_061,
        "no grace when TTL is expiresAt itself"
    );
    assert!(item.contains_key("payload") && item.contains_key("born"));
    assert!(!item.contains_key("value") && !item.contains_key("ttl"));
    assert_eq!(s.cache.get::<u8>("k").await.unwrap(), Some(1));

    // An item past expiresAt is a miss even though DynamoDB still holds it.
    s.clock.advance(2 * MINUTE);
    assert_eq!(s.cache.get::<u8>("k").await.unwrap(), None);
    assert!(!raw(&s.client, &s.table, "dev#k", None).await.is_empty());
}
