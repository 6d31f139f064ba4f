//! The schema version follows the value type: two builds of one spec, before and after a
//! value change that old entries would still decode as (a new optional field), share a
//! Redis store as old and new Lambdas do during a deploy. Each reads what the other wrote
//! as a miss, never as an error or a value of the wrong shape, and calls its origin.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachegen_runtime::BoxError;
use cachegen_testkit::shared_redis_url;

#[allow(dead_code)]
mod v1 {
    include!(concat!(env!("OUT_DIR"), "/shape_v1.rs"));
}

#[allow(dead_code)]
mod v2 {
    include!(concat!(env!("OUT_DIR"), "/shape_v2.rs"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_of_the_old_value_shape_reads_as_a_miss() {
    assert_ne!(v1::cache::SCHEMA_VERSION, v2::cache::SCHEMA_VERSION);
    let redis = shared_redis_url().unwrap();
    let prefix = cachegen_testkit::unique_name("shape");
    let lookup = |name: &str| match name {
        "REDIS_URL" => Some(redis.url().to_owned()),
        "CACHE_KEY_PREFIX" => Some(format!("{prefix}:")),
        _ => None,
    };
    let old = v1::Cache::from_lookup(None, lookup).await.unwrap();
    let new = v2::Cache::from_lookup(None, lookup).await.unwrap();
    let calls = AtomicUsize::new(0);

    let key = v1::ProfileKey { id: "ada".into() };
    let written = v1::Profile {
        name: "Ada".into(),
        visits: 3,
    };
    old.profile().set(&key, &written).await.unwrap();
    let fresh_old = v1::Cache::from_lookup(None, lookup).await.unwrap();
    assert_eq!(
        fresh_old.profile().get(&key).await.unwrap(),
        Some(written.clone()),
        "the same version reads its own entry"
    );

    let key = v2::ProfileKey { id: "ada".into() };
    assert_eq!(new.profile().get(&key).await.unwrap(), None);
    let value = new
        .profile()
        .wrap(&key, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, BoxError>(v2::Profile {
                name: "Ada".into(),
                visits: 4,
                plan: Some("pro".into()),
            })
        })
        .await
        .unwrap();
    assert_eq!(
        (value.plan.as_deref(), calls.load(Ordering::SeqCst)),
        (Some("pro"), 1)
    );

    // The new entry replaced the old one; the old code reads it as a miss in turn.
    let older = v1::Cache::from_lookup(None, lookup).await.unwrap();
    assert_eq!(
        older
            .profile()
            .get(&v1::ProfileKey { id: "ada".into() })
            .await
            .unwrap(),
        None
    );
}
