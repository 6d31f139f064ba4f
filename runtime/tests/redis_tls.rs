//! `rediss://` against a TLS-only redis-server with a throwaway CA.
//!
//! Run: `cargo test -p cachegen-runtime --test redis_tls` (needs `openssl`).

use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::store::RedisStore;
use cachegen_runtime::{BoxError, TieredCache};
use cachegen_testkit::{TestServer, TlsFiles, unique_name};

#[tokio::test]
async fn round_trip_over_tls() {
    let dir = std::env::temp_dir().join(unique_name("cachegen-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    let tls = TlsFiles::generate(&dir).expect("openssl");
    let server = TestServer::redis_tls(tls.clone()).expect("redis-server with TLS");
    assert!(server.url().starts_with("rediss://"));
    let client = redis::Client::build_with_tls(
        server.url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(&tls.ca_cert).unwrap()),
        },
    )
    .unwrap();
    let store = RedisStore::from_client(client, RedisStore::default_config()).unwrap();
    let cache = TieredCache::builder()
        .store(Arc::new(store))
        .memory(cachegen_runtime::config::MemoryLimit::entries(0))
        .strict(true)
        .build();
    cache
        .set("k", &42u32, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(42));
    let v = cache
        .wrap("k", Duration::from_secs(60), || async {
            Err::<u32, BoxError>("origin must not run".into())
        })
        .await
        .unwrap();
    assert_eq!(v, 42);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
