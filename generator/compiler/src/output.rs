//! Writing generated files atomically, recognising the ones cachegen wrote, and finding
//! the ones that drifted.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::emit::{GeneratedFile, is_generated};

/// The files under `dir` that writing `files` would replace, but that cachegen did not
/// write (no header): hand-written files that `build` must not overwrite silently.
pub fn not_generated(dir: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|file| dir.join(&file.path))
        .filter(|target| match fs::read(target) {
            Ok(bytes) => !std::str::from_utf8(&bytes).is_ok_and(is_generated),
            Err(_) => false,
        })
        .collect()
}

/// Writes every file under `dir`, all or nothing: each goes to a temporary file beside its
/// target first, and only when all are written are they renamed into place. Files whose
/// contents are unchanged are left alone (their modification times too). A replaced file
/// keeps its mode; a new one gets the mode any new file gets (0666 less the umask).
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
        let mut temporary = staging_file(parent)?;
        temporary.write_all(file.contents.as_bytes())?;
        if let Ok(existing) = fs::metadata(&target) {
            temporary
                .as_file()
                .set_permissions(existing.permissions())?;
        }
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

/// A temporary file in `dir`, created with the mode of a new file (tempfile's default,
/// 0600, would make every generated file private).
fn staging_file(dir: &Path) -> io::Result<NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir)
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
    use crate::emit::GENERATED_MARKER;

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
    fn recognises_the_files_cachegen_writes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("cache.yaml");
        fs::write(&spec, crate::STARTER_SPEC).unwrap();
        let project = crate::Project::load(&spec).unwrap();
        let every_target = [
            crate::ir::Target::Cloudformation,
            crate::ir::Target::Sam,
            crate::ir::Target::Terraform,
            crate::ir::Target::Rust,
        ];
        for file in project.files(Some(&every_target)) {
            assert!(is_generated(&file.contents), "{}", file.path.display());
        }
        assert!(!is_generated("Resources: {}\n"));
    }

    #[test]
    fn names_the_files_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let generated = format!("# {GENERATED_MARKER}cache.yaml\na: 1\n");
        let files = [
            file("ours.yaml", &generated),
            file("theirs.yaml", &generated),
            file("new.yaml", &generated),
        ];
        fs::write(dir.path().join("ours.yaml"), &generated).unwrap();
        fs::write(dir.path().join("theirs.yaml"), "hand: written\n").unwrap();
        assert_eq!(
            not_generated(dir.path(), &files),
            [dir.path().join("theirs.yaml")]
        );
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
