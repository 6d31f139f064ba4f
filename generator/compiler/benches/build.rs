//! `cachegen build` on a large spec: 500 data types over 20 tables, parsed, validated
//! and emitted (target: under 100 ms in release mode).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

const TABLES: usize = 20;
const TYPES_PER_TABLE: usize = 25;

/// A spec with every feature in use: parameters, GSIs, typed keys, inline values,
/// index attributes, tags, consumers with wildcard access, and alarms.
fn large_spec() -> String {
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
    for table in 0..TABLES {
        for kind in 0..TYPES_PER_TABLE {
            write!(
                spec,
                "  type-{table}-{kind}:\n    table: table-{table}\n    key: \"t{table}k{kind}#{{region}}#{{id}}\"\n\
                 \x20   params: {{ region: string, id: u64 }}\n\
                 \x20   value: {{ fields: {{ owner: string, updated_at: i64, items: list<json>, note: option<string> }} }}\n\
                 \x20   ttl: {}m\n    attributes: {{ dataType: \"{{data_type}}\", owner: \"{{value.owner}}\", updatedAt: \"{{value.updated_at}}\" }}\n\
                 \x20   tags: [\"region:{{region}}\", \"item:{{id}}\"]\n    invalidate_by: by-type\n",
                5 + kind
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

fn build(text: &str) -> usize {
    let model =
        cachegen_compiler::compile_text("bench.yaml", text).expect("the bench spec is valid");
    cachegen_compiler::emit::generate(&model, "bench.yaml", None)
        .iter()
        .map(|file| file.contents.len())
        .sum()
}

fn bench_build(c: &mut Criterion) {
    let spec = large_spec();
    let model =
        cachegen_compiler::compile_text("bench.yaml", &spec).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        (model.tables.len(), model.data_types.len()),
        (TABLES, TABLES * TYPES_PER_TABLE)
    );

    let mut group = c.benchmark_group("build");
    group.sample_size(20);
    group.bench_function("500 data types over 20 tables", |b| {
        b.iter(|| build(black_box(&spec)))
    });
    group.finish();
}

criterion_group!(benches, bench_build);
criterion_main!(benches);
