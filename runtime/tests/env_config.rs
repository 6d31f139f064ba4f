//! Configuration from environment variables, building caches on real servers.
//!
//! Run: `cargo test -p cachegen-runtime --test env_config`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use cachegen_runtime::config::{Backend, CacheConfig, MemoryLimit};
use cachegen_runtime::{BoxError, DEFAULT_STORE_TIMEOUT};
use cachegen_testkit::{shared_moto_endpoint, shared_redis_url, unique_name};
use common::{create_table, dynamo_client, layout};

const MINUTE: Duration = Duration::from_secs(60);

fn config(vars: &[(&str, &str)]) -> CacheConfig {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    CacheConfig::from_lookup("USERS_CACHE_TABLE", |k| map.get(k).map(|v| v.to_string())).unwrap()
}

async fn origin(calls: &AtomicUsize) -> Result<String, BoxError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Ok("v".into())
}

#[tokio::test]
async fn table_name_selects_dynamodb_with_prefix() {
    let server = shared_moto_endpoint().unwrap();
    let table = unique_name("env");
    create_table(&dynamo_client(server.url()), &table, false).await;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .endpoint_url(server.url())
        .build();
    let prefix = format!("{}#", unique_name("p"));
    let c = config(&[
        ("USERS_CACHE_TABLE", &table),
        ("CACHE_KEY_PREFIX", &prefix),
        ("CACHE_MEMORY_SIZE", "0"),
    ]);
    assert_eq!(c.backend, Backend::Dynamo(table.clone()));
    let cache = c
        .builder_with_sdk(Some(&sdk), layout(false), common::TEST_STORE_TIMEOUT)
        .await
        .unwrap()
        .build();
    let calls = AtomicUsize::new(0);
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "second call served by DynamoDB (L1 is off)"
    );
    let stored = cache.store().unwrap().read(&format!("{prefix}k")).await;
    assert!(stored.unwrap().value.is_some());
}

#[tokio::test]
async fn redis_url_wins_over_the_table() {
    let server = shared_redis_url().unwrap();
    let prefix = format!("{}#", unique_name("p"));
    let c = config(&[
        ("USERS_CACHE_TABLE", "ignored"),
        ("REDIS_URL", server.url()),
        ("CACHE_KEY_PREFIX", &prefix),
        ("CACHE_MEMORY_SIZE", "0"),
    ]);
    let cache = c
        .builder(layout(false), DEFAULT_STORE_TIMEOUT)
        .await
        .unwrap()
        .build();
    assert_eq!(cache.store().unwrap().name(), "redis");
    let calls = AtomicUsize::new(0);
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stored = cache.store().unwrap().read(&format!("{prefix}k")).await;
    assert!(stored.unwrap().value.is_some());
}

#[tokio::test]
async fn no_table_means_l1_only_and_disabled_means_origin_only() {
    let c = config(&[("CACHE_MEMORY_SIZE", "1MiB")]);
    assert_eq!(c.memory, MemoryLimit::bytes(1 << 20));
    let cache = c
        .builder(layout(false), DEFAULT_STORE_TIMEOUT)
        .await
        .unwrap()
        .build();
    assert!(cache.store().is_none());
    let calls = AtomicUsize::new(0);
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "L1 answers the second call"
    );

    let off = config(&[("CACHE_ENABLED", "false")]);
    let cache = Arc::new(
        off.builder(layout(false), DEFAULT_STORE_TIMEOUT)
            .await
            .unwrap()
            .build(),
    );
    let calls = AtomicUsize::new(0);
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    cache.wrap("k", MINUTE, || origin(&calls)).await.unwrap();
    cache.set("k", &"x".to_owned(), MINUTE).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "bypassed");
    assert_eq!(cache.get::<String>("k").await.unwrap(), None);
}
