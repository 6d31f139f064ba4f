//! The live mode: the simulation's seeded workload and checker against a real Redis
//! (single node, or the Redis Cluster), on real time.
//!
//! Tokio's paused clock cannot drive sockets (it jumps to the next timer while a reply is
//! on its way, firing every timeout), so the live mode gives up determinism and keeps the
//! rest: the plan a seed gives ([`live_plan`]: pauses meant for expiry shortened, since
//! nothing expires here), the containers as separate `TieredCache`s, their operations as
//! real tasks on a multi-threaded runtime, the faulty network adapter in front of the
//! store (its delays, losses and unanswered requests now in real time), and the same
//! checker. The checker asserts nothing about timing: with no origin policy the TTLs
//! (60 s store, 20 s L1) outlast a run, so no value's lifetime is judged, and the
//! contract's only bound, another container's grace after an invalidation, is the
//! version-check bound the runtime enforces by the same clock the recorder reads.
//!
//! Each seed gets its own key prefix on the shared servers. Without
//! `CACHEGEN_TEST_REDIS_CLUSTER_URLS` (or `CACHEGEN_TEST_REDIS_URL`) a test says it is
//! skipped, and fails when `CI=true`, like the other cluster tests.

use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::clock::Clock;
use cachegen_runtime::store::{CacheStore, RedisStore};

use crate::checker::{Report, check};
use crate::sim::{self, Backend, Run};
use crate::store::Network;
use crate::workload::{SimConfig, Step, plan};
use crate::world::VirtualTime;

/// Seeds each live test runs, all at once: every combination of distributed flight,
/// version check and network, twice.
const LIVE_SEEDS: u64 = 16;
/// Operations in a live plan.
const LIVE_OPS: usize = 30;
/// The longest pause in a live plan: past the version-check bound, so other containers'
/// lookups are judged too.
const LONGEST_PAUSE_MS: u64 = 2_500;
/// How long a live run idles after its last operation: past every origin call (4 s at
/// most), store timeout and background refresh.
const LIVE_QUIESCE: Duration = Duration::from_secs(8);
/// Containers in a live run.
const CONTAINERS: usize = 3;

/// The Redis a live run uses.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// A cluster, by its nodes' URLs.
    Cluster(Vec<String>),
    /// A single node, by its URL.
    Single(String),
}

impl Target {
    /// The target `env` names (comma-separated URLs for a cluster); `None`, saying it is
    /// skipped, when unset outside CI.
    fn from_env(env: &str, cluster: bool) -> Option<Self> {
        match std::env::var(env) {
            Ok(urls) if !urls.trim().is_empty() => Some(if cluster {
                Target::Cluster(urls.split(',').map(|url| url.trim().to_owned()).collect())
            } else {
                Target::Single(urls.trim().to_owned())
            }),
            _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("CI=true but {env} is unset: scripts/test.sh starts the servers")
            }
            _ => {
                eprintln!("skipped: {env} is unset (scripts/test.sh starts the servers)");
                None
            }
        }
    }

    /// The Redis Cluster of `CACHEGEN_TEST_REDIS_CLUSTER_URLS`.
    pub(crate) fn cluster() -> Option<Self> {
        Self::from_env("CACHEGEN_TEST_REDIS_CLUSTER_URLS", true)
    }

    /// The Redis of `CACHEGEN_TEST_REDIS_URL`.
    pub(crate) fn single() -> Option<Self> {
        Self::from_env("CACHEGEN_TEST_REDIS_URL", false)
    }

    /// A store on this Redis that judges expiry by `clock`.
    pub(crate) async fn connect(&self, clock: Arc<dyn Clock>) -> Arc<dyn CacheStore> {
        let store = match self {
            Target::Cluster(urls) => RedisStore::connect_cluster(urls),
            Target::Single(url) => RedisStore::connect(url).await,
        }
        .expect("a Redis store");
        Arc::new(store.with_clock(clock))
    }
}

/// The parameters of live seed `seed`: [`SimConfig::varied`]'s, without origin policies.
pub(crate) fn live_config(seed: u64) -> SimConfig {
    SimConfig {
        ops: LIVE_OPS,
        policies: false,
        ..SimConfig::varied(seed, CONTAINERS)
    }
}

/// The plan `seed` gives, with pauses longer than [`LONGEST_PAUSE_MS`] (there for
/// expiry) shortened to it.
pub(crate) fn live_plan(seed: u64, config: &SimConfig) -> Vec<Step> {
    let mut steps = plan(seed, config);
    let (mut was_ms, mut at_ms) = (0, 0);
    for step in &mut steps {
        at_ms += (step.at_ms - was_ms).min(LONGEST_PAUSE_MS);
        was_ms = step.at_ms;
        step.at_ms = at_ms;
    }
    steps
}

/// The runtime of live runs: real time, real tasks on two threads.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-threaded runtime")
}

/// A key prefix no other run on the shared servers uses: `coherence-live-{what}`, the
/// process id and the time.
pub(crate) fn run_prefix(what: &str) -> String {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis();
    format!("coherence-live-{what}-{}-{started}", std::process::id())
}

/// Runs `seeds` at once against `target`, each under its own key prefix.
pub(crate) fn run_live(target: &Target, seeds: impl IntoIterator<Item = u64>) -> Vec<Run> {
    let prefix = run_prefix("cache");
    let runs = seeds.into_iter().map(|seed| {
        let (target, prefix) = (target.clone(), prefix.clone());
        async move {
            let config = live_config(seed);
            let time = Arc::new(VirtualTime::start());
            let store = target.connect(time.clone()).await;
            let backend = Backend {
                network: Network::over(store, seed, config.faults, time.clone()),
                time,
                key_prefix: format!("{prefix}-{seed}#"),
                quiesce: LIVE_QUIESCE,
            };
            sim::simulate(seed, &config, &live_plan(seed, &config), backend).await
        }
    });
    runtime().block_on(futures::future::join_all(runs))
}

/// Fails with the failing seeds and their first violations; checks that the runs did
/// what the workload asks.
fn assert_live_coherent(runs: &[Run]) {
    let mut failing = Vec::new();
    let mut reports = Vec::new();
    for run in runs {
        assert_eq!(run.history.len(), run.config.ops, "seed {}", run.seed);
        let violations = check(run);
        if !violations.is_empty() {
            failing.push(run.seed);
        }
        for violation in violations.iter().take(2) {
            reports.push(Report { run, violation }.to_string());
        }
    }
    let served = runs
        .iter()
        .flat_map(|run| &run.history)
        .filter(|record| record.outcome.value().is_some())
        .count();
    assert!(served > runs.len() * 5, "lookups returned values: {served}");
    assert!(
        failing.is_empty(),
        "failing seeds {failing:?} of {}\n\n{}",
        runs.len(),
        reports.join("\n")
    );
}

#[test]
fn live_redis_cluster_keeps_the_contract() {
    if let Some(target) = Target::cluster() {
        assert_live_coherent(&run_live(&target, 0..LIVE_SEEDS));
    }
}

#[test]
fn live_redis_keeps_the_contract() {
    if let Some(target) = Target::single() {
        assert_live_coherent(&run_live(&target, 0..LIVE_SEEDS));
    }
}

/// `CACHEGEN_LIVE_SEEDS` seeds (default 64) against the cluster (or the single node with
/// `CACHEGEN_LIVE_TARGET=single`), 16 at a time; prints the failing seeds and their
/// violations.
#[test]
#[ignore = "long run against a live Redis; prints the failing seeds"]
fn live_long_run() {
    let seeds: u64 = crate::env_or("CACHEGEN_LIVE_SEEDS", 64);
    let single = std::env::var("CACHEGEN_LIVE_TARGET").is_ok_and(|target| target == "single");
    let Some(target) = (if single {
        Target::single()
    } else {
        Target::cluster()
    }) else {
        return;
    };
    let mut failing = Vec::new();
    let mut kinds = std::collections::BTreeMap::new();
    for batch in (0..seeds).collect::<Vec<_>>().chunks(LIVE_SEEDS as usize) {
        for run in run_live(&target, batch.iter().copied()) {
            let violations = check(&run);
            if !violations.is_empty() {
                failing.push(run.seed);
            }
            for violation in &violations {
                let report = Report {
                    run: &run,
                    violation,
                }
                .to_string();
                let kind = report.lines().next().unwrap_or_default().to_owned();
                kinds.entry(kind).or_insert((0, report)).0 += 1;
            }
        }
    }
    println!("{} of {seeds} seeds failed: {failing:?}", failing.len());
    for (n, report) in kinds.values() {
        println!("{n} like:\n{report}");
    }
}
