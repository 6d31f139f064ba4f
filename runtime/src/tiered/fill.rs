//! Writes: explicit sets, and cache-aside (`wrap`, `wrap_swr`) with single-flight in the
//! process. A value an origin returned is stored only if the item is still as the miss
//! saw it, and kept in L1 only after the store accepted it (or could not be reached).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

// Tokio's clock, so how long an origin call took follows a paused clock in simulations.
use tokio::time::Instant;

use tracing::Instrument;

use super::l1::Validity;
use super::lease::{LeaseGuard, Leased};
use super::lookup::{Found, Lookup};
use super::{CacheValue, TieredCache, WriteOptions};
use crate::envelope::{self, EnvelopeMeta, ScopeGen};
use crate::error::{BoxError, CacheError};
use crate::flight::{Leader, Role};
use crate::metrics::Counters;
use crate::store::{Attributes, Precondition, StoreEntry, TOMBSTONE_LIFETIME, Version};

/// What a flight hands its followers: the outcome, and (for a value) how to judge it.
#[derive(Clone)]
pub(super) struct Flown<T> {
    result: Result<T, CacheError>,
    validity: Option<Validity>,
}

/// What a fill stands on before its origin call.
pub(super) struct Ground {
    /// The item's version the fill is conditional on.
    seen: Option<Version>,
    /// The lease, when this process holds it.
    guard: Option<LeaseGuard>,
    /// Whether to bring stamp views up to date first (not when the store just failed to
    /// answer: a lookup during an outage waits on it once, not twice).
    refresh_stamps: bool,
}

/// An entry ready for the store.
struct Encoded {
    bytes: Vec<u8>,
    /// Length of the value's JSON: what it weighs in L1.
    json_len: usize,
    meta: EnvelopeMeta,
}

/// A value to store, with everything its write needs.
struct Fill<'a, T> {
    key: &'a str,
    value: &'a T,
    opts: &'a WriteOptions,
    attributes: Attributes,
    stale_window: Duration,
    /// When the origin read began, clock ms.
    started_ms: u64,
    scopes: &'a [ScopeGen],
    validity: &'a Validity,
    /// The condition of the store write.
    precondition: Precondition,
}

fn origin_error(e: impl Into<BoxError>) -> CacheError {
    CacheError::Origin(Arc::from(e.into()))
}

impl TieredCache {
    /// Cache-aside: the cached value, or `origin()`'s, stored for `ttl`.
    /// Concurrent misses on one key in this process call `origin` once.
    pub async fn wrap<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.wrap_with(key, &WriteOptions::ttl(ttl), origin).await
    }

    /// [`wrap`](Self::wrap) with tags, key prefixes and extra attributes.
    pub async fn wrap_with<T, E, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.wrap_with_attributes(key, opts, |_: &T| Attributes::new(), origin)
            .await
    }

    /// [`wrap_with`](Self::wrap_with), adding item attributes made from the origin's
    /// value (such as a customer code a GSI finds).
    pub async fn wrap_with_attributes<T, E, A, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        attributes: A,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        A: FnOnce(&T) -> Attributes,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return origin().await.map_err(origin_error);
        }
        let span = self.span("wrap", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(v);
        }
        Box::pin(
            self.fetch(key, opts, attributes, Duration::ZERO, origin, &span)
                .instrument(span.clone()),
        )
        .await
    }

    /// Stale-while-revalidate: a fresh value is returned as is; a value up to
    /// `stale_window` past its `ttl` is returned at once while one background
    /// task refreshes it from `origin`; anything older is a miss.
    ///
    /// On Lambda, background work only runs while an invocation is active.
    pub async fn wrap_swr<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        stale_window: Duration,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let opts = WriteOptions::ttl(ttl);
        self.wrap_swr_with_attributes(key, &opts, stale_window, |_: &T| Attributes::new(), origin)
            .await
    }

    /// [`wrap_swr`](Self::wrap_swr) with write options and attributes made from the
    /// origin's value.
    pub async fn wrap_swr_with_attributes<T, E, A, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        stale_window: Duration,
        attributes: A,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        A: FnOnce(&T) -> Attributes + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return origin().await.map_err(origin_error);
        }
        let span = self.span("wrap_swr", key);
        if let Some(v) = self.l1_hit::<T>(key, &span).await {
            return Ok(v);
        }
        Box::pin(
            async {
                let lookup = self.lookup::<T>(key, &span).await?;
                match lookup.found {
                    Found::Fresh(v, _) => Ok(v),
                    Found::Stale(v) => {
                        Counters::inc(&self.counters.stale_serves);
                        span.record("layer", "stale");
                        if let Some(leader) = self.inner.flights.try_lead::<Flown<T>>(key) {
                            let (this, key, opts) = (self.clone(), key.to_owned(), opts.clone());
                            let (version, lease) = (lookup.version, lookup.lease);
                            tokio::spawn(
                                async move {
                                    let revisit = Lookup {
                                        found: Found::Miss,
                                        version,
                                        lease,
                                        store_answered: true,
                                    };
                                    // Across processes, one refreshes; the rest keep serving
                                    // stale.
                                    let span = tracing::Span::current();
                                    let Ok(Leased::Call { seen, guard }) =
                                        this.lease::<T>(&key, &revisit, &span, false).await
                                    else {
                                        return;
                                    };
                                    let ground = Ground {
                                        seen,
                                        guard,
                                        refresh_stamps: true,
                                    };
                                    let _ = this
                                        .call_origin(
                                            &key,
                                            &opts,
                                            attributes,
                                            stale_window,
                                            origin,
                                            leader,
                                            ground,
                                        )
                                        .await;
                                }
                                .in_current_span(),
                            );
                        }
                        Ok(v)
                    }
                    Found::Miss => {
                        self.fetch(key, &opts.clone(), attributes, stale_window, origin, &span)
                            .await
                    }
                }
            }
            .instrument(span.clone()),
        )
        .await
    }

    /// Single-flight over store lookup and origin: followers take the leader's outcome
    /// unless an invalidation since its read began makes it stale for them.
    async fn fetch<T, E, A, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        attributes: A,
        stale_window: Duration,
        origin: F,
        span: &tracing::Span,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        A: FnOnce(&T) -> Attributes,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut stale_flight = None;
        loop {
            let role = match stale_flight {
                Some(id) => self.inner.flights.replace::<Flown<T>>(key, id),
                None => self.inner.flights.join::<Flown<T>>(key),
            };
            match role {
                Role::Follower(follower) => {
                    Counters::inc(&self.counters.coalesced);
                    let id = follower.id();
                    let Some(flown) = follower.outcome().await else {
                        // The leader was cancelled: try again, perhaps as leader.
                        continue;
                    };
                    if let Some(validity) = &flown.validity
                        && !self.still_valid(key, validity).await
                    {
                        stale_flight = Some(id);
                        continue;
                    }
                    span.record("layer", "coalesced");
                    return flown.result;
                }
                Role::Leader(leader) => {
                    let lookup = self.lookup::<T>(key, span).await?;
                    if let Found::Fresh(v, validity) = lookup.found {
                        leader.publish(Flown {
                            result: Ok(v.clone()),
                            validity: Some(validity),
                        });
                        return Ok(v);
                    }
                    let (seen, guard) = match self.lease::<T>(key, &lookup, span, true).await? {
                        Leased::Value(v, validity) => {
                            leader.publish(Flown {
                                result: Ok(v.clone()),
                                validity: Some(validity),
                            });
                            return Ok(v);
                        }
                        Leased::Call { seen, guard } => (seen, guard),
                        Leased::Elsewhere => (lookup.version, None),
                    };
                    span.record("layer", "origin");
                    let ground = Ground {
                        seen,
                        guard,
                        refresh_stamps: lookup.store_answered,
                    };
                    return self
                        .call_origin(key, opts, attributes, stale_window, origin, leader, ground)
                        .await;
                }
            }
        }
    }

    /// Whether a value read in this process is still servable here.
    async fn still_valid(&self, key: &str, validity: &Validity) -> bool {
        let local = &self.inner.local;
        local.admits(local.stripe(key), validity.ticket) && self.valid(&validity.checks).await
    }

    /// Calls the origin as flight leader: publishes the outcome to followers first, then
    /// stores a value, conditional on the item still being at `ground.seen`.
    #[allow(clippy::too_many_arguments)]
    async fn call_origin<T, E, A, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        attributes: A,
        stale_window: Duration,
        origin: F,
        leader: Leader<Flown<T>>,
        ground: Ground,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        A: FnOnce(&T) -> Attributes,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Counters::inc(&self.counters.misses);
        let Ground {
            seen,
            guard,
            refresh_stamps,
        } = ground;
        let scopes = self.scopes_of(&opts.tags, &opts.prefixes);
        if refresh_stamps {
            self.refresh_scopes(&scopes).await;
        }
        let (scopes, checks) = scopes.record();
        let validity = Validity::new(self.inner.local.ticket(), checks, self.memory_checks(key));
        let started_ms = self.inner.clock.now_ms();
        let start = Instant::now();
        let result = origin().await.map_err(origin_error);
        self.counters.origin_latency(start.elapsed());
        leader.publish(Flown {
            result: result.clone(),
            validity: result.is_ok().then(|| validity.clone()),
        });
        match &result {
            Ok(value) => {
                let mut item_attributes = opts.attributes.clone();
                item_attributes.extend(attributes(value));
                let fill = Fill {
                    key,
                    value,
                    opts,
                    attributes: item_attributes,
                    stale_window,
                    started_ms,
                    scopes: &scopes,
                    validity: &validity,
                    precondition: Precondition::Version(seen),
                };
                self.fill(fill, start, guard).await;
            }
            Err(_) => {
                if let Some(guard) = guard {
                    guard.release().await;
                }
            }
        }
        result
    }

    /// Stores an origin's value (errors are logged: the caller has its value).
    async fn fill<T: CacheValue>(
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
        let meta = self.meta(fill.started_ms, fill.opts.ttl, fill.stale_window);
        let (bytes, json_len) =
            envelope::encode(fill.value, meta, fill.scopes, self.inner.compress_over)
                .map_err(|e| CacheError::Serialize(Arc::new(e)))?;
        Ok(Encoded {
            bytes,
            json_len,
            meta,
        })
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
            created_at_ms: fill.started_ms,
            expires_at_ms: encoded.meta.expires_at_ms,
            ttl: Duration::from_millis(encoded.meta.expires_at_ms.saturating_sub(now).max(1)),
            attributes: &fill.attributes,
            large_values: self.large_values,
        };
        let key = self.store_key(fill.key);
        Ok(self
            .store_call("write", store.write(&key, entry, fill.precondition))
            .await?)
    }

    fn keep_fill<T: CacheValue>(&self, fill: &Fill<'_, T>, encoded: &Encoded) {
        self.keep(
            fill.key,
            fill.value.clone(),
            encoded.meta.fresh_until_ms,
            encoded.meta.expires_at_ms,
            encoded.json_len,
            fill.validity,
        );
    }

    fn meta(&self, created_at_ms: u64, ttl: Duration, stale_window: Duration) -> EnvelopeMeta {
        let fresh_until_ms = created_at_ms + ttl.as_millis() as u64;
        EnvelopeMeta {
            schema_version: self.inner.schema_version,
            created_at_ms,
            fresh_until_ms,
            expires_at_ms: fresh_until_ms + stale_window.as_millis() as u64,
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
            let validity =
                Validity::new(self.inner.local.ticket(), checks, self.memory_checks(key));
            let fill = Fill {
                key,
                value,
                opts,
                attributes: opts.attributes.clone(),
                stale_window: Duration::ZERO,
                started_ms: self.inner.clock.now_ms(),
                scopes: &scopes,
                validity: &validity,
                precondition,
            };
            let encoded = self.encode(&fill)?;
            let written = self.write_entry(&fill, &encoded).await?;
            if written.is_some() {
                self.keep_fill(&fill, &encoded);
            }
            Ok(written)
        }
        .instrument(self.span("set", key))
        .await
    }

    /// Calls `origin` whether or not a value is cached, and stores its answer unless the
    /// item changed meanwhile (a delete, or a newer write, wins). For a refresh from the
    /// source of truth, such as a backfill or an S3 event: a plain `set` after reading
    /// the source could overwrite a newer value with the one it read.
    pub async fn reload_with<T, E, A, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        attributes: A,
        origin: F,
    ) -> Result<T, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        A: FnOnce(&T) -> Attributes,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return origin().await.map_err(origin_error);
        }
        let span = self.span("reload", key);
        async {
            let seen = match &self.inner.store {
                Some(store) => {
                    self.store_call("read", store.read(&self.store_key(key)))
                        .await?
                        .version
                }
                None => None,
            };
            // Not joined to a flight: a flight's read may predate what the caller knows.
            let leader = self.inner.flights.detached::<Flown<T>>();
            let ground = Ground {
                seen,
                guard: None,
                refresh_stamps: true,
            };
            self.call_origin(
                key,
                opts,
                attributes,
                Duration::ZERO,
                origin,
                leader,
                ground,
            )
            .await
        }
        .instrument(span.clone())
        .await
    }
}
