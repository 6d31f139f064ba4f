//! Sharded stamps, for many containers reading one stamp: each process reads one copy,
//! and an invalidation raises every copy to one new generation atomically (DynamoDB
//! `TransactWriteItems`, a Redis script, a lock in memory), so readers of different
//! copies agree. On memory, DynamoDB (moto: dynalite has no transactions), Redis and a Redis
//! Cluster (the copies share a slot there).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::{BoxError, TieredCache};
use common::{Harness, Kind};

const SHARDS: u32 = 4;
const BOUND: Duration = Duration::from_secs(2);

fn container(h: &Harness) -> TieredCache {
    h.builder()
        .memory(MemoryLimit::entries(1_000))
        .stamp_shards(SHARDS)
        .data_type("flags")
        .build()
        .with_version_check(Some(BOUND))
}

async fn read(cache: &TieredCache, calls: &Arc<AtomicUsize>) -> u32 {
    let calls = calls.clone();
    cache
        .wrap("flags", Duration::from_secs(600), || async move {
            Ok::<_, BoxError>(calls.fetch_add(1, Ordering::SeqCst) as u32)
        })
        .await
        .unwrap()
}

async fn every_copy_is_raised_together(kind: Kind) {
    let h = Harness::new(kind).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let fleet: Vec<TieredCache> = (0..8).map(|_| container(&h)).collect();
    for cache in &fleet {
        assert_eq!(read(cache, &calls).await, 0, "{kind:?}");
    }
    // Two invalidations at once: both land, as two generations. moto applies a
    // transaction without a lock (two concurrent ones both raised 0 to 1 here), so there
    // they run one after the other; real DynamoDB serializes them.
    let (a, b) = (fleet[0].clone(), fleet[1].clone());
    if h.atomic_conditional_writes() {
        let (first, second) = tokio::join!(a.invalidate_all(), b.invalidate_all());
        first.unwrap();
        second.unwrap();
    } else {
        a.invalidate_all().await.unwrap();
        b.invalidate_all().await.unwrap();
    }
    let shards: Vec<String> = (0..SHARDS)
        .map(|i| format!("{}!t#flags~{i}", h.prefix))
        .collect();
    let stamps = h.store.read_stamps(&shards).await.unwrap();
    let all: Vec<u64> = stamps.iter().map(|stamp| stamp["all"]).collect();
    assert_eq!(
        all,
        vec![2; SHARDS as usize],
        "{kind:?}: every copy at one generation"
    );
    // Past the bound every container, whatever copy it reads, drops the old value.
    h.clock.advance(BOUND + Duration::from_millis(10));
    let values: Vec<u32> = futures::future::join_all(fleet.iter().map(|c| read(c, &calls))).await;
    assert!(values.iter().all(|v| *v >= 1), "{kind:?}: {values:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn memory() {
    every_copy_is_raised_together(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb() {
    every_copy_is_raised_together(Kind::Dynamo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis() {
    every_copy_is_raised_together(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster() {
    if common::cluster_urls().is_some() {
        every_copy_is_raised_together(Kind::RedisCluster).await;
    }
}
