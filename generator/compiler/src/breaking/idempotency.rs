//! Changes to idempotent handlers that break the retries of requests made before the
//! deploy: a record found under another key, or one the new code cannot use.

use super::{Change, Class};
use crate::diagnostics::source::NodePath;
use crate::ir::{CacheModel, IdempotentHandler, ValueType};

/// Every idempotent handler kept from `old` to `new` whose records its retries can no
/// longer use.
pub(super) fn handlers(old: &CacheModel, new: &CacheModel, changes: &mut Vec<Change>) {
    for new_handler in &new.idempotency {
        let Some(old_handler) = old.idempotency.iter().find(|h| h.name == new_handler.name) else {
            continue;
        };
        let path = NodePath::root().key("idempotency").key(&new_handler.name);
        let key_changed = key_change(old_handler, new_handler);
        if let Some((what, key)) = &key_changed {
            changes.push(Change {
                class: Class::IdempotencyKeyChanged,
                message: format!(
                    "idempotent handler `{}`: {what}: a retry of a request completed before the deploy finds no record under its new key and runs the handler again (for up to {} s, its `expires_after`)",
                    new_handler.name, old_handler.expires_after_secs
                ),
                path: path.key(*key),
            });
        }
        if let Some((what, key)) = record_change(old_handler, new_handler, key_changed.is_none()) {
            changes.push(Change {
                class: Class::IdempotencyRecordChanged,
                message: format!(
                    "idempotent handler `{}`: {what} (for up to {} s, its `expires_after`)",
                    new_handler.name, old_handler.expires_after_secs
                ),
                path: path.key(key),
            });
        }
    }
}

/// What moves a request's record to another key, and the spec key that says it.
fn key_change(old: &IdempotentHandler, new: &IdempotentHandler) -> Option<(String, &'static str)> {
    if old.key != new.key {
        return Some((
            format!(
                "its key changes from [{}] to [{}]",
                old.key.join(", "),
                new.key.join(", ")
            ),
            "key",
        ));
    }
    let retyped: Vec<String> = new
        .key
        .iter()
        .filter_map(|field| {
            let (from, to) = (
                field_type(&old.request, field)?,
                field_type(&new.request, field)?,
            );
            (from != to).then(|| format!("key field `{field}` changes from `{from}` to `{to}`"))
        })
        .collect();
    if !retyped.is_empty() {
        return Some((retyped.join(", and "), "request"));
    }
    let (old_table, new_table) = (old.table.name(), new.table.name());
    (old_table != new_table).then(|| {
        (
            format!("its records move from table `{old_table}` to `{new_table}`"),
            "table",
        )
    })
}

/// What makes a stored record unusable to the new code, and the spec key that says it.
/// A request's shape matters only when `same_key`: under a new key no record is found.
fn record_change(
    old: &IdempotentHandler,
    new: &IdempotentHandler,
    same_key: bool,
) -> Option<(String, &'static str)> {
    let (from, to) = (old.response.shape(), new.response.shape());
    if from != to {
        return Some((
            format!(
                "its response changes from `{from}` to `{to}`: a retry of a request completed before the deploy gets a stored response the new code cannot read"
            ),
            "response",
        ));
    }
    let (from, to) = (old.request.shape(), new.request.shape());
    (same_key && old.payload_validation && new.payload_validation && from != to).then(|| {
        (
            format!(
                "its request changes from `{from}` to `{to}` under payload validation: a retry of a request made before the deploy hashes differently and is refused as another payload"
            ),
            "request",
        )
    })
}

/// The type of `field` in a request declared inline.
fn field_type(request: &ValueType, field: &str) -> Option<String> {
    match request {
        ValueType::Fields(fields) => fields
            .iter()
            .find(|f| f.name == field)
            .map(|f| f.ty.to_string()),
        ValueType::Rust(_) => None,
    }
}
