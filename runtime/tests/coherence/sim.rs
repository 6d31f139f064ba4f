//! Running a plan: several containers (each a `TieredCache` with its own L1 and flights)
//! over one faulty store, on a current-thread tokio runtime with paused time, so the
//! schedule is a function of the seed and the plan alone.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachegen_runtime::clock::Clock;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::typed::{DataType, TypedCache};
use cachegen_runtime::{CacheError, DistributedFlight, FailSafe, OriginPolicy, TieredCache};
use tokio::task::JoinSet;

use crate::history::{History, Outcome, Record, as_operation};
use crate::store::{Network, StoreLog};
use crate::workload::{Delays, Op, SimConfig, Step, tag_of};
use crate::world::{Made, Maker, NotFound, Source, VirtualTime};

/// The data type's store TTL.
pub(crate) const TTL: Duration = Duration::from_secs(60);
/// The data type's L1 TTL.
pub(crate) const MEMORY_TTL: Duration = Duration::from_secs(20);
/// The data type's stale-while-revalidate window.
pub(crate) const STALE_WINDOW: Duration = Duration::from_secs(60);
/// The data type's `version_check` bound, when it has one.
pub(crate) const VERSION_CHECK: Duration = Duration::from_secs(2);
/// The cache's store timeout (the runtime's default).
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_millis(200);
/// Cross-container single-flight: a waiter gives up after `wait`, or takes over when the
/// lease lapses after `lease_ttl`, both on tokio's (here paused) clock.
pub(crate) const FLIGHT: DistributedFlight = DistributedFlight {
    lease_ttl: Duration::from_secs(3),
    wait: Duration::from_secs(5),
    poll: Duration::from_millis(50),
};
/// How long the simulation idles after the last operation: past every timeout, network
/// delay, origin call and background refresh.
pub(crate) const QUIESCE: Duration = Duration::from_secs(10);

/// With the origin policies: the store TTL, short so values expire, and fail-safe serves
/// them, within a run's pauses.
pub(crate) const POLICY_TTL: Duration = Duration::from_secs(4);
/// With the origin policies: the L1 TTL.
pub(crate) const POLICY_MEMORY_TTL: Duration = Duration::from_secs(3);
/// With the origin policies: the stale-while-revalidate window (within `max_stale`, so a
/// value served stale is never kept past `max_stale` for the window's sake).
pub(crate) const POLICY_STALE_WINDOW: Duration = Duration::from_secs(3);
/// The origin policy of a data type with policies: every setting on. The origins'
/// durations (mostly under 800 ms, now and then up to 4 s) fall on both sides of both
/// timeouts.
pub(crate) const POLICY: OriginPolicy = OriginPolicy {
    fail_safe: Some(FailSafe {
        max_stale: Duration::from_secs(8),
        throttle: Duration::from_secs(2),
    }),
    soft_timeout: Some(Duration::from_millis(300)),
    hard_timeout: Some(Duration::from_millis(1_500)),
    eager_refresh: Some(0.5),
    ttl_jitter: Duration::from_secs(1),
    negative_ttl: Some(Duration::from_secs(2)),
    ttl_bounds: Some((Duration::from_secs(1), Duration::from_secs(6))),
};

/// The data type's settings under `config`: its store TTL, L1 TTL, stale-while-revalidate
/// window and origin policy.
pub(crate) fn settings(config: &SimConfig) -> (Duration, Duration, Duration, OriginPolicy) {
    if config.policies {
        (POLICY_TTL, POLICY_MEMORY_TTL, POLICY_STALE_WINDOW, POLICY)
    } else {
        (TTL, MEMORY_TTL, STALE_WINDOW, OriginPolicy::NONE)
    }
}

/// The simulated data type: keys `sim#<n>`, tag `group<n % 2>`, and the settings under
/// test as const parameters (a `DataType`'s settings are constants).
pub(crate) struct SimType<
    const VERSION_CHECKED: bool,
    const DISTRIBUTED: bool,
    const POLICIES: bool,
>(PhantomData<()>);

impl<const VERSION_CHECKED: bool, const DISTRIBUTED: bool, const POLICIES: bool> DataType
    for SimType<VERSION_CHECKED, DISTRIBUTED, POLICIES>
{
    type Key = u32;
    type Value = Made;
    const NAME: &'static str = "sim";
    const TTL: Duration = if POLICIES { POLICY_TTL } else { TTL };
    const MEMORY_TTL: Duration = if POLICIES {
        POLICY_MEMORY_TTL
    } else {
        MEMORY_TTL
    };
    const STALE_WHILE_REVALIDATE: Option<Duration> = Some(if POLICIES {
        POLICY_STALE_WINDOW
    } else {
        STALE_WINDOW
    });
    const KEY_PREFIX: &'static str = "sim#";
    const DISTRIBUTED_FLIGHT: bool = DISTRIBUTED;
    const VERSION_CHECK: Option<Duration> = if VERSION_CHECKED {
        Some(VERSION_CHECK)
    } else {
        None
    };
    const POLICY: OriginPolicy = if POLICIES { POLICY } else { OriginPolicy::NONE };

    fn key(key: &u32) -> String {
        format!("sim#{key}")
    }

    fn tags(key: &u32) -> Vec<String> {
        vec![tag_name(tag_of(*key))]
    }
}

/// The name of tag `tag`.
fn tag_name(tag: u32) -> String {
    format!("group{tag}")
}

/// One simulated run: what was asked, what happened, and what the store saw.
#[derive(Debug)]
pub(crate) struct Run {
    /// The seed of the network's faults (and of the plan, when generated).
    pub seed: u64,
    /// The parameters.
    pub config: SimConfig,
    /// The operations asked for.
    pub plan: Vec<Step>,
    /// The operations as they happened, in the order they ended.
    pub history: Vec<Record>,
    /// The store's calls and leases.
    pub store: StoreLog,
    /// Origin calls made.
    pub origin_reads: u64,
    /// Origin reads that found the row removed.
    pub not_found: Vec<NotFound>,
    /// Virtual ms from the start until the last operation ended.
    pub elapsed_ms: u64,
}

/// Runs `plan` on the simulated store, with the network's faults drawn from `seed`.
pub(crate) fn run(seed: u64, config: &SimConfig, plan: &[Step]) -> Run {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    // The runtime's own randomness (versions, lease poll jitter, holder names) comes from
    // this thread's fastrand generator: seeded, a run replays.
    fastrand::seed(seed);
    runtime.block_on(async {
        let time = Arc::new(VirtualTime::start());
        let network = Network::new(seed, config.faults, time.clone());
        let backend = Backend {
            network,
            time,
            key_prefix: String::new(),
            quiesce: QUIESCE,
        };
        simulate(seed, config, plan, backend).await
    })
}

/// Runs the plan `seed` generates.
pub(crate) fn run_seed(seed: u64, config: &SimConfig) -> Run {
    run(seed, config, &crate::workload::plan(seed, config))
}

/// What a run runs on: the store behind its network, its clock, the caches' key prefix,
/// and how long it idles after the last operation.
pub(crate) struct Backend {
    /// The store and the network in front of it.
    pub network: Arc<Network>,
    /// The clock of the caches, the store and the recorder.
    pub time: Arc<VirtualTime>,
    /// The caches' key prefix (empty: none).
    pub key_prefix: String,
    /// The idle time after the last operation.
    pub quiesce: Duration,
}

/// Runs `plan` on `backend`, in the running tokio runtime.
pub(crate) async fn simulate(
    seed: u64,
    config: &SimConfig,
    plan: &[Step],
    backend: Backend,
) -> Run {
    match (config.version_check, config.distributed, config.policies) {
        (false, false, false) => {
            simulate_as::<SimType<false, false, false>>(seed, config, plan, backend).await
        }
        (false, true, false) => {
            simulate_as::<SimType<false, true, false>>(seed, config, plan, backend).await
        }
        (true, false, false) => {
            simulate_as::<SimType<true, false, false>>(seed, config, plan, backend).await
        }
        (true, true, false) => {
            simulate_as::<SimType<true, true, false>>(seed, config, plan, backend).await
        }
        (false, false, true) => {
            simulate_as::<SimType<false, false, true>>(seed, config, plan, backend).await
        }
        (false, true, true) => {
            simulate_as::<SimType<false, true, true>>(seed, config, plan, backend).await
        }
        (true, false, true) => {
            simulate_as::<SimType<true, false, true>>(seed, config, plan, backend).await
        }
        (true, true, true) => {
            simulate_as::<SimType<true, true, true>>(seed, config, plan, backend).await
        }
    }
}

/// Shared by every operation of a run.
struct World {
    time: Arc<VirtualTime>,
    source: Source,
    history: History,
    origin_reads: AtomicU64,
    not_found: Mutex<Vec<NotFound>>,
    keys: u32,
}

async fn simulate_as<D: DataType<Key = u32, Value = Made>>(
    seed: u64,
    config: &SimConfig,
    plan: &[Step],
    backend: Backend,
) -> Run {
    let Backend {
        network,
        time,
        key_prefix,
        quiesce,
    } = backend;
    let world = Arc::new(World {
        time: time.clone(),
        source: Source::new(config.keys),
        history: History::default(),
        origin_reads: AtomicU64::new(0),
        not_found: Mutex::default(),
        keys: config.keys,
    });
    let clock: Arc<dyn Clock> = time.clone();
    let containers: Vec<Arc<TypedCache<D>>> = (0..config.containers)
        .map(|container| {
            let mut builder = TieredCache::builder();
            if !key_prefix.is_empty() {
                builder = builder.key_prefix(key_prefix.clone());
            }
            let cache = builder
                .store(Arc::new(network.view(container)))
                .clock(clock.clone())
                .memory(MemoryLimit::entries(10_000))
                .store_timeout(STORE_TIMEOUT)
                .distributed_flight(FLIGHT)
                .service("coherence")
                .build();
            Arc::new(TypedCache::new(&cache))
        })
        .collect();

    let mut operations = JoinSet::new();
    for (op, step) in plan.iter().copied().enumerate() {
        let (world, cache) = (world.clone(), containers[step.container].clone());
        operations.spawn(as_operation(op, async move {
            tokio::time::sleep(Duration::from_millis(step.at_ms)).await;
            perform(&world, &cache, op, step).await;
        }));
    }
    while let Some(done) = operations.join_next().await {
        done.expect("an operation panicked");
    }
    let elapsed_ms = time.elapsed_ms();
    tokio::time::sleep(quiesce).await;

    let world = Arc::into_inner(world).expect("every operation has ended");
    Run {
        seed,
        config: *config,
        plan: plan.to_vec(),
        history: world.history.into_records(),
        store: network.log(),
        origin_reads: world.origin_reads.into_inner(),
        not_found: world.not_found.into_inner().expect("not-found lock"),
        elapsed_ms,
    }
}

/// Runs one step in its container and records it. Writers change the source first and
/// then call the cache, as real writers do.
async fn perform<D: DataType<Key = u32, Value = Made>>(
    world: &Arc<World>,
    cache: &TypedCache<D>,
    op: usize,
    step: Step,
) {
    // A removed row comes back when a writer writes that key; changes to a whole tag or
    // type leave it removed, so a negative entry outlives them unless invalidated.
    let present = match step.op {
        Op::Remove { .. } => Some(false),
        Op::InvalidateTag { .. } | Op::InvalidateAll => None,
        _ => Some(true),
    };
    for key in step.op.writes(world.keys) {
        world.source.write(key, present);
    }
    let start = world.time.mark();
    let container = step.container;
    let origin = |key, delays| Origin {
        world: world.clone(),
        key,
        container,
        op,
        delays,
    };
    let call = async {
        let result: Result<Outcome, CacheError> = match step.op {
            Op::Get { key } => cache.get(&key).await.map(Outcome::Value),
            Op::Wrap {
                key,
                origin: delays,
            } => {
                let origin = origin(key, delays);
                cache
                    .wrap_served(&key, || origin.value())
                    .await
                    .map(Outcome::served)
            }
            Op::WrapSwr {
                key,
                origin: delays,
            } => {
                let origin = origin(key, delays);
                cache
                    .wrap_swr_served(&key, || origin.value())
                    .await
                    .map(Outcome::served)
            }
            Op::WrapOptional {
                key,
                origin: delays,
            } => {
                let origin = origin(key, delays);
                cache
                    .wrap_optional(&key, || origin.optional())
                    .await
                    .map(|found| found.map_or(Outcome::NotFound, Outcome::Found))
            }
            Op::WrapExpiring {
                key,
                origin: delays,
                told_ms,
            } => {
                let origin = origin(key, delays);
                cache
                    .wrap_expiring(&key, || origin.expiring(told_ms))
                    .await
                    .map(Outcome::Found)
            }
            Op::Set { key } => {
                let made = Made {
                    key,
                    version: world.source.read(key),
                    called: start,
                    read: start,
                    told_ms: None,
                    container,
                    op,
                    by: Maker::Writer,
                };
                cache.set(&key, &made).await.map(|()| Outcome::Done)
            }
            Op::Delete { key } | Op::Remove { key } => {
                cache.delete(&key).await.map(|()| Outcome::Done)
            }
            Op::InvalidateTag { tag } => cache
                .invalidate_tag(&tag_name(tag))
                .await
                .map(|_| Outcome::Done),
            Op::InvalidateAll => cache.invalidate_all().await.map(|_| Outcome::Done),
        };
        result.unwrap_or_else(|e| Outcome::Failed(e.to_string()))
    };
    let outcome = match step.cancel_after_ms {
        Some(ms) => tokio::time::timeout(Duration::from_millis(ms), call)
            .await
            .unwrap_or(Outcome::Cancelled),
        None => call.await,
    };
    world.history.push(Record {
        op,
        container,
        action: step.op,
        start,
        end: world.time.mark(),
        outcome,
    });
}

/// The origin of one lookup: waits, reads the source (recording when, and which version),
/// waits again, and returns what it read, or fails as its delays say.
struct Origin {
    world: Arc<World>,
    key: u32,
    container: usize,
    op: usize,
    delays: Delays,
}

/// What a failing origin answers.
const ORIGIN_DOWN: &str = "origin down";

impl Origin {
    /// The row as read: the value made from it, and whether it exists.
    async fn read(self) -> Result<(Made, bool), &'static str> {
        let world = self.world;
        let called = world.time.mark();
        tokio::time::sleep(Duration::from_millis(self.delays.before_ms)).await;
        let read = world.time.mark();
        let row = world.source.row(self.key);
        world.origin_reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(self.delays.after_ms)).await;
        if self.delays.fails {
            return Err(ORIGIN_DOWN);
        }
        let made = Made {
            key: self.key,
            version: row.version,
            called,
            read,
            told_ms: None,
            container: self.container,
            op: self.op,
            by: Maker::Origin,
        };
        Ok((made, row.present))
    }

    /// For `wrap` and `wrap_swr`: the value, whether or not the row exists.
    fn value(self) -> BoxedAnswer<Made> {
        Box::pin(async move { self.read().await.map(|(made, _)| made) })
    }

    /// For `wrap_optional`: "not found" while the row is removed.
    fn optional(self) -> BoxedAnswer<Option<Made>> {
        Box::pin(async move {
            let world = self.world.clone();
            let (made, present) = self.read().await?;
            if !present {
                let not_found = NotFound {
                    key: made.key,
                    op: made.op,
                    called: made.called,
                    read: made.read,
                };
                world
                    .not_found
                    .lock()
                    .expect("not-found lock")
                    .push(not_found);
            }
            Ok(present.then_some(made))
        })
    }

    /// For `wrap_expiring`: the value with the TTL `told_ms`.
    fn expiring(self, told_ms: u64) -> BoxedAnswer<(Made, Duration)> {
        Box::pin(async move {
            self.read().await.map(|(made, _)| {
                let made = Made {
                    told_ms: Some(told_ms),
                    ..made
                };
                (made, Duration::from_millis(told_ms))
            })
        })
    }
}

/// An origin's answer, as a future that may outlive its caller.
type BoxedAnswer<T> =
    std::pin::Pin<Box<dyn Future<Output = Result<T, &'static str>> + Send + 'static>>;
