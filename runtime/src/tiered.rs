//! `TieredCache`: L1 (in-process) → shared store → origin.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::clock::{self, Clock};
use crate::config::MemoryLimit;
use crate::envelope::{self, EnvelopeMeta};
use crate::flight::{self, Flights, Leader, Role};
use crate::metrics::{self, Counters, Metrics, MetricsSink, StdoutSink};
use crate::query::{IndexQuery, Page, query_keys};
use crate::store::{AttrValue, Attributes, CacheStore, StoreEntry, Timed, bounded_cache};
use crate::{BoxError, CacheError, StoreError};

/// Default shared-store timeout per call.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_millis(200);
/// Default payload size above which values are zstd-compressed.
pub const DEFAULT_COMPRESS_OVER: usize = 64 * 1024;

/// Bound for values the cache holds.
pub trait CacheValue: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static> CacheValue for T {}

/// Cross-container single-flight: the process that misses first takes a lease in the
/// shared store and calls the origin; the others wait (bounded) for the value it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistributedFlight {
    /// How long a lease lasts; a crashed holder's lease lapses after it. Keep it under
    /// the Lambda's remaining time.
    pub lease_ttl: Duration,
    /// How long a waiting process waits before calling the origin itself.
    pub wait: Duration,
    /// How often a waiting process looks for the value.
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

/// What the cross-container lease decided for one miss.
enum Lease<T> {
    /// No lease involved: call the origin.
    None,
    /// This process holds the lease (key given): call the origin, then release it.
    Held(String),
    /// Another process wrote the value while this one waited.
    Value(T),
    /// Another process holds the lease (and this one chose not to wait).
    Elsewhere,
}

/// Per-write options: TTL, tags and extra (DynamoDB) attributes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Time to live (the fresh period).
    pub ttl: Duration,
    /// Tags for [`TieredCache::invalidate_tag`].
    pub tags: Vec<String>,
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

    /// Adds an extra attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: AttrValue) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }
}

#[derive(Clone)]
struct L1Entry {
    value: Arc<dyn Any + Send + Sync>,
    created_at_ms: u64,
    fresh_until_ms: u64,
    expires_at_ms: u64,
    ttl: Duration,
    size: usize,
}

impl Timed for L1Entry {
    fn ttl(&self) -> Duration {
        self.ttl
    }
    fn size(&self) -> usize {
        self.size
    }
}

impl std::fmt::Debug for L1Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Entry")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

enum Found<T> {
    Fresh(T),
    Stale(T),
    Miss,
}

#[derive(Debug)]
struct Inner {
    l1: Option<Cache<String, L1Entry>>,
    store: Option<Arc<dyn CacheStore>>,
    flights: Arc<Flights>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    enabled: bool,
    strict: bool,
    key_prefix: String,
    store_timeout: Duration,
    compress_over: usize,
    schema_version: u32,
    distributed: Option<DistributedFlight>,
    /// Identifies this process as a lease holder.
    holder: String,
    /// Invalidation stamps read from the store: stamp key to (stamps, read at), epoch ms.
    stamps: std::sync::Mutex<HashMap<String, (Stamps, u64)>>,
}

/// A two-level cache: an in-process L1 in front of a shared [`CacheStore`],
/// in front of the caller's origin. Cheap to clone; clones share everything.
///
/// Reads never fail because of the store: errors and timeouts are logged,
/// counted as `StoreErrors`, and the lookup falls through to the origin,
/// unless strict mode is on. Values that do not decode (corrupt, other
/// schema or format version) or that are past `expiresAt` are misses.
/// Explicit writes still fail on a value over the store's item limit (unless
/// the handle allows [large values](Self::with_large_values) and the store
/// can keep them), and on operations the store does not support.
///
/// Single-flight is per process: concurrent misses on one key share one
/// origin call, and if that call fails they all get its error (nothing is
/// cached). L1 is per process too: a delete or tag invalidation clears this
/// process's L1, while other processes keep their L1 copy until it expires.
#[derive(Debug, Clone)]
pub struct TieredCache {
    inner: Arc<Inner>,
    counters: Arc<Counters>,
    data_type: Arc<str>,
    memory_ttl: Option<Duration>,
    distributed_flight: bool,
    version_check: Option<Duration>,
    deadline: Option<Instant>,
    strict: Option<bool>,
    large_values: bool,
}

/// Builds a [`TieredCache`].
#[derive(Debug)]
pub struct TieredCacheBuilder {
    store: Option<Arc<dyn CacheStore>>,
    memory: MemoryLimit,
    key_prefix: String,
    enabled: bool,
    strict: bool,
    store_timeout: Duration,
    compress_over: usize,
    schema_version: u32,
    clock: Arc<dyn Clock>,
    namespace: String,
    service: String,
    data_type: String,
    sink: Arc<dyn MetricsSink>,
    distributed: Option<DistributedFlight>,
}

impl Default for TieredCacheBuilder {
    fn default() -> Self {
        Self {
            store: None,
            memory: MemoryLimit::default(),
            key_prefix: String::new(),
            enabled: true,
            strict: false,
            store_timeout: DEFAULT_STORE_TIMEOUT,
            compress_over: DEFAULT_COMPRESS_OVER,
            schema_version: 1,
            clock: clock::system(),
            namespace: metrics::DEFAULT_NAMESPACE.into(),
            service: "cachegen".into(),
            data_type: metrics::DEFAULT_DATA_TYPE.into(),
            sink: Arc::new(StdoutSink),
            distributed: None,
        }
    }
}

impl TieredCacheBuilder {
    /// The shared store. Without one the cache is L1-only.
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// L1 bound (default 10,000 entries); a zero bound disables L1.
    pub fn memory(mut self, limit: MemoryLimit) -> Self {
        self.memory = limit;
        self
    }
    /// Prefix prepended to every store key and tag key.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
    /// `false` bypasses the cache entirely (origin only).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
    /// Raise store errors instead of degrading.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
    /// Timeout per store call (default 200 ms).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }
    /// Compress JSON payloads larger than this many bytes (default 64 KiB).
    pub fn compress_over(mut self, bytes: usize) -> Self {
        self.compress_over = bytes;
        self
    }
    /// Schema version written into envelopes; others read as misses.
    pub fn schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }
    /// Clock for expiry decisions.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// EMF namespace (default `Cachegen`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
    /// `Service` dimension value.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }
    /// `DataType` dimension value of the built handle.
    pub fn data_type(mut self, data_type: impl Into<String>) -> Self {
        self.data_type = data_type.into();
        self
    }
    /// Where EMF lines go (default stdout).
    pub fn metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.sink = sink;
        self
    }

    /// Single-flight across processes through store leases (DynamoDB conditional puts,
    /// Redis `SET NX PX`), for handles that opt in with
    /// [`TieredCache::with_distributed_flight`].
    pub fn distributed_flight(mut self, flight: DistributedFlight) -> Self {
        self.distributed = Some(flight);
        self
    }

    /// Builds the cache.
    pub fn build(self) -> TieredCache {
        let metrics = Metrics::new(self.namespace, self.service, self.sink);
        let counters = metrics.counters(&self.data_type);
        let l1 = (!self.memory.is_zero()).then(|| bounded_cache(self.memory));
        TieredCache {
            inner: Arc::new(Inner {
                l1,
                store: self.store,
                flights: Arc::default(),
                metrics,
                clock: self.clock,
                enabled: self.enabled,
                strict: self.strict,
                key_prefix: self.key_prefix,
                store_timeout: self.store_timeout,
                compress_over: self.compress_over,
                schema_version: self.schema_version,
                distributed: self.distributed,
                holder: holder_id(),
                stamps: Default::default(),
            }),
            counters,
            data_type: self.data_type.into(),
            memory_ttl: None,
            distributed_flight: false,
            version_check: None,
            deadline: None,
            strict: None,
            large_values: false,
        }
    }
}

fn origin_error(e: impl Into<BoxError>) -> CacheError {
    CacheError::Origin(Arc::from(e.into()))
}

/// True for errors that degrade (outages), false for caller errors.
/// A data type's invalidation times, epoch ms (0: never).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stamps {
    /// Entries created until then are misses everywhere (L1 and store).
    everywhere: u64,
    /// L1 copies created until then are dropped.
    memory: u64,
}

impl Stamps {
    /// Whether an L1 copy created at `created_at_ms` is still valid.
    fn keeps_in_memory(&self, created_at_ms: u64) -> bool {
        created_at_ms > self.everywhere.max(self.memory)
    }

    /// Whether a store entry created at `created_at_ms` is still valid.
    fn keeps_in_store(&self, created_at_ms: u64) -> bool {
        created_at_ms > self.everywhere
    }
}

/// How long an invalidation stamp is kept: longer than any TTL cachegen accepts.
const STAMP_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);

/// A holder name unique to this process: pid and start time.
fn holder_id() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}-{started:x}", std::process::id())
}

fn is_transient(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Backend { .. } | StoreError::Timeout(_) | StoreError::CircuitOpen { .. }
    )
}

impl TieredCache {
    /// A builder with defaults: L1 of 10,000 entries, no store, 200 ms store timeout.
    pub fn builder() -> TieredCacheBuilder {
        TieredCacheBuilder::default()
    }

    /// A handle sharing this cache, counting metrics under another `DataType`.
    pub fn for_type(&self, data_type: &str) -> Self {
        Self {
            inner: self.inner.clone(),
            counters: self.inner.metrics.counters(data_type),
            data_type: data_type.into(),
            memory_ttl: self.memory_ttl,
            distributed_flight: self.distributed_flight,
            version_check: self.version_check,
            deadline: self.deadline,
            strict: self.strict,
            large_values: self.large_values,
        }
    }

    /// A handle that raises store errors (`true`) or degrades them (`false`), whatever
    /// the cache was built with: write-through needs to know when a write failed.
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

    /// A handle that checks its data type's invalidation stamp, re-reading it from the
    /// store at most every `bound`: an invalidation in another process then reaches this
    /// one's L1 within `bound`, with no pub/sub. `None` turns the check off.
    pub fn with_version_check(&self, bound: Option<Duration>) -> Self {
        Self {
            version_check: bound,
            ..self.clone()
        }
    }

    /// Store keys of this handle's data type's two stamps: everywhere, and L1 only.
    fn stamp_keys(&self) -> [String; 2] {
        let prefix = &self.inner.key_prefix;
        [
            format!("{prefix}stamp#{}", self.data_type),
            format!("{prefix}stamp-memory#{}", self.data_type),
        ]
    }

    /// This handle's data type's invalidation stamps, re-read from the store at most
    /// every version-check bound; `None` when the handle does not check.
    async fn stamps(&self) -> Option<Stamps> {
        let (Some(bound), Some(store)) = (self.version_check, &self.inner.store) else {
            return None;
        };
        let now = self.inner.clock.now_ms();
        let [everywhere_key, memory_key] = self.stamp_keys();
        let cached = self
            .inner
            .stamps
            .lock()
            .expect("stamp lock")
            .get(&everywhere_key)
            .copied();
        if let Some((stamps, read_at)) = cached
            && now < read_at + bound.as_millis() as u64
        {
            return Some(stamps);
        }
        let keys = [everywhere_key.clone(), memory_key.clone()];
        let read = self.store_call("get_stamps", store.get_many(&keys)).await;
        let stamps = match read {
            Ok(found) => {
                let stamp = |key: &str| {
                    found
                        .get(key)
                        .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_slice()).ok())
                        .map_or(0, u64::from_be_bytes)
                };
                Stamps {
                    everywhere: stamp(&everywhere_key),
                    memory: stamp(&memory_key),
                }
            }
            // Store trouble: keep what we knew.
            Err(_) => cached.map(|(stamps, _)| stamps).unwrap_or_default(),
        };
        self.inner
            .stamps
            .lock()
            .expect("stamp lock")
            .insert(everywhere_key, (stamps, now));
        Some(stamps)
    }

    /// Writes stamp `key` as `stamp`, whole (concurrent writers cannot lose each other's
    /// invalidation: any later time covers an earlier one).
    async fn write_stamp(
        &self,
        store: &Arc<dyn CacheStore>,
        key: &str,
        stamp: u64,
    ) -> Result<(), CacheError> {
        let now = self.inner.clock.now_ms();
        let bytes = stamp.to_be_bytes();
        let attributes = Attributes::new();
        let entry = StoreEntry {
            value: &bytes,
            created_at_ms: now,
            expires_at_ms: now + STAMP_LIFETIME.as_millis() as u64,
            ttl: STAMP_LIFETIME,
            tags: &[],
            attributes: &attributes,
            large_values: false,
        };
        Ok(self
            .store_call("write_stamp", store.set(key, entry))
            .await?)
    }

    /// Invalidates every entry of this handle's data type in every process: entries
    /// created until now are misses in every L1 and in the store. Clears this L1.
    pub async fn bump_version(&self) -> Result<(), CacheError> {
        self.bump(true).await
    }

    /// Makes other processes drop their L1 copies of this data type (after deleting keys
    /// or a tag in the store): they re-read the store, which no longer has the old values.
    pub async fn bump_memory_version(&self) -> Result<(), CacheError> {
        self.bump(false).await
    }

    async fn bump(&self, everywhere: bool) -> Result<(), CacheError> {
        self.clear_memory();
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let previous = self.stamps().await.unwrap_or_default();
        let stamp = self
            .inner
            .clock
            .now_ms()
            .max(previous.everywhere.max(previous.memory) + 1);
        let [everywhere_key, memory_key] = self.stamp_keys();
        self.write_stamp(store, &memory_key, stamp).await?;
        let mut updated = Stamps {
            memory: stamp,
            ..previous
        };
        if everywhere {
            self.write_stamp(store, &everywhere_key, stamp).await?;
            updated.everywhere = stamp;
        }
        let now = self.inner.clock.now_ms();
        self.inner
            .stamps
            .lock()
            .expect("stamp lock")
            .insert(everywhere_key, (updated, now));
        Ok(())
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

    /// Empties the in-process L1 (every data type).
    pub fn clear_memory(&self) {
        if let Some(l1) = &self.inner.l1 {
            l1.invalidate_all();
        }
    }

    /// The metrics registry; call [`Metrics::flush`] at the end of an invocation.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The shared store, if any.
    pub fn store(&self) -> Option<&Arc<dyn CacheStore>> {
        self.inner.store.as_ref()
    }

    fn tag_key(&self, tag: &str) -> String {
        format!("{}tag#{tag}", self.inner.key_prefix)
    }

    fn span(&self, op: &'static str, key: &str) -> tracing::Span {
        tracing::debug_span!("cache", op, key, data_type = %self.data_type, layer = tracing::field::Empty)
    }

    /// Runs a store call with the timeout, recording latency and errors.
    async fn store_call<R>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let start = Instant::now();
        let r = tokio::time::timeout(self.inner.store_timeout, call)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.inner.store_timeout)));
        self.counters.store_latency(start.elapsed());
        if let Err(e) = &r {
            Counters::inc(&self.counters.store_errors);
            tracing::warn!(op, error = %e, "cache store call failed");
        }
        r
    }

    /// Turns a store outage into `fallback` unless strict; caller errors pass.
    fn degrade<R>(&self, r: Result<R, StoreError>, fallback: R) -> Result<R, CacheError> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if is_transient(&e) && !self.strict.unwrap_or(self.inner.strict) => Ok(fallback),
            Err(e) => Err(e.into()),
        }
    }

    async fn l1_lookup<T: CacheValue>(&self, key: &str) -> Found<T> {
        let Some(l1) = &self.inner.l1 else {
            return Found::Miss;
        };
        let Some(e) = l1.get(key).await else {
            return Found::Miss;
        };
        let now = self.inner.clock.now_ms();
        if now >= e.expires_at_ms {
            return Found::Miss;
        }
        if self.version_check.is_some()
            && self
                .stamps()
                .await
                .is_some_and(|stamps| !stamps.keeps_in_memory(e.created_at_ms))
        {
            l1.invalidate(key).await;
            return Found::Miss;
        }
        match e.value.downcast_ref::<T>() {
            Some(v) if now < e.fresh_until_ms => Found::Fresh(v.clone()),
            Some(v) => Found::Stale(v.clone()),
            None => Found::Miss,
        }
    }

    async fn l1_insert<T: CacheValue>(&self, key: &str, value: T, meta: EnvelopeMeta, size: usize) {
        let Some(l1) = &self.inner.l1 else { return };
        let now = self.inner.clock.now_ms();
        let cap = self
            .memory_ttl
            .map_or(u64::MAX, |ttl| now.saturating_add(ttl.as_millis() as u64));
        let expires_at_ms = meta.expires_at_ms.min(cap);
        if expires_at_ms <= now {
            return;
        }
        let entry = L1Entry {
            value: Arc::new(value),
            created_at_ms: meta.created_at_ms,
            fresh_until_ms: meta.fresh_until_ms.min(cap),
            expires_at_ms,
            ttl: Duration::from_millis(expires_at_ms - now),
            size,
        };
        l1.insert(key.to_owned(), entry).await;
    }

    /// Decodes store bytes; anything unreadable or expired is a miss.
    fn decode<T: CacheValue>(&self, key: &str, bytes: &[u8]) -> Option<(EnvelopeMeta, T)> {
        match envelope::decode::<T>(bytes, self.inner.schema_version) {
            Ok((meta, v)) if meta.expires_at_ms > self.inner.clock.now_ms() => Some((meta, v)),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(key, error = %e, "undecodable cache value treated as a miss");
                None
            }
        }
    }

    /// L1, then the store (promoting hits into L1).
    async fn lookup<T: CacheValue>(
        &self,
        key: &str,
        span: &tracing::Span,
    ) -> Result<Found<T>, CacheError> {
        let in_l1 = match self.l1_lookup(key).await {
            Found::Fresh(v) => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                return Ok(Found::Fresh(v));
            }
            stale_or_miss => stale_or_miss,
        };
        let Some(store) = &self.inner.store else {
            return Ok(in_l1);
        };
        let r = self
            .store_call("get", store.get(&self.store_key(key)))
            .await;
        let Some(bytes) = self.degrade(r, None)? else {
            return Ok(in_l1);
        };
        let Some((meta, v)) = self.decode::<T>(key, &bytes) else {
            return Ok(in_l1);
        };
        // Written before an invalidation that the index query behind it may have missed.
        if self.version_check.is_some()
            && self
                .stamps()
                .await
                .is_some_and(|stamps| !stamps.keeps_in_store(meta.created_at_ms))
        {
            return Ok(in_l1);
        }
        self.l1_insert(key, v.clone(), meta, bytes.len()).await;
        if self.inner.clock.now_ms() < meta.fresh_until_ms {
            Counters::inc(&self.counters.store_hits);
            span.record("layer", "store");
            Ok(Found::Fresh(v))
        } else {
            Ok(Found::Stale(v))
        }
    }

    /// Encodes and writes to L1 and the store. Store outages degrade unless
    /// strict; an oversized value is always an error (after the L1 write).
    async fn write<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        opts: &WriteOptions,
        stale_window: Duration,
    ) -> Result<(), CacheError> {
        let now = self.inner.clock.now_ms();
        let fresh_until_ms = now + opts.ttl.as_millis() as u64;
        let meta = EnvelopeMeta {
            schema_version: self.inner.schema_version,
            created_at_ms: now,
            fresh_until_ms,
            expires_at_ms: fresh_until_ms + stale_window.as_millis() as u64,
        };
        let (bytes, json_len) = envelope::encode(value, meta, self.inner.compress_over)
            .map_err(|e| CacheError::Serialize(Arc::new(e)))?;
        self.l1_insert(key, value.clone(), meta, json_len).await;
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let tags: Vec<String> = opts.tags.iter().map(|t| self.tag_key(t)).collect();
        let entry = StoreEntry {
            value: &bytes,
            created_at_ms: now,
            expires_at_ms: meta.expires_at_ms,
            ttl: opts.ttl + stale_window,
            tags: &tags,
            attributes: &opts.attributes,
            large_values: self.large_values,
        };
        let r = self
            .store_call("set", store.set(&self.store_key(key), entry))
            .await;
        self.degrade(r, ())
    }

    /// The fresh value from L1 or the store, or `None`.
    pub async fn get<T: CacheValue>(&self, key: &str) -> Result<Option<T>, CacheError> {
        if !self.inner.enabled {
            return Ok(None);
        }
        let span = self.span("get", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(Some(v));
        }
        // Boxed so the L1 fast path does not carry the store path's state.
        Box::pin(
            async {
                match self.lookup::<T>(key, &span).await? {
                    Found::Fresh(v) => Ok(Some(v)),
                    Found::Stale(_) | Found::Miss => {
                        Counters::inc(&self.counters.misses);
                        Ok(None)
                    }
                }
            }
            .instrument(span.clone()),
        )
        .await
    }

    /// The fresh L1 value, counted as a memory hit.
    async fn l1_hit<T: CacheValue>(&self, key: &str, span: &tracing::Span) -> Option<T> {
        match self.l1_lookup::<T>(key).await {
            Found::Fresh(v) => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                Some(v)
            }
            Found::Stale(_) | Found::Miss => None,
        }
    }

    /// Stores `value` for `ttl` in both layers.
    pub async fn set<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.set_with(key, value, &WriteOptions::ttl(ttl)).await
    }

    /// Stores `value` with tags and extra attributes. Fails with
    /// [`StoreError::TooLarge`] if the encoded item exceeds the store's limit, unless the
    /// handle allows [large values](Self::with_large_values) and the store can keep them.
    pub async fn set_with<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        opts: &WriteOptions,
    ) -> Result<(), CacheError> {
        if !self.inner.enabled {
            return Ok(());
        }
        self.write(key, value, opts, Duration::ZERO)
            .instrument(self.span("set", key))
            .await
    }

    /// Removes `key` from both layers.
    pub async fn delete(&self, key: &str) -> Result<(), CacheError> {
        if let Some(l1) = &self.inner.l1 {
            l1.invalidate(key).await;
        }
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        let r = self
            .store_call("delete", store.delete(&self.store_key(key)))
            .await;
        self.degrade(r, ())
    }

    /// True if a live value exists in L1 or the store.
    pub async fn has(&self, key: &str) -> Result<bool, CacheError> {
        if let Some(l1) = &self.inner.l1
            && l1
                .get(key)
                .await
                .is_some_and(|e| e.expires_at_ms > self.inner.clock.now_ms())
        {
            return Ok(true);
        }
        let Some(store) = &self.inner.store else {
            return Ok(false);
        };
        let r = self
            .store_call("has", store.has(&self.store_key(key)))
            .await;
        self.degrade(r, false)
    }

    /// One page of an index query, read as values of `T`; items whose key does not start
    /// with `key_prefix` (other data types on the same index) are left out. Needs the
    /// DynamoDB store: other stores have no indexes.
    pub async fn query<T: CacheValue>(
        &self,
        key_prefix: &str,
        query: IndexQuery,
    ) -> Result<Page<T>, CacheError> {
        let dynamo = self
            .store()
            .and_then(|store| crate::store::dynamo(store.as_ref()));
        let Some(dynamo) = dynamo else {
            return Err(StoreError::Unsupported {
                store: self.store().map_or("memory", |store| store.name()),
                operation: "index queries",
            }
            .into());
        };
        let scope = self.store_key("");
        let (keys, next) = query_keys(dynamo, &query, &self.store_key(key_prefix)).await?;
        let keys: Vec<String> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(scope.as_str()).map(str::to_owned))
            .collect();
        let mut found = self.get_many::<T>(&keys).await?;
        Ok(Page {
            items: keys.iter().filter_map(|key| found.remove(key)).collect(),
            next,
        })
    }

    /// Values for several keys: L1 first, then one batched store call
    /// (DynamoDB `BatchGetItem`, 100 keys per request, unprocessed keys retried).
    /// Duplicate keys are looked up once. Missing keys are absent from the
    /// map; the origin is not called.
    pub async fn get_many<T: CacheValue>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<HashMap<String, T>, CacheError> {
        let mut out = HashMap::with_capacity(keys.len());
        if !self.inner.enabled {
            return Ok(out);
        }
        let span = self.span("get_many", "");
        async {
            let mut missing = Vec::new();
            let mut seen = std::collections::HashSet::with_capacity(keys.len());
            for key in keys.iter().map(AsRef::as_ref).filter(|k| seen.insert(*k)) {
                match self.l1_lookup::<T>(key).await {
                    Found::Fresh(v) => {
                        Counters::inc(&self.counters.memory_hits);
                        out.insert(key.to_owned(), v);
                    }
                    _ => missing.push(key.to_owned()),
                }
            }
            if let (Some(store), false) = (&self.inner.store, missing.is_empty()) {
                let full: Vec<String> = missing.iter().map(|k| self.store_key(k)).collect();
                let r = self.store_call("get_many", store.get_many(&full)).await;
                let found = self.degrade(r, HashMap::new())?;
                let now = self.inner.clock.now_ms();
                let stamps = self.stamps().await;
                for (key, full_key) in missing.iter().zip(&full) {
                    let hit = found
                        .get(full_key)
                        .and_then(|b| Some((b.len(), self.decode::<T>(key, b)?)))
                        .filter(|(_, (meta, _))| {
                            stamps.is_none_or(|stamps| stamps.keeps_in_store(meta.created_at_ms))
                        });
                    if let Some((size, (meta, v))) = hit {
                        self.l1_insert(key, v.clone(), meta, size).await;
                        if now < meta.fresh_until_ms {
                            Counters::inc(&self.counters.store_hits);
                            out.insert(key.clone(), v);
                        }
                    }
                }
            }
            for _ in out.len()..seen.len() {
                Counters::inc(&self.counters.misses);
            }
            Ok(out)
        }
        .instrument(span)
        .await
    }

    /// Cache-aside: the cached value, or `origin()`'s, stored for `ttl`.
    /// Concurrent misses on one key in this process call `origin` once.
    pub async fn wrap<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.wrap_with(key, &WriteOptions::ttl(ttl), origin).await
    }

    /// [`wrap`](Self::wrap) with tags and extra attributes.
    pub async fn wrap_with<T, E, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.wrap_with_options(key, |_: &T| opts.clone(), origin)
            .await
    }

    /// [`wrap`](Self::wrap) with write options made from the origin's value (for item
    /// attributes that come from the value, such as a customer code a GSI finds).
    pub async fn wrap_with_options<T, E, O, F, Fut>(
        &self,
        key: &str,
        options: O,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        O: FnOnce(&T) -> WriteOptions,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if !self.inner.enabled {
            return origin().await.map_err(origin_error);
        }
        let span = self.span("wrap", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(v);
        }
        Box::pin(
            self.fetch(key, options, Duration::ZERO, origin, &span)
                .instrument(span.clone()),
        )
        .await
    }

    /// Stale-while-revalidate: a fresh value is returned as is; a value up to
    /// `stale_window` past its `ttl` is returned at once while one background
    /// task refreshes it from `origin`; anything older is a miss.
    ///
    /// On Lambda, background work only runs while an invocation is active.
    pub async fn wrap_swr<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        stale_window: Duration,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.wrap_swr_with_options(
            key,
            stale_window,
            move |_: &T| WriteOptions::ttl(ttl),
            origin,
        )
        .await
    }

    /// [`wrap_swr`](Self::wrap_swr) with write options made from the origin's value.
    pub async fn wrap_swr_with_options<T, E, O, F, Fut>(
        &self,
        key: &str,
        stale_window: Duration,
        options: O,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        O: FnOnce(&T) -> WriteOptions + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        if !self.inner.enabled {
            return origin().await.map_err(origin_error);
        }
        let span = self.span("wrap_swr", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(v);
        }
        Box::pin(
            async {
                match self.lookup::<T>(key, &span).await? {
                    Found::Fresh(v) => Ok(v),
                    Found::Stale(v) => {
                        Counters::inc(&self.counters.stale_serves);
                        span.record("layer", "stale");
                        if let Some(leader) = self.inner.flights.try_lead::<T>(key) {
                            let this = self.clone();
                            let key = key.to_owned();
                            tokio::spawn(
                                async move {
                                    // Across processes, one refreshes; the rest keep serving stale.
                                    let span = tracing::Span::current();
                                    let lease = match this.lease::<T>(&key, &span, false).await {
                                        Ok(Lease::Held(lease)) => Some(lease),
                                        Ok(Lease::None) => None,
                                        Ok(Lease::Value(_) | Lease::Elsewhere) | Err(_) => return,
                                    };
                                    let _ = this
                                        .call_origin(&key, options, stale_window, origin, leader)
                                        .await;
                                    this.release(lease).await;
                                }
                                .in_current_span(),
                            );
                        }
                        Ok(v)
                    }
                    Found::Miss => self.fetch(key, options, stale_window, origin, &span).await,
                }
            }
            .instrument(span.clone()),
        )
        .await
    }

    /// Single-flight over store lookup and origin (the leader re-checks L1).
    async fn fetch<T, E, O, F, Fut>(
        &self,
        key: &str,
        options: O,
        stale_window: Duration,
        origin: F,
        span: &tracing::Span,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        O: FnOnce(&T) -> WriteOptions,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        loop {
            match self.inner.flights.join::<T>(key) {
                Role::Follower(rx) => {
                    Counters::inc(&self.counters.coalesced);
                    if let Some(r) = flight::follow(rx).await {
                        span.record("layer", "coalesced");
                        return r;
                    }
                    // The leader was cancelled: try again, perhaps as leader.
                }
                Role::Leader(leader) => {
                    if let Found::Fresh(v) = self.lookup::<T>(key, span).await? {
                        return Ok(v);
                    }
                    let lease = match self.lease::<T>(key, span, true).await? {
                        Lease::Value(v) => {
                            leader.publish(Ok(v.clone()));
                            return Ok(v);
                        }
                        Lease::Held(lease) => Some(lease),
                        Lease::None | Lease::Elsewhere => None,
                    };
                    span.record("layer", "origin");
                    let result = self
                        .call_origin(key, options, stale_window, origin, leader)
                        .await;
                    self.release(lease).await;
                    return result;
                }
            }
        }
    }

    /// Takes the key's cross-process lease, or (when `wait`) waits, bounded, for the value
    /// its holder writes.
    async fn lease<T: CacheValue>(
        &self,
        key: &str,
        span: &tracing::Span,
        wait: bool,
    ) -> Result<Lease<T>, CacheError> {
        let (Some(flight), Some(store), true) = (
            self.inner.distributed,
            &self.inner.store,
            self.distributed_flight,
        ) else {
            return Ok(Lease::None);
        };
        let lease = format!("{}lease#{key}", self.inner.key_prefix);
        let left = self.deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(Instant::now())
        });
        let lease_ttl = flight.lease_ttl.min(left);
        if lease_ttl.is_zero() {
            return Ok(Lease::None);
        }
        let deadline = Instant::now() + flight.wait.min(left);
        loop {
            let taken = self
                .store_call(
                    "acquire_lease",
                    store.acquire_lease(&lease, &self.inner.holder, lease_ttl),
                )
                .await;
            match taken {
                Ok(true) => {
                    // The holder before us may have written the value and released the
                    // lease since our last look: check once more before calling the
                    // origin (double-checked, as with any lock).
                    if let Found::Fresh(v) = self.lookup::<T>(key, span).await? {
                        self.release(Some(lease)).await;
                        Counters::inc(&self.counters.coalesced);
                        span.record("layer", "coalesced");
                        return Ok(Lease::Value(v));
                    }
                    return Ok(Lease::Held(lease));
                }
                // Store trouble: fall back to this process's own single-flight.
                Err(_) => return Ok(Lease::None),
                Ok(false) if !wait => return Ok(Lease::Elsewhere),
                Ok(false) if Instant::now() >= deadline => return Ok(Lease::None),
                Ok(false) => {}
            }
            tokio::time::sleep(flight.poll).await;
            if let Found::Fresh(v) = self.lookup::<T>(key, span).await? {
                Counters::inc(&self.counters.coalesced);
                span.record("layer", "coalesced");
                return Ok(Lease::Value(v));
            }
        }
    }

    /// Gives a held lease back (best effort: it lapses anyway).
    async fn release(&self, lease: Option<String>) {
        if let (Some(lease), Some(store)) = (lease, &self.inner.store) {
            let _ = self
                .store_call(
                    "release_lease",
                    store.release_lease(&lease, &self.inner.holder),
                )
                .await;
        }
    }

    /// Calls the origin as flight leader: publishes the result to followers
    /// first, then writes the store, then ends the flight.
    async fn call_origin<T, E, O, F, Fut>(
        &self,
        key: &str,
        options: O,
        stale_window: Duration,
        origin: F,
        leader: Leader<T>,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        O: FnOnce(&T) -> WriteOptions,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Counters::inc(&self.counters.misses);
        let start = Instant::now();
        let result = origin().await.map_err(origin_error);
        self.counters.origin_latency(start.elapsed());
        leader.publish(result.clone());
        if let Ok(v) = &result
            && let Err(e) = self.write(key, v, &options(v), stale_window).await
        {
            tracing::warn!(key, error = %e, "origin value returned but not cached");
        }
        result
    }

    /// Deletes every entry written with `tag`, in the store and (entirely) L1.
    /// Returns the number of store entries removed.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, CacheError> {
        if let Some(l1) = &self.inner.l1 {
            l1.invalidate_all();
        }
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let r = self
            .store_call("invalidate_tag", store.delete_by_tag(&self.tag_key(tag)))
            .await;
        self.degrade(r, 0)
    }

    /// Deletes keys matching a glob `pattern` (prefix applied) where the store
    /// supports it ([`Capabilities::pattern_delete`](crate::store::Capabilities)), and clears L1.
    pub async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        if let Some(l1) = &self.inner.l1 {
            l1.invalidate_all();
        }
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let r = self
            .store_call(
                "delete_by_pattern",
                store.delete_by_pattern(&self.store_key(pattern)),
            )
            .await;
        self.degrade(r, 0)
    }

    /// Removes every entry whose key starts with `prefix` (scope prefix applied), and
    /// clears L1. DynamoDB scans for them, Redis iterates with `SCAN MATCH`.
    pub async fn delete_by_prefix(&self, prefix: &str) -> Result<u64, CacheError> {
        self.clear_memory();
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let r = self
            .store_call("delete_by_prefix", store.clear(&self.store_key(prefix)))
            .await;
        self.degrade(r, 0)
    }

    /// Removes every entry under this cache's key prefix, and all of L1.
    pub async fn clear(&self) -> Result<u64, CacheError> {
        if let Some(l1) = &self.inner.l1 {
            l1.invalidate_all();
        }
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let r = self
            .store_call("clear", store.clear(&self.inner.key_prefix))
            .await;
        self.degrade(r, 0)
    }
}
