//! A failing spec cut down to what one data type needs: the type alone, its table with the
//! indexes it writes, the bucket its large values go to, and a consumer of it. The cut is
//! structural, not a search: a defect that needs two data types shows in neither alone,
//! and the report then says the shrunk spec passed.

use cachegen_compiler::ir::item;
use serde_json::{Map, Value, json};

/// `spec` with `data_type` alone (and what it needs), or `None` when it declares no such
/// data type.
pub fn shrink(spec: &Value, data_type: &str) -> Option<Value> {
    let mut shrunk = spec.as_object()?.clone();
    let kept = spec["data_types"].get(data_type)?.clone();
    shrunk.insert("data_types".into(), json!({ data_type: kept.clone() }));
    for dropped in ["idempotency", "alarms"] {
        shrunk.remove(dropped);
    }
    shrunk.insert(
        "consumers".into(),
        json!({ "app": { "access": { data_type: ["read", "write", "invalidate"] } } }),
    );
    if let Some(tables) = spec["tables"].as_object() {
        let table_name = kept["table"]
            .as_str()
            .or_else(|| tables.keys().next().map(String::as_str))?
            .to_owned();
        let mut table = tables.get(&table_name)?.clone();
        let written = |attribute: &Value| {
            let name = attribute["name"].as_str().unwrap_or_default();
            kept["attributes"].get(name).is_some()
                || table_key_names(&tables[&table_name]).contains(&name.to_owned())
        };
        if let Some(indexes) = table.get_mut("indexes").and_then(Value::as_object_mut) {
            indexes.retain(|_, index| {
                written(&index["partition_key"]) && index.get("sort_key").is_none_or(&written)
            });
            if indexes.is_empty() {
                table.as_object_mut()?.remove("indexes");
            }
        }
        let mut kept_tables = Map::new();
        kept_tables.insert(table_name, table);
        shrunk.insert("tables".into(), Value::Object(kept_tables));
        // A lone table is every type's table: the type need not name it.
        if let Some(kept) = shrunk["data_types"][data_type].as_object_mut() {
            kept.remove("table");
        }
    }
    if kept["large_values"] != json!(true) && kept.get("document").is_none() {
        shrunk.remove("buckets");
    }
    Some(Value::Object(shrunk))
}

/// The names of a table's own key attributes and the runtime's, which every item carries.
fn table_key_names(table: &Value) -> Vec<String> {
    let mut names: Vec<String> = ["partition_key", "sort_key"]
        .iter()
        .filter_map(|key| table[key]["name"].as_str().map(str::to_owned))
        .collect();
    names.extend([item::CREATED_AT, item::EXPIRES_AT].map(str::to_owned));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrunk_specs_compile_and_keep_one_type() {
        for seed in 0..100 {
            let spec = crate::spec::draw(seed);
            for name in spec["data_types"].as_object().unwrap().keys() {
                let shrunk = shrink(&spec, name).unwrap();
                assert_eq!(shrunk["data_types"].as_object().unwrap().len(), 1);
                let yaml = crate::spec::to_yaml(&shrunk, "shrunk");
                if let Err(problems) = cachegen_compiler::compile_text("cache.yaml", &yaml) {
                    panic!("seed {seed}, `{name}` alone is refused:\n{yaml}\n{problems}");
                }
            }
        }
    }
}
