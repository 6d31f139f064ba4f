//! `cachegen build` on large specs: 500 and 5,000 data types over 20 tables, parsed,
//! validated, checked against AWS's limits and emitted for every target, in the same run;
//! the 5,000-type build must cost at most 12 times the 500-type one (near-linear).
//!
//! Both specs are checked for the Terraform and Rust targets: the 5,000-type
//! CloudFormation template (8.3 MB) is over CloudFormation's 1 MB limit, so a build
//! of it for CloudFormation is refused. CloudFormation and SAM are still emitted, so every
//! emitter is measured.

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cachegen_compiler::compile_for;
use cachegen_compiler::diagnostics::SourceFile;
use cachegen_compiler::emit;
use cachegen_compiler::ir::Target;
use criterion::{Criterion, criterion_group, criterion_main};

const TABLES: usize = 20;

/// Every target `build` can write.
const EVERY_TARGET: [Target; 4] = [
    Target::Cloudformation,
    Target::Sam,
    Target::Terraform,
    Target::Rust,
];

/// A spec of `types` data types spread over [`TABLES`] tables, with every feature in use:
/// parameters, GSIs, typed keys, inline values, index attributes, tags, consumers with
/// wildcard access, and alarms.
fn large_spec(types: usize) -> String {
    let mut spec = String::from(
        "version: 1\nservice: bench\nparameters:\n  env: { default: dev, allowed: [dev, prod] }\n\
         defaults:\n  memory_ttl: 1m\n  tags: { Team: platform, Environment: \"${env}\" }\ntables:\n",
    );
    for table in 0..TABLES {
        write!(
            spec,
            "  table-{table}:\n    name: \"${{service}}-t{table}-${{env}}\"\n    indexes:\n\
             \x20     by-type:\n        partition_key: {{ name: dataType }}\n        sort_key: {{ name: createdAt, type: N }}\n\
             \x20     by-owner:\n        partition_key: {{ name: owner }}\n        sort_key: {{ name: updatedAt, type: N }}\n        projection: keys_only\n"
        )
        .unwrap();
    }
    spec.push_str("data_types:\n");
    for kind in 0..types / TABLES {
        for table in 0..TABLES {
            write!(
                spec,
                "  t{table}-type{kind}:\n    table: table-{table}\n    key: \"t{table}k{kind}#{{region}}#{{id}}\"\n\
                 \x20   params: {{ region: string, id: u64 }}\n\
                 \x20   value: {{ fields: {{ owner: string, updated_at: i64, items: list<json>, note: option<string> }} }}\n\
                 \x20   ttl: {}m\n    attributes: {{ dataType: \"{{data_type}}\", owner: \"{{value.owner}}\", updatedAt: \"{{value.updated_at}}\" }}\n\
                 \x20   tags: [\"region:{{region}}\", \"item:{{id}}\"]\n    invalidate_by: by-type\n",
                5 + kind % 60
            )
            .unwrap();
        }
    }
    spec.push_str("consumers:\n");
    for consumer in 0..10 {
        writeln!(
            spec,
            "  consumer-{consumer}:\n    access: {{ \"*\": [read, write, invalidate, query] }}"
        )
        .unwrap();
    }
    spec.push_str(
        "alarms:\n  hit-rate: { metric: hit_rate, threshold: 0.8 }\n  latency: { metric: latency, threshold: 250ms }\n\
         \x20 errors: { metric: store_errors, threshold: 0 }\n  throttles: { metric: throttles, table: table-0, threshold: 0 }\n",
    );
    spec
}

/// What `cachegen build --target terraform,rust` does, and the CloudFormation and SAM
/// emitters too; returns the bytes emitted.
fn build(text: &str) -> usize {
    let file = SourceFile::new("bench.yaml", text);
    let model = compile_for(&file, Some(&[Target::Terraform, Target::Rust]))
        .unwrap_or_else(|err| panic!("{err}"));
    emit::generate(&model, "bench.yaml", Some(&EVERY_TARGET))
        .iter()
        .map(|file| file.contents.len())
        .sum()
}

/// The CPU time this thread has used: unlike the wall clock, it does not count the time
/// other processes on the machine had the cores.
fn thread_cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec for the call to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "the thread CPU clock is readable");
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// One build of `text`: its wall-clock and CPU time.
fn timed(text: &str) -> (Duration, Duration) {
    let (wall, cpu) = (Instant::now(), thread_cpu_time());
    black_box(build(black_box(text)));
    (wall.elapsed(), thread_cpu_time() - cpu)
}

/// The medians (wall clock, CPU time) of `samples` builds of each spec, the two
/// alternating so that a change of load on the machine weighs on both alike.
fn paired_medians(small: &str, large: &str, samples: usize) -> [(Duration, Duration); 2] {
    let mut times: [Vec<(Duration, Duration)>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..samples {
        times[0].push(timed(small));
        times[1].push(timed(large));
    }
    times.map(|times| {
        let median = |pick: fn(&(Duration, Duration)) -> Duration| {
            let mut picked: Vec<Duration> = times.iter().map(pick).collect();
            picked.sort();
            picked[picked.len() / 2]
        };
        (median(|time| time.0), median(|time| time.1))
    })
}

fn bench_build(c: &mut Criterion) {
    let small = large_spec(500);
    let large = large_spec(5_000);
    for (text, types) in [(&small, 500), (&large, 5_000)] {
        let model = compile_for(
            &SourceFile::new("bench.yaml", text),
            Some(&[Target::Terraform]),
        )
        .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            (model.tables.len(), model.data_types.len()),
            (TABLES, types)
        );
    }

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("500 data types over 20 tables", |b| {
        b.iter(|| build(black_box(&small)))
    });
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("5,000 data types over 20 tables", |b| {
        b.iter(|| build(black_box(&large)))
    });
    group.finish();

    let [small_median, large_median] = paired_medians(&small, &large, 11);
    let ratio = |pick: fn(&(Duration, Duration)) -> Duration| {
        pick(&large_median).as_secs_f64() / pick(&small_median).as_secs_f64()
    };
    println!(
        "paired medians of 11 alternating builds each (target: 5,000 types at most 12x 500):\n\
         \x20 wall clock: 500 types {:.2?}, 5,000 types {:.2?}, ratio {:.2}x\n\
         \x20 CPU time:   500 types {:.2?}, 5,000 types {:.2?}, ratio {:.2}x",
        small_median.0,
        large_median.0,
        ratio(|time| time.0),
        small_median.1,
        large_median.1,
        ratio(|time| time.1),
    );
}

criterion_group!(benches, bench_build);
criterion_main!(benches);
