//! Every invalidation, in one place.
//!
//! An invalidation takes effect in this process before its store call (so reads here that
//! began before it are not served after it), and returns `Ok` only once the store has
//! it: a store failure or a timeout ([`invalidation_timeout`]) is an error, never a
//! fallback.
//!
//! | operation | store requests |
//! |---|---|
//! | [`delete`](TieredCache::delete) | 1 write (a tombstone); +1 stamp write with a version check |
//! | [`invalidate_tag`](TieredCache::invalidate_tag), [`invalidate_prefix`](TieredCache::invalidate_prefix), [`invalidate_all`](TieredCache::invalidate_all), [`invalidate_memory`](TieredCache::invalidate_memory) | 1 stamp write (per shard, in one transaction) |
//! | [`clear`](TieredCache::clear), [`delete_by_pattern`](TieredCache::delete_by_pattern) | a scan of the whole key space: maintenance, never on a request path |
//!
//! [`invalidation_timeout`]: super::TieredCacheBuilder::invalidation_timeout

use super::TieredCache;
use super::stamps::{ALL, GEN, MEM};
use crate::envelope::ScopeKind;
use crate::error::CacheError;
use crate::store::Precondition;

impl TieredCache {
    /// Makes this process forget `key`: its L1 copy, and any read of it in flight. An
    /// invalidation does it when it is called, and again once the store has it.
    pub(super) fn forget(&self, key: &str) {
        self.inner.flights.abandon(key);
        self.inner.local.invalidate(key, || {
            if let Some(memory) = &self.inner.memory {
                memory.remove(key);
            }
        });
    }

    /// Removes `key`: a tombstone in the store, so a fill made from a read before it is
    /// refused. With a version check, other processes drop their L1 copies within the
    /// bound (those of the other keys in its bucket are re-read from the store).
    pub async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.delete_if(key, Precondition::None).await.map(drop)
    }

    /// [`delete`](Self::delete) if `precondition` holds for the item in the store (see
    /// [`read_item`](Self::read_item)); `Ok(false)` when it does not, and nothing was
    /// deleted (this process forgets its copy all the same).
    pub async fn delete_if(
        &self,
        key: &str,
        precondition: Precondition,
    ) -> Result<bool, CacheError> {
        Self::check_key(key)?;
        self.forget(key);
        let Some(store) = &self.inner.store else {
            return Ok(true);
        };
        let timeout = self.inner.invalidation_timeout;
        let store_key = self.store_key(key);
        let deleted = self
            .timed_call("delete", timeout, store.delete(&store_key, precondition))
            .await;
        // Once more now that the tombstone is in: a read here that began before it landed
        // (after the first) may have read the old value.
        self.forget(key);
        let deleted = deleted?;
        if deleted && self.version_check.is_some() {
            self.bump_key_bucket(key).await?;
        }
        Ok(deleted)
    }

    /// Invalidates every entry written with `tag`, of any data type.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<(), CacheError> {
        let view = self
            .inner
            .stamps
            .scope(&self.inner.key_prefix, ScopeKind::Tag, tag);
        self.bump(&view, GEN).await
    }

    /// Invalidates every entry of this handle's data type written with `key_prefix` in
    /// [`WriteOptions::prefixes`](super::WriteOptions::prefixes).
    pub async fn invalidate_prefix(&self, key_prefix: &str) -> Result<(), CacheError> {
        let name = format!("{}#{key_prefix}", self.data_type);
        let view = self
            .inner
            .stamps
            .scope(&self.inner.key_prefix, ScopeKind::KeyPrefix, &name);
        self.bump(&view, GEN).await
    }

    /// Invalidates every entry of this handle's data type, in the store and in every
    /// process's L1. One write: the entries stay until DynamoDB's TTL (or Redis's
    /// expiry) reclaims them, read as misses meanwhile.
    pub async fn invalidate_all(&self) -> Result<(), CacheError> {
        let stamp = self.type_stamp.clone();
        self.bump(&stamp, ALL).await
    }

    /// Makes every process drop its L1 copies of this handle's data type (after the
    /// store was rewritten behind the cache's back, as a backfill does): they re-read
    /// the store.
    pub async fn invalidate_memory(&self) -> Result<(), CacheError> {
        let stamp = self.type_stamp.clone();
        self.bump(&stamp, MEM).await
    }

    /// Empties this process's L1 (every data type); reads in flight here are not kept.
    pub fn clear_memory(&self) {
        self.inner.local.invalidate_all(|| {
            if let Some(memory) = &self.inner.memory {
                memory.clear();
            }
        });
    }

    /// Replaces every entry under this cache's key prefix by a tombstone (not the cache's
    /// own items: idempotency records outlive it), and empties this process's L1. A
    /// maintenance operation: it scans the whole key space, and is not an invalidation.
    /// Other processes keep their L1 copies up to their memory TTL, and a fill in flight
    /// may store, after it returns, a value read before it (a key it found absent stays
    /// fillable); `invalidate_all` holds against both.
    pub async fn clear(&self) -> Result<u64, CacheError> {
        self.clear_memory();
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let timeout = self.inner.invalidation_timeout;
        let prefix = &self.inner.key_prefix;
        Ok(self
            .timed_call("clear", timeout, store.clear(prefix))
            .await?)
    }

    /// Replaces the entries whose keys match a glob `pattern` (prefix applied) by
    /// tombstones where the store supports it
    /// ([`Capabilities::pattern_delete`](crate::store::Capabilities)), and empties this
    /// process's L1. A maintenance operation: it scans the whole key space.
    pub async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, CacheError> {
        self.clear_memory();
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        let timeout = self.inner.invalidation_timeout;
        let pattern = self.store_key(pattern);
        Ok(self
            .timed_call(
                "delete_by_pattern",
                timeout,
                store.delete_by_pattern(&pattern),
            )
            .await?)
    }
}
