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
    Redis(RedisStore),
}

impl Store {
    /// Whether the store is DynamoDB (the default, left out when written back).
    pub fn is_dynamodb(&self) -> bool {
        *self == Self::Dynamodb
    }
}

/// A Redis store: an existing one, whose URL each consumer's own deployment sets as
/// `REDIS_URL`, or one the templates create (`create`).
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
