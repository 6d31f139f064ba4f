//! The sync handler: applies the bucket's S3 event notifications to the cache, so objects
//! written straight to S3 reach it too.

use std::time::Instant;

pub use aws_lambda_events::s3::S3Event;

use super::{DocumentError, DocumentType, Documents, SyncSummary};
use crate::store::Precondition;

impl<D: DocumentType> Documents<D> {
    /// Applies an S3 event notification: created objects are read and cached, deleted
    /// ones are removed from the cache. For a Lambda subscribed to the bucket's events.
    pub async fn sync(&self, event: &S3Event) -> Result<SyncSummary, DocumentError> {
        let mut summary = SyncSummary::default();
        for record in &event.records {
            let started = Instant::now();
            let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
            let name = record.event_name.as_deref().unwrap_or_default();
            let object_key = record.s3.object.key.as_deref().map(decode_event_key);
            let key = object_key.as_deref().and_then(D::parse_object_key);
            let (Some(object_key), Some(key)) = (object_key, key) else {
                summary.skipped += 1;
                continue;
            };
            if bucket != self.bucket {
                summary.skipped += 1;
                continue;
            }
            if name.starts_with("ObjectCreated:") {
                // The item's version before the object is read: a write or delete that
                // lands in between wins, and its own event follows.
                let seen = self.cache.read_item(&key).await?.version;
                match self.fetch(&object_key).await? {
                    Some(value) if !self.dry_run => {
                        let precondition = Precondition::Version(seen);
                        if self
                            .cache
                            .set_if(&key, &value, precondition)
                            .await?
                            .is_some()
                        {
                            summary.updated += 1;
                        } else {
                            summary.skipped += 1;
                        }
                    }
                    Some(_) => summary.skipped += 1,
                    // Deleted again before this event arrived: the removal event follows.
                    None => summary.skipped += 1,
                }
            } else if name.starts_with("ObjectRemoved:") {
                if !self.dry_run {
                    self.cache.delete(&key).await?;
                }
                summary.removed += 1;
            } else {
                summary.skipped += 1;
                continue;
            }
            tracing::info!(op = "sync", event = name, bucket, key = %object_key, duration_ms = started.elapsed().as_millis() as u64, "S3 event applied");
        }
        Ok(summary)
    }
}

/// S3 event keys are URL-encoded, with `+` for spaces.
fn decode_event_key(key: &str) -> String {
    fn hex(byte: u8) -> Option<u8> {
        char::from(byte)
            .to_digit(16)
            .and_then(|digit| u8::try_from(digit).ok())
    }
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_url_decoded() {
        assert_eq!(
            decode_event_key("changes/a+b%231.json"),
            "changes/a b#1.json"
        );
        assert_eq!(decode_event_key("plain/key.json"), "plain/key.json");
        assert_eq!(decode_event_key("bad%zz"), "bad%zz");
        assert_eq!(decode_event_key("end%2"), "end%2");
        assert_eq!(decode_event_key("caf%C3%A9%é"), "café%é");
    }
}
