//! `cachegen backfill`: fills a document type's cache from the objects in its bucket,
//! concurrently and rate-limited.
//!
//! Safe to stop and re-run: each item records the ETag of the object it was made from
//! ([`SOURCE_ETAG`]), and objects whose live item carries their current ETag are skipped
//! without being read, so a re-run writes only what changed or was never written. Each
//! write is conditional on the item's version read before its object, so a document
//! written or deleted meanwhile is not overwritten by the older read. When a type has a
//! `version_check`, a backfill that wrote anything bumps its memory stamp, so running
//! containers drop their in-memory copies within that bound.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cachegen_runtime::TieredCache;
use cachegen_runtime::aws_sdk_s3;
use cachegen_runtime::store::{AttrValue, Precondition};
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use super::item::{DynamicType, Params};
use cachegen_compiler::ir::{DataType, Document};

/// Item attribute holding the ETag of the S3 object the item was backfilled from.
pub const SOURCE_ETAG: &str = "sourceETag";

/// Why a backfill stopped before the end (single objects that fail are counted instead).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The data type keeps no documents in S3.
    #[error("data type `{0}` keeps no documents in S3: only document types can be backfilled")]
    NotADocument(String),
    /// Listing the bucket failed.
    #[error("listing s3://{bucket}/{prefix} failed: {message}")]
    Listing {
        /// Bucket.
        bucket: String,
        /// Key prefix listed.
        prefix: String,
        /// The error, with its causes.
        message: String,
    },
    /// The cache could not be read to find what is up to date.
    #[error("reading the cache failed: {0}")]
    Cache(#[from] cachegen_runtime::StoreError),
}

/// What to backfill, and how fast.
#[derive(Clone, Debug)]
pub struct BackfillOptions {
    /// Only objects last modified at or after this time.
    pub since: Option<SystemTime>,
    /// Only objects last modified before this time.
    pub until: Option<SystemTime>,
    /// Only documents whose item attribute `name` has text `value`, for each pair.
    pub filters: Vec<(String, String)>,
    /// Read and check everything, write nothing.
    pub dry_run: bool,
    /// Objects in flight at once.
    pub concurrency: NonZeroUsize,
    /// At most this many objects read and written per second.
    pub rps: Option<NonZeroU32>,
}

impl Default for BackfillOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            filters: Vec::new(),
            dry_run: false,
            concurrency: NonZeroUsize::new(16).expect("non-zero"),
            rps: None,
        }
    }
}

/// What a backfill did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BackfillSummary {
    /// Objects listed under the document prefix.
    pub scanned: u64,
    /// Items written (in a dry run: that would have been written).
    pub written: u64,
    /// Objects left alone: up to date in the cache, outside the time range or filters,
    /// or not of this type.
    pub skipped: u64,
    /// Objects that could not be read, parsed or written (logged one by one).
    pub failed: u64,
}

impl std::fmt::Display for BackfillSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scanned {}, written {}, skipped {}, failed {}",
            self.scanned, self.written, self.skipped, self.failed
        )
    }
}

/// One listed object to consider.
struct Candidate {
    object_key: String,
    etag: String,
    params: Params,
    /// The cache key, as the generated module writes it.
    key: String,
    /// The same key in the store, with the cache's key prefix.
    store_key: String,
}

/// What happened to one object.
enum Outcome {
    Written,
    Skipped,
    Failed,
}

/// The running totals of a backfill, shown to its progress callback after every change.
struct Tally<'p> {
    summary: Mutex<BackfillSummary>,
    progress: &'p (dyn Fn(&BackfillSummary) + Sync),
}

impl Tally<'_> {
    /// Counts `count` more objects listed.
    fn scanned(&self, count: usize) {
        let mut summary = self.summary.lock().expect("not poisoned");
        summary.scanned += count as u64;
        (self.progress)(&summary);
    }

    /// Counts what happened to one object.
    fn count(&self, outcome: Outcome) {
        let mut summary = self.summary.lock().expect("not poisoned");
        match outcome {
            Outcome::Written => summary.written += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::Failed => summary.failed += 1,
        }
        (self.progress)(&summary);
    }
}

/// A backfill of one document type from its bucket into its cache.
#[derive(Debug)]
pub struct Backfill<'m> {
    dynamic: DynamicType<'m>,
    document: &'m Document,
    cache: TieredCache,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl<'m> Backfill<'m> {
    /// A backfill of `data_type` from `bucket` into `cache` (a cache on its table, such as
    /// [`super::connect`] gives).
    pub fn new(
        data_type: &'m DataType,
        cache: TieredCache,
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
    ) -> Result<Self, BackfillError> {
        let document = data_type
            .document
            .as_ref()
            .ok_or_else(|| BackfillError::NotADocument(data_type.name.clone()))?;
        Ok(Self {
            dynamic: DynamicType::new(data_type),
            document,
            cache,
            s3,
            bucket: bucket.into(),
        })
    }

    /// Runs the backfill; `progress` sees the running totals and the number of objects
    /// listed so far after every change.
    pub async fn run(
        &self,
        options: &BackfillOptions,
        progress: &(dyn Fn(&BackfillSummary) + Sync),
    ) -> Result<BackfillSummary, BackfillError> {
        let started = Instant::now();
        let limiter = options
            .rps
            .map(|rps| RateLimiter::direct(Quota::per_second(rps).allow_burst(NonZeroU32::MIN)));
        let tally = Tally {
            summary: Mutex::new(BackfillSummary::default()),
            progress,
        };
        let prefix = self.document.key_prefix();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| BackfillError::Listing {
                bucket: self.bucket.clone(),
                prefix: prefix.clone(),
                message: aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
            })?;
            self.page(page.contents(), options, limiter.as_ref(), &tally)
                .await?;
        }
        let summary = *tally.summary.lock().expect("not poisoned");
        self.finish(&summary, options, started).await;
        Ok(summary)
    }

    /// Backfills the objects of one listed page, skipping those not of this type, outside
    /// the time range, or already cached from their current version.
    async fn page(
        &self,
        objects: &[aws_sdk_s3::types::Object],
        options: &BackfillOptions,
        limiter: Option<&DefaultDirectRateLimiter>,
        tally: &Tally<'_>,
    ) -> Result<(), BackfillError> {
        tally.scanned(objects.len());
        let mut candidates = Vec::with_capacity(objects.len());
        for object in objects {
            match self.candidate(object, options) {
                Some(candidate) => candidates.push(candidate),
                None => tally.count(Outcome::Skipped),
            }
        }
        let (to_write, up_to_date) = self.stale(candidates).await?;
        for _ in 0..up_to_date {
            tally.count(Outcome::Skipped);
        }
        futures::stream::iter(to_write)
            .map(|candidate| async {
                if let Some(limiter) = limiter {
                    limiter.until_ready().await;
                }
                self.write(candidate, options).await
            })
            .buffer_unordered(options.concurrency.get())
            .for_each(|outcome| {
                tally.count(outcome);
                std::future::ready(())
            })
            .await;
        Ok(())
    }

    /// After the last object: bumps the type's memory stamp when anything was written, and
    /// logs the totals.
    async fn finish(&self, summary: &BackfillSummary, options: &BackfillOptions, started: Instant) {
        // Containers that re-read the type's stamp drop their in-memory copies, so what was
        // rewritten is served within the type's `version_check` bound.
        if summary.written > 0
            && !options.dry_run
            && self.dynamic.data_type().version_check_secs.is_some()
            && let Err(err) = self.cache.invalidate_memory().await
        {
            tracing::warn!(op = "backfill", error = %err, "items written, but the invalidation stamp was not: containers keep in-memory copies until their memory TTL");
        }
        tracing::info!(
            op = "backfill",
            data_type = %self.dynamic.data_type().name,
            bucket = %self.bucket,
            dry_run = options.dry_run,
            scanned = summary.scanned,
            written = summary.written,
            skipped = summary.skipped,
            failed = summary.failed,
            duration_ms = started.elapsed().as_millis() as u64,
            "backfill finished"
        );
    }

    /// Reads one object and writes its item.
    async fn write(&self, candidate: Candidate, options: &BackfillOptions) -> Outcome {
        let started = Instant::now();
        let Candidate {
            object_key,
            etag,
            params,
            key,
            ..
        } = candidate;
        let fail = |reason: String| {
            tracing::warn!(op = "backfill", bucket = %self.bucket, key = %object_key, reason, "document not cached");
            Outcome::Failed
        };
        let seen = match self.cache.read_item::<serde_json::Value>(&key).await {
            Ok(item) => item.version,
            Err(err) => return fail(err.to_string()),
        };
        let object = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&object_key)
            .send()
            .await
        {
            Ok(object) => object,
            // Deleted since it was listed: nothing to cache.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Outcome::Skipped;
            }
            Err(err) => return fail(aws_sdk_s3::error::DisplayErrorContext(&err).to_string()),
        };
        let body = match object.body.collect().await {
            Ok(body) => body.into_bytes(),
            Err(err) => return fail(err.to_string()),
        };
        let value: serde_json::Value = match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(err) => return fail(format!("not a JSON document: {err}")),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let write = match self.dynamic.write_options(&params, &value, now) {
            Ok(write) => write,
            Err(err) => return fail(err.to_string()),
        };
        let selected = options.filters.iter().all(|(name, wanted)| {
            matches!(write.attributes.get(name), Some(AttrValue::S(text) | AttrValue::N(text)) if text == wanted)
        });
        if !selected {
            return Outcome::Skipped;
        }
        let write = write.attribute(SOURCE_ETAG, AttrValue::S(etag));
        if !options.dry_run {
            // Conditional on the item's version read before the object was: a document
            // written or deleted meanwhile wins over this older read.
            let precondition = Precondition::Version(seen);
            match self.cache.set_if(&key, &value, &write, precondition).await {
                Ok(Some(_)) => {}
                Ok(None) => return Outcome::Skipped,
                Err(err) => return fail(err.to_string()),
            }
        }
        tracing::debug!(op = "backfill", dry_run = options.dry_run, key = %object_key, duration_ms = started.elapsed().as_millis() as u64, "document cached");
        Outcome::Written
    }

    /// The object as a candidate, or `None` when it is skipped before any read: not of
    /// this type, or outside the time range.
    fn candidate(
        &self,
        object: &aws_sdk_s3::types::Object,
        options: &BackfillOptions,
    ) -> Option<Candidate> {
        let object_key = object.key()?;
        let params = match self.dynamic.parse_object_key(self.document, object_key) {
            Ok(params) => params,
            Err(err) => {
                tracing::debug!(op = "backfill", key = object_key, reason = %err, "object skipped");
                return None;
            }
        };
        let modified = object
            .last_modified()
            .and_then(|time| SystemTime::try_from(*time).ok())
            .unwrap_or(UNIX_EPOCH);
        if options.since.is_some_and(|since| modified < since)
            || options.until.is_some_and(|until| modified >= until)
        {
            return None;
        }
        let key = self.dynamic.key(&params);
        Some(Candidate {
            object_key: object_key.to_owned(),
            etag: object.e_tag().unwrap_or_default().to_owned(),
            store_key: self.cache.store_key(&key),
            key,
            params,
        })
    }

    /// The candidates whose cached item was not made from the object as it is now, and
    /// how many others there were.
    async fn stale(
        &self,
        candidates: Vec<Candidate>,
    ) -> Result<(Vec<Candidate>, usize), BackfillError> {
        let Some(store) = self
            .cache
            .store()
            .filter(|store| store.capabilities().indexes)
        else {
            return Ok((candidates, 0));
        };
        let keys: Vec<String> = candidates.iter().map(|c| c.store_key.clone()).collect();
        let live = store.read_attributes(&keys, &[SOURCE_ETAG]).await?;
        let total = candidates.len();
        let stale: Vec<Candidate> = candidates
            .into_iter()
            .filter(|candidate| {
                live.get(&candidate.store_key)
                    .and_then(|attributes| attributes.get(SOURCE_ETAG))
                    != Some(&AttrValue::S(candidate.etag.clone()))
            })
            .collect();
        let up_to_date = total - stale.len();
        Ok((stale, up_to_date))
    }
}
