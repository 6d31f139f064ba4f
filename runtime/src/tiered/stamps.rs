//! Invalidation scopes, and this process's view of their stamps.
//!
//! Every value belongs to scopes: its data type, its tags, and the key prefixes its
//! generated `invalidate_by_*` methods can name. Each scope has a stamp: a counter in an
//! internal store item that an invalidation of the scope raises (one write, whatever the
//! number of entries). A value records the counters of its scopes as they stood when its
//! origin read began; a value whose recorded counter is below the current one is
//! invalidated. Two more counters of the data type's stamp reach only L1 copies: `mem`
//! (every copy of the type) and one per key bucket (copies of keys in that bucket, for
//! per-key deletes, whose store side is a tombstone).
//!
//! Each process keeps a view of the stamps it uses, re-read from the store once it is
//! older than the handle's bound; a value is judged only against a view younger than the
//! bound, so an invalidation reaches every process within it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::TieredCache;
use crate::envelope::{ScopeGen, ScopeKind};
use crate::error::{CacheError, StoreError};
use crate::store::{INTERNAL_KEY_MARKER, Slot, Stamp};

/// Key buckets of a data type's stamp: a per-key delete invalidates other processes'
/// L1 copies of the keys in its bucket.
pub(super) const KEY_BUCKETS: usize = 64;
/// Counter indexes of a data type's stamp.
pub(super) const ALL: usize = 0;
pub(super) const MEM: usize = 1;
const FIRST_BUCKET: usize = 2;
/// The counter of a tag's or a key prefix's stamp.
pub(super) const GEN: usize = 0;
/// Stamp views kept alive while unused, and for how long.
const RECENT_VIEWS: u64 = 10_000;
const RECENT_IDLE: Duration = Duration::from_secs(600);
/// How long a stamp whose read failed is not read again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a stamp item counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// A data type: `all`, `mem`, and one counter per key bucket.
    DataType,
    /// A tag or a key prefix: `gen`.
    Scope,
}

impl Layout {
    fn len(self) -> usize {
        match self {
            Self::DataType => FIRST_BUCKET + KEY_BUCKETS,
            Self::Scope => 1,
        }
    }

    fn name(self, index: usize) -> String {
        match (self, index) {
            (Self::DataType, ALL) => "all".into(),
            (Self::DataType, MEM) => "mem".into(),
            (Self::DataType, bucket) => format!("k{}", bucket - FIRST_BUCKET),
            (Self::Scope, _) => "gen".into(),
        }
    }
}

/// A stamp item as this process last saw it.
#[derive(Debug)]
pub(super) struct StampView {
    /// The stamp's store key (shards add a suffix).
    key: String,
    layout: Layout,
    counters: Box<[AtomicU64]>,
    /// When the last read that updated the view began, clock ms; 0: never read.
    read_at_ms: AtomicU64,
    /// When a read of it last failed, clock ms: it is not tried again for
    /// [`RETRY_AFTER`], so an outage costs a lookup one store timeout, not several.
    failed_at_ms: AtomicU64,
    /// One refresh at a time.
    refresh: tokio::sync::Mutex<()>,
}

impl StampView {
    fn new(key: String, layout: Layout) -> Self {
        Self {
            key,
            layout,
            counters: (0..layout.len()).map(|_| AtomicU64::new(0)).collect(),
            read_at_ms: AtomicU64::new(0),
            failed_at_ms: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn counter(&self, index: usize) -> u64 {
        self.counters[index].load(Ordering::SeqCst)
    }

    fn raise(&self, index: usize, to: u64) {
        self.counters[index].fetch_max(to, Ordering::SeqCst);
    }

    fn age_within(&self, now_ms: u64, bound: Duration) -> bool {
        now_ms < self.read_at_ms.load(Ordering::SeqCst) + bound.as_millis() as u64
    }
}

/// One thing a value's validity depends on: a stamp counter, and what it was.
#[derive(Clone, Debug)]
pub(super) struct Check {
    view: Arc<StampView>,
    index: usize,
    generation: u64,
}

/// The scopes of a value about to be written, with their views.
pub(super) struct Scopes(Vec<(ScopeKind, String, Arc<StampView>)>);

impl Scopes {
    /// The scopes with their counters as this process sees them now (taken when the
    /// value's read begins), for the envelope, and as checks, for this process.
    pub(super) fn record(self) -> (Vec<ScopeGen>, Vec<Check>) {
        self.0
            .into_iter()
            .map(|(kind, name, view)| {
                let index = if kind == ScopeKind::DataType {
                    ALL
                } else {
                    GEN
                };
                let generation = view.counter(index);
                let scope = ScopeGen {
                    kind,
                    name,
                    generation,
                };
                let check = Check {
                    view,
                    index,
                    generation,
                };
                (scope, check)
            })
            .unzip()
    }
}

/// A judgment of a value against this process's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Valid,
    Invalidated,
    /// A stamp it depends on was not read within the bound.
    Unknown,
}

/// This process's stamp views, shared by every handle of a cache.
#[derive(Debug)]
pub(super) struct Stamps {
    /// Without a store the views are the stamps themselves.
    has_store: bool,
    shards: u32,
    shard: u32,
    /// Every view some value or handle still holds, so each stamp has one view.
    views: Mutex<HashMap<String, Weak<StampView>>>,
    /// Registry size after the last pruning of views no value holds any more.
    pruned_at: AtomicUsize,
    /// Views used lately, kept alive between uses so they are not re-read each time.
    recent: moka::sync::Cache<String, Arc<StampView>>,
}

/// The key bucket of `key`: the same in every process.
pub(super) fn key_bucket(key: &str) -> usize {
    usize::from(Sha256::digest(key.as_bytes())[0]) % KEY_BUCKETS
}

impl Stamps {
    pub(super) fn new(has_store: bool, shards: u32, shard: u32) -> Self {
        Self {
            has_store,
            shards,
            shard,
            views: Mutex::default(),
            pruned_at: AtomicUsize::new(64),
            recent: moka::sync::Cache::builder()
                .max_capacity(RECENT_VIEWS)
                .time_to_idle(RECENT_IDLE)
                .build(),
        }
    }

    fn view(&self, key: String, layout: Layout) -> Arc<StampView> {
        if let Some(view) = self.recent.get(&key) {
            return view;
        }
        let mut views = self.views.lock().expect("stamp views lock");
        let view = match views.get(&key).and_then(Weak::upgrade) {
            Some(view) => view,
            None => {
                let view = Arc::new(StampView::new(key.clone(), layout));
                views.insert(key.clone(), Arc::downgrade(&view));
                view
            }
        };
        self.recent.insert(key, view.clone());
        if views.len() > 2 * self.pruned_at.load(Ordering::Relaxed) {
            views.retain(|_, view| view.strong_count() > 0);
            self.pruned_at.store(views.len().max(64), Ordering::Relaxed);
        }
        view
    }

    /// The stamp of data type `name`.
    pub(super) fn data_type(&self, prefix: &str, name: &str) -> Arc<StampView> {
        self.view(
            format!("{prefix}{INTERNAL_KEY_MARKER}t#{name}"),
            Layout::DataType,
        )
    }

    /// The stamp of a scope named in an envelope.
    pub(super) fn scope(&self, prefix: &str, kind: ScopeKind, name: &str) -> Arc<StampView> {
        match kind {
            ScopeKind::DataType => self.data_type(prefix, name),
            ScopeKind::Tag => self.view(
                format!("{prefix}{INTERNAL_KEY_MARKER}g#{name}"),
                Layout::Scope,
            ),
            ScopeKind::KeyPrefix => self.view(
                format!("{prefix}{INTERNAL_KEY_MARKER}p#{name}"),
                Layout::Scope,
            ),
        }
    }

    /// The store key this process reads `view` at.
    fn read_key(&self, view: &StampView) -> String {
        match self.shards {
            1 => view.key.clone(),
            _ => format!("{}~{}", view.key, self.shard),
        }
    }

    /// The store keys an invalidation writes `view` at.
    fn shard_keys(&self, view: &StampView) -> Vec<String> {
        match self.shards {
            1 => vec![view.key.clone()],
            n => (0..n).map(|i| format!("{}~{i}", view.key)).collect(),
        }
    }
}

impl TieredCache {
    /// The checks of a value recorded under `scopes`.
    pub(super) fn scope_checks(&self, scopes: &[ScopeGen]) -> Vec<Check> {
        let stamps = &self.inner.stamps;
        let prefix = &self.inner.key_prefix;
        scopes
            .iter()
            .map(|scope| Check {
                view: stamps.scope(prefix, scope.kind, &scope.name),
                index: if scope.kind == ScopeKind::DataType {
                    ALL
                } else {
                    GEN
                },
                generation: scope.generation,
            })
            .collect()
    }

    /// This handle's L1-only checks for `key` (`mem` and the key's bucket), as this
    /// process sees them now: taken when a read begins. `None` when the view is older than
    /// the bound: what the read returns may still be served (its own scopes are judged
    /// after it), but not kept in L1, since an L1-only invalidation it missed would
    /// not be seen.
    pub(super) fn memory_checks(&self, key: &str) -> Option<[Check; 2]> {
        let fresh = !self.inner.stamps.has_store
            || self
                .type_stamp
                .age_within(self.inner.clock.now_ms(), self.bound());
        fresh.then(|| {
            [MEM, FIRST_BUCKET + key_bucket(key)].map(|index| Check {
                view: self.type_stamp.clone(),
                index,
                generation: self.type_stamp.counter(index),
            })
        })
    }

    /// The scopes of a value written by this handle with `tags` and `prefixes`: its data
    /// type, its tags, its key prefixes.
    pub(super) fn scopes_of(&self, tags: &[String], prefixes: &[String]) -> Scopes {
        let stamps = &self.inner.stamps;
        let prefix = &self.inner.key_prefix;
        let mut scopes = Vec::with_capacity(1 + tags.len() + prefixes.len());
        scopes.push((
            ScopeKind::DataType,
            self.data_type.to_string(),
            self.type_stamp.clone(),
        ));
        for tag in tags {
            let view = stamps.scope(prefix, ScopeKind::Tag, tag);
            scopes.push((ScopeKind::Tag, tag.clone(), view));
        }
        for key_prefix in prefixes {
            let name = format!("{}#{key_prefix}", self.data_type);
            let view = stamps.scope(prefix, ScopeKind::KeyPrefix, &name);
            scopes.push((ScopeKind::KeyPrefix, name, view));
        }
        Scopes(scopes)
    }

    /// Makes the views of `scopes` younger than the bound, so what a new value records is
    /// current. Store trouble leaves them as they are: a value that records an old
    /// counter is only judged invalid sooner.
    pub(super) async fn refresh_scopes(&self, scopes: &Scopes) {
        let views: Vec<Arc<StampView>> = scopes.0.iter().map(|(_, _, v)| v.clone()).collect();
        let _ = self.refresh(&views).await;
    }

    fn verdict(&self, checks: &[Check], now_ms: u64) -> Verdict {
        let mut verdict = Verdict::Valid;
        for check in checks {
            if check.generation < check.view.counter(check.index) {
                return Verdict::Invalidated;
            }
            if self.inner.stamps.has_store && !check.view.age_within(now_ms, self.bound()) {
                verdict = Verdict::Unknown;
            }
        }
        verdict
    }

    /// Whether a value with these checks may be served at `now_ms`, judged against this
    /// process's views only (no store call): `None` when a view is older than the bound.
    pub(super) fn valid_at(&self, checks: &[Check], now_ms: u64) -> Option<bool> {
        match self.verdict(checks, now_ms) {
            Verdict::Valid => Some(true),
            Verdict::Invalidated => Some(false),
            Verdict::Unknown => None,
        }
    }

    /// Whether a value with these checks may be served, re-reading the views older than
    /// the bound. A view that cannot be read makes the value a miss: serving it could
    /// serve what an invalidation removed.
    pub(super) async fn valid(&self, checks: &[Check]) -> bool {
        if let Some(valid) = self.valid_at(checks, self.inner.clock.now_ms()) {
            return valid;
        }
        let views: Vec<Arc<StampView>> = checks.iter().map(|c| c.view.clone()).collect();
        match self.refresh(&views).await {
            Ok(()) => self.valid_at(checks, self.inner.clock.now_ms()) == Some(true),
            Err(e) => {
                tracing::debug!(error = %e, "invalidation stamps unreadable: a miss");
                false
            }
        }
    }

    /// Re-reads, in one store call, the views among `views` older than the bound; a view
    /// another task is refreshing is waited for instead.
    async fn refresh(&self, views: &[Arc<StampView>]) -> Result<(), CacheError> {
        let Some(store) = self.inner.store.as_ref() else {
            return Ok(());
        };
        let clock = &self.inner.clock;
        let bound = self.bound();
        let mut stale: Vec<&Arc<StampView>> = Vec::new();
        for view in views {
            if !view.age_within(clock.now_ms(), bound)
                && !stale.iter().any(|s| Arc::ptr_eq(s, view))
            {
                stale.push(view);
            }
        }
        if stale.is_empty() {
            return Ok(());
        }
        let now = clock.now_ms();
        let failing = |view: &StampView| {
            let failed = view.failed_at_ms.load(Ordering::SeqCst);
            failed != 0 && now < failed + RETRY_AFTER.as_millis() as u64
        };
        if stale.iter().any(|view| failing(view)) {
            return Err(StoreError::backend(
                "stamps",
                "invalidation stamps unreadable a moment ago; not retried yet",
            )
            .into());
        }
        let (mine, theirs): (Vec<_>, Vec<_>) = stale
            .into_iter()
            .map(|view| (view, view.refresh.try_lock().ok()))
            .partition(|(_, guard)| guard.is_some());
        if !mine.is_empty() {
            let mine: Vec<&Arc<StampView>> = mine.iter().map(|(view, _)| *view).collect();
            self.read_views(store.as_ref(), &mine).await?;
        }
        for (view, _) in theirs {
            let _guard = view.refresh.lock().await;
            if !view.age_within(clock.now_ms(), bound) {
                self.read_views(store.as_ref(), &[view]).await?;
            }
        }
        Ok(())
    }

    async fn read_views(
        &self,
        store: &dyn crate::store::CacheStore,
        views: &[&Arc<StampView>],
    ) -> Result<(), CacheError> {
        let stamps = &self.inner.stamps;
        let keys: Vec<String> = views.iter().map(|view| stamps.read_key(view)).collect();
        let started = self.inner.clock.now_ms();
        let read = self
            .store_call("read_stamps", store.read_stamps(&keys))
            .await;
        Self::update_views(views, read, started)?;
        Ok(())
    }

    /// Brings `views` up to what a read that began at `started` (clock ms) gave, or marks
    /// them unreadable for a while when it failed.
    fn update_views(
        views: &[&Arc<StampView>],
        read: Result<Vec<Stamp>, StoreError>,
        started: u64,
    ) -> Result<(), StoreError> {
        let read = read.inspect_err(|_| {
            for view in views {
                view.failed_at_ms.store(started.max(1), Ordering::SeqCst);
            }
        })?;
        for (view, stamp) in views.iter().zip(read) {
            for index in 0..view.layout.len() {
                if let Some(value) = stamp.get(&view.layout.name(index)) {
                    view.raise(index, *value);
                }
            }
            view.read_at_ms.fetch_max(started.max(1), Ordering::SeqCst);
        }
        Ok(())
    }

    /// Reads the item at `store_key` (a lookup's store read) and, when this process has
    /// never read this handle's type stamp (its first lookup of the type: a cold start),
    /// that stamp too, in the same store call where the store can: the first lookup then
    /// makes one request, as a bare read does (a value with tags may still need their
    /// stamps read after it). Later re-reads of the stamp, once its view is older than
    /// the bound, stay calls of their own, after the item's. The stamp is read no earlier
    /// than the call's start, so a view dated then is never older than it says.
    pub(super) async fn read_with_type_stamp(
        &self,
        store: &dyn crate::store::CacheStore,
        store_key: &str,
    ) -> Result<Slot, StoreError> {
        let view = &self.type_stamp;
        let now = self.inner.clock.now_ms();
        let failed = view.failed_at_ms.load(Ordering::SeqCst);
        let cold = self.inner.stamps.has_store
            && view.read_at_ms.load(Ordering::SeqCst) == 0
            && (failed == 0 || now >= failed + RETRY_AFTER.as_millis() as u64)
            && store.capabilities().reads_with_stamps;
        let guard = cold.then(|| view.refresh.try_lock().ok()).flatten();
        if guard.is_none() {
            return self.store_call("read", store.read(store_key)).await;
        }
        let keys = [self.inner.stamps.read_key(view)];
        let read = self
            .store_call("read", store.read_with_stamps(store_key, &keys))
            .await;
        match read {
            Ok((slot, stamps)) => {
                Self::update_views(&[view], Ok(stamps), now)?;
                Ok(slot)
            }
            Err(e) => {
                view.failed_at_ms.store(now.max(1), Ordering::SeqCst);
                Err(e)
            }
        }
    }

    /// Raises counter `index` of `view` in the store (every shard), within the
    /// invalidation timeout, and in this process's view at once.
    pub(super) async fn bump(&self, view: &StampView, index: usize) -> Result<(), CacheError> {
        let Some(store) = &self.inner.store else {
            view.counters[index].fetch_add(1, Ordering::SeqCst);
            return Ok(());
        };
        let shards = self.inner.stamps.shard_keys(view);
        let counter = view.layout.name(index);
        let raised = self
            .timed_call(
                "bump_stamp",
                self.inner.invalidation_timeout,
                store.bump_stamp(&shards, &counter),
            )
            .await?;
        view.raise(index, raised);
        Ok(())
    }

    /// Bumps this handle's type stamp counter for the key bucket of `key`.
    pub(super) async fn bump_key_bucket(&self, key: &str) -> Result<(), CacheError> {
        let stamp = self.type_stamp.clone();
        self.bump(&stamp, FIRST_BUCKET + key_bucket(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_buckets_are_stable_and_spread() {
        assert_eq!(key_bucket("user#1"), key_bucket("user#1"));
        let buckets: std::collections::HashSet<usize> = (0..1000)
            .map(|i| key_bucket(&format!("user#{i}")))
            .collect();
        assert_eq!(buckets.len(), KEY_BUCKETS);
    }

    #[test]
    fn counter_names_are_distinct() {
        let names: std::collections::HashSet<String> = (0..Layout::DataType.len())
            .map(|i| Layout::DataType.name(i))
            .collect();
        assert_eq!(names.len(), FIRST_BUCKET + KEY_BUCKETS);
        assert!(names.contains("all") && names.contains("mem") && names.contains("k63"));
    }
}
