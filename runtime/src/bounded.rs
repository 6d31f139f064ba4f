//! Bounded in-process caches, by entries, by bytes, or both: the L1, a quick_cache cache
//! whose readers judge expiry themselves (its hit is the one every request pays), and the
//! memory store, a moka cache that drops each entry at its own expiry.

use std::time::{Duration, Instant};

use moka::Expiry;

/// Default bound on L1 entries.
pub const DEFAULT_MEMORY_ENTRIES: u64 = 10_000;
/// Default bound on L1 bytes (keys plus decoded values): 64 MiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;

/// Bound of an in-memory cache, by entries, by bytes, or both.
///
/// With both, each entry weighs at least `max_bytes / max_entries`, so the
/// cache never holds more than `max_entries` entries nor `max_bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Maximum number of entries.
    pub max_entries: Option<u64>,
    /// Maximum total weight (key plus value bytes).
    pub max_bytes: Option<u64>,
}

impl Default for MemoryLimit {
    fn default() -> Self {
        Self::entries_and_bytes(DEFAULT_MEMORY_ENTRIES, DEFAULT_MEMORY_BYTES)
    }
}

impl MemoryLimit {
    /// Bound by entry count.
    pub fn entries(n: u64) -> Self {
        Self {
            max_entries: Some(n),
            max_bytes: None,
        }
    }

    /// Bound by bytes.
    pub fn bytes(n: u64) -> Self {
        Self {
            max_entries: None,
            max_bytes: Some(n),
        }
    }

    /// Bound by both.
    pub fn entries_and_bytes(entries: u64, bytes: u64) -> Self {
        Self {
            max_entries: Some(entries),
            max_bytes: Some(bytes),
        }
    }

    /// True when the bound is zero (the cache is disabled).
    pub fn is_zero(&self) -> bool {
        self.max_entries == Some(0) || self.max_bytes == Some(0)
    }

    /// Parses a `CACHE_MEMORY_SIZE` value.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().ok()?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" => return Some(Self::entries(n)),
            "b" => 1,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            _ => return None,
        };
        Some(Self::bytes(n.checked_mul(mult)?))
    }

    /// The total weight the bound allows.
    pub(crate) fn capacity(&self) -> u64 {
        self.max_bytes.or(self.max_entries).unwrap_or(u64::MAX)
    }

    /// The weight of an entry of `size` bytes.
    pub(crate) fn weight(&self, size: usize) -> u32 {
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        match (self.max_entries, self.max_bytes) {
            (_, None) => 1,
            (None, Some(_)) => size,
            (Some(e), Some(b)) => {
                let floor = u32::try_from(b.div_ceil(e.max(1))).unwrap_or(u32::MAX);
                size.max(floor)
            }
        }
    }

    /// How many entries a cache under this bound is expected to hold: the entry bound, or
    /// the byte bound at 1 KiB an entry (quick_cache sizes its tables from it).
    fn expected_entries(&self) -> usize {
        const LARGEST_GUESS: u64 = 1 << 20;
        let entries = self.max_entries.unwrap_or(self.capacity() >> 10);
        usize::try_from(entries.clamp(1, LARGEST_GUESS)).unwrap_or(1)
    }
}

/// A value with its size, as the bound counts it.
pub(crate) trait Weighed {
    /// Size in bytes.
    fn size(&self) -> usize;
}

/// A value with its own time to live, for [`expiring_cache`].
pub(crate) trait Timed: Weighed {
    /// Time to live from insertion.
    fn ttl(&self) -> Duration;
}

impl<V: Weighed + ?Sized> Weighed for std::sync::Arc<V> {
    fn size(&self) -> usize {
        V::size(self)
    }
}

/// Weighs entries as `limit` counts them.
#[derive(Clone)]
pub(crate) struct Weigher(MemoryLimit);

impl<V: Weighed> quick_cache::Weighter<String, V> for Weigher {
    fn weight(&self, key: &String, value: &V) -> u64 {
        self.0.weight(key.len() + value.size()).into()
    }
}

/// A quick_cache cache bounded by `limit`, with no expiry of its own: readers check an
/// entry's expiry and remove it; one nobody reads again waits for eviction, still within
/// the bound. An entry heavier than one of its shards is not kept.
pub(crate) fn read_mostly_cache<V>(
    limit: MemoryLimit,
) -> quick_cache::sync::Cache<String, V, Weigher>
where
    V: Weighed + Clone,
{
    quick_cache::sync::Cache::with_weighter(
        limit.expected_entries(),
        limit.capacity(),
        Weigher(limit),
    )
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

/// A moka cache that drops each entry at its own expiry, bounded by `limit`.
pub(crate) fn expiring_cache<V>(limit: MemoryLimit) -> moka::sync::Cache<String, V>
where
    V: Timed + Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(limit.capacity())
        .weigher(move |k: &String, v: &V| limit.weight(k.len() + v.size()))
        .expire_after(PerEntry)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(MemoryLimit::parse("500"), Some(MemoryLimit::entries(500)));
        assert_eq!(
            MemoryLimit::parse("64MiB"),
            Some(MemoryLimit::bytes(64 << 20))
        );
        assert_eq!(MemoryLimit::parse("2 kb"), Some(MemoryLimit::bytes(2000)));
        assert_eq!(
            MemoryLimit::parse("1GiB"),
            Some(MemoryLimit::bytes(1 << 30))
        );
        assert_eq!(MemoryLimit::parse("12 parsecs"), None);
        assert_eq!(MemoryLimit::parse("MiB"), None);
    }

    #[test]
    fn weights_honour_both_bounds() {
        let both = MemoryLimit::entries_and_bytes(10, 1000);
        assert_eq!(
            (both.capacity(), both.weight(5), both.weight(400)),
            (1000, 100, 400)
        );
        assert_eq!(MemoryLimit::entries(10).weight(400), 1);
        assert_eq!(MemoryLimit::bytes(10).weight(400), 400);
    }

    #[test]
    fn the_default_bound_caps_bytes_too() {
        let default = MemoryLimit::default();
        assert_eq!(default.max_entries, Some(DEFAULT_MEMORY_ENTRIES));
        assert_eq!(default.max_bytes, Some(DEFAULT_MEMORY_BYTES));
    }
}
