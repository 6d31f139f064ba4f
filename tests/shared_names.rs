//! Names the templates and the runtime must agree on, defined twice only because the
//! runtime cannot depend on the generator: this test keeps the two copies equal.

use cachegen::ir::{item, metric};
use cachegen_runtime::metrics::names;

#[test]
fn metric_names_match_what_the_alarms_watch() {
    let pairs = [
        (metric::MEMORY_HITS, names::MEMORY_HITS),
        (metric::STORE_HITS, names::STORE_HITS),
        (metric::MISSES, names::MISSES),
        (metric::STALE_SERVES, names::STALE_SERVES),
        (metric::COALESCED_CALLS, names::COALESCED_CALLS),
        (metric::STORE_ERRORS, names::STORE_ERRORS),
        (metric::STORE_LATENCY, names::STORE_LATENCY),
        (metric::ORIGIN_LATENCY, names::ORIGIN_LATENCY),
        (metric::SERVICE_DIMENSION, names::SERVICE),
        (metric::DATA_TYPE_DIMENSION, names::DATA_TYPE),
    ];
    for (generator, runtime) in pairs {
        assert_eq!(generator, runtime);
    }
}

#[test]
fn item_attributes_match_the_runtime_layout() {
    let layout = cachegen_runtime::store::DynamoLayout::builder("pk").build();
    assert_eq!(layout.value_attribute, item::VALUE);
    assert_eq!(layout.expires_at_attribute, item::EXPIRES_AT);
    assert_eq!(layout.created_at_attribute, item::CREATED_AT);
    assert_eq!(layout.value_ref_attribute, item::VALUE_REF);
    assert_eq!(
        cachegen_runtime::store::DEFAULT_OVERFLOW_PREFIX,
        cachegen::ir::OVERFLOW_PREFIX
    );
    assert_eq!(
        cachegen_runtime::verify::FINGERPRINT_TAG,
        cachegen::ir::FINGERPRINT_TAG
    );
}

#[test]
fn the_generated_expectation_is_the_ir_expectation() {
    let root = cachegen_tests::workspace_root().join("examples");
    let drs = cachegen::Project::load(root.join("drs-query-cache/cache.yaml")).unwrap();
    assert_eq!(
        drs_orchestration_cache::query_cache::expected(),
        cachegen::deploy::expected_table(&drs.model, drs.model.table("query-cache"))
    );
    let changes = cachegen::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    assert_eq!(
        change_notifier_cache::metadata::expected(),
        cachegen::deploy::expected_table(&changes.model, changes.model.table("metadata"))
    );
}

#[test]
fn document_buckets_are_found_through_the_env_var_the_templates_set() {
    let root = cachegen_tests::workspace_root().join("examples");
    let changes = cachegen::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    let bucket = changes.model.bucket("documents");
    assert_eq!(
        change_notifier_cache::buckets::documents::ENV_VAR,
        bucket.env_var
    );
    for file in changes.files(None) {
        let path = file.path.to_string_lossy();
        if path.ends_with("sam.yaml") || path.ends_with("outputs.tf") {
            assert!(
                file.contents.contains(&bucket.env_var),
                "{path} does not set {}",
                bucket.env_var
            );
        }
    }
}

#[test]
fn the_cli_lays_out_items_as_the_generated_module_does() {
    let root = cachegen_tests::workspace_root().join("examples");
    let changes = cachegen::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    assert_eq!(
        cachegen::operate::layout(changes.model.table("metadata")),
        change_notifier_cache::metadata::layout()
    );
    let drs = cachegen::Project::load(root.join("drs-query-cache/cache.yaml")).unwrap();
    assert_eq!(
        cachegen::operate::layout(drs.model.table("query-cache")),
        drs_orchestration_cache::query_cache::layout()
    );
}
