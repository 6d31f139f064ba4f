//! What a driver asserts about one data type, step by step. Each step records a finding
//! when a read does not return what was written (or the documented miss), or a call fails;
//! a step whose setup failed stops the data type's remaining steps.
//!
//! "Same process" reads go through the handle that wrote (its in-memory L1 included);
//! "new process" reads through a cache connected afresh, as another Lambda container
//! would, so they show what the store holds.

use std::convert::Infallible;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::CacheError;
use cachegen_runtime::documents::{DocumentType, Documents};
use cachegen_runtime::query::{Page, PageToken};
use cachegen_runtime::typed::{DataType, TypedCache};
use cachegen_runtime::verify::VerifyReport;

use crate::Report;

/// Index pages a query check reads at most, looking for a value.
const MAX_PAGES: usize = 20;

/// The checks of one data type (or idempotent handler), recording into a report.
pub struct Checks<'r> {
    subject: &'static str,
    report: &'r mut Report,
}

impl<'r> Checks<'r> {
    /// Checks of `subject` (a data type or handler name).
    pub fn new(subject: &'static str, report: &'r mut Report) -> Self {
        Self { subject, report }
    }

    fn fail(&mut self, step: &str, detail: impl std::fmt::Display) {
        self.report.fail(self.subject, step, detail);
    }

    /// Whether `got` is `Ok(want)`; records a finding otherwise.
    fn expect<T: PartialEq + Debug>(
        &mut self,
        step: &str,
        got: Result<T, CacheError>,
        want: &T,
    ) -> bool {
        match got {
            Ok(got) if got == *want => true,
            Ok(got) => {
                self.fail(step, format!("got {got:?}, want {want:?}"));
                false
            }
            Err(err) => {
                self.fail(step, crate::findings::error_chain(&err));
                false
            }
        }
    }

    /// A cache connected afresh, or `None` (recorded) when it cannot connect.
    async fn connect<D: DataType>(
        &mut self,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
    ) -> Option<TypedCache<D>> {
        match cold().await {
            Ok(cache) => Some(cache),
            Err(err) => {
                self.fail("connect", crate::findings::error_chain(&err));
                None
            }
        }
    }

    /// The value at `key` as a new process reads it is `want`.
    async fn new_process_reads<D>(
        &mut self,
        step: &str,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        key: &D::Key,
        want: Option<&D::Value>,
    ) -> bool
    where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        let Some(cache) = self.connect(cold).await else {
            return false;
        };
        self.expect(step, cache.get(key).await, &want.cloned())
    }

    /// Get, set, get (same and new process), `get_many`, and wrap: the first key read
    /// before any write is a miss, each value but the last is set and read back, and the
    /// last is filled by `wrap`, whose origin runs once across both processes.
    pub async fn round_trip<D>(
        &mut self,
        typed: &TypedCache<D>,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        keys: &[D::Key],
        values: &[D::Value],
    ) -> bool
    where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        if !self
            .new_process_reads("get before any write is a miss", cold, &keys[0], None)
            .await
        {
            return false;
        }
        let (last, set) = keys.split_last().expect("at least one key");
        let set = if set.is_empty() { &keys[..1] } else { set };
        for (key, value) in set.iter().zip(values) {
            if !self.expect("set", typed.set(key, value).await, &())
                || !self.expect(
                    "get after set (same process)",
                    typed.get(key).await,
                    &Some(value.clone()),
                )
                || !self
                    .new_process_reads("get after set (new process)", cold, key, Some(value))
                    .await
            {
                return false;
            }
        }
        if keys.len() > 1 {
            let Some(cache) = self.connect(cold).await else {
                return false;
            };
            let mut want: Vec<Option<D::Value>> =
                values[..keys.len() - 1].iter().cloned().map(Some).collect();
            want.push(None);
            if !self.expect("get_many (new process)", cache.get_many(keys).await, &want) {
                return false;
            }
        }
        let wrapped = values[keys.len() - 1].clone();
        // With one key, it holds a value already: wrap serves it without the origin.
        let calls_wanted = usize::from(keys.len() > 1);
        let calls = AtomicUsize::new(0);
        let (counter, value) = (&calls, &wrapped);
        let origin = move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(value.clone())
        };
        let Some(cache) = self.connect(cold).await else {
            return false;
        };
        for (step, handle) in [
            ("wrap", typed),
            ("wrap again (same process)", typed),
            ("wrap (new process)", &cache),
        ] {
            if !self.expect(step, handle.wrap(last, origin).await, &wrapped) {
                return false;
            }
            let made = calls.load(Ordering::SeqCst);
            if made != calls_wanted {
                self.fail(
                    step,
                    format!("the origin ran {made} times, want {calls_wanted}"),
                );
                return false;
            }
        }
        self.new_process_reads("get after wrap (new process)", cold, last, Some(&wrapped))
            .await
    }

    /// After an invalidation (`result`) reaching `key`, both processes miss it, and a
    /// value set again is read back.
    pub async fn invalidates<D>(
        &mut self,
        step: &str,
        result: Result<(), CacheError>,
        typed: &TypedCache<D>,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        key: &D::Key,
        value: &D::Value,
    ) where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        let _ = self.expect(step, result, &())
            && self.expect(
                &format!("get after {step} (same process)"),
                typed.get(key).await,
                &None,
            )
            && self
                .new_process_reads(&format!("get after {step} (new process)"), cold, key, None)
                .await
            && self.expect(
                &format!("set after {step}"),
                typed.set(key, value).await,
                &(),
            )
            && self
                .new_process_reads(
                    &format!("get of a value set after {step} (new process)"),
                    cold,
                    key,
                    Some(value),
                )
                .await;
    }

    /// A query of one of the type's indexes finds `want` within [`MAX_PAGES`] pages.
    pub async fn finds<V: PartialEq + Debug>(
        &mut self,
        step: &str,
        want: &V,
        mut query: impl AsyncFnMut(Option<PageToken>) -> Result<Page<V>, CacheError>,
    ) {
        let mut page = None;
        let mut seen = 0;
        for _ in 0..MAX_PAGES {
            match query(page).await {
                Ok(found) => {
                    if found.items.contains(want) {
                        return;
                    }
                    seen += found.items.len();
                    match found.next {
                        Some(next) => page = Some(next),
                        None => break,
                    }
                }
                Err(err) => {
                    self.fail(step, crate::findings::error_chain(&err));
                    return;
                }
            }
        }
        self.fail(
            step,
            format!("the value set last is not among the {seen} items found: {want:?}"),
        );
    }

    /// Delete and `invalidate_all`: each makes both processes miss, and a value set after
    /// it is read back.
    pub async fn deletes<D>(
        &mut self,
        typed: &TypedCache<D>,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        keys: &[D::Key],
        values: &[D::Value],
    ) where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        let deleted = typed.delete(&keys[0]).await;
        self.invalidates("delete", deleted, typed, cold, &keys[0], &values[0])
            .await;
        let invalidated = typed.invalidate_all().await;
        self.invalidates(
            "invalidate_all",
            invalidated,
            typed,
            cold,
            &keys[0],
            &values[0],
        )
        .await;
    }

    /// `wrap_optional` caches an origin's "not found" (the origin runs once for two calls),
    /// a value set after it is served instead, and `wrap_expiring` stores the value its
    /// origin gives with a TTL, which a new process reads back.
    pub async fn origin_answers<D>(
        &mut self,
        typed: &TypedCache<D>,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        key: &D::Key,
        value: &D::Value,
    ) where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        if !self.expect("delete before wrap_optional", typed.delete(key).await, &()) {
            return;
        }
        let calls = AtomicUsize::new(0);
        let counter = &calls;
        let missing = move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<Option<D::Value>, Infallible>(None)
        };
        for step in ["wrap_optional of a missing item", "wrap_optional again"] {
            if !self.expect(step, typed.wrap_optional(key, missing).await, &None) {
                return;
            }
        }
        let made = calls.load(Ordering::SeqCst);
        if made != 1 {
            self.fail(
                "wrap_optional again",
                format!("the origin ran {made} times for two calls, want 1: \"not found\" was not cached"),
            );
            return;
        }
        if !self.expect("set after wrap_optional", typed.set(key, value).await, &())
            || !self.expect(
                "wrap_optional after set",
                typed.wrap_optional(key, missing).await,
                &Some(value.clone()),
            )
            || !self.expect("delete before wrap_expiring", typed.delete(key).await, &())
        {
            return;
        }
        let told = value.clone();
        let expiring = move || async move { Ok::<_, Infallible>((told, Duration::from_secs(60))) };
        let _ = self.expect(
            "wrap_expiring",
            typed.wrap_expiring(key, expiring).await,
            value,
        ) && self
            .new_process_reads(
                "get after wrap_expiring (new process)",
                cold,
                key,
                Some(value),
            )
            .await;
    }

    /// A value over DynamoDB's item limit, of a type with `large_values`, is read back;
    /// then `value` is set back, and read back, at `key`.
    pub async fn large_value<D>(
        &mut self,
        typed: &TypedCache<D>,
        cold: &impl AsyncFn() -> Result<TypedCache<D>, CacheError>,
        key: &D::Key,
        large: D::Value,
        value: &D::Value,
    ) where
        D: DataType,
        D::Value: PartialEq + Debug + Clone,
    {
        let _ = self.expect(
            "set of a value over 400 KB",
            typed.set(key, &large).await,
            &(),
        ) && self
            .new_process_reads(
                "get of a value over 400 KB (new process)",
                cold,
                key,
                Some(&large),
            )
            .await
            && self.expect(
                "set of a small value over a large one",
                typed.set(key, value).await,
                &(),
            )
            && self
                .new_process_reads(
                    "get of a small value set over a large one (new process)",
                    cold,
                    key,
                    Some(value),
                )
                .await;
    }

    /// The handle's TTL is the one `var` set.
    pub fn ttl_override(&mut self, var: &str, got: Duration, want: Duration) {
        if got != want {
            self.fail(
                &format!("TTL from {var}"),
                format!("the handle's TTL is {got:?}, want {want:?}"),
            );
        }
    }

    /// Records `key` (made of `params`: name, type, canonical text) with the key (split
    /// into its partition and sort parts), tags and key prefixes the generated module
    /// builds from it.
    pub fn key_case<D: DataType>(&mut self, key: &D::Key, params: &[(&str, &str, String)]) {
        let params: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(name, ty, value)| {
                (
                    (*name).to_owned(),
                    serde_json::json!({ "type": ty, "value": value }),
                )
            })
            .collect();
        let (partition, sort) = cachegen_tests::typescript::key_parts(&D::key(key));
        self.report.key_cases.push(serde_json::json!({
            "data_type": D::NAME,
            "params": params,
            "key": partition,
            "sort_key": sort,
            "tags": D::tags(key),
            "prefixes": D::key_prefixes(key),
        }));
    }

    /// Each key's object key reads back as the key.
    pub fn object_keys<D: DocumentType>(&mut self, keys: &[D::Key])
    where
        D::Key: PartialEq + Debug,
    {
        for key in keys {
            let object_key = D::object_key(key);
            let parsed = D::parse_object_key(&object_key);
            if parsed.as_ref() != Some(key) {
                self.fail(
                    "object key read back",
                    format!("`{object_key}` of {key:?} reads back as {parsed:?}"),
                );
            }
        }
    }

    /// A document written is read back by a new process from the cache, then from S3
    /// once its item is gone; once deleted, it reads as missing.
    pub async fn documents<D>(
        &mut self,
        typed: &TypedCache<D>,
        documents: &impl AsyncFn() -> Result<Documents<D>, CacheError>,
        key: &D::Key,
        value: &D::Value,
    ) where
        D: DocumentType,
        D::Value: PartialEq + Debug + Clone,
    {
        let read = async |checks: &mut Self, step: &str, want: Option<&D::Value>| match documents()
            .await
        {
            Ok(documents) => match documents.read(key).await {
                Ok(got) if got.as_ref() == want => true,
                Ok(got) => {
                    checks.fail(step, format!("got {got:?}, want {want:?}"));
                    false
                }
                Err(err) => {
                    checks.fail(step, crate::findings::error_chain(&err));
                    false
                }
            },
            Err(err) => {
                checks.fail(step, crate::findings::error_chain(&err));
                false
            }
        };
        let written = match documents().await {
            Ok(documents) => documents.write(key, value).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = written {
            self.fail("document write", crate::findings::error_chain(&err));
            return;
        }
        let _ = read(self, "document read (new process)", Some(value)).await
            && self.expect("delete of the cached item", typed.delete(key).await, &())
            && read(self, "document read from S3 (new process)", Some(value)).await;
        let deleted = match documents().await {
            Ok(documents) => documents.delete(key).await,
            Err(err) => Err(err.into()),
        };
        match deleted {
            Ok(()) => {
                let _ = read(self, "document read after delete (new process)", None).await;
            }
            Err(err) => self.fail("document delete", crate::findings::error_chain(&err)),
        }
    }

    /// Records that `step` was not run, and why (not a failure).
    pub fn skip(&mut self, step: &str, why: &str) {
        self.report.note(self.subject, step, why);
    }

    /// An idempotent handler called twice with one request answered `want` both times, and
    /// ran `runs_wanted` times in all so far.
    pub fn idempotent<R: PartialEq + Debug>(
        &mut self,
        answers: Vec<Result<R, String>>,
        want: &R,
        runs: usize,
        runs_wanted: usize,
    ) {
        for (attempt, answer) in answers.iter().enumerate() {
            match answer {
                Ok(answer) if answer == want => {}
                Ok(answer) => self.fail(
                    &format!("call {}", attempt + 1),
                    format!("got {answer:?}, want {want:?}"),
                ),
                Err(err) => self.fail(&format!("call {}", attempt + 1), err),
            }
        }
        if runs != runs_wanted {
            self.fail(
                "runs",
                format!("the handler ran {runs} times in all, want {runs_wanted}"),
            );
        }
    }
}

/// `verify_deployment` of the whole cache found nothing amiss.
pub fn verified(report: &mut Report, verified: Result<VerifyReport, CacheError>) {
    match verified {
        Ok(verified) => {
            let differences: Vec<&str> = verified.differences().into_iter().collect();
            if !differences.is_empty() {
                report.fail("*", "verify_deployment", differences.join("; "));
            }
        }
        Err(err) => report.fail("*", "verify_deployment", crate::findings::error_chain(&err)),
    }
}
