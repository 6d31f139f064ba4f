//! Keys and values for a data type, from its IR shape: plain ones and edge ones (empty and
//! long strings, non-ASCII text, integer bounds, `None`, empty and nested collections).

use cachegen_compiler::ir::{DataType, Field, FieldType, ValueType};
use serde_json::{Value, json};

/// Strings a value holds: plain, empty, non-ASCII with separators and escapes, long.
fn text(variant: usize) -> String {
    match variant % 4 {
        0 => "plain text".to_owned(),
        1 => String::new(),
        2 => "ünïcødé 日本語 🎉 #:/%\"\\\n\t".to_owned(),
        _ => "long-".repeat(2_000),
    }
}

/// Key parameter strings: plain, non-ASCII with separators, and one a key can still hold
/// (DynamoDB keys are at most 2 KB; every byte but `-._~` and alphanumerics is escaped).
fn key_text(variant: usize) -> String {
    match variant % 3 {
        0 => "plain".to_owned(),
        1 => "ü/#:% x".to_owned(),
        _ => "k".repeat(200),
    }
}

/// A JSON value of type `ty`, `variant` choosing among plain and edge values.
pub fn value_of(ty: &FieldType, variant: usize) -> Value {
    match ty {
        FieldType::String => json!(text(variant)),
        FieldType::Bool => json!(variant.is_multiple_of(2)),
        FieldType::U32 => json!([7, 0, u32::MAX][variant % 3]),
        FieldType::U64 => json!([42, 0, u64::MAX][variant % 3]),
        FieldType::I64 => json!([-5, i64::MIN, i64::MAX][variant % 3]),
        FieldType::F64 => json!([0.25, -1.5e300, f64::MAX, 0.1][variant % 4]),
        FieldType::Json => [
            json!({ "a": [1, "x", null, true], "b": { "c": -1.5 } }),
            Value::Null,
            json!("ü"),
            json!([]),
        ][variant % 4]
            .clone(),
        FieldType::List(item) => match variant % 3 {
            0 => json!([value_of(item, variant + 1)]),
            1 => json!([]),
            _ => json!([
                value_of(item, variant),
                value_of(item, variant + 1),
                value_of(item, variant + 2)
            ]),
        },
        FieldType::Option(item) => match variant % 3 {
            1 => Value::Null,
            _ => value_of(item, variant),
        },
        FieldType::Map(item) => match variant % 3 {
            1 => json!({}),
            _ => json!({ "k": value_of(item, variant), "ü #": value_of(item, variant + 1) }),
        },
    }
}

/// A value of a Rust type path of [`RUST_VALUE_TYPES`](crate::spec::RUST_VALUE_TYPES).
fn rust_value(path: &str, variant: usize) -> Value {
    match path {
        "Vec<String>" => value_of(&FieldType::List(Box::new(FieldType::String)), variant),
        "String" => json!(text(variant)),
        "u64" => value_of(&FieldType::U64, variant),
        "std::collections::BTreeMap<String, i64>" => {
            value_of(&FieldType::Map(Box::new(FieldType::I64)), variant)
        }
        "serde_json::Value" => value_of(&FieldType::Json, variant),
        other => panic!("the harness draws no value of type `{other}`"),
    }
}

/// A value of `shape` (fields or a Rust type), `variant` choosing which.
pub fn value(shape: &ValueType, variant: usize) -> Value {
    match shape {
        ValueType::Fields(fields) => Value::Object(
            fields
                .iter()
                .enumerate()
                .map(|(position, field)| {
                    (field.name.clone(), value_of(&field.ty, variant + position))
                })
                .collect(),
        ),
        ValueType::Rust(path) => rust_value(path, variant),
    }
}

/// A value of `shape` over DynamoDB's 400 KB item limit: its `body` field holds 450 KB.
pub fn large_value(shape: &ValueType) -> Option<Value> {
    let mut value = value(shape, 0);
    let body = value.get_mut("body")?;
    *body = json!("b".repeat(450 * 1024));
    Some(value)
}

/// Rust source of a key parameter's value (`String::from("x")`, `7u32`, `true`).
pub fn param_code(param: &Field, variant: usize) -> String {
    match param.ty {
        FieldType::String => format!("String::from({:?})", key_text(variant)),
        FieldType::Bool => format!("{}", variant % 2 == 1),
        FieldType::U32 => format!("{}u32", [1, 0, u32::MAX][variant % 3]),
        FieldType::U64 => format!("{}u64", [1, 0, u64::MAX][variant % 3]),
        FieldType::I64 => format!("{}i64", [1, i64::MIN, i64::MAX][variant % 3]),
        ref other => panic!("`{other}` is not a key parameter type"),
    }
}

/// How many distinct keys a type's parameters can make, up to `wanted`.
pub fn key_count(data_type: &DataType, wanted: usize) -> usize {
    let mut count = 1usize;
    for param in &data_type.params {
        count = count.saturating_mul(if param.ty == FieldType::Bool { 2 } else { 3 });
    }
    count.min(wanted)
}

/// The variant of each parameter in the `position`-th key: distinct tuples for distinct
/// positions, so keys differ.
pub fn key_variants(data_type: &DataType, position: usize) -> Vec<usize> {
    let mut rest = position;
    data_type
        .params
        .iter()
        .map(|param| {
            let base = if param.ty == FieldType::Bool { 2 } else { 3 };
            let variant = rest % base;
            rest /= base;
            variant
        })
        .collect()
}
