//! Every generated CloudFormation and SAM template passes `cfn-lint` with no error and no
//! warning (cfn-lint expands SAM with aws-sam-translator first).

use std::path::{Path, PathBuf};
use std::process::Output;

use cachegen_tests::{examples, tool};

/// Runs cfn-lint once over `paths`. Its exit code is a bit field: 2 errors, 4 warnings,
/// 8 informational; 0 means clean.
fn cfn_lint(paths: &[PathBuf]) -> Output {
    tool("cfn-lint").arg("--").args(paths).output().unwrap()
}

fn report(output: &Output) -> String {
    format!(
        "cfn-lint exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes every example's YAML templates under `dir`, returning their paths.
fn write_templates(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (name, project) in examples() {
        for file in project.files(None) {
            if file.path.extension().is_some_and(|ext| ext == "yaml") {
                let path = dir.join(&name).join(&file.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &file.contents).unwrap();
                paths.push(path);
            }
        }
    }
    paths
}

#[test]
fn every_example_template_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_templates(dir.path());
    let sam = paths
        .iter()
        .filter(|path| path.ends_with("sam.yaml"))
        .count();
    assert!(
        paths.len() >= 10 && sam >= 5,
        "only {} templates found, {sam} of them SAM",
        paths.len()
    );
    let output = cfn_lint(&paths);
    assert!(output.status.success(), "{}", report(&output));
}

#[test]
fn cfn_lint_catches_a_defect_in_a_generated_template() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_templates(dir.path()).remove(0);
    let template = std::fs::read_to_string(&path).unwrap();
    // An attribute definition no key uses: DynamoDB rejects the table (cfn-lint E3039).
    let broken = template.replacen(
        "      AttributeDefinitions:\n",
        "      AttributeDefinitions:\n      - AttributeName: unused\n        AttributeType: S\n",
        1,
    );
    assert_ne!(broken, template);
    std::fs::write(&path, broken).unwrap();
    let output = cfn_lint(&[path]);
    assert_eq!(output.status.code(), Some(2), "{}", report(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("E3039"),
        "{}",
        report(&output)
    );
}

/// SplitMix64: a small seeded generator, so every generated spec can be rebuilt from its
/// seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Texts a YAML 1.1 reader or cfn-lint could misread: separators it folds, characters it
/// escapes, words it reads as other types, comment and mapping marks.
const TRICKY_TEXTS: &[&str] = &[
    "Cache for the orders service",
    "line\u{2028}separator and paragraph\u{2029}separator",
    "next\u{85}line, and a tab\there",
    "quotes \"double\" and 'single', a colon: and # hash",
    "yes",
    "2010-09-09",
    "émoji 😀 and ümlauts",
    "two\nlines",
    "costs $5 {not a template}",
];

/// `text` as a double-quoted YAML scalar a YAML 1.1 reader reads back as itself.
fn quoted(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A valid spec drawn from `seed`. Across seeds it uses every spec feature: parameters
/// with and without allowed values, descriptions and unused parameters; default tags with
/// references and a literal `$${`; one or two tables with custom keys, sort keys, TTL
/// attributes, both billing modes, every encryption, recovery, protection, tags, env vars,
/// skipped checks and indexes of every projection; created buckets with events and large
/// values, existing buckets; data types with every key parameter type, sort keys, inline
/// and Rust values, lifetimes, flights, attributes, tags, invalidation indexes, traffic and
/// documents; consumers with every role and access level; alarms of every metric with
/// actions and descriptions; a metrics namespace.
fn generated_spec(seed: u64) -> (String, Option<String>) {
    let mut rng = Rng(seed);
    let mut text = format!("version: 1\nservice: gen-{seed}\n");
    let description = rng.chance(60).then(|| rng.pick(TRICKY_TEXTS).to_owned());
    if let Some(description) = &description {
        text.push_str(&format!("description: {}\n", quoted(description)));
    }
    let documents = rng.chance(35);
    let existing_bucket = !documents && rng.chance(30);
    let large_values = (documents || existing_bucket) && rng.chance(50);
    let roles = rng.pick(&["create", "existing", "parameter", "arn_parameter"]);
    text.push_str("parameters:\n  env:\n    default: dev\n    allowed: [dev, prod]\n");
    if rng.chance(50) {
        text.push_str(&format!(
            "    description: {}\n",
            quoted(rng.pick(&TRICKY_TEXTS[..4]))
        ));
    }
    text.push_str("  Owner: { default: platform }\n");
    if rng.chance(40) {
        text.push_str("  Unused: { default: nothing, description: declared and never used }\n");
    }
    if documents {
        text.push_str("  SyncFunctionArn: { description: ARN of the sync function }\n");
    }
    text.push_str("defaults:\n  tags:\n    Team: \"${Owner}\"\n");
    if rng.chance(50) {
        text.push_str("    Literal: \"$${NotAParameter}\"\n");
    }
    if rng.chance(50) {
        text.push_str("  memory_ttl: 1m\n");
    }
    if rng.chance(30) {
        text.push_str("  point_in_time_recovery: false\n");
    }
    if rng.chance(30) {
        text.push_str("  ttl: 10m\n  deletion_protection: true\n  encryption: aws_owned\n");
    }
    if rng.chance(20) {
        text.push_str("  billing: { provisioned: { read: 3, write: 3 } }\n");
    }
    if rng.chance(40) {
        text.push_str(&format!(
            "metrics:\n  namespace: {}\n",
            rng.pick(&["Gen/Cache", "gen.cache", "Gen#Cache:v1"])
        ));
    }

    let tables = 1 + rng.below(2);
    let mut table_kinds = Vec::new();
    text.push_str("tables:\n");
    for t in 0..tables {
        let sort_key = rng.chance(30);
        let by_type = rng.chance(70);
        let by_owner = rng.chance(40);
        table_kinds.push((sort_key, by_type, by_owner));
        let name = rng.pick(&[
            "\"${service}-t{t}-${env}\"",
            "\"${AWS::StackName}-t{t}\"",
            "\"gen-t{t}-${AWS::Region}-${AWS::AccountId}\"",
        ]);
        text.push_str(&format!(
            "  t{t}:\n    name: {}\n",
            name.replace("{t}", &t.to_string())
        ));
        if rng.chance(40) {
            text.push_str(rng.pick(&[
                "    partition_key: { name: id, type: S }\n",
                "    partition_key: { name: PK, type: S }\n",
            ]));
        }
        if sort_key {
            text.push_str("    sort_key: { name: sk, type: S }\n");
        }
        if rng.chance(30) {
            text.push_str("    ttl_attribute: expires\n");
        }
        let provisioned = rng.chance(40);
        if provisioned {
            text.push_str("    billing: { provisioned: { read: 5, write: 5 } }\n");
        }
        text.push_str(match rng.below(3) {
            0 => "    encryption: aws_owned\n",
            1 => "    encryption: aws_managed\n",
            _ => "    encryption: { kms_key: \"arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/abc\" }\n",
        }.replace("${AWS::Partition}", "aws").as_str());
        if rng.chance(30) {
            text.push_str("    deletion_protection: true\n");
        }
        if large_values && rng.chance(50) {
            text.push_str("    overflow_bucket: docs\n");
        }
        if rng.chance(40) {
            text.push_str("    tags: { Tier: \"cache-${env}\", Plain: plain }\n");
        }
        if tables > 1 {
            text.push_str(&format!("    env_var: GEN_T{t}_TABLE\n"));
        }
        if rng.chance(40) {
            text.push_str(&format!(
                "    skip_checks:\n      CKV_AWS_119: {}\n",
                quoted(rng.pick(&TRICKY_TEXTS[..4]).trim())
            ));
        }
        if by_type || by_owner {
            text.push_str("    indexes:\n");
        }
        if by_type {
            text.push_str("      by-type:\n        partition_key: { name: dataType }\n        sort_key: { name: createdAt, type: N }\n");
            if provisioned && rng.chance(50) {
                text.push_str("        capacity: { read: 2, write: 2 }\n");
            }
        }
        if by_owner {
            text.push_str("      by-owner:\n        partition_key: { name: owner }\n");
            text.push_str(rng.pick(&[
                "        projection: all\n",
                "        projection: keys_only\n",
                "        projection: include\n        projected_attributes: [note]\n",
            ]));
        }
    }
    if documents || existing_bucket {
        text.push_str("buckets:\n  docs:\n");
        if documents {
            text.push_str("    name: \"${service}-docs-${env}-${AWS::AccountId}\"\n    env_var: GEN_DOCS\n    events: { function: \"${SyncFunctionArn}\", consumer: sync }\n");
            text.push_str(&format!(
                "    description: {}\n",
                quoted(rng.pick(TRICKY_TEXTS))
            ));
            text.push_str(match rng.below(3) {
                0 => "    encryption: s3_managed\n",
                1 => "    encryption: aws_managed\n",
                _ => {
                    "    encryption: { kms_key: \"arn:aws:kms:us-east-1:123456789012:key/abc\" }\n"
                }
            });
            if rng.chance(50) {
                text.push_str("    versioning: false\n");
            }
            if rng.chance(50) {
                text.push_str("    tags: { Kind: documents }\n    skip_checks: { CKV_AWS_18: no access logs for a cache's documents }\n");
            }
        } else {
            text.push_str("    existing: \"gen-shared-${env}\"\n    env_var: GEN_DOCS\n");
        }
    }

    text.push_str("data_types:\n");
    let mut data_types = Vec::new();
    for (t, (sort_key, by_type, by_owner)) in table_kinds.iter().enumerate() {
        for d in 0..1 + rng.below(3) {
            let name = format!("t{t}d{d}");
            let document = documents && d == 0 && t == 0;
            // A document's object key carries its key parameters: one, here.
            let params = if document {
                "{ id: string }"
            } else {
                rng.pick(&[
                    "{ id: string }",
                    "{ id: string, n: u64 }",
                    "{ id: string, n: i64, on: bool }",
                    "{ id: u32 }",
                ])
            };
            let key = match params {
                "{ id: string, n: u64 }" => format!("{name}#{{id}}#{{n}}"),
                "{ id: string, n: i64, on: bool }" => format!("{name}#{{id}}#{{n}}#{{on}}"),
                _ => format!("{name}#{{id}}"),
            };
            let inline = *by_owner || document || rng.chance(60);
            text.push_str(&format!(
                "  {name}:\n    table: t{t}\n    key: \"{key}\"\n    params: {params}\n"
            ));
            if rng.chance(40) {
                text.push_str(&format!(
                    "    description: {}\n",
                    quoted(rng.pick(TRICKY_TEXTS))
                ));
            }
            if *sort_key {
                text.push_str("    sort_key: \"{id}\"\n");
            }
            text.push_str(if inline {
                "    value: { fields: { owner: string, updated_at: i64, items: list<json>, note: option<string>, extra: map<f64> } }\n"
            } else {
                "    value: { type: crate::model::Thing }\n"
            });
            text.push_str(rng.pick(&["    ttl: 5m\n", "    ttl: 1h\n", "    ttl: 7d\n"]));
            if rng.chance(40) {
                text.push_str("    stale_while_revalidate: 30s\n");
            }
            if rng.chance(30) {
                text.push_str("    memory_ttl: 20s\n");
            }
            if rng.chance(30) {
                text.push_str("    distributed_flight: true\n");
            }
            if rng.chance(30) {
                text.push_str("    version_check: 2s\n");
            }
            if rng.chance(30) {
                // The origin policy: code only, so the templates must not change with it.
                text.push_str(
                    "    fail_safe: { max_stale: 1h, throttle: 30s }\n    soft_timeout: 200ms\n    \
                     hard_timeout: 2s\n    eager_refresh: 0.8\n    ttl_jitter: 30s\n    \
                     negative_ttl: 1m\n    ttl_bounds: { min: 1m, max: 5m }\n",
                );
            }
            let mut attributes = Vec::new();
            if *by_type {
                attributes.push("dataType: \"{data_type}\"");
                attributes.push("createdAt: \"{now}\"");
            }
            if *by_owner {
                attributes.push("owner: \"{value.owner}\"");
            }
            if document {
                attributes.push("customer: \"{value.owner}\"");
            }
            if !attributes.is_empty() {
                text.push_str(&format!(
                    "    attributes: {{ {} }}\n",
                    attributes.join(", ")
                ));
            }
            if rng.chance(50) {
                text.push_str("    tags: [\"owner:{id}\"]\n");
            }
            if *by_type && rng.chance(60) {
                text.push_str("    invalidate_by: by-type\n");
            }
            if rng.chance(30) {
                text.push_str(
                    "    traffic: { requests_per_day: 10000, hit_rate: 0.9, item_size: 2KB }\n",
                );
            }
            if large_values && d == 0 {
                text.push_str("    large_values: true\n");
            }
            if document {
                text.push_str(&format!(
                    "    document: {{ key: \"{name}/{{id}}.json\" }}\n"
                ));
            }
            data_types.push((name, *by_type, document));
        }
    }

    text.push_str("consumers:\n  api:\n");
    text.push_str(&format!(
        "    description: {}\n",
        quoted(rng.pick(TRICKY_TEXTS))
    ));
    text.push_str(match roles {
        "create" => "    role: create\n",
        "existing" => "    role: { existing: gen-app-role }\n",
        "parameter" => "    role: { parameter: ApiRoleName }\n",
        _ => "    role: { arn_parameter: ApiRoleArn }\n",
    });
    text.push_str("    access:\n");
    for (name, queryable, _) in &data_types {
        let levels = if *queryable && rng.chance(50) {
            "[read, write, invalidate, query]"
        } else {
            rng.pick(&[
                "[read]",
                "[read, write]",
                "[read, write, invalidate]",
                "[invalidate]",
            ])
        };
        text.push_str(&format!("      {name}: {levels}\n"));
    }
    if documents {
        let (name, ..) = data_types.iter().find(|(.., document)| *document).unwrap();
        text.push_str(&format!("  sync:\n    access: {{ {name}: [sync] }}\n"));
    }

    text.push_str("alarms:\n");
    let first = &data_types[0].0;
    if rng.chance(70) {
        text.push_str(&format!(
            "  hit-rate: {{ metric: hit_rate, threshold: 0.8, data_type: {first}, evaluation_periods: 3, period: 1m }}\n"
        ));
    }
    text.push_str(&format!(
        "  latency: {{ metric: latency, statistic: {}, threshold: 250ms }}\n",
        rng.pick(&["p99", "p90", "p50"])
    ));
    text.push_str(&format!(
        "  errors:\n    metric: store_errors\n    threshold: 0\n    actions: [\"arn:aws:sns:${{AWS::Region}}:${{AWS::AccountId}}:gen-alerts\"]\n    description: {}\n",
        quoted(rng.pick(&["errors in ${NotAParameter} land here", "a plain description", "see ${Owner} on call"]))
    ));
    if rng.chance(60) {
        text.push_str("  throttles: { metric: throttles, table: t0, threshold: 0 }\n");
    }
    if documents {
        text.push_str("  sync-errors: { metric: sync_errors, threshold: 0.01, period: 1m }\n");
    }
    text.push_str("outputs:\n  targets: [cloudformation, sam]\n");
    (text, description)
}

/// How many specs [`every_generated_spec_passes_cfn_lint`] draws.
const GENERATED_SPECS: u64 = 40;

#[test]
fn every_generated_spec_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut descriptions = Vec::new();
    let mut unused_left_out = 0;
    for seed in 0..GENERATED_SPECS {
        let (text, description) = generated_spec(seed);
        let model = cachegen_compiler::compile_text("cache.yaml", &text)
            .unwrap_or_else(|err| panic!("seed {seed} is not a valid spec:\n{text}\n{err}"));
        if text.contains("  Unused:") {
            assert!(
                model.notes.iter().any(|note| note.contains("`Unused`")),
                "seed {seed}: {:?}",
                model.notes
            );
            unused_left_out += 1;
        }
        for file in cachegen_compiler::emit::generate(&model, "cache.yaml", None) {
            let path = dir.path().join(format!("{seed}-{}", file.path.display()));
            std::fs::write(&path, &file.contents).unwrap();
            descriptions.push((path.clone(), description.clone()));
            paths.push(path);
        }
    }
    assert!(
        unused_left_out > 0,
        "some spec declares an unused parameter"
    );
    let output = cfn_lint(&paths);
    assert!(output.status.success(), "{}", report(&output));

    // A YAML 1.1 reader (PyYAML, which cfn-lint uses) reads every description back as
    // the spec wrote it.
    let script = "import json, sys, yaml\nfor path in sys.argv[1:]:\n    print(json.dumps(yaml.safe_load(open(path, encoding='utf-8')).get('Description')))";
    let read = tool("python3")
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let stdout = String::from_utf8(read.stdout).unwrap();
    let read_back: Vec<Option<String>> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut checked = 0;
    for ((path, written), read) in descriptions.iter().zip(&read_back) {
        if let Some(written) = written {
            assert_eq!(read.as_ref(), Some(written), "{}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked > 10,
        "only {checked} templates carry a spec description"
    );
}

/// The intermediate templates of a stepped deploy (`cachegen::deploy::steps`) pass
/// cfn-lint too: for every example with indexes, every index renamed at once, so each
/// table steps through deleting all its indexes and creating them again.
#[test]
fn every_step_of_a_stepped_index_change_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, project) in examples() {
        let template = project
            .files(Some(&[cachegen_compiler::ir::Target::Cloudformation]))
            .remove(0)
            .contents;
        let renamed = template.replace("- IndexName: ", "- IndexName: Next");
        let steps = cachegen::deploy::steps::steps(&template, &renamed).unwrap();
        for (number, step) in steps.iter().enumerate().take(steps.len() - 1) {
            let path = dir.path().join(format!("{name}-step{}.json", number + 1));
            std::fs::write(&path, &step.template).unwrap();
            paths.push(path);
        }
    }
    assert!(paths.len() >= 4, "only {} intermediate steps", paths.len());
    let output = cfn_lint(&paths);
    assert!(output.status.success(), "{}", report(&output));
}

/// The CloudFormation and SAM templates of `tests/fixtures/<fixture>.cache.yaml` pass
/// cfn-lint, warnings included.
fn lint_fixture(fixture: &str) {
    let project = cachegen_tests::fixture(fixture);
    use cachegen_compiler::ir::Target;
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for file in project.files(Some(&[Target::Cloudformation, Target::Sam])) {
        if file.path.extension().is_some_and(|ext| ext == "yaml") {
            let path = dir.path().join(&file.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &file.contents).unwrap();
            paths.push(path);
        }
    }
    assert_eq!(paths.len(), 2, "{fixture}: {paths:?}");
    let output = cfn_lint(&paths);
    assert!(output.status.success(), "{fixture}: {}", report(&output));
}

/// The fixture whose bucket's events reach a sync function the templates create: no cycle
/// between the bucket, its notifications, the function and its policy, in either format.
#[test]
fn a_created_sync_function_passes_cfn_lint() {
    lint_fixture("sync_function");
}

/// A Redis URL from a hidden parameter, and from a secret named with a parameter: no
/// parameter is left unused where no function reads it (W2001), and the dynamic reference
/// is where CloudFormation takes one.
#[test]
fn a_redis_url_from_a_parameter_or_a_secret_passes_cfn_lint() {
    lint_fixture("redis_url_parameter");
    lint_fixture("redis_url_secret");
}
