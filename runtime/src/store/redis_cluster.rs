//! Cluster mode of [`RedisStore`](super::RedisStore): where its keys live, how a scan
//! visits every primary, and a connection that is replaced when a node hangs.
//!
//! Key shape in a cluster:
//! - A data key is stored under its own name. Every script on a data key touches that key
//!   only, so data keys spread over the cluster by Redis's hashing, and a batch read sends
//!   one pipeline of `HMGET`s per slot ([`by_slot`]).
//! - A stamp item `P!t#users~3` (shard 3 of a stamp) lives at `{h}P!t#users~3`, where `h`
//!   is 16 hex digits of the SHA-256 of the stamp's key without its shard suffix
//!   (`P!t#users`): every shard of one stamp shares a slot, so one script raises them all
//!   atomically, while different stamps spread ([`stamp_key`]).
//!
//! A single node keeps the shapes it always had: stamps under their own names.
//!
//! redis-rs re-reads the slot map when a node answers `MOVED` or refuses connections, but
//! not when a node hangs (a stopped process, a network partition): requests for its slots
//! time out, and keep going to it after its replica took over. [`ClusterLink`] opens a
//! fresh connection, which reads the slot map again, when a call hangs.
//!
//! Replication is asynchronous: a primary acknowledges a write before its replica has it,
//! and a failover in between loses the write. An invalidation is reported done only once a
//! replica of its primary holds it too (`WAIT 1`, [`ClusterLink::replicated`]), so a
//! failover cannot bring back what it removed. A cluster that refuses `ROLE` or `WAIT`
//! (ElastiCache Serverless, which manages its replicas itself and serves a subset of the
//! commands; or an ACL without them) is not waited on, and says so once in the log.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use sha2::{Digest, Sha256};

/// Attempts at a scan of every primary before a slot map that keeps changing is an error.
const SCAN_ATTEMPTS: u32 = 20;

/// How long an invalidation waits for a replica of its primary to hold it. `WAIT` holds up
/// the connection it is sent on, which the store's other calls to that primary share, so it
/// is bounded: a healthy replica answers in a millisecond, a loaded one within this, and a
/// failure to confirm is an error the caller can retry.
const REPLICA_ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// A call that was abandoned (its caller timed out) after this long hung.
const HUNG_AFTER: Duration = Duration::from_millis(100);
/// A connection is replaced at most this often: longer than a fresh one takes to become
/// ready (it connects to every seed node, a hung one costing the 1 s connection timeout,
/// then reads the slot map), or calls queued on it, abandoned, would replace it in turn
/// before it ever served one.
const REPLACE_AT_MOST_EVERY: Duration = Duration::from_secs(3);

/// A cluster connection, replaced by a fresh one (which reads the slot map again) when a
/// call on it hangs or fails to reach a node.
pub(super) struct ClusterLink {
    client: ClusterClient,
    config: ClusterConfig,
    current: RwLock<(ClusterConnection, Instant)>,
    /// Whether invalidations wait for a replica: until the cluster refuses `ROLE` or `WAIT`.
    waits_for_replicas: AtomicBool,
}

impl ClusterLink {
    pub(super) fn new(client: ClusterClient, config: ClusterConfig) -> Self {
        let conn = client.get_pending_async_connection_with_config(config.clone());
        Self {
            client,
            config,
            current: RwLock::new((conn, Instant::now())),
            waits_for_replicas: AtomicBool::new(true),
        }
    }

    /// The connection to use now.
    pub(super) fn connection(&self) -> ClusterConnection {
        self.current.read().expect("cluster link lock").0.clone()
    }

    /// Opens a fresh connection, unless the current one is younger than
    /// [`REPLACE_AT_MOST_EVERY`]. Calls in flight finish on the old one.
    fn replace(&self) {
        let mut current = self.current.write().expect("cluster link lock");
        if current.1.elapsed() >= REPLACE_AT_MOST_EVERY {
            tracing::debug!("a Redis Cluster call hung: reconnecting to read the slot map again");
            let conn = self
                .client
                .get_pending_async_connection_with_config(self.config.clone());
            *current = (conn, Instant::now());
        }
    }

    /// Runs `call` on the current connection, replacing the connection if the call fails
    /// to reach its node, or is abandoned after [`HUNG_AFTER`].
    fn watched<'a, T: 'a>(
        &'a self,
        call: impl FnOnce(ClusterConnection) -> RedisFuture<'a, T> + 'a,
    ) -> RedisFuture<'a, T> {
        let watch = Watch {
            link: self,
            started: Instant::now(),
            finished: false,
        };
        let call = call(self.connection());
        Box::pin(async move {
            let mut watch = watch;
            let result = call.await;
            watch.finished = true;
            if let Err(e) = &result
                && (e.is_timeout() || e.is_connection_dropped() || e.is_io_error())
            {
                self.replace();
            }
            result
        })
    }

    /// Waits until a replica of the primary serving `key` holds the writes this link sent
    /// it (`WAIT 1`): until then a failover of that primary could lose them. A primary that
    /// `ROLE` shows without a connected replica is not waited on.
    pub(super) async fn replicated(&self, key: &str) -> RedisResult<()> {
        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::with_key(
            key,
            SlotAddr::Master,
        )));
        self.replicated_on(route).await
    }

    async fn replicated_on(&self, route: RoutingInfo) -> RedisResult<()> {
        if !self.waits_for_replicas.load(Ordering::Relaxed) {
            return Ok(());
        }
        // ROLE on a primary: ["master", offset, [[host, port, offset], ...]], its connected
        // replicas. Without one there is nothing to wait for, and WAIT would only block.
        let role_route = route.clone();
        let role = self.watched(move |mut conn| {
            Box::pin(async move {
                conn.route_command(redis::cmd("ROLE").to_owned(), role_route)
                    .await
            })
        });
        let Some(role) = self.unless_refused(role.await)? else {
            return Ok(());
        };
        if let Value::Array(fields) = &role
            && matches!(fields.get(2), Some(Value::Array(replicas)) if replicas.is_empty())
        {
            return Ok(());
        }
        let wait = redis::cmd("WAIT")
            .arg(1)
            .arg(REPLICA_ACK_TIMEOUT.as_millis() as u64)
            .to_owned();
        let waited = self.watched(move |mut conn| {
            Box::pin(async move { conn.route_command(wait, route).await })
        });
        let Some(acknowledged) = self.unless_refused(waited.await)? else {
            return Ok(());
        };
        if redis::from_redis_value::<i64>(acknowledged)? >= 1 {
            Ok(())
        } else {
            Err(RedisError::from((
                redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain),
                "no replica acknowledged the invalidation in time: a failover could lose it",
            )))
        }
    }

    /// `answer`, or `None` when the cluster refused the command as unknown, unsupported
    /// or not permitted: then invalidations stop waiting for replicas, and the log says so.
    fn unless_refused(&self, answer: RedisResult<Value>) -> RedisResult<Option<Value>> {
        // A routed command's error comes back as a value.
        match answer.and_then(Value::extract_error) {
            Err(error) if refused(&error) => {
                if self.waits_for_replicas.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "the Redis Cluster refuses ROLE or WAIT (ElastiCache Serverless manages its replicas itself): invalidations no longer wait for a replica");
                }
                Ok(None)
            }
            answer => answer.map(Some),
        }
    }
}

/// Whether a server refused a command it does not serve, or this user may not send.
fn refused(error: &RedisError) -> bool {
    let detail = error.detail().unwrap_or_default().to_ascii_lowercase();
    match error.code() {
        Some("NOPERM") => true,
        Some("ERR") => detail.contains("unknown command") || detail.contains("not supported"),
        _ => false,
    }
}

/// Replaces its link's connection when dropped before its call finished, late.
struct Watch<'a> {
    link: &'a ClusterLink,
    started: Instant,
    finished: bool,
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if !self.finished && self.started.elapsed() >= HUNG_AFTER {
            self.link.replace();
        }
    }
}

impl ConnectionLike for &ClusterLink {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let link: &'a ClusterLink = self;
        link.watched(move |mut conn| Box::pin(async move { conn.req_packed_command(cmd).await }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let link: &'a ClusterLink = self;
        link.watched(move |mut conn| {
            Box::pin(async move { conn.req_packed_commands(pipeline, offset, count).await })
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// Where a stamp item lives in a cluster: behind a hash tag shared by all its shards.
pub(super) fn stamp_key(key: &str) -> String {
    let stamp = strip_shard(key);
    let digest = Sha256::digest(stamp.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{{{tag}}}{key}")
}

/// `key` without a trailing shard suffix `~<digits>`.
fn strip_shard(key: &str) -> &str {
    match key.rsplit_once('~') {
        Some((stamp, shard)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => {
            stamp
        }
        _ => key,
    }
}

/// The indexes of `keys`, grouped by the slot each key hashes to.
pub(super) fn by_slot<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<Vec<usize>> {
    let mut groups: HashMap<Slot, Vec<usize>> = HashMap::new();
    for (i, key) in keys.into_iter().enumerate() {
        groups.entry(Slot::for_key(key)).or_default().push(i);
    }
    groups.into_values().collect()
}

/// A primary node, as the cluster names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Primary {
    host: String,
    port: u16,
}

impl Primary {
    fn route(&self) -> RoutingInfo {
        RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: self.host.clone(),
            port: self.port,
        })
    }
}

/// The slot map at one moment: which primary serves each slot range, and whether a slot
/// was being moved.
#[derive(Debug, PartialEq, Eq)]
struct Topology {
    ranges: Vec<(u16, u16, Primary)>,
    migrating: bool,
}

impl Topology {
    fn primaries(&self) -> Vec<Primary> {
        let mut primaries: Vec<Primary> = self.ranges.iter().map(|(_, _, p)| p.clone()).collect();
        primaries.sort();
        primaries.dedup();
        primaries
    }
}

fn protocol_error(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Parse, what))
}

/// The slot map (`CLUSTER SLOTS`), and whether any primary has a slot in migration
/// (its own line of `CLUSTER NODES` shows `[slot->-node]` or `[slot-<-node]`).
async fn topology(conn: &mut ClusterConnection) -> RedisResult<Topology> {
    let slots = conn
        .route_command(
            redis::cmd("CLUSTER").arg("SLOTS").to_owned(),
            RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
        )
        .await?;
    let Value::Array(entries) = slots else {
        return Err(protocol_error("CLUSTER SLOTS did not return an array"));
    };
    let mut ranges = Vec::with_capacity(entries.len());
    for entry in entries {
        let Value::Array(fields) = entry else {
            return Err(protocol_error("a CLUSTER SLOTS entry is not an array"));
        };
        let (Some(Value::Int(start)), Some(Value::Int(end)), Some(Value::Array(node))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            return Err(protocol_error(
                "a CLUSTER SLOTS entry lacks its range or primary",
            ));
        };
        let (Some(Value::BulkString(host)), Some(Value::Int(port))) = (node.first(), node.get(1))
        else {
            return Err(protocol_error("a CLUSTER SLOTS primary lacks its address"));
        };
        let primary = Primary {
            host: String::from_utf8_lossy(host).into_owned(),
            port: u16::try_from(*port).map_err(|_| protocol_error("a port out of range"))?,
        };
        let slot = |n: i64| u16::try_from(n).map_err(|_| protocol_error("a slot out of range"));
        ranges.push((slot(*start)?, slot(*end)?, primary));
    }
    ranges.sort();
    let mut migrating = false;
    for primary in ranges.iter().map(|(_, _, p)| p.clone()).collect::<Vec<_>>() {
        let nodes: String = redis::from_redis_value(
            conn.route_command(
                redis::cmd("CLUSTER").arg("NODES").to_owned(),
                primary.route(),
            )
            .await?,
        )?;
        let own = nodes.lines().find(|line| line.contains("myself"));
        migrating |= own.is_some_and(|line| line.contains("->-") || line.contains("-<-"));
    }
    Ok(Topology { ranges, migrating })
}

/// One `SCAN` page of `primary`: the next cursor (0: done) and the keys matching
/// `pattern`.
async fn scan_page(
    conn: &mut ClusterConnection,
    primary: &Primary,
    cursor: u64,
    pattern: &str,
    count: usize,
) -> RedisResult<(u64, Vec<String>)> {
    let page = conn
        .route_command(
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count)
                .to_owned(),
            primary.route(),
        )
        .await?;
    Ok(redis::from_redis_value(page)?)
}

/// Calls `visit` with every key matching `pattern` on every primary, until one whole
/// sweep saw a slot map that neither changed nor had a slot in migration from its start
/// to its end: a key moving between nodes during a sweep may have been on neither node
/// when each was scanned, so such a sweep is repeated. Returns what `visit` summed.
pub(super) async fn visit_matching<F, Fut>(
    link: &ClusterLink,
    pattern: &str,
    count: usize,
    mut visit: F,
) -> RedisResult<u64>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = RedisResult<u64>>,
{
    let mut conn = link.connection();
    let mut total = 0;
    for attempt in 0..SCAN_ATTEMPTS {
        let before = topology(&mut conn).await?;
        for primary in before.primaries() {
            let mut cursor = 0;
            loop {
                let (next, keys) = scan_page(&mut conn, &primary, cursor, pattern, count).await?;
                for key in keys {
                    total += visit(key).await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        let after = topology(&mut conn).await?;
        if !before.migrating && before == after {
            for primary in after.primaries() {
                link.replicated_on(primary.route()).await?;
            }
            return Ok(total);
        }
        tracing::debug!(attempt, "slots moved during a scan of every primary: again");
        // Lets a slot in migration finish before the next sweep.
        tokio::time::sleep(std::time::Duration::from_millis(
            20 * u64::from(attempt + 1),
        ))
        .await;
    }
    Err(RedisError::from((
        redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain),
        "slots kept moving during every scan of the cluster's primaries",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_shards_share_a_slot_and_stamps_spread() {
        let shards: Vec<String> = (0..8)
            .map(|i| stamp_key(&format!("p#!g#red~{i}")))
            .collect();
        assert_eq!(by_slot(shards.iter().map(String::as_str)).len(), 1);
        assert_eq!(
            Slot::for_key(&shards[0]),
            Slot::for_key(stamp_key("p#!g#red"))
        );
        let stamps: Vec<String> = (0..100)
            .map(|i| stamp_key(&format!("p#!g#tag{i}")))
            .collect();
        assert!(by_slot(stamps.iter().map(String::as_str)).len() > 90);
    }

    #[test]
    fn braces_in_a_stamp_name_do_not_split_its_shards() {
        let shards: Vec<String> = (0..4)
            .map(|i| stamp_key(&format!("}}{{a}}!g#{{x~{i}")))
            .collect();
        assert_eq!(by_slot(shards.iter().map(String::as_str)).len(), 1);
    }

    #[test]
    fn only_a_numeric_suffix_is_a_shard() {
        assert_eq!(strip_shard("a!g#t~12"), "a!g#t");
        assert_eq!(strip_shard("a!g#t~x"), "a!g#t~x");
        assert_eq!(strip_shard("a!g#t~"), "a!g#t~");
        assert_eq!(strip_shard("a!g#t"), "a!g#t");
    }

    /// The error a server answers `reply` with, as the connection parses it.
    fn answered(reply: &str) -> RedisError {
        redis::parse_redis_value(reply.as_bytes())
            .and_then(Value::extract_error)
            .expect_err("an error reply")
    }

    #[test]
    fn a_command_the_server_does_not_serve_or_permit_is_refused() {
        // Redis and Valkey, ElastiCache Serverless, and an ACL.
        assert!(refused(&answered(
            "-ERR unknown command 'ROLE', with args beginning with: \r\n"
        )));
        assert!(refused(&answered("-ERR command not supported\r\n")));
        assert!(refused(&answered(
            "-NOPERM this user has no permissions to run the 'wait' command\r\n"
        )));
        // Anything else is an error the invalidation reports.
        assert!(!refused(&answered(
            "-TRYAGAIN multiple keys request during rehashing\r\n"
        )));
        assert!(!refused(&answered(
            "-ERR wrong number of arguments for 'wait' command\r\n"
        )));
        assert!(!refused(&answered(
            "-LOADING Redis is loading the dataset in memory\r\n"
        )));
    }
}
