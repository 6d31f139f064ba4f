//! One target-neutral model of the infrastructure, built from the IR: every resource,
//! policy statement, lifecycle rule, alarm, output and name is decided here, once.
//! [`cloudformation`](crate::emit::cloudformation), [`sam`](crate::emit::sam) and
//! [`terraform`](crate::emit::terraform) print it; they decide nothing.
//!
//! Values are kept by meaning ([`Value`]): "the ARN of table X" rather than
//! `Fn::GetAtt` or `aws_dynamodb_table.x.arn`, so each printer spells them in its syntax.
//! Resources refer to each other through typed references ([`TableRef`], [`BucketRef`],
//! [`ConsumerRef`]): positions in [`Infrastructure`]'s lists, which hold the model's tables,
//! buckets and consumers in its order, so the IR's references carry over.

use std::borrow::Cow;

use heck::ToSnakeCase;

pub mod dashboard;
mod redis;

use crate::ir::{
    self, Alarm, AlarmQuery, Bucket, BucketEncryption, CacheModel, Comparison, Consumer,
    CreatedFunction, DOCUMENT_EVENTS, DataType, DimensionValue, FINGERPRINT_TAG, MetricStat,
    NamePart, NameTemplate, OVERFLOW_PREFIX, RedisUrl, Role, SyncFunction, Table, table_operations,
};
use crate::limits::{self, MANAGED_POLICY_SIZE};
pub use redis::{LAMBDA_VPC_ACCESS, ParameterKind, RedisResource};

/// Who makes the execution roles of `create` consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roles {
    /// The template creates them, and attaches each consumer's policy.
    Created,
    /// SAM makes one per function; the policy is attached through the function's `Policies`.
    SamFunctions,
}

/// The AWS-managed policy a created Lambda role gets, so the function can write its logs
/// (which is also how the runtime's EMF metrics reach CloudWatch).
pub const LAMBDA_BASIC_EXECUTION: &str = "service-role/AWSLambdaBasicExecutionRole";

/// Lifecycle rule that clears multipart uploads a crashed writer left unfinished.
pub const ABORT_UPLOADS_RULE: &str = "abort-incomplete-uploads";

/// Lifecycle rule that removes oversized values' bodies left behind when DynamoDB's TTL
/// removed their items.
pub const EXPIRE_OVERFLOW_RULE: &str = "expire-overflow";

/// Days after which an unfinished multipart upload is cleared.
pub const ABORT_UPLOADS_AFTER_DAYS: u32 = 7;

/// Days a replaced version of an oversized value's body is kept.
pub const NONCURRENT_VERSION_DAYS: u32 = 1;

/// Statement ID of a bucket policy's refusal of plain HTTP.
pub const DENY_PLAIN_HTTP: &str = "DenyPlainHttp";

/// How every alarm treats periods without data: an idle cache is not failing.
pub const TREAT_MISSING_DATA: &str = "notBreaching";

/// Statement ID of the permission that lets S3 invoke a bucket's sync function.
pub const INVOKE_STATEMENT_ID: &str = "AllowS3Invoke";

/// How each target names one resource: a CloudFormation logical ID and a Terraform name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Id {
    /// CloudFormation logical ID (`QueryCacheTable`).
    pub logical_id: String,
    /// Terraform resource name (`query_cache`).
    pub terraform: String,
}

/// A table of [`Infrastructure::tables`], which holds the model's in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRef(usize);

impl TableRef {
    /// The resource of the model's table `table`.
    fn of(table: &ir::TableRef) -> Self {
        Self(table.position())
    }
}

/// A bucket of [`Infrastructure::buckets`], which holds the model's in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketRef(usize);

impl BucketRef {
    /// The resource of the model's bucket `bucket`.
    fn of(bucket: &ir::BucketRef) -> Self {
        Self(bucket.position())
    }
}

/// A consumer of [`Infrastructure::consumers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerRef(usize);

/// A role of [`Infrastructure::roles`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleRef(usize);

/// A value in a template, by meaning; each printer spells it in its own syntax.
#[derive(Clone, Debug)]
pub enum Value<'m> {
    /// Text, possibly made of deploy-time parts (parameters, stack name, region, account).
    Text(Cow<'m, NameTemplate>),
    /// A table's physical name.
    TableName(TableRef),
    /// A table's ARN.
    TableArn(TableRef),
    /// The ARN of one of a table's indexes.
    IndexArn(TableRef, &'m str),
    /// A bucket's name: a reference when the template creates it, else its name.
    BucketName(BucketRef),
    /// A created bucket's ARN.
    BucketArn(BucketRef),
    /// The ARN of every object of a created bucket (`<bucket ARN>/*`).
    BucketObjects(BucketRef),
    /// The ARN of the objects under a key prefix of a bucket, created or not.
    ObjectsArn(BucketRef, &'m str),
    /// The ARN of a part of a consumer's cache policy (0: the first).
    PolicyArn(ConsumerRef, usize),
    /// A created role's ARN.
    RoleArn(RoleRef),
    /// A created role's name.
    RoleName(RoleRef),
    /// The name of an existing role whose ARN a parameter holds
    /// (`arn:aws:iam::123456789012:role/name` -> `name`).
    RoleNameOfArn(&'m str),
    /// The ARN of an AWS-managed IAM policy, by its path (`service-role/...`).
    AwsManagedPolicy(&'static str),
    /// The name of the Lambda function whose ARN this text is, known only once deployed
    /// (`arn:aws:lambda:<region>:<account>:function:name` -> `name`).
    FunctionNameOfArn(&'m NameTemplate),
    /// The host name of the created Redis's endpoint.
    RedisAddress,
    /// The port of the created Redis's endpoint.
    RedisPort,
    /// The URL of the created Redis: `rediss://<address>:<port>` (TLS only).
    RedisUrl,
    /// The URL of an existing Redis, from a parameter or a secret resolved when the stack
    /// deploys.
    GivenRedisUrl(&'m RedisUrl),
    /// The ARN of the sync function the template creates for a bucket.
    FunctionArn(BucketRef),
    /// The name of the sync function the template creates for a bucket.
    FunctionName(BucketRef),
}

impl<'m> Value<'m> {
    /// Fixed text.
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Text(Cow::Owned(NameTemplate(vec![NamePart::Literal(
            text.into(),
        )])))
    }

    /// `<stack name>-<suffix>`: names that must not collide between deployments.
    pub fn stack_prefixed(suffix: &str) -> Self {
        Self::Text(Cow::Owned(NameTemplate(vec![
            NamePart::StackName,
            NamePart::Literal(format!("-{suffix}")),
        ])))
    }

    /// A name the spec gives.
    pub fn name(template: &'m NameTemplate) -> Self {
        Self::Text(Cow::Borrowed(template))
    }
}

/// A tag: its key and value.
pub type Tag<'m> = (&'m str, Value<'m>);

/// A template parameter (a Terraform variable).
#[derive(Clone, Debug)]
pub struct Parameter<'m> {
    /// Name, as the spec writes it.
    pub name: &'m str,
    /// Default value.
    pub default: Option<&'m str>,
    /// Allowed values (empty: any).
    pub allowed: &'m [String],
    /// Description for the deployer.
    pub description: Option<Cow<'m, str>>,
    /// What kind of value it takes.
    pub kind: ParameterKind,
    /// Read only by the functions' environment (SAM's `Globals`, Terraform's `environment`
    /// output): a template declaring no function leaves it out.
    pub functions_only: bool,
}

/// A DynamoDB table, retained on delete and replace: a cache table's loss costs a cold
/// start for every consumer, so deleting it is left to a person.
#[derive(Clone, Debug)]
pub struct TableResource<'m> {
    /// Its names.
    pub id: Id,
    /// Keys, indexes, billing, TTL, encryption, recovery and protection, as validated.
    pub table: &'m Table,
    /// The spec's tags, then the fingerprint tag.
    pub tags: Vec<Tag<'m>>,
}

/// A bucket of documents. A created one comes with settings, a policy and notifications
/// ([`BucketSettings`]); an existing one is only named.
#[derive(Clone, Debug)]
pub struct BucketResource<'m> {
    /// Its names.
    pub id: Id,
    /// The bucket, as validated.
    pub bucket: &'m Bucket,
    /// What the template creates with it: `None` for an existing bucket.
    pub created: Option<BucketSettings<'m>>,
}

/// A created bucket: encrypted, versioned, public access blocked, owner-enforced,
/// retained (documents are the source of truth), refusing plain HTTP.
#[derive(Clone, Debug)]
pub struct BucketSettings<'m> {
    /// Whether S3 Bucket Keys cut the KMS requests of SSE-KMS (on unless SSE-S3).
    pub bucket_key: bool,
    /// The spec's tags, then the fingerprint tag.
    pub tags: Vec<Tag<'m>>,
    /// Lifecycle rules, in order.
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// The bucket policy refusing requests without TLS.
    pub tls_policy: TlsPolicy<'m>,
    /// The sync function's event notifications, when the spec names one.
    pub notifications: Option<Notifications<'m>>,
}

/// A lifecycle rule of a created bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleRule {
    /// Rule ID.
    pub id: &'static str,
    /// What it does.
    pub action: Lifecycle,
}

/// What a lifecycle rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Clears multipart uploads unfinished after `days`, anywhere in the bucket.
    AbortUploads {
        /// Days after initiation.
        days: u32,
    },
    /// Expires the objects under `prefix` after `days`, and replaced versions after
    /// `noncurrent_days`.
    Expire {
        /// Key prefix.
        prefix: &'static str,
        /// Days after creation.
        days: u64,
        /// Days after a version is replaced.
        noncurrent_days: u32,
    },
}

/// A bucket policy denying every request made without TLS.
#[derive(Clone, Debug)]
pub struct TlsPolicy<'m> {
    /// Its names (Terraform adds a policy document named [`TlsPolicy::document`]).
    pub id: Id,
    /// Terraform name of the policy document.
    pub document: String,
    /// Statement ID.
    pub sid: &'static str,
    /// The bucket and its objects.
    pub resources: Vec<Value<'m>>,
}

/// The sync function notified of a bucket's object events, and S3's permission to invoke it.
#[derive(Clone, Debug)]
pub struct Notifications<'m> {
    /// Names of the invoke permission.
    pub permission: Id,
    /// The function's ARN.
    pub function: Value<'m>,
    /// One filter per document type kept in the bucket.
    pub filters: Vec<NotificationFilter>,
    /// The events each filter sends.
    pub events: &'static [&'static str],
}

/// The object keys of one document type: fixed text at their start and end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Key prefix (empty: none).
    pub prefix: String,
    /// Key suffix (empty: none).
    pub suffix: String,
}

/// A sync function the template creates for a bucket's events.
#[derive(Clone, Debug)]
pub struct FunctionResource<'m> {
    /// Its names.
    pub id: Id,
    /// The bucket whose events it handles.
    pub bucket: BucketRef,
    /// Its settings, as validated.
    pub function: &'m CreatedFunction,
    /// Its description.
    pub description: String,
    /// The end of its name, after the stack name (`-<bucket>-sync`), where a target must
    /// give one (Terraform; CloudFormation names it itself).
    pub name_suffix: String,
    /// What it runs as.
    pub role: FunctionRole<'m>,
    /// Its environment: every table's and bucket's env var ([`Infrastructure::environment`]).
    pub environment: Vec<(&'m str, Value<'m>)>,
    /// Tags.
    pub tags: Vec<Tag<'m>>,
}

/// The execution role of a created sync function.
#[derive(Clone, Debug)]
pub enum FunctionRole<'m> {
    /// The events' consumer's created role.
    Created(RoleRef),
    /// The role SAM makes for the function, with the consumer's policies.
    SamPolicies(Vec<Value<'m>>),
}

/// A consumer's IAM: its created role, if any, and its least-privilege cache policy.
#[derive(Clone, Debug)]
pub struct ConsumerResources<'m> {
    /// The consumer, as validated.
    pub consumer: &'m Consumer,
    /// The role the template creates, when it does.
    pub role: Option<RoleRef>,
    /// The cache policy, in as many parts as IAM's size limit needs (one, mostly).
    pub policies: Vec<Policy<'m>>,
}

/// A Lambda execution role the template creates.
#[derive(Clone, Debug)]
pub struct CreatedRole {
    /// Its names.
    pub id: Id,
    /// Its description.
    pub description: String,
    /// Terraform name of the attachment of [`LAMBDA_BASIC_EXECUTION`].
    pub logs_attachment: String,
    /// Terraform name of the attachment of [`LAMBDA_VPC_ACCESS`], when it gets it.
    pub vpc_attachment: Option<String>,
    /// The AWS-managed policies it gets.
    pub managed_policies: Vec<&'static str>,
}

/// A consumer's managed policy.
#[derive(Clone, Debug)]
pub struct Policy<'m> {
    /// Its names.
    pub id: Id,
    /// Its description.
    pub description: String,
    /// The name prefix Terraform gives it (CloudFormation names it after the stack).
    pub name_prefix: Value<'m>,
    /// The role it is attached to; `None` when SAM's functions list it instead.
    pub attach_to: Option<Value<'m>>,
    /// Its statements.
    pub statements: Vec<Statement<'m>>,
}

/// One `Allow` statement of a policy.
#[derive(Clone, Debug)]
pub struct Statement<'m> {
    /// Statement ID.
    pub sid: String,
    /// Actions, sorted.
    pub actions: Cow<'m, [String]>,
    /// What the actions apply to.
    pub resources: Resources<'m>,
}

/// What a statement applies to.
#[derive(Clone, Debug)]
pub enum Resources<'m> {
    /// One resource.
    One(Value<'m>),
    /// A set of resources, such as a table's indexes (a list even when it holds one).
    Each(Vec<Value<'m>>),
}

impl<'m> Resources<'m> {
    /// Every resource, in order.
    pub fn values(&self) -> &[Value<'m>] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Each(values) => values,
        }
    }
}

/// A CloudWatch alarm, named after the stack so stacks never collide.
#[derive(Clone, Debug)]
pub struct AlarmResource<'m> {
    /// Its names.
    pub id: Id,
    /// The alarm, as validated.
    pub alarm: &'m Alarm,
    /// Its name.
    pub name: Value<'m>,
    /// What it evaluates.
    pub query: Query<'m>,
    /// How the value compares to the threshold.
    pub comparison: Comparison,
    /// Actions on alarm.
    pub actions: Vec<Value<'m>>,
}

/// What an alarm evaluates.
#[derive(Clone, Debug)]
pub enum Query<'m> {
    /// One metric with one statistic.
    Metric(Metric<'m>),
    /// A metric math expression over metrics, each referenced by its id.
    Math {
        /// Expression over the ids.
        expression: &'m str,
        /// Label of the result.
        label: &'m str,
        /// The inputs, with their ids.
        metrics: Vec<(&'m str, Metric<'m>)>,
    },
}

/// One metric, its dimensions and a statistic.
#[derive(Clone, Debug)]
pub struct Metric<'m> {
    /// Namespace.
    pub namespace: &'m str,
    /// Metric name.
    pub name: &'m str,
    /// Dimensions, in order.
    pub dimensions: Vec<(&'m str, Value<'m>)>,
    /// The statistic.
    pub statistic: Statistic<'m>,
}

/// A CloudWatch statistic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Statistic<'m> {
    /// `Sum`, `Average`...
    Standard(&'m str),
    /// A percentile such as `p99`.
    Extended(&'m str),
}

impl<'m> Statistic<'m> {
    /// The statistic as CloudWatch names it.
    pub fn name(self) -> &'m str {
        match self {
            Self::Standard(name) | Self::Extended(name) => name,
        }
    }
}

/// A CloudWatch dashboard, named after the stack: the cache's, or with several tables one
/// per table, with more pages for a table whose data types do not fit on one.
#[derive(Clone, Debug)]
pub struct Dashboard<'m> {
    /// Its names.
    pub id: Id,
    /// Its name.
    pub name: Value<'m>,
    /// What it graphs.
    pub contents: dashboard::Contents<'m>,
}

/// A stack output (a Terraform output).
#[derive(Clone, Debug)]
pub struct Output<'m> {
    /// Its names.
    pub id: Id,
    /// What it holds.
    pub description: String,
    /// Its value.
    pub value: Value<'m>,
}

/// Every resource of a cache, decided once for all targets.
#[derive(Clone, Debug)]
pub struct Infrastructure<'m> {
    /// The IR it was built from.
    pub model: &'m CacheModel,
    /// The template description.
    pub description: String,
    /// Template parameters: the spec's, then one per consumer role passed in.
    pub parameters: Vec<Parameter<'m>>,
    /// Tables, in spec order.
    pub tables: Vec<TableResource<'m>>,
    /// The Redis the template creates, if it does.
    pub redis: Option<RedisResource<'m>>,
    /// Buckets, in spec order.
    pub buckets: Vec<BucketResource<'m>>,
    /// Consumers' IAM, in spec order.
    pub consumers: Vec<ConsumerResources<'m>>,
    /// The roles the template creates, in consumer order.
    pub roles: Vec<CreatedRole>,
    /// The sync functions the template creates, in bucket order.
    pub functions: Vec<FunctionResource<'m>>,
    /// Alarms, in spec order.
    pub alarms: Vec<AlarmResource<'m>>,
    /// The dashboards: one per table (one for the cache when it has one table), and more
    /// pages for a table whose data types do not fit on one.
    pub dashboards: Vec<Dashboard<'m>>,
    /// Outputs: tables, buckets, then consumers' policies and created roles.
    pub outputs: Vec<Output<'m>>,
    /// What each consumer's functions must be given: env var and value.
    pub environment: Vec<(&'m str, Value<'m>)>,
}

impl<'m> Infrastructure<'m> {
    /// The infrastructure of `model`, with `roles` making the created roles.
    pub fn new(model: &'m CacheModel, roles: Roles) -> Self {
        let tables: Vec<TableResource<'m>> = model
            .tables
            .iter()
            .map(|table| TableResource {
                id: Id {
                    logical_id: table.logical_id.clone(),
                    terraform: terraform_name(&table.name),
                },
                table,
                tags: tags(&table.tags, &model.fingerprint),
            })
            .collect();
        let mut infrastructure = Self {
            model,
            description: model
                .description
                .clone()
                .unwrap_or_else(|| match model.store.redis() {
                    None => format!("Cache tables, IAM and alarms for {}", model.service),
                    Some(_) => format!("Redis cache store, IAM and alarms for {}", model.service),
                }),
            parameters: parameters(model),
            tables,
            redis: RedisResource::of(model),
            buckets: Vec::new(),
            consumers: Vec::new(),
            roles: Vec::new(),
            functions: Vec::new(),
            alarms: Vec::new(),
            dashboards: dashboards(model),
            outputs: Vec::new(),
            environment: Vec::new(),
        };
        infrastructure.buckets = ir::Ref::each(&model.buckets)
            .map(|(reference, bucket)| infrastructure.build_bucket(&reference, bucket))
            .collect();
        for consumer in &model.consumers {
            let resources = infrastructure.build_consumer(consumer, roles);
            infrastructure.consumers.push(resources);
        }
        infrastructure.environment = infrastructure.environment_of();
        infrastructure.functions = ir::Ref::each(&model.buckets)
            .filter_map(|(reference, bucket)| infrastructure.build_function(&reference, bucket))
            .collect();
        infrastructure.alarms = model
            .alarms
            .iter()
            .map(|alarm| infrastructure.build_alarm(alarm))
            .collect();
        infrastructure.outputs = infrastructure.outputs_of();
        infrastructure
    }

    /// The table `reference` points at.
    pub fn table(&self, reference: TableRef) -> &TableResource<'m> {
        &self.tables[reference.0]
    }

    /// The bucket `reference` points at.
    pub fn bucket(&self, reference: BucketRef) -> &BucketResource<'m> {
        &self.buckets[reference.0]
    }

    /// The consumer `reference` points at.
    pub fn consumer(&self, reference: ConsumerRef) -> &ConsumerResources<'m> {
        &self.consumers[reference.0]
    }

    /// The role `reference` points at.
    pub fn role(&self, reference: RoleRef) -> &CreatedRole {
        &self.roles[reference.0]
    }

    /// Whether values name `bucket` by its name text rather than a reference to it: a
    /// created bucket whose events reach a created function. The bucket's notifications
    /// refer to the function, and in SAM the function lists the policy naming the
    /// bucket's objects, so a reference to the bucket there would be a cycle.
    pub fn names_bucket_by_text(&self, bucket: BucketRef) -> bool {
        self.bucket(bucket).created.is_none()
            || self
                .functions
                .iter()
                .any(|function| function.bucket == bucket)
    }

    /// The sync function the template creates for `bucket`.
    pub fn function(&self, bucket: BucketRef) -> &FunctionResource<'m> {
        self.functions
            .iter()
            .find(|function| function.bucket == bucket)
            .expect("a created function's value refers to a bucket that creates one")
    }

    /// The sync function `bucket`'s events create, with the role of their consumer.
    fn build_function(
        &self,
        in_model: &ir::BucketRef,
        bucket: &'m Bucket,
    ) -> Option<FunctionResource<'m>> {
        let events = bucket.events.as_ref()?;
        let SyncFunction::Created(function) = &events.function else {
            return None;
        };
        let (position, consumer) = self
            .consumers
            .iter()
            .enumerate()
            .find(|(_, resources)| resources.consumer.name == events.consumer)
            .expect("validation resolves a bucket's event consumer");
        let role = match consumer.role {
            Some(role) => FunctionRole::Created(role),
            None => FunctionRole::SamPolicies(
                (0..consumer.policies.len())
                    .map(|part| Value::PolicyArn(ConsumerRef(position), part))
                    .collect(),
            ),
        };
        let environment = self.environment.clone();
        Some(FunctionResource {
            id: Id {
                logical_id: function.logical_id.clone(),
                terraform: format!("{}_sync", terraform_name(&bucket.name)),
            },
            bucket: BucketRef::of(in_model),
            function,
            description: format!(
                "Applies the object events of bucket {} to the cache (consumer {})",
                bucket.name, events.consumer
            ),
            name_suffix: format!("-{}-sync", bucket.name),
            role,
            environment,
            tags: tags(&bucket.tags, &self.model.fingerprint),
        })
    }

    fn build_bucket(&self, in_model: &ir::BucketRef, bucket: &'m Bucket) -> BucketResource<'m> {
        let reference = BucketRef::of(in_model);
        let stem = terraform_name(&bucket.name);
        let created = bucket.created.then(|| BucketSettings {
            bucket_key: bucket.encryption != BucketEncryption::S3Managed,
            tags: tags(&bucket.tags, &self.model.fingerprint),
            lifecycle_rules: std::iter::once(LifecycleRule {
                id: ABORT_UPLOADS_RULE,
                action: Lifecycle::AbortUploads {
                    days: ABORT_UPLOADS_AFTER_DAYS,
                },
            })
            .chain(
                self.model
                    .overflow_expiry_days(in_model)
                    .map(|days| LifecycleRule {
                        id: EXPIRE_OVERFLOW_RULE,
                        action: Lifecycle::Expire {
                            prefix: OVERFLOW_PREFIX,
                            days,
                            noncurrent_days: NONCURRENT_VERSION_DAYS,
                        },
                    }),
            )
            .collect(),
            tls_policy: TlsPolicy {
                id: Id {
                    logical_id: format!("{}Policy", bucket.logical_id),
                    terraform: stem.clone(),
                },
                document: format!("{stem}_tls_only"),
                sid: DENY_PLAIN_HTTP,
                resources: vec![Value::BucketArn(reference), Value::BucketObjects(reference)],
            },
            notifications: bucket.events.as_ref().map(|events| Notifications {
                permission: Id {
                    logical_id: format!("{}EventsPermission", bucket.logical_id),
                    terraform: format!("{stem}_events"),
                },
                function: match &events.function {
                    SyncFunction::Arn(arn) => Value::name(arn),
                    SyncFunction::Created(_) => Value::FunctionArn(reference),
                },
                filters: self
                    .model
                    .documents_in(in_model)
                    .map(|(_, document)| NotificationFilter {
                        prefix: document.key_prefix(),
                        suffix: document.key_suffix(),
                    })
                    .collect(),
                events: &DOCUMENT_EVENTS,
            }),
        });
        BucketResource {
            id: Id {
                logical_id: bucket.logical_id.clone(),
                terraform: stem,
            },
            bucket,
            created,
        }
    }

    /// A consumer's policy, and its role when the template creates it (which adds it
    /// to [`Infrastructure::roles`]).
    fn build_consumer(&mut self, consumer: &'m Consumer, roles: Roles) -> ConsumerResources<'m> {
        let stem = terraform_name(&consumer.name);
        let role = (consumer.role == Role::Create && roles == Roles::Created).then(|| {
            self.roles.push(CreatedRole {
                id: Id {
                    logical_id: format!("{}Role", consumer.logical_stem),
                    terraform: stem.clone(),
                },
                description: format!("Lambda execution role of cache consumer {}", consumer.name),
                logs_attachment: format!("{stem}_logs"),
                vpc_attachment: self.redis.as_ref().map(|_| format!("{stem}_vpc")),
                // A function reaches a created Redis only from inside its VPC.
                managed_policies: match self.redis {
                    Some(_) => vec![LAMBDA_BASIC_EXECUTION, LAMBDA_VPC_ACCESS],
                    None => vec![LAMBDA_BASIC_EXECUTION],
                },
            });
            RoleRef(self.roles.len() - 1)
        });
        let attach_to = match (&consumer.role, role) {
            (_, Some(role)) => Some(Value::RoleName(role)),
            // SAM makes the role with each function, which lists the policy itself.
            (Role::Create, None) => None,
            (Role::Existing(name), None) => Some(Value::literal(name.as_str())),
            (Role::Parameter(parameter), None) => {
                Some(Value::Text(Cow::Owned(NameTemplate(vec![
                    NamePart::Parameter(parameter.clone()),
                ]))))
            }
            (Role::ArnParameter(parameter), None) => Some(Value::RoleNameOfArn(parameter)),
        };
        let statements: Vec<Statement<'m>> = consumer
            .grants
            .iter()
            .flat_map(|grant| {
                let table = TableRef::of(&grant.table);
                let stem = grant_stem(&self.table(table).table.logical_id);
                let items = (!grant.table_actions.is_empty()).then(|| Statement {
                    sid: format!("{stem}Items"),
                    actions: Cow::Borrowed(grant.table_actions.as_slice()),
                    resources: Resources::One(Value::TableArn(table)),
                });
                let indexes = (!grant.query_indexes.is_empty()).then(|| Statement {
                    sid: format!("{stem}Indexes"),
                    actions: Cow::Owned(vec![QUERY_ACTION.to_owned()]),
                    resources: Resources::Each(
                        grant
                            .query_indexes
                            .iter()
                            .map(|index| Value::IndexArn(table, index))
                            .collect(),
                    ),
                });
                items.into_iter().chain(indexes)
            })
            .chain(consumer.bucket_grants.iter().flat_map(|grant| {
                let bucket = BucketRef::of(&grant.bucket);
                let stem = &self.model.buckets[bucket.0].logical_id;
                let numbered = grant.prefixes.len() > 1;
                grant
                    .prefixes
                    .iter()
                    .enumerate()
                    .map(move |(position, (prefix, actions))| Statement {
                        sid: if numbered {
                            format!("{stem}Documents{}", position + 1)
                        } else {
                            format!("{stem}Documents")
                        },
                        actions: Cow::Borrowed(actions.as_slice()),
                        resources: Resources::One(Value::ObjectsArn(bucket, prefix)),
                    })
            }))
            .collect();
        // Nothing to grant (a Redis store takes no IAM): no policy, rather than an empty one.
        let parts = if statements.is_empty() {
            Vec::new()
        } else {
            self.split_policy(statements)
        };
        let count = parts.len();
        let policies = parts
            .into_iter()
            .enumerate()
            .map(|(index, statements)| {
                let (logical_id, terraform, part) = match index {
                    0 => (
                        format!("{}CachePolicy", consumer.logical_stem),
                        stem.clone(),
                        String::new(),
                    ),
                    _ => (
                        format!("{}CachePolicy{}", consumer.logical_stem, index + 1),
                        format!("{stem}-{}", index + 1),
                        format!("{}-", index + 1),
                    ),
                };
                let of = if count > 1 {
                    format!(", part {} of {count}", index + 1)
                } else {
                    String::new()
                };
                Policy {
                    id: Id {
                        logical_id,
                        terraform,
                    },
                    description: format!(
                        "Least-privilege cache access of {} (generated by cachegen{of})",
                        consumer.name
                    ),
                    name_prefix: Value::stack_prefixed(&format!("{}-{part}", consumer.name)),
                    attach_to: attach_to.clone(),
                    statements,
                }
            })
            .collect();
        ConsumerResources {
            consumer,
            role,
            policies,
        }
    }

    /// `statements` in as few policies as IAM's size limit allows, in order: each policy
    /// at most [`MANAGED_POLICY_SIZE`] characters once deployed with its longest names. A
    /// statement too large on its own is first split by its resources.
    fn split_policy(&self, statements: Vec<Statement<'m>>) -> Vec<Vec<Statement<'m>>> {
        let empty = EMPTY_POLICY.len();
        let mut policies: Vec<(usize, Vec<Statement<'m>>)> = vec![(empty, Vec::new())];
        for statement in statements
            .into_iter()
            .flat_map(|statement| self.fit_statement(statement, empty))
        {
            let size = self.statement_size(&statement);
            let (current, list) = policies.last_mut().expect("there is always a policy");
            // A comma separates it from the statement before.
            let grown = *current + size + usize::from(!list.is_empty());
            if grown > MANAGED_POLICY_SIZE && !list.is_empty() {
                policies.push((empty + size, vec![statement]));
            } else {
                *current = grown;
                list.push(statement);
            }
        }
        policies.into_iter().map(|(_, list)| list).collect()
    }

    /// `statement`, or its resources split over numbered statements when a policy of it
    /// alone would be over the size limit.
    fn fit_statement(&self, statement: Statement<'m>, empty: usize) -> Vec<Statement<'m>> {
        let Resources::Each(resources) = &statement.resources else {
            return vec![statement];
        };
        if empty + self.statement_size(&statement) <= MANAGED_POLICY_SIZE || resources.len() < 2 {
            return vec![statement];
        }
        let mut parts: Vec<Vec<Value<'m>>> = vec![Vec::new()];
        for resource in resources {
            let last = parts.last_mut().expect("there is always a part");
            last.push(resource.clone());
            let candidate = Statement {
                sid: statement.sid.clone(),
                actions: statement.actions.clone(),
                resources: Resources::Each(last.clone()),
            };
            if empty + self.statement_size(&candidate) > MANAGED_POLICY_SIZE && last.len() > 1 {
                let moved = last.pop().expect("just pushed");
                parts.push(vec![moved]);
            }
        }
        parts
            .into_iter()
            .enumerate()
            .map(|(index, resources)| Statement {
                sid: format!("{}{}", statement.sid, index + 1),
                actions: statement.actions.clone(),
                resources: Resources::Each(resources),
            })
            .collect()
    }

    /// The characters IAM counts for `statement` in a policy, with every name at its
    /// longest: the statement as CloudFormation writes it (Terraform's policy documents
    /// have the same shape).
    fn statement_size(&self, statement: &Statement<'_>) -> usize {
        let placeholder =
            |value: &Value<'_>| serde_json::Value::from("x".repeat(self.max_len(value)));
        let resource = match &statement.resources {
            Resources::One(value) => placeholder(value),
            Resources::Each(values) => values.iter().map(placeholder).collect(),
        };
        serde_json::json!({
            "Sid": statement.sid,
            "Effect": "Allow",
            "Action": statement.actions,
            "Resource": resource,
        })
        .to_string()
        .len()
    }

    /// The longest `value` can be once deployed, characters. Names and what a policy
    /// statement can name are measured; the ARNs of roles and policies count as the
    /// longest ARN there is.
    pub fn max_len(&self, value: &Value<'_>) -> usize {
        let parameters = &self.model.parameters;
        let table_name = |table: TableRef| {
            limits::max_len(
                &self.table(table).table.table_name,
                parameters,
                limits::TABLE_NAME,
            )
        };
        let bucket_name = |bucket: BucketRef| {
            limits::max_len(
                &self.bucket(bucket).bucket.bucket_name,
                parameters,
                limits::BUCKET_NAME,
            )
        };
        // `arn:<partition>:dynamodb:<region>:<account>:table/<name>`
        let table_arn = |table: TableRef| {
            "arn::dynamodb:::table/".len()
                + limits::PARTITION
                + limits::REGION
                + limits::ACCOUNT_ID
                + table_name(table)
        };
        // `arn:<partition>:s3:::<bucket>`
        let bucket_arn =
            |bucket: BucketRef| "arn::s3:::".len() + limits::PARTITION + bucket_name(bucket);
        match value {
            Value::TableName(table) => table_name(*table),
            Value::TableArn(table) => table_arn(*table),
            Value::IndexArn(table, index) => table_arn(*table) + "/index/".len() + index.len(),
            Value::BucketName(bucket) => bucket_name(*bucket),
            Value::BucketArn(bucket) => bucket_arn(*bucket),
            Value::BucketObjects(bucket) => bucket_arn(*bucket) + "/*".len(),
            Value::ObjectsArn(bucket, prefix) => bucket_arn(*bucket) + 1 + prefix.len() + 1,
            // A free parameter is at most a parameter value long.
            Value::Text(text) => limits::max_len(text, parameters, limits::PARAMETER_VALUE),
            Value::FunctionNameOfArn(_) | Value::FunctionName(_) => limits::FUNCTION_NAME,
            Value::PolicyArn(..)
            | Value::RoleArn(_)
            | Value::RoleName(_)
            | Value::RoleNameOfArn(_)
            | Value::AwsManagedPolicy(_)
            | Value::FunctionArn(_) => MAX_ARN,
            Value::RedisAddress | Value::RedisPort | Value::RedisUrl => redis::MAX_URL_LENGTH,
            Value::GivenRedisUrl(_) => redis::MAX_GIVEN_URL_LENGTH,
        }
    }

    fn build_alarm(&self, alarm: &'m Alarm) -> AlarmResource<'m> {
        AlarmResource {
            id: Id {
                logical_id: alarm.logical_id.clone(),
                terraform: terraform_name(&alarm.name),
            },
            alarm,
            name: Value::stack_prefixed(&alarm.name),
            query: match &alarm.query {
                AlarmQuery::Metric(stat) => Query::Metric(self.metric(stat)),
                AlarmQuery::Math {
                    expression,
                    label,
                    metrics,
                } => Query::Math {
                    expression,
                    label,
                    metrics: metrics
                        .iter()
                        .map(|(id, stat)| (id.as_str(), self.metric(stat)))
                        .collect(),
                },
            },
            comparison: alarm.comparison,
            actions: alarm.actions.iter().map(Value::name).collect(),
        }
    }

    fn metric(&self, stat: &'m MetricStat) -> Metric<'m> {
        Metric {
            namespace: &stat.namespace,
            name: &stat.metric_name,
            dimensions: stat
                .dimensions
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        DimensionValue::Literal(text) => Value::literal(text.as_str()),
                        DimensionValue::TableName(table) => Value::TableName(TableRef::of(table)),
                        DimensionValue::SyncFunctionName(bucket) => self.sync_function_name(bucket),
                    };
                    (name.as_str(), value)
                })
                .collect(),
            statistic: if stat.statistic.starts_with('p') {
                Statistic::Extended(&stat.statistic)
            } else {
                Statistic::Standard(&stat.statistic)
            },
        }
    }

    /// The name of the sync function `bucket`'s events reach: cut from its ARN, when the
    /// spec writes the ARN out, else once deployed.
    fn sync_function_name(&self, bucket: &ir::BucketRef) -> Value<'m> {
        let function = match &self
            .model
            .bucket(bucket)
            .events
            .as_ref()
            .expect("validation resolves sync_errors alarms to buckets with events")
            .function
        {
            SyncFunction::Arn(arn) => arn,
            SyncFunction::Created(_) => return Value::FunctionName(BucketRef::of(bucket)),
        };
        match function.literal().and_then(|arn| arn.split(':').nth(6)) {
            Some(name) => Value::literal(name),
            None => Value::FunctionNameOfArn(function),
        }
    }

    fn outputs_of(&self) -> Vec<Output<'m>> {
        let mut outputs = Vec::new();
        for (position, resource) in self.tables.iter().enumerate() {
            let (table, id) = (resource.table, &resource.id);
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Name", id.logical_id),
                    terraform: format!("{}_table_name", id.terraform),
                },
                description: format!(
                    "Name of cache table {} (set it as {})",
                    table.name, table.env_var
                ),
                value: Value::TableName(TableRef(position)),
            });
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Arn", id.logical_id),
                    terraform: format!("{}_table_arn", id.terraform),
                },
                description: format!("ARN of cache table {}", table.name),
                value: Value::TableArn(TableRef(position)),
            });
        }
        for (position, resource) in self.buckets.iter().enumerate() {
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Name", resource.id.logical_id),
                    terraform: format!("{}_bucket_name", resource.id.terraform),
                },
                description: format!(
                    "Name of document bucket {} (set it as {})",
                    resource.bucket.name, resource.bucket.env_var
                ),
                value: Value::BucketName(BucketRef(position)),
            });
        }
        if let Some(redis) = &self.redis {
            outputs.extend(redis.outputs());
        }
        outputs.extend(redis::secret_output(self.model));
        for function in &self.functions {
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Arn", function.id.logical_id),
                    terraform: format!("{}_function_arn", function.id.terraform),
                },
                description: format!(
                    "ARN of the sync function of bucket {}",
                    self.bucket(function.bucket).bucket.name
                ),
                value: Value::FunctionArn(function.bucket),
            });
        }
        for (position, resources) in self.consumers.iter().enumerate() {
            let name = &resources.consumer.name;
            let count = resources.policies.len();
            for (index, policy) in resources.policies.iter().enumerate() {
                let (terraform, of) = match index {
                    0 => (format!("{}_policy_arn", policy.id.terraform), String::new()),
                    _ => (
                        format!(
                            "{}_policy_{}_arn",
                            resources.policies[0].id.terraform,
                            index + 1
                        ),
                        format!(" (part {} of {count})", index + 1),
                    ),
                };
                outputs.push(Output {
                    id: Id {
                        logical_id: format!("{}Arn", policy.id.logical_id),
                        terraform,
                    },
                    description: format!("Cache policy of consumer {name}{of}"),
                    value: Value::PolicyArn(ConsumerRef(position), index),
                });
            }
            if let Some(role) = resources.role {
                let role_id = &self.role(role).id;
                outputs.push(Output {
                    id: Id {
                        logical_id: format!("{}Arn", role_id.logical_id),
                        terraform: format!("{}_role_arn", role_id.terraform),
                    },
                    description: format!("Execution role of consumer {name}"),
                    value: Value::RoleArn(role),
                });
            }
        }
        outputs
    }

    /// Each table's and bucket's env var and value. When the template creates a sync
    /// function, buckets are named by their name text rather than a reference: the
    /// bucket's notifications refer to the function, whose environment (in SAM, every
    /// function's, through `Globals`) would otherwise refer back to the bucket, a cycle.
    fn environment_of(&self) -> Vec<(&'m str, Value<'m>)> {
        let creates_functions = self.model.buckets.iter().any(|bucket| {
            bucket
                .events
                .as_ref()
                .is_some_and(|events| matches!(events.function, SyncFunction::Created(_)))
        });
        let tables = self.model.tables.iter().enumerate();
        let buckets = self.model.buckets.iter().enumerate();
        tables
            .map(|(position, table)| (table.env_var.as_str(), Value::TableName(TableRef(position))))
            .chain(buckets.map(|(position, bucket)| {
                let value = if creates_functions {
                    Value::name(&bucket.bucket_name)
                } else {
                    Value::BucketName(BucketRef(position))
                };
                (bucket.env_var.as_str(), value)
            }))
            .chain(redis::environment(self.model, self.redis.as_ref()))
            .collect()
    }
}

/// The dashboards of `model`. With one table, the first is `<stack>-cache`
/// (`CacheDashboard`), then `<stack>-cache-2`...; with several, each table's is
/// `<stack>-cache-<table>` (`<Table>Dashboard`), then `-2`... The table's part is its
/// snake_case name, which has no `-`, so no table's page can be named like another table.
fn dashboards(model: &CacheModel) -> Vec<Dashboard<'_>> {
    if model.tables.is_empty() {
        return redis::dashboards(model);
    }
    let several = model.tables.len() > 1;
    let mut dashboards = Vec::new();
    for (table_ref, table) in ir::TableRef::each(&model.tables) {
        let data_types: Vec<&DataType> = model
            .data_types
            .iter()
            .filter(|data_type| data_type.table.as_ref() == Some(&table_ref))
            .collect();
        let operations = table_operations(&table_ref, &model.consumers).len();
        let per_page = dashboard::data_types_per_dashboard(1, operations);
        let pages: Vec<&[&DataType]> = if data_types.is_empty() {
            vec![&[]]
        } else {
            data_types.chunks(per_page).collect()
        };
        let count = pages.len();
        for (index, page) in pages.into_iter().enumerate() {
            let number = index + 1;
            let numbered = |stem: &str, separator: &str| match number {
                1 => stem.to_owned(),
                _ => format!("{stem}{separator}{number}"),
            };
            let (logical_stem, suffix) = if several {
                (
                    format!("{}Dashboard", grant_stem(&table.logical_id)),
                    format!("{}-{}", dashboard::NAME_SUFFIX, terraform_name(&table.name)),
                )
            } else {
                (
                    "CacheDashboard".to_owned(),
                    dashboard::NAME_SUFFIX.to_owned(),
                )
            };
            let suffix = numbered(&suffix, "-");
            dashboards.push(Dashboard {
                id: Id {
                    logical_id: numbered(&logical_stem, ""),
                    terraform: suffix.clone(),
                },
                name: Value::stack_prefixed(&suffix),
                contents: dashboard::Contents {
                    tables: vec![table],
                    data_types: page.to_vec(),
                    page: (number, count),
                },
            });
        }
    }
    dashboards
}

/// The Terraform name of a resource the spec calls `name` (`query-cache` -> `query_cache`).
pub fn terraform_name(name: &str) -> String {
    name.to_snake_case()
}

/// The longest ARN IAM accepts, characters (`arn` in IAM's API reference).
const MAX_ARN: usize = 2_048;

/// A policy document without statements: what every policy costs before them.
const EMPTY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

/// The action that reads an index.
const QUERY_ACTION: &str = "dynamodb:Query";

/// `QueryCacheTable` -> `QueryCache`: the stem of a table's statement IDs.
fn grant_stem(logical_id: &str) -> &str {
    logical_id.strip_suffix("Table").unwrap_or(logical_id)
}

/// The spec's tags, then the fingerprint tag.
pub(super) fn tags<'m>(
    spec_tags: &'m [(String, NameTemplate)],
    fingerprint: &'m str,
) -> Vec<Tag<'m>> {
    spec_tags
        .iter()
        .map(|(key, value)| (key.as_str(), Value::name(value)))
        .chain([(FINGERPRINT_TAG, Value::literal(fingerprint))])
        .collect()
}

/// The spec's parameters, then one per consumer role passed in by name or ARN.
fn parameters(model: &CacheModel) -> Vec<Parameter<'_>> {
    let spec = model.parameters.iter().map(|parameter| Parameter {
        name: &parameter.name,
        default: parameter.default.as_deref(),
        allowed: &parameter.allowed,
        description: parameter.description.as_deref().map(Cow::Borrowed),
        kind: ParameterKind::Text,
        functions_only: false,
    });
    let roles = model.consumers.iter().filter_map(|consumer| {
        let (name, what) = match &consumer.role {
            Role::Parameter(name) => (name, "Name"),
            Role::ArnParameter(name) => (name, "ARN"),
            Role::Create | Role::Existing(_) => return None,
        };
        Some(Parameter {
            name,
            default: None,
            allowed: &[],
            description: Some(Cow::Owned(format!(
                "{what} of the existing IAM role of consumer {}",
                consumer.name
            ))),
            kind: ParameterKind::Text,
            functions_only: false,
        })
    });
    spec.chain(roles).chain(redis::parameters(model)).collect()
}
