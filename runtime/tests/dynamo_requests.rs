//! Round trips per call, counted by a proxy in front of the DynamoDB endpoint (moto, or
//! dynalite when the suite points there): a store hit is one `GetItem`, a miss with
//! distributed single-flight three requests, a waiter's polls are reads, every
//! invalidation on a request path one write and never a scan, `get_many` one
//! `BatchGetItem` per 100 keys, and keys DynamoDB leaves unprocessed are retried while
//! they make progress. Counts are deterministic: these are tests, not benchmarks. Stamp
//! reads (one per stamp per version-check bound) are warmed before counting.
//!
//! Run: `cargo test -p cachegen-runtime --test dynamo_requests`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::DynamoStore;
use cachegen_runtime::{
    BoxError, DistributedFlight, TieredCache, TieredCacheBuilder, WriteOptions,
};
use cachegen_testkit::{CountingProxy, SharedServer, shared_moto_endpoint, unique_name};
use common::{create_table, dynamo_client, layout};

const MINUTE: Duration = Duration::from_secs(60);

struct Setup {
    proxy: CountingProxy,
    builder: fn() -> TieredCacheBuilder,
    store: Arc<DynamoStore>,
    server: SharedServer,
}

async fn setup() -> Setup {
    let server = shared_moto_endpoint().expect("moto_server");
    let proxy = CountingProxy::start(server.url()).unwrap();
    let client = dynamo_client(&proxy.endpoint());
    let table = unique_name("requests");
    create_table(&client, &table, false).await;
    Setup {
        store: Arc::new(DynamoStore::new(client, table, layout(false))),
        proxy,
        builder: || {
            TieredCache::builder()
                .memory(MemoryLimit::entries(0))
                .store_timeout(Duration::from_secs(60))
        },
        server,
    }
}

impl Setup {
    fn cache(&self) -> TieredCache {
        (self.builder)().store(self.store.clone()).build()
    }

    /// A cache whose misses use the lease on the item.
    fn leasing_cache(&self) -> TieredCache {
        (self.builder)()
            .store(self.store.clone())
            .distributed_flight(DistributedFlight {
                lease_ttl: Duration::from_secs(30),
                wait: Duration::from_secs(30),
                poll: Duration::from_millis(20),
            })
            .build()
            .with_distributed_flight(true)
    }

    /// Requests the proxy saw, by operation (only those seen).
    fn counts(&self) -> Vec<(&'static str, usize)> {
        [
            "GetItem",
            "BatchGetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "BatchWriteItem",
            "TransactWriteItems",
            "Query",
            "Scan",
        ]
        .into_iter()
        .map(|op| (op, self.proxy.count(op)))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_hit_is_one_get_item() {
    let s = setup().await;
    let cache = s.cache();
    cache.set("k", &1u32, MINUTE).await.unwrap();
    s.proxy.reset();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
    let v = cache
        .wrap("k", MINUTE, || async {
            Err::<u32, BoxError>("not called".into())
        })
        .await
        .unwrap();
    assert_eq!(v, 1);
    assert_eq!((s.proxy.count("GetItem"), s.proxy.count("PutItem")), (2, 0));
    // A miss: one lookup, one write.
    s.proxy.reset();
    cache
        .wrap("new", MINUTE, || async { Ok::<_, BoxError>(2u32) })
        .await
        .unwrap();
    assert_eq!((s.proxy.count("GetItem"), s.proxy.count("PutItem")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_many_sends_100_keys_per_batch() {
    let s = setup().await;
    let cache = s.cache();
    for i in 0..250u32 {
        cache.set(&format!("k{i}"), &i, MINUTE).await.unwrap();
    }
    s.proxy.reset();
    let keys: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
    assert_eq!(cache.get_many::<u32>(&keys).await.unwrap().len(), 250);
    assert_eq!(
        (s.proxy.count("BatchGetItem"), s.proxy.count("GetItem")),
        (3, 0)
    );
}

/// Hex of a xorshift stream (compresses poorly).
fn noise(n: usize, seed: u64) -> String {
    let mut x = seed | 1;
    let mut s = String::with_capacity(n + 16);
    while s.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(n);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_keys_are_retried() {
    let s = setup().await;
    // 100 items of ~350 KB: 35 MB, over the 16 MB a BatchGetItem response may
    // carry, so DynamoDB (and moto) return part of the keys as unprocessed.
    let cache = (s.builder)()
        .store(s.store.clone())
        .compress_over(usize::MAX)
        .build();
    let keys: Vec<String> = (0..100).map(|i| format!("big{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        cache
            .set(k, &noise(350_000, i as u64), MINUTE)
            .await
            .unwrap();
    }
    s.proxy.reset();
    let got = cache.get_many::<String>(&keys).await.unwrap();
    assert_eq!(got.len(), 100);
    assert!(
        keys.iter()
            .enumerate()
            .all(|(i, k)| got[k] == noise(350_000, i as u64))
    );
    assert!(
        s.proxy.count("BatchGetItem") >= 3,
        "{} calls",
        s.proxy.count("BatchGetItem")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_with_distributed_single_flight_is_three_requests() {
    let s = setup().await;
    let cache = s.leasing_cache();
    cache.set("warm", &0u32, MINUTE).await.unwrap(); // reads the type's stamp
    s.proxy.reset();
    let v = cache
        .wrap("k", MINUTE, || async { Ok::<_, BoxError>(7u32) })
        .await
        .unwrap();
    assert_eq!(v, 7);
    // The read that missed, the lease taken on the item (conditional on what the read
    // saw), the value written under it (which clears the lease).
    assert_eq!(
        s.counts(),
        [("GetItem", 1), ("PutItem", 1), ("UpdateItem", 1)]
    );
    assert_eq!(s.proxy.total(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_only_reads_until_the_holder_writes() {
    let s = setup().await;
    let waiter_proxy = CountingProxy::start(s.server.url()).unwrap();
    let waiter_store = Arc::new(DynamoStore::new(
        dynamo_client(&waiter_proxy.endpoint()),
        s.store.table_name(),
        layout(false),
    ));
    let holder = s.leasing_cache();
    let waiter = (s.builder)()
        .store(waiter_store)
        .distributed_flight(DistributedFlight {
            lease_ttl: Duration::from_secs(30),
            wait: Duration::from_secs(30),
            poll: Duration::from_millis(20),
        })
        .build()
        .with_distributed_flight(true);
    waiter.set("warm", &0u32, MINUTE).await.unwrap();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holding = tokio::spawn(async move {
        holder
            .wrap("hot", MINUTE, || async move {
                started_tx.send(()).unwrap();
                release_rx.await.unwrap();
                Ok::<_, BoxError>(1u32)
            })
            .await
            .unwrap()
    });
    started_rx.await.unwrap(); // the holder has the lease and is in its origin call
    waiter_proxy.reset();
    let waiting = tokio::spawn(async move {
        waiter
            .wrap("hot", MINUTE, || async { Ok::<_, BoxError>(2u32) })
            .await
            .unwrap()
    });
    // Let the waiter poll a few times before the holder finishes.
    while waiter_proxy.count("GetItem") < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release_tx.send(()).unwrap();
    assert_eq!((holding.await.unwrap(), waiting.await.unwrap()), (1, 1));
    let writes: usize = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"]
        .into_iter()
        .map(|op| waiter_proxy.count(op))
        .sum();
    assert_eq!(writes, 0, "a waiter's polls are reads only");
    assert_eq!(waiter_proxy.total(), waiter_proxy.count("GetItem"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalidation_is_one_write_and_none_scans() {
    let s = setup().await;
    let cache = s.cache();
    let checked = cache.with_version_check(Some(MINUTE));
    // 200 members of one tag: a tagged write is one PutItem, whatever the tag's fan-out.
    cache.set("warm", &0u32, MINUTE).await.unwrap();
    s.proxy.reset();
    for i in 0..200u32 {
        let options = WriteOptions::ttl(MINUTE).tag("guild:1").prefix("member#1#");
        cache
            .set_with(&format!("member#1#{i}"), &i, &options)
            .await
            .unwrap();
    }
    assert_eq!(
        s.counts(),
        [("BatchGetItem", 1), ("PutItem", 200)],
        "the tag's and the prefix's stamps read once, then one write each"
    );
    let operations: [(&str, Vec<(&str, usize)>); 5] = [
        ("invalidate_all", {
            s.proxy.reset();
            cache.invalidate_all().await.unwrap();
            s.counts()
        }),
        ("invalidate_tag", {
            s.proxy.reset();
            cache.invalidate_tag("guild:1").await.unwrap();
            s.counts()
        }),
        ("invalidate_prefix", {
            s.proxy.reset();
            cache.invalidate_prefix("member#1#").await.unwrap();
            s.counts()
        }),
        ("delete", {
            s.proxy.reset();
            cache.delete("member#1#0").await.unwrap();
            s.counts()
        }),
        ("delete with a version check", {
            s.proxy.reset();
            checked.delete("member#1#1").await.unwrap();
            s.counts()
        }),
    ];
    assert_eq!(
        operations,
        [
            ("invalidate_all", vec![("UpdateItem", 1)]),
            ("invalidate_tag", vec![("UpdateItem", 1)]),
            ("invalidate_prefix", vec![("UpdateItem", 1)]),
            ("delete", vec![("PutItem", 1)]),
            (
                "delete with a version check",
                vec![("PutItem", 1), ("UpdateItem", 1)]
            ),
        ]
    );
    // And the members read as misses, in a process that never saw the invalidations.
    let other = s.cache();
    assert_eq!(other.get::<u32>("member#1#7").await.unwrap(), None);
}
