//! The coherence contract, case by case, each with the interleaving that used to break it
//! forced by hand (an origin that waits for a signal, a store call that never ends): a value
//! whose read began before an invalidation is not served after it returns, in this
//! process or another; an invalidation that did not finish says so; a cancelled lease
//! holder gives its lease back; a write the store refused is not served from L1; keys
//! cannot reach the cache's own items.
//!
//! On the in-memory store (the same trait the DynamoDB and Redis stores implement, whose
//! conformance suite runs on all three); the randomized version of these interleavings is
//! the `coherence` simulation.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::{
    CacheStore, Capabilities, LeaseOutcome, MemoryStore, Precondition, Slot, Stamp, StoreEntry,
    Version,
};
use cachegen_runtime::{
    BoxError, CacheError, DistributedFlight, StoreError, TieredCache, WriteOptions,
};
use futures::future::BoxFuture;
use tokio::sync::{Notify, oneshot};

const MINUTE: Duration = Duration::from_secs(60);

/// Containers over one store: each its own L1 and flights.
fn containers(store: &Arc<dyn CacheStore>, n: usize) -> Vec<TieredCache> {
    (0..n)
        .map(|_| {
            TieredCache::builder()
                .store(store.clone())
                .memory(MemoryLimit::entries(1_000))
                .build()
        })
        .collect()
}

fn memory_store() -> Arc<dyn CacheStore> {
    Arc::new(MemoryStore::new(MemoryLimit::entries(10_000)))
}

/// An origin call that reads `version` when it starts, then waits for `go` before it
/// answers with what it read.
fn held_origin(
    version: u32,
    started: oneshot::Sender<()>,
    go: Arc<Notify>,
) -> impl FnOnce() -> BoxFuture<'static, Result<u32, BoxError>> {
    move || {
        Box::pin(async move {
            let read = version;
            started.send(()).unwrap();
            go.notified().await;
            Ok(read)
        })
    }
}

#[tokio::test]
async fn a_value_read_before_a_delete_is_not_served_after_it_anywhere() {
    let store = memory_store();
    let [a, b] = <[TieredCache; 2]>::try_from(containers(&store, 2)).unwrap();
    let go = Arc::new(Notify::new());
    let (started, origin_started) = oneshot::channel();
    // Container a's origin reads v1 and is slow to answer.
    let reader = {
        let (a, go) = (a.clone(), go.clone());
        tokio::spawn(async move { a.wrap("k", MINUTE, held_origin(1, started, go)).await })
    };
    origin_started.await.unwrap();
    // Meanwhile the source changes to v2 and a writer deletes the key.
    b.delete("k").await.unwrap();
    // The origin answers v1 now: its caller gets it (its lookup began before the delete),
    go.notify_one();
    assert_eq!(reader.await.unwrap().unwrap(), 1);
    // but no lookup that starts after the delete does, in either container.
    let calls = Arc::new(AtomicUsize::new(0));
    for cache in [&a, &b] {
        let calls = calls.clone();
        let value = cache
            .wrap("k", MINUTE, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, BoxError>(2u32)
            })
            .await
            .unwrap();
        assert_eq!(value, 2);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "v2 read once, then shared");
}

#[tokio::test]
async fn a_lookup_after_an_invalidation_does_not_join_a_flight_that_began_before_it() {
    for invalidation in ["delete", "tag", "type"] {
        let cache = containers(&memory_store(), 1).remove(0);
        let options = WriteOptions::ttl(MINUTE).tag("t");
        let go = Arc::new(Notify::new());
        let (started, origin_started) = oneshot::channel();
        let old_flight = {
            let (cache, go, options) = (cache.clone(), go.clone(), options.clone());
            tokio::spawn(async move {
                cache
                    .wrap_with("k", &options, held_origin(1, started, go))
                    .await
            })
        };
        origin_started.await.unwrap();
        match invalidation {
            "delete" => cache.delete("k").await.unwrap(),
            "tag" => cache.invalidate_tag("t").await.unwrap(),
            _ => cache.invalidate_all().await.unwrap(),
        }
        // A lookup after the invalidation, while the old flight is still in the air.
        let after = {
            let (cache, options) = (cache.clone(), options.clone());
            tokio::spawn(async move {
                cache
                    .wrap_with("k", &options, || async { Ok::<_, BoxError>(2u32) })
                    .await
            })
        };
        tokio::task::yield_now().await;
        go.notify_one();
        assert_eq!(old_flight.await.unwrap().unwrap(), 1);
        assert_eq!(after.await.unwrap().unwrap(), 2, "after {invalidation}");
        assert_eq!(
            cache.get::<u32>("k").await.unwrap(),
            Some(2),
            "after {invalidation}: the old flight's value was not kept"
        );
    }
}

/// A memory store with one fault: invalidations that never finish, or writes refused as
/// too large.
#[derive(Debug)]
struct Faulty {
    inner: Arc<dyn CacheStore>,
    fault: Fault,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    HangingInvalidations,
    RefusedWrites,
}

impl Faulty {
    fn over_memory(fault: Fault) -> Arc<dyn CacheStore> {
        Arc::new(Self {
            inner: memory_store(),
            fault,
        })
    }

    /// Waits forever when invalidations hang.
    async fn invalidation(&self) {
        if let Fault::HangingInvalidations = self.fault {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl CacheStore for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        self.inner.read(key).await
    }
    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        self.inner.read_many(keys).await
    }
    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        if let Fault::RefusedWrites = self.fault {
            return Err(StoreError::TooLarge {
                store: "faulty",
                key: key.to_owned(),
                size: entry.value.len(),
                limit: 0,
            });
        }
        self.inner.write(key, entry, precondition).await
    }
    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        self.invalidation().await;
        self.inner.delete(key, precondition).await
    }
    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.inner.acquire_lease(key, seen, holder, ttl).await
    }
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.release_lease(key, holder).await
    }
    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        self.inner.read_stamps(keys).await
    }
    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        self.invalidation().await;
        self.inner.bump_stamp(shards, counter).await
    }
    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        self.inner.clear(prefix).await
    }
}

#[tokio::test(start_paused = true)]
async fn an_invalidation_that_does_not_finish_reports_it() {
    let store = Faulty::over_memory(Fault::HangingInvalidations);
    let cache = TieredCache::builder()
        .store(store)
        .invalidation_timeout(Duration::from_secs(1))
        .build();
    let timed_out = |r: Result<(), CacheError>| matches!(r, Err(CacheError::Store(e)) if matches!(*e, StoreError::Timeout(t) if t == Duration::from_secs(1)));
    assert!(timed_out(cache.delete("k").await));
    assert!(timed_out(cache.invalidate_tag("t").await));
    assert!(timed_out(cache.invalidate_all().await));
    assert!(timed_out(cache.invalidate_prefix("p#").await));
}

#[tokio::test]
async fn a_cancelled_lease_holder_gives_the_lease_back() {
    let store = memory_store();
    let cache = TieredCache::builder()
        .store(store.clone())
        .distributed_flight(DistributedFlight {
            lease_ttl: Duration::from_secs(600),
            wait: Duration::from_secs(600),
            poll: Duration::from_millis(10),
        })
        .build()
        .with_distributed_flight(true);
    let (started, origin_started) = oneshot::channel();
    let holder = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .wrap(
                    "k",
                    MINUTE,
                    held_origin(1, started, Arc::new(Notify::new())),
                )
                .await
        })
    };
    origin_started.await.unwrap();
    assert!(store.read("k").await.unwrap().lease.is_some(), "held");
    // The invocation is cut short (a Lambda timing out): the future is dropped.
    holder.abort();
    assert!(holder.await.unwrap_err().is_cancelled());
    let mut released = false;
    for _ in 0..100 {
        if store.read("k").await.unwrap().lease.is_none() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(released, "the dropped holder's guard gave the lease back");
    // So another caller takes the lease and calls its origin without waiting it out.
    let next = cache
        .wrap("k", MINUTE, || async { Ok::<_, BoxError>(2u32) })
        .await
        .unwrap();
    assert_eq!(next, 2);
}

#[tokio::test]
async fn a_write_the_store_refused_is_not_served_from_l1() {
    let store = Faulty::over_memory(Fault::RefusedWrites);
    let cache = containers(&store, 1).remove(0);
    let refused = cache.set("k", &1u32, MINUTE).await.unwrap_err();
    assert!(
        matches!(&refused, CacheError::Store(e) if matches!(**e, StoreError::TooLarge { .. })),
        "{refused}"
    );
    assert_eq!(cache.get::<u32>("k").await.unwrap(), None);
    // A fill the store refuses is returned to its caller, and not kept either.
    let value = cache
        .wrap("f", MINUTE, || async { Ok::<_, BoxError>(2u32) })
        .await
        .unwrap();
    assert_eq!(value, 2);
    assert_eq!(cache.get::<u32>("f").await.unwrap(), None);
}

#[tokio::test]
async fn keys_cannot_reach_the_caches_own_items() {
    let store = memory_store();
    let cache = containers(&store, 1).remove(0);
    cache
        .set_with("user#1", &1u32, &WriteOptions::ttl(MINUTE).tag("bar"))
        .await
        .unwrap();
    cache.invalidate_tag("bar").await.unwrap();
    // The tag's stamp lives at `!g#bar`: a data key of that name is refused, so it can
    // neither overwrite the stamp nor be deleted by the tag.
    for key in ["!g#bar", "!t#default", ""] {
        let refused = cache.set(key, &7u32, MINUTE).await.unwrap_err();
        assert!(matches!(refused, CacheError::InvalidKey { .. }), "{key}");
        assert!(matches!(
            cache.get::<u32>(key).await,
            Err(CacheError::InvalidKey { .. })
        ));
        assert!(matches!(
            cache.delete(key).await,
            Err(CacheError::InvalidKey { .. })
        ));
    }
    let stamps = store.read_stamps(&["!g#bar".to_owned()]).await.unwrap();
    assert_eq!(stamps[0]["gen"], 1, "the stamp is untouched");
}

#[tokio::test]
async fn writing_one_key_never_drops_another_keys_copy() {
    // L1 only: a copy dropped by mistake would be lost, not re-read.
    let cache = TieredCache::builder()
        .memory(MemoryLimit::entries(10_000))
        .build();
    for i in 0..5_000u32 {
        cache.set(&format!("k{i}"), &i, MINUTE).await.unwrap();
    }
    for i in 0..5_000u32 {
        assert_eq!(cache.get::<u32>(&format!("k{i}")).await.unwrap(), Some(i));
    }
    cache.delete("k7").await.unwrap();
    let kept = futures::future::join_all((0..5_000u32).map(|i| {
        let cache = cache.clone();
        async move { cache.get::<u32>(&format!("k{i}")).await.unwrap() }
    }))
    .await;
    assert_eq!(kept.iter().filter(|v| v.is_none()).count(), 1, "only k7");
}
