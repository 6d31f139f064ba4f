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
pub(crate) struct Mark {
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
pub(crate) struct VirtualTime {
    start: tokio::time::Instant,
    seq: AtomicU64,
}

impl VirtualTime {
    /// Time zero is now (call inside the simulation's runtime).
    pub(crate) fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            seq: AtomicU64::new(0),
        }
    }

    /// Virtual ms since the start.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The next mark.
    pub(crate) fn mark(&self) -> Mark {
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

/// The simulated database: per key a version number, starting at 0, and whether the row
/// exists (it does until a writer removes it, and again once a writer sets or deletes the
/// key).
#[derive(Debug)]
pub(crate) struct Source(Mutex<Vec<Row>>);

/// One row of the [`Source`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    /// Its version.
    pub version: u64,
    /// Whether it exists.
    pub present: bool,
}

impl Source {
    /// `keys` rows at version 0.
    pub(crate) fn new(keys: u32) -> Self {
        let row = Row {
            version: 0,
            present: true,
        };
        Self(Mutex::new(vec![row; keys as usize]))
    }

    /// The row of `key` now.
    pub(crate) fn row(&self, key: u32) -> Row {
        self.0.lock().expect("source lock")[key as usize]
    }

    /// The current version of `key`.
    pub(crate) fn read(&self, key: u32) -> u64 {
        self.row(key).version
    }

    /// A writer changes `key`: its version goes up by one, and the row exists or not as
    /// `present` says (`None`: as it did).
    pub(crate) fn write(&self, key: u32, present: Option<bool>) {
        let mut rows = self.0.lock().expect("source lock");
        let row = &mut rows[key as usize];
        *row = Row {
            version: row.version + 1,
            present: present.unwrap_or(row.present),
        };
    }
}

/// An origin read that found the row removed: `wrap_optional`'s "not found", which the
/// cache keeps as a negative entry. A `None` carries nothing of where it came from, so the
/// checker judges a served "not found" against these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NotFound {
    /// The key read.
    pub key: u32,
    /// The operation whose origin it was.
    pub op: usize,
    /// When the origin was called.
    pub called: Mark,
    /// When it read the source.
    pub read: Mark,
}

/// Who made a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Maker {
    /// An origin call of a `wrap` or `wrap_swr` (possibly its background refresh).
    Origin,
    /// A writer's explicit `set`.
    Writer,
}

/// The cached value: what it was made from, so the checker can judge every value served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Made {
    /// The key it was made for.
    pub key: u32,
    /// The source version read.
    pub version: u64,
    /// When the origin was called (its value's TTL counts from then), or the writer
    /// called `set`.
    pub called: Mark,
    /// When the source was read (the origin read's start, or the writer's change).
    pub read: Mark,
    /// The TTL the origin told with the value (`wrap_expiring`), ms.
    pub told_ms: Option<u64>,
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
