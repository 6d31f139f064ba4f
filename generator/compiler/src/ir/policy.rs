//! A data type's origin policy: what its handle does when the origin fails or is slow, and
//! how long what it stores lives (the runtime's `OriginPolicy`, resolved and checked).

use schemars::JsonSchema;
use serde::Serialize;

/// The settings a data type turns on; unset ones are off (the runtime's defaults).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct OriginPolicy {
    /// Serve an expired value when the origin fails or passes the hard timeout.
    pub fail_safe: Option<FailSafe>,
    /// With fail-safe, answer with the expired value once the origin is slower than this,
    /// milliseconds.
    pub soft_timeout_ms: Option<u64>,
    /// Abandon the origin call past this, milliseconds.
    pub hard_timeout_ms: Option<u64>,
    /// A hit past this fraction of the TTL starts one background refresh.
    pub eager_refresh: Option<f64>,
    /// Longest random lengthening of each write's TTL, milliseconds.
    pub ttl_jitter_ms: Option<u64>,
    /// TTL of an origin's "not found", seconds (none: the data type's TTL).
    pub negative_ttl_secs: Option<u64>,
    /// Bounds of a TTL the origin returns with its value (none: up to the data type's TTL).
    pub ttl_bounds: Option<TtlBounds>,
}

impl OriginPolicy {
    /// Whether no setting is on: nothing to generate.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// Serving an expired value when the origin fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FailSafe {
    /// How long past its TTL a value is kept to be served, seconds.
    pub max_stale_secs: u64,
    /// How long a container serves the expired value before calling the origin again,
    /// milliseconds.
    pub throttle_ms: u64,
}

/// The bounds a TTL told by the origin is clamped to, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TtlBounds {
    /// The shortest TTL kept, seconds.
    pub min_secs: u64,
    /// The longest TTL kept, seconds.
    pub max_secs: u64,
}
