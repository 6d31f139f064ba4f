//! OpenTelemetry (the `otel` feature), read back through the SDK's in-memory exporters:
//! lookups by tier and outcome, origin and store call durations with the database
//! conventions' attributes, invalidations; spans marked with the layer that answered.
//! No key appears in either unless the cache is told to trace keys.
//!
//! Run: `cargo test -p cachegen-runtime --features otel --test otel`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::CaptureSink;
use cachegen_runtime::metrics::otel::{
    FLIGHT_WAITS, INVALIDATIONS, LOOKUPS, ORIGIN_DURATION, Otel, STORE_DURATION,
};
use cachegen_runtime::{BoxError, TieredCache};
use common::{Harness, Kind};
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

const KEY: &str = "user#ada@example.com";
const TTL: Duration = Duration::from_secs(60);

/// One data point: its attributes by name, and its value (a sum, or a histogram's count).
#[derive(Debug)]
struct Point {
    attributes: BTreeMap<String, String>,
    value: u64,
}

fn attributes<'a>(pairs: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, String> {
    pairs
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// The data points of metric `name`.
fn points(metrics: &[ResourceMetrics], name: &str) -> Vec<Point> {
    let mut found = Vec::new();
    for resource in metrics {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics().filter(|metric| metric.name() == name) {
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        found.extend(sum.data_points().map(|point| Point {
                            attributes: attributes(point.attributes()),
                            value: point.value(),
                        }))
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        found.extend(histogram.data_points().map(|point| Point {
                            attributes: attributes(point.attributes()),
                            value: point.count(),
                        }))
                    }
                    other => panic!("{name}: unexpected data {other:?}"),
                }
            }
        }
    }
    found
}

/// The sum of the points of `name` whose attributes include every pair of `with`.
fn total(metrics: &[ResourceMetrics], name: &str, with: &[(&str, &str)]) -> u64 {
    points(metrics, name)
        .iter()
        .filter(|point| {
            with.iter()
                .all(|(k, v)| point.attributes.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|point| point.value)
        .sum()
}

async fn exercise(cache: &TieredCache, origin_calls: &mut u32) {
    for _ in 0..2 {
        let _: String = cache
            .wrap(KEY, TTL, || async {
                *origin_calls += 1;
                Ok::<_, BoxError>("Ada".to_owned())
            })
            .await
            .unwrap();
    }
    cache.clear_memory();
    let _: Option<String> = cache.get(KEY).await.unwrap();
    cache.delete(KEY).await.unwrap();
}

async fn metrics_on(kind: Kind, system: &str) {
    let harness = Harness::new(kind).await;
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let sink = Arc::new(CaptureSink::default());
    let cache = harness
        .builder()
        .memory(MemoryLimit::entries(100))
        .service("accounts")
        .data_type("user")
        .metrics_sink(sink.clone())
        .opentelemetry(Otel::new(&provider))
        .build();
    let mut origin_calls = 0;
    exercise(&cache, &mut origin_calls).await;
    // Two concurrent misses on one key: one calls the origin, the other waits for it.
    let slow = || async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, BoxError>("Grace".to_owned())
    };
    let (first, second): (Result<String, _>, Result<String, _>) = tokio::join!(
        cache.wrap("user#2", TTL, slow),
        cache.wrap("user#2", TTL, slow)
    );
    assert_eq!(
        (first.unwrap(), second.unwrap()),
        ("Grace".into(), "Grace".into())
    );
    provider.force_flush().unwrap();
    let metrics = exporter.get_finished_metrics().unwrap();

    let user = [("cache.service", "accounts"), ("cache.data_type", "user")];
    let lookups = |tier: &str, outcome: &str| {
        let mut with = user.to_vec();
        with.extend([("cache.tier", tier), ("cache.outcome", outcome)]);
        total(&metrics, LOOKUPS, &with)
    };
    assert_eq!(origin_calls, 1);
    assert_eq!(
        lookups("origin", "miss"),
        2,
        "{kind:?}: user#1, and user#2 once"
    );
    assert_eq!(lookups("l1", "hit"), 1, "{kind:?}");
    assert_eq!(lookups("store", "hit"), 1, "{kind:?}");
    assert_eq!(total(&metrics, ORIGIN_DURATION, &user), 2);
    assert_eq!(total(&metrics, FLIGHT_WAITS, &user), 1);
    let store = |operation: &str| {
        total(
            &metrics,
            STORE_DURATION,
            &[("db.system.name", system), ("db.operation.name", operation)],
        )
    };
    assert!(store("write") >= 1, "{kind:?}: the fill was written");
    assert_eq!(store("delete"), 1, "{kind:?}");
    assert_eq!(
        total(&metrics, STORE_DURATION, &[("error.type", "backend")]),
        0
    );
    let key_scope = [
        ("cache.service", "accounts"),
        ("cache.invalidation.scope", "key"),
    ];
    assert_eq!(total(&metrics, INVALIDATIONS, &key_scope), 1);
    if kind == Kind::Dynamo {
        let table = &harness.dynamo.as_ref().unwrap().1;
        let tables = points(&metrics, STORE_DURATION)
            .into_iter()
            .filter_map(|point| point.attributes.get("aws.dynamodb.table_names").cloned())
            .collect::<Vec<_>>();
        assert!(!tables.is_empty() && tables.iter().all(|t| t.contains(table.as_str())));
    }
    for name in [LOOKUPS, ORIGIN_DURATION, STORE_DURATION, INVALIDATIONS] {
        for point in points(&metrics, name) {
            assert!(
                point.attributes.values().all(|v| !v.contains("ada")),
                "{name} holds a key: {point:?}"
            );
        }
    }
    cache.metrics().flush();
    assert_eq!(common::metric(&sink, "MemoryHits"), 1, "EMF still counts");
}

#[tokio::test]
async fn lookups_store_calls_and_invalidations_are_measured_on_redis() {
    metrics_on(Kind::Redis, "redis").await;
}

#[tokio::test]
async fn lookups_store_calls_and_invalidations_are_measured_on_dynamodb() {
    metrics_on(Kind::Dynamo, "aws.dynamodb").await;
}

/// The attributes of the finished `cache` spans, in order, after `exercise` on a cache
/// built with `trace_keys`.
async fn spans(trace_keys: bool) -> Vec<BTreeMap<String, String>> {
    let harness = Harness::new(Kind::Redis).await;
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _default = tracing::subscriber::set_default(subscriber);
    let cache = harness
        .builder()
        .memory(MemoryLimit::entries(100))
        .trace_keys(trace_keys)
        .build();
    let mut origin_calls = 0;
    exercise(&cache, &mut origin_calls).await;
    provider.force_flush().unwrap();
    exporter
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|span| span.name == "cache")
        .map(|span| attributes(span.attributes.iter()))
        .collect()
}

#[tokio::test]
async fn spans_say_which_layer_answered_and_hold_keys_only_when_asked() {
    let spans = spans(false).await;
    let layers: Vec<Option<&str>> = spans
        .iter()
        .filter(|span| span.get("op").is_some_and(|op| op == "wrap" || op == "get"))
        .map(|span| span.get("layer").map(String::as_str))
        .collect();
    assert_eq!(
        layers,
        [Some("origin"), Some("memory"), Some("store")],
        "miss, L1 hit, store hit: {spans:?}"
    );
    assert!(
        spans.iter().all(|span| span.get("data_type").is_some()),
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .all(|span| span.values().all(|v| !v.contains("ada"))),
        "no key without trace_keys: {spans:?}"
    );
    let traced = self::spans(true).await;
    assert!(
        traced
            .iter()
            .any(|span| span.get("key").map(String::as_str) == Some(KEY)),
        "{traced:?}"
    );
}
