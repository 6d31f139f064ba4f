//! What a handle does when its origin fails or is slow, and how long what it stores
//! lives: fail-safe, origin timeouts, eager refresh, TTL jitter, negative caching and
//! adaptive TTLs (after FusionCache's and Bentocache's options of those names).

use std::time::Duration;

use crate::store::Attributes;

/// Serving an expired value when the origin fails (FusionCache's fail-safe, Bentocache's
/// grace period).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailSafe {
    /// How long past its TTL a value is kept to be served when the origin fails.
    pub max_stale: Duration,
    /// Once the origin failed and an expired value was served, how long this process
    /// serves an expired value it finds (marked stale, and never past `max_stale`) before
    /// calling the origin again.
    pub throttle: Duration,
}

/// Keys this process throttles: fail-safe served an expired value of theirs because the
/// origin failed, and until the time kept here (ms) their lookups are answered with an
/// expired value at hand, marked stale, without calling the origin. Bounded: a throttle
/// evicted early only lets the origin be tried sooner.
#[derive(Debug)]
pub(super) struct Throttles(quick_cache::sync::Cache<String, u64>);

/// How many keys [`Throttles`] keeps.
const THROTTLED_KEYS: usize = 4096;

impl Default for Throttles {
    fn default() -> Self {
        Self(quick_cache::sync::Cache::new(THROTTLED_KEYS))
    }
}

impl Throttles {
    /// Leaves `key`'s origin alone until `until_ms`.
    pub(super) fn throttle(&self, key: &str, until_ms: u64) {
        self.0.insert(key.to_owned(), until_ms);
    }

    /// Whether `key`'s origin is left alone at `now_ms`.
    pub(super) fn throttled(&self, key: &str, now_ms: u64) -> bool {
        self.0.get(key).is_some_and(|until_ms| now_ms < until_ms)
    }
}

/// Every origin-facing setting of a handle; the default is none of them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OriginPolicy {
    /// Serve an expired value (within `max_stale`) when the origin fails or times out.
    pub fail_safe: Option<FailSafe>,
    /// With an expired value at hand (fail-safe), answer with it when the origin is
    /// slower than this; the origin call goes on in the background and stores its value.
    /// Needs an origin that can outlive its caller (`wrap_swr`, `TypedCache::wrap_swr`).
    pub soft_timeout: Option<Duration>,
    /// Past this the origin call is abandoned: the caller gets
    /// [`CacheError::OriginTimeout`](crate::CacheError::OriginTimeout), or the expired
    /// value under fail-safe.
    pub hard_timeout: Option<Duration>,
    /// A hit past this fraction of its TTL (for example 0.8) starts one background refresh,
    /// so a hot key never expires under traffic; across processes one refreshes (the
    /// lease). Needs an origin that can outlive its caller, like `soft_timeout`.
    pub eager_refresh: Option<f64>,
    /// Each write's TTL is lengthened by a random amount up to this, so entries written
    /// together do not expire together.
    pub ttl_jitter: Duration,
    /// How long an origin's "not found" is kept (`wrap_optional`): shorter than the TTL.
    pub negative_ttl: Option<Duration>,
    /// Bounds of a TTL the origin returns with its value (`wrap_expiring`).
    pub ttl_bounds: Option<(Duration, Duration)>,
}

impl OriginPolicy {
    /// None of the settings (the default).
    pub const NONE: Self = Self {
        fail_safe: None,
        soft_timeout: None,
        hard_timeout: None,
        eager_refresh: None,
        ttl_jitter: Duration::ZERO,
        negative_ttl: None,
        ttl_bounds: None,
    };

    /// `ttl`, lengthened by a random jitter up to `ttl_jitter`.
    pub(super) fn jittered(&self, ttl: Duration) -> Duration {
        if self.ttl_jitter.is_zero() {
            return ttl;
        }
        ttl + self.ttl_jitter.mul_f64(fastrand::f64())
    }

    /// How long past its TTL a value stays readable: for stale-while-revalidate
    /// (`stale_window`) or for fail-safe, whichever is longer.
    pub(super) fn stale_span(&self, stale_window: Duration) -> Duration {
        self.fail_safe.map_or(stale_window, |fail_safe| {
            fail_safe.max_stale.max(stale_window)
        })
    }
}

/// What an origin's value becomes in the store: the attributes written with it, and a TTL
/// of its own when it has one (a negative answer, a token's `expires_in`).
#[derive(Clone, Debug, Default)]
pub struct Described {
    /// Extra item attributes.
    pub attributes: Attributes,
    /// The value's own TTL, instead of the write options'.
    pub ttl: Option<Duration>,
}

impl From<Attributes> for Described {
    fn from(attributes: Attributes) -> Self {
        Self {
            attributes,
            ttl: None,
        }
    }
}

impl Default for OriginPolicy {
    fn default() -> Self {
        Self::NONE
    }
}

/// A value as a lookup served it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served<T> {
    /// The value.
    pub value: T,
    /// Whether it was past its TTL: served stale-while-revalidate, or by fail-safe
    /// because the origin failed or was slow.
    pub stale: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_lengthens_within_its_bound() {
        let policy = OriginPolicy {
            ttl_jitter: Duration::from_secs(10),
            ..OriginPolicy::default()
        };
        let ttl = Duration::from_secs(60);
        let samples: Vec<Duration> = (0..200).map(|_| policy.jittered(ttl)).collect();
        assert!(
            samples
                .iter()
                .all(|s| *s >= ttl && *s <= ttl + policy.ttl_jitter)
        );
        assert!(samples.iter().any(|s| *s != samples[0]), "spread");
        assert_eq!(OriginPolicy::default().jittered(ttl), ttl);
    }

    #[test]
    fn fail_safe_keeps_values_past_the_stale_window() {
        let policy = OriginPolicy {
            fail_safe: Some(FailSafe {
                max_stale: Duration::from_secs(3600),
                throttle: Duration::from_secs(30),
            }),
            ..OriginPolicy::default()
        };
        assert_eq!(
            policy.stale_span(Duration::from_secs(60)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            OriginPolicy::default().stale_span(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
    }
}
