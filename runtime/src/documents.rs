//! Documents kept in S3 (the source of truth) with DynamoDB as their queryable cache:
//! write-through with rollback, a fallback reader that backfills the cache, and a sync
//! handler for S3 events, so objects written straight to S3 reach the cache too.
//!
//! Documents use the cache strictly (store errors are raised, not degraded): write-through
//! has to know when DynamoDB refused a write, where plain caching would shrug it off.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use backon::{ExponentialBuilder, Retryable};

use crate::error::{CacheError, ConfigError};
use crate::store::{Precondition, Version};
use crate::typed::{DataType, TypedCache};

#[cfg(feature = "lambda-events")]
mod sync;
#[cfg(feature = "lambda-events")]
pub use sync::S3Event;

/// Attempts at writing a document's item while other writers keep replacing it.
const WRITE_ATTEMPTS: usize = 3;

/// A data type whose values are JSON documents in S3, found by key.
pub trait DocumentType: DataType {
    /// The object key of the document at `key`.
    fn object_key(key: &Self::Key) -> String;

    /// The key of the document stored at `object_key`, if it is one of this type's.
    fn parse_object_key(object_key: &str) -> Option<Self::Key>;
}

/// Reads the key parameters back out of an object key written from fixed text and
/// parameters: `literals` are the fixed texts around and between the parameters (one more
/// than there are parameters; the first and last may be empty). Each parameter is decoded
/// with [`parse_key_part`](crate::typed::parse_key_part). `None` if `object_key` does not
/// have that shape.
///
/// A literal between two parameters must start with a character that escaping encodes
/// (such as `/`): that is what marks where the parameter before it ends.
pub fn split_object_key(object_key: &str, literals: &[&str]) -> Option<Vec<String>> {
    let (first, rest) = literals.split_first()?;
    // Without parameters, the key is its one literal.
    let Some((last, between)) = rest.split_last() else {
        return (object_key == *first).then(Vec::new);
    };
    let mut remaining = object_key.strip_prefix(first)?;
    let mut parts = Vec::with_capacity(literals.len() - 1);
    for literal in between {
        let (part, after) = remaining.split_once(literal)?;
        parts.push(crate::typed::parse_key_part(part)?);
        remaining = after;
    }
    parts.push(crate::typed::parse_key_part(remaining.strip_suffix(last)?)?);
    Some(parts)
}

/// [`split_object_key`] for a key of `N` parameters, as an array a generated
/// [`DocumentType::parse_object_key`] destructures (`None` also when the count differs).
pub fn object_key_parts<const N: usize>(
    object_key: &str,
    literals: &[&str],
) -> Option<[String; N]> {
    split_object_key(object_key, literals)?.try_into().ok()
}

/// Why a document operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The DynamoDB cache refused the operation.
    #[error("cache: {0}")]
    Cache(#[from] CacheError),
    /// An S3 call failed, after its retries.
    #[error("S3 {operation} of s3://{bucket}/{key} failed: {message}")]
    S3 {
        /// The S3 operation.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// The error, with its causes.
        message: String,
    },
    /// An object is not a valid document of its type.
    #[error("s3://{bucket}/{key} is not a valid document: {source}")]
    Decode {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Other writers kept replacing the item between this writer's read and write.
    #[error("the cache item kept changing under {attempts} write attempts")]
    Contended {
        /// Attempts made.
        attempts: usize,
    },
    /// The S3 write failed and undoing the cache write failed too.
    #[error("{write}; rolling the cache back also failed: {rollback}")]
    RollbackFailed {
        /// The S3 failure.
        write: Box<DocumentError>,
        /// The cache failure while rolling back.
        rollback: CacheError,
    },
}

/// What an S3 event sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Cache items written from created objects.
    pub updated: usize,
    /// Cache items removed for deleted objects.
    pub removed: usize,
    /// Records for other buckets, other types, or other event kinds.
    pub skipped: usize,
}

impl SyncSummary {
    /// What one event's sync by every document type did: each type's updates and
    /// removals (`per_type`, one summary each), the rest of the event's `records` skipped.
    pub fn of_types(per_type: &[SyncSummary], records: usize) -> Self {
        let updated = per_type.iter().map(|applied| applied.updated).sum();
        let removed = per_type.iter().map(|applied| applied.removed).sum();
        Self {
            updated,
            removed,
            skipped: records - updated - removed,
        }
    }
}

/// Documents of type `D`: S3 objects in `bucket`, cached and indexed in DynamoDB.
#[derive(Clone, Debug)]
pub struct Documents<D> {
    cache: TypedCache<D>,
    s3: Client,
    bucket: String,
    retry: ExponentialBuilder,
    dry_run: bool,
}

fn message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl<D: DocumentType> Documents<D> {
    /// Documents in `bucket`, cached through `cache` (used strictly).
    pub fn new(cache: TypedCache<D>, s3: Client, bucket: impl Into<String>) -> Self {
        Self {
            cache: cache.strict(),
            s3,
            bucket: bucket.into(),
            retry: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(50))
                .with_max_delay(Duration::from_secs(2))
                .with_max_times(3)
                .with_jitter(),
            dry_run: false,
        }
    }

    /// Documents in `bucket`, the value of the variable `bucket_env` (as a generated
    /// `Cache` read it): a [`ConfigError::Missing`] naming the variable when it was unset.
    pub fn in_bucket_from_env(
        cache: TypedCache<D>,
        s3: &Client,
        bucket: Option<&str>,
        bucket_env: &'static str,
    ) -> Result<Self, CacheError> {
        let bucket = bucket.ok_or(ConfigError::Missing(bucket_env))?;
        Ok(Self::new(cache, s3.clone(), bucket))
    }

    /// Retries for each S3 call (default: 3 retries, exponential from 50 ms, with jitter).
    pub fn retry(mut self, retry: ExponentialBuilder) -> Self {
        self.retry = retry;
        self
    }

    /// In dry-run mode reads work, and writes are logged and skipped.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn s3_error(
        &self,
        operation: &'static str,
        key: &str,
    ) -> impl Fn(&dyn std::error::Error) -> DocumentError {
        let bucket = self.bucket.clone();
        let key = key.to_owned();
        move |err| DocumentError::S3 {
            operation,
            bucket: bucket.clone(),
            key: key.clone(),
            message: err.to_string(),
        }
    }

    /// Writes the document: the DynamoDB item first, then the S3 object. If S3 fails
    /// (after retries), the item is rolled back to what the store held before (not to a
    /// copy in this process's memory), and only if it is still the one just written: a
    /// concurrent writer's item is never overwritten by a rollback. Writing the same
    /// document again leaves one item and one object.
    pub async fn write(&self, key: &D::Key, value: &D::Value) -> Result<(), DocumentError> {
        let object_key = D::object_key(key);
        if self.dry_run {
            tracing::info!(op = "write", dry_run = true, bucket = %self.bucket, key = %object_key, "document write skipped");
            return Ok(());
        }
        let started = Instant::now();
        let (previous, written) = self.write_item(key, value).await?;
        let body = serde_json::to_vec(value).map_err(|err| CacheError::Serialize(err.into()))?;
        let put = || async {
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .content_type("application/json")
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .map_err(|err| message(&err))
        };
        let Err(failure) = put.retry(self.retry).await else {
            tracing::info!(op = "write", bucket = %self.bucket, key = %object_key, duration_ms = started.elapsed().as_millis() as u64, "document written");
            return Ok(());
        };
        let error = self.s3_error("PutObject", &object_key)(&std::io::Error::other(failure));
        let still_ours = Precondition::Version(Some(written));
        let rollback = match &previous {
            Some(previous) => self
                .cache
                .set_if(key, previous, still_ours)
                .await
                .map(|v| v.is_some()),
            None => self.cache.delete_if(key, still_ours).await,
        };
        tracing::warn!(op = "rollback", bucket = %self.bucket, key = %object_key, restored = previous.is_some(), ok = rollback.is_ok(), superseded = matches!(rollback, Ok(false)), duration_ms = started.elapsed().as_millis() as u64, error = %error, "S3 write failed; cache write rolled back");
        match rollback {
            // `false`: another writer replaced the item since; theirs stays.
            Ok(_) => Err(error),
            Err(rollback) => Err(DocumentError::RollbackFailed {
                write: Box::new(error),
                rollback,
            }),
        }
    }

    /// Writes the item, conditional on the version it was read at (retried when a
    /// concurrent writer got in between); returns the value the store held before, and
    /// the written version.
    async fn write_item(
        &self,
        key: &D::Key,
        value: &D::Value,
    ) -> Result<(Option<D::Value>, Version), DocumentError> {
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.cache.read_item(key).await?;
            let precondition = Precondition::Version(current.version);
            if let Some(written) = self.cache.set_if(key, value, precondition).await? {
                return Ok((current.value, written));
            }
        }
        Err(DocumentError::Contended {
            attempts: WRITE_ATTEMPTS,
        })
    }

    /// Reads the document: from the cache, else (on a miss or a cache error) from S3,
    /// caching it unless the item changed since the miss (a newer write or a delete
    /// wins). `None` when S3 has no such object either.
    pub async fn read(&self, key: &D::Key) -> Result<Option<D::Value>, DocumentError> {
        // A hit costs what any cache read does; a miss reads the item's version too, before
        // the object, so the backfill cannot overwrite a newer write.
        let cached = match self.cache.get(key).await {
            Ok(Some(value)) => return Ok(Some(value)),
            Ok(None) => self.cache.read_item(key).await,
            Err(err) => Err(err),
        };
        let seen = match cached {
            Ok(item) => match item.value {
                Some(value) => return Ok(Some(value)),
                None => Some(item.version),
            },
            Err(err) => {
                tracing::warn!(op = "fallback", error = %err, "cache read failed; reading S3");
                None
            }
        };
        let started = Instant::now();
        let object_key = D::object_key(key);
        let Some(value) = self.fetch(&object_key).await? else {
            return Ok(None);
        };
        self.backfill(key, &object_key, &value, seen).await;
        tracing::info!(op = "fallback", bucket = %self.bucket, key = %object_key, duration_ms = started.elapsed().as_millis() as u64, "document read from S3");
        Ok(Some(value))
    }

    /// Caches a document read from S3, if the item is still at `seen` (a version read
    /// before the object was; `None`: the cache could not be read, so nothing is written).
    async fn backfill(
        &self,
        key: &D::Key,
        object_key: &str,
        value: &D::Value,
        seen: Option<Option<Version>>,
    ) {
        let Some(seen) = seen else { return };
        if self.dry_run {
            tracing::info!(op = "backfill", dry_run = true, key = %object_key, "backfill skipped");
            return;
        }
        match self
            .cache
            .set_if(key, value, Precondition::Version(seen))
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::debug!(op = "backfill", key = %object_key, "item changed since the miss: not cached")
            }
            Err(err) => {
                tracing::warn!(op = "backfill", key = %object_key, error = %err, "document read from S3 but not cached")
            }
        }
    }

    /// The document at `object_key` in S3, or `None` when there is none.
    async fn fetch(&self, object_key: &str) -> Result<Option<D::Value>, DocumentError> {
        let get = || async {
            self.s3
                .get_object()
                .bucket(&self.bucket)
                .key(object_key)
                .send()
                .await
        };
        let output = match get
            .retry(self.retry)
            .when(|err| !err.as_service_error().is_some_and(|e| e.is_no_such_key()))
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => {
                return Err(self.s3_error("GetObject", object_key)(
                    &std::io::Error::other(message(&err)),
                ));
            }
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| self.s3_error("GetObject", object_key)(&err))?
            .into_bytes();
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| DocumentError::Decode {
                bucket: self.bucket.clone(),
                key: object_key.to_owned(),
                source,
            })
    }

    /// Deletes the document: the S3 object, then the cache item.
    pub async fn delete(&self, key: &D::Key) -> Result<(), DocumentError> {
        let object_key = D::object_key(key);
        if self.dry_run {
            tracing::info!(op = "delete", dry_run = true, key = %object_key, "document delete skipped");
            return Ok(());
        }
        let delete = || async {
            self.s3
                .delete_object()
                .bucket(&self.bucket)
                .key(&object_key)
                .send()
                .await
                .map_err(|err| message(&err))
        };
        delete.retry(self.retry).await.map_err(|failure| {
            self.s3_error("DeleteObject", &object_key)(&std::io::Error::other(failure))
        })?;
        self.cache.delete(key).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_split_back_into_their_parameters() {
        let literals = ["changes/", "/", ".json"];
        assert_eq!(
            split_object_key("changes/acme/c%2F1.json.json", &literals),
            Some(vec!["acme".to_owned(), "c/1.json".to_owned()])
        );
        assert_eq!(split_object_key("changes/acme.json", &literals), None);
        assert_eq!(split_object_key("other/acme/c1.json", &literals), None);
        assert_eq!(split_object_key("changes/a/b/c.json", &literals), None);
        assert_eq!(
            split_object_key("42", &["", ""]),
            Some(vec!["42".to_owned()])
        );
    }

    #[test]
    fn object_key_parts_come_as_an_array_of_their_count() {
        let literals = ["changes/", "/", ".json"];
        assert_eq!(
            object_key_parts::<2>("changes/acme/c%2F1.json", &literals),
            Some(["acme".to_owned(), "c/1".to_owned()])
        );
        assert_eq!(
            object_key_parts::<1>("changes/acme/c1.json", &literals),
            None
        );
        assert_eq!(object_key_parts::<2>("other/acme/c1.json", &literals), None);
        assert_eq!(
            object_key_parts::<0>("docs/settings.json", &["docs/settings.json"]),
            Some([])
        );
    }

    #[test]
    fn the_types_summaries_add_up_and_the_rest_is_skipped() {
        let applied = |updated, removed, skipped| SyncSummary {
            updated,
            removed,
            skipped,
        };
        assert_eq!(
            SyncSummary::of_types(&[applied(2, 0, 3), applied(0, 1, 4)], 5),
            applied(2, 1, 2)
        );
        assert_eq!(SyncSummary::of_types(&[], 3), applied(0, 0, 3));
    }

    #[tokio::test]
    async fn an_unset_bucket_variable_is_named() {
        let cache = crate::TieredCache::builder().build();
        let s3 = Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .build(),
        );
        let handle = || TypedCache::<Doc>::new(&cache);
        let err = Documents::in_bucket_from_env(handle(), &s3, None, "DOCS_BUCKET").unwrap_err();
        assert!(
            matches!(&err, CacheError::Config(config) if matches!(**config, ConfigError::Missing("DOCS_BUCKET"))),
            "{err:?}"
        );
        let documents =
            Documents::in_bucket_from_env(handle(), &s3, Some("docs-1"), "DOCS_BUCKET").unwrap();
        assert_eq!(documents.bucket(), "docs-1");
    }

    /// A document type for the tests above.
    #[derive(Debug)]
    enum Doc {}

    impl DataType for Doc {
        type Key = String;
        type Value = String;
        const NAME: &'static str = "doc";
        const TTL: Duration = Duration::from_secs(60);
        const MEMORY_TTL: Duration = Duration::from_secs(60);
        const KEY_PREFIX: &'static str = "doc#";

        fn key(key: &String) -> String {
            format!("doc#{key}")
        }
    }

    impl DocumentType for Doc {
        fn object_key(key: &String) -> String {
            format!("docs/{key}.json")
        }

        fn parse_object_key(object_key: &str) -> Option<String> {
            let [key] = object_key_parts(object_key, &["docs/", ".json"])?;
            Some(key)
        }
    }

    #[test]
    fn a_generated_parse_reads_keys_back() {
        assert_eq!(
            Doc::parse_object_key("docs/a%2Fb.json").as_deref(),
            Some("a/b")
        );
        assert_eq!(Doc::parse_object_key("docs/a/b.json"), None);
    }

    #[test]
    fn an_object_key_without_parameters_is_its_literal() {
        let literals = ["docs/settings.json"];
        assert_eq!(
            split_object_key("docs/settings.json", &literals),
            Some(Vec::new())
        );
        assert_eq!(split_object_key("docs/other.json", &literals), None);
        assert_eq!(split_object_key("docs/settings.json.bak", &literals), None);
    }
}
