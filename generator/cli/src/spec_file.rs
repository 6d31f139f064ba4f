//! Which spec a command reads when none is named: `cachegen.yaml`, the name editors can
//! match to cachegen's schema (SchemaStore cannot claim a generic `cache.yaml`), else the
//! older `cache.yaml`.

use std::path::{Path, PathBuf};

/// The default spec file name.
pub const DEFAULT: &str = "cachegen.yaml";

/// The name read when [`DEFAULT`] is absent.
pub const LEGACY: &str = "cache.yaml";

/// The spec to read in `dir`, and a note when the choice needs saying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultSpec {
    /// `cachegen.yaml`, or `cache.yaml` when only that exists (relative to `dir`).
    pub path: PathBuf,
    /// Set when both exist: which one is read.
    pub note: Option<String>,
}

/// `cachegen.yaml` when it exists in `dir` (noting that a `cache.yaml` beside it is
/// ignored), else `cache.yaml` when that exists, else `cachegen.yaml` (what `init` writes).
pub fn default_spec(dir: &Path) -> DefaultSpec {
    let default = dir.join(DEFAULT).is_file();
    let legacy = dir.join(LEGACY).is_file();
    let (name, note) = match (default, legacy) {
        (true, true) => (
            DEFAULT,
            Some(format!(
                "note: reading {DEFAULT}; {LEGACY} beside it is ignored (name a spec to read another)"
            )),
        ),
        (false, true) => (LEGACY, None),
        _ => (DEFAULT, None),
    };
    DefaultSpec {
        path: PathBuf::from(name),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_cachegen_yaml_keeps_reading_cache_yaml_and_says_which_when_both() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_spec(dir.path()).path, Path::new(DEFAULT));
        std::fs::write(dir.path().join(LEGACY), "").unwrap();
        assert_eq!(
            default_spec(dir.path()),
            DefaultSpec {
                path: LEGACY.into(),
                note: None
            }
        );
        std::fs::write(dir.path().join(DEFAULT), "").unwrap();
        let both = default_spec(dir.path());
        assert_eq!(both.path, Path::new(DEFAULT));
        assert!(
            both.note
                .unwrap()
                .contains("cache.yaml beside it is ignored")
        );
    }
}
