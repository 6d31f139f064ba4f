//! A data type interpreted from the IR at run time: what the generated module computes in
//! compiled code (store key, tags, item attributes, object key parsing), computed here from
//! JSON, so the CLI writes items the generated code reads as its own.

use std::collections::BTreeMap;

use cachegen_runtime::WriteOptions;
use cachegen_runtime::store::AttrValue;
use cachegen_runtime::typed::push_key_part;
use serde_json::Value;

use cachegen_compiler::ir::{AttributeType, DataType, Document, FieldType, Template, TemplatePart};

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
        let mut literals = vec![String::new()];
        let mut names = Vec::new();
        for part in &document.object_key.0 {
            match part {
                TemplatePart::Literal(text) => {
                    literals.last_mut().expect("one").push_str(text);
                }
                TemplatePart::Param(name) => {
                    names.push(name);
                    literals.push(String::new());
                }
                _ => return Err(foreign()),
            }
        }
        let literals: Vec<&str> = literals.iter().map(String::as_str).collect();
        let values = cachegen_runtime::documents::split_object_key(object_key, &literals)
            .ok_or_else(foreign)?;
        names
            .into_iter()
            .zip(values)
            .map(|(name, value)| {
                let ty = self
                    .data_type
                    .params
                    .iter()
                    .find(|param| &param.name == name)
                    .map(|param| &param.ty)
                    .expect("validated object key parameters");
                let canonical = canonical(ty, &value).ok_or_else(|| ItemError::BadParam {
                    object_key: object_key.to_owned(),
                    param: name.clone(),
                    ty: ty.to_string(),
                    value: value.clone(),
                })?;
                Ok((name.clone(), canonical))
            })
            .collect()
    }

    /// The store key (the generated `DataType::key`).
    pub fn key(&self, params: &Params) -> String {
        self.render(&self.data_type.key, params, None, 0, true)
            .expect("keys use parameters only")
    }

    /// What the generated module writes with a value: TTL, tags and item attributes.
    pub fn write_options(
        &self,
        params: &Params,
        value: &Value,
        now: u64,
    ) -> Result<WriteOptions, ItemError> {
        let mut options =
            WriteOptions::ttl(std::time::Duration::from_secs(self.data_type.ttl_secs));
        for tag in &self.data_type.tags {
            options = options.tag(self.render(tag, params, None, now, true)?);
        }
        for prefix in self.data_type.key_prefixes() {
            options = options.prefix(self.render(&prefix.template, params, None, now, true)?);
        }
        for attribute in &self.data_type.attributes {
            let text = self
                .render(&attribute.template, params, Some(value), now, false)
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

    /// A template's text; key parameters escaped when `escape` (keys and tags).
    fn render(
        &self,
        template: &Template,
        params: &Params,
        value: Option<&Value>,
        now: u64,
        escape: bool,
    ) -> Result<String, ItemError> {
        let mut out = String::new();
        for part in &template.0 {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::DataTypeName => out.push_str(&self.data_type.name),
                TemplatePart::Now => out.push_str(&now.to_string()),
                TemplatePart::Param(name) => {
                    let text = &params[name];
                    let is_string = self
                        .data_type
                        .params
                        .iter()
                        .any(|param| &param.name == name && param.ty == FieldType::String);
                    if escape && is_string {
                        push_key_part(&mut out, text);
                    } else {
                        out.push_str(text);
                    }
                }
                TemplatePart::ValueField(field) => {
                    let missing = || ItemError::MissingField {
                        attribute: String::new(),
                        field: field.clone(),
                    };
                    match value
                        .and_then(|value| value.get(field))
                        .ok_or_else(missing)?
                    {
                        Value::String(text) => out.push_str(text),
                        Value::Number(number) => out.push_str(&number.to_string()),
                        Value::Bool(flag) => out.push_str(&flag.to_string()),
                        _ => return Err(missing()),
                    }
                }
            }
        }
        Ok(out)
    }
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
