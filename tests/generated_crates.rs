//! The generated crates of the other examples, run: the Discord cache on Redis (its
//! seed's store, the spec's only one) with tag invalidation, and in-process without
//! `REDIS_URL`; the Valkey sessions cache on the Redis Cluster; the framework cache in
//! L1-only mode (no AWS, as on a laptop), and the server-provider map's keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachegen_runtime::BoxError;
use cachegen_testkit::shared_redis_url;

#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discord_cache_on_redis_invalidates_by_tag() {
    let redis = shared_redis_url().unwrap();
    let prefix = cachegen_testkit::unique_name("discord");
    let lookup = |name: &str| match name {
        "REDIS_URL" => Some(redis.url().to_owned()),
        "CACHE_KEY_PREFIX" => Some(format!("{prefix}:")),
        _ => None,
    };
    let cache = discord_bot_cache::Cache::from_lookup(lookup).await.unwrap();
    let calls = Calls::default();
    let channels = |guild: &str| discord_bot_cache::GuildChannelsKey {
        guild_id: guild.to_owned(),
    };
    let fetch = |calls: Calls| async move {
        let call = calls.bump();
        Ok::<_, BoxError>(discord_bot_cache::GuildChannels {
            channels: vec![serde_json::json!({ "call": call })],
        })
    };

    let first = cache
        .guild_channels()
        .wrap(&channels("g1"), || fetch(calls.clone()))
        .await
        .unwrap();
    let again = cache
        .guild_channels()
        .wrap(&channels("g1"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!((calls.count(), &again), (1, &first));
    cache
        .guild_channels()
        .wrap(&channels("g2"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!(calls.count(), 2);

    // The spec tags channels with `discord:guild:{guild_id}`: invalidating g1's tag
    // drops g1's channels and leaves g2's in Redis.
    cache
        .guild_channels()
        .invalidate_tag("discord:guild:g1")
        .await
        .unwrap();
    let fresh = discord_bot_cache::Cache::from_lookup(lookup).await.unwrap();
    fresh
        .guild_channels()
        .wrap(&channels("g1"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!(calls.count(), 3, "g1 was invalidated");
    fresh
        .guild_channels()
        .wrap(&channels("g2"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!(calls.count(), 3, "g2 is still in Redis");
    assert_eq!(
        <discord_bot_cache::GuildMemberType as cachegen_runtime::typed::DataType>::TTL.as_secs(),
        30
    );
}

/// The Discord cache has no table: a left-over `CACHE_TABLE_NAME` is not read, and without
/// `REDIS_URL` each container keeps to its in-process cache, as the seed's bot does.
#[tokio::test]
async fn discord_cache_without_redis_url_stays_in_process() {
    let lookup = |name: &str| (name == "CACHE_TABLE_NAME").then(|| "left-over".to_owned());
    let one = discord_bot_cache::Cache::from_lookup(lookup).await.unwrap();
    let other = discord_bot_cache::Cache::from_lookup(lookup).await.unwrap();
    let calls = Calls::default();
    let key = discord_bot_cache::BotGuildsKey {};
    let fetch = |calls: Calls| async move {
        calls.bump();
        Ok::<_, BoxError>(discord_bot_cache::BotGuilds { guilds: Vec::new() })
    };
    for cache in [&one, &one, &other] {
        cache
            .bot_guilds()
            .wrap(&key, || fetch(calls.clone()))
            .await
            .unwrap();
    }
    assert_eq!(
        calls.count(),
        2,
        "one origin call per container, none shared"
    );
}

/// The Valkey sessions cache (created by its templates, so a cluster) on the test Redis
/// Cluster: the crate connects in cluster mode from `REDIS_URL` alone, since its spec's
/// store is a cluster, and two containers share values and tag invalidations.
#[tokio::test(flavor = "multi_thread")]
async fn valkey_sessions_cache_runs_on_a_redis_cluster() {
    const CLUSTER_URLS: &str = "CACHEGEN_TEST_REDIS_CLUSTER_URLS";
    let urls = match std::env::var(CLUSTER_URLS) {
        Ok(urls) if !urls.trim().is_empty() => urls,
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true but {CLUSTER_URLS} is unset: scripts/test.sh starts the cluster")
        }
        _ => {
            eprintln!(
                "skipped: {CLUSTER_URLS} is unset (scripts/test.sh starts a local Redis Cluster)"
            );
            return;
        }
    };
    const { assert!(sessions_api_cache::store::CLUSTER) };
    let prefix = cachegen_testkit::unique_name("sessions");
    let lookup = |name: &str| match name {
        "REDIS_URL" => Some(urls.clone()),
        "CACHE_KEY_PREFIX" => Some(format!("{prefix}:")),
        _ => None,
    };
    let one = sessions_api_cache::Cache::from_lookup(lookup)
        .await
        .unwrap();
    let other = sessions_api_cache::Cache::from_lookup(lookup)
        .await
        .unwrap();
    let calls = Calls::default();
    let session = |id: &str| sessions_api_cache::SessionKey {
        session_id: id.to_owned(),
    };
    let fetch = |calls: Calls| async move {
        let call = calls.bump();
        Ok::<_, BoxError>(sessions_api_cache::Session {
            user_id: format!("user-{call}"),
            scopes: vec!["read".to_owned()],
            expires_at: 1_700_000_000,
        })
    };
    let first = one
        .session()
        .wrap(&session("s1"), || fetch(calls.clone()))
        .await
        .unwrap();
    let shared = other
        .session()
        .wrap(&session("s1"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!(
        (calls.count(), &shared),
        (1, &first),
        "the other container read the cluster"
    );
    other.session().invalidate_tag("session:s1").await.unwrap();
    let third = sessions_api_cache::Cache::from_lookup(lookup)
        .await
        .unwrap();
    let after = third
        .session()
        .wrap(&session("s1"), || fetch(calls.clone()))
        .await
        .unwrap();
    assert_eq!(calls.count(), 2, "the tag invalidation reached the cluster");
    assert_eq!(after.user_id, "user-2");
}

#[tokio::test]
async fn framework_cache_runs_without_aws() {
    let cache = glasswork_app_cache::Cache::from_lookup(None, |_| None)
        .await
        .unwrap();
    let calls = Calls::default();
    let key = glasswork_app_cache::FeatureFlagsKey {};
    let flags = |calls: Calls| async move {
        calls.bump();
        Ok::<_, BoxError>(glasswork_app_cache::FeatureFlags {
            flags: [("beta".to_owned(), true)].into(),
        })
    };
    let first = cache
        .feature_flags()
        .wrap_swr(&key, {
            let c = calls.clone();
            move || flags(c)
        })
        .await
        .unwrap();
    let second = cache
        .feature_flags()
        .wrap_swr(&key, {
            let c = calls.clone();
            move || flags(c)
        })
        .await
        .unwrap();
    assert_eq!((calls.count(), first), (1, second));
    type Flags = glasswork_app_cache::FeatureFlagsType;
    use cachegen_runtime::typed::DataType;
    assert_eq!(Flags::STALE_WHILE_REVALIDATE.map(|d| d.as_secs()), Some(60));
    assert_eq!(Flags::MEMORY_TTL.as_secs(), 60);
    // The spec opts feature flags (only) into cross-container single-flight.
    const { assert!(Flags::DISTRIBUTED_FLIGHT) };
    const { assert!(!<glasswork_app_cache::UserType as DataType>::DISTRIBUTED_FLIGHT) };

    let user = glasswork_app_cache::UserKey { id: "42".into() };
    assert!(cache.user().get(&user).await.unwrap().is_none());
    let value = glasswork_app_cache::User {
        id: "42".into(),
        name: "Ada".into(),
        email: "ada@example.com".into(),
    };
    cache.user().set(&user, &value).await.unwrap();
    assert_eq!(cache.user().get(&user).await.unwrap(), Some(value));
    let ids: Vec<String> = cache
        .user_list()
        .wrap(&glasswork_app_cache::UserListKey {}, || async {
            Ok::<_, BoxError>(vec!["42".to_owned()])
        })
        .await
        .unwrap();
    assert_eq!(ids, ["42"]);
}

#[test]
fn server_keys_are_escaped_and_typed() {
    use cachegen_runtime::typed::DataType;
    type Server = telegram_vps_bot_cache::ServerProviderType;
    let key = telegram_vps_bot_cache::ServerProviderKey {
        server_name: "web#1:eu".into(),
    };
    assert_eq!(Server::key(&key), "web%231%3Aeu");
    assert_eq!(Server::TTL.as_secs(), 24 * 3600);
    assert_eq!(Server::MEMORY_TTL.as_secs(), 3600);
    assert_eq!(
        telegram_vps_bot_cache::server_cache::ENV_VAR,
        "CACHE_TABLE_NAME"
    );
    assert_eq!(
        telegram_vps_bot_cache::server_cache::PARTITION_KEY,
        "server_name"
    );
}
