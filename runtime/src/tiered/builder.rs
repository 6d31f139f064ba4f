//! [`TieredCacheBuilder`]: how a [`TieredCache`] is put together.

use std::sync::Arc;
use std::time::Duration;

use super::l1::{Local, Memory};
use super::policy::{OriginPolicy, Throttles};
use super::stamps::Stamps;
use super::{
    DEFAULT_COMPRESS_OVER, DEFAULT_INVALIDATION_TIMEOUT, DEFAULT_STORE_TIMEOUT, DistributedFlight,
    Inner, TieredCache,
};
use crate::bounded::MemoryLimit;
use crate::clock::{self, Clock};
use crate::metrics::{self, Metrics, MetricsSink, StdoutSink};
use crate::store::CacheStore;

/// Builds a [`TieredCache`].
#[derive(Debug)]
pub struct TieredCacheBuilder {
    store: Option<Arc<dyn CacheStore>>,
    memory: MemoryLimit,
    key_prefix: String,
    enabled: bool,
    strict: bool,
    store_timeout: Duration,
    invalidation_timeout: Duration,
    compress_over: usize,
    schema_version: u32,
    clock: Arc<dyn Clock>,
    namespace: String,
    service: String,
    data_type: String,
    sink: Arc<dyn MetricsSink>,
    distributed: Option<DistributedFlight>,
    stamp_shards: u32,
    trace_keys: bool,
    #[cfg(feature = "otel")]
    otel: Option<metrics::otel::Otel>,
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
            invalidation_timeout: DEFAULT_INVALIDATION_TIMEOUT,
            compress_over: DEFAULT_COMPRESS_OVER,
            schema_version: 1,
            clock: clock::system(),
            namespace: metrics::DEFAULT_NAMESPACE.into(),
            service: "cachegen".into(),
            data_type: metrics::DEFAULT_DATA_TYPE.into(),
            sink: Arc::new(StdoutSink),
            distributed: None,
            stamp_shards: 1,
            trace_keys: false,
            #[cfg(feature = "otel")]
            otel: None,
        }
    }
}

impl TieredCacheBuilder {
    /// The shared store. Without one the cache is L1-only.
    pub fn store(mut self, store: Arc<dyn CacheStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// L1 bound (default 10,000 entries and 64 MiB of keys and decoded values); a zero
    /// bound disables L1.
    pub fn memory(mut self, limit: MemoryLimit) -> Self {
        self.memory = limit;
        self
    }
    /// Prefix prepended to every store key, tag and stamp.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }
    /// `false` bypasses the cache entirely (origin only).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
    /// Raise store errors on reads instead of degrading.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
    /// Timeout per store call of a lookup or write (default 200 ms).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }
    /// Timeout per store call of an invalidation (default 5 s): past it the invalidation
    /// fails with [`StoreError::Timeout`](crate::StoreError::Timeout).
    pub fn invalidation_timeout(mut self, timeout: Duration) -> Self {
        self.invalidation_timeout = timeout;
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
    /// Single-flight across processes through leases on the items (DynamoDB conditional
    /// writes, Redis scripts), for handles that opt in with
    /// [`TieredCache::with_distributed_flight`].
    pub fn distributed_flight(mut self, flight: DistributedFlight) -> Self {
        self.distributed = Some(flight);
        self
    }
    /// Copies of each stamp item (default 1): each process reads one, invalidations
    /// write all. Raise it when stamp reads from many processes would exceed a store
    /// partition's read capacity (see the book's scale page, `docs/src/explanation/scale.md`).
    pub fn stamp_shards(mut self, shards: u32) -> Self {
        self.stamp_shards = shards.max(1);
        self
    }

    /// Records each lookup's key in its `tracing` span (off by default: keys can hold
    /// personal data, and spans travel to log stores and tracing backends).
    pub fn trace_keys(mut self, trace_keys: bool) -> Self {
        self.trace_keys = trace_keys;
        self
    }
    /// Records metrics through OpenTelemetry too (see [`metrics::otel`]); EMF lines are
    /// written as before.
    #[cfg(feature = "otel")]
    pub fn opentelemetry(mut self, otel: metrics::otel::Otel) -> Self {
        self.otel = Some(otel);
        self
    }

    /// Builds the cache.
    pub fn build(self) -> TieredCache {
        #[cfg(feature = "otel")]
        let store = match &self.otel {
            Some(otel) => self
                .store
                .map(|store| otel.instrument(store, &self.service)),
            None => self.store,
        };
        #[cfg(not(feature = "otel"))]
        let store = self.store;
        let metrics = Metrics::new(self.namespace, self.service, self.sink);
        #[cfg(feature = "otel")]
        let metrics = metrics.with_otel(self.otel.as_ref());
        let counters = metrics.counters(&self.data_type);
        let memory = (!self.memory.is_zero()).then(|| Memory::new(self.memory));
        let holder = holder_id();
        let stamps = Stamps::new(
            store.is_some(),
            self.stamp_shards,
            shard_of(&holder, self.stamp_shards),
        );
        let type_stamp = stamps.data_type(&self.key_prefix, &self.data_type);
        TieredCache {
            inner: Arc::new(Inner {
                memory,
                local: Local::default(),
                store,
                flights: Arc::default(),
                throttles: Throttles::default(),
                stamps,
                metrics,
                clock: self.clock,
                enabled: self.enabled,
                strict: self.strict,
                key_prefix: self.key_prefix,
                store_timeout: self.store_timeout,
                invalidation_timeout: self.invalidation_timeout,
                compress_over: self.compress_over,
                schema_version: self.schema_version,
                distributed: self.distributed,
                holder,
                trace_keys: self.trace_keys,
            }),
            counters,
            data_type: self.data_type.into(),
            type_stamp,
            memory_ttl: None,
            distributed_flight: false,
            version_check: None,
            deadline: None,
            strict: None,
            large_values: false,
            policy: OriginPolicy::default(),
        }
    }
}

/// A holder name unique to this process and cache: pid, start time and a random part.
fn holder_id() -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}-{started:x}-{:x}", std::process::id(), fastrand::u32(..))
}

/// Which stamp shard a holder reads.
fn shard_of(holder: &str, shards: u32) -> u32 {
    let sum = holder.bytes().fold(0u32, |sum, byte| {
        sum.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    sum % shards.max(1)
}
