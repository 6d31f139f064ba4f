//! The in-process layer: values already decoded, bounded by entries and by their decoded
//! size; and this process's own per-key invalidations, which reach its L1 and its
//! in-flight reads at once.
//!
//! The cache is quick_cache's, whose hit costs a fraction of moka's (BENCHMARKS.md): it
//! has no expiry of its own, so a reader checks an entry's and removes it when past.

use std::any::Any;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::stamps::Check;
use crate::bounded::{MemoryLimit, Weighed, Weigher, read_mostly_cache};
use crate::envelope::EnvelopeMeta;

/// Stripes of this process's per-key invalidation record.
const STRIPES: usize = 4096;
/// Locks over the stripes.
const LOCKS: usize = 64;

/// When a read began: its place in this process's invalidation order, and the clock.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticket {
    /// [`Local::epoch`] then.
    pub epoch: u64,
    /// The clock then, ms.
    pub at_ms: u64,
}

/// What a value's validity rests on: when its read began, and the stamps it was checked
/// against.
#[derive(Clone, Debug)]
pub(super) struct Validity {
    /// When the read began.
    pub ticket: Ticket,
    /// The stamps and generations it depends on.
    pub checks: Arc<[Check]>,
    /// Whether the checks include the L1-only ones, so an L1 copy may rest on them.
    pub for_memory: bool,
}

impl Validity {
    /// The validity of a read that began at `ticket`: `checks`, plus the L1-only ones
    /// when they could be taken.
    pub(super) fn new(ticket: Ticket, mut checks: Vec<Check>, memory: Option<[Check; 2]>) -> Self {
        let for_memory = memory.is_some();
        checks.extend(memory.into_iter().flatten());
        Self {
            ticket,
            checks: checks.into(),
            for_memory,
        }
    }
}

/// One L1 entry, its value stored inline: one allocation, which a hit reaches through
/// one `Arc` (`Value` is the concrete type when built, `dyn Any` in the cache).
pub(super) struct L1Entry<Value: ?Sized = dyn Any + Send + Sync> {
    /// Its times (capped at the handle's memory TTL).
    pub meta: EnvelopeMeta,
    pub validity: Validity,
    /// Decoded size in bytes (its JSON), what the byte bound counts.
    size: usize,
    pub value: Value,
}

impl Weighed for L1Entry {
    fn size(&self) -> usize {
        self.size
    }
}

impl std::fmt::Debug for L1Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Entry")
            .field("expires_at_ms", &self.meta.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The L1 cache.
#[derive(Debug)]
pub(super) struct Memory {
    cache: quick_cache::sync::Cache<String, Arc<L1Entry>, Weigher>,
}

impl Memory {
    pub(super) fn new(limit: MemoryLimit) -> Self {
        Self {
            cache: read_mostly_cache(limit),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<Arc<L1Entry>> {
        self.cache.get(key)
    }

    /// Keeps `value` until `meta.expires_at_ms` (`now_ms` being the clock's time).
    pub(super) fn insert<T: Any + Send + Sync>(
        &self,
        key: &str,
        value: T,
        meta: EnvelopeMeta,
        now_ms: u64,
        size: usize,
        validity: Validity,
    ) {
        if meta.expires_at_ms <= now_ms {
            return;
        }
        let entry: Arc<L1Entry> = Arc::new(L1Entry {
            meta,
            validity,
            size: key.len() + size,
            value,
        });
        self.cache.insert(key.to_owned(), entry);
    }

    pub(super) fn remove(&self, key: &str) {
        self.cache.remove(key);
    }

    pub(super) fn clear(&self) {
        self.cache.clear();
    }

    #[cfg(test)]
    pub(super) fn weighted_size(&self) -> u64 {
        self.cache.weight()
    }
}

/// This process's invalidation order: a counter every invalidation raises, and per key
/// stripe the value it had at the last invalidation of a key in that stripe. An L1 copy
/// is kept only if no invalidation of its stripe (or of everything) came after its read
/// began, checked and inserted atomically with invalidations, which remove the key's copy
/// under the same lock: a copy in L1 is never older than an invalidation of its key. (Two
/// keys in one stripe cost a refused insert, a re-read later, never a dropped copy.)
#[derive(Debug)]
pub(super) struct Local {
    epoch: AtomicU64,
    /// Set by `clear_memory`: every read before it is invalid.
    cleared: AtomicU64,
    stripes: Box<[AtomicU64]>,
    /// Serialise inserts with invalidations, per group of stripes.
    locks: Box<[Mutex<()>]>,
    /// A fixed hasher: the same key falls in the same stripe in every run.
    hasher: BuildHasherDefault<DefaultHasher>,
}

impl Default for Local {
    fn default() -> Self {
        Self {
            epoch: AtomicU64::new(0),
            cleared: AtomicU64::new(0),
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
            hasher: BuildHasherDefault::default(),
        }
    }
}

impl Local {
    /// Where the invalidation order stands: taken when a read begins.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn stripe(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % STRIPES as u64) as usize
    }

    fn lock(&self, stripe: usize) -> MutexGuard<'_, ()> {
        self.locks[stripe % LOCKS].lock().expect("l1 lock")
    }

    /// Runs `insert` (of a copy of `key` read from `ticket` on) unless `key`'s stripe or
    /// everything was invalidated since.
    pub(super) fn keep(&self, key: &str, ticket: u64, insert: impl FnOnce()) {
        let stripe = self.stripe(key);
        let _guard = self.lock(stripe);
        if self.stripes[stripe].load(Ordering::SeqCst) <= ticket && !self.cleared_since(ticket) {
            insert();
        }
    }

    /// Records that `key` was invalidated, and runs `remove` (of its L1 copy) atomically
    /// with inserts: reads of its stripe that began before are not kept any more.
    pub(super) fn invalidate(&self, key: &str, remove: impl FnOnce()) {
        let stripe = self.stripe(key);
        let _guard = self.lock(stripe);
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.stripes[stripe].fetch_max(epoch, Ordering::SeqCst);
        remove();
    }

    /// Records that everything was invalidated, and runs `clear` atomically with inserts.
    pub(super) fn invalidate_all(&self, clear: impl FnOnce()) {
        let _guards: Vec<MutexGuard<'_, ()>> = (0..LOCKS).map(|i| self.lock(i)).collect();
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.cleared.fetch_max(epoch, Ordering::SeqCst);
        clear();
    }

    /// Whether everything was invalidated since `ticket`.
    pub(super) fn cleared_since(&self, ticket: u64) -> bool {
        self.cleared.load(Ordering::SeqCst) > ticket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_an_invalidation_of_its_key_is_not_kept() {
        let local = Local::default();
        let kept = |ticket| {
            let mut kept = false;
            local.keep("k", ticket, || kept = true);
            kept
        };
        let before = local.epoch();
        local.invalidate("k", || {});
        let after = local.epoch();
        assert!(!kept(before));
        assert!(kept(after));
        local.invalidate_all(|| {});
        assert!(!kept(after));
        assert!(local.cleared_since(after));
    }

    #[test]
    fn the_byte_bound_counts_decoded_sizes() {
        let memory = Memory::new(MemoryLimit::bytes(1 << 20));
        let validity = Validity {
            ticket: Ticket { epoch: 0, at_ms: 0 },
            checks: Arc::from([]),
            for_memory: true,
        };
        // Eight values of 16 MiB decoded, whatever their compressed size in the store.
        let meta = EnvelopeMeta {
            schema_version: 1,
            created_at_ms: 0,
            fresh_until_ms: u64::MAX,
            expires_at_ms: u64::MAX,
        };
        for i in 0..8 {
            memory.insert(&format!("k{i}"), (), meta, 0, 16 << 20, validity.clone());
        }
        assert!(
            memory.weighted_size() <= 1 << 20,
            "{}",
            memory.weighted_size()
        );
    }
}
