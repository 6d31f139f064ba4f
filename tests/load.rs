//! A short run of `cachegen-load`: real worker processes share moto and Redis; across all
//! of them, one origin call per hot key per TTL, and no caller-visible error.

use std::process::Command;

use cachegen_testkit::{shared_moto_endpoint, shared_redis_url};

fn run(backend: &str, endpoint: &str) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_cachegen-load"))
        .args([
            "--backend",
            backend,
            "--endpoint",
            endpoint,
            "--processes",
            "3",
            "--seconds",
            "4",
        ])
        .output()
        .expect("cachegen-load runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a JSON summary")
}

fn check(summary: &serde_json::Value) {
    assert_eq!(summary["errors"], 0, "{summary:#}");
    let per_key = summary["origin_calls_per_key_per_ttl"].as_f64().unwrap();
    // The windows are counted over the span the workers ran; the margin is for an
    // invalidation landing during a fill, which costs that fill too. Without distributed
    // single-flight each of the three processes fills every key: about 3.
    assert!(per_key <= 1.5, "stampede across processes: {summary:#}");
    // How many lookups a loaded machine manages is for BENCHMARKS.md, not a test.
    assert!(summary["lookups"].as_u64().unwrap() > 0, "{summary:#}");
    for layer in ["memory_hit", "store_hit", "origin_miss"] {
        assert!(
            summary["latency"][layer]["samples"].as_u64().unwrap() > 0,
            "{summary:#}"
        );
    }
}

#[test]
fn processes_sharing_dynamodb() {
    let moto = shared_moto_endpoint().unwrap();
    check(&run("dynamodb", moto.url()));
}

#[test]
fn processes_sharing_redis() {
    let redis = shared_redis_url().unwrap();
    check(&run("redis", redis.url()));
}
