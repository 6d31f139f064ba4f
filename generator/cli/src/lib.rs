//! What the `cachegen` command does beyond compiling, on top of [`cachegen_compiler`]:
//! - [`against`]: the earlier spec `breaking` compares with, from a file or git;
//! - [`explain`]: a diagnostic code's page, for `cachegen explain`;
//! - [`deploy`]: change-set deploys of the CloudFormation template, and what a deployed
//!   stack holds;
//! - [`spec_file`]: the spec read when none is named (`cachegen.yaml`, else `cache.yaml`);
//! - [`operate`]: `backfill` and `query` on a deployed cache, the IR interpreted at run time;
//! - [`verify`]: a deployed stack's tables and document buckets compared with the spec.

pub mod against;
pub mod deploy;
pub mod explain;
pub mod operate;
pub mod spec_file;
pub mod verify;
