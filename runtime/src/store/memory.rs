//! `MemoryStore`: a bounded in-process store on moka.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;

use super::{CacheStore, Capabilities, StoreEntry};
use crate::StoreError;
use crate::clock::{self, Clock};
use crate::config::MemoryLimit;

/// A value with its own time to live and size, for [`bounded_cache`].
pub(crate) trait Timed {
    /// Time to live from insertion.
    fn ttl(&self) -> Duration;
    /// Approximate size in bytes.
    fn size(&self) -> usize;
}

struct PerEntry;

impl<V: Timed> Expiry<String, V> for PerEntry {
    fn expire_after_create(&self, _: &String, v: &V, _: Instant) -> Option<Duration> {
        Some(v.ttl())
    }

    fn expire_after_update(
        &self,
        _: &String,
        v: &V,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl())
    }
}

/// A moka cache with per-entry expiry, bounded by `limit`.
pub(crate) fn bounded_cache<V>(limit: MemoryLimit) -> Cache<String, V>
where
    V: Timed + Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(limit.capacity())
        .weigher(move |k: &String, v: &V| limit.weight(k.len() + v.size()))
        .expire_after(PerEntry)
        .build()
}

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    expires_at_ms: u64,
    ttl: Duration,
}

impl Timed for Entry {
    fn ttl(&self) -> Duration {
        self.ttl
    }
    fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// An in-process [`CacheStore`], bounded by entries and/or bytes, with
/// per-entry expiry. Useful for tests and single-instance tools.
#[derive(Debug)]
pub struct MemoryStore {
    cache: Cache<String, Entry>,
    tags: Mutex<HashMap<String, HashSet<String>>>,
    /// Leases: key to (holder, expiry in epoch ms).
    leases: Mutex<HashMap<String, (String, u64)>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl MemoryStore {
    /// A store bounded by `limit`.
    pub fn new(limit: MemoryLimit) -> Self {
        Self {
            cache: bounded_cache(limit),
            tags: Mutex::default(),
            leases: Mutex::default(),
            clock: clock::system(),
        }
    }

    /// Uses `clock` for application-level expiry checks.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn live(&self, e: Entry) -> Option<Entry> {
        (e.expires_at_ms > self.clock.now_ms()).then_some(e)
    }

    async fn remove_matching(&self, matches: impl Fn(&str) -> bool) -> u64 {
        let keys: Vec<_> = self
            .cache
            .iter()
            .filter(|(k, _)| matches(k))
            .map(|(k, _)| k)
            .collect();
        for k in &keys {
            self.cache.invalidate(k.as_str()).await;
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
            tags: true,
            pattern_delete: true,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let e = self.cache.get(key).await.and_then(|e| self.live(e));
        Ok(e.map(|e| e.bytes.to_vec()))
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let mut out = HashMap::with_capacity(keys.len());
        for k in keys {
            if let Some(v) = self.get(k).await? {
                out.insert(k.clone(), v);
            }
        }
        Ok(out)
    }

    async fn set(&self, key: &str, entry: StoreEntry<'_>) -> Result<(), StoreError> {
        let e = Entry {
            bytes: entry.value.into(),
            expires_at_ms: entry.expires_at_ms,
            ttl: entry.ttl,
        };
        self.cache.insert(key.to_owned(), e).await;
        let mut tags = self.tags.lock().expect("tag lock");
        for t in entry.tags {
            tags.entry(t.clone()).or_default().insert(key.to_owned());
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.cache.invalidate(key).await;
        Ok(())
    }

    async fn has(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .cache
            .get(key)
            .await
            .and_then(|e| self.live(e))
            .is_some())
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        self.tags
            .lock()
            .expect("tag lock")
            .retain(|t, _| !t.starts_with(prefix));
        Ok(self.remove_matching(|k| k.starts_with(prefix)).await)
    }

    async fn delete_by_tag(&self, tag: &str) -> Result<u64, StoreError> {
        let members = self
            .tags
            .lock()
            .expect("tag lock")
            .remove(tag)
            .unwrap_or_default();
        let mut removed = 0;
        for k in members {
            removed += u64::from(self.cache.remove(&k).await.is_some());
        }
        Ok(removed)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let mut leases = self.leases.lock().expect("lease lock");
        match leases.get(key) {
            Some((_, expires)) if *expires > now => Ok(false),
            _ => {
                leases.insert(
                    key.to_owned(),
                    (holder.to_owned(), now + ttl.as_millis() as u64),
                );
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let mut leases = self.leases.lock().expect("lease lock");
        if leases.get(key).is_some_and(|(owner, _)| owner == holder) {
            leases.remove(key);
        }
        Ok(())
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        Ok(self
            .remove_matching(|k| glob_match(pattern.as_bytes(), k.as_bytes()))
            .await)
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

    async fn fill(limit: MemoryLimit, n: usize, size: usize) -> MemoryStore {
        let store = MemoryStore::new(limit);
        let value = vec![7u8; size];
        for i in 0..n {
            let entry = StoreEntry {
                value: &value,
                created_at_ms: 0,
                expires_at_ms: u64::MAX,
                ttl: Duration::from_secs(60),
                tags: &[],
                attributes: &Attributes::new(),
                large_values: false,
            };
            store.set(&format!("k{i:04}"), entry).await.unwrap();
        }
        store.cache.run_pending_tasks().await;
        store
    }

    #[tokio::test]
    async fn bounded_by_bytes() {
        let store = fill(MemoryLimit::bytes(10_000), 100, 995).await;
        assert!(
            store.cache.weighted_size() <= 10_000,
            "{}",
            store.cache.weighted_size()
        );
        assert!(store.cache.entry_count() <= 10);
    }

    #[tokio::test]
    async fn bounded_by_entries_and_bytes() {
        // Small values: the entry bound binds.
        let store = fill(MemoryLimit::entries_and_bytes(20, 1 << 20), 100, 10).await;
        assert!(
            store.cache.entry_count() <= 20,
            "{}",
            store.cache.entry_count()
        );
        // Large values: the byte bound binds.
        let store = fill(MemoryLimit::entries_and_bytes(1_000, 50_000), 100, 4_995).await;
        assert!(store.cache.weighted_size() <= 50_000);
        assert!(
            store.cache.entry_count() <= 10,
            "{}",
            store.cache.entry_count()
        );
    }

    #[tokio::test]
    async fn entries_expire_per_entry() {
        let store = MemoryStore::new(MemoryLimit::entries(10));
        let attrs = Attributes::new();
        let entry = |ttl_ms: u64| StoreEntry {
            value: b"v",
            created_at_ms: 0,
            expires_at_ms: u64::MAX,
            ttl: Duration::from_millis(ttl_ms),
            tags: &[],
            attributes: &attrs,
            large_values: false,
        };
        store.set("short", entry(1)).await.unwrap();
        store.set("long", entry(60_000)).await.unwrap();
        // moka's own expiry (real time); 20 ms is far past the 1 ms TTL.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!store.has("short").await.unwrap());
        assert!(store.has("long").await.unwrap());
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
