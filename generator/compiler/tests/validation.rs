//! Every validation error: its message and its `file:line:column`.

mod support;

use cachegen_compiler::compile_text;

/// A valid spec that each test breaks in one place.
const BASE: &str = r#"version: 1
service: demo
parameters:
  env: { default: dev, allowed: [dev, prod] }
tables:
  cache:
    name: "${service}-cache-${env}"
    indexes:
      by-type:
        partition_key: { name: dataType, type: S }
        sort_key: { name: createdAt, type: N }
data_types:
  user:
    key: "user#{id}"
    params: { id: string }
    value: { fields: { name: string, age: u32 } }
    ttl: 5m
    attributes: { dataType: "{data_type}" }
    invalidate_by: by-type
consumers:
  api:
    access: { user: [read, write] }
"#;

/// The one-line summaries (`spec.yaml:line:col: message`) of a spec's problems.
fn problems(text: &str) -> Vec<String> {
    match compile_text("spec.yaml", text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.summary(),
    }
}

/// The codes of a spec's problems, in the order of [`problems`].
fn codes(text: &str) -> Vec<&'static str> {
    match compile_text("spec.yaml", text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.items.iter().map(|item| item.code.id).collect(),
    }
}

/// The full rendered report (with hints).
fn report(text: &str) -> String {
    compile_text("spec.yaml", text)
        .expect_err("the spec must be rejected")
        .render()
}

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

#[test]
fn the_base_spec_is_valid() {
    assert_eq!(problems(BASE), Vec::<String>::new());
}

#[test]
fn unknown_field_suggests_the_intended_one() {
    let text = edit("    ttl: 5m\n", "    ttl: 5m\n    memroy_ttl: 1m\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:5: unknown field `memroy_ttl` in `data_types.user`"]
    );
    assert!(report(&text).contains("help: did you mean `memory_ttl`?"));
}

#[test]
fn unknown_fields_are_all_reported_at_once() {
    let text =
        edit("version: 1\n", "version: 1\nservce: x\n").replace("    ttl: 5m\n", "    tll: 5m\n");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:2:1: unknown field `servce`",
            "spec.yaml:18:5: unknown field `tll` in `data_types.user`",
        ]
    );
}

#[test]
fn unknown_enum_variant_suggests_the_intended_one() {
    let text = edit(
        "    name: \"${service}-cache-${env}\"\n",
        "    name: \"${service}-cache-${env}\"\n    billing: ondemand\n",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("spec.yaml:8:14: tables.cache.billing: unknown variant `ondemand`"),
        "{found:?}"
    );
    assert!(report(&text).contains("did you mean `on_demand`?"));
}

#[test]
fn key_template_naming_an_undeclared_parameter() {
    let text = edit("key: \"user#{id}\"", "key: \"user#{id}#{tenant}\"");
    assert_eq!(
        problems(&text),
        ["spec.yaml:14:10: `{tenant}` names an undeclared key parameter"]
    );
    assert!(report(&text).contains("declare it under `params`"));
}

#[test]
fn table_names_must_make_rust_modules() {
    let text = edit("  cache:\n    name:", "  runtime:\n    name:");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:6:3: table `runtime` would generate the module `runtime`, which the generated module uses itself"
        ]
    );
    assert_eq!(codes(&text), ["CG0214"]);
    let text = edit("  cache:\n    name:", "  type:\n    name:");
    assert_eq!(codes(&text), ["CG0214"]);
    let text = edit("  cache:\n    name:", "  2cache:\n    name:");
    assert_eq!(codes(&text), ["CG0108"]);
}

#[test]
fn template_outputs_stay_in_the_output_directory_and_off_the_targets() {
    let text = format!(
        "{BASE}outputs:\n  targets: [cloudformation, rust]\n  templates:\n    \"../up.ts\": a.tera\n    rust/src/x.rs: b.tera\n    ok/cache.ts: c.tera\n"
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:26:5: template output `../up.ts` is not a plain path inside the output directory",
            "spec.yaml:27:5: template output `rust/src/x.rs` is a file the `rust` target writes",
        ]
    );
    assert_eq!(codes(&text), ["CG0901", "CG0901"]);
}

#[test]
fn declared_parameter_the_key_never_uses() {
    let text = edit(
        "params: { id: string }",
        "params: { id: string, tenant: string }",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:15:27: parameter `tenant` is declared but the key template never uses it"]
    );
}

#[test]
fn duplicate_keys_point_at_both_places() {
    let text = edit("    ttl: 5m\n", "    ttl: 5m\n    ttl: 10m\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:5: `data_types.user.ttl` is written twice"]
    );
    assert!(report(&text).contains("first written here"));
}

#[test]
fn names_that_collide_as_logical_ids() {
    let text = edit(
        "consumers:\n",
        "consumers:\n  a-pi:\n    access: { user: [read] }\n  a_pi:\n    access: { user: [read] }\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:23:3: consumers `a_pi` and `a-pi` both become the CloudFormation name `APi`"]
    );
}

#[test]
fn index_keyed_on_an_attribute_no_data_type_writes() {
    let text = edit(
        "attributes: { dataType: \"{data_type}\" }",
        "attributes: { kind: \"{data_type}\" }",
    )
    .replace("    invalidate_by: by-type\n", "");
    assert_eq!(
        problems(&text),
        ["spec.yaml:10:32: index `by-type` is keyed on `dataType`, which no data type writes"]
    );
}

#[test]
fn more_than_twenty_indexes() {
    let extra: String = (0..20)
        .map(|i| format!("      extra-{i:02}:\n        partition_key: {{ name: dataType }}\n"))
        .collect();
    let text = edit("    indexes:\n", &format!("    indexes:\n{extra}"));
    assert_eq!(
        problems(&text),
        ["spec.yaml:8:5: table `cache` declares 21 global secondary indexes; DynamoDB allows 20"]
    );
}

#[test]
fn include_projection_without_attributes() {
    let text = edit(
        "        sort_key: { name: createdAt, type: N }\n",
        "        sort_key: { name: createdAt, type: N }\n        projection: include\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:12:21: index `by-type` has an INCLUDE projection but names no attributes"]
    );
}

#[test]
fn zero_ttl() {
    let text = edit("ttl: 5m", "ttl: 0s");
    assert_eq!(
        problems(&text),
        ["spec.yaml:17:10: ttl must be longer than zero"]
    );
}

#[test]
fn ttl_longer_than_the_store_allows() {
    let text = edit("ttl: 5m", "ttl: 400d");
    assert_eq!(
        problems(&text),
        ["spec.yaml:17:10: ttl of 400d is longer than the 365-day maximum"]
    );
}

#[test]
fn memory_ttl_longer_than_the_store_ttl() {
    let text = edit("    ttl: 5m\n", "    ttl: 5m\n    memory_ttl: 10m\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:17: memory_ttl (10m) of `user` is longer than its ttl (5m)"]
    );
}

#[test]
fn consumer_naming_an_unknown_data_type() {
    let text = edit(
        "access: { user: [read, write] }",
        "access: { usr: [read, write] }",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:22:15: consumer `api` names unknown data type `usr`"]
    );
    assert!(report(&text).contains("did you mean `user`?"));
}

#[test]
fn table_name_dynamodb_would_reject() {
    let text = edit(
        "name: \"${service}-cache-${env}\"",
        "name: \"${service} cache/${env}\"",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:7:11: table name has characters DynamoDB rejects: ` `, `/`"]
    );
}

#[test]
fn parameter_name_cloudformation_would_reject() {
    let text = edit(
        "  env: { default: dev, allowed: [dev, prod] }",
        "  my-env: { default: dev }",
    )
    .replace("${env}", "${my-env}");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:4:3: parameter name `my-env` must be 1 to 255 letters and digits (CloudFormation's rule)"
        ]
    );
}

#[test]
fn index_name_dynamodb_would_reject() {
    let text =
        edit("      by-type:", "      by:").replace("invalidate_by: by-type", "invalidate_by: by");
    assert_eq!(
        problems(&text),
        ["spec.yaml:9:7: index name `by` is 2 characters long; DynamoDB needs 3 to 255"]
    );
}

#[test]
fn reserved_environment_variable() {
    let text = edit("    indexes:\n", "    env_var: AWS_CACHE\n    indexes:\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:8:14: environment variable `AWS_CACHE` uses the `AWS_` prefix Lambda reserves"]
    );
}

#[test]
fn unknown_table_reference() {
    let text = edit(
        "    key: \"user#{id}\"\n",
        "    table: cach\n    key: \"user#{id}\"\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:14:12: table `cach` is not declared"]
    );
    assert!(report(&text).contains("did you mean `cache`?"));
}

#[test]
fn invalidation_index_must_be_keyed_by_a_constant() {
    let text = edit(
        "attributes: { dataType: \"{data_type}\" }",
        "attributes: { dataType: \"{id}\" }",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("spec.yaml:19:20: index `by-type` cannot find every `user` item"),
        "{found:?}"
    );
}

#[test]
fn attribute_type_must_match_the_index_key() {
    let text = edit(
        "attributes: { dataType: \"{data_type}\" }",
        "attributes: { dataType: \"{data_type}\", createdAt: \"{value.name}\" }",
    );
    let found = problems(&text);
    assert!(
        found.contains(
            &"spec.yaml:18:44: attribute `createdAt` is written by cachegen itself".to_owned()
        ),
        "{found:?}"
    );
    assert!(
        found.contains(&"spec.yaml:18:55: attribute `createdAt` is written as S but table `cache` declares it N".to_owned()),
        "{found:?}"
    );
}

#[test]
fn query_access_needs_an_index() {
    let text = edit(
        "consumers:\n",
        "  plain:\n    key: \"plain#{id}\"\n    params: { id: string }\n    value: { type: String }\nconsumers:\n",
    )
    .replace("access: { user: [read, write] }", "access: { plain: [query] }");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with("consumer `api` may query `plain`, but no index finds its items"),
        "{found:?}"
    );
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let found = problems("version: 1\nservice: [demo\ntables: {}\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("spec.yaml:3:"), "{found:?}");
    assert!(found[0].contains("YAML syntax error"), "{found:?}");
}

#[test]
fn hit_rate_threshold_must_be_a_ratio() {
    let text = format!("{BASE}alarms:\n  low:\n    metric: hit_rate\n    threshold: 70\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:26:16: a hit-rate threshold is a ratio between 0 and 1"]
    );
}

#[test]
fn unknown_parameter_in_a_name() {
    let text = edit(
        "name: \"${service}-cache-${env}\"",
        "name: \"${service}-cache-${evn}\"",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:7:11: `${evn}` names no parameter"]
    );
    assert!(report(&text).contains("did you mean `env`?"));
}

#[test]
fn skip_checks_need_a_checkov_id_and_a_reason() {
    let text = edit(
        "    name: \"${service}-cache-${env}\"\n",
        "    name: \"${service}-cache-${env}\"\n    skip_checks:\n      CKV_AWS_28: \"\"\n      PITR: \"re-fetchable\"\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:9:19: skipping `CKV_AWS_28` needs a reason",
            "spec.yaml:10:7: `PITR` is not a checkov check ID",
        ]
    );
    assert!(report(&text).contains("such as `CKV_AWS_28`"));
    let text = edit(
        "    name: \"${service}-cache-${env}\"\n",
        "    name: \"${service}-cache-${env}\"\n    skip_checks:\n      CKV_AWS_28: \"one\\ntwo\"\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:9:19: the reason for skipping `CKV_AWS_28` spans several lines"]
    );
}

#[test]
fn traffic_needs_a_ratio_and_a_size() {
    let text = edit(
        "    ttl: 5m\n",
        "    ttl: 5m\n    traffic: { requests_per_day: 10, hit_rate: 1.5, item_size: 5KB }\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:48: hit rate 1.5 is not between 0 and 1"]
    );
    let text = edit(
        "    ttl: 5m\n",
        "    ttl: 5m\n    traffic:\n      requests_per_day: 10\n      hit_rate: 0.5\n      item_size: 5 GB\n",
    );
    assert_eq!(problems(&text), ["spec.yaml:21:18: `5 GB` is not a size"]);
    assert!(report(&text).contains("write it as `800B`, `5KB` or `1.5MB`"));
    let text = edit(
        "    ttl: 5m\n",
        "    ttl: 5m\n    traffic: { requests_per_day: 10, hit_rate: 0.5, item_size: 500KB }\n",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:64: item size `500KB` is outside DynamoDB's 1B to 400KB"]
    );
}

/// [`BASE`] with a created bucket whose events reach a sync consumer, and `user` kept as
/// documents in it.
fn with_documents(document: &str, bucket_extra: &str, sync_access: &str) -> String {
    let text = edit(
        "data_types:\n",
        &format!(
            "buckets:\n  docs:\n    name: \"${{service}}-docs-${{env}}\"\n{bucket_extra}    events: {{ function: \"arn:aws:lambda:us-east-1:123456789012:function:sync\", consumer: sync }}\ndata_types:\n"
        ),
    );
    let text = text.replacen(
        "    invalidate_by: by-type\n",
        &format!("    invalidate_by: by-type\n    document: {document}\n"),
        1,
    );
    format!("{text}  sync:\n    access: {{ user: [{sync_access}] }}\n")
}

#[test]
fn a_valid_document_type_compiles() {
    let text = with_documents("{ key: \"users/{id}.json\" }", "", "sync");
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn an_object_key_must_use_every_key_parameter() {
    let text = with_documents("{ key: \"users/all.json\" }", "", "sync");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:24:22: object key `users/all.json` uses `{id}` 0 times; it must use each key parameter exactly once"
        ]
    );
}

#[test]
fn an_object_key_must_mark_where_a_parameter_ends() {
    let text = with_documents("{ key: \"users/{id}-{id2}.json\" }", "", "sync")
        .replace(
            "params: { id: string }",
            "params: { id: string, id2: string }",
        )
        .replace("key: \"user#{id}\"", "key: \"user#{id}#{id2}\"");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:24:22: in object key `users/{id}-{id2}.json`, `-` cannot mark where `{id}` ends"
        ]
    );
    assert!(report(&text).contains("start the text between parameters with `/`"));
}

#[test]
fn a_document_bucket_must_be_declared() {
    let text = with_documents("{ bucket: dcos, key: \"users/{id}.json\" }", "", "sync");
    assert_eq!(
        problems(&text),
        ["spec.yaml:24:25: bucket `dcos` is not declared"]
    );
    assert!(report(&text).contains("did you mean `docs`?"));
}

#[test]
fn a_bucket_is_created_or_existing_not_both() {
    let text = with_documents(
        "{ key: \"users/{id}.json\" }",
        "    existing: other-bucket\n",
        "sync",
    );
    assert!(
        problems(&text)
            .contains(&"spec.yaml:15:5: bucket `docs` gives both `name` and `existing`".to_owned()),
        "{:?}",
        problems(&text)
    );
}

#[test]
fn a_bucket_name_follows_s3_rules() {
    let text = with_documents("{ key: \"users/{id}.json\" }", "", "sync")
        .replace("name: \"${service}-docs-${env}\"", "name: Docs_Bucket");
    assert_eq!(
        problems(&text),
        ["spec.yaml:14:11: `Docs_Bucket` is not a valid S3 bucket name"]
    );
}

#[test]
fn the_event_consumer_must_be_allowed_to_sync() {
    let text = with_documents("{ key: \"users/{id}.json\" }", "", "write, invalidate");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:15:90: consumer `sync` receives the events of bucket `docs`, but may not `sync` data type `user`"
        ]
    );
    assert!(report(&text).contains("add `user: [sync]` to its access"));
}

#[test]
fn sync_is_for_document_types_only() {
    let text = edit(
        "access: { user: [read, write] }",
        "access: { user: [sync] }",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:22:21: consumer `api` may sync `user`, which keeps no documents in S3"]
    );
}

#[test]
fn large_values_need_a_bucket() {
    let text = edit("    ttl: 5m\n", "    ttl: 5m\n    large_values: true\n");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:18:19: data type `user` allows large values, but table `cache` has no overflow bucket"
        ]
    );
    assert!(report(&text).contains("declare a bucket under `buckets`"));
}

#[test]
fn event_filters_of_two_document_types_must_not_overlap() {
    let text = with_documents("{ key: \"users/{id}.json\" }", "", "sync").replacen(
        "consumers:\n",
        "  admin:\n    key: \"admin#{id}\"\n    params: { id: string }\n    value: { fields: { name: string } }\n    document: { key: \"users/admins/{id}.json\" }\nconsumers:\n",
        1,
    );
    let text = text.replace("access: { user: [sync] }", "access: { \"*\": [sync] }");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:29:22: the object keys of `user` and `admin` overlap, and S3 refuses overlapping event filters"
        ]
    );
}

#[test]
fn events_need_a_bucket_the_templates_create() {
    let text = with_documents("{ key: \"users/{id}.json\" }", "", "sync").replace(
        "    name: \"${service}-docs-${env}\"\n",
        "    existing: shared-docs-bucket\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:15:5: bucket `docs` is an existing bucket; its notifications are not this template's to set"
        ]
    );
}

/// [`BASE`] with one more data type on the same table, declared before `consumers`.
fn with_type(name: &str, body: &str) -> String {
    edit("consumers:\n", &format!("  {name}:\n{body}consumers:\n"))
}

#[test]
fn adjacent_key_parameters() {
    let text = edit("key: \"user#{id}\"", "key: \"user#{id}{tenant}\"").replace(
        "params: { id: string }",
        "params: { id: string, tenant: string }",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:14:10: key template `user#{id}{tenant}` can give two parameter tuples the same key: `{id}` is followed directly by `{tenant}`"
        ]
    );
    assert_eq!(codes(&text), ["CG0310"]);
    assert!(report(&text).contains("such as `#`, `:` or `/`"));
}

#[test]
fn a_separator_that_escaping_leaves_alone() {
    let text = edit("key: \"user#{id}\"", "key: \"session_{id}_{device}\"").replace(
        "params: { id: string }",
        "params: { id: string, device: string }",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:14:10: key template `session_{id}_{device}` can give two parameter tuples the same key: `{id}` is followed by `_`, which a parameter's value can contain"
        ]
    );
    // `%` starts every escape, so it cannot mark a parameter's end either.
    let text = text.replace("session_{id}_{device}", "session#{id}%{device}");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:14:10: key template `session#{id}%{device}` can give two parameter tuples the same key: `{id}` is followed by `%`, which a parameter's value can contain"
        ]
    );
    // What escaping always encodes marks the end; so does the end of the template.
    let text = text.replace("session#{id}%{device}", "session#{id}:{device}");
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn a_tag_template_must_mark_where_a_parameter_ends() {
    let text = edit(
        "    invalidate_by: by-type\n",
        "    invalidate_by: by-type\n    tags: [\"org:{id}\", \"team.{id}.members\"]\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:20:24: tag template `team.{id}.members` can give two parameter tuples the same tag: `{id}` is followed by `.`, which a parameter's value can contain"
        ]
    );
    assert_eq!(codes(&text), ["CG0310"]);
}

#[test]
fn a_sort_key_template_must_mark_where_a_parameter_ends() {
    let text = edit(
        "    indexes:\n",
        "    sort_key: { name: sk, type: S }\n    indexes:\n",
    )
    .replace(
        "    key: \"user#{id}\"\n",
        "    key: \"user#{id}\"\n    sort_key: \"v{version}-{id}\"\n",
    )
    .replace(
        "params: { id: string }",
        "params: { id: string, version: u32 }",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:16:15: sort key template `v{version}-{id}` can give two parameter tuples the same sort key: `{version}` is followed by `-`, which a parameter's value can contain"
        ]
    );
}

#[test]
fn colliding_key_prefixes_on_one_table() {
    let text = with_type(
        "user-v2",
        "    key: \"user#{id}#v2\"\n    params: { id: string }\n    value: { type: String }\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:21:10: keys of `user-v2` and `user` can collide on table `cache`: both start with the fixed text `user#` before their parameters"
        ]
    );
    assert_eq!(codes(&text), ["CG0311"]);
    let rendered = report(&text);
    assert!(rendered.contains("the key of `user`"), "{rendered}");
    assert!(
        rendered.contains("neither may equal or begin the other's"),
        "{rendered}"
    );
}

#[test]
fn a_fixed_text_that_begins_another_types() {
    let text = with_type(
        "user-v2",
        "    key: \"user#v2#{id}\"\n    params: { id: string }\n    value: { type: String }\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:21:10: keys of `user-v2` and `user` can collide on table `cache`: `user#` (the fixed text of `user`) begins `user#v2#` (the fixed text of `user-v2`)"
        ]
    );
    // `{id}` = "admin" gives the exact key of `user-admin`.
    let text = with_type(
        "user-admin",
        "    key: \"user#admin\"\n    value: { type: String }\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:21:10: keys of `user-admin` and `user` can collide on table `cache`: `user#` (the fixed text of `user`) begins `user#admin` (the fixed text of `user-admin`)"
        ]
    );
}

#[test]
fn each_type_is_reported_once_against_the_first_type_it_can_collide_with() {
    let item = |name: &str, key: &str| {
        format!(
            "  {name}:\n    key: \"{key}\"\n    params: {{ id: string }}\n    value: {{ type: String }}\n"
        )
    };
    let types = [
        item("item-red", "item#big#red#{id}"),
        item("item", "item#{id}"),
        item("item-big", "item#big#{id}"),
    ]
    .concat();
    let text = edit("consumers:\n", &format!("{types}consumers:\n"));
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:25:10: keys of `item` and `item-red` can collide on table `cache`: `item#` (the fixed text of `item`) begins `item#big#red#` (the fixed text of `item-red`)",
            "spec.yaml:29:10: keys of `item-big` and `item-red` can collide on table `cache`: `item#big#` (the fixed text of `item-big`) begins `item#big#red#` (the fixed text of `item-red`)",
        ]
    );
}

#[test]
fn an_exact_key_that_begins_another_types_fixed_text() {
    let exact = |key: &str| {
        with_type(
            "all-users",
            &format!("    key: \"{key}\"\n    value: {{ type: String }}\n"),
        )
    };
    // `{id}` = "" gives `user#`.
    assert_eq!(
        problems(&exact("user#")),
        [
            "spec.yaml:21:10: keys of `all-users` and `user` can collide on table `cache`: both start with the fixed text `user#` before their parameters"
        ]
    );
    // `user` never equals a `user#...` key, but its `invalidate_all` deletes by its text.
    assert_eq!(
        problems(&exact("user")),
        [
            "spec.yaml:21:10: keys of `all-users` and `user` can collide on table `cache`: `user` (the fixed text of `all-users`) begins `user#` (the fixed text of `user`)"
        ]
    );
    assert!(
        report(&exact("user")).contains("its `invalidate_all` and index queries select keys by it")
    );
    // Exact keys that do not begin another type's are fine.
    assert_eq!(problems(&exact("users")), Vec::<String>::new());
}

#[test]
fn a_bare_partition_key_is_allowed_when_its_type_is_alone_on_its_table() {
    let text = edit("key: \"user#{id}\"", "key: \"{id}\"");
    assert_eq!(problems(&text), Vec::<String>::new());
    let text = with_type(
        "group",
        "    key: \"group#{id}\"\n    params: { id: string }\n    value: { type: String }\n",
    )
    .replace("key: \"user#{id}\"", "key: \"{id}\"");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:21:10: keys of `group` and `user` can collide on table `cache`: `user` starts with a parameter, so it can be any key"
        ]
    );
    assert!(report(&text).contains("only when its data type is alone on its table"));
}

#[test]
fn distinct_sort_keys_keep_two_types_apart() {
    let table = edit(
        "    indexes:\n",
        "    sort_key: { name: sk, type: S }\n    indexes:\n",
    )
    .replace(
        "    key: \"user#{id}\"\n",
        "    key: \"user#{id}\"\n    sort_key: \"profile\"\n",
    );
    let other = |sort_key: &str| {
        table.replace(
            "consumers:\n",
            &format!(
                "  settings:\n    key: \"user#{{id}}\"\n    sort_key: \"{sort_key}\"\n    params: {{ id: string }}\n    value: {{ type: String }}\nconsumers:\n"
            ),
        )
    };
    assert_eq!(problems(&other("settings")), Vec::<String>::new());
    assert_eq!(
        problems(&other("profile")),
        [
            "spec.yaml:23:10: keys of `settings` and `user` can collide on table `cache`: both start with the fixed text `user#` before their parameters; so can their sort keys: both are the fixed key `profile`"
        ]
    );
}

#[test]
fn a_key_in_the_runtimes_internal_key_space() {
    let text = edit("key: \"user#{id}\"", "key: \"!user#{id}\"");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:14:10: key template `!user#{id}` starts with `!`, which the runtime keeps for its own items (invalidation stamps, tombstones)"
        ]
    );
    assert_eq!(codes(&text), ["CG0312"]);
    assert!(report(&text).contains("such as `user#`"));
}

#[test]
fn data_type_names_that_differ_only_in_punctuation() {
    let text = with_type(
        "user_x",
        "    key: \"ux#{id}\"\n    params: { id: string }\n    value: { type: String }\n",
    )
    .replace(
        "consumers:\n",
        "  user-x:\n    key: \"uy#{id}\"\n    params: { id: string }\n    value: { type: String }\nconsumers:\n",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:24:3: data types `user_x` and `user-x` both generate the Rust type `UserX` (and `UserXKey`)"
        ]
    );
    assert_eq!(codes(&text), ["CG0303"]);
    assert!(report(&text).contains("`user_x` is here"));
}

#[test]
fn every_example_spec_follows_the_key_rules() {
    for (name, path) in support::example_specs() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(problems(&text), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn a_bad_duration_is_reported_at_its_field() {
    for (written, problem) in [
        ("-5m", "`-5m` is negative: a duration is zero or more"),
        ("abc", "`abc` is not a duration"),
        (
            "99999999999999999999d",
            "`99999999999999999999d` is too long a duration",
        ),
        ("300", "`300` has no unit"),
    ] {
        let text = edit("ttl: 5m", &format!("ttl: {written}"));
        assert_eq!(
            problems(&text),
            [format!("spec.yaml:17:10: data_types.user.ttl: {problem}")]
        );
        assert_eq!(codes(&text), ["CG0009"]);
        assert!(
            report(&text).contains("help: write a duration with its unit, such as `90s`"),
            "{written}"
        );
    }
}

#[test]
fn a_bad_alarm_period_or_threshold_is_reported_at_its_field() {
    let alarm = |field: &str| {
        format!("{BASE}alarms:\n  low:\n    metric: hit_rate\n    threshold: 0.7\n{field}")
    };
    let text = alarm("    period: 300\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:27:13: alarms.low.period: `300` has no unit"]
    );
    let text = alarm("    evaluation_periods: 99999999999\n");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:27:25: alarms.low.evaluation_periods: invalid value: integer `99999999999`, expected u32"
        ]
    );
    assert!(report(&text).contains("help: write a whole number from 0 to 4294967295"));
    let text = alarm("").replace("threshold: 0.7", "threshold: lots");
    assert_eq!(
        problems(&text),
        ["spec.yaml:26:16: alarms.low.threshold: `lots` is none of the forms this field takes"]
    );
    assert!(report(&text).contains("a duration for `latency`"));
}

#[test]
fn a_missing_field_names_what_to_add() {
    let text = edit("    key: \"user#{id}\"\n", "");
    assert_eq!(
        problems(&text),
        ["spec.yaml:13:3: data_types.user: missing field `key`"]
    );
    assert_eq!(codes(&text), ["CG0008"]);
    assert!(report(&text).contains("help: add `key`: Key template"));
}

#[test]
fn an_empty_file_says_what_to_write() {
    for text in ["", "# only a comment\n", "---\n", "~\n"] {
        assert_eq!(
            problems(text),
            ["spec.yaml:1:1: the spec is empty"],
            "{text:?}"
        );
        assert_eq!(codes(text), ["CG0003"]);
        assert!(report(text).contains("`cachegen init` writes a commented starter spec"));
    }
}

#[test]
fn a_top_level_list_says_what_to_write() {
    let text = "- version: 1\n- service: demo\n";
    assert_eq!(
        problems(text),
        ["spec.yaml:1:1: the spec is a list, not a mapping of fields"]
    );
    assert_eq!(codes(text), ["CG0004"]);
    assert!(report(text).contains("help: a spec is a mapping with at least `version: 1`"));
}

#[test]
fn an_alias_bomb_is_located_at_the_first_alias() {
    // Each of 300 tables repeats 300 indexes that each repeat a key: serde_yaml stops
    // replaying aliases long before the 90,000 tables' worth of events this asks for.
    let indexes: String = (1..300).map(|i| format!("      i{i}: *i\n")).collect();
    let tables: String = (1..300).map(|t| format!("  t{t}: *t\n")).collect();
    let text = format!(
        "version: 1\nservice: demo\ntables:\n  t0: &t\n    name: demo-cache\n    indexes:\n      i0: &i {{ partition_key: &k {{ name: a, type: S }}, sort_key: *k }}\n{indexes}{tables}data_types: {{}}\n"
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:7:66: the spec's YAML aliases expand too far, or it nests too deeply, to be read"
        ]
    );
    assert_eq!(codes(&text), ["CG0005"]);
    assert!(report(&text).contains("help: write repeated parts out"));
}

#[test]
fn a_spec_without_tables_does_not_say_it_has_several() {
    let text = edit("  cache:\n    name: \"${service}-cache-${env}\"\n", "")
        .replace("tables:\n", "tables: {}\n")
        .replace(
            "    indexes:\n      by-type:\n        partition_key: { name: dataType, type: S }\n        sort_key: { name: createdAt, type: N }\n",
            "",
        );
    assert_eq!(
        problems(&text),
        ["spec.yaml:5:1: the spec declares no table"]
    );
}

#[test]
fn binary_or_non_utf8_input_is_located() {
    let invalid =
        cachegen_compiler::validate::decode("spec.yaml", b"version: 1\nservice: d\xffmo\n")
            .expect_err("not UTF-8");
    assert_eq!(
        invalid.summary(),
        ["spec.yaml:2:11: the spec is not UTF-8 text: byte 0xFF cannot be read"]
    );
    assert_eq!(invalid.items[0].code.id, "CG0001");
    let binary = cachegen_compiler::validate::decode("spec.yaml", b"version: 1\n\x00\x01\x02")
        .expect_err("binary");
    assert_eq!(
        binary.summary(),
        ["spec.yaml:2:1: the spec holds the control character U+0000: it is not a text file"]
    );
    assert!(cachegen_compiler::validate::decode("spec.yaml", BASE.as_bytes()).is_ok());
}

#[test]
fn every_code_is_unique_and_documented_in_the_readme() {
    let readme = std::fs::read_to_string(support::workspace_root().join("README.md")).unwrap();
    let mut seen = std::collections::HashSet::new();
    for code in cachegen_compiler::validate::codes::ALL {
        assert!(seen.insert(code.id), "{} is used twice", code.id);
        let line = format!("| `{}` | {} |", code.id, code.summary);
        assert!(readme.contains(&line), "README.md lacks the line {line}");
    }
    let documented = readme.matches("| `CG").count();
    assert_eq!(
        documented,
        cachegen_compiler::validate::codes::ALL.len(),
        "the README lists codes that no longer exist"
    );
}

/// BASE with `lines` (each indented under the data type) after `user`'s ttl.
fn with_policy(lines: &str) -> String {
    let lines: String = lines.lines().map(|line| format!("    {line}\n")).collect();
    edit("    ttl: 5m\n", &format!("    ttl: 5m\n{lines}"))
}

#[test]
fn a_full_origin_policy_is_resolved_into_the_model() {
    let text = with_policy(
        "fail_safe: { max_stale: 1h, throttle: 1500ms }\n\
         soft_timeout: 200ms\n\
         hard_timeout: 2s\n\
         eager_refresh: 0.8\n\
         ttl_jitter: 30s\n\
         negative_ttl: 30s\n\
         ttl_bounds: { max: 5m }",
    );
    let model = compile_text("spec.yaml", &text).unwrap();
    let policy = model.data_types[0].policy;
    assert_eq!(
        policy,
        cachegen_compiler::ir::OriginPolicy {
            fail_safe: Some(cachegen_compiler::ir::FailSafe {
                max_stale_secs: 3600,
                throttle_ms: 1500,
            }),
            soft_timeout_ms: Some(200),
            hard_timeout_ms: Some(2000),
            eager_refresh: Some(0.8),
            ttl_jitter_ms: Some(30_000),
            negative_ttl_secs: Some(30),
            // No min: none; the max as given.
            ttl_bounds: Some(cachegen_compiler::ir::TtlBounds {
                min_secs: 0,
                max_secs: 300,
            }),
        }
    );
    assert!(
        compile_text("spec.yaml", BASE).unwrap().data_types[0]
            .policy
            .is_none()
    );
}

#[test]
fn eager_refresh_must_be_a_fraction_between_zero_and_one() {
    for fraction in ["0", "1", "1.5", "-0.2", ".nan"] {
        let text = with_policy(&format!("eager_refresh: {fraction}"));
        assert_eq!(codes(&text), ["CG0411"], "{fraction}");
        assert!(
            problems(&text)[0].starts_with("spec.yaml:18:20: eager_refresh "),
            "{fraction}: {:?}",
            problems(&text)
        );
    }
    assert!(report(&with_policy("eager_refresh: 1")).contains("such as `0.8`"));
}

#[test]
fn timeouts_throttle_and_jitter_are_whole_milliseconds_above_zero() {
    let text = with_policy(
        "fail_safe: { max_stale: 1h, throttle: 0s }\n\
         hard_timeout: 1500us",
    );
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:18:43: throttle must be longer than zero",
            "spec.yaml:19:19: hard_timeout of 1ms 500us is not a whole number of milliseconds",
        ]
    );
    assert_eq!(codes(&text), ["CG0412", "CG0412"]);
    assert!(report(&text).contains("help: the runtime counts it in milliseconds"));
}

#[test]
fn an_origin_timeout_cannot_outlast_a_lambda() {
    let text = with_policy("hard_timeout: 20m");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:19: hard_timeout of 20m is longer than a Lambda may run (15m)"]
    );
    assert_eq!(codes(&text), ["CG0413"]);
}

#[test]
fn the_soft_timeout_comes_before_the_hard_one() {
    let text = with_policy(
        "fail_safe: { max_stale: 1h, throttle: 30s }\n\
         soft_timeout: 2s\n\
         hard_timeout: 2s",
    );
    assert_eq!(
        problems(&text),
        ["spec.yaml:19:19: soft_timeout (2s) of `user` is not shorter than its hard_timeout (2s)"]
    );
    assert_eq!(codes(&text), ["CG0413"]);
    assert!(report(&text).contains("make it shorter"));
}

#[test]
fn a_soft_timeout_needs_fail_safe() {
    let text = with_policy("soft_timeout: 200ms");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:18:5: soft_timeout of `user` has no expired value to answer with: `user` sets no fail_safe"
        ]
    );
    assert_eq!(codes(&text), ["CG0414"]);
    assert!(report(&text).contains("help: add `fail_safe: { max_stale: 1h, throttle: 30s }`"));
}

#[test]
fn fail_safe_durations_are_checked() {
    let text = with_policy("fail_safe: { max_stale: 1m, throttle: 2m }");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:18:43: the fail-safe throttle (2m) of `user` is longer than its max_stale (1m)"
        ]
    );
    assert_eq!(codes(&text), ["CG0415"]);
    // max_stale is a lifetime in the store: whole seconds, at most a year.
    let text = with_policy("fail_safe: { max_stale: 1500ms, throttle: 1s }");
    assert_eq!(codes(&text), ["CG0401"]);
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:29: max_stale of 1500ms is not a whole number of seconds"]
    );
}

#[test]
fn fail_safe_fields_are_named_and_required() {
    let text = with_policy("fail_safe: { max_stael: 1h, throttle: 30s }");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:5: data_types.user.fail_safe: missing field `max_stale`"]
    );
    assert_eq!(codes(&text), ["CG0008"]);
    assert!(report(&text).contains("help: add `max_stale`: How long past its TTL"));
}

#[test]
fn ttl_jitter_is_not_longer_than_the_ttl() {
    let text = with_policy("ttl_jitter: 6m");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:17: ttl_jitter (6m) of `user` is longer than its ttl (5m)"]
    );
    assert_eq!(codes(&text), ["CG0416"]);
    assert_eq!(
        problems(&with_policy("ttl_jitter: 5m")),
        Vec::<String>::new()
    );
}

#[test]
fn negative_ttl_is_shorter_than_the_ttl() {
    let text = with_policy("negative_ttl: 5m");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:19: negative_ttl (5m) of `user` is not shorter than its ttl (5m)"]
    );
    assert_eq!(codes(&text), ["CG0417"]);
    assert!(report(&text).contains("remove negative_ttl"));
    // Against the default TTL when the data type sets none.
    let text = BASE
        .replace("    ttl: 5m\n", "    negative_ttl: 10m\n")
        .replace("version: 1\n", "version: 1\ndefaults: { ttl: 10m }\n");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:19: negative_ttl (10m) of `user` is not shorter than its ttl (10m)"]
    );
}

#[test]
fn ttl_bounds_are_ordered_and_within_the_ttl() {
    let text = with_policy("ttl_bounds: { min: 2m, max: 1m }");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:24: ttl_bounds.min (2m) of `user` is longer than its max (1m)"]
    );
    let text = with_policy("ttl_bounds: { min: 1m, max: 1h }");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:33: ttl_bounds.max (1h) of `user` is longer than its ttl (5m)"]
    );
    let text = with_policy("ttl_bounds: { min: 10m }");
    assert_eq!(
        problems(&text),
        [
            "spec.yaml:18:24: ttl_bounds.min (10m) of `user` is longer than its ttl (5m), the max when none is given"
        ]
    );
    let text = with_policy("ttl_bounds: {}");
    assert_eq!(
        problems(&text),
        ["spec.yaml:18:5: ttl_bounds of `user` gives neither min nor max"]
    );
    for text in [
        with_policy("ttl_bounds: { min: 2m, max: 1m }"),
        with_policy("ttl_bounds: { max: 1h }"),
        with_policy("ttl_bounds: {}"),
    ] {
        assert_eq!(codes(&text), ["CG0418"]);
    }
}

#[test]
fn every_policy_problem_is_reported_at_once() {
    let text = with_policy(
        "soft_timeout: 3s\n\
         hard_timeout: 2s\n\
         eager_refresh: 2\n\
         negative_ttl: 1h",
    );
    assert_eq!(codes(&text), ["CG0414", "CG0413", "CG0411", "CG0417"]);
}

#[test]
fn the_starter_specs_commented_origin_policy_is_valid() {
    let mut text = cachegen_compiler::STARTER_SPEC.to_owned();
    for key in ["fail_safe", "hard_timeout", "negative_ttl", "ttl_jitter"] {
        let commented = format!("    # {key}:");
        assert!(text.contains(&commented), "the starter spec shows {key}");
        text = text.replace(&commented, &format!("    {key}:"));
    }
    let model = compile_text("cache.yaml", &text).unwrap_or_else(|err| panic!("{err}"));
    let policy = model.data_types[0].policy;
    assert!(policy.fail_safe.is_some() && policy.hard_timeout_ms.is_some());
    assert!(policy.negative_ttl_secs.is_some() && policy.ttl_jitter_ms.is_some());
}
