//! checkov over every example's CloudFormation, SAM and Terraform: no failed check, no
//! parse error, and exactly the skips each spec declares, each with its reason.

use std::collections::BTreeSet;
use std::path::Path;

use cachegen_tests::{checkov, examples, write_files};
use serde_json::Value;

/// One checkov report per framework (`cloudformation`, `terraform`).
fn scan(dir: &Path) -> Vec<Value> {
    let output = checkov()
        .args([
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ])
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

#[test]
fn every_example_passes_checkov_with_only_the_specs_skips() {
    for (name, project) in examples() {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &project.files(None));
        let reports = scan(dir.path());
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
        let declared: BTreeSet<(String, String)> = project
            .model
            .tables
            .iter()
            .flat_map(|table| &table.skip_checks)
            .chain(created_redis.iter().flat_map(|redis| &redis.skip_checks))
            .map(|skip| (skip.id.clone(), skip.reason.clone()))
            .collect();
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
        }
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
