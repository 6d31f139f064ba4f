//! rust-analyzer's `ensure_file_contents`: a generated file that differs from what the
//! code makes now is rewritten (outside CI) and the test fails, so a stale page shows
//! up as a failure and its fix as a diff to commit.

use std::path::{Path, PathBuf};

/// Rewrites each stale file (outside CI) and fails once, naming them all.
pub(crate) fn ensure_files(files: &[(PathBuf, String)]) {
    let stale: Vec<String> = files
        .iter()
        .filter(|(path, contents)| refresh(path, contents))
        .map(|(path, _)| path.display().to_string())
        .collect();
    let rewritten = if std::env::var_os("CI").is_none() {
        " and rewritten"
    } else {
        ""
    };
    assert!(
        stale.is_empty(),
        "not up to date{rewritten}; commit the new version:\n{}",
        stale.join("\n")
    );
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
