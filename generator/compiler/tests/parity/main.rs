//! The CloudFormation, SAM and Terraform outputs of every example declare the same cache:
//! tables, keys, GSIs with projections, TTL, billing, encryption, PITR, deletion
//! protection, tags and checkov skips; IAM actions and resources per consumer; alarms
//! with their metrics, dimensions, statistics, thresholds and periods; the dashboard body;
//! and in SAM and Terraform, the environment every function is given.
//!
//! Each output is parsed back (YAML, HCL) and normalised into [`Declared`], so a change in
//! one emitter that the others do not make fails here.

#[path = "../support/mod.rs"]
mod support;

mod cloudformation;
mod declared;
mod terraform;

use std::collections::{BTreeMap, BTreeSet};

use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;
use cloudformation::{cfn_text, from_cloudformation};
use hcl::Body;
use serde_json::Value;
use support::file;
use terraform::{attr, from_terraform, tf_object, tf_text};

#[test]
fn cloudformation_sam_and_terraform_declare_the_same_cache() {
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap();
        let cloudformation = from_cloudformation(&file(
            &project,
            Target::Cloudformation,
            "cloudformation.yaml",
        ));
        let sam = from_cloudformation(&file(&project, Target::Sam, "sam.yaml"));
        let terraform = from_terraform(&file(&project, Target::Terraform, "terraform/main.tf"));

        assert_eq!(
            cloudformation.tables.len(),
            project.model.tables.len(),
            "{name}"
        );
        assert_eq!(
            cloudformation.grants.len(),
            project
                .model
                .consumers
                .iter()
                .filter(|consumer| !consumer.grants.is_empty()
                    || !consumer.bucket_grants.is_empty())
                .count(),
            "{name}"
        );
        let created_redis = project
            .model
            .store
            .redis()
            .is_some_and(|redis| redis.created.is_some());
        assert_eq!(
            cloudformation.redis.is_some(),
            created_redis,
            "{name}: {:#?}",
            cloudformation.redis
        );
        if let Some(redis) = &cloudformation.redis {
            assert!(
                redis
                    .tags
                    .contains_key(cachegen_compiler::ir::FINGERPRINT_TAG)
                    && redis.subnets.starts_with("${")
                    && redis.security_groups.starts_with("${"),
                "{name}: the parser missed something in the Redis: {redis:#?}"
            );
        }
        assert_eq!(
            cloudformation.alarms.len(),
            project.model.alarms.len(),
            "{name}"
        );
        assert_eq!(
            cloudformation.buckets.len(),
            project.model.buckets.iter().filter(|b| b.created).count(),
            "{name}"
        );
        for (stem, bucket) in &cloudformation.buckets {
            assert!(
                bucket.tls_only
                    && bucket.public_access_blocked
                    && !bucket.lifecycle.is_empty()
                    && bucket
                        .tags
                        .contains_key(cachegen_compiler::ir::FINGERPRINT_TAG),
                "{name}: the parser missed something in bucket {stem}: {bucket:#?}"
            );
        }
        assert!(
            cloudformation
                .grants
                .values()
                .all(|grants| !grants.is_empty())
                && cloudformation
                    .alarms
                    .values()
                    .all(|alarm| !alarm.metrics.is_empty())
                && !cloudformation.dashboards.is_empty()
                && cloudformation.dashboards.values().all(|dashboard| {
                    dashboard["widgets"].as_array().is_some_and(|w| w.len() > 4)
                })
                && cloudformation.tables.values().all(|table| {
                    table
                        .tags
                        .contains_key(cachegen_compiler::ir::FINGERPRINT_TAG)
                        && !table.skips.is_empty()
                }),
            "{name}: the parser missed something: {cloudformation:#?}"
        );
        assert_eq!(
            sam, cloudformation,
            "{name}: SAM differs from CloudFormation"
        );
        assert_eq!(
            terraform, cloudformation,
            "{name}: Terraform differs from CloudFormation"
        );
    }
}

#[test]
fn a_created_sync_function_is_the_same_in_every_target() {
    let spec = fixture_spec("sync_function");
    let project = Project::load(&spec).unwrap();
    let cloudformation = from_cloudformation(&file(
        &project,
        Target::Cloudformation,
        "cloudformation.yaml",
    ));
    let sam = from_cloudformation(&file(&project, Target::Sam, "sam.yaml"));
    let terraform = from_terraform(&file(&project, Target::Terraform, "terraform/main.tf"));
    let function = &cloudformation.functions["documents"];
    assert_eq!(
        function.code,
        ("${code_bucket_name}".into(), "${code_key}".into())
    );
    assert_eq!(function.skips.len(), 6, "{function:#?}");
    assert_eq!(
        function.environment["DOCUMENTS_BUCKET_NAME"],
        "sync-demo-documents-${AWS::AccountId}"
    );
    let bucket = &cloudformation.buckets["documents"];
    assert!(
        bucket
            .notifications
            .iter()
            .all(|(function, ..)| function == "function-arn:documents"),
        "{bucket:#?}"
    );
    let alarm = &cloudformation.alarms["sync-errors"];
    assert!(
        alarm
            .metrics
            .iter()
            .all(|metric| metric.dimensions["FunctionName"] == "function-name:documents"),
        "{alarm:#?}"
    );
    assert_eq!(sam, cloudformation, "SAM differs from CloudFormation");
    assert_eq!(
        terraform, cloudformation,
        "Terraform differs from CloudFormation"
    );
}

#[test]
fn the_parity_check_notices_a_drifted_emitter() {
    let (_, spec) = support::example_specs().remove(0);
    let project = Project::load(&spec).unwrap();
    let main = file(&project, Target::Terraform, "terraform/main.tf");
    let drifted = main.replacen(
        "projection_type = \"ALL\"",
        "projection_type = \"KEYS_ONLY\"",
        1,
    );
    let drifted = drifted.replacen("\"dynamodb:GetItem\", ", "", 1);
    assert_ne!(drifted, main);
    let cloudformation = from_cloudformation(&file(
        &project,
        Target::Cloudformation,
        "cloudformation.yaml",
    ));
    assert_ne!(from_terraform(&drifted), cloudformation);
    assert_eq!(from_terraform(&main), cloudformation);

    // The first example keeps documents in S3: a drifted bucket is noticed too.
    for (from, to) in [
        (
            "filter_prefix       = \"changes/\"",
            "filter_prefix       = \"change/\"",
        ),
        ("sse_algorithm = \"aws:kms\"", "sse_algorithm = \"AES256\""),
        ("account_id}/changes/*\"", "account_id}/*\""),
    ] {
        let drifted = main.replacen(from, to, 1);
        assert_ne!(drifted, main, "{from} is in the module");
        assert_ne!(from_terraform(&drifted), cloudformation, "{from} -> {to}");
    }
}

/// A spec whose outputs are split to keep within AWS's limits: table `t0` holds more data
/// types than one dashboard graphs; `t1` and `t2` have twelve long index names each, so
/// each table's grant is a cache policy of its own.
fn split_spec() -> String {
    let mut text = String::from("version: 1\nservice: split\ntables:\n  t0:\n    name: split-t0\n");
    for table in 1..3 {
        text.push_str(&format!(
            "  t{table}:\n    name: split-t{table}\n    indexes:\n"
        ));
        for index in 0..12 {
            text.push_str(&format!(
                "      i{index:02}{}:\n        partition_key: {{ name: dataType }}\n",
                "x".repeat(200)
            ));
        }
    }
    text.push_str("data_types:\n");
    for n in 0..170 {
        text.push_str(&format!(
            "  d{n:03}:\n    table: t0\n    key: \"d{n:03}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n"
        ));
    }
    for table in 1..3 {
        text.push_str(&format!(
            "  i{table}:\n    table: t{table}\n    key: \"i{table}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n    attributes: {{ dataType: \"{{data_type}}\" }}\n"
        ));
    }
    text.push_str(
        "consumers:\n  api:\n    access: { d000: [read], i1: [read, query], i2: [read, query] }\n  ext:\n    role: { existing: split-app }\n    access: { i1: [query], i2: [query] }\noutputs:\n  targets: [cloudformation, sam, terraform]\n",
    );
    text
}

#[test]
fn split_dashboards_and_policies_are_the_same_in_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("cache.yaml");
    std::fs::write(&spec, split_spec()).unwrap();
    let project = Project::load(&spec).unwrap();
    let template = file(&project, Target::Cloudformation, "cloudformation.yaml");
    let cloudformation = from_cloudformation(&template);
    let sam = from_cloudformation(&file(&project, Target::Sam, "sam.yaml"));
    let terraform = from_terraform(&file(&project, Target::Terraform, "terraform/main.tf"));

    // t0's data types take two dashboards; t1 and t2 one each.
    let headings: Vec<&str> = cloudformation
        .dashboards
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        headings,
        [
            "# split cache, table t0 (page 1 of 2)",
            "# split cache, table t0 (page 2 of 2)",
            "# split cache, table t1",
            "# split cache, table t2"
        ]
    );
    // Each consumer's grants come in parts, merged here.
    assert!(template.contains("ApiCachePolicy2:") && template.contains("ExtCachePolicy2:"));
    assert_eq!(cloudformation.grants.len(), 2);
    assert_eq!(
        cloudformation.grants["ext"].len(),
        24,
        "every index of t1 and t2"
    );
    assert_eq!(sam, cloudformation, "SAM differs from CloudFormation");
    assert_eq!(
        terraform, cloudformation,
        "Terraform differs from CloudFormation"
    );
}

// ---------- The functions' environment ----------

/// `{{resolve:secretsmanager:<secret>:SecretString[:<key>]}}` -> `secret:<secret>:<key>`.
fn dynamic_reference(text: &str) -> Option<String> {
    let reference = text
        .strip_prefix("{{resolve:secretsmanager:")?
        .strip_suffix("}}")?;
    let (secret, key) = reference.rsplit_once(":SecretString")?;
    Some(format!("secret:{secret}:{}", key.trim_start_matches(':')))
}

/// The env vars SAM's `Globals` give every function, values normalised.
fn sam_environment(text: &str) -> BTreeMap<String, String> {
    let template: Value = serde_yaml::from_str(text).unwrap();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let Some(variables) = variables.as_object() else {
        return BTreeMap::new();
    };
    variables
        .iter()
        .map(|(name, value)| {
            let text = cfn_text(value)
                .replace("${redis_cache_endpoint_address}", "redis-address")
                .replace("${redis_cache_endpoint_port}", "redis-port");
            (name.clone(), dynamic_reference(&text).unwrap_or(text))
        })
        .collect()
}

/// The env vars the Terraform module's `environment` output gives, values normalised.
fn terraform_environment(main: &str, outputs: &str) -> BTreeMap<String, String> {
    let main: Body = hcl::parse(main).unwrap();
    let secret = main
        .blocks()
        .find(|block| {
            block.identifier() == "data"
                && block.labels().first().map(|label| label.as_str())
                    == Some("aws_secretsmanager_secret_version")
        })
        .map(|block| tf_text(attr(block.body(), "secret_id").unwrap()));
    let outputs: Body = hcl::parse(outputs).unwrap();
    let environment = outputs
        .blocks()
        .find(|block| {
            block.identifier() == "output"
                && block.labels().first().map(|label| label.as_str()) == Some("environment")
        })
        .expect("the module outputs the environment");
    let redis = "aws_elasticache_serverless_cache.redis.endpoint[0]";
    let secret_string = "data.aws_secretsmanager_secret_version.redis_url.secret_string";
    tf_object(attr(environment.body(), "value").unwrap())
        .into_iter()
        .map(|(name, value)| {
            let value = value
                .replace(&format!("{redis}.address"), "redis-address")
                .replace(&format!("{redis}.port"), "redis-port");
            let secret = || {
                secret
                    .clone()
                    .expect("a secret value reads the data source")
            };
            let value = if value == secret_string {
                format!("secret:{}:", secret())
            } else if let Some(key) = value
                .strip_prefix(&format!("jsondecode({secret_string})[\""))
                .and_then(|rest| rest.strip_suffix("\"]"))
            {
                format!("secret:{}:{key}", secret())
            } else {
                value
            };
            (name, value)
        })
        .collect()
}

/// The spec at `spec`'s SAM template, and its Terraform `main.tf` and `outputs.tf`.
fn environment_files(spec: &std::path::Path) -> (String, String, String) {
    let project = Project::load(spec).unwrap();
    let files = project.files(Some(&[Target::Sam, Target::Terraform]));
    let text = |path: &str| {
        let file = files.iter().find(|file| file.path.ends_with(path));
        let file = file.unwrap_or_else(|| panic!("{}: no {path}", spec.display()));
        file.contents.clone()
    };
    (
        text("sam.yaml"),
        text("terraform/main.tf"),
        text("terraform/outputs.tf"),
    )
}

/// The path of fixture `name`.
fn fixture_spec(name: &str) -> std::path::PathBuf {
    cachegen_testkit::workspace_root().join(format!("tests/fixtures/{name}.cache.yaml"))
}

/// Every function gets the same env vars from SAM's `Globals` as from the Terraform
/// module's `environment` output: tables, buckets, a created Redis's URL, and an existing
/// Redis's URL from a parameter or a secret.
#[test]
fn sam_and_terraform_give_the_functions_the_same_environment() {
    let fixtures = ["redis_url_parameter", "redis_url_secret", "sync_function"]
        .map(|name| (name.to_owned(), fixture_spec(name)));
    let mut checked = BTreeSet::new();
    for (name, spec) in support::example_specs().into_iter().chain(fixtures) {
        let (sam, main, outputs) = environment_files(&spec);
        let sam = sam_environment(&sam);
        assert_eq!(sam, terraform_environment(&main, &outputs), "{name}");
        checked.extend(sam.into_values());
    }
    // Every kind of value was compared: a table's name, a bucket's name, a created Redis's
    // URL, and an existing Redis's URL from a parameter and from a secret.
    let kinds = [
        "name:",
        "change-notifier-documents-",
        "rediss://",
        "${redis_url}",
        "secret:",
    ];
    for kind in kinds {
        assert!(
            checked.iter().any(|value| value.starts_with(kind)),
            "no {kind} value was compared: {checked:?}"
        );
    }
}

/// The environment comparison notices a Terraform `environment` output that gives the
/// functions another value: a secret's JSON key, or a table's name, drifted.
#[test]
fn the_environment_check_notices_a_drifted_output() {
    for (fixture, from, to) in [
        ("redis_url_secret", "[\"url\"]", "[\"uri\"]"),
        (
            "sync_function",
            "aws_dynamodb_table.cache.name",
            "aws_dynamodb_table.cache.arn",
        ),
    ] {
        let (sam, main, outputs) = environment_files(&fixture_spec(fixture));
        let sam = sam_environment(&sam);
        assert_eq!(terraform_environment(&main, &outputs), sam, "{fixture}");
        // The `environment` output comes last.
        let at = outputs
            .rfind(from)
            .unwrap_or_else(|| panic!("{fixture}: no {from}"));
        let drifted = format!("{}{to}{}", &outputs[..at], &outputs[at + from.len()..]);
        assert_ne!(
            terraform_environment(&main, &drifted),
            sam,
            "{fixture}: {from} -> {to}"
        );
    }
}
