//! The shared-store abstraction and its implementations.
//!
//! Stores hold opaque bytes (the [`envelope`](crate::envelope)); the tiered
//! cache decodes them and checks expiry on every read.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;

mod dynamo;
mod memory;
mod overflow;
mod redis;
mod resilient;

pub use dynamo::{
    DEFAULT_VALUE_REF_ATTRIBUTE, DynamoLayout, DynamoLayoutBuilder, DynamoStore, MAX_ITEM_BYTES,
};
pub use memory::MemoryStore;
pub(crate) use memory::{Timed, bounded_cache};
pub use overflow::{DEFAULT_OVERFLOW_PREFIX, S3Overflow};
pub use redis::RedisStore;
pub use resilient::{Resilience, ResilientStore};

/// The DynamoDB store behind `store`, looking through decorators, for the operations only
/// DynamoDB has (index queries and invalidation, deployment checks).
pub fn dynamo(store: &dyn CacheStore) -> Option<&DynamoStore> {
    let any: &dyn std::any::Any = store;
    match any.downcast_ref::<DynamoStore>() {
        Some(dynamo) => Some(dynamo),
        None => store.wrapped().and_then(dynamo),
    }
}

/// A store-agnostic attribute value, written on DynamoDB items (for GSIs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string.
    S(String),
    /// A number, in its decimal string form.
    N(String),
}

/// Extra attributes written with an entry; Redis and memory stores ignore them.
pub type Attributes = BTreeMap<String, AttrValue>;

/// One write.
#[derive(Debug, Clone, Copy)]
pub struct StoreEntry<'a> {
    /// The encoded envelope.
    pub value: &'a [u8],
    /// Creation time, epoch ms.
    pub created_at_ms: u64,
    /// Hard expiry, epoch ms.
    pub expires_at_ms: u64,
    /// Time to live from now (the same instant as `expires_at_ms`).
    pub ttl: Duration,
    /// Full (prefixed) tag keys this entry belongs to.
    pub tags: &'a [String],
    /// Extra attributes.
    pub attributes: &'a Attributes,
    /// Whether a value over the store's item limit may be kept elsewhere (DynamoDB with
    /// [`S3Overflow`]) rather than refused; stores without such a limit ignore it.
    pub large_values: bool,
}

/// What a store supports beyond the basic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// [`CacheStore::delete_by_tag`] works.
    pub tags: bool,
    /// [`CacheStore::delete_by_pattern`] works.
    pub pattern_delete: bool,
}

/// An async shared cache store.
#[async_trait]
///
/// Stores are [`Any`](std::any::Any), so a caller holding `&dyn CacheStore` can reach a
/// concrete store's own operations (for example DynamoDB index queries).
pub trait CacheStore: std::any::Any + Send + Sync + std::fmt::Debug {
    /// Short name for logs and errors, e.g. `dynamodb`.
    fn name(&self) -> &'static str;

    /// Optional operations this store supports.
    fn capabilities(&self) -> Capabilities;

    /// The store a decorator (such as [`ResilientStore`]) wraps; `None` for real stores.
    fn wrapped(&self) -> Option<&dyn CacheStore> {
        None
    }

    /// The stored bytes, or `None` if absent or (where the store knows) expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Several keys at once; absent keys are left out of the map.
    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError>;

    /// Writes an entry, replacing any previous one, and records its tags.
    async fn set(&self, key: &str, entry: StoreEntry<'_>) -> Result<(), StoreError>;

    /// Removes a key; absent keys are not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// True if the key is present and not expired.
    async fn has(&self, key: &str) -> Result<bool, StoreError>;

    /// Removes every entry whose key starts with `prefix` (all when empty).
    /// Returns the number of keys removed.
    async fn clear(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Removes every entry written with the tag key `tag`, and the tag itself.
    /// Returns the number of member keys removed.
    async fn delete_by_tag(&self, tag: &str) -> Result<u64, StoreError> {
        let _ = tag;
        Err(StoreError::Unsupported {
            store: self.name(),
            operation: "delete by tag",
        })
    }

    /// Takes the lease `key` for `holder` for `ttl`, unless another holder has an
    /// unexpired one (`Ok(false)`): the cross-process half of single-flight. A crashed
    /// holder's lease lapses after `ttl`.
    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let _ = (key, holder, ttl);
        Err(StoreError::Unsupported {
            store: self.name(),
            operation: "leases",
        })
    }

    /// Gives the lease `key` back, if `holder` still holds it.
    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _ = (key, holder);
        Err(StoreError::Unsupported {
            store: self.name(),
            operation: "leases",
        })
    }

    /// Removes every key matching a glob `pattern` (`*` any run, `?` one char).
    /// Returns the number of keys removed.
    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        let _ = pattern;
        Err(StoreError::Unsupported {
            store: self.name(),
            operation: "delete by pattern",
        })
    }
}
