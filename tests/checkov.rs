//! checkov over every example's CloudFormation, SAM and Terraform: no failed check, no
//! parse error, and exactly the skips each spec declares, each with its reason.

use std::collections::BTreeSet;
use std::path::Path;

use cachegen_compiler::ir::{CacheModel, SkipCheck, SyncFunction, Target};
use cachegen_tests::{checkov, examples, write_files};
use serde_json::Value;

/// One checkov report per framework (`cloudformation`, `terraform`), listing failed checks.
fn scan(dir: &Path) -> Vec<Value> {
    scan_with(dir, &["--quiet", "--compact"])
}

/// One checkov report per framework, with `flags` (none: passed and skipped checks listed too).
fn scan_with(dir: &Path, flags: &[&str]) -> Vec<Value> {
    let output = checkov()
        .args(["--skip-download", "--output", "json"])
        .args(flags)
        .arg("--directory")
        .arg(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Exit 1 means failed checks; the JSON says which. A parse error exits 0, so the
    // summary's `parsing_errors` is what catches it.
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|err| {
        panic!(
            "checkov printed no JSON ({err}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    match report {
        Value::Array(reports) => reports,
        single => vec![single],
    }
}

fn failures(report: &Value) -> Vec<String> {
    report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|check| {
            format!(
                "{} {} in {}",
                check["check_id"], check["resource"], check["file_path"]
            )
        })
        .collect()
}

/// Fixture `name`, with its CloudFormation, SAM and Terraform written to a new directory.
fn written_fixture(name: &str) -> (cachegen_compiler::Project, tempfile::TempDir) {
    let project = cachegen_tests::fixture(name);
    let dir = tempfile::tempdir().unwrap();
    let targets = [Target::Cloudformation, Target::Sam, Target::Terraform];
    write_files(dir.path(), &project.files(Some(&targets)));
    (project, dir)
}

/// The checkov checks a spec skips on its created sync functions, with their reasons.
fn function_skips(model: &CacheModel) -> impl Iterator<Item = &SkipCheck> {
    model
        .buckets
        .iter()
        .filter_map(|bucket| match &bucket.events.as_ref()?.function {
            SyncFunction::Created(function) => Some(&function.skip_checks),
            SyncFunction::Arn(_) => None,
        })
        .flatten()
}

/// Every checkov check a spec skips, with its reason: on tables, a created Redis, buckets
/// and created sync functions.
fn declared_skips(model: &CacheModel) -> BTreeSet<(String, String)> {
    let created_redis = model.store.redis().and_then(|redis| redis.created.as_ref());
    model
        .tables
        .iter()
        .flat_map(|table| &table.skip_checks)
        .chain(created_redis.iter().flat_map(|redis| &redis.skip_checks))
        .chain(model.buckets.iter().flat_map(|bucket| &bucket.skip_checks))
        .chain(function_skips(model))
        .map(|skip| (skip.id.clone(), skip.reason.clone()))
        .collect()
}

#[test]
fn every_example_passes_checkov_with_only_the_specs_skips() {
    for (name, project) in examples() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &project.files(None));
        // A detailed scan: a compact one leaves the skipped checks out.
        let reports = scan_with(dir.path(), &[]);
        let frameworks: BTreeSet<&str> = reports
            .iter()
            .filter_map(|report| report["check_type"].as_str())
            .collect();
        let created_redis = project
            .model
            .store
            .redis()
            .and_then(|redis| redis.created.as_ref());
        // A template of alarms and a dashboard alone (an existing Redis, roles existing
        // too) has nothing checkov's CloudFormation checks look at.
        let checked =
            !project.model.tables.is_empty()
                || created_redis.is_some()
                || project.model.buckets.iter().any(|bucket| bucket.created)
                || project.model.consumers.iter().any(|consumer| {
                    !consumer.grants.is_empty() || !consumer.bucket_grants.is_empty()
                });
        let expected = if checked {
            BTreeSet::from(["cloudformation", "terraform"])
        } else {
            BTreeSet::from(["terraform"])
        };
        assert_eq!(frameworks, expected, "{name}");
        let declared = declared_skips(&project.model);
        let mut skipped_anywhere = BTreeSet::new();
        for report in &reports {
            let summary = &report["summary"];
            assert_eq!(summary["parsing_errors"], 0, "{name}: {summary}");
            assert!(summary["passed"].as_u64().unwrap() > 0, "{name}: {summary}");
            assert_eq!(failures(report), Vec::<String>::new(), "{name}: {summary}");
            let skipped: BTreeSet<(String, String)> = report["results"]["skipped_checks"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|check| {
                    let reason = check["check_result"]["suppress_comment"]
                        .as_str()
                        .unwrap_or_default();
                    (
                        check["check_id"].as_str().unwrap().to_owned(),
                        reason.to_owned(),
                    )
                })
                .collect();
            assert!(
                skipped.is_subset(&declared),
                "{name}: checkov skipped {skipped:?}, the spec declares {declared:?}"
            );
            skipped_anywhere.extend(skipped);
        }
        assert_eq!(
            skipped_anywhere, declared,
            "{name}: every skip the spec declares is one checkov made, with its reason"
        );
    }
}

#[test]
fn checkov_fails_a_table_whose_spec_does_not_skip_the_cmk_check() {
    let (_, project) = examples()
        .into_iter()
        .find(|(name, _)| name == "drs-query-cache")
        .unwrap();
    let mut model = project.model.clone();
    for table in &mut model.tables {
        table.skip_checks.clear();
    }
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &cachegen_compiler::emit::generate(&model, "cache.yaml", None),
    );
    for report in scan(dir.path()) {
        let failed = failures(&report);
        assert!(
            failed.iter().any(|failure| failure.contains("CKV_AWS_119")),
            "{}: {failed:?}",
            report["check_type"]
        );
    }
}

/// The fixture whose bucket's events reach a sync function the templates create: its
/// Lambda checks run in every format, fail nowhere, and are skipped only as the spec says.
#[test]
fn a_created_sync_function_passes_checkov_with_only_the_specs_skips() {
    let (project, dir) = written_fixture("sync_function");
    let declared = declared_skips(&project.model);
    let functions = function_skips(&project.model).count();
    assert_eq!(functions, 6);
    let reports = scan_with(dir.path(), &[]);
    assert_eq!(reports.len(), 2, "CloudFormation and Terraform reports");
    for report in &reports {
        let summary = &report["summary"];
        assert_eq!(summary["parsing_errors"], 0, "{summary}");
        assert_eq!(failures(report), Vec::<String>::new(), "{summary}");
        let skipped: Vec<(String, String, String)> = report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|check| {
                (
                    check["check_id"].as_str().unwrap().to_owned(),
                    check["check_result"]["suppress_comment"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    check["resource"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        for (id, reason, resource) in &skipped {
            assert!(
                declared.contains(&(id.clone(), reason.clone())),
                "checkov skipped {id} on {resource} for {reason:?}, which the spec does not declare"
            );
        }
        // The function's checks ran (and were skipped as declared) in the format's template.
        let on_function: BTreeSet<&str> = skipped
            .iter()
            .filter(|(_, _, resource)| {
                resource.contains("DocumentsSyncFunction") || resource.contains("documents_sync")
            })
            .map(|(id, _, _)| id.as_str())
            .collect();
        assert!(
            on_function.contains("CKV_AWS_116") && on_function.contains("CKV_AWS_117"),
            "{} skipped {on_function:?} on the function, of {skipped:?}",
            report["check_type"]
        );
    }
}

/// A Redis URL from a hidden parameter or a secret: nothing fails, nothing is skipped, in
/// either CloudFormation template or the Terraform module.
#[test]
fn a_redis_url_from_a_parameter_or_a_secret_passes_checkov() {
    for fixture in ["redis_url_parameter", "redis_url_secret"] {
        let (_, dir) = written_fixture(fixture);
        let reports = scan_with(dir.path(), &[]);
        assert_eq!(
            reports.len(),
            2,
            "{fixture}: CloudFormation and Terraform reports"
        );
        for report in &reports {
            let summary = &report["summary"];
            assert_eq!(summary["parsing_errors"], 0, "{fixture}: {summary}");
            assert_eq!(
                failures(report),
                Vec::<String>::new(),
                "{fixture}: {summary}"
            );
            assert_eq!(summary["skipped"], 0, "{fixture}: {summary}");
            assert!(
                summary["passed"].as_u64().unwrap() > 0,
                "{fixture}: checkov checked nothing: {summary}"
            );
        }
    }
}
