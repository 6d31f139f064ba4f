//! The Redis store on a real cluster: where its items land, scripts a node forgot, an
//! unreachable cluster, and a cluster that changes under load: slots moving between
//! primaries (`CLUSTER SETSLOT` / `MIGRATE`, key by key, so callers meet `ASK`, `MOVED`
//! and `TRYAGAIN`), and a primary that hangs or crashes until its replica takes over.
//!
//! Callers read, delete and invalidate tags continuously. Each key's origin holds a
//! version that a writer raises before it invalidates; once an invalidation returns
//! `Ok`, no read that begins after it may return a lower version. While slots move,
//! nothing may fail, not even behind a fallback; while a primary is down, reads may
//! fall back to the origin and invalidations may fail (they are retried), and afterwards
//! everything works again.
//!
//! Run: `scripts/test.sh -p cachegen-runtime --test redis_cluster` (it starts the cluster
//! and sets `CACHEGEN_TEST_REDIS_CLUSTER_URLS`). The tests take turns: some change the
//! shared cluster, and leave it healthy (every slot served, each primary with a replica).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachegen_runtime::metrics::{CaptureSink, names};
use cachegen_runtime::store::{
    Attributes, CacheStore, LeaseOutcome, Precondition, RedisStore, StoreEntry,
};
use cachegen_runtime::{BoxError, StoreError, TieredCache, WriteOptions};
use common::{Harness, Kind, metric};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

const MINUTE: Duration = Duration::from_secs(60);
const KEYS: usize = 48;
const GROUPS: usize = 4;
const READERS: usize = 6;
const WRITERS: usize = 2;
/// Polls of a cluster state before a test gives up on it, and the pause between two.
const POLLS: usize = 600;
const POLL_EVERY: Duration = Duration::from_millis(50);

/// One test at a time changes the cluster.
static CLUSTER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn key(i: usize) -> String {
    format!("k{i}")
}

fn group(g: usize) -> String {
    format!("group{g}")
}

fn options(i: usize) -> WriteOptions {
    WriteOptions::ttl(MINUTE).tag(group(i % GROUPS))
}

/// Callers of one cache, and what they saw.
struct Workload {
    cache: TieredCache,
    sink: Arc<CaptureSink>,
    /// The version each key's origin returns now.
    truth: Vec<AtomicU64>,
    /// Per key, the version below which an invalidation that returned `Ok` removed
    /// every value.
    floor: Vec<AtomicU64>,
    stop: AtomicBool,
    reads: AtomicU64,
    invalidations: AtomicU64,
    read_errors: Mutex<Vec<String>>,
    invalidation_errors: Mutex<Vec<String>>,
    stale_reads: Mutex<Vec<String>>,
}

impl Workload {
    fn new(h: &Harness, store_timeout: Duration) -> Arc<Self> {
        let sink = Arc::new(CaptureSink::default());
        let cache = h
            .builder()
            .store_timeout(store_timeout)
            .metrics_sink(sink.clone())
            .build();
        Arc::new(Self {
            cache,
            sink,
            truth: (0..KEYS).map(|_| AtomicU64::new(1)).collect(),
            floor: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
            stop: AtomicBool::new(false),
            reads: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            read_errors: Mutex::default(),
            invalidation_errors: Mutex::default(),
            stale_reads: Mutex::default(),
        })
    }

    async fn read(self: &Arc<Self>, i: usize) -> u64 {
        let floor = self.floor[i].load(Ordering::SeqCst);
        let this = self.clone();
        let read = self
            .cache
            .wrap_with(&key(i), &options(i), move || async move {
                Ok::<_, BoxError>(this.truth[i].load(Ordering::SeqCst))
            })
            .await;
        self.reads.fetch_add(1, Ordering::SeqCst);
        match read {
            Ok(version) => {
                if version < floor {
                    self.stale_reads.lock().unwrap().push(format!(
                        "{}: read version {version} after an invalidation of those below {floor}",
                        key(i)
                    ));
                }
                version
            }
            Err(e) => {
                self.read_errors
                    .lock()
                    .unwrap()
                    .push(format!("{}: {e}", key(i)));
                0
            }
        }
    }

    /// Raises the origin's version of `members`, then invalidates them (`tag`, or a
    /// delete of the one member) until the cache says `Ok`.
    async fn invalidate(&self, members: &[usize], tag: Option<&str>) {
        let raised: Vec<u64> = members
            .iter()
            .map(|&i| self.truth[i].fetch_add(1, Ordering::SeqCst) + 1)
            .collect();
        for _ in 0..POLLS {
            let done = match tag {
                Some(tag) => self.cache.invalidate_tag(tag).await,
                None => self.cache.delete(&key(members[0])).await,
            };
            match done {
                Ok(()) => {
                    for (&i, &version) in members.iter().zip(&raised) {
                        self.floor[i].fetch_max(version, Ordering::SeqCst);
                    }
                    self.invalidations.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Err(e) => {
                    self.invalidation_errors.lock().unwrap().push(e.to_string());
                    tokio::time::sleep(POLL_EVERY).await;
                }
            }
        }
        panic!("an invalidation of {members:?} never succeeded");
    }

    async fn invalidate_one_at_random(&self) {
        if fastrand::bool() {
            self.invalidate(&[fastrand::usize(..KEYS)], None).await;
        } else {
            let g = fastrand::usize(..GROUPS);
            let members: Vec<usize> = (g..KEYS).step_by(GROUPS).collect();
            self.invalidate(&members, Some(&group(g))).await;
        }
    }

    /// Starts the callers; they run until [`stop`](Self::stop).
    fn start(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let readers = (0..READERS).map(|_| {
            let this = self.clone();
            tokio::spawn(async move {
                while !this.stop.load(Ordering::SeqCst) {
                    this.read(fastrand::usize(..KEYS)).await;
                }
            })
        });
        let writers = (0..WRITERS).map(|_| {
            let this = self.clone();
            tokio::spawn(async move {
                while !this.stop.load(Ordering::SeqCst) {
                    this.invalidate_one_at_random().await;
                }
            })
        });
        readers.chain(writers).collect()
    }

    async fn stop(&self, callers: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::SeqCst);
        for caller in callers {
            caller.await.unwrap();
        }
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.invalidations.load(Ordering::SeqCst),
        )
    }

    /// Waits until the callers made `reads` more reads and `invalidations` more
    /// invalidations than `since`.
    async fn progress(&self, since: (u64, u64), reads: u64, invalidations: u64) {
        for _ in 0..POLLS {
            let (r, i) = self.counts();
            if r >= since.0 + reads && i >= since.1 + invalidations {
                return;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        let tail = |errors: &Mutex<Vec<String>>| {
            let errors = errors.lock().unwrap();
            let last: Vec<String> = errors.iter().rev().take(3).cloned().collect();
            format!("{} ({last:?})", errors.len())
        };
        panic!(
            "waited in vain for {reads} reads and {invalidations} invalidations after \
             {since:?}: now {:?}; read errors {}, invalidation errors {}",
            self.counts(),
            tail(&self.read_errors),
            tail(&self.invalidation_errors)
        );
    }

    fn store_errors(&self) -> u64 {
        self.cache.metrics().flush();
        metric(&self.sink, names::STORE_ERRORS)
    }

    fn assert_no_stale_read(&self) {
        let stale = self.stale_reads.lock().unwrap();
        assert!(stale.is_empty(), "{} stale reads: {stale:?}", stale.len());
    }

    /// With the callers stopped: every key reads its origin's version, and one more
    /// invalidation of each kind goes through, without a store error.
    async fn assert_everything_works(self: &Arc<Self>) {
        let before = self.store_errors();
        let invalidation_errors_before = self.invalidation_errors.lock().unwrap().len();
        for i in 0..KEYS {
            self.invalidate(&[i], None).await;
            assert_eq!(self.read(i).await, self.truth[i].load(Ordering::SeqCst));
            assert_eq!(self.read(i).await, self.truth[i].load(Ordering::SeqCst));
        }
        for g in 0..GROUPS {
            let members: Vec<usize> = (g..KEYS).step_by(GROUPS).collect();
            self.invalidate(&members, Some(&group(g))).await;
            for &i in &members {
                assert_eq!(self.read(i).await, self.truth[i].load(Ordering::SeqCst));
            }
        }
        let invalidation_errors =
            self.invalidation_errors.lock().unwrap()[invalidation_errors_before..].to_vec();
        assert_eq!(
            self.store_errors(),
            before,
            "store errors after the cluster settled (invalidations that failed: \
             {invalidation_errors:?})"
        );
        assert!(self.read_errors.lock().unwrap().is_empty());
        self.assert_no_stale_read();
    }
}

/// Calls `check` until it holds, at most [`POLLS`] times.
async fn poll<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..POLLS {
        if check().await {
            return;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    panic!("waited in vain for {what}");
}

/// One node as `CLUSTER NODES` describes it.
#[derive(Clone, Debug)]
struct Node {
    id: String,
    port: u16,
    flags: String,
    primary_id: Option<String>,
    slots: BTreeSet<u16>,
}

impl Node {
    fn parse(line: &str) -> Self {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let address = fields[1].split('@').next().unwrap();
        let port = address.rsplit(':').next().unwrap().parse().unwrap();
        let mut slots = BTreeSet::new();
        for range in &fields[8..] {
            if range.starts_with('[') {
                continue; // a slot in migration: still the owner's
            }
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            slots.extend(start.parse::<u16>().unwrap()..=end.parse::<u16>().unwrap());
        }
        Self {
            id: fields[0].to_owned(),
            port,
            flags: fields[2].to_owned(),
            primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
            slots,
        }
    }

    fn is_primary(&self) -> bool {
        self.flags.contains("master") && !self.flags.contains("fail")
    }
}

/// The test cluster's nodes, reached one by one (not through the cluster client).
struct Admin {
    ports: Vec<u16>,
}

impl Admin {
    fn new(urls: &[String]) -> Self {
        let ports = urls
            .iter()
            .map(|url| {
                url.rsplit(':')
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .parse()
                    .unwrap()
            })
            .collect();
        Self { ports }
    }

    async fn connect(port: u16) -> redis::RedisResult<MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> T {
        let mut conn = Self::connect(port).await.expect("a cluster node");
        cmd.query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{cmd:?} on node {port}: {e}"))
    }

    /// Every node as node `port` sees it.
    async fn nodes(port: u16) -> Vec<Node> {
        let text: String = Self::query(port, redis::cmd("CLUSTER").arg("NODES")).await;
        text.lines().map(Node::parse).collect()
    }

    /// Whether every node answers, reports `cluster_state:ok`, and agrees with the others
    /// on which primary serves which slot (all 16384 covered, none in migration), and
    /// each primary has a replica in sync.
    async fn healthy(&self) -> bool {
        let mut views = Vec::new();
        for &port in &self.ports {
            let Ok(mut conn) = Self::connect(port).await else {
                return false;
            };
            let info: redis::RedisResult<String> = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await;
            let nodes: redis::RedisResult<String> = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async(&mut conn)
                .await;
            let (Ok(info), Ok(nodes)) = (info, nodes) else {
                return false;
            };
            if !info.contains("cluster_state:ok") || nodes.contains("->-") || nodes.contains("-<-")
            {
                return false;
            }
            let nodes: Vec<Node> = nodes.lines().map(Node::parse).collect();
            if nodes.iter().any(|n| n.flags.contains("fail")) {
                return false;
            }
            let mut owners: Vec<(u16, String)> = nodes
                .iter()
                .filter(|n| n.is_primary())
                .flat_map(|n| n.slots.iter().map(|s| (*s, n.id.clone())))
                .collect();
            owners.sort();
            if owners.len() != 16384 {
                return false;
            }
            views.push(owners);
        }
        if !views.windows(2).all(|pair| pair[0] == pair[1]) {
            return false;
        }
        for &port in &self.ports {
            let replication: String =
                Self::query(port, redis::cmd("INFO").arg("replication")).await;
            if replication.contains("role:slave") && !replication.contains("master_link_status:up")
            {
                return false;
            }
            if replication.contains("role:master") && !replication.contains("connected_slaves:1") {
                return false;
            }
        }
        true
    }

    async fn wait_until_healthy(&self) {
        poll("a healthy cluster", || self.healthy()).await;
    }

    async fn primaries(&self) -> Vec<Node> {
        let mut primaries: Vec<Node> = Self::nodes(self.ports[0])
            .await
            .into_iter()
            .filter(Node::is_primary)
            .collect();
        primaries.sort_by_key(|n| n.port);
        primaries
    }

    async fn slot_of(&self, key: &str) -> u16 {
        Self::query(self.ports[0], redis::cmd("CLUSTER").arg("KEYSLOT").arg(key)).await
    }

    /// Every key under `pattern` on every primary.
    async fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys = Vec::new();
        for primary in self.primaries().await {
            let mut conn = Self::connect(primary.port).await.unwrap();
            let mut iter: redis::AsyncIter<String> = conn.scan_match(pattern).await.unwrap();
            while let Some(key) = iter.next_item().await {
                keys.push(key.unwrap());
            }
        }
        keys
    }

    /// Moves `slot` from `from` to `to` as `redis-cli --cluster reshard` does, one key
    /// per `MIGRATE`, so the slot stays half-moved for a while.
    async fn move_slot(&self, slot: u16, from: &Node, to: &Node) {
        let setslot = |state: &str, id: &str| {
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(state)
                .arg(id)
                .to_owned()
        };
        let _: () = Self::query(to.port, &setslot("IMPORTING", &from.id)).await;
        let _: () = Self::query(from.port, &setslot("MIGRATING", &to.id)).await;
        loop {
            let keys: Vec<String> = Self::query(
                from.port,
                redis::cmd("CLUSTER").arg("GETKEYSINSLOT").arg(slot).arg(1),
            )
            .await;
            let Some(key) = keys.first() else { break };
            let _: () = Self::query(
                from.port,
                redis::cmd("MIGRATE")
                    .arg("127.0.0.1")
                    .arg(to.port)
                    .arg(key)
                    .arg(0)
                    .arg(5000)
                    .arg("REPLACE"),
            )
            .await;
            tokio::task::yield_now().await;
        }
        let _: () = Self::query(to.port, &setslot("NODE", &to.id)).await;
        let _: () = Self::query(from.port, &setslot("NODE", &to.id)).await;
    }

    /// The node listening on `port`'s process id.
    async fn pid(port: u16) -> libc::pid_t {
        let server: String = Self::query(port, redis::cmd("INFO").arg("server")).await;
        server
            .lines()
            .find_map(|line| line.strip_prefix("process_id:"))
            .expect("process_id in INFO server")
            .trim()
            .parse()
            .expect("a process id")
    }

    /// A command that starts the node on `port` again as it runs now: same binary, port,
    /// bus port, node file, directory and node timeout, daemonized (it outlives the test;
    /// `scripts/test.sh` shuts every cluster port down when it exits).
    async fn restart_command(port: u16) -> impl FnOnce() {
        let server: String = Self::query(port, redis::cmd("INFO").arg("server")).await;
        // The path it was started by, made absolute against its directory then: a node
        // started as plain `redis-server` reports `<dir>/redis-server`.
        let reported = server
            .lines()
            .find_map(|line| line.strip_prefix("executable:"))
            .expect("executable in INFO server")
            .trim()
            .to_owned();
        let executable = if std::path::Path::new(&reported).is_file() {
            reported
        } else {
            "redis-server".to_owned()
        };
        let mut args = vec![
            "--port".to_owned(),
            port.to_string(),
            "--cluster-enabled".to_owned(),
            "yes".to_owned(),
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--save".to_owned(),
            String::new(),
            "--appendonly".to_owned(),
            "no".to_owned(),
        ];
        let mut dir = String::new();
        for setting in [
            "cluster-port",
            "cluster-config-file",
            "cluster-node-timeout",
            "dir",
        ] {
            let (_, value): (String, String) =
                Self::query(port, redis::cmd("CONFIG").arg("GET").arg(setting)).await;
            if setting == "dir" {
                dir.clone_from(&value);
            }
            args.extend([format!("--{setting}"), value]);
        }
        args.extend([
            "--daemonize".to_owned(),
            "yes".to_owned(),
            "--pidfile".to_owned(),
            format!("{dir}/restarted-{port}.pid"),
        ]);
        move || {
            let started = std::process::Command::new(executable)
                .args(args)
                .stdin(std::process::Stdio::null())
                .status()
                .expect("redis-server");
            assert!(started.success(), "redis-server restarts: {started}");
        }
    }

    async fn role(port: u16) -> Option<String> {
        let mut conn = Self::connect(port).await.ok()?;
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.ok()?;
        match role.first()? {
            redis::Value::BulkString(role) => Some(String::from_utf8_lossy(role).into_owned()),
            _ => None,
        }
    }
}

fn signal(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of this process.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "signal {signal} to process {pid}");
}

/// A node process stopped (`SIGSTOP`) until this is dropped, even by a failing assertion.
struct Stopped(libc::pid_t);

impl Stopped {
    fn new(pid: libc::pid_t) -> Self {
        signal(pid, libc::SIGSTOP);
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal(self.0, libc::SIGCONT);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slots_move_under_load_without_an_error_or_a_lost_invalidation() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let _turn = CLUSTER.lock().await;
    let admin = Admin::new(&urls);
    admin.wait_until_healthy().await;
    let h = Harness::new(Kind::RedisCluster).await;
    let load = Workload::new(&h, common::TEST_STORE_TIMEOUT);
    // Every key holds a value, and every tag stamp exists, before slots move.
    for i in 0..KEYS {
        load.read(i).await;
    }
    for g in 0..GROUPS {
        let members: Vec<usize> = (g..KEYS).step_by(GROUPS).collect();
        load.invalidate(&members, Some(&group(g))).await;
    }
    // The slots of this test's items (values, tombstones, stamps), each moved to the
    // next primary, then on to the one after: every item moves twice, under load.
    let items = admin.keys(&format!("*{}*", h.prefix)).await;
    let mut slots = BTreeSet::new();
    for item in &items {
        slots.insert(admin.slot_of(item).await);
    }
    assert!(
        slots.len() > KEYS / 2,
        "{} items in {} slots",
        items.len(),
        slots.len()
    );

    let callers = load.start();
    for round in 0..2 {
        let primaries = admin.primaries().await;
        let owner = |slot: u16| {
            let i = primaries
                .iter()
                .position(|p| p.slots.contains(&slot))
                .unwrap();
            (
                primaries[i].clone(),
                primaries[(i + 1) % primaries.len()].clone(),
            )
        };
        let started = load.counts();
        for &slot in &slots {
            let (from, to) = owner(slot);
            admin.move_slot(slot, &from, &to).await;
        }
        let moved = load.counts();
        assert!(
            moved.0 > started.0 && moved.1 > started.1,
            "round {round}: the callers worked while slots moved ({started:?} -> {moved:?})"
        );
        admin.wait_until_healthy().await;
        let now = admin.primaries().await;
        for &slot in &slots {
            let (_, to) = owner(slot);
            assert!(
                now.iter().any(|p| p.id == to.id && p.slots.contains(&slot)),
                "round {round}: slot {slot} moved"
            );
        }
        load.progress(moved, 100, 10).await;
    }
    load.stop(callers).await;

    let read_errors = load.read_errors.lock().unwrap().clone();
    let invalidation_errors = load.invalidation_errors.lock().unwrap().clone();
    assert!(read_errors.is_empty(), "read errors: {read_errors:?}");
    assert!(
        invalidation_errors.is_empty(),
        "invalidation errors: {invalidation_errors:?}"
    );
    assert_eq!(
        load.store_errors(),
        0,
        "store calls that fell back to the origin"
    );
    load.assert_no_stale_read();
    load.assert_everything_works().await;
    // A prefix scan visits every primary: it finds every value after the moves.
    let cleared = load.cache.clear().await.unwrap();
    assert_eq!(cleared, KEYS as u64, "values tombstoned by clear");
}

/// How a primary goes away.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// `SIGSTOP`, then `SIGCONT` once its replica took over: a hung or partitioned node,
    /// whose connections time out rather than fail.
    Stopped,
    /// `SIGKILL`, then started again (same port, node file and directory) once its
    /// replica took over: a crashed node, whose connections are refused.
    Killed,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_takes_over_from_a_stopped_primary_without_a_wrong_value() {
    failover(Outage::Stopped).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_takes_over_from_a_killed_primary_without_a_wrong_value() {
    failover(Outage::Killed).await;
}

/// Under load, the primary of a key's slot goes away until its replica takes over: reads
/// may fall back to the origin and invalidations may fail (and are retried), but no read
/// returns what an invalidation removed, and once the node is back as a replica
/// everything works without a store error.
async fn failover(outage: Outage) {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let _turn = CLUSTER.lock().await;
    let admin = Admin::new(&urls);
    admin.wait_until_healthy().await;
    let h = Harness::new(Kind::RedisCluster).await;
    // A short store timeout: a caller that meets the lost primary falls back soon.
    let load = Workload::new(&h, Duration::from_millis(500));
    for i in 0..KEYS {
        load.read(i).await;
    }
    // The primary of the first key's slot, and its replica.
    let slot = admin.slot_of(&format!("{}{}", h.prefix, key(0))).await;
    let primaries = admin.primaries().await;
    let primary = primaries.iter().find(|p| p.slots.contains(&slot)).unwrap();
    let all: HashMap<String, Node> = Admin::nodes(primary.port)
        .await
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect();
    let replica = all
        .values()
        .find(|n| n.primary_id.as_deref() == Some(primary.id.as_str()))
        .expect("the primary has a replica")
        .clone();
    let pid = Admin::pid(primary.port).await;
    let restart = Admin::restart_command(primary.port).await;

    let callers = load.start();
    load.progress((0, 0), 100, 10).await;
    // Past the node timeout the other primaries mark it failed, and its replica takes over.
    let stopped = match outage {
        Outage::Stopped => Some(Stopped::new(pid)),
        Outage::Killed => {
            signal(pid, libc::SIGKILL);
            None
        }
    };
    poll("the replica to take over", || async {
        Admin::role(replica.port).await.as_deref() == Some("master")
    })
    .await;
    let promoted = load.counts();
    load.progress(promoted, 200, 20).await;
    load.stop(callers).await;
    // The node comes back and rejoins as the new primary's replica.
    match outage {
        Outage::Stopped => drop(stopped),
        Outage::Killed => restart(),
    }
    poll("the old primary to rejoin as a replica", || async {
        Admin::role(primary.port).await.as_deref() == Some("slave")
    })
    .await;
    admin.wait_until_healthy().await;

    assert!(
        load.read_errors.lock().unwrap().is_empty(),
        "{outage:?}: reads fall back to the origin: {:?}",
        load.read_errors.lock().unwrap()
    );
    load.assert_no_stale_read();
    eprintln!(
        "{outage:?} primary: {} store calls fell back to the origin, {} invalidations were retried",
        load.store_errors(),
        load.invalidation_errors.lock().unwrap().len()
    );
    load.assert_everything_works().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn values_spread_over_every_primary_and_a_stamps_copies_share_a_slot() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let _turn = CLUSTER.lock().await;
    let admin = Admin::new(&urls);
    admin.wait_until_healthy().await;
    let h = Harness::new(Kind::RedisCluster).await;
    let cache = h.builder().stamp_shards(4).data_type("flags").build();
    for i in 0..60 {
        cache.set(&key(i), &i, MINUTE).await.unwrap();
    }
    cache.invalidate_all().await.unwrap();
    let mut values_per_primary = Vec::new();
    let mut stamp_slots = BTreeSet::new();
    for primary in admin.primaries().await {
        let mut conn = Admin::connect(primary.port).await.unwrap();
        let mut iter: redis::AsyncIter<String> =
            conn.scan_match(format!("*{}*", h.prefix)).await.unwrap();
        let mut values = 0;
        while let Some(item) = iter.next_item().await {
            let item = item.unwrap();
            if item.contains("!t#flags~") {
                stamp_slots.insert(admin.slot_of(&item).await);
            } else {
                values += 1;
            }
        }
        values_per_primary.push(values);
    }
    assert_eq!(values_per_primary.iter().sum::<usize>(), 60);
    assert!(
        values_per_primary.iter().all(|n| *n > 0),
        "values on every primary: {values_per_primary:?}"
    );
    assert_eq!(
        stamp_slots.len(),
        1,
        "the 4 copies of the type stamp in one slot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scripts_a_node_forgot_are_loaded_again() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let _turn = CLUSTER.lock().await;
    let h = Harness::new(Kind::RedisCluster).await;
    let keys: Vec<String> = (0..20).map(|i| format!("{}{}", h.prefix, key(i))).collect();
    let entry = |value: &'static [u8]| StoreEntry {
        value,
        created_at_ms: 0,
        expires_at_ms: u64::MAX / 2,
        ttl: MINUTE,
        attributes: &NO_ATTRIBUTES,
        large_values: false,
    };
    // Every script runs once, so each is loaded where its keys live.
    for key in &keys {
        h.store
            .write(key, entry(b"one"), Precondition::None)
            .await
            .unwrap();
    }
    for flush in 0..2 {
        // Every node (replicas too, which become primaries) forgets its scripts.
        for url in &urls {
            let port = url.rsplit(':').next().unwrap().parse().unwrap();
            let _: () = Admin::query(port, redis::cmd("SCRIPT").arg("FLUSH")).await;
        }
        let read = h.store.read_many(&keys).await.unwrap();
        assert_eq!(read.len(), keys.len(), "flush {flush}: read_many");
        let slot = h.store.read(&keys[0]).await.unwrap();
        let written = h
            .store
            .write(&keys[0], entry(b"two"), Precondition::Version(slot.version))
            .await
            .unwrap();
        assert!(written.is_some(), "flush {flush}: a conditional write");
        let leased = h
            .store
            .acquire_lease(
                &keys[1],
                h.store.read(&keys[1]).await.unwrap().version,
                "me",
                MINUTE,
            )
            .await
            .unwrap();
        assert!(
            matches!(leased, LeaseOutcome::Acquired(_)),
            "flush {flush}: {leased:?}"
        );
        h.store.release_lease(&keys[1], "me").await.unwrap();
        assert!(h.store.delete(&keys[2], Precondition::None).await.unwrap());
        h.store
            .write(&keys[2], entry(b"one"), Precondition::None)
            .await
            .unwrap();
        let shards: Vec<String> = (0..3).map(|i| format!("{}!g#t~{i}", h.prefix)).collect();
        let raised = h.store.bump_stamp(&shards, "gen").await.unwrap();
        assert_eq!(raised, flush + 1);
        let stamps = h.store.read_stamps(&shards).await.unwrap();
        assert!(stamps.iter().all(|stamp| stamp["gen"] == raised));
    }
}

static NO_ATTRIBUTES: std::sync::LazyLock<Attributes> = std::sync::LazyLock::new(Attributes::new);

#[tokio::test]
async fn an_unreachable_cluster_is_a_store_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisStore::connect_cluster(&[format!("redis://127.0.0.1:{port}")]).unwrap();
    let read = store.read("k").await;
    assert!(matches!(read, Err(StoreError::Backend { .. })), "{read:?}");
    let bumped = store.bump_stamp(&["!g#t".to_owned()], "gen").await;
    assert!(bumped.is_err(), "{bumped:?}");
    let cleared = store.clear("p#").await;
    assert!(cleared.is_err(), "{cleared:?}");
}

#[tokio::test]
async fn redis_cluster_true_makes_redis_url_a_cluster() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let prefix = format!("{}#", cachegen_testkit::unique_name("env"));
    let vars = HashMap::from([
        ("REDIS_URL", urls.join(",")),
        ("REDIS_CLUSTER", "true".to_owned()),
        ("CACHE_KEY_PREFIX", prefix.clone()),
        ("CACHE_MEMORY_SIZE", "0".to_owned()),
    ]);
    let config =
        cachegen_runtime::config::CacheConfig::from_lookup("UNSET_TABLE", |k| vars.get(k).cloned())
            .unwrap();
    let cache = config
        .builder(common::layout(false), common::TEST_STORE_TIMEOUT)
        .await
        .unwrap()
        .build();
    // Ten keys spread over the primaries: a single-node client would get `MOVED` for
    // those of the other nodes, and fall back to the origin.
    let calls = AtomicU64::new(0);
    for round in 0..2 {
        for i in 0..10 {
            let value = cache
                .wrap(&key(i), MINUTE, || async {
                    Ok::<_, BoxError>(calls.fetch_add(1, Ordering::SeqCst))
                })
                .await
                .unwrap();
            assert_eq!(value, i as u64, "round {round}");
        }
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        10,
        "the second round is store hits"
    );
    assert_eq!(cache.store().unwrap().name(), "redis");
}

/// A cluster that refuses `ROLE` or `WAIT` still invalidates, without waiting for a
/// replica: ElastiCache Serverless serves neither (it manages its replicas itself), and an
/// ACL may deny them (they are in `@dangerous` and `@connection`). Here ACL users on the
/// real cluster are denied one command each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalidations_succeed_where_role_or_wait_is_refused() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let _turn = CLUSTER.lock().await;
    let admin = Admin::new(&urls);
    admin.wait_until_healthy().await;
    for (user, denied) in [("cachegen-no-role", "-role"), ("cachegen-no-wait", "-wait")] {
        for &port in &admin.ports {
            let set: String = Admin::query(
                port,
                redis::cmd("ACL")
                    .arg("SETUSER")
                    .arg(user)
                    .arg("reset")
                    .arg("on")
                    .arg(">cachegen-test")
                    .arg("~*")
                    .arg("&*")
                    .arg("+@all")
                    .arg(denied),
            )
            .await;
            assert_eq!(set, "OK");
        }
        let as_user: Vec<String> = urls
            .iter()
            .map(|url| url.replacen("redis://", &format!("redis://{user}:cachegen-test@"), 1))
            .collect();
        let store = RedisStore::connect_cluster(&as_user).unwrap();
        let key = format!("{}#k", cachegen_testkit::unique_name(user));
        let entry = StoreEntry {
            value: b"v",
            created_at_ms: 0,
            expires_at_ms: u64::MAX / 2,
            ttl: MINUTE,
            attributes: &NO_ATTRIBUTES,
            large_values: false,
        };
        store.write(&key, entry, Precondition::None).await.unwrap();
        let deleted = store.delete(&key, Precondition::None).await;
        assert!(matches!(deleted, Ok(true)), "{user}: {deleted:?}");
        assert_eq!(store.read(&key).await.unwrap().value, None, "{user}");
        let stamp = vec![format!("{key}!t")];
        let bumped = store.bump_stamp(&stamp, "gen").await;
        assert!(matches!(bumped, Ok(n) if n > 0), "{user}: {bumped:?}");
        for &port in &admin.ports {
            let _: u64 = Admin::query(port, redis::cmd("ACL").arg("DELUSER").arg(user)).await;
        }
    }
}
