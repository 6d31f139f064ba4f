//! The Terraform module: the [`Infrastructure`] printed as `main.tf` (tables, buckets,
//! IAM, alarms, dashboard), `variables.tf` (the spec's parameters, role inputs and
//! `stack_name`), `outputs.tf` and `versions.tf`.

use heck::ToSnakeCase;

use super::GeneratedFile;
use super::hcl::{self, Block, Item};
use crate::ir::{
    Billing, Bucket, BucketEncryption, CacheModel, Encryption, Index, NamePart, NameTemplate,
    ProjectionType, RedisUrl, SyncFunction, Table,
};
use crate::limits;
use crate::model::dashboard;
use crate::model::{
    self, AlarmResource, BucketResource, BucketSettings, ConsumerResources, Dashboard,
    FunctionResource, FunctionRole, Infrastructure, Lifecycle, Metric, Notifications,
    ParameterKind, Policy, PublicAccessBlock, Query, RedisResource, Roles, Statistic,
    TableResource, TlsPolicy, Value,
};

/// The AWS provider versions the module accepts.
pub const AWS_PROVIDER_VERSION: &str = "~> 5.100";

/// Directory of the module under the output directory.
pub const DIR: &str = "terraform";

/// The module's files.
pub fn files(model: &CacheModel, spec_name: &str) -> Vec<GeneratedFile> {
    let generated = super::generated_line(spec_name);
    let header = format!(
        "# {generated}\n\
         # Spec fingerprint: {}\n",
        model.fingerprint
    );
    let infrastructure = Infrastructure::new(model, Roles::Created);
    [
        ("main.tf", main(&infrastructure)),
        ("variables.tf", variables(&infrastructure)),
        ("outputs.tf", outputs(&infrastructure)),
        ("versions.tf", versions()),
    ]
    .into_iter()
    .map(|(name, blocks)| GeneratedFile {
        path: format!("{DIR}/{name}").into(),
        contents: document(&header, &blocks),
    })
    .collect()
}

fn document(header: &str, blocks: &[Block]) -> String {
    let body: Vec<String> = blocks.iter().map(Block::render).collect();
    format!("{header}\n{}", body.join("\n"))
}

/// Variable name of a spec (or role) parameter.
pub fn variable(parameter: &str) -> String {
    parameter.to_snake_case()
}

/// The data source reading the secret an existing Redis's URL is in.
const REDIS_URL_SECRET: &str = "redis_url";

/// The variable standing in for CloudFormation's stack name.
pub const STACK_NAME: &str = "stack_name";

const REGION: &str = "data.aws_region.current.name";
const ACCOUNT_ID: &str = "data.aws_caller_identity.current.account_id";
const PARTITION: &str = "data.aws_partition.current.partition";

/// An attribute of a table resource (`aws_dynamodb_table.query_cache.arn`).
fn table_ref(resource: &TableResource<'_>, attribute: &str) -> String {
    format!("aws_dynamodb_table.{}.{attribute}", resource.id.terraform)
}

/// A name template as an expression: a bare reference, or a quoted template.
fn name(template: &NameTemplate) -> String {
    let reference = |part: &NamePart| match part {
        NamePart::Literal(_) => None,
        NamePart::Parameter(name) => Some(format!("var.{}", variable(name))),
        NamePart::StackName => Some(format!("var.{STACK_NAME}")),
        NamePart::Region => Some(REGION.to_owned()),
        NamePart::AccountId => Some(ACCOUNT_ID.to_owned()),
    };
    if let [part] = template.0.as_slice()
        && let Some(reference) = reference(part)
    {
        return reference;
    }
    let mut text = String::from('"');
    for part in &template.0 {
        match (part, reference(part)) {
            (NamePart::Literal(literal), _) => {
                let quoted = hcl::string(literal);
                text.push_str(&quoted[1..quoted.len() - 1]);
            }
            (_, Some(reference)) => text.push_str(&format!("${{{reference}}}")),
            (_, None) => unreachable!("only literals have no reference"),
        }
    }
    text.push('"');
    text
}

/// Whether any deploy-time text of the IR names `wanted` (the module reads the account ID
/// from a data source only when something uses it).
fn uses(model: &CacheModel, wanted: &NamePart) -> bool {
    let in_template = |template: &NameTemplate| template.0.contains(wanted);
    let in_bucket = |bucket: &Bucket| {
        in_template(&bucket.bucket_name)
            || bucket.tags.iter().any(|(_, value)| in_template(value))
            || matches!(&bucket.encryption, BucketEncryption::KmsKey(key) if in_template(key))
            || bucket
                .events
                .as_ref()
                .is_some_and(|events| match &events.function {
                    SyncFunction::Arn(arn) => in_template(arn),
                    SyncFunction::Created(function) => {
                        in_template(&function.code_bucket) || in_template(&function.code_key)
                    }
                })
    };
    model.buckets.iter().any(in_bucket)
        || model.tables.iter().any(|table| {
            in_template(&table.table_name)
                || table.tags.iter().any(|(_, value)| in_template(value))
                || matches!(&table.encryption, Encryption::KmsKey(key) if in_template(key))
        })
        || model
            .alarms
            .iter()
            .any(|alarm| alarm.actions.iter().any(in_template))
        || model
            .store
            .redis()
            .and_then(|redis| redis.created.as_ref())
            .is_some_and(|created| {
                in_template(&created.cache_name)
                    || created.kms_key.as_ref().is_some_and(in_template)
                    || created.tags.iter().any(|(_, value)| in_template(value))
            })
        || model
            .store
            .redis()
            .and_then(|redis| redis.url.as_ref())
            .is_some_and(
                |url| matches!(url, RedisUrl::Secret { secret, .. } if in_template(secret)),
            )
}

fn main(infrastructure: &Infrastructure<'_>) -> Vec<Block> {
    let model = infrastructure.model;
    let mut blocks = vec![Block::new("data", &["aws_region", "current"])];
    let has_events = model.buckets.iter().any(|bucket| bucket.events.is_some());
    if has_events || uses(model, &NamePart::AccountId) {
        blocks.push(Block::new("data", &["aws_caller_identity", "current"]));
    }
    let creates_roles = !infrastructure.roles.is_empty();
    let names_existing_buckets = infrastructure
        .buckets
        .iter()
        .any(|bucket| bucket.created.is_none());
    if creates_roles || names_existing_buckets {
        blocks.push(Block::new("data", &["aws_partition", "current"]));
    }
    if creates_roles {
        blocks.push(lambda_assume_role());
    }
    for table in &infrastructure.tables {
        blocks.push(table_block(infrastructure, table));
    }
    if let Some(redis) = &infrastructure.redis {
        blocks.push(redis_block(infrastructure, redis));
    }
    if let Some(RedisUrl::Secret { secret, .. }) = model.store.redis().and_then(|r| r.url.as_ref())
    {
        blocks.push(
            Block::new(
                "data",
                &["aws_secretsmanager_secret_version", REDIS_URL_SECRET],
            )
            .attr("secret_id", name(secret)),
        );
    }
    for bucket in &infrastructure.buckets {
        if let Some(settings) = &bucket.created {
            blocks.extend(bucket_blocks(infrastructure, bucket, settings));
        }
    }
    for consumer in &infrastructure.consumers {
        blocks.extend(consumer_blocks(infrastructure, consumer));
    }
    for function in &infrastructure.functions {
        blocks.push(function_block(infrastructure, function));
    }
    for alarm in &infrastructure.alarms {
        blocks.push(alarm_block(infrastructure, alarm));
    }
    for dashboard in &infrastructure.dashboards {
        blocks.push(dashboard_block(infrastructure, dashboard));
    }
    blocks
}

/// `checkov:skip` comments.
fn skip_comments(block: Block, skips: &[crate::ir::SkipCheck]) -> Block {
    skips.iter().fold(block, |block, skip| {
        block.item(Item::Comment(format!(
            "checkov:skip={}:{}",
            skip.id, skip.reason
        )))
    })
}

/// A `tags = { ... }` object.
fn tags(infrastructure: &Infrastructure<'_>, tags: &[model::Tag<'_>]) -> Item {
    Item::Object(
        "tags".into(),
        tags.iter()
            .map(|(key, tag)| (hcl::key(key), value(infrastructure, tag)))
            .collect(),
    )
}

/// The created Redis: `aws_elasticache_serverless_cache`.
fn redis_block(infrastructure: &Infrastructure<'_>, resource: &RedisResource<'_>) -> Block {
    let redis = resource.redis;
    let mut block = skip_comments(
        Block::new(
            "resource",
            &["aws_elasticache_serverless_cache", &resource.id.terraform],
        ),
        &redis.skip_checks,
    )
    .attr("name", name(&redis.cache_name))
    .attr("engine", hcl::string(redis.engine.elasticache_name()))
    .attr(
        "description",
        hcl::string(&format!(
            "Shared store of the {} cache",
            infrastructure.model.service
        )),
    )
    .attr("subnet_ids", format!("var.{}", variable(resource.subnets)))
    .attr(
        "security_group_ids",
        format!("var.{}", variable(resource.security_groups)),
    );
    if let Some(key) = &redis.kms_key {
        block = block.attr("kms_key_id", name(key));
    }
    block.item(tags(infrastructure, &resource.tags))
}

/// An attribute of the created Redis's endpoint (`aws_elasticache_serverless_cache.redis.endpoint[0].address`).
fn redis_endpoint(infrastructure: &Infrastructure<'_>, attribute: &str) -> String {
    let redis = infrastructure.redis.as_ref();
    let id = &redis.expect("Redis values name the created Redis").id;
    format!(
        "aws_elasticache_serverless_cache.{}.endpoint[0].{attribute}",
        id.terraform
    )
}

fn table_block(infrastructure: &Infrastructure<'_>, resource: &TableResource<'_>) -> Block {
    let table = resource.table;
    let mut block = skip_comments(
        Block::new("resource", &["aws_dynamodb_table", &resource.id.terraform]),
        &table.skip_checks,
    );
    block = block.attr("name", name(&table.table_name));
    block = match table.billing {
        Billing::OnDemand => block.attr("billing_mode", hcl::string("PAY_PER_REQUEST")),
        Billing::Provisioned(capacity) => block
            .attr("billing_mode", hcl::string("PROVISIONED"))
            .attr("read_capacity", capacity.read.to_string())
            .attr("write_capacity", capacity.write.to_string()),
    };
    block = block.attr("hash_key", hcl::string(&table.partition_key.name));
    if let Some(sort_key) = &table.sort_key {
        block = block.attr("range_key", hcl::string(&sort_key.name));
    }
    block = block.attr(
        "deletion_protection_enabled",
        table.deletion_protection.to_string(),
    );
    for attribute in &table.key_attributes {
        block = block.block(
            Block::new("attribute", &[])
                .attr("name", hcl::string(&attribute.name))
                .attr("type", hcl::string(&attribute.kind.to_string())),
        );
    }
    for index in &table.indexes {
        block = block.block(index_block(index));
    }
    block = block
        .block(
            Block::new("ttl", &[])
                .attr("attribute_name", hcl::string(&table.ttl_attribute))
                .attr("enabled", "true"),
        )
        .block(
            Block::new("point_in_time_recovery", &[])
                .attr("enabled", table.point_in_time_recovery.to_string()),
        );
    let sse = Block::new("server_side_encryption", &[]);
    block = block.block(match &table.encryption {
        Encryption::AwsOwned => sse.attr("enabled", "false"),
        Encryption::AwsManaged => sse.attr("enabled", "true"),
        Encryption::KmsKey(key) => sse.attr("enabled", "true").attr("kms_key_arn", name(key)),
    });
    block
        .item(Item::Blank)
        .item(tags(infrastructure, &resource.tags))
}

/// A created bucket (encrypted, versioned, public access blocked, owner-enforced, with a
/// TLS-only policy and its lifecycle rules) and, when a sync function is named, its event
/// notifications and invoke permission.
fn bucket_blocks(
    infrastructure: &Infrastructure<'_>,
    resource: &BucketResource<'_>,
    settings: &BucketSettings<'_>,
) -> Vec<Block> {
    let bucket = resource.bucket;
    let id = &resource.id.terraform;
    let reference = format!("aws_s3_bucket.{id}.id");
    // No `force_destroy`: Terraform refuses to delete a bucket that still holds documents.
    let main = skip_comments(
        Block::new("resource", &["aws_s3_bucket", id]),
        &bucket.skip_checks,
    )
    .attr("bucket", name(&bucket.bucket_name))
    .item(Item::Blank)
    .item(tags(infrastructure, &settings.tags));
    let encryption = &settings.encryption;
    let mut by_default = Block::new("apply_server_side_encryption_by_default", &[])
        .attr("sse_algorithm", hcl::string(encryption.algorithm));
    if let Some(key) = encryption.kms_key {
        by_default = by_default.attr("kms_master_key_id", name(key));
    }
    let policy = &settings.tls_policy;
    let mut blocks = vec![
        main,
        Block::new("resource", &["aws_s3_bucket_versioning", id])
            .attr("bucket", reference.clone())
            .block(Block::new("versioning_configuration", &[]).attr(
                "status",
                hcl::string(if bucket.versioning {
                    "Enabled"
                } else {
                    "Suspended"
                }),
            )),
        Block::new(
            "resource",
            &["aws_s3_bucket_server_side_encryption_configuration", id],
        )
        .attr("bucket", reference.clone())
        .block(
            Block::new("rule", &[])
                .block(by_default)
                .attr("bucket_key_enabled", encryption.bucket_key.to_string()),
        ),
        public_access_block(id, &reference, settings.public_access),
        Block::new("resource", &["aws_s3_bucket_ownership_controls", id])
            .attr("bucket", reference.clone())
            .block(
                Block::new("rule", &[])
                    .attr("object_ownership", hcl::string(settings.object_ownership)),
            ),
        lifecycle_block(resource, settings, &reference),
        Block::new("data", &["aws_iam_policy_document", &policy.document])
            .block(tls_statement(infrastructure, policy)),
        Block::new("resource", &["aws_s3_bucket_policy", &policy.id.terraform])
            .attr("bucket", reference.clone())
            .attr(
                "policy",
                format!("data.aws_iam_policy_document.{}.json", policy.document),
            ),
    ];
    if let Some(notifications) = &settings.notifications {
        blocks.extend(notification_blocks(
            infrastructure,
            id,
            reference,
            notifications,
        ));
    }
    blocks
}

/// The statement of a bucket's policy that refuses requests without TLS.
fn tls_statement(infrastructure: &Infrastructure<'_>, policy: &TlsPolicy<'_>) -> Block {
    let statement = Block::new("statement", &[])
        .attr("sid", hcl::string(policy.sid))
        .attr("effect", hcl::string("Deny"))
        .attr("actions", hcl::list([hcl::string("s3:*")]))
        .attr(
            "resources",
            hcl::list(
                policy
                    .resources
                    .iter()
                    .map(|resource| value(infrastructure, resource)),
            ),
        );
    statement
        .block(
            Block::new("principals", &[])
                .attr("type", hcl::string("*"))
                .attr("identifiers", hcl::list([hcl::string("*")])),
        )
        .block(
            Block::new("condition", &[])
                .attr("test", hcl::string("Bool"))
                .attr("variable", hcl::string("aws:SecureTransport"))
                .attr("values", hcl::list([hcl::string("false")])),
        )
}

/// S3's public access block on the bucket.
fn public_access_block(id: &str, reference: &str, public_access: PublicAccessBlock) -> Block {
    Block::new("resource", &["aws_s3_bucket_public_access_block", id])
        .attr("bucket", reference.to_owned())
        .attr(
            "block_public_acls",
            public_access.block_public_acls.to_string(),
        )
        .attr(
            "block_public_policy",
            public_access.block_public_policy.to_string(),
        )
        .attr(
            "ignore_public_acls",
            public_access.ignore_public_acls.to_string(),
        )
        .attr(
            "restrict_public_buckets",
            public_access.restrict_public_buckets.to_string(),
        )
}

/// The sync function's invoke permission and the bucket's notifications to it.
fn notification_blocks(
    infrastructure: &Infrastructure<'_>,
    id: &str,
    reference: String,
    notifications: &Notifications<'_>,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let permission = &notifications.permission.terraform;
    let function = value(infrastructure, &notifications.function);
    blocks.push(
        Block::new("resource", &["aws_lambda_permission", permission])
            .attr("statement_id", hcl::string(model::INVOKE_STATEMENT_ID))
            .attr("action", hcl::string("lambda:InvokeFunction"))
            .attr("function_name", function.clone())
            .attr("principal", hcl::string("s3.amazonaws.com"))
            .attr("source_arn", format!("aws_s3_bucket.{id}.arn"))
            .attr("source_account", ACCOUNT_ID),
    );
    let mut notification = Block::new("resource", &["aws_s3_bucket_notification", id])
        .attr("bucket", reference)
        .attr(
            "depends_on",
            hcl::list([format!("aws_lambda_permission.{permission}")]),
        );
    for filter in &notifications.filters {
        let mut function = Block::new("lambda_function", &[])
            .attr("lambda_function_arn", function.clone())
            .attr(
                "events",
                hcl::list(notifications.events.iter().map(|event| hcl::string(event))),
            );
        if !filter.prefix.is_empty() {
            function = function.attr("filter_prefix", hcl::string(&filter.prefix));
        }
        if !filter.suffix.is_empty() {
            function = function.attr("filter_suffix", hcl::string(&filter.suffix));
        }
        notification = notification.block(function);
    }
    blocks.push(notification);
    blocks
}

/// The bucket's lifecycle rules.
fn lifecycle_block(
    resource: &BucketResource<'_>,
    settings: &BucketSettings<'_>,
    reference: &str,
) -> Block {
    let block = Block::new(
        "resource",
        &[
            "aws_s3_bucket_lifecycle_configuration",
            &resource.id.terraform,
        ],
    )
    .attr("bucket", reference);
    settings.lifecycle_rules.iter().fold(block, |block, rule| {
        let rule_block = Block::new("rule", &[])
            .attr("id", hcl::string(rule.id))
            .attr("status", hcl::string("Enabled"));
        block.block(match &rule.action {
            Lifecycle::AbortUploads { days } => rule_block.block(Block::new("filter", &[])).block(
                Block::new("abort_incomplete_multipart_upload", &[])
                    .attr("days_after_initiation", days.to_string()),
            ),
            Lifecycle::Expire {
                prefix,
                days,
                noncurrent_days,
            } => rule_block
                .block(Block::new("filter", &[]).attr("prefix", hcl::string(prefix)))
                .block(Block::new("expiration", &[]).attr("days", days.to_string()))
                .block(
                    Block::new("noncurrent_version_expiration", &[])
                        .attr("noncurrent_days", noncurrent_days.to_string()),
                ),
        })
    })
}

fn index_block(index: &Index) -> Block {
    let mut block = Block::new("global_secondary_index", &[])
        .attr("name", hcl::string(&index.name))
        .attr("hash_key", hcl::string(&index.partition_key.name));
    if let Some(sort_key) = &index.sort_key {
        block = block.attr("range_key", hcl::string(&sort_key.name));
    }
    block = block.attr(
        "projection_type",
        hcl::string(index.projection.dynamodb_name()),
    );
    if index.projection == ProjectionType::Include {
        block = block.attr(
            "non_key_attributes",
            hcl::list(index.projected_attributes.iter().map(|a| hcl::string(a))),
        );
    }
    if let Some(capacity) = index.capacity {
        block = block
            .attr("read_capacity", capacity.read.to_string())
            .attr("write_capacity", capacity.write.to_string());
    }
    block
}

/// A created sync function, running as its consumer's created role, named
/// `<stack_name>-<bucket>-sync`. Lambda names are at most 64 characters, so a long stack
/// name is cut, and the bucket's part, which tells a stack's functions apart, kept whole
/// (validation keeps it short enough).
fn function_block(infrastructure: &Infrastructure<'_>, resource: &FunctionResource<'_>) -> Block {
    let function = resource.function;
    let FunctionRole::Created(role) = &resource.role else {
        unreachable!("Terraform creates the consumers' roles");
    };
    let suffix = hcl::string(&resource.name_suffix);
    let environment = resource
        .environment
        .iter()
        .map(|(env_var, variable)| (hcl::key(env_var), value(infrastructure, variable)))
        .collect();
    skip_comments(
        Block::new("resource", &["aws_lambda_function", &resource.id.terraform]),
        &function.skip_checks,
    )
    .attr(
        "function_name",
        format!(
            "\"${{substr(var.{STACK_NAME}, 0, {})}}{}\"",
            limits::FUNCTION_NAME - resource.name_suffix.len(),
            &suffix[1..suffix.len() - 1]
        ),
    )
    .attr("description", hcl::string(&resource.description))
    .attr("role", value(infrastructure, &Value::RoleArn(*role)))
    .attr("handler", hcl::string(&function.handler))
    .attr("runtime", hcl::string(&function.runtime))
    .attr(
        "architectures",
        hcl::list([hcl::string(&function.architecture)]),
    )
    .attr("memory_size", function.memory_mb.to_string())
    .attr("timeout", function.timeout_secs.to_string())
    .attr("s3_bucket", name(&function.code_bucket))
    .attr("s3_key", name(&function.code_key))
    .item(Item::Blank)
    .block(Block::new("environment", &[]).item(Item::Object("variables".into(), environment)))
    .item(tags(infrastructure, &resource.tags))
}

fn lambda_assume_role() -> Block {
    Block::new("data", &["aws_iam_policy_document", "lambda_assume_role"]).block(
        Block::new("statement", &[])
            .attr("actions", hcl::list([hcl::string("sts:AssumeRole")]))
            .block(
                Block::new("principals", &[])
                    .attr("type", hcl::string("Service"))
                    .attr(
                        "identifiers",
                        hcl::list([hcl::string("lambda.amazonaws.com")]),
                    ),
            ),
    )
}

fn consumer_blocks(
    infrastructure: &Infrastructure<'_>,
    resources: &ConsumerResources<'_>,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    if let Some(role) = resources.role.map(|role| infrastructure.role(role)) {
        let id = &role.id.terraform;
        blocks.push(
            Block::new("resource", &["aws_iam_role", id])
                .attr("description", hcl::string(&role.description))
                .attr(
                    "assume_role_policy",
                    "data.aws_iam_policy_document.lambda_assume_role.json",
                ),
        );
        let attachments = std::iter::once(&role.logs_attachment).chain(&role.vpc_attachment);
        for (policy, attachment) in role.managed_policies.iter().zip(attachments) {
            blocks.push(
                Block::new("resource", &["aws_iam_role_policy_attachment", attachment])
                    .attr("role", format!("aws_iam_role.{id}.name"))
                    .attr(
                        "policy_arn",
                        value(infrastructure, &Value::AwsManagedPolicy(policy)),
                    ),
            );
        }
    }
    for policy in &resources.policies {
        blocks.extend(policy_blocks(infrastructure, policy));
    }
    blocks
}

/// A cache policy: its document, the policy, and its attachment to an existing role.
fn policy_blocks(infrastructure: &Infrastructure<'_>, policy: &Policy<'_>) -> Vec<Block> {
    let id = &policy.id.terraform;
    let document = policy.statements.iter().fold(
        Block::new("data", &["aws_iam_policy_document", id]),
        |document, statement| {
            document.block(
                Block::new("statement", &[])
                    .attr("sid", hcl::string(&statement.sid))
                    .attr("effect", hcl::string("Allow"))
                    .attr(
                        "actions",
                        hcl::list(statement.actions.iter().map(|action| hcl::string(action))),
                    )
                    .attr(
                        "resources",
                        hcl::list(
                            statement
                                .resources
                                .values()
                                .iter()
                                .map(|resource| value(infrastructure, resource)),
                        ),
                    ),
            )
        },
    );
    let mut blocks = vec![
        document,
        Block::new("resource", &["aws_iam_policy", id])
            .attr("name_prefix", value(infrastructure, &policy.name_prefix))
            .attr("description", hcl::string(&policy.description))
            .attr("policy", format!("data.aws_iam_policy_document.{id}.json")),
    ];
    if let Some(role) = &policy.attach_to {
        blocks.push(
            Block::new("resource", &["aws_iam_role_policy_attachment", id])
                .attr("role", value(infrastructure, role))
                .attr("policy_arn", format!("aws_iam_policy.{id}.arn")),
        );
    }
    blocks
}

fn alarm_block(infrastructure: &Infrastructure<'_>, resource: &AlarmResource<'_>) -> Block {
    let alarm = resource.alarm;
    let mut block = Block::new(
        "resource",
        &["aws_cloudwatch_metric_alarm", &resource.id.terraform],
    )
    .attr("alarm_name", value(infrastructure, &resource.name))
    .attr("alarm_description", hcl::string(&alarm.description))
    .attr(
        "comparison_operator",
        hcl::string(&resource.comparison.to_string()),
    )
    .attr("threshold", hcl::number(alarm.threshold))
    .attr("evaluation_periods", alarm.evaluation_periods.to_string())
    .attr("treat_missing_data", hcl::string(model::TREAT_MISSING_DATA));
    if !resource.actions.is_empty() {
        block = block.attr(
            "alarm_actions",
            hcl::list(
                resource
                    .actions
                    .iter()
                    .map(|action| value(infrastructure, action)),
            ),
        );
    }
    match &resource.query {
        Query::Metric(metric) => {
            block = block
                .attr("namespace", hcl::string(metric.namespace))
                .attr("metric_name", hcl::string(metric.name))
                .attr("period", alarm.period_secs.to_string());
            block = match metric.statistic {
                Statistic::Extended(name) => block.attr("extended_statistic", hcl::string(name)),
                Statistic::Standard(name) => block.attr("statistic", hcl::string(name)),
            };
            block
                .item(Item::Blank)
                .item(dimensions(infrastructure, metric))
        }
        Query::Math {
            expression,
            label,
            metrics,
        } => {
            block = block.block(
                Block::new("metric_query", &[])
                    .attr("id", hcl::string("result"))
                    .attr("expression", hcl::string(expression))
                    .attr("label", hcl::string(label))
                    .attr("return_data", "true"),
            );
            for (id, metric) in metrics {
                let metric_block = Block::new("metric", &[])
                    .attr("namespace", hcl::string(metric.namespace))
                    .attr("metric_name", hcl::string(metric.name))
                    .attr("period", alarm.period_secs.to_string())
                    .attr("stat", hcl::string(metric.statistic.name()))
                    .item(Item::Blank)
                    .item(dimensions(infrastructure, metric));
                block = block.block(
                    Block::new("metric_query", &[])
                        .attr("id", hcl::string(id))
                        .attr("return_data", "false")
                        .block(metric_block),
                );
            }
            block
        }
    }
}

fn dimensions(infrastructure: &Infrastructure<'_>, metric: &Metric<'_>) -> Item {
    Item::Object(
        "dimensions".into(),
        metric
            .dimensions
            .iter()
            .map(|(key, dimension)| (hcl::key(key), value(infrastructure, dimension)))
            .collect(),
    )
}

fn dashboard_block(infrastructure: &Infrastructure<'_>, dashboard: &Dashboard<'_>) -> Block {
    let table_name = |table: &Table| {
        format!(
            "${{aws_dynamodb_table.{}.name}}",
            model::terraform_name(&table.name)
        )
    };
    let region = format!("${{{REGION}}}");
    let body = dashboard::body(
        infrastructure.model,
        &dashboard.contents,
        &dashboard::References {
            table_name: &table_name,
            region: &region,
        },
    );
    Block::new(
        "resource",
        &["aws_cloudwatch_dashboard", &dashboard.id.terraform],
    )
    .attr("dashboard_name", value(infrastructure, &dashboard.name))
    .item(Item::Blank)
    .item(Item::Heredoc(
        "dashboard_body".into(),
        serde_json::to_string_pretty(&body).expect("JSON serializes"),
    ))
}

fn variables(infrastructure: &Infrastructure<'_>) -> Vec<Block> {
    let mut blocks = Vec::new();
    for parameter in &infrastructure.parameters {
        let name = variable(parameter.name);
        let mut block =
            Block::new("variable", &[&name]).attr("type", parameter.kind.terraform_type());
        if let Some(default) = parameter.default {
            block = block.attr("default", hcl::string(default));
        }
        if let Some(description) = &parameter.description {
            block = block.attr("description", hcl::string(description));
        }
        if parameter.kind == ParameterKind::HiddenText {
            block = block.attr("sensitive", "true");
        }
        if !parameter.allowed.is_empty() {
            block = block.block(
                Block::new("validation", &[])
                    .attr(
                        "condition",
                        format!(
                            "contains({}, var.{name})",
                            hcl::list(parameter.allowed.iter().map(|v| hcl::string(v)))
                        ),
                    )
                    .attr(
                        "error_message",
                        hcl::string(&format!(
                            "{name} must be one of: {}.",
                            parameter.allowed.join(", ")
                        )),
                    ),
            );
        }
        blocks.push(block);
    }
    // At most as long as a stack name, which every name-length check assumes.
    blocks.push(
        Block::new("variable", &[STACK_NAME])
            .attr("type", "string")
            .attr(
                "description",
                hcl::string(
                    "Prefix of alarm, dashboard and policy names (CloudFormation's stack name)",
                ),
            )
            .block(
                Block::new("validation", &[])
                    .attr(
                        "condition",
                        format!("length(var.{STACK_NAME}) <= {}", limits::STACK_NAME),
                    )
                    .attr(
                        "error_message",
                        hcl::string(&format!(
                            "{STACK_NAME} must be at most {} characters, as a CloudFormation stack name is.",
                            limits::STACK_NAME
                        )),
                    ),
            ),
    );
    blocks
}

fn outputs(infrastructure: &Infrastructure<'_>) -> Vec<Block> {
    let mut blocks: Vec<Block> = infrastructure
        .outputs
        .iter()
        .map(|output| {
            Block::new("output", &[&output.id.terraform])
                .attr("description", hcl::string(&output.description))
                .attr("value", value(infrastructure, &output.value))
        })
        .collect();
    let environment = infrastructure
        .environment
        .iter()
        .map(|(env_var, variable)| (hcl::key(env_var), value(infrastructure, variable)))
        .collect();
    let mut output = Block::new("output", &["environment"])
        .attr(
            "description",
            hcl::string("Environment variables the consumers' functions need"),
        )
        .item(Item::Object("value".into(), environment));
    // Terraform refuses to show a value read from a secret or a sensitive variable unless
    // the output is marked sensitive too.
    let secret = |value: &Value<'_>| matches!(value, Value::GivenRedisUrl(_));
    if infrastructure
        .environment
        .iter()
        .any(|(_, value)| secret(value))
    {
        output = output.attr("sensitive", "true");
    }
    blocks.push(output);
    blocks
}

/// A [`Value`] as a Terraform expression.
fn value(infrastructure: &Infrastructure<'_>, value: &Value<'_>) -> String {
    match value {
        Value::Text(text) => name(text),
        Value::TableName(table) => table_ref(infrastructure.table(*table), "name"),
        Value::TableArn(table) => table_ref(infrastructure.table(*table), "arn"),
        Value::IndexArn(table, index) => format!(
            "\"${{{}}}/index/{index}\"",
            table_ref(infrastructure.table(*table), "arn")
        ),
        Value::BucketName(bucket) => {
            let resource = infrastructure.bucket(*bucket);
            if resource.created.is_some() {
                format!("aws_s3_bucket.{}.id", resource.id.terraform)
            } else {
                name(&resource.bucket.bucket_name)
            }
        }
        Value::BucketArn(bucket) => {
            format!(
                "aws_s3_bucket.{}.arn",
                infrastructure.bucket(*bucket).id.terraform
            )
        }
        Value::BucketObjects(bucket) => format!(
            "\"${{aws_s3_bucket.{}.arn}}/*\"",
            infrastructure.bucket(*bucket).id.terraform
        ),
        Value::ObjectsArn(bucket, prefix) => {
            let resource = infrastructure.bucket(*bucket);
            let prefix = hcl::string(prefix);
            let prefix = &prefix[1..prefix.len() - 1];
            if !infrastructure.names_bucket_by_text(*bucket) {
                format!(
                    "\"${{aws_s3_bucket.{}.arn}}/{prefix}*\"",
                    resource.id.terraform
                )
            } else {
                let expression = name(&resource.bucket.bucket_name);
                let name = match expression.strip_prefix('"') {
                    Some(quoted) => quoted.trim_end_matches('"').to_owned(),
                    None => format!("${{{expression}}}"),
                };
                format!("\"arn:${{{PARTITION}}}:s3:::{name}/{prefix}*\"")
            }
        }
        Value::PolicyArn(consumer, part) => format!(
            "aws_iam_policy.{}.arn",
            infrastructure.consumer(*consumer).policies[*part]
                .id
                .terraform
        ),
        Value::RoleArn(role) => format!(
            "aws_iam_role.{}.arn",
            infrastructure.role(*role).id.terraform
        ),
        Value::RoleName(role) => {
            format!(
                "aws_iam_role.{}.name",
                infrastructure.role(*role).id.terraform
            )
        }
        Value::RoleNameOfArn(parameter) => {
            format!("element(split(\":role/\", var.{}), 1)", variable(parameter))
        }
        Value::AwsManagedPolicy(path) => {
            format!("\"arn:${{{PARTITION}}}:iam::aws:policy/{path}\"")
        }
        Value::FunctionNameOfArn(arn) => format!("element(split(\":\", {}), 6)", name(arn)),
        Value::RedisAddress => redis_endpoint(infrastructure, "address"),
        Value::RedisPort => redis_endpoint(infrastructure, "port"),
        Value::RedisUrl => format!(
            "\"rediss://${{{}}}:${{{}}}\"",
            redis_endpoint(infrastructure, "address"),
            redis_endpoint(infrastructure, "port")
        ),
        Value::GivenRedisUrl(RedisUrl::Parameter(parameter)) => {
            format!("var.{}", variable(parameter))
        }
        Value::GivenRedisUrl(RedisUrl::Secret { key, .. }) => {
            let secret =
                format!("data.aws_secretsmanager_secret_version.{REDIS_URL_SECRET}.secret_string");
            match key {
                Some(key) => format!("jsondecode({secret})[{}]", hcl::string(key)),
                None => secret,
            }
        }
        Value::FunctionArn(bucket) => format!(
            "aws_lambda_function.{}.arn",
            infrastructure.function(*bucket).id.terraform
        ),
        Value::FunctionName(bucket) => format!(
            "aws_lambda_function.{}.function_name",
            infrastructure.function(*bucket).id.terraform
        ),
    }
}

fn versions() -> Vec<Block> {
    vec![
        Block::new("terraform", &[])
            .attr("required_version", hcl::string(">= 1.5"))
            .block(Block::new("required_providers", &[]).item(Item::Object(
                "aws".into(),
                vec![
                    ("source".into(), hcl::string("hashicorp/aws")),
                    ("version".into(), hcl::string(AWS_PROVIDER_VERSION)),
                ],
            ))),
    ]
}
