//! Single-flight: at most one origin call per key in flight inside a process.
//!
//! A flight is identified, so an invalidation can take its key away from it (later callers
//! start a new one) and a caller that finds a flight's result invalidated can replace that
//! flight, while its leader, still running, can no longer end a flight it does not lead.
//! Followers are woken in the order they joined, so a simulation on a paused clock
//! replays the same way every time.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// A registered flight: its id and its shared state, type-erased because keys carry
/// different value types.
type Entry = (u64, Box<dyn Any + Send + Sync>);

/// What a flight's leader and followers share: the outcome once published, and the
/// followers waiting for it, in the order they joined.
struct Shared<T> {
    outcome: Option<T>,
    waiting: Vec<oneshot::Sender<T>>,
    /// The leader is gone: no outcome comes any more.
    ended: bool,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self {
            outcome: None,
            waiting: Vec::new(),
            ended: false,
        }
    }
}

type Slot<T> = Arc<Mutex<Shared<T>>>;

/// In-flight calls by key.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    next_id: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

/// What a caller should do for a key.
pub(crate) enum Role<T> {
    /// Do the work, then [`Leader::publish`].
    Leader(Leader<T>),
    /// Wait for the leader with [`Follower::outcome`].
    Follower(Follower<T>),
}

/// The one caller doing the work for a key. Dropping it ends the flight.
pub(crate) struct Leader<T> {
    flights: Arc<Flights>,
    /// The key, when this flight is registered under it.
    key: Option<String>,
    id: u64,
    shared: Slot<T>,
}

/// A caller waiting for a leader.
pub(crate) struct Follower<T> {
    id: u64,
    shared: Slot<T>,
}

impl<T: Clone> Leader<T> {
    /// Hands the outcome to every follower, current and later, until drop.
    pub(crate) fn publish(&self, outcome: T) {
        let mut shared = self.shared.lock().expect("flight lock");
        for waiter in shared.waiting.drain(..) {
            let _ = waiter.send(outcome.clone());
        }
        shared.outcome = Some(outcome);
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        {
            // Followers still waiting learn that no outcome comes.
            let mut shared = self.shared.lock().expect("flight lock");
            shared.ended = true;
            shared.waiting.clear();
        }
        if let Some(key) = self.key.take() {
            let mut map = self.flights.map.lock().expect("flight lock");
            if map.get(&key).is_some_and(|(id, _)| *id == self.id) {
                map.remove(&key);
            }
        }
    }
}

impl<T: Clone> Follower<T> {
    /// This flight's id, for [`Flights::replace`].
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The leader's outcome; `None` if the leader gave up without one.
    pub(crate) async fn outcome(self) -> Option<T> {
        let waiting = {
            let mut shared = self.shared.lock().expect("flight lock");
            if let Some(outcome) = &shared.outcome {
                return Some(outcome.clone());
            }
            if shared.ended {
                return None;
            }
            let (tx, rx) = oneshot::channel();
            shared.waiting.push(tx);
            rx
        };
        waiting.await.ok()
    }
}

impl Flights {
    /// Joins the flight for `key`, becoming its leader if there is none.
    pub(crate) fn join<T: Clone + Send + Sync + 'static>(self: &Arc<Self>, key: &str) -> Role<T> {
        self.join_unless(key, None)
    }

    /// Joins the flight for `key`, unless it is flight `stale` (whose outcome the caller
    /// found invalidated): that one is replaced, and the caller leads the new one.
    pub(crate) fn replace<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        key: &str,
        stale: u64,
    ) -> Role<T> {
        self.join_unless(key, Some(stale))
    }

    fn join_unless<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        key: &str,
        stale: Option<u64>,
    ) -> Role<T> {
        let mut map = self.map.lock().expect("flight lock");
        let current = map
            .get(key)
            .filter(|(id, _)| Some(*id) != stale)
            .map(|(id, shared)| (*id, shared.downcast_ref::<Slot<T>>().cloned()));
        match current {
            Some((id, Some(shared))) => Role::Follower(Follower { id, shared }),
            // Same key in flight with another value type: do not coalesce.
            Some((_, None)) => Role::Leader(self.detached()),
            None => {
                let mut leader = self.detached();
                leader.key = Some(key.to_owned());
                map.insert(key.to_owned(), (leader.id, Box::new(leader.shared.clone())));
                Role::Leader(leader)
            }
        }
    }

    /// Leads the flight for `key` only if none is running.
    pub(crate) fn try_lead<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        key: &str,
    ) -> Option<Leader<T>> {
        match self.join(key) {
            Role::Leader(l) if l.key.is_some() => Some(l),
            _ => None,
        }
    }

    /// A leader of a flight no one can join (yet: [`join_unless`](Self::join_unless)
    /// registers it).
    fn detached<T: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> Leader<T> {
        Leader {
            flights: self.clone(),
            key: None,
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            shared: Slot::default(),
        }
    }

    /// Takes `key` away from its flight: later callers start a new one, while the current
    /// leader and its followers finish as they were.
    pub(crate) fn abandon(&self, key: &str) {
        self.map.lock().expect("flight lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn followers_get_the_leaders_value_and_flight_ends_on_drop() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(leader) = flights.join::<u32>("k") else {
            panic!("first caller leads")
        };
        let Role::Follower(follower) = flights.join::<u32>("k") else {
            panic!("second caller follows")
        };
        assert!(flights.try_lead::<u32>("k").is_none());
        leader.publish(7);
        assert_eq!(follower.outcome().await, Some(7));
        drop(leader);
        assert!(flights.try_lead::<u32>("k").is_some());
    }

    #[tokio::test]
    async fn abandoned_flight_releases_followers() {
        let flights = Arc::new(Flights::default());
        let leader = flights.join::<u32>("k");
        let Role::Follower(follower) = flights.join::<u32>("k") else {
            panic!("second caller follows")
        };
        drop(leader);
        assert!(follower.outcome().await.is_none());
    }

    #[tokio::test]
    async fn an_abandoned_key_starts_a_new_flight_the_old_leader_cannot_end() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(old) = flights.join::<u32>("k") else {
            panic!("first caller leads")
        };
        flights.abandon("k");
        let Role::Leader(new) = flights.join::<u32>("k") else {
            panic!("after abandon a caller leads anew")
        };
        drop(old);
        let Role::Follower(follower) = flights.join::<u32>("k") else {
            panic!("the new flight is still registered")
        };
        new.publish(2);
        assert_eq!(follower.outcome().await, Some(2));
    }

    #[tokio::test]
    async fn a_stale_flight_is_replaced_once() {
        let flights = Arc::new(Flights::default());
        let Role::Leader(stale) = flights.join::<u32>("k") else {
            panic!("first caller leads")
        };
        let Role::Follower(follower) = flights.join::<u32>("k") else {
            panic!("second caller follows")
        };
        let stale_id = follower.id();
        let Role::Leader(_fresh) = flights.replace::<u32>("k", stale_id) else {
            panic!("the stale flight is replaced")
        };
        assert!(
            matches!(flights.replace::<u32>("k", stale_id), Role::Follower(_)),
            "a second caller with the same stale id joins the replacement"
        );
        drop(stale);
    }
}
