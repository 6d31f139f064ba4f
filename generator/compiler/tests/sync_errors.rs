//! `sync_errors` alarms: the share of a bucket's sync function invocations that fail, as a
//! metric math alarm over `AWS/Lambda` `Errors` and `Invocations` of that function. Its
//! validation errors, and what CloudFormation, SAM and Terraform declare for it.

mod support;

use cachegen_compiler::compile_text;
use cachegen_compiler::emit::{cloudformation, sam, terraform};
use cachegen_compiler::ir::{AlarmQuery, DimensionValue};
use serde_json::{Value, json};
use support::{compile, problems};

/// A spec with a created bucket whose events reach a sync function given as a parameter,
/// and `alarms` appended.
fn spec(alarms: &str) -> String {
    format!(
        r#"version: 1
service: demo
parameters:
  SyncFunctionArn: {{}}
tables:
  cache:
    name: demo-cache
buckets:
  docs:
    name: demo-docs
    events: {{ function: "${{SyncFunctionArn}}", consumer: sync }}
data_types:
  user:
    key: "user#{{id}}"
    params: {{ id: string }}
    value: {{ fields: {{ name: string }} }}
    document: {{ key: "users/{{id}}.json" }}
consumers:
  sync:
    access: {{ user: [sync] }}
alarms:
{alarms}"#
    )
}

const ALARM: &str = "  sync-failing: { metric: sync_errors, threshold: 0.01 }\n";

#[test]
fn the_alarm_divides_the_functions_errors_by_its_invocations() {
    let model = compile(&spec(ALARM));
    let alarm = &model.alarms[0];
    assert_eq!(alarm.threshold, 0.01);
    assert_eq!(alarm.comparison.to_string(), "GreaterThanThreshold");
    let AlarmQuery::Math {
        expression,
        metrics,
        ..
    } = &alarm.query
    else {
        panic!("a math alarm: {:?}", alarm.query);
    };
    assert_eq!(expression, "errors/invocations");
    let inputs: Vec<(&str, &str, &str)> = metrics
        .iter()
        .map(|(id, stat)| {
            let [(dimension, DimensionValue::SyncFunctionName(bucket))] =
                stat.dimensions.as_slice()
            else {
                panic!("one FunctionName dimension: {stat:?}");
            };
            assert_eq!(
                (dimension.as_str(), bucket.name()),
                ("FunctionName", "docs")
            );
            (
                id.as_str(),
                stat.namespace.as_str(),
                stat.metric_name.as_str(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("errors", "AWS/Lambda", "Errors"),
            ("invocations", "AWS/Lambda", "Invocations")
        ]
    );
}

/// The CloudFormation (or SAM) alarm resource of `model`.
fn cfn_alarm(template: &Value) -> &Value {
    &template["Resources"]["SyncFailingAlarm"]["Properties"]
}

#[test]
fn cloudformation_and_sam_cut_the_function_name_from_the_arn_parameter() {
    let model = compile(&spec(ALARM));
    let name = json!({ "Fn::Select": [6, { "Fn::Split": [":", { "Ref": "SyncFunctionArn" }] }] });
    for template in [cloudformation::template(&model), sam::template(&model)] {
        let alarm = cfn_alarm(&template);
        let metrics = alarm["Metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 3, "{alarm:#}");
        assert_eq!(metrics[0]["Expression"], "errors/invocations");
        assert_eq!(metrics[0]["ReturnData"], true);
        for (query, metric) in metrics[1..].iter().zip(["Errors", "Invocations"]) {
            let stat = &query["MetricStat"];
            assert_eq!(stat["Metric"]["Namespace"], "AWS/Lambda");
            assert_eq!(stat["Metric"]["MetricName"], metric);
            assert_eq!(
                stat["Metric"]["Dimensions"],
                json!([{ "Name": "FunctionName", "Value": name }])
            );
            assert_eq!(
                (&stat["Stat"], &stat["Period"]),
                (&json!("Sum"), &json!(300))
            );
            assert_eq!(query["ReturnData"], false);
        }
        assert_eq!(alarm["Threshold"], 0.01);
        assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(alarm["TreatMissingData"], "notBreaching");
    }
}

#[test]
fn terraform_cuts_the_function_name_from_the_arn_variable() {
    let model = compile(&spec(ALARM));
    let main = &terraform::files(&model, "spec.yaml")[0].contents;
    let start = main
        .find("resource \"aws_cloudwatch_metric_alarm\" \"sync_failing\"")
        .expect("the alarm is in main.tf");
    let block = &main[start..main[start..].find("\n}\n").unwrap() + start];
    assert_eq!(
        block
            .matches("FunctionName = element(split(\":\", var.sync_function_arn), 6)")
            .count(),
        2,
        "{block}"
    );
    for line in [
        "expression  = \"errors/invocations\"",
        "metric_name = \"Errors\"",
        "metric_name = \"Invocations\"",
        "threshold           = 0.01",
        "treat_missing_data  = \"notBreaching\"",
    ] {
        assert!(block.contains(line), "{line} not in {block}");
    }
}

#[test]
fn a_literal_arn_gives_the_function_name_itself() {
    let text = spec(ALARM).replace(
        "\"${SyncFunctionArn}\"",
        "\"arn:aws:lambda:us-east-1:123456789012:function:demo-sync\"",
    );
    let text = text.replace("parameters:\n  SyncFunctionArn: {}\n", "");
    let model = compile(&text);
    let template = cloudformation::template(&model);
    let metrics = cfn_alarm(&template)["Metrics"].as_array().unwrap();
    assert_eq!(
        metrics[1]["MetricStat"]["Metric"]["Dimensions"],
        json!([{ "Name": "FunctionName", "Value": "demo-sync" }])
    );
    let main = &terraform::files(&model, "spec.yaml")[0].contents;
    assert_eq!(
        main.matches("FunctionName = \"demo-sync\"").count(),
        2,
        "{main}"
    );
}

#[test]
fn the_threshold_is_a_ratio_above_zero_up_to_one() {
    for threshold in ["0", "1.5", "500ms"] {
        let text = spec(&ALARM.replace("0.01", threshold));
        assert_eq!(
            problems(&text),
            [(
                "spec.yaml:22:51: a sync error threshold is a ratio of invocations, above 0 and at most 1".to_owned(),
                "CG0703"
            )],
            "threshold {threshold}"
        );
    }
    assert_eq!(problems(&spec(&ALARM.replace("0.01", "1"))), []);
}

#[test]
fn the_period_is_at_least_the_minute_lambda_publishes_at() {
    let text = spec(&ALARM.replace(" }", ", period: 30s }"));
    assert_eq!(
        problems(&text),
        [(
            "spec.yaml:22:65: Lambda publishes its metrics once a minute, so this period would have no data".to_owned(),
            "CG0701"
        )]
    );
}

#[test]
fn the_alarm_needs_a_bucket_with_events() {
    let text = spec(ALARM)
        .replace(
            "    events: { function: \"${SyncFunctionArn}\", consumer: sync }\n",
            "",
        )
        .replace("parameters:\n  SyncFunctionArn: {}\n", "");
    assert_eq!(
        problems(&text),
        [(
            "spec.yaml:19:27: a `sync_errors` alarm watches the sync function of a bucket's `events`, and no bucket has any".to_owned(),
            "CG0705"
        )]
    );
    let report = compile_text("spec.yaml", &text).unwrap_err().render();
    assert!(report.contains("add `events: {"), "{report}");
}

#[test]
fn a_named_bucket_must_exist_and_have_events() {
    let text = spec(&ALARM.replace(" }", ", bucket: dcos }"));
    assert_eq!(
        problems(&text),
        [(
            "spec.yaml:22:65: bucket `dcos` is not declared".to_owned(),
            "CG0502"
        )]
    );
    let text = spec(&ALARM.replace(" }", ", bucket: docs }"));
    assert_eq!(problems(&text), []);
    let text = spec(&ALARM.replace(" }", ", bucket: more }"))
        .replace(
            "data_types:\n",
            "  more:\n    name: demo-more\ndata_types:\n",
        )
        .replace("document: { key:", "document: { bucket: docs, key:");
    assert_eq!(
        problems(&text),
        [(
            "spec.yaml:24:65: bucket `more` has no `events`, so no sync function to watch"
                .to_owned(),
            "CG0705"
        )]
    );
    assert_eq!(
        problems(&spec(
            "  slow: { metric: latency, threshold: 500ms, bucket: docs }\n"
        )),
        [(
            "spec.yaml:22:46: only a `sync_errors` alarm watches a bucket".to_owned(),
            "CG0705"
        )]
    );
}

#[test]
fn several_buckets_with_events_need_the_alarm_to_name_one() {
    let text = spec(ALARM).replace(
        "data_types:\n",
        "  more:\n    name: demo-more\n    events: { function: \"${SyncFunctionArn}\", consumer: sync }\ndata_types:\n",
    ).replace(
        "consumers:\n",
        "  other:\n    key: \"other#{id}\"\n    params: { id: string }\n    value: { fields: { name: string } }\n    document: { bucket: more, key: \"others/{id}.json\" }\nconsumers:\n",
    ).replace("access: { user: [sync] }", "access: { \"*\": [sync] }")
    .replace("document: { key: \"users/", "document: { bucket: docs, key: \"users/");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].0.ends_with(
            "several buckets have `events`: this alarm must say whose sync function it watches"
        ) && found[0].1 == "CG0705",
        "{found:?}"
    );
    assert_eq!(
        problems(&text.replace("threshold: 0.01 }", "threshold: 0.01, bucket: more }")),
        [],
        "naming a bucket resolves it"
    );
}

#[test]
fn a_data_type_or_table_does_not_scope_it() {
    let text = spec(&ALARM.replace(" }", ", data_type: user, table: cache }"));
    let found = problems(&text);
    assert_eq!(
        found.iter().map(|(_, code)| *code).collect::<Vec<_>>(),
        ["CG0705", "CG0705"],
        "{found:?}"
    );
    assert!(found[0].0.contains("not a data_type") && found[1].0.contains("not a table"));
}

#[test]
fn a_written_out_arn_must_be_a_functions_whose_name_the_alarm_can_read() {
    let text = spec(ALARM)
        .replace(
            "\"${SyncFunctionArn}\"",
            "\"arn:aws:lambda:us-east-1:123456789012:layer:demo-sync\"",
        )
        .replace("parameters:\n  SyncFunctionArn: {}\n", "");
    assert_eq!(
        problems(&text),
        [(
            "spec.yaml:9:25: `arn:aws:lambda:us-east-1:123456789012:layer:demo-sync` is not a Lambda function ARN".to_owned(),
            "CG0505"
        )]
    );
}
