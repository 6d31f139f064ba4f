//! Shared helpers for the end-to-end tests: the workspace layout and the external tools.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Each bundled example: its name and its compiled project.
pub fn examples() -> Vec<(String, cachegen::Project)> {
    let mut examples: Vec<(String, cachegen::Project)> =
        std::fs::read_dir(workspace_root().join("examples"))
            .expect("examples/ exists")
            .map(|entry| entry.expect("readable entry").path())
            .filter(|dir| dir.join("cache.yaml").is_file())
            .map(|dir| {
                let name = dir.file_name().unwrap().to_string_lossy().into_owned();
                let project = cachegen::Project::load(dir.join("cache.yaml"))
                    .unwrap_or_else(|err| panic!("example {name}: {err}"));
                (name, project)
            })
            .collect();
    examples.sort_by(|a, b| a.0.cmp(&b.0));
    examples
}

/// A command for an external tool the test script installs, failing clearly when absent.
pub fn tool(name: &str) -> Command {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "`{name}` is not on PATH: run the suite with scripts/test.sh, which installs it"
    );
    Command::new(name)
}
