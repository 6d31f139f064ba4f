//! The seeds' keys and TTLs, as their generated crates store them: the server map's items
//! keyed by the server's name alone (moto), the query cache's account-less types keyed
//! with `global` (moto), and a Discord TTL tuned by its env var (Redis).

use aws_sdk_dynamodb::types::AttributeValue;
use cachegen_runtime::BoxError;
use cachegen_testkit::{shared_moto_endpoint, unique_name};
use cachegen_tests::{create_table, moto_sdk};

/// A fresh table on moto keyed by the string attribute `partition_key`, and a client.
async fn moto_table(
    sdk: &aws_config::SdkConfig,
    partition_key: &str,
) -> (aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let name = unique_name("seed-keys");
    create_table(&client, &name, partition_key).await;
    (client, name)
}

/// The partition keys of every item in `table`, sorted.
async fn partition_keys(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition_key: &str,
) -> Vec<String> {
    let scan = client.scan().table_name(table).send().await.unwrap();
    let mut keys: Vec<String> = scan
        .items()
        .iter()
        .filter_map(|item| item.get(partition_key)?.as_s().ok().cloned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_map_stores_an_item_under_the_server_name_itself() {
    use telegram_vps_bot_cache::{Cache, ServerProvider, ServerProviderKey, server_cache};
    let moto = shared_moto_endpoint().unwrap();
    let sdk = moto_sdk(moto.url()).await;
    let (client, table) = moto_table(&sdk, server_cache::PARTITION_KEY).await;
    let lookup = |name: &str| (name == server_cache::ENV_VAR).then(|| table.clone());
    let cache = Cache::from_lookup(Some(&sdk), lookup).await.unwrap();

    let web = ServerProviderKey {
        server_name: "web-1".into(),
    };
    let provider = cache
        .server_provider()
        .wrap(&web, || async {
            Ok::<_, BoxError>(ServerProvider {
                provider: "hetzner".into(),
            })
        })
        .await
        .unwrap();
    assert_eq!(provider.provider, "hetzner");
    // A name holding the internal marker and separators is escaped, never an internal key.
    let forged = ServerProviderKey {
        server_name: "!t#server-provider".into(),
    };
    cache
        .server_provider()
        .set(
            &forged,
            &ServerProvider {
                provider: "ovh".into(),
            },
        )
        .await
        .unwrap();

    let item = client
        .get_item()
        .table_name(&table)
        .key("server_name", AttributeValue::S("web-1".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the item is stored under the server's name");
    assert!(item.contains_key("value"));
    assert_eq!(
        partition_keys(&client, &table, "server_name").await,
        ["%21t%23server-provider", "web-1"]
    );
    let fresh = Cache::from_lookup(Some(&sdk), lookup).await.unwrap();
    assert_eq!(
        fresh.server_provider().get(&forged).await.unwrap(),
        Some(ServerProvider {
            provider: "ovh".into()
        })
    );
}

// The test uses the keys of this module only.
#[allow(dead_code)]
mod templates {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

#[test]
fn keys_take_their_parameters_defaults_when_callers_omit_them() {
    use cachegen_runtime::typed::DataType;
    use templates::{FileKey, FileType, RecordKey};
    let record = RecordKey::new("acme", 5);
    assert_eq!((record.flag, record.delta), (true, -1));
    assert_eq!(
        <templates::RecordType as DataType>::key(&record),
        "rec:acme/5#true|-1@record"
    );
    assert_eq!(FileType::key(&FileKey::new("ann")), "file#ann#7");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_cache_keys_region_wide_ec2_data_with_the_global_account() {
    use drs_orchestration_cache::{Cache, Ec2InstanceTypes, Ec2InstanceTypesKey, query_cache};
    let moto = shared_moto_endpoint().unwrap();
    let sdk = moto_sdk(moto.url()).await;
    let (client, table) = moto_table(&sdk, query_cache::PARTITION_KEY).await;
    let lookup = |name: &str| (name == query_cache::ENV_VAR).then(|| table.clone());
    let cache = Cache::from_lookup(Some(&sdk), lookup).await.unwrap();

    let types = |call: &str| Ec2InstanceTypes {
        instance_types: vec![serde_json::json!({ "call": call })],
    };
    let global = Ec2InstanceTypesKey::new("us-east-1");
    assert_eq!(global.account_id, "global");
    cache
        .ec2_instance_types()
        .set(&global, &types("global"))
        .await
        .unwrap();
    let account = Ec2InstanceTypesKey {
        account_id: "438465159935".into(),
        ..Ec2InstanceTypesKey::new("us-east-1")
    };
    cache
        .ec2_instance_types()
        .set(&account, &types("account"))
        .await
        .unwrap();

    assert_eq!(
        partition_keys(&client, &table, "cacheKey").await,
        [
            "ec2-instance-types#us-east-1#438465159935",
            "ec2-instance-types#us-east-1#global"
        ]
    );
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "cacheKey",
            AttributeValue::S("ec2-instance-types#us-east-1#global".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["accountId"].as_s().unwrap(), "global");
    let fresh = Cache::from_lookup(Some(&sdk), lookup).await.unwrap();
    assert_eq!(
        fresh.ec2_instance_types().get(&global).await.unwrap(),
        Some(types("global"))
    );
}

/// When the item at `key` in Redis expires (its `e` field), in ms from now.
async fn redis_expiry_from_now(url: &str, key: &str) -> i64 {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let expires_at_ms: i64 = redis::cmd("HGET")
        .arg(key)
        .arg("e")
        .query_async(&mut conn)
        .await
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    expires_at_ms - i64::try_from(now_ms).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discord_ttl_env_var_sets_the_ttl_written_to_redis() {
    use discord_bot_cache::{Cache, UserGuilds, UserGuildsKey};
    const VAR: &str = "CACHE_DISCORD_USER_GUILDS_TTL";
    let redis = cachegen_testkit::shared_redis_url().unwrap();
    let prefix = format!("{}:", unique_name("discord-ttl"));
    let connect = |ttl: Option<&'static str>| {
        let (redis, prefix) = (redis.url().to_owned(), prefix.clone());
        Cache::from_lookup(move |name: &str| match name {
            "REDIS_URL" => Some(redis.clone()),
            "CACHE_KEY_PREFIX" => Some(prefix.clone()),
            VAR => ttl.map(str::to_owned),
            _ => None,
        })
    };
    let guilds = UserGuilds {
        guilds: vec![serde_json::json!({ "id": "g1" })],
    };
    let user = |name: &str| UserGuildsKey {
        user_key: name.into(),
    };

    // The spec's 60 s, then the override's 2 h, on the item Redis holds.
    let spec = connect(None).await.unwrap();
    assert_eq!(spec.user_guilds().ttl().as_secs(), 60);
    spec.user_guilds().set(&user("a"), &guilds).await.unwrap();
    let left = redis_expiry_from_now(redis.url(), &format!("{prefix}discord:userGuilds:a")).await;
    assert!(left > 0 && left <= 60_000, "{left} ms");

    let tuned = connect(Some("2h")).await.unwrap();
    assert_eq!(tuned.user_guilds().ttl().as_secs(), 7200);
    // Only the type the variable names: the others keep the spec's TTLs.
    assert_eq!(tuned.guild_roles().ttl().as_secs(), 60);
    tuned.user_guilds().set(&user("b"), &guilds).await.unwrap();
    let left = redis_expiry_from_now(redis.url(), &format!("{prefix}discord:userGuilds:b")).await;
    assert!(left > 3_600_000 && left <= 7_200_000, "{left} ms");
    assert_eq!(
        tuned.user_guilds().get(&user("b")).await.unwrap(),
        Some(guilds)
    );

    // A bad value fails construction, naming the variable; it never falls back.
    for bad in ["two hours", "0s", "1500ms"] {
        let err = connect(Some(bad)).await.unwrap_err().to_string();
        assert!(err.contains(&format!("invalid {VAR}=")), "{err}");
    }
}
