//! cachegen's compiler: one cache spec compiled into infrastructure and code that cannot
//! drift apart. It depends on no AWS SDK and no async runtime, so a `build.rs` that uses
//! [`Builder`] compiles little; deploying and operating live in the `cachegen` CLI crate.
//!
//! The pipeline is spec → validate → IR → emit:
//! - [`spec`]: the serde/schemars model of `cache.yaml`, exactly as users write it;
//! - [`validate`]: checks the spec and resolves it into the IR, reporting every
//!   problem at once with `file:line:column` and a hint;
//! - [`ir`]: the validated [`ir::CacheModel`], the only input of every emitter;
//! - [`emit`]: CloudFormation, SAM, Terraform, the typed Rust crate and the docs page
//!   from the IR;
//! - [`limits`]: AWS's documented limits the outputs must keep within;
//! - [`output`]: atomic writes, and drift detection for `cachegen check`;
//! - [`view`]: the versioned JSON view of the IR (`cachegen ir`), with its JSON Schema;
//! - [`Builder`]: the typed Rust module from a `build.rs`, like prost-build;
//! - [`cost`]: the monthly DynamoDB estimate from declared traffic;
//! - [`breaking`]: what a spec change does to a live cache, against an earlier version;
//! - [`annotation`]: GitHub Actions annotations for CI.
//!
//! ```
//! let spec = cachegen_compiler::STARTER_SPEC;
//! let model = cachegen_compiler::compile_text("cache.yaml", spec).expect("the starter spec is valid");
//! let files = cachegen_compiler::emit::generate(&model, "cache.yaml", None);
//! assert!(files[0].contents.contains("AWS::DynamoDB::Table"));
//! ```

#![warn(missing_docs)]

pub mod annotation;
pub mod breaking;
mod builder;
pub mod cost;
pub mod diagnostics;
pub mod emit;
pub mod ir;
pub mod limit_check;
pub mod limits;
pub mod model;
pub mod output;
mod pipeline;
pub mod spec;
pub mod validate;
pub mod view;

use std::path::{Path, PathBuf};

pub use builder::Builder;
use diagnostics::Diagnostics;
use emit::GeneratedFile;
use ir::{CacheModel, Target};
pub use pipeline::{compile, compile_for, compile_text};

/// The commented starter spec `cachegen init` writes.
pub const STARTER_SPEC: &str = include_str!("../templates/starter.cache.yaml");

/// Why a spec file could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read (the cause is the error's `source`, printed once by
    /// a reporter that walks the chain).
    #[error("cannot read {}", path.display())]
    Read {
        /// The spec path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The spec, or one of its templates, has problems.
    #[error("{0}")]
    Spec(#[from] Diagnostics),
    /// A generated file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The spec names templates, and this build of the compiler cannot render them.
    #[error(
        "the spec names templates (`outputs.templates`): enable cachegen-compiler's `templates` feature"
    )]
    NoTemplates,
    /// [`Builder::runtime_path`] was given something that is not a Rust path.
    #[error(
        "`{0}` is not a Rust path to the cachegen-runtime crate (such as `::cachegen_runtime`)"
    )]
    RuntimePath(String),
    /// [`Builder`] ran outside cargo and was given no output directory.
    #[error("OUT_DIR is not set: run from a build script, or call Builder::out_dir")]
    NoOutDir,
}

/// A spec file compiled into its model.
#[derive(Clone, Debug)]
pub struct Project {
    /// Path of the spec file.
    pub spec_path: PathBuf,
    /// The validated model.
    pub model: CacheModel,
}

impl Project {
    /// Reads and compiles the spec at `spec_path`.
    pub fn load(spec_path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_for(spec_path, None)
    }

    /// Reads and compiles the spec at `spec_path`, checking the outputs of `targets` (the
    /// spec's own when `None`) against AWS's limits.
    pub fn load_for(
        spec_path: impl AsRef<Path>,
        targets: Option<&[Target]>,
    ) -> Result<Self, Error> {
        let spec_path = spec_path.as_ref().to_path_buf();
        let bytes = std::fs::read(&spec_path).map_err(|source| Error::Read {
            path: spec_path.clone(),
            source,
        })?;
        let file = validate::decode(&spec_path.display().to_string(), &bytes)?;
        let model = compile_for(&file, targets)?;
        Ok(Self { spec_path, model })
    }

    /// Where outputs go: the spec's `outputs.dir`, relative to the spec file.
    pub fn default_out_dir(&self) -> PathBuf {
        self.spec_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.model.out_dir)
    }

    /// How generated files name the spec they come from: its file name (`cache.yaml`
    /// when the path has none).
    pub fn spec_name(&self) -> String {
        validate::spec_name(&self.spec_path.display().to_string())
    }

    /// The generated files, for the spec's targets or the ones given.
    pub fn files(&self, targets: Option<&[Target]>) -> Vec<GeneratedFile> {
        emit::generate(&self.model, &self.spec_name(), targets)
    }

    /// What `build` writes: the files of the spec's targets and of its templates
    /// (`outputs.templates`, read relative to the spec), or of the targets given alone.
    /// Without the `templates` feature, a spec with templates is an error.
    pub fn outputs(&self, targets: Option<&[Target]>) -> Result<Vec<GeneratedFile>, Error> {
        let mut files = self.files(targets);
        if targets.is_none() && !self.model.templates.is_empty() {
            files.extend(self.template_files()?);
        }
        Ok(files)
    }

    #[cfg(feature = "templates")]
    fn template_files(&self) -> Result<Vec<GeneratedFile>, Error> {
        emit::templates::render_all(&self.model, &self.spec_path, &self.spec_name())
    }

    #[cfg(not(feature = "templates"))]
    fn template_files(&self) -> Result<Vec<GeneratedFile>, Error> {
        Err(Error::NoTemplates)
    }
}

/// The crate README's examples, compiled and run as doctests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
