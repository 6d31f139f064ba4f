//! cachegen: one cache spec compiled into infrastructure and code that cannot drift apart.
//!
//! The pipeline is spec → validate → IR → emit:
//! - [`spec`]: the serde/schemars model of `cache.yaml`, exactly as users write it;
//! - [`validate`]: checks the spec and resolves it into the IR, reporting every
//!   problem at once with `file:line:column` and a hint;
//! - [`ir`]: the validated [`ir::CacheModel`], the only input of every emitter;
//! - [`emit`]: CloudFormation (and the other targets) from the IR.

pub mod emit;
pub mod ir;
pub mod spec;
pub mod validate;
