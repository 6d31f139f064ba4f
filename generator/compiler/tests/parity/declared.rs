//! What a template declares, normalised so the three targets compare equal: tables,
//! buckets, functions, alarms, the Redis, IAM and dashboards.

use std::collections::{BTreeMap, BTreeSet};

use heck::ToSnakeCase;
use serde_json::Value;

/// A GSI: keys, projection type, sorted non-key attributes, capacity.
pub(crate) type IndexDecl = (Vec<(String, String)>, String, Vec<String>, Option<String>);

/// One table, as a template declares it; names are in `${parameter}` form.
#[derive(Debug, PartialEq)]
pub(crate) struct TableDecl {
    pub(crate) name: String,
    pub(crate) keys: Vec<(String, String)>,
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) indexes: BTreeMap<String, IndexDecl>,
    pub(crate) ttl: String,
    pub(crate) billing: String,
    pub(crate) encryption: String,
    pub(crate) point_in_time_recovery: bool,
    pub(crate) deletion_protection: bool,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) skips: BTreeSet<String>,
}

/// One created bucket and what comes with it, as a template declares it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct BucketDecl {
    pub(crate) name: String,
    /// Algorithm, key (if any), bucket key.
    pub(crate) encryption: (String, Option<String>, bool),
    pub(crate) versioning: String,
    /// All four blocks on.
    pub(crate) public_access_blocked: bool,
    pub(crate) ownership: String,
    /// `id prefix expiration-days noncurrent-days abort-days` per rule.
    pub(crate) lifecycle: BTreeSet<String>,
    /// (function, event, prefix, suffix).
    pub(crate) notifications: BTreeSet<(String, String, String, String)>,
    /// (function, principal, source ARN, source account) of the invoke permission.
    pub(crate) permission: Option<(String, String, String, String)>,
    /// A policy denying requests without TLS.
    pub(crate) tls_only: bool,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) skips: BTreeSet<String>,
}

/// A sync function the template creates, as a template declares it.
#[derive(Debug, PartialEq)]
pub(crate) struct FunctionDecl {
    pub(crate) handler: String,
    pub(crate) runtime: String,
    pub(crate) architectures: Vec<String>,
    pub(crate) memory: String,
    pub(crate) timeout: String,
    /// Bucket and key of the zip.
    pub(crate) code: (String, String),
    pub(crate) environment: BTreeMap<String, String>,
    pub(crate) skips: BTreeSet<String>,
}

/// One metric an alarm reads.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MetricDecl {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) dimensions: BTreeMap<String, String>,
    pub(crate) stat: String,
    pub(crate) period: String,
}

/// One alarm, keyed by its name without the stack prefix.
#[derive(Debug, PartialEq)]
pub(crate) struct AlarmDecl {
    pub(crate) comparison: String,
    pub(crate) threshold: String,
    pub(crate) evaluation_periods: String,
    pub(crate) expression: Option<String>,
    pub(crate) metrics: BTreeSet<MetricDecl>,
}

/// A created Redis (ElastiCache Serverless), as a template declares it.
#[derive(Debug, PartialEq)]
pub(crate) struct RedisDecl {
    pub(crate) name: String,
    pub(crate) engine: String,
    pub(crate) description: String,
    pub(crate) subnets: String,
    pub(crate) security_groups: String,
    pub(crate) kms_key: Option<String>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) skips: BTreeSet<String>,
}

/// Everything the parity test compares.
#[derive(Debug, PartialEq)]
pub(crate) struct Declared {
    pub(crate) redis: Option<RedisDecl>,
    /// By logical stem (`query_cache`).
    pub(crate) tables: BTreeMap<String, TableDecl>,
    /// By logical stem (`documents`).
    pub(crate) buckets: BTreeMap<String, BucketDecl>,
    /// Consumer (`query_handler`) -> (action, resource) pairs.
    pub(crate) grants: BTreeMap<String, BTreeSet<(String, String)>>,
    /// Created sync functions, by bucket stem (`documents`).
    pub(crate) functions: BTreeMap<String, FunctionDecl>,
    pub(crate) alarms: BTreeMap<String, AlarmDecl>,
    /// The dashboard bodies, with table names and the region normalised, by the heading
    /// each opens with.
    pub(crate) dashboards: BTreeMap<String, Value>,
}

/// `QueryCacheTable` -> `query_cache`.
pub(crate) fn table_stem(logical_id: &str) -> String {
    logical_id.trim_end_matches("Table").to_snake_case()
}

/// `DocumentsBucket` -> `documents`, for bucket logical IDs.
pub(crate) fn bucket_stem(logical_id: &str) -> Option<String> {
    logical_id
        .strip_suffix("Bucket")
        .map(|stem| stem.to_snake_case())
}

/// Adds a dashboard body, keyed by the heading it opens with (which names its table and
/// page), which every target writes alike.
pub(crate) fn insert_dashboard(declared: &mut Declared, body: Value) {
    let heading = body["widgets"][0]["properties"]["markdown"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        declared.dashboards.insert(heading.clone(), body).is_none(),
        "two dashboards open with {heading}"
    );
}
