//! The names infrastructure and code share are defined once, in `cachegen-names`: no
//! crate keeps a copy. And what the generated modules, the IR and the CLI work out from
//! the same spec agrees.

use std::path::Path;

use cachegen_names::{FINGERPRINT_TAG, OVERFLOW_PREFIX, env, item, metric};

/// Every name `cachegen-names` defines.
const SHARED_NAMES: &[&str] = &[
    metric::MEMORY_HITS,
    metric::STORE_HITS,
    metric::MISSES,
    metric::STALE_SERVES,
    metric::COALESCED_CALLS,
    metric::STORE_ERRORS,
    metric::STORE_LATENCY,
    metric::ORIGIN_LATENCY,
    metric::SERVICE_DIMENSION,
    metric::DATA_TYPE_DIMENSION,
    item::VALUE,
    item::EXPIRES_AT,
    item::CREATED_AT,
    item::VALUE_REF,
    item::VERSION,
    env::TABLE_NAME,
    env::REDIS_URL,
    env::REDIS_CLUSTER,
    env::CACHE_ENABLED,
    env::KEY_PREFIX,
    env::STORE_TIMEOUT_MS,
    env::MEMORY_SIZE,
    env::OVERFLOW_BUCKET,
    FINGERPRINT_TAG,
    OVERFLOW_PREFIX,
];

/// Literals equal to a shared name that mean something else: (file, literal, why).
const HOMONYMS: &[(&str, &str, &str)] = &[
    (
        "generator/compiler/src/emit/cloudformation.rs",
        "\"Service\"",
        "an IAM principal's key",
    ),
    (
        "generator/compiler/src/emit/terraform.rs",
        "\"Service\"",
        "an IAM principal's type",
    ),
    (
        "generator/compiler/src/emit/terraform.rs",
        "\"value\"",
        "an HCL output's attribute",
    ),
    (
        "generator/compiler/src/model/dashboard.rs",
        "\"Misses\"",
        "a dashboard line's label",
    ),
    (
        "generator/compiler/src/validate/data_types.rs",
        "\"value\"",
        "the spec's `value` key",
    ),
    (
        "generator/compiler/src/breaking/mod.rs",
        "\"value\"",
        "the spec's `value` key, where a value change is placed",
    ),
];

/// The lines of the Rust files under `dir` outside unit tests and comments, with their file.
fn code_lines(dir: &Path, found: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            code_lines(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let file = path
                .strip_prefix(cachegen_tests::workspace_root())
                .unwrap()
                .display()
                .to_string();
            found.extend(
                code.lines()
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .map(|line| (file.clone(), line.to_owned())),
            );
        }
    }
}

#[test]
fn no_crate_keeps_a_copy_of_a_shared_name() {
    let root = cachegen_tests::workspace_root();
    let mut lines = Vec::new();
    for dir in ["runtime/src", "generator/compiler/src", "generator/cli/src"] {
        code_lines(&root.join(dir), &mut lines);
    }
    assert!(lines.len() > 10_000, "read only {} lines", lines.len());
    let mut copies = Vec::new();
    for (file, line) in &lines {
        for name in SHARED_NAMES {
            let literal = format!("\"{name}\"");
            let homonym = HOMONYMS
                .iter()
                .any(|(at, text, _)| at == file && *text == literal);
            if line.contains(&literal) && !homonym {
                copies.push(format!("{file}: {}", line.trim()));
            }
        }
    }
    assert!(
        copies.is_empty(),
        "shared names written as literals instead of taken from cachegen-names:\n{}",
        copies.join("\n")
    );
}

#[test]
fn the_generated_expectation_is_the_ir_expectation() {
    let root = cachegen_tests::workspace_root().join("examples");
    let drs = cachegen_compiler::Project::load(root.join("drs-query-cache/cache.yaml")).unwrap();
    assert_eq!(
        drs_orchestration_cache::query_cache::expected(),
        cachegen::verify::expected_table(&drs.model, drs.model.table_named("query-cache").unwrap())
    );
    let changes =
        cachegen_compiler::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    assert_eq!(
        change_notifier_cache::metadata::expected(),
        cachegen::verify::expected_table(
            &changes.model,
            changes.model.table_named("metadata").unwrap()
        )
    );
    // The bucket's sync function is created by the stack: the generated module cannot
    // know its ARN, and expects what verify expects before it has read the stack.
    let (documents, _) = cachegen_compiler::ir::Ref::each(&changes.model.buckets)
        .find(|(_, bucket)| bucket.name == "documents")
        .unwrap();
    assert_eq!(
        change_notifier_cache::buckets::documents::expected(),
        cachegen::verify::expected_bucket(&changes.model, &documents, None)
    );
    let created = "arn:aws:lambda:us-east-1:123456789012:function:change-sync";
    let from_stack = cachegen::verify::expected_bucket(&changes.model, &documents, Some(created));
    assert!(
        from_stack
            .notifications
            .iter()
            .all(|notification| notification.function_arn.as_deref() == Some(created)),
        "{from_stack:?}"
    );
}

#[test]
fn document_buckets_are_found_through_the_env_var_the_templates_set() {
    let root = cachegen_tests::workspace_root().join("examples");
    let changes =
        cachegen_compiler::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    let bucket = changes.model.bucket_named("documents").unwrap();
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
    let changes =
        cachegen_compiler::Project::load(root.join("change-metadata/cache.yaml")).unwrap();
    assert_eq!(
        cachegen::operate::layout(changes.model.table_named("metadata").unwrap()),
        change_notifier_cache::metadata::layout()
    );
    let drs = cachegen_compiler::Project::load(root.join("drs-query-cache/cache.yaml")).unwrap();
    assert_eq!(
        cachegen::operate::layout(drs.model.table_named("query-cache").unwrap()),
        drs_orchestration_cache::query_cache::layout()
    );
}
