//! What a handle does when its origin fails or is slow, and how long values live
//! (issue 14): fail-safe with its throttle, hard and soft origin timeouts, eager refresh
//! (one process refreshes across containers), TTL jitter, negative caching and TTLs the
//! origin tells. Origins here fail, hang and count their calls; tokio's clock is paused
//! where a timeout is at stake and the cache's clock is a manual one, so every assertion
//! is on behaviour and counts, never on how long something took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::clock::ManualClock;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::envelope;
use cachegen_runtime::store::{CacheStore, MemoryStore};
use cachegen_runtime::typed::{DataType, TypedCache};
use cachegen_runtime::{
    BoxError, CacheError, DistributedFlight, FailSafe, OriginPolicy, Served, TieredCache,
    WriteOptions,
};

const TTL: Duration = Duration::from_secs(60);

const FAIL_SAFE: FailSafe = FailSafe {
    max_stale: Duration::from_secs(3600),
    throttle: Duration::from_secs(30),
};

struct Setup {
    clock: ManualClock,
    store: Arc<dyn CacheStore>,
}

impl Setup {
    fn new() -> Self {
        let clock = ManualClock::new();
        let store: Arc<dyn CacheStore> = Arc::new(
            MemoryStore::new(MemoryLimit::entries(10_000)).with_clock(Arc::new(clock.clone())),
        );
        Self { clock, store }
    }

    /// A container: its own L1 and flights, over the shared store.
    fn container(&self, policy: OriginPolicy) -> TieredCache {
        TieredCache::builder()
            .store(self.store.clone())
            .clock(Arc::new(self.clock.clone()))
            .memory(MemoryLimit::entries(1_000))
            .distributed_flight(DistributedFlight {
                lease_ttl: Duration::from_secs(30),
                wait: Duration::from_secs(30),
                poll: Duration::from_millis(10),
            })
            .build()
            .with_policy(policy)
            .with_distributed_flight(true)
    }
}

/// An origin that counts its calls and answers `answer`.
fn counted<T: Clone + Send + 'static>(
    calls: &Arc<AtomicUsize>,
    answer: Result<T, &'static str>,
) -> impl FnOnce() -> futures::future::BoxFuture<'static, Result<T, BoxError>> + Send + 'static {
    let calls = calls.clone();
    move || {
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            answer.map_err(BoxError::from)
        })
    }
}

async fn served(
    cache: &TieredCache,
    key: &str,
    calls: &Arc<AtomicUsize>,
    answer: Result<u32, &'static str>,
) -> Result<Served<u32>, CacheError> {
    cache
        .wrap_served(
            key,
            &WriteOptions::ttl(TTL),
            |_: &u32| Default::default(),
            counted(calls, answer),
        )
        .await
}

#[tokio::test]
async fn fail_safe_serves_the_expired_value_when_the_origin_fails_then_lets_it_rest() {
    let s = Setup::new();
    let cache = s.container(OriginPolicy {
        fail_safe: Some(FAIL_SAFE),
        ..OriginPolicy::NONE
    });
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(served(&cache, "k", &calls, Ok(1)).await.unwrap().value, 1);
    s.clock.advance(TTL + Duration::from_secs(1)); // expired, within max_stale

    let failing = served(&cache, "k", &calls, Err("origin down"))
        .await
        .unwrap();
    assert_eq!(
        failing,
        Served {
            value: 1,
            stale: true
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the origin was tried");
    // Within the throttle the failing origin is left alone.
    for _ in 0..5 {
        let again = served(&cache, "k", &calls, Err("origin down"))
            .await
            .unwrap();
        assert_eq!(again.value, 1);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2, "throttled");
    // Past the throttle it is tried again; a recovered origin's value is fresh.
    s.clock.advance(FAIL_SAFE.throttle + Duration::from_secs(1));
    let recovered = served(&cache, "k", &calls, Ok(2)).await.unwrap();
    assert_eq!(
        recovered,
        Served {
            value: 2,
            stale: false
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Past max_stale nothing is left to fall back on: the error reaches the caller.
    s.clock.advance(FAIL_SAFE.max_stale + TTL);
    let err = served(&cache, "k", &calls, Err("origin down"))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Origin(_)), "{err}");
}

#[tokio::test]
async fn without_fail_safe_an_expired_value_is_not_served() {
    let s = Setup::new();
    let cache = s.container(OriginPolicy::NONE);
    let calls = Arc::new(AtomicUsize::new(0));
    served(&cache, "k", &calls, Ok(1)).await.unwrap();
    s.clock.advance(TTL + Duration::from_secs(1));
    assert!(
        served(&cache, "k", &calls, Err("origin down"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn another_container_falls_back_on_the_stores_expired_value() {
    let s = Setup::new();
    let policy = OriginPolicy {
        fail_safe: Some(FAIL_SAFE),
        ..OriginPolicy::NONE
    };
    let calls = Arc::new(AtomicUsize::new(0));
    served(&s.container(policy), "k", &calls, Ok(1))
        .await
        .unwrap();
    s.clock.advance(TTL * 2);
    let other = s.container(policy); // nothing in its L1
    let failing = served(&other, "k", &calls, Err("origin down"))
        .await
        .unwrap();
    assert_eq!(
        failing,
        Served {
            value: 1,
            stale: true
        }
    );
}

#[tokio::test(start_paused = true)]
async fn the_hard_timeout_abandons_a_hanging_origin() {
    let s = Setup::new();
    let hard = Duration::from_secs(2);
    let hanging = || std::future::pending::<Result<u32, BoxError>>();
    let cache = s.container(OriginPolicy {
        hard_timeout: Some(hard),
        ..OriginPolicy::NONE
    });
    let err = cache.wrap("k", TTL, hanging).await.unwrap_err();
    assert!(
        matches!(err, CacheError::OriginTimeout(t) if t == hard),
        "{err}"
    );

    // Under fail-safe, the expired value instead.
    let safe = s.container(OriginPolicy {
        hard_timeout: Some(hard),
        fail_safe: Some(FAIL_SAFE),
        ..OriginPolicy::NONE
    });
    let calls = Arc::new(AtomicUsize::new(0));
    served(&safe, "j", &calls, Ok(7)).await.unwrap();
    s.clock.advance(TTL * 2);
    let stale = safe
        .wrap_served(
            "j",
            &WriteOptions::ttl(TTL),
            |_: &u32| Default::default(),
            hanging,
        )
        .await
        .unwrap();
    assert_eq!(
        stale,
        Served {
            value: 7,
            stale: true
        }
    );
}

/// A lease shorter than the hard timeout would lapse while its holder's origin call may
/// still run: a process arriving then would take the key and call the origin again.
#[tokio::test(start_paused = true)]
async fn a_lease_lasts_as_long_as_the_origin_call_its_hard_timeout_allows() {
    let s = Setup::new();
    let policy = OriginPolicy {
        hard_timeout: Some(Duration::from_secs(20)),
        ..OriginPolicy::NONE
    };
    let container = || {
        TieredCache::builder()
            .store(s.store.clone())
            .clock(Arc::new(s.clock.clone()))
            .memory(MemoryLimit::entries(100))
            .distributed_flight(DistributedFlight {
                lease_ttl: Duration::from_secs(2),
                wait: Duration::from_secs(30),
                poll: Duration::from_millis(10),
            })
            .build()
            .with_policy(policy)
            .with_distributed_flight(true)
    };
    let (first, second) = (container(), container());
    let calls = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(tokio::sync::Notify::new());
    let slow = {
        let (calls, started, clock) = (calls.clone(), started.clone(), s.clock.clone());
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            clock.advance(Duration::from_secs(5)); // past the configured lease, within the hard timeout
            started.notify_one();
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, BoxError>(1u32)
        }
    };
    let leader = tokio::spawn(async move { first.wrap("slow", TTL, slow).await });
    started.notified().await;
    let follower = second
        .wrap("slow", TTL, counted(&calls, Ok(2)))
        .await
        .unwrap();
    assert_eq!(leader.await.unwrap().unwrap(), 1);
    assert_eq!(follower, 1, "the follower waited for the holder's value");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one origin call");
}

#[tokio::test(start_paused = true)]
async fn the_soft_timeout_serves_stale_while_the_slow_origin_finishes_in_the_background() {
    let s = Setup::new();
    let cache = s.container(OriginPolicy {
        fail_safe: Some(FAIL_SAFE),
        soft_timeout: Some(Duration::from_millis(100)),
        ..OriginPolicy::NONE
    });
    let opts = WriteOptions::ttl(TTL);
    let describe = |_: &u32| Default::default();
    let first = cache
        .wrap_swr_served("k", &opts, Duration::ZERO, describe, || async {
            Ok::<_, BoxError>(1u32)
        })
        .await
        .unwrap();
    assert_eq!(first.value, 1);
    s.clock.advance(TTL * 2);
    let slow = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, BoxError>(2u32)
    };
    let answered = cache
        .wrap_swr_served("k", &opts, Duration::ZERO, describe, slow)
        .await
        .unwrap();
    assert_eq!(
        answered,
        Served {
            value: 1,
            stale: true
        },
        "the stale value, at the soft timeout"
    );
    // The origin's call went on; once it lands, its value is served fresh, everywhere.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let other = s.container(OriginPolicy::NONE);
    assert_eq!(other.get::<u32>("k").await.unwrap(), Some(2));
}

#[tokio::test(start_paused = true)]
async fn eager_refresh_renews_a_hot_key_once_across_containers() {
    let s = Setup::new();
    let policy = OriginPolicy {
        eager_refresh: Some(0.8),
        ..OriginPolicy::NONE
    };
    let fleet: Vec<TieredCache> = (0..4).map(|_| s.container(policy)).collect();
    let calls = Arc::new(AtomicUsize::new(0));
    let swr = |cache: &TieredCache, calls: &Arc<AtomicUsize>| {
        let (cache, calls) = (cache.clone(), calls.clone());
        async move {
            let origin = move || async move {
                let call = calls.fetch_add(1, Ordering::SeqCst) as u32;
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok::<_, BoxError>(call)
            };
            cache
                .wrap_swr("hot", TTL, Duration::ZERO, origin)
                .await
                .unwrap()
        }
    };
    assert_eq!(swr(&fleet[0], &calls).await, 0);
    for cache in &fleet {
        assert_eq!(swr(cache, &calls).await, 0, "fresh, not yet due");
    }
    // At 85% of its TTL every container still serves the value, and one refresh starts.
    s.clock.advance(TTL.mul_f64(0.85));
    for _ in 0..5 {
        for cache in &fleet {
            assert_eq!(swr(cache, &calls).await, 0, "served at once");
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one refresh for the fleet");
    // Past the old TTL the refreshed value is there: the key never expired.
    s.clock.advance(TTL.mul_f64(0.3));
    let fresh = s.container(OriginPolicy::NONE);
    assert_eq!(fresh.get::<u32>("hot").await.unwrap(), Some(1));
}

#[tokio::test]
async fn jitter_spreads_the_expiry_of_entries_written_together() {
    let s = Setup::new();
    let jitter = Duration::from_secs(30);
    let cache = s.container(OriginPolicy {
        ttl_jitter: jitter,
        ..OriginPolicy::NONE
    });
    let mut lifetimes = Vec::new();
    for i in 0..50u32 {
        let key = format!("k{i}");
        cache.set(&key, &i, TTL).await.unwrap();
        let bytes = s.store.read(&key).await.unwrap().value.unwrap();
        let (meta, _) = envelope::decode_header(&bytes, 1).unwrap();
        lifetimes.push(Duration::from_millis(
            meta.fresh_until_ms - meta.created_at_ms,
        ));
    }
    assert!(
        lifetimes.iter().all(|l| *l >= TTL && *l <= TTL + jitter),
        "{lifetimes:?}"
    );
    lifetimes.sort();
    lifetimes.dedup();
    assert!(lifetimes.len() > 10, "spread: {lifetimes:?}");
}

/// A data type with a negative TTL and adaptive TTL bounds.
enum Tokens {}

impl DataType for Tokens {
    type Key = String;
    type Value = String;
    const NAME: &'static str = "token";
    const TTL: Duration = Duration::from_secs(3600);
    const MEMORY_TTL: Duration = Duration::from_secs(3600);
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "token#";
    const POLICY: OriginPolicy = OriginPolicy {
        negative_ttl: Some(Duration::from_secs(30)),
        ttl_bounds: Some((Duration::from_secs(60), Duration::from_secs(1800))),
        ..OriginPolicy::NONE
    };

    fn key(key: &String) -> String {
        format!("token#{key}")
    }
}

#[tokio::test]
async fn not_found_is_cached_for_the_negative_ttl() {
    let s = Setup::new();
    let tokens = TypedCache::<Tokens>::new(&s.container(OriginPolicy::NONE));
    let calls = Arc::new(AtomicUsize::new(0));
    let missing = || {
        let calls = calls.clone();
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<Option<String>, BoxError>(None)
        }
    };
    for _ in 0..5 {
        assert_eq!(
            tokens
                .wrap_optional(&"nobody".into(), missing())
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the answer \"not found\" was cached"
    );
    assert_eq!(
        tokens.get(&"nobody".into()).await.unwrap(),
        None,
        "and is no value"
    );
    s.clock.advance(Duration::from_secs(31));
    tokens
        .wrap_optional(&"nobody".into(), missing())
        .await
        .unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "past the negative TTL, asked again"
    );
}

#[tokio::test]
async fn an_origin_told_ttl_is_kept_within_bounds() {
    let s = Setup::new();
    let tokens = TypedCache::<Tokens>::new(&s.container(OriginPolicy::NONE));
    for (id, told, kept) in [("a", 600, 600), ("b", 5, 60), ("c", 86_400, 1_800)] {
        let value = tokens
            .wrap_expiring(&id.to_owned(), || async move {
                Ok::<_, BoxError>((format!("token {id}"), Duration::from_secs(told)))
            })
            .await
            .unwrap();
        assert_eq!(value, format!("token {id}"));
        let bytes = s
            .store
            .read(&format!("token#{id}"))
            .await
            .unwrap()
            .value
            .unwrap();
        let (meta, _) = envelope::decode_header(&bytes, 1).unwrap();
        assert_eq!(
            meta.fresh_until_ms - meta.created_at_ms,
            kept * 1000,
            "{id}"
        );
    }
}
