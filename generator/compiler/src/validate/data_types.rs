//! Data types: keys, values, lifetimes, index attributes and tags.

use super::{Checker, DEFAULT_TTL, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{
    AttributeType, Bucket, DataType, Document, Field, FieldType, IndexRef, ItemAttribute, Ref,
    Table, Template, TemplatePart, ValueType, item,
};
use crate::spec::{self, SpecDuration};

/// Key parameter types.
const PARAM_TYPES: &[&str] = &["string", "u32", "u64", "i64", "bool"];

/// Attributes the runtime writes on every item, with their types.
const RUNTIME_ATTRIBUTES: &[(&str, AttributeType)] = &[
    (item::EXPIRES_AT, AttributeType::N),
    (item::CREATED_AT, AttributeType::N),
];

impl Checker<'_> {
    pub(super) fn data_types(&mut self, tables: &[Table], buckets: &[Bucket]) -> Vec<DataType> {
        let spec = self.spec;
        if spec.data_types.is_empty() {
            self.key_error(
                codes::NO_DATA_TYPE,
                &NodePath::parse("data_types"),
                "the spec declares no data type",
                "declare what you cache under `data_types`",
            );
        }
        if let Some(default) = &spec.defaults.table
            && !spec.tables.contains_key(default)
        {
            let hint = Self::suggest(default, spec.tables.keys().map(String::as_str));
            self.error(
                codes::UNKNOWN_TABLE,
                &NodePath::parse("defaults.table"),
                format!("default table `{default}` is not declared"),
                hint,
            );
        }
        self.unique_type_names();
        let data_types: Vec<DataType> = spec
            .data_types
            .iter()
            .filter_map(|(name, data_type)| self.data_type(name, data_type, tables, buckets))
            .collect();
        // A data type that failed to resolve may be the one writing an index's keys:
        // judging coverage without it would only repeat that first problem.
        if data_types.len() == spec.data_types.len() {
            self.check_index_coverage(tables, &data_types);
        }
        self.check_key_overlap(&data_types);
        self.check_ttl_env_clashes(tables, buckets, &data_types);
        data_types
    }

    fn data_type(
        &mut self,
        name: &str,
        spec: &spec::DataType,
        tables: &[Table],
        buckets: &[Bucket],
    ) -> Option<DataType> {
        let path = NodePath::parse("data_types").key(name);
        self.data_type_name(&path, name);
        let table = self.data_type_table(&path, spec, tables)?;

        let params = self.params(&path, spec);
        self.unknown_param_fields(&path, spec);
        let param_defaults = self.param_defaults(&path, spec, &params);
        let key = self.key_template(&path.key("key"), "key", &spec.key, &params);
        self.reserved_key_space(&path.key("key"), name, &spec.key, &key);
        let sort_key = self.sort_key_template(&path, name, spec, table, &params);
        self.unused_params(&path, &params, &key, sort_key.as_ref());

        let value = self.value_type(&path.key("value"), &spec.value);
        let (ttl_value, ttl_secs, memory_ttl_secs) = self.lifetimes(&path, name, spec);
        let policy = self.origin_policy(&path, name, spec, ttl_value);
        let stale_while_revalidate_secs = spec.stale_while_revalidate.map(|window| {
            self.duration(
                &path.key("stale_while_revalidate"),
                "stale_while_revalidate",
                window,
            )
        });

        let attributes = match table {
            Some(table) => self.attributes(&path, spec, &params, &value, table),
            None => Vec::new(),
        };
        let tags = self.data_type_tags(&path, spec, &params);
        let indexes = table.map_or_else(Vec::new, |table| covered_indexes(table, &attributes));
        let invalidate_by = table
            .zip(spec.invalidate_by.as_ref())
            .and_then(|(table, index)| {
                self.invalidate_by(&path.key("invalidate_by"), name, index, table, &attributes)
            });
        let document = self.data_type_document(&path, name, spec, &params, buckets, &attributes);

        Some(DataType {
            name: name.to_owned(),
            description: spec.description.clone(),
            table: table.map(|table| Ref::to(tables, table)),
            key,
            sort_key,
            params,
            param_defaults,
            value,
            ttl_secs,
            ttl_env: self.ttl_env(&path, spec),
            memory_ttl_secs,
            stale_while_revalidate_secs,
            distributed_flight: spec.distributed_flight.unwrap_or(false),
            version_check_secs: spec
                .version_check
                .map(|bound| self.duration(&path.key("version_check"), "version_check", bound)),
            attributes,
            tags,
            invalidate_by,
            indexes,
            traffic: spec
                .traffic
                .as_ref()
                .and_then(|traffic| self.traffic(&path.key("traffic"), traffic)),
            document,
            large_values: spec.large_values.unwrap_or(false),
            policy,
        })
    }

    /// A data type's name is an identifier, and not one that generates the type `Cache`.
    fn data_type_name(&mut self, path: &NodePath, name: &str) {
        self.check(
            codes::IDENTIFIER,
            path,
            names::identifier_problem("data type", name),
            "data type names become Rust identifiers and metric dimensions",
        );
        if heck::ToPascalCase::to_pascal_case(name) == "Cache" {
            self.key_error(
                codes::RESERVED_TYPE_NAME,
                path,
                format!("data type `{name}` would generate the type `Cache`, which the generated module uses itself"),
                "rename it, for example to `cache-entry`",
            );
        }
    }

    /// The table a data type lives in (its own, the default, or the only one); `None`
    /// inside when the store is Redis, outer `None` when it cannot be resolved.
    fn data_type_table<'t>(
        &mut self,
        path: &NodePath,
        spec: &spec::DataType,
        tables: &'t [Table],
    ) -> Option<Option<&'t Table>> {
        // With a Redis store there is no table: `validate::store` refuses what needs one.
        if !self.spec.store.is_dynamodb() {
            return Some(None);
        }
        let wanted = spec.table.as_ref().or(self.spec.defaults.table.as_ref());
        let table = self.resolve_table(
            path,
            wanted,
            tables,
            (
                codes::TABLE_UNSPECIFIED,
                "this data type names no table, and the spec has several",
                "add `table: <name>`, or set `defaults.table`",
            ),
        )?;
        Some(Some(table))
    }

    /// The sort key template, given exactly when the data type's table has a sort key.
    fn sort_key_template(
        &mut self,
        path: &NodePath,
        name: &str,
        spec: &spec::DataType,
        table: Option<&Table>,
        params: &[Field],
    ) -> Option<Template> {
        let table_sort_key = table.and_then(|table| table.sort_key.as_ref());
        let table_name = table.map_or("", |table| table.name.as_str());
        match (&spec.sort_key, table_sort_key) {
            (Some(text), Some(sort)) => {
                let template = self.key_template(&path.key("sort_key"), "sort key", text, params);
                if sort.kind == AttributeType::N {
                    self.numeric_sort_key(&path.key("sort_key"), text, &template, params);
                }
                Some(template)
            }
            (None, Some(sort)) => {
                self.key_error(
                    codes::SORT_KEY,
                    &path.key("key"),
                    format!(
                        "table `{table_name}` has sort key `{}`, but data type `{name}` gives no `sort_key`",
                        sort.name
                    ),
                    "add a `sort_key` template, such as `sort_key: \"v1\"`",
                );
                None
            }
            (Some(_), None) if table.is_some() => {
                self.key_error(
                    codes::SORT_KEY,
                    &path.key("sort_key"),
                    format!("table `{table_name}` has no sort key"),
                    "remove `sort_key`, or declare `sort_key` on the table",
                );
                None
            }
            (_, None) => None,
        }
    }

    /// Every key parameter appears in the key or the sort key.
    fn unused_params(
        &mut self,
        path: &NodePath,
        params: &[Field],
        key: &Template,
        sort_key: Option<&Template>,
    ) {
        for param in params {
            let used = key
                .0
                .iter()
                .chain(sort_key.iter().flat_map(|t| &t.0))
                .any(|part| matches!(part, TemplatePart::Param(used) if *used == param.name));
            if !used {
                self.key_error(
                    codes::UNUSED_KEY_PARAMETER,
                    &path.key("params").key(param.name.as_str()),
                    format!(
                        "parameter `{}` is declared but the key template never uses it",
                        param.name
                    ),
                    format!("use it in `key` as `{{{}}}`, or remove it", param.name),
                );
            }
        }
    }

    /// The store TTL (as written, and in seconds) and the in-memory TTL in seconds, each
    /// the data type's own or the default; the in-memory copy never outlives the stored one.
    fn lifetimes(
        &mut self,
        path: &NodePath,
        name: &str,
        spec: &spec::DataType,
    ) -> (SpecDuration, u64, u64) {
        let defaults = &self.spec.defaults;
        let ttl_value = spec
            .ttl
            .or(defaults.ttl)
            .unwrap_or(SpecDuration(DEFAULT_TTL));
        let ttl_path = if spec.ttl.is_some() {
            path.key("ttl")
        } else {
            NodePath::parse("defaults.ttl")
        };
        let ttl_secs = self.duration(&ttl_path, "ttl", ttl_value);
        let memory_ttl_secs = match (spec.memory_ttl, defaults.memory_ttl) {
            (Some(memory), _) => {
                let secs = self.duration(&path.key("memory_ttl"), "memory_ttl", memory);
                if memory > ttl_value {
                    self.error(
                        codes::MEMORY_TTL_LONGER,
                        &path.key("memory_ttl"),
                        format!("memory_ttl ({memory}) of `{name}` is longer than its ttl ({ttl_value})"),
                        "the in-process copy must not outlive the shared one: make memory_ttl shorter",
                    );
                }
                secs
            }
            // A default in-memory TTL is a ceiling: types with a shorter store TTL keep theirs.
            (None, Some(default)) => self
                .duration(
                    &NodePath::parse("defaults.memory_ttl"),
                    "memory_ttl",
                    default,
                )
                .min(ttl_secs),
            (None, None) => ttl_secs,
        };
        (ttl_value, ttl_secs, memory_ttl_secs)
    }

    /// The data type's tag templates, which may use its key parameters.
    fn data_type_tags(
        &mut self,
        path: &NodePath,
        spec: &spec::DataType,
        params: &[Field],
    ) -> Vec<Template> {
        spec.tags
            .iter()
            .enumerate()
            .map(|(position, tag)| {
                let tag_path = path.key("tags").index(position);
                let template = self.template(&tag_path, tag);
                self.placeholders(&tag_path, &template, params, None, false);
                self.parameter_ends(&tag_path, "tag", tag, &template);
                template
            })
            .collect()
    }

    /// The document a data type keeps in a bucket, whose customer attribute is one of its own.
    fn data_type_document(
        &mut self,
        path: &NodePath,
        name: &str,
        spec: &spec::DataType,
        params: &[Field],
        buckets: &[Bucket],
        attributes: &[ItemAttribute],
    ) -> Option<Document> {
        let document = self.document(path, spec.document.as_ref()?, params, buckets)?;
        if let Some(attribute) = &document.customer_attribute
            && !attributes.iter().any(|a| &a.name == attribute)
        {
            let hint = Self::suggest(attribute, attributes.iter().map(|a| a.name.as_str()));
            self.error(
                codes::CUSTOMER_ATTRIBUTE,
                &path.key("document").key("customer_attribute"),
                format!("`{attribute}` is not an attribute of data type `{name}`"),
                hint,
            );
        }
        Some(document)
    }

    fn params(&mut self, path: &NodePath, spec: &spec::DataType) -> Vec<Field> {
        spec.params
            .iter()
            .filter_map(|(name, param)| {
                let param_path = path.key("params").key(name);
                let ty = param.ty();
                if let Some(problem) = names::field_name_problem("key parameter", name) {
                    self.key_error(
                        codes::FIELD_NAME,
                        &param_path,
                        problem,
                        "rename it in snake_case, here and in the key",
                    );
                }
                match parse_field_type(ty) {
                    Some(parsed) if PARAM_TYPES.contains(&ty.trim()) => Some(Field {
                        name: name.clone(),
                        ty: parsed,
                    }),
                    _ => {
                        let hint = Self::suggest(ty, PARAM_TYPES.iter().copied());
                        let type_path = match param {
                            spec::KeyParam::Type(_) => param_path,
                            spec::KeyParam::Declared(_) => param_path.key("type"),
                        };
                        self.error(
                            codes::KEY_PARAMETER_TYPE,
                            &type_path,
                            format!("`{ty}` is not a key parameter type"),
                            hint,
                        );
                        None
                    }
                }
            })
            .collect()
    }

    pub(super) fn template(&mut self, path: &NodePath, text: &str) -> Template {
        names::parse_template(text).unwrap_or_else(|err| {
            self.template_error(path, text, err);
            Template(Vec::new())
        })
    }

    /// Checks the placeholders of `template` against what this kind of template may use.
    pub(super) fn placeholders(
        &mut self,
        path: &NodePath,
        template: &Template,
        params: &[Field],
        value_fields: Option<&ValueType>,
        allow_now: bool,
    ) {
        for part in &template.0 {
            match part {
                TemplatePart::Param(name) if !params.iter().any(|param| &param.name == name) => {
                    let hint =
                        match Self::suggest(name, params.iter().map(|param| param.name.as_str())) {
                            hint if hint.starts_with("did you mean") => hint,
                            _ => format!(
                                "declare it under `params`, such as `params: {{ {name}: string }}`"
                            ),
                        };
                    self.error(
                        codes::UNDECLARED_KEY_PARAMETER,
                        path,
                        format!("`{{{name}}}` names an undeclared key parameter"),
                        hint,
                    );
                }
                TemplatePart::ValueField(field) => match value_fields {
                    None => self.error(
                        codes::PLACEHOLDER_NOT_ALLOWED,
                        path,
                        format!("`{{value.{field}}}` cannot be used here"),
                        "value fields may only be used in `attributes`",
                    ),
                    Some(ValueType::Fields(fields)) => {
                        match fields.iter().find(|f| &f.name == field) {
                            None => {
                                let hint =
                                    Self::suggest(field, fields.iter().map(|f| f.name.as_str()));
                                self.error(
                                    codes::VALUE_FIELD_REFERENCE,
                                    path,
                                    format!("`{{value.{field}}}` names no field of the value"),
                                    hint,
                                );
                            }
                            Some(found) if !is_scalar(&found.ty) => self.error(
                                codes::VALUE_FIELD_REFERENCE,
                                path,
                                format!("`{{value.{field}}}` is not a string, number or bool"),
                                "item attributes are scalars: use a string, number or bool field",
                            ),
                            Some(_) => {}
                        }
                    }
                    Some(ValueType::Rust(_)) => {}
                },
                TemplatePart::Now if !allow_now => self.error(
                    codes::PLACEHOLDER_NOT_ALLOWED,
                    path,
                    "`{now}` cannot be used here",
                    "`{now}` (the write time) may only be used in `attributes`",
                ),
                _ => {}
            }
        }
    }

    pub(super) fn value_type(&mut self, path: &NodePath, value: &spec::ValueSpec) -> ValueType {
        match (&value.rust_type, value.fields.is_empty()) {
            (Some(rust_type), true) => {
                if syn::parse_str::<syn::Type>(rust_type).is_err() {
                    self.error(
                        codes::RUST_TYPE,
                        &path.key("type"),
                        format!("`{rust_type}` is not a Rust type path"),
                        "write a path such as `crate::model::DrsQuota`",
                    );
                }
                ValueType::Rust(rust_type.clone())
            }
            (None, false) => ValueType::Fields(
                value
                    .fields
                    .iter()
                    .filter_map(|(name, ty)| {
                        let field_path = path.key("fields").key(name);
                        if let Some(problem) = names::field_name_problem("value field", name) {
                            self.key_error(codes::FIELD_NAME, &field_path, problem, "rename it in snake_case");
                        }
                        let parsed = parse_field_type(ty);
                        if parsed.is_none() {
                            self.error(
                                codes::FIELD_TYPE,
                                &field_path,
                                format!("`{ty}` is not a field type"),
                                "use string, bool, u32, u64, i64, f64, json, list<T>, option<T> or map<T>",
                            );
                        }
                        Some(Field { name: name.clone(), ty: parsed? })
                    })
                    .collect(),
            ),
            (Some(_), false) => {
                self.error(
                    codes::VALUE_SHAPE,
                    path,
                    "the value gives both `type` and `fields`",
                    "keep `type` for your own Rust type, or `fields` for a struct cachegen generates",
                );
                ValueType::Fields(Vec::new())
            }
            (None, true) => {
                self.error(
                    codes::VALUE_SHAPE,
                    path,
                    "the value gives neither `type` nor `fields`",
                    "write `value: { type: crate::model::MyValue }` or `value: { fields: { name: string } }`",
                );
                ValueType::Fields(Vec::new())
            }
        }
    }

    fn attributes(
        &mut self,
        path: &NodePath,
        spec: &spec::DataType,
        params: &[Field],
        value: &ValueType,
        table: &Table,
    ) -> Vec<ItemAttribute> {
        let mut attributes = Vec::new();
        for (name, text) in &spec.attributes {
            let attribute_path = path.key("attributes").key(name);
            let template = self.template(&attribute_path, text);
            self.placeholders(&attribute_path, &template, params, Some(value), true);
            let reserved = name == &table.partition_key.name
                || table.sort_key.as_ref().is_some_and(|key| &key.name == name)
                || name == &table.ttl_attribute
                || name == item::VALUE
                || name == item::EXPIRES_AT;
            let runtime_created_at = name == item::CREATED_AT && template.0 != [TemplatePart::Now];
            if reserved || runtime_created_at {
                self.key_error(
                    codes::RESERVED_ATTRIBUTE,
                    &attribute_path,
                    format!("attribute `{name}` is written by cachegen itself"),
                    format!(
                        "pick another name; cachegen writes the keys, `{}`, `{}`, `{}` (as `{{now}}`) and `{}`",
                        item::VALUE,
                        item::EXPIRES_AT,
                        item::CREATED_AT,
                        table.ttl_attribute
                    ),
                );
            }
            let inferred = infer_type(&template, value);
            let declared = table
                .key_attributes
                .iter()
                .find(|key| &key.name == name)
                .map(|key| key.kind);
            if let (Some(inferred), Some(declared)) = (inferred, declared)
                && inferred != declared
            {
                self.error(
                    codes::ATTRIBUTE_TYPE,
                    &attribute_path,
                    format!("attribute `{name}` is written as {inferred:?} but table `{}` declares it {declared:?}", table.name),
                    "make the index key type match what the template produces ({now} and numeric fields are N)",
                );
            }
            attributes.push(ItemAttribute {
                name: name.clone(),
                kind: declared.or(inferred).unwrap_or(AttributeType::S),
                template,
            });
        }
        attributes
    }

    fn invalidate_by(
        &mut self,
        path: &NodePath,
        data_type: &str,
        index_name: &str,
        table: &Table,
        attributes: &[ItemAttribute],
    ) -> Option<IndexRef> {
        let Some(index) = table.indexes.iter().find(|index| index.name == index_name) else {
            let hint = Self::suggest(
                index_name,
                table.indexes.iter().map(|index| index.name.as_str()),
            );
            self.error(
                codes::INVALIDATION_INDEX,
                path,
                format!("table `{}` has no index `{index_name}`", table.name),
                hint,
            );
            return None;
        };
        let constant = attributes.iter().find(|attribute| {
            attribute.name == index.partition_key.name
                && attribute.template.0.iter().all(|part| {
                    matches!(part, TemplatePart::Literal(_) | TemplatePart::DataTypeName)
                })
        });
        if constant.is_none() {
            self.error(
                codes::INVALIDATION_INDEX,
                path,
                format!(
                    "index `{index_name}` cannot find every `{data_type}` item: its partition key `{}` is not a constant attribute of `{data_type}`",
                    index.partition_key.name
                ),
                format!("add `attributes: {{ {}: \"{{data_type}}\" }}` to the data type", index.partition_key.name),
            );
            return None;
        }
        Some(Ref::to(&table.indexes, index))
    }

    /// Every index key attribute must be written by some data type on the table.
    fn check_index_coverage(&mut self, tables: &[Table], data_types: &[DataType]) {
        for table in tables {
            let on_table: Vec<&DataType> = data_types
                .iter()
                .filter(|dt| dt.table.as_ref().is_some_and(|t| t.name() == table.name))
                .collect();
            for index in &table.indexes {
                let keys = std::iter::once(("partition_key", &index.partition_key))
                    .chain(index.sort_key.as_ref().map(|key| ("sort_key", key)));
                for (role, key) in keys {
                    let written = is_table_written(table, &key.name)
                        || on_table
                            .iter()
                            .any(|dt| dt.attributes.iter().any(|a| a.name == key.name));
                    if !written {
                        self.error(
                            codes::INDEX_KEY_UNWRITTEN,
                            &NodePath::parse("tables")
                                .key(table.name.as_str())
                                .key("indexes")
                                .key(index.name.as_str())
                                .key(role)
                                .key("name"),
                            format!("index `{}` is keyed on `{}`, which no data type writes", index.name, key.name),
                            format!("add `{}` under `attributes` of the data types this index should find", key.name),
                        );
                    }
                }
            }
        }
    }
}

fn is_scalar(ty: &FieldType) -> bool {
    matches!(
        ty,
        FieldType::String
            | FieldType::Bool
            | FieldType::U32
            | FieldType::U64
            | FieldType::I64
            | FieldType::F64
    )
}

/// Whether the table's key or the runtime always writes `attribute`.
fn is_table_written(table: &Table, attribute: &str) -> bool {
    table.partition_key.name == attribute
        || table
            .sort_key
            .as_ref()
            .is_some_and(|key| key.name == attribute)
        || RUNTIME_ATTRIBUTES
            .iter()
            .any(|(name, _)| *name == attribute)
}

/// The indexes whose every key attribute the data type's items carry.
fn covered_indexes(table: &Table, attributes: &[ItemAttribute]) -> Vec<IndexRef> {
    let carries =
        |name: &str| is_table_written(table, name) || attributes.iter().any(|a| a.name == name);
    table
        .indexes
        .iter()
        .filter(|index| {
            carries(&index.partition_key.name)
                && index.sort_key.as_ref().is_none_or(|key| carries(&key.name))
        })
        .map(|index| Ref::to(&table.indexes, index))
        .collect()
}

/// The type an attribute template produces, when it can be known.
fn infer_type(template: &Template, value: &ValueType) -> Option<AttributeType> {
    match template.0.as_slice() {
        [TemplatePart::Now] => Some(AttributeType::N),
        [TemplatePart::ValueField(field)] => match value {
            ValueType::Fields(fields) => fields.iter().find(|f| &f.name == field).map(|f| {
                if f.ty.is_number() {
                    AttributeType::N
                } else {
                    AttributeType::S
                }
            }),
            ValueType::Rust(_) => None,
        },
        _ => Some(AttributeType::S),
    }
}

/// Parses `string`, `u64`, `list<string>`, `option<map<f64>>`, ...
pub(super) fn parse_field_type(text: &str) -> Option<FieldType> {
    let text = text.trim();
    let generic = |name: &str| {
        text.strip_prefix(name)
            .and_then(|rest| rest.trim_start().strip_prefix('<'))
            .and_then(|rest| rest.strip_suffix('>'))
    };
    if let Some(inner) = generic("list") {
        return parse_field_type(inner).map(|ty| FieldType::List(Box::new(ty)));
    }
    if let Some(inner) = generic("option") {
        return parse_field_type(inner).map(|ty| FieldType::Option(Box::new(ty)));
    }
    if let Some(inner) = generic("map") {
        return parse_field_type(inner).map(|ty| FieldType::Map(Box::new(ty)));
    }
    Some(match text {
        "string" => FieldType::String,
        "bool" => FieldType::Bool,
        "u32" => FieldType::U32,
        "u64" => FieldType::U64,
        "i64" => FieldType::I64,
        "f64" => FieldType::F64,
        "json" => FieldType::Json,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_field_types() {
        assert_eq!(
            parse_field_type("option<list<u64>>"),
            Some(FieldType::Option(Box::new(FieldType::List(Box::new(
                FieldType::U64
            )))))
        );
        assert_eq!(
            parse_field_type("map<string>"),
            Some(FieldType::Map(Box::new(FieldType::String)))
        );
        assert_eq!(parse_field_type("list<>"), None);
        assert_eq!(parse_field_type("float"), None);
    }
}
