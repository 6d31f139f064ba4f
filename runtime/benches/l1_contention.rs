//! The L1 under contention (issue 22, part 4): `TieredCache::get` L1 hits from 1, 2, 8 and
//! 64 concurrent tasks on a multi-thread runtime of 2 workers, against bare
//! `quick_cache::sync::Cache::get` (what the L1 is built on) and bare
//! `moka::future::Cache::get` of the same values under the same keys, from the same number
//! of tasks, in the same run.
//!
//! A round spawns N tasks; each gets all 1,000 keys once, starting at its own offset, so a
//! round is N × 1,000 hits. The cache has a store (the in-memory one, never called on a hit)
//! so a hit makes every check it makes in production, the stamp views' ages included.
//! Criterion times rounds of each variant; after its groups, the bench prints **paired
//! medians**: rounds of the three variants alternate, and the ratios of their medians are
//! taken, which a load change on shared cores cannot skew.
//!
//! Run: `cargo bench -p cachegen-runtime --no-default-features --bench l1_contention`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cachegen_runtime::TieredCache;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::CaptureSink;
use cachegen_runtime::store::MemoryStore;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

const KEYS: usize = 1_000;
const CONCURRENCY: [usize; 4] = [1, 2, 8, 64];
const WORKERS: usize = 2;
/// Hits per variant in the paired rounds at each concurrency (at least `MIN_ROUNDS` rounds).
const PAIRED_HITS: usize = 2_000_000;
const MIN_ROUNDS: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: String,
}

fn user(id: u64) -> User {
    User {
        id,
        name: format!("user {id}"),
        email: format!("user{id}@example.com"),
    }
}

/// A cache whose hit is measured: a get of a key it holds.
trait Hits: Clone + Send + Sync + 'static {
    fn hit(&self, key: &str) -> impl Future<Output = User> + Send;
}

impl Hits for Arc<quick_cache::sync::Cache<String, User>> {
    async fn hit(&self, key: &str) -> User {
        self.get(key).expect("held")
    }
}

impl Hits for moka::future::Cache<String, User> {
    async fn hit(&self, key: &str) -> User {
        self.get(key).await.expect("held")
    }
}

impl Hits for TieredCache {
    async fn hit(&self, key: &str) -> User {
        self.get::<User>(key)
            .await
            .expect("no error")
            .expect("held")
    }
}

/// One round: `tasks` tasks, each getting every key once from its own offset. Returns the
/// time from the first spawn to the last task's end.
async fn round<C: Hits>(cache: &C, keys: &Arc<[String]>, tasks: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let (cache, keys) = (cache.clone(), keys.clone());
            tokio::spawn(async move {
                let offset = task * keys.len() / tasks;
                for i in 0..keys.len() {
                    black_box(cache.hit(&keys[(offset + i) % keys.len()]).await);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("task");
    }
    start.elapsed()
}

fn l1_contention(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap();
    let keys: Arc<[String]> = (0..KEYS).map(|i| format!("user#{i}")).collect();
    let quick = Arc::new(quick_cache::sync::Cache::<String, User>::new(10_000));
    let moka: moka::future::Cache<String, User> =
        moka::future::Cache::builder().max_capacity(10_000).build();
    let tiered = TieredCache::builder()
        .metrics_sink(Arc::new(CaptureSink::default()))
        .memory(MemoryLimit::entries(10_000))
        .store(Arc::new(MemoryStore::new(MemoryLimit::entries(10_000))))
        .build();
    rt.block_on(async {
        for (i, key) in keys.iter().enumerate() {
            let value = user(i as u64);
            quick.insert(key.clone(), value.clone());
            moka.insert(key.clone(), value.clone()).await;
            tiered
                .set(key, &value, Duration::from_secs(3600))
                .await
                .unwrap();
        }
    });
    for tasks in CONCURRENCY {
        let mut g = c.benchmark_group(format!("l1_contention/{tasks}_tasks"));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements((tasks * KEYS) as u64));
        g.bench_function("quick_cache_sync_get", |b| {
            b.to_async(&rt)
                .iter_custom(|iters| timed_rounds(&quick, &keys, tasks, iters))
        });
        g.bench_function("moka_future_get", |b| {
            b.to_async(&rt)
                .iter_custom(|iters| timed_rounds(&moka, &keys, tasks, iters))
        });
        g.bench_function("tiered_get", |b| {
            b.to_async(&rt)
                .iter_custom(|iters| timed_rounds(&tiered, &keys, tasks, iters))
        });
        g.finish();
    }
    for tasks in CONCURRENCY {
        let rounds = (PAIRED_HITS / (tasks * KEYS)).max(MIN_ROUNDS);
        let mut samples: [Vec<Duration>; 3] = Default::default();
        rt.block_on(async {
            for _ in 0..rounds {
                samples[0].push(round(&quick, &keys, tasks).await);
                samples[1].push(round(&moka, &keys, tasks).await);
                samples[2].push(round(&tiered, &keys, tasks).await);
            }
        });
        let hits = (tasks * KEYS) as f64;
        let [quick_ns, moka_ns, tiered_ns] = samples.map(|s| median(s).as_nanos() as f64 / hits);
        println!(
            "l1_contention {tasks} tasks, paired medians over {rounds} rounds of {tasks}×1,000 hits: \
             quick_cache {quick_ns:.1} ns, moka future {moka_ns:.1} ns, tiered {tiered_ns:.1} ns a hit; \
             tiered/quick_cache {:.3}, tiered/moka {:.3}",
            tiered_ns / quick_ns,
            tiered_ns / moka_ns,
        );
    }
}

/// `iters` rounds, for criterion's `iter_custom`.
async fn timed_rounds<C: Hits>(
    cache: &C,
    keys: &Arc<[String]>,
    tasks: usize,
    iters: u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        total += round(cache, keys, tasks).await;
    }
    total
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

criterion_group!(benches, l1_contention);
criterion_main!(benches);
