//! Why a spec file could not be compiled, built or written: the crate's one error type.

use std::path::PathBuf;

use crate::diagnostics::Diagnostics;

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
    /// [`Builder::runtime_path`](crate::Builder::runtime_path) was given something that is not a Rust path.
    #[error(
        "`{0}` is not a Rust path to the cachegen-runtime crate (such as `::cachegen_runtime`)"
    )]
    RuntimePath(String),
    /// [`Builder`](crate::Builder) ran outside cargo and was given no output directory.
    #[error("OUT_DIR is not set: run from a build script, or call Builder::out_dir")]
    NoOutDir,
}
