//! Idempotent handlers: what users write under `idempotency`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{SpecDuration, ValueSpec};

/// A Lambda handler made idempotent on a cache table: a retried request with the same key
/// gets the first one's response instead of running again (AWS Lambda Powertools'
/// idempotency, for Rust).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct IdempotentHandler {
    /// What the handler does; becomes the doc comment of the generated handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Table its records live in (default: `defaults.table`, or the only table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The request (the Lambda event): a Rust type path, or fields declared inline.
    pub request: ValueSpec,
    /// The response stored and returned to retries: a Rust type path, or fields.
    pub response: ValueSpec,
    /// The request fields that identify a request, hashed into the record's key, such
    /// as `[order_id, customer]`.
    pub key: Vec<String>,
    /// How long the response is returned to retries (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<SpecDuration>,
    /// Refuse a request whose payload differs from the one first seen under its key
    /// (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_validation: Option<bool>,
    /// What a duplicate gets while the first request runs: `refuse` (an error at once,
    /// the default) or `wait` (for the first one's response, or its record's expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<InFlight>,
    /// The consumer whose Lambda runs the handler; it must be able to `write` to the
    /// table (the records' reads, conditional writes and leases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
}

/// What a duplicate gets while the first request with its key runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InFlight {
    /// An `InProgress` error at once.
    #[default]
    Refuse,
    /// Wait for the first request's response, or take over once its record expires.
    Wait,
}
