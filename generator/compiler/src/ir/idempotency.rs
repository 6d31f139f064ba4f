//! Idempotent handlers, validated.

use schemars::JsonSchema;
use serde::Serialize;

use super::{TableRef, ValueType};
pub use crate::spec::InFlight;

/// A Lambda handler made idempotent on a table.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct IdempotentHandler {
    /// Name in the spec (`start-recovery`); scopes its records' keys.
    pub name: String,
    /// What the handler does.
    pub description: Option<String>,
    /// The table its records live in, by name.
    pub table: TableRef,
    /// The request type.
    pub request: ValueType,
    /// The response type.
    pub response: ValueType,
    /// The request fields hashed into a record's key, in order.
    pub key: Vec<String>,
    /// How long a response is returned to retries, seconds.
    pub expires_after_secs: u64,
    /// Whether a request with the same key and another payload is refused.
    pub payload_validation: bool,
    /// What a duplicate gets while the first request runs.
    pub in_flight: InFlight,
}
