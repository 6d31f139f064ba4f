//! The conformance harness: specs drawn at random (but from seeds), each built into a typed
//! module by `build.rs`, deployed on moto (or kept in Redis) and driven through every data
//! type's API by a driver written from its IR. Every read must return what was written,
//! or a miss where one is documented; `verify_deployment` must find nothing amiss.
//!
//! - [`checks`]: what the drivers assert, step by step;
//! - [`deploy`]: a case's tables and buckets created from its template, and its env vars;
//! - [`findings`]: what failed, with each failing data type's spec shrunk to reproduce it;
//! - [`typescript`]: the TypeScript module's keys compared with the Rust module's.

pub mod checks;
pub mod deploy;
pub mod findings;
pub mod typescript;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub use findings::{Finding, Report};

/// A case's driver: drives every data type of its spec in `env`.
pub type Driver = for<'e> fn(&'e Env) -> Pin<Box<dyn Future<Output = Report> + 'e>>;

/// One spec of this build: drawn from a seed, or replayed from a file.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// What to call it in reports (`seed 7`).
    pub label: &'static str,
    /// The seed it was drawn from, if drawn.
    pub seed: Option<u64>,
    /// The spec file `build.rs` compiled.
    pub spec: &'static str,
    /// Whether its resources are made by its Terraform module (else its CloudFormation
    /// template), when it has any.
    pub terraform: bool,
    /// The compiler's diagnostics, if it refused the spec (a finding).
    pub refused: Option<&'static str>,
    /// The driver, if the spec compiled.
    pub run: Option<Driver>,
}

/// What a driver connects with: the AWS configuration (none for Redis) and the variables a
/// Lambda's environment would hold.
#[derive(Debug)]
pub struct Env {
    sdk: Option<aws_config::SdkConfig>,
    vars: BTreeMap<String, String>,
}

impl Env {
    /// An environment of `vars`, with `sdk` for DynamoDB and S3.
    pub fn new(sdk: Option<aws_config::SdkConfig>, vars: BTreeMap<String, String>) -> Self {
        Self { sdk, vars }
    }

    /// The AWS configuration.
    pub fn sdk(&self) -> Option<&aws_config::SdkConfig> {
        self.sdk.as_ref()
    }

    /// The variable `name`, if set.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// A value read from its JSON text, as drivers build them.
pub fn value<T: serde::de::DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|err| panic!("value {json}: {err}"))
}

/// An invocation deadline a minute away, epoch milliseconds (what idempotent handlers get).
pub fn deadline_ms() -> u64 {
    let now = std::time::UNIX_EPOCH
        .elapsed()
        .expect("the clock is past 1970");
    u64::try_from(now.as_millis()).expect("epoch ms fit u64") + 60_000
}

/// The generated modules and drivers of this build's cases, and [`CASES`]. Generated code
/// is not held to this crate's lints; `unused_variables`: a module with a bucket but no
/// document type leaves `sync_documents`'s `s3` unused (reported, in the emitter).
#[allow(dead_code, unused_variables, clippy::all, clippy::pedantic)]
mod cases {
    include!(concat!(env!("OUT_DIR"), "/cases.rs"));
}

pub use cases::CASES;
