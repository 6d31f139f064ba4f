//! Idempotent handlers in the live mode ([`crate::live`]): the seeded calls and the
//! checker against the real Redis and Redis Cluster, whose scripts take, give back and
//! complete the records, on real time.
//!
//! No bound of the contract falls within a live run: invocations last a minute and
//! results are kept two, so no in-progress record lapses and no result expires, and the
//! checker judges nothing by timing. What it judges: one handler run per key unless a
//! failure or a drop gave the record back, replays byte-identical to a stored result,
//! refusals only while another call holds the key, records given back. Duplicates are
//! refused (a waiting one would wait out a crashed call's minute).

use std::sync::Arc;
use std::time::Duration;

use super::check::check;
use super::plan::{Call, IdemConfig, plan};
use super::sim::{self, IdemOutcome, IdemRun};
use crate::live::Target;
use crate::sim::Backend;
use crate::store::Network;
use crate::world::VirtualTime;

/// Seeds each live test runs, all at once: every combination of rough network and slow
/// store, four times.
const LIVE_SEEDS: u64 = 16;
/// An invocation's length in a live run: longer than the run.
const INVOCATION_MS: u64 = 60_000;
/// How long a live run keeps results: longer than the run.
const LIVE_WINDOW: Duration = Duration::from_secs(120);
/// The longest pause between two calls, and the longest handler.
const LONGEST_MS: u64 = 1_000;
/// How long a live run idles after its last call: past every release.
const LIVE_QUIESCE: Duration = Duration::from_secs(3);

/// The parameters of live seed `seed`: [`IdemConfig::varied`]'s, refusing duplicates,
/// with the live window.
fn live_config(seed: u64) -> IdemConfig {
    IdemConfig {
        wait: false,
        window: LIVE_WINDOW,
        ..IdemConfig::varied(seed, 3)
    }
}

/// The plan `seed` gives, with pauses and handlers cut to [`LONGEST_MS`] and every
/// invocation [`INVOCATION_MS`] long.
fn live_plan(seed: u64, config: &IdemConfig) -> Vec<Call> {
    let mut calls = plan(seed, config);
    let (mut was_ms, mut at_ms) = (0, 0);
    for call in &mut calls {
        at_ms += (call.at_ms - was_ms).min(LONGEST_MS);
        was_ms = call.at_ms;
        call.at_ms = at_ms;
        call.handler.return_ms = call.handler.return_ms.min(LONGEST_MS);
        call.invocation_ms = INVOCATION_MS;
    }
    calls
}

/// Runs `seeds` at once against `target`, each under its own key prefix.
fn run_live(target: &Target, seeds: impl IntoIterator<Item = u64>) -> Vec<IdemRun> {
    let prefix = crate::live::run_prefix("idempotency");
    crate::live::runtime().block_on(futures::future::join_all(seeds.into_iter().map(|seed| {
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
    })))
}

/// Fails with the failing seeds and their first violations, then unless handlers ran
/// and retries got stored results.
fn assert_keeps_the_contract(runs: &[IdemRun]) {
    let mut failing = Vec::new();
    let mut reports = Vec::new();
    for run in runs {
        let violations = check(run);
        if !violations.is_empty() {
            failing.push(run.seed);
        }
        reports.extend(
            violations
                .iter()
                .take(2)
                .map(|violation| format!("seed {}: {violation}", run.seed)),
        );
    }
    let replays = runs
        .iter()
        .flat_map(|run| &run.history)
        .filter(|record| {
            matches!(&record.outcome, IdemOutcome::Returned(receipt) if receipt.by_op != record.op)
        })
        .count();
    let handler_calls: usize = runs.iter().map(|run| run.runs.len()).sum();
    assert!(
        failing.is_empty(),
        "failing seeds {failing:?} of {}\n{}",
        runs.len(),
        reports.join("\n")
    );
    assert!(
        replays > runs.len() && handler_calls >= runs.len() * 2,
        "{replays} replays, {handler_calls} handler calls"
    );
}

#[test]
fn live_redis_cluster_idempotency_keeps_the_contract() {
    if let Some(target) = Target::cluster() {
        assert_keeps_the_contract(&run_live(&target, 0..LIVE_SEEDS));
    }
}

#[test]
fn live_redis_idempotency_keeps_the_contract() {
    if let Some(target) = Target::single() {
        assert_keeps_the_contract(&run_live(&target, 0..LIVE_SEEDS));
    }
}
