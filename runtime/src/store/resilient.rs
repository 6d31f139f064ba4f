//! A store decorator that keeps a failing store from hurting callers: retries with
//! exponential backoff and jitter, a circuit breaker that stops calling a failing store
//! for a while and then lets one probe through, a token-bucket limit on requests per
//! second, and dry-run mode (reads work; writes are logged and skipped).
//!
//! The tiered cache's per-call timeout still bounds everything here, waiting for a
//! token or a retry included, so a caller's deadline is never exceeded.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};

#[cfg(feature = "dynamodb")]
use super::TableRef;
use super::{
    Attributes, CacheStore, Capabilities, LeaseOutcome, Precondition, Slot, Stamp, StoreEntry,
    Version,
};
use crate::clock::{Clock, SystemClock};
use crate::error::StoreError;
use crate::query::{IndexQuery, PageToken};

/// What [`ResilientStore`] does around each call.
#[derive(Clone, Debug)]
pub struct Resilience {
    /// Retries after a backend error (not after refusals such as an oversized item).
    pub retries: usize,
    /// First retry delay; later ones grow exponentially, with jitter.
    pub min_delay: Duration,
    /// Longest retry delay.
    pub max_delay: Duration,
    /// Consecutive failed calls that open the circuit.
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before letting one probe through.
    pub open_for: Duration,
    /// Request rate limit, if any: tokens per second.
    pub requests_per_second: Option<f64>,
    /// Requests allowed at once above the rate (bucket size).
    pub burst: u32,
    /// Skip (and log) writes.
    pub dry_run: bool,
}

impl Default for Resilience {
    fn default() -> Self {
        Self {
            retries: 2,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            requests_per_second: None,
            burst: 10,
            dry_run: false,
        }
    }
}

/// Circuit breaker states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Breaker {
    /// Calls go through; `failures` consecutive ones have failed.
    Closed { failures: u32 },
    /// Calls are refused until `until_ms`.
    Open { until_ms: u64 },
    /// One probe went through at `since_ms`; others are refused until it reports, or
    /// until `open_for` passes (a probe cancelled by a timeout never reports).
    HalfOpen { since_ms: u64 },
}

impl Breaker {
    /// Whether a call may go through now; `Err` carries how long until one may.
    fn admit(&mut self, now_ms: u64, open_for_ms: u64) -> Result<(), u64> {
        match *self {
            Self::Closed { .. } => Ok(()),
            Self::Open { until_ms } if now_ms < until_ms => Err(until_ms - now_ms),
            Self::HalfOpen { since_ms } if now_ms < since_ms + open_for_ms => {
                Err(since_ms + open_for_ms - now_ms)
            }
            Self::Open { .. } | Self::HalfOpen { .. } => {
                *self = Self::HalfOpen { since_ms: now_ms };
                Ok(())
            }
        }
    }

    fn record(&mut self, ok: bool, now_ms: u64, threshold: u32, open_for_ms: u64) {
        *self = match (*self, ok) {
            (_, true) => Self::Closed { failures: 0 },
            (Self::Closed { failures }, false) if failures + 1 < threshold => Self::Closed {
                failures: failures + 1,
            },
            (_, false) => Self::Open {
                until_ms: now_ms + open_for_ms,
            },
        };
    }
}

/// A token bucket measured in milliseconds.
#[derive(Debug)]
struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last_ms: u64,
}

impl TokenBucket {
    fn new(per_second: f64, burst: u32, now_ms: u64) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            tokens: capacity,
            per_ms: per_second / 1000.0,
            last_ms: now_ms,
        }
    }

    /// Takes a token, returning how long to wait before using it. Tokens may go
    /// negative, so concurrent callers queue in order instead of racing.
    fn take(&mut self, now_ms: u64) -> Duration {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * self.per_ms).min(self.capacity) - 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_micros((-self.tokens / self.per_ms * 1000.0).ceil() as u64)
        }
    }

    /// Returns a token taken by a caller that gave up waiting for it.
    fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.capacity);
    }
}

/// Gives a taken token back to its bucket when dropped armed.
struct Refund<'a>(Option<&'a Mutex<TokenBucket>>);

impl Refund<'_> {
    /// The token was used: keep it taken.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Refund<'_> {
    fn drop(&mut self) {
        if let Some(bucket) = self.0 {
            bucket.lock().expect("bucket lock").refund();
        }
    }
}

/// Wraps a store with retries, a circuit breaker, a rate limit and dry-run.
#[derive(Debug)]
pub struct ResilientStore {
    inner: Arc<dyn CacheStore>,
    options: Resilience,
    breaker: Mutex<Breaker>,
    bucket: Option<Mutex<TokenBucket>>,
    clock: Arc<dyn Clock>,
}

impl ResilientStore {
    /// `inner`, made resilient.
    pub fn new(inner: Arc<dyn CacheStore>, options: Resilience) -> Self {
        Self::with_clock(inner, options, Arc::new(SystemClock))
    }

    /// Like [`new`](Self::new), timing the breaker and the bucket by `clock`.
    pub fn with_clock(
        inner: Arc<dyn CacheStore>,
        options: Resilience,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let bucket = options
            .requests_per_second
            .map(|rate| Mutex::new(TokenBucket::new(rate, options.burst, clock.now_ms())));
        Self {
            inner,
            options,
            breaker: Mutex::new(Breaker::Closed { failures: 0 }),
            bucket,
            clock,
        }
    }

    /// Whether the circuit is open (calls refused without reaching the store).
    pub fn is_open(&self) -> bool {
        !matches!(
            *self.breaker.lock().expect("breaker lock"),
            Breaker::Closed { .. }
        )
    }

    fn skipped(&self, operation: &'static str) {
        tracing::info!(
            store = self.inner.name(),
            operation,
            dry_run = true,
            "store write skipped"
        );
    }

    /// Runs one store call: breaker, rate limit, retries; `skipped` answers dry-run writes.
    async fn call<T, F, Fut>(
        &self,
        operation: &'static str,
        write: Option<T>,
        attempt: F,
    ) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        if let (true, Some(skipped)) = (self.options.dry_run, write) {
            self.skipped(operation);
            return Ok(skipped);
        }
        let open_for_ms = self.options.open_for.as_millis() as u64;
        let admitted = self
            .breaker
            .lock()
            .expect("breaker lock")
            .admit(self.clock.now_ms(), open_for_ms);
        if let Err(wait_ms) = admitted {
            return Err(StoreError::CircuitOpen {
                store: self.inner.name(),
                retry_in: Duration::from_millis(wait_ms),
            });
        }
        if let Some(bucket) = &self.bucket {
            let wait = bucket
                .lock()
                .expect("bucket lock")
                .take(self.clock.now_ms());
            if !wait.is_zero() {
                // A caller whose timeout ends the wait gives its token back: tokens taken
                // by callers that never called would starve the ones that come after.
                let refund = Refund(Some(bucket));
                tokio::time::sleep(wait).await;
                refund.disarm();
            }
        }
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.options.min_delay)
            .with_max_delay(self.options.max_delay)
            .with_max_times(self.options.retries)
            .with_jitter();
        let result = attempt
            .retry(policy)
            .when(StoreError::is_backend)
            .notify(|err, delay| tracing::debug!(store = self.inner.name(), operation, error = %err, ?delay, "retrying store call"))
            .await;
        let ok = !result.as_ref().is_err_and(StoreError::is_backend);
        self.breaker.lock().expect("breaker lock").record(
            ok,
            self.clock.now_ms(),
            self.options.failure_threshold,
            open_for_ms,
        );
        result
    }
}

#[async_trait]
impl CacheStore for ResilientStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    #[cfg(feature = "dynamodb")]
    fn table(&self) -> Option<TableRef<'_>> {
        self.inner.table()
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        self.call("read", None, || self.inner.read(key)).await
    }

    async fn read_with_stamps(
        &self,
        key: &str,
        stamps: &[String],
    ) -> Result<(Slot, Vec<Stamp>), StoreError> {
        self.call("read", None, || self.inner.read_with_stamps(key, stamps))
            .await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        self.call("read_many", None, || self.inner.read_many(keys))
            .await
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        self.call("write", Some(Some(Version::fresh())), || {
            self.inner.write(key, entry, precondition)
        })
        .await
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        self.call("delete", Some(true), || {
            self.inner.delete(key, precondition)
        })
        .await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        // A dry run writes no lease: it acts as the holder (calling its origin at once)
        // without making any other process wait.
        let skipped = LeaseOutcome::Acquired(Version::fresh());
        self.call("acquire_lease", Some(skipped), || {
            self.inner.acquire_lease(key, seen, holder, ttl)
        })
        .await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.call("release_lease", Some(()), || {
            self.inner.release_lease(key, holder)
        })
        .await
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        self.call("read_stamps", None, || self.inner.read_stamps(keys))
            .await
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        if self.options.dry_run {
            // Nothing is bumped: the answer is the counter as it stands.
            self.skipped("bump_stamp");
            let stamps = self.call("read_stamps", None, || self.inner.read_stamps(shards));
            return Ok(stamps
                .await?
                .iter()
                .filter_map(|stamp| stamp.get(counter).copied())
                .max()
                .unwrap_or(0));
        }
        self.call("bump_stamp", None, || {
            self.inner.bump_stamp(shards, counter)
        })
        .await
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        self.call("clear", Some(0), || self.inner.clear(prefix))
            .await
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        self.call("delete_by_pattern", Some(0), || {
            self.inner.delete_by_pattern(pattern)
        })
        .await
    }

    async fn query_index(
        &self,
        query: &IndexQuery,
        key_prefix: &str,
    ) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
        self.call("query_index", None, || {
            self.inner.query_index(query, key_prefix)
        })
        .await
    }

    async fn read_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, Attributes>, StoreError> {
        self.call("read_attributes", None, || {
            self.inner.read_attributes(keys, names)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_then_lets_one_probe_through() {
        let mut breaker = Breaker::Closed { failures: 0 };
        for _ in 0..2 {
            assert_eq!(breaker.admit(0, 1_000), Ok(()));
            breaker.record(false, 0, 3, 1_000);
        }
        assert_eq!(breaker, Breaker::Closed { failures: 2 });
        breaker.record(false, 10, 3, 1_000);
        assert_eq!(breaker.admit(500, 1_000), Err(510), "open: refused");
        assert_eq!(breaker.admit(1_010, 1_000), Ok(()), "the probe");
        assert_eq!(breaker.admit(1_020, 1_000), Err(990), "only one probe");
        breaker.record(true, 1_030, 3, 1_000);
        assert_eq!(breaker.admit(1_040, 1_000), Ok(()), "closed again");
    }

    #[test]
    fn a_failed_or_lost_probe_reopens() {
        let mut breaker = Breaker::Open { until_ms: 100 };
        assert_eq!(breaker.admit(100, 50), Ok(()));
        breaker.record(false, 120, 3, 50);
        assert_eq!(breaker, Breaker::Open { until_ms: 170 });
        assert_eq!(breaker.admit(170, 50), Ok(()));
        // The probe was cancelled (a timeout dropped it): after `open_for` another may go.
        assert!(breaker.admit(200, 50).is_err());
        assert_eq!(breaker.admit(220, 50), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn callers_cut_short_give_their_tokens_back() {
        use crate::bounded::MemoryLimit;
        use crate::clock::ManualClock;
        use crate::store::MemoryStore;
        let clock = ManualClock::at_ms(0);
        let store = ResilientStore::with_clock(
            Arc::new(MemoryStore::new(MemoryLimit::entries(10))),
            Resilience {
                requests_per_second: Some(10.0),
                burst: 1,
                ..Resilience::default()
            },
            Arc::new(clock.clone()),
        );
        store.read("k").await.unwrap(); // the burst's token
        // Twenty callers whose timeouts end their wait for a token: at 10/s they would
        // have taken two seconds of tokens if they kept them.
        for _ in 0..20 {
            let cut = tokio::time::timeout(Duration::from_millis(50), store.read("k")).await;
            assert!(cut.is_err(), "waited for a token");
        }
        // A tenth of a second later one token is back, and the next caller takes it at
        // once, not after the cancelled callers' two seconds.
        clock.advance(Duration::from_millis(100));
        let next = tokio::time::timeout(Duration::from_millis(1), store.read("k")).await;
        assert!(next.is_ok(), "the refunded tokens are there");
    }

    #[test]
    fn the_bucket_allows_a_burst_then_spaces_requests_by_the_rate() {
        let mut bucket = TokenBucket::new(10.0, 2, 0);
        assert_eq!(bucket.take(0), Duration::ZERO);
        assert_eq!(bucket.take(0), Duration::ZERO);
        assert_eq!(
            bucket.take(0),
            Duration::from_millis(100),
            "the third waits one token"
        );
        assert_eq!(
            bucket.take(0),
            Duration::from_millis(200),
            "queued behind it"
        );
        assert_eq!(
            bucket.take(1_000),
            Duration::ZERO,
            "a second later tokens are back"
        );
    }
}
