//! Every AWS limit an output can hit, at its boundary: a spec whose output is exactly at
//! the limit builds, one a unit over is refused with the limit's code (or, for what can
//! be split, is split so that each part is within it). Specs are generated here.

use std::fmt::Write;

use cachegen_compiler::compile_for;
use cachegen_compiler::diagnostics::{Diagnostics, SourceFile};
use cachegen_compiler::emit::cloudformation;
use cachegen_compiler::ir::{CacheModel, Target};
use cachegen_compiler::limits;
use cachegen_compiler::model::dashboard;
use serde_json::Value;

/// Compiles `text` as `cache.yaml`, checking the outputs of `targets` (the spec's own
/// when `None`).
fn compile(text: &str, targets: Option<&[Target]>) -> Result<CacheModel, Diagnostics> {
    compile_for(&SourceFile::new("cache.yaml", text), targets)
}

/// The codes of the problems of `text`, none when it compiles.
fn codes(text: &str) -> Vec<&'static str> {
    match compile(text, None) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.items.iter().map(|item| item.code.id).collect(),
    }
}

/// The one-line summaries of the problems of `text`.
fn problems(text: &str) -> Vec<String> {
    compile(text, None).map_or_else(|diagnostics| diagnostics.summary(), |_| Vec::new())
}

/// `text`'s CloudFormation template as data, compiled without template checks.
fn template(text: &str) -> Value {
    let model = compile(text, Some(&[Target::Terraform])).unwrap_or_else(|err| panic!("{err}"));
    cloudformation::template(&model)
}

fn count(template: &Value, section: &str) -> usize {
    template[section].as_object().map_or(0, |map| map.len())
}

/// A spec of one table `cache` with `types` data types and `extra` appended (top-level
/// sections after `data_types`), a parameter `pad` of `pad` characters tagging the table.
fn spec(types: usize, pad: usize, extra: &str) -> String {
    let mut text = format!(
        "version: 1\nservice: lim\nparameters:\n  pad: {{ default: {} }}\ntables:\n  cache:\n    \
         name: lim-cache\n    tags: {{ Pad: \"${{pad}}\" }}\ndata_types:\n",
        "x".repeat(pad)
    );
    for n in 0..types {
        writeln!(
            text,
            "  t{n:04}:\n    key: \"t{n:04}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}"
        )
        .unwrap();
    }
    if types == 0 {
        text.push_str("  only:\n    key: \"only#{id}\"\n    params: { id: string }\n    value: { fields: { v: string } }\n");
    }
    text.push_str(extra);
    text
}

#[test]
fn template_size_at_the_s3_limit_builds_and_one_byte_over_is_refused() {
    let size = |text: &str| {
        let model = compile(text, Some(&[Target::Terraform])).unwrap();
        cloudformation::render(&model, "cache.yaml").len()
    };
    let limit = limits::TEMPLATE_BODY_S3;
    // Data types grow the template by about the same each; find the most that leave a
    // gap a parameter default (up to 4,096 bytes) can fill to the byte.
    let base = size(&spec(1, 1, ""));
    let per_type = (size(&spec(41, 1, "")) - base) / 40;
    let mut types = 1 + (limit - base) / per_type;
    while size(&spec(types, 1, "")) > limit {
        types -= 1;
    }
    while limit - size(&spec(types, 1, "")) > 4_000 {
        types += 1;
    }
    // The spec fingerprint is written quoted when it starts with a digit: a padding whose
    // next character changes that moves the size by two bytes, so the padding's letter is
    // chosen to keep the quoting.
    let padded = |letter: char, length: usize| {
        spec(types, 1, "").replace(
            "pad: { default: x }",
            &format!("pad: {{ default: {} }}", letter.to_string().repeat(length)),
        )
    };
    let (at_limit, over) = ('a'..='z')
        .find_map(|letter| {
            let length = 1 + limit - size(&padded(letter, 1));
            let at_limit = padded(letter, length);
            let over = padded(letter, length + 1);
            (size(&at_limit) == limit && size(&over) == limit + 1).then_some((at_limit, over))
        })
        .expect("some padding letter keeps the fingerprint's quoting");

    assert_eq!(codes(&at_limit), Vec::<&str>::new());
    assert_eq!(codes(&over), ["CG0801"]);
    let summary = problems(&over).join("\n");
    assert!(
        summary.contains("cloudformation.yaml would be 1,000,001 bytes")
            && summary.contains("at most 1,000,000 bytes"),
        "{summary}"
    );
    // The limit is CloudFormation's: a Terraform-only build of the same spec has none.
    assert!(compile(&over, Some(&[Target::Terraform])).is_ok());
    // SAM is a CloudFormation template too.
    assert_eq!(
        compile(&over, Some(&[Target::Sam]))
            .err()
            .map(|diagnostics| diagnostics.items[0].code.id),
        Some("CG0801")
    );
}

#[test]
fn a_template_over_the_inline_limit_builds_with_a_note() {
    let text = spec(40, 1, "");
    let model = compile(&text, None).unwrap();
    let size = cloudformation::render(&model, "cache.yaml").len();
    assert!(size > limits::TEMPLATE_BODY_INLINE, "{size}");
    let digits = size.to_string();
    let size_text = format!(
        "{},{}",
        &digits[..digits.len() - 3],
        &digits[digits.len() - 3..]
    );
    assert!(
        model.notes.iter().any(|note| note.starts_with(&format!(
            "cloudformation.yaml is {size_text} bytes, over the 51,200 bytes CloudFormation takes inline"
        )) && note.contains("--template-bucket")),
        "{:?}",
        model.notes
    );
    let small = compile(&spec(1, 1, ""), None).unwrap();
    assert!(small.notes.is_empty(), "{:?}", small.notes);
}

/// `alarms` alarms on store errors.
fn alarms(alarms: usize) -> String {
    let mut text = String::from("alarms:\n");
    for n in 0..alarms {
        writeln!(text, "  a{n:03}: {{ metric: store_errors, threshold: 0 }}").unwrap();
    }
    text
}

#[test]
fn resources_at_the_limit_build_and_one_more_is_refused() {
    let base = count(&template(&spec(1, 1, &alarms(1))), "Resources") - 1;
    let fill = limits::TEMPLATE_RESOURCES - base;
    let at_limit = spec(1, 1, &alarms(fill));
    assert_eq!(count(&template(&at_limit), "Resources"), 500);
    assert_eq!(codes(&at_limit), Vec::<&str>::new());
    let over = spec(1, 1, &alarms(fill + 1));
    assert_eq!(codes(&over), ["CG0802"]);
    let line = over.lines().position(|line| line == "alarms:").unwrap() + 1;
    let summary = problems(&over).join("\n");
    assert!(
        summary.contains("501 resources, most of them for alarms")
            && summary.starts_with(&format!("cache.yaml:{line}:1:")),
        "points at `alarms`: {summary}"
    );
}

/// Tables `t000`... with `tags_each` tags each, every tag naming a parameter of its own;
/// `parameters` in all.
fn tagged_tables(parameters: usize, tags_each: usize) -> String {
    let mut text = String::from("version: 1\nservice: lim\nparameters:\n");
    for n in 0..parameters {
        writeln!(text, "  p{n:03}: {{ default: x }}").unwrap();
    }
    text.push_str("tables:\n");
    for (table, chunk) in (0..parameters)
        .collect::<Vec<_>>()
        .chunks(tags_each)
        .enumerate()
    {
        write!(
            text,
            "  t{table:03}:\n    name: lim-t{table:03}\n    tags:\n"
        )
        .unwrap();
        for n in chunk {
            writeln!(text, "      K{n:03}: \"${{p{n:03}}}\"").unwrap();
        }
    }
    text.push_str(
        "data_types:\n  only:\n    table: t000\n    key: \"only#{id}\"\n    params: { id: string }\n    value: { fields: { v: string } }\n",
    );
    text
}

#[test]
fn parameters_at_the_limit_build_and_one_more_is_refused() {
    let at_limit = tagged_tables(200, 40);
    assert_eq!(count(&template(&at_limit), "Parameters"), 200);
    assert_eq!(codes(&at_limit), Vec::<&str>::new());
    assert_eq!(codes(&tagged_tables(201, 40)), ["CG0803"]);
}

/// `tables` tables (two outputs each) and `buckets` existing buckets (one each).
fn outputs_spec(tables: usize, buckets: usize) -> String {
    let mut text = String::from("version: 1\nservice: lim\ntables:\n");
    for n in 0..tables {
        writeln!(text, "  t{n:03}:\n    name: l{n:03}").unwrap();
    }
    if buckets > 0 {
        text.push_str("buckets:\n");
        for n in 0..buckets {
            writeln!(text, "  b{n:03}:\n    existing: lim-bucket-{n:03}").unwrap();
        }
    }
    text.push_str(
        "data_types:\n  only:\n    table: t000\n    key: \"only#{id}\"\n    params: { id: string }\n    value: { fields: { v: string } }\n",
    );
    text
}

#[test]
fn outputs_at_the_limit_build_and_one_more_is_refused() {
    let at_limit = outputs_spec(100, 0);
    assert_eq!(count(&template(&at_limit), "Outputs"), 200);
    assert_eq!(codes(&at_limit), Vec::<&str>::new());
    let over = outputs_spec(100, 1);
    assert_eq!(codes(&over), ["CG0804"]);
    assert!(
        problems(&over)[0].contains("201 outputs, most of them for tables"),
        "{:?}",
        problems(&over)
    );
}

/// The dashboards of `template`: name suffix (after the stack) and body.
fn dashboards(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|resource| resource["Type"] == "AWS::CloudWatch::Dashboard")
        .map(|resource| {
            let name = resource["Properties"]["DashboardName"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .trim_start_matches("${AWS::StackName}-")
                .to_owned();
            let body = resource["Properties"]["DashboardBody"]["Fn::Sub"]
                .as_str()
                .unwrap();
            (name, serde_json::from_str(body).unwrap())
        })
        .collect()
}

#[test]
fn a_dashboard_at_the_widget_limit_stays_one_and_one_more_type_starts_a_page() {
    // No consumer: the throttle graph reads every item operation.
    let per_page = dashboard::data_types_per_dashboard(1, 7);
    let one = dashboards(&template(&spec(per_page, 1, "")));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0, "cache");
    assert_eq!(
        dashboard::widgets(&one[0].1).len(),
        limits::DASHBOARD_WIDGETS
    );

    let two = dashboards(&template(&spec(per_page + 1, 1, "")));
    let names: Vec<&str> = two.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["cache", "cache-2"]);
    let mut graphed = Vec::new();
    for (_, body) in &two {
        assert!(dashboard::widgets(body).len() <= limits::DASHBOARD_WIDGETS);
        assert!(dashboard::metric_count(body) <= limits::DASHBOARD_METRICS);
        for widget in dashboard::widgets(body) {
            let lines = widget["properties"]["metrics"].as_array();
            assert!(lines.is_none_or(|lines| lines.len() <= limits::WIDGET_METRICS));
            let title = widget["properties"]["title"].as_str().unwrap_or_default();
            if let Some(data_type) = title.strip_prefix("Hit rate: ")
                && data_type != "all data types"
            {
                graphed.push(data_type.to_owned());
            }
        }
    }
    let expected: Vec<String> = (0..=per_page).map(|n| format!("t{n:04}")).collect();
    assert_eq!(
        graphed, expected,
        "each data type on exactly one page, in order"
    );
    assert_eq!(codes(&spec(per_page + 1, 1, "")), Vec::<&str>::new());
}

#[test]
fn several_tables_get_a_dashboard_each() {
    let text = outputs_spec(3, 0);
    let names: Vec<String> = dashboards(&template(&text))
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["cache-t000", "cache-t001", "cache-t002"]);
}

/// One consumer reading, writing and querying `tables` tables, each with one index named
/// by `index_name(table)`, and a data type written into it.
fn consumer_spec(tables: usize, index_name: impl Fn(usize) -> String, role: &str) -> String {
    let mut text = String::from("version: 1\nservice: lim\ntables:\n");
    for n in 0..tables {
        write!(
            text,
            "  t{n:03}:\n    name: lim-t{n:03}\n    indexes:\n      {}:\n        partition_key: {{ name: dataType }}\n",
            index_name(n)
        )
        .unwrap();
    }
    text.push_str("data_types:\n");
    for n in 0..tables {
        writeln!(
            text,
            "  d{n:03}:\n    table: t{n:03}\n    key: \"d{n:03}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n    attributes: {{ dataType: \"{{data_type}}\" }}"
        )
        .unwrap();
    }
    write!(
        text,
        "consumers:\n  api:\n    role: {role}\n    access: {{ \"*\": [read, write, query] }}\n"
    )
    .unwrap();
    text
}

/// The cache policies of `template`, in order.
fn policies(template: &Value) -> Vec<Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|resource| resource["Type"] == "AWS::IAM::ManagedPolicy")
        .map(|resource| resource["Properties"]["PolicyDocument"].clone())
        .collect()
}

/// `document` as IAM would store it, every deploy-time part at its longest: the
/// partition, region and account at the lengths [`limits`] allows, table names as the
/// template gives them.
fn resolved(template: &Value, document: &Value) -> String {
    fn table_arn(template: &Value, logical_id: &str) -> String {
        let name = template["Resources"][logical_id]["Properties"]["TableName"]
            .as_str()
            .unwrap();
        format!(
            "arn:{}:dynamodb:{}:{}:table/{name}",
            "p".repeat(limits::PARTITION),
            "r".repeat(limits::REGION),
            "a".repeat(limits::ACCOUNT_ID)
        )
    }
    fn resolve(template: &Value, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.contains_key("Fn::GetAtt") => {
                let logical_id = map["Fn::GetAtt"][0].as_str().unwrap();
                table_arn(template, logical_id).into()
            }
            Value::Object(map) if map.contains_key("Fn::Sub") => {
                let text = map["Fn::Sub"].as_str().unwrap();
                let (reference, rest) = text
                    .strip_prefix("${")
                    .and_then(|text| text.split_once(".Arn}"))
                    .unwrap();
                format!("{}{rest}", table_arn(template, reference)).into()
            }
            Value::Object(map) => map
                .iter()
                .map(|(key, value)| (key.clone(), resolve(template, value)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            Value::Array(items) => items.iter().map(|item| resolve(template, item)).collect(),
            other => other.clone(),
        }
    }
    resolve(template, document).to_string()
}

/// One policy holding every statement of `policies`.
fn merged(policies: &[Value]) -> Value {
    let statements: Vec<Value> = policies
        .iter()
        .flat_map(|policy| policy["Statement"].as_array().unwrap().clone())
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Statement": statements })
}

#[test]
fn a_policy_at_the_iam_size_limit_stays_one_and_one_character_more_splits_it() {
    // Each table's grant (items and its index) is about 400 characters; fifteen fill most
    // of a policy, and the last index's name adds one character at a time.
    let tables = 15;
    let name = |extra: usize| {
        move |n: usize| {
            if n == tables - 1 {
                format!("idx{}", "x".repeat(extra))
            } else {
                "idx".to_owned()
            }
        }
    };
    let size_of = |extra: usize| {
        let template = template(&consumer_spec(tables, name(extra), "create"));
        let policies = policies(&template);
        (
            policies.len(),
            resolved(&template, &merged(&policies)).len(),
        )
    };
    let (parts, base) = size_of(0);
    assert_eq!(
        parts, 1,
        "fifteen grants fit one policy ({base} characters)"
    );
    assert!(base < limits::MANAGED_POLICY_SIZE);
    let at_limit = limits::MANAGED_POLICY_SIZE - base;
    assert_eq!(size_of(at_limit), (1, limits::MANAGED_POLICY_SIZE));
    let (parts, whole) = size_of(at_limit + 1);
    assert_eq!(
        (parts, whole),
        (2, limits::MANAGED_POLICY_SIZE + 1),
        "one character over splits the policy"
    );
    let template = template(&consumer_spec(tables, name(at_limit + 1), "create"));
    for policy in policies(&template) {
        assert!(resolved(&template, &policy).len() <= limits::MANAGED_POLICY_SIZE);
    }
    // Both parts are attached to the role, and both are outputs.
    assert!(template["Resources"]["ApiCachePolicy2"]["Properties"]["Roles"].is_array());
    assert!(template["Outputs"]["ApiCachePolicy2Arn"].is_object());
}

#[test]
fn a_statement_too_large_for_one_policy_is_split_by_its_resources() {
    // Twenty indexes with 250-character names: about 6,800 characters of index ARNs.
    let mut text = String::from(
        "version: 1\nservice: lim\ntables:\n  cache:\n    name: lim-cache\n    indexes:\n",
    );
    for n in 0..20 {
        writeln!(
            text,
            "      i{n:02}{}:\n        partition_key: {{ name: dataType }}",
            "x".repeat(247)
        )
        .unwrap();
    }
    text.push_str(
        "data_types:\n  d:\n    key: \"d#{id}\"\n    params: { id: string }\n    value: { fields: { v: string } }\n    attributes: { dataType: \"{data_type}\" }\nconsumers:\n  api:\n    access: { d: [query] }\n",
    );
    let template = template(&text);
    let policies = policies(&template);
    assert_eq!(policies.len(), 2);
    for policy in &policies {
        assert!(resolved(&template, policy).len() <= limits::MANAGED_POLICY_SIZE);
    }
    let indexes: usize = policies
        .iter()
        .flat_map(|policy| policy["Statement"].as_array().unwrap())
        .map(|statement| statement["Resource"].as_array().unwrap().len())
        .sum();
    assert_eq!(indexes, 20, "every index is still granted");
}

#[test]
fn a_role_takes_ten_managed_policies_and_one_more_is_refused() {
    // Each table's index statement fills most of a policy (twenty long index names):
    // `tables` tables need about that many parts.
    let spec_for = |tables: usize, role: &str| {
        let mut text = String::from("version: 1\nservice: lim\ntables:\n");
        for n in 0..tables {
            writeln!(text, "  t{n:02}:\n    name: lim-t{n:02}\n    indexes:").unwrap();
            for index in 0..12 {
                writeln!(
                    text,
                    "      i{index:02}{}:\n        partition_key: {{ name: dataType }}",
                    "x".repeat(200)
                )
                .unwrap();
            }
        }
        text.push_str("data_types:\n");
        for n in 0..tables {
            writeln!(
                text,
                "  d{n:02}:\n    table: t{n:02}\n    key: \"d{n:02}#{{id}}\"\n    params: {{ id: string }}\n    value: {{ fields: {{ v: string }} }}\n    attributes: {{ dataType: \"{{data_type}}\" }}"
            )
            .unwrap();
        }
        write!(
            text,
            "consumers:\n  api:\n    role: {role}\n    access: {{ \"*\": [query] }}\n"
        )
        .unwrap();
        text
    };
    // Two tables' index statements do not fit one policy: each table is a part.
    for tables in [9, 10] {
        let parts = policies(&template(&spec_for(tables, "{ existing: app }"))).len();
        assert_eq!(parts, tables);
    }
    // A role cachegen creates also holds AWSLambdaBasicExecutionRole: nine parts fit.
    assert_eq!(codes(&spec_for(9, "create")), Vec::<&str>::new());
    assert_eq!(codes(&spec_for(10, "create")), ["CG0808"]);
    // An existing role holds only the cache policy's parts: ten fit, eleven do not.
    assert_eq!(
        codes(&spec_for(10, "{ existing: app }")),
        Vec::<&str>::new()
    );
    let eleven = problems(&spec_for(11, "{ existing: app }"));
    assert!(
        eleven.len() == 1 && eleven[0].contains("needs 11 cache policies"),
        "{eleven:?}"
    );
}

/// The base spec with `extra` inserted into table `cache` (indented by four).
fn with_table(extra: &str) -> String {
    spec(1, 1, "").replace(
        "    tags: { Pad: \"${pad}\" }\n",
        &format!("    tags: {{ Pad: \"${{pad}}\" }}\n{extra}"),
    )
}

#[test]
fn forty_nine_tags_and_the_fingerprint_fit_a_table_and_one_more_is_refused() {
    let tags = |count: usize| {
        let mut text = spec(1, 1, "");
        let own: String = (1..count).map(|n| format!(", T{n:02}: v")).collect();
        text = text.replace(
            "    tags: { Pad: \"${pad}\" }\n",
            &format!("    tags: {{ Pad: \"${{pad}}\"{own} }}\n"),
        );
        text
    };
    assert_eq!(codes(&tags(49)), Vec::<&str>::new());
    assert_eq!(count(&template(&tags(49)), "Resources"), 2);
    assert_eq!(
        template(&tags(49))["Resources"]["CacheTable"]["Properties"]["Tags"]
            .as_array()
            .unwrap()
            .len(),
        limits::RESOURCE_TAGS
    );
    assert_eq!(codes(&tags(50)), ["CG0810"]);
}

#[test]
fn a_hundred_projected_attributes_fit_a_table_and_one_more_is_refused() {
    let projected = |second: usize| {
        let list = |count: usize, from: usize| {
            (from..from + count)
                .map(|n| format!("a{n:03}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        with_table(&format!(
            "    indexes:\n      first:\n        partition_key: {{ name: dataType }}\n        projection: include\n        projected_attributes: [{}]\n      second:\n        partition_key: {{ name: dataType }}\n        projection: include\n        projected_attributes: [{}]\n",
            list(50, 0),
            list(second, 50)
        ))
        .replace(
            "    value: { fields: { v: string } }\n",
            "    value: { fields: { v: string } }\n    attributes: { dataType: \"{data_type}\" }\n",
        )
    };
    assert_eq!(codes(&projected(50)), Vec::<&str>::new());
    assert_eq!(codes(&projected(51)), ["CG0811"]);
}

#[test]
fn twenty_indexes_fit_a_table() {
    let indexes: String = (0..20)
        .map(|n| format!("      i{n:02}:\n        partition_key: {{ name: dataType }}\n"))
        .collect();
    let text = with_table(&format!("    indexes:\n{indexes}")).replace(
        "    value: { fields: { v: string } }\n",
        "    value: { fields: { v: string } }\n    attributes: { dataType: \"{data_type}\" }\n",
    );
    assert_eq!(codes(&text), Vec::<&str>::new());
    // One more is refused (validation.rs checks the message).
    let more = text.replace(
        "      i00:\n",
        "      i20:\n        partition_key: { name: dataType }\n      i00:\n",
    );
    assert_eq!(codes(&more), ["CG0209"]);
}

#[test]
fn five_alarm_actions_fit_and_a_sixth_is_refused() {
    let actions = |count: usize| {
        let list: Vec<String> = (0..count)
            .map(|n| format!("\"arn:aws:sns:us-east-1:123456789012:t{n}\""))
            .collect();
        spec(
            1,
            1,
            &format!(
                "alarms:\n  errors: {{ metric: store_errors, threshold: 0, actions: [{}] }}\n",
                list.join(", ")
            ),
        )
    };
    assert_eq!(codes(&actions(5)), Vec::<&str>::new());
    assert_eq!(codes(&actions(6)), ["CG0809"]);
}

#[test]
fn descriptions_at_their_limits_fit_and_one_more_is_refused() {
    let described = |bytes: usize| {
        spec(1, 1, "").replace(
            "service: lim\n",
            &format!("service: lim\ndescription: {}\n", "d".repeat(bytes)),
        )
    };
    assert_eq!(codes(&described(1_024)), Vec::<&str>::new());
    assert_eq!(codes(&described(1_025)), ["CG0805"]);
    // An alarm's is counted in characters, not bytes.
    let alarm = |chars: usize| {
        spec(
            1,
            1,
            &format!(
                "alarms:\n  errors: {{ metric: store_errors, threshold: 0, description: \"{}\" }}\n",
                "é".repeat(chars)
            ),
        )
    };
    assert_eq!(codes(&alarm(1_024)), Vec::<&str>::new());
    assert_eq!(codes(&alarm(1_025)), ["CG0805"]);
}

#[test]
fn a_parameter_value_at_the_limit_fits_and_one_byte_more_is_refused() {
    assert_eq!(codes(&spec(1, 4_096, "")), Vec::<&str>::new());
    assert_eq!(codes(&spec(1, 4_097, "")), ["CG0806"]);
}

#[test]
fn names_at_their_limits_fit_and_one_character_more_is_refused() {
    // A table's longest logical ID is its output `<Name>TableName`.
    let table = |chars: usize| {
        let key = format!("c{}", "a".repeat(chars - 1));
        spec(1, 1, "").replace("  cache:\n", &format!("  {key}:\n"))
    };
    let longest = limits::LOGICAL_ID - "TableName".len();
    assert_eq!(codes(&table(longest)), Vec::<&str>::new());
    assert_eq!(codes(&table(longest + 1)), ["CG0807"]);
    // An alarm is named `<stack>-<name>`, the stack name up to 128 characters.
    let alarm = |chars: usize| {
        spec(
            1,
            1,
            &format!(
                "alarms:\n  e{}: {{ metric: store_errors, threshold: 0 }}\n",
                "e".repeat(chars - 1)
            ),
        )
    };
    let longest = limits::ALARM_NAME - limits::STACK_NAME - 1;
    assert_eq!(codes(&alarm(longest)), Vec::<&str>::new());
    assert_eq!(codes(&alarm(longest + 1)), ["CG0807"]);
    // With several tables, a dashboard is named `<stack>-cache-<table>`.
    let dashboard = |chars: usize| {
        outputs_spec(2, 0).replace("  t001:\n", &format!("  t{}:\n", "x".repeat(chars - 1)))
    };
    let longest = limits::DASHBOARD_NAME - limits::STACK_NAME - "-cache-".len();
    assert_eq!(codes(&dashboard(longest)), Vec::<&str>::new());
    assert_eq!(codes(&dashboard(longest + 1)), ["CG0807"]);
}

#[test]
fn environment_variables_at_the_lambda_limit_fit_and_one_byte_more_is_refused() {
    // Sixteen tables whose env var and literal name come to 256 bytes each: 4,096.
    let environment = |last: usize| {
        let mut text = String::from("version: 1\nservice: lim\ntables:\n");
        for n in 0..16 {
            let name_len = if n == 15 { last } else { 256 - 6 };
            writeln!(
                text,
                "  t{n:02}:\n    name: n{n:02}{}\n    env_var: T{n:02}_NA",
                "x".repeat(name_len - 3)
            )
            .unwrap();
        }
        text.push_str(
            "data_types:\n  only:\n    table: t00\n    key: \"only#{id}\"\n    params: { id: string }\n    value: { fields: { v: string } }\n",
        );
        text
    };
    assert_eq!(codes(&environment(250)), Vec::<&str>::new());
    assert_eq!(codes(&environment(251)), ["CG0812"]);
}

#[test]
fn the_widest_alarm_reads_fewer_metrics_than_cloudwatch_allows() {
    // A throttling alarm on a table no consumer declares reads every item operation: the
    // most metrics any alarm reads, so the limit cannot be reached from a spec.
    let text = spec(
        1,
        1,
        "alarms:\n  throttled: { metric: throttles, table: cache, threshold: 0 }\n",
    );
    let template = template(&text);
    let metrics = template["Resources"]["ThrottledAlarm"]["Properties"]["Metrics"]
        .as_array()
        .unwrap();
    let read = metrics
        .iter()
        .filter(|metric| metric.get("MetricStat").is_some())
        .count();
    assert_eq!(read, 7);
    assert!(read <= limits::ALARM_METRICS);
}

#[test]
fn no_template_declares_mappings() {
    // So the limit of 200 (`limits::TEMPLATE_MAPPINGS`) cannot be reached.
    let template = template(&spec(3, 1, &alarms(2)));
    assert_eq!(count(&template, "Mappings"), 0);
}
