//! Reads: L1, then the store, judging every value against the invalidations it may have
//! missed; store hits are kept in L1.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tracing::Instrument;

use super::l1::Validity;
use super::stamps::Check;
use super::{CacheValue, TieredCache};
use crate::envelope::{self, Decoded};
use crate::error::{CacheError, StoreError};
use crate::metrics::Counters;
use crate::query::{IndexQuery, Page};
use crate::store::{LeaseHolder, Slot, Version};

/// What a lookup found.
pub(super) enum Found<T> {
    /// A value within its TTL.
    Fresh(T, Validity),
    /// A value past its TTL, within its stale window.
    Stale(T),
    /// Nothing servable.
    Miss,
}

/// A lookup's result, with what the store said of the item (for the fill that follows a
/// miss: it is conditional on that version).
pub(super) struct Lookup<T> {
    pub found: Found<T>,
    /// The item's version as the store read it (`None`: absent, or not read).
    pub version: Option<Version>,
    /// The item's lease, if one is held.
    pub lease: Option<LeaseHolder>,
    /// Whether the store answered (or there is none): when it did not, a fill does not
    /// wait on it once more for stamps.
    pub store_answered: bool,
}

/// An item as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item<T> {
    /// Its version (`None`: no item).
    pub version: Option<Version>,
    /// Its value, if it holds one that may be served (fresh or stale).
    pub value: Option<T>,
}

/// A value read from the store that may be served, with how to judge it later.
pub(super) struct Accepted<T> {
    pub value: T,
    pub fresh: bool,
    pub validity: Validity,
}

impl TieredCache {
    /// The L1 entry for `key` if it may be served (re-reading stale stamp views).
    pub(super) async fn l1_lookup<T: CacheValue>(&self, key: &str) -> Found<T> {
        let Some(memory) = &self.inner.memory else {
            return Found::Miss;
        };
        let Some(entry) = memory.get(key) else {
            return Found::Miss;
        };
        let now = self.inner.clock.now_ms();
        let local = &self.inner.local;
        let admitted = now < entry.expires_at_ms
            && local.admits(local.stripe(key), entry.validity.ticket)
            && match self.valid_now(&entry.validity.checks) {
                Some(valid) => valid,
                None => self.valid(&entry.validity.checks).await,
            };
        let value = entry.value.downcast_ref::<T>().filter(|_| admitted);
        match value {
            Some(v) if now < entry.fresh_until_ms => Found::Fresh(v.clone(), entry.validity),
            Some(v) => Found::Stale(v.clone()),
            None => {
                memory.remove(key);
                Found::Miss
            }
        }
    }

    /// The fresh L1 value, counted as a memory hit.
    pub(super) async fn l1_hit<T: CacheValue>(&self, key: &str, span: &tracing::Span) -> Option<T> {
        match self.l1_lookup::<T>(key).await {
            Found::Fresh(v, _) => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                Some(v)
            }
            Found::Stale(_) | Found::Miss => None,
        }
    }

    /// Decodes a store value and judges it; keeps it in L1 when servable.
    pub(super) async fn accept<T: CacheValue>(
        &self,
        key: &str,
        bytes: &[u8],
        ticket: u64,
        memory_checks: Option<[Check; 2]>,
    ) -> Option<Accepted<T>> {
        let decoded: Decoded<T> = match envelope::decode(bytes, self.inner.schema_version) {
            Ok(decoded) => decoded,
            Err(e) => {
                tracing::debug!(key, error = %e, "undecodable cache value treated as a miss");
                return None;
            }
        };
        let now = self.inner.clock.now_ms();
        if decoded.meta.expires_at_ms <= now {
            return None;
        }
        let validity = Validity::new(ticket, self.scope_checks(&decoded.scopes), memory_checks);
        if !self.valid(&validity.checks).await {
            return None;
        }
        self.keep(
            key,
            decoded.value.clone(),
            decoded.meta.fresh_until_ms,
            decoded.meta.expires_at_ms,
            decoded.json_len,
            &validity,
        );
        Some(Accepted {
            value: decoded.value,
            fresh: now < decoded.meta.fresh_until_ms,
            validity,
        })
    }

    /// Keeps a value in L1 (capped at the handle's memory TTL), unless an invalidation in
    /// this process came after its read began.
    pub(super) fn keep<T: CacheValue>(
        &self,
        key: &str,
        value: T,
        fresh_until_ms: u64,
        expires_at_ms: u64,
        size: usize,
        validity: &Validity,
    ) {
        let Some(memory) = &self.inner.memory else {
            return;
        };
        let local = &self.inner.local;
        if !validity.for_memory || !local.admits(local.stripe(key), validity.ticket) {
            return;
        }
        let now = self.inner.clock.now_ms();
        let cap = self
            .memory_ttl
            .map_or(u64::MAX, |ttl| now.saturating_add(ttl.as_millis() as u64));
        memory.insert(
            key,
            Arc::new(value),
            fresh_until_ms.min(cap),
            expires_at_ms.min(cap),
            now,
            size,
            validity.clone(),
        );
    }

    /// L1, then the store (keeping hits in L1).
    pub(super) async fn lookup<T: CacheValue>(
        &self,
        key: &str,
        span: &tracing::Span,
    ) -> Result<Lookup<T>, CacheError> {
        let in_l1 = match self.l1_lookup(key).await {
            Found::Fresh(v, validity) => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                return Ok(Lookup {
                    found: Found::Fresh(v, validity),
                    version: None,
                    lease: None,
                    store_answered: true,
                });
            }
            stale_or_miss => stale_or_miss,
        };
        let Some(store) = &self.inner.store else {
            return Ok(Lookup {
                found: in_l1,
                version: None,
                lease: None,
                store_answered: true,
            });
        };
        let ticket = self.inner.local.ticket();
        let memory_checks = self.memory_checks(key);
        let read = self
            .store_call("read", store.read(&self.store_key(key)))
            .await;
        let store_answered = read.is_ok();
        let slot = self.degrade(read, Slot::default())?;
        let accepted = match &slot.value {
            Some(bytes) => self.accept::<T>(key, bytes, ticket, memory_checks).await,
            None => None,
        };
        let found = match accepted {
            Some(Accepted {
                value,
                fresh: true,
                validity,
            }) => {
                Counters::inc(&self.counters.store_hits);
                span.record("layer", "store");
                Found::Fresh(value, validity)
            }
            Some(Accepted { value, .. }) => Found::Stale(value),
            None => in_l1,
        };
        Ok(Lookup {
            found,
            version: slot.version,
            lease: slot.lease,
            store_answered,
        })
    }

    /// The item at `key` as the store holds it now (not L1): its version, for a
    /// conditional [`set_if`](Self::set_if) or [`delete_if`](Self::delete_if), and its
    /// value if it may be served. Store errors are raised, not degraded.
    pub async fn read_item<T: CacheValue>(&self, key: &str) -> Result<Item<T>, CacheError> {
        Self::check_key(key)?;
        let Some(store) = &self.inner.store else {
            return Ok(Item {
                version: None,
                value: None,
            });
        };
        let ticket = self.inner.local.ticket();
        let memory_checks = self.memory_checks(key);
        let slot = self
            .store_call("read", store.read(&self.store_key(key)))
            .await?;
        let value = match &slot.value {
            Some(bytes) => self.accept::<T>(key, bytes, ticket, memory_checks).await,
            None => None,
        };
        Ok(Item {
            version: slot.version,
            value: value.map(|accepted| accepted.value),
        })
    }

    /// The fresh value from L1 or the store, or `None`.
    pub async fn get<T: CacheValue>(&self, key: &str) -> Result<Option<T>, CacheError> {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return Ok(None);
        }
        let span = self.span("get", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(Some(v));
        }
        // Boxed so the L1 fast path does not carry the store path's state.
        Box::pin(
            async {
                match self.lookup::<T>(key, &span).await?.found {
                    Found::Fresh(v, _) => Ok(Some(v)),
                    Found::Stale(_) | Found::Miss => {
                        Counters::inc(&self.counters.misses);
                        Ok(None)
                    }
                }
            }
            .instrument(span.clone()),
        )
        .await
    }

    /// True if a servable value (fresh, or within its stale window) exists in L1 or the
    /// store, whatever its type.
    pub async fn has(&self, key: &str) -> Result<bool, CacheError> {
        Self::check_key(key)?;
        if let Some(entry) = self.inner.memory.as_ref().and_then(|m| m.get(key)) {
            let local = &self.inner.local;
            if entry.expires_at_ms > self.inner.clock.now_ms()
                && local.admits(local.stripe(key), entry.validity.ticket)
                && self.valid(&entry.validity.checks).await
            {
                return Ok(true);
            }
        }
        let Some(store) = &self.inner.store else {
            return Ok(false);
        };
        let memory_checks = self.memory_checks(key);
        let read = self
            .store_call("read", store.read(&self.store_key(key)))
            .await;
        let Some(bytes) = self.degrade(read, Slot::default())?.value else {
            return Ok(false);
        };
        let Ok((meta, scopes)) = envelope::decode_header(&bytes, self.inner.schema_version) else {
            return Ok(false);
        };
        let validity = Validity::new(0, self.scope_checks(&scopes), memory_checks);
        Ok(meta.expires_at_ms > self.inner.clock.now_ms() && self.valid(&validity.checks).await)
    }

    /// Values for several keys: L1 first, then one batched store read (DynamoDB
    /// `BatchGetItem`, 100 keys per request, unprocessed keys retried while they make
    /// progress). Duplicate keys are looked up once. Missing keys are absent from the
    /// map; the origin is not called.
    pub async fn get_many<T: CacheValue>(
        &self,
        keys: &[impl AsRef<str>],
    ) -> Result<HashMap<String, T>, CacheError> {
        let mut out = HashMap::with_capacity(keys.len());
        if !self.inner.enabled {
            return Ok(out);
        }
        for key in keys {
            Self::check_key(key.as_ref())?;
        }
        let span = self.span("get_many", "");
        async {
            let mut missing = Vec::new();
            let mut seen = HashSet::with_capacity(keys.len());
            for key in keys.iter().map(AsRef::as_ref).filter(|k| seen.insert(*k)) {
                match self.l1_lookup::<T>(key).await {
                    Found::Fresh(v, _) => {
                        Counters::inc(&self.counters.memory_hits);
                        out.insert(key.to_owned(), v);
                    }
                    _ => missing.push(key.to_owned()),
                }
            }
            if let (Some(store), false) = (&self.inner.store, missing.is_empty()) {
                let ticket = self.inner.local.ticket();
                let checks: Vec<Option<[Check; 2]>> =
                    missing.iter().map(|key| self.memory_checks(key)).collect();
                let full: Vec<String> = missing.iter().map(|k| self.store_key(k)).collect();
                let r = self.store_call("read_many", store.read_many(&full)).await;
                let found = self.degrade(r, HashMap::new())?;
                for ((key, full_key), memory_checks) in missing.iter().zip(&full).zip(checks) {
                    let Some(bytes) = found.get(full_key) else {
                        continue;
                    };
                    if let Some(accepted) =
                        self.accept::<T>(key, bytes, ticket, memory_checks).await
                        && accepted.fresh
                    {
                        Counters::inc(&self.counters.store_hits);
                        out.insert(key.clone(), accepted.value);
                    }
                }
            }
            for _ in out.len()..seen.len() {
                Counters::inc(&self.counters.misses);
            }
            Ok(out)
        }
        .instrument(span)
        .await
    }

    /// One page of an index query, read as values of `T`; items whose key does not start
    /// with `key_prefix` (other data types on the same index) are left out. Needs a store
    /// with indexes (DynamoDB).
    pub async fn query<T: CacheValue>(
        &self,
        key_prefix: &str,
        query: IndexQuery,
    ) -> Result<Page<T>, CacheError> {
        let Some(store) = self.store() else {
            return Err(StoreError::Unsupported {
                store: "memory",
                operation: "index queries",
            }
            .into());
        };
        let scope = self.store_key("");
        let (keys, next) = self
            .store_call(
                "query_index",
                store.query_index(&query, &self.store_key(key_prefix)),
            )
            .await?;
        let keys: Vec<String> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(scope.as_str()).map(str::to_owned))
            .collect();
        let mut found = self.get_many::<T>(&keys).await?;
        Ok(Page {
            items: keys.iter().filter_map(|key| found.remove(key)).collect(),
            next,
        })
    }
}
