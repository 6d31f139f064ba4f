//! `RedisStore`: the shared store on Redis.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::try_join_all;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};

use super::redis_cluster::{self, ClusterLink};
use super::{
    CacheStore, Capabilities, INTERNAL_KEY_MARKER, LeaseHolder, LeaseOutcome, Precondition, Slot,
    Stamp, StoreEntry, TOMBSTONE_LIFETIME, Version,
};
use crate::clock::{self, Clock};
use crate::error::StoreError;

const NAME: &str = "redis";
const SCAN_COUNT: usize = 500;
/// How long a stamp outlives its last bump: longer than any TTL cachegen accepts.
const STAMP_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);

/// The fields a read asks an item for, in the order [`RedisStore::slot`] takes them: the
/// version, the value and its expiry (epoch ms), the lease holder and its expiry (epoch ms).
/// A read is one plain `HMGET` of them: a missing key answers every field nil (no item),
/// and a key of another type (written before items were hashes) answers `WRONGTYPE`, which
/// reads as no item too.
const ITEM_FIELDS: [&str; 5] = ["v", "d", "e", "lh", "le"];

/// The error code of a hash command on a key of another type.
const WRONG_TYPE: &str = "WRONGTYPE";

// The scripts rewrite an item in place rather than delete and recreate it: in a cluster
// slot that is being migrated, a script may not create a key that was gone when it began
// (Redis sends such a script to the slot's new node instead), and a key deleted midway
// counts as gone. Only a key of another type (written before items were hashes) is
// deleted first. Every hash item keeps its version `v`, so it never empties midway.

/// Writes the value ARGV[4] (expiring at ARGV[5] ms, kept ARGV[6] ms) with version
/// ARGV[3] if ARGV[1] holds: `any`, `absent` (no version) or `version` (version ARGV[2]).
const WRITE: &str = r"
local kind = redis.call('TYPE', KEYS[1]).ok
local current = false
if kind == 'hash' then current = redis.call('HGET', KEYS[1], 'v') end
if ARGV[1] == 'absent' and current then return 0 end
if ARGV[1] == 'version' and current ~= ARGV[2] then return 0 end
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'd', ARGV[4], 'e', ARGV[5])
redis.call('HDEL', KEYS[1], 'lh', 'le')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
";

/// Replaces KEYS[1] by a tombstone of version ARGV[1], kept ARGV[2] ms, if ARGV[3] holds:
/// `any`; `data` (it holds a value); `absent` (no version) or `version` (version ARGV[4]).
/// Returns 1 if it did.
const TOMBSTONE: &str = r"
local kind = redis.call('TYPE', KEYS[1]).ok
local current = false
if kind == 'hash' then current = redis.call('HGET', KEYS[1], 'v') end
local held = kind == 'string' or (kind == 'hash' and redis.call('HEXISTS', KEYS[1], 'd') == 1)
if ARGV[3] == 'data' and not held then return 0 end
if ARGV[3] == 'absent' and current then return 0 end
if ARGV[3] == 'version' and current ~= ARGV[4] then return 0 end
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('HDEL', KEYS[1], 'd', 'e', 'lh', 'le')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Takes the lease on KEYS[1] for ARGV[3] until ARGV[4] ms (kept at least ARGV[5] ms) with
/// version ARGV[2], if the version is still ARGV[1] (empty: absent); returns 1, or the
/// item's fields as a read gives them (nil: no item).
const ACQUIRE: &str = r"
local kind = redis.call('TYPE', KEYS[1]).ok
local current = false
if kind == 'hash' then current = redis.call('HGET', KEYS[1], 'v') end
if (ARGV[1] == '' and current) or (ARGV[1] ~= '' and current ~= ARGV[1]) then
  if current then return redis.call('HMGET', KEYS[1], 'v', 'd', 'e', 'lh', 'le') end
  return false
end
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'lh', ARGV[3], 'le', ARGV[4])
if not current then redis.call('HDEL', KEYS[1], 'd', 'e') end
local left = redis.call('PTTL', KEYS[1])
if left >= 0 and left < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
if left == -1 and not current then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
";

/// Gives KEYS[1]'s lease back if ARGV[1] holds it, with a new version ARGV[2].
const RELEASE: &str = r"
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
if redis.call('HGET', KEYS[1], 'lh') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
redis.call('HDEL', KEYS[1], 'lh', 'le')
return 1
";

/// Sets counter ARGV[1] of every stamp in KEYS to one value above all of theirs, and
/// keeps them ARGV[2] seconds.
const BUMP: &str = r"
local next = 0
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, ARGV[1]) or '0')
  if n > next then next = n end
end
next = next + 1
for _, key in ipairs(KEYS) do
  redis.call('HSET', key, ARGV[1], next)
  redis.call('EXPIRE', key, ARGV[2])
end
return next
";

/// The scripts, hashed once.
struct Scripts {
    write: Script,
    tombstone: Script,
    acquire: Script,
    release: Script,
    bump: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            write: Script::new(WRITE),
            tombstone: Script::new(TOMBSTONE),
            acquire: Script::new(ACQUIRE),
            release: Script::new(RELEASE),
            bump: Script::new(BUMP),
        }
    }
}

/// How the store reaches Redis.
#[derive(Clone)]
enum Connection {
    /// One endpoint, through a reconnecting manager.
    Node(ConnectionManager),
    /// A Redis Cluster: each command goes to the primary of its key's slot, following
    /// `MOVED`/`ASK` redirections.
    Cluster(Arc<ClusterLink>),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(link) => Box::pin(async move { (&**link).req_packed_command(cmd).await }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(link) => {
                Box::pin(
                    async move { (&**link).req_packed_commands(pipeline, offset, count).await },
                )
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(_) => 0,
        }
    }
}

/// A [`CacheStore`] on Redis (`redis://` or TLS `rediss://`): one endpoint through a
/// reconnecting [`ConnectionManager`], or a Redis Cluster (ElastiCache Serverless speaks
/// only that) through redis-rs's cluster client.
///
/// An item is a hash: its version `v`, and the value `d` with its expiry `e` (epoch ms),
/// and/or the lease `lh`/`le`, with a server-side expiry (`PEXPIRE`) for when the value
/// (or the tombstone, or the lease) lapses. A read is one plain `HMGET` (see
/// `ITEM_FIELDS`); conditional writes, leases and tombstones are Lua scripts, so each is
/// atomic. A stamp is a hash of counters. Extra attributes are
/// ignored. In a cluster, the keys a script touches together share a slot (see
/// `redis_cluster.rs` for the key shape), and a prefix or pattern scan visits every
/// primary.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    scripts: Arc<Scripts>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

/// Makes ring the process's rustls crypto provider unless one is installed already, before
/// any connection is made: the redis crate builds its TLS configuration from the process
/// default, which rustls cannot choose by itself when the AWS SDK brought aws-lc in too.
fn install_crypto_provider() {
    // An error means another provider was installed first: `rediss://` uses that one.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError::backend(NAME, e)
}

/// Escapes glob metacharacters so `s` matches itself in `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An item's `HMGET` reply, with a key of another type read as no item (nil).
fn item_or_none(reply: redis::RedisResult<Value>) -> redis::RedisResult<Value> {
    match reply {
        Err(e) if e.code() == Some(WRONG_TYPE) => Ok(Value::Nil),
        reply => reply,
    }
}

/// A field as text, borrowed.
fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

/// A field as a number.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        value => text(value)?.parse().ok(),
    }
}

/// A precondition as the scripts take it: a mode and a version.
fn condition(precondition: Precondition) -> (&'static str, u64) {
    match precondition {
        Precondition::None => ("any", 0),
        Precondition::Version(None) => ("absent", 0),
        Precondition::Version(Some(version)) => ("version", version.raw()),
    }
}

impl RedisStore {
    /// Connects lazily to `url`: the first command opens the connection, and
    /// a lost connection is re-established in the background, so a Redis that
    /// is down at start-up does not fail construction.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, Self::default_config())
    }

    /// The manager configuration [`connect`](Self::connect) uses: 1 s
    /// connection and response timeouts, 2 reconnection retries.
    pub fn default_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
    }

    /// Like [`connect`](Self::connect) with a custom manager configuration.
    pub fn connect_with(url: &str, config: ConnectionManagerConfig) -> Result<Self, StoreError> {
        Self::from_client(redis::Client::open(url).map_err(err)?, config)
    }

    /// A store on a prepared client, e.g. one built with
    /// [`redis::Client::build_with_tls`] to trust a private CA.
    pub fn from_client(
        client: redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, StoreError> {
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(err)?;
        Ok(Self::on(Connection::Node(conn)))
    }

    /// Connects lazily to the Redis Cluster that the `urls` (`redis://` or `rediss://`,
    /// any of its nodes; one is enough) belong to, with 1 s connection and response
    /// timeouts. The cluster's slot map is read on the first command.
    pub fn connect_cluster<S: AsRef<str>>(urls: &[S]) -> Result<Self, StoreError> {
        let urls: Vec<&str> = urls.iter().map(AsRef::as_ref).collect();
        Self::from_cluster_client(ClusterClient::new(urls).map_err(err)?)
    }

    /// A store on a prepared cluster client (e.g. built with
    /// [`ClusterClient::builder`] for TLS certificates or retry settings), with 1 s
    /// connection and response timeouts.
    pub fn from_cluster_client(client: ClusterClient) -> Result<Self, StoreError> {
        let config = ClusterConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1));
        Ok(Self::on(Connection::Cluster(Arc::new(ClusterLink::new(
            client, config,
        )))))
    }

    fn on(conn: Connection) -> Self {
        install_crypto_provider();
        Self {
            conn,
            scripts: Arc::new(Scripts::new()),
            clock: clock::system(),
        }
    }

    /// Uses `clock` for the value and lease expiry checks (Redis expires keys by its own).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// An item's [`ITEM_FIELDS`] as a slot (anything else, e.g. nil: no item).
    fn slot(&self, fields: Value) -> Slot {
        let Value::Array(mut fields) = fields else {
            return Slot::default();
        };
        fields.resize(ITEM_FIELDS.len(), Value::Nil);
        let now = self.clock.now_ms();
        let lease = match (text(&fields[3]), number(&fields[4])) {
            (Some(holder), Some(expires_at_ms)) if expires_at_ms > now => Some(LeaseHolder {
                holder: holder.to_owned(),
                expires_at_ms,
            }),
            _ => None,
        };
        let version = number(&fields[0]).and_then(Version::from_raw);
        let fresh = number(&fields[2]).is_some_and(|e| e > now);
        let value = match fields.swap_remove(1) {
            Value::BulkString(bytes) if fresh => Some(bytes),
            _ => None,
        };
        Slot {
            version,
            value,
            lease,
        }
    }

    /// The groups of `keys` (as indexes) one multi-key call can take: all of them on one
    /// node, those of one slot in a cluster.
    fn batches<'a>(&self, keys: impl IntoIterator<Item = &'a str>) -> Vec<Vec<usize>> {
        match self.conn {
            Connection::Node(_) => vec![keys.into_iter().enumerate().map(|(i, _)| i).collect()],
            Connection::Cluster(_) => redis_cluster::by_slot(keys),
        }
    }

    /// The Redis key of the stamp item at `key`.
    fn stamp_key<'a>(&self, key: &'a str) -> Cow<'a, str> {
        match self.conn {
            Connection::Node(_) => Cow::Borrowed(key),
            Connection::Cluster(_) => Cow::Owned(redis_cluster::stamp_key(key)),
        }
    }

    /// Replaces `key`'s value, if it holds one, by a tombstone; 1 if it did.
    async fn tombstone_if_held(&self, key: &str) -> redis::RedisResult<u64> {
        self.scripts
            .tombstone
            .key(key)
            .arg(Version::fresh().raw())
            .arg(TOMBSTONE_LIFETIME.as_millis() as u64)
            .arg("data")
            .arg(0)
            .invoke_async(&mut self.conn.clone())
            .await
    }

    /// Waits until `key`'s invalidation is replicated, on a cluster (see
    /// [`ClusterLink::replicated`]); a single node has no failover in scope.
    async fn replicated(&self, key: &str) -> Result<(), StoreError> {
        match &self.conn {
            Connection::Cluster(link) => link.replicated(key).await.map_err(err),
            Connection::Node(_) => Ok(()),
        }
    }

    /// Tombstones the entries whose keys match `pattern`, leaving those that start with
    /// `keep` alone.
    async fn tombstone_matching(
        &self,
        pattern: &str,
        keep: Option<&str>,
    ) -> Result<u64, StoreError> {
        let kept = |key: &str| keep.is_some_and(|kept| key.starts_with(kept));
        let mut conn = match &self.conn {
            Connection::Cluster(cluster) => {
                return redis_cluster::visit_matching(
                    cluster,
                    pattern,
                    SCAN_COUNT,
                    |key| async move {
                        if kept(&key) {
                            return Ok(0);
                        }
                        self.tombstone_if_held(&key).await
                    },
                )
                .await
                .map_err(err);
            }
            Connection::Node(node) => node.clone(),
        };
        let mut cursor: u64 = 0;
        let mut replaced = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            for key in keys.iter().filter(|key| !kept(key)) {
                replaced += self.tombstone_if_held(key).await.map_err(err)?;
            }
            if next == 0 {
                return Ok(replaced);
            }
            cursor = next;
        }
    }
}

#[async_trait]
impl CacheStore for RedisStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            pattern_delete: true,
            indexes: false,
            reads_with_stamps: false,
        }
    }

    async fn read(&self, key: &str) -> Result<Slot, StoreError> {
        let fields = item_or_none(
            redis::cmd("HMGET")
                .arg(key)
                .arg(&ITEM_FIELDS)
                .query_async(&mut self.conn.clone())
                .await,
        )
        .map_err(err)?;
        Ok(self.slot(fields))
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let batches = self.batches(keys.iter().map(String::as_str));
        let reads = batches.iter().map(|batch| {
            let mut pipe = redis::pipe();
            for &i in batch {
                pipe.cmd("HMGET").arg(&keys[i]).arg(&ITEM_FIELDS);
            }
            // One reply a key: a key of another type fails its own HMGET only.
            pipe.ignore_errors();
            async move {
                let replies: Vec<Value> = pipe.query_async(&mut self.conn.clone()).await?;
                let items = replies
                    .into_iter()
                    .map(|reply| item_or_none(reply.extract_error()))
                    .collect::<redis::RedisResult<Vec<_>>>()?;
                Ok::<_, redis::RedisError>(batch.iter().zip(items).collect::<Vec<_>>())
            }
        });
        let read = try_join_all(reads).await.map_err(err)?;
        Ok(read
            .into_iter()
            .flatten()
            .filter_map(|(&i, item)| Some((keys[i].clone(), self.slot(item).value?)))
            .collect())
    }

    async fn write(
        &self,
        key: &str,
        entry: StoreEntry<'_>,
        precondition: Precondition,
    ) -> Result<Option<Version>, StoreError> {
        let (mode, seen) = condition(precondition);
        let version = Version::fresh();
        let written: u64 = self
            .scripts
            .write
            .key(key)
            .arg(mode)
            .arg(seen)
            .arg(version.raw())
            .arg(entry.value)
            .arg(entry.expires_at_ms)
            .arg(entry.ttl.as_millis().max(1) as u64)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok((written == 1).then_some(version))
    }

    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError> {
        let (mode, seen) = condition(precondition);
        let deleted: u64 = self
            .scripts
            .tombstone
            .key(key)
            .arg(Version::fresh().raw())
            .arg(TOMBSTONE_LIFETIME.as_millis() as u64)
            .arg(mode)
            .arg(seen)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        self.replicated(key).await?;
        Ok(deleted == 1)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        seen: Option<Version>,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let version = Version::fresh();
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let outcome: Value = self
            .scripts
            .acquire
            .key(key)
            .arg(seen.map_or(String::new(), |v| v.raw().to_string()))
            .arg(version.raw())
            .arg(holder)
            .arg(self.clock.now_ms() + ttl_ms)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(match outcome {
            Value::Int(1) => LeaseOutcome::Acquired(version),
            item => LeaseOutcome::Refused(self.slot(item)),
        })
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        let _: u64 = self
            .scripts
            .release
            .key(key)
            .arg(holder)
            .arg(Version::fresh().raw())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn read_stamps(&self, keys: &[String]) -> Result<Vec<Stamp>, StoreError> {
        let keys: Vec<Cow<'_, str>> = keys.iter().map(|key| self.stamp_key(key)).collect();
        let batches = self.batches(keys.iter().map(|key| key.as_ref()));
        let reads = batches.iter().map(|batch| {
            let mut pipe = redis::pipe();
            for &i in batch {
                pipe.hgetall(keys[i].as_ref());
            }
            async move {
                let stamps: Vec<Stamp> = pipe.query_async(&mut self.conn.clone()).await?;
                Ok::<_, redis::RedisError>(batch.iter().copied().zip(stamps).collect::<Vec<_>>())
            }
        });
        let mut stamps = vec![Stamp::new(); keys.len()];
        for (i, stamp) in try_join_all(reads)
            .await
            .map_err(err)?
            .into_iter()
            .flatten()
        {
            stamps[i] = stamp;
        }
        Ok(stamps)
    }

    async fn bump_stamp(&self, shards: &[String], counter: &str) -> Result<u64, StoreError> {
        let keys: Vec<Cow<'_, str>> = shards.iter().map(|shard| self.stamp_key(shard)).collect();
        let mut invocation = self.scripts.bump.prepare_invoke();
        for key in &keys {
            invocation.key(key.as_ref());
        }
        let generation = invocation
            .arg(counter)
            .arg(STAMP_LIFETIME.as_secs())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        // The shards share a slot: one primary to wait for.
        if let Some(key) = keys.first() {
            self.replicated(key).await?;
        }
        Ok(generation)
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        let internal = format!("{prefix}{INTERNAL_KEY_MARKER}");
        self.tombstone_matching(&format!("{}*", glob_escape(prefix)), Some(&internal))
            .await
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        self.tombstone_matching(pattern, None).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_escape_neutralises_metacharacters() {
        assert_eq!(super::glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }
}
