//! Idempotent handlers on real stores (memory, DynamoDB on moto or dynalite, Redis, and
//! the Redis Cluster `scripts/test.sh` starts):
//! duplicates, concurrent duplicates from separate handles, a crashed first attempt, a
//! changed payload, a failure, the result's expiry and a missing key. Each scenario
//! counts handler calls; time moves only through the harness's clock.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::clock::Clock;
use cachegen_runtime::idempotency::{Idempotency, IdempotencyConfig, IdempotencyError, InFlight};
use cachegen_runtime::store::RedisStore;
use common::{Guard, Harness, Kind};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

const HANDLES: usize = 4;
const CALLERS_PER_HANDLE: usize = 5;
/// How long each test invocation has, by the harness clock.
const INVOCATION: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Charge {
    order_id: String,
    customer: String,
    amount: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Receipt {
    order_id: String,
    /// Which handler call produced it (0 for the first).
    call: usize,
}

fn charge(amount: u64) -> Charge {
    Charge {
        order_id: "o-1".into(),
        customer: "c-1".into(),
        amount,
    }
}

type Outcome = Result<Receipt, IdempotencyError<&'static str>>;

/// A harness whose store judges expiry by its clock (the shared Redis store otherwise
/// uses the system clock).
async fn harness(kind: Kind) -> Harness {
    let mut h = Harness::new(kind).await;
    let clock = Arc::new(h.clock.clone());
    match (kind, &h.guard) {
        (Kind::Redis, Guard::Shared(server)) => {
            let store = RedisStore::connect(server.url()).await.expect("redis url");
            h.store = Arc::new(store.with_clock(clock));
        }
        (Kind::RedisCluster, _) => {
            let urls = common::cluster_urls().expect("checked by the caller");
            let store = RedisStore::connect_cluster(&urls).expect("cluster urls");
            h.store = Arc::new(store.with_clock(clock));
        }
        _ => {}
    }
    h
}

/// One container's handle: its own cache on the shared store.
fn handle(h: &Harness, config: IdempotencyConfig) -> Idempotency {
    h.builder().build().idempotency("charge", config)
}

fn deadline(h: &Harness) -> u64 {
    h.clock.now_ms() + INVOCATION.as_millis() as u64
}

/// Counts handler calls; each call's receipt carries its number.
#[derive(Clone, Default)]
struct Handler {
    calls: Arc<AtomicUsize>,
}

impl Handler {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn ok(&self, c: &Charge) -> impl Future<Output = Result<Receipt, &'static str>> + use<> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let order_id = c.order_id.clone();
        async move { Ok(Receipt { order_id, call }) }
    }

    fn slow(&self, c: &Charge) -> impl Future<Output = Result<Receipt, &'static str>> + use<> {
        let ok = self.ok(c);
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            ok.await
        }
    }

    fn failing(&self) -> impl Future<Output = Result<Receipt, &'static str>> + use<> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        async { Err("card declined") }
    }
}

async fn run(idem: &Idempotency, h: &Harness, c: &Charge, handler: &Handler) -> Outcome {
    idem.run(&(&c.order_id, &c.customer), c, deadline(h), || {
        handler.ok(c)
    })
    .await
}

async fn a_duplicate_gets_the_stored_result(kind: Kind) {
    let h = harness(kind).await;
    let idem = handle(&h, IdempotencyConfig::default());
    let handler = Handler::default();
    let first = run(&idem, &h, &charge(10), &handler).await.unwrap();
    let retry = run(&idem, &h, &charge(10), &handler).await.unwrap();
    // Another container's handle finds the same record.
    let elsewhere = run(
        &handle(&h, IdempotencyConfig::default()),
        &h,
        &charge(10),
        &handler,
    )
    .await
    .unwrap();
    assert_eq!((&retry, &elsewhere), (&first, &first), "{kind:?}");
    assert_eq!(handler.calls(), 1, "{kind:?}");
    // Another key is another request.
    let other = Charge {
        order_id: "o-2".into(),
        ..charge(10)
    };
    assert_eq!(run(&idem, &h, &other, &handler).await.unwrap().call, 1);
    // So is the same key under another function name.
    let refund = h
        .builder()
        .build()
        .idempotency("refund", IdempotencyConfig::default());
    assert_eq!(
        run(&refund, &h, &charge(10), &handler).await.unwrap().call,
        2
    );
}

/// Every caller of every handle sends the same request at once; returns the handler
/// calls and each caller's outcome.
async fn burst(h: &Harness, config: IdempotencyConfig) -> (usize, Vec<Outcome>) {
    let handler = Handler::default();
    let mut tasks = Vec::new();
    for _ in 0..HANDLES {
        let idem = handle(h, config.clone());
        for _ in 0..CALLERS_PER_HANDLE {
            let (idem, handler, deadline) = (idem.clone(), handler.clone(), deadline(h));
            tasks.push(tokio::spawn(async move {
                let c = charge(10);
                idem.run(&(&c.order_id, &c.customer), &c, deadline, || {
                    handler.slow(&c)
                })
                .await
            }));
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    (handler.calls(), outcomes)
}

async fn concurrent_duplicates_run_once(kind: Kind) {
    let h = harness(kind).await;
    let (calls, outcomes) = burst(&h, IdempotencyConfig::default()).await;
    if h.atomic_conditional_writes() {
        assert_eq!(calls, 1, "{kind:?}");
        let in_progress = outcomes
            .iter()
            .filter(|o| matches!(o, Err(IdempotencyError::InProgress { .. })))
            .count();
        let served: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        assert!(served.iter().all(|r| r.call == 0), "{kind:?}: {served:?}");
        assert_eq!(in_progress + served.len(), outcomes.len(), "{kind:?}");
    } else {
        // moto may grant a conditional write twice (see `atomic_conditional_writes`); the
        // exact count is asserted when `scripts/test.sh` runs this suite on dynalite.
        assert!(
            (1..=HANDLES * CALLERS_PER_HANDLE).contains(&calls),
            "{kind:?}"
        );
    }

    // Waiting duplicates all get the one result.
    let h = harness(kind).await;
    let waiting = IdempotencyConfig {
        in_flight: InFlight::Wait {
            poll: Duration::from_millis(20),
        },
        ..IdempotencyConfig::default()
    };
    let (calls, outcomes) = burst(&h, waiting).await;
    let receipts: Vec<Receipt> = outcomes.into_iter().map(Result::unwrap).collect();
    if h.atomic_conditional_writes() {
        assert_eq!(calls, 1, "{kind:?}");
        assert!(
            receipts.iter().all(|r| r.call == 0),
            "{kind:?}: {receipts:?}"
        );
    } else {
        assert!(
            (1..=HANDLES * CALLERS_PER_HANDLE).contains(&calls),
            "{kind:?}"
        );
    }
}

/// Starts a call whose handler never finishes, and abandons it without dropping it, as a
/// process that crashed or timed out mid-handler leaves its record.
async fn crash_midway(idem: &Idempotency, h: &Harness, handler: &Handler) {
    let started = Arc::new(Notify::new());
    let (c, signal, counter) = (charge(10), started.clone(), handler.clone());
    let mut call = Box::pin(async move {
        idem.run(&(&c.order_id, &c.customer), &c, deadline(h), || {
            counter.calls.fetch_add(1, Ordering::SeqCst);
            signal.notify_one();
            std::future::pending::<Result<Receipt, &'static str>>()
        })
        .await
    });
    tokio::select! {
        outcome = &mut call => panic!("the handler never returns: {outcome:?}"),
        () = started.notified() => {}
    }
    std::mem::forget(call);
}

async fn a_crashed_attempt_is_taken_over_after_its_deadline(kind: Kind) {
    let h = harness(kind).await;
    let idem = handle(&h, IdempotencyConfig::default());
    let handler = Handler::default();
    crash_midway(&idem, &h, &handler).await;
    assert_eq!(handler.calls(), 1);

    let retry = run(&idem, &h, &charge(10), &handler).await;
    assert!(
        matches!(retry, Err(IdempotencyError::InProgress { .. })),
        "{kind:?}: {retry:?}"
    );
    assert_eq!(handler.calls(), 1, "{kind:?}: refused, not run");

    // Past the crashed invocation's deadline its record has expired.
    h.clock.advance(INVOCATION + Duration::from_secs(1));
    let retry = run(&idem, &h, &charge(10), &handler).await.unwrap();
    assert_eq!(retry.call, 1, "{kind:?}");
    assert_eq!(run(&idem, &h, &charge(10), &handler).await.unwrap(), retry);
    assert_eq!(handler.calls(), 2, "{kind:?}");
}

async fn a_waiting_duplicate_takes_over_a_crashed_attempt(kind: Kind) {
    let h = harness(kind).await;
    let config = IdempotencyConfig {
        in_flight: InFlight::Wait {
            poll: Duration::from_millis(20),
        },
        ..IdempotencyConfig::default()
    };
    let idem = handle(&h, config);
    let handler = Handler::default();
    crash_midway(&idem, &h, &handler).await;
    let waiter = {
        let (idem, handler, c) = (idem.clone(), handler.clone(), charge(10));
        let deadline = deadline(&h) + INVOCATION.as_millis() as u64;
        tokio::spawn(async move {
            idem.run(&(&c.order_id, &c.customer), &c, deadline, || handler.ok(&c))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handler.calls(),
        1,
        "{kind:?}: waits while the record is live"
    );
    h.clock.advance(INVOCATION + Duration::from_secs(1));
    assert_eq!(waiter.await.unwrap().unwrap().call, 1, "{kind:?}");
    assert_eq!(handler.calls(), 2, "{kind:?}");
}

async fn a_changed_payload_is_refused(kind: Kind) {
    let h = harness(kind).await;
    let idem = handle(&h, IdempotencyConfig::default());
    let handler = Handler::default();
    let first = run(&idem, &h, &charge(10), &handler).await.unwrap();
    let changed = run(&idem, &h, &charge(99), &handler).await;
    assert!(
        matches!(changed, Err(IdempotencyError::PayloadMismatch)),
        "{kind:?}: {changed:?}"
    );
    assert_eq!(handler.calls(), 1, "{kind:?}");
    // Without validation the key alone decides.
    let unchecked = handle(
        &h,
        IdempotencyConfig {
            payload_validation: false,
            ..IdempotencyConfig::default()
        },
    );
    assert_eq!(
        run(&unchecked, &h, &charge(99), &handler).await.unwrap(),
        first
    );

    // A changed payload is refused while the first request is still running, too.
    let other = Charge {
        order_id: "o-2".into(),
        ..charge(10)
    };
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let running = {
        let (idem, deadline) = (idem.clone(), deadline(&h));
        let (c, started, release) = (other.clone(), started.clone(), release.clone());
        tokio::spawn(async move {
            let order_id = c.order_id.clone();
            idem.run(&(&c.order_id, &c.customer), &c, deadline, || async move {
                started.notify_one();
                release.notified().await;
                Ok::<_, &'static str>(Receipt { order_id, call: 0 })
            })
            .await
        })
    };
    started.notified().await;
    let changed = run(&idem, &h, &Charge { amount: 5, ..other }, &handler).await;
    assert!(
        matches!(changed, Err(IdempotencyError::PayloadMismatch)),
        "{kind:?}: {changed:?}"
    );
    release.notify_one();
    running.await.unwrap().unwrap();
}

async fn a_failure_is_not_stored(kind: Kind) {
    let h = harness(kind).await;
    let idem = handle(&h, IdempotencyConfig::default());
    let handler = Handler::default();
    let c = charge(10);
    let failed = idem
        .run(&(&c.order_id, &c.customer), &c, deadline(&h), || {
            handler.failing()
        })
        .await;
    assert!(
        matches!(failed, Err(IdempotencyError::Handler("card declined"))),
        "{kind:?}: {failed:?}"
    );
    // The retry runs at once (no in-progress record left), and its success is stored.
    let retry = run(&idem, &h, &c, &handler).await.unwrap();
    assert_eq!(retry.call, 1, "{kind:?}");
    assert_eq!(run(&idem, &h, &c, &handler).await.unwrap(), retry);
    assert_eq!(handler.calls(), 2, "{kind:?}");
}

async fn the_result_expires_after_the_window(kind: Kind) {
    let h = harness(kind).await;
    let window = Duration::from_secs(600);
    let idem = handle(
        &h,
        IdempotencyConfig {
            expires_after: window,
            ..IdempotencyConfig::default()
        },
    );
    let handler = Handler::default();
    run(&idem, &h, &charge(10), &handler).await.unwrap();
    h.clock.advance(window - Duration::from_secs(5));
    assert_eq!(run(&idem, &h, &charge(10), &handler).await.unwrap().call, 0);
    // DynamoDB keeps expiry in whole seconds: a second more is past it everywhere.
    h.clock.advance(Duration::from_secs(6));
    assert_eq!(run(&idem, &h, &charge(10), &handler).await.unwrap().call, 1);
    // Once expired, a new payload under the key is a new request.
    h.clock.advance(window + Duration::from_secs(1));
    assert_eq!(run(&idem, &h, &charge(99), &handler).await.unwrap().call, 2);
    assert_eq!(handler.calls(), 3, "{kind:?}");
}

async fn a_missing_key_runs_without_idempotency_or_is_refused(kind: Kind) {
    let h = harness(kind).await;
    let handler = Handler::default();
    let c = charge(10);
    let no_key: (Option<&str>, Option<&str>) = (None, None);
    let lenient = handle(&h, IdempotencyConfig::default());
    for _ in 0..2 {
        lenient
            .run(&no_key, &c, deadline(&h), || handler.ok(&c))
            .await
            .unwrap();
    }
    assert_eq!(handler.calls(), 2, "{kind:?}: no key, no idempotency");
    let strict = handle(
        &h,
        IdempotencyConfig {
            require_key: true,
            ..IdempotencyConfig::default()
        },
    );
    let refused = strict
        .run(&no_key, &c, deadline(&h), || handler.ok(&c))
        .await;
    assert!(
        matches!(refused, Err(IdempotencyError::MissingKey)),
        "{refused:?}"
    );
    assert_eq!(handler.calls(), 2, "{kind:?}");
}

/// A cache clear (every entry under the prefix) leaves the records alone: a response
/// outlives it, and a retry is still answered from it.
async fn a_cache_clear_keeps_the_records(kind: Kind) {
    let h = harness(kind).await;
    let cache = h.builder().build();
    let idem = cache.idempotency("charge", IdempotencyConfig::default());
    let handler = Handler::default();
    let first = run(&idem, &h, &charge(10), &handler).await.unwrap();
    let value: u32 = cache
        .wrap("plain", Duration::from_secs(60), || async {
            Ok::<_, cachegen_runtime::BoxError>(7)
        })
        .await
        .unwrap();
    assert_eq!(value, 7);
    assert_eq!(
        cache.clear().await.unwrap(),
        1,
        "{kind:?}: the data entry only"
    );
    assert_eq!(run(&idem, &h, &charge(10), &handler).await.unwrap(), first);
    assert_eq!(handler.calls(), 1, "{kind:?}");
}

macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $scenario() { super::$scenario(super::Kind::Memory).await; })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $scenario() { super::$scenario(super::Kind::Dynamo).await; })*
        }
        mod redis {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $scenario() { super::$scenario(super::Kind::Redis).await; })*
        }
        mod redis_cluster {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $scenario() {
                if super::common::cluster_urls().is_some() {
                    super::$scenario(super::Kind::RedisCluster).await;
                }
            })*
        }
    };
}

on_every_store!(
    a_duplicate_gets_the_stored_result,
    concurrent_duplicates_run_once,
    a_crashed_attempt_is_taken_over_after_its_deadline,
    a_waiting_duplicate_takes_over_a_crashed_attempt,
    a_changed_payload_is_refused,
    a_failure_is_not_stored,
    the_result_expires_after_the_window,
    a_missing_key_runs_without_idempotency_or_is_refused,
    a_cache_clear_keeps_the_records,
);

/// A disabled cache (`CACHE_ENABLED=false`) runs every handler call.
#[tokio::test]
async fn a_disabled_cache_runs_every_call() {
    let h = harness(Kind::Memory).await;
    let idem = h
        .builder()
        .enabled(false)
        .build()
        .idempotency("charge", IdempotencyConfig::default());
    let handler = Handler::default();
    run(&idem, &h, &charge(10), &handler).await.unwrap();
    run(&idem, &h, &charge(10), &handler).await.unwrap();
    assert_eq!(handler.calls(), 2);
}
