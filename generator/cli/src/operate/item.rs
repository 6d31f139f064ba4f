//! A data type interpreted from the IR at run time: what the generated module computes in
//! compiled code (store key, tags, item attributes, object key parsing), computed here from
//! JSON, so the CLI writes items the generated code reads as its own.

use std::collections::BTreeMap;

use cachegen_runtime::WriteOptions;
use cachegen_runtime::store::AttrValue;
use cachegen_runtime::typed::push_key_part;
use serde_json::Value;

use cachegen_compiler::ir::{
    AttributeType, DataType, Document, Escaping, FieldType, Piece, Rendering,
};

/// Why a document cannot become a cache item.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ItemError {
    /// The object key does not have the document key's shape.
    #[error("`{object_key}` is not a `{data_type}` object key (`{template}`)")]
    ForeignKey {
        /// The data type.
        data_type: String,
        /// The object key.
        object_key: String,
        /// The object key template.
        template: String,
    },
    /// A key parameter read from the object key does not parse as its type.
    #[error("`{value}` in `{object_key}` is not a valid {ty} for `{{{param}}}`")]
    BadParam {
        /// The object key.
        object_key: String,
        /// The parameter.
        param: String,
        /// Its type.
        ty: String,
        /// What was there.
        value: String,
    },
    /// An attribute template names a value field the document lacks, or one that is not
    /// a scalar.
    #[error("the document has no scalar field `{field}` for attribute `{attribute}`")]
    MissingField {
        /// The attribute.
        attribute: String,
        /// The value field.
        field: String,
    },
}

/// Key parameters by name, as text in their canonical form (`7`, not `007`).
pub type Params = BTreeMap<String, String>;

/// One data type's item rules, read from the IR.
#[derive(Clone, Debug)]
pub struct DynamicType<'m> {
    data_type: &'m DataType,
}

impl<'m> DynamicType<'m> {
    /// The rules of `data_type`.
    pub fn new(data_type: &'m DataType) -> Self {
        Self { data_type }
    }

    /// The data type.
    pub fn data_type(&self) -> &'m DataType {
        self.data_type
    }

    /// The key parameters of the document at `object_key` (the generated
    /// `DocumentType::parse_object_key`).
    pub fn parse_object_key(
        &self,
        document: &Document,
        object_key: &str,
    ) -> Result<Params, ItemError> {
        let foreign = || ItemError::ForeignKey {
            data_type: self.data_type.name.clone(),
            object_key: object_key.to_owned(),
            template: document.object_key.to_string(),
        };
        let rendering = self
            .data_type
            .render(&document.object_key, Escaping::KeyParts);
        let (literals, params) = rendering.split().ok_or_else(foreign)?;
        let values = cachegen_runtime::documents::split_object_key(object_key, &literals)
            .ok_or_else(foreign)?;
        params
            .into_iter()
            .zip(values)
            .map(|(param, value)| {
                let canonical =
                    canonical(&param.ty, &value).ok_or_else(|| ItemError::BadParam {
                        object_key: object_key.to_owned(),
                        param: param.name.clone(),
                        ty: param.ty.to_string(),
                        value: value.clone(),
                    })?;
                Ok((param.name.clone(), canonical))
            })
            .collect()
    }

    /// The store key (the generated `DataType::key`).
    pub fn key(&self, params: &Params) -> String {
        render(&self.data_type.key_rendering(), params, None, 0).expect("keys use parameters only")
    }

    /// What the generated module writes with a value: TTL, tags, key prefixes and item
    /// attributes.
    pub fn write_options(
        &self,
        params: &Params,
        value: &Value,
        now: u64,
    ) -> Result<WriteOptions, ItemError> {
        let data_type = self.data_type;
        let mut options = WriteOptions::ttl(std::time::Duration::from_secs(data_type.ttl_secs));
        for tag in data_type.tag_renderings() {
            options = options.tag(render(&tag, params, None, now)?);
        }
        for prefix in data_type.key_prefixes() {
            options = options.prefix(render(
                &data_type.prefix_rendering(&prefix),
                params,
                None,
                now,
            )?);
        }
        for attribute in &data_type.attributes {
            let text = render(
                &data_type.attribute_rendering(attribute),
                params,
                Some(value),
                now,
            )
            .map_err(|err| match err {
                ItemError::MissingField { field, .. } => ItemError::MissingField {
                    attribute: attribute.name.clone(),
                    field,
                },
                other => other,
            })?;
            let value = match attribute.kind {
                AttributeType::N => AttrValue::N(text),
                AttributeType::S | AttributeType::B => AttrValue::S(text),
            };
            options = options.attribute(attribute.name.clone(), value);
        }
        Ok(options)
    }
}

/// The text `rendering` writes for these key parameters (in their canonical form), value
/// and write time: what the generated code computes from the same pieces.
fn render(
    rendering: &Rendering,
    params: &Params,
    value: Option<&Value>,
    now: u64,
) -> Result<String, ItemError> {
    let mut out = String::new();
    for piece in &rendering.pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::EscapedParam(param) => push_key_part(&mut out, &params[&param.name]),
            Piece::Param(param) => out.push_str(&params[&param.name]),
            Piece::ValueField(field, ty) => {
                let missing = || ItemError::MissingField {
                    attribute: String::new(),
                    field: (*field).to_owned(),
                };
                let found = value
                    .and_then(|value| value.get(field))
                    .ok_or_else(missing)?;
                out.push_str(&display(found, *ty).ok_or_else(missing)?);
            }
            Piece::Now => out.push_str(&now.to_string()),
        }
    }
    Ok(out)
}

/// A scalar value field as the generated code prints it (Rust's `Display` of its type):
/// `1` for the `f64` JSON writes as `1.0`. `None` when it is not a scalar of that type.
fn display(value: &Value, ty: Option<&FieldType>) -> Option<String> {
    Some(match (value, ty) {
        (Value::String(text), Some(FieldType::String) | None) => text.clone(),
        (Value::Bool(flag), Some(FieldType::Bool) | None) => flag.to_string(),
        (Value::Number(number), Some(FieldType::U32 | FieldType::U64)) => {
            number.as_u64()?.to_string()
        }
        (Value::Number(number), Some(FieldType::I64)) => number.as_i64()?.to_string(),
        (Value::Number(number), Some(FieldType::F64)) => number.as_f64()?.to_string(),
        (Value::Number(number), None) => number.to_string(),
        _ => return None,
    })
}

/// `value` as the generated code would print a parameter of type `ty`, if it parses.
fn canonical(ty: &FieldType, value: &str) -> Option<String> {
    Some(match ty {
        FieldType::String => value.to_owned(),
        FieldType::Bool => value.parse::<bool>().ok()?.to_string(),
        FieldType::U32 => value.parse::<u32>().ok()?.to_string(),
        FieldType::U64 => value.parse::<u64>().ok()?.to_string(),
        FieldType::I64 => value.parse::<i64>().ok()?.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> cachegen_compiler::ir::CacheModel {
        cachegen_compiler::compile_text(
            "spec.yaml",
            r#"version: 1
service: demo
buckets:
  docs: { name: demo-docs-bucket }
tables:
  cache:
    name: demo-cache
    indexes:
      by-owner:
        partition_key: { name: owner, type: S }
        sort_key: { name: size, type: N }
data_types:
  file:
    key: "file#{owner}#{id}"
    params: { owner: string, id: u64 }
    value: { fields: { owner: string, size: u64, name: string } }
    tags: ["owner:{owner}"]
    attributes: { owner: "{value.owner}", size: "{value.size}", kind: "{data_type}" }
    document: { key: "files/{owner}/{id}.json" }
"#,
        )
        .unwrap()
    }

    #[test]
    fn object_keys_parse_into_canonical_parameters() {
        let model = model();
        let dynamic = DynamicType::new(&model.data_types[0]);
        let document = model.data_types[0].document.as_ref().unwrap();
        let params = dynamic
            .parse_object_key(document, "files/a%23b/007.json")
            .unwrap();
        assert_eq!(params["owner"], "a#b");
        assert_eq!(params["id"], "7");
        assert_eq!(dynamic.key(&params), "file#a%23b#7");
        assert!(matches!(
            dynamic.parse_object_key(document, "files/a/x.json"),
            Err(ItemError::BadParam { .. })
        ));
        assert!(matches!(
            dynamic.parse_object_key(document, "other/a/1.json"),
            Err(ItemError::ForeignKey { .. })
        ));
    }

    #[test]
    fn attributes_and_tags_come_from_the_value_and_key() {
        let model = model();
        let dynamic = DynamicType::new(&model.data_types[0]);
        let params = Params::from([("owner".into(), "ann".into()), ("id".into(), "1".into())]);
        let value = serde_json::json!({ "owner": "ann", "size": 42, "name": "a.txt" });
        let options = dynamic.write_options(&params, &value, 100).unwrap();
        assert_eq!(options.tags, ["owner:ann"]);
        assert_eq!(options.attributes["size"], AttrValue::N("42".into()));
        assert_eq!(options.attributes["kind"], AttrValue::S("file".into()));
        let missing = dynamic
            .write_options(&params, &serde_json::json!({ "owner": "ann" }), 100)
            .unwrap_err();
        assert_eq!(
            missing,
            ItemError::MissingField {
                attribute: "size".into(),
                field: "size".into()
            }
        );
    }
}
