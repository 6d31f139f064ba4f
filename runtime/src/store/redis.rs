//! `RedisStore`: the shared store on Redis.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{CacheStore, Capabilities, StoreEntry};
use crate::StoreError;

const NAME: &str = "redis";
const SCAN_COUNT: usize = 500;

/// A [`CacheStore`] on Redis (`redis://` or TLS `rediss://`), through a
/// reconnecting [`ConnectionManager`].
///
/// Entries are plain string keys holding the envelope, with a server-side
/// expiry (`SET .. PX`). A tag is a SET at the tag key holding member keys,
/// whose expiry is raised to the longest-lived member's (`EXPIRE NX` then
/// `EXPIRE GT`, Redis 7+). Extra attributes are ignored.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
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
        Ok(Self { conn })
    }

    async fn unlink_matching(&self, pattern: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut removed = 0;
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
            if !keys.is_empty() {
                removed += conn.unlink::<_, u64>(&keys).await.map_err(err)?;
            }
            if next == 0 {
                return Ok(removed);
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
            tags: true,
            pattern_delete: true,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn.clone().get(key).await.map_err(err)
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(keys
            .iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.clone(), v?)))
            .collect())
    }

    async fn set(&self, key: &str, entry: StoreEntry<'_>) -> Result<(), StoreError> {
        let ttl_ms = entry.ttl.as_millis().max(1) as u64;
        // Whole seconds, rounded up, so a tag never expires before its members.
        let ttl_s = (entry.ttl.as_millis() as u64).div_ceil(1000).max(1);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(key)
            .arg(entry.value)
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        for tag in entry.tags {
            pipe.sadd(tag, key).ignore();
            pipe.cmd("EXPIRE").arg(tag).arg(ttl_s).arg("NX").ignore();
            pipe.cmd("EXPIRE").arg(tag).arg(ttl_s).arg("GT").ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(err)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.conn.clone().del::<_, ()>(key).await.map_err(err)
    }

    async fn has(&self, key: &str) -> Result<bool, StoreError> {
        self.conn.clone().exists(key).await.map_err(err)
    }

    async fn clear(&self, prefix: &str) -> Result<u64, StoreError> {
        self.unlink_matching(&format!("{}*", glob_escape(prefix)))
            .await
    }

    async fn delete_by_tag(&self, tag: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<String> = conn.smembers(tag).await.map_err(err)?;
        let removed = if members.is_empty() {
            0
        } else {
            conn.unlink::<_, u64>(&members).await.map_err(err)?
        };
        conn.unlink::<_, ()>(tag).await.map_err(err)?;
        Ok(removed)
    }

    async fn acquire_lease(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(set.is_some())
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<(), StoreError> {
        // Compare and delete in one step, so a lapsed lease another holder took is kept.
        const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
        let _: i64 = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(key)
            .arg(holder)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn delete_by_pattern(&self, pattern: &str) -> Result<u64, StoreError> {
        self.unlink_matching(pattern).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_escape_neutralises_metacharacters() {
        assert_eq!(super::glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }
}
