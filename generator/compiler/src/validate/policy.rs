//! A data type's origin policy: fail-safe, origin timeouts, eager refresh, TTL jitter,
//! negative and adaptive TTLs, each checked on its own, against the others and against the
//! data type's TTL.

use std::time::Duration;

use super::Checker;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{FailSafe, OriginPolicy, TtlBounds};
use crate::spec::{self, SpecDuration};

/// The longest origin timeout: a Lambda runs at most 15 minutes, and an origin call cannot
/// outlast the invocation waiting for it.
const MAX_ORIGIN_TIMEOUT: Duration = Duration::from_secs(15 * 60);

impl Checker<'_> {
    /// The policy of data type `name` at `path`, whose store TTL is `ttl`.
    pub(super) fn origin_policy(
        &mut self,
        path: &NodePath,
        name: &str,
        spec: &spec::DataType,
        ttl: SpecDuration,
    ) -> OriginPolicy {
        let fail_safe = spec
            .fail_safe
            .map(|fail_safe| self.fail_safe(&path.key("fail_safe"), name, fail_safe));
        let hard_timeout_ms = spec
            .hard_timeout
            .map(|hard| self.origin_timeout(&path.key("hard_timeout"), "hard_timeout", hard));
        let soft_timeout_ms = spec
            .soft_timeout
            .map(|soft| self.soft_timeout(path, name, spec, soft));
        if let Some(fraction) = spec.eager_refresh
            && !(fraction > 0.0 && fraction < 1.0)
        {
            self.error(
                codes::EAGER_REFRESH,
                &path.key("eager_refresh"),
                format!("eager_refresh {fraction} of `{name}` is not between 0 and 1"),
                "it is the fraction of the TTL after which a hit refreshes the value, such as `0.8`",
            );
        }
        let ttl_jitter_ms = spec.ttl_jitter.map(|jitter| {
            let jitter_path = path.key("ttl_jitter");
            let ms = self.fine_duration(&jitter_path, "ttl_jitter", jitter);
            if jitter > ttl {
                self.error(
                    codes::TTL_JITTER,
                    &jitter_path,
                    format!("ttl_jitter ({jitter}) of `{name}` is longer than its ttl ({ttl})"),
                    "a spread of a tenth of the TTL or so keeps entries written together from expiring together",
                );
            }
            ms
        });
        let negative_ttl_secs = spec.negative_ttl.map(|negative| {
            let negative_path = path.key("negative_ttl");
            let secs = self.duration(&negative_path, "negative_ttl", negative);
            if negative >= ttl {
                self.error(
                    codes::NEGATIVE_TTL,
                    &negative_path,
                    format!("negative_ttl ({negative}) of `{name}` is not shorter than its ttl ({ttl})"),
                    "\"not found\" is kept shorter than a value, so an item created meanwhile shows up soon; remove negative_ttl to keep it for the ttl",
                );
            }
            secs
        });
        let ttl_bounds = spec
            .ttl_bounds
            .map(|bounds| self.ttl_bounds(&path.key("ttl_bounds"), name, bounds, ttl));
        OriginPolicy {
            fail_safe,
            soft_timeout_ms,
            hard_timeout_ms,
            eager_refresh: spec.eager_refresh,
            ttl_jitter_ms,
            negative_ttl_secs,
            ttl_bounds,
        }
    }

    fn fail_safe(&mut self, path: &NodePath, name: &str, spec: spec::FailSafe) -> FailSafe {
        let max_stale_secs = self.duration(&path.key("max_stale"), "max_stale", spec.max_stale);
        let throttle_ms = self.fine_duration(&path.key("throttle"), "throttle", spec.throttle);
        if spec.throttle > spec.max_stale {
            self.error(
                codes::FAIL_SAFE_THROTTLE,
                &path.key("throttle"),
                format!(
                    "the fail-safe throttle ({}) of `{name}` is longer than its max_stale ({})",
                    spec.throttle, spec.max_stale
                ),
                "an expired value is kept for max_stale at most, so it cannot be served for longer: shorten the throttle",
            );
        }
        FailSafe {
            max_stale_secs,
            throttle_ms,
        }
    }

    fn soft_timeout(
        &mut self,
        path: &NodePath,
        name: &str,
        spec: &spec::DataType,
        soft: SpecDuration,
    ) -> u64 {
        let soft_path = path.key("soft_timeout");
        let ms = self.origin_timeout(&soft_path, "soft_timeout", soft);
        if let Some(hard) = spec.hard_timeout
            && soft >= hard
        {
            self.error(
                codes::ORIGIN_TIMEOUT,
                &soft_path,
                format!("soft_timeout ({soft}) of `{name}` is not shorter than its hard_timeout ({hard})"),
                "the soft timeout answers with the expired value before the hard one abandons the call: make it shorter",
            );
        }
        if spec.fail_safe.is_none() {
            self.key_error(
                codes::SOFT_TIMEOUT_WITHOUT_FAIL_SAFE,
                &soft_path,
                format!("soft_timeout of `{name}` has no expired value to answer with: `{name}` sets no fail_safe"),
                "add `fail_safe: { max_stale: 1h, throttle: 30s }`, which keeps expired values, or remove soft_timeout",
            );
        }
        ms
    }

    /// Checks a timeout: a [fine duration](Self::fine_duration) a Lambda can wait for.
    fn origin_timeout(&mut self, path: &NodePath, what: &str, value: SpecDuration) -> u64 {
        let ms = self.fine_duration(path, what, value);
        if value.0 > MAX_ORIGIN_TIMEOUT {
            self.error(
                codes::ORIGIN_TIMEOUT,
                path,
                format!("{what} of {value} is longer than a Lambda may run (15m)"),
                "an origin call cannot outlast the invocation waiting for it; a few seconds is usual",
            );
        }
        ms
    }

    /// Checks a duration the runtime counts in milliseconds (timeouts, throttle, jitter):
    /// longer than zero, in whole milliseconds.
    fn fine_duration(&mut self, path: &NodePath, what: &str, value: SpecDuration) -> u64 {
        if value.0.is_zero() {
            self.error(
                codes::FINE_DURATION,
                path,
                format!("{what} must be longer than zero"),
                format!("write a duration such as `500ms`, or remove {what} to turn it off"),
            );
        } else if !value.0.subsec_nanos().is_multiple_of(1_000_000) {
            self.error(
                codes::FINE_DURATION,
                path,
                format!(
                    "{what} of {} is not a whole number of milliseconds",
                    humantime::format_duration(value.0)
                ),
                "the runtime counts it in milliseconds: round it",
            );
        }
        value.as_millis()
    }

    fn ttl_bounds(
        &mut self,
        path: &NodePath,
        name: &str,
        bounds: spec::TtlBounds,
        ttl: SpecDuration,
    ) -> TtlBounds {
        let min_secs = bounds.min.map_or(0, |min| {
            self.duration(&path.key("min"), "ttl_bounds.min", min)
        });
        let max_secs = bounds.max.map_or(ttl.as_secs(), |max| {
            self.duration(&path.key("max"), "ttl_bounds.max", max)
        });
        let ttl_hint =
            "the ttl is the longest a value of the type lives: raise ttl, or lower the bound";
        match (bounds.min, bounds.max) {
            (None, None) => self.key_error(
                codes::TTL_BOUNDS,
                path,
                format!("ttl_bounds of `{name}` gives neither min nor max"),
                "write `ttl_bounds: { min: 1m, max: 1h }`, or remove it to keep a told TTL up to the ttl",
            ),
            (Some(min), Some(max)) if min > max => self.error(
                codes::TTL_BOUNDS,
                &path.key("min"),
                format!("ttl_bounds.min ({min}) of `{name}` is longer than its max ({max})"),
                "swap them: min is the shortest TTL kept, max the longest",
            ),
            (Some(min), None) if min > ttl => self.error(
                codes::TTL_BOUNDS,
                &path.key("min"),
                format!("ttl_bounds.min ({min}) of `{name}` is longer than its ttl ({ttl}), the max when none is given"),
                ttl_hint,
            ),
            _ => {}
        }
        if let Some(max) = bounds.max
            && max > ttl
        {
            self.error(
                codes::TTL_BOUNDS,
                &path.key("max"),
                format!("ttl_bounds.max ({max}) of `{name}` is longer than its ttl ({ttl})"),
                ttl_hint,
            );
        }
        TtlBounds { min_secs, max_secs }
    }
}
