//! Key parameters written as mappings: their fields, and their defaults, each a value of
//! its parameter's type written into keys as is.

use super::Checker;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{Field, FieldType, ParamDefault};
use crate::spec::{self, ParamDefault as Written};

impl Checker<'_> {
    /// Reports the fields of key parameters written as mappings that are neither `type`
    /// nor `default`.
    pub(super) fn unknown_param_fields(&mut self, path: &NodePath, spec: &spec::DataType) {
        for (name, param) in &spec.params {
            let spec::KeyParam::Declared(declared) = param else {
                continue;
            };
            for field in declared.unknown.keys() {
                let field_path = path.key("params").key(name.as_str()).key(field.as_str());
                let hint = Self::suggest(field, ["type", "default"]);
                self.key_error(
                    codes::UNKNOWN_FIELD,
                    &field_path,
                    format!(
                        "unknown field `{field}` in `{}`",
                        field_path.parent().expect("a field has a parent")
                    ),
                    hint,
                );
            }
        }
    }

    /// The defaults of `spec`'s key parameters whose type resolved (`params`).
    pub(super) fn param_defaults(
        &mut self,
        path: &NodePath,
        spec: &spec::DataType,
        params: &[Field],
    ) -> Vec<ParamDefault> {
        params
            .iter()
            .filter_map(|param| {
                let written = spec.params.get(&param.name)?.default()?;
                let default_path = path.key("params").key(param.name.as_str()).key("default");
                match default_problem(&param.ty, written) {
                    None => Some(ParamDefault {
                        name: param.name.clone(),
                        value: written.to_string(),
                    }),
                    Some((problem, hint)) => {
                        self.error(
                            codes::KEY_PARAMETER_DEFAULT,
                            &default_path,
                            format!(
                                "default `{written}` of key parameter `{}` {problem}",
                                param.name
                            ),
                            hint,
                        );
                        None
                    }
                }
            })
            .collect()
    }
}

/// What is wrong with `written` as a default of a `ty` parameter, and how to fix it.
fn default_problem(ty: &FieldType, written: &Written) -> Option<(String, String)> {
    let fits = match (ty, written) {
        (FieldType::String, Written::Text(text)) => return text_problem(text),
        (FieldType::Bool, Written::Bool(_)) => true,
        (FieldType::U32, Written::Unsigned(n)) => u32::try_from(*n).is_ok(),
        (FieldType::U64, Written::Unsigned(_)) => true,
        (FieldType::I64, Written::Unsigned(n)) => i64::try_from(*n).is_ok(),
        (FieldType::I64, Written::Signed(_)) => true,
        _ => false,
    };
    (!fits).then(|| {
        let hint = match ty {
            FieldType::String => "quote it, such as `default: \"1\"`".to_owned(),
            FieldType::Bool => "write `true` or `false`".to_owned(),
            _ => format!("write a whole number a `{ty}` holds, such as `0`"),
        };
        (format!("is not a `{ty}`"), hint)
    })
}

/// Why `text` cannot be a string parameter's default: keys would hold it escaped (so not
/// as the spec writes it), or, empty, hold nothing where the parameter goes.
fn text_problem(text: &str) -> Option<(String, String)> {
    const HINT: &str = "write it with letters, digits and `-._~` only, which escaping leaves as they are, such as `global`";
    if text.is_empty() {
        return Some(("is empty".to_owned(), HINT.to_owned()));
    }
    let escaped: Vec<String> = text
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        .map(|c| format!("`{c}`"))
        .collect();
    (!escaped.is_empty()).then(|| {
        (
            format!(
                "has characters escaping would change in keys: {}",
                escaped.join(", ")
            ),
            HINT.to_owned(),
        )
    })
}
