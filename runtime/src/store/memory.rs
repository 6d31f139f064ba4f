//! `MemoryStore`: a bounded in-process store on moka.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use moka::sync::Cache;

use super::{
    CacheStore, Capabilities, INTERNAL_KEY_MARKER, LeaseHolder, LeaseOutcome, Precondition, Slot,
    Stamp, StoreEntry, TOMBSTONE_LIFETIME, Version,
};
use crate::bounded::{MemoryLimit, Timed, Weighed, expiring_cache};
use crate::clock::{self, Clock};
use crate::error::StoreError;

/// One key's item.
#[derive(Clone)]
struct Item {
    version: Version,
    /// The value and its expiry, epoch ms.
    value: Option<(Arc<[u8]>, u64)>,
    lease: Option<LeaseHolder>,
    /// How long moka keeps the item.
    ttl: Duration,
}

impl Weighed for Item {
    fn size(&self) -> usize {
        self.value.as_ref().map_or(0, |(bytes, _)| bytes.len())
    }
}

impl Timed for Item {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// An in-process [`CacheStore`], bounded by entries and/or bytes, with per-entry expiry.
/// Useful for tests and single-instance tools.
///
/// Items, tombstones and leases share the bound: under memory pressure moka may evict a
/// tombstone, and a fill that raced the delete behind it may then be stored. Stamps are
/// kept apart and never evicted.
pub struct MemoryStore {
    items: Cache<String, Item>,
    stamps: Mutex<HashMap<String, Stamp>>,
    /// Serialises read-modify-write operations, so each is atomic.
    writes: Mutex<()>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.items.entry_count())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store bounded by `limit`.
    pub fn new(limit: MemoryLimit) -> Self {
        Self {
            items: expiring_cache(limit),
            stamps: Mutex::default(),
            writes: Mutex::default(),
            clock: clock::system(),
        }
    }

    /// Uses `clock` for expiry decisions.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The item at `key` as a read sees it: expired values and lapsed leases left out.
    fn slot(&self, key: &str) -> Slot {
        let now = self.clock.now_ms();
        let Some(item) = self.items.get(key) else {
            return Slot::default();
        };
        Slot {
            version: Some(item.version),
            value: item
                .value
                .filter(|(_, expires)| *expires > now)
                .map(|(bytes, _)| bytes.to_vec()),
            lease: item.lease.filter(|lease| lease.expires_at_ms > now),
        }
    }

    /// Whether `precondition` holds for the item at `key` (call with the write lock).
    fn holds(&self, key: &str, precondition: Precondition) -> bool {
        match precondition {
            Precondition::None => true,
            Precondition::Version(seen) => self.items.get(key).map(|item| item.version) == seen,
        }
    }

    fn tombstone(&self, key: &str) {
        let item = Item {
            version: Version::fresh(),
            value: None,
            lease: None,
            ttl: TOMBSTONE_LIFETIME,
        };
        self.items.insert(key.to_owned(), item);
    }

    fn tombstone_matching(&self, matches: impl Fn(&str) -> bool) -> u64 {
        let _guard = self.writes.lock().expect("write lock");
        let keys: Vec<Arc<String>> = self
            .items
            .iter()
            .filter(|(key, item)| matches(key) && item.value.is_some())
            .map(|(key, _)| key)
            .collect();
        for key in &keys {
            self.tombstone(key);
        }
        keys.len() as u64
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            pattern_delete: true,
            indexes: false,
            reads_with_stamps: false,
        }
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        Ok(self.slot(key))
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        Ok(keys
            .iter()
            .filter_map(|key| Some((key.clone(), self.slot(key).value?)))
            .collect())
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        let _guard = self.writes.lock().expect("write lock");
        if !self.holds(key, precondition) {
            return Ok(None);
        }
        let item = Item {
            version: Version::fresh(),
            value: Some((entry.value.into(), entry.expires_at_ms)),
            lease: None,
            ttl: entry.ttl,
        };
        let version = item.version;
        self.items.insert(key.to_owned(), item);
        Ok(Some(version))
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        let _guard = self.writes.lock().expect("write lock");
        if !self.holds(key, precondition) {
            return Ok(false);
        }
        self.tombstone(key);
        Ok(true)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let _guard = self.writes.lock().expect("write lock");
        let current = self.items.get(key);
        if current.as_ref().map(|item| item.version) != seen {
            return Ok(LeaseOutcome::Refused(self.slot(key)));
        }
        let now = self.clock.now_ms();
        let lease_ms = ttl.as_millis() as u64;
        let value = current.and_then(|item| item.value);
        let keep = value
            .as_ref()
            .map_or(0, |(_, expires)| expires.saturating_sub(now));
        let item = Item {
            version: Version::fresh(),
            value,
            lease: Some(LeaseHolder {
                holder: holder.to_owned(),
                expires_at_ms: now + lease_ms,
            }),
            ttl: Duration::from_millis(keep.max(lease_ms)),
        };
        let version = item.version;
        self.items.insert(key.to_owned(), item);
        Ok(LeaseOutcome::Acquired(version))
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _guard = self.writes.lock().expect("write lock");
        if let Some(mut item) = self.items.get(key)
            && item
                .lease
                .as_ref()
                .is_some_and(|lease| lease.holder == holder)
        {
            item.lease = None;
            item.version = Version::fresh();
            self.items.insert(key.to_owned(), item);
        }
        Ok(())
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        let stamps = self.stamps.lock().expect("stamp lock");
        Ok(keys
            .iter()
            .map(|key| stamps.get(key).cloned().unwrap_or_default())
            .collect())
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        let mut stamps = self.stamps.lock().expect("stamp lock");
        let next = 1 + shards
            .iter()
            .filter_map(|key| stamps.get(key)?.get(counter).copied())
            .max()
            .unwrap_or(0);
        for key in shards {
            stamps
                .entry(key.clone())
                .or_default()
                .insert(counter.to_owned(), next);
        }
        Ok(next)
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        Ok(self.tombstone_matching(|key| {
            key.strip_prefix(prefix)
                .is_some_and(|rest| !rest.starts_with(INTERNAL_KEY_MARKER))
        }))
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        Ok(self.tombstone_matching(|key| glob_match(pattern.as_bytes(), key.as_bytes())))
    }
}

/// Glob match with `*` (any run) and `?` (one byte).
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Attributes;

    fn entry<'a>(value: &'a [u8], ttl: Duration, attributes: &'a Attributes) -> StoreEntry<'a> {
        StoreEntry {
            value,
            created_at_ms: 0,
            expires_at_ms: u64::MAX,
            ttl,
            attributes,
            large_values: false,
        }
    }

    async fn fill(limit: MemoryLimit, n: usize, size: usize) -> MemoryStore {
        let store = MemoryStore::new(limit);
        let value = vec![7u8; size];
        let attributes = Attributes::new();
        for i in 0..n {
            let entry = entry(&value, Duration::from_secs(60), &attributes);
            store
                .write(&format!("k{i:04}"), entry, Precondition::None)
                .await
                .unwrap();
        }
        store.items.run_pending_tasks();
        store
    }

    #[tokio::test]
    async fn bounded_by_bytes() {
        let store = fill(MemoryLimit::bytes(10_000), 100, 995).await;
        assert!(
            store.items.weighted_size() <= 10_000,
            "{}",
            store.items.weighted_size()
        );
        assert!(store.items.entry_count() <= 10);
    }

    #[tokio::test]
    async fn bounded_by_entries_and_bytes() {
        // Small values: the entry bound binds.
        let store = fill(MemoryLimit::entries_and_bytes(20, 1 << 20), 100, 10).await;
        assert!(
            store.items.entry_count() <= 20,
            "{}",
            store.items.entry_count()
        );
        // Large values: the byte bound binds.
        let store = fill(MemoryLimit::entries_and_bytes(1_000, 50_000), 100, 4_995).await;
        assert!(store.items.weighted_size() <= 50_000);
        assert!(
            store.items.entry_count() <= 10,
            "{}",
            store.items.entry_count()
        );
    }

    #[tokio::test]
    async fn entries_expire_per_entry() {
        let store = MemoryStore::new(MemoryLimit::entries(10));
        let attributes = Attributes::new();
        let short = entry(b"v", Duration::from_millis(1), &attributes);
        let long = entry(b"v", Duration::from_secs(60), &attributes);
        store
            .write("short", short, Precondition::None)
            .await
            .unwrap();
        store.write("long", long, Precondition::None).await.unwrap();
        // moka's own expiry (real time); 20 ms is far past the 1 ms TTL.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.read("short").await.unwrap(), Slot::default());
        assert!(store.read("long").await.unwrap().value.is_some());
    }

    #[tokio::test]
    async fn a_write_made_from_an_old_read_is_refused_after_a_delete() {
        let store = MemoryStore::new(MemoryLimit::entries(10));
        let attributes = Attributes::new();
        let seen = store.read("k").await.unwrap().version;
        assert!(store.delete("k", Precondition::None).await.unwrap());
        let late = entry(b"old", Duration::from_secs(60), &attributes);
        let refused = store.write("k", late, Precondition::Version(seen));
        assert_eq!(refused.await.unwrap(), None);
        let now = store.read("k").await.unwrap();
        assert_eq!(now.value, None, "the tombstone stays");
        let fresh = entry(b"new", Duration::from_secs(60), &attributes);
        let written = store.write("k", fresh, Precondition::Version(now.version));
        let written = written.await.unwrap().expect("written");
        let stale_delete = store.delete("k", Precondition::Version(now.version));
        assert!(
            !stale_delete.await.unwrap(),
            "a delete made from an old read is refused"
        );
        assert!(
            store
                .delete("k", Precondition::Version(Some(written)))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_lease_keeps_the_value_and_changes_the_version() {
        let store = MemoryStore::new(MemoryLimit::entries(10));
        let attributes = Attributes::new();
        let value = entry(b"v", Duration::from_secs(60), &attributes);
        store.write("k", value, Precondition::None).await.unwrap();
        let seen = store.read("k").await.unwrap();
        let LeaseOutcome::Acquired(leased) = store
            .acquire_lease("k", seen.version, "me", Duration::from_secs(5))
            .await
            .unwrap()
        else {
            panic!("the lease is free")
        };
        let now = store.read("k").await.unwrap();
        assert_eq!(now.version, Some(leased));
        assert_eq!(now.value.as_deref(), Some(&b"v"[..]));
        assert_eq!(now.lease.as_ref().map(|l| l.holder.as_str()), Some("me"));
        let again = store
            .acquire_lease("k", seen.version, "you", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(again, LeaseOutcome::Refused(now), "the item changed");
    }

    #[tokio::test]
    async fn shards_are_bumped_together_to_one_new_value() {
        let store = MemoryStore::new(MemoryLimit::entries(10));
        let shards = ["s0".to_owned(), "s1".to_owned()];
        assert_eq!(store.bump_stamp(&shards[..1], "all").await.unwrap(), 1);
        assert_eq!(store.bump_stamp(&shards, "all").await.unwrap(), 2);
        let read = store.read_stamps(&shards).await.unwrap();
        assert_eq!((read[0]["all"], read[1]["all"]), (2, 2));
    }

    #[test]
    fn globs() {
        for (p, s, want) in [
            ("user:*", "user:1", true),
            ("user:*", "order:1", false),
            ("*:1", "user:1", true),
            ("u?er:*:x", "user:9:x", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("", "", true),
        ] {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), want, "{p} vs {s}");
        }
    }
}
