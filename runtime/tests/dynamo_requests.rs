//! Round trips per call, counted by a proxy in front of moto: a store hit is
//! one `GetItem`, `get_many` is one `BatchGetItem` per 100 keys, and keys
//! DynamoDB leaves unprocessed are retried.
//!
//! Run: `cargo test -p cachegen-runtime --test dynamo_requests`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::DynamoStore;
use cachegen_runtime::{BoxError, TieredCache, TieredCacheBuilder};
use cachegen_testkit::{CountingProxy, SharedServer, shared_moto_endpoint, unique_name};
use common::{create_table, dynamo_client, layout};

const MINUTE: Duration = Duration::from_secs(60);

struct Setup {
    proxy: CountingProxy,
    builder: fn() -> TieredCacheBuilder,
    store: Arc<DynamoStore>,
    _server: SharedServer,
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
        _server: server,
    }
}

impl Setup {
    fn cache(&self) -> TieredCache {
        (self.builder)().store(self.store.clone()).build()
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
