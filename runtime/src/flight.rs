//! Single-flight: at most one origin call per key in flight inside a process.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::CacheError;

type Outcome<T> = Option<Result<T, CacheError>>;

/// In-flight calls by key. Each entry holds the receiver side of the
/// leader's channel, type-erased because keys carry different value types.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, Box<dyn Any + Send + Sync>>>,
}

/// What a caller should do for a key.
pub(crate) enum Role<T> {
    /// Do the work, then [`Leader::publish`].
    Leader(Leader<T>),
    /// Wait for the leader with [`follow`].
    Follower(watch::Receiver<Outcome<T>>),
}

/// The one caller doing the work for a key. Dropping it ends the flight.
pub(crate) struct Leader<T> {
    flights: Arc<Flights>,
    key: Option<String>,
    tx: watch::Sender<Outcome<T>>,
}

impl<T> Leader<T> {
    /// Hands the result to every follower, current and later, until drop.
    pub fn publish(&self, outcome: Result<T, CacheError>) {
        self.tx.send_replace(Some(outcome));
    }
}

impl<T> Drop for Leader<T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.flights.map.lock().expect("flight lock").remove(&key);
        }
    }
}

impl Flights {
    /// Joins the flight for `key`, becoming its leader if there is none.
    pub fn join<T: Clone + Send + Sync + 'static>(self: &Arc<Self>, key: &str) -> Role<T> {
        let mut map = self.map.lock().expect("flight lock");
        match map.get(key) {
            Some(rx) => match rx.downcast_ref::<watch::Receiver<Outcome<T>>>() {
                Some(rx) => Role::Follower(rx.clone()),
                // Same key in flight with another value type: do not coalesce.
                None => Role::Leader(Leader {
                    flights: self.clone(),
                    key: None,
                    tx: watch::channel(None).0,
                }),
            },
            None => {
                let (tx, rx) = watch::channel(None);
                map.insert(key.to_owned(), Box::new(rx));
                Role::Leader(Leader {
                    flights: self.clone(),
                    key: Some(key.to_owned()),
                    tx,
                })
            }
        }
    }

    /// Leads the flight for `key` only if none is running.
    pub fn try_lead<T: Clone + Send + Sync + 'static>(
        self: &Arc<Self>,
        key: &str,
    ) -> Option<Leader<T>> {
        match self.join(key) {
            Role::Leader(l) if l.key.is_some() => Some(l),
            _ => None,
        }
    }
}

/// Waits for the leader's result; `None` if the leader gave up without one.
pub(crate) async fn follow<T: Clone>(
    mut rx: watch::Receiver<Outcome<T>>,
) -> Option<Result<T, CacheError>> {
    let r = rx.wait_for(Option::is_some).await.ok()?;
    r.clone()
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
        let Role::Follower(rx) = flights.join::<u32>("k") else {
            panic!("second caller follows")
        };
        assert!(flights.try_lead::<u32>("k").is_none());
        leader.publish(Ok(7));
        assert_eq!(follow(rx).await.unwrap().unwrap(), 7);
        drop(leader);
        assert!(flights.try_lead::<u32>("k").is_some());
    }

    #[tokio::test]
    async fn abandoned_flight_releases_followers() {
        let flights = Arc::new(Flights::default());
        let leader = flights.join::<u32>("k");
        let Role::Follower(rx) = flights.join::<u32>("k") else {
            panic!("second caller follows")
        };
        drop(leader);
        assert!(follow(rx).await.is_none());
    }
}
