//! Tiered cache runtime for cachegen's generated modules, usable by hand too.
//!
//! A lookup is answered from the in-process L1 (quick_cache) if fresh, else from the
//! shared [`CacheStore`](store::CacheStore) (DynamoDB by default, Redis as the
//! alternative), else by calling the caller's origin, whose result is then
//! stored in the store and, once the store accepted it, in L1. Concurrent misses on one
//! key call the origin once per process (and once across processes with distributed
//! single-flight); a failing store degrades lookups to L1/origin instead of failing them,
//! while explicit writes and invalidations report the failure.
//!
//! # Coherence
//!
//! Once `delete`, `invalidate_tag`, `invalidate_prefix`, `invalidate_all` or
//! `clear_memory` has returned `Ok` at time t, no lookup that starts after t returns a
//! value whose origin read began before the invalidation was called: in the same process
//! at once, in other processes once their view of the invalidated scope is younger than
//! the handle's bound ([`TieredCache::with_version_check`], else the memory TTL, else
//! [`DEFAULT_VERSION_CHECK`]). Distinct keys never address one item, and no key can
//! address the cache's own items ([`store::INTERNAL_KEY_MARKER`]). An invalidation that
//! did not complete returns an error; dry run changes nothing; a dropped future leaks no
//! lease; L1 stays within its byte bound in decoded bytes; tag bookkeeping is one counter
//! per tag. The book has [the whole contract and how it holds][coherence], [the requests
//! each operation costs][costs], and [how the design scales with the number of
//! containers][scale].
//!
//! [coherence]: https://github.com/cachegen/cachegen/blob/main/docs/src/explanation/coherence.md
//! [costs]: https://github.com/cachegen/cachegen/blob/main/docs/src/explanation/costs.md
//! [scale]: https://github.com/cachegen/cachegen/blob/main/docs/src/explanation/scale.md
//!
//! ```no_run
//! use std::time::Duration;
//! use cachegen_runtime::config::{CacheConfig, TABLE_NAME_ENV};
//! use cachegen_runtime::store::DynamoLayout;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct User { id: String, name: String }
//!
//! # async fn load_user(id: &str) -> Result<User, std::io::Error> {
//! #     Ok(User { id: id.to_owned(), name: "Ada".to_owned() })
//! # }
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // CACHE_TABLE_NAME, REDIS_URL, CACHE_ENABLED, CACHE_KEY_PREFIX, CACHE_MEMORY_SIZE.
//! let config = CacheConfig::from_env(TABLE_NAME_ENV)?;
//! let cache = config
//!     .builder(DynamoLayout::builder("pk").ttl_attribute("ttl").build(), Duration::from_millis(200))
//!     .await?
//!     .service("users-api")
//!     .data_type("User")
//!     .build();
//!
//! let user: User = cache
//!     .wrap("user#42", Duration::from_secs(300), || load_user("42"))
//!     .await?;
//! # let _ = user;
//! cache.metrics().flush(); // one EMF line per data type, at the end of the invocation
//! # Ok(()) }
//! ```

mod attributes;
mod bounded;
pub mod clock;
pub mod config;
#[cfg(feature = "s3")]
pub mod documents;
pub mod envelope;
mod error;
mod flight;
pub mod idempotency;
pub mod metrics;
pub mod query;
pub mod store;
mod tiered;
pub mod typed;
#[cfg(feature = "dynamodb")]
pub mod verify;

/// Re-exported so generated code builds `SdkConfig`s with the same version.
#[cfg(any(feature = "dynamodb", feature = "s3"))]
pub use ::aws_config;
/// Re-exported so generated code builds S3 clients for documents with the same version.
#[cfg(feature = "s3")]
pub use ::aws_sdk_s3;
pub use error::{BoxError, CacheError, StoreError};
pub use tiered::{
    CacheValue, DEFAULT_COMPRESS_OVER, DEFAULT_INVALIDATION_TIMEOUT, DEFAULT_STORE_TIMEOUT,
    DEFAULT_VERSION_CHECK, Described, DistributedFlight, FailSafe, Item, OriginPolicy, Served,
    TieredCache, TieredCacheBuilder, WriteOptions,
};

/// The crate README's examples, compiled and run as doctests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
