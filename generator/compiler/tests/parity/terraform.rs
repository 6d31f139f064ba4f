//! A Terraform module read back into [`Declared`], in the same normal forms as
//! CloudFormation's.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Body, Expression, ObjectKey};

use super::declared::{
    AlarmDecl, BucketDecl, Declared, FunctionDecl, MetricDecl, RedisDecl, TableDecl,
    insert_dashboard,
};

/// An HCL expression as normalised text, in the same forms as [`cfn_text`].
pub(crate) fn tf_text(expression: &Expression) -> String {
    let source = expression.to_string();
    let unquoted = source
        .strip_prefix('"')
        .and_then(|text| text.strip_suffix('"'))
        .map(|text| text.replace("$${", "\u{0}").replace("\\\"", "\""));
    match unquoted {
        Some(template) => normalise_interpolations(&template).replace('\u{0}', "${"),
        None => normalise_reference(&source),
    }
}

fn normalise_interpolations(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&normalise_reference(&rest[start + 2..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `var.stack_name` -> `${AWS::StackName}`, `var.env` -> `${env}`,
/// `aws_dynamodb_table.x.arn` -> `arn:x`, `aws_dynamodb_table.x.name` -> `name:x`,
/// `element(split(":", var.f), 6)` -> `function-name:${f}`.
fn normalise_reference(reference: &str) -> String {
    if let Some(arn) = reference
        .strip_prefix("element(split(\":\", ")
        .and_then(|rest| rest.strip_suffix("), 6)"))
    {
        let arn = match arn.strip_prefix('"').and_then(|arn| arn.strip_suffix('"')) {
            Some(template) => normalise_interpolations(template),
            None => normalise_reference(arn),
        };
        return format!("function-name:{arn}");
    }
    if reference == "var.stack_name" {
        return "${AWS::StackName}".into();
    }
    if let Some(variable) = reference.strip_prefix("var.") {
        return format!("${{{variable}}}");
    }
    if let Some(rest) = reference.strip_prefix("aws_dynamodb_table.") {
        let (stem, attribute) = rest.split_once('.').unwrap();
        return format!("{attribute}:{stem}");
    }
    if let Some(rest) = reference.strip_prefix("aws_lambda_function.") {
        let (name, attribute) = rest.split_once('.').unwrap();
        let stem = name.strip_suffix("_sync").unwrap();
        return match attribute {
            "arn" => format!("function-arn:{stem}"),
            _ => format!("function-name:{stem}"),
        };
    }
    if let Some(rest) = reference.strip_prefix("aws_s3_bucket.") {
        return match rest.split_once('.').unwrap() {
            (stem, "arn") => format!("bucket-arn:{stem}"),
            (stem, _) => format!("bucket:{stem}"),
        };
    }
    match reference {
        "data.aws_partition.current.partition" => "${AWS::Partition}".into(),
        "data.aws_region.current.name" => "${AWS::Region}".into(),
        "data.aws_caller_identity.current.account_id" => "${AWS::AccountId}".into(),
        other => other.to_owned(),
    }
}

fn tf_list(expression: &Expression) -> Vec<String> {
    match expression {
        Expression::Array(items) => items.iter().map(tf_text).collect(),
        other => panic!("expected a list, got {other}"),
    }
}

pub(crate) fn tf_object(expression: &Expression) -> BTreeMap<String, String> {
    match expression {
        Expression::Object(object) => object
            .iter()
            .map(|(key, value)| {
                let key = match key {
                    ObjectKey::Identifier(identifier) => identifier.to_string(),
                    ObjectKey::Expression(expression) => tf_text(expression),
                    other => panic!("unexpected object key {other}"),
                };
                (key, tf_text(value))
            })
            .collect(),
        other => panic!("expected an object, got {other}"),
    }
}

pub(crate) fn attr<'b>(body: &'b Body, key: &str) -> Option<&'b Expression> {
    body.attributes()
        .find(|attribute| attribute.key() == key)
        .map(|attribute| attribute.expr())
}

fn text(body: &Body, key: &str) -> String {
    tf_text(attr(body, key).unwrap_or_else(|| panic!("no attribute `{key}`")))
}

fn nested<'b>(body: &'b Body, kind: &'b str) -> impl Iterator<Item = &'b Body> + 'b {
    body.blocks()
        .filter(move |block| block.identifier() == kind)
        .map(|block| block.body())
}

fn tf_keys(body: &Body) -> Vec<(String, String)> {
    std::iter::once((text(body, "hash_key"), "HASH".to_owned()))
        .chain(attr(body, "range_key").map(|key| (tf_text(key), "RANGE".to_owned())))
        .collect()
}

fn tf_capacity(body: &Body) -> Option<String> {
    attr(body, "read_capacity")
        .map(|read| format!("{}/{}", tf_text(read), text(body, "write_capacity")))
}

fn tf_table(body: &Body, skips: BTreeSet<String>) -> TableDecl {
    let billing = match tf_capacity(body) {
        Some(capacity) => format!("PROVISIONED {capacity}"),
        None => text(body, "billing_mode"),
    };
    let sse = nested(body, "server_side_encryption").next().unwrap();
    let encryption = match (text(sse, "enabled").as_str(), attr(sse, "kms_key_arn")) {
        ("false", _) => "aws_owned".to_owned(),
        (_, None) => "aws_managed".to_owned(),
        (_, Some(key)) => format!("kms:{}", tf_text(key)),
    };
    TableDecl {
        name: text(body, "name"),
        keys: tf_keys(body),
        attributes: nested(body, "attribute")
            .map(|a| (text(a, "name"), text(a, "type")))
            .collect(),
        indexes: nested(body, "global_secondary_index")
            .map(|index| {
                let mut non_key = attr(index, "non_key_attributes")
                    .map(tf_list)
                    .unwrap_or_default();
                non_key.sort();
                (
                    text(index, "name"),
                    (
                        tf_keys(index),
                        text(index, "projection_type"),
                        non_key,
                        tf_capacity(index),
                    ),
                )
            })
            .collect(),
        ttl: text(nested(body, "ttl").next().unwrap(), "attribute_name"),
        billing,
        encryption,
        point_in_time_recovery: text(
            nested(body, "point_in_time_recovery").next().unwrap(),
            "enabled",
        ) == "true",
        deletion_protection: text(body, "deletion_protection_enabled") == "true",
        tags: tf_object(attr(body, "tags").unwrap()),
        skips,
    }
}

fn tf_dimensions(body: &Body) -> BTreeMap<String, String> {
    attr(body, "dimensions").map(tf_object).unwrap_or_default()
}

fn tf_alarm(body: &Body) -> (String, AlarmDecl) {
    let name = text(body, "alarm_name")
        .trim_start_matches("${AWS::StackName}-")
        .to_owned();
    let mut metrics = BTreeSet::new();
    let mut expression = None;
    for query in nested(body, "metric_query") {
        if let Some(text) = attr(query, "expression") {
            expression = Some(tf_text(text));
            continue;
        }
        let metric = nested(query, "metric").next().unwrap();
        metrics.insert(MetricDecl {
            id: text(query, "id"),
            namespace: text(metric, "namespace"),
            name: text(metric, "metric_name"),
            dimensions: tf_dimensions(metric),
            stat: text(metric, "stat"),
            period: text(metric, "period"),
        });
    }
    if metrics.is_empty() {
        let stat = attr(body, "extended_statistic").or_else(|| attr(body, "statistic"));
        metrics.insert(MetricDecl {
            id: String::new(),
            namespace: text(body, "namespace"),
            name: text(body, "metric_name"),
            dimensions: tf_dimensions(body),
            stat: tf_text(stat.unwrap()),
            period: text(body, "period"),
        });
    }
    (
        name,
        AlarmDecl {
            comparison: text(body, "comparison_operator"),
            threshold: text(body, "threshold"),
            evaluation_periods: text(body, "evaluation_periods"),
            expression,
            metrics,
        },
    )
}

/// `#checkov:skip=ID:reason` comments per table and bucket resource (HCL parsers drop
/// comments), keyed `kind.name`.
fn tf_skips(main: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut skips: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in main.lines() {
        let resource = [
            "aws_dynamodb_table",
            "aws_s3_bucket",
            "aws_elasticache_serverless_cache",
            "aws_lambda_function",
        ]
        .iter()
        .find_map(|kind| {
            let rest = line.strip_prefix(&format!("resource \"{kind}\" \""))?;
            Some(format!("{kind}.{}", rest.split('"').next().unwrap()))
        });
        if let Some(resource) = resource {
            current = Some(resource);
        } else if line.starts_with("resource ") || line.starts_with("data ") {
            current = None;
        } else if let (Some(table), Some(skip)) =
            (&current, line.trim().strip_prefix("#checkov:skip="))
        {
            let id = skip.split(':').next().unwrap().to_owned();
            skips.entry(table.clone()).or_default().insert(id);
        }
    }
    skips
}

pub(crate) fn from_terraform(main: &str) -> Declared {
    let body: Body = hcl::parse(main).unwrap();
    let mut skips = tf_skips(main);
    let mut declared = Declared {
        redis: None,
        tables: BTreeMap::new(),
        buckets: BTreeMap::new(),
        grants: BTreeMap::new(),
        functions: BTreeMap::new(),
        alarms: BTreeMap::new(),
        dashboards: BTreeMap::new(),
    };
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
        match (block.identifier(), labels.as_slice()) {
            ("resource", ["aws_elasticache_serverless_cache", name]) => {
                let b = block.body();
                declared.redis = Some(RedisDecl {
                    name: text(b, "name"),
                    engine: text(b, "engine"),
                    description: text(b, "description"),
                    subnets: text(b, "subnet_ids"),
                    security_groups: text(b, "security_group_ids"),
                    kms_key: attr(b, "kms_key_id").map(tf_text),
                    tags: tf_object(attr(b, "tags").unwrap()),
                    skips: skips
                        .remove(&format!("aws_elasticache_serverless_cache.{name}"))
                        .unwrap_or_default(),
                });
            }
            ("resource", ["aws_dynamodb_table", name]) => {
                let skips = skips
                    .remove(&format!("aws_dynamodb_table.{name}"))
                    .unwrap_or_default();
                declared
                    .tables
                    .insert((*name).to_owned(), tf_table(block.body(), skips));
            }
            ("resource", [kind, name]) if kind.starts_with("aws_s3_bucket") => {
                let stem = name.to_string();
                let bucket = declared.buckets.entry(stem.clone()).or_default();
                tf_bucket_part(bucket, kind, block.body());
                if *kind == "aws_s3_bucket" {
                    bucket.skips = skips
                        .remove(&format!("aws_s3_bucket.{name}"))
                        .unwrap_or_default();
                }
            }
            ("resource", ["aws_lambda_permission", name]) => {
                let stem = name.trim_end_matches("_events").to_owned();
                let b = block.body();
                declared.buckets.entry(stem).or_default().permission = Some((
                    text(b, "function_name"),
                    text(b, "principal"),
                    text(b, "source_arn"),
                    text(b, "source_account"),
                ));
            }
            ("data", ["aws_iam_policy_document", name]) if name.ends_with("_tls_only") => {
                let statement = nested(block.body(), "statement").next().unwrap();
                let condition = nested(statement, "condition").next().unwrap();
                let stem = name.trim_end_matches("_tls_only").to_owned();
                declared.buckets.entry(stem).or_default().tls_only = text(statement, "effect")
                    == "Deny"
                    && text(condition, "variable") == "aws:SecureTransport"
                    && tf_list(attr(condition, "values").unwrap()) == ["false"]
                    && tf_list(attr(statement, "resources").unwrap()).len() == 2;
            }
            ("data", ["aws_iam_policy_document", name]) if *name != "lambda_assume_role" => {
                let grants = nested(block.body(), "statement")
                    .flat_map(|statement| {
                        let resources = tf_list(attr(statement, "resources").unwrap());
                        tf_list(attr(statement, "actions").unwrap())
                            .into_iter()
                            .flat_map(move |action| {
                                resources
                                    .clone()
                                    .into_iter()
                                    .map(move |resource| (action.clone(), resource))
                            })
                    })
                    .collect::<Vec<_>>();
                // A policy in parts: `api`, `api-2`...
                let consumer = name.split('-').next().unwrap().to_owned();
                declared.grants.entry(consumer).or_default().extend(grants);
            }
            ("resource", ["aws_lambda_function", name]) => {
                let b = block.body();
                let environment = nested(b, "environment").next().unwrap();
                declared.functions.insert(
                    name.strip_suffix("_sync").unwrap().to_owned(),
                    FunctionDecl {
                        handler: text(b, "handler"),
                        runtime: text(b, "runtime"),
                        architectures: tf_list(attr(b, "architectures").unwrap()),
                        memory: text(b, "memory_size"),
                        timeout: text(b, "timeout"),
                        code: (text(b, "s3_bucket"), text(b, "s3_key")),
                        environment: tf_object(attr(environment, "variables").unwrap()),
                        skips: skips
                            .remove(&format!("aws_lambda_function.{name}"))
                            .unwrap_or_default(),
                    },
                );
            }
            ("resource", ["aws_cloudwatch_metric_alarm", _]) => {
                let (name, alarm) = tf_alarm(block.body());
                declared.alarms.insert(name, alarm);
            }
            ("resource", ["aws_cloudwatch_dashboard", _]) => {
                let Some(Expression::TemplateExpr(template)) = attr(block.body(), "dashboard_body")
                else {
                    panic!("the dashboard body is a heredoc");
                };
                let hcl::TemplateExpr::Heredoc(heredoc) = template.as_ref() else {
                    panic!("the dashboard body is a heredoc");
                };
                let body = normalise_interpolations(&heredoc.template);
                insert_dashboard(&mut declared, serde_json::from_str(&body).unwrap());
            }
            _ => {}
        }
    }
    declared
}

/// Reads one of a bucket's Terraform resources into its declaration.
fn tf_bucket_part(bucket: &mut BucketDecl, kind: &str, body: &Body) {
    let number = |body: &Body, key: &str| attr(body, key).map(tf_text);
    match kind {
        "aws_s3_bucket" => {
            bucket.name = text(body, "bucket");
            bucket.tags = tf_object(attr(body, "tags").unwrap());
        }
        "aws_s3_bucket_versioning" => {
            let configuration = nested(body, "versioning_configuration").next().unwrap();
            bucket.versioning = text(configuration, "status");
        }
        "aws_s3_bucket_server_side_encryption_configuration" => {
            let rule = nested(body, "rule").next().unwrap();
            let by_default = nested(rule, "apply_server_side_encryption_by_default")
                .next()
                .unwrap();
            bucket.encryption = (
                text(by_default, "sse_algorithm"),
                number(by_default, "kms_master_key_id"),
                text(rule, "bucket_key_enabled") == "true",
            );
        }
        "aws_s3_bucket_public_access_block" => {
            bucket.public_access_blocked = [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ]
            .iter()
            .all(|key| text(body, key) == "true");
        }
        "aws_s3_bucket_ownership_controls" => {
            bucket.ownership = text(nested(body, "rule").next().unwrap(), "object_ownership");
        }
        "aws_s3_bucket_lifecycle_configuration" => {
            bucket.lifecycle = nested(body, "rule")
                .map(|rule| {
                    let inner = |kind: &str, key: &str| {
                        nested(rule, kind)
                            .next()
                            .and_then(|block| number(block, key))
                    };
                    format!(
                        "{} {:?} {:?} {:?} {:?}",
                        text(rule, "id"),
                        inner("filter", "prefix"),
                        inner("expiration", "days"),
                        inner("noncurrent_version_expiration", "noncurrent_days"),
                        inner("abort_incomplete_multipart_upload", "days_after_initiation"),
                    )
                })
                .collect();
        }
        "aws_s3_bucket_notification" => {
            bucket.notifications = nested(body, "lambda_function")
                .flat_map(|function| {
                    let arn = text(function, "lambda_function_arn");
                    let prefix = number(function, "filter_prefix").unwrap_or_default();
                    let suffix = number(function, "filter_suffix").unwrap_or_default();
                    tf_list(attr(function, "events").unwrap())
                        .into_iter()
                        .map(move |event| (arn.clone(), event, prefix.clone(), suffix.clone()))
                })
                .collect();
        }
        "aws_s3_bucket_policy" => {}
        other => panic!("unexpected bucket resource {other}"),
    }
}
