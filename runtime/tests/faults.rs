//! DynamoDB faults, injected by a loopback proxy in front of moto: throttling, 500s,
//! connection resets, latency and batch reads left unprocessed. Under each, every caller
//! gets a correct value (stored or from the origin), no corrupt value is served, nothing
//! already stored is lost, and the metrics count what happened.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::CaptureSink;
use cachegen_runtime::store::{CacheStore, DynamoStore};
use cachegen_runtime::{BoxError, TieredCache};
use cachegen_testkit::fault::{Fault, FaultProxy};
use cachegen_testkit::{shared_moto_endpoint, unique_name};

struct Setup {
    proxy: FaultProxy,
    table: String,
    cache: TieredCache,
    sink: Arc<CaptureSink>,
    _moto: cachegen_testkit::SharedServer,
}

/// A cache with no L1 over DynamoDB behind the fault proxy. The SDK retries throttles and
/// 5xx itself (fast backoff here); `store_timeout` bounds every call.
async fn setup(store_timeout: Duration) -> Setup {
    let moto = shared_moto_endpoint().unwrap();
    let table = unique_name("faults");
    common::create_table(&common::dynamo_client(moto.url()), &table, false).await;
    let proxy = FaultProxy::start(moto.url()).unwrap();
    let sink = Arc::new(CaptureSink::default());
    let cache = TieredCache::builder()
        .store(Arc::new(store_behind(&proxy, &table)))
        .memory(MemoryLimit::entries(0))
        .store_timeout(store_timeout)
        .metrics_sink(sink.clone())
        .build();
    Setup {
        proxy,
        table,
        cache,
        sink,
        _moto: moto,
    }
}

/// A store on `table` whose requests go through `proxy`.
fn store_behind(proxy: &FaultProxy, table: &str) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url(proxy.endpoint())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build(),
    );
    DynamoStore::new(client, table, common::layout(false))
}

async fn wrap(cache: &TieredCache, key: &str) -> String {
    cache
        .wrap(key, Duration::from_secs(300), || async {
            Ok::<_, BoxError>(format!("origin {key}"))
        })
        .await
        .expect("callers are answered whatever the store does")
}

fn store_errors(setup: &Setup) -> u64 {
    setup.cache.metrics().flush();
    common::metric(&setup.sink, "StoreErrors")
}

#[tokio::test(flavor = "multi_thread")]
async fn brief_throttling_is_retried_away() {
    // A generous timeout: this test is about retries, not about a slow machine.
    let setup = setup(Duration::from_secs(10)).await;
    setup
        .cache
        .set("k", &"stored".to_owned(), Duration::from_secs(300))
        .await
        .unwrap();
    let errors_before = store_errors(&setup);
    setup.proxy.fail_next(Fault::Throttle, 2);
    assert_eq!(
        setup.cache.get::<String>("k").await.unwrap().as_deref(),
        Some("stored")
    );
    assert_eq!(setup.proxy.injected(), 2);
    assert_eq!(
        store_errors(&setup),
        errors_before,
        "retried inside the call"
    );
}

async fn a_persistent_fault_degrades_to_the_origin(fault: Fault) {
    let setup = setup(Duration::from_millis(1_500)).await;
    setup
        .cache
        .set("kept", &"stored".to_owned(), Duration::from_secs(300))
        .await
        .unwrap();
    setup.proxy.fail_all(fault);
    for round in 0..3 {
        assert_eq!(
            wrap(&setup.cache, "kept").await,
            "origin kept",
            "{fault:?} round {round}"
        );
        assert_eq!(
            setup.cache.get::<String>("other").await.unwrap(),
            None,
            "{fault:?}"
        );
    }
    assert!(setup.proxy.injected() > 0);
    assert!(
        store_errors(&setup) >= 6,
        "{fault:?}: every failed call is counted"
    );

    setup.proxy.heal();
    let after = setup.cache.get::<String>("kept").await.unwrap();
    if matches!(fault, Fault::Latency(_)) {
        // A slow write times out for the caller but still reaches DynamoDB later: the
        // fresh origin value may land. Either way the key holds a correct, readable value.
        assert!(
            matches!(after.as_deref(), Some("stored" | "origin kept")),
            "{fault:?}: {after:?}"
        );
    } else {
        assert_eq!(
            after.as_deref(),
            Some("stored"),
            "{fault:?}: nothing already stored was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_throttling() {
    a_persistent_fault_degrades_to_the_origin(Fault::Throttle).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors() {
    a_persistent_fault_degrades_to_the_origin(Fault::ServerError).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_resets() {
    a_persistent_fault_degrades_to_the_origin(Fault::Reset).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn latency_beyond_the_timeout() {
    a_persistent_fault_degrades_to_the_origin(Fault::Latency(Duration::from_secs(4))).await;
}

/// Keys a `BatchGetItem` leaves unprocessed, however many times it is retried: a stamp
/// left unread is an error, never all zeros, which would pass values its invalidations
/// removed; a value left unread is a miss; the cold read of an item with its stamps reads
/// both again, each whole.
#[tokio::test(flavor = "multi_thread")]
async fn keys_a_batch_read_leaves_unprocessed_are_never_read_as_blank_stamps() {
    let setup = setup(Duration::from_secs(30)).await;
    let store = store_behind(&setup.proxy, &setup.table);
    assert_eq!(wrap(&setup.cache, "k").await, "origin k");
    // Two stamps: one is read with a GetItem, several with a BatchGetItem.
    let stamps = vec!["!g#t".to_owned(), "!g#u".to_owned()];
    let raised = store.bump_stamp(&stamps[..1], "gen").await.unwrap();
    assert!(raised > 0);

    setup.proxy.fail_all(Fault::Unprocessed);
    let unread = store.read_stamps(&stamps).await;
    assert!(unread.is_err(), "an unread stamp is an error: {unread:?}");
    let values = store.read_many(&["k".to_owned()]).await.unwrap();
    assert!(values.is_empty(), "an unread value is a miss");
    let cold = store.read_with_stamps("k", &stamps).await;
    assert!(
        cold.is_err(),
        "its stamps unread, a cold read fails: {cold:?}"
    );

    // Left unprocessed once, the cold read reads the item and its stamps again.
    setup.proxy.heal();
    setup.proxy.fail_next(Fault::Unprocessed, 1);
    let (slot, read) = store.read_with_stamps("k", &stamps).await.unwrap();
    assert!(slot.value.is_some(), "the item, read again by itself");
    assert_eq!(read[0]["gen"], raised, "the stamp, read again");

    assert!(
        setup.proxy.injected() >= 4,
        "the batch reads were left unprocessed"
    );
}
