//! More than one GSI change to a table, applied in steps: CloudFormation (like DynamoDB's
//! UpdateTable) creates or deletes one global secondary index per table per update, so an
//! update that needs more becomes a sequence of templates, each one index operation per
//! table away from the one before, the last being the template asked for.
//!
//! Each step is the new template with, for each stepped table, the indexes it has reached
//! so far and exactly the attribute definitions they and the table's key use. Deletions
//! come first (a changed index is deleted, then created again), then creations. A plan is
//! always made from the deployed template, so a deploy interrupted between steps resumes
//! where the stack is.

use serde_yaml::Value;

/// One update of the stack.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The template to deploy (JSON for an intermediate step, the new template's own text
    /// for the last).
    pub template: String,
    /// What it does to the indexes: `MetadataTable: delete index ByStatus`.
    pub actions: Vec<String>,
}

/// An index operation on one table.
#[derive(Clone, Debug, PartialEq)]
enum Operation {
    Delete(String),
    Create(Value),
}

/// The index operations one table needs, in order, and the indexes it starts from.
#[derive(Clone, Debug, PartialEq)]
struct TablePlan {
    /// The table's logical ID.
    id: String,
    /// Its deployed indexes, those kept as they are in their new form.
    start: Vec<Value>,
    /// Deletions first, then creations.
    operations: Vec<Operation>,
}

/// The updates that take the stack from `old` to `new` (template texts, JSON or YAML):
/// `new` alone when every table's index changes fit one update.
pub fn steps(old: &str, new: &str) -> Result<Vec<Step>, serde_yaml::Error> {
    let old_template: Value = serde_yaml::from_str(old)?;
    let new_template: Value = serde_yaml::from_str(new)?;
    let mut tables = Vec::new();
    for (id, new_table) in table_resources(&new_template) {
        let Some(old_table) = table_resources(&old_template)
            .into_iter()
            .find(|(old_id, _)| *old_id == id)
            .map(|(_, table)| table)
        else {
            continue; // created with all its indexes at once
        };
        if property(old_table, "KeySchema") != property(new_table, "KeySchema") {
            continue; // replaced, not updated
        }
        tables.push(table_plan(id, old_table, new_table));
    }
    let count = tables
        .iter()
        .map(|table| table.operations.len())
        .max()
        .unwrap_or(0);
    if count <= 1 {
        return Ok(vec![Step {
            template: new.to_owned(),
            actions: tables
                .iter()
                .flat_map(|table| table.operations.iter().map(|op| action(&table.id, op)))
                .collect(),
        }]);
    }
    let mut result = Vec::new();
    let mut states: Vec<Vec<Value>> = tables.iter().map(|table| table.start.clone()).collect();
    for step in 0..count {
        let mut template = new_template.clone();
        let mut actions = Vec::new();
        for (table, state) in tables.iter().zip(states.iter_mut()) {
            if let Some(operation) = table.operations.get(step) {
                match operation {
                    Operation::Delete(name) => state.retain(|index| index_name(index) != name),
                    Operation::Create(index) => state.push(index.clone()),
                }
                actions.push(action(&table.id, operation));
            }
            if step + 1 < count {
                let definitions = attribute_definitions(&old_template, &new_template, &table.id);
                set_indexes(&mut template, &table.id, state, &definitions);
            }
        }
        let text = if step + 1 == count {
            new.to_owned()
        } else {
            serde_json::to_string(&template).expect("a YAML template is JSON")
        };
        result.push(Step {
            template: text,
            actions,
        });
    }
    Ok(result)
}

/// The index operations that take table `id` from `old_table` to `new_table`: each index
/// gone or changed is deleted, then each new or changed one created.
fn table_plan(id: &str, old_table: &Value, new_table: &Value) -> TablePlan {
    let (old_indexes, new_indexes) = (indexes(old_table), indexes(new_table));
    let mut operations = Vec::new();
    for index in &old_indexes {
        let name = index_name(index);
        match new_indexes.iter().find(|new| index_name(new) == name) {
            Some(new) if shape(new) == shape(index) => {}
            _ => operations.push(Operation::Delete(name.to_owned())),
        }
    }
    for index in &new_indexes {
        let name = index_name(index);
        match old_indexes.iter().find(|old| index_name(old) == name) {
            Some(old) if shape(old) == shape(index) => {}
            _ => operations.push(Operation::Create(index.clone())),
        }
    }
    // Indexes kept as they are start in their new form (capacity updates in place).
    let start = old_indexes
        .iter()
        .map(|old| {
            new_indexes
                .iter()
                .find(|new| index_name(new) == index_name(old) && shape(new) == shape(old))
                .unwrap_or(old)
                .clone()
        })
        .collect();
    TablePlan {
        id: id.to_owned(),
        start,
        operations,
    }
}

/// The attribute definitions of table `id` in either template (an intermediate step may
/// need one only the old or only the new template has).
fn attribute_definitions(old_template: &Value, new_template: &Value, id: &str) -> Vec<Value> {
    [old_template, new_template]
        .into_iter()
        .filter_map(|template| {
            table_resources(template)
                .into_iter()
                .find(|(table_id, _)| *table_id == id)
                .and_then(|(_, table)| property(table, "AttributeDefinitions"))
                .and_then(Value::as_sequence)
                .cloned()
        })
        .flatten()
        .collect()
}

fn action(table: &str, operation: &Operation) -> String {
    match operation {
        Operation::Delete(name) => format!("{table}: delete index {name}"),
        Operation::Create(index) => format!("{table}: create index {}", index_name(index)),
    }
}

fn table_resources(template: &Value) -> Vec<(&str, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .map(|resources| {
            resources
                .iter()
                .filter(|(_, resource)| {
                    resource.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table")
                })
                .filter_map(|(id, resource)| Some((id.as_str()?, resource)))
                .collect()
        })
        .unwrap_or_default()
}

fn property<'a>(table: &'a Value, name: &str) -> Option<&'a Value> {
    table.get("Properties")?.get(name)
}

fn indexes(table: &Value) -> Vec<Value> {
    property(table, "GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default()
}

fn index_name(index: &Value) -> &str {
    index
        .get("IndexName")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// What DynamoDB cannot change in place: keys and projection.
fn shape(index: &Value) -> (Option<&Value>, Option<&Value>) {
    (index.get("KeySchema"), index.get("Projection"))
}

/// Gives table `id` of `template` the indexes `state`, and the attribute definitions its
/// key and those indexes use, from `definitions`.
fn set_indexes(template: &mut Value, id: &str, state: &[Value], definitions: &[Value]) {
    let Some(properties) = template
        .get_mut("Resources")
        .and_then(|resources| resources.get_mut(id))
        .and_then(|table| table.get_mut("Properties"))
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    let mut used: Vec<String> = Vec::new();
    let key_names = |schema: Option<&Value>| -> Vec<String> {
        schema
            .and_then(Value::as_sequence)
            .map(|elements| {
                elements
                    .iter()
                    .filter_map(|element| element.get("AttributeName")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    used.extend(key_names(properties.get("KeySchema")));
    for index in state {
        used.extend(key_names(index.get("KeySchema")));
    }
    let mut attributes: Vec<Value> = Vec::new();
    for name in &used {
        let seen = attributes.iter().any(|definition| {
            definition.get("AttributeName").and_then(Value::as_str) == Some(name)
        });
        if let Some(definition) = definitions
            .iter()
            .find(|definition| {
                definition.get("AttributeName").and_then(Value::as_str) == Some(name)
            })
            .filter(|_| !seen)
        {
            attributes.push(definition.clone());
        }
    }
    properties.insert("AttributeDefinitions".into(), Value::Sequence(attributes));
    if state.is_empty() {
        properties.remove("GlobalSecondaryIndexes");
    } else {
        properties.insert(
            "GlobalSecondaryIndexes".into(),
            Value::Sequence(state.to_vec()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::table_changes;

    fn template(indexes: &[(&str, &str)]) -> String {
        let mut attributes = vec!["pk".to_owned()];
        let indexes: String = indexes
            .iter()
            .map(|(name, key)| {
                attributes.push((*key).to_owned());
                format!(
                    "        - IndexName: {name}\n          KeySchema: [{{AttributeName: {key}, KeyType: HASH}}]\n          Projection: {{ProjectionType: ALL}}\n"
                )
            })
            .collect();
        attributes.sort();
        attributes.dedup();
        let definitions: String = attributes
            .iter()
            .map(|name| format!("        - {{AttributeName: {name}, AttributeType: S}}\n"))
            .collect();
        let gsis = if indexes.is_empty() {
            String::new()
        } else {
            format!("      GlobalSecondaryIndexes:\n{indexes}")
        };
        format!(
            "Resources:\n  CacheTable:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: cache\n      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]\n      AttributeDefinitions:\n{definitions}{gsis}"
        )
    }

    /// Every step is one index operation away from the one before, and defines exactly
    /// the attributes its keys use.
    fn assert_stepwise(old: &str, steps: &[Step]) {
        let mut before = old.to_owned();
        for step in steps {
            let changes = table_changes(&before, &step.template).unwrap();
            for change in &changes {
                let operations = change.indexes_added.len()
                    + change.indexes_removed.len()
                    + 2 * change.indexes_changed.len();
                assert!(operations <= 1, "{change:?} in {}", step.template);
            }
            let value: Value = serde_yaml::from_str(&step.template).unwrap();
            let table = &value["Resources"]["CacheTable"]["Properties"];
            let mut defined: Vec<&str> = table["AttributeDefinitions"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|d| d["AttributeName"].as_str().unwrap())
                .collect();
            let deployed = indexes(&value["Resources"]["CacheTable"]);
            let mut used: Vec<&str> = std::iter::once("pk")
                .chain(
                    deployed
                        .iter()
                        .map(|i| i["KeySchema"][0]["AttributeName"].as_str().unwrap()),
                )
                .collect();
            defined.sort();
            used.sort();
            used.dedup();
            assert_eq!(defined, used, "{}", step.template);
            before = step.template.clone();
        }
    }

    #[test]
    fn one_operation_is_one_step_the_new_template() {
        let new = template(&[("a", "x"), ("b", "y")]);
        let steps = steps(&template(&[("a", "x")]), &new).unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].template, new);
        assert_eq!(steps[0].actions, ["CacheTable: create index b"]);
    }

    #[test]
    fn two_renames_take_four_steps_deletions_first() {
        let old = template(&[("a", "x"), ("b", "y")]);
        let new = template(&[("c", "x"), ("d", "y")]);
        let steps = steps(&old, &new).unwrap();
        let actions: Vec<&str> = steps
            .iter()
            .flat_map(|s| &s.actions)
            .map(String::as_str)
            .collect();
        assert_eq!(
            actions,
            [
                "CacheTable: delete index a",
                "CacheTable: delete index b",
                "CacheTable: create index c",
                "CacheTable: create index d",
            ]
        );
        assert_eq!(steps.last().unwrap().template, new);
        assert_stepwise(&old, &steps);
        // After the deletions the table has no index, and defines only its key.
        assert!(!steps[1].template.contains("GlobalSecondaryIndexes"));
    }

    #[test]
    fn a_changed_index_is_deleted_then_created() {
        let old = template(&[("a", "x")]);
        let new = template(&[("a", "z")]);
        let steps = steps(&old, &new).unwrap();
        assert_eq!(
            steps
                .iter()
                .flat_map(|s| s.actions.clone())
                .collect::<Vec<_>>(),
            ["CacheTable: delete index a", "CacheTable: create index a"]
        );
        assert_stepwise(&old, &steps);
    }

    #[test]
    fn resuming_from_an_intermediate_step_plans_the_rest() {
        let old = template(&[("a", "x"), ("b", "y")]);
        let new = template(&[("c", "x"), ("d", "y")]);
        let all = steps(&old, &new).unwrap();
        let rest = steps(&all[1].template, &new).unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].actions, ["CacheTable: create index c"]);
        assert_stepwise(&all[1].template, &rest);
    }
}
