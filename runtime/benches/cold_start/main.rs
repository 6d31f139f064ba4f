//! Cold start: from process start to the first answered lookup, cachegen against bare.
//!
//! Each run is a whole process of this bench binary (the same binary for both, so the
//! same size and start-up), which runs one path of [`paths`] and exits:
//! - cachegen: `Cache::from_env` as a generated crate has it, plus one lookup the store
//!   answers;
//! - bare: `aws_config::load_defaults`, a DynamoDB client, one `GetItem`.
//!
//! Both read one item seeded in moto. Runs alternate (cachegen, bare, bare, cachegen, ...)
//! and each pair gives a ratio, so drift in the machine's speed hits both sides; printed
//! are each side's median wall time and the median, min and max of the paired ratios.
//!
//! Run (moto from `CACHEGEN_TEST_DYNAMODB_ENDPOINT`, else a private one;
//! `COLD_START_PAIRS`, default 40):
//! `cargo bench -p cachegen-runtime --bench cold_start`.

mod paths;

use std::process::Command;
use std::time::{Duration, Instant};

use cachegen_runtime::config::TABLE_NAME_ENV;
use cachegen_testkit::{shared_moto_endpoint, unique_name};

/// Which path a child run takes (`bare`, `cachegen`, or `seed`).
const PATH_ENV: &str = "COLD_START_PATH";

fn main() {
    match std::env::var(PATH_ENV) {
        Ok(path) => run_path(&path),
        Err(_) => compare(),
    }
}

/// A child run: one path, then exit (status 0 only if the item was found).
fn run_path(path: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let found = runtime.block_on(async {
        match path {
            "bare" => paths::bare().await,
            "cachegen" => paths::cachegen().await,
            "seed" => {
                let table = std::env::var(TABLE_NAME_ENV)?;
                paths::seed(&table).await.map(|()| true)
            }
            other => Err(format!("unknown path {other}").into()),
        }
    });
    match found {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("{path}: the item was not found");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    }
}

/// One whole child process running `path`: how long from spawn to exit.
fn timed(path: &str, endpoint: &str, table: &str) -> Duration {
    let start = Instant::now();
    let status = Command::new(std::env::current_exe().expect("this bench binary"))
        .env(PATH_ENV, path)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(TABLE_NAME_ENV, table)
        .status()
        .expect("a child process");
    let elapsed = start.elapsed();
    assert!(status.success(), "{path} run failed: {status}");
    elapsed
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn compare() {
    // `cargo bench` passes `--bench`; a filter that names nothing here skips the run.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    if filter.is_some_and(|f| !"cold_start".contains(&f)) {
        return;
    }
    let pairs: usize = std::env::var("COLD_START_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let moto = shared_moto_endpoint().expect("moto");
    let table = unique_name("cold-start");
    timed("seed", moto.url(), &table);
    // One of each first, not counted: the binary and moto warm up.
    timed("cachegen", moto.url(), &table);
    timed("bare", moto.url(), &table);

    let (mut cachegen, mut bare, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..pairs {
        // Alternate which goes first, so neither always follows the other.
        let (c, b) = if pair.is_multiple_of(2) {
            let c = timed("cachegen", moto.url(), &table);
            (c, timed("bare", moto.url(), &table))
        } else {
            let b = timed("bare", moto.url(), &table);
            (timed("cachegen", moto.url(), &table), b)
        };
        let (c, b) = (c.as_secs_f64() * 1e3, b.as_secs_f64() * 1e3);
        cachegen.push(c);
        bare.push(b);
        ratios.push(c / b);
    }
    let (min, max) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!("cold start, process start to the first answered lookup, {pairs} pairs:");
    println!(
        "  cachegen (Cache::from_env + one store hit): median {:.1} ms",
        median(&mut cachegen)
    );
    println!(
        "  bare (aws_config + DynamoDB client + GetItem): median {:.1} ms",
        median(&mut bare)
    );
    println!(
        "  cachegen / bare, paired: median {:.3} (min {min:.3}, max {max:.3})",
        median(&mut ratios)
    );
}
