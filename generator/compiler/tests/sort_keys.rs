//! Tables with a sort key: the layouts the runtime writes (the generated key carries the
//! sort key after U+001F, the layout splits it there), and the ones it cannot, refused
//! where they are written.

mod support;

use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;
use cachegen_testkit::workspace_root;
use support::{compile, problems};

/// A table keyed `PK` + `SK` (S), a table keyed `PK` + `n` (N), and a type on each.
const SPEC: &str = r#"version: 1
service: demo
tables:
  items:
    name: demo-items
    partition_key: { name: PK, type: S }
    sort_key: { name: SK, type: S }
  versions:
    name: demo-versions
    partition_key: { name: PK }
    sort_key: { name: n, type: N }
data_types:
  order:
    table: items
    key: "ORDER#{id}"
    sort_key: "LINE#{line}"
    params: { id: string, line: u32 }
    value: { fields: { sku: string } }
  version:
    table: versions
    key: "DOC#{id}"
    sort_key: "{n}"
    params: { id: string, n: i64 }
    value: { fields: { body: string } }
consumers:
  api:
    access: { "*": [read, write] }
"#;

#[test]
fn generated_keys_carry_the_sort_key_and_layouts_split_it() {
    let model = compile(SPEC);
    let project = Project {
        spec_path: workspace_root().join("spec.yaml"),
        model,
    };
    let lib = support::file(&project, Target::Rust, "rust/src/lib.rs");
    assert!(
        lib.contains(".sort_key_from_keys(SORT_KEY, runtime::store::SortKeyType::S)"),
        "{lib}"
    );
    assert!(
        lib.contains(".sort_key_from_keys(SORT_KEY, runtime::store::SortKeyType::N)"),
        "{lib}"
    );
    assert!(lib.contains(r#"out.push_str("\u{1f}LINE#");"#), "{lib}");
}

#[test]
fn the_type_prefix_holds_the_fixed_text_of_both_parts() {
    let model = compile(SPEC);
    let prefix = |name: &str| model.data_type_named(name).unwrap().key_prefix();
    assert_eq!(prefix("order"), "ORDER#\u{1f}LINE#");
    assert_eq!(prefix("version"), "DOC#\u{1f}");
}

#[test]
fn key_types_the_runtime_cannot_write_are_refused() {
    let text = SPEC
        .replace(
            "partition_key: { name: PK, type: S }",
            "partition_key: { name: PK, type: N }",
        )
        .replace(
            "sort_key: { name: n, type: N }",
            "sort_key: { name: n, type: B }",
        );
    assert_eq!(
        problems(&text),
        [
            (
                "spec.yaml:6:38: the table's partition key `PK` is of type N, but cache keys are strings".to_owned(),
                "CG0215"
            ),
            (
                "spec.yaml:11:32: the table's sort key `n` is binary (B), which sort key templates cannot give".to_owned(),
                "CG0215"
            ),
        ]
    );
}

#[test]
fn numeric_sort_keys_take_one_integer_or_a_whole_number() {
    for (sort_key, params, fits) in [
        ("{n}", "{ id: string, n: i64 }", true),
        ("{n}", "{ id: string, n: u32 }", true),
        ("42", "{ id: string }", true),
        ("-7", "{ id: string }", true),
        ("{n}", "{ id: string, n: string }", false),
        ("{n}", "{ id: string, n: bool }", false),
        ("v{n}", "{ id: string, n: u64 }", false),
        ("007", "{ id: string }", false),
        ("1.5", "{ id: string }", false),
    ] {
        let text = SPEC
            .replace(r#"sort_key: "{n}""#, &format!("sort_key: \"{sort_key}\""))
            .replace(
                "params: { id: string, n: i64 }",
                &format!("params: {params}"),
            );
        let found = problems(&text);
        if fits {
            assert_eq!(found, [], "{sort_key} with {params}");
        } else {
            assert_eq!(
                found,
                [(
                    format!(
                        "spec.yaml:22:15: sort key template `{sort_key}` does not give a number, but the table's sort key is a number (N)"
                    ),
                    "CG0314"
                )],
                "{sort_key} with {params}"
            );
        }
    }
}

#[test]
fn the_key_separator_cannot_be_written_in_a_template() {
    let text = SPEC.replace(
        r#"sort_key: "LINE#{line}""#,
        r#"sort_key: "LINE\x1f{line}""#,
    );
    assert_eq!(
        problems(&text),
        [(
            r#"spec.yaml:16:15: sort key template "LINE\u{1f}{line}" holds U+001F, which separates a key's partition and sort parts"#.to_owned(),
            "CG0315"
        )]
    );
}

#[test]
fn the_typescript_module_gives_the_sort_key_beside_the_key() {
    let text = format!(
        "{SPEC}outputs:\n  targets: [rust]\n  templates:\n    cache.ts: {}\n",
        workspace_root()
            .join("templates/typescript.ts.tera")
            .display()
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("cache.yaml");
    std::fs::write(&spec, text).unwrap();
    let project = Project::load(&spec).unwrap();
    let module = project
        .outputs(None)
        .unwrap()
        .into_iter()
        .find(|file| file.path.ends_with("cache.ts"))
        .expect("the TypeScript module")
        .contents;
    assert!(
        module.contains(r#"sortKey: (key: OrderKey): string => "LINE#" + String(key.line),"#),
        "{module}"
    );
    assert!(
        module.contains(r#"key: (key: OrderKey): string => "ORDER#" + keyPart(key.id),"#),
        "{module}"
    );
}
