//! Generating the typed module from a `build.rs`, as prost-build does.
//!
//! In `build.rs`:
//! ```no_run
//! cachegen_compiler::Builder::new("cache.yaml").compile().expect("cache.yaml is valid");
//! ```
//! In `src/lib.rs`:
//! ```ignore
//! mod cache {
//!     include!(concat!(env!("OUT_DIR"), "/cache.rs"));
//! }
//! ```

use std::path::{Path, PathBuf};

use crate::emit::{GeneratedFile, rust};
use crate::error::Error;
use crate::output;
use crate::pipeline::Project;

/// Writes the typed access module of a spec, for `include!` in the crate being built.
#[derive(Clone, Debug)]
pub struct Builder {
    spec: PathBuf,
    out_dir: Option<PathBuf>,
    file_name: String,
    runtime_path: String,
}

impl Builder {
    /// A builder for the spec at `spec` (relative paths resolve against the crate root
    /// when run by cargo).
    pub fn new(spec: impl AsRef<Path>) -> Self {
        Self {
            spec: spec.as_ref().to_path_buf(),
            out_dir: None,
            file_name: "cache.rs".into(),
            runtime_path: rust::DEFAULT_RUNTIME_PATH.into(),
        }
    }

    /// Directory to write into (default: cargo's `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Name of the written file (default `cache.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// The Rust path the module reaches `cachegen-runtime` by (default
    /// `::cachegen_runtime`), for a crate that depends on it through a re-export, like
    /// prost-build's `prost_path`. The module names it once, in a `use`.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.runtime_path = path.into();
        self
    }

    /// Compiles the spec and writes the module; returns its path. Prints
    /// `cargo:rerun-if-changed` for the spec, so cargo rebuilds when it changes.
    pub fn compile(self) -> Result<PathBuf, Error> {
        println!("cargo:rerun-if-changed={}", self.spec.display());
        let runtime_path: syn::Path = syn::parse_str(&self.runtime_path)
            .map_err(|_| Error::RuntimePath(self.runtime_path.clone()))?;
        let project = Project::load(&self.spec)?;
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        let file = GeneratedFile {
            path: PathBuf::from(&self.file_name),
            contents: rust::render_module(&project.model, &project.spec_name(), &runtime_path),
        };
        output::write_all(&out_dir, std::slice::from_ref(&file)).map_err(|source| {
            Error::Write {
                path: out_dir.join(&file.path),
                source,
            }
        })?;
        Ok(out_dir.join(&file.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_module_into_the_given_directory() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("cache.yaml");
        std::fs::write(&spec, crate::STARTER_SPEC).unwrap();
        let written = Builder::new(&spec)
            .out_dir(dir.path())
            .file_name("my_cache.rs")
            .compile()
            .unwrap();
        assert_eq!(written, dir.path().join("my_cache.rs"));
        let module = std::fs::read_to_string(written).unwrap();
        assert!(module.contains("pub struct UserProfileKey"));
        assert!(
            !module.contains("#!["),
            "an included module cannot carry inner attributes"
        );
    }

    #[test]
    fn uses_the_runtime_path_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("cache.yaml");
        std::fs::write(&spec, crate::STARTER_SPEC).unwrap();
        let written = Builder::new(&spec)
            .out_dir(dir.path())
            .runtime_path("::facade::cachegen_runtime")
            .compile()
            .unwrap();
        let module = std::fs::read_to_string(written).unwrap();
        assert!(module.contains("use ::facade::cachegen_runtime as runtime;"));
        let err = Builder::new(&spec)
            .out_dir(dir.path())
            .runtime_path("not a path")
            .compile()
            .unwrap_err();
        assert!(matches!(err, Error::RuntimePath(_)), "{err}");
    }

    #[test]
    fn reports_spec_problems() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("cache.yaml");
        std::fs::write(&spec, "version: 1\n").unwrap();
        let err = Builder::new(&spec)
            .out_dir(dir.path())
            .compile()
            .unwrap_err();
        assert!(matches!(err, Error::Spec(_)), "{err}");
    }
}
