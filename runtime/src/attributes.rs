//! The attributes an entry carries beside its value: what a DynamoDB item holds for the
//! table's global secondary indexes, and what index queries compare.

use std::collections::BTreeMap;

/// A store-agnostic attribute value, written on DynamoDB items (for GSIs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// A string.
    S(String),
    /// A number, in its decimal string form.
    N(String),
}

/// Extra attributes written with an entry; Redis and memory stores ignore them.
pub type Attributes = BTreeMap<String, AttrValue>;
