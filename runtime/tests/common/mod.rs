//! Shared set-up for the integration tests: stores on real servers.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use cachegen_runtime::clock::ManualClock;
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::CaptureSink;
use cachegen_runtime::store::{
    AttrValue, CacheStore, DynamoLayout, DynamoStore, MemoryStore, RedisStore,
};
use cachegen_runtime::{TieredCache, TieredCacheBuilder};
use cachegen_testkit::{
    SharedServer, TestServer, shared_moto_endpoint, shared_redis_url, unique_name,
};

/// Names the DynamoDB server behind `CACHEGEN_TEST_DYNAMODB_ENDPOINT` (`moto` when unset).
pub(crate) const DYNAMODB_SERVER_ENV: &str = "CACHEGEN_TEST_DYNAMODB_SERVER";

/// Generous store timeout: moto is slow on a loaded 2-core machine.
pub(crate) const TEST_STORE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Memory,
    Dynamo,
    Redis,
    /// The Redis Cluster `scripts/test.sh` starts ([`CLUSTER_URLS_ENV`]).
    RedisCluster,
}

impl Kind {
    /// A Redis store, one node or a cluster.
    pub(crate) fn is_redis(self) -> bool {
        matches!(self, Self::Redis | Self::RedisCluster)
    }
}

/// Env var with the node URLs (comma-separated) of the Redis Cluster `scripts/test.sh`
/// starts.
pub(crate) const CLUSTER_URLS_ENV: &str = "CACHEGEN_TEST_REDIS_CLUSTER_URLS";

/// The test cluster's node URLs. Unset outside CI: `None`, and the test says it is
/// skipped; unset in CI (`CI=true`): a failure, so a cluster test never passes by not
/// running.
pub(crate) fn cluster_urls() -> Option<Vec<String>> {
    match std::env::var(CLUSTER_URLS_ENV) {
        Ok(urls) if !urls.trim().is_empty() => {
            Some(urls.split(',').map(|url| url.trim().to_owned()).collect())
        }
        _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("CI=true but {CLUSTER_URLS_ENV} is unset: scripts/test.sh starts the cluster")
        }
        _ => {
            eprintln!(
                "skipped: {CLUSTER_URLS_ENV} is unset (scripts/test.sh starts a local Redis Cluster)"
            );
            None
        }
    }
}

/// A DynamoDB client for a local endpoint, with dummy credentials.
pub(crate) fn dynamo_client(endpoint: &str) -> Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "cachegen-tests",
        ))
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}

/// An S3 client for a local endpoint, with dummy credentials and path-style addressing
/// (no bucket subdomains on loopback).
pub(crate) fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build(),
    )
}

/// Creates a table keyed by `pk` (S), plus `sk` (S) when `sort_key`.
pub(crate) async fn create_table(client: &Client, table: &str, sort_key: bool) {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr_def("pk", ScalarAttributeType::S))
        .key_schema(key_elem("pk", KeyType::Hash));
    if sort_key {
        req = req
            .attribute_definitions(attr_def("sk", ScalarAttributeType::S))
            .key_schema(key_elem("sk", KeyType::Range));
    }
    req.send().await.expect("create table");
    wait_until_active(client, table).await;
}

/// Waits until `table` is ACTIVE: dynalite (like DynamoDB) creates tables asynchronously.
pub(crate) async fn wait_until_active(client: &Client, table: &str) {
    for _ in 0..200 {
        let described = client.describe_table().table_name(table).send().await;
        if described.is_ok_and(|out| {
            out.table()
                .and_then(|t| t.table_status())
                .is_some_and(|status| *status == aws_sdk_dynamodb::types::TableStatus::Active)
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("table {table} never became active");
}

/// The definition of attribute `name` of type `kind`, for `CreateTable`.
pub(crate) fn attr_def(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .unwrap()
}

/// Attribute `name` as a key of type `kt`, for a key schema.
pub(crate) fn key_elem(name: &str, kt: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kt)
        .build()
        .unwrap()
}

/// The layout the tests use: `pk`, TTL attribute `ttl`, defaults otherwise.
pub(crate) fn layout(sort_key: bool) -> DynamoLayout {
    let b = DynamoLayout::builder("pk").ttl_attribute("ttl");
    if sort_key {
        b.sort_key("sk", AttrValue::S("cache".into())).build()
    } else {
        b.build()
    }
}

/// Keeps a server alive: shared (env) or private.
pub(crate) enum Guard {
    None,
    Shared(SharedServer),
    Private(TestServer),
}

/// One store on one backend, with the clock its expiry decisions use.
pub(crate) struct Harness {
    pub kind: Kind,
    pub store: Arc<dyn CacheStore>,
    pub clock: ManualClock,
    pub prefix: String,
    pub dynamo: Option<(Client, String)>,
    pub guard: Guard,
}

impl Harness {
    /// A store on the shared server of `kind` (private fallback).
    pub(crate) async fn new(kind: Kind) -> Self {
        let guard = match kind {
            Kind::Memory => Guard::None,
            Kind::Dynamo => Guard::Shared(shared_moto_endpoint().expect("moto_server")),
            Kind::Redis => Guard::Shared(shared_redis_url().expect("redis-server")),
            Kind::RedisCluster => Guard::None,
        };
        Self::with_guard(kind, guard).await
    }

    /// A store on a private server that the test may stop.
    pub(crate) async fn private(kind: Kind) -> Self {
        let guard = match kind {
            Kind::Memory => Guard::None,
            Kind::Dynamo => Guard::Private(TestServer::moto().expect("moto_server")),
            Kind::Redis => Guard::Private(TestServer::redis().expect("redis-server")),
            Kind::RedisCluster => panic!("no private Redis Cluster: use the shared one"),
        };
        Self::with_guard(kind, guard).await
    }

    async fn with_guard(kind: Kind, guard: Guard) -> Self {
        let clock = ManualClock::new();
        let url = match &guard {
            Guard::None => String::new(),
            Guard::Shared(s) => s.url().to_owned(),
            Guard::Private(s) => s.url(),
        };
        let mut dynamo = None;
        let store: Arc<dyn CacheStore> = match kind {
            Kind::Memory => Arc::new(
                MemoryStore::new(MemoryLimit::entries(100_000)).with_clock(Arc::new(clock.clone())),
            ),
            Kind::Dynamo => {
                let client = dynamo_client(&url);
                let table = unique_name("cache");
                create_table(&client, &table, false).await;
                dynamo = Some((client.clone(), table.clone()));
                Arc::new(
                    DynamoStore::new(client, table, layout(false))
                        .with_clock(Arc::new(clock.clone())),
                )
            }
            Kind::Redis => Arc::new(RedisStore::connect(&url).await.expect("redis url")),
            Kind::RedisCluster => {
                let urls = cluster_urls().expect("a Redis Cluster (check cluster_urls first)");
                Arc::new(RedisStore::connect_cluster(&urls).expect("cluster urls"))
            }
        };
        Self {
            kind,
            store,
            clock,
            prefix: format!("{}#", unique_name("t")),
            dynamo,
            guard,
        }
    }

    /// Whether the server applies a conditional write atomically, as DynamoDB and Redis do.
    /// moto does not: its DynamoDB backend (5.2) checks a `ConditionExpression` and then
    /// writes, without a lock, on a threaded server, so two concurrent writes conditional on
    /// `attribute_not_exists` can both succeed, and two concurrent `TransactWriteItems`
    /// that raise one counter can both read its old value. dynalite applies them one at a time;
    /// `scripts/test.sh` names it in [`DYNAMODB_SERVER_ENV`] when it runs the suites on it.
    pub(crate) fn atomic_conditional_writes(&self) -> bool {
        self.kind != Kind::Dynamo
            || std::env::var(DYNAMODB_SERVER_ENV).is_ok_and(|server| server == "dynalite")
    }

    /// A cache builder on this store: shared clock and prefix, test timeout, L1 off.
    pub(crate) fn builder(&self) -> TieredCacheBuilder {
        TieredCache::builder()
            .store(self.store.clone())
            .clock(Arc::new(self.clock.clone()))
            .key_prefix(&self.prefix)
            .store_timeout(TEST_STORE_TIMEOUT)
            .memory(MemoryLimit::entries(0))
    }

    /// [`builder`](Self::builder) with metrics captured.
    pub(crate) fn cache_with_sink(&self) -> (TieredCache, Arc<CaptureSink>) {
        let sink = Arc::new(CaptureSink::default());
        (self.builder().metrics_sink(sink.clone()).build(), sink)
    }

    /// The value bytes the store holds at `key` (as a read sees them: expired values are
    /// left out by stores that check expiry against the clock).
    pub(crate) async fn stored(&self, key: &str) -> Option<Vec<u8>> {
        self.store.read(key).await.expect("store read").value
    }

    /// The private server, for stop/start.
    pub(crate) fn server(&mut self) -> &mut TestServer {
        match &mut self.guard {
            Guard::Private(s) => s,
            _ => panic!("not a private server"),
        }
    }
}

/// Sums a metric over captured EMF lines.
pub(crate) fn metric(sink: &CaptureSink, name: &str) -> u64 {
    sink.lines()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("EMF line is JSON");
            v[name].as_u64().unwrap_or(0)
        })
        .sum()
}
