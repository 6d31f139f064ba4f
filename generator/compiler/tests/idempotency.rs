//! Idempotent handlers in the spec: what a valid one resolves to, and each problem with its
//! `file:line:column` and code.

use cachegen_compiler::compile_text;
use cachegen_compiler::ir::InFlight;

/// A valid spec with one idempotent handler, which each test breaks in one place.
const BASE: &str = r#"version: 1
service: shop
tables:
  cache:
    name: "${service}-cache"
data_types:
  order:
    key: "order#{id}"
    params: { id: string }
    value: { fields: { total: u64 } }
consumers:
  api:
    access: { order: [read, write] }
  reporting:
    access: { order: [read] }
idempotency:
  charge:
    description: Charges an order once.
    request: { fields: { order_id: string, customer: string, amount: u64 } }
    response: { type: crate::Receipt }
    key: [order_id, customer]
    consumer: api
"#;

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

/// Each problem as `code file:line:col: message`.
fn problems(text: &str) -> Vec<String> {
    match compile_text("spec.yaml", text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .items
            .iter()
            .map(|item| item.code.id)
            .zip(diagnostics.summary())
            .map(|(code, line)| format!("{code} {line}"))
            .collect(),
    }
}

#[test]
fn a_handler_resolves_with_powertools_defaults() {
    let model = compile_text("spec.yaml", BASE).unwrap();
    let [handler] = model.idempotency.as_slice() else {
        panic!("one handler: {:?}", model.idempotency);
    };
    assert_eq!(handler.table.name(), "cache");
    assert_eq!(handler.key, ["order_id", "customer"]);
    assert_eq!(handler.expires_after_secs, 3600);
    assert!(handler.payload_validation);
    assert_eq!(handler.in_flight, InFlight::Refuse);

    let text = edit(
        "    consumer: api\n",
        "    consumer: api\n    expires_after: 24h\n    payload_validation: false\n    in_flight: wait\n",
    );
    let model = compile_text("spec.yaml", &text).unwrap();
    let handler = &model.idempotency[0];
    assert_eq!(handler.expires_after_secs, 24 * 3600);
    assert!(!handler.payload_validation);
    assert_eq!(handler.in_flight, InFlight::Wait);
}

#[test]
fn a_spec_without_handlers_has_the_view_and_fingerprint_it_had() {
    let without = BASE[..BASE.find("idempotency:").unwrap()].to_owned();
    let model = compile_text("spec.yaml", &without).unwrap();
    let view = serde_json::to_value(cachegen_compiler::view::View::new(&model)).unwrap();
    assert!(view["model"].get("idempotency").is_none(), "{view}");
    assert!(view["model"].get("consumers").is_some(), "{view}");
}

#[test]
fn the_key_must_name_request_fields_each_once() {
    assert_eq!(
        problems(&edit(
            "key: [order_id, customer]",
            "key: [order_id, custmer]"
        )),
        [
            "CG1001 spec.yaml:21:21: the idempotency key names `custmer`, which is not a request field"
        ]
    );
    assert_eq!(
        problems(&edit(
            "key: [order_id, customer]",
            "key: [order_id, order_id]"
        )),
        ["CG1001 spec.yaml:21:21: the idempotency key names `order_id` twice"]
    );
    assert_eq!(
        problems(&edit("key: [order_id, customer]", "key: []")),
        ["CG1001 spec.yaml:21:10: the idempotency key names no request field"]
    );
    let rendered = compile_text(
        "spec.yaml",
        &edit("key: [order_id, customer]", "key: [order_id, custmer]"),
    )
    .unwrap_err()
    .render();
    assert!(rendered.contains("did you mean `customer`?"), "{rendered}");
}

#[test]
fn a_request_of_the_users_type_is_left_to_the_compiler() {
    let text = edit(
        "request: { fields: { order_id: string, customer: string, amount: u64 } }",
        "request: { type: crate::ChargeRequest }",
    );
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn request_and_response_types_are_checked() {
    assert_eq!(
        problems(&edit("amount: u64", "amount: money")),
        ["CG0405 spec.yaml:19:70: `money` is not a field type"]
    );
    assert_eq!(
        problems(&edit(
            "response: { type: crate::Receipt }",
            "response: { type: \"not a path\" }"
        )),
        ["CG0404 spec.yaml:20:23: `not a path` is not a Rust type path"]
    );
}

#[test]
fn the_window_is_a_whole_positive_duration() {
    assert_eq!(
        problems(&edit(
            "    consumer: api\n",
            "    consumer: api\n    expires_after: 0s\n"
        )),
        ["CG0401 spec.yaml:23:20: expires_after must be longer than zero"]
    );
}

#[test]
fn the_handler_may_not_take_a_data_types_names() {
    assert_eq!(
        problems(&edit("  charge:\n", "  order:\n")),
        [
            "CG1002 spec.yaml:17:3: idempotent handler `order` generates `order`, which the module already names for a data type"
        ]
    );
}

#[test]
fn its_consumer_must_exist_and_write_the_table() {
    assert_eq!(
        problems(&edit("consumer: api", "consumer: apj")),
        ["CG1003 spec.yaml:22:15: idempotent handler `charge` names unknown consumer `apj`"]
    );
    assert_eq!(
        problems(&edit("consumer: api", "consumer: reporting")),
        [
            "CG1003 spec.yaml:22:15: consumer `reporting` runs idempotent handler `charge` but may not write table `cache`"
        ]
    );
}

#[test]
fn a_misspelt_setting_is_an_unknown_field() {
    let problems = problems(&edit(
        "    consumer: api\n",
        "    consumer: api\n    in_flght: wait\n",
    ));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("CG0007 spec.yaml:23:5:"),
        "{problems:?}"
    );
}
