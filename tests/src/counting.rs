//! A store decorator that counts requests per item, for the load test's per-item request
//! rates (how hot one item, a hot key or a stamp, runs as containers are added).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cachegen_runtime::StoreError;
use cachegen_runtime::store::{
    CacheStore, Capabilities, LeaseOutcome, Precondition, Slot, Stamp, StoreEntry, Version,
};

/// Wraps a store; every call counts once for each item it addresses.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn CacheStore>,
    counts: Mutex<HashMap<String, u64>>,
}

impl CountingStore {
    /// Counts the calls to `inner`.
    pub fn new(inner: Arc<dyn CacheStore>) -> Self {
        Self {
            inner,
            counts: Mutex::default(),
        }
    }

    /// Requests per item so far.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let counts = self.counts.lock().expect("count lock");
        counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn count<'a>(&self, items: impl IntoIterator<Item = &'a String>) {
        let mut counts = self.counts.lock().expect("count lock");
        for item in items {
            *counts.entry(item.clone()).or_default() += 1;
        }
    }

    fn one(&self, key: &str) {
        self.count([&key.to_owned()]);
    }
}

#[async_trait]
impl CacheStore for CountingStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        self.one(key);
        self.inner.read(key).await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        self.count(keys);
        self.inner.read_many(keys).await
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        self.one(key);
        self.inner.write(key, entry, precondition).await
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        self.one(key);
        self.inner.delete(key, precondition).await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.one(key);
        self.inner.acquire_lease(key, seen, holder, ttl).await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        self.one(key);
        self.inner.release_lease(key, holder).await
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        self.count(keys);
        self.inner.read_stamps(keys).await
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        self.count(shards);
        self.inner.bump_stamp(shards, counter).await
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        self.one(&format!("{prefix}*"));
        self.inner.clear(prefix).await
    }
}
