//! Error types for stores, the environment configuration and the tiered cache.

use std::sync::Arc;
use std::time::Duration;

/// A boxed error, the type origins may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error raised by a [`CacheStore`](crate::store::CacheStore).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend (DynamoDB, Redis) returned an error or could not be reached.
    #[error("{store} error: {source}")]
    Backend {
        /// Store name, e.g. `dynamodb`.
        store: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The backend refused one request (a service error: a failed validation, a throttle),
    /// or the request failed on its way (no connection, no readable response).
    #[error("{message}")]
    Request {
        /// Store name, e.g. `dynamodb`.
        store: &'static str,
        /// What failed, where and why, e.g. `DynamoDB rejected PutItem on table t:
        /// ValidationException: ...`.
        message: String,
        /// The client's error, with the whole response.
        #[source]
        source: BoxError,
    },
    /// The operation did not finish within the configured timeout.
    #[error("store operation timed out after {0:?}")]
    Timeout(Duration),
    /// The store cannot perform this operation (e.g. pattern delete on DynamoDB).
    #[error("{store} does not support {operation}")]
    Unsupported {
        /// Store name.
        store: &'static str,
        /// Operation name.
        operation: &'static str,
    },
    /// The circuit breaker is open: the store failed repeatedly and is left alone for a while.
    #[error("{store} is failing; calls are paused for {retry_in:?}")]
    CircuitOpen {
        /// Store name.
        store: &'static str,
        /// How long until a probe call may go through.
        retry_in: Duration,
    },
    /// The encoded item exceeds the store's item size limit.
    #[error("item for key `{key}` is {size} bytes, over the {limit}-byte limit of {store}")]
    TooLarge {
        /// Store name.
        store: &'static str,
        /// Full store key.
        key: String,
        /// Encoded item size in bytes.
        size: usize,
        /// The store's limit in bytes.
        limit: usize,
    },
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(store: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            store,
            source: source.into(),
        }
    }

    /// Whether the backend failed the call ([`Backend`](Self::Backend) or
    /// [`Request`](Self::Request)), as opposed to a timeout, an open breaker or a refusal
    /// of the runtime's own.
    pub fn is_backend(&self) -> bool {
        matches!(self, Self::Backend { .. } | Self::Request { .. })
    }
}

/// An invalid environment value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The variable holds a value that does not parse.
    #[error("invalid {var}={value:?}: {reason}")]
    Invalid {
        /// Variable name.
        var: &'static str,
        /// The raw value.
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// The DynamoDB backend was selected without an AWS configuration to reach it.
    #[error("the DynamoDB backend needs an AWS SDK configuration")]
    MissingSdkConfig,
    /// A TTL override outside the bounds its data type allows (its `ttl_bounds`).
    #[error(
        "invalid {var}={value:?}: the data type's TTL must be between {min:?} and {max:?} (its ttl_bounds)"
    )]
    TtlOutOfBounds {
        /// Variable name.
        var: &'static str,
        /// The raw value.
        value: String,
        /// The shortest TTL allowed.
        min: std::time::Duration,
        /// The longest TTL allowed.
        max: std::time::Duration,
    },
    /// A variable asks for a store or service this build of the runtime left out.
    #[error(
        "{var} is set, but cachegen-runtime was built without its `{feature}` feature: turn it on in Cargo.toml, or unset {var}"
    )]
    FeatureDisabled {
        /// Variable name.
        var: &'static str,
        /// The Cargo feature that would serve it.
        feature: &'static str,
    },
    /// A variable the caller needs is unset or empty.
    #[error("{0} is not set: the templates set it on every consumer's function")]
    Missing(&'static str),
}

/// An error returned by [`TieredCache`](crate::TieredCache).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// The shared store failed: on a read only in strict mode; on an explicit write or an
    /// invalidation always (they are never reported done when they were not).
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The origin function failed.
    #[error("origin failed: {0}")]
    Origin(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The origin did not answer within the handle's hard timeout.
    #[error("origin did not answer within {0:?}")]
    OriginTimeout(std::time::Duration),
    /// The environment configuration is invalid.
    #[error(transparent)]
    Config(Arc<ConfigError>),
    /// The value could not be serialized to JSON.
    #[error("could not serialize value: {0}")]
    Serialize(Arc<serde_json::Error>),
    /// The key cannot be used.
    #[error("invalid cache key `{key}`: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why.
        reason: &'static str,
    },
}

impl From<StoreError> for CacheError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl From<ConfigError> for CacheError {
    fn from(e: ConfigError) -> Self {
        Self::Config(Arc::new(e))
    }
}
