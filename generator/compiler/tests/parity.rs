//! The CloudFormation, SAM and Terraform outputs of every example declare the same cache:
//! tables, keys, GSIs with projections, TTL, billing, encryption, PITR, deletion
//! protection, tags and checkov skips; IAM actions and resources per consumer; alarms
//! with their metrics, dimensions, statistics, thresholds and periods; the dashboard body;
//! and in SAM and Terraform, the environment every function is given.
//!
//! Each output is parsed back (YAML, HCL) and normalised into [`Declared`], so a change in
//! one emitter that the others do not make fails here.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;
use hcl::{Body, Expression, ObjectKey};
use heck::ToSnakeCase;
use serde_json::Value;
use support::file;

/// A GSI: keys, projection type, sorted non-key attributes, capacity.
type IndexDecl = (Vec<(String, String)>, String, Vec<String>, Option<String>);

/// One table, as a template declares it; names are in `${parameter}` form.
#[derive(Debug, PartialEq)]
struct TableDecl {
    name: String,
    keys: Vec<(String, String)>,
    attributes: BTreeMap<String, String>,
    indexes: BTreeMap<String, IndexDecl>,
    ttl: String,
    billing: String,
    encryption: String,
    point_in_time_recovery: bool,
    deletion_protection: bool,
    tags: BTreeMap<String, String>,
    skips: BTreeSet<String>,
}

/// One created bucket and what comes with it, as a template declares it.
#[derive(Debug, Default, PartialEq)]
struct BucketDecl {
    name: String,
    /// Algorithm, key (if any), bucket key.
    encryption: (String, Option<String>, bool),
    versioning: String,
    /// All four blocks on.
    public_access_blocked: bool,
    ownership: String,
    /// `id prefix expiration-days noncurrent-days abort-days` per rule.
    lifecycle: BTreeSet<String>,
    /// (function, event, prefix, suffix).
    notifications: BTreeSet<(String, String, String, String)>,
    /// (function, principal, source ARN, source account) of the invoke permission.
    permission: Option<(String, String, String, String)>,
    /// A policy denying requests without TLS.
    tls_only: bool,
    tags: BTreeMap<String, String>,
    skips: BTreeSet<String>,
}

/// A sync function the template creates, as a template declares it.
#[derive(Debug, PartialEq)]
struct FunctionDecl {
    handler: String,
    runtime: String,
    architectures: Vec<String>,
    memory: String,
    timeout: String,
    /// Bucket and key of the zip.
    code: (String, String),
    environment: BTreeMap<String, String>,
    skips: BTreeSet<String>,
}

/// One metric an alarm reads.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MetricDecl {
    id: String,
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
    stat: String,
    period: String,
}

/// One alarm, keyed by its name without the stack prefix.
#[derive(Debug, PartialEq)]
struct AlarmDecl {
    comparison: String,
    threshold: String,
    evaluation_periods: String,
    expression: Option<String>,
    metrics: BTreeSet<MetricDecl>,
}

/// A created Redis (ElastiCache Serverless), as a template declares it.
#[derive(Debug, PartialEq)]
struct RedisDecl {
    name: String,
    engine: String,
    description: String,
    subnets: String,
    security_groups: String,
    kms_key: Option<String>,
    tags: BTreeMap<String, String>,
    skips: BTreeSet<String>,
}

/// Everything the parity test compares.
#[derive(Debug, PartialEq)]
struct Declared {
    redis: Option<RedisDecl>,
    /// By logical stem (`query_cache`).
    tables: BTreeMap<String, TableDecl>,
    /// By logical stem (`documents`).
    buckets: BTreeMap<String, BucketDecl>,
    /// Consumer (`query_handler`) -> (action, resource) pairs.
    grants: BTreeMap<String, BTreeSet<(String, String)>>,
    /// Created sync functions, by bucket stem (`documents`).
    functions: BTreeMap<String, FunctionDecl>,
    alarms: BTreeMap<String, AlarmDecl>,
    /// The dashboard bodies, with table names and the region normalised, by the heading
    /// each opens with.
    dashboards: BTreeMap<String, Value>,
}

// ---------- CloudFormation and SAM ----------

/// `QueryCacheTable` -> `query_cache`.
fn table_stem(logical_id: &str) -> String {
    logical_id.trim_end_matches("Table").to_snake_case()
}

/// `DocumentsBucket` -> `documents`, for bucket logical IDs.
fn bucket_stem(logical_id: &str) -> Option<String> {
    logical_id
        .strip_suffix("Bucket")
        .map(|stem| stem.to_snake_case())
}

/// A CloudFormation value as normalised text: `${param}`, `table:stem`, `arn:stem/...`.
fn cfn_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.as_f64().unwrap().to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Object(map) => {
            if let Some(Value::String(id)) = map.get("Ref") {
                if id.starts_with("AWS::") {
                    format!("${{{id}}}")
                } else if let Some(stem) = bucket_stem(id) {
                    format!("bucket:{stem}")
                } else if let Some(stem) = id.strip_suffix("SyncFunction") {
                    format!("function-name:{}", stem.to_snake_case())
                } else if id.ends_with("Table") {
                    format!("name:{}", table_stem(id))
                } else {
                    format!("${{{}}}", id.to_snake_case())
                }
            } else if let Some(Value::Array(parts)) = map.get("Fn::GetAtt") {
                let id = parts[0].as_str().unwrap();
                if let Some(stem) = id.strip_suffix("SyncFunction") {
                    return format!("function-arn:{}", stem.to_snake_case());
                }
                match bucket_stem(id) {
                    Some(stem) => format!("bucket-arn:{stem}"),
                    None => format!("arn:{}", table_stem(id)),
                }
            } else if let Some(Value::String(text)) = map.get("Fn::Sub") {
                normalise_sub(text)
            } else if let Some(select) = map.get("Fn::Select") {
                // A function's name cut from its ARN: `Fn::Select [6, Fn::Split [":", arn]]`.
                let split = &select[1]["Fn::Split"];
                assert_eq!(
                    (&select[0], &split[0]),
                    (&Value::from(6), &Value::from(":"))
                );
                format!("function-name:{}", cfn_text(&split[1]))
            } else {
                panic!("unexpected intrinsic {value}")
            }
        }
        other => panic!("unexpected value {other}"),
    }
}

/// `${QueryCacheTable.Arn}/index/x` -> `arn:query_cache/index/x`; `${AWS::StackName}` stays.
fn normalise_sub(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let reference = &rest[start + 2..end];
        match reference.strip_suffix(".Arn") {
            Some(id) => match bucket_stem(id) {
                Some(stem) => out.push_str(&format!("bucket-arn:{stem}")),
                None => out.push_str(&format!("arn:{}", table_stem(id))),
            },
            None if bucket_stem(reference).is_some() => {
                out.push_str(&format!("bucket:{}", bucket_stem(reference).unwrap()));
            }
            None if reference.starts_with("AWS::") => out.push_str(&format!("${{{reference}}}")),
            None if reference.ends_with("Table") => {
                out.push_str(&format!("name:{}", table_stem(reference)));
            }
            None => out.push_str(&format!("${{{}}}", reference.to_snake_case())),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.replace("arn:${AWS::Partition}:s3:::bucket:", "bucket-arn:")
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(cfn_text).collect(),
        single => vec![cfn_text(single)],
    }
}

fn cfn_keys(schema: &Value) -> Vec<(String, String)> {
    schema
        .as_array()
        .unwrap()
        .iter()
        .map(|key| (cfn_text(&key["AttributeName"]), cfn_text(&key["KeyType"])))
        .collect()
}

fn cfn_capacity(throughput: &Value) -> Option<String> {
    (!throughput.is_null()).then(|| {
        format!(
            "{}/{}",
            throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]
        )
    })
}

fn cfn_tags(properties: &Value) -> BTreeMap<String, String> {
    properties["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| (cfn_text(&tag["Key"]), cfn_text(&tag["Value"])))
        .collect()
}

/// The checkov checks a resource's `Metadata` skips.
fn cfn_skips(resource: &Value) -> BTreeSet<String> {
    resource["Metadata"]["checkov"]["skip"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|skip| cfn_text(&skip["id"]))
        .collect()
}

fn cfn_table(resource: &Value) -> TableDecl {
    let p = &resource["Properties"];
    let billing = match cfn_capacity(&p["ProvisionedThroughput"]) {
        Some(capacity) => format!("PROVISIONED {capacity}"),
        None => cfn_text(&p["BillingMode"]),
    };
    let sse = &p["SSESpecification"];
    let encryption = match (sse["SSEEnabled"].as_bool().unwrap(), &sse["KMSMasterKeyId"]) {
        (false, _) => "aws_owned".to_owned(),
        (true, Value::Null) => "aws_managed".to_owned(),
        (true, key) => format!("kms:{}", cfn_text(key)),
    };
    TableDecl {
        name: cfn_text(&p["TableName"]),
        keys: cfn_keys(&p["KeySchema"]),
        attributes: p["AttributeDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (cfn_text(&a["AttributeName"]), cfn_text(&a["AttributeType"])))
            .collect(),
        indexes: p["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|index| {
                let projection = &index["Projection"];
                let mut non_key = projection
                    .get("NonKeyAttributes")
                    .map(strings)
                    .unwrap_or_default();
                non_key.sort();
                (
                    cfn_text(&index["IndexName"]),
                    (
                        cfn_keys(&index["KeySchema"]),
                        cfn_text(&projection["ProjectionType"]),
                        non_key,
                        cfn_capacity(&index["ProvisionedThroughput"]),
                    ),
                )
            })
            .collect(),
        ttl: cfn_text(&p["TimeToLiveSpecification"]["AttributeName"]),
        billing,
        encryption,
        point_in_time_recovery: p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
            .as_bool()
            .unwrap(),
        deletion_protection: p["DeletionProtectionEnabled"].as_bool().unwrap(),
        tags: cfn_tags(p),
        skips: cfn_skips(resource),
    }
}

fn cfn_bucket(resource: &Value) -> BucketDecl {
    let p = &resource["Properties"];
    let rule = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    let by_default = &rule["ServerSideEncryptionByDefault"];
    let block = &p["PublicAccessBlockConfiguration"];
    let number = |value: &Value| (!value.is_null()).then(|| cfn_text(value));
    BucketDecl {
        name: cfn_text(&p["BucketName"]),
        encryption: (
            cfn_text(&by_default["SSEAlgorithm"]),
            number(&by_default["KMSMasterKeyID"]),
            rule["BucketKeyEnabled"].as_bool().unwrap(),
        ),
        versioning: cfn_text(&p["VersioningConfiguration"]["Status"]),
        public_access_blocked: [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ]
        .iter()
        .all(|key| block[key] == Value::Bool(true)),
        ownership: cfn_text(&p["OwnershipControls"]["Rules"][0]["ObjectOwnership"]),
        lifecycle: p["LifecycleConfiguration"]["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    cfn_text(&rule["Id"]),
                    number(&rule["Prefix"]),
                    number(&rule["ExpirationInDays"]),
                    number(&rule["NoncurrentVersionExpiration"]["NoncurrentDays"]),
                    number(&rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]),
                )
            })
            .collect(),
        notifications: p["NotificationConfiguration"]["LambdaConfigurations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|configuration| {
                let rule = |name: &str| {
                    configuration["Filter"]["S3Key"]["Rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|rule| rule["Name"] == name)
                        .map(|rule| cfn_text(&rule["Value"]))
                        .unwrap_or_default()
                };
                (
                    cfn_text(&configuration["Function"]),
                    cfn_text(&configuration["Event"]),
                    rule("prefix"),
                    rule("suffix"),
                )
            })
            .collect(),
        tags: cfn_tags(p),
        skips: cfn_skips(resource),
        ..BucketDecl::default()
    }
}

fn cfn_dimensions(dimensions: &Value) -> BTreeMap<String, String> {
    dimensions
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (cfn_text(&d["Name"]), cfn_text(&d["Value"])))
        .collect()
}

fn cfn_alarm(resource: &Value) -> (String, AlarmDecl) {
    let p = &resource["Properties"];
    let name = cfn_text(&p["AlarmName"])
        .trim_start_matches("${AWS::StackName}-")
        .to_owned();
    let mut metrics = BTreeSet::new();
    let mut expression = None;
    if let Some(queries) = p["Metrics"].as_array() {
        for query in queries {
            if let Some(text) = query.get("Expression") {
                expression = Some(cfn_text(text));
                continue;
            }
            let stat = &query["MetricStat"];
            metrics.insert(MetricDecl {
                id: cfn_text(&query["Id"]),
                namespace: cfn_text(&stat["Metric"]["Namespace"]),
                name: cfn_text(&stat["Metric"]["MetricName"]),
                dimensions: cfn_dimensions(&stat["Metric"]["Dimensions"]),
                stat: cfn_text(&stat["Stat"]),
                period: cfn_text(&stat["Period"]),
            });
        }
    } else {
        let stat = p.get("ExtendedStatistic").unwrap_or(&p["Statistic"]);
        metrics.insert(MetricDecl {
            id: String::new(),
            namespace: cfn_text(&p["Namespace"]),
            name: cfn_text(&p["MetricName"]),
            dimensions: cfn_dimensions(&p["Dimensions"]),
            stat: cfn_text(stat),
            period: cfn_text(&p["Period"]),
        });
    }
    (
        name,
        AlarmDecl {
            comparison: cfn_text(&p["ComparisonOperator"]),
            threshold: cfn_text(&p["Threshold"]),
            evaluation_periods: cfn_text(&p["EvaluationPeriods"]),
            expression,
            metrics,
        },
    )
}

fn from_cloudformation(text: &str) -> Declared {
    let template: Value = serde_yaml::from_str(text).unwrap();
    let mut declared = Declared {
        redis: None,
        tables: BTreeMap::new(),
        buckets: BTreeMap::new(),
        grants: BTreeMap::new(),
        functions: BTreeMap::new(),
        alarms: BTreeMap::new(),
        dashboards: BTreeMap::new(),
    };
    let resources = template["Resources"].as_object().unwrap();
    for (id, resource) in resources {
        if resource["Type"] == "AWS::S3::Bucket" {
            declared
                .buckets
                .insert(bucket_stem(id).unwrap(), cfn_bucket(resource));
        }
    }
    for (id, resource) in resources {
        match resource["Type"].as_str().unwrap() {
            "AWS::ElastiCache::ServerlessCache" => {
                let p = &resource["Properties"];
                declared.redis = Some(RedisDecl {
                    name: cfn_text(&p["ServerlessCacheName"]),
                    engine: cfn_text(&p["Engine"]),
                    description: cfn_text(&p["Description"]),
                    subnets: cfn_text(&p["SubnetIds"]),
                    security_groups: cfn_text(&p["SecurityGroupIds"]),
                    kms_key: p.get("KmsKeyId").map(cfn_text),
                    tags: cfn_tags(p),
                    skips: cfn_skips(resource),
                });
            }
            "AWS::DynamoDB::Table" => {
                declared.tables.insert(table_stem(id), cfn_table(resource));
            }
            "AWS::S3::BucketPolicy" => {
                let stem = cfn_text(&resource["Properties"]["Bucket"]);
                let statement = &resource["Properties"]["PolicyDocument"]["Statement"][0];
                let bucket = declared
                    .buckets
                    .get_mut(stem.trim_start_matches("bucket:"))
                    .unwrap();
                bucket.tls_only = statement["Effect"] == "Deny"
                    && statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                    && strings(&statement["Resource"]).len() == 2;
            }
            "AWS::Lambda::Permission" => {
                let stem = bucket_stem(id.trim_end_matches("EventsPermission")).unwrap();
                let p = &resource["Properties"];
                let bucket = declared.buckets.get_mut(&stem).unwrap();
                // The permission names the bucket by its ARN text (a reference would be a cycle).
                let source = cfn_text(&p["SourceArn"]);
                let source = if source == format!("arn:${{AWS::Partition}}:s3:::{}", bucket.name) {
                    format!("bucket-arn:{stem}")
                } else {
                    source
                };
                bucket.permission = Some((
                    cfn_text(&p["FunctionName"]),
                    cfn_text(&p["Principal"]),
                    source,
                    cfn_text(&p["SourceAccount"]),
                ));
            }
            "AWS::IAM::ManagedPolicy" => {
                // A policy in parts: `ApiCachePolicy`, `ApiCachePolicy2`...
                let consumer = id
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .trim_end_matches("CachePolicy")
                    .to_snake_case();
                let grants = resource["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|statement| {
                        let resources = strings(&statement["Resource"]);
                        strings(&statement["Action"])
                            .into_iter()
                            .flat_map(move |action| {
                                resources
                                    .clone()
                                    .into_iter()
                                    .map(move |resource| (action.clone(), resource))
                            })
                    })
                    .collect::<Vec<_>>();
                declared.grants.entry(consumer).or_default().extend(grants);
            }
            "AWS::Lambda::Function" | "AWS::Serverless::Function" => {
                let p = &resource["Properties"];
                let (code, bucket, key) = match p.get("Code") {
                    Some(code) => (code, "S3Bucket", "S3Key"),
                    None => (&p["CodeUri"], "Bucket", "Key"),
                };
                // SAM gives every function its env vars through Globals.
                let variables = match p.get("Environment") {
                    Some(environment) => &environment["Variables"],
                    None => &template["Globals"]["Function"]["Environment"]["Variables"],
                };
                declared.functions.insert(
                    id.strip_suffix("SyncFunction").unwrap().to_snake_case(),
                    FunctionDecl {
                        handler: cfn_text(&p["Handler"]),
                        runtime: cfn_text(&p["Runtime"]),
                        architectures: strings(&p["Architectures"]),
                        memory: cfn_text(&p["MemorySize"]),
                        timeout: cfn_text(&p["Timeout"]),
                        code: (cfn_text(&code[bucket]), cfn_text(&code[key])),
                        environment: variables
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(name, value)| (name.clone(), cfn_text(value)))
                            .collect(),
                        skips: cfn_skips(resource),
                    },
                );
            }
            "AWS::CloudWatch::Alarm" => {
                let (name, alarm) = cfn_alarm(resource);
                declared.alarms.insert(name, alarm);
            }
            "AWS::CloudWatch::Dashboard" => {
                let body = cfn_text(&resource["Properties"]["DashboardBody"]);
                insert_dashboard(&mut declared, serde_json::from_str(&body).unwrap());
            }
            _ => {}
        }
    }
    declared
}

// ---------- Terraform ----------

/// An HCL expression as normalised text, in the same forms as [`cfn_text`].
fn tf_text(expression: &Expression) -> String {
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

fn tf_object(expression: &Expression) -> BTreeMap<String, String> {
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

fn attr<'b>(body: &'b Body, key: &str) -> Option<&'b Expression> {
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

fn from_terraform(main: &str) -> Declared {
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

/// Adds a dashboard body, keyed by the heading it opens with (which names its table and
/// page), which every target writes alike.
fn insert_dashboard(declared: &mut Declared, body: Value) {
    let heading = body["widgets"][0]["properties"]["markdown"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        declared.dashboards.insert(heading.clone(), body).is_none(),
        "two dashboards open with {heading}"
    );
}

// ---------- the test ----------

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
