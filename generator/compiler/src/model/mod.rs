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

pub mod dashboard;

mod alarms;
mod buckets;
mod iam;
mod lengths;
mod outputs;
mod redis;
mod tables;
mod values;

pub use alarms::{AlarmResource, Dashboard, Metric, Query, Statistic, TREAT_MISSING_DATA};
pub use buckets::{
    ABORT_UPLOADS_AFTER_DAYS, ABORT_UPLOADS_RULE, BUCKET_OWNER_ENFORCED, BucketResource,
    BucketSettings, DENY_PLAIN_HTTP, DefaultEncryption, EXPIRE_OVERFLOW_RULE, FunctionResource,
    FunctionRole, INVOKE_STATEMENT_ID, Lifecycle, LifecycleRule, NONCURRENT_VERSION_DAYS,
    NotificationFilter, Notifications, PublicAccessBlock, TlsPolicy,
};
pub use iam::{
    ConsumerResources, CreatedRole, LAMBDA_BASIC_EXECUTION, Policy, Resources, Roles, Statement,
};
pub use redis::{LAMBDA_VPC_ACCESS, RedisResource};
pub use tables::TableResource;
pub use values::{
    BucketRef, ConsumerRef, Id, Output, Parameter, ParameterKind, RoleRef, TableRef, Tag, Value,
    terraform_name,
};

use crate::ir::{self, CacheModel};

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
        let mut infrastructure = Self {
            model,
            description: model
                .description
                .clone()
                .unwrap_or_else(|| match model.store.redis() {
                    None => format!("Cache tables, IAM and alarms for {}", model.service),
                    Some(_) => format!("Redis cache store, IAM and alarms for {}", model.service),
                }),
            parameters: outputs::parameters(model),
            tables: tables::resources(model),
            redis: RedisResource::of(model),
            buckets: Vec::new(),
            consumers: Vec::new(),
            roles: Vec::new(),
            functions: Vec::new(),
            alarms: Vec::new(),
            dashboards: match model.tables.is_empty() {
                true => redis::dashboards(model),
                false => alarms::dashboards(model),
            },
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
}
