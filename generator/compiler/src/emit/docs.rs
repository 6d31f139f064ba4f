//! The Markdown page describing a spec for the pull request that changes it, rendered from
//! the built-in tera template `templates/docs.md.tera` over the JSON view: a Mermaid
//! diagram of consumers → data types → tables → indexes, the data types with their keys and
//! lifetimes, their origin policies, the tables, the document buckets, the IAM each consumer gets, and the alarms.
//! Users change the page by rendering their own copy of the template instead.

use super::templates;
use crate::diagnostics::{Diagnostics, SourceFile};
use crate::ir::CacheModel;

/// The built-in template of the page.
pub const TEMPLATE: &str = include_str!("../../templates/docs.md.tera");

/// The page, from the built-in template.
pub fn render(model: &CacheModel, spec_name: &str) -> String {
    render_with(model, spec_name, &SourceFile::new("docs.md.tera", TEMPLATE))
        .unwrap_or_else(|err| panic!("the built-in docs template renders: {err}"))
}

/// The page, from `template` (a user's copy of the built-in one, say).
pub fn render_with(
    model: &CacheModel,
    spec_name: &str,
    template: &SourceFile,
) -> Result<String, Diagnostics> {
    templates::render(model, spec_name, template)
}

#[cfg(test)]
mod tests {
    use super::render;

    fn page(policy: &str) -> String {
        let spec = format!(
            "version: 1\nservice: shop\ntables:\n  cache:\n    name: shop-cache\n    partition_key: {{ name: pk, type: S }}\n    ttl_attribute: expiresAt\ndata_types:\n  plain:\n    key: \"plain#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ n: u64 }} }}\n  product:\n    key: \"product#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ n: u64 }} }}\n    ttl: 10m\n{policy}"
        );
        let model = crate::compile_text("cache.yaml", &spec).unwrap_or_else(|err| panic!("{err}"));
        render(&model, "cache.yaml")
    }

    #[test]
    fn each_policy_setting_is_a_column_of_its_data_type() {
        let page = page(
            "    fail_safe: { max_stale: 1h, throttle: 1500ms }\n    soft_timeout: 200ms\n    hard_timeout: 2s\n    eager_refresh: 0.8\n    ttl_jitter: 30s\n    negative_ttl: 1m\n    ttl_bounds: { min: 1m, max: 10m }\n",
        );
        assert!(
            page.contains("| product | 1h, 1500ms | 200ms | 2s | at 80% of the TTL | up to 30s | 1m | 1m to 10m |"),
            "{page}"
        );
        assert!(
            !page.contains("| plain | off"),
            "a type without a policy has no row: {page}"
        );
    }

    #[test]
    fn a_spec_without_policies_has_no_policy_section() {
        assert!(!page("").contains("## Origin policies"));
        let fail_safe_only = page("    fail_safe: { max_stale: 10m, throttle: 5s }\n");
        assert!(
            fail_safe_only.contains(
                "| product | 10m, 5s | none | none | off | none | the TTL | up to the TTL |"
            ),
            "{fail_safe_only}"
        );
    }
}
