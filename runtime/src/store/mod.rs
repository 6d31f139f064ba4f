//! The shared-store abstraction and its implementations.
//!
//! A store keeps one item per key. An item has a [`Version`] and holds an encoded value
//! (the [`envelope`](crate::envelope)), a lease, both, or neither (a tombstone left by a
//! delete). Every change of an item gives it a new version, so the tiered cache stores
//! what an origin returned only if the item is still as its miss saw it
//! ([`Precondition::Version`]): a delete, a newer write or another process's lease in
//! between wins, and the late value is not stored.
//!
//! Scopes wider than a key (a data type, a tag, a key prefix) are invalidated through
//! [stamps](CacheStore::bump_stamp): named counters in internal items, O(1) writes whatever
//! the number of entries they cover. Internal items live under keys that start with
//! [`INTERNAL_KEY_MARKER`], which no data key can start with.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::attributes::{AttrValue, Attributes};
use crate::error::StoreError;
use crate::query::{IndexQuery, PageToken};

#[cfg(feature = "dynamodb")]
mod aws_error;
#[cfg(feature = "dynamodb")]
mod dynamo;
mod memory;
#[cfg(feature = "dynamodb")]
mod overflow;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_cluster;
mod resilient;

#[cfg(feature = "dynamodb")]
pub use dynamo::{
    DEFAULT_VALUE_REF_ATTRIBUTE, DEFAULT_VERSION_ATTRIBUTE, DynamoLayout, DynamoLayoutBuilder,
    DynamoStore, IndexKeyRole, MAX_ITEM_BYTES, SortKey, SortKeyType,
};
pub use memory::MemoryStore;
#[cfg(feature = "dynamodb")]
pub use overflow::{DEFAULT_OVERFLOW_PREFIX, S3Overflow};
#[cfg(feature = "redis")]
pub use redis::RedisStore;
pub use resilient::{Resilience, ResilientStore};

/// The first character (after the cache's key prefix) of every internal item's key.
/// Data keys never start with it: the tiered cache refuses such keys, cachegen's
/// validation refuses key templates that could produce one, and key parameters
/// percent-encode it.
pub const INTERNAL_KEY_MARKER: char = '!';

/// How long a tombstone outlives the delete that wrote it. A fill whose origin call took
/// longer than this is not stored, so a tombstone that DynamoDB's TTL reclaimed cannot
/// let a value read before its delete back in.
pub const TOMBSTONE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// One state of an item: every write, delete and lease gives the item a new version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version(u64);

impl Version {
    /// A new random version (never zero).
    pub fn fresh() -> Self {
        Self(fastrand::u64(1..))
    }

    /// The version stored as `raw`, if it is one (zero is not).
    pub fn from_raw(raw: u64) -> Option<Self> {
        (raw != 0).then_some(Self(raw))
    }

    /// The number stored.
    pub fn raw(self) -> u64 {
        self.0
    }
}

/// Who holds a key's lease (the cross-process half of single-flight), and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The holder's name.
    pub holder: String,
    /// When the lease lapses, epoch ms.
    pub expires_at_ms: u64,
}

/// What a read found at a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// The item's version; `None` when there is no item.
    pub version: Option<Version>,
    /// The encoded value, when the item holds one that has not expired.
    pub value: Option<Vec<u8>>,
    /// The key's lease, when one is held and has not lapsed.
    pub lease: Option<LeaseHolder>,
}

/// The condition a write is made under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever the item is (an explicit `set`).
    None,
    /// Write only if the item's version is this one; `None`: only if there is no item.
    Version(Option<Version>),
}

/// What [`CacheStore::acquire_lease`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease is taken; the item now has this version (a fill made under the lease is
    /// conditional on it).
    Acquired(Version),
    /// The item changed since it was read: here it is as it is now.
    Refused(Slot),
}

/// Counters of one stamp item by name; an absent counter is zero.
pub type Stamp = HashMap<String, u64>;

/// One write.
#[derive(Debug, Clone, Copy)]
pub struct StoreEntry<'a> {
    /// The encoded envelope.
    pub value: &'a [u8],
    /// When the value was read from its origin, epoch ms (the item's `createdAt`).
    pub created_at_ms: u64,
    /// Hard expiry, epoch ms.
    pub expires_at_ms: u64,
    /// Time to live from now (the same instant as `expires_at_ms`).
    pub ttl: Duration,
    /// Extra attributes.
    pub attributes: &'a Attributes,
    /// Whether a value over the store's item limit may be kept elsewhere (DynamoDB with
    /// [`S3Overflow`]) rather than refused; stores without such a limit ignore it.
    pub large_values: bool,
}

/// What a store supports beyond the operations every store has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// [`CacheStore::delete_by_pattern`] works.
    pub pattern_delete: bool,
    /// [`CacheStore::query_index`] and [`CacheStore::read_attributes`] work (DynamoDB).
    pub indexes: bool,
    /// [`CacheStore::read_with_stamps`] is one request (DynamoDB), not two calls.
    pub reads_with_stamps: bool,
}

/// The DynamoDB table behind a store, for deployment checks.
#[cfg(feature = "dynamodb")]
#[derive(Debug, Clone, Copy)]
pub struct TableRef<'a> {
    /// The client.
    pub client: &'a aws_sdk_dynamodb::Client,
    /// The table name.
    pub table: &'a str,
}

/// An async shared cache store.
///
/// Every operation of the tiered cache is one of these calls, so a decorator such as
/// [`ResilientStore`] (dry run, breaker, rate limit, retries) covers all of them.
#[async_trait]
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    /// Short name for logs and errors, e.g. `dynamodb`.
    fn name(&self) -> &'static str;

    /// Optional operations this store supports.
    fn capabilities(&self) -> Capabilities;

    /// The DynamoDB table this store is on, if it is one (for deployment checks).
    #[cfg(feature = "dynamodb")]
    fn table(&self) -> Option<TableRef<'_>> {
        None
    }

    /// The item at `key`, read after every write that completed before the call.
    async fn read(&self, key: &str) -> Result<Slot, StoreError>;

    /// The values of several keys; keys without a live value are left out. Keys the
    /// store could not read in its retry budget are left out too (and logged): a batch
    /// read is a cache read, and a missing key is a miss.
    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError>;

    /// Writes an entry if `precondition` holds, replacing the item (and any lease on it);
    /// returns the item's new version, or `None` when the precondition does not hold
    /// (nothing was written).
    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError>;

    /// Replaces the item by a tombstone with a new version if `precondition` holds, so
    /// fills made from reads before it are refused; the tombstone lapses after
    /// [`TOMBSTONE_LIFETIME`]. `Ok(false)` when the precondition does not hold.
    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError>;

    /// Takes the lease on `key` for `holder` until `ttl` from now, if the item is still
    /// at version `seen` (`None`: still absent). The value, if any, stays readable.
    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError>;

    /// Gives the lease on `key` back, if `holder` still holds it.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError>;

    /// The stamp items at `keys`, read after every bump that completed before the call
    /// (an absent item reads as all zeros).
    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError>;

    /// The item at `key` and the stamp items at `stamps`, each read after every write
    /// that completed before the call, in one request where the store can (DynamoDB: one
    /// `BatchGetItem`), so a process's first lookup costs one request, as a bare read
    /// does.
    async fn read_with_stamps(
        &self,
        key: &str,
        stamps: &[String],
    ) -> Result<(Slot, Vec<Stamp>), StoreError> {
        let slot = self.read(key).await?;
        Ok((slot, self.read_stamps(stamps).await?))
    }

    /// Raises `counter` of every stamp item in `shards` to one new value, above what any
    /// of them held, atomically, and returns it.
    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError>;

    /// Replaces every entry whose key starts with `prefix` by a tombstone, except the
    /// internal items under it (`{prefix}!...`: idempotency records keep their responses
    /// through a clear); returns how many. A maintenance operation: it visits the whole
    /// key space (DynamoDB scans).
    async fn clear(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Replaces every entry whose key matches a glob `pattern` (`*` any run, `?` one
    /// char) by a tombstone; returns how many.
    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        let _ = pattern;
        Err(self.unsupported("delete by pattern"))
    }

    /// One page of an index query: the stored keys starting with `key_prefix`, and where
    /// the next page starts.
    async fn query_index(
        &self,
        query: &IndexQuery,
        key_prefix: &str,
    ) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
        let _ = (query, key_prefix);
        Err(self.unsupported("index queries"))
    }

    /// For each live item among `keys`, the scalar attributes among `names` it has,
    /// without reading values (for a backfill that skips up-to-date items).
    async fn read_attributes(
        &self,
        keys: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, Attributes>, StoreError> {
        let _ = (keys, names);
        Err(self.unsupported("item attributes"))
    }

    /// The error for an operation this store does not have.
    fn unsupported(&self, operation: &'static str) -> StoreError {
        StoreError::Unsupported {
            store: self.name(),
            operation,
        }
    }
}
