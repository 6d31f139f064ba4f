//! A valid spec drawn from a seed: tables with and without sort keys, GSIs of each
//! projection, every key parameter type with and without defaults, value shapes nested two
//! deep, tags, prefixes, `ttl_env`, origin policies, large values, idempotent handlers, and
//! the Redis store. The same seed always draws the same spec.
//!
//! Every choice keeps the spec valid by construction; the compiler refusing a draw is a
//! finding, never something to filter out.

use cachegen_compiler::ir::item;
use heck::{ToPascalCase, ToShoutySnakeCase};
use serde_json::{Map, Value, json};

/// Data type names, drawn without repeats (none generates the Rust type `Cache`).
const TYPE_NAMES: &[&str] = &[
    "user-profile",
    "order",
    "session",
    "quota",
    "feature-flags",
    "invoice",
    "route",
    "price-list",
    "device",
    "report",
    "tenant",
    "inventory",
];

/// Table names (each a Rust module name).
const TABLE_NAMES: &[&str] = &["items", "lookups", "records"];

/// Key parameter names and value field names (snake_case, no Rust keyword).
const PARAM_NAMES: &[&str] = &["region", "account_id", "user", "day", "flag", "shard"];
const FIELD_NAMES: &[&str] = &[
    "name", "count", "total", "ratio", "active", "tags", "extra", "limits", "note", "history",
];

/// Rust type paths a value may be, each valid without a crate of the user's.
pub const RUST_VALUE_TYPES: &[&str] = &[
    "Vec<String>",
    "String",
    "u64",
    "std::collections::BTreeMap<String, i64>",
    "serde_json::Value",
];

/// Key parameter types.
const PARAM_TYPES: &[&str] = &["string", "u32", "u64", "i64", "bool"];

/// A seeded source of choices.
struct Dice(fastrand::Rng);

impl Dice {
    fn chance(&mut self, percent: u8) -> bool {
        self.0.u8(..100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.0.usize(..items.len())]
    }

    fn count(&mut self, low: usize, high: usize) -> usize {
        self.0.usize(low..=high)
    }

    /// `count` distinct items of `items`, in their order.
    fn some<'a, T>(&mut self, items: &'a [T], count: usize) -> Vec<&'a T> {
        let mut positions: Vec<usize> = (0..items.len()).collect();
        self.0.shuffle(&mut positions);
        positions.truncate(count.min(items.len()));
        positions.sort_unstable();
        positions.into_iter().map(|at| &items[at]).collect()
    }

    /// A value field type, at most `depth` generics deep.
    fn field_type(&mut self, depth: u8) -> String {
        let scalar = ["string", "bool", "u32", "u64", "i64", "f64", "json"];
        if depth == 0 || self.chance(60) {
            return (*self.pick(&scalar)).to_owned();
        }
        let inner = self.field_type(depth - 1);
        match self.0.u8(..3) {
            0 => format!("list<{inner}>"),
            1 => format!("option<{inner}>"),
            _ => format!("map<{inner}>"),
        }
    }
}

/// One index of a drawn table: its key attributes (name and `S`/`N`), and the data type
/// that writes them.
struct DrawnIndex {
    name: String,
    partition: (String, &'static str),
    sort: Option<(String, &'static str)>,
}

/// The spec drawn from `seed`, as the JSON value of its YAML.
pub fn draw(seed: u64) -> Value {
    let mut dice = Dice(fastrand::Rng::with_seed(seed));
    let service = format!("conf{seed}");
    let redis = dice.chance(20);
    let mut spec = Map::new();
    spec.insert("version".into(), json!(1));
    spec.insert("service".into(), json!(service));
    spec.insert(
        "description".into(),
        json!(format!("Conformance spec drawn from seed {seed}")),
    );
    spec.insert(
        "parameters".into(),
        json!({ "env": { "default": "dev", "description": "Deployment environment" } }),
    );
    let mut defaults = Map::new();
    if dice.chance(40) {
        defaults.insert(
            "tags".into(),
            json!({ "Service": service, "Environment": "${env}" }),
        );
    }
    if dice.chance(20) {
        defaults.insert("memory_ttl".into(), json!("1m"));
    }
    if dice.chance(20) {
        defaults.insert("ttl".into(), json!("10m"));
    }
    if !defaults.is_empty() {
        spec.insert("defaults".into(), Value::Object(defaults));
    }
    let mut type_names: Vec<&str> = TYPE_NAMES.to_vec();
    dice.0.shuffle(&mut type_names);
    let mut data_types = Map::new();
    let mut tables = Map::new();
    // Whether some type keeps values or documents in S3: the spec then has a bucket.
    let mut large_values = false;
    if redis {
        spec.insert(
            "store".into(),
            json!({ "redis": if dice.chance(30) { json!({ "cluster": false }) } else { json!({}) } }),
        );
        for _ in 0..dice.count(1, 4) {
            let name = type_names.pop().expect("enough type names");
            let data_type = draw_data_type(&mut dice, name, false, None, &[], false);
            data_types.insert(name.to_owned(), data_type);
        }
    } else {
        let table_count = dice.count(1, 2);
        for table_name in dice.some(TABLE_NAMES, table_count) {
            let table = draw_table(
                &mut dice,
                &service,
                table_name,
                table_count,
                &mut type_names,
                &mut data_types,
            );
            tables.insert((*table_name).to_owned(), table);
        }
        large_values = data_types.values().any(|data_type| {
            data_type.get("large_values") == Some(&json!(true))
                || data_type.get("document").is_some()
        });
    }
    if !tables.is_empty() {
        spec.insert("tables".into(), Value::Object(tables));
    }
    if large_values {
        spec.insert(
            "buckets".into(),
            json!({ "store": {
                "name": format!("{service}-store-${{env}}-${{AWS::AccountId}}"),
                "description": "Documents, and bodies of values too large for an item",
                "versioning": dice.chance(50),
            } }),
        );
    }
    let type_names_drawn: Vec<String> = data_types.keys().cloned().collect();
    spec.insert("data_types".into(), Value::Object(data_types));
    if !redis && dice.chance(35) {
        let table = spec["tables"]
            .as_object()
            .and_then(|tables| tables.keys().next().cloned())
            .expect("a DynamoDB spec has a table");
        let in_flight = if dice.chance(50) { "refuse" } else { "wait" };
        let payload_validation = dice.chance(70);
        spec.insert(
            "idempotency".into(),
            json!({ "place-order": {
                "description": "Places one order per request id",
                "table": table,
                "request": { "fields": { "request_id": "string", "amount": "u64", "note": "option<string>" } },
                "response": { "fields": { "order_id": "string", "accepted": "bool" } },
                "key": ["request_id"],
                "expires_after": "1h",
                "in_flight": in_flight,
                "payload_validation": payload_validation,
            } }),
        );
    }
    let levels = ["read", "write", "invalidate"];
    let access = if dice.chance(70) {
        json!({ "*": levels })
    } else {
        Value::Object(
            type_names_drawn
                .iter()
                .map(|name| (name.clone(), json!(levels)))
                .collect(),
        )
    };
    let mut consumers = Map::new();
    consumers.insert(
        "app".into(),
        json!({ "description": "The application's Lambdas", "access": access }),
    );
    let searched: Map<String, Value> = type_names_drawn
        .iter()
        .filter(|name| on_an_index(&spec, name))
        .map(|name| (name.clone(), json!(["query", "read"])))
        .collect();
    if !searched.is_empty() {
        consumers.insert(
            "search".into(),
            json!({ "description": "Searches through the indexes", "access": searched }),
        );
    }
    spec.insert("consumers".into(), Value::Object(consumers));
    if dice.chance(40) {
        spec.insert(
            "alarms".into(),
            json!({ "hit-rate-low": { "metric": "hit_rate", "threshold": 0.5 },
                    "store-errors": { "metric": "store_errors", "threshold": 0 } }),
        );
    }
    Value::Object(spec)
}

fn draw_table(
    dice: &mut Dice,
    service: &str,
    name: &str,
    table_count: usize,
    type_names: &mut Vec<&str>,
    data_types: &mut Map<String, Value>,
) -> Value {
    let mut table = Map::new();
    table.insert(
        "name".into(),
        json!(if dice.chance(50) {
            format!("${{AWS::StackName}}-{name}")
        } else {
            format!("{service}-{name}-${{env}}")
        }),
    );
    table.insert(
        "partition_key".into(),
        json!({ "name": dice.pick(&["pk", "PK", "cacheKey", "id"]), "type": "S" }),
    );
    // The sort key's type: text, or a number.
    let sort_key = dice.chance(40).then(|| {
        let kind = if dice.chance(35) { "N" } else { "S" };
        (*dice.pick(&["sk", "SK", "sortKey"]), kind)
    });
    if let Some((sort, kind)) = sort_key {
        table.insert("sort_key".into(), json!({ "name": sort, "type": kind }));
    }
    if dice.chance(60) {
        table.insert(
            "ttl_attribute".into(),
            json!(dice.pick(&["ttl", "expiresAt"])),
        );
    }
    let provisioned = dice.chance(20);
    if provisioned {
        table.insert(
            "billing".into(),
            json!({ "provisioned": { "read": 2, "write": 2 } }),
        );
    }
    match dice.0.u8(..3) {
        0 => {
            table.insert("encryption".into(), json!("aws_owned"));
        }
        1 => {
            table.insert("encryption".into(), json!("aws_managed"));
        }
        _ => {}
    }
    if dice.chance(30) {
        table.insert("point_in_time_recovery".into(), json!(false));
    }
    if dice.chance(30) {
        table.insert("tags".into(), json!({ "Table": name }));
    }
    if table_count > 1 && dice.chance(50) {
        table.insert(
            "env_var".into(),
            json!(format!("CONF_{}_TABLE", name.to_shouty_snake_case())),
        );
    }
    let indexes: Vec<DrawnIndex> = (0..dice.count(0, 2))
        .map(|position| DrawnIndex {
            name: format!("{name}-gsi{position}"),
            partition: (
                format!("gsi{position}pk"),
                if dice.chance(75) { "S" } else { "N" },
            ),
            sort: dice.chance(60).then(|| {
                (
                    format!("gsi{position}sk"),
                    if dice.chance(70) { "N" } else { "S" },
                )
            }),
        })
        .collect();
    let type_count = dice.count(1, 4);
    let names: Vec<&str> = (0..type_count)
        .map(|_| type_names.pop().expect("enough type names"))
        .collect();
    let mut drawn: Vec<(String, Value)> = names
        .iter()
        .map(|type_name| {
            let mut data_type = draw_data_type(
                dice,
                type_name,
                true,
                sort_key.map(|(_, kind)| kind),
                &indexes,
                type_count == 1 && sort_key.is_none(),
            );
            if table_count > 1 {
                data_type["table"] = json!(name);
            }
            ((*type_name).to_owned(), data_type)
        })
        .collect();
    // On a table with a sort key, a second type may share the first one's keys and tell
    // its items apart by its sort key alone.
    if sort_key.is_some() && drawn.len() > 1 && dice.chance(40) {
        let (key, params) = (drawn[0].1["key"].clone(), drawn[0].1["params"].clone());
        let sort = drawn[0].1["sort_key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let shares_params = !sort.contains('{');
        if shares_params {
            let data_type = &mut drawn[1].1;
            data_type["key"] = key;
            data_type["sort_key"] = match sort_key {
                Some((_, "N")) => json!("9"),
                _ => json!(format!("other-{sort}")),
            };
            match params {
                Value::Null => {
                    data_type
                        .as_object_mut()
                        .expect("a mapping")
                        .remove("params");
                }
                params => data_type["params"] = params,
            }
            let object = data_type.as_object_mut().expect("a mapping");
            for field in ["tags", "attributes", "invalidate_by", "document"] {
                object.remove(field);
            }
        }
    }
    // Every index key must be written by some data type on the table: the first type
    // writes those no type drew.
    for index in &indexes {
        for (attribute, kind) in std::iter::once(&index.partition).chain(&index.sort) {
            let written = drawn
                .iter()
                .any(|(_, data_type)| data_type["attributes"].get(attribute).is_some());
            if !written {
                let (type_name, data_type) = &mut drawn[0];
                let template = attribute_template(dice, type_name, data_type, kind, false);
                write_attribute(data_type, attribute, template);
            }
        }
    }
    let mut index_specs = Map::new();
    for index in &indexes {
        let mut spec = Map::new();
        spec.insert(
            "partition_key".into(),
            json!({ "name": index.partition.0, "type": index.partition.1 }),
        );
        if let Some((attribute, kind)) = &index.sort {
            spec.insert(
                "sort_key".into(),
                json!({ "name": attribute, "type": kind }),
            );
        }
        let projection = *dice.pick(&["all", "keys_only", "include"]);
        spec.insert("projection".into(), json!(projection));
        if projection == "include" {
            spec.insert("projected_attributes".into(), json!(["label"]));
        }
        if provisioned && dice.chance(50) {
            spec.insert("capacity".into(), json!({ "read": 1, "write": 1 }));
        }
        index_specs.insert(index.name.clone(), Value::Object(spec));
    }
    if !index_specs.is_empty() {
        table.insert("indexes".into(), Value::Object(index_specs));
    }
    // The index a type may invalidate all its items through: one whose partition key it
    // writes as its own name.
    for (_, data_type) in &mut drawn {
        let by = indexes.iter().find(|index| {
            data_type["attributes"].get(&index.partition.0) == Some(&json!("{data_type}"))
        });
        if let Some(index) = by
            && dice.chance(60)
        {
            data_type["invalidate_by"] = json!(index.name);
        }
    }
    data_types.extend(drawn);
    Value::Object(table)
}

/// A data type named `name`, in DynamoDB or Redis; on a table with a sort key of type
/// `sort_key` (`S` or `N`), with the `indexes` it may write.
fn draw_data_type(
    dice: &mut Dice,
    name: &str,
    dynamodb: bool,
    sort_key: Option<&str>,
    indexes: &[DrawnIndex],
    alone: bool,
) -> Value {
    let mut data_type = Map::new();
    data_type.insert(
        "description".into(),
        json!(format!("Conformance data type `{name}`.")),
    );
    let param_count = dice.count(0, 3);
    let params: Vec<(&str, &str)> = dice
        .some(PARAM_NAMES, param_count)
        .into_iter()
        .map(|param| (*param, *dice.pick(PARAM_TYPES)))
        .collect();
    let mut param_specs = Map::new();
    for (param, ty) in &params {
        let default = dice.chance(25).then(|| match *ty {
            "string" => json!("global"),
            "bool" => json!(false),
            "i64" => json!(-1),
            _ => json!(0),
        });
        param_specs.insert(
            (*param).to_owned(),
            match default {
                Some(default) => json!({ "type": ty, "default": default }),
                None => json!(ty),
            },
        );
    }
    // A sort key template may take a parameter out of the key: the last one on a text sort
    // key, an integer one alone on a numeric sort key; or it is fixed.
    let mut key_params: Vec<&str> = params.iter().map(|(param, _)| *param).collect();
    let sort_template = sort_key.map(|kind| {
        if kind == "N" {
            let integer = params
                .iter()
                .rposition(|(_, ty)| ["u32", "u64", "i64"].contains(ty));
            match integer {
                Some(position) if dice.chance(50) => {
                    format!("{{{}}}", key_params.remove(position))
                }
                _ => (*dice.pick(&["1", "2", "3"])).to_owned(),
            }
        } else if !key_params.is_empty() && dice.chance(35) {
            let last = key_params.pop().expect("a parameter");
            if dice.chance(50) {
                format!("{{{last}}}")
            } else {
                format!("s#{{{last}}}")
            }
        } else {
            (*dice.pick(&["v1", "METADATA", "item"])).to_owned()
        }
    });
    let separator = *dice.pick(&["#", ":", "/"]);
    let key = if alone && key_params.len() == 1 && dice.chance(40) {
        // Alone on its table, a type's key may be its parameter alone.
        format!("{{{}}}", key_params[0])
    } else {
        let mut key = format!("{name}{separator}");
        for (position, param) in key_params.iter().enumerate() {
            if position > 0 {
                key.push_str(separator);
            }
            key.push_str(&format!("{{{param}}}"));
        }
        if key_params.is_empty() {
            key.push_str("all");
        } else if dice.chance(20) {
            key.push_str(separator);
            key.push_str("v2");
        }
        key
    };
    data_type.insert("key".into(), json!(key));
    if let Some(sort) = sort_template {
        data_type.insert("sort_key".into(), json!(sort));
    }
    if !param_specs.is_empty() {
        data_type.insert("params".into(), Value::Object(param_specs));
    }
    let large_values = dynamodb && dice.chance(20);
    let value = if !large_values && dice.chance(20) {
        json!({ "type": dice.pick(RUST_VALUE_TYPES) })
    } else {
        let mut fields = Map::new();
        let field_count = dice.count(1, 5);
        for field in dice.some(FIELD_NAMES, field_count) {
            fields.insert((*field).to_owned(), json!(dice.field_type(2)));
        }
        // Index attributes and large values draw on a label and a body.
        fields.insert("label".into(), json!("string"));
        if large_values {
            fields.insert("body".into(), json!("string"));
        }
        fields.insert("score".into(), json!("i64"));
        json!({ "fields": fields })
    };
    data_type.insert("value".into(), value);
    let ttl = *dice.pick(&["30s", "5m", "1h", "1d"]);
    data_type.insert("ttl".into(), json!(ttl));
    if ttl != "30s" && dice.chance(40) {
        data_type.insert("memory_ttl".into(), json!("20s"));
    }
    if dice.chance(25) {
        data_type.insert(
            "ttl_env".into(),
            json!(format!("CONF_{}_TTL", name.to_shouty_snake_case())),
        );
    }
    if dice.chance(15) {
        data_type.insert("stale_while_revalidate".into(), json!("1m"));
    }
    if dice.chance(20) {
        data_type.insert("distributed_flight".into(), json!(true));
    }
    if dice.chance(20) {
        data_type.insert("version_check".into(), json!("2s"));
    }
    if !params.is_empty() && dice.chance(40) {
        let (param, _) = dice.pick(&params);
        let mut tags = vec![json!(format!("{name}:{{{param}}}"))];
        if dice.chance(50) {
            tags.push(json!(format!("all-{name}")));
        }
        data_type.insert("tags".into(), Value::Array(tags));
    }
    if dice.chance(30) {
        data_type.insert(
            "fail_safe".into(),
            json!({ "max_stale": "1h", "throttle": "30s" }),
        );
        if dice.chance(50) {
            data_type.insert("hard_timeout".into(), json!("2s"));
            if dice.chance(50) {
                data_type.insert("soft_timeout".into(), json!("500ms"));
            }
        }
    }
    if dice.chance(10) {
        data_type.insert("eager_refresh".into(), json!(0.8));
    }
    if dice.chance(15) {
        data_type.insert("ttl_jitter".into(), json!("5s"));
    }
    if ttl != "30s" && dice.chance(15) {
        data_type.insert("negative_ttl".into(), json!("10s"));
    }
    if dice.chance(10) {
        data_type.insert("ttl_bounds".into(), json!({ "min": "1s", "max": ttl }));
    }
    if large_values {
        data_type.insert("large_values".into(), json!(true));
    }
    // A document's object key holds each key parameter once, between `/`s.
    if dynamodb && dice.chance(20) {
        let mut object_key = format!("docs/{name}");
        for (param, _) in &params {
            object_key.push_str(&format!("/{{{param}}}"));
        }
        object_key.push_str(".json");
        data_type.insert("document".into(), json!({ "key": object_key }));
    }
    let mut data_type = Value::Object(data_type);
    for index in indexes {
        if dice.chance(50) {
            for (attribute, kind) in std::iter::once(&index.partition).chain(&index.sort) {
                let template = attribute_template(dice, name, &data_type, kind, true);
                write_attribute(&mut data_type, attribute, template);
            }
        }
    }
    if dynamodb && sort_key.is_none() && indexes.is_empty() && dice.chance(20) {
        write_attribute(&mut data_type, "label", "{data_type}".to_owned());
    }
    data_type
}

/// A template for an index key attribute of `kind` written by `data_type` (`name`): its
/// own name (a constant, so `invalidate_by` can use it), a key parameter, a value field
/// or the write time.
fn attribute_template(
    dice: &mut Dice,
    name: &str,
    data_type: &Value,
    kind: &str,
    may_use_own_name: bool,
) -> String {
    let fields = data_type["value"]["fields"].as_object();
    let string_param = data_type["params"].as_object().and_then(|params| {
        params
            .iter()
            .find(|(_, ty)| ty.as_str().or_else(|| ty["type"].as_str()) == Some("string"))
            .map(|(param, _)| param.clone())
    });
    match kind {
        // A key parameter renders as text, so a number attribute comes from a field or the
        // write time.
        "N" => match (fields.is_some(), dice.chance(50)) {
            (true, true) => "{value.score}".to_owned(),
            _ => "{now}".to_owned(),
        },
        _ => match (fields.is_some(), dice.0.u8(..4)) {
            (_, 0) if may_use_own_name => "{data_type}".to_owned(),
            (true, 1) => "{value.label}".to_owned(),
            (_, 2) => match string_param {
                Some(param) => format!("{{{param}}}"),
                None => format!("{name}-items"),
            },
            _ => "{data_type}".to_owned(),
        },
    }
}

/// Whether some index of its table finds the items of data type `name`: it writes every
/// key attribute of the index (or the table's key or the runtime does).
fn on_an_index(spec: &Map<String, Value>, name: &str) -> bool {
    let data_type = &spec["data_types"][name];
    let Some(tables) = spec.get("tables").and_then(Value::as_object) else {
        return false;
    };
    let table = data_type["table"]
        .as_str()
        .and_then(|table| tables.get(table))
        .or_else(|| tables.values().next());
    let Some(table) = table else {
        return false;
    };
    let written = |key: &Value| {
        let attribute = key["name"].as_str().unwrap_or_default();
        data_type["attributes"].get(attribute).is_some()
            || [&table["partition_key"]["name"], &table["sort_key"]["name"]]
                .contains(&&json!(attribute))
            || [item::CREATED_AT, item::EXPIRES_AT].contains(&attribute)
    };
    table["indexes"].as_object().is_some_and(|indexes| {
        indexes.values().any(|index| {
            written(&index["partition_key"]) && index.get("sort_key").is_none_or(&written)
        })
    })
}

fn write_attribute(data_type: &mut Value, attribute: &str, template: String) {
    let object = data_type.as_object_mut().expect("a data type is a mapping");
    let attributes = object
        .entry("attributes")
        .or_insert_with(|| Value::Object(Map::new()));
    attributes[attribute] = json!(template);
}

/// The spec as YAML, with a comment saying how to draw it again.
pub fn to_yaml(spec: &Value, origin: &str) -> String {
    let body = serde_yaml::to_string(spec).expect("a JSON value is YAML");
    format!("# {origin}\n{body}")
}

/// The Rust name of a data type's generated items (`UserProfile`).
pub fn pascal(name: &str) -> String {
    name.to_pascal_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_draws_the_same_spec() {
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn drawn_specs_compile() {
        for seed in 0..200 {
            let yaml = to_yaml(&draw(seed), &format!("seed {seed}"));
            if let Err(problems) = cachegen_compiler::compile_text("cache.yaml", &yaml) {
                panic!("seed {seed} draws a spec the compiler refuses:\n{yaml}\n{problems}");
            }
        }
    }
}
