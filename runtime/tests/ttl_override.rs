//! A data type's store TTL overridden from its env var (`DataType::TTL_ENV`): values are
//! written with the override, in-memory copies and "not found" answers never outlive it, and only
//! the variable the type names is read. The cache's clock is a manual one, so every
//! assertion is on origin calls, never on how long something took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::clock::ManualClock;
use cachegen_runtime::config::{ConfigError, MemoryLimit};
use cachegen_runtime::store::{CacheStore, MemoryStore};
use cachegen_runtime::typed::{DataType, TypedCache, ttl_from_lookup};
use cachegen_runtime::{BoxError, OriginPolicy, TieredCache};

/// Guilds of a user: a 60 s TTL in store and memory, "not found" kept 30 s, tuned by
/// `GUILDS_TTL`.
enum Guilds {}

impl DataType for Guilds {
    type Key = String;
    type Value = String;
    const NAME: &'static str = "guilds";
    const TTL: Duration = Duration::from_secs(60);
    const MEMORY_TTL: Duration = Duration::from_secs(60);
    const TTL_ENV: Option<&'static str> = Some("GUILDS_TTL");
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "guilds#";
    const POLICY: OriginPolicy = OriginPolicy {
        negative_ttl: Some(Duration::from_secs(30)),
        ..OriginPolicy::NONE
    };

    fn key(key: &String) -> String {
        format!("guilds#{key}")
    }
}

/// One container over a fresh store, on `clock`.
fn container(clock: &ManualClock) -> TieredCache {
    let store: Arc<dyn CacheStore> =
        Arc::new(MemoryStore::new(MemoryLimit::entries(100)).with_clock(Arc::new(clock.clone())));
    TieredCache::builder()
        .store(store)
        .clock(Arc::new(clock.clone()))
        .memory(MemoryLimit::entries(100))
        .build()
}

/// Reads `key` through `handle`, counting origin calls in `calls`.
async fn read(handle: &TypedCache<Guilds>, calls: &Arc<AtomicUsize>, key: &str) {
    let calls = calls.clone();
    handle
        .wrap(&key.to_owned(), || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>("g1".to_owned())
        })
        .await
        .unwrap();
}

#[test]
fn only_the_types_own_variable_is_read() {
    let read = |value: &'static str| {
        ttl_from_lookup::<Guilds>(|name| (name == "GUILDS_TTL").then(|| value.to_owned()))
    };
    assert_eq!(read("10s").unwrap(), Duration::from_secs(10));
    assert_eq!(read("").unwrap(), Guilds::TTL);
    assert!(matches!(
        read("ten seconds"),
        Err(ConfigError::Invalid {
            var: "GUILDS_TTL",
            ..
        })
    ));
}

#[tokio::test]
async fn no_copy_outlives_a_shorter_ttl_in_memory_either() {
    let clock = ManualClock::new();
    let handle = TypedCache::<Guilds>::new(&container(&clock)).with_ttl(Duration::from_secs(10));
    assert_eq!(handle.ttl(), Duration::from_secs(10));
    let calls = Arc::new(AtomicUsize::new(0));
    read(&handle, &calls, "u1").await;
    clock.advance(Duration::from_secs(9));
    read(&handle, &calls, "u1").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "fresh within the override");
    // Past 10 s the value is gone from the store and from memory (whose own TTL is 60 s):
    // the origin is called again.
    clock.advance(Duration::from_secs(2));
    read(&handle, &calls, "u1").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_longer_ttl_keeps_values_in_the_store_past_the_specs() {
    let clock = ManualClock::new();
    let cache = container(&clock);
    let handle = TypedCache::<Guilds>::new(&cache).with_ttl(Duration::from_secs(120));
    let calls = Arc::new(AtomicUsize::new(0));
    read(&handle, &calls, "u1").await;
    clock.advance(Duration::from_secs(90));
    read(&handle, &calls, "u1").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "still in the store at 90 s"
    );
    // The spec's own handle on another key: gone at 90 s.
    let spec = TypedCache::<Guilds>::new(&cache);
    read(&spec, &calls, "u2").await;
    clock.advance(Duration::from_secs(90));
    read(&spec, &calls, "u2").await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_shorter_ttl_cuts_the_negative_ttl() {
    let clock = ManualClock::new();
    let handle = TypedCache::<Guilds>::new(&container(&clock)).with_ttl(Duration::from_secs(10));
    let calls = Arc::new(AtomicUsize::new(0));
    let key = "gone".to_owned();
    let missing = || {
        let calls = calls.clone();
        handle.wrap_optional(&key, move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<Option<String>, BoxError>(None)
        })
    };
    assert_eq!(missing().await.unwrap(), None);
    clock.advance(Duration::from_secs(11));
    assert_eq!(missing().await.unwrap(), None);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the 30 s negative TTL was cut to 10 s"
    );
}
