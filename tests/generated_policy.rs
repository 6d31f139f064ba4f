//! The origin policies specs set, run through the examples' generated crates against real
//! stores, with origins that fail, hang and count their calls: the DRS quotas' fail-safe,
//! throttle and hard timeout on DynamoDB (moto), beside a DRS type without a policy, and
//! the Discord guild members' negative TTL on Redis. The caches run on a manual clock, so
//! values expire without waiting; every assertion is on values and call counts.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachegen_runtime::clock::ManualClock;
use cachegen_runtime::store::{CacheStore, DynamoStore, RedisStore};
use cachegen_runtime::typed::DataType;
use cachegen_runtime::{BoxError, CacheError, OriginPolicy, TieredCache};
use cachegen_testkit::{SharedServer, shared_moto_endpoint, shared_redis_url, unique_name};
use cachegen_tests::{create_table, moto_sdk};
use discord_bot_cache as discord;
use drs_orchestration_cache as drs;
use drs_orchestration_cache::{DrsQuotasType, DrsSourceServersType};

/// Store timeout on moto: a loaded 2-core machine can keep it past the 200 ms default, and
/// a read that times out falls through to the origin, one more call counted.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// A second, so a wait goes past a boundary rather than onto it.
const PAST: Duration = Duration::from_secs(1);

/// What the DRS stand-in does when called.
#[derive(Clone, Copy)]
enum Answer {
    /// Answers: quotas with this many replicating servers, or that many source servers.
    Answers(u32),
    /// Fails, as DRS does when it throttles its API.
    Throttled,
    /// Never answers.
    Hangs,
}

/// The DRS API, standing in for the query handler's origin: counts its calls.
#[derive(Clone, Default)]
struct DrsApi(Arc<AtomicUsize>);

impl DrsApi {
    fn calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn quotas(&self, answer: Answer) -> impl Future<Output = Result<drs::DrsQuotas, BoxError>> {
        let calls = self.0.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            match answer {
                Answer::Answers(servers) => Ok(quotas(servers)),
                Answer::Throttled => Err("ThrottlingException: Rate exceeded".into()),
                Answer::Hangs => std::future::pending().await,
            }
        }
    }

    fn servers(
        &self,
        answer: Answer,
    ) -> impl Future<Output = Result<drs::DrsSourceServers, BoxError>> {
        let calls = self.0.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            match answer {
                Answer::Answers(servers) => Ok(drs::DrsSourceServers {
                    servers: vec![serde_json::json!({ "count": servers })],
                }),
                Answer::Throttled => Err("ThrottlingException: Rate exceeded".into()),
                Answer::Hangs => std::future::pending().await,
            }
        }
    }
}

fn quotas(replicating_servers: u32) -> drs::DrsQuotas {
    drs::DrsQuotas {
        account_id: "438465159935".into(),
        region: "us-east-1".into(),
        replicating_servers,
        max_replicating_servers: 300,
        utilization_percent: f64::from(replicating_servers) / 3.0,
    }
}

fn quotas_key() -> drs::DrsQuotasKey {
    drs::DrsQuotasKey {
        region: "us-east-1".into(),
        account_id: "438465159935".into(),
    }
}

/// The DRS example's table on moto (its partition key and layout, from the generated
/// crate), and the server, kept alive by the caller.
async fn drs_table(clock: &ManualClock) -> (Arc<dyn CacheStore>, SharedServer) {
    let moto = shared_moto_endpoint().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto_sdk(moto.url()).await);
    let table = unique_name("drs-policy");
    create_table(&client, &table, drs::query_cache::PARTITION_KEY).await;
    let store = DynamoStore::new(client, table, drs::query_cache::layout())
        .with_clock(Arc::new(clock.clone()));
    (Arc::new(store), moto)
}

/// A query handler container: its own L1, over the shared table.
fn drs_container(store: &Arc<dyn CacheStore>, clock: &ManualClock) -> drs::Cache {
    drs::Cache::from_parts(
        TieredCache::builder()
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .store_timeout(STORE_TIMEOUT)
            .schema_version(drs::query_cache::SCHEMA_VERSION)
            .build(),
    )
}

/// How far past its write a DRS quota is expired, whatever jitter it drew.
fn quotas_expired() -> Duration {
    DrsQuotasType::TTL + DrsQuotasType::POLICY.ttl_jitter + PAST
}

#[tokio::test(flavor = "multi_thread")]
async fn drs_quotas_fail_safe_serves_the_last_quotas_and_rests_the_throttled_api() {
    let fail_safe = DrsQuotasType::POLICY
        .fail_safe
        .expect("the spec gives drs-quotas fail_safe");
    let clock = ManualClock::new();
    let (store, _moto) = drs_table(&clock).await;
    let api = DrsApi::default();
    let key = quotas_key();

    let first = drs_container(&store, &clock)
        .drs_quotas()
        .wrap_served(&key, || api.quotas(Answer::Answers(1)))
        .await
        .unwrap();
    assert_eq!((first.value, first.stale), (quotas(1), false));

    // Expired, within max_stale. A fresh container (a cold start) has nothing in its L1,
    // only DynamoDB's expired item: DRS throttles, and the last quotas are served stale.
    clock.advance(quotas_expired());
    let lambda = drs_container(&store, &clock);
    let served = lambda
        .drs_quotas()
        .wrap_served(&key, || api.quotas(Answer::Throttled))
        .await
        .unwrap();
    assert_eq!((served.value, served.stale), (quotas(1), true));
    assert_eq!(api.calls(), 2, "DRS was tried");

    // Within the throttle the container leaves DRS alone. (The runtime keeps the expired
    // value for the throttle only when the container's view of the type's invalidation
    // stamp was fresh as it read the item; a cold container's is not, so its second
    // lookup may still call DRS once: the count starts after it.)
    let again = lambda
        .drs_quotas()
        .wrap(&key, || api.quotas(Answer::Throttled))
        .await
        .unwrap();
    assert_eq!(again, quotas(1));
    let tried = api.calls();
    for _ in 0..5 {
        let again = lambda
            .drs_quotas()
            .wrap(&key, || api.quotas(Answer::Throttled))
            .await
            .unwrap();
        assert_eq!(again, quotas(1));
    }
    assert_eq!(api.calls(), tried, "throttled for {:?}", fail_safe.throttle);

    // Past the throttle DRS is tried again, still throttling: still the last quotas, and
    // DRS is left alone for another throttle.
    clock.advance(fail_safe.throttle + PAST);
    for _ in 0..3 {
        let served = lambda
            .drs_quotas()
            .wrap_served(&key, || api.quotas(Answer::Throttled))
            .await
            .unwrap();
        assert_eq!(served.value, quotas(1));
    }
    assert_eq!(api.calls(), tried + 1);

    // Once DRS answers again, its quotas are fresh and stored for every container.
    clock.advance(fail_safe.throttle + PAST);
    let recovered = lambda
        .drs_quotas()
        .wrap_served(&key, || api.quotas(Answer::Answers(2)))
        .await
        .unwrap();
    assert_eq!((recovered.value, recovered.stale), (quotas(2), false));
    assert_eq!(api.calls(), tried + 2);
    let other = drs_container(&store, &clock)
        .drs_quotas()
        .wrap(&key, || api.quotas(Answer::Throttled))
        .await
        .unwrap();
    assert_eq!((other, api.calls()), (quotas(2), tried + 2), "a store hit");

    // Past max_stale nothing is left to fall back on: DRS's error reaches the caller.
    clock.advance(quotas_expired() + fail_safe.max_stale);
    let err = drs_container(&store, &clock)
        .drs_quotas()
        .wrap(&key, || api.quotas(Answer::Throttled))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Origin(_)), "{err}");
    assert_eq!(api.calls(), tried + 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn drs_quotas_hard_timeout_answers_a_hanging_api_with_the_last_quotas() {
    let hard = DrsQuotasType::POLICY
        .hard_timeout
        .expect("the spec gives drs-quotas a hard_timeout");
    let clock = ManualClock::new();
    let (store, _moto) = drs_table(&clock).await;
    let api = DrsApi::default();
    let key = quotas_key();
    drs_container(&store, &clock)
        .drs_quotas()
        .wrap(&key, || api.quotas(Answer::Answers(1)))
        .await
        .unwrap();
    clock.advance(quotas_expired());

    // DRS never answers: past the hard timeout (real time, `hard` of it) the call is
    // abandoned and fail-safe serves the last quotas.
    let served = drs_container(&store, &clock)
        .drs_quotas()
        .wrap_served(&key, || api.quotas(Answer::Hangs))
        .await
        .unwrap();
    assert_eq!(
        (served.value, served.stale, api.calls()),
        (quotas(1), true, 2),
        "abandoned after {hard:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drs_type_without_a_policy_lets_the_error_through() {
    assert_eq!(DrsSourceServersType::POLICY, OriginPolicy::NONE);
    let clock = ManualClock::new();
    let (store, _moto) = drs_table(&clock).await;
    let api = DrsApi::default();
    let key = drs::DrsSourceServersKey {
        region: "us-east-1".into(),
        account_id: "438465159935".into(),
    };
    drs_container(&store, &clock)
        .drs_source_servers()
        .wrap(&key, || api.servers(Answer::Answers(1)))
        .await
        .unwrap();
    clock.advance(DrsSourceServersType::TTL + PAST);
    let err = drs_container(&store, &clock)
        .drs_source_servers()
        .wrap(&key, || api.servers(Answer::Throttled))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Origin(_)), "{err}");
    assert_eq!(api.calls(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn discord_unknown_member_is_cached_for_the_negative_ttl_on_redis() {
    let negative_ttl = discord::GuildMemberType::POLICY
        .negative_ttl
        .expect("the spec gives guild-member a negative_ttl");
    assert!(negative_ttl + PAST < discord::GuildMemberType::TTL);
    let redis = shared_redis_url().unwrap();
    let clock = ManualClock::new();
    let store = RedisStore::connect(redis.url())
        .await
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    let bot = discord::Cache::from_parts(
        TieredCache::builder()
            .store(Arc::new(store))
            .clock(Arc::new(clock.clone()))
            .key_prefix(format!("{}:", unique_name("discord-policy")))
            .build(),
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let discord_api = |member: Option<&'static str>| {
        let calls = calls.clone();
        move || async move {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>(member.map(|name| discord::GuildMember {
                member: serde_json::json!({ "nick": name }),
            }))
        }
    };
    let key = discord::GuildMemberKey {
        guild_id: "g1".into(),
        user_id: "u1".into(),
    };
    let members = bot.guild_member();

    // "Unknown Member": cached, so the next lookups do not reach Discord.
    assert_eq!(
        members
            .wrap_optional(&key, discord_api(None))
            .await
            .unwrap(),
        None
    );
    for _ in 0..3 {
        let again = members
            .wrap_optional(&key, discord_api(Some("late")))
            .await
            .unwrap();
        assert_eq!(again, None);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Past the negative TTL Discord is asked again; the member found now is kept for the
    // type's (longer) TTL.
    clock.advance(negative_ttl + PAST);
    let found = members
        .wrap_optional(&key, discord_api(Some("ada")))
        .await
        .unwrap();
    assert_eq!(
        found.map(|m| m.member),
        Some(serde_json::json!({ "nick": "ada" }))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    clock.advance(negative_ttl + PAST);
    let kept = members
        .wrap_optional(&key, discord_api(None))
        .await
        .unwrap();
    assert!(kept.is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
