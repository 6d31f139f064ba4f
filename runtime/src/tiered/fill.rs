//! Writes: explicit sets, and the fills of cache-aside. A value an origin returned is
//! stored only if the item is still as the miss saw it, and kept in L1 only after the
//! store accepted it (or could not be reached).

use std::sync::Arc;
use std::time::Duration;

// Tokio's clock, so how long an origin call took follows a paused clock in simulations.
use tokio::time::Instant;

use tracing::Instrument;

use super::l1::Validity;
use super::lease::LeaseGuard;
use super::{CacheValue, TieredCache, WriteOptions};
use crate::CacheError;
use crate::envelope::{self, EnvelopeMeta, ScopeGen};
use crate::store::{Attributes, Precondition, StoreEntry, TOMBSTONE_LIFETIME, Version};

/// An entry ready for the store.
struct Encoded {
    bytes: Vec<u8>,
    /// Length of the value's JSON: what it weighs in L1.
    json_len: usize,
}

/// A value to store, with everything its write needs.
pub(super) struct Fill<'a, T> {
    pub key: &'a str,
    pub value: &'a T,
    pub attributes: Attributes,
    /// Its times: created when the origin read began.
    pub meta: EnvelopeMeta,
    pub scopes: &'a [ScopeGen],
    pub validity: &'a Validity,
    /// The condition of the store write.
    pub precondition: Precondition,
}

impl TieredCache {
    /// Stores an origin's value (errors are logged: the caller has its value).
    pub(super) async fn fill<T: CacheValue>(
        &self,
        fill: Fill<'_, T>,
        started: Instant,
        guard: Option<LeaseGuard>,
    ) {
        let key = fill.key;
        if started.elapsed() > TOMBSTONE_LIFETIME / 2 {
            // A tombstone written before this read may be gone by now.
            tracing::warn!(
                key,
                "origin call outlived the tombstone lifetime: value not cached"
            );
            return;
        }
        let written = match self.encode(&fill) {
            Ok(encoded) => self
                .write_entry(&fill, &encoded)
                .await
                .map(|w| (w, encoded)),
            Err(e) => Err(e),
        };
        match written {
            Ok((Some(_), encoded)) => {
                if let Some(guard) = guard {
                    guard.disarm();
                }
                self.keep_fill(&fill, &encoded);
            }
            Ok((None, _)) => {
                // The item changed since the miss read it (a delete, a newer write):
                // this value is older than what is there. The lease, if any, went with it.
                if let Some(guard) = guard {
                    guard.disarm();
                }
                tracing::debug!(key, "origin value not cached: the item changed meanwhile");
            }
            Err(e) => {
                if let (CacheError::Store(store_error), Ok(encoded)) = (&e, self.encode(&fill))
                    && super::is_transient(store_error)
                {
                    // Nothing in the store to be incoherent with: keep it here.
                    self.keep_fill(&fill, &encoded);
                }
                tracing::warn!(key, error = %e, "origin value returned but not cached");
            }
        }
    }

    /// The entry of a fill, encoded.
    fn encode<T: CacheValue>(&self, fill: &Fill<'_, T>) -> Result<Encoded, CacheError> {
        let (bytes, json_len) =
            envelope::encode(fill.value, fill.meta, fill.scopes, self.inner.compress_over)
                .map_err(|e| CacheError::Serialize(Arc::new(e)))?;
        Ok(Encoded { bytes, json_len })
    }

    /// Writes an encoded entry to the store: the item's new version, or `None` when the
    /// precondition does not hold (always written, with no version, without a store).
    async fn write_entry<T: CacheValue>(
        &self,
        fill: &Fill<'_, T>,
        encoded: &Encoded,
    ) -> Result<Option<Version>, CacheError> {
        let Some(store) = &self.inner.store else {
            return Ok(Some(Version::fresh()));
        };
        let now = self.inner.clock.now_ms();
        let entry = StoreEntry {
            value: &encoded.bytes,
            created_at_ms: fill.meta.created_at_ms,
            expires_at_ms: fill.meta.expires_at_ms,
            ttl: Duration::from_millis(fill.meta.expires_at_ms.saturating_sub(now).max(1)),
            attributes: &fill.attributes,
            large_values: self.large_values,
        };
        let key = self.store_key(fill.key);
        Ok(self
            .store_call("write", store.write(&key, entry, fill.precondition))
            .await?)
    }

    fn keep_fill<T: CacheValue>(&self, fill: &Fill<'_, T>, encoded: &Encoded) {
        let value = fill.value.clone();
        self.keep(fill.key, value, fill.meta, encoded.json_len, fill.validity);
    }

    /// The times of a value whose origin read began at `created_at_ms`: fresh for `ttl`
    /// (with the handle's jitter), kept past that for its stale window or fail-safe.
    pub(super) fn meta(
        &self,
        created_at_ms: u64,
        ttl: Duration,
        stale_window: Duration,
    ) -> EnvelopeMeta {
        let fresh_until_ms = created_at_ms + self.policy.jittered(ttl).as_millis() as u64;
        EnvelopeMeta {
            schema_version: self.inner.schema_version,
            created_at_ms,
            fresh_until_ms,
            expires_at_ms: fresh_until_ms + self.policy.stale_span(stale_window).as_millis() as u64,
        }
    }

    /// Stores `value` for `ttl` in both layers.
    pub async fn set<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.set_with(key, value, &WriteOptions::ttl(ttl)).await
    }

    /// Stores `value` with tags, key prefixes and extra attributes, replacing whatever
    /// the item holds; reads in flight in this process are older and are not served
    /// after it. L1 keeps it only once the store accepted it. Fails if the store does not
    /// (an outage, or [`StoreError::TooLarge`](crate::StoreError::TooLarge) unless the
    /// handle allows [large values](Self::with_large_values) and the store can keep
    /// them), whatever the strict setting.
    pub async fn set_with<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        opts: &WriteOptions,
    ) -> Result<(), CacheError> {
        self.set_if(key, value, opts, Precondition::None)
            .await
            .map(drop)
    }

    /// [`set_with`](Self::set_with) if `precondition` holds for the item in the store
    /// (see [`read_item`](Self::read_item)): its new version, or `None` when it does not
    /// hold and nothing was written.
    pub async fn set_if<T: CacheValue>(
        &self,
        key: &str,
        value: &T,
        opts: &WriteOptions,
        precondition: Precondition,
    ) -> Result<Option<Version>, CacheError> {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return Ok(None);
        }
        async {
            self.forget(key);
            let scopes = self.scopes_of(&opts.tags, &opts.prefixes);
            self.refresh_scopes(&scopes).await;
            let (scopes, checks) = scopes.record();
            let validity = Validity::new(self.ticket(), checks, self.memory_checks(key));
            let fill = Fill {
                key,
                value,
                attributes: opts.attributes.clone(),
                meta: self.meta(self.inner.clock.now_ms(), opts.ttl, Duration::ZERO),
                scopes: &scopes,
                validity: &validity,
                precondition,
            };
            let encoded = self.encode(&fill)?;
            let written = self.write_entry(&fill, &encoded).await;
            // A read here that began before the write landed may have read the value it
            // replaced: forget that, then keep this one.
            self.forget(key);
            let written = written?;
            if written.is_some() {
                let now = Validity {
                    ticket: self.ticket(),
                    ..validity.clone()
                };
                self.keep_fill(
                    &Fill {
                        validity: &now,
                        ..fill
                    },
                    &encoded,
                );
            }
            Ok(written)
        }
        .instrument(self.span("set", key))
        .await
    }
}
