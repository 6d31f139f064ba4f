//! The seeded workload of idempotent calls: parameters, and the plan of calls they give.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::store::Faults;

/// How long a completed record is returned to retries in the simulation: short, so
/// records expire within a run.
pub(crate) const WINDOW: Duration = Duration::from_secs(8);

/// A store that is slow rather than lossy: a fifth of trips take up to 1.5 s, past the
/// idempotency store timeout ([`super::sim::STORE_TIMEOUT`]).
pub(crate) const SLOW: Faults = Faults {
    delay_ms: 60,
    slow_rate: 0.2,
    slow_ms: 1_500,
    lost_rate: 0.0,
    unanswered_rate: 0.0,
};

/// The parameters of an idempotency run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdemConfig {
    /// Simulated containers, each with its own handle on the one store.
    pub containers: usize,
    /// Distinct idempotency keys.
    pub keys: u32,
    /// Calls in a plan.
    pub calls: usize,
    /// What the network between the containers and the store does.
    pub faults: Faults,
    /// Whether a duplicate in flight waits (`InFlight::Wait`) instead of being refused.
    pub wait: bool,
    /// How long a completed record is returned to retries.
    pub window: Duration,
}

impl IdemConfig {
    /// The configuration the seed budget uses: `containers`, 2 keys, 30 calls, and the
    /// seed's low bits choosing waiting duplicates (bit 0), a rough network (bit 1) and
    /// a slow store (bit 2).
    pub(crate) fn varied(seed: u64, containers: usize) -> Self {
        let faults = match (seed & 2 == 2, seed & 4 == 4) {
            (false, false) => Faults::CALM,
            (true, false) => Faults::ROUGH,
            (false, true) => SLOW,
            (true, true) => Faults {
                lost_rate: Faults::ROUGH.lost_rate,
                unanswered_rate: Faults::ROUGH.unanswered_rate,
                ..SLOW
            },
        };
        Self {
            containers,
            keys: 2,
            calls: 30,
            faults,
            wait: seed & 1 == 1,
            window: WINDOW,
        }
    }
}

/// What the handler does: its side effect `effect_ms` after it is called, its return
/// `return_ms` after that, with an error if it `fails`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Handler {
    /// Virtual ms from the call to the side effect.
    pub effect_ms: u64,
    /// Virtual ms from the side effect to the return.
    pub return_ms: u64,
    /// Whether it returns an error (after its side effect).
    pub fails: bool,
}

/// How a call's invocation ends, if not by returning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It runs to its end.
    Finishes,
    /// Its future is dropped `after_ms` in (a timeout or a cancelled request): the
    /// runtime gives its in-progress record back.
    Cancelled { after_ms: u64 },
    /// Its process dies `after_ms` in: the future is forgotten, nothing is given back,
    /// and the in-progress record lapses at the invocation's deadline.
    Crashes { after_ms: u64 },
}

/// One planned invocation of the idempotent handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Call {
    /// Virtual ms after the start at which it begins.
    pub at_ms: u64,
    /// The container that runs it.
    pub container: usize,
    /// Its idempotency key.
    pub key: u32,
    /// Which payload it carries under that key (0 mostly; 1 is a changed request).
    pub payload: u32,
    /// Its handler.
    pub handler: Handler,
    /// Virtual ms from its start to its invocation's deadline.
    pub invocation_ms: u64,
    /// How it ends.
    pub ending: Ending,
}

/// The plan for `seed`: calls mostly in bursts (duplicates overlap, in and across
/// containers), with pauses of seconds and now and then past the record window; handlers
/// mostly quicker than the invocation, a tenth slower (their record lapses while they
/// run); a sixth fail, a twelfth are cancelled and a twelfth crash.
pub(crate) fn plan(seed: u64, config: &IdemConfig) -> Vec<Call> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut at_ms = 0;
    (0..config.calls)
        .map(|_| {
            at_ms += match rng.random_range(0..100) {
                0..70 => rng.random_range(0..150),
                70..95 => rng.random_range(150..2_500),
                _ => rng.random_range(5_000..12_000),
            };
            let handler = Handler {
                effect_ms: rng.random_range(0..200),
                return_ms: if rng.random_bool(0.9) {
                    rng.random_range(0..600)
                } else {
                    rng.random_range(1_500..5_000)
                },
                fails: rng.random_bool(1.0 / 6.0),
            };
            let ending = match rng.random_range(0..12) {
                0 => Ending::Cancelled {
                    after_ms: rng.random_range(0..800),
                },
                1 => Ending::Crashes {
                    after_ms: rng.random_range(0..800),
                },
                _ => Ending::Finishes,
            };
            Call {
                at_ms,
                container: rng.random_range(0..config.containers),
                key: rng.random_range(0..config.keys),
                payload: u32::from(rng.random_bool(0.15)),
                handler,
                invocation_ms: rng.random_range(1_000..4_000),
                ending,
            }
        })
        .collect()
}
