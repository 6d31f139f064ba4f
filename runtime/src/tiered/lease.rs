//! Single-flight across processes: a lease held on the item itself.
//!
//! The process that misses first takes the lease with one write conditional on the
//! version its read saw (a refusal returns the item as it is now, no extra read), calls
//! the origin, and stores the value with a write conditional on the lease's version,
//! which clears the lease: three requests for a miss. Others wait, reading only, at
//! growing intervals with jitter that never pass the lease's expiry, and take the value
//! when it lands, or the lease when it lapses or is given back. A holder whose call is
//! cancelled gives the lease back from its guard's drop.

use std::time::Duration;

// Tokio's clock, so waits follow a paused clock in simulations.
use tokio::time::Instant;

use super::l1::{Ticket, Validity};
use super::lookup::Lookup;
use super::{CacheValue, DistributedFlight, TieredCache};
use crate::error::CacheError;
use crate::metrics::Counters;
use crate::store::{LeaseHolder, LeaseOutcome, Slot, Version};

/// What the lease decided for a miss.
pub(super) enum Leased<T> {
    /// Call the origin; store the value conditional on `seen`. `guard` holds the lease
    /// when this process took it.
    Call {
        seen: Option<Version>,
        guard: Option<LeaseGuard>,
    },
    /// Another process stored the value while this one waited.
    Value(T, Validity),
    /// Another process holds the lease, and this caller does not wait.
    Elsewhere,
}

impl<T> Leased<T> {
    /// Call the origin without the lease, conditional on `seen`.
    fn unguarded(seen: Option<Version>) -> Self {
        Self::Call { seen, guard: None }
    }
}

/// A held lease: given back when dropped armed (a cancelled or failed call), so no
/// other process waits for a holder that is gone.
pub(super) struct LeaseGuard {
    /// Boxed: a handle is large, and the guard travels in `Leased`.
    cache: Box<TieredCache>,
    key: String,
    armed: bool,
}

impl LeaseGuard {
    /// The fill that cleared the lease was written (or the item changed): nothing to give
    /// back.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }

    /// Gives the lease back now.
    pub(super) async fn release(mut self) {
        self.armed = false;
        release(&self.cache, &self.key).await;
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (cache, key) = (self.cache.clone(), std::mem::take(&mut self.key));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move { release(&cache, &key).await });
            }
            Err(_) => tracing::warn!(key, "lease left to lapse: no runtime to give it back"),
        }
    }
}

/// Gives the lease on `key` back, if this process still holds it (best effort: it lapses
/// anyway).
async fn release(cache: &TieredCache, key: &str) {
    if let Some(store) = &cache.inner.store {
        let store_key = cache.store_key(key);
        let _ = cache
            .store_call(
                "release_lease",
                store.release_lease(&store_key, &cache.inner.holder),
            )
            .await;
    }
}

/// `interval` times a random factor in [0.5, 1.5).
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.5 + fastrand::f64())
}

impl TieredCache {
    /// Takes the key's lease, or (when `wait`) waits, bounded, for the value its holder
    /// stores, starting from what `lookup` read.
    pub(super) async fn lease<T: CacheValue>(
        &self,
        key: &str,
        lookup: &Lookup<T>,
        span: &tracing::Span,
        wait: bool,
    ) -> Result<Leased<T>, CacheError> {
        let not_leased = Leased::unguarded(lookup.version);
        let (Some(flight), Some(store), true) = (
            self.inner.distributed,
            &self.inner.store,
            self.distributed_flight,
        ) else {
            return Ok(not_leased);
        };
        let (lease_ttl, left) = self.lease_ttl(&flight);
        if lease_ttl.is_zero() {
            return Ok(not_leased);
        }
        let give_up = Instant::now() + flight.wait.min(left);
        let store_key = self.store_key(key);
        let mut slot = Slot {
            version: lookup.version,
            value: None,
            lease: lookup.lease.clone(),
        };
        let mut interval = flight.poll;
        loop {
            let now = Instant::now();
            if now >= give_up {
                // Waited long enough: call the origin, still conditional on what was read.
                return Ok(Leased::unguarded(slot.version));
            }
            let held = slot
                .lease
                .as_ref()
                .filter(|lease| lease.holder != self.inner.holder);
            if let Some(LeaseHolder { expires_at_ms, .. }) = held {
                if !wait {
                    return Ok(Leased::Elsewhere);
                }
                let to_expiry = expires_at_ms.saturating_sub(self.inner.clock.now_ms()) + 1;
                let nap = jittered(interval)
                    .min(Duration::from_millis(to_expiry))
                    .min(give_up - now);
                interval = (interval * 2).min(flight.poll * 8);
                if let Some(leased) = self
                    .reread_after(nap, key, &store_key, &mut slot, span)
                    .await
                {
                    return Ok(leased);
                }
                continue;
            }
            let ticket = self.ticket();
            let memory_checks = self.memory_checks(key);
            let acquired =
                store.acquire_lease(&store_key, slot.version, &self.inner.holder, lease_ttl);
            match self.store_call("acquire_lease", acquired).await {
                Ok(LeaseOutcome::Acquired(version)) => {
                    let guard = LeaseGuard {
                        cache: Box::new(self.clone()),
                        key: key.to_owned(),
                        armed: true,
                    };
                    return Ok(Leased::Call {
                        seen: Some(version),
                        guard: Some(guard),
                    });
                }
                Ok(LeaseOutcome::Refused(current)) => {
                    slot = current;
                    if let Some(value) = self
                        .coalesced(key, &slot, ticket, memory_checks, span)
                        .await
                    {
                        return Ok(value);
                    }
                }
                Err(_) => {
                    return Ok(Leased::unguarded(slot.version));
                }
            }
        }
    }

    /// Sleeps `nap`, then reads the slot again: the holder's value when it stored one, or
    /// (store trouble) a call without the lease, this process's own single-flight.
    async fn reread_after<T: CacheValue>(
        &self,
        nap: Duration,
        key: &str,
        store_key: &str,
        slot: &mut Slot,
        span: &tracing::Span,
    ) -> Option<Leased<T>> {
        tokio::time::sleep(nap).await;
        let store = self.inner.store.as_ref()?;
        let ticket = self.ticket();
        let memory_checks = self.memory_checks(key);
        let Ok(read) = self.store_call("read", store.read(store_key)).await else {
            return Some(Leased::unguarded(slot.version));
        };
        *slot = read;
        self.coalesced(key, slot, ticket, memory_checks, span).await
    }

    /// How long a lease taken now lasts, and how long this call has left: as long as the
    /// origin call may take (the hard timeout), so it cannot lapse while its holder still
    /// calls (a process arriving then would call again), within the caller's deadline.
    fn lease_ttl(&self, flight: &DistributedFlight) -> (Duration, Duration) {
        let left = self.deadline.map_or(Duration::MAX, |deadline| {
            deadline.saturating_duration_since(std::time::Instant::now())
        });
        let lease_ttl = self
            .policy
            .hard_timeout
            .map_or(flight.lease_ttl, |hard| hard.max(flight.lease_ttl))
            .min(left);
        (lease_ttl, left)
    }

    /// The slot's value, if it is fresh and servable: another process's call, coalesced
    /// with this one (counted, and recorded on `span`).
    async fn coalesced<T: CacheValue>(
        &self,
        key: &str,
        slot: &Slot,
        ticket: Ticket,
        memory_checks: Option<[super::stamps::Check; 2]>,
        span: &tracing::Span,
    ) -> Option<Leased<T>> {
        let bytes = slot.value.as_ref()?;
        let accepted = self.accept::<T>(key, bytes, ticket, memory_checks).await?;
        if self.inner.clock.now_ms() >= accepted.meta.fresh_until_ms {
            return None;
        }
        Counters::inc(&self.counters.coalesced);
        span.record("layer", "coalesced");
        Some(Leased::Value(accepted.value, accepted.validity))
    }
}
