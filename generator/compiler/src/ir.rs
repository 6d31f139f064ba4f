//! The validated cache model: the one representation every emitter reads.
//!
//! Everything here is resolved and checked. Names that several outputs must agree on
//! (table names, env vars, attribute names, metric names, IAM actions) are computed
//! once, here, so the templates and the generated code cannot disagree.

mod deployed;
mod idempotency;
mod policy;
mod reference;
mod render;
mod shape;
mod store;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use deployed::{
    DeployedBucket, DeployedEncryption, DeployedIndex, DeployedNotification, DeployedTable,
};
pub use idempotency::{IdempotentHandler, InFlight};
pub use policy::{FailSafe, OriginPolicy, TtlBounds};
pub use reference::{BucketRef, ConsumerRef, DataTypeRef, IndexRef, Named, Ref, TableRef};
pub use render::{Escaping, Piece, Rendering};
pub use store::{
    CreatedRedis, REDIS_PORT, REDIS_SECURITY_GROUPS_PARAMETER, REDIS_SUBNETS_PARAMETER, Redis,
    RedisEngine, RedisUrl, Store,
};

pub use crate::spec::{Access, AlarmMetric, AttributeType, Capacity, ProjectionType, Target};

pub use cachegen_names::{FINGERPRINT_TAG, OVERFLOW_PREFIX, item};

/// Metric and dimension names: the runtime's ([`cachegen_names::metric`]) and DynamoDB's own.
pub mod metric {
    pub use cachegen_names::metric::*;

    /// DynamoDB's own namespace.
    pub const DYNAMODB_NAMESPACE: &str = "AWS/DynamoDB";
    /// DynamoDB's throttling metric; needs `TableName` and `Operation` dimensions.
    pub const DYNAMODB_THROTTLED_REQUESTS: &str = "ThrottledRequests";

    /// Lambda's own namespace.
    pub const LAMBDA_NAMESPACE: &str = "AWS/Lambda";
    /// Invocations that ended in an error, per `FunctionName`.
    pub const LAMBDA_ERRORS: &str = "Errors";
    /// Invocations, per `FunctionName`.
    pub const LAMBDA_INVOCATIONS: &str = "Invocations";
    /// The dimension Lambda's metrics are published per function under.
    pub const LAMBDA_FUNCTION_DIMENSION: &str = "FunctionName";
}

impl std::fmt::Display for AttributeType {
    /// The type as DynamoDB writes it: `S`, `N` or `B`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        })
    }
}

impl std::fmt::Display for ProjectionType {
    /// The projection as the spec writes it: `all`, `keys_only` or `include`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::All => "all",
            Self::KeysOnly => "keys_only",
            Self::Include => "include",
        })
    }
}

impl std::fmt::Display for Access {
    /// The access level as the spec writes it: `read`, `write`...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Invalidate => "invalidate",
            Self::Query => "query",
            Self::Sync => "sync",
        })
    }
}

impl std::fmt::Display for Target {
    /// The target as the spec writes it: `cloudformation`, `sam`, `terraform` or `rust`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cloudformation => "cloudformation",
            Self::Sam => "sam",
            Self::Terraform => "terraform",
            Self::Rust => "rust",
        })
    }
}

impl ProjectionType {
    /// The projection as DynamoDB names it: `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub fn dynamodb_name(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::KeysOnly => "KEYS_ONLY",
            Self::Include => "INCLUDE",
        }
    }
}

/// A whole validated spec.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CacheModel {
    /// Service name.
    pub service: String,
    /// What the cache is for.
    pub description: Option<String>,
    /// Deploy-time parameters.
    pub parameters: Vec<Parameter>,
    /// The shared store (left out of the view and the fingerprint when DynamoDB, so specs
    /// written before it existed keep theirs).
    #[serde(skip_serializing_if = "Store::is_dynamodb")]
    pub store: Store,
    /// Tables, in spec order (none with a Redis store).
    pub tables: Vec<Table>,
    /// Document buckets, in spec order.
    pub buckets: Vec<Bucket>,
    /// Data types, in spec order.
    pub data_types: Vec<DataType>,
    /// Idempotent handlers, in spec order (left out of the view and the fingerprint when
    /// there are none, so specs without them build as before).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub idempotency: Vec<IdempotentHandler>,
    /// Consumers and their derived IAM grants.
    pub consumers: Vec<Consumer>,
    /// Alarms, resolved to concrete metric queries.
    pub alarms: Vec<Alarm>,
    /// CloudWatch namespace of the runtime's metrics.
    pub metrics_namespace: String,
    /// What `build` writes.
    pub targets: Vec<Target>,
    /// Output directory, relative to the spec.
    pub out_dir: String,
    /// Local `cachegen-runtime` path for the generated crate, relative to it.
    pub rust_runtime_path: Option<String>,
    /// Files rendered from users' templates; not in the view (a template does not see
    /// the others) nor in the fingerprint (they change no deployed resource).
    #[serde(skip)]
    pub templates: Vec<UserTemplate>,
    /// Hash of everything above; changes whenever any output would.
    #[serde(skip)]
    pub fingerprint: String,
    /// What the build should tell the user without refusing the spec (a parameter nothing
    /// uses, a template too large to deploy inline), each a line of its own.
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl CacheModel {
    /// The document data types kept in `bucket`, in spec order.
    pub fn documents_in<'a>(
        &'a self,
        bucket: &'a BucketRef,
    ) -> impl Iterator<Item = (&'a DataType, &'a Document)> + 'a {
        self.data_types.iter().filter_map(move |data_type| {
            data_type
                .document
                .as_ref()
                .filter(|document| &document.bucket == bucket)
                .map(|document| (data_type, document))
        })
    }

    /// Days after which the lifecycle rule of `bucket` may expire oversized values'
    /// bodies: the longest lifetime (TTL plus stale window) of a data type keeping them
    /// there, in whole days, plus one. `None` when no table keeps bodies there.
    pub fn overflow_expiry_days(&self, bucket: &BucketRef) -> Option<u64> {
        const DAY: u64 = 24 * 3600;
        self.data_types
            .iter()
            .filter(|dt| {
                dt.large_values
                    && self
                        .table_of(dt)
                        .is_some_and(|table| table.overflow_bucket.as_ref() == Some(bucket))
            })
            .map(|dt| (dt.ttl_secs + dt.stale_while_revalidate_secs.unwrap_or(0)).div_ceil(DAY) + 1)
            .max()
    }
}

/// A file `build` renders from a user's tera template, over the JSON view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTemplate {
    /// Where the rendered file goes, relative to the output directory.
    pub output: String,
    /// The template file, relative to the spec.
    pub template: String,
}

/// A deploy-time parameter.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Parameter {
    /// Name, as used in `${name}`.
    pub name: String,
    /// Default value.
    pub default: Option<String>,
    /// Allowed values (empty: any).
    pub allowed: Vec<String>,
    /// Description for the deployer.
    pub description: Option<String>,
}

/// A name made of literal text and deploy-time references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NameTemplate(pub Vec<NamePart>);

/// One piece of a [`NameTemplate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NamePart {
    /// Fixed text.
    Literal(String),
    /// A spec parameter.
    Parameter(String),
    /// The deployment's stack name (`${AWS::StackName}`).
    StackName,
    /// The deployment's region (`${AWS::Region}`).
    Region,
    /// The deployment's account (`${AWS::AccountId}`).
    AccountId,
}

impl std::fmt::Display for NameTemplate {
    /// The name as the spec writes it: `${AWS::StackName}-cache-${env}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                NamePart::Literal(text) => f.write_str(text)?,
                NamePart::Parameter(name) => write!(f, "${{{name}}}")?,
                NamePart::StackName => f.write_str("${AWS::StackName}")?,
                NamePart::Region => f.write_str("${AWS::Region}")?,
                NamePart::AccountId => f.write_str("${AWS::AccountId}")?,
            }
        }
        Ok(())
    }
}

impl NameTemplate {
    /// Whether the name is fixed text only.
    pub fn literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [NamePart::Literal(text)] => Some(text),
            [] => Some(""),
            _ => None,
        }
    }
}

/// A table key or index key attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Scalar type.
    pub kind: AttributeType,
}

/// How an attribute keys a global secondary index, which bounds its string values
/// (2,048 bytes for a partition key, 1,024 for a sort key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKeyRole {
    /// The index's partition key.
    Partition,
    /// The index's sort key.
    Sort,
}

impl Table {
    /// The string attributes keying its indexes, other than the table's own keys, each
    /// with its role, in index order: what items write as extra attributes.
    pub fn string_index_keys(&self) -> Vec<(&str, IndexKeyRole)> {
        let own = |name: &str| {
            self.partition_key.name == name
                || self.sort_key.as_ref().is_some_and(|key| key.name == name)
        };
        self.indexes
            .iter()
            .flat_map(|index| {
                std::iter::once((&index.partition_key, IndexKeyRole::Partition))
                    .chain(index.sort_key.as_ref().map(|key| (key, IndexKeyRole::Sort)))
            })
            .filter(|(key, _)| key.kind == AttributeType::S && !own(&key.name))
            .map(|(key, role)| (key.name.as_str(), role))
            .collect()
    }
}

/// A DynamoDB table.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Table {
    /// Name in the spec.
    pub name: String,
    /// CloudFormation logical ID (`QueryCacheTable`).
    pub logical_id: String,
    /// Physical table name.
    pub table_name: NameTemplate,
    /// What the table is for.
    pub description: Option<String>,
    /// Environment variable carrying the physical name to Lambdas.
    pub env_var: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Attribute DynamoDB's TTL deletes by.
    pub ttl_attribute: String,
    /// Billing mode.
    pub billing: Billing,
    /// Global secondary indexes.
    pub indexes: Vec<Index>,
    /// Every key attribute of the table and its indexes, once each: exactly the
    /// `AttributeDefinitions` DynamoDB accepts.
    pub key_attributes: Vec<KeyAttribute>,
    /// Server-side encryption.
    pub encryption: Encryption,
    /// Point-in-time recovery.
    pub point_in_time_recovery: bool,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Tags (defaults merged with the table's own), without the fingerprint tag.
    pub tags: Vec<(String, NameTemplate)>,
    /// Checkov checks the spec skips on this table, with their reasons.
    pub skip_checks: Vec<SkipCheck>,
    /// Bucket holding oversized values' bodies, when a data type on the table allows them,
    /// by name.
    pub overflow_bucket: Option<BucketRef>,
}

/// A static-analysis check that does not apply, and why; written into every template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SkipCheck {
    /// Check ID, such as `CKV_AWS_28`.
    pub id: String,
    /// Why it does not apply.
    pub reason: String,
}

/// Table billing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Billing {
    /// Pay per request.
    OnDemand,
    /// Provisioned capacity.
    Provisioned(Capacity),
}

/// Server-side encryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Encryption {
    /// DynamoDB's default AWS-owned key.
    AwsOwned,
    /// The AWS-managed key `aws/dynamodb`.
    AwsManaged,
    /// A customer-managed KMS key.
    KmsKey(NameTemplate),
}

/// An S3 bucket of documents.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Bucket {
    /// Name in the spec.
    pub name: String,
    /// CloudFormation logical ID (`DocumentsBucket`).
    pub logical_id: String,
    /// Physical bucket name.
    pub bucket_name: NameTemplate,
    /// Whether the templates create it (else it exists already).
    pub created: bool,
    /// What it holds.
    pub description: Option<String>,
    /// Environment variable carrying its name to Lambdas.
    pub env_var: String,
    /// Object versioning.
    pub versioning: bool,
    /// Server-side encryption.
    pub encryption: BucketEncryption,
    /// The sync Lambda notified of object events.
    pub events: Option<BucketEvents>,
    /// Tags (defaults merged with the bucket's own).
    pub tags: Vec<(String, NameTemplate)>,
    /// Checkov checks the spec skips on this bucket, with their reasons.
    pub skip_checks: Vec<SkipCheck>,
}

/// Server-side encryption of a bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum BucketEncryption {
    /// SSE-S3.
    S3Managed,
    /// SSE-KMS with `aws/s3`.
    AwsManaged,
    /// SSE-KMS with a customer-managed key.
    KmsKey(NameTemplate),
}

/// The Lambda notified of a bucket's object events.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BucketEvents {
    /// The function.
    pub function: SyncFunction,
    /// The consumer it runs as.
    pub consumer: String,
}

/// The sync Lambda of a bucket: an existing one, or one the templates create. Serialized
/// untagged, so an ARN reads (and fingerprints) as it did before functions could be created.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SyncFunction {
    /// An existing function, by ARN.
    Arn(NameTemplate),
    /// A function the templates create.
    Created(CreatedFunction),
}

impl SyncFunction {
    /// The ARN the spec gives, if the function exists already.
    pub fn arn(&self) -> Option<&NameTemplate> {
        match self {
            Self::Arn(arn) => Some(arn),
            Self::Created(_) => None,
        }
    }

    /// The ARN, when the spec writes it out (not a parameter, not created here).
    pub fn literal_arn(&self) -> Option<&str> {
        self.arn().and_then(NameTemplate::literal)
    }
}

/// A sync Lambda the templates create, running as its consumer's created role.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CreatedFunction {
    /// CloudFormation logical ID (`DocumentsSyncFunction`).
    pub logical_id: String,
    /// Handler.
    pub handler: String,
    /// Runtime.
    pub runtime: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    /// Memory, MB.
    pub memory_mb: u32,
    /// Timeout, seconds.
    pub timeout_secs: u64,
    /// Bucket of the deployment zip.
    pub code_bucket: NameTemplate,
    /// Key of the deployment zip.
    pub code_key: NameTemplate,
    /// Checkov checks the spec skips on this function, with their reasons.
    pub skip_checks: Vec<SkipCheck>,
}

/// S3 event types the sync Lambda receives.
pub const DOCUMENT_EVENTS: [&str; 2] = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"];

/// Where a data type's documents are kept.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Document {
    /// The bucket, by name.
    pub bucket: BucketRef,
    /// Object key template (key parameters only).
    pub object_key: Template,
    /// Item attribute `backfill --customer` filters on.
    pub customer_attribute: Option<String>,
}

impl Document {
    /// Fixed text every object key starts with (the event filter and IAM prefix).
    pub fn key_prefix(&self) -> String {
        self.object_key.literal_prefix()
    }

    /// Fixed text every object key ends with (the event filter suffix).
    pub fn key_suffix(&self) -> String {
        match self.object_key.0.as_slice() {
            [_, .., TemplatePart::Literal(text)] => text.clone(),
            _ => String::new(),
        }
    }
}

/// S3 actions each access level needs on a data type's documents: reading, writing and
/// deleting documents go to S3 as well as to the cache; syncing reads the object.
pub fn document_actions(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read => &["s3:GetObject"],
        Access::Write => &["s3:PutObject"],
        Access::Invalidate => &["s3:DeleteObject"],
        Access::Query => &[],
        Access::Sync => &["s3:GetObject"],
    }
}

/// S3 actions each access level needs on a table's overflow bodies: reads fetch them,
/// writes put them (and remove a replaced one), invalidations remove them.
pub fn overflow_actions(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read | Access::Query => &["s3:GetObject"],
        Access::Write => &["s3:DeleteObject", "s3:PutObject"],
        Access::Invalidate => &["s3:DeleteObject"],
        Access::Sync => &["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
    }
}

/// A global secondary index.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Index {
    /// Index name.
    pub name: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Projection type.
    pub projection: ProjectionType,
    /// Non-key attributes for an `include` projection.
    pub projected_attributes: Vec<String>,
    /// Capacity, for provisioned tables.
    pub capacity: Option<Capacity>,
}

/// A kind of cached value.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DataType {
    /// Name in the spec (`drs-quotas`).
    pub name: String,
    /// What the value is.
    pub description: Option<String>,
    /// The table its items are kept in, by name (`None` with a Redis store).
    pub table: Option<TableRef>,
    /// Partition key template.
    pub key: Template,
    /// Sort key template, on tables with a sort key.
    pub sort_key: Option<Template>,
    /// Typed key parameters, in declaration order.
    pub params: Vec<Field>,
    /// Defaults of the key parameters callers may omit, in declaration order; left out
    /// when there are none, so specs without one keep their fingerprint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_defaults: Vec<ParamDefault>,
    /// The value type.
    pub value: ValueType,
    /// Store TTL, seconds.
    pub ttl_secs: u64,
    /// Environment variable overriding the store TTL at run time; left out when there is
    /// none, so specs without one keep their fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_env: Option<String>,
    /// In-memory TTL, seconds.
    pub memory_ttl_secs: u64,
    /// Stale-while-revalidate window, seconds.
    pub stale_while_revalidate_secs: Option<u64>,
    /// Single-flight across containers through store leases.
    pub distributed_flight: bool,
    /// How often, at most, the invalidation stamp is re-read, seconds.
    pub version_check_secs: Option<u64>,
    /// Extra attributes written on each item.
    pub attributes: Vec<ItemAttribute>,
    /// Invalidation tags.
    pub tags: Vec<Template>,
    /// GSI of its table used to invalidate every item of the type, by name.
    pub invalidate_by: Option<IndexRef>,
    /// GSIs of its table this type's items appear in (the type writes all their key
    /// attributes), by name.
    pub indexes: Vec<IndexRef>,
    /// Expected traffic, when the spec declares it.
    pub traffic: Option<Traffic>,
    /// Where the documents live, for a data type whose source of truth is S3.
    pub document: Option<Document>,
    /// Values over the item limit go to the table's overflow bucket.
    pub large_values: bool,
    /// What its handle does when the origin fails or is slow; left out when it sets nothing,
    /// so specs without one keep their fingerprint.
    #[serde(skip_serializing_if = "OriginPolicy::is_none")]
    pub policy: OriginPolicy,
}

/// A key parameter's default: the value keys hold when the caller gives none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ParamDefault {
    /// The parameter.
    pub name: String,
    /// The value as it prints in a key (`global`, `0`, `true`).
    pub value: String,
}

/// A prefix of a data type's keys that its `invalidate_by_*` method can invalidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPrefix {
    /// The leading key parameters it is made of.
    pub params: Vec<String>,
    /// The key template up to the literal after the last of them.
    pub template: Template,
}

impl DataType {
    /// Fixed text every store key of this type starts with: the key's text before its
    /// first placeholder. On a table with a sort key, the fixed text of each of the two
    /// parts, joined by the separator: index queries match each part on its own, so types
    /// sharing a partition (`CHANGE#{id}`) are told apart by their sort keys.
    pub fn key_prefix(&self) -> String {
        let prefix = self.key.literal_prefix();
        match &self.sort_key {
            Some(sort_key) => format!(
                "{prefix}{}{}",
                cachegen_names::sort_key::SEPARATOR,
                sort_key.literal_prefix()
            ),
            None => prefix,
        }
    }

    /// The key prefixes its `invalidate_by_*` methods name: the key up to each parameter
    /// and the literal after it, except the last parameter (the whole key). Every value
    /// records them, so invalidating one reaches exactly its entries.
    pub fn key_prefixes(&self) -> Vec<KeyPrefix> {
        let parts = &self.key.0;
        let mut prefixes = Vec::new();
        let mut params = Vec::new();
        for (position, part) in parts.iter().enumerate() {
            let TemplatePart::Param(name) = part else {
                continue;
            };
            params.push(name.clone());
            if let Some(TemplatePart::Literal(_)) = parts.get(position + 1)
                && position + 2 < parts.len()
            {
                prefixes.push(KeyPrefix {
                    params: params.clone(),
                    template: Template(parts[..=position + 1].to_vec()),
                });
            }
        }
        prefixes
    }
}

/// Expected traffic of a data type.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, JsonSchema)]
pub struct Traffic {
    /// Lookups per day.
    pub requests_per_day: u64,
    /// Share of lookups answered from the cache, `0` to `1`.
    pub hit_rate: f64,
    /// Bytes per stored item.
    pub item_size_bytes: u64,
}

/// A named, typed field (a key parameter or a value field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: FieldType,
}

/// The type of a key parameter or value field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum FieldType {
    /// UTF-8 text.
    String,
    /// `true`/`false`.
    Bool,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// Any JSON value.
    Json,
    /// A list.
    List(Box<FieldType>),
    /// An optional value.
    Option(Box<FieldType>),
    /// A map from string keys.
    Map(Box<FieldType>),
}

impl std::fmt::Display for FieldType {
    /// The type as the spec writes it: `string`, `list<u64>`, `map<bool>`...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::String => f.write_str("string"),
            Self::Bool => f.write_str("bool"),
            Self::U32 => f.write_str("u32"),
            Self::U64 => f.write_str("u64"),
            Self::I64 => f.write_str("i64"),
            Self::F64 => f.write_str("f64"),
            Self::Json => f.write_str("json"),
            Self::List(item) => write!(f, "list<{item}>"),
            Self::Option(item) => write!(f, "option<{item}>"),
            Self::Map(item) => write!(f, "map<{item}>"),
        }
    }
}

impl FieldType {
    /// Whether DynamoDB would store it as a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Self::U32 | Self::U64 | Self::I64 | Self::F64)
    }
}

/// The cached value's type.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub enum ValueType {
    /// A user type, by Rust path.
    Rust(String),
    /// A struct cachegen generates.
    Fields(Vec<Field>),
}

/// A template such as `drs-quotas#{region}#{account_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Template(pub Vec<TemplatePart>);

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TemplatePart {
    /// Fixed text.
    Literal(String),
    /// A key parameter.
    Param(String),
    /// A field of the value.
    ValueField(String),
    /// The write time, epoch seconds.
    Now,
    /// The data type's name.
    DataTypeName,
}

impl std::fmt::Display for Template {
    /// The template as written in the spec: `drs-quotas#{region}#{account_id}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                TemplatePart::Literal(text) => f.write_str(text)?,
                TemplatePart::Param(name) => write!(f, "{{{name}}}")?,
                TemplatePart::ValueField(name) => write!(f, "{{value.{name}}}")?,
                TemplatePart::Now => f.write_str("{now}")?,
                TemplatePart::DataTypeName => f.write_str("{data_type}")?,
            }
        }
        Ok(())
    }
}

impl Template {
    /// The text before the first placeholder: what every key of this template starts with.
    pub fn literal_prefix(&self) -> String {
        match self.0.first() {
            Some(TemplatePart::Literal(text)) => text.clone(),
            _ => String::new(),
        }
    }
}

/// An extra attribute written on each item of a data type.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ItemAttribute {
    /// Attribute name.
    pub name: String,
    /// DynamoDB type.
    pub kind: AttributeType,
    /// How its value is made.
    pub template: Template,
}

/// A consumer and the least-privilege grants derived from its access list.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Consumer {
    /// Name in the spec.
    pub name: String,
    /// PascalCase stem for logical IDs (`QueryHandler`).
    pub logical_stem: String,
    /// What it is.
    pub description: Option<String>,
    /// Its IAM role.
    pub role: Role,
    /// What it may do per data type (by name), after expanding `*`.
    pub access: Vec<(DataTypeRef, Vec<Access>)>,
    /// IAM grants, one per table it touches.
    pub grants: Vec<Grant>,
    /// S3 grants, one per document bucket it touches.
    pub bucket_grants: Vec<BucketGrant>,
}

/// S3 actions a consumer needs on one bucket's documents.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BucketGrant {
    /// The bucket, by name.
    pub bucket: BucketRef,
    /// Per object key prefix (one per document type), the actions allowed there, sorted.
    pub prefixes: Vec<(String, Vec<String>)>,
}

/// A consumer's IAM role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Role {
    /// Created by the template.
    Create,
    /// Existing role, by name.
    Existing(String),
    /// Role name passed as a template parameter.
    Parameter(String),
    /// Role ARN passed as a template parameter.
    ArnParameter(String),
}

/// DynamoDB actions a consumer needs on one table.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Grant {
    /// The table, by name.
    pub table: TableRef,
    /// Actions on the table's items, sorted.
    pub table_actions: Vec<String>,
    /// Indexes it may `Query`, sorted.
    pub query_indexes: Vec<String>,
}

impl Grant {
    /// Every action in the grant, sorted (what an operation-level alarm must watch).
    pub fn operations(&self) -> Vec<String> {
        let mut operations = self.table_actions.clone();
        if !self.query_indexes.is_empty() {
            operations.push("dynamodb:Query".into());
        }
        operations.sort();
        operations.dedup();
        operations
    }
}

/// The DynamoDB actions each access level needs, on the table itself: what the runtime
/// sends for it. Reads also read invalidation stamps (`GetItem`, `BatchGetItem`); writes
/// are `PutItem` (conditional for fills) and take leases with `UpdateItem`; a delete is a
/// `PutItem` of a tombstone and other invalidations an `UpdateItem` of a stamp.
pub fn table_actions(access: Access) -> &'static [&'static str] {
    match access {
        Access::Read => &["dynamodb:BatchGetItem", "dynamodb:GetItem"],
        Access::Write => &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        Access::Invalidate => &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        Access::Query => &[],
        Access::Sync => &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
    }
}

/// Operations watched on a table no consumer declares.
const ALL_ITEM_OPERATIONS: &[&str] = &[
    "BatchGetItem",
    "BatchWriteItem",
    "DeleteItem",
    "GetItem",
    "PutItem",
    "Query",
    "UpdateItem",
];

/// The DynamoDB operations (`GetItem`, ...) the consumers use on `table`, sorted; every
/// item operation when none is declared. DynamoDB reports throttling per operation.
pub fn table_operations(table: &TableRef, consumers: &[Consumer]) -> Vec<String> {
    let mut operations: Vec<String> = consumers
        .iter()
        .flat_map(|consumer| &consumer.grants)
        .filter(|grant| &grant.table == table)
        .flat_map(|grant| grant.operations())
        .map(|action| action.trim_start_matches("dynamodb:").to_owned())
        .collect();
    if operations.is_empty() {
        operations = ALL_ITEM_OPERATIONS
            .iter()
            .map(|op| (*op).to_owned())
            .collect();
    }
    operations.sort();
    operations.dedup();
    operations
}

/// A CloudWatch alarm, resolved to what it watches.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Alarm {
    /// Name in the spec.
    pub name: String,
    /// CloudFormation logical ID.
    pub logical_id: String,
    /// Description.
    pub description: String,
    /// Metric kind, as the spec said.
    pub metric: AlarmMetric,
    /// The query evaluated.
    pub query: AlarmQuery,
    /// Threshold, in the query's unit.
    pub threshold: f64,
    /// How the value compares to the threshold.
    pub comparison: Comparison,
    /// Period, seconds.
    pub period_secs: u64,
    /// Periods evaluated.
    pub evaluation_periods: u32,
    /// Actions on alarm.
    pub actions: Vec<NameTemplate>,
}

/// How an alarm compares its value to the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Comparison {
    /// Alarm when lower.
    LessThanThreshold,
    /// Alarm when higher.
    GreaterThanThreshold,
}

impl std::fmt::Display for Comparison {
    /// The operator as CloudWatch names it: `LessThanThreshold`...
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::LessThanThreshold => "LessThanThreshold",
            Self::GreaterThanThreshold => "GreaterThanThreshold",
        })
    }
}

/// What an alarm evaluates.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub enum AlarmQuery {
    /// One metric with one statistic.
    Metric(MetricStat),
    /// A metric math expression over `metrics`, each referenced by its id.
    Math {
        /// Expression over the ids.
        expression: String,
        /// Label of the result.
        label: String,
        /// The inputs, by id.
        metrics: Vec<(String, MetricStat)>,
    },
}

/// One metric, its dimensions and a statistic.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MetricStat {
    /// Namespace.
    pub namespace: String,
    /// Metric name.
    pub metric_name: String,
    /// Dimensions, in order.
    pub dimensions: Vec<(String, DimensionValue)>,
    /// `Sum`, `Average`, or a percentile such as `p99`.
    pub statistic: String,
}

/// A dimension value.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub enum DimensionValue {
    /// Fixed text.
    Literal(String),
    /// The physical name of a spec table (by its name in the spec).
    TableName(TableRef),
    /// The name of the sync function a bucket's events reach (by the bucket's name).
    SyncFunctionName(BucketRef),
}
