//! Runtime benchmarks, each against the bare alternative in the same run.
//!
//! - `l1_hit`: `TieredCache::get` on L1 vs bare `moka::future::Cache::get`, 1,000 keys,
//!   with the structures considered for the L1 side by side (moka future with per-entry
//!   expiry, moka sync, quick_cache sync).
//! - `dynamo_hit`: `TieredCache::get` (L1 off) vs a raw strongly consistent `GetItem`,
//!   same moto server.
//! - `redis_hit`: `TieredCache::get` (L1 off) vs a raw `GET` plus JSON decode of the same
//!   value, on one `redis-server` (`CACHEGEN_TEST_REDIS_URL`, or one it starts) and on the
//!   Redis Cluster at `CACHEGEN_TEST_REDIS_CLUSTER_URLS` when that is set.
//! - `stampede`: 1,000 concurrent `wrap` misses on one key; prints origin calls.
//!
//! Run: `cargo bench -p cachegen-runtime --bench runtime` (`-- redis_hit` for one group).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use cachegen_runtime::config::MemoryLimit;
use cachegen_runtime::metrics::CaptureSink;
use cachegen_runtime::store::{CacheStore, DynamoLayout, DynamoStore, RedisStore};
use cachegen_runtime::{BoxError, TieredCache};
use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

const KEYS: usize = 1_000;
const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: String,
}

fn user(id: u64) -> User {
    User {
        id,
        name: format!("user {id}"),
        email: format!("user{id}@example.com"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A cache whose metrics go nowhere visible (bench output stays readable).
fn quiet() -> cachegen_runtime::TieredCacheBuilder {
    TieredCache::builder().metrics_sink(Arc::new(CaptureSink::default()))
}

/// The same per-entry expiry policy the runtime's L1 uses, for reference.
struct PerEntry;

impl moka::Expiry<String, User> for PerEntry {
    fn expire_after_create(&self, _: &String, _: &User, _: Instant) -> Option<Duration> {
        Some(60 * MINUTE)
    }
}

fn l1_hit(c: &mut Criterion) {
    let rt = runtime();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("user#{i}")).collect();
    let bare: moka::future::Cache<String, User> =
        moka::future::Cache::builder().max_capacity(10_000).build();
    let timed: moka::future::Cache<String, User> = moka::future::Cache::builder()
        .max_capacity(10_000)
        .weigher(|_: &String, _: &User| 1)
        .expire_after(PerEntry)
        .build();
    let moka_sync: moka::sync::Cache<String, User> =
        moka::sync::Cache::builder().max_capacity(10_000).build();
    let quick: quick_cache::sync::Cache<String, User> = quick_cache::sync::Cache::new(10_000);
    let cache = quiet().memory(MemoryLimit::entries(10_000)).build();
    rt.block_on(async {
        for (i, k) in keys.iter().enumerate() {
            bare.insert(k.clone(), user(i as u64)).await;
            timed.insert(k.clone(), user(i as u64)).await;
            moka_sync.insert(k.clone(), user(i as u64));
            quick.insert(k.clone(), user(i as u64));
            cache.set(k, &user(i as u64), 60 * MINUTE).await.unwrap();
        }
    });
    let bare_pass = || async {
        for k in &keys {
            black_box(bare.get(k.as_str()).await.unwrap());
        }
    };
    let timed_pass = || async {
        for k in &keys {
            black_box(timed.get(k.as_str()).await.unwrap());
        }
    };
    let moka_sync_pass = || async {
        for k in &keys {
            black_box(moka_sync.get(k.as_str()).unwrap());
        }
    };
    let quick_pass = || async {
        for k in &keys {
            black_box(quick.get(k.as_str()).unwrap());
        }
    };
    let tiered_pass = || async {
        for k in &keys {
            black_box(cache.get::<User>(k).await.unwrap().unwrap());
        }
    };
    // Warm, back-to-back runs of each variant (criterion's usual way).
    let mut g = c.benchmark_group("l1_hit");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    g.bench_function("bare_moka_future_get_1000_keys", |b| {
        b.to_async(&rt).iter(bare_pass)
    });
    g.bench_function("moka_future_with_expiry_get_1000_keys", |b| {
        b.to_async(&rt).iter(timed_pass)
    });
    g.bench_function("moka_sync_get_1000_keys", |b| {
        b.to_async(&rt).iter(moka_sync_pass)
    });
    g.bench_function("quick_cache_sync_get_1000_keys", |b| {
        b.to_async(&rt).iter(quick_pass)
    });
    g.bench_function("tiered_get_1000_keys", |b| {
        b.to_async(&rt).iter(tiered_pass)
    });
    g.finish();
    // Then alternating passes, whose medians a load change cannot skew: each candidate's
    // pass follows a pass of the baseline, bare moka future.
    let mut samples: [Vec<Duration>; 5] = Default::default();
    rt.block_on(async {
        for _ in 0..PAIRED_PASSES {
            let start = Instant::now();
            bare_pass().await;
            samples[0].push(start.elapsed());
            let start = Instant::now();
            moka_sync_pass().await;
            samples[1].push(start.elapsed());
            let start = Instant::now();
            quick_pass().await;
            samples[2].push(start.elapsed());
            let start = Instant::now();
            timed_pass().await;
            samples[3].push(start.elapsed());
            let start = Instant::now();
            tiered_pass().await;
            samples[4].push(start.elapsed());
        }
    });
    let [bare_us, moka_sync_us, quick_us, timed_us, tiered_us] =
        samples.map(|s| median_ms(s) * 1000.0);
    println!(
        "l1_hit paired medians over {PAIRED_PASSES} passes of 1,000 gets (ratio to bare moka future {bare_us:.1} µs): \
         moka sync {:.3}, quick_cache sync {:.3}, moka future with expiry {:.3}, tiered {:.3} ({tiered_us:.1} µs)",
        moka_sync_us / bare_us,
        quick_us / bare_us,
        timed_us / bare_us,
        tiered_us / bare_us,
    );
}

fn dynamo_hit(c: &mut Criterion) {
    let rt = runtime();
    let server = cachegen_testkit::shared_moto_endpoint().expect("moto_server");
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .endpoint_url(server.url())
        .build();
    let client = Client::from_conf(conf);
    let table = cachegen_testkit::unique_name("bench");
    let cache = quiet()
        .memory(MemoryLimit::entries(0))
        .store(Arc::new(DynamoStore::new(
            client.clone(),
            &table,
            DynamoLayout::default(),
        )))
        .store_timeout(Duration::from_secs(5))
        .build();
    rt.block_on(async {
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        cache.set("user#1", &user(1), 60 * MINUTE).await.unwrap();
    });
    let raw = || async {
        let out = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("user#1".into()))
            // As the runtime reads: strongly consistent, so a delete is seen at once.
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        black_box(out.item.unwrap());
    };
    let tiered = || async {
        black_box(cache.get::<User>("user#1").await.unwrap().unwrap());
    };
    paired(c, &rt, "dynamo_hit", "raw_get_item", raw, tiered);
}

fn redis_hit(c: &mut Criterion) {
    let rt = runtime();
    let node = cachegen_testkit::shared_redis_url().expect("redis-server");
    let (store, conn) = rt.block_on(async {
        let client = redis::Client::open(node.url()).unwrap();
        let conn = client.get_multiplexed_async_connection().await.unwrap();
        (RedisStore::connect(node.url()).await.unwrap(), conn)
    });
    redis_hit_on(c, &rt, "redis_hit", store, conn);
    let Some(urls) = std::env::var("CACHEGEN_TEST_REDIS_CLUSTER_URLS")
        .ok()
        .filter(|urls| !urls.trim().is_empty())
    else {
        println!("redis_cluster_hit skipped: CACHEGEN_TEST_REDIS_CLUSTER_URLS is unset");
        return;
    };
    let urls: Vec<&str> = urls.split(',').map(str::trim).collect();
    let (store, conn) = rt.block_on(async {
        let client = redis::cluster::ClusterClient::new(urls.clone()).unwrap();
        let conn = client.get_async_connection().await.unwrap();
        (RedisStore::connect_cluster(&urls).unwrap(), conn)
    });
    redis_hit_on(c, &rt, "redis_cluster_hit", store, conn);
}

/// `TieredCache::get` on `store` (L1 off) against a raw `GET` of the same `User`'s JSON on
/// `conn`, and its decode. Both clone their connection per call.
fn redis_hit_on<C>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    store: RedisStore,
    conn: C,
) where
    C: redis::aio::ConnectionLike + Clone + Send,
{
    let prefix = format!("{}:", cachegen_testkit::unique_name("bench"));
    // The raw key's hash tag is the cache key, so on a cluster both live on one node.
    let (cache_key, raw_key) = ("user#1", format!("{{{prefix}user#1}}raw"));
    let store = Arc::new(store);
    let cache = quiet()
        .memory(MemoryLimit::entries(0))
        .store(store.clone())
        .key_prefix(&prefix)
        .store_timeout(Duration::from_secs(5))
        .build();
    rt.block_on(async {
        cache.set(cache_key, &user(1), 60 * MINUTE).await.unwrap();
        let json = serde_json::to_vec(&user(1)).unwrap();
        let _: () = redis::cmd("SET")
            .arg(&raw_key)
            .arg(json)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
    });
    let raw = || async {
        let bytes: Vec<u8> = redis::cmd("GET")
            .arg(&raw_key)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        black_box(serde_json::from_slice::<User>(&bytes).unwrap());
    };
    let tiered = || async {
        black_box(cache.get::<User>(cache_key).await.unwrap().unwrap());
    };
    paired(c, rt, group, "raw_get_and_decode", raw, tiered);
    // Where the time goes: the same read as a raw HMGET on the raw connection, and as a
    // bare store read (its connection, the reply made a slot), no decode.
    let store_key = format!("{prefix}{cache_key}");
    let raw_hmget = || async {
        let fields: redis::Value = redis::cmd("HMGET")
            .arg(&store_key)
            .arg(&["v", "d", "e", "lh", "le"])
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        black_box(fields);
    };
    print_medians(rt, group, "raw HMGET", &raw, &raw_hmget);
    let store_read = || async {
        black_box(store.read(&store_key).await.unwrap().value.unwrap());
    };
    print_medians(rt, group, "RedisStore::read", &raw, &store_read);
}

/// Criterion groups for `raw` and `tiered`, then their paired medians, printed as a ratio.
/// Each criterion iteration makes both calls, alternating, and times only its own: drift in
/// the server's speed hits both equally. The medians of single calls, alternating, are
/// robust to the server's pauses, which skew the means of the samples on a loaded machine.
fn paired<R, RF, T, TF>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group: &str,
    raw_name: &str,
    raw: R,
    tiered: T,
) where
    R: Fn() -> RF,
    RF: Future<Output = ()>,
    T: Fn() -> TF,
    TF: Future<Output = ()>,
{
    let mut g = c.benchmark_group(group);
    g.sample_size(40).measurement_time(Duration::from_secs(6));
    g.bench_function(raw_name, |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (raw, tiered) = (&raw, &tiered);
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    raw().await;
                    timed += start.elapsed();
                    tiered().await;
                }
                timed
            }
        })
    });
    g.bench_function("tiered_get_l1_off", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (raw, tiered) = (&raw, &tiered);
            async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    raw().await;
                    let start = Instant::now();
                    tiered().await;
                    timed += start.elapsed();
                }
                timed
            }
        })
    });
    g.finish();
    print_medians(rt, group, "tiered", &raw, &tiered);
}

/// Prints the medians of `PAIRED_CALLS` single calls of `raw` and `other`, alternating, and
/// their ratio.
fn print_medians<R, RF, T, TF>(
    rt: &tokio::runtime::Runtime,
    group: &str,
    other_name: &str,
    raw: &R,
    other: &T,
) where
    R: Fn() -> RF,
    RF: Future<Output = ()>,
    T: Fn() -> TF,
    TF: Future<Output = ()>,
{
    let (mut raws, mut others) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..PAIRED_CALLS {
            let start = Instant::now();
            raw().await;
            raws.push(start.elapsed());
            let start = Instant::now();
            other().await;
            others.push(start.elapsed());
        }
    });
    let (raw_ms, other_ms) = (median_ms(raws), median_ms(others));
    println!(
        "{group} paired medians over {PAIRED_CALLS} calls each: raw {:.1} µs, {other_name} {:.1} µs, ratio {:.3}",
        raw_ms * 1000.0,
        other_ms * 1000.0,
        other_ms / raw_ms
    );
}

const PAIRED_CALLS: usize = 1_000;
const PAIRED_PASSES: usize = 2_000;

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort_unstable();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn stampede(c: &mut Criterion) {
    let rt = runtime();
    let cache = quiet().build();
    let calls = Arc::new(AtomicUsize::new(0));
    let rounds = Arc::new(AtomicUsize::new(0));
    let mut g = c.benchmark_group("stampede");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("1000_concurrent_misses_one_key", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (cache, calls, rounds) = (cache.clone(), calls.clone(), rounds.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let key = format!("hot#{}", rounds.fetch_add(1, Ordering::SeqCst));
                    let tasks: Vec<_> = (0..1000)
                        .map(|_| {
                            let (cache, calls, key) = (cache.clone(), calls.clone(), key.clone());
                            tokio::spawn(async move {
                                cache
                                    .wrap(&key, MINUTE, || async move {
                                        calls.fetch_add(1, Ordering::SeqCst);
                                        tokio::time::sleep(Duration::from_millis(5)).await;
                                        Ok::<_, BoxError>(user(7))
                                    })
                                    .await
                                    .unwrap()
                            })
                        })
                        .collect();
                    for t in tasks {
                        black_box(t.await.unwrap());
                    }
                }
                start.elapsed()
            }
        })
    });
    g.finish();
    let (calls, rounds) = (calls.load(Ordering::SeqCst), rounds.load(Ordering::SeqCst));
    if rounds == 0 {
        return; // filtered out
    }
    println!(
        "stampede: {rounds} rounds of 1,000 concurrent misses, {calls} origin calls ({} per round)",
        calls as f64 / rounds as f64
    );
    assert_eq!(calls, rounds, "exactly one origin call per stampede");
}

criterion_group!(benches, l1_hit, dynamo_hit, redis_hit, stampede);
criterion_main!(benches);
