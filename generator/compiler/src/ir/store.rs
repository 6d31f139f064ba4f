//! The shared store: DynamoDB (the model's tables) or Redis, and what a created Redis is.

use schemars::JsonSchema;
use serde::Serialize;

use super::{NameTemplate, SkipCheck};
pub use crate::spec::RedisEngine;

/// Template parameter listing the subnets a created Redis is reachable in.
pub const REDIS_SUBNETS_PARAMETER: &str = "RedisSubnetIds";

/// Template parameter listing the security groups of a created Redis.
pub const REDIS_SECURITY_GROUPS_PARAMETER: &str = "RedisSecurityGroupIds";

/// Port of a created Redis (ElastiCache Serverless listens on it, TLS only).
pub const REDIS_PORT: u16 = 6379;

/// Where the cache keeps what its containers share.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Store {
    /// The model's DynamoDB tables.
    #[default]
    Dynamodb,
    /// Redis instead of DynamoDB: the model has no table.
    Redis(Redis),
}

impl Store {
    /// Whether the store is DynamoDB (left out of the view and the fingerprint, so specs
    /// written before `store` existed keep theirs).
    pub fn is_dynamodb(&self) -> bool {
        *self == Self::Dynamodb
    }

    /// The Redis store, if that is the store.
    pub fn redis(&self) -> Option<&Redis> {
        match self {
            Self::Redis(redis) => Some(redis),
            Self::Dynamodb => None,
        }
    }
}

/// A Redis store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Redis {
    /// `REDIS_URL` names a Redis Cluster (`REDIS_CLUSTER=true`).
    pub cluster: bool,
    /// The ElastiCache Serverless cache the templates create; `None`: the Redis exists.
    pub created: Option<CreatedRedis>,
    /// Where the templates take an existing Redis's URL from; `None`: each consumer's
    /// deployment sets `REDIS_URL` (and for a created Redis, the cache gives it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<RedisUrl>,
}

/// Where the templates take an existing Redis's URL from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub enum RedisUrl {
    /// A template parameter hiding its value (`NoEcho`; a `sensitive` Terraform variable).
    Parameter(String),
    /// A Secrets Manager secret, resolved when the stack deploys.
    Secret {
        /// The secret's name or ARN.
        secret: NameTemplate,
        /// The key of the URL in a JSON secret; `None`: the whole secret string.
        key: Option<String>,
    },
}

/// An ElastiCache Serverless cache the templates create, in the subnets and security
/// groups of [`REDIS_SUBNETS_PARAMETER`] and [`REDIS_SECURITY_GROUPS_PARAMETER`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CreatedRedis {
    /// CloudFormation logical ID.
    pub logical_id: String,
    /// Cache name.
    pub cache_name: NameTemplate,
    /// Valkey or Redis OSS.
    pub engine: RedisEngine,
    /// Customer-managed KMS key for data at rest (`None`: a key ElastiCache owns).
    pub kms_key: Option<NameTemplate>,
    /// Tags (the spec's defaults), without the fingerprint tag.
    pub tags: Vec<(String, NameTemplate)>,
    /// Checkov checks the spec skips on the cache, with their reasons.
    pub skip_checks: Vec<SkipCheck>,
}

impl RedisEngine {
    /// The engine as ElastiCache names it: `valkey` or `redis`.
    pub fn elasticache_name(self) -> &'static str {
        match self {
            Self::Valkey => "valkey",
            Self::Redis => "redis",
        }
    }
}
