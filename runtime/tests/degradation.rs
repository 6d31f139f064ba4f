//! A failing or hanging shared store never fails a caller the origin can answer.
//!
//! Each test runs on a private `moto_server` / `redis-server` that it stops
//! mid-test. Run: `cargo test -p cachegen-runtime --test degradation`.

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::{CaptureSink, names};
use cachegen_runtime::store::{CacheStore, DynamoStore, RedisStore};
use cachegen_runtime::{BoxError, CacheError, DEFAULT_STORE_TIMEOUT, StoreError, TieredCache};
use common::{Harness, Kind, create_table, dynamo_client, layout, metric};

const MINUTE: Duration = Duration::from_secs(60);
/// Long enough for a freshly started moto's first answers (so the stamps behind the L1
/// copies are read before the outage); a stopped server refuses connections at once.
const DOWN_TIMEOUT: Duration = Duration::from_secs(3);

async fn value(n: u32) -> Result<u32, BoxError> {
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_down_mid_test() {
    store_down_mid_test(Kind::Dynamo).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_mid_test() {
    store_down_mid_test(Kind::Redis).await;
}

async fn store_down_mid_test(kind: Kind) {
    let mut h = Harness::private(kind).await;
    let sink = Arc::new(CaptureSink::default());
    let cache = h
        .builder()
        .memory(MemoryLimit::entries(100))
        .store_timeout(DOWN_TIMEOUT)
        .metrics_sink(sink.clone())
        .build();
    let no_l1 = h.builder().store_timeout(DOWN_TIMEOUT).build();
    let strict = h.builder().store_timeout(DOWN_TIMEOUT).strict(true).build();
    cache.wrap("warm", MINUTE, || value(1)).await.unwrap();
    assert_eq!(no_l1.get::<u32>("warm").await.unwrap(), Some(1));

    h.server().stop();

    let calls = AtomicUsize::new(0);
    let counted = |n| {
        calls.fetch_add(1, Ordering::SeqCst);
        value(n)
    };
    // L1 still answers; the origin answers the rest; nothing raises.
    assert_eq!(cache.wrap("warm", MINUTE, || counted(9)).await.unwrap(), 1);
    assert_eq!(cache.wrap("cold", MINUTE, || counted(2)).await.unwrap(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(no_l1.get::<u32>("warm").await.unwrap(), None);
    assert_eq!(no_l1.wrap("warm", MINUTE, || value(3)).await.unwrap(), 3);
    assert_eq!(no_l1.get_many::<u32>(&["a", "b"]).await.unwrap().len(), 0);
    // Explicit writes and invalidations that did not reach the store say so.
    let unreachable = |r: Result<(), CacheError>| matches!(r, Err(CacheError::Store(e)) if e.is_backend() || matches!(*e, StoreError::Timeout(_)));
    assert!(unreachable(no_l1.set("x", &1u32, MINUTE).await));
    assert!(unreachable(no_l1.delete("x").await));
    assert!(unreachable(no_l1.invalidate_tag("t").await));
    assert!(unreachable(no_l1.invalidate_all().await));

    // Single-flight holds while the store is down.
    let stampede = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (c, n) = (no_l1.clone(), stampede.clone());
            tokio::spawn(async move {
                c.wrap("down-hot", MINUTE, || async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    value(5).await
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 5);
    }
    assert_eq!(stampede.load(Ordering::SeqCst), 1);

    // Strict mode raises the store error instead.
    let err = strict.get::<u32>("warm").await.unwrap_err();
    assert!(
        matches!(&err, CacheError::Store(e) if e.is_backend() || matches!(**e, StoreError::Timeout(_))),
        "{err}"
    );

    cache.metrics().flush();
    assert!(metric(&sink, names::STORE_ERRORS) >= 2);

    // The server comes back on the same port; the same cache recovers.
    h.server().start().unwrap();
    if let Some((client, table)) = &h.dynamo {
        create_table(client, table, false).await; // moto keeps no data across restarts
    }
    let mut recovered = false;
    for _ in 0..50 {
        if strict.set("back", &7u32, MINUTE).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "store usable again after restart");
    assert_eq!(no_l1.get::<u32>("back").await.unwrap(), Some(7));
}

/// Accepts connections and never answers: every call hits the timeout.
fn blackhole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (port, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hanging_stores_time_out_to_the_origin() {
    let (port, _hole) = blackhole();
    let url = format!("http://127.0.0.1:{port}");
    let stores: [Arc<dyn CacheStore>; 2] = [
        Arc::new(DynamoStore::new(dynamo_client(&url), "t", layout(false))),
        Arc::new(
            RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
                .await
                .unwrap(),
        ),
    ];
    for store in stores {
        let sink = Arc::new(CaptureSink::default());
        // Default timeout: 200 ms.
        let cache = TieredCache::builder()
            .store(store.clone())
            .metrics_sink(sink.clone())
            .build();
        assert_eq!(cache.wrap("k", MINUTE, || value(11)).await.unwrap(), 11);
        cache.metrics().flush();
        // The lookup and the write both timed out.
        assert_eq!(metric(&sink, names::STORE_ERRORS), 2, "{}", store.name());
        let strict = TieredCache::builder()
            .store(store.clone())
            .strict(true)
            .build();
        let err = strict.get::<u32>("k").await.unwrap_err();
        assert!(
            matches!(&err, CacheError::Store(e) if matches!(**e, StoreError::Timeout(t) if t == DEFAULT_STORE_TIMEOUT)),
            "{}: {err}",
            store.name()
        );
    }
}
