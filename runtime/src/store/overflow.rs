//! `S3Overflow`: the bodies of values over DynamoDB's item limit, kept in S3.
//!
//! A [`DynamoStore`](super::DynamoStore) with overflow keeps an oversized value's item
//! (key, expiry, TTL, GSI attributes) in DynamoDB, and puts its encoded envelope in S3
//! at a key derived from the table and the cache key:
//!
//! ```text
//! <prefix><table>/<hex sha256 of the full cache key>     e.g. overflow/users-cache/3f2a…
//! ```
//!
//! The item carries a pointer instead of the value: the object key and the SHA-256 of
//! the body, so a body replaced by a racing writer, lost or corrupted is read as a miss.
//!
//! # Orphans and the lifecycle rule
//!
//! Objects can outlive their items: DynamoDB's TTL deletes expired items but not their
//! objects, batch deletions remove objects at the derived key only (see
//! [`DynamoStore`](super::DynamoStore)), and a best-effort S3 delete may fail. The
//! bucket is expected to carry an S3 lifecycle rule that expires objects under the
//! prefix; its `Expiration.Days` must be at least the longest lifetime (TTL plus
//! stale-while-revalidate window) of any data type with large values, rounded up to
//! whole days, plus one day of margin (S3 counts from the object's last write, which
//! every overwrite renews). A shorter rule turns live entries into misses, never into
//! errors or wrong values.
//!
//! # Permissions
//!
//! `s3:PutObject`, `s3:GetObject` and `s3:DeleteObject` on `arn:aws:s3:::<bucket>/<prefix>*`.
//!
//! # Without the `s3` feature
//!
//! [`S3Overflow`] has no values, so no store has an overflow bucket: an oversized value
//! is refused, and an item pointing at S3 (written by a process with the feature) reads
//! as a miss.

use std::fmt::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
#[cfg(feature = "s3")]
use aws_sdk_s3::Client;
#[cfg(feature = "s3")]
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
#[cfg(feature = "s3")]
use aws_sdk_s3::primitives::ByteStream;
#[cfg(feature = "s3")]
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
#[cfg(feature = "s3")]
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

#[cfg(feature = "s3")]
use super::aws_error::S3;
use crate::error::StoreError;

/// Default key prefix of overflow objects; the lifecycle rule and IAM policy cover it.
pub const DEFAULT_OVERFLOW_PREFIX: &str = cachegen_names::OVERFLOW_PREFIX;
/// Store name in errors raised by S3 calls.
#[cfg(feature = "s3")]
const NAME: &str = "s3";
/// Keys per `DeleteObjects` request (S3's maximum).
#[cfg(feature = "s3")]
const DELETE_MAX: usize = 1000;
/// Concurrent S3 calls of one batch.
#[cfg(feature = "s3")]
const CONCURRENCY: usize = 4;
/// Field names inside the item's pointer map.
const REF_KEY: &str = "key";
const REF_SHA256: &str = "sha256";

/// Where oversized values go: an S3 bucket and a key prefix.
#[cfg(feature = "s3")]
#[derive(Debug, Clone)]
pub struct S3Overflow {
    client: Client,
    bucket: String,
    prefix: String,
}

/// A body in S3, as the item's pointer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyRef {
    /// The object key.
    pub key: String,
    /// Hex SHA-256 of the body.
    pub sha256: String,
}

impl BodyRef {
    /// The pointer attribute: a map of the object key and the body's digest.
    pub(crate) fn to_attribute(&self) -> AttributeValue {
        AttributeValue::M(
            [
                (REF_KEY.to_owned(), AttributeValue::S(self.key.clone())),
                (
                    REF_SHA256.to_owned(),
                    AttributeValue::S(self.sha256.clone()),
                ),
            ]
            .into(),
        )
    }

    /// Reads a pointer attribute back; `None` if it is not one.
    pub(crate) fn from_attribute(value: &AttributeValue) -> Option<Self> {
        let map = value.as_m().ok()?;
        let text = |name| map.get(name)?.as_s().ok().cloned();
        Some(Self {
            key: text(REF_KEY)?,
            sha256: text(REF_SHA256)?,
        })
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(feature = "s3")]
fn object_key(prefix: &str, table: &str, key: &str) -> String {
    format!("{prefix}{table}/{}", sha256_hex(key.as_bytes()))
}

#[cfg(feature = "s3")]
impl S3Overflow {
    /// The error of a failed `operation` on the object at `key`.
    fn request_error<E, R>(&self, operation: &str, key: &str, err: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        S3.request_error(
            operation,
            &format!("object {key} in bucket {}", self.bucket),
            err,
        )
    }

    /// Overflow into `bucket` under [`DEFAULT_OVERFLOW_PREFIX`].
    ///
    /// Against a local endpoint such as moto, build `s3` with `force_path_style(true)`.
    pub fn new(s3: Client, bucket: impl Into<String>) -> Self {
        Self {
            client: s3,
            bucket: bucket.into(),
            prefix: DEFAULT_OVERFLOW_PREFIX.to_owned(),
        }
    }

    /// Puts objects under `prefix` instead of [`DEFAULT_OVERFLOW_PREFIX`].
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix of every object.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The S3 client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The object key of cache key `key` in `table`: `<prefix><table>/<hex sha256(key)>`.
    pub fn object_key(&self, table: &str, key: &str) -> String {
        object_key(&self.prefix, table, key)
    }

    /// Writes `body` at `reference.key` (replacing what was there).
    pub(crate) async fn put(&self, reference: &BodyRef, body: &[u8]) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&reference.key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .map_err(|e| self.request_error("PutObject", &reference.key, e))?;
        Ok(())
    }

    /// The body `reference` points at; `None` when it is missing or is not the body
    /// the pointer was written with.
    pub(crate) async fn get(&self, reference: &BodyRef) -> Result<Option<Vec<u8>>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&reference.key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                tracing::debug!(key = %reference.key, "overflow body missing: a miss");
                return Ok(None);
            }
            Err(e) => return Err(self.request_error("GetObject", &reference.key, e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::backend(NAME, e))?
            .to_vec();
        if sha256_hex(&body) != reference.sha256 {
            tracing::debug!(key = %reference.key, "overflow body replaced or corrupt: a miss");
            return Ok(None);
        }
        Ok(Some(body))
    }

    /// Deletes `keys`, 1,000 per request; errors are logged, not raised: the items are
    /// already gone and the lifecycle rule collects what is left.
    pub(crate) async fn delete_best_effort(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let chunks: Vec<Vec<String>> = keys.chunks(DELETE_MAX).map(<[String]>::to_vec).collect();
        let deleted = futures::stream::iter(chunks)
            .map(|chunk| self.delete_chunk(chunk))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await;
        if let Err(e) = deleted {
            tracing::warn!(bucket = %self.bucket, error = %e, "overflow objects left for the lifecycle rule");
        }
    }

    async fn delete_chunk(&self, keys: Vec<String>) -> Result<(), StoreError> {
        let first = keys.first().cloned().unwrap_or_default();
        if let [key] = keys.as_slice() {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| self.request_error("DeleteObject", key, e))?;
            return Ok(());
        }
        let objects = keys
            .into_iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::backend(NAME, e))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| StoreError::backend(NAME, e))?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| self.request_error("DeleteObjects", &first, e))?;
        match out.errors().first() {
            None => Ok(()),
            Some(error) => Err(StoreError::backend(
                NAME,
                format!(
                    "DeleteObjects left {} objects, e.g. {}: {}",
                    out.errors().len(),
                    error.key().unwrap_or_default(),
                    error.message().unwrap_or_default()
                ),
            )),
        }
    }
}

/// Where oversized values would go: without the `s3` feature there is no such place.
#[cfg(not(feature = "s3"))]
#[derive(Debug, Clone)]
pub enum S3Overflow {}

#[cfg(not(feature = "s3"))]
impl S3Overflow {
    /// The object key of cache key `key` in `table`.
    pub fn object_key(&self, _table: &str, _key: &str) -> String {
        match *self {}
    }

    pub(crate) async fn put(&self, _reference: &BodyRef, _body: &[u8]) -> Result<(), StoreError> {
        match *self {}
    }

    pub(crate) async fn get(&self, _reference: &BodyRef) -> Result<Option<Vec<u8>>, StoreError> {
        match *self {}
    }

    pub(crate) async fn delete_best_effort(&self, _keys: Vec<String>) {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lower_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[cfg(feature = "s3")]
    #[test]
    fn object_keys_are_per_table_and_key() {
        let key = object_key("overflow/", "users", "dev#user#1");
        assert_eq!(key, format!("overflow/users/{}", sha256_hex(b"dev#user#1")));
        assert_eq!(key, object_key("overflow/", "users", "dev#user#1"));
        assert_ne!(key, object_key("overflow/", "orders", "dev#user#1"));
        assert_ne!(key, object_key("overflow/", "users", "dev#user#2"));
    }

    #[test]
    fn pointers_read_back_and_reject_other_attributes() {
        let reference = BodyRef {
            key: "overflow/t/ab".into(),
            sha256: sha256_hex(b"body"),
        };
        assert_eq!(
            BodyRef::from_attribute(&reference.to_attribute()),
            Some(reference)
        );
        assert_eq!(
            BodyRef::from_attribute(&AttributeValue::S("x".into())),
            None
        );
        let partial = AttributeValue::M([(REF_KEY.into(), AttributeValue::S("k".into()))].into());
        assert_eq!(BodyRef::from_attribute(&partial), None);
    }
}
