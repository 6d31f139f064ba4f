//! The names cachegen's generated infrastructure and the `cachegen-runtime` crate must
//! agree on, defined once.
//!
//! The compiler writes them into templates (alarms watch the metrics, IAM and lifecycle
//! rules name the overflow prefix, every consumer gets the env vars, tables carry the
//! fingerprint tag); the runtime emits, reads and writes them. Both depend on this crate,
//! which depends on nothing, so neither keeps a copy.

/// Metric and dimension names the runtime emits and the generated alarms and dashboards watch.
pub mod metric {
    /// Hits served by the in-process L1 (Count).
    pub const MEMORY_HITS: &str = "MemoryHits";
    /// Hits served by the shared store (Count).
    pub const STORE_HITS: &str = "StoreHits";
    /// Lookups that reached the origin (Count).
    pub const MISSES: &str = "Misses";
    /// Stale values served while a refresh runs (Count).
    pub const STALE_SERVES: &str = "StaleServes";
    /// Callers that waited on another caller's origin call (Count).
    pub const COALESCED_CALLS: &str = "CoalescedCalls";
    /// Shared-store errors and timeouts (Count).
    pub const STORE_ERRORS: &str = "StoreErrors";
    /// Shared-store call latency (Milliseconds).
    pub const STORE_LATENCY: &str = "StoreLatency";
    /// Origin call latency (Milliseconds).
    pub const ORIGIN_LATENCY: &str = "OriginLatency";
    /// Dimension naming the service.
    pub const SERVICE_DIMENSION: &str = "Service";
    /// Dimension naming the cached data type.
    pub const DATA_TYPE_DIMENSION: &str = "DataType";
}

/// Default names of the attributes the runtime writes on a DynamoDB item besides its keys
/// and the table's TTL attribute.
pub mod item {
    /// The encoded value envelope (binary).
    pub const VALUE: &str = "value";
    /// Application-level expiry, epoch seconds.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// When the value's origin read began, epoch seconds.
    pub const CREATED_AT: &str = "createdAt";
    /// Where an oversized value's body is kept in S3 (a map of object key and digest).
    pub const VALUE_REF: &str = "valueRef";
    /// The item's version: new on every write, delete and lease (a number).
    pub const VERSION: &str = "itemVersion";
}

/// How a cache key carries a sort key, on a table that has one.
///
/// A data type on such a table has two templates, its partition key's and its sort key's;
/// its cache key is the two texts joined by [`SEPARATOR`](sort_key::SEPARATOR). The
/// runtime splits the key there into the item's two key attributes. Key parameters are
/// percent-encoded and the compiler refuses the separator in a template's fixed text, so
/// no parameter value can move the split.
pub mod sort_key {
    /// Joins a cache key's partition and sort parts (U+001F, the ASCII unit separator).
    pub const SEPARATOR: char = '\u{1f}';
    /// The sort key of the runtime's own items (invalidation stamps, idempotency
    /// records), whose keys have no sort part, on a table whose sort key is a string.
    pub const INTERNAL_STRING: &str = "!";
    /// The same, on a table whose sort key is a number.
    pub const INTERNAL_NUMBER: &str = "0";
}

/// Names of the environment variables the templates set on consumers and the runtime reads.
pub mod env {
    /// The DynamoDB table's name, when the spec has a single table.
    pub const TABLE_NAME: &str = "CACHE_TABLE_NAME";
    /// A Redis URL; switches the shared store to Redis.
    pub const REDIS_URL: &str = "REDIS_URL";
    /// `true` when the Redis URL names a Redis Cluster (ElastiCache Serverless).
    pub const REDIS_CLUSTER: &str = "REDIS_CLUSTER";
    /// `false` bypasses the cache.
    pub const CACHE_ENABLED: &str = "CACHE_ENABLED";
    /// Prepended to every store key.
    pub const KEY_PREFIX: &str = "CACHE_KEY_PREFIX";
    /// Milliseconds one store call may take.
    pub const STORE_TIMEOUT_MS: &str = "CACHE_STORE_TIMEOUT_MS";
    /// The in-process L1's bound.
    pub const MEMORY_SIZE: &str = "CACHE_MEMORY_SIZE";
    /// The S3 bucket holding values over DynamoDB's item limit.
    pub const OVERFLOW_BUCKET: &str = "CACHE_OVERFLOW_BUCKET";

    /// Every variable above: names a spec may not give its own variables.
    pub const ALL: &[&str] = &[
        TABLE_NAME,
        REDIS_URL,
        REDIS_CLUSTER,
        CACHE_ENABLED,
        KEY_PREFIX,
        STORE_TIMEOUT_MS,
        MEMORY_SIZE,
        OVERFLOW_BUCKET,
    ];
}

/// Tag key carrying the spec fingerprint on every table, which `verify` compares.
pub const FINGERPRINT_TAG: &str = "cachegen:fingerprint";

/// Object key prefix under which the runtime keeps oversized values' bodies, and the
/// templates grant access and expire objects.
pub const OVERFLOW_PREFIX: &str = "overflow/";
