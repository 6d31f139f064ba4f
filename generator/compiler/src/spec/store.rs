//! The shared store: DynamoDB tables (the default) or Redis, what users write under `store`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the cache keeps what its containers share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Store {
    /// The spec's DynamoDB `tables`.
    #[default]
    Dynamodb,
    /// Redis or Valkey instead of DynamoDB: the spec declares no table, and the templates
    /// create none, nor any DynamoDB permission.
    Redis(Box<RedisStore>),
}

impl Store {
    /// Whether the store is DynamoDB (the default, left out when written back).
    pub fn is_dynamodb(&self) -> bool {
        *self == Self::Dynamodb
    }
}

/// A Redis store: an existing one, whose URL each consumer's own deployment sets as
/// `REDIS_URL` or the templates pass from a parameter or a secret (`url`), or one the
/// templates create (`create`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct RedisStore {
    /// `REDIS_URL` names a Redis Cluster (default `false`; always `true` with `create`,
    /// since ElastiCache Serverless speaks cluster mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<bool>,
    /// An ElastiCache Serverless cache the templates create in your VPC, whose URL they
    /// give the consumers (default: none, the Redis exists already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<CreatedRedis>,
    /// Where the templates take an existing Redis's URL from, to set it as `REDIS_URL` in
    /// every function they configure (default: nowhere, each consumer sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<RedisUrlSource>,
}

/// Where an existing Redis's URL comes from: `{ parameter: RedisUrl }` or
/// `{ secret: bot-redis, key: url }`, exactly one of the two.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct RedisUrlSource {
    /// A template parameter that hides its value (`NoEcho`; a `sensitive` Terraform
    /// variable), named in PascalCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// A Secrets Manager secret, by name or ARN (may use `${parameter}`), resolved when the
    /// stack deploys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The key of the URL in a JSON secret (default: the whole secret string is the URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// An ElastiCache Serverless cache (Valkey or Redis OSS) the templates create. Its subnets
/// and security groups are template parameters; traffic is always encrypted in transit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct CreatedRedis {
    /// `valkey` (default) or `redis`.
    #[serde(default)]
    pub engine: RedisEngine,
    /// Cache name; may use `${service}`, `${parameter}` and `${AWS::StackName}`
    /// (default `${service}-cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Customer-managed KMS key encrypting the data at rest (key ARN or `${parameter}`;
    /// default: a key ElastiCache owns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Checkov checks that do not apply to the cache, by ID, each with the reason.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub skip_checks: indexmap::IndexMap<String, String>,
}

/// The engine of a created cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedisEngine {
    /// Valkey, the open-source fork of Redis (cheaper on ElastiCache Serverless).
    #[default]
    Valkey,
    /// Redis OSS.
    Redis,
}
