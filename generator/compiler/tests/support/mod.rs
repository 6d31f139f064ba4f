//! Helpers shared by the compiler's integration tests.

// Each test binary includes this module and uses a subset of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use cachegen_compiler::ir::{CacheModel, Target};
use cachegen_compiler::{Project, compile_text};

/// The spec of every bundled example, sorted by name: at least the five seeds'.
pub(crate) fn example_specs() -> Vec<(String, PathBuf)> {
    let specs = cachegen_testkit::example_specs();
    assert!(
        specs.len() >= 5,
        "expected the five seed examples, found {specs:?}"
    );
    specs
}

/// Like rust-analyzer's `ensure_file_contents`: when `path` differs from `contents`,
/// rewrite it and fail, so the next run passes and the diff shows up in review.
pub(crate) fn ensure_file_contents(path: &Path, contents: &str) {
    let stale = refresh(path, contents);
    assert!(!stale, "{}", stale_message(&[path.display().to_string()]));
}

/// [`ensure_file_contents`] for each path and contents, failing once for all the stale ones.
pub(crate) fn ensure_files(files: &[(PathBuf, String)]) {
    let stale: Vec<String> = files
        .iter()
        .filter(|(path, contents)| refresh(path, contents))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(stale.is_empty(), "{}", stale_message(&stale));
}

/// Whether `path` differs from `contents`; outside CI it is rewritten to them.
fn refresh(path: &Path, contents: &str) -> bool {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return false;
    }
    if std::env::var_os("CI").is_none() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    true
}

fn stale_message(paths: &[String]) -> String {
    format!(
        "not up to date{}; commit the new version:\n{}",
        if std::env::var_os("CI").is_none() {
            " and rewritten"
        } else {
            ""
        },
        paths.join("\n")
    )
}

/// The contents of output `path` of `target` for `project`.
pub(crate) fn file(project: &Project, target: Target, path: &str) -> String {
    project
        .files(Some(&[target]))
        .into_iter()
        .find(|file| file.path.to_str() == Some(path))
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

/// The model of a spec that must compile, or a panic with its rendered problems.
pub(crate) fn compile(text: &str) -> CacheModel {
    compile_text("spec.yaml", text).unwrap_or_else(|err| panic!("{}", err.render()))
}

/// The one-line summaries and codes of the problems of a spec in file `name`.
pub(crate) fn problems_in(name: &str, text: &str) -> Vec<(String, &'static str)> {
    match compile_text(name, text) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics
            .summary()
            .into_iter()
            .zip(diagnostics.items.iter().map(|item| item.code.id))
            .collect(),
    }
}

/// The one-line summaries and codes of a spec's problems.
pub(crate) fn problems(text: &str) -> Vec<(String, &'static str)> {
    problems_in("spec.yaml", text)
}
