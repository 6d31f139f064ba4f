//! Cache-aside (`wrap`, `wrap_swr`): single-flight in the process, the lease across
//! processes, and the handle's [origin policy](super::OriginPolicy): fail-safe, origin
//! timeouts, eager refresh, and the value's own TTL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

// Tokio's clock, so how long an origin call took follows a paused clock in simulations.
use tokio::time::Instant;

use tracing::Instrument;

use super::fill::Fill;
use super::l1::Validity;
use super::lease::{LeaseGuard, Leased};
use super::lookup::{Found, Lookup};
use super::policy::{Described, Served};
use super::{CacheValue, TieredCache, WriteOptions};
use crate::flight::{Leader, Role};
use crate::metrics::Counters;
use crate::store::{Precondition, Slot, Version};
use crate::{BoxError, CacheError};

/// What a flight hands its followers: the outcome, and (for a value) how to judge it.
#[derive(Clone)]
pub(super) struct Flown<T> {
    result: Result<Served<T>, CacheError>,
    validity: Option<Validity>,
}

/// What a fill stands on before its origin call.
struct Ground {
    /// The item's version the fill is conditional on.
    seen: Option<Version>,
    /// The lease, when this process holds it.
    guard: Option<LeaseGuard>,
    /// Whether to bring stamp views up to date first (not when the store just failed to
    /// answer: a lookup during an outage waits on it once, not twice).
    refresh_stamps: bool,
}

/// An expired value kept for fail-safe, and how to judge it.
#[derive(Clone)]
struct Fallback<T> {
    value: T,
    validity: Validity,
    /// When it may no longer be served (`max_stale` past its TTL, or its L1 copy's end).
    expires_at_ms: u64,
}

impl<T> Fallback<T> {
    /// The expired value a lookup found, when the handle has fail-safe.
    fn of(cache: &TieredCache, found: &Found<T>) -> Option<Self>
    where
        T: Clone,
    {
        match found {
            Found::Stale {
                value,
                validity,
                expires_at_ms,
                ..
            } if cache.policy.fail_safe.is_some() => Some(Self {
                value: value.clone(),
                validity: validity.clone(),
                expires_at_ms: *expires_at_ms,
            }),
            _ => None,
        }
    }

    /// The value, served stale, if it has not expired by `now_ms` (an origin that failed
    /// or timed out may have taken longer than it had left).
    fn serve(self, now_ms: u64) -> Option<Served<T>> {
        (now_ms < self.expires_at_ms).then_some(Served {
            value: self.value,
            stale: true,
        })
    }
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
        let served = self
            .wrap_served(key, opts, |_: &T| Described::default(), origin)
            .await?;
        Ok(served.value)
    }

    /// [`wrap_with`](Self::wrap_with), describing the origin's value (its item attributes,
    /// a TTL of its own), and saying whether what was served is stale: under fail-safe an
    /// expired value is served when the origin fails or passes the hard timeout.
    pub async fn wrap_served<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        describe: D,
        origin: F,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return origin().await.map(fresh).map_err(origin_error);
        }
        if let Some(value) = self.l1_fresh::<T>(key, "wrap") {
            return Ok(fresh(value));
        }
        // Boxed so the L1 fast path does not carry the store and origin paths' state.
        Box::pin(async {
            let span = self.span("wrap", key);
            if let Some(v) = self.l1_hit::<T>(key, &span).await {
                return Ok(fresh(v));
            }
            self.fetch(key, opts, describe, Duration::ZERO, origin, None, &span)
                .instrument(span.clone())
                .await
        })
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
        let describe = |_: &T| Described::default();
        let served = self
            .wrap_swr_served(key, &opts, stale_window, describe, origin)
            .await?;
        Ok(served.value)
    }

    /// [`wrap_swr`](Self::wrap_swr) with write options and a description of the origin's
    /// value, saying whether what was served is stale. Because its origin can outlive
    /// the caller, the policy's background work applies here: eager refresh, and the soft
    /// timeout (an expired value at hand is served once the origin is slower than it,
    /// while the call goes on and stores its value).
    pub async fn wrap_swr_served<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        stale_window: Duration,
        describe: D,
        origin: F,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        Self::check_key(key)?;
        if !self.inner.enabled {
            return origin().await.map(fresh).map_err(origin_error);
        }
        let span = self.span("wrap_swr", key);
        if let Found::Fresh {
            value, refresh_due, ..
        } = self.l1_lookup::<T>(key).await
        {
            Counters::inc(&self.counters.memory_hits);
            span.record("layer", "memory");
            if refresh_due {
                self.refresh_in_background(key, opts, stale_window, describe, origin, None);
            }
            return Ok(fresh(value));
        }
        Box::pin(
            self.wrap_swr_from_store(key, opts, stale_window, describe, origin, &span)
                .instrument(span.clone()),
        )
        .await
    }

    /// [`wrap_swr_served`](Self::wrap_swr_served) past the L1: the store's value when
    /// fresh or within the stale window (refreshed in the background), or the origin's.
    async fn wrap_swr_from_store<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        stale_window: Duration,
        describe: D,
        origin: F,
        span: &tracing::Span,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let lookup = self.lookup::<T>(key, span).await?;
        let now = self.inner.clock.now_ms();
        match lookup.found {
            Found::Fresh {
                value, refresh_due, ..
            } => {
                if refresh_due {
                    let seen = Some((lookup.version, lookup.lease));
                    self.refresh_in_background(key, opts, stale_window, describe, origin, seen);
                }
                Ok(fresh(value))
            }
            Found::Stale {
                value,
                fresh_until_ms,
                ..
            } if now < fresh_until_ms + stale_window.as_millis() as u64 => {
                Counters::inc(&self.counters.stale_serves);
                span.record("layer", "stale");
                let seen = Some((lookup.version, lookup.lease));
                self.refresh_in_background(key, opts, stale_window, describe, origin, seen);
                Ok(Served { value, stale: true })
            }
            _ => match (self.policy.soft_timeout, Fallback::of(self, &lookup.found)) {
                (Some(soft), Some(fallback)) => {
                    let within = self.fetch_within(
                        key,
                        opts,
                        stale_window,
                        describe,
                        origin,
                        soft,
                        fallback,
                        lookup,
                    );
                    within.await
                }
                _ => {
                    let fetched = self.fetch(
                        key,
                        opts,
                        describe,
                        stale_window,
                        origin,
                        Some(lookup),
                        span,
                    );
                    fetched.await
                }
            },
        }
    }

    /// Fetches in a task of its own and waits up to `soft` for it: past that, serves
    /// `stale` (unless it expired meanwhile) while the task goes on and stores the
    /// origin's value. `lookup` is what the caller just read (its expired value is the
    /// task's fail-safe fallback too).
    #[allow(clippy::too_many_arguments)]
    async fn fetch_within<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        stale_window: Duration,
        describe: D,
        origin: F,
        soft: Duration,
        stale: Fallback<T>,
        lookup: Lookup<T>,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let (this, key, opts) = (self.clone(), key.to_owned(), opts.clone());
        let task = tokio::spawn(
            async move {
                let span = tracing::Span::current();
                let fetched = this.fetch(
                    &key,
                    &opts,
                    describe,
                    stale_window,
                    origin,
                    Some(lookup),
                    &span,
                );
                fetched.await
            }
            .in_current_span(),
        );
        let mut task = std::pin::pin!(task);
        let joined = match tokio::time::timeout(soft, &mut task).await {
            Ok(joined) => joined,
            Err(_) => match stale.serve(self.inner.clock.now_ms()) {
                Some(served) => {
                    // Slower than the soft timeout: the stale value now, the origin's later.
                    Counters::inc(&self.counters.stale_serves);
                    return Ok(served);
                }
                // Expired meanwhile: nothing to answer with but the origin's outcome.
                None => task.await,
            },
        };
        joined.expect("the fetch task panicked")
    }

    /// Single-flight over store lookup and origin: followers take the leader's outcome
    /// unless an invalidation since its read began makes it stale for them. `first` is a
    /// lookup the caller just made: the first leadership then re-checks L1 only.
    #[allow(clippy::too_many_arguments)]
    async fn fetch<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        describe: D,
        stale_window: Duration,
        origin: F,
        mut first: Option<Lookup<T>>,
        span: &tracing::Span,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described,
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
                        && !self.still_valid(validity).await
                    {
                        stale_flight = Some(id);
                        continue;
                    }
                    span.record("layer", "coalesced");
                    return flown.result;
                }
                Role::Leader(leader) => {
                    let led = self.lead(
                        key,
                        opts,
                        describe,
                        stale_window,
                        origin,
                        first.take(),
                        leader,
                        span,
                    );
                    return led.await;
                }
            }
        }
    }

    /// The leader's part of [`fetch`](Self::fetch): an L1 or store value still fresh, a
    /// stale one while the origin is throttled, another process's value under its lease,
    /// or the origin's, published to the followers either way.
    #[allow(clippy::too_many_arguments)]
    async fn lead<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        describe: D,
        stale_window: Duration,
        origin: F,
        first: Option<Lookup<T>>,
        leader: Leader<Flown<T>>,
        span: &tracing::Span,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let lookup = match first {
            Some(first) => match self.l1_lookup::<T>(key).await {
                fresh @ Found::Fresh { .. } => Lookup {
                    found: fresh,
                    ..first
                },
                _ => first,
            },
            None => self.lookup::<T>(key, span).await?,
        };
        if let Found::Fresh {
            value, validity, ..
        } = lookup.found
        {
            let served = fresh(value);
            leader.publish(Flown {
                result: Ok(served.clone()),
                validity: Some(validity),
            });
            return Ok(served);
        }
        let fallback = Fallback::of(self, &lookup.found);
        let now = self.inner.clock.now_ms();
        if let Some(fallback) = &fallback
            && self.inner.throttles.throttled(key, now)
        {
            // The origin failed a moment ago: leave it alone, answer stale.
            let served = fallback.clone().serve(now).expect("found unexpired");
            Counters::inc(&self.counters.stale_serves);
            span.record("layer", "stale");
            leader.publish(Flown {
                result: Ok(served.clone()),
                validity: Some(fallback.validity.clone()),
            });
            return Ok(served);
        }
        let (seen, guard) = match self.lease::<T>(key, &lookup, span, true).await? {
            Leased::Value(v, validity) => {
                let served = fresh(v);
                leader.publish(Flown {
                    result: Ok(served.clone()),
                    validity: Some(validity),
                });
                return Ok(served);
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
        let call = self.call_origin(
            key,
            opts,
            describe,
            stale_window,
            origin,
            leader,
            ground,
            fallback,
        );
        call.await
    }

    /// Whether a flight's value is still servable to a caller that joined it. This
    /// process's per-key invalidations take the key away from the flight (`forget`), so
    /// only scopes, `clear_memory`, and other processes' deletes can have come between.
    /// The last reach this process through L1-only checks; a value read without them (its
    /// type's stamp was unreadable) is served only if its read began within the bound
    /// before now: a delete elsewhere may go unseen that long, and no longer.
    async fn still_valid(&self, validity: &Validity) -> bool {
        let recent = || {
            let now = self.inner.clock.now_ms();
            now.saturating_sub(validity.ticket.at_ms) <= self.bound().as_millis() as u64
        };
        !self.inner.local.cleared_since(validity.ticket.epoch)
            && (validity.for_memory || recent())
            && self.valid(&validity.checks).await
    }

    /// Starts one background refresh of `key` (unless one is running here): the store's
    /// version (`seen`, or read now), the lease without waiting, the origin, a conditional
    /// write. For stale-while-revalidate and eager refresh.
    fn refresh_in_background<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        stale_window: Duration,
        describe: D,
        origin: F,
        seen: Option<(Option<Version>, Option<crate::store::LeaseHolder>)>,
    ) where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let Some(leader) = self.inner.flights.try_lead::<Flown<T>>(key) else {
            return;
        };
        let (this, key, opts) = (self.clone(), key.to_owned(), opts.clone());
        tokio::spawn(
            async move {
                let (version, lease) = match seen {
                    Some(seen) => seen,
                    None => match this.slot(&key).await {
                        Some(slot) => (slot.version, slot.lease),
                        None => return,
                    },
                };
                let revisit = Lookup {
                    found: Found::Miss,
                    version,
                    lease,
                    store_answered: true,
                };
                // Across processes, one refreshes; the rest keep serving what they have.
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
                let call = this.call_origin(
                    &key,
                    &opts,
                    describe,
                    stale_window,
                    origin,
                    leader,
                    ground,
                    None,
                );
                let _ = call.await;
            }
            .in_current_span(),
        );
    }

    /// The item at `key` in the store; `None` without a store or when it cannot be read.
    async fn slot(&self, key: &str) -> Option<Slot> {
        let store = self.inner.store.as_ref()?;
        let store_key = self.store_key(key);
        self.store_call("read", store.read(&store_key)).await.ok()
    }

    /// Calls the origin as flight leader (within the hard timeout): publishes the outcome
    /// to followers first, then stores a value, conditional on the item still being at
    /// `ground.seen`. When the origin fails and `fallback` holds an expired value
    /// (fail-safe) that has not expired meanwhile, that value is served instead, marked
    /// stale, and the key is throttled: for the throttle duration (and no longer than
    /// the value may be served), this process's lookups of it answer with an expired
    /// value they find instead of calling the failing origin.
    #[allow(clippy::too_many_arguments)]
    async fn call_origin<T, E, D, F, Fut>(
        &self,
        key: &str,
        opts: &WriteOptions,
        describe: D,
        stale_window: Duration,
        origin: F,
        leader: Leader<Flown<T>>,
        ground: Ground,
        fallback: Option<Fallback<T>>,
    ) -> Result<Served<T>, CacheError>
    where
        T: CacheValue,
        E: Into<BoxError>,
        D: FnOnce(&T) -> Described,
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
        let validity = Validity::new(self.ticket(), checks, self.memory_checks(key));
        let started_ms = self.inner.clock.now_ms();
        let start = Instant::now();
        let result = match self.policy.hard_timeout {
            Some(hard) => match tokio::time::timeout(hard, origin()).await {
                Ok(answer) => answer.map_err(origin_error),
                Err(_) => Err(CacheError::OriginTimeout(hard)),
            },
            None => origin().await.map_err(origin_error),
        };
        self.counters.origin_latency(start.elapsed());
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                if let Some(guard) = guard {
                    guard.release().await;
                }
                let now = self.inner.clock.now_ms();
                if let (Some(fail_safe), Some(fallback)) = (self.policy.fail_safe, fallback) {
                    let (validity, expires_at_ms) =
                        (fallback.validity.clone(), fallback.expires_at_ms);
                    if let Some(served) = fallback.serve(now) {
                        tracing::warn!(key, %error, "origin failed: serving the expired value (fail-safe)");
                        Counters::inc(&self.counters.stale_serves);
                        let until = now.saturating_add(fail_safe.throttle.as_millis() as u64);
                        self.inner.throttles.throttle(key, until.min(expires_at_ms));
                        leader.publish(Flown {
                            result: Ok(served.clone()),
                            validity: Some(validity),
                        });
                        return Ok(served);
                    }
                }
                leader.publish(Flown {
                    result: Err(error.clone()),
                    validity: None,
                });
                return Err(error);
            }
        };
        let served = fresh(value.clone());
        leader.publish(Flown {
            result: Ok(served.clone()),
            validity: Some(validity.clone()),
        });
        let Described { attributes, ttl } = describe(&value);
        let mut item_attributes = opts.attributes.clone();
        item_attributes.extend(attributes);
        let meta = self.meta(started_ms, ttl.unwrap_or(opts.ttl), stale_window);
        let fill = Fill {
            key,
            value: &value,
            attributes: item_attributes,
            meta,
            scopes: &scopes,
            validity: &validity,
            precondition: Precondition::Version(seen),
        };
        self.fill(fill, start, guard).await;
        Ok(served)
    }
}

/// A value served fresh.
fn fresh<T>(value: T) -> Served<T> {
    Served {
        value,
        stale: false,
    }
}
