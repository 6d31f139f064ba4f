//! The bundled examples: their templates as reviewed snapshots, and their checked-in
//! outputs kept identical to what `cachegen build` writes.

mod support;

use cachegen_compiler::{Project, output};

#[test]
fn example_templates_match_their_snapshots() {
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
        for file in project.files(None) {
            let snapshot = format!("{name}__{}", file.path.display()).replace(['/', '.'], "_");
            insta::assert_snapshot!(snapshot, file.contents);
        }
    }
}

#[test]
fn example_docs_pages_match_their_snapshots() {
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
        let page = cachegen_compiler::emit::docs::render(&project.model, "cache.yaml");
        insta::assert_snapshot!(format!("{name}__docs_md"), page);
    }
}

#[test]
fn checked_in_example_outputs_are_fresh() {
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
        let dir = project.default_out_dir();
        for file in project.files(None) {
            support::ensure_file_contents(&dir.join(&file.path), &file.contents);
        }
        assert!(output::stale(&dir, &project.files(None)).is_empty());
    }
}

#[test]
fn builds_are_byte_identical() {
    for (name, spec) in support::example_specs() {
        let first = Project::load(&spec).unwrap().files(None);
        let second = Project::load(&spec).unwrap().files(None);
        assert_eq!(first, second, "{name} builds differ between runs");
    }
}

#[test]
fn the_starter_spec_compiles() {
    let model =
        cachegen_compiler::compile_text("cache.yaml", cachegen_compiler::STARTER_SPEC).unwrap();
    assert_eq!(model.tables.len(), 1);
    assert_eq!(model.data_types[0].name, "user-profile");
}
