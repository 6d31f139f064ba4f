//! The workspace the tests run in: its root, and the bundled examples.

use std::path::{Path, PathBuf};

/// The workspace root, where `examples/`, `templates/` and `.tools/` are.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the testkit crate sits in tests/ in the workspace")
        .to_path_buf()
}

/// The spec of every bundled example, `(name, path of its cache.yaml)`, sorted by name.
pub fn example_specs() -> Vec<(String, PathBuf)> {
    let mut specs: Vec<(String, PathBuf)> = std::fs::read_dir(workspace_root().join("examples"))
        .expect("examples/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|dir| dir.join("cache.yaml").is_file())
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            (name, dir.join("cache.yaml"))
        })
        .collect();
    specs.sort();
    specs
}
