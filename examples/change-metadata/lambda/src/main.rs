//! The sync Lambda the change-metadata bucket notifies (`buckets.documents.events` in the
//! spec): each S3 put or delete of a document updates or removes its cache item, so
//! documents written straight to S3 are found by the cache's queries too.
//!
//! The templates set `METADATA_CACHE_TABLE` and `DOCUMENTS_BUCKET` on the function and
//! give its role (consumer `s3-sync`) exactly `sync`: read the object, write or delete the
//! item. With the function's log format set to JSON, each applied event is logged as JSON
//! with its duration.
//!
//! It runs with `lambda_runtime::run_concurrent`, so on Lambda Managed Instances the
//! events sent to one execution environment at once share its cache and clients.

use std::sync::Arc;

use cachegen_runtime::aws_config::{self, BehaviorVersion};
use cachegen_runtime::aws_sdk_s3;
use cachegen_runtime::documents::S3Event;
use change_notifier_cache::Cache;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let cache = Arc::new(Cache::from_env().await?);
    let s3 = aws_sdk_s3::Client::new(&aws_config::load_defaults(BehaviorVersion::latest()).await);
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<S3Event>| {
        let (cache, s3) = (Arc::clone(&cache), s3.clone());
        async move {
            let summary = cache.sync_documents(&s3, &event.payload).await;
            cache.flush_metrics();
            let summary = summary?;
            Ok::<_, lambda_runtime::Error>(format!(
                "updated {}, removed {}, skipped {}",
                summary.updated, summary.removed, summary.skipped
            ))
        }
    }))
    .await
}
