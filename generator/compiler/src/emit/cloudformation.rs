//! CloudFormation: the [`Infrastructure`] printed as data with long-form intrinsics
//! (`Fn::Sub`, `Ref`, `Fn::GetAtt`) and serialized once, so no YAML quoting bug can slip in.

use serde_json::{Map, Value as Json, json};

use crate::ir::{
    Billing, CacheModel, Encryption, Index, KeyAttribute, NamePart, NameTemplate, ProjectionType,
    RedisUrl, SkipCheck, Table,
};
use crate::model::dashboard;
use crate::model::{
    AlarmResource, BucketResource, BucketSettings, ConsumerResources, Dashboard, FunctionResource,
    FunctionRole, Infrastructure, Lifecycle, Metric, Notifications, ParameterKind, Query,
    RedisResource, Resources, Roles, Statement, Statistic, TREAT_MISSING_DATA, TableResource,
    Value,
};

/// The CloudFormation template, as YAML text.
pub fn render(model: &CacheModel, spec_name: &str) -> String {
    render_template(model, spec_name, &template(model))
}

/// `template` (this module's [`template`] of `model`), as YAML text.
pub(crate) fn render_template(model: &CacheModel, spec_name: &str, template: &Json) -> String {
    super::yaml_document(&header(model, spec_name), template)
}

fn header(model: &CacheModel, spec_name: &str) -> String {
    let generated = super::generated_line(spec_name);
    format!(
        "# {generated}\n\
         # Spec fingerprint: {}\n",
        model.fingerprint
    )
}

/// The template as data.
pub fn template(model: &CacheModel) -> Json {
    let infrastructure = Infrastructure::new(model, Roles::Created);
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), "2010-09-09".into());
    template.insert(
        "Description".into(),
        infrastructure.description.as_str().into(),
    );
    // Without a function, nothing reads the parameters only functions' environment does.
    let mut parameters = parameters(&infrastructure);
    if infrastructure.functions.is_empty() {
        for parameter in &infrastructure.parameters {
            if parameter.functions_only {
                parameters.remove(parameter.name);
            }
        }
    }
    if !parameters.is_empty() {
        template.insert("Parameters".into(), Json::Object(parameters));
    }
    template.insert("Resources".into(), Json::Object(resources(&infrastructure)));
    let outputs = outputs(&infrastructure);
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Json::Object(outputs));
    }
    Json::Object(template)
}

/// Template parameters.
pub fn parameters(infrastructure: &Infrastructure<'_>) -> Map<String, Json> {
    infrastructure
        .parameters
        .iter()
        .map(|parameter| {
            let mut value = Map::new();
            value.insert("Type".into(), parameter.kind.cloudformation_type().into());
            if let Some(default) = parameter.default {
                value.insert("Default".into(), default.into());
            }
            if !parameter.allowed.is_empty() {
                value.insert("AllowedValues".into(), json!(parameter.allowed));
            }
            if let Some(description) = &parameter.description {
                value.insert("Description".into(), description.as_ref().into());
            }
            if parameter.kind == ParameterKind::HiddenText {
                value.insert("NoEcho".into(), true.into());
            }
            (parameter.name.to_owned(), Json::Object(value))
        })
        .collect()
}

/// Every resource: tables, buckets, each consumer's role and policy, alarms, the dashboard.
pub fn resources(infrastructure: &Infrastructure<'_>) -> Map<String, Json> {
    let mut resources = Map::new();
    for table in &infrastructure.tables {
        resources.insert(
            table.id.logical_id.clone(),
            table_resource(infrastructure, table),
        );
    }
    if let Some(redis) = &infrastructure.redis {
        resources.insert(
            redis.id.logical_id.clone(),
            redis_resource(infrastructure, redis),
        );
    }
    for bucket in &infrastructure.buckets {
        if let Some(settings) = &bucket.created {
            resources.extend(bucket_resources(infrastructure, bucket, settings));
        }
    }
    for consumer in &infrastructure.consumers {
        resources.extend(consumer_resources(infrastructure, consumer));
    }
    for function in &infrastructure.functions {
        resources.insert(
            function.id.logical_id.clone(),
            function_resource(infrastructure, function),
        );
    }
    for alarm in &infrastructure.alarms {
        resources.insert(
            alarm.id.logical_id.clone(),
            alarm_resource(infrastructure, alarm),
        );
    }
    for dashboard in &infrastructure.dashboards {
        resources.insert(
            dashboard.id.logical_id.clone(),
            dashboard_resource(infrastructure, dashboard),
        );
    }
    resources
}

/// `AWS::CloudWatch::Dashboard`.
fn dashboard_resource(infrastructure: &Infrastructure<'_>, dashboard: &Dashboard<'_>) -> Json {
    let table_name = |table: &Table| format!("${{{}}}", table.logical_id);
    let body = dashboard::body(
        infrastructure.model,
        &dashboard.contents,
        &dashboard::References {
            table_name: &table_name,
            region: "${AWS::Region}",
        },
    );
    json!({
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": value(infrastructure, &dashboard.name),
            "DashboardBody": { "Fn::Sub": body.to_string() },
        },
    })
}

/// Checkov's skip list, as resource `Metadata`.
fn checkov_metadata(skips: &[SkipCheck]) -> Json {
    let skip: Vec<Json> = skips
        .iter()
        .map(|skip| json!({ "id": skip.id, "comment": skip.reason }))
        .collect();
    json!({ "checkov": { "skip": skip } })
}

/// Tags, as `[{Key, Value}]`.
fn tags(infrastructure: &Infrastructure<'_>, tags: &[(&str, Value<'_>)]) -> Json {
    tags.iter()
        .map(|(key, tag)| json!({ "Key": key, "Value": value(infrastructure, tag) }))
        .collect()
}

/// `AWS::ElastiCache::ServerlessCache`, deleted with the stack: a cache holds copies.
fn redis_resource(infrastructure: &Infrastructure<'_>, resource: &RedisResource<'_>) -> Json {
    let redis = resource.redis;
    let mut properties = Map::new();
    properties.insert("ServerlessCacheName".into(), name(&redis.cache_name));
    properties.insert("Engine".into(), redis.engine.elasticache_name().into());
    properties.insert(
        "Description".into(),
        format!("Shared store of the {} cache", infrastructure.model.service).into(),
    );
    properties.insert("SubnetIds".into(), json!({ "Ref": resource.subnets }));
    properties.insert(
        "SecurityGroupIds".into(),
        json!({ "Ref": resource.security_groups }),
    );
    if let Some(key) = &redis.kms_key {
        properties.insert("KmsKeyId".into(), name(key));
    }
    properties.insert("Tags".into(), tags(infrastructure, &resource.tags));
    let mut json = json!({
        "Type": "AWS::ElastiCache::ServerlessCache",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
    });
    if !redis.skip_checks.is_empty() {
        json["Metadata"] = checkov_metadata(&redis.skip_checks);
    }
    json["Properties"] = Json::Object(properties);
    json
}

/// `AWS::DynamoDB::Table`, retained on delete and replace.
fn table_resource(infrastructure: &Infrastructure<'_>, resource: &TableResource<'_>) -> Json {
    let table = resource.table;
    let mut properties = Map::new();
    properties.insert("TableName".into(), name(&table.table_name));
    match table.billing {
        Billing::OnDemand => {
            properties.insert("BillingMode".into(), "PAY_PER_REQUEST".into());
        }
        Billing::Provisioned(capacity) => {
            properties.insert("BillingMode".into(), "PROVISIONED".into());
            properties.insert(
                "ProvisionedThroughput".into(),
                json!({ "ReadCapacityUnits": capacity.read, "WriteCapacityUnits": capacity.write }),
            );
        }
    }
    properties.insert(
        "AttributeDefinitions".into(),
        table
            .key_attributes
            .iter()
            .map(|attribute| json!({ "AttributeName": attribute.name, "AttributeType": attribute.kind.to_string() }))
            .collect(),
    );
    properties.insert(
        "KeySchema".into(),
        key_schema(&table.partition_key, table.sort_key.as_ref()),
    );
    if !table.indexes.is_empty() {
        properties.insert(
            "GlobalSecondaryIndexes".into(),
            table.indexes.iter().map(index).collect(),
        );
    }
    properties.insert(
        "TimeToLiveSpecification".into(),
        json!({ "AttributeName": table.ttl_attribute, "Enabled": true }),
    );
    properties.insert("SSESpecification".into(), sse(&table.encryption));
    properties.insert(
        "PointInTimeRecoverySpecification".into(),
        json!({ "PointInTimeRecoveryEnabled": table.point_in_time_recovery }),
    );
    properties.insert(
        "DeletionProtectionEnabled".into(),
        table.deletion_protection.into(),
    );
    properties.insert("Tags".into(), tags(infrastructure, &resource.tags));
    let mut resource = json!({
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    });
    if !table.skip_checks.is_empty() {
        resource["Metadata"] = checkov_metadata(&table.skip_checks);
    }
    resource["Properties"] = Json::Object(properties);
    resource
}

fn key_schema(partition_key: &KeyAttribute, sort_key: Option<&KeyAttribute>) -> Json {
    std::iter::once(json!({ "AttributeName": partition_key.name, "KeyType": "HASH" }))
        .chain(sort_key.map(|key| json!({ "AttributeName": key.name, "KeyType": "RANGE" })))
        .collect()
}

fn index(index: &Index) -> Json {
    let mut projection = Map::new();
    projection.insert(
        "ProjectionType".into(),
        index.projection.dynamodb_name().into(),
    );
    if index.projection == ProjectionType::Include {
        projection.insert("NonKeyAttributes".into(), json!(index.projected_attributes));
    }
    let mut value = Map::new();
    value.insert("IndexName".into(), index.name.as_str().into());
    value.insert(
        "KeySchema".into(),
        key_schema(&index.partition_key, index.sort_key.as_ref()),
    );
    value.insert("Projection".into(), Json::Object(projection));
    if let Some(capacity) = index.capacity {
        value.insert(
            "ProvisionedThroughput".into(),
            json!({ "ReadCapacityUnits": capacity.read, "WriteCapacityUnits": capacity.write }),
        );
    }
    Json::Object(value)
}

fn sse(encryption: &Encryption) -> Json {
    match encryption {
        Encryption::AwsOwned => json!({ "SSEEnabled": false }),
        Encryption::AwsManaged => json!({ "SSEEnabled": true, "SSEType": "KMS" }),
        Encryption::KmsKey(key) => {
            json!({ "SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": name(key) })
        }
    }
}

/// A created bucket and what comes with it: the bucket (retained), the invoke permission
/// of its sync function, and its TLS-only policy.
fn bucket_resources(
    infrastructure: &Infrastructure<'_>,
    resource: &BucketResource<'_>,
    settings: &BucketSettings<'_>,
) -> Vec<(String, Json)> {
    let bucket = resource.bucket;
    let mut properties = Map::new();
    properties.insert("BucketName".into(), name(&bucket.bucket_name));
    let encryption = &settings.encryption;
    let mut by_default = json!({ "SSEAlgorithm": encryption.algorithm });
    if let Some(key) = encryption.kms_key {
        by_default["KMSMasterKeyID"] = name(key);
    }
    properties.insert(
        "BucketEncryption".into(),
        json!({ "ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": by_default,
            "BucketKeyEnabled": encryption.bucket_key,
        }] }),
    );
    let public_access = settings.public_access;
    properties.insert(
        "PublicAccessBlockConfiguration".into(),
        json!({
            "BlockPublicAcls": public_access.block_public_acls,
            "BlockPublicPolicy": public_access.block_public_policy,
            "IgnorePublicAcls": public_access.ignore_public_acls,
            "RestrictPublicBuckets": public_access.restrict_public_buckets,
        }),
    );
    properties.insert(
        "OwnershipControls".into(),
        json!({ "Rules": [{ "ObjectOwnership": settings.object_ownership }] }),
    );
    properties.insert(
        "LifecycleConfiguration".into(),
        lifecycle_configuration(settings),
    );
    properties.insert(
        "VersioningConfiguration".into(),
        json!({ "Status": if bucket.versioning { "Enabled" } else { "Suspended" } }),
    );
    let mut resources = Vec::new();
    let mut depends_on = Vec::new();
    if let Some(notifications) = &settings.notifications {
        let function = value(infrastructure, &notifications.function);
        properties.insert(
            "NotificationConfiguration".into(),
            json!({ "LambdaConfigurations": lambda_configurations(notifications, &function) }),
        );
        // S3 checks it may invoke the function when the notification is set, so the
        // permission comes first.
        let permission = invoke_permission(resource, notifications, function);
        depends_on.push(permission.0.clone());
        resources.push(permission);
    }
    properties.insert("Tags".into(), tags(infrastructure, &settings.tags));
    let mut bucket_resource = json!({
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    });
    if !depends_on.is_empty() {
        bucket_resource["DependsOn"] = json!(depends_on);
    }
    if !bucket.skip_checks.is_empty() {
        bucket_resource["Metadata"] = checkov_metadata(&bucket.skip_checks);
    }
    bucket_resource["Properties"] = Json::Object(properties);
    resources.insert(0, (resource.id.logical_id.clone(), bucket_resource));
    resources.push(tls_policy(infrastructure, resource, settings));
    resources
}

/// A created bucket's lifecycle rules.
fn lifecycle_configuration(settings: &BucketSettings<'_>) -> Json {
    let rules: Vec<Json> = settings
        .lifecycle_rules
        .iter()
        .map(|rule| match &rule.action {
            Lifecycle::AbortUploads { days } => json!({
                "Id": rule.id,
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": days },
            }),
            Lifecycle::Expire {
                prefix,
                days,
                noncurrent_days,
            } => json!({
                "Id": rule.id,
                "Status": "Enabled",
                "Prefix": prefix,
                "ExpirationInDays": days,
                "NoncurrentVersionExpiration": { "NoncurrentDays": noncurrent_days },
            }),
        })
        .collect();
    json!({ "Rules": rules })
}

/// One Lambda notification per event and filter.
fn lambda_configurations(notifications: &Notifications<'_>, function: &Json) -> Vec<Json> {
    notifications
        .filters
        .iter()
        .flat_map(|filter| {
            let mut rules = Vec::new();
            if !filter.prefix.is_empty() {
                rules.push(json!({ "Name": "prefix", "Value": filter.prefix }));
            }
            if !filter.suffix.is_empty() {
                rules.push(json!({ "Name": "suffix", "Value": filter.suffix }));
            }
            notifications.events.iter().map(move |event| {
                let mut configuration = json!({ "Event": event, "Function": function });
                if !rules.is_empty() {
                    configuration["Filter"] = json!({ "S3Key": { "Rules": rules } });
                }
                configuration
            })
        })
        .collect()
}

/// S3's permission to invoke the sync function. It names the bucket by its ARN text, not a
/// reference to the bucket, which would be a cycle.
fn invoke_permission(
    resource: &BucketResource<'_>,
    notifications: &Notifications<'_>,
    function: Json,
) -> (String, Json) {
    let bucket = resource.bucket;
    (
        notifications.permission.logical_id.clone(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": function,
                "Principal": "s3.amazonaws.com",
                "SourceAccount": { "Ref": "AWS::AccountId" },
                "SourceArn": { "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::{}", sub_text(&bucket.bucket_name)) },
            },
        }),
    )
}

/// The bucket policy refusing requests without TLS.
fn tls_policy(
    infrastructure: &Infrastructure<'_>,
    resource: &BucketResource<'_>,
    settings: &BucketSettings<'_>,
) -> (String, Json) {
    let policy = &settings.tls_policy;
    let policy_resources: Vec<Json> = policy
        .resources
        .iter()
        .map(|resource| value(infrastructure, resource))
        .collect();
    (
        policy.id.logical_id.clone(),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": { "Ref": resource.id.logical_id },
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": policy.sid,
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": policy_resources,
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                    }],
                },
            },
        }),
    )
}

/// A created sync function: `AWS::Lambda::Function` running as its consumer's created
/// role, or in SAM `AWS::Serverless::Function` with the consumer's policies (and its env
/// vars from `Globals`). Neither has SAM `Events`: the bucket sets its own notifications.
fn function_resource(infrastructure: &Infrastructure<'_>, resource: &FunctionResource<'_>) -> Json {
    let function = resource.function;
    let mut properties = Map::new();
    properties.insert("Description".into(), resource.description.as_str().into());
    properties.insert("Handler".into(), function.handler.as_str().into());
    properties.insert("Runtime".into(), function.runtime.as_str().into());
    properties.insert("Architectures".into(), json!([function.architecture]));
    properties.insert("MemorySize".into(), function.memory_mb.into());
    properties.insert("Timeout".into(), function.timeout_secs.into());
    let (bucket, key) = (name(&function.code_bucket), name(&function.code_key));
    let kind = match &resource.role {
        FunctionRole::Created(role) => {
            properties.insert("Code".into(), json!({ "S3Bucket": bucket, "S3Key": key }));
            properties.insert("Role".into(), value(infrastructure, &Value::RoleArn(*role)));
            let variables: Map<String, Json> = resource
                .environment
                .iter()
                .map(|(env_var, text)| ((*env_var).to_owned(), value(infrastructure, text)))
                .collect();
            properties.insert("Environment".into(), json!({ "Variables": variables }));
            properties.insert("Tags".into(), tags(infrastructure, &resource.tags));
            "AWS::Lambda::Function"
        }
        FunctionRole::SamPolicies(policies) => {
            properties.insert("CodeUri".into(), json!({ "Bucket": bucket, "Key": key }));
            let policies: Vec<Json> = policies
                .iter()
                .map(|policy| value(infrastructure, policy))
                .collect();
            properties.insert("Policies".into(), json!(policies));
            let tags: Map<String, Json> = resource
                .tags
                .iter()
                .map(|(key, tag)| ((*key).to_owned(), value(infrastructure, tag)))
                .collect();
            properties.insert("Tags".into(), Json::Object(tags));
            "AWS::Serverless::Function"
        }
    };
    let mut function_resource = json!({ "Type": kind });
    if !function.skip_checks.is_empty() {
        function_resource["Metadata"] = checkov_metadata(&function.skip_checks);
    }
    function_resource["Properties"] = Json::Object(properties);
    function_resource
}

/// A consumer's created role, if any, and its cache policy.
fn consumer_resources(
    infrastructure: &Infrastructure<'_>,
    consumer: &ConsumerResources<'_>,
) -> Vec<(String, Json)> {
    let mut resources = Vec::new();
    if let Some(role) = consumer.role.map(|role| infrastructure.role(role)) {
        let managed: Vec<Json> = role
            .managed_policies
            .iter()
            .map(|policy| value(infrastructure, &Value::AwsManagedPolicy(policy)))
            .collect();
        resources.push((
            role.id.logical_id.clone(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Description": role.description,
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "Service": "lambda.amazonaws.com" },
                            "Action": "sts:AssumeRole",
                        }],
                    },
                    "ManagedPolicyArns": managed,
                },
            }),
        ));
    }
    for policy in &consumer.policies {
        let mut properties = Map::new();
        properties.insert("Description".into(), policy.description.as_str().into());
        if let Some(role) = &policy.attach_to {
            properties.insert("Roles".into(), json!([value(infrastructure, role)]));
        }
        properties.insert(
            "PolicyDocument".into(),
            policy_document(infrastructure, &policy.statements),
        );
        resources.push((
            policy.id.logical_id.clone(),
            json!({ "Type": "AWS::IAM::ManagedPolicy", "Properties": properties }),
        ));
    }
    resources
}

/// An IAM policy document of `Allow` statements.
fn policy_document(infrastructure: &Infrastructure<'_>, statements: &[Statement<'_>]) -> Json {
    let statements: Vec<Json> = statements
        .iter()
        .map(|statement| {
            let resource = match &statement.resources {
                Resources::One(one) => value(infrastructure, one),
                Resources::Each(each) => each
                    .iter()
                    .map(|resource| value(infrastructure, resource))
                    .collect(),
            };
            json!({
                "Sid": statement.sid,
                "Effect": "Allow",
                "Action": statement.actions,
                "Resource": resource,
            })
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// `AWS::CloudWatch::Alarm`.
fn alarm_resource(infrastructure: &Infrastructure<'_>, resource: &AlarmResource<'_>) -> Json {
    let alarm = resource.alarm;
    let mut properties = Map::new();
    properties.insert("AlarmName".into(), value(infrastructure, &resource.name));
    properties.insert("AlarmDescription".into(), text(&alarm.description));
    match &resource.query {
        Query::Metric(metric) => {
            properties.insert("Namespace".into(), metric.namespace.into());
            properties.insert("MetricName".into(), metric.name.into());
            properties.insert("Dimensions".into(), dimensions(infrastructure, metric));
            match metric.statistic {
                Statistic::Extended(name) => {
                    properties.insert("ExtendedStatistic".into(), name.into());
                }
                Statistic::Standard(name) => {
                    properties.insert("Statistic".into(), name.into());
                }
            }
            properties.insert("Period".into(), alarm.period_secs.into());
        }
        Query::Math {
            expression,
            label,
            metrics,
        } => {
            let result = json!({ "Id": "result", "Expression": expression, "Label": label, "ReturnData": true });
            let inputs = metrics.iter().map(|(id, metric)| {
                json!({
                    "Id": id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": metric.namespace,
                            "MetricName": metric.name,
                            "Dimensions": dimensions(infrastructure, metric),
                        },
                        "Period": alarm.period_secs,
                        "Stat": metric.statistic.name(),
                    },
                    "ReturnData": false,
                })
            });
            properties.insert(
                "Metrics".into(),
                std::iter::once(result).chain(inputs).collect(),
            );
        }
    }
    properties.insert(
        "ComparisonOperator".into(),
        resource.comparison.to_string().into(),
    );
    properties.insert("Threshold".into(), json!(alarm.threshold));
    properties.insert("EvaluationPeriods".into(), alarm.evaluation_periods.into());
    properties.insert("TreatMissingData".into(), TREAT_MISSING_DATA.into());
    if !resource.actions.is_empty() {
        properties.insert(
            "AlarmActions".into(),
            resource
                .actions
                .iter()
                .map(|action| value(infrastructure, action))
                .collect(),
        );
    }
    json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": properties })
}

fn dimensions(infrastructure: &Infrastructure<'_>, metric: &Metric<'_>) -> Json {
    metric
        .dimensions
        .iter()
        .map(|(name, dimension)| json!({ "Name": name, "Value": value(infrastructure, dimension) }))
        .collect()
}

/// Outputs, each exported as `<stack>-<id>`.
pub fn outputs(infrastructure: &Infrastructure<'_>) -> Map<String, Json> {
    infrastructure
        .outputs
        .iter()
        .map(|output| {
            let id = &output.id.logical_id;
            let export = json!({ "Name": { "Fn::Sub": format!("${{AWS::StackName}}-{id}") } });
            (
                id.clone(),
                json!({
                    "Description": output.description,
                    "Value": value(infrastructure, &output.value),
                    "Export": export,
                }),
            )
        })
        .collect()
}

/// A [`Value`] as CloudFormation reads it.
pub fn value(infrastructure: &Infrastructure<'_>, value: &Value<'_>) -> Json {
    match value {
        Value::Text(text) => name(text),
        Value::TableName(table) => json!({ "Ref": infrastructure.table(*table).id.logical_id }),
        Value::TableArn(table) => {
            json!({ "Fn::GetAtt": [infrastructure.table(*table).id.logical_id, "Arn"] })
        }
        Value::IndexArn(table, index) => json!({
            "Fn::Sub": format!("${{{}.Arn}}/index/{index}", infrastructure.table(*table).id.logical_id)
        }),
        Value::BucketName(bucket) => {
            let resource = infrastructure.bucket(*bucket);
            if resource.created.is_some() {
                json!({ "Ref": resource.id.logical_id })
            } else {
                name(&resource.bucket.bucket_name)
            }
        }
        Value::BucketArn(bucket) => {
            json!({ "Fn::GetAtt": [infrastructure.bucket(*bucket).id.logical_id, "Arn"] })
        }
        Value::BucketObjects(bucket) => {
            json!({ "Fn::Sub": format!("${{{}.Arn}}/*", infrastructure.bucket(*bucket).id.logical_id) })
        }
        Value::ObjectsArn(bucket, prefix) => {
            let resource = infrastructure.bucket(*bucket);
            let bucket_name = if !infrastructure.names_bucket_by_text(*bucket) {
                format!("${{{}}}", resource.id.logical_id)
            } else {
                sub_text(&resource.bucket.bucket_name)
            };
            json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::{bucket_name}/{prefix}*") })
        }
        Value::PolicyArn(consumer, part) => {
            json!({ "Ref": infrastructure.consumer(*consumer).policies[*part].id.logical_id })
        }
        Value::RoleArn(role) => {
            json!({ "Fn::GetAtt": [infrastructure.role(*role).id.logical_id, "Arn"] })
        }
        Value::RoleName(role) => json!({ "Ref": infrastructure.role(*role).id.logical_id }),
        // `Roles` takes names: `arn:aws:iam::123456789012:role/name` -> `name`.
        Value::RoleNameOfArn(parameter) => json!({
            "Fn::Select": [1, { "Fn::Split": [":role/", { "Ref": parameter }] }]
        }),
        Value::AwsManagedPolicy(path) => {
            json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:iam::aws:policy/{path}") })
        }
        // `arn:aws:lambda:<region>:<account>:function:<name>`: the name is the seventh part.
        Value::FunctionNameOfArn(arn) => json!({
            "Fn::Select": [6, { "Fn::Split": [":", name(arn)] }]
        }),
        Value::RedisAddress => {
            json!({ "Fn::GetAtt": [redis_id(infrastructure), "Endpoint.Address"] })
        }
        Value::RedisPort => json!({ "Fn::GetAtt": [redis_id(infrastructure), "Endpoint.Port"] }),
        Value::RedisUrl => {
            let id = redis_id(infrastructure);
            json!({ "Fn::Sub": format!("rediss://${{{id}.Endpoint.Address}}:${{{id}.Endpoint.Port}}") })
        }
        Value::GivenRedisUrl(RedisUrl::Parameter(parameter)) => json!({ "Ref": parameter }),
        // A dynamic reference, which CloudFormation resolves as it deploys the stack.
        Value::GivenRedisUrl(RedisUrl::Secret { secret, key }) => {
            let key = key.as_ref().map_or(String::new(), |key| format!(":{key}"));
            let reference =
                |secret: &str| format!("{{{{resolve:secretsmanager:{secret}:SecretString{key}}}}}");
            match secret.literal() {
                Some(secret) => reference(secret).into(),
                None => json!({ "Fn::Sub": reference(&sub_text(secret)) }),
            }
        }
        Value::FunctionArn(bucket) => {
            json!({ "Fn::GetAtt": [infrastructure.function(*bucket).id.logical_id, "Arn"] })
        }
        Value::FunctionName(bucket) => {
            json!({ "Ref": infrastructure.function(*bucket).id.logical_id })
        }
    }
}

/// Logical ID of the created Redis, which a Redis value names.
fn redis_id<'i>(infrastructure: &'i Infrastructure<'_>) -> &'i str {
    let redis = infrastructure.redis.as_ref();
    &redis
        .expect("Redis values name the created Redis")
        .id
        .logical_id
}

/// A name as CloudFormation reads it: plain text, `Fn::Sub` when it has references (a
/// literal `${` written `${!` there), or [`text`] when it is literal text.
fn name(template: &NameTemplate) -> Json {
    match template.0.as_slice() {
        [NamePart::Parameter(parameter)] => json!({ "Ref": parameter }),
        _ => match template.literal() {
            Some(literal) => text(literal),
            None => json!({ "Fn::Sub": sub_text(template) }),
        },
    }
}

/// Literal text: plain, unless it holds a `${`, which cfn-lint would read as a reference
/// outside `Fn::Sub` (E1029), and which `Fn::Sub` without a variable would draw a warning
/// for (W1020): then it is joined from pieces split between each `$` and its `{`.
fn text(literal: &str) -> Json {
    if !literal.contains("${") {
        return literal.into();
    }
    let segments: Vec<&str> = literal.split("${").collect();
    let last = segments.len() - 1;
    let pieces: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            let open = if index == 0 { "" } else { "{" };
            let close = if index == last { "" } else { "$" };
            format!("{open}{segment}{close}")
        })
        .collect();
    json!({ "Fn::Join": ["", pieces] })
}

/// `literal` inside `Fn::Sub` text: `${` is written `${!`, which `Fn::Sub` turns back.
fn sub_literal(literal: &str) -> String {
    literal.replace("${", "${!")
}

/// A name template as `Fn::Sub` text.
fn sub_text(template: &NameTemplate) -> String {
    template
        .0
        .iter()
        .map(|part| match part {
            NamePart::Literal(text) => sub_literal(text),
            NamePart::Parameter(name) => format!("${{{name}}}"),
            NamePart::StackName => "${AWS::StackName}".into(),
            NamePart::Region => "${AWS::Region}".into(),
            NamePart::AccountId => "${AWS::AccountId}".into(),
        })
        .collect()
}
