//! The cache spec: what users write in `cache.yaml`, as serde + schemars types.
//!
//! These types mirror the YAML one to one and carry no validation beyond shape;
//! [`crate::validate`] turns them into the checked [`crate::ir::CacheModel`].

mod duration;
mod idempotency;
mod key_param;
mod store;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use duration::SpecDuration;
pub use idempotency::{IdempotentHandler, InFlight};
pub use key_param::{DeclaredParam, KeyParam, ParamDefault};
pub use store::{CreatedRedis, RedisEngine, RedisStore, RedisUrlSource, Store};

/// A cachegen spec: one service's cache tables, data types, consumers and alarms.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Spec {
    /// Spec format version. Only `1` exists.
    pub version: u32,
    /// Service name, used in resource names as `${service}`.
    pub service: String,
    /// What this cache is for; becomes the template description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Deploy-time parameters (for example `env`), usable in names as `${name}`.
    #[serde(default)]
    pub parameters: IndexMap<String, Parameter>,
    /// Values that tables and data types inherit unless they set their own.
    #[serde(default)]
    pub defaults: Defaults,
    /// The shared store: `dynamodb` (default, the `tables`) or `{ redis: {...} }`.
    #[serde(default, skip_serializing_if = "Store::is_dynamodb")]
    pub store: Store,
    /// DynamoDB tables, by name (none with a Redis store).
    #[serde(default)]
    pub tables: IndexMap<String, Table>,
    /// S3 buckets holding documents (data types whose source of truth is S3), by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub buckets: IndexMap<String, Bucket>,
    /// The kinds of values cached, by name (the heart of the spec).
    pub data_types: IndexMap<String, DataType>,
    /// Lambda handlers made idempotent on a table, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub idempotency: IndexMap<String, IdempotentHandler>,
    /// Lambdas or roles that use the cache, and what each may do.
    #[serde(default)]
    pub consumers: IndexMap<String, Consumer>,
    /// Where the runtime publishes its metrics.
    #[serde(default)]
    pub metrics: Metrics,
    /// CloudWatch alarms, by name.
    #[serde(default)]
    pub alarms: IndexMap<String, Alarm>,
    /// What `cachegen build` writes, and where.
    #[serde(default)]
    pub outputs: Outputs,
}

/// A deploy-time parameter, such as the environment name.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Parameter {
    /// Value used when the deployer gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The only values the deployer may give.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Shown to whoever deploys the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Values inherited by every table and data type that does not set its own.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Defaults {
    /// Table a data type uses when it names none (the only table, if there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Store TTL for data types that set none (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<SpecDuration>,
    /// In-memory (L1) TTL for data types that set none (default: the store TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_ttl: Option<SpecDuration>,
    /// Billing for tables that set none (default `on_demand`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Encryption for tables that set none (default `aws_managed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Point-in-time recovery for tables that set none (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time_recovery: Option<bool>,
    /// Deletion protection for tables that set none (default `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Tags added to every table.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
}

/// A DynamoDB table that holds cache items.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Table {
    /// Physical table name; may use `${service}`, `${parameter}` and `${AWS::StackName}`.
    pub name: String,
    /// What the table is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Partition key (default `{ name: pk, type: S }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<KeyAttribute>,
    /// Optional sort key; every data type on the table must then give `sort_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeyAttribute>,
    /// Attribute DynamoDB's TTL deletes items by (default `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_attribute: Option<String>,
    /// `on_demand`, or `{ provisioned: { read: 5, write: 5 } }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Global secondary indexes, by name (at most 20).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub indexes: IndexMap<String, Index>,
    /// `aws_owned`, `aws_managed`, or `{ kms_key: <key ARN or ${parameter}> }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// Continuous backups for point-in-time recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time_recovery: Option<bool>,
    /// Refuse `DeleteTable` until this is turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection: Option<bool>,
    /// Tags on the table, merged over `defaults.tags`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Environment variable through which Lambdas learn the table's name
    /// (default `CACHE_TABLE_NAME` for a lone table, else `<TABLE>_TABLE_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
    /// Checkov checks that do not apply to this table, by ID, each with the reason
    /// written into the templates (`CKV_AWS_28: "entries are re-fetchable"`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub skip_checks: IndexMap<String, String>,
    /// Bucket (under `buckets`) holding the bodies of values too large for an item, for
    /// data types with `large_values: true` (default: the only bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow_bucket: Option<String>,
}

/// An S3 bucket whose objects are documents cached (and indexed) in a table: either
/// created by the templates (`name`) or an existing one (`existing`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Bucket {
    /// Name of a bucket the templates create; may use `${service}`, `${parameter}`,
    /// `${AWS::Region}` and `${AWS::AccountId}` (bucket names are global).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Name of an existing bucket, often a parameter (`"${DocumentsBucket}"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
    /// What the bucket holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Environment variable through which Lambdas learn the bucket's name
    /// (default `<BUCKET>_BUCKET_NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_var: Option<String>,
    /// Keep every version of each object (default `true`), so an overwrite can be undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<bool>,
    /// `s3_managed`, `aws_managed` (default: the `aws/s3` KMS key, with a bucket key),
    /// or `{ kms_key: <key ARN or ${parameter}> }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    /// The Lambda that S3 notifies of created and removed documents, to keep the cache in
    /// sync with writes made straight to the bucket. Created buckets only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<BucketEvents>,
    /// Tags on a created bucket, merged over `defaults.tags`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, String>,
    /// Checkov checks that do not apply to this bucket, by ID, each with the reason.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub skip_checks: IndexMap<String, String>,
}

/// Server-side encryption of a bucket.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketEncryption {
    /// SSE-S3 (AES-256 with keys S3 owns).
    S3Managed,
    /// SSE-KMS with the AWS-managed key `aws/s3`.
    AwsManaged,
    /// SSE-KMS with a customer-managed key (ARN, alias or `${parameter}`).
    KmsKey(String),
}

/// Where a bucket's object events go.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct BucketEvents {
    /// The sync Lambda: its ARN, usually a parameter (`"${SyncFunctionArn}"`), or
    /// `{ create: ... }` for the templates to create it.
    pub function: EventFunction,
    /// The consumer that Lambda runs as; it needs `read`, `write` and `invalidate` on
    /// every document type of the bucket.
    pub consumer: String,
}

/// The Lambda a bucket's events reach: one that exists, or one the templates create.
// Deserialized by hand rather than `untagged`, so a mistake inside `create` is reported
// where it is rather than as "none of the forms".
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum EventFunction {
    /// ARN of an existing function, usually a parameter (`"${SyncFunctionArn}"`).
    Arn(String),
    /// A function the templates create, running as the events' consumer's created role.
    Create {
        /// How to create it.
        create: SyncFunctionSpec,
    },
}

impl<'de> Deserialize<'de> for EventFunction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = EventFunction;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a function ARN, or `{ create: ... }`")
            }

            fn visit_str<E: serde::de::Error>(self, arn: &str) -> Result<EventFunction, E> {
                Ok(EventFunction::Arn(arn.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<EventFunction, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Create {
                    create: SyncFunctionSpec,
                }
                let Create { create } =
                    Create::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(EventFunction::Create { create })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A sync Lambda the templates create. Its code is a zip already in S3; it gets every
/// table's and bucket's env var, and its ARN is a stack output.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFunctionSpec {
    /// Handler (`bootstrap` for a Rust binary on `provided.al2023`).
    pub handler: String,
    /// Lambda runtime, such as `provided.al2023`.
    pub runtime: String,
    /// `arm64` (the default) or `x86_64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Memory, MB (default 256; 128 to 10240).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    /// Timeout (default `30s`; at most `15m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<SpecDuration>,
    /// Where the deployment zip is.
    pub code: FunctionCode,
    /// Checkov checks that do not apply to this function, by ID, each with the reason.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub skip_checks: IndexMap<String, String>,
}

/// A Lambda instruction set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Graviton.
    #[default]
    Arm64,
    /// Intel and AMD.
    X86_64,
}

/// A deployment zip in S3.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionCode {
    /// Bucket holding the zip (may use `${parameter}`s).
    pub s3_bucket: String,
    /// Object key of the zip (may use `${parameter}`s).
    pub s3_key: String,
}

/// Where a data type's documents live in S3: the source of truth the table caches.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DocumentSpec {
    /// The bucket, by name under `buckets` (default: the only bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Object key template using every key parameter, such as `changes/{change_id}.json`.
    pub key: String,
    /// Item attribute that `cachegen backfill --customer` filters on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_attribute: Option<String>,
}

/// A key attribute: its name and DynamoDB scalar type.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// `S` (string, the default), `N` (number) or `B` (binary).
    #[serde(rename = "type", default)]
    pub kind: AttributeType,
}

/// A DynamoDB scalar attribute type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum AttributeType {
    /// String.
    #[default]
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

/// How a table (and its indexes) is billed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Billing {
    /// Pay per request.
    OnDemand,
    /// Fixed capacity (for example to stay inside the free tier: 25 RCU / 25 WCU).
    Provisioned(Capacity),
}

/// Provisioned read and write capacity units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct Capacity {
    /// Read capacity units.
    pub read: u32,
    /// Write capacity units.
    pub write: u32,
}

/// Server-side encryption of a table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// DynamoDB's default: a key AWS owns, invisible in your account.
    AwsOwned,
    /// The AWS-managed KMS key `aws/dynamodb`, visible in CloudTrail.
    AwsManaged,
    /// A customer-managed KMS key (ARN, alias or `${parameter}`).
    KmsKey(String),
}

/// A global secondary index.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Index {
    /// Index partition key.
    pub partition_key: KeyAttribute,
    /// Optional index sort key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<KeyAttribute>,
    /// `all` (default), `keys_only` or `include`.
    #[serde(default)]
    pub projection: ProjectionType,
    /// Attributes copied into the index when `projection: include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projected_attributes: Vec<String>,
    /// Capacity when the table is provisioned (default: the table's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// Which attributes a GSI copies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionType {
    /// Every attribute.
    #[default]
    All,
    /// Only the table and index keys.
    KeysOnly,
    /// The keys plus `projected_attributes`.
    Include,
}

/// A kind of cached value: its key, value type, lifetimes and index attributes.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct DataType {
    /// What the value is; becomes the doc comment of the generated type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Table the items live in (default: `defaults.table`, or the only table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Key template, such as `drs-quotas#{region}#{account_id}`.
    pub key: String,
    /// Sort key template, required when the table has a sort key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort_key: Option<String>,
    /// Typed key parameters named in the templates: `string`, `u32`, `u64`, `i64` or
    /// `bool`, or `{ type: string, default: global }` for one callers may omit.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<String, KeyParam>,
    /// The cached value: a Rust type path, or fields declared inline.
    pub value: ValueSpec,
    /// How long the shared store serves the value (default `defaults.ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<SpecDuration>,
    /// Environment variable that overrides `ttl` when the cache is built, such as
    /// `CACHE_DISCORD_USER_GUILDS_TTL=2m` (within `ttl_bounds`, when set; default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_env: Option<String>,
    /// Shorter in-process (L1) TTL (default: `defaults.memory_ttl`, else `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_ttl: Option<SpecDuration>,
    /// Window after expiry in which a stale value is served while one refresh runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_while_revalidate: Option<SpecDuration>,
    /// Single-flight across containers: one container calls the origin per miss (a
    /// lease in the store) while the others wait for its value (default `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed_flight: Option<bool>,
    /// Bound within which an invalidation in another container stops this one from
    /// serving the old value (such as `2s`): the type's invalidation stamp is re-read at
    /// most this often. Default: none (the in-memory TTL bounds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_check: Option<SpecDuration>,
    /// Extra item attributes, so GSIs can find items. Templates may use key
    /// parameters (`{region}`), value fields (`{value.status}`), `{now}` and `{data_type}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub attributes: IndexMap<String, String>,
    /// Invalidation tags, such as `discord:guild:{guild_id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// GSI used to invalidate every item of this type; its partition key must be a
    /// constant attribute of this data type (such as `dataType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidate_by: Option<String>,
    /// Expected traffic, for `cachegen cost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Values over DynamoDB's 400 KB item limit keep their attributes in the item and
    /// their body in the table's `overflow_bucket` (default `false`: such values fail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_values: Option<bool>,
    /// Makes the values documents kept in S3, with this table as their cache and index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentSpec>,
    /// When the origin fails (or passes `hard_timeout`), serve the expired value for up to
    /// `max_stale` past its TTL, and leave the origin alone for `throttle` (default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_safe: Option<FailSafe>,
    /// With `fail_safe`, answer with the expired value once the origin is slower than this,
    /// while its call goes on in the background and stores its value (`wrap_swr`; default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_timeout: Option<SpecDuration>,
    /// Abandon the origin call past this: the caller gets an error, or the expired value
    /// under `fail_safe` (default: wait for the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_timeout: Option<SpecDuration>,
    /// A hit past this fraction of the TTL, between 0 and 1 (such as `0.8`), starts one
    /// background refresh, so a hot key never expires under traffic (`wrap_swr`; default: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 1))]
    pub eager_refresh: Option<f64>,
    /// Each write's TTL is lengthened by a random amount up to this (at most `ttl`), so
    /// entries written together do not expire together (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_jitter: Option<SpecDuration>,
    /// How long an origin's "not found" is cached (`wrap_optional`), shorter than `ttl`
    /// (default: `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_ttl: Option<SpecDuration>,
    /// Bounds of a TTL the origin returns with its value (`wrap_expiring`), such as a
    /// token's `expires_in` (default: up to `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_bounds: Option<TtlBounds>,
}

/// Fail-safe: an expired value served when the origin fails, rather than the error.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
pub struct FailSafe {
    /// How long past its TTL a value is kept to be served when the origin fails (such as `1h`).
    pub max_stale: SpecDuration,
    /// Once the origin failed and the expired value was served, how long each container
    /// serves it before calling the origin again (such as `30s`, at most `max_stale`).
    pub throttle: SpecDuration,
}

/// Bounds of the TTLs an origin returns with its values.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
pub struct TtlBounds {
    /// The shortest TTL kept (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<SpecDuration>,
    /// The longest TTL kept, at most the data type's `ttl` (default: `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<SpecDuration>,
}

/// Expected traffic of one data type, from which `cachegen cost` estimates the bill.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Traffic {
    /// Lookups per day (memory hits included).
    pub requests_per_day: u64,
    /// Share of lookups answered from the cache, `0` to `1`; misses write the value back.
    pub hit_rate: f64,
    /// Size of one stored item, such as `800B`, `5KB` or `1.5MB` (at most DynamoDB's 400KB).
    pub item_size: String,
}

/// The value type of a data type: exactly one of `type` or `fields`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct ValueSpec {
    /// A Rust type path implementing serde, such as `crate::model::DrsQuota`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub rust_type: Option<String>,
    /// Fields of a struct cachegen generates: `name: type`, where type is `string`,
    /// `bool`, `u32`, `u64`, `i64`, `f64`, `json`, `list<T>`, `option<T>` or `map<T>`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fields: IndexMap<String, String>,
}

/// A Lambda or role that uses the cache.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Consumer {
    /// What the consumer is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The IAM role its policy attaches to: `create` (default), `{ existing: name }`,
    /// `{ parameter: RoleNameParam }` or `{ arn_parameter: RoleArnParam }`.
    #[serde(default)]
    pub role: RoleRef,
    /// What it may do, by data type name (or `"*"` for all): `read`, `write`, `invalidate`,
    /// `query`, and for document types `sync`.
    pub access: IndexMap<String, Vec<Access>>,
}

/// How a consumer's IAM role is found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleRef {
    /// cachegen creates a Lambda execution role.
    #[default]
    Create,
    /// An existing role, by name.
    Existing(String),
    /// A role whose name the deployer passes as this template parameter.
    Parameter(String),
    /// A role whose ARN the deployer passes as this template parameter (roles without a path).
    ArnParameter(String),
}

impl RoleRef {
    /// The template parameter passing the role in, if one does.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Self::Parameter(name) | Self::ArnParameter(name) => Some(name),
            Self::Create | Self::Existing(_) => None,
        }
    }
}

/// One thing a consumer may do with a data type.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Get and batch-get items.
    Read,
    /// Put and update items.
    Write,
    /// Delete items, by key, tag or (through its GSI) data type.
    Invalidate,
    /// Query the GSIs the data type's attributes populate.
    Query,
    /// Apply S3 object events to a document type's cache: read the object, then write or
    /// delete its item (what a bucket's `events.consumer` needs, and nothing more).
    Sync,
}

/// Where the runtime publishes metrics.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Metrics {
    /// CloudWatch namespace (default `Cachegen/<service>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A CloudWatch alarm.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct Alarm {
    /// Shown in the alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What is watched.
    pub metric: AlarmMetric,
    /// Limit: a duration for `latency` (`500ms`), a ratio for `hit_rate` (`0.7`) and
    /// `sync_errors` (`0.01`), a count otherwise.
    pub threshold: Threshold,
    /// Limit the alarm to one data type (default: the whole service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    /// Table watched by a `throttles` alarm (default: the only table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Bucket whose sync function a `sync_errors` alarm watches (default: the only bucket
    /// with `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// Percentile for `latency` (default `p99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// Length of one evaluation period (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<SpecDuration>,
    /// Periods evaluated (default `1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<u32>,
    /// Actions on alarm, such as an SNS topic ARN; may use `${parameter}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// The metric an alarm watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlarmMetric {
    /// Hits (memory and store) over lookups; alarms when below the threshold.
    HitRate,
    /// Store latency percentile; alarms when above the threshold.
    Latency,
    /// Failed store calls; alarms when above the threshold.
    StoreErrors,
    /// DynamoDB throttled requests on the table, for every operation consumers use.
    Throttles,
    /// A bucket's sync Lambda: its `Errors` over its `Invocations`, a ratio; alarms when
    /// above the threshold (`0.01`: more than 1% of the S3 events it handles fail).
    SyncErrors,
}

/// An alarm threshold: a number, or a duration for latency.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Threshold {
    /// A ratio or a count.
    Number(f64),
    /// A duration such as `500ms`.
    Duration(SpecDuration),
}

/// What `cachegen build` writes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct Outputs {
    /// Directory, relative to the spec file (default `generated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// Targets written (default `[cloudformation]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Settings of the generated Rust crate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust: Option<RustOutput>,
    /// Files of your own that `build` renders beside the targets: each output path
    /// (relative to `dir`) and the tera template it is rendered from (relative to the
    /// spec), over the JSON view `cachegen ir` prints.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub templates: IndexMap<String, String>,
}

/// Settings of the generated Rust crate (`rust` target).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
pub struct RustOutput {
    /// Path of a local `cachegen-runtime`, relative to the generated crate
    /// (default: the published version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_path: Option<String>,
}

/// An output format.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A CloudFormation template (`cloudformation.yaml`).
    Cloudformation,
    /// A SAM template (`sam.yaml`) to add to a serverless application.
    Sam,
    /// A Terraform module (`terraform/`).
    Terraform,
    /// A typed Rust crate (`rust/Cargo.toml`, `rust/src/lib.rs`) linking to `cachegen-runtime`.
    Rust,
}

impl Target {
    /// Where under the output directory the target writes: its file, or its directory
    /// (ending in `/`).
    pub const fn output(self) -> &'static str {
        match self {
            Self::Cloudformation => "cloudformation.yaml",
            Self::Sam => "sam.yaml",
            Self::Terraform => "terraform/",
            Self::Rust => "rust/",
        }
    }

    /// Whether the target writes the file at `path` (relative to the output directory):
    /// its file, or anything in its directory.
    pub fn writes(self, path: &str) -> bool {
        let output = self.output();
        if output.ends_with('/') {
            path.starts_with(output)
        } else {
            path == output
        }
    }
}

/// The JSON Schema of the spec, as `cachegen schema` prints it.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Spec).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            "https://cachegen.dev/schema/cachegen.schema.json".into(),
        );
    }
    schema
}
