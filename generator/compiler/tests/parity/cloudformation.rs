//! A CloudFormation or SAM template read back into [`Declared`].

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use serde_json::Value;

use super::declared::{
    AlarmDecl, BucketDecl, Declared, FunctionDecl, MetricDecl, RedisDecl, TableDecl, bucket_stem,
    insert_dashboard, table_stem,
};

/// A CloudFormation value as normalised text: `${param}`, `table:stem`, `arn:stem/...`.
pub(crate) fn cfn_text(value: &Value) -> String {
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

pub(crate) fn from_cloudformation(text: &str) -> Declared {
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
