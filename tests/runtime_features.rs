//! Each example's generated crate (and Lambda) pulls in only its store's crates: `cargo
//! tree` of a Redis-only crate names no AWS SDK, of a DynamoDB-only one no Redis client, and
//! S3 only where the spec keeps documents or large values there.

use std::collections::BTreeSet;
use std::process::Command;

/// The packages in `package`'s normal dependency tree, by name.
fn dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn has(tree: &BTreeSet<String>, prefix: &str) -> Vec<String> {
    tree.iter()
        .filter(|name| name.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn redis_only_crates_have_no_aws_sdk() {
    for package in ["discord-bot-cache", "sessions-api-cache"] {
        let tree = dependencies(package);
        assert!(tree.contains("redis"), "{package} uses Redis: {tree:?}");
        for aws in ["aws-", "aws_lambda_events", "zstd"] {
            assert_eq!(has(&tree, aws), Vec::<String>::new(), "{package}");
        }
    }
}

#[test]
fn dynamodb_only_crates_have_no_redis_and_s3_only_where_the_spec_uses_it() {
    for package in [
        "drs-orchestration-cache",
        "drs-query-lambda",
        "glasswork-app-cache",
        "telegram-vps-bot-cache",
    ] {
        let tree = dependencies(package);
        assert!(tree.contains("aws-sdk-dynamodb"), "{package}: {tree:?}");
        for absent in ["redis", "aws-sdk-s3", "aws_lambda_events"] {
            assert_eq!(has(&tree, absent), Vec::<String>::new(), "{package}");
        }
    }
    // Documents in S3, synced from S3 events, with large values over the item limit.
    for package in ["change-notifier-cache", "change-sync-lambda"] {
        let tree = dependencies(package);
        for present in ["aws-sdk-dynamodb", "aws-sdk-s3", "aws_lambda_events"] {
            assert!(tree.contains(present), "{package} lacks {present}");
        }
        assert_eq!(has(&tree, "redis"), Vec::<String>::new(), "{package}");
    }
}
