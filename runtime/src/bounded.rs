//! Bounded in-process caches: the L1 and the memory store, both moka caches with
//! per-entry expiry, bounded by entries, by bytes, or both.

use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

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

    /// The moka `max_capacity` for this bound.
    pub(crate) fn capacity(&self) -> u64 {
        self.max_bytes.or(self.max_entries).unwrap_or(u64::MAX)
    }

    /// The moka weight of an entry of `size` bytes.
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
}

/// A value with its own time to live and size, for [`bounded_cache`].
pub(crate) trait Timed {
    /// Time to live from insertion.
    fn ttl(&self) -> Duration;
    /// Size in bytes, as the bound counts it.
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
