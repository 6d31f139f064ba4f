//! Idempotent handlers on the cache's store: a retried request gets the first one's
//! result instead of running again.
//!
//! The record of one idempotency key is an internal item of the store
//! (`{prefix}!i#{function}#{sha256 of the key fields}`, beyond the reach of any data
//! key). It goes through three states, as AWS Lambda Powertools' records do:
//!
//! - **in progress**: the store's lease on the item, taken with one conditional write,
//!   held until the invocation's deadline. Its holder name carries the payload hash, so a
//!   duplicate with another payload is refused even while the first one runs;
//! - **completed**: the handler's result and payload hash as the item's value, written
//!   conditional on the lease's version, and returned to every retry for
//!   [`IdempotencyConfig::expires_after`];
//! - **expired**: the value past its expiry, or a lease past its deadline (a crashed
//!   attempt): the next request takes the item over with a write conditional on the
//!   version it saw.
//!
//! A failed handler stores nothing: its lease is given back, so a retry runs again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::StoreError;
use crate::store::{
    Attributes, CacheStore, INTERNAL_KEY_MARKER, LeaseOutcome, Precondition, Slot, StoreEntry,
    Version,
};

/// How long a completed result is returned to retries unless configured (Powertools'
/// `expires_after_seconds` default).
pub const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(3600);

/// How long one store call of an idempotent handler may take unless configured.
pub const DEFAULT_IDEMPOTENCY_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a duplicate gets while the first request with its key is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlight {
    /// [`IdempotencyError::InProgress`] at once (Powertools'
    /// `IdempotencyAlreadyInProgressError`).
    Refuse,
    /// Wait for the first request's result, reading the record every `poll` (doubling up
    /// to eight times, with jitter); run the handler if the first request's record
    /// expires (it crashed) and fail with [`IdempotencyError::InProgress`] if this
    /// invocation's own deadline comes first.
    Wait {
        /// The first interval between reads.
        poll: Duration,
    },
}

/// How an [`Idempotency`] handle behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// How long a completed result is returned to retries (default one hour).
    pub expires_after: Duration,
    /// Refuse a request whose payload differs from the one first seen under its key
    /// (default `true`).
    pub payload_validation: bool,
    /// What a duplicate gets while the first request runs (default
    /// [`InFlight::Refuse`]).
    pub in_flight: InFlight,
    /// Refuse a request whose key fields are all null with
    /// [`IdempotencyError::MissingKey`] (`true`), or run it without idempotency and log a
    /// warning (`false`, the default; Powertools' `raise_on_no_idempotency_key`).
    pub require_key: bool,
    /// How long one store call may take.
    pub store_timeout: Duration,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            expires_after: DEFAULT_EXPIRES_AFTER,
            payload_validation: true,
            in_flight: InFlight::Refuse,
            require_key: false,
            store_timeout: DEFAULT_IDEMPOTENCY_STORE_TIMEOUT,
        }
    }
}

/// Why an idempotent call did not return the handler's result.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// The handler failed. Nothing was stored: a retry runs it again.
    #[error("handler failed: {0}")]
    Handler(E),
    /// A request with the same key is running and its record has not expired.
    #[error(
        "a request with this idempotency key is already in progress (its record expires at {expires_at_ms} ms since the epoch)"
    )]
    InProgress {
        /// When the running request's record expires, epoch ms.
        expires_at_ms: u64,
    },
    /// The key was first used with another payload.
    #[error(
        "the payload differs from the one first seen under this idempotency key: use a new key for a new request"
    )]
    PayloadMismatch,
    /// Every key field is null and [`IdempotencyConfig::require_key`] is set.
    #[error("the request has no idempotency key: every key field is null")]
    MissingKey,
    /// The store failed or timed out; the handler's outcome is unknown to the store.
    #[error("idempotency store failed: {0}")]
    Store(#[source] StoreError),
    /// The key, payload or result could not be serialized, or a stored record decoded.
    #[error("idempotency record: {0}")]
    Serde(#[source] serde_json::Error),
}

/// The value of a completed record.
#[derive(Serialize, serde::Deserialize)]
struct Completed {
    /// The payload hash, empty without payload validation.
    payload: String,
    /// The handler's result.
    result: Value,
}

/// Idempotency for one function's handler, on a [`CacheStore`].
///
/// Cheap to clone. Build one with [`TieredCache::idempotency`](crate::TieredCache::idempotency)
/// (the cache's store, clock and key prefix) or [`Idempotency::new`].
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// `None`: idempotency is off (the cache is disabled) and handlers just run.
    store: Option<Arc<dyn CacheStore>>,
    clock: Arc<dyn Clock>,
    /// The store key up to the key hash: `{prefix}!i#{function}#`.
    key_space: String,
    config: IdempotencyConfig,
}

impl Idempotency {
    /// Idempotency for `function` on `store`, on the system clock, without key prefix.
    pub fn new(
        store: Arc<dyn CacheStore>,
        function: &str,
        config: IdempotencyConfig,
    ) -> Idempotency {
        Self::on(Some(store), crate::clock::system(), "", function, config)
    }

    /// Idempotency on `store` (`None`: handlers run without it), keys under `key_prefix`.
    pub(crate) fn on(
        store: Option<Arc<dyn CacheStore>>,
        clock: Arc<dyn Clock>,
        key_prefix: &str,
        function: &str,
        config: IdempotencyConfig,
    ) -> Idempotency {
        Self {
            store,
            clock,
            key_space: format!("{key_prefix}{INTERNAL_KEY_MARKER}i#{function}#"),
            config,
        }
    }

    /// Uses `clock` for record expiry (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &IdempotencyConfig {
        &self.config
    }

    /// The store key of the record for these key fields.
    pub fn record_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<String, serde_json::Error> {
        Ok(self.key_of(&canonical(serde_json::to_value(key)?)))
    }

    /// The store key of the record for canonical key fields.
    fn key_of(&self, key_fields: &Value) -> String {
        format!("{}{}", self.key_space, digest(key_fields))
    }

    /// Runs `handler` once per `key` within the configured window: a retry with the same
    /// key gets the stored result, a duplicate that arrives while the first runs gets
    /// [`IdempotencyError::InProgress`] (or waits, see [`InFlight`]), and a request with
    /// the same key and another `payload` gets [`IdempotencyError::PayloadMismatch`].
    ///
    /// `key` holds the fields that identify the request (hashed: a tuple or struct of
    /// them); `payload` is the whole request; `deadline_ms` is when this invocation must
    /// have finished, epoch ms (`lambda_runtime::Context::deadline`): the in-progress
    /// record lapses then, so a retry after a crash or a timeout runs the handler again.
    pub async fn run<K, P, T, E, F, Fut>(
        &self,
        key: &K,
        payload: &P,
        deadline_ms: u64,
        handler: F,
    ) -> Result<T, IdempotencyError<E>>
    where
        K: Serialize + ?Sized,
        P: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(store) = &self.store else {
            return handler().await.map_err(IdempotencyError::Handler);
        };
        let key_fields = canonical(serde_json::to_value(key).map_err(IdempotencyError::Serde)?);
        if is_missing(&key_fields) {
            if self.config.require_key {
                return Err(IdempotencyError::MissingKey);
            }
            tracing::warn!(
                key_space = %self.key_space,
                "no idempotency key (every key field is null): the handler runs without idempotency"
            );
            return handler().await.map_err(IdempotencyError::Handler);
        }
        let record_key = self.key_of(&key_fields);
        let payload_hash = if self.config.payload_validation {
            hash(payload).map_err(IdempotencyError::Serde)?
        } else {
            String::new()
        };
        let call = Call {
            store: store.as_ref(),
            idempotency: self,
            record_key: &record_key,
            payload_hash: &payload_hash,
            deadline_ms,
        };
        let claim = match call.claim().await? {
            Claimed::Stored(result) => {
                return serde_json::from_value(result).map_err(IdempotencyError::Serde);
            }
            Claimed::Run(claim) => claim,
        };
        let mut guard = InProgressGuard {
            store: store.clone(),
            record_key: record_key.clone(),
            holder: claim.holder.clone(),
            armed: true,
        };
        match handler().await {
            Ok(result) => {
                let stored = call.complete(&claim, &result).await;
                // A result that does not serialize gives the record back, from the drop.
                guard.armed = stored.is_err();
                drop(guard);
                stored.map(|()| result)
            }
            Err(e) => {
                // Failures are not stored: give the in-progress record back so a retry runs.
                guard.armed = false;
                let released = store.release_lease(&record_key, &claim.holder);
                if let Err(error) = self.timed(released).await {
                    tracing::warn!(%error, record_key, "in-progress record left to lapse at the deadline");
                }
                Err(IdempotencyError::Handler(e))
            }
        }
    }

    /// Runs a store call with the configured timeout.
    async fn timed<R>(
        &self,
        call: impl Future<Output = Result<R, StoreError>>,
    ) -> Result<R, StoreError> {
        let timeout = self.config.store_timeout;
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(StoreError::Timeout(timeout)))
    }
}

/// The in-progress record this call holds.
struct Claim {
    holder: String,
    version: Version,
}

/// What claiming a key decided.
enum Claimed {
    /// A completed record's result.
    Stored(Value),
    /// This call holds the key: run the handler.
    Run(Claim),
}

/// One idempotent call's view of its record.
struct Call<'a> {
    store: &'a dyn CacheStore,
    idempotency: &'a Idempotency,
    record_key: &'a str,
    payload_hash: &'a str,
    deadline_ms: u64,
}

impl Call<'_> {
    /// Takes the key's in-progress record, or returns the completed result, or refuses.
    ///
    /// The first write assumes the key is new (one request for a new key); a refusal
    /// returns the record as it is, so a duplicate costs one request too.
    async fn claim<E>(&self) -> Result<Claimed, IdempotencyError<E>> {
        let idempotency = self.idempotency;
        let holder = format!("{}/{:016x}", self.payload_hash, fastrand::u64(..));
        let mut slot = Slot::default();
        let mut interval = match idempotency.config.in_flight {
            InFlight::Refuse => Duration::ZERO,
            InFlight::Wait { poll } => poll,
        };
        loop {
            if let Some(bytes) = &slot.value {
                let completed: Completed =
                    serde_json::from_slice(bytes).map_err(IdempotencyError::Serde)?;
                self.validate(&completed.payload)?;
                return Ok(Claimed::Stored(completed.result));
            }
            let now = idempotency.clock.now_ms();
            if let Some(lease) = &slot.lease {
                let (running_hash, _) = lease.holder.split_once('/').unwrap_or_default();
                self.validate(running_hash)?;
                let in_progress = IdempotencyError::InProgress {
                    expires_at_ms: lease.expires_at_ms,
                };
                if interval.is_zero() || now >= self.deadline_ms {
                    return Err(in_progress);
                }
                // Wait, never past the running record's expiry nor this call's deadline.
                let until = lease.expires_at_ms.min(self.deadline_ms);
                let nap = interval
                    .mul_f64(0.5 + fastrand::f64())
                    .min(Duration::from_millis(until.saturating_sub(now) + 1));
                tokio::time::sleep(nap).await;
                if let InFlight::Wait { poll } = idempotency.config.in_flight {
                    interval = (interval * 2).min(poll * 8);
                }
                slot = idempotency
                    .timed(self.store.read(self.record_key))
                    .await
                    .map_err(IdempotencyError::Store)?;
                continue;
            }
            // No live record: new, failed, expired, or its holder crashed. Take it.
            let in_progress = Duration::from_millis(self.deadline_ms.saturating_sub(now).max(1));
            let acquired =
                self.store
                    .acquire_lease(self.record_key, slot.version, &holder, in_progress);
            match idempotency
                .timed(acquired)
                .await
                .map_err(IdempotencyError::Store)?
            {
                LeaseOutcome::Acquired(version) => {
                    return Ok(Claimed::Run(Claim { holder, version }));
                }
                LeaseOutcome::Refused(current) => slot = current,
            }
        }
    }

    /// Refuses a record made for another payload.
    fn validate<E>(&self, stored_hash: &str) -> Result<(), IdempotencyError<E>> {
        let checked = self.idempotency.config.payload_validation && !stored_hash.is_empty();
        if checked && stored_hash != self.payload_hash {
            return Err(IdempotencyError::PayloadMismatch);
        }
        Ok(())
    }

    /// Stores the result as the completed record, if this call still holds the key.
    async fn complete<T: Serialize, E>(
        &self,
        claim: &Claim,
        result: &T,
    ) -> Result<(), IdempotencyError<E>> {
        let idempotency = self.idempotency;
        let completed = Completed {
            payload: self.payload_hash.to_owned(),
            result: serde_json::to_value(result).map_err(IdempotencyError::Serde)?,
        };
        let value = serde_json::to_vec(&completed).map_err(IdempotencyError::Serde)?;
        let now = idempotency.clock.now_ms();
        let window = idempotency.config.expires_after;
        let entry = StoreEntry {
            value: &value,
            created_at_ms: now,
            expires_at_ms: now + window.as_millis() as u64,
            ttl: window,
            attributes: &Attributes::new(),
            large_values: false,
        };
        let written = self.store.write(
            self.record_key,
            entry,
            Precondition::Version(Some(claim.version)),
        );
        match idempotency.timed(written).await {
            Ok(Some(_)) => {}
            // The record lapsed and another request took it over: the handler has run
            // twice, and the other request's record stands. The result is still this
            // call's to return.
            Ok(None) => tracing::warn!(
                record_key = self.record_key,
                "the in-progress record expired before the handler finished; the result was not stored"
            ),
            // The work is done: returning it beats a retry that would run it again once
            // the in-progress record lapses.
            Err(error) => tracing::warn!(
                %error,
                record_key = self.record_key,
                "could not store the result; retries run the handler again after the deadline"
            ),
        }
        Ok(())
    }
}

/// Gives the in-progress record back when the handler's future is dropped (a cancelled
/// call), so a retry need not wait for the deadline.
struct InProgressGuard {
    store: Arc<dyn CacheStore>,
    record_key: String,
    holder: String,
    armed: bool,
}

impl Drop for InProgressGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, key, holder) = (
            self.store.clone(),
            std::mem::take(&mut self.record_key),
            std::mem::take(&mut self.holder),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { store.release_lease(&key, &holder).await });
        }
    }
}

/// `value` with every object's keys sorted, so equal requests hash alike whatever map
/// type they were built from.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Whether key fields are absent: null, or a sequence or record of nulls only.
fn is_missing(key: &Value) -> bool {
    match key {
        Value::Null => true,
        Value::Array(items) => items.iter().all(Value::is_null),
        Value::Object(fields) => fields.values().all(Value::is_null),
        Value::String(text) => text.is_empty(),
        _ => false,
    }
}

/// The hex SHA-256 of `value`'s canonical JSON.
fn hash<V: Serialize + ?Sized>(value: &V) -> Result<String, serde_json::Error> {
    Ok(digest(&canonical(serde_json::to_value(value)?)))
}

fn digest(value: &Value) -> String {
    let bytes = Sha256::digest(value.to_string());
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn equal_maps_hash_alike_whatever_their_order() {
        let a: HashMap<&str, u32> = (0..50)
            .map(|i| (["a", "b", "c", "d"][i % 4], i as u32))
            .collect();
        let mut ordered = serde_json::Map::new();
        let mut keys: Vec<_> = a.keys().copied().collect();
        keys.sort_unstable_by(|x, y| y.cmp(x));
        for k in keys {
            ordered.insert(k.to_owned(), a[k].into());
        }
        assert_eq!(hash(&a).unwrap(), hash(&ordered).unwrap());
        assert_ne!(hash(&("o-1", "c")).unwrap(), hash(&("o-1", "d")).unwrap());
    }

    #[test]
    fn null_key_fields_are_a_missing_key() {
        assert!(is_missing(&serde_json::json!(null)));
        assert!(is_missing(&serde_json::json!([null, null])));
        assert!(is_missing(&serde_json::json!({"order": null})));
        assert!(is_missing(&serde_json::json!("")));
        assert!(!is_missing(&serde_json::json!([null, "c-1"])));
        assert!(!is_missing(&serde_json::json!(0)));
    }

    #[test]
    fn records_live_in_the_internal_key_space() {
        let store = Arc::new(crate::store::MemoryStore::new(
            crate::config::MemoryLimit::entries(10),
        ));
        let idempotency = Idempotency::on(
            Some(store),
            crate::clock::system(),
            "app#",
            "charge",
            IdempotencyConfig::default(),
        );
        let key = idempotency.record_key(&("o-1",)).unwrap();
        assert!(
            key.starts_with(&format!("app#{INTERNAL_KEY_MARKER}i#charge#")),
            "{key}"
        );
        assert_eq!(key.len(), "app#!i#charge#".len() + 64);
    }
}
