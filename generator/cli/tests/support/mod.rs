//! Helpers shared by the CLI's integration tests.

use std::path::{Path, PathBuf};

/// The workspace root, where the bundled examples are.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the CLI crate sits in generator/ in the workspace")
        .to_path_buf()
}
