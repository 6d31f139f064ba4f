//! A bucket that only holds the bodies of large values: the generated module has no
//! document sync, whose `s3` argument would go unread (a warning in users' crates, an
//! error under `-D warnings`; found by the conformance harness).

mod support;

use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;
use cachegen_testkit::workspace_root;
use support::compile;

const SPEC: &str = r#"version: 1
service: demo
buckets:
  bodies: { name: demo-bodies }
tables:
  cache:
    name: demo-cache
    overflow_bucket: bodies
data_types:
  user:
    key: "user#{id}"
    params: { id: string }
    value: { fields: { name: string } }
    ttl: 5m
    large_values: true
consumers:
  api:
    access: { user: [read, write] }
"#;

#[test]
fn an_overflow_only_bucket_gives_no_document_sync() {
    let project = Project {
        spec_path: workspace_root().join("spec.yaml"),
        model: compile(SPEC),
    };
    let lib = support::file(&project, Target::Rust, "rust/src/lib.rs");
    assert!(lib.contains("with_overflow_bucket"), "{lib}");
    assert!(!lib.contains("sync_documents"), "{lib}");
}
