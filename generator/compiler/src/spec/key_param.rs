//! A data type's key parameter: its type, and optionally a default that callers may omit.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// A key parameter: its type alone (`region: string`), or its type and a default
/// (`account_id: { type: string, default: global }`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum KeyParam {
    /// `string`, `u32`, `u64`, `i64` or `bool`.
    Type(String),
    /// A type, with a default.
    Declared(DeclaredParam),
}

/// A key parameter written as a mapping.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DeclaredParam {
    /// `string`, `u32`, `u64`, `i64` or `bool`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The value keys hold when the caller gives none (`global`), written into keys as
    /// is: text of letters, digits and `-._~` for a `string`, a number or a bool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ParamDefault>,
    /// Fields this form does not have, which validation reports: inside an untagged enum
    /// serde drops them where the spec's unknown-field pass cannot see them.
    #[serde(flatten, skip_serializing)]
    #[schemars(skip)]
    pub unknown: IndexMap<String, IgnoredAny>,
}

/// A key parameter's default, as written.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ParamDefault {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number of zero or more.
    Unsigned(u64),
    /// A negative whole number.
    Signed(i64),
    /// Text.
    Text(String),
}

impl KeyParam {
    /// The parameter's type, as written.
    pub fn ty(&self) -> &str {
        match self {
            Self::Type(ty) | Self::Declared(DeclaredParam { ty, .. }) => ty,
        }
    }

    /// The parameter's default, if it has one.
    pub fn default(&self) -> Option<&ParamDefault> {
        match self {
            Self::Type(_) => None,
            Self::Declared(declared) => declared.default.as_ref(),
        }
    }
}

impl fmt::Display for ParamDefault {
    /// As the value prints in a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(value) => write!(f, "{value}"),
            Self::Unsigned(value) => write!(f, "{value}"),
            Self::Signed(value) => write!(f, "{value}"),
            Self::Text(value) => f.write_str(value),
        }
    }
}
