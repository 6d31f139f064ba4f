//! Invalidation that reaches every container without pub/sub: a data type's invalidation
//! stamp in the store, read at most every `bound`, makes entries written before it misses
//! in other containers' L1 and in the store. On memory, DynamoDB (moto), Redis and a Redis
//! Cluster.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::{BoxError, TieredCache};
use common::{Harness, Kind};

const BOUND: Duration = Duration::from_secs(2);

fn container(h: &Harness, bound: Option<Duration>) -> TieredCache {
    h.builder()
        .memory(MemoryLimit::entries(1_000))
        .data_type("flags")
        .build()
        .for_type("flags")
        .with_version_check(bound)
}

async fn read(cache: &TieredCache, calls: &Arc<AtomicUsize>) -> String {
    read_key(cache, "flags", calls).await
}

async fn read_key(cache: &TieredCache, key: &str, calls: &Arc<AtomicUsize>) -> String {
    let calls = calls.clone();
    cache
        .wrap(key, Duration::from_secs(600), || async move {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>(format!("v{call}"))
        })
        .await
        .unwrap()
}

async fn an_invalidation_reaches_the_other_container(kind: Kind) {
    let h = Harness::new(kind).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let a = container(&h, Some(BOUND));
    let b = container(&h, Some(BOUND));
    assert_eq!(read(&a, &calls).await, "v0");
    assert_eq!(
        read(&b, &calls).await,
        "v0",
        "{kind:?}: b reads what a stored"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // A invalidates the type: one stamp write, and the entries stay in the store.
    h.clock.advance(Duration::from_millis(10));
    a.invalidate_all().await.unwrap();
    assert_eq!(
        read(&b, &calls).await,
        "v0",
        "{kind:?}: within the bound b may still serve its copy"
    );
    h.clock.advance(BOUND + Duration::from_millis(10));
    assert_eq!(
        read(&b, &calls).await,
        "v1",
        "{kind:?}: past the bound b drops L1 and the old store entry"
    );
    assert_eq!(
        read(&a, &calls).await,
        "v1",
        "{kind:?}: and a reads b's new value"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn without_a_check_the_copy_lives_on(kind: Kind) {
    let h = Harness::new(kind).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let a = container(&h, Some(BOUND));
    let b = container(&h, None);
    read(&a, &calls).await;
    read(&b, &calls).await;
    a.invalidate_all().await.unwrap();
    h.clock.advance(BOUND * 2);
    assert_eq!(
        read(&b, &calls).await,
        "v0",
        "{kind:?}: without a check, b's view is as old as its default bound allows"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A key deleted in one container: the others drop their L1 copy within the bound (and
/// those of the keys in its bucket, re-read from the store: no origin call).
async fn a_deleted_key_reaches_the_other_container(kind: Kind) {
    let h = Harness::new(kind).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let a = container(&h, Some(BOUND));
    let b = container(&h, Some(BOUND));
    assert_eq!(read_key(&a, "one", &calls).await, "v0");
    assert_eq!(read_key(&a, "two", &calls).await, "v1");
    assert_eq!(read_key(&b, "one", &calls).await, "v0");
    assert_eq!(read_key(&b, "two", &calls).await, "v1");

    h.clock.advance(Duration::from_millis(10));
    a.delete("one").await.unwrap();
    h.clock.advance(BOUND + Duration::from_millis(10));
    assert_eq!(
        read_key(&b, "one", &calls).await,
        "v2",
        "{kind:?}: the deleted key is fetched again"
    );
    assert_eq!(
        read_key(&b, "two", &calls).await,
        "v1",
        "{kind:?}: other keys come from the store"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn memory() {
    an_invalidation_reaches_the_other_container(Kind::Memory).await;
    without_a_check_the_copy_lives_on(Kind::Memory).await;
    a_deleted_key_reaches_the_other_container(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb() {
    an_invalidation_reaches_the_other_container(Kind::Dynamo).await;
    without_a_check_the_copy_lives_on(Kind::Dynamo).await;
    a_deleted_key_reaches_the_other_container(Kind::Dynamo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis() {
    an_invalidation_reaches_the_other_container(Kind::Redis).await;
    without_a_check_the_copy_lives_on(Kind::Redis).await;
    a_deleted_key_reaches_the_other_container(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_cluster() {
    if common::cluster_urls().is_some() {
        an_invalidation_reaches_the_other_container(Kind::RedisCluster).await;
        without_a_check_the_copy_lives_on(Kind::RedisCluster).await;
        a_deleted_key_reaches_the_other_container(Kind::RedisCluster).await;
    }
}
