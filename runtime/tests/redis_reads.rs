//! What a read costs Redis, and what it makes of a key that is not an item: a store read is
//! one plain `HMGET` (no script), a batch read one `HMGET` a key, and a key of another type
//! at a cache key (a string or a list, as a cache written before items were hashes left
//! them) reads as no item. On a single node and on a Redis Cluster; the commands are
//! counted with `INFO commandstats` on every node.
//!
//! Run: `cargo test -p cachegen-runtime --test redis_reads` (needs `redis-server` on PATH;
//! the cluster case needs `CACHEGEN_TEST_REDIS_CLUSTER_URLS`, which `scripts/test.sh` sets).
//! The cluster case counts every command its nodes serve while it reads, so it is the only
//! test here that touches the cluster.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cachegen_runtime::store::Slot;
use common::{Harness, Kind};
use serde::{Deserialize, Serialize};

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u32,
    name: String,
}

fn user(id: u32) -> User {
    User {
        id,
        name: format!("user {id}"),
    }
}

/// Commands a set of Redis nodes served, by name, as `INFO commandstats` counts them.
#[derive(Debug, Default, PartialEq, Eq)]
struct Calls(BTreeMap<String, u64>);

impl Calls {
    /// The counts on every node in `urls`, summed.
    async fn on(urls: &[String]) -> Self {
        let mut calls = BTreeMap::new();
        for url in urls {
            let client = redis::Client::open(url.as_str()).expect("redis url");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("a connection to a node");
            let info: String = redis::cmd("INFO")
                .arg("commandstats")
                .query_async(&mut conn)
                .await
                .expect("INFO commandstats");
            // cmdstat_hmget:calls=3,usec=12,usec_per_call=4.00,...
            for line in info.lines() {
                let Some((name, stats)) = line
                    .strip_prefix("cmdstat_")
                    .and_then(|l| l.split_once(':'))
                else {
                    continue;
                };
                let count = stats
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))
                    .and_then(|n| n.parse::<u64>().ok())
                    .expect("a calls= field");
                *calls.entry(name.to_owned()).or_default() += count;
            }
        }
        Self(calls)
    }

    /// The commands served since `before`, leaving out those the count itself, the
    /// cluster client's upkeep and replication send (`INFO`, `CLUSTER`, `PING`, `CLIENT`,
    /// `HELLO`, `READONLY`; a replica's `REPLCONF ACK` every second).
    fn since(&self, before: &Self) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .filter(|(name, _)| {
                ![
                    "info", "cluster", "ping", "client", "hello", "readonly", "replconf",
                ]
                .iter()
                .any(|upkeep| name.starts_with(upkeep))
            })
            .filter_map(|(name, &n)| {
                let added = n - before.0.get(name).copied().unwrap_or(0);
                (added > 0).then(|| (name.clone(), added))
            })
            .collect()
    }
}

/// The commands that `urls` served while `run` ran.
async fn served<T>(urls: &[String], run: impl Future<Output = T>) -> (T, BTreeMap<String, u64>) {
    let before = Calls::on(urls).await;
    let out = run.await;
    (out, Calls::on(urls).await.since(&before))
}

/// Sends `cmd` past the store, to the node or the cluster at `urls`.
async fn send(kind: Kind, urls: &[String], cmd: &redis::Cmd) {
    if kind == Kind::RedisCluster {
        let client = redis::cluster::ClusterClient::new(urls.to_vec()).expect("cluster urls");
        let mut conn = client.get_async_connection().await.expect("the cluster");
        cmd.query_async::<()>(&mut conn)
            .await
            .expect("a raw command");
    } else {
        let client = redis::Client::open(urls[0].as_str()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        cmd.query_async::<()>(&mut conn)
            .await
            .expect("a raw command");
    }
}

fn only(command: &str, times: u64) -> BTreeMap<String, u64> {
    BTreeMap::from([(command.to_owned(), times)])
}

/// Reads on `h`'s store, whose nodes are `urls` (a single node: `urls` holds its URL).
async fn reads_are_one_hmget_and_other_types_are_no_item(mut h: Harness, urls: &[String]) {
    // The prefix is a hash tag: on a cluster, a batch read of these keys is one pipeline
    // of HMGETs to one node, keys of other types among them.
    h.prefix = format!("{{{}}}", h.prefix);
    let cache = h.builder().build(); // L1 off: every get reads the store
    let key = |k: &str| format!("{}{k}", h.prefix);
    cache.set("held", &user(1), MINUTE).await.unwrap();
    cache.delete("gone").await.unwrap(); // a tombstone

    // Keys of other types at cache keys, as a cache older than hash items left them.
    send(
        h.kind,
        urls,
        redis::cmd("SET").arg(key("string")).arg("legacy bytes"),
    )
    .await;
    send(h.kind, urls, redis::cmd("RPUSH").arg(key("list")).arg("x")).await;

    // A value, a tombstone, a missing key and keys of other types, each one HMGET.
    let (slot, calls) = served(urls, h.store.read(&key("held"))).await;
    let slot = slot.unwrap();
    assert!(slot.version.is_some() && slot.value.is_some() && slot.lease.is_none());
    assert_eq!(calls, only("hmget", 1), "a store read is one plain HMGET");
    let (slot, calls) = served(urls, h.store.read(&key("gone"))).await;
    let slot = slot.unwrap();
    assert!(
        slot.version.is_some() && slot.value.is_none(),
        "a tombstone: {slot:?}"
    );
    assert_eq!(calls, only("hmget", 1));
    for absent in ["never", "string", "list"] {
        let (slot, calls) = served(urls, h.store.read(&key(absent))).await;
        assert_eq!(slot.unwrap(), Slot::default(), "{absent} reads as no item");
        assert_eq!(calls, only("hmget", 1), "{absent}");
    }

    // A tiered store hit is that one command and nothing else.
    let (found, calls) = served(urls, cache.get::<User>("held")).await;
    assert_eq!(found.unwrap(), Some(user(1)));
    assert_eq!(calls, only("hmget", 1), "a store hit is one plain HMGET");
    for absent in ["string", "list"] {
        assert_eq!(cache.get::<User>(absent).await.unwrap(), None, "{absent}");
    }

    // A batch read: one HMGET a key, whatever the keys hold.
    let keys = ["held", "gone", "string", "list", "never"].map(key);
    let (read, calls) = served(urls, h.store.read_many(&keys)).await;
    let read = read.unwrap();
    assert_eq!(read.keys().collect::<Vec<_>>(), vec![&key("held")]);
    assert_eq!(calls, only("hmget", keys.len() as u64));
    let many = cache
        .get_many::<User>(&["held", "string", "list"])
        .await
        .unwrap();
    assert_eq!(
        many.into_iter().collect::<Vec<_>>(),
        vec![("held".to_owned(), user(1))]
    );

    // A fill replaces a key of another type by an item.
    let filled = cache
        .wrap("string", MINUTE, || async {
            Ok::<_, std::io::Error>(user(2))
        })
        .await
        .unwrap();
    assert_eq!(filled, user(2));
    assert_eq!(
        h.builder().build().get::<User>("string").await.unwrap(),
        Some(user(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node() {
    // A private server: its command counts are this test's alone.
    let mut h = Harness::private(Kind::Redis).await;
    let url = h.server().url();
    reads_are_one_hmget_and_other_types_are_no_item(h, &[url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let h = Harness::new(Kind::RedisCluster).await;
    reads_are_one_hmget_and_other_types_are_no_item(h, &urls).await;
}
