//! A data type's origin policy, as the `const POLICY` of its `DataType` implementation: a
//! `runtime::OriginPolicy` literal naming the settings the spec turns on.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::duration;
use crate::ir::OriginPolicy;

/// How many settings `runtime::OriginPolicy` has: with all of them given, the literal
/// needs no `..runtime::OriginPolicy::NONE`.
const SETTINGS: usize = 7;

/// `const POLICY: runtime::OriginPolicy = ...;`, or nothing when the data type sets no
/// policy (the trait's default, `OriginPolicy::NONE`, applies).
pub(super) fn policy_const(policy: &OriginPolicy) -> Option<TokenStream> {
    if policy.is_none() {
        return None;
    }
    let mut settings = Vec::new();
    if let Some(fail_safe) = policy.fail_safe {
        let max_stale = duration(fail_safe.max_stale_secs);
        let throttle = millis(fail_safe.throttle_ms);
        settings.push(quote! {
            fail_safe: Some(runtime::FailSafe { max_stale: #max_stale, throttle: #throttle })
        });
    }
    if let Some(ms) = policy.soft_timeout_ms {
        let soft = millis(ms);
        settings.push(quote! { soft_timeout: Some(#soft) });
    }
    if let Some(ms) = policy.hard_timeout_ms {
        let hard = millis(ms);
        settings.push(quote! { hard_timeout: Some(#hard) });
    }
    if let Some(fraction) = policy.eager_refresh {
        let fraction = Literal::f64_unsuffixed(fraction);
        settings.push(quote! { eager_refresh: Some(#fraction) });
    }
    if let Some(ms) = policy.ttl_jitter_ms {
        let jitter = millis(ms);
        settings.push(quote! { ttl_jitter: #jitter });
    }
    if let Some(secs) = policy.negative_ttl_secs {
        let negative = duration(secs);
        settings.push(quote! { negative_ttl: Some(#negative) });
    }
    if let Some(bounds) = policy.ttl_bounds {
        let (min, max) = (duration(bounds.min_secs), duration(bounds.max_secs));
        settings.push(quote! { ttl_bounds: Some((#min, #max)) });
    }
    let rest = (settings.len() < SETTINGS).then(|| quote! { ..runtime::OriginPolicy::NONE });
    Some(quote! {
        const POLICY: runtime::OriginPolicy = runtime::OriginPolicy {
            #(#settings,)*
            #rest
        };
    })
}

/// `ms` milliseconds as a `std::time::Duration`, in seconds when they are whole.
fn millis(ms: u64) -> TokenStream {
    if ms.is_multiple_of(1000) {
        duration(ms / 1000)
    } else {
        let ms = Literal::u64_unsuffixed(ms);
        quote! { std::time::Duration::from_millis(#ms) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{FailSafe, TtlBounds};

    fn text(tokens: Option<TokenStream>) -> String {
        tokens.map(|tokens| tokens.to_string()).unwrap_or_default()
    }

    #[test]
    fn no_policy_generates_nothing() {
        assert_eq!(text(policy_const(&OriginPolicy::default())), "");
    }

    #[test]
    fn only_the_settings_given_are_named() {
        let policy = OriginPolicy {
            fail_safe: Some(FailSafe {
                max_stale_secs: 3600,
                throttle_ms: 1500,
            }),
            eager_refresh: Some(0.8),
            ..OriginPolicy::default()
        };
        let code = text(policy_const(&policy));
        assert!(
            code.contains("max_stale : std :: time :: Duration :: from_secs (3600)"),
            "{code}"
        );
        assert!(
            code.contains("throttle : std :: time :: Duration :: from_millis (1500)"),
            "{code}"
        );
        assert!(code.contains("eager_refresh : Some (0.8)"), "{code}");
        assert!(
            code.contains(".. runtime :: OriginPolicy :: NONE"),
            "{code}"
        );
        assert!(!code.contains("hard_timeout"), "{code}");
    }

    #[test]
    fn a_full_policy_needs_no_base() {
        let policy = OriginPolicy {
            fail_safe: Some(FailSafe {
                max_stale_secs: 3600,
                throttle_ms: 30_000,
            }),
            soft_timeout_ms: Some(200),
            hard_timeout_ms: Some(2000),
            eager_refresh: Some(0.8),
            ttl_jitter_ms: Some(10_000),
            negative_ttl_secs: Some(30),
            ttl_bounds: Some(TtlBounds {
                min_secs: 60,
                max_secs: 3600,
            }),
        };
        let code = text(policy_const(&policy));
        assert!(!code.contains("NONE"), "{code}");
        assert!(code.contains("ttl_bounds : Some ((std :: time :: Duration :: from_secs (60) , std :: time :: Duration :: from_secs (3600)))"), "{code}");
    }
}
