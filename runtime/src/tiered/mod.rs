//! `TieredCache`: L1 (in-process) → shared store → origin.
//!
//! Its parts, one concern each:
//! - `builder`: [`TieredCacheBuilder`];
//! - `l1`: the in-process layer and this process's own per-key invalidations;
//! - `stamps`: invalidation scopes, this process's view of their stamps, and validity;
//! - `lookup`: reads (L1, then the store);
//! - `fill`: writes (explicit sets, and the fills of cache-aside);
//! - `wrap`: cache-aside, with single-flight in the process, and the origin policy
//!   (`policy`: fail-safe, timeouts, eager refresh, TTLs);
//! - `lease`: single-flight across processes, on the item itself;
//! - `invalidate`: every invalidation, in one place.
//!
//! # Coherence
//!
//! Once `delete`, `invalidate_*` or `clear_memory` has returned `Ok` at time t, no lookup
//! that starts after t returns a value whose origin read began before the invalidation
//! was called: in this process at once; in other processes, once their view of the
//! invalidated scope is younger than the handle's version-check bound (the data type's
//! `version_check`, else its memory TTL, else [`DEFAULT_VERSION_CHECK`]). A per-key
//! `delete` reaches other processes' store reads at once (a tombstone), and their L1
//! copies within that bound when the handle has a version check, else within their
//! memory TTL. The book has the whole contract and each operation's requests
//! (`docs/src/explanation/coherence.md` and `costs.md`).

mod builder;
mod fill;
mod invalidate;
mod l1;
mod lease;
mod lookup;
mod policy;
mod stamps;
mod wrap;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use builder::TieredCacheBuilder;
pub use lookup::Item;
pub use policy::{Described, FailSafe, OriginPolicy, Served};

use crate::clock::Clock;
use crate::flight::Flights;
use crate::idempotency::{Idempotency, IdempotencyConfig};
use crate::metrics::{Counters, Metrics};
use crate::store::{AttrValue, Attributes, CacheStore, INTERNAL_KEY_MARKER};
use crate::{CacheError, StoreError};
use cachegen_names::sort_key;
use l1::{Local, Memory, Ticket};
use policy::Throttles;
use stamps::{StampView, Stamps};

/// Default shared-store timeout per call.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(200);
/// Default timeout of an invalidation's store calls: longer than a lookup's, since an
/// invalidation that gives up must report failure rather than fall back.
pub const DEFAULT_INVALIDATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Default payload size above which values are zstd-compressed.
pub const DEFAULT_COMPRESS_OVER: usize = 64 * 1024;
/// How often a handle with neither a version check nor a memory TTL re-reads stamps.
pub const DEFAULT_VERSION_CHECK: Duration = Duration::from_secs(60);

/// Bound for values the cache holds.
pub trait CacheValue: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> CacheValue for T {}

/// Cross-container single-flight: the process that misses first takes a lease on the
/// item and calls the origin; the others wait (bounded) for the value it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistributedFlight {
    /// How long a lease lasts; a crashed holder's lease lapses after it. A handle with a
    /// longer hard timeout holds it that long; never past the call's deadline.
    pub lease_ttl: Duration,
    /// How long a waiting process waits before calling the origin itself.
    pub wait: Duration,
    /// The first interval between a waiting process's reads; later ones double, up to
    /// eight times this, with jitter, and never past the lease's expiry.
    pub poll: Duration,
}

impl Default for DistributedFlight {
    fn default() -> Self {
        Self {
            lease_ttl: Duration::from_secs(10),
            wait: Duration::from_secs(5),
            poll: Duration::from_millis(50),
        }
    }
}

/// Per-write options: TTL, invalidation scopes and extra (DynamoDB) attributes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Time to live (the fresh period).
    pub ttl: Duration,
    /// Tags for [`TieredCache::invalidate_tag`].
    pub tags: Vec<String>,
    /// Key prefixes for [`TieredCache::invalidate_prefix`] (generated code passes the
    /// prefixes its `invalidate_by_*` methods build from this key).
    pub prefixes: Vec<String>,
    /// Extra attributes written on the DynamoDB item.
    pub attributes: Attributes,
}

impl WriteOptions {
    /// Options with only a TTL.
    pub fn ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            ..Self::default()
        }
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a key prefix the entry can be invalidated by.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// Adds an extra attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: AttrValue) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }
}

/// What every handle of one cache shares.
#[derive(Debug)]
struct Inner {
    memory: Option<Memory>,
    local: Local,
    store: Option<Arc<dyn CacheStore>>,
    flights: Arc<Flights>,
    /// Keys whose failing origin fail-safe leaves alone for a while.
    throttles: Throttles,
    stamps: Stamps,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    enabled: bool,
    strict: bool,
    key_prefix: String,
    store_timeout: Duration,
    invalidation_timeout: Duration,
    compress_over: usize,
    schema_version: u32,
    distributed: Option<DistributedFlight>,
    /// Identifies this process as a lease holder.
    holder: String,
    /// Lookup spans record their key.
    trace_keys: bool,
}

/// A two-level cache: an in-process L1 in front of a shared [`CacheStore`], in front of
/// the caller's origin. Cheap to clone; clones share everything.
///
/// Reads never fail because of the store: errors and timeouts are logged, counted as
/// `StoreErrors`, and the lookup falls through to the origin, unless strict mode is on.
/// Values that do not decode (corrupt, other schema or format version), that are past
/// `expiresAt`, or that an invalidation covers are misses. Explicit writes and every
/// invalidation report a store failure as an error: they are never reported done when
/// they were not.
///
/// Single-flight is per process (concurrent misses on one key share one origin call,
/// and if that call fails they all get its error, nothing cached), and across processes
/// for handles [with distributed flight](Self::with_distributed_flight).
#[derive(Debug, Clone)]
pub struct TieredCache {
    inner: Arc<Inner>,
    counters: Arc<Counters>,
    data_type: Arc<str>,
    /// The data type's stamp (its `all`, `mem` and per-key-bucket counters).
    type_stamp: Arc<StampView>,
    memory_ttl: Option<Duration>,
    distributed_flight: bool,
    version_check: Option<Duration>,
    deadline: Option<Instant>,
    strict: Option<bool>,
    large_values: bool,
    policy: OriginPolicy,
}

fn is_transient(e: &StoreError) -> bool {
    e.is_backend() || matches!(e, StoreError::Timeout(_) | StoreError::CircuitOpen { .. })
}

impl TieredCache {
    /// A builder with defaults: L1 of 10,000 entries and 64 MiB, no store, 200 ms store
    /// timeout.
    pub fn builder() -> TieredCacheBuilder {
        TieredCacheBuilder::default()
    }

    /// A handle sharing this cache, for another data type (its metrics, its stamp).
    pub fn for_type(&self, data_type: &str) -> Self {
        Self {
            counters: self.inner.metrics.counters(data_type),
            data_type: data_type.into(),
            type_stamp: self
                .inner
                .stamps
                .data_type(&self.inner.key_prefix, data_type),
            ..self.clone()
        }
    }

    /// A handle that raises store errors on reads (`true`) or degrades them (`false`),
    /// whatever the cache was built with.
    pub fn with_strict(&self, strict: bool) -> Self {
        Self {
            strict: Some(strict),
            ..self.clone()
        }
    }

    /// A handle for one invocation that must finish by `deadline` (a Lambda's remaining
    /// time): leases it takes lapse by then, and it waits for others no longer than that.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// A handle whose view of invalidation stamps is at most `bound` old: an
    /// invalidation in another process then reaches this one within `bound`, and a
    /// per-key delete also reaches other processes' L1 (at one more store write per
    /// delete). `None`: the bound is the memory TTL (or [`DEFAULT_VERSION_CHECK`]).
    pub fn with_version_check(&self, bound: Option<Duration>) -> Self {
        Self {
            version_check: bound,
            ..self.clone()
        }
    }

    /// A handle whose misses use (or not) the cross-process single-flight configured
    /// with [`TieredCacheBuilder::distributed_flight`].
    pub fn with_distributed_flight(&self, enabled: bool) -> Self {
        Self {
            distributed_flight: enabled,
            ..self.clone()
        }
    }

    /// A handle whose values may exceed the store's item limit (`true`): on DynamoDB with
    /// [`S3Overflow`](crate::store::S3Overflow), their bodies then go to S3 instead of
    /// failing with [`StoreError::TooLarge`]. Other stores have no such limit.
    pub fn with_large_values(&self, enabled: bool) -> Self {
        Self {
            large_values: enabled,
            ..self.clone()
        }
    }

    /// A handle with `policy` for its origin: fail-safe, timeouts, eager refresh, TTL
    /// jitter, negative caching and adaptive TTL bounds.
    pub fn with_policy(&self, policy: OriginPolicy) -> Self {
        Self {
            policy,
            ..self.clone()
        }
    }

    /// A handle whose L1 keeps values at most `ttl`, however long the store keeps them
    /// (a data type's in-memory TTL).
    pub fn with_memory_ttl(&self, ttl: Duration) -> Self {
        Self {
            memory_ttl: Some(ttl),
            ..self.clone()
        }
    }

    /// The key as stored: with the `CACHE_KEY_PREFIX` scope applied.
    pub fn store_key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.key_prefix)
    }

    /// Idempotency for `function`'s handler on this cache's store, clock and key prefix.
    /// A disabled cache (or one without a store) gives a handle whose handlers just run.
    pub fn idempotency(&self, function: &str, config: IdempotencyConfig) -> Idempotency {
        let store = self.inner.store.clone().filter(|_| self.inner.enabled);
        if store.is_none() {
            tracing::warn!(
                function,
                "no shared store: handlers run without idempotency"
            );
        }
        Idempotency::on(
            store,
            self.inner.clock.clone(),
            &self.inner.key_prefix,
            function,
            config,
        )
    }

    /// The metrics registry; call [`Metrics::flush`] at the end of an invocation.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The shared store, if any.
    pub fn store(&self) -> Option<&Arc<dyn CacheStore>> {
        self.inner.store.as_ref()
    }

    /// Taken when a read begins.
    fn ticket(&self) -> Ticket {
        Ticket {
            epoch: self.inner.local.epoch(),
            at_ms: self.inner.clock.now_ms(),
        }
    }

    /// How old this handle's view of a stamp may be.
    fn bound(&self) -> Duration {
        self.version_check
            .or(self.memory_ttl)
            .unwrap_or(DEFAULT_VERSION_CHECK)
    }

    /// Refuses keys in the internal key space, and empty keys or key parts (DynamoDB
    /// refuses an empty key attribute).
    fn check_key(key: &str) -> Result<(), CacheError> {
        // Every get pays this check, so the separator is found by a byte search: on short
        // keys `split_once`'s char search cost more than the rest of the check (the L1
        // under contention, BENCHMARKS.md). The separator is ASCII, so its byte never
        // occurs inside another character.
        const SEPARATOR: u8 = {
            assert!(sort_key::SEPARATOR.is_ascii());
            sort_key::SEPARATOR as u8
        };
        let empty_part = key
            .bytes()
            .position(|b| b == SEPARATOR)
            .is_some_and(|at| at == 0 || at + 1 == key.len());
        let reason = if key.is_empty() {
            "a key cannot be empty"
        } else if key.starts_with(INTERNAL_KEY_MARKER) {
            "keys starting with `!` are reserved for the cache's own items"
        } else if empty_part {
            "neither the partition nor the sort part of a key can be empty"
        } else {
            return Ok(());
        };
        Err(CacheError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    }

    fn strict(&self) -> bool {
        self.strict.unwrap_or(self.inner.strict)
    }

    /// The span of one operation: `layer` says which answered (`memory`, `store`, `stale`,
    /// `origin`, or `coalesced` for a wait on another caller's origin call); the key only with
    /// [`trace_keys`](TieredCacheBuilder::trace_keys).
    fn span(&self, op: &'static str, key: &str) -> tracing::Span {
        let key = self.inner.trace_keys.then_some(key);
        tracing::debug_span!("cache", op, key, data_type = %self.data_type, layer = tracing::field::Empty)
    }

    /// Runs a lookup's store call with the store timeout, recording latency and errors.
    async fn store_call<R>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        self.timed_call(op, self.inner.store_timeout, call).await
    }

    /// Runs a store call with `timeout`, recording latency and errors.
    async fn timed_call<R>(
        &self,
        op: &'static str,
        timeout: Duration,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let start = Instant::now();
        let r = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(StoreError::Timeout(timeout)));
        self.counters.store_latency(start.elapsed());
        if let Err(e) = &r {
            Counters::inc(&self.counters.store_errors);
            tracing::warn!(op, error = %e, "cache store call failed");
        }
        r
    }

    /// Turns a store outage on a read into `fallback` unless strict; other errors pass.
    fn degrade<R>(&self, r: Result<R, StoreError>, fallback: R) -> Result<R, CacheError> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if is_transient(&e) && !self.strict() => Ok(fallback),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_an_empty_part_or_the_internal_marker_are_refused() {
        let sep = sort_key::SEPARATOR;
        let refused = [
            String::new(),
            "!t#user".to_owned(),
            format!("{sep}sk"),
            format!("pk{sep}"),
            sep.to_string(),
        ];
        for key in &refused {
            assert!(
                matches!(
                    TieredCache::check_key(key),
                    Err(CacheError::InvalidKey { .. })
                ),
                "{key:?}"
            );
        }
        let accepted = [
            "user#1".to_owned(),
            "é".to_owned(),
            format!("pk{sep}sk"),
            format!("pk{sep}{sep}sk"),
            format!("pk{sep}{sep}"),
            format!("pké{sep}ß"),
        ];
        for key in &accepted {
            assert!(TieredCache::check_key(key).is_ok(), "{key:?}");
        }
    }
}
