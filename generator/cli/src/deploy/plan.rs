//! What a template change does to each DynamoDB table, and which changes CloudFormation
//! cannot apply.
//!
//! Changing a table's key schema replaces the table, which CloudFormation refuses for a
//! table with a fixed `TableName`. (It also creates or deletes at most one global
//! secondary index per update: [`super::steps`] plans those in steps.)

use std::collections::BTreeMap;

use serde_yaml::Value;

/// One table's change between two templates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableChange {
    /// Logical ID of the table.
    pub logical_id: String,
    /// The table is new.
    pub created: bool,
    /// The table is removed from the template (it is retained, not deleted).
    pub removed: bool,
    /// Indexes added.
    pub indexes_added: Vec<String>,
    /// Indexes removed.
    pub indexes_removed: Vec<String>,
    /// Indexes whose keys or projection changed (deleted and recreated).
    pub indexes_changed: Vec<String>,
    /// The key schema changed.
    pub key_changed: bool,
    /// The table has a fixed physical name.
    pub named: bool,
}

impl TableChange {
    /// Why CloudFormation cannot apply this change, with what to do instead. (More than
    /// one index operation is applied in steps: see [`super::steps`].)
    pub fn refusal(&self) -> Option<String> {
        let table = &self.logical_id;
        (self.key_changed && self.named).then(|| {
            format!(
                "{table}: its key schema changes, which replaces the table, and CloudFormation cannot \
                 replace a table with a fixed name. Deploy the new key as a new table (a new name), \
                 move readers to it, then remove the old one."
            )
        })
    }

    /// Whether anything changes.
    pub fn is_empty(&self) -> bool {
        *self
            == Self {
                logical_id: self.logical_id.clone(),
                named: self.named,
                ..Self::default()
            }
    }

    /// One line per change, for a reviewer.
    pub fn describe(&self) -> Vec<String> {
        let table = &self.logical_id;
        let mut lines = Vec::new();
        if self.created {
            lines.push(format!("{table}: new table"));
        }
        if self.removed {
            lines.push(format!(
                "{table}: removed from the template (retained in the account)"
            ));
        }
        if self.key_changed {
            lines.push(format!(
                "{table}: key schema changes: the table is replaced"
            ));
        }
        lines.extend(
            self.indexes_added
                .iter()
                .map(|i| format!("{table}: index {i} added")),
        );
        lines.extend(
            self.indexes_removed
                .iter()
                .map(|i| format!("{table}: index {i} removed")),
        );
        lines.extend(
            self.indexes_changed
                .iter()
                .map(|i| format!("{table}: index {i} changes: deleted and created again")),
        );
        lines
    }
}

/// The DynamoDB table changes from `old` to `new` (template texts, JSON or YAML).
pub fn table_changes(old: &str, new: &str) -> Result<Vec<TableChange>, serde_yaml::Error> {
    let old = tables(&serde_yaml::from_str(old)?);
    let new = tables(&serde_yaml::from_str(new)?);
    let mut changes = Vec::new();
    for (id, new_table) in &new {
        let change = match old.get(id) {
            None => TableChange {
                logical_id: id.clone(),
                created: true,
                indexes_added: new_table.indexes.keys().cloned().collect(),
                named: new_table.named,
                ..TableChange::default()
            },
            Some(old_table) => TableChange {
                logical_id: id.clone(),
                key_changed: old_table.key != new_table.key,
                indexes_added: keys_missing(&new_table.indexes, &old_table.indexes),
                indexes_removed: keys_missing(&old_table.indexes, &new_table.indexes),
                indexes_changed: new_table
                    .indexes
                    .iter()
                    .filter(|(name, index)| {
                        old_table
                            .indexes
                            .get(*name)
                            .is_some_and(|old| old != *index)
                    })
                    .map(|(name, _)| name.clone())
                    .collect(),
                named: new_table.named,
                ..TableChange::default()
            },
        };
        changes.push(change);
    }
    for (id, old_table) in &old {
        if !new.contains_key(id) {
            changes.push(TableChange {
                logical_id: id.clone(),
                removed: true,
                named: old_table.named,
                ..TableChange::default()
            });
        }
    }
    Ok(changes)
}

fn keys_missing(from: &BTreeMap<String, Value>, other: &BTreeMap<String, Value>) -> Vec<String> {
    from.keys()
        .filter(|name| !other.contains_key(*name))
        .cloned()
        .collect()
}

/// The parts of a table that decide what an update does to it.
struct TableShape {
    key: Option<Value>,
    indexes: BTreeMap<String, Value>,
    named: bool,
}

fn tables(template: &Value) -> BTreeMap<String, TableShape> {
    let Some(resources) = template.get("Resources").and_then(Value::as_mapping) else {
        return BTreeMap::new();
    };
    resources
        .iter()
        .filter(|(_, resource)| {
            resource.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table")
        })
        .filter_map(|(id, resource)| {
            let properties = resource.get("Properties");
            let indexes = properties
                .and_then(|p| p.get("GlobalSecondaryIndexes"))
                .and_then(Value::as_sequence)
                .map(|indexes| {
                    indexes
                        .iter()
                        .filter_map(|index| {
                            let name = index.get("IndexName")?.as_str()?.to_owned();
                            // Capacity changes are in-place updates; keys and projection are not.
                            let shape = Value::Sequence(vec![
                                index.get("KeySchema").cloned().unwrap_or(Value::Null),
                                index.get("Projection").cloned().unwrap_or(Value::Null),
                            ]);
                            Some((name, shape))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some((
                id.as_str()?.to_owned(),
                TableShape {
                    key: properties.and_then(|p| p.get("KeySchema")).cloned(),
                    indexes,
                    named: properties.is_some_and(|p| p.get("TableName").is_some()),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(key: &str, indexes: &[(&str, &str)]) -> String {
        let indexes: String = indexes
            .iter()
            .map(|(name, key)| {
                format!(
                    "        - IndexName: {name}\n          KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]\n          Projection: {{ProjectionType: ALL}}\n"
                )
            })
            .collect();
        format!(
            "Resources:\n  CacheTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: cache\n      KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]\n      GlobalSecondaryIndexes:\n{indexes}"
        )
    }

    #[test]
    fn one_index_added_is_allowed() {
        let changes = table_changes(
            &template("pk", &[("a", "x")]),
            &template("pk", &[("a", "x"), ("b", "y")]),
        )
        .unwrap();
        assert_eq!(changes[0].indexes_added, ["b"]);
        assert_eq!(changes[0].refusal(), None);
    }

    #[test]
    fn index_operations_are_listed_not_refused() {
        let changes = table_changes(
            &template("pk", &[("a", "x")]),
            &template("pk", &[("b", "y")]),
        )
        .unwrap();
        assert_eq!(changes[0].refusal(), None);
        assert_eq!(
            changes[0].describe(),
            ["CacheTable: index b added", "CacheTable: index a removed"]
        );
    }

    #[test]
    fn a_changed_index_is_named() {
        let changes = table_changes(
            &template("pk", &[("a", "x")]),
            &template("pk", &[("a", "z")]),
        )
        .unwrap();
        assert_eq!(changes[0].indexes_changed, ["a"]);
    }

    #[test]
    fn a_key_change_on_a_named_table_is_refused() {
        let changes = table_changes(&template("pk", &[]), &template("id", &[])).unwrap();
        assert!(changes[0].key_changed && changes[0].named);
        assert!(
            changes[0]
                .refusal()
                .unwrap()
                .contains("cannot replace a table with a fixed name")
        );
    }

    #[test]
    fn a_new_table_may_bring_many_indexes() {
        let changes =
            table_changes("Resources: {}", &template("pk", &[("a", "x"), ("b", "y")])).unwrap();
        assert!(changes[0].created);
        assert_eq!(changes[0].refusal(), None);
        assert_eq!(changes[0].describe()[0], "CacheTable: new table");
    }

    #[test]
    fn an_unchanged_table_is_empty() {
        let text = template("pk", &[("a", "x")]);
        let changes = table_changes(&text, &text).unwrap();
        assert!(changes[0].is_empty());
        assert!(changes[0].describe().is_empty());
    }
}
