//! Typed handles over a [`TieredCache`]: what generated modules expose per data type.
//!
//! A generated module implements [`DataType`] once per data type of the spec (its key
//! format, value type, TTLs, tags and item attributes) and hands out a
//! [`TypedCache`] for it, so callers work with typed keys and values only.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::error::{BoxError, CacheError, ConfigError};
use crate::query::{IndexQuery, Page, SortCondition};
use crate::store::{AttrValue, Attributes, Precondition, Version};
use crate::tiered::{CacheValue, Described, Item, OriginPolicy, Served, TieredCache, WriteOptions};

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
    /// Environment variable overriding [`Self::TTL`] at run time (see [`ttl_from_lookup`]).
    const TTL_ENV: Option<&'static str> = None;
    /// Window after expiry in which a stale value is served while one refresh runs
    /// (`None`: [`TypedCache::wrap_swr`] refreshes before answering, as `wrap` does).
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    /// Fixed text every key starts with, which index queries select the type's keys by;
    /// on a table with a sort key, the fixed text of each part, joined by
    /// [`SEPARATOR`](cachegen_names::sort_key::SEPARATOR), each part matched on its own.
    const KEY_PREFIX: &'static str;
    /// Whether misses use single-flight across containers (when the cache configures it).
    const DISTRIBUTED_FLIGHT: bool = false;
    /// How soon an invalidation in another process must reach this one, through the
    /// invalidation stamps (`None`: within [`Self::MEMORY_TTL`]).
    const VERSION_CHECK: Option<Duration> = None;
    /// Whether values may exceed DynamoDB's item limit, their bodies then kept in S3
    /// (when the store has an [`S3Overflow`](crate::store::S3Overflow) bucket).
    const LARGE_VALUES: bool = false;
    /// What the handle does when the origin fails or is slow, and how long values live
    /// (fail-safe, timeouts, eager refresh, TTL jitter, negative and adaptive TTLs).
    const POLICY: OriginPolicy = OriginPolicy::NONE;

    /// The store key for `key`.
    fn key(key: &Self::Key) -> String;

    /// Invalidation tags of the item at `key`.
    fn tags(key: &Self::Key) -> Vec<String> {
        let _ = key;
        Vec::new()
    }

    /// The prefixes of `key` that [`TypedCache::invalidate_prefix`] may be called with
    /// (the generated `invalidate_by_*` methods build them from leading key parameters).
    fn key_prefixes(key: &Self::Key) -> Vec<String> {
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

/// The store TTL of `D`: what its [`DataType::TTL_ENV`] variable sets through `lookup`,
/// else [`DataType::TTL`]. A value that is not a TTL within the type's `ttl_bounds` is an
/// error naming the variable ([`config::ttl_from_lookup`](crate::config::ttl_from_lookup)).
pub fn ttl_from_lookup<D: DataType>(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Duration, ConfigError> {
    match D::TTL_ENV {
        Some(var) => crate::config::ttl_from_lookup(var, D::TTL, D::POLICY.ttl_bounds, lookup),
        None => Ok(D::TTL),
    }
}

/// Typed access to one data type.
#[derive(Clone, Debug)]
pub struct TypedCache<D> {
    cache: TieredCache,
    ttl: Duration,
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
                .with_large_values(D::LARGE_VALUES)
                .with_policy(D::POLICY),
            ttl: D::TTL,
            data_type: PhantomData,
        }
    }

    /// This handle with store TTL `ttl` instead of [`DataType::TTL`] (an override from
    /// [`ttl_from_lookup`]); its in-memory TTL stays [`DataType::MEMORY_TTL`], cut to
    /// `ttl` when that is shorter, and its negative TTL and TTL bounds are cut alike.
    pub fn with_ttl(&self, ttl: Duration) -> Self {
        Self {
            cache: self.cache.with_memory_ttl(D::MEMORY_TTL.min(ttl)),
            ttl,
            data_type: PhantomData,
        }
    }

    /// The store TTL values are written with.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// This handle, raising store errors instead of degrading them.
    pub fn strict(&self) -> Self {
        Self {
            cache: self.cache.with_strict(true),
            ttl: self.ttl,
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

    /// The handle's TTL, and the key's tags and prefixes.
    fn options(&self, key: &D::Key) -> WriteOptions {
        WriteOptions {
            ttl: self.ttl,
            tags: D::tags(key),
            prefixes: D::key_prefixes(key),
            attributes: Attributes::new(),
        }
    }

    /// The item attributes of `value` at `key`, now.
    fn attributes(key: &D::Key, value: &D::Value) -> Attributes {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        D::attributes(key, value, now)
    }

    /// The cached value, if fresh.
    pub async fn get(&self, key: &D::Key) -> Result<Option<D::Value>, CacheError> {
        self.cache.get(&D::key(key)).await
    }

    /// Stores `value` with the type's TTLs, tags and attributes.
    pub async fn set(&self, key: &D::Key, value: &D::Value) -> Result<(), CacheError> {
        self.set_if(key, value, Precondition::None).await.map(drop)
    }

    /// The item at `key` as the store holds it now, for [`set_if`](Self::set_if) and
    /// [`delete_if`](Self::delete_if).
    pub async fn read_item(&self, key: &D::Key) -> Result<Item<D::Value>, CacheError> {
        self.cache.read_item(&D::key(key)).await
    }

    /// [`set`](Self::set) if `precondition` holds: the new version, or `None`.
    pub async fn set_if(
        &self,
        key: &D::Key,
        value: &D::Value,
        precondition: Precondition,
    ) -> Result<Option<Version>, CacheError> {
        let mut options = self.options(key);
        options.attributes = Self::attributes(key, value);
        self.cache
            .set_if(&D::key(key), value, &options, precondition)
            .await
    }

    /// [`delete`](Self::delete) if `precondition` holds; `false` when it does not.
    pub async fn delete_if(
        &self,
        key: &D::Key,
        precondition: Precondition,
    ) -> Result<bool, CacheError> {
        self.cache.delete_if(&D::key(key), precondition).await
    }

    /// Removes the value at `key` (and, with a version check, other processes' L1 copies
    /// within the bound).
    pub async fn delete(&self, key: &D::Key) -> Result<(), CacheError> {
        self.cache.delete(&D::key(key)).await
    }

    /// Cache-aside: the cached value, or `origin()`'s, stored with the type's settings.
    /// Concurrent misses on one key in this process call `origin` once.
    pub async fn wrap<E, F, Fut>(&self, key: &D::Key, origin: F) -> Result<D::Value, CacheError>
    where
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<D::Value, E>>,
    {
        Ok(self.wrap_served(key, origin).await?.value)
    }

    /// [`wrap`](Self::wrap), saying whether the value served is stale (fail-safe served
    /// an expired value because the origin failed or passed the hard timeout).
    pub async fn wrap_served<E, F, Fut>(
        &self,
        key: &D::Key,
        origin: F,
    ) -> Result<Served<D::Value>, CacheError>
    where
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<D::Value, E>>,
    {
        let describe = |value: &D::Value| Described::from(Self::attributes(key, value));
        self.cache
            .wrap_served(&D::key(key), &self.options(key), describe, origin)
            .await
    }

    /// Cache-aside for an origin that may answer "not found" (`None`): that answer is
    /// cached too, for the type's negative TTL (its TTL when the spec sets none), so a
    /// missing item does not reach the origin on every call.
    pub async fn wrap_optional<E, F, Fut>(
        &self,
        key: &D::Key,
        origin: F,
    ) -> Result<Option<D::Value>, CacheError>
    where
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<D::Value>, E>>,
    {
        let negative_ttl = D::POLICY
            .negative_ttl
            .map_or(self.ttl, |negative| negative.min(self.ttl));
        let describe = |value: &Option<D::Value>| match value {
            Some(value) => Described::from(Self::attributes(key, value)),
            None => Described {
                attributes: Attributes::new(),
                ttl: Some(negative_ttl),
            },
        };
        let served = self
            .cache
            .wrap_served(&D::key(key), &self.options(key), describe, origin)
            .await?;
        Ok(served.value)
    }

    /// Cache-aside for an origin that says how long its value lives (a token and its
    /// `expires_in`): the value is kept that long, within the type's adaptive TTL bounds
    /// (up to its TTL when the spec sets none).
    pub async fn wrap_expiring<E, F, Fut>(
        &self,
        key: &D::Key,
        origin: F,
    ) -> Result<D::Value, CacheError>
    where
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(D::Value, Duration), E>>,
    {
        let told = std::sync::Mutex::new(None);
        let origin = || async {
            let (value, ttl) = origin().await?;
            *told.lock().expect("ttl lock") = Some(ttl);
            Ok::<_, E>(value)
        };
        let bounds = D::POLICY
            .ttl_bounds
            .map_or((Duration::ZERO, self.ttl), |(min, max)| {
                (min.min(self.ttl), max.min(self.ttl))
            });
        let describe = |value: &D::Value| Described {
            attributes: Self::attributes(key, value),
            ttl: told
                .lock()
                .expect("ttl lock")
                .map(|ttl| ttl.clamp(bounds.0, bounds.1)),
        };
        let served = self
            .cache
            .wrap_served(&D::key(key), &self.options(key), describe, origin)
            .await?;
        Ok(served.value)
    }

    /// Stale-while-revalidate with the spec's window (none: plain [`wrap`](Self::wrap)
    /// semantics): a value up to the window past its TTL is returned at once while one
    /// background task refreshes it. Eager refresh and the soft timeout of the type's
    /// policy apply here, since the origin may outlive the caller.
    pub async fn wrap_swr<E, F, Fut>(&self, key: &D::Key, origin: F) -> Result<D::Value, CacheError>
    where
        D::Key: Clone,
        E: Into<BoxError>,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<D::Value, E>> + Send + 'static,
    {
        Ok(self.wrap_swr_served(key, origin).await?.value)
    }

    /// [`wrap_swr`](Self::wrap_swr), saying whether the value served is stale.
    pub async fn wrap_swr_served<E, F, Fut>(
        &self,
        key: &D::Key,
        origin: F,
    ) -> Result<Served<D::Value>, CacheError>
    where
        D::Key: Clone,
        E: Into<BoxError>,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<D::Value, E>> + Send + 'static,
    {
        let owned = key.clone();
        self.cache
            .wrap_swr_served(
                &D::key(key),
                &self.options(key),
                D::STALE_WHILE_REVALIDATE.unwrap_or(Duration::ZERO),
                move |value: &D::Value| Described::from(Self::attributes(&owned, value)),
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

    /// Invalidates every entry written with `tag`, of any data type.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<(), CacheError> {
        self.cache.invalidate_tag(tag).await
    }

    /// Invalidates every entry of this type whose key starts with `key_prefix`, one of
    /// the prefixes [`DataType::key_prefixes`] gives (the generated `invalidate_by_*`
    /// methods build it from leading key parameters).
    pub async fn invalidate_prefix(&self, key_prefix: &str) -> Result<(), CacheError> {
        self.cache.invalidate_prefix(key_prefix).await
    }

    /// One page of an index query, read as this type's values (other types' items on the
    /// same index are left out). Needs the DynamoDB store: other stores have no indexes.
    pub async fn query(&self, query: IndexQuery) -> Result<Page<D::Value>, CacheError> {
        self.cache.query(D::KEY_PREFIX, query).await
    }

    /// Invalidates every entry of this data type, in the store and in every process's L1
    /// (within the version-check bound): one stamp write, whatever the number of entries.
    pub async fn invalidate_all(&self) -> Result<(), CacheError> {
        self.cache.invalidate_all().await
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
