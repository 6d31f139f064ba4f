//! How resources are named and refer to each other: logical IDs and Terraform names,
//! typed references, values kept by meaning, tags, and how long a value can grow.

use std::borrow::Cow;

use heck::ToSnakeCase;

use crate::ir::{self, FINGERPRINT_TAG, NamePart, NameTemplate, RedisUrl};

/// How each target names one resource: a CloudFormation logical ID and a Terraform name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Id {
    /// CloudFormation logical ID (`QueryCacheTable`).
    pub logical_id: String,
    /// Terraform resource name (`query_cache`).
    pub terraform: String,
}

/// A table of [`Infrastructure::tables`](super::Infrastructure::tables), which holds the model's in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableRef(pub(super) usize);

impl TableRef {
    /// The resource of the model's table `table`.
    pub(super) fn of(table: &ir::TableRef) -> Self {
        Self(table.position())
    }
}

/// A bucket of [`Infrastructure::buckets`](super::Infrastructure::buckets), which holds the model's in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketRef(pub(super) usize);

impl BucketRef {
    /// The resource of the model's bucket `bucket`.
    pub(super) fn of(bucket: &ir::BucketRef) -> Self {
        Self(bucket.position())
    }
}

/// A consumer of [`Infrastructure::consumers`](super::Infrastructure::consumers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerRef(pub(super) usize);

/// A role of [`Infrastructure::roles`](super::Infrastructure::roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleRef(pub(super) usize);

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

/// The Terraform name of a resource the spec calls `name` (`query-cache` -> `query_cache`).
pub fn terraform_name(name: &str) -> String {
    name.to_snake_case()
}

/// `QueryCacheTable` -> `QueryCache`: the stem of a table's statement IDs.
pub(super) fn grant_stem(logical_id: &str) -> &str {
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

/// What kind of value a template parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind {
    /// Text.
    Text,
    /// Text the stack and the plan must not show (`NoEcho`; a `sensitive` Terraform variable).
    HiddenText,
    /// A list of VPC subnet IDs.
    Subnets,
    /// A list of VPC security group IDs.
    SecurityGroups,
}

impl ParameterKind {
    /// The CloudFormation parameter type.
    pub fn cloudformation_type(self) -> &'static str {
        match self {
            Self::Text | Self::HiddenText => "String",
            Self::Subnets => "List<AWS::EC2::Subnet::Id>",
            Self::SecurityGroups => "List<AWS::EC2::SecurityGroup::Id>",
        }
    }

    /// The Terraform variable type.
    pub fn terraform_type(self) -> &'static str {
        match self {
            Self::Text | Self::HiddenText => "string",
            Self::Subnets | Self::SecurityGroups => "list(string)",
        }
    }
}
