//! The bundled examples: their checked-in outputs, and their docs pages beside them, are
//! exactly what `cachegen build` and `cachegen docs` write. They are the one copy of the
//! expected files, reviewed in diffs and compiled and deployed by other tests.

mod support;

use cachegen_compiler::emit::{GeneratedFile, docs};
use cachegen_compiler::{Project, output};

#[test]
fn checked_in_example_outputs_are_fresh() {
    let mut expected = Vec::new();
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
        let dir = project.default_out_dir();
        let mut files = project
            .outputs(None)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        files.push(GeneratedFile {
            path: "cache.md".into(),
            contents: docs::render(&project.model, &project.spec_name()),
        });
        expected.extend(
            files
                .into_iter()
                .map(|file| (dir.join(file.path), file.contents)),
        );
    }
    support::ensure_files(&expected);
}

#[test]
fn check_finds_the_checked_in_outputs_fresh() {
    for (name, spec) in support::example_specs() {
        let project = Project::load(&spec).unwrap_or_else(|err| panic!("{name}: {err}"));
        let outputs = project.outputs(None).unwrap();
        let stale = output::stale(&project.default_out_dir(), &outputs);
        assert!(stale.is_empty(), "{name}: {stale:?}");
    }
}

#[test]
fn builds_are_byte_identical() {
    for (name, spec) in support::example_specs() {
        let first = Project::load(&spec).unwrap().outputs(None).unwrap();
        let second = Project::load(&spec).unwrap().outputs(None).unwrap();
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
