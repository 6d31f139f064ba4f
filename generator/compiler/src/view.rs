//! The versioned JSON view of the IR: what `cachegen ir` prints, and the context user
//! templates are rendered over. Its JSON Schema is checked in as
//! `schema/cachegen-ir.schema.json`; the version changes whenever a field is removed or
//! changes meaning.

use schemars::JsonSchema;
use serde::Serialize;

use crate::ir::CacheModel;

/// Version of the view's layout.
pub const VERSION: u32 = 1;

/// A validated spec, as JSON.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct View<'m> {
    /// Layout version; it changes when a field is removed or changes meaning.
    pub version: u32,
    /// The spec's fingerprint, as tagged on every table.
    pub fingerprint: &'m str,
    /// The validated model.
    pub model: &'m CacheModel,
}

impl<'m> View<'m> {
    /// The view of `model`.
    pub fn new(model: &'m CacheModel) -> Self {
        Self {
            version: VERSION,
            fingerprint: &model.fingerprint,
            model,
        }
    }
}

/// The JSON Schema of the view, as `cachegen ir --schema` prints it.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(View<'static>).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            "https://cachegen.dev/schema/cachegen-ir.schema.json".into(),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_of_the_starter_spec_matches_its_schema_sections() {
        let model = crate::compile_text("cache.yaml", crate::STARTER_SPEC).unwrap();
        let view = serde_json::to_value(View::new(&model)).unwrap();
        assert_eq!(view["version"], VERSION);
        assert_eq!(view["fingerprint"], model.fingerprint.as_str());
        assert_eq!(view["model"]["tables"][0]["logical_id"], "CacheTable");
        let schema = json_schema();
        let model_fields = schema["$defs"]["CacheModel"]["properties"]
            .as_object()
            .unwrap();
        for key in view["model"].as_object().unwrap().keys() {
            assert!(model_fields.contains_key(key), "the schema lacks `{key}`");
        }
    }
}
