//! The simulated world outside the cache: virtual time, event marks, and the source of
//! truth the origins read and the writers change.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use cachegen_runtime::clock::Clock;
use serde::{Deserialize, Serialize};

/// Epoch ms at virtual time zero (fixed, so every run of a seed sees the same clock).
const EPOCH_MS: u64 = 1_700_000_000_000;

/// A point in the simulation: virtual ms since its start, and a sequence number that
/// orders events at the same virtual instant (one thread runs everything, so the
/// sequence is the real order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mark {
    /// Sequence number, strictly increasing.
    pub seq: u64,
    /// Virtual ms since the simulation started.
    pub ms: u64,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{:03}s (#{})",
            self.ms / 1000,
            self.ms % 1000,
            self.seq
        )
    }
}

/// Virtual time: tokio's paused clock, read as epoch ms by the caches and the store, and
/// as [`Mark`]s by the recorder.
#[derive(Debug)]
pub struct VirtualTime {
    start: tokio::time::Instant,
    seq: AtomicU64,
}

impl VirtualTime {
    /// Time zero is now (call inside the simulation's runtime).
    pub fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            seq: AtomicU64::new(0),
        }
    }

    /// Virtual ms since the start.
    pub fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The next mark.
    pub fn mark(&self) -> Mark {
        Mark {
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            ms: self.elapsed_ms(),
        }
    }
}

impl Clock for VirtualTime {
    fn now_ms(&self) -> u64 {
        EPOCH_MS + self.elapsed_ms()
    }
}

/// The simulated database: one version number per key, starting at 0.
#[derive(Debug)]
pub struct Source(Mutex<Vec<u64>>);

impl Source {
    /// `keys` rows at version 0.
    pub fn new(keys: u32) -> Self {
        Self(Mutex::new(vec![0; keys as usize]))
    }

    /// The current version of `key`.
    pub fn read(&self, key: u32) -> u64 {
        self.0.lock().expect("source lock")[key as usize]
    }

    /// A writer changes `key`: its version goes up by one.
    pub fn bump(&self, key: u32) -> u64 {
        let mut versions = self.0.lock().expect("source lock");
        versions[key as usize] += 1;
        versions[key as usize]
    }
}

/// Who made a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Maker {
    /// An origin call of a `wrap` or `wrap_swr` (possibly its background refresh).
    Origin,
    /// A writer's explicit `set`.
    Writer,
}

/// The cached value: what it was made from, so the checker can judge every value served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    /// The key it was made for.
    pub key: u32,
    /// The source version read.
    pub version: u64,
    /// When the source was read (the origin read's start, or the writer's change).
    pub read: Mark,
    /// The container that made it.
    pub container: usize,
    /// The operation that made it.
    pub op: usize,
    /// Origin call or writer.
    pub by: Maker,
}

impl std::fmt::Display for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = match self.by {
            Maker::Origin => "origin read",
            Maker::Writer => "writer's set, made",
        };
        write!(
            f,
            "sim#{} v{} ({by} at {}, by op {} in container {})",
            self.key, self.version, self.read, self.op, self.container
        )
    }
}
