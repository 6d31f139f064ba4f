//! Writing generated files atomically, and finding the ones that drifted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::emit::GeneratedFile;

/// Writes every file under `dir`, all or nothing: each goes to a temporary file beside its
/// target first, and only when all are written are they renamed into place. Files whose
/// contents are unchanged are left alone (their modification times too).
///
/// Returns the paths that changed.
pub fn write_all(dir: &Path, files: &[GeneratedFile]) -> io::Result<Vec<PathBuf>> {
    let mut staged = Vec::new();
    for file in files {
        let target = dir.join(&file.path);
        if fs::read_to_string(&target).is_ok_and(|existing| existing == file.contents) {
            continue;
        }
        let parent = target.parent().unwrap_or(dir);
        fs::create_dir_all(parent)?;
        let mut temporary = tempfile::NamedTempFile::new_in(parent)?;
        temporary.write_all(file.contents.as_bytes())?;
        temporary.as_file().sync_all()?;
        staged.push((temporary, target));
    }
    let mut written = Vec::with_capacity(staged.len());
    for (temporary, target) in staged {
        temporary.persist(&target).map_err(|err| err.error)?;
        written.push(target);
    }
    Ok(written)
}

/// The files under `dir` whose contents differ from what would be generated (or are missing).
pub fn stale(dir: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|file| dir.join(&file.path))
        .zip(files)
        .filter(|(target, file)| {
            fs::read_to_string(target).map_or(true, |existing| existing != file.contents)
        })
        .map(|(target, _)| target)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> GeneratedFile {
        GeneratedFile {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn writes_then_reports_nothing_stale() {
        let dir = tempfile::tempdir().unwrap();
        let files = [file("a.yaml", "a: 1\n"), file("nested/b.tf", "b\n")];
        assert_eq!(stale(dir.path(), &files).len(), 2);
        let written = write_all(dir.path(), &files).unwrap();
        assert_eq!(written.len(), 2);
        assert!(stale(dir.path(), &files).is_empty());
        assert_eq!(
            fs::read_to_string(dir.path().join("nested/b.tf")).unwrap(),
            "b\n"
        );
        assert!(
            write_all(dir.path(), &files).unwrap().is_empty(),
            "unchanged files are not rewritten"
        );
    }

    #[test]
    fn names_the_file_that_drifted() {
        let dir = tempfile::tempdir().unwrap();
        let files = [file("a.yaml", "a: 1\n"), file("b.yaml", "b: 1\n")];
        write_all(dir.path(), &files).unwrap();
        fs::write(dir.path().join("b.yaml"), "b: 2\n").unwrap();
        assert_eq!(stale(dir.path(), &files), [dir.path().join("b.yaml")]);
    }

    #[test]
    fn leaves_no_temporary_files_behind() {
        let dir = tempfile::tempdir().unwrap();
        write_all(dir.path(), &[file("a.yaml", "a\n")]).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.yaml"]);
    }
}
