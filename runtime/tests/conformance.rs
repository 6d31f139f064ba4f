//! The same behaviours on every store: in-memory, DynamoDB (moto), Redis and a Redis
//! Cluster.
//!
//! Run: `cargo test -p cachegen-runtime --test conformance` (needs
//! `moto_server` and `redis-server` on PATH, or the shared-server env vars; the cluster
//! cases need `CACHEGEN_TEST_REDIS_CLUSTER_URLS`, which `scripts/test.sh` sets).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::names;
use cachegen_runtime::store::{Attributes, Precondition, StoreEntry};
use cachegen_runtime::{BoxError, CacheError, StoreError, WriteOptions};
use common::{Harness, Kind, metric};
use serde::{Deserialize, Serialize};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
}

fn user(id: u32) -> User {
    User {
        id,
        name: format!("user {id}"),
    }
}

async fn ok<T>(v: T) -> Result<T, BoxError> {
    Ok(v)
}

/// Generates one `#[tokio::test]` per backend for each behaviour.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Memory).await } )* }
        mod dynamo { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Dynamo).await } )* }
        mod redis { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::Kind::Redis).await } )* }
        mod redis_cluster { $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { if super::common::cluster_urls().is_some() { super::$name(super::Kind::RedisCluster).await } } )* }
    };
}

conformance!(
    round_trip,
    ttl_expiry_is_application_level,
    delete_removes_from_both_layers,
    batch_get_250_keys,
    tags_invalidate_members_only,
    pattern_delete_where_supported,
    clear_is_scoped_to_the_prefix,
    large_values_compress_and_oversized_are_refused,
    corrupt_and_old_schema_values_are_misses,
    single_flight_1000_tasks,
    stale_while_revalidate_refreshes_once,
    metrics_count_each_layer_as_emf,
    origin_errors_reach_every_waiter_and_are_not_cached,
);

async fn round_trip(kind: Kind) {
    let h = Harness::new(kind).await;
    let (cache, sink) = h.cache_with_sink();
    assert_eq!(cache.get::<User>("u1").await.unwrap(), None);
    cache.set("u1", &user(1), MINUTE).await.unwrap();
    // A second cache instance (no shared L1) reads it from the store.
    let other = h.builder().build();
    assert_eq!(other.get::<User>("u1").await.unwrap(), Some(user(1)));
    assert!(other.has("u1").await.unwrap());
    assert!(!other.has("u2").await.unwrap());
    // The key in the store carries the prefix.
    assert!(h.stored(&format!("{}u1", h.prefix)).await.is_some());
    cache.metrics().flush();
    assert_eq!(metric(&sink, names::MISSES), 1);
}

async fn ttl_expiry_is_application_level(kind: Kind) {
    let h = Harness::new(kind).await;
    let with_l1 = h.builder().memory(MemoryLimit::entries(100)).build();
    let calls = AtomicUsize::new(0);
    let origin = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        ok(user(7)).await
    };
    with_l1.wrap("u7", MINUTE, origin).await.unwrap();
    with_l1.wrap("u7", MINUTE, origin).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The server still holds the item (no real time passed), but the
    // injected clock says it expired: both layers must treat it as a miss.
    h.clock.advance(MINUTE + Duration::from_secs(1));
    // Redis expires server-side in real time, so its raw GET still returns the
    // bytes; DynamoDB and memory stores check `expiresAt` against the clock.
    let raw = h.stored(&format!("{}u7", h.prefix)).await;
    assert_eq!(raw.is_some(), kind.is_redis());
    assert_eq!(with_l1.get::<User>("u7").await.unwrap(), None);
    assert_eq!(h.builder().build().get::<User>("u7").await.unwrap(), None);
    with_l1.wrap("u7", MINUTE, origin).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn delete_removes_from_both_layers(kind: Kind) {
    let h = Harness::new(kind).await;
    let cache = h.builder().memory(MemoryLimit::entries(100)).build();
    cache.set("u1", &user(1), MINUTE).await.unwrap();
    cache.set("u2", &user(2), MINUTE).await.unwrap();
    cache.delete("u1").await.unwrap();
    cache.delete("never-written").await.unwrap();
    assert_eq!(cache.get::<User>("u1").await.unwrap(), None);
    assert!(h.stored(&format!("{}u1", h.prefix)).await.is_none());
    assert_eq!(
        h.builder().build().get::<User>("u2").await.unwrap(),
        Some(user(2))
    );
}

async fn batch_get_250_keys(kind: Kind) {
    let h = Harness::new(kind).await;
    let (cache, sink) = h.cache_with_sink();
    for i in 0..250 {
        cache.set(&format!("u{i}"), &user(i), MINUTE).await.unwrap();
    }
    let mut keys: Vec<String> = (0..250).map(|i| format!("u{i}")).collect();
    keys.extend((0..10).map(|i| format!("absent{i}")));
    keys.push("u0".into()); // duplicates are fine
    let got = cache.get_many::<User>(&keys).await.unwrap();
    assert_eq!(got.len(), 250);
    assert!((0..250).all(|i| got[&format!("u{i}")] == user(i)));
    cache.metrics().flush();
    assert_eq!(metric(&sink, names::STORE_HITS), 250);
    assert_eq!(metric(&sink, names::MISSES), 10);
}

async fn tags_invalidate_members_only(kind: Kind) {
    let h = Harness::new(kind).await;
    let cache = h.builder().memory(MemoryLimit::entries(100)).build();
    let team = WriteOptions::ttl(MINUTE).tag("team:1");
    cache.set_with("u1", &user(1), &team).await.unwrap();
    cache
        .set_with("u2", &user(2), &team.clone().tag("admins"))
        .await
        .unwrap();
    cache
        .set_with("u3", &user(3), &WriteOptions::ttl(MINUTE).tag("team:2"))
        .await
        .unwrap();
    cache.invalidate_tag("team:1").await.unwrap();
    for reader in [&cache, &h.builder().build()] {
        assert_eq!(reader.get::<User>("u1").await.unwrap(), None);
        assert_eq!(reader.get::<User>("u2").await.unwrap(), None);
        assert_eq!(reader.get::<User>("u3").await.unwrap(), Some(user(3)));
    }
    // Written again after the invalidation, a member is served again.
    cache.set_with("u1", &user(1), &team).await.unwrap();
    assert_eq!(
        h.builder().build().get::<User>("u1").await.unwrap(),
        Some(user(1))
    );
    cache.invalidate_tag("team:2").await.unwrap();
    assert_eq!(cache.get::<User>("u3").await.unwrap(), None);
    assert_eq!(cache.get::<User>("u1").await.unwrap(), Some(user(1)));
}

async fn pattern_delete_where_supported(kind: Kind) {
    let h = Harness::new(kind).await;
    let cache = h.builder().build();
    for k in ["user:1", "user:2", "order:1"] {
        cache.set(k, &1u8, MINUTE).await.unwrap();
    }
    let r = cache.delete_by_pattern("user:*").await;
    if h.store.capabilities().pattern_delete {
        assert_eq!(r.unwrap(), 2);
        assert_eq!(cache.get::<u8>("user:1").await.unwrap(), None);
    } else {
        assert!(
            matches!(r, Err(CacheError::Store(e)) if matches!(*e, StoreError::Unsupported { .. }))
        );
        assert_eq!(cache.get::<u8>("user:1").await.unwrap(), Some(1));
    }
    assert_eq!(cache.get::<u8>("order:1").await.unwrap(), Some(1));
}

async fn clear_is_scoped_to_the_prefix(kind: Kind) {
    let h = Harness::new(kind).await;
    let mine = h.builder().build();
    let theirs = h
        .builder()
        .key_prefix(format!("other-{}", h.prefix))
        .build();
    mine.set_with("a", &1u8, &WriteOptions::ttl(MINUTE).tag("t"))
        .await
        .unwrap();
    mine.set("b", &2u8, MINUTE).await.unwrap();
    theirs.set("a", &3u8, MINUTE).await.unwrap();
    assert!(mine.clear().await.unwrap() >= 2);
    assert_eq!(mine.get::<u8>("a").await.unwrap(), None);
    assert_eq!(mine.get::<u8>("b").await.unwrap(), None);
    assert_eq!(theirs.get::<u8>("a").await.unwrap(), Some(3));
}

/// Hex of a xorshift stream: about 4 bits of entropy per byte, so zstd
/// cannot bring `n` bytes much below `n / 2`.
fn incompressible(n: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut s = String::with_capacity(n);
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(n);
    s
}

async fn large_values_compress_and_oversized_are_refused(kind: Kind) {
    let h = Harness::new(kind).await;
    let cache = h.builder().build();
    // 1 MB of repetitive text compresses far below the 400 KB item limit.
    let big = "cachegen ".repeat(120_000);
    cache.set("big", &big, MINUTE).await.unwrap();
    let stored = h.stored(&format!("{}big", h.prefix)).await.unwrap();
    assert!(stored.len() < 100_000, "stored {} bytes", stored.len());
    assert_eq!(
        h.builder().build().get::<String>("big").await.unwrap(),
        Some(big)
    );

    // 1.2 MB of hex stays over 400 KB after zstd.
    let huge = incompressible(1_200_000);
    let set = cache.set("huge", &huge, MINUTE).await;
    let served = cache
        .wrap("huge2", MINUTE, || ok(huge.clone()))
        .await
        .unwrap();
    assert_eq!(
        served, huge,
        "the origin value is returned even when it cannot be cached"
    );
    if kind == Kind::Dynamo {
        let err = set.unwrap_err();
        assert!(
            matches!(&err, CacheError::Store(e) if matches!(**e, StoreError::TooLarge { limit: 409_600, .. }))
        );
        assert!(
            err.to_string().contains("over the 409600-byte limit"),
            "{err}"
        );
        assert_eq!(cache.get::<String>("huge2").await.unwrap(), None);
    } else {
        set.unwrap();
        assert_eq!(cache.get::<String>("huge").await.unwrap(), Some(huge));
    }
}

async fn corrupt_and_old_schema_values_are_misses(kind: Kind) {
    let h = Harness::new(kind).await;
    let entry = |value: &'static [u8]| StoreEntry {
        value,
        created_at_ms: 0,
        expires_at_ms: u64::MAX / 2,
        ttl: MINUTE,
        attributes: const { &Attributes::new() },
        large_values: false,
    };
    for (i, junk) in [
        &b"not an envelope"[..],
        b"CG\x01\x00garbage that is long enough to have a header",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("c{i}");
        h.store
            .write(
                &format!("{}{key}", h.prefix),
                entry(junk),
                Precondition::None,
            )
            .await
            .unwrap();
        let cache = h.builder().build();
        assert_eq!(cache.get::<User>(&key).await.unwrap(), None);
        assert_eq!(
            cache
                .wrap(&key, MINUTE, || ok(user(i as u32)))
                .await
                .unwrap(),
            user(i as u32)
        );
        // Overwritten with a valid envelope.
        assert_eq!(
            h.builder().build().get::<User>(&key).await.unwrap(),
            Some(user(i as u32))
        );
    }
    // A valid envelope of the wrong shape for the type is a miss too.
    h.builder()
        .build()
        .set("shape", &"just a string".to_owned(), MINUTE)
        .await
        .unwrap();
    assert_eq!(
        h.builder().build().get::<User>("shape").await.unwrap(),
        None
    );

    let v1 = h.builder().schema_version(1).build();
    let v2 = h.builder().schema_version(2).build();
    v1.set("s", &user(1), MINUTE).await.unwrap();
    let calls = AtomicUsize::new(0);
    let fresh = v2
        .wrap("s", MINUTE, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            ok(user(2)).await
        })
        .await
        .unwrap();
    assert_eq!((fresh, calls.load(Ordering::SeqCst)), (user(2), 1));
    assert_eq!(
        h.builder()
            .schema_version(2)
            .build()
            .get::<User>("s")
            .await
            .unwrap(),
        Some(user(2))
    );
    assert_eq!(
        v1.get::<User>("s").await.unwrap(),
        None,
        "v1 now sees a newer schema"
    );
}

async fn single_flight_1000_tasks(kind: Kind) {
    let h = Harness::new(kind).await;
    for memory in [MemoryLimit::entries(0), MemoryLimit::entries(100)] {
        let sink = Arc::new(cachegen_runtime::metrics::CaptureSink::default());
        let cache = h
            .builder()
            .memory(memory)
            .metrics_sink(sink.clone())
            .build();
        let key = format!("hot-{}", memory.max_entries.unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let (cache, calls, key) = (cache.clone(), calls.clone(), key.clone());
                tokio::spawn(async move {
                    cache
                        .wrap(&key, MINUTE, || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            ok(user(42)).await
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), user(42));
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "origin calls for 1,000 concurrent misses"
        );
        cache.metrics().flush();
        assert_eq!(metric(&sink, names::MISSES), 1);
        let served_without_origin = metric(&sink, names::COALESCED_CALLS)
            + metric(&sink, names::MEMORY_HITS)
            + metric(&sink, names::STORE_HITS);
        assert_eq!(served_without_origin, 999);
    }
}

async fn stale_while_revalidate_refreshes_once(kind: Kind) {
    let h = Harness::new(kind).await;
    let (cache, sink) = h.cache_with_sink();
    let calls = Arc::new(AtomicUsize::new(0));
    let origin = |calls: Arc<AtomicUsize>| {
        move || async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) as u32;
            tokio::time::sleep(Duration::from_millis(50)).await;
            ok(user(n)).await
        }
    };
    let swr = |cache: &cachegen_runtime::TieredCache, calls: &Arc<AtomicUsize>| {
        let (cache, f) = (cache.clone(), origin(calls.clone()));
        async move { cache.wrap_swr("k", MINUTE, 10 * MINUTE, f).await.unwrap() }
    };
    assert_eq!(swr(&cache, &calls).await, user(0));
    h.clock.advance(2 * MINUTE); // stale, inside the window
    let served = futures::future::join_all((0..20).map(|_| swr(&cache, &calls))).await;
    assert!(
        served.iter().all(|u| *u == user(0)),
        "stale value served at once"
    );
    // Exactly one background refresh; wait for it to land in the store (up to 20 s: the
    // shared moto of a loaded 2-core machine can take seconds).
    let mut refreshed = None;
    for _ in 0..800 {
        refreshed = h.builder().build().get::<User>("k").await.unwrap();
        if refreshed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(refreshed, Some(user(1)));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    cache.metrics().flush();
    assert_eq!(metric(&sink, names::STALE_SERVES), 20);
    // Past the window, the value is a plain miss.
    h.clock.advance(20 * MINUTE);
    assert_eq!(swr(&cache, &calls).await, user(2));
}

async fn metrics_count_each_layer_as_emf(kind: Kind) {
    let h = Harness::new(kind).await;
    let sink = Arc::new(cachegen_runtime::metrics::CaptureSink::default());
    let with = |b: cachegen_runtime::TieredCacheBuilder| {
        b.metrics_sink(sink.clone())
            .namespace("CachegenTest")
            .service("users-api")
            .data_type("User")
            .build()
    };
    let l1 = with(h.builder().memory(MemoryLimit::entries(100)));
    let no_l1 = with(h.builder());
    l1.wrap("a", MINUTE, || ok(user(1))).await.unwrap(); // miss
    l1.wrap("a", MINUTE, || ok(user(1))).await.unwrap(); // memory hit
    no_l1.get::<User>("a").await.unwrap().unwrap(); // store hit
    no_l1.for_type("Order").get::<User>("none").await.unwrap(); // miss, other type
    l1.metrics().flush();
    no_l1.metrics().flush();
    let lines: Vec<serde_json::Value> = sink
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per cache and data type with activity"
    );
    let of = |dt: &str, field: &str| -> u64 {
        lines
            .iter()
            .filter(|l| l["DataType"] == dt)
            .map(|l| l[field].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(of("User", names::MEMORY_HITS), 1);
    assert_eq!(of("User", names::STORE_HITS), 1);
    assert_eq!(of("User", names::MISSES), 1);
    assert_eq!(of("Order", names::MISSES), 1);
    for line in &lines {
        assert_eq!(line["Service"], "users-api");
        let cw = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "CachegenTest");
        assert_eq!(
            cw["Dimensions"],
            serde_json::json!([["Service"], ["Service", "DataType"]])
        );
        let units: Vec<(&str, &str)> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
            .collect();
        assert!(units.contains(&(names::STORE_ERRORS, "Count")));
        assert!(units.contains(&(names::STORE_LATENCY, "Milliseconds")));
        assert!(
            line[names::STORE_LATENCY]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        );
    }
    let origin_samples = lines
        .iter()
        .filter_map(|l| l[names::ORIGIN_LATENCY].as_array())
        .map(Vec::len)
        .sum::<usize>();
    assert_eq!(origin_samples, 1);
}

async fn origin_errors_reach_every_waiter_and_are_not_cached(kind: Kind) {
    let h = Harness::new(kind).await;
    let cache = h.builder().memory(MemoryLimit::entries(100)).build();
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (cache, calls, started) = (cache.clone(), calls.clone(), started.clone());
            tokio::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                cache
                    .wrap("k", MINUTE, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        // Errors are not cached, so a caller arriving after the
                        // flight would call again: fail only once all have joined.
                        while started.load(Ordering::SeqCst) < 50 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Err::<u32, BoxError>("origin is down".into())
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, CacheError::Origin(_)), "{err}");
        assert!(err.to_string().contains("origin is down"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        cache.get::<u32>("k").await.unwrap(),
        None,
        "errors are not cached"
    );
    assert_eq!(cache.wrap("k", MINUTE, || ok(5u32)).await.unwrap(), 5);
}
