//! `ResilientStore` on real servers: a circuit breaker over a redis-server killed and
//! restarted mid-run (callers answered from the origin throughout), a rate limit that
//! holds requests back within the caller's timeout, and dry-run writes on DynamoDB.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use cachegen_runtime::clock::ManualClock;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::{
    CacheStore, DynamoStore, LeaseOutcome, RedisStore, Resilience, ResilientStore,
};
use cachegen_runtime::{BoxError, StoreError, TieredCache};
use cachegen_testkit::{CountingProxy, TestServer, shared_moto_endpoint, unique_name};

/// A cache with no L1, so every lookup reaches the store.
fn cache_over(store: Arc<dyn CacheStore>, timeout: Duration) -> TieredCache {
    TieredCache::builder()
        .store(store)
        .memory(MemoryLimit::entries(0))
        .store_timeout(timeout)
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_breaker_opens_on_a_dead_redis_and_a_probe_closes_it() {
    let mut redis = TestServer::redis().unwrap();
    let clock = ManualClock::new();
    let options = Resilience {
        failure_threshold: 2,
        open_for: Duration::from_secs(30),
        retries: 1,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..Resilience::default()
    };
    let inner: Arc<dyn CacheStore> = Arc::new(RedisStore::connect(&redis.url()).await.unwrap());
    let resilient = Arc::new(ResilientStore::with_clock(
        inner,
        options,
        Arc::new(clock.clone()),
    ));
    let cache = cache_over(resilient.clone(), Duration::from_secs(5));
    let origin_calls = AtomicUsize::new(0);
    let origin = || async {
        origin_calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, BoxError>("fresh".to_owned())
    };

    cache
        .set("k", &"stored".to_owned(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("stored")
    );

    redis.stop();
    // Every caller is still answered, from the origin, while the store is down.
    for _ in 0..4 {
        assert_eq!(
            cache
                .wrap("k", Duration::from_secs(60), origin)
                .await
                .unwrap(),
            "fresh"
        );
    }
    assert_eq!(origin_calls.load(Ordering::SeqCst), 4);
    assert!(resilient.is_open(), "two failed calls opened the circuit");
    let refused = resilient.read("k").await.unwrap_err();
    assert!(
        matches!(refused, StoreError::CircuitOpen { .. }),
        "{refused}"
    );

    redis.start().unwrap();
    // While open, calls are refused without reaching the (revived) store.
    assert!(matches!(
        resilient.read("k").await,
        Err(StoreError::CircuitOpen { .. })
    ));
    clock.advance(Duration::from_secs(31));
    // The probe: the connection manager may need a moment to reconnect.
    let mut closed = false;
    for _ in 0..50 {
        if resilient.read("probe").await.is_ok() {
            closed = true;
            break;
        }
        clock.advance(Duration::from_secs(31));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "a successful probe closes the circuit");
    assert!(!resilient.is_open());
    cache
        .set("k", &"again".to_owned(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("again")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_holds_requests_back_within_the_callers_timeout() {
    let moto = shared_moto_endpoint().unwrap();
    let proxy = CountingProxy::start(moto.url()).unwrap();
    let client = common::dynamo_client(&proxy.endpoint());
    let table = unique_name("limited");
    common::create_table(&client, &table, false).await;
    let inner: Arc<dyn CacheStore> =
        Arc::new(DynamoStore::new(client, &table, common::layout(false)));
    let options = Resilience {
        requests_per_second: Some(1.0),
        burst: 1,
        ..Resilience::default()
    };
    let store: Arc<dyn CacheStore> = Arc::new(ResilientStore::new(inner, options));
    let cache = cache_over(store, Duration::from_millis(300));
    proxy.reset();

    // The first lookup spends the one token; the next must wait a second, longer than the
    // 300 ms the caller allows, so it gives up without sending and falls back to the origin.
    assert_eq!(cache.get::<String>("a").await.unwrap(), None);
    let answered = cache
        .wrap("b", Duration::from_secs(60), || async {
            Ok::<_, BoxError>("origin".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(answered, "origin");
    // The first lookup reads the item with its type's stamp in one BatchGetItem.
    assert_eq!(proxy.total(), 1, "the second lookup never reached DynamoDB");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_reads_but_skips_writes() {
    let moto = shared_moto_endpoint().unwrap();
    let client = common::dynamo_client(moto.url());
    let table = unique_name("dry");
    common::create_table(&client, &table, false).await;
    let real = TieredCache::builder()
        .store(Arc::new(DynamoStore::new(
            client.clone(),
            &table,
            common::layout(false),
        )))
        .store_timeout(common::TEST_STORE_TIMEOUT)
        .build();
    real.set("existing", &"value".to_owned(), Duration::from_secs(60))
        .await
        .unwrap();

    let inner: Arc<dyn CacheStore> = Arc::new(DynamoStore::new(
        client.clone(),
        &table,
        common::layout(false),
    ));
    let dry: Arc<dyn CacheStore> = Arc::new(ResilientStore::new(
        inner,
        Resilience {
            dry_run: true,
            ..Resilience::default()
        },
    ));
    // A dry-run lease acts as held (no caller waits) but writes nothing.
    let lease = dry.acquire_lease("x", None, "me", Duration::from_secs(5));
    assert!(matches!(lease.await.unwrap(), LeaseOutcome::Acquired(_)));
    let cache = cache_over(dry, common::TEST_STORE_TIMEOUT);
    assert_eq!(
        cache.get::<String>("existing").await.unwrap().as_deref(),
        Some("value")
    );
    cache
        .set("new", &"value".to_owned(), Duration::from_secs(60))
        .await
        .unwrap();
    cache.delete("existing").await.unwrap();
    // Invalidations and maintenance change nothing either.
    cache.invalidate_all().await.unwrap();
    cache.invalidate_tag("t").await.unwrap();
    assert_eq!(cache.clear().await.unwrap(), 0);
    let item = |key: &str| {
        client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .send()
    };
    assert!(
        item("new").await.unwrap().item.is_none(),
        "the write was skipped"
    );
    assert!(
        item("x").await.unwrap().item.is_none(),
        "no lease was written"
    );
    assert!(
        item("existing").await.unwrap().item.is_some(),
        "the delete was skipped"
    );
    for stamp in ["!t#default", "!g#t"] {
        assert!(
            item(stamp).await.unwrap().item.is_none(),
            "no stamp was written at {stamp}"
        );
    }
    assert_eq!(
        cache.get::<String>("existing").await.unwrap().as_deref(),
        Some("value"),
        "the entry is served as before"
    );
}
