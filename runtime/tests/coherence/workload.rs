//! The seeded workload: the simulation's parameters and the plan of operations they give.
//!
//! A plan is plain data (its `Debug` form is a Rust literal), so a failing plan can be
//! minimised and pasted into a regression test that no longer depends on the generator.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::store::Faults;

/// Tags in the workload: key `k` carries tag `k % TAGS`.
pub(crate) const TAGS: u32 = 2;

/// The tag key `k` is written with.
pub(crate) fn tag_of(key: u32) -> u32 {
    key % TAGS
}

/// The simulation's parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SimConfig {
    /// Simulated containers (separate `TieredCache`s over the one store).
    pub containers: usize,
    /// Distinct keys.
    pub keys: u32,
    /// Operations in a plan.
    pub ops: usize,
    /// What the network between the containers and the store does.
    pub faults: Faults,
    /// Whether the data type uses cross-container single-flight.
    pub distributed: bool,
    /// Whether the data type has a `version_check` bound.
    pub version_check: bool,
    /// Share of operations cancelled (dropped through a timeout) part-way.
    pub cancel_rate: f64,
    /// Whether the data type has an origin policy ([`crate::sim::POLICY`]: fail-safe,
    /// timeouts, eager refresh, jitter, negative and adaptive TTLs, with short TTLs so
    /// values expire within a run), and the workload failing origins, `wrap_optional`
    /// over rows writers remove, and `wrap_expiring`.
    pub policies: bool,
}

impl SimConfig {
    /// The configuration the seed budget uses: `containers`, 2 keys, 40 operations, and
    /// the seed's low bits choosing distributed flight (bit 0), a version check (bit 1),
    /// a rough network (bit 2) and the origin policies (bit 3).
    pub(crate) fn varied(seed: u64, containers: usize) -> Self {
        Self {
            containers,
            keys: 2,
            ops: 40,
            faults: if seed & 4 == 0 {
                Faults::CALM
            } else {
                Faults::ROUGH
            },
            distributed: seed & 1 == 1,
            version_check: seed & 2 == 2,
            cancel_rate: 0.1,
            policies: seed & 8 == 8,
        }
    }
}

/// How long an origin call takes before and after it reads the source, and whether it
/// then fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delays {
    /// Virtual ms before the read.
    pub before_ms: u64,
    /// Virtual ms after the read, until the origin returns.
    pub after_ms: u64,
    /// Whether it returns an error instead of what it read.
    pub fails: bool,
}

/// One operation of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `TypedCache::get`.
    Get { key: u32 },
    /// `TypedCache::wrap`, with the origin's timing.
    Wrap { key: u32, origin: Delays },
    /// `TypedCache::wrap_swr`, with the origin's timing.
    WrapSwr { key: u32, origin: Delays },
    /// `TypedCache::wrap_optional`: the origin answers "not found" while the source row
    /// is removed.
    WrapOptional { key: u32, origin: Delays },
    /// `TypedCache::wrap_expiring`: the origin tells the value's TTL.
    WrapExpiring {
        key: u32,
        origin: Delays,
        told_ms: u64,
    },
    /// A writer changes the source, then `set`s the new version.
    Set { key: u32 },
    /// A writer changes the source, then `delete`s the key.
    Delete { key: u32 },
    /// A writer removes the source row, then `delete`s the key.
    Remove { key: u32 },
    /// A writer changes every key of the tag, then `invalidate_tag`s it.
    InvalidateTag { tag: u32 },
    /// A writer changes every key, then `invalidate_all`s the type.
    InvalidateAll,
}

impl Op {
    /// The key a lookup reads, or `None` for other operations.
    pub(crate) fn lookup_key(&self) -> Option<u32> {
        match *self {
            Op::Get { key }
            | Op::Wrap { key, .. }
            | Op::WrapSwr { key, .. }
            | Op::WrapOptional { key, .. }
            | Op::WrapExpiring { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Whether this is an invalidation that removes `key`.
    pub(crate) fn invalidates(&self, key: u32) -> bool {
        match *self {
            Op::Delete { key: deleted } | Op::Remove { key: deleted } => deleted == key,
            Op::InvalidateTag { tag } => tag_of(key) == tag,
            Op::InvalidateAll => true,
            _ => false,
        }
    }

    /// The keys a writer changes in the source before calling the cache.
    pub(crate) fn writes(&self, keys: u32) -> Vec<u32> {
        match *self {
            Op::Set { key } | Op::Delete { key } | Op::Remove { key } => vec![key],
            Op::InvalidateTag { tag } => (0..keys).filter(|k| tag_of(*k) == tag).collect(),
            Op::InvalidateAll => (0..keys).collect(),
            _ => Vec::new(),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Get { key } => write!(f, "get sim#{key}"),
            Op::Wrap { key, origin } => write!(f, "wrap sim#{key} (origin {origin:?})"),
            Op::WrapSwr { key, origin } => write!(f, "wrap_swr sim#{key} (origin {origin:?})"),
            Op::WrapOptional { key, origin } => {
                write!(f, "wrap_optional sim#{key} (origin {origin:?})")
            }
            Op::WrapExpiring {
                key,
                origin,
                told_ms,
            } => write!(
                f,
                "wrap_expiring sim#{key} (origin {origin:?}, telling {told_ms} ms)"
            ),
            Op::Set { key } => write!(f, "set sim#{key}"),
            Op::Delete { key } => write!(f, "delete sim#{key}"),
            Op::Remove { key } => write!(f, "remove sim#{key} (the row, then the key)"),
            Op::InvalidateTag { tag } => write!(f, "invalidate_tag group{tag}"),
            Op::InvalidateAll => write!(f, "invalidate_all"),
        }
    }
}

/// One planned operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// Virtual ms after the start at which it begins.
    pub at_ms: u64,
    /// The container that runs it.
    pub container: usize,
    /// What it does.
    pub op: Op,
    /// Dropped this many virtual ms after it began, if it has not finished.
    pub cancel_after_ms: Option<u64>,
}

/// Operation weights: lookups dominate, as in a read-through cache.
const MIX: [(u32, OpKind); 7] = [
    (20, OpKind::Get),
    (25, OpKind::Wrap),
    (15, OpKind::WrapSwr),
    (8, OpKind::Set),
    (14, OpKind::Delete),
    (10, OpKind::InvalidateTag),
    (5, OpKind::InvalidateAll),
];

#[derive(Clone, Copy)]
enum OpKind {
    Get,
    Wrap,
    WrapSwr,
    Set,
    Delete,
    InvalidateTag,
    InvalidateAll,
}

/// The plan for `seed`: operations in start order, mostly in bursts (gaps under 150 ms,
/// so origin calls overlap invalidations) with pauses of seconds and, now and then, of a
/// minute or more (so L1 and store entries expire and stale windows open). With
/// [`SimConfig::policies`], a second stream of the seed then varies the plan
/// ([`with_policies`]), so the first stays what it was for every earlier seed.
pub(crate) fn plan(seed: u64, config: &SimConfig) -> Vec<Step> {
    let plan = base_plan(seed, config);
    if config.policies {
        with_policies(seed, plan)
    } else {
        plan
    }
}

/// The stream [`with_policies`] draws from, apart from the base plan's.
const POLICY_STREAM: u64 = 1;

/// `plan` with the origin policies' cases: its pauses of a minute or more shortened to
/// 3 to 12 s (past the policy's TTL, within or past its `max_stale`), a share of origins
/// fail, a share of `wrap`s become `wrap_optional` or `wrap_expiring` (telling a TTL from
/// under to over the type's bounds), and a share of deletes remove the source row first.
fn with_policies(seed: u64, mut plan: Vec<Step>) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(POLICY_STREAM);
    let (mut was_ms, mut at_ms) = (0, 0);
    for step in &mut plan {
        let gap = step.at_ms - was_ms;
        was_ms = step.at_ms;
        at_ms += if gap >= 20_000 {
            rng.random_range(3_000..12_000)
        } else {
            gap
        };
        step.at_ms = at_ms;
        let fails = rng.random_bool(0.3);
        let told_ms = rng.random_range(0..8_000);
        let pick = rng.random_range(0..100);
        step.op = match step.op {
            Op::Wrap { key, origin } => {
                let origin = Delays { fails, ..origin };
                match pick {
                    0..30 => Op::WrapOptional { key, origin },
                    30..50 => Op::WrapExpiring {
                        key,
                        origin,
                        told_ms,
                    },
                    _ => Op::Wrap { key, origin },
                }
            }
            Op::WrapSwr { key, origin } => Op::WrapSwr {
                key,
                origin: Delays { fails, ..origin },
            },
            Op::Delete { key } if pick < 40 => Op::Remove { key },
            op => op,
        };
    }
    plan
}

fn base_plan(seed: u64, config: &SimConfig) -> Vec<Step> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut at_ms = 0;
    (0..config.ops)
        .map(|_| {
            at_ms += match rng.random_range(0..100) {
                0..70 => rng.random_range(0..150),
                70..95 => rng.random_range(150..3_000),
                _ => rng.random_range(20_000..90_000),
            };
            let key = rng.random_range(0..config.keys);
            let origin = Delays {
                before_ms: rng.random_range(0..50),
                after_ms: if rng.random_bool(0.9) {
                    rng.random_range(0..800)
                } else {
                    rng.random_range(800..4_000)
                },
                fails: false,
            };
            let total: u32 = MIX.iter().map(|(weight, _)| weight).sum();
            let mut pick = rng.random_range(0..total);
            let kind = MIX
                .iter()
                .find(|(weight, _)| {
                    let here = pick < *weight;
                    pick = pick.saturating_sub(*weight);
                    here
                })
                .map(|(_, kind)| *kind)
                .expect("a weight is picked");
            let op = match kind {
                OpKind::Get => Op::Get { key },
                OpKind::Wrap => Op::Wrap { key, origin },
                OpKind::WrapSwr => Op::WrapSwr { key, origin },
                OpKind::Set => Op::Set { key },
                OpKind::Delete => Op::Delete { key },
                OpKind::InvalidateTag => Op::InvalidateTag {
                    tag: tag_of(rng.random_range(0..config.keys)),
                },
                OpKind::InvalidateAll => Op::InvalidateAll,
            };
            let container = rng.random_range(0..config.containers);
            let cancel_after_ms = rng
                .random_bool(config.cancel_rate)
                .then(|| rng.random_range(0..600));
            Step {
                at_ms,
                container,
                op,
                cancel_after_ms,
            }
        })
        .collect()
}
