//! Typed handles over a [`TieredCache`]: what generated modules expose per data type.
//!
//! A generated module implements [`DataType`] once per data type of the spec (its key
//! format, value type, TTLs, tags and item attributes) and hands out a
//! [`TypedCache`] for it, so callers work with typed keys and values only.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{BoxError, CacheError};
use crate::query::{IndexQuery, Page, SortCondition};
use crate::store::{AttrValue, Attributes};
use crate::tiered::{CacheValue, TieredCache, WriteOptions};

/// A GSI whose partition key, at a constant value, finds every item of one data type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexKey {
    /// Index name.
    pub index: &'static str,
    /// The index's partition key attribute.
    pub attribute: &'static str,
    /// The constant value this data type writes there.
    pub value: &'static str,
}

/// One data type of a spec: its keys, values, lifetimes, tags and item attributes.
pub trait DataType: 'static {
    /// The typed key.
    type Key: Send + Sync;
    /// The cached value.
    type Value: CacheValue;
    /// Name in the spec (the `DataType` metric dimension).
    const NAME: &'static str;
    /// How long the shared store serves a value.
    const TTL: Duration;
    /// How long the in-process L1 serves a value (at most [`Self::TTL`]).
    const MEMORY_TTL: Duration;
    /// Window after expiry in which a stale value is served while one refresh runs.
    const STALE_WHILE_REVALIDATE: Option<Duration>;
    /// Fixed text every key starts with.
    const KEY_PREFIX: &'static str;
    /// The GSI that finds every item of this type, if the spec names one.
    const INVALIDATION_INDEX: Option<IndexKey>;
    /// Whether misses use single-flight across containers (when the cache configures it).
    const DISTRIBUTED_FLIGHT: bool = false;
    /// How soon an invalidation in another process must reach this one's L1, through the
    /// type's invalidation stamp (`None`: within [`Self::MEMORY_TTL`], no stamp reads).
    const VERSION_CHECK: Option<Duration> = None;
    /// Whether values may exceed DynamoDB's item limit, their bodies then kept in S3
    /// (when the store has an [`S3Overflow`](crate::store::S3Overflow) bucket).
    const LARGE_VALUES: bool = false;

    /// The store key for `key`.
    fn key(key: &Self::Key) -> String;

    /// Invalidation tags of the item at `key`.
    fn tags(key: &Self::Key) -> Vec<String> {
        let _ = key;
        Vec::new()
    }

    /// Extra attributes written on the item, so GSIs can find it; `now` is epoch seconds.
    fn attributes(key: &Self::Key, value: &Self::Value, now: u64) -> Attributes {
        let _ = (key, value, now);
        Attributes::new()
    }
}

/// Appends a key parameter to `out`, percent-encoding everything but `A-Z a-z 0-9 - . _ ~`,
/// so a parameter holding a separator (`#`, `:`) cannot forge another key.
pub fn push_key_part(out: &mut String, part: &str) {
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&format!("{byte:02X}"));
        }
    }
}

/// Reads back a key part written by [`push_key_part`] (`None` if it is not one).
pub fn parse_key_part(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = part.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            byte if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') => {
                out.push(byte);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// A sort-key condition for a numeric range (`None` for `..`, everything).
pub fn number_range(range: &impl std::ops::RangeBounds<i64>) -> Option<SortCondition> {
    use std::ops::Bound;
    let number = |n: i64| AttrValue::N(n.to_string());
    let low = match range.start_bound() {
        Bound::Included(&n) => Some(n),
        Bound::Excluded(&n) => Some(n.saturating_add(1)),
        Bound::Unbounded => None,
    };
    let high = match range.end_bound() {
        Bound::Included(&n) => Some(n),
        Bound::Excluded(&n) => Some(n.saturating_sub(1)),
        Bound::Unbounded => None,
    };
    match (low, high) {
        (Some(low), Some(high)) => Some(SortCondition::Between(number(low), number(high))),
        (Some(low), None) => Some(SortCondition::AtLeast(number(low))),
        (None, Some(high)) => Some(SortCondition::AtMost(number(high))),
        (None, None) => None,
    }
}

/// Typed access to one data type.
#[derive(Clone, Debug)]
pub struct TypedCache<D> {
    cache: TieredCache,
    data_type: PhantomData<fn() -> D>,
}

impl<D: DataType> TypedCache<D> {
    /// A handle over `cache`, counting metrics under the data type's name.
    pub fn new(cache: &TieredCache) -> Self {
        Self {
            cache: cache
                .for_type(D::NAME)
                .with_memory_ttl(D::MEMORY_TTL)
                .with_distributed_flight(D::DISTRIBUTED_FLIGHT)
                .with_version_check(D::VERSION_CHECK)
                .with_large_values(D::LARGE_VALUES),
            data_type: PhantomData,
        }
    }

    /// This handle, raising store errors instead of degrading them.
    pub fn strict(&self) -> Self {
        Self {
            cache: self.cache.with_strict(true),
            data_type: PhantomData,
        }
    }

    /// The underlying cache.
    pub fn inner(&self) -> &TieredCache {
        &self.cache
    }

    /// The store key of `key`.
    pub fn key(&self, key: &D::Key) -> String {
        D::key(key)
    }

    fn options(key: &D::Key, value: &D::Value) -> WriteOptions {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        WriteOptions {
            ttl: D::TTL,
            tags: D::tags(key),
            attributes: D::attributes(key, value, now),
        }
    }

    /// The cached value, if fresh.
    pub async fn get(&self, key: &D::Key) -> Result<Option<D::Value>, CacheError> {
        self.cache.get(&D::key(key)).await
    }

    /// Stores `value` with the type's TTLs, tags and attributes.
    pub async fn set(&self, key: &D::Key, value: &D::Value) -> Result<(), CacheError> {
        self.cache
            .set_with(&D::key(key), value, &Self::options(key, value))
            .await
    }

    /// Removes the value at `key` from both layers (and, with a version check, from
    /// other processes' L1 within the bound).
    pub async fn delete(&self, key: &D::Key) -> Result<(), CacheError> {
        self.cache.delete(&D::key(key)).await?;
        self.reach_other_processes().await
    }

    /// With a version check, tells other processes to drop their L1 copies of this type.
    async fn reach_other_processes(&self) -> Result<(), CacheError> {
        if D::VERSION_CHECK.is_some() {
            self.cache.bump_memory_version().await?;
        }
        Ok(())
    }

    /// Cache-aside: the cached value, or `origin()`'s, stored with the type's settings.
    /// Concurrent misses on one key in this process call `origin` once.
    pub async fn wrap<E, F, Fut>(&self, key: &D::Key, origin: F) -> Result<D::Value, CacheError>
    where
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<D::Value, E>>,
    {
        self.cache
            .wrap_with_options(&D::key(key), |value| Self::options(key, value), origin)
            .await
    }

    /// Stale-while-revalidate with the spec's window (none: plain [`wrap`](Self::wrap)
    /// semantics): a value up to the window past its TTL is returned at once while one
    /// background task refreshes it.
    pub async fn wrap_swr<E, F, Fut>(&self, key: &D::Key, origin: F) -> Result<D::Value, CacheError>
    where
        D::Key: Clone,
        E: Into<BoxError>,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<D::Value, E>> + Send + 'static,
    {
        let owned = key.clone();
        self.cache
            .wrap_swr_with_options(
                &D::key(key),
                D::STALE_WHILE_REVALIDATE.unwrap_or(Duration::ZERO),
                move |value| Self::options(&owned, value),
                origin,
            )
            .await
    }

    /// Values for several keys, in the order given (`None` where not cached).
    pub async fn get_many(&self, keys: &[D::Key]) -> Result<Vec<Option<D::Value>>, CacheError> {
        let store_keys: Vec<String> = keys.iter().map(D::key).collect();
        let mut found = self.cache.get_many::<D::Value>(&store_keys).await?;
        Ok(store_keys.iter().map(|key| found.remove(key)).collect())
    }

    /// Removes every entry written with `tag` (reaching other processes' L1 like
    /// [`delete`](Self::delete)).
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, CacheError> {
        let removed = self.cache.invalidate_tag(tag).await?;
        self.reach_other_processes().await?;
        Ok(removed)
    }

    /// Removes every entry whose key starts with `key_prefix` (built by the generated
    /// `invalidate_by_*` methods from leading key parameters).
    pub async fn invalidate_prefix(&self, key_prefix: &str) -> Result<u64, CacheError> {
        let removed = self.cache.delete_by_prefix(key_prefix).await?;
        self.reach_other_processes().await?;
        Ok(removed)
    }

    /// One page of an index query, read as this type's values (other types' items on the
    /// same index are left out). Needs the DynamoDB store: other stores have no indexes.
    pub async fn query(&self, query: IndexQuery) -> Result<Page<D::Value>, CacheError> {
        self.cache.query(D::KEY_PREFIX, query).await
    }

    /// Removes every entry of this data type: through its GSI on DynamoDB when the spec
    /// names one (a query, not a scan), otherwise by its key prefix.
    ///
    /// With a version check, it also writes the type's invalidation stamp, so other
    /// processes drop their L1 copies within the bound, and items the (eventually
    /// consistent) index did not return yet are misses everywhere.
    pub async fn invalidate_all(&self) -> Result<u64, CacheError> {
        let removed = self.delete_all().await?;
        if D::VERSION_CHECK.is_some() {
            self.cache.bump_version().await?;
        }
        Ok(removed)
    }

    async fn delete_all(&self) -> Result<u64, CacheError> {
        if let Some(index) = D::INVALIDATION_INDEX
            && let Some(store) = self.cache.store()
            && let Some(dynamo) = crate::store::dynamo(store.as_ref())
        {
            self.cache.clear_memory();
            let prefix = self.cache.store_key(D::KEY_PREFIX);
            return Ok(dynamo
                .delete_by_index(index.index, index.attribute, index.value, &prefix)
                .await?);
        }
        self.invalidate_prefix(D::KEY_PREFIX).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ranges_become_sort_conditions() {
        let n = |v: i64| AttrValue::N(v.to_string());
        assert_eq!(
            number_range(&(10..20)),
            Some(SortCondition::Between(n(10), n(19)))
        );
        assert_eq!(
            number_range(&(10..=20)),
            Some(SortCondition::Between(n(10), n(20)))
        );
        assert_eq!(number_range(&(10..)), Some(SortCondition::AtLeast(n(10))));
        assert_eq!(number_range(&(..=5)), Some(SortCondition::AtMost(n(5))));
        assert_eq!(number_range(&(..)), None);
    }

    #[test]
    fn key_parts_read_back() {
        let mut written = String::new();
        push_key_part(&mut written, "a#b:c%d é/x");
        assert_eq!(parse_key_part(&written).as_deref(), Some("a#b:c%d é/x"));
        assert_eq!(parse_key_part("plain-1.x"), Some("plain-1.x".to_owned()));
        assert_eq!(parse_key_part("not/escaped"), None);
        assert_eq!(parse_key_part("%zz"), None);
    }

    #[test]
    fn key_parts_cannot_forge_separators() {
        let mut key = String::from("user#");
        push_key_part(&mut key, "a#b:c%d é");
        assert_eq!(key, "user#a%23b%3Ac%25d%20%C3%A9");
        let mut plain = String::new();
        push_key_part(&mut plain, "us-east-1_v2.x~");
        assert_eq!(plain, "us-east-1_v2.x~");
    }
}
