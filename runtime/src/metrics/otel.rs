//! The cache's metrics through OpenTelemetry (the `otel` feature), beside the EMF lines.
//!
//! Pass an [`Otel`] to [`TieredCacheBuilder::opentelemetry`](crate::TieredCacheBuilder::opentelemetry);
//! the cache then records on its meter (instrumentation scope `cachegen-runtime`):
//!
//! | Instrument | Kind | Unit | Attributes |
//! |---|---|---|---|
//! | `cache.lookups` | counter | `{lookup}` | `cache.service`, `cache.data_type`, `cache.outcome` (`hit`, `miss`, `stale`), `cache.tier` (`l1` or `store` on a hit, `origin` on a miss; none on a stale value, which either may hold) |
//! | `cache.flight.waits` | counter | `{lookup}` | `cache.service`, `cache.data_type`: lookups that waited for another caller's origin call (single-flight, in this process or through another's lease) |
//! | `cache.origin.duration` | histogram | `s` | `cache.service`, `cache.data_type`: one per origin call |
//! | `db.client.operation.duration` | histogram | `s` | `db.system.name` (`aws.dynamodb`, `redis`), `db.operation.name`, `error.type` when it failed, `aws.dynamodb.table_names` on DynamoDB |
//! | `cache.invalidations` | counter | `{invalidation}` | `cache.service`, `cache.invalidation.scope` (`key`, `stamp`, `clear`, `pattern`) |
//!
//! `db.operation.name` is the store operation (`read`, `write`, `acquire_lease`,
//! `bump_stamp`, ...): one may be several requests (DynamoDB's `BatchGetItem` pages, a
//! Redis script). No attribute holds a key: keys can hold personal data.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};

use crate::error::StoreError;
use crate::query::{IndexQuery, PageToken};
#[cfg(feature = "dynamodb")]
use crate::store::TableRef;
use crate::store::{
    Attributes, CacheStore, Capabilities, LeaseOutcome, Precondition, Slot, Stamp, StoreEntry,
    Version,
};

/// Instrumentation scope of every instrument.
pub const SCOPE: &str = "cachegen-runtime";
/// Lookups by tier and outcome.
pub const LOOKUPS: &str = "cache.lookups";
/// Lookups that waited for another caller's origin call.
pub const FLIGHT_WAITS: &str = "cache.flight.waits";
/// Duration of origin calls.
pub const ORIGIN_DURATION: &str = "cache.origin.duration";
/// Duration of store calls, as OpenTelemetry's database conventions name it.
pub const STORE_DURATION: &str = "db.client.operation.duration";
/// Invalidations written to the store.
pub const INVALIDATIONS: &str = "cache.invalidations";

/// Bucket bounds of the duration histograms, seconds (the database conventions' advice).
const DURATION_BOUNDS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];

/// Where a cache records its OpenTelemetry metrics: a meter.
#[derive(Clone, Debug)]
pub struct Otel {
    meter: Meter,
}

impl Otel {
    /// On the process's global meter provider (`opentelemetry::global`).
    pub fn global() -> Self {
        Self {
            meter: opentelemetry::global::meter(SCOPE),
        }
    }

    /// On `provider`.
    pub fn new(provider: &impl MeterProvider) -> Self {
        Self {
            meter: provider.meter(SCOPE),
        }
    }

    /// `store`, recording the duration of each call and counting invalidations.
    pub(crate) fn instrument(
        &self,
        store: Arc<dyn CacheStore>,
        service: &str,
    ) -> Arc<dyn CacheStore> {
        Arc::new(InstrumentedStore::new(store, &self.meter, service))
    }

    fn duration(&self, name: &'static str, description: &'static str) -> Histogram<f64> {
        self.meter
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(DURATION_BOUNDS.to_vec())
            .build()
    }
}

/// How a lookup was answered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    L1Hit,
    StoreHit,
    Miss,
    Stale,
}

impl Outcome {
    /// `cache.tier` and `cache.outcome`; a stale value may come from either tier.
    fn attributes(self) -> Vec<KeyValue> {
        let (tier, outcome) = match self {
            Self::L1Hit => (Some("l1"), "hit"),
            Self::StoreHit => (Some("store"), "hit"),
            Self::Miss => (Some("origin"), "miss"),
            Self::Stale => (None, "stale"),
        };
        tier.map(|tier| KeyValue::new("cache.tier", tier))
            .into_iter()
            .chain([KeyValue::new("cache.outcome", outcome)])
            .collect()
    }
}

/// The lookup instruments of one cache.
#[derive(Debug)]
pub(crate) struct Instruments {
    service: String,
    lookups: Counter<u64>,
    waits: Counter<u64>,
    origin: Histogram<f64>,
}

impl Instruments {
    pub(crate) fn new(otel: &Otel, service: &str) -> Self {
        Self {
            service: service.to_owned(),
            lookups: otel
                .meter
                .u64_counter(LOOKUPS)
                .with_unit("{lookup}")
                .with_description("Lookups, by the tier that answered and how")
                .build(),
            waits: otel
                .meter
                .u64_counter(FLIGHT_WAITS)
                .with_unit("{lookup}")
                .with_description("Lookups that waited for another caller's origin call")
                .build(),
            origin: otel.duration(ORIGIN_DURATION, "Duration of origin calls"),
        }
    }

    fn attributes(&self, data_type: &str) -> Vec<KeyValue> {
        vec![
            KeyValue::new("cache.service", self.service.clone()),
            KeyValue::new("cache.data_type", data_type.to_owned()),
        ]
    }

    /// The lookups of `data_type` answered with `outcome`.
    pub(crate) fn lookup(&self, data_type: &str, outcome: Outcome) -> Recorded {
        let mut attributes = self.attributes(data_type);
        attributes.extend(outcome.attributes());
        Recorded {
            counter: self.lookups.clone(),
            attributes,
        }
    }

    /// The lookups of `data_type` that waited for another's origin call.
    pub(crate) fn flight_wait(&self, data_type: &str) -> Recorded {
        Recorded {
            counter: self.waits.clone(),
            attributes: self.attributes(data_type),
        }
    }

    /// The origin calls of `data_type`.
    pub(crate) fn origin_duration(&self, data_type: &str) -> Timed {
        Timed {
            histogram: self.origin.clone(),
            attributes: self.attributes(data_type),
        }
    }
}

/// A counter with its attributes set.
#[derive(Debug)]
pub(crate) struct Recorded {
    counter: Counter<u64>,
    attributes: Vec<KeyValue>,
}

impl Recorded {
    pub(crate) fn add(&self, n: u64) {
        self.counter.add(n, &self.attributes);
    }
}

/// A duration histogram with its attributes set.
#[derive(Debug)]
pub(crate) struct Timed {
    histogram: Histogram<f64>,
    attributes: Vec<KeyValue>,
}

impl Timed {
    pub(crate) fn record(&self, duration: Duration) {
        self.histogram
            .record(duration.as_secs_f64(), &self.attributes);
    }
}

/// A store whose calls are timed as `db.client.operation.duration` and whose
/// invalidations are counted.
#[derive(Debug)]
struct InstrumentedStore {
    inner: Arc<dyn CacheStore>,
    duration: Histogram<f64>,
    invalidations: Counter<u64>,
    /// `db.system.name` and, on DynamoDB, `aws.dynamodb.table_names`.
    attributes: Vec<KeyValue>,
    service: KeyValue,
}

impl InstrumentedStore {
    fn new(inner: Arc<dyn CacheStore>, meter: &Meter, service: &str) -> Self {
        let attributes = store_attributes(inner.as_ref());
        Self {
            inner,
            duration: Otel {
                meter: meter.clone(),
            }
            .duration(STORE_DURATION, "Duration of store calls"),
            invalidations: meter
                .u64_counter(INVALIDATIONS)
                .with_unit("{invalidation}")
                .with_description("Invalidations written to the store")
                .build(),
            attributes,
            service: KeyValue::new("cache.service", service.to_owned()),
        }
    }

    /// Runs `call`, recording its duration as `operation`.
    async fn timed<R>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let start = Instant::now();
        let result = call.await;
        let mut attributes = self.attributes.clone();
        attributes.push(KeyValue::new("db.operation.name", operation));
        if let Err(error) = &result {
            attributes.push(KeyValue::new("error.type", error_type(error)));
        }
        self.duration
            .record(start.elapsed().as_secs_f64(), &attributes);
        result
    }

    /// Counts an invalidation of `scope` that the store accepted.
    fn invalidated<R>(&self, scope: &'static str, result: &Result<R, StoreError>) {
        if result.is_ok() {
            let attributes = [
                self.service.clone(),
                KeyValue::new("cache.invalidation.scope", scope),
            ];
            self.invalidations.add(1, &attributes);
        }
    }
}

/// `db.system.name` and, on DynamoDB, `aws.dynamodb.table_names`.
fn store_attributes(store: &dyn CacheStore) -> Vec<KeyValue> {
    let system = match store.name() {
        "dynamodb" => "aws.dynamodb",
        other => other,
    };
    let mut attributes = vec![KeyValue::new("db.system.name", system)];
    attributes.extend(table_names(store));
    attributes
}

#[cfg(feature = "dynamodb")]
fn table_names(store: &dyn CacheStore) -> Option<KeyValue> {
    use opentelemetry::{StringValue, Value};
    let table = StringValue::from(store.table()?.table.to_owned());
    Some(KeyValue::new(
        "aws.dynamodb.table_names",
        Value::Array(vec![table].into()),
    ))
}

#[cfg(not(feature = "dynamodb"))]
fn table_names(_store: &dyn CacheStore) -> Option<KeyValue> {
    None
}

/// The low-cardinality class of a store error (`error.type`).
fn error_type(error: &StoreError) -> &'static str {
    match error {
        StoreError::Backend { .. } => "backend",
        StoreError::Request { .. } => "request",
        StoreError::Timeout(_) => "timeout",
        StoreError::Unsupported { .. } => "unsupported",
        StoreError::CircuitOpen { .. } => "circuit_open",
        StoreError::TooLarge { .. } => "too_large",
    }
}

#[async_trait]
impl CacheStore for InstrumentedStore {
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
        self.timed("read", self.inner.read(key)).await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        self.timed("read_many", self.inner.read_many(keys)).await
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        self.timed("write", self.inner.write(key, entry, precondition))
            .await
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        let result = self
            .timed("delete", self.inner.delete(key, precondition))
            .await;
        self.invalidated("key", &result);
        result
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.timed(
            "acquire_lease",
            self.inner.acquire_lease(key, seen, holder, ttl),
        )
        .await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.timed("release_lease", self.inner.release_lease(key, holder))
            .await
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        self.timed("read_stamps", self.inner.read_stamps(keys))
            .await
    }

    async fn read_with_stamps(
        &self,
        key: &str,
        stamps: &[String],
    ) -> Result<(Slot, Vec<Stamp>), StoreError> {
        self.timed("read_with_stamps", self.inner.read_with_stamps(key, stamps))
            .await
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        let result = self
            .timed("bump_stamp", self.inner.bump_stamp(shards, counter))
            .await;
        self.invalidated("stamp", &result);
        result
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        let result = self.timed("clear", self.inner.clear(prefix)).await;
        self.invalidated("clear", &result);
        result
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        let result = self
            .timed("delete_by_pattern", self.inner.delete_by_pattern(pattern))
            .await;
        self.invalidated("pattern", &result);
        result
    }

    async fn query_index(
        &self,
        query: &IndexQuery,
        key_prefix: &str,
    ) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
        self.timed("query_index", self.inner.query_index(query, key_prefix))
            .await
    }

    async fn read_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, Attributes>, StoreError> {
        self.timed("read_attributes", self.inner.read_attributes(keys, names))
            .await
    }
}
