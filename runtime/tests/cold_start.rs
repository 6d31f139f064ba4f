//! The cold path makes no more requests than the bare one: each runs in a fresh process
//! of this test binary (`cold_path`, driven through the environment), against moto behind
//! a counting proxy, and each makes exactly one DynamoDB request: the bare path a
//! `GetItem`, the cachegen path (`Cache::from_env` as generated, then a lookup the store
//! answers) a `BatchGetItem` of the item and its type's invalidation stamp. The times
//! are the cold-start bench's (`benches/cold_start`).

#[path = "../benches/cold_start/paths.rs"]
mod paths;

use std::process::Command;

use cachegen_runtime::config::TABLE_NAME_ENV;
use cachegen_testkit::{CountingProxy, shared_moto_endpoint, unique_name};

/// Which path the child process runs (`bare` or `cachegen`).
const PATH_ENV: &str = "COLD_START_PATH";

/// Runs `path` in a fresh process of this binary against `endpoint`, with dummy
/// credentials and a region from the environment, as a Lambda has them; whether it found
/// the item.
fn run_cold(path: &str, endpoint: &str, table: &str) -> bool {
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["cold_path", "--exact", "--ignored", "--nocapture"])
        .env(PATH_ENV, path)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(TABLE_NAME_ENV, table)
        .output()
        .expect("a child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{path}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.contains("found: true")
}

#[test]
fn the_cold_path_makes_the_bare_paths_requests_and_no_more() {
    let moto = shared_moto_endpoint().expect("moto");
    let table = unique_name("cold-start");
    assert!(run_cold("seed", moto.url(), &table), "seeded the table");

    let proxy = CountingProxy::start(moto.url()).expect("a proxy");
    let mut counts = Vec::new();
    for path in ["bare", "cachegen"] {
        proxy.reset();
        assert!(
            run_cold(path, &proxy.endpoint(), &table),
            "{path} found the item"
        );
        let reads = (proxy.count("GetItem"), proxy.count("BatchGetItem"));
        counts.push((path, proxy.total(), reads));
    }
    // The runtime reads the item and its type's invalidation stamp in one BatchGetItem.
    assert_eq!(
        counts,
        [("bare", 1, (1, 0)), ("cachegen", 1, (0, 1))],
        "(path, DynamoDB requests, (GetItem, BatchGetItem))"
    );
}

/// One cold path, in a process of its own: run by the test above, not on its own.
#[test]
#[ignore = "a child process of the_cold_path_makes_the_bare_paths_requests_and_no_more"]
fn cold_path() {
    let path = std::env::var(PATH_ENV).expect("COLD_START_PATH");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let found = runtime
        .block_on(async {
            match path.as_str() {
                "bare" => paths::bare().await,
                "cachegen" => paths::cachegen().await,
                "seed" => {
                    let table = std::env::var(TABLE_NAME_ENV)?;
                    paths::seed(&table).await.map(|()| true)
                }
                other => Err(format!("unknown path {other}").into()),
            }
        })
        .expect("the cold path");
    println!("found: {found}");
}
