//! Configuration from the environment.
//!
//! | Variable | Meaning |
//! |---|---|
//! | [`TABLE_NAME_ENV`] (or the name the caller passes) | DynamoDB table; unset means L1-only mode |
//! | [`REDIS_URL_ENV`] | `redis://` or `rediss://` URL; when set, Redis replaces DynamoDB |
//! | [`REDIS_CLUSTER_ENV`] | `true` when `REDIS_URL` is a Redis Cluster (ElastiCache Serverless): then it may list several nodes, comma-separated |
//! | [`CACHE_ENABLED_ENV`] | `false`/`0`/`no`/`off` bypasses the cache: every call goes to the origin |
//! | [`KEY_PREFIX_ENV`] | prepended to every store key, e.g. `prod#`, to scope keys per environment |
//! | [`MEMORY_SIZE_ENV`] | L1 bound: a plain entry count (`10000`) or a byte size (`64MiB`); `0` disables L1 |
//! | [`OVERFLOW_BUCKET_ENV`] | S3 bucket for values over DynamoDB's item limit, for data types that allow them (see `store::S3Overflow`) |
//! | [`STORE_TIMEOUT_ENV`] | milliseconds one store call may take before the lookup degrades to the origin (default: what the caller passes, 200 in generated code) |
//!
//! A data type may also name a variable overriding its store TTL (the spec's `ttl_env`,
//! read by [`ttl_from_lookup`]).
//!
//! Byte sizes accept `B`, `KB`, `MB`, `GB` (powers of 1000) and `KiB`, `MiB`, `GiB`
//! (powers of 1024), case-insensitive, with an optional space: `64MiB`, `512 kb`.
//!
//! With the `otel` feature, the caches these settings build also record their metrics on
//! the global OpenTelemetry meter provider (`metrics::otel`).
//!
//! A variable asking for a store or service the runtime was built without (`REDIS_URL`
//! without the `redis` feature, the overflow bucket without `s3`) is an error naming the
//! feature when the store connects, never a silent fallback.

use std::sync::{Arc, Once};
use std::time::Duration;

pub use crate::bounded::{DEFAULT_MEMORY_BYTES, DEFAULT_MEMORY_ENTRIES, MemoryLimit};
use crate::error::CacheError;
use crate::store::CacheStore;
#[cfg(feature = "redis")]
use crate::store::RedisStore;
#[cfg(feature = "dynamodb")]
use crate::store::{DynamoLayout, DynamoStore, S3Overflow};
use crate::tiered::{TieredCache, TieredCacheBuilder};

pub use crate::error::ConfigError;

pub use cachegen_names::env::{
    CACHE_ENABLED as CACHE_ENABLED_ENV, KEY_PREFIX as KEY_PREFIX_ENV,
    MEMORY_SIZE as MEMORY_SIZE_ENV, OVERFLOW_BUCKET as OVERFLOW_BUCKET_ENV,
    REDIS_CLUSTER as REDIS_CLUSTER_ENV, REDIS_URL as REDIS_URL_ENV,
    STORE_TIMEOUT_MS as STORE_TIMEOUT_ENV, TABLE_NAME as TABLE_NAME_ENV,
};

/// The longest TTL an override may set, as the spec's TTLs: 365 days.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The store TTL that variable `var` sets through `lookup`, or `ttl` when it is unset or
/// empty. A value must be a duration (`90s`, `5m`, `1h 30m`) of whole seconds from 1s to
/// [`MAX_TTL`], and within `bounds` when the data type has them; any other value is an
/// error naming `var`, never a silent fallback to `ttl`.
pub fn ttl_from_lookup(
    var: &'static str,
    ttl: Duration,
    bounds: Option<(Duration, Duration)>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Duration, ConfigError> {
    let Some(value) = lookup(var).filter(|value| !value.trim().is_empty()) else {
        return Ok(ttl);
    };
    let invalid = |reason| ConfigError::Invalid {
        var,
        value: value.clone(),
        reason,
    };
    let parsed = humantime::parse_duration(value.trim())
        .map_err(|_| invalid("expected a duration such as `90s`, `5m` or `1h 30m`"))?;
    if parsed.subsec_nanos() != 0 || parsed.is_zero() || parsed > MAX_TTL {
        return Err(invalid("expected whole seconds, from 1s to 365 days"));
    }
    match bounds {
        Some((min, max)) if parsed < min || parsed > max => Err(ConfigError::TtlOutOfBounds {
            var,
            value,
            min,
            max,
        }),
        _ => Ok(parsed),
    }
}

/// Which shared store the environment selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `REDIS_URL` is set.
    Redis(String),
    /// `REDIS_URL` is set and `REDIS_CLUSTER=true`: the cluster's nodes named there.
    RedisCluster(Vec<String>),
    /// The table name variable is set.
    Dynamo(String),
    /// Neither: L1 only.
    MemoryOnly,
}

/// Cache settings read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The selected shared store.
    pub backend: Backend,
    /// False when `CACHE_ENABLED=false`.
    pub enabled: bool,
    /// Prefix for every store key.
    pub key_prefix: String,
    /// L1 bound.
    pub memory: MemoryLimit,
    /// S3 bucket for values over DynamoDB's item limit (objects under
    /// [`DEFAULT_OVERFLOW_PREFIX`](crate::store::DEFAULT_OVERFLOW_PREFIX)); ignored by Redis.
    pub overflow_bucket: Option<String>,
    /// Per-call store timeout from [`STORE_TIMEOUT_ENV`], overriding the builder's.
    pub store_timeout: Option<Duration>,
}

impl CacheConfig {
    /// Reads the process environment; `table_env` names the table variable
    /// (generated code passes the spec's name, hand-written code [`TABLE_NAME_ENV`]).
    pub fn from_env(table_env: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(table_env, |k| std::env::var(k).ok())
    }

    /// Reads settings through `lookup`, for tests and custom sources.
    pub fn from_lookup(
        table_env: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::read(Some(table_env), lookup)
    }

    /// Reads the settings of a cache whose shared store can only be Redis (a spec with
    /// `store: redis`): no table variable is read, and without `REDIS_URL` the cache runs
    /// in-process only.
    pub fn redis_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(None, lookup)
    }

    fn read(
        table_env: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let flag = |var: &'static str, default: bool| match get(var) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    var,
                    value: v,
                    reason: "expected true or false",
                }),
            },
        };
        let cluster = flag(REDIS_CLUSTER_ENV, false)?;
        let backend = match (get(REDIS_URL_ENV), table_env.and_then(get)) {
            (Some(urls), _) if cluster => Backend::RedisCluster(
                urls.split(',')
                    .map(str::trim)
                    .filter(|url| !url.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            (Some(url), _) => Backend::Redis(url),
            (None, Some(table)) => Backend::Dynamo(table),
            (None, None) => Backend::MemoryOnly,
        };
        let enabled = flag(CACHE_ENABLED_ENV, true)?;
        let memory = match get(MEMORY_SIZE_ENV) {
            None => MemoryLimit::default(),
            Some(v) => MemoryLimit::parse(&v).ok_or(ConfigError::Invalid {
                var: MEMORY_SIZE_ENV,
                value: v,
                reason: "expected an entry count (10000) or a byte size (64MiB)",
            })?,
        };
        let store_timeout = match get(STORE_TIMEOUT_ENV) {
            None => None,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
                _ => {
                    return Err(ConfigError::Invalid {
                        var: STORE_TIMEOUT_ENV,
                        value: v,
                        reason: "expected a whole number of milliseconds above zero",
                    });
                }
            },
        };
        Ok(Self {
            backend,
            enabled,
            key_prefix: get(KEY_PREFIX_ENV).unwrap_or_default(),
            memory,
            overflow_bucket: get(OVERFLOW_BUCKET_ENV),
            store_timeout,
        })
    }

    /// Keeps values over DynamoDB's item limit in `bucket` (for a bucket named by
    /// another variable than [`OVERFLOW_BUCKET_ENV`]).
    pub fn with_overflow_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.overflow_bucket = Some(bucket.into());
        self
    }

    /// A builder preset from these settings: store connected, prefix, L1 bound
    /// and enabled flag applied, `store_timeout` per store call (unless
    /// [`STORE_TIMEOUT_ENV`] set another). DynamoDB uses
    /// the environment's default AWS configuration and `layout`.
    #[cfg(feature = "dynamodb")]
    pub async fn builder(
        &self,
        layout: DynamoLayout,
        store_timeout: Duration,
    ) -> Result<TieredCacheBuilder, CacheError> {
        let sdk = match self.backend {
            Backend::Dynamo(_) => {
                Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
            }
            _ => None,
        };
        self.builder_with_sdk(sdk.as_ref(), layout, store_timeout)
            .await
    }

    /// A builder preset from these settings when the store can only be Redis (settings
    /// read by [`redis_from_lookup`](Self::redis_from_lookup)): no AWS configuration is loaded.
    pub async fn redis_builder(
        &self,
        store_timeout: Duration,
    ) -> Result<TieredCacheBuilder, CacheError> {
        let store = self.store_without_sdk().await?;
        Ok(self.preset(store, store_timeout))
    }

    /// Like [`builder`](Self::builder) with an explicit AWS configuration
    /// (required when the backend is DynamoDB, ignored otherwise).
    ///
    /// With an overflow bucket, the DynamoDB store gets an [`S3Overflow`] whose client
    /// is built from the same configuration, with path-style addressing when it sets an
    /// endpoint URL (local emulators such as moto).
    #[cfg(feature = "dynamodb")]
    pub async fn builder_with_sdk(
        &self,
        sdk: Option<&aws_config::SdkConfig>,
        layout: DynamoLayout,
        store_timeout: Duration,
    ) -> Result<TieredCacheBuilder, CacheError> {
        let store: Option<Arc<dyn CacheStore>> = match &self.backend {
            Backend::Dynamo(table) => {
                let sdk = sdk.ok_or(ConfigError::MissingSdkConfig)?;
                let client = aws_sdk_dynamodb::Client::new(sdk);
                let store = DynamoStore::new(client, table, layout);
                Some(Arc::new(match &self.overflow_bucket {
                    Some(bucket) => store.with_overflow(overflow(sdk, bucket)?),
                    None => store,
                }))
            }
            _ => self.store_without_sdk().await?,
        };
        Ok(self.preset(store, store_timeout))
    }

    /// The store of a backend other than DynamoDB: Redis, or none.
    async fn store_without_sdk(&self) -> Result<Option<Arc<dyn CacheStore>>, CacheError> {
        static WARN_ONCE: Once = Once::new();
        match &self.backend {
            Backend::Redis(url) => redis_store(url).await.map(Some),
            Backend::RedisCluster(urls) => redis_cluster_store(urls).map(Some),
            Backend::Dynamo(_) => Err(ConfigError::MissingSdkConfig.into()),
            Backend::MemoryOnly => {
                WARN_ONCE.call_once(|| {
                    tracing::warn!("no cache table name or REDIS_URL set: running with the in-process cache only");
                });
                Ok(None)
            }
        }
    }

    /// A builder on `store` with these settings applied.
    fn preset(
        &self,
        store: Option<Arc<dyn CacheStore>>,
        store_timeout: Duration,
    ) -> TieredCacheBuilder {
        let builder = TieredCache::builder()
            .enabled(self.enabled)
            .key_prefix(&self.key_prefix)
            .memory(self.memory)
            .store_timeout(self.store_timeout.unwrap_or(store_timeout));
        // With `otel`, caches built from the environment (a generated crate's) record on
        // the process's meter provider: a no-op until the application installs one.
        #[cfg(feature = "otel")]
        let builder = builder.opentelemetry(crate::metrics::otel::Otel::global());
        match store {
            Some(store) => builder.store(store),
            None => builder,
        }
    }
}

#[cfg(feature = "redis")]
async fn redis_store(url: &str) -> Result<Arc<dyn CacheStore>, CacheError> {
    Ok(Arc::new(RedisStore::connect(url).await?))
}

#[cfg(feature = "redis")]
fn redis_cluster_store(urls: &[String]) -> Result<Arc<dyn CacheStore>, CacheError> {
    Ok(Arc::new(RedisStore::connect_cluster(urls)?))
}

#[cfg(not(feature = "redis"))]
async fn redis_store(_url: &str) -> Result<Arc<dyn CacheStore>, CacheError> {
    Err(without_redis())
}

#[cfg(not(feature = "redis"))]
fn redis_cluster_store(_urls: &[String]) -> Result<Arc<dyn CacheStore>, CacheError> {
    Err(without_redis())
}

#[cfg(not(feature = "redis"))]
fn without_redis() -> CacheError {
    ConfigError::FeatureDisabled {
        var: REDIS_URL_ENV,
        feature: "redis",
    }
    .into()
}

/// The overflow of values over DynamoDB's item limit into `bucket`.
#[cfg(all(feature = "dynamodb", feature = "s3"))]
fn overflow(sdk: &aws_config::SdkConfig, bucket: &str) -> Result<S3Overflow, ConfigError> {
    Ok(S3Overflow::new(s3_client(sdk), bucket))
}

#[cfg(all(feature = "dynamodb", not(feature = "s3")))]
fn overflow(_sdk: &aws_config::SdkConfig, _bucket: &str) -> Result<S3Overflow, ConfigError> {
    Err(ConfigError::FeatureDisabled {
        var: OVERFLOW_BUCKET_ENV,
        feature: "s3",
    })
}

/// The default AWS configuration when one of the variables `table_envs` names a table
/// (a DynamoDB store needs it), else `None`: what a generated `Cache::from_env`
/// connects with, so a cache on Redis or in process loads no AWS configuration.
#[cfg(feature = "dynamodb")]
pub async fn aws_config_for_tables(table_envs: &[&str]) -> Option<aws_config::SdkConfig> {
    if names_a_table(table_envs, |var| std::env::var(var).ok()) {
        Some(aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    } else {
        None
    }
}

/// Whether `lookup` gives one of `table_envs` a value that is not blank.
#[cfg(feature = "dynamodb")]
fn names_a_table(table_envs: &[&str], lookup: impl Fn(&str) -> Option<String>) -> bool {
    table_envs
        .iter()
        .any(|var| lookup(var).is_some_and(|value| !value.trim().is_empty()))
}

/// An S3 client on `sdk`; path-style when it names an endpoint (a local emulator has no
/// per-bucket host names).
#[cfg(feature = "s3")]
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<CacheConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CacheConfig::from_lookup("USERS_TABLE", |k| map.get(k).cloned())
    }

    #[test]
    fn env_selects_backend_and_options() {
        let c = config(&[]).unwrap();
        assert_eq!(c.backend, Backend::MemoryOnly);
        assert!(c.enabled);
        let c = config(&[
            ("USERS_TABLE", "users-cache"),
            ("CACHE_ENABLED", "false"),
            ("CACHE_KEY_PREFIX", "dev#"),
            ("CACHE_MEMORY_SIZE", "64MiB"),
        ])
        .unwrap();
        assert_eq!(c.backend, Backend::Dynamo("users-cache".into()));
        assert_eq!((c.enabled, c.key_prefix.as_str()), (false, "dev#"));
        assert_eq!(c.memory, MemoryLimit::bytes(64 << 20));
        assert_eq!(c.overflow_bucket, None);
        let c = config(&[
            ("USERS_TABLE", "t"),
            ("CACHE_OVERFLOW_BUCKET", "big-values"),
        ])
        .unwrap();
        assert_eq!(c.overflow_bucket.as_deref(), Some("big-values"));
        let c = config(&[("USERS_TABLE", "t"), ("REDIS_URL", "redis://127.0.0.1:1")]).unwrap();
        assert_eq!(c.backend, Backend::Redis("redis://127.0.0.1:1".into()));
        let c = config(&[
            ("REDIS_URL", "rediss://a:6379, rediss://b:6379"),
            ("REDIS_CLUSTER", "true"),
        ])
        .unwrap();
        let seeds = vec!["rediss://a:6379".to_string(), "rediss://b:6379".to_string()];
        assert_eq!(c.backend, Backend::RedisCluster(seeds));
        assert!(config(&[("REDIS_URL", "redis://a"), ("REDIS_CLUSTER", "sometimes")]).is_err());
        assert!(config(&[("CACHE_ENABLED", "maybe")]).is_err());
        assert!(config(&[("CACHE_MEMORY_SIZE", "lots")]).is_err());
        assert_eq!(c.store_timeout, None);
        let c = config(&[("CACHE_STORE_TIMEOUT_MS", "1500")]).unwrap();
        assert_eq!(c.store_timeout, Some(Duration::from_millis(1500)));
        assert!(config(&[("CACHE_STORE_TIMEOUT_MS", "0")]).is_err());
        assert!(config(&[("CACHE_STORE_TIMEOUT_MS", "1s")]).is_err());
    }

    #[test]
    fn a_ttl_override_is_read_checked_and_named_in_its_error() {
        const VAR: &str = "CACHE_DISCORD_USER_GUILDS_TTL";
        let spec_ttl = Duration::from_secs(60);
        let ttl = |value: Option<&str>, bounds| {
            ttl_from_lookup(VAR, spec_ttl, bounds, |name| {
                assert_eq!(name, VAR);
                value.map(str::to_owned)
            })
        };
        assert_eq!(ttl(None, None).unwrap(), spec_ttl);
        assert_eq!(ttl(Some(" "), None).unwrap(), spec_ttl);
        assert_eq!(ttl(Some("2h"), None).unwrap(), Duration::from_secs(7200));
        assert_eq!(
            ttl(Some(" 1m 30s "), None).unwrap(),
            Duration::from_secs(90)
        );
        for bad in ["sixty", "60", "1500ms", "0s", "400days", "-5m"] {
            let err = ttl(Some(bad), None).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { var: VAR, .. }),
                "{bad}"
            );
            assert!(
                err.to_string().starts_with(&format!("invalid {VAR}=")),
                "{err}"
            );
        }
        let bounds = Some((Duration::from_secs(30), Duration::from_secs(600)));
        assert_eq!(ttl(Some("5m"), bounds).unwrap(), Duration::from_secs(300));
        for outside in ["10s", "11m"] {
            let err = ttl(Some(outside), bounds).unwrap_err();
            assert!(
                matches!(err, ConfigError::TtlOutOfBounds { var: VAR, .. }),
                "{outside}"
            );
            assert!(err.to_string().contains("between 30s and 600s"), "{err}");
        }
    }

    #[test]
    fn a_redis_only_cache_reads_no_table_variable() {
        let vars: HashMap<&str, &str> = [
            ("CACHE_TABLE_NAME", "left-over"),
            ("USERS_TABLE", "left-over"),
        ]
        .into();
        let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
        let c = CacheConfig::redis_from_lookup(lookup).unwrap();
        assert_eq!(c.backend, Backend::MemoryOnly);
        let c = CacheConfig::redis_from_lookup(|k: &str| {
            (k == "REDIS_URL").then(|| "rediss://cache:6379".to_string())
        })
        .unwrap();
        assert_eq!(c.backend, Backend::Redis("rediss://cache:6379".into()));
    }

    #[cfg(not(feature = "redis"))]
    #[tokio::test]
    async fn redis_asked_of_a_build_without_it_is_an_error_naming_the_feature() {
        let c = CacheConfig::redis_from_lookup(|k: &str| {
            (k == "REDIS_URL").then(|| "redis://127.0.0.1:1".to_string())
        })
        .unwrap();
        let err = c
            .redis_builder(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "REDIS_URL is set, but cachegen-runtime was built without its `redis` feature"
            ),
            "{err}"
        );
        let memory_only = CacheConfig::redis_from_lookup(|_| None).unwrap();
        assert!(
            memory_only
                .redis_builder(Duration::from_millis(200))
                .await
                .is_ok()
        );
    }

    #[cfg(feature = "dynamodb")]
    #[test]
    fn aws_is_configured_only_for_a_named_table() {
        let tables = ["USERS_TABLE", "ORDERS_TABLE"];
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |var: &str| {
                vars.iter()
                    .find(|(name, _)| *name == var)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert!(!names_a_table(&tables, lookup(&[])));
        assert!(!names_a_table(&tables, lookup(&[("USERS_TABLE", "  ")])));
        assert!(!names_a_table(&tables, lookup(&[("OTHER_TABLE", "t")])));
        assert!(names_a_table(
            &tables,
            lookup(&[("ORDERS_TABLE", "orders")])
        ));
    }
}
