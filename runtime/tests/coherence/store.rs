//! The fault-injecting store: the only file that knows `CacheStore`'s methods.
//!
//! Every container talks to one shared store (a [`MemoryStore`] on virtual time, or in
//! the live mode a real one) through its own [`FaultyStore`] view, over a simulated
//! network. Each call is a round trip: the request travels (a
//! seeded delay), lands (its effect applies to the shared store), and the reply travels
//! back (another delay). The landing runs in a task of its own, so a request lands even
//! when its caller has given up, as on a real network: a write may land after the cache
//! timed out waiting for it. A seeded share of requests is lost (nothing applies, the
//! caller gets an error) or unanswered (the effect applies, no reply comes until the
//! cache's store timeout cuts the wait).
//!
//! The [`StoreLog`] records each call for the checker: its container and operation, when
//! it was sent and landed, the lease ledger, and per-item request counts.
//!
//! Porting to another store trait: forward each method through [`FaultyStore::round_trip`]
//! with owned arguments and its [`Effect`]; record a lease grant when the store grants
//! one (as `acquire_lease` does, where the request lands), and its end when the holder
//! sends a release or a write replaces the item (the lease lives on the item, and the
//! holder's fill clears it). The checker reads only [`StoreLog`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cachegen_runtime::StoreError;
use cachegen_runtime::clock::Clock;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::store::{
    Attributes, CacheStore, Capabilities, LeaseOutcome, MemoryStore, Precondition, Slot, Stamp,
    StoreEntry, Version,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::history::current_operation;
use crate::world::{Mark, VirtualTime};

/// How long an unanswered call waits for its reply: far past any timeout.
const NEVER: Duration = Duration::from_secs(3600);

/// What the network between the containers and the store does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Faults {
    /// Largest one-way delay of an ordinary trip, ms.
    pub delay_ms: u64,
    /// Share of one-way trips that are slow instead.
    pub slow_rate: f64,
    /// Largest one-way delay of a slow trip, ms (past the cache's store timeout).
    pub slow_ms: u64,
    /// Share of requests lost before they land: nothing applies, the caller gets an error.
    pub lost_rate: f64,
    /// Share of requests that land but are never answered.
    pub unanswered_rate: f64,
}

impl Faults {
    /// A healthy network: a few ms each way, nothing lost.
    pub(crate) const CALM: Self = Self {
        delay_ms: 5,
        slow_rate: 0.0,
        slow_ms: 0,
        lost_rate: 0.0,
        unanswered_rate: 0.0,
    };

    /// A bad day: slow trips past the 200 ms store timeout, lost and unanswered requests.
    pub(crate) const ROUGH: Self = Self {
        delay_ms: 20,
        slow_rate: 0.05,
        slow_ms: 600,
        lost_rate: 0.03,
        unanswered_rate: 0.02,
    };
}

/// What happens to one call on the network, drawn before it is sent.
struct Fate {
    request: Duration,
    reply: Duration,
    lost: bool,
    unanswered: bool,
}

/// What a store call does, whatever the store trait calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads items.
    Read,
    /// Writes an item.
    Write,
    /// Removes items (a key, a prefix, a tag's members).
    Remove,
    /// Takes or gives back a lease.
    Lease,
}

/// One store call as the store saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoreCall {
    /// The calling container.
    pub container: usize,
    /// The operation it belongs to (`None`: a task the cache spawned).
    pub op: Option<usize>,
    /// The `CacheStore` method.
    pub method: &'static str,
    /// What it does.
    pub effect: Effect,
    /// The items it addresses (a prefix scan as `prefix*`).
    pub items: Vec<String>,
    /// When it was sent.
    pub sent: Mark,
    /// When its effect applied (`None`: lost, or still in flight at the end).
    pub landed: Option<Mark>,
    /// Whether the store returned an error when it landed.
    pub failed: bool,
    /// When the caller got the reply, an error if the request was lost (`None`: it gave
    /// up first).
    pub answered: Option<Mark>,
}

impl std::fmt::Display for StoreCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self
            .op
            .map_or_else(|| "a background task".to_owned(), |op| format!("op {op}"));
        write!(
            f,
            "{} {} from container {} ({op}) sent at {}, ",
            self.method,
            self.items.join(","),
            self.container,
            self.sent
        )?;
        match self.landed {
            Some(landed) if self.failed => write!(f, "failed at {landed}"),
            Some(landed) => write!(f, "applied at {landed}"),
            None => write!(f, "never applied"),
        }?;
        match self.answered {
            Some(answered) => write!(f, ", answered at {answered}"),
            None => write!(f, ", never answered (the caller gave up)"),
        }
    }
}

/// A lease a container took in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeaseGrant {
    /// The lease's store key.
    pub lease: String,
    /// The container whose holder took it.
    pub container: usize,
    /// The operation that took it (`None`: a task the cache spawned).
    pub op: Option<usize>,
    /// When the store granted it.
    pub granted: Mark,
    /// The `acquire_lease` call that took it (its caller may have given up before the
    /// grant reached it).
    pub call: usize,
    /// Whether its holder gave it back afterwards (a release, or a write that replaced
    /// the item, its own fill included).
    pub released: bool,
}

/// Everything the store saw, for the checker and the figures.
#[derive(Clone, Debug, Default)]
pub(crate) struct StoreLog {
    /// Every call, in the order sent.
    pub calls: Vec<StoreCall>,
    /// Every lease granted, in the order granted.
    pub grants: Vec<LeaseGrant>,
    /// The `write` calls (indices into `calls`) that landed and found their precondition
    /// broken, so wrote nothing.
    pub refused_writes: Vec<usize>,
    /// Lease holder name to container (holder names are not deterministic, so the log
    /// records containers).
    holders: BTreeMap<String, usize>,
}

impl StoreLog {
    /// The container that uses lease holder name `holder`; panics if two do.
    fn holder(&mut self, holder: &str, container: usize) -> usize {
        let known = *self.holders.entry(holder.to_owned()).or_insert(container);
        assert_eq!(
            known, container,
            "containers {known} and {container} share the lease holder name {holder}"
        );
        container
    }

    /// Requests per item: every call counts once for each item it addresses.
    pub(crate) fn requests_per_item(&self) -> BTreeMap<&str, u64> {
        let mut counts = BTreeMap::new();
        for item in self.calls.iter().flat_map(|call| &call.items) {
            *counts.entry(item.as_str()).or_default() += 1;
        }
        counts
    }
}

/// The store and the network in front of it, shared by every container's view.
#[derive(Debug)]
pub(crate) struct Network {
    store: Arc<dyn CacheStore>,
    /// Whether the views claim an item and its stamps in one round trip.
    one_trip_stamps: bool,
    faults: Faults,
    fates: Mutex<ChaCha8Rng>,
    time: Arc<VirtualTime>,
    log: Mutex<StoreLog>,
}

impl Network {
    /// A memory store on virtual time behind a network with `faults`, drawn from `seed`.
    /// Its views read an item and its stamps in one round trip, as DynamoDB's
    /// `BatchGetItem` does.
    pub(crate) fn new(seed: u64, faults: Faults, time: Arc<VirtualTime>) -> Arc<Self> {
        let clock: Arc<dyn Clock> = time.clone();
        let store = MemoryStore::new(MemoryLimit::entries(100_000)).with_clock(clock);
        Self::build(Arc::new(store), true, seed, faults, time)
    }

    /// `store` (a real one, for the live mode) behind a network with `faults`, drawn from
    /// `seed`; its views have the store's own capabilities.
    pub(crate) fn over(
        store: Arc<dyn CacheStore>,
        seed: u64,
        faults: Faults,
        time: Arc<VirtualTime>,
    ) -> Arc<Self> {
        Self::build(store, false, seed, faults, time)
    }

    fn build(
        store: Arc<dyn CacheStore>,
        one_trip_stamps: bool,
        seed: u64,
        faults: Faults,
        time: Arc<VirtualTime>,
    ) -> Arc<Self> {
        let mut fates = ChaCha8Rng::seed_from_u64(seed);
        // Another stream than the plan's, which is drawn from the same seed.
        fates.set_stream(1);
        Arc::new(Self {
            store,
            one_trip_stamps,
            faults,
            fates: Mutex::new(fates),
            time,
            log: Mutex::default(),
        })
    }

    /// Container `container`'s way to the store.
    pub(crate) fn view(self: &Arc<Self>, container: usize) -> FaultyStore {
        FaultyStore {
            network: self.clone(),
            container,
        }
    }

    /// A copy of the log so far.
    pub(crate) fn log(&self) -> StoreLog {
        self.log.lock().expect("store log lock").clone()
    }

    fn fate(&self) -> Fate {
        let faults = self.faults;
        let mut rng = self.fates.lock().expect("fate lock");
        let mut trip = || {
            let slow = rng.random_bool(faults.slow_rate);
            let ms = rng.random_range(0..=faults.delay_ms);
            let slow_ms = rng.random_range(faults.delay_ms..=faults.slow_ms.max(faults.delay_ms));
            Duration::from_millis(if slow { slow_ms } else { ms })
        };
        let (request, reply) = (trip(), trip());
        Fate {
            request,
            reply,
            lost: rng.random_bool(faults.lost_rate),
            unanswered: rng.random_bool(faults.unanswered_rate),
        }
    }
}

/// One container's view of the shared store, through the faulty network.
#[derive(Debug)]
pub(crate) struct FaultyStore {
    network: Arc<Network>,
    container: usize,
}

impl FaultyStore {
    /// Sends `apply` (run against the shared store when the request lands) on a round
    /// trip addressing `items`, with this call's seeded fate.
    async fn round_trip<R, F, Fut>(
        &self,
        method: &'static str,
        effect: Effect,
        items: Vec<String>,
        apply: F,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(Arc<Network>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        let network = self.network.clone();
        let fate = network.fate();
        let call = {
            let mut log = network.log.lock().expect("store log lock");
            log.calls.push(StoreCall {
                container: self.container,
                op: current_operation(),
                method,
                effect,
                items,
                sent: network.time.mark(),
                landed: None,
                failed: false,
                answered: None,
            });
            log.calls.len() - 1
        };
        let landing = tokio::spawn(async move {
            tokio::time::sleep(fate.request).await;
            if fate.lost {
                return Err(StoreError::backend("memory", "injected: request lost"));
            }
            let result = apply(network.clone()).await;
            let landed = network.time.mark();
            let mut log = network.log.lock().expect("store log lock");
            log.calls[call].landed = Some(landed);
            log.calls[call].failed = result.is_err();
            result
        });
        let result = landing.await.expect("the store's landing task panicked");
        let reply = if fate.unanswered { NEVER } else { fate.reply };
        tokio::time::sleep(reply).await;
        let answered = self.network.time.mark();
        self.network.log.lock().expect("store log lock").calls[call].answered = Some(answered);
        result
    }
}

/// A [`StoreEntry`] owned, so it can travel.
struct OwnedEntry {
    value: Vec<u8>,
    created_at_ms: u64,
    expires_at_ms: u64,
    ttl: Duration,
    attributes: Attributes,
    large_values: bool,
}

impl OwnedEntry {
    fn of(entry: &StoreEntry<'_>) -> Self {
        Self {
            value: entry.value.to_vec(),
            created_at_ms: entry.created_at_ms,
            expires_at_ms: entry.expires_at_ms,
            ttl: entry.ttl,
            attributes: entry.attributes.clone(),
            large_values: entry.large_values,
        }
    }

    fn entry(&self) -> StoreEntry<'_> {
        StoreEntry {
            value: &self.value,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            ttl: self.ttl,
            attributes: &self.attributes,
            large_values: self.large_values,
        }
    }
}

impl Network {
    /// Marks the leases granted on `key` as gone: a write or tombstone that replaced the
    /// item took the lease with it (the holder's own fill is how it gives it back).
    fn replaced(&self, key: &str) {
        let mut log = self.log.lock().expect("store log lock");
        for grant in log.grants.iter_mut().filter(|grant| grant.lease == key) {
            grant.released = true;
        }
    }
}

#[async_trait]
impl CacheStore for FaultyStore {
    fn name(&self) -> &'static str {
        "faulty-memory"
    }

    fn capabilities(&self) -> Capabilities {
        let own = self.network.store.capabilities();
        Capabilities {
            reads_with_stamps: own.reads_with_stamps || self.network.one_trip_stamps,
            ..own
        }
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        let key = key.to_owned();
        self.round_trip("read", Effect::Read, vec![key.clone()], |n| async move {
            n.store.read(&key).await
        })
        .await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let keys = keys.to_vec();
        self.round_trip("read_many", Effect::Read, keys.clone(), |n| async move {
            n.store.read_many(&keys).await
        })
        .await
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        let (key, entry) = (key.to_owned(), OwnedEntry::of(&entry));
        let call = self.network.log.lock().expect("store log lock").calls.len();
        self.round_trip(
            "write",
            Effect::Write,
            vec![key.clone()],
            move |n| async move {
                let written = n.store.write(&key, entry.entry(), precondition).await?;
                if written.is_some() {
                    n.replaced(&key);
                } else {
                    n.log
                        .lock()
                        .expect("store log lock")
                        .refused_writes
                        .push(call);
                }
                Ok(written)
            },
        )
        .await
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.round_trip(
            "delete",
            Effect::Remove,
            vec![key.clone()],
            move |n| async move {
                let deleted = n.store.delete(&key, precondition).await?;
                if deleted {
                    n.replaced(&key);
                }
                Ok(deleted)
            },
        )
        .await
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let (key, holder, container) = (key.to_owned(), holder.to_owned(), self.container);
        let op = current_operation();
        let call = self.network.log.lock().expect("store log lock").calls.len();
        self.round_trip(
            "acquire_lease",
            Effect::Lease,
            vec![key.clone()],
            move |n| async move {
                let outcome = n.store.acquire_lease(&key, seen, &holder, ttl).await?;
                if let LeaseOutcome::Acquired(_) = outcome {
                    let granted = n.time.mark();
                    let mut log = n.log.lock().expect("store log lock");
                    let container = log.holder(&holder, container);
                    log.grants.push(LeaseGrant {
                        lease: key,
                        container,
                        op,
                        granted,
                        call,
                        released: false,
                    });
                }
                Ok(outcome)
            },
        )
        .await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        {
            let mut log = self.network.log.lock().expect("store log lock");
            let container = log.holder(holder, self.container);
            for grant in &mut log.grants {
                if grant.lease == key && grant.container == container {
                    grant.released = true;
                }
            }
        }
        let (key, holder) = (key.to_owned(), holder.to_owned());
        self.round_trip(
            "release_lease",
            Effect::Lease,
            vec![key.clone()],
            |n| async move { n.store.release_lease(&key, &holder).await },
        )
        .await
    }

    async fn read_with_stamps(
        &self,
        key: &str,
        stamps: &[String],
    ) -> Result<(Slot, Vec<Stamp>), StoreError> {
        let (key, stamps) = (key.to_owned(), stamps.to_vec());
        let items = std::iter::once(key.clone()).chain(stamps.clone()).collect();
        self.round_trip("read_with_stamps", Effect::Read, items, |n| async move {
            n.store.read_with_stamps(&key, &stamps).await
        })
        .await
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        let keys = keys.to_vec();
        self.round_trip("read_stamps", Effect::Read, keys.clone(), |n| async move {
            n.store.read_stamps(&keys).await
        })
        .await
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        let (shards, counter) = (shards.to_vec(), counter.to_owned());
        self.round_trip(
            "bump_stamp",
            Effect::Remove,
            shards.clone(),
            |n| async move { n.store.bump_stamp(&shards, &counter).await },
        )
        .await
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        let prefix = prefix.to_owned();
        self.round_trip(
            "clear",
            Effect::Remove,
            vec![format!("{prefix}*")],
            |n| async move { n.store.clear(&prefix).await },
        )
        .await
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        let pattern = pattern.to_owned();
        self.round_trip(
            "delete_by_pattern",
            Effect::Remove,
            vec![pattern.clone()],
            |n| async move { n.store.delete_by_pattern(&pattern).await },
        )
        .await
    }
}
