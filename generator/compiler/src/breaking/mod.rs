//! What a spec change does to a live cache: two compiled models compared, like
//! `buf breaking`, each change classified by its effect on the deployed tables, the
//! entries in them and the code running against them.
//!
//! Some classes lose data or break running code and are refused unless allowed
//! ([`Class::refused_unless_allowed`]); the others make a cold cache and are warnings.

mod idempotency;
mod report;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::diagnostics::source::NodePath;
use crate::ir::{Access, CacheModel, DataType, Index, KeyAttribute, Ref, Table, TableRef};

pub use report::{Located, Report};

/// What kind of change it is, by its effect on the live cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// A table's key schema or physical name changes: CloudFormation replaces the table
    /// and its entries are lost.
    TableReplaced,
    /// A table leaves the spec: the stack stops managing it (it is retained) and the
    /// code no longer uses it.
    TableRemoved,
    /// A data type's key template or table changes: its existing entries are never read
    /// again (a cold cache until they expire).
    KeyTemplateChanged,
    /// A table's schema version changes (a value type changed, or a data type came or
    /// went): its entries read as misses once the new code runs.
    ValueTypeChanged,
    /// A table's TTL attribute changes: existing items keep the old one and never expire.
    TtlAttributeRenamed,
    /// An index's keys or projection change: CloudFormation deletes and recreates it, and
    /// queries on it fail until it is built again.
    IndexRecreated,
    /// An index leaves the spec: code still running that queries it fails.
    IndexRemoved,
    /// A data type leaves the spec while a consumer that used it stays: the consumer's
    /// running code loses it.
    DataTypeRemoved,
    /// A consumer loses access it had (or the consumer leaves the spec): its running
    /// code is denied.
    IamNarrowed,
    /// An idempotent handler's key fields, their types or its table change: a retry of a
    /// request completed before the deploy runs the handler again.
    IdempotencyKeyChanged,
    /// An idempotent handler's response changes, or its request under payload
    /// validation: retries of requests made before the deploy fail.
    IdempotencyRecordChanged,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 11] = [
        Self::TableReplaced,
        Self::TableRemoved,
        Self::KeyTemplateChanged,
        Self::ValueTypeChanged,
        Self::TtlAttributeRenamed,
        Self::IndexRecreated,
        Self::IndexRemoved,
        Self::DataTypeRemoved,
        Self::IamNarrowed,
        Self::IdempotencyKeyChanged,
        Self::IdempotencyRecordChanged,
    ];

    /// The id users pass to `--allow`: `table-replaced`...
    pub fn id(self) -> &'static str {
        match self {
            Self::TableReplaced => "table-replaced",
            Self::TableRemoved => "table-removed",
            Self::KeyTemplateChanged => "key-template-changed",
            Self::ValueTypeChanged => "value-type-changed",
            Self::TtlAttributeRenamed => "ttl-attribute-renamed",
            Self::IndexRecreated => "index-recreated",
            Self::IndexRemoved => "index-removed",
            Self::DataTypeRemoved => "data-type-removed",
            Self::IamNarrowed => "iam-narrowed",
            Self::IdempotencyKeyChanged => "idempotency-key-changed",
            Self::IdempotencyRecordChanged => "idempotency-record-changed",
        }
    }

    /// The class with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.id() == id)
    }

    /// Whether it loses data or breaks running code, and so fails the check unless
    /// allowed; the rest (a cold cache) are warnings.
    pub fn refused_unless_allowed(self) -> bool {
        !matches!(self, Self::KeyTemplateChanged | Self::ValueTypeChanged)
    }
}

/// One change between the two specs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// What kind of change.
    pub class: Class,
    /// What it does, in plain words.
    pub message: String,
    /// Where it is in the new spec (the nearest node that still exists).
    #[serde(skip)]
    pub path: NodePath,
}

/// Every change from `old` to `new` that matters to a live cache, table by table, then
/// data types, idempotent handlers and consumers.
pub fn compare(old: &CacheModel, new: &CacheModel) -> Vec<Change> {
    let mut changes = Vec::new();
    for old_table in &old.tables {
        match new.table_named(&old_table.name) {
            Some(new_table) => tables(old_table, new_table, &mut changes),
            None => changes.push(Change {
                class: Class::TableRemoved,
                message: format!(
                    "table `{}` is removed: the stack stops managing it (it is retained, with its entries) and the code stops using it",
                    old_table.name
                ),
                path: NodePath::parse("tables"),
            }),
        }
    }
    for old_type in &old.data_types {
        match new.data_type_named(&old_type.name) {
            Some(new_type) => key_templates(old_type, new_type, &mut changes),
            None => removed_data_type(old, old_type, new, &mut changes),
        }
    }
    for (reference, new_table) in Ref::each(&new.tables) {
        if let Some(old_reference) = Ref::find(&old.tables, &new_table.name) {
            schema_version(old, &old_reference, new, &reference, &mut changes);
        }
    }
    idempotency::handlers(old, new, &mut changes);
    consumers(old, new, &mut changes);
    changes
}

fn key_text(key: &KeyAttribute) -> String {
    format!("`{}` ({})", key.name, key.kind)
}

fn optional_key_text(key: Option<&KeyAttribute>) -> String {
    key.map_or_else(|| "none".into(), key_text)
}

fn tables(old: &Table, new: &Table, changes: &mut Vec<Change>) {
    let path = NodePath::root().key("tables").key(&new.name);
    let replaced = |what: &str, from: String, to: String, key: &str| Change {
        class: Class::TableReplaced,
        message: format!(
            "table `{}`: {what} changes from {from} to {to}: CloudFormation replaces the table, and every entry in it is lost",
            new.name
        ),
        path: path.key(key),
    };
    if old.partition_key != new.partition_key {
        changes.push(replaced(
            "the partition key",
            key_text(&old.partition_key),
            key_text(&new.partition_key),
            "partition_key",
        ));
    }
    if old.sort_key != new.sort_key {
        changes.push(replaced(
            "the sort key",
            optional_key_text(old.sort_key.as_ref()),
            optional_key_text(new.sort_key.as_ref()),
            "sort_key",
        ));
    }
    if old.table_name != new.table_name {
        changes.push(replaced(
            "the physical name",
            format!("`{}`", old.table_name),
            format!("`{}`", new.table_name),
            "name",
        ));
    }
    if old.ttl_attribute != new.ttl_attribute {
        changes.push(Change {
            class: Class::TtlAttributeRenamed,
            message: format!(
                "table `{}`: the TTL attribute changes from `{}` to `{}`: items already written carry only `{}` and never expire, and DynamoDB must disable TTL (and wait up to an hour) before enabling it on the new attribute",
                new.name, old.ttl_attribute, new.ttl_attribute, old.ttl_attribute
            ),
            path: path.key("ttl_attribute"),
        });
    }
    for old_index in &old.indexes {
        let index_path = path.key("indexes").key(&old_index.name);
        match new
            .indexes
            .iter()
            .find(|index| index.name == old_index.name)
        {
            None => changes.push(Change {
                class: Class::IndexRemoved,
                message: format!(
                    "table `{}`: index `{}` is removed: code still running that queries it fails",
                    new.name, old_index.name
                ),
                path: path.key("indexes"),
            }),
            Some(new_index) => {
                if let Some(what) = index_difference(old_index, new_index) {
                    changes.push(Change {
                        class: Class::IndexRecreated,
                        message: format!(
                            "table `{}`: index `{}` changes its {what}: CloudFormation deletes and recreates it, and queries on it fail until the new index is active",
                            new.name, old_index.name
                        ),
                        path: index_path,
                    });
                }
            }
        }
    }
}

/// What changed in an index that DynamoDB cannot update in place.
fn index_difference(old: &Index, new: &Index) -> Option<String> {
    let mut parts = Vec::new();
    if old.partition_key != new.partition_key {
        parts.push(format!(
            "partition key ({} to {})",
            key_text(&old.partition_key),
            key_text(&new.partition_key)
        ));
    }
    if old.sort_key != new.sort_key {
        parts.push(format!(
            "sort key ({} to {})",
            optional_key_text(old.sort_key.as_ref()),
            optional_key_text(new.sort_key.as_ref())
        ));
    }
    if old.projection != new.projection || old.projected_attributes != new.projected_attributes {
        parts.push(format!(
            "projection ({} to {})",
            projection_text(old),
            projection_text(new)
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

fn projection_text(index: &Index) -> String {
    if index.projected_attributes.is_empty() {
        index.projection.to_string()
    } else {
        format!(
            "{} [{}]",
            index.projection,
            index.projected_attributes.join(", ")
        )
    }
}

fn key_templates(old: &DataType, new: &DataType, changes: &mut Vec<Change>) {
    let path = NodePath::root().key("data_types").key(&new.name);
    let store = |data_type: &DataType| {
        data_type
            .table
            .as_ref()
            .map_or("the Redis store".to_owned(), |table| {
                table.name().to_owned()
            })
    };
    let (old_table, new_table) = (store(old), store(new));
    let mut what = Vec::new();
    if old.key != new.key {
        what.push(format!(
            "its key changes from `{}` to `{}`",
            old.key, new.key
        ));
    }
    if old.sort_key != new.sort_key {
        let text = |template: Option<&crate::ir::Template>| {
            template.map_or_else(|| "none".into(), |template| format!("`{template}`"))
        };
        what.push(format!(
            "its sort key changes from {} to {}",
            text(old.sort_key.as_ref()),
            text(new.sort_key.as_ref())
        ));
    }
    if old_table != new_table {
        what.push(format!(
            "it moves from table `{old_table}` to `{new_table}`"
        ));
    }
    if what.is_empty() {
        return;
    }
    let key = if old.key != new.key {
        "key"
    } else if old.sort_key != new.sort_key {
        "sort_key"
    } else {
        "table"
    };
    changes.push(Change {
        class: Class::KeyTemplateChanged,
        message: format!(
            "data type `{}`: {}: its existing entries are never read again (a cold cache until they expire); {}",
            new.name,
            what.join(", and "),
            miss_burst(&[new])
        ),
        path: path.key(key),
    });
}

/// The origin calls a cold start of `data_types` adds, from their declared traffic: the
/// lookups that would have hit over one TTL after the deploy.
fn miss_burst(data_types: &[&DataType]) -> String {
    let mut estimates = Vec::new();
    let mut undeclared = Vec::new();
    for data_type in data_types {
        match data_type.traffic {
            Some(traffic) => {
                let window = data_type.ttl_secs.min(24 * 3600) as f64 / (24.0 * 3600.0);
                let misses =
                    (traffic.requests_per_day as f64 * traffic.hit_rate * window).round() as u64;
                estimates.push(format!(
                    "up to {misses} more origin calls for `{}` in the {} after the deploy ({} lookups a day at a {}% hit rate)",
                    data_type.name,
                    humantime::format_duration(Duration::from_secs(data_type.ttl_secs)),
                    traffic.requests_per_day,
                    (traffic.hit_rate * 100.0).round()
                ));
            }
            None => undeclared.push(format!("`{}`", data_type.name)),
        }
    }
    if !undeclared.is_empty() {
        estimates.push(format!(
            "declare `traffic` on {} to estimate its miss burst",
            undeclared.join(", ")
        ));
    }
    if estimates.is_empty() {
        "no data type is kept there".into()
    } else {
        format!("expect {}", estimates.join("; "))
    }
}

fn schema_version(
    old: &CacheModel,
    old_table: &TableRef,
    new: &CacheModel,
    new_table: &TableRef,
    changes: &mut Vec<Change>,
) {
    let (from, to) = (old.schema_version(old_table), new.schema_version(new_table));
    if from == to {
        return;
    }
    let old_types: Vec<&DataType> = old.data_types_in(old_table).collect();
    let new_types: Vec<&DataType> = new.data_types_in(new_table).collect();
    let mut reasons = Vec::new();
    let mut path = None;
    for data_type in &new_types {
        let data_type_path = NodePath::root().key("data_types").key(&data_type.name);
        match old_types.iter().find(|old| old.name == data_type.name) {
            Some(old_type) if old_type.value.shape() != data_type.value.shape() => {
                reasons.push(format!(
                    "the value of `{}` changes from `{}` to `{}`",
                    data_type.name,
                    old_type.value.shape(),
                    data_type.value.shape()
                ));
                path.get_or_insert(data_type_path.key("value"));
            }
            Some(_) => {}
            None => {
                reasons.push(format!("data type `{}` is added", data_type.name));
                path.get_or_insert(data_type_path);
            }
        }
    }
    for data_type in &old_types {
        if !new_types.iter().any(|new| new.name == data_type.name) {
            reasons.push(format!("data type `{}` leaves it", data_type.name));
        }
    }
    let table = new.table(new_table);
    changes.push(Change {
        class: Class::ValueTypeChanged,
        message: format!(
            "table `{}`: {}, so the generated module's schema version of the table changes from {from} to {to}: every entry in it reads as a miss once the new code runs (and the old code reads the new entries as misses while both run); {}",
            table.name,
            reasons.join(", and "),
            miss_burst(&new_types)
        ),
        path: path.unwrap_or_else(|| NodePath::root().key("tables").key(&table.name)),
    });
}

fn removed_data_type(
    old: &CacheModel,
    removed: &DataType,
    new: &CacheModel,
    changes: &mut Vec<Change>,
) {
    for consumer in &old.consumers {
        let used = consumer
            .access
            .iter()
            .any(|(data_type, _)| data_type.name() == removed.name);
        if used && new.consumers.iter().any(|c| c.name == consumer.name) {
            changes.push(Change {
                class: Class::DataTypeRemoved,
                message: format!(
                    "data type `{}` is removed, but consumer `{}`, which used it, stays: its running code loses the type's IAM access and entries until it is redeployed without it",
                    removed.name, consumer.name
                ),
                path: NodePath::root()
                    .key("consumers")
                    .key(&consumer.name)
                    .key("access"),
            });
        }
    }
}

fn consumers(old: &CacheModel, new: &CacheModel, changes: &mut Vec<Change>) {
    for old_consumer in &old.consumers {
        let Some(new_consumer) = new.consumers.iter().find(|c| c.name == old_consumer.name) else {
            changes.push(Change {
                class: Class::IamNarrowed,
                message: format!(
                    "consumer `{}` is removed: its cache policy is deleted, and code still running as it is denied",
                    old_consumer.name
                ),
                path: NodePath::parse("consumers"),
            });
            continue;
        };
        for (data_type, old_access) in &old_consumer.access {
            if new.data_type_named(data_type.name()).is_none() {
                continue; // reported as a removed data type
            }
            let new_access: BTreeSet<Access> = new_consumer
                .access
                .iter()
                .filter(|(reference, _)| reference.name() == data_type.name())
                .flat_map(|(_, access)| access.iter().copied())
                .collect();
            let lost: Vec<String> = old_access
                .iter()
                .filter(|access| !new_access.contains(access))
                .map(|access| format!("`{access}`"))
                .collect();
            if lost.is_empty() {
                continue;
            }
            changes.push(Change {
                class: Class::IamNarrowed,
                message: format!(
                    "consumer `{}` loses {} access to `{}`: its running code is denied those calls",
                    old_consumer.name,
                    lost.join(", "),
                    data_type.name()
                ),
                path: NodePath::root()
                    .key("consumers")
                    .key(&old_consumer.name)
                    .key("access")
                    .key(data_type.name()),
            });
        }
    }
}
