//! Running a plan of idempotent calls: every container builds its `Idempotency` handle
//! from its own `TieredCache` over the one faulty store, as the generated crate does, on
//! a current-thread runtime with paused time. Each handler records when it was called,
//! when its side effect ran and how it returned.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachegen_runtime::TieredCache;
use cachegen_runtime::clock::Clock;
use cachegen_runtime::idempotency::{Idempotency, IdempotencyConfig, IdempotencyError, InFlight};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::plan::{Call, Ending, IdemConfig};
use crate::history::as_operation;
use crate::sim::Backend;
use crate::store::{Network, StoreLog};
use crate::world::{Mark, VirtualTime};

/// The idempotency store timeout.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_millis(500);
/// A waiting duplicate's first poll interval (the generated crate's).
pub(crate) const POLL: Duration = Duration::from_millis(50);
/// How long the simulation idles after the last call: past every deadline, handler and
/// release.
const QUIESCE: Duration = Duration::from_secs(10);
/// The handler's function name.
const FUNCTION: &str = "charge";

/// A request: the idempotency key is its `order`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Request {
    order: u32,
    amount: u32,
    note: &'static str,
}

/// The request of `key` with payload `payload`.
pub(crate) fn request(key: u32, payload: u32) -> Request {
    Request {
        order: key,
        amount: if payload == 0 { 10 } else { 99 },
        note: "ünïcødé ✓ 💳",
    }
}

/// The handler's result: which call's handler made it, and fields whose encoding a
/// careless store round trip would change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Receipt {
    /// The request's key.
    pub order: u32,
    /// The request's amount (its payload).
    pub amount: u32,
    /// The plan index of the call whose handler made it.
    pub by_op: usize,
    /// Text beyond ASCII.
    pub note: String,
    /// An integer past f64's exact range.
    pub big: u64,
    /// A float with no short decimal form.
    pub ratio: f64,
}

/// What the handler of call `op` returns for `key` and `payload`.
pub(crate) fn receipt(op: usize, key: u32, payload: u32) -> Receipt {
    let request = request(key, payload);
    Receipt {
        order: request.order,
        amount: request.amount,
        by_op: op,
        note: format!("{} #{op}", request.note),
        big: u64::MAX - op as u64,
        ratio: (op as f64 + 1.0) / 3.0,
    }
}

/// One call of a handler.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HandlerRun {
    /// The call (plan index) that ran it.
    pub op: usize,
    /// Its key.
    pub key: u32,
    /// When it was called.
    pub called: Mark,
    /// When its side effect ran (`None`: its call crashed or was dropped first).
    pub effect: Option<Mark>,
    /// When it returned, and whether with a result.
    pub returned: Option<(Mark, bool)>,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum IdemOutcome {
    /// `Ok`: the handler's result, its own or a stored one.
    Returned(Receipt),
    /// `IdempotencyError::InProgress`.
    InProgress,
    /// `IdempotencyError::PayloadMismatch`.
    PayloadMismatch,
    /// `IdempotencyError::Handler`.
    HandlerFailed,
    /// `IdempotencyError::Store`.
    StoreFailed(String),
    /// Any other error.
    Other(String),
    /// Dropped before it finished.
    Cancelled,
    /// Its process died (the future was forgotten).
    Crashed,
}

/// One call as it happened.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IdemRecord {
    /// Its index in the plan.
    pub op: usize,
    /// What was planned.
    pub call: Call,
    /// When `run` was called.
    pub start: Mark,
    /// When it returned, was dropped, or crashed.
    pub end: Mark,
    /// Its invocation's deadline, virtual ms.
    pub deadline_ms: u64,
    /// How it ended.
    pub outcome: IdemOutcome,
}

impl std::fmt::Display for IdemRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = &self.call;
        write!(
            f,
            "op {} (key {}, payload {}, container {}, handler {:?}, {:?}) from {} to {}, deadline {} ms: {:?}",
            self.op,
            call.key,
            call.payload,
            call.container,
            call.handler,
            call.ending,
            self.start,
            self.end,
            self.deadline_ms,
            self.outcome
        )
    }
}

/// One idempotency run: what was asked, what happened, and what the store saw.
#[derive(Debug)]
pub(crate) struct IdemRun {
    /// The seed of the plan and the network's faults.
    pub seed: u64,
    /// The parameters.
    pub config: IdemConfig,
    /// The calls asked for.
    pub plan: Vec<Call>,
    /// The calls as they ended.
    pub history: Vec<IdemRecord>,
    /// The handler calls, in the order called.
    pub runs: Vec<HandlerRun>,
    /// The store's calls and leases.
    pub store: StoreLog,
    /// The record's store key of each idempotency key.
    pub record_keys: Vec<String>,
}

/// Runs the plan `seed` generates.
pub(crate) fn run_seed(seed: u64, config: &IdemConfig) -> IdemRun {
    run(seed, config, &super::plan::plan(seed, config))
}

/// Runs `plan` on the simulated store, with the network's faults drawn from `seed`.
pub(crate) fn run(seed: u64, config: &IdemConfig, plan: &[Call]) -> IdemRun {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    // Holder names and poll jitter come from this thread's fastrand generator.
    fastrand::seed(seed);
    runtime.block_on(async {
        let time = Arc::new(VirtualTime::start());
        let backend = Backend {
            network: Network::new(seed, config.faults, time.clone()),
            time,
            key_prefix: String::new(),
            quiesce: QUIESCE,
        };
        simulate(seed, config, plan, backend).await
    })
}

/// Shared by every call of a run.
struct World {
    time: Arc<VirtualTime>,
    history: Mutex<Vec<IdemRecord>>,
    runs: Mutex<Vec<HandlerRun>>,
}

impl World {
    /// Records that call `op`'s handler was called; returns its index.
    fn called(&self, op: usize, key: u32) -> usize {
        let mut runs = self.runs.lock().expect("runs lock");
        runs.push(HandlerRun {
            op,
            key,
            called: self.time.mark(),
            effect: None,
            returned: None,
        });
        runs.len() - 1
    }

    fn update(&self, run: usize, change: impl FnOnce(&mut HandlerRun)) {
        change(&mut self.runs.lock().expect("runs lock")[run]);
    }
}

/// Runs `plan` on `backend`, in the running tokio runtime.
pub(crate) async fn simulate(
    seed: u64,
    config: &IdemConfig,
    plan: &[Call],
    backend: Backend,
) -> IdemRun {
    let Backend {
        network,
        time,
        key_prefix,
        quiesce,
    } = backend;
    let world = Arc::new(World {
        time: time.clone(),
        history: Mutex::default(),
        runs: Mutex::default(),
    });
    let clock: Arc<dyn Clock> = time.clone();
    let settings = IdempotencyConfig {
        expires_after: config.window,
        in_flight: if config.wait {
            InFlight::Wait { poll: POLL }
        } else {
            InFlight::Refuse
        },
        store_timeout: STORE_TIMEOUT,
        ..IdempotencyConfig::default()
    };
    let handles: Vec<Idempotency> = (0..config.containers)
        .map(|container| {
            TieredCache::builder()
                .key_prefix(key_prefix.clone())
                .store(Arc::new(network.view(container)))
                .clock(clock.clone())
                .service("coherence")
                .build()
                .idempotency(FUNCTION, settings.clone())
        })
        .collect();
    let record_keys = (0..config.keys)
        .map(|key| handles[0].record_key(&(key,)).expect("a key serializes"))
        .collect();

    let mut calls = JoinSet::new();
    for (op, call) in plan.iter().copied().enumerate() {
        let (world, handle) = (world.clone(), handles[call.container].clone());
        calls.spawn(as_operation(op, async move {
            tokio::time::sleep(Duration::from_millis(call.at_ms)).await;
            perform(&world, &handle, op, call).await;
        }));
    }
    while let Some(done) = calls.join_next().await {
        done.expect("a call panicked");
    }
    tokio::time::sleep(quiesce).await;

    // Crashed calls' forgotten futures still hold the world: take what it recorded.
    let history = std::mem::take(&mut *world.history.lock().expect("history lock"));
    let runs = std::mem::take(&mut *world.runs.lock().expect("runs lock"));
    IdemRun {
        seed,
        config: *config,
        plan: plan.to_vec(),
        history,
        runs,
        store: network.log(),
        record_keys,
    }
}

/// Runs one call in its container and records it.
async fn perform(world: &Arc<World>, handle: &Idempotency, op: usize, call: Call) {
    let start = world.time.mark();
    let deadline_ms = start.ms + call.invocation_ms;
    let deadline_epoch_ms = world.time.now_ms() + call.invocation_ms;
    let request = request(call.key, call.payload);
    let handler = {
        let world = world.clone();
        move || {
            let run = world.called(op, call.key);
            async move {
                let handler = call.handler;
                tokio::time::sleep(Duration::from_millis(handler.effect_ms)).await;
                world.update(run, |run| run.effect = Some(world.time.mark()));
                tokio::time::sleep(Duration::from_millis(handler.return_ms)).await;
                world.update(run, |run| {
                    run.returned = Some((world.time.mark(), !handler.fails));
                });
                if handler.fails {
                    Err("card declined")
                } else {
                    Ok(receipt(op, call.key, call.payload))
                }
            }
        }
    };
    let key = (call.key,);
    let mut invocation = Box::pin(handle.run(&key, &request, deadline_epoch_ms, handler));
    let outcome = match call.ending {
        Ending::Finishes => outcome(invocation.await),
        Ending::Cancelled { after_ms } => {
            tokio::time::timeout(Duration::from_millis(after_ms), invocation)
                .await
                .map_or(IdemOutcome::Cancelled, outcome)
        }
        Ending::Crashes { after_ms } => {
            tokio::select! {
                biased;
                result = &mut invocation => outcome(result),
                () = tokio::time::sleep(Duration::from_millis(after_ms)) => {
                    // The process is gone: no destructor runs, nothing is given back.
                    std::mem::forget(invocation);
                    IdemOutcome::Crashed
                }
            }
        }
    };
    world
        .history
        .lock()
        .expect("history lock")
        .push(IdemRecord {
            op,
            call,
            start,
            end: world.time.mark(),
            deadline_ms,
            outcome,
        });
}

fn outcome(result: Result<Receipt, IdempotencyError<&'static str>>) -> IdemOutcome {
    match result {
        Ok(receipt) => IdemOutcome::Returned(receipt),
        Err(IdempotencyError::InProgress { .. }) => IdemOutcome::InProgress,
        Err(IdempotencyError::PayloadMismatch) => IdemOutcome::PayloadMismatch,
        Err(IdempotencyError::Handler(_)) => IdemOutcome::HandlerFailed,
        Err(IdempotencyError::Store(error)) => IdemOutcome::StoreFailed(error.to_string()),
        Err(error) => IdemOutcome::Other(error.to_string()),
    }
}
