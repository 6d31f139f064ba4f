//! Reads: L1, then the store, judging every value against the invalidations it may have
//! missed; store hits are kept in L1.

use std::collections::{HashMap, HashSet};

use tracing::Instrument;

use super::l1::{Ticket, Validity};
use super::stamps::Check;
use super::{CacheValue, TieredCache};
use crate::envelope::{self, Decoded, EnvelopeMeta};
use crate::metrics::Counters;
use crate::query::{IndexQuery, Page};
use crate::store::{LeaseHolder, Slot, Version};
use crate::{CacheError, StoreError};

/// What a lookup found.
pub(super) enum Found<T> {
    /// A value within its TTL; `refresh_due` when it is past the handle's eager-refresh
    /// fraction of it.
    Fresh {
        value: T,
        validity: Validity,
        refresh_due: bool,
    },
    /// A value past its TTL that is still kept (for stale-while-revalidate or fail-safe).
    Stale {
        value: T,
        validity: Validity,
        fresh_until_ms: u64,
        /// When it may no longer be served at all.
        expires_at_ms: u64,
    },
    /// Nothing servable.
    Miss,
}

impl<T> Found<T> {
    /// What the lookup found, judged at `now_ms` against its times.
    fn judged(
        cache: &TieredCache,
        value: T,
        validity: Validity,
        meta: &EnvelopeMeta,
        now_ms: u64,
    ) -> Self {
        if now_ms < meta.fresh_until_ms {
            let refresh_due = cache.policy.eager_refresh.is_some_and(|fraction| {
                let ttl = meta.fresh_until_ms.saturating_sub(meta.created_at_ms);
                now_ms >= meta.created_at_ms + (ttl as f64 * fraction) as u64
            });
            Self::Fresh {
                value,
                validity,
                refresh_due,
            }
        } else {
            Self::Stale {
                value,
                validity,
                fresh_until_ms: meta.fresh_until_ms,
                expires_at_ms: meta.expires_at_ms,
            }
        }
    }
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

/// A value read from the store that may be served, with its times and how to judge it
/// later.
pub(super) struct Accepted<T> {
    pub value: T,
    pub meta: EnvelopeMeta,
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
        let admitted = now < entry.meta.expires_at_ms
            && match self.valid_at(&entry.validity.checks, now) {
                Some(valid) => valid,
                None => self.valid(&entry.validity.checks).await,
            };
        match entry.value.downcast_ref::<T>().filter(|_| admitted) {
            Some(value) => Found::judged(
                self,
                value.clone(),
                entry.validity.clone(),
                &entry.meta,
                now,
            ),
            None => {
                memory.remove(key);
                Found::Miss
            }
        }
    }

    /// The L1 value when it is fresh and its stamps were seen within the bound, counted as a
    /// memory hit: the hit most requests take, judged without an await, so the calls' fast
    /// paths stay small futures. `None` sends the caller the long way.
    pub(super) fn l1_fresh<T: CacheValue>(&self, key: &str, op: &'static str) -> Option<T> {
        let entry = self.inner.memory.as_ref()?.get(key)?;
        let now = self.inner.clock.now_ms();
        if now >= entry.meta.fresh_until_ms
            || self.valid_at(&entry.validity.checks, now) != Some(true)
        {
            return None;
        }
        let value = entry.value.downcast_ref::<T>()?.clone();
        Counters::inc(&self.counters.memory_hits);
        self.span(op, key).record("layer", "memory");
        Some(value)
    }

    /// The fresh L1 value, counted as a memory hit, re-reading stamp views older than the
    /// bound.
    pub(super) async fn l1_hit<T: CacheValue>(&self, key: &str, span: &tracing::Span) -> Option<T> {
        match self.l1_lookup::<T>(key).await {
            Found::Fresh { value, .. } => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                Some(value)
            }
            Found::Stale { .. } | Found::Miss => None,
        }
    }

    /// Decodes a store value and judges it; keeps it in L1 when servable.
    pub(super) async fn accept<T: CacheValue>(
        &self,
        key: &str,
        bytes: &[u8],
        ticket: Ticket,
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
            decoded.meta,
            decoded.json_len,
            &validity,
        );
        Some(Accepted {
            value: decoded.value,
            meta: decoded.meta,
            validity,
        })
    }

    /// Keeps a value in L1 (capped at the handle's memory TTL), unless an invalidation in
    /// this process came after its read began.
    pub(super) fn keep<T: CacheValue>(
        &self,
        key: &str,
        value: T,
        meta: EnvelopeMeta,
        size: usize,
        validity: &Validity,
    ) {
        let Some(memory) = &self.inner.memory else {
            return;
        };
        if !validity.for_memory {
            return;
        }
        let now = self.inner.clock.now_ms();
        let cap = self
            .memory_ttl
            .map_or(u64::MAX, |ttl| now.saturating_add(ttl.as_millis() as u64));
        let capped = EnvelopeMeta {
            fresh_until_ms: meta.fresh_until_ms.min(cap),
            expires_at_ms: meta.expires_at_ms.min(cap),
            ..meta
        };
        self.inner.local.keep(key, validity.ticket.epoch, || {
            memory.insert(key, value, capped, now, size, validity.clone());
        });
    }

    /// L1, then the store (keeping hits in L1).
    pub(super) async fn lookup<T: CacheValue>(
        &self,
        key: &str,
        span: &tracing::Span,
    ) -> Result<Lookup<T>, CacheError> {
        let in_l1 = match self.l1_lookup(key).await {
            fresh @ Found::Fresh { .. } => {
                Counters::inc(&self.counters.memory_hits);
                span.record("layer", "memory");
                return Ok(Lookup {
                    found: fresh,
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
        let ticket = self.ticket();
        let memory_checks = self.memory_checks(key);
        let read = self
            .read_with_type_stamp(store.as_ref(), &self.store_key(key))
            .await;
        let store_answered = read.is_ok();
        let slot = self.degrade(read, Slot::default())?;
        let accepted = match &slot.value {
            Some(bytes) => self.accept::<T>(key, bytes, ticket, memory_checks).await,
            None => None,
        };
        let now = self.inner.clock.now_ms();
        let found = match accepted {
            Some(Accepted {
                value,
                meta,
                validity,
            }) => match Found::judged(self, value, validity, &meta, now) {
                fresh @ Found::Fresh { .. } => {
                    Counters::inc(&self.counters.store_hits);
                    span.record("layer", "store");
                    fresh
                }
                stale => stale,
            },
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
        let ticket = self.ticket();
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
        if let Some(value) = self.l1_fresh::<T>(key, "get") {
            return Ok(Some(value));
        }
        // Boxed so the L1 fast path does not carry the store path's state.
        Box::pin(async {
            let span = self.span("get", key);
            if let Some(v) = self.l1_hit::<T>(key, &span).await {
                return Ok(Some(v));
            }
            match self
                .lookup::<T>(key, &span)
                .instrument(span.clone())
                .await?
                .found
            {
                Found::Fresh { value, .. } => Ok(Some(value)),
                Found::Stale { .. } | Found::Miss => {
                    Counters::inc(&self.counters.misses);
                    Ok(None)
                }
            }
        })
        .await
    }

    /// True if a servable value (fresh, or within its stale window) exists in L1 or the
    /// store, whatever its type.
    pub async fn has(&self, key: &str) -> Result<bool, CacheError> {
        Self::check_key(key)?;
        if let Some(entry) = self.inner.memory.as_ref().and_then(|m| m.get(key))
            && entry.meta.expires_at_ms > self.inner.clock.now_ms()
            && self.valid(&entry.validity.checks).await
        {
            return Ok(true);
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
        let validity = Validity::new(self.ticket(), self.scope_checks(&scopes), memory_checks);
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
                    Found::Fresh { value, .. } => {
                        Counters::inc(&self.counters.memory_hits);
                        out.insert(key.to_owned(), value);
                    }
                    _ => missing.push(key.to_owned()),
                }
            }
            if let (Some(store), false) = (&self.inner.store, missing.is_empty()) {
                let ticket = self.ticket();
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
                        && self.inner.clock.now_ms() < accepted.meta.fresh_until_ms
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
