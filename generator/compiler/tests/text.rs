//! Text from the spec reaches every output as written: a literal `${` (written `$${`),
//! `${` in an alarm's description, characters YAML 1.1 folds; text CloudFormation can
//! only show as written refuses `${`; a parameter nothing uses is left out, with a note.

mod support;

use cachegen_compiler::compile_text;
use cachegen_compiler::emit::{cloudformation, sam, terraform};
use serde_json::{Value, json};

const BASE: &str = r#"version: 1
service: demo
parameters:
  env: { default: dev, allowed: [dev, prod] }
tables:
  cache:
    name: "demo-cache-${env}"
    tags: { Literal: "$${NotAParameter}", Mixed: "$${x}-${env}" }
data_types:
  user:
    key: "user#{id}"
    params: { id: string }
    value: { fields: { name: string } }
alarms:
  errors:
    metric: store_errors
    threshold: 0
    description: "errors in ${env}, and $5"
"#;

fn codes(text: &str) -> Vec<String> {
    compile_text("cache.yaml", text)
        .map_or_else(|diagnostics| diagnostics.summary(), |_| Vec::new())
}

fn tag<'t>(template: &'t Value, key: &str) -> &'t Value {
    template["Resources"]["CacheTable"]["Properties"]["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tag| tag["Key"] == key)
        .map(|tag| &tag["Value"])
        .unwrap()
}

#[test]
fn a_literal_dollar_brace_reads_as_itself_in_every_target() {
    let model = compile_text("cache.yaml", BASE).unwrap();
    let template = cloudformation::template(&model);
    // Literal text is joined from pieces that split `${`, which cfn-lint would read as a
    // reference; beside a reference, `Fn::Sub` writes it `${!`.
    assert_eq!(
        tag(&template, "Literal"),
        &json!({ "Fn::Join": ["", ["$", "{NotAParameter}"]] })
    );
    assert_eq!(
        tag(&template, "Mixed"),
        &json!({ "Fn::Sub": "${!x}-${env}" })
    );
    let main = terraform::files(&model, "cache.yaml")
        .into_iter()
        .find(|file| file.path.ends_with("main.tf"))
        .unwrap()
        .contents;
    assert!(main.contains("= \"$${NotAParameter}\"\n"), "{main}");
    assert!(main.contains("= \"$${x}-${var.env}\"\n"), "{main}");
    // The alarm's description is text: its `${env}` is not a reference either.
    assert_eq!(
        template["Resources"]["ErrorsAlarm"]["Properties"]["AlarmDescription"],
        json!({ "Fn::Join": ["", ["errors in $", "{env}, and $5"]] })
    );
    assert!(main.contains("= \"errors in $${env}, and $5\"\n"), "{main}");
}

#[test]
fn text_cloudformation_shows_as_written_refuses_dollar_brace() {
    let described = BASE.replace(
        "service: demo\n",
        "service: demo\ndescription: \"the ${env} cache\"\n",
    );
    assert_eq!(
        codes(&described),
        [
            "cache.yaml:3:14: the description contains `${`, which CloudFormation shows as written but cfn-lint reads as a reference"
        ]
    );
    let parameter = BASE.replace(
        "  env: { default: dev, allowed: [dev, prod] }\n",
        "  env: { default: dev, allowed: [dev, prod], description: \"one of ${env}\" }\n",
    );
    assert_eq!(codes(&parameter).len(), 1, "{:?}", codes(&parameter));
    assert!(codes(&parameter)[0].contains("the description of parameter `env` contains `${`"));
    let skipped = BASE.replace(
        "    tags: {",
        "    skip_checks: { CKV_AWS_119: \"not in ${env}\" }\n    tags: {",
    );
    assert!(
        codes(&skipped)[0].contains("the reason for skipping `CKV_AWS_119` contains `${`"),
        "{:?}",
        codes(&skipped)
    );
    // A `$` alone is fine.
    let dollars = BASE.replace(
        "service: demo\n",
        "service: demo\ndescription: costs $5 {a}\n",
    );
    assert_eq!(codes(&dollars), Vec::<String>::new());
}

#[test]
fn a_parameter_nothing_uses_is_left_out_with_a_note() {
    let text = BASE.replace(
        "  env: { default: dev, allowed: [dev, prod] }\n",
        "  env: { default: dev, allowed: [dev, prod] }\n  Spare: { default: x }\n",
    );
    let model = compile_text("cache.yaml", &text).unwrap();
    assert_eq!(
        model.notes,
        [
            "cache.yaml:5:3: parameter `Spare` is declared but no name, tag or ARN uses it (`${Spare}`); it is left out of the templates"
        ]
    );
    assert!(
        cloudformation::template(&model)["Parameters"]
            .get("Spare")
            .is_none()
    );
    assert!(sam::template(&model)["Parameters"].get("Spare").is_none());
    let variables = terraform::files(&model, "cache.yaml")
        .into_iter()
        .find(|file| file.path.ends_with("variables.tf"))
        .unwrap()
        .contents;
    assert!(!variables.contains("spare"), "{variables}");
    assert!(variables.contains("variable \"env\""), "{variables}");
}

#[test]
fn separators_yaml_folds_are_escaped_so_the_text_reads_back() {
    let text = BASE.replace(
        "service: demo\n",
        "service: demo\ndescription: \"a\\u2028b\\u0085c\\u2029d\\te\"\n",
    );
    let model = compile_text("cache.yaml", &text).unwrap();
    assert_eq!(
        model.description.as_deref(),
        Some("a\u{2028}b\u{85}c\u{2029}d\te")
    );
    let rendered = cloudformation::render(&model, "cache.yaml");
    assert!(
        rendered.contains("Description: \"a\\u2028b\\u0085c\\u2029d\\te\"\n"),
        "{rendered}"
    );
    assert!(!rendered.contains('\u{2028}') && !rendered.contains('\u{85}'));
    let back: Value = serde_yaml::from_str(&rendered).unwrap();
    assert_eq!(back["Description"], "a\u{2028}b\u{85}c\u{2029}d\te");
}
