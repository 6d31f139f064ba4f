//! Cache metrics, emitted as CloudWatch Embedded Metric Format (EMF) lines, and with the
//! `otel` feature through OpenTelemetry too (the `otel` module).
//!
//! Lookups only bump atomic counters; [`Metrics::flush`] (call it at the end
//! of each Lambda invocation) writes one EMF line per data type through a
//! [`MetricsSink`], so no CloudWatch API call is made per metric.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};

#[cfg(feature = "otel")]
pub mod otel;

/// Metric and dimension names, shared with the generated alarms.
pub mod names {
    pub use cachegen_names::metric::{
        COALESCED_CALLS, DATA_TYPE_DIMENSION as DATA_TYPE, MEMORY_HITS, MISSES, ORIGIN_LATENCY,
        SERVICE_DIMENSION as SERVICE, STALE_SERVES, STORE_ERRORS, STORE_HITS, STORE_LATENCY,
    };
}

/// Default EMF namespace.
pub const DEFAULT_NAMESPACE: &str = "Cachegen";
/// Data type used when the caller names none.
pub const DEFAULT_DATA_TYPE: &str = "default";
/// EMF allows at most 100 values per metric in one line.
const MAX_VALUES_PER_LINE: usize = 100;
/// Latency samples kept per metric between flushes; later ones are dropped,
/// so a process that never flushes stays bounded.
const MAX_SAMPLES: usize = 10_000;

/// Destination of EMF lines.
pub trait MetricsSink: Send + Sync + Debug + 'static {
    /// Writes one complete JSON line.
    fn emit(&self, line: &str);
}

/// Writes each line to stdout, where the Lambda runtime forwards it to CloudWatch Logs.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutSink;

impl MetricsSink for StdoutSink {
    fn emit(&self, line: &str) {
        println!("{line}");
    }
}

/// Keeps lines in memory, for tests.
#[derive(Debug, Default)]
pub struct CaptureSink(Mutex<Vec<String>>);

impl CaptureSink {
    /// Lines emitted so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("capture lock").clone()
    }
}

impl MetricsSink for CaptureSink {
    fn emit(&self, line: &str) {
        self.0.lock().expect("capture lock").push(line.to_owned());
    }
}

/// One count of a data type, and where OpenTelemetry records it too.
#[derive(Debug, Default)]
pub(crate) struct Count {
    n: AtomicU64,
    #[cfg(feature = "otel")]
    otel: Option<otel::Recorded>,
}

impl Count {
    fn take(&self) -> u64 {
        self.n.swap(0, Ordering::Relaxed)
    }
}

/// Counters for one data type.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub memory_hits: Count,
    pub store_hits: Count,
    pub misses: Count,
    pub stale_serves: Count,
    pub coalesced: Count,
    pub store_errors: Count,
    store_latency: Mutex<Vec<f64>>,
    origin_latency: Mutex<Vec<f64>>,
    #[cfg(feature = "otel")]
    origin_duration: Option<otel::Timed>,
}

impl Counters {
    #[cfg(feature = "otel")]
    fn new(data_type: &str, otel: Option<&otel::Instruments>) -> Self {
        let Some(otel) = otel else {
            return Self::default();
        };
        let count = |recorded| Count {
            n: AtomicU64::default(),
            otel: Some(recorded),
        };
        Self {
            memory_hits: count(otel.lookup(data_type, otel::Outcome::L1Hit)),
            store_hits: count(otel.lookup(data_type, otel::Outcome::StoreHit)),
            misses: count(otel.lookup(data_type, otel::Outcome::Miss)),
            stale_serves: count(otel.lookup(data_type, otel::Outcome::Stale)),
            coalesced: count(otel.flight_wait(data_type)),
            store_errors: Count::default(),
            origin_duration: Some(otel.origin_duration(data_type)),
            ..Self::default()
        }
    }

    pub(crate) fn inc(count: &Count) {
        count.n.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "otel")]
        if let Some(otel) = &count.otel {
            otel.add(1);
        }
    }

    pub(crate) fn store_latency(&self, d: Duration) {
        sample(&self.store_latency, d);
    }

    pub(crate) fn origin_latency(&self, d: Duration) {
        sample(&self.origin_latency, d);
        #[cfg(feature = "otel")]
        if let Some(otel) = &self.origin_duration {
            otel.record(d);
        }
    }
}

fn sample(samples: &Mutex<Vec<f64>>, d: Duration) {
    let mut samples = samples.lock().expect("latency lock");
    if samples.len() < MAX_SAMPLES {
        samples.push(ms(d));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Metrics registry of one cache: counters per data type plus the sink.
#[derive(Debug)]
pub struct Metrics {
    namespace: String,
    service: String,
    sink: Arc<dyn MetricsSink>,
    types: Mutex<BTreeMap<String, Arc<Counters>>>,
    #[cfg(feature = "otel")]
    otel: Option<otel::Instruments>,
}

impl Metrics {
    pub(crate) fn new(namespace: String, service: String, sink: Arc<dyn MetricsSink>) -> Self {
        Self {
            namespace,
            service,
            sink,
            types: Mutex::default(),
            #[cfg(feature = "otel")]
            otel: None,
        }
    }

    /// Records through OpenTelemetry too, on the meter of `otel`.
    #[cfg(feature = "otel")]
    pub(crate) fn with_otel(mut self, otel: Option<&otel::Otel>) -> Self {
        self.otel = otel.map(|otel| otel::Instruments::new(otel, &self.service));
        self
    }

    pub(crate) fn counters(&self, data_type: &str) -> Arc<Counters> {
        let mut types = self.types.lock().expect("metrics lock");
        types
            .entry(data_type.to_owned())
            .or_insert_with(|| {
                #[cfg(feature = "otel")]
                return Arc::new(Counters::new(data_type, self.otel.as_ref()));
                #[cfg(not(feature = "otel"))]
                Arc::default()
            })
            .clone()
    }

    /// Emits and resets the counters: one EMF line per data type with
    /// activity (more if over 100 latency samples), each with dimension sets
    /// `[["Service"],["Service","DataType"]]`.
    pub fn flush(&self) {
        let now_ms = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        let types: Vec<_> = {
            let t = self.types.lock().expect("metrics lock");
            t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        for (data_type, c) in types {
            let counts = [
                (names::MEMORY_HITS, c.memory_hits.take()),
                (names::STORE_HITS, c.store_hits.take()),
                (names::MISSES, c.misses.take()),
                (names::STALE_SERVES, c.stale_serves.take()),
                (names::COALESCED_CALLS, c.coalesced.take()),
                (names::STORE_ERRORS, c.store_errors.take()),
            ];
            let store_lat = std::mem::take(&mut *c.store_latency.lock().expect("latency lock"));
            let origin_lat = std::mem::take(&mut *c.origin_latency.lock().expect("latency lock"));
            if counts.iter().all(|(_, n)| *n == 0) && store_lat.is_empty() && origin_lat.is_empty()
            {
                continue;
            }
            let mut store_chunks = store_lat.chunks(MAX_VALUES_PER_LINE);
            let mut origin_chunks = origin_lat.chunks(MAX_VALUES_PER_LINE);
            let mut first = true;
            loop {
                let (s, o) = (store_chunks.next(), origin_chunks.next());
                if !first && s.is_none() && o.is_none() {
                    break;
                }
                let mut defs = Vec::new();
                let mut root = Map::new();
                if first {
                    for (name, n) in counts {
                        defs.push(json!({"Name": name, "Unit": "Count"}));
                        root.insert(name.into(), json!(n));
                    }
                }
                for (name, values) in [(names::STORE_LATENCY, s), (names::ORIGIN_LATENCY, o)] {
                    if let Some(values) = values.filter(|v| !v.is_empty()) {
                        defs.push(json!({"Name": name, "Unit": "Milliseconds"}));
                        root.insert(name.into(), json!(values));
                    }
                }
                first = false;
                root.insert(names::SERVICE.into(), json!(self.service));
                root.insert(names::DATA_TYPE.into(), json!(data_type));
                root.insert(
                    "_aws".into(),
                    json!({
                        "Timestamp": now_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": self.namespace,
                            "Dimensions": [[names::SERVICE], [names::SERVICE, names::DATA_TYPE]],
                            "Metrics": defs,
                        }],
                    }),
                );
                self.sink.emit(&Value::Object(root).to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_writes_emf_and_resets() {
        let sink = Arc::new(CaptureSink::default());
        let m = Metrics::new("Ns".into(), "svc".into(), sink.clone());
        let c = m.counters("users");
        Counters::inc(&c.memory_hits);
        Counters::inc(&c.memory_hits);
        for _ in 0..150 {
            c.store_latency(Duration::from_millis(2));
        }
        m.flush();
        m.flush();
        let lines = sink.lines();
        assert_eq!(
            lines.len(),
            2,
            "150 samples need two lines, second flush none"
        );
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["MemoryHits"], 2);
        assert_eq!(v["Service"], "svc");
        assert_eq!(v["DataType"], "users");
        assert_eq!(v["StoreLatency"].as_array().unwrap().len(), 100);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Ns");
        assert_eq!(
            cw["Dimensions"],
            json!([["Service"], ["Service", "DataType"]])
        );
        let v2: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(v2["StoreLatency"].as_array().unwrap().len(), 50);
        assert!(v2.get("MemoryHits").is_none());
    }
}
