//! `cachegen breaking`'s comparison: each class of change is found, classified, placed on
//! its line of the new spec, and refused or warned about as its effect on a live cache
//! demands.

use cachegen_compiler::breaking::{Class, Report, compare};
use cachegen_compiler::diagnostics::SourceFile;

/// The spec every case edits: a keyed table with an index, two data types (one with
/// declared traffic), and two consumers.
const BASE: &str = r#"version: 1
service: shop
tables:
  cache:
    name: shop-cache
    partition_key: { name: pk, type: S }
    ttl_attribute: expiresAt
    indexes:
      by-kind:
        partition_key: { name: kind, type: S }
        projection: keys_only
data_types:
  product:
    key: "product#{id}"
    params: { id: string }
    value: { fields: { title: string, price: u64 } }
    ttl: 1h
    traffic: { requests_per_day: 240000, hit_rate: 0.9, item_size: 1KB }
    attributes: { kind: "{data_type}" }
  basket:
    key: "basket#{user}"
    params: { user: string }
    value: { fields: { items: list<string> } }
    ttl: 10m
consumers:
  web:
    role: create
    access: { product: [read, write], basket: [read, write] }
  admin:
    role: create
    access: { product: [invalidate] }
"#;

/// The report of changing `BASE` into `new`, `allowed` allowed.
fn report(new: &str, allowed: &[Class]) -> Report {
    changes_between(BASE, new, allowed)
}

/// The report of changing `old` into `new`.
fn changes_between(old: &str, new: &str, allowed: &[Class]) -> Report {
    let old =
        cachegen_compiler::compile_text("cache.yaml", old).unwrap_or_else(|err| panic!("{err}"));
    let model =
        cachegen_compiler::compile_text("cache.yaml", new).unwrap_or_else(|err| panic!("{err}"));
    Report::new(
        &SourceFile::new("cache.yaml", new),
        "main",
        compare(&old, &model),
        allowed,
    )
}

fn edited(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

/// The (class, refused, line) of each change.
fn classes(report: &Report) -> Vec<(Class, bool, usize)> {
    report
        .changes
        .iter()
        .map(|c| (c.change.class, c.refused, c.line))
        .collect()
}

/// The 1-based line of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|line| line.contains(needle)).unwrap() + 1
}

#[test]
fn the_same_spec_has_no_change() {
    let report = report(BASE, &[]);
    assert!(report.changes.is_empty());
    assert_eq!(
        report.render_text(),
        "no change to a live cache since main\n"
    );
}

#[test]
fn a_key_schema_change_replaces_the_table_and_is_refused_unless_allowed() {
    let new = edited("{ name: pk, type: S }", "{ name: id, type: S }");
    let refused = report(&new, &[]);
    assert_eq!(
        classes(&refused),
        [(
            Class::TableReplaced,
            true,
            line_of(&new, "partition_key: { name: id")
        )]
    );
    let text = refused.render_text();
    assert!(text.contains("error[table-replaced]: cache.yaml:6:5: table `cache`: the partition key changes from `pk` (S) to `id` (S): CloudFormation replaces the table"), "{text}");
    assert!(text.contains("pass `--allow table-replaced`"), "{text}");
    assert!(text.ends_with("1 change since main: 1 refused\n"), "{text}");

    let allowed = report(&new, &[Class::TableReplaced]);
    assert_eq!(allowed.refused(), 0);
    assert!(allowed.render_text().contains("warning[table-replaced]"));

    let renamed = report(&edited("name: shop-cache", "name: shop-cache-v2"), &[]);
    assert_eq!(classes(&renamed), [(Class::TableReplaced, true, 5)]);
}

#[test]
fn a_key_template_change_warns_with_the_miss_burst_from_declared_traffic() {
    let new = edited("key: \"product#{id}\"", "key: \"item#{id}\"");
    let report = report(&new, &[]);
    assert_eq!(
        classes(&report),
        [(Class::KeyTemplateChanged, false, line_of(&new, "item#"))]
    );
    let message = &report.changes[0].change.message;
    // 240,000 lookups a day at 90% hits, over one hour: 9,000 would-be hits miss.
    assert!(
        message.contains("up to 9000 more origin calls for `product` in the 1h after the deploy"),
        "{message}"
    );
    assert_eq!(report.refused(), 0, "a cold cache is a warning");

    let untracked = self::report(
        &edited("key: \"basket#{user}\"", "key: \"cart#{user}\""),
        &[],
    );
    assert!(
        untracked.changes[0]
            .change
            .message
            .contains("declare `traffic` on `basket` to estimate its miss burst")
    );
}

#[test]
fn a_value_type_change_changes_the_schema_version_and_warns() {
    let new = edited(
        "{ fields: { title: string, price: u64 } }",
        "{ fields: { title: string, price: f64 } }",
    );
    let report = report(&new, &[]);
    assert_eq!(
        classes(&report),
        [(Class::ValueTypeChanged, false, line_of(&new, "price: f64"))]
    );
    let message = &report.changes[0].change.message;
    assert!(
        message.contains("the value of `product` changes from `{price: u64, title: string}` to `{price: f64, title: string}`"),
        "{message}"
    );
    assert!(message.contains("schema version"), "{message}");

    let reordered = self::report(
        &edited(
            "{ fields: { title: string, price: u64 } }",
            "{ fields: { price: u64, title: string } }",
        ),
        &[],
    );
    assert!(reordered.changes.is_empty(), "field order is not a shape");
}

#[test]
fn a_ttl_attribute_rename_is_refused() {
    let new = edited("ttl_attribute: expiresAt", "ttl_attribute: ttl");
    let report = report(&new, &[]);
    assert_eq!(
        classes(&report),
        [(
            Class::TtlAttributeRenamed,
            true,
            line_of(&new, "ttl_attribute")
        )]
    );
    assert!(report.changes[0].change.message.contains("never expire"));
}

#[test]
fn an_index_key_or_projection_change_recreates_it() {
    let projection = report(&edited("projection: keys_only", "projection: all"), &[]);
    assert_eq!(
        classes(&projection),
        [(Class::IndexRecreated, true, line_of(BASE, "by-kind:"))]
    );
    assert!(
        projection.changes[0]
            .change
            .message
            .contains("projection (keys_only to all)")
    );
    let keys = report(
        &edited(
            "partition_key: { name: kind, type: S }",
            "partition_key: { name: kind, type: S }\n        sort_key: { name: seen, type: N }",
        )
        .replace(
            "kind: \"{data_type}\" }",
            "kind: \"{data_type}\", seen: \"{now}\" }",
        ),
        &[],
    );
    assert_eq!(classes(&keys)[0].0, Class::IndexRecreated);
    assert!(
        keys.changes[0]
            .change
            .message
            .contains("sort key (none to `seen` (N))")
    );
}

#[test]
fn a_removed_data_type_a_consumer_used_is_refused() {
    let new = edited(
        "  basket:\n    key: \"basket#{user}\"\n    params: { user: string }\n    value: { fields: { items: list<string> } }\n    ttl: 10m\n",
        "",
    )
    .replace(", basket: [read, write]", "");
    let report = report(&new, &[]);
    let found = classes(&report);
    assert!(
        found.contains(&(
            Class::DataTypeRemoved,
            true,
            line_of(&new, "access: { product: [read, write] }")
        )),
        "{found:?}"
    );
    // The table's schema version follows its set of data types.
    assert!(
        found
            .iter()
            .any(|(class, refused, _)| *class == Class::ValueTypeChanged && !refused)
    );
}

#[test]
fn narrowed_iam_is_refused_and_each_format_says_so() {
    let new = edited(
        "access: { product: [invalidate] }",
        "access: { basket: [invalidate] }",
    )
    .replace(
        "access: { product: [read, write], basket",
        "access: { product: [read], basket",
    );
    let report = report(&new, &[]);
    assert_eq!(
        classes(&report),
        [
            (
                Class::IamNarrowed,
                true,
                line_of(&new, "access: { product: [read]")
            ),
            (
                Class::IamNarrowed,
                true,
                line_of(&new, "access: { basket: [invalidate] }")
            ),
        ]
    );
    assert!(
        report.changes[0]
            .change
            .message
            .contains("consumer `web` loses `write` access to `product`")
    );

    let github = report.render_github();
    let first = github.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "::error file=cache.yaml,line={},col=",
            line_of(&new, "access: { product: [read]")
        )),
        "{first}"
    );
    assert!(
        first.contains(",title=cachegen breaking%3A iam-narrowed::consumer `web` loses"),
        "{first}"
    );
    assert!(
        first.ends_with("%0AIf this is intended, pass `--allow iam-narrowed`."),
        "{first}"
    );

    let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
    assert_eq!(json["against"], "main");
    assert_eq!(json["changes"][0]["class"], "iam-narrowed");
    assert_eq!(json["changes"][0]["refused"], true);
    assert_eq!(json["changes"].as_array().unwrap().len(), 2);

    let removed = self::report(
        &BASE.replace(
            "  admin:\n    role: create\n    access: { product: [invalidate] }\n",
            "",
        ),
        &[],
    );
    assert_eq!(classes(&removed)[0].0, Class::IamNarrowed);
    assert!(
        removed.changes[0]
            .change
            .message
            .contains("consumer `admin` is removed")
    );
}

#[test]
fn removing_an_index_is_refused() {
    let new = edited(
        "    indexes:\n      by-kind:\n        partition_key: { name: kind, type: S }\n        projection: keys_only\n",
        "",
    );
    let report = report(&new, &[]);
    assert_eq!(classes(&report), [(Class::IndexRemoved, true, 4)]);
}

#[test]
fn every_class_has_an_id_that_names_it_back() {
    for class in Class::ALL {
        assert_eq!(Class::from_id(class.id()), Some(class));
    }
    assert_eq!(Class::from_id("nonsense"), None);
}

#[test]
fn removing_a_table_is_refused() {
    let with_spare = BASE.replacen(
        "tables:\n",
        "defaults: { table: cache }\ntables:\n  spare:\n    name: shop-spare\n",
        1,
    );
    let without = BASE.replacen("tables:\n", "defaults: { table: cache }\ntables:\n", 1);
    let old = cachegen_compiler::compile_text("cache.yaml", &with_spare)
        .unwrap_or_else(|err| panic!("{err}"));
    let new = cachegen_compiler::compile_text("cache.yaml", &without).unwrap();
    let report = Report::new(
        &SourceFile::new("cache.yaml", &without),
        "main",
        compare(&old, &new),
        &[],
    );
    assert_eq!(
        classes(&report),
        [(Class::TableRemoved, true, line_of(&without, "tables:"))]
    );
    assert!(
        report.changes[0]
            .change
            .message
            .starts_with("table `spare` is removed")
    );
}

/// `BASE` with an idempotent handler on its table, by the consumer `web`.
fn with_handler(key: &str, request: &str, response: &str) -> String {
    format!(
        "{BASE}idempotency:\n  place-order:\n    request: {{ fields: {{ {request} }} }}\n    response: {{ fields: {{ {response} }} }}\n    key: [{key}]\n    consumer: web\n"
    )
}

/// The report of changing `old` into `new`, nothing allowed.
fn report_between(old: &str, new: &str) -> Report {
    changes_between(old, new, &[])
}

const REQUEST: &str = "order_id: string, customer: string, total: u64";
const RESPONSE: &str = "receipt: string";

#[test]
fn an_idempotency_key_change_is_refused_as_duplicate_runs() {
    let old = with_handler("order_id, customer", REQUEST, RESPONSE);
    for (key, request) in [
        ("order_id", REQUEST),           // a field dropped
        ("customer, order_id", REQUEST), // reordered: the hashed tuple differs
        (
            "order_id, customer",
            "order_id: u64, customer: string, total: u64",
        ), // retyped
    ] {
        let new = with_handler(key, request, RESPONSE);
        let report = report_between(&old, &new);
        let line = if request == REQUEST {
            line_of(&new, "key: [")
        } else {
            line_of(&new, "request:")
        };
        assert_eq!(
            classes(&report),
            [(Class::IdempotencyKeyChanged, true, line)],
            "key [{key}], request {request}"
        );
        assert!(
            report.changes[0]
                .change
                .message
                .contains("runs the handler again")
        );
    }
}

#[test]
fn an_idempotency_response_or_hashed_request_change_is_refused() {
    let old = with_handler("order_id", REQUEST, RESPONSE);
    let new = with_handler("order_id", REQUEST, "receipt: string, paid: bool");
    assert_eq!(
        classes(&report_between(&old, &new)),
        [(
            Class::IdempotencyRecordChanged,
            true,
            line_of(&new, "response:")
        )]
    );
    let new = with_handler(
        "order_id",
        "order_id: string, customer: string, total: u64, note: string",
        RESPONSE,
    );
    let report = report_between(&old, &new);
    assert_eq!(
        classes(&report),
        [(
            Class::IdempotencyRecordChanged,
            true,
            line_of(&new, "request:")
        )]
    );
    assert!(report.changes[0].change.message.contains("another payload"));
    // Without payload validation a request's shape is not hashed, and field order never is.
    let unvalidated = |request: &str| {
        with_handler("order_id", request, RESPONSE).replace(
            "consumer: web",
            "consumer: web\n    payload_validation: false",
        )
    };
    let report = report_between(
        &unvalidated(REQUEST),
        &unvalidated("order_id: string, total: u64"),
    );
    assert!(report.changes.is_empty(), "{:?}", classes(&report));
    let reordered = with_handler(
        "order_id",
        "total: u64, order_id: string, customer: string",
        RESPONSE,
    );
    assert!(report_between(&old, &reordered).changes.is_empty());
}
