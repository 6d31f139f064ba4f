//! A bounded load test: N worker processes (this binary with `--worker`), each running M
//! simulated containers (separate caches: their own L1, flights and lease holder name),
//! share one DynamoDB (moto) or Redis on loopback and hammer a hot key set with misses,
//! hits and invalidations, through caches with distributed single-flight. The driver
//! merges what the workers report: origin calls per key per TTL (target 1), p50/p99
//! latency per layer, caller-visible lookup errors (target 0), invalidations the store did
//! not confirm in time (reported to their caller, counted apart), and the store requests that land
//! on the busiest item of each kind per second (a hot key, a stamp), for the scale
//! figures in BENCHMARKS.md. It stops by itself.
//!
//! ```text
//! cachegen-load --backend dynamodb --endpoint http://127.0.0.1:5000 --processes 4 --seconds 6
//! cachegen-load --backend redis --endpoint redis://127.0.0.1:6379 --processes 4 --seconds 6
//! cachegen-load ... --containers 25     # 25 containers per process (100 in all)
//! cachegen-load ... --no-distributed    # the control: single-flight inside each process only
//! ```

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType,
};
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::{CacheStore, DynamoLayout, DynamoStore, RedisStore};
use cachegen_runtime::{BoxError, DistributedFlight, TieredCache};
use cachegen_tests::counting::CountingStore;
use serde_json::{Value, json};

/// Hot keys every worker contends on.
const HOT_KEYS: usize = 16;
/// Concurrent callers per worker in the hot phase.
const CALLERS: usize = 8;
/// Store TTL of hot values.
const TTL: Duration = Duration::from_secs(2);
/// Latency samples per layer and worker.
const SAMPLES: usize = 200;
/// How often, at most, a hot container re-reads its data type's stamp.
const VERSION_CHECK: Duration = Duration::from_secs(1);

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = arg(&args, "--backend").unwrap_or_else(|| "dynamodb".into());
    let endpoint = arg(&args, "--endpoint").expect("--endpoint URL (loopback)");
    assert!(
        endpoint.contains("127.0.0.1"),
        "the load test only targets loopback"
    );
    let seconds: u64 = arg(&args, "--seconds").map_or(6, |s| s.parse().expect("--seconds N"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let distributed = !args.iter().any(|a| a == "--no-distributed");
    let containers: usize =
        arg(&args, "--containers").map_or(1, |s| s.parse().expect("--containers N"));
    let load = Load {
        backend,
        endpoint,
        seconds,
        containers: containers.max(1),
        distributed,
    };
    if args.iter().any(|a| a == "--worker") {
        let table = arg(&args, "--table").unwrap_or_default();
        let report = runtime.block_on(worker(&load, &table));
        println!("{report}");
    } else {
        let processes: usize =
            arg(&args, "--processes").map_or(4, |s| s.parse().expect("--processes N"));
        let summary = runtime.block_on(drive(&load, processes));
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    }
}

async fn store(backend: &str, endpoint: &str, table: &str) -> Arc<dyn CacheStore> {
    match backend {
        "redis" => Arc::new(RedisStore::connect(endpoint).await.expect("redis")),
        _ => {
            let sdk = cachegen_tests::moto_sdk(endpoint).await;
            let layout = DynamoLayout::builder("pk").ttl_attribute("ttl").build();
            Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                table,
                layout,
            ))
        }
    }
}

/// What every process of one run does.
struct Load {
    backend: String,
    endpoint: String,
    seconds: u64,
    /// Simulated containers per process.
    containers: usize,
    distributed: bool,
}

/// What kind of item a store key is, for the per-item figures.
fn kind_of(item: &str) -> &'static str {
    match item.find('!').map(|at| &item[at..]) {
        Some(rest) if rest.starts_with("!t#") => "data type stamp",
        Some(rest) if rest.starts_with("!g#") => "tag stamp",
        Some(rest) if rest.starts_with("!p#") => "key prefix stamp",
        _ if item.starts_with("hot") => "hot key",
        _ => "other key",
    }
}

/// Runs the workers and merges their reports.
async fn drive(load: &Load, processes: usize) -> Value {
    let Load {
        backend,
        endpoint,
        seconds,
        containers,
        distributed,
    } = load;
    let (backend, endpoint, seconds, distributed) =
        (backend.as_str(), endpoint.as_str(), *seconds, *distributed);
    let table = format!("load-{}", std::process::id());
    if backend != "redis" {
        let sdk = cachegen_tests::moto_sdk(endpoint).await;
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap()
        };
        aws_sdk_dynamodb::Client::new(&sdk)
            .create_table()
            .table_name(&table)
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk"))
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("load table");
    }
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--worker",
                    "--backend",
                    backend,
                    "--endpoint",
                    endpoint,
                    "--table",
                    &table,
                ])
                .args(["--seconds", &seconds.to_string()])
                .args(["--containers", &containers.to_string()])
                .args((!distributed).then_some("--no-distributed"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("worker starts")
        })
        .collect();
    let reports: Vec<Value> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("worker ends");
            assert!(output.status.success(), "a worker failed");
            serde_json::from_slice(&output.stdout).expect("worker report")
        })
        .collect();

    let mut calls: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut layers: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut errors, mut failed_invalidations, mut invalidations, mut lookups) = (0, 0, 0, 0);
    // The hot phases' union: workers start one after another, so it outlasts `seconds`.
    let (mut first_start, mut last_end) = (u64::MAX, 0);
    let mut per_item: BTreeMap<String, u64> = BTreeMap::new();
    for report in &reports {
        for (item, count) in report["requests_per_item"].as_object().unwrap() {
            *per_item.entry(item.clone()).or_default() += count.as_u64().unwrap();
        }
        for (key, times) in report["origin_calls"].as_object().unwrap() {
            calls.entry(key.clone()).or_default().extend(
                times
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_u64().unwrap()),
            );
        }
        for (layer, samples) in report["latency_us"].as_object().unwrap() {
            layers.entry(layer.clone()).or_default().extend(
                samples
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_u64().unwrap()),
            );
        }
        errors += report["errors"].as_u64().unwrap();
        failed_invalidations += report["failed_invalidations"].as_u64().unwrap();
        invalidations += report["invalidations"].as_u64().unwrap();
        lookups += report["lookups"].as_u64().unwrap();
        first_start = first_start.min(report["hot_phase_ms"][0].as_u64().unwrap());
        last_end = last_end.max(report["hot_phase_ms"][1].as_u64().unwrap());
    }
    // A key is filled at most once per TTL window it is read in: a span of two TTLs and a
    // bit has three fills (at its start, and as each TTL ends).
    let windows = (last_end.saturating_sub(first_start) as u128 / TTL.as_millis()) as f64 + 1.0;
    let total_calls: usize = calls.values().map(Vec::len).sum();
    // Calls owed to invalidations are not stampedes: each invalidation may cost one.
    let per_key_per_ttl =
        (total_calls as f64 - invalidations as f64).max(0.0) / (HOT_KEYS as f64 * windows);
    let percentiles: BTreeMap<String, Value> = layers
        .into_iter()
        .map(|(layer, mut samples)| {
            samples.sort_unstable();
            let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
            (
                layer,
                json!({ "p50_us": at(0.5), "p99_us": at(0.99), "samples": samples.len() }),
            )
        })
        .collect();
    // The busiest item of each kind, in requests per second of the hot phase.
    let mut busiest: BTreeMap<&str, (String, u64)> = BTreeMap::new();
    for (item, count) in &per_item {
        let best = busiest.entry(kind_of(item)).or_default();
        if *count > best.1 {
            *best = (item.clone(), *count);
        }
    }
    let busiest: BTreeMap<&str, Value> = busiest
        .into_iter()
        .map(|(kind, (item, count))| {
            let rate = count as f64 / seconds as f64;
            (
                kind,
                json!({ "item": item, "requests_per_second": (rate * 10.0).round() / 10.0 }),
            )
        })
        .collect();
    json!({
        "backend": backend,
        "distributed_flight": distributed,
        "processes": processes,
        "containers": processes * containers,
        "seconds": seconds,
        "ttl_windows": windows,
        "hot_keys": HOT_KEYS,
        "ttl_ms": TTL.as_millis() as u64,
        "lookups": lookups,
        "origin_calls": total_calls,
        "invalidations": invalidations,
        "origin_calls_per_key_per_ttl": (per_key_per_ttl * 100.0).round() / 100.0,
        "errors": errors,
        "failed_invalidations": failed_invalidations,
        "latency": percentiles,
        "busiest_item_per_kind": busiest,
    })
}

/// One worker process: a hot phase with contention and invalidations through its
/// containers, then a layer phase.
async fn worker(load: &Load, table: &str) -> String {
    let (seconds, distributed) = (load.seconds, load.distributed);
    let store = store(&load.backend, &load.endpoint, table).await;
    let counted = Arc::new(CountingStore::new(store.clone()));
    let containers: Vec<TieredCache> = (0..load.containers)
        .map(|_| {
            TieredCache::builder()
                .store(counted.clone())
                .memory(MemoryLimit::entries(10_000))
                .store_timeout(Duration::from_secs(2))
                .distributed_flight(DistributedFlight {
                    lease_ttl: Duration::from_secs(2),
                    wait: Duration::from_secs(2),
                    poll: Duration::from_millis(10),
                })
                .build()
                .with_memory_ttl(Duration::from_millis(500))
                .with_version_check(Some(VERSION_CHECK))
                .with_distributed_flight(distributed)
        })
        .collect();
    let calls: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    let errors = Arc::new(AtomicU64::new(0));
    let failed_invalidations = Arc::new(AtomicU64::new(0));
    let lookups = Arc::new(AtomicU64::new(0));
    let invalidations = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let hot_phase_start = std::time::SystemTime::now();
    let epoch = |at: std::time::SystemTime| {
        at.duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };

    let mut tasks = Vec::new();
    for caller in 0..CALLERS.max(load.containers) {
        let failed_invalidations = failed_invalidations.clone();
        let (hot, calls, errors, lookups, invalidations) = (
            containers[caller % containers.len()].clone(),
            calls.clone(),
            errors.clone(),
            lookups.clone(),
            invalidations.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut state = (std::process::id() as u64) << 8 | caller as u64 | 1;
            while Instant::now() < deadline {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = format!("hot{}", state % HOT_KEYS as u64);
                // Now and then, one caller invalidates the key it is about to read.
                // A delete the store did not confirm in time is reported to its caller (and
                // counted apart): it is not a lookup failing.
                if caller == 0 && state.is_multiple_of(50) {
                    if hot.delete(&key).await.is_err() {
                        failed_invalidations.fetch_add(1, Ordering::Relaxed);
                    }
                    invalidations.fetch_add(1, Ordering::Relaxed);
                }
                let calls = calls.clone();
                let owned = key.clone();
                let result = hot
                    .wrap(&key, TTL, || async move {
                        calls
                            .lock()
                            .unwrap()
                            .entry(owned)
                            .or_default()
                            .push(epoch(std::time::SystemTime::now()));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, BoxError>(vec![7u8; 256])
                    })
                    .await;
                lookups.fetch_add(1, Ordering::Relaxed);
                if result.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let hot_phase_ms = [epoch(hot_phase_start), epoch(std::time::SystemTime::now())];

    // Layer phase: misses (origin and store write), store hits (no L1), memory hits.
    let layered = TieredCache::builder()
        .store(store.clone())
        .memory(MemoryLimit::entries(10_000))
        .build();
    let store_only = TieredCache::builder()
        .store(store)
        .memory(MemoryLimit::entries(0))
        .build();
    let prefix = format!("layer{}-", std::process::id());
    let mut latency: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for i in 0..SAMPLES {
        let key = format!("{prefix}{i}");
        let started = Instant::now();
        let miss = layered
            .wrap(&key, Duration::from_secs(60), || async {
                Ok::<_, BoxError>(vec![1u8; 256])
            })
            .await;
        latency
            .entry("origin_miss")
            .or_default()
            .push(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        let stored = store_only.get::<Vec<u8>>(&key).await;
        latency
            .entry("store_hit")
            .or_default()
            .push(started.elapsed().as_micros() as u64);
        let started = Instant::now();
        let memory = layered.get::<Vec<u8>>(&key).await;
        latency
            .entry("memory_hit")
            .or_default()
            .push(started.elapsed().as_micros() as u64);
        // A lookup's error is caller-visible; a store hit that timed out to a miss is not.
        if miss.is_err() || stored.is_err() || !matches!(memory, Ok(Some(_))) {
            errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    let calls = calls.lock().unwrap().clone();
    json!({
        "requests_per_item": counted.counts(),
        "origin_calls": calls,
        "latency_us": latency,
        "errors": errors.load(Ordering::Relaxed),
        "failed_invalidations": failed_invalidations.load(Ordering::Relaxed),
        "lookups": lookups.load(Ordering::Relaxed),
        "invalidations": invalidations.load(Ordering::Relaxed),
        "hot_phase_ms": hot_phase_ms,
    })
    .to_string()
}
