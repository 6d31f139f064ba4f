//! cachegen's compiler: one cache spec compiled into infrastructure and code that cannot
//! drift apart. It depends on no AWS SDK and no async runtime, so a `build.rs` that uses
//! [`Builder`] compiles little; deploying and operating live in the `cachegen` CLI crate.
//!
//! The compiler's stages run one way: each module imports only from the stages above it
//! (`tests/stages.rs` reads this list and checks every `crate::` path in the code
//! against it).
//!
//! 1. [`diagnostics`], [`annotation`], `error`: problems in a spec and where they are,
//!    which every stage reports through, and the crate's [`Error`];
//! 2. [`spec`]: the serde/schemars model of `cache.yaml`, exactly as users write it;
//! 3. [`ir`], [`limits`]: the validated [`ir::CacheModel`], the only input of every
//!    later stage, and AWS's documented limits (numbers, each with its source);
//! 4. [`validate`]: checks the spec and resolves it into the IR, reporting every problem
//!    at once with `file:line:column` and a hint;
//! 5. [`view`], [`cost`], [`breaking`]: readers of the IR: its versioned JSON view
//!    (`cachegen ir`), the monthly DynamoDB estimate, what a spec change does to a live
//!    cache;
//! 6. [`model`]: one target-neutral model of the infrastructure, where every resource,
//!    name and policy is decided;
//! 7. [`emit`]: the printers: CloudFormation, SAM and Terraform print the model; the typed
//!    Rust crate, the docs page and users' templates are printed from the IR;
//! 8. [`limit_check`]: the model and the printed templates against AWS's limits;
//! 9. `pipeline`, [`output`], `builder`: [`compile`] runs the stages in this order,
//!    [`Project`] builds a spec file's outputs, [`output`] writes them atomically and finds
//!    drift for `cachegen check`, [`Builder`] writes the Rust module from a `build.rs`,
//!    like prost-build.
//!
//! ```
//! let spec = cachegen_compiler::STARTER_SPEC;
//! let model = cachegen_compiler::compile_text("cache.yaml", spec).expect("the starter spec is valid");
//! let files = cachegen_compiler::emit::generate(&model, "cache.yaml", None);
//! assert!(files[0].contents.contains("AWS::DynamoDB::Table"));
//! ```

pub mod annotation;
pub mod breaking;
mod builder;
pub mod cost;
pub mod diagnostics;
pub mod emit;
mod error;
pub mod ir;
pub mod limit_check;
pub mod limits;
pub mod model;
pub mod output;
mod pipeline;
pub mod spec;
pub mod validate;
pub mod view;

pub use builder::Builder;
pub use error::Error;
pub use pipeline::{Project, compile, compile_for, compile_text};

/// The commented starter spec `cachegen init` writes.
pub const STARTER_SPEC: &str = include_str!("../templates/starter.cache.yaml");

/// The crate README's examples, compiled and run as doctests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
