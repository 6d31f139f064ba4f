//! YAML text to [`Spec`], reporting syntax errors, type errors, duplicate keys and
//! every unknown field (with "did you mean") in one pass.

use serde_json::Value;

use crate::diagnostics::codes;
use crate::diagnostics::source::{NodePath, Segment, SourceMap, Span};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};
use crate::spec::{self, Spec};

/// A spec read from text, with the map from its nodes to their positions.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The spec as written.
    pub spec: Spec,
    /// Where each node is.
    pub map: SourceMap,
    /// Problems that did not stop deserialization (unknown fields, duplicate keys).
    pub problems: Vec<Diagnostic>,
}

/// What to write when the file holds no spec, or not a mapping.
const STARTER_HINT: &str = "a spec is a mapping with at least `version: 1`, `service`, `tables` and `data_types`; `cachegen init` writes a commented starter spec";

/// The text of a spec file: UTF-8, and no control characters (which a YAML reader
/// refuses, and which mean the file is binary).
pub fn decode(name: &str, bytes: &[u8]) -> Result<SourceFile, Diagnostics> {
    let (text, problem) = match std::str::from_utf8(bytes) {
        Ok(text) => {
            let control = text
                .char_indices()
                .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}'));
            let problem = control.map(|(offset, c)| {
                Diagnostic::new(
                    codes::NOT_TEXT,
                    format!(
                        "the spec holds the control character U+{:04X}: it is not a text file",
                        u32::from(c)
                    ),
                    Some(Span {
                        start: offset,
                        end: offset + c.len_utf8(),
                    }),
                )
                .with_hint("a spec is a YAML text file: check that this is the file you meant")
            });
            (text.to_owned(), problem)
        }
        Err(err) => {
            let start = err.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let end = text[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            let problem = Diagnostic::new(
                codes::NOT_TEXT,
                format!("the spec is not UTF-8 text: byte 0x{:02X} cannot be read", bytes[start]),
                Some(Span { start, end }),
            )
            .with_hint("save the spec as UTF-8; if the file is binary, check that this is the file you meant");
            (text, Some(problem))
        }
    };
    let file = SourceFile::new(name, text);
    match problem {
        Some(problem) => Err(Diagnostics::new(file, vec![problem])),
        None => Ok(file),
    }
}

/// Reads `file`, or returns the problems that stop it from being read at all.
pub(super) fn parse(file: &SourceFile) -> Result<Parsed, Vec<Diagnostic>> {
    let map = SourceMap::build(&file.text).map_err(|err| {
        vec![
            Diagnostic::new(
                codes::YAML_SYNTAX,
                format!("YAML syntax error: {}", err.message),
                Some(err.span),
            )
            .with_hint("check the indentation and quoting around this point"),
        ]
    })?;
    if map.is_empty() {
        return Err(vec![
            Diagnostic::new(
                codes::EMPTY_SPEC,
                "the spec is empty",
                Some(Span { start: 0, end: 0 }),
            )
            .with_hint(STARTER_HINT),
        ]);
    }
    let mut problems: Vec<Diagnostic> = map
        .duplicates()
        .iter()
        .map(|duplicate| {
            Diagnostic::new(
                codes::DUPLICATE_KEY,
                format!("`{}` is written twice", duplicate.path),
                Some(duplicate.again),
            )
            .with_related(duplicate.first, "first written here")
            .with_hint("keep one of them: YAML would silently use the last")
        })
        .collect();

    // Enums with data are written as one-entry maps (`billing: { provisioned: ... }`),
    // which serde_yaml reads only through `singleton_map_recursive`.
    let mut ignored = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let yaml = serde_yaml::Deserializer::from_str(&file.text);
    let mut track_ignored = |path: serde_ignored::Path<'_>| ignored.push(node_path(&path));
    let tracked = serde_ignored::Deserializer::new(yaml, &mut track_ignored);
    let located = serde_path_to_error::Deserializer::new(tracked, &mut track);
    let result = serde_yaml::with::singleton_map_recursive::deserialize(located);
    let spec: Spec = match result {
        Ok(spec) => spec,
        Err(err) => {
            // The source map reports duplicate keys with both places; serde's note adds nothing.
            let duplicate = err.to_string().contains("duplicate field");
            if !duplicate || map.duplicates().is_empty() {
                let path = error_path(&track.path());
                problems.push(serde_problem(file, &map, &path, &err));
            }
            return Err(problems);
        }
    };

    if !ignored.is_empty() {
        let schema = spec::json_schema();
        problems.extend(
            ignored
                .iter()
                .map(|path| unknown_field(&schema, &map, path)),
        );
    }
    Ok(Parsed {
        spec,
        map,
        problems,
    })
}

/// The node a deserialization error happened at, as a [`NodePath`].
fn error_path(path: &serde_path_to_error::Path) -> NodePath {
    use serde_path_to_error::Segment as S;
    NodePath(
        path.iter()
            .filter_map(|segment| match segment {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { variant } => Some(Segment::Key(variant.clone())),
                S::Unknown => None,
            })
            .collect(),
    )
}

fn node_path(path: &serde_ignored::Path<'_>) -> NodePath {
    use serde_ignored::Path as P;
    match path {
        P::Root => NodePath::root(),
        P::Seq { parent, index } => node_path(parent).index(*index),
        P::Map { parent, key } => node_path(parent).key(key.as_str()),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            node_path(parent)
        }
    }
}

fn unknown_field(schema: &Value, map: &SourceMap, path: &NodePath) -> Diagnostic {
    let Some(Segment::Key(name)) = path.0.last() else {
        return Diagnostic::new(
            codes::UNKNOWN_FIELD,
            format!("`{path}` is not expected here"),
            map.key_span(path),
        );
    };
    let known = path
        .parent()
        .map(|parent| known_fields(schema, &parent))
        .unwrap_or_default();
    let place = match path.parent() {
        Some(parent) if !parent.0.is_empty() => format!(" in `{parent}`"),
        _ => String::new(),
    };
    let diagnostic = Diagnostic::new(
        codes::UNKNOWN_FIELD,
        format!("unknown field `{name}`{place}"),
        map.key_span(path),
    );
    match closest(name, known.iter().map(String::as_str)) {
        Some(candidate) => diagnostic.with_hint(format!("did you mean `{candidate}`?")),
        None if !known.is_empty() => {
            diagnostic.with_hint(format!("expected one of: {}", known.join(", ")))
        }
        None => diagnostic,
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo:
/// similar by Jaro-Winkler, or within an edit or two (transpositions included, which
/// Jaro-Winkler misses in short words such as `evn` for `env`).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = strsim::damerau_levenshtein(word, candidate);
            let similarity = strsim::jaro_winkler(word, candidate);
            let allowed = (word.len().max(candidate.len()) / 4).max(1);
            (similarity >= 0.8 || distance <= allowed).then_some((distance, similarity, candidate))
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, candidate)| candidate)
}

/// The schemas of the node at `path` (several where the schema has alternatives).
fn schemas_at<'a>(root: &'a Value, path: &NodePath) -> Vec<&'a Value> {
    let mut current = vec![root];
    for segment in &path.0 {
        current = current
            .into_iter()
            .flat_map(|schema| alternatives(root, schema))
            .filter_map(|schema| match segment {
                Segment::Key(key) => schema
                    .pointer(&format!("/properties/{key}"))
                    .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object())),
                Segment::Index(_) => schema.get("items"),
            })
            .collect();
    }
    current
}

/// Field names the schema allows at `path` (a mapping node).
fn known_fields(root: &Value, path: &NodePath) -> Vec<String> {
    let mut names: Vec<String> = schemas_at(root, path)
        .into_iter()
        .flat_map(|schema| alternatives(root, schema))
        .filter_map(|schema| schema.get("properties").and_then(Value::as_object))
        .flat_map(|properties| properties.keys().cloned())
        .collect();
    names.dedup();
    names
}

/// A schema with its `$ref` resolved and its `anyOf`/`oneOf`/`allOf` branches spread out.
fn alternatives<'a>(root: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .unwrap_or(schema),
        None => schema,
    };
    let mut found = vec![schema];
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            found.extend(
                branches
                    .iter()
                    .flat_map(|branch| alternatives(root, branch)),
            );
        }
    }
    found
}

/// A deserialization error at `path`, placed at that node (serde_yaml places errors a
/// value raises itself, such as a malformed duration, at the enclosing mapping) and
/// explained from the schema.
fn serde_problem(
    file: &SourceFile,
    map: &SourceMap,
    path: &NodePath,
    err: &serde_yaml::Error,
) -> Diagnostic {
    let text = err.to_string();
    let message = match text.rfind(" at line ") {
        Some(position) => &text[..position],
        None => text.as_str(),
    };
    let message = without_path_prefix(message, path);
    let yaml_span = err.location().map(|location| {
        let start = offset_of(file, location.line(), location.column());
        Span {
            start,
            end: (start + 1).min(file.text.len()),
        }
    });
    let schema = spec::json_schema();
    let at = |code, message: String, span: Option<Span>| {
        let message = if path.0.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        };
        Diagnostic::new(code, message, span)
    };

    if message == "repetition limit exceeded" || message == "recursion limit exceeded" {
        return Diagnostic::new(
            codes::ALIAS_EXPANSION,
            "the spec's YAML aliases expand too far, or it nests too deeply, to be read",
            map.first_alias().or(yaml_span),
        )
        .with_hint("write repeated parts out instead of aliasing aliases (`*name`); a spec nests a few levels at most");
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let hint = match field_description(&schema, path, field) {
            Some(description) => format!("add `{field}`: {description}"),
            None => format!("add `{field}`"),
        };
        let span = if path.0.is_empty() {
            Some(Span { start: 0, end: 0 })
        } else {
            map.key_span(path)
        };
        return at(codes::MISSING_FIELD, message.to_owned(), span).with_hint(hint);
    }
    if path.0.is_empty() && message.starts_with("invalid type: ") {
        let what = if message.starts_with("invalid type: sequence") {
            "a list"
        } else {
            "a single value"
        };
        return Diagnostic::new(
            codes::NOT_A_MAPPING,
            format!("the spec is {what}, not a mapping of fields"),
            Some(Span { start: 0, end: 0 }),
        )
        .with_hint(STARTER_HINT);
    }

    let span = map
        .get(path)
        .map(|spans| spans.value)
        .or(yaml_span)
        .or_else(|| map.value_span(path));
    let message = if message.starts_with("data did not match any variant of untagged enum") {
        let written = span.map_or("", |span| file.text[span.start..span.end].trim());
        format!("`{written}` is none of the forms this field takes")
    } else {
        message.to_owned()
    };
    let hint = variant_hint(&message).or_else(|| value_hint(&schema, path));
    let diagnostic = at(codes::INVALID_VALUE, message, span);
    match hint {
        Some(hint) => diagnostic.with_hint(hint),
        None => diagnostic,
    }
}

/// `message` without the path serde_yaml puts before it (`data_types.user: ...`), which
/// names `path` or one of its ancestors.
fn without_path_prefix<'m>(message: &'m str, path: &NodePath) -> &'m str {
    let mut current = Some(path.clone());
    while let Some(ancestor) = current.filter(|ancestor| !ancestor.0.is_empty()) {
        if let Some(rest) = message.strip_prefix(&format!("{ancestor}: ")) {
            return rest;
        }
        current = ancestor.parent();
    }
    message
}

/// The schema's description of `field` in the mapping at `path`.
fn field_description(root: &Value, path: &NodePath, field: &str) -> Option<String> {
    schemas_at(root, path)
        .into_iter()
        .flat_map(|schema| alternatives(root, schema))
        .find_map(|schema| {
            schema
                .pointer(&format!("/properties/{field}/description"))
                .and_then(Value::as_str)
        })
        .map(|description| description.trim_end_matches('.').to_owned())
}

/// What the value at `path` should look like, from the schema.
fn value_hint(root: &Value, path: &NodePath) -> Option<String> {
    let duration = root.pointer("/$defs/Duration");
    let schemas = schemas_at(root, path);
    let forms: Vec<&Value> = schemas
        .iter()
        .flat_map(|schema| alternatives(root, schema))
        .collect();
    let is_duration = |schema: &&Value| duration.is_some_and(|d| std::ptr::eq(*schema, d));
    if forms.iter().any(is_duration) && !forms.iter().any(|form| has_type(form, "number")) {
        return Some(
            "write a duration with its unit, such as `90s`, `5m`, `24h` or `7d`".to_owned(),
        );
    }
    if let Some(range) = forms.iter().find_map(|form| integer_range(form)) {
        return Some(format!("write a whole number from {range}"));
    }
    schemas
        .iter()
        .find_map(|schema| schema.get("description").and_then(Value::as_str))
        .map(|description| description.trim_end_matches('.').to_owned())
}

/// Whether `schema` allows JSON type `name`.
fn has_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(single)) => single == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}

/// The range an integer schema allows, from its format (`uint32`, `int64`, ...).
fn integer_range(schema: &Value) -> Option<String> {
    if !has_type(schema, "integer") {
        return None;
    }
    Some(
        match schema.get("format").and_then(Value::as_str)? {
            "uint8" => "0 to 255",
            "uint16" => "0 to 65535",
            "uint32" => "0 to 4294967295",
            "uint64" => "0 to 18446744073709551615",
            "int32" => "-2147483648 to 2147483647",
            "int64" => "-9223372036854775808 to 9223372036854775807",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Byte offset of a 1-based line and column.
fn offset_of(file: &SourceFile, line: usize, column: usize) -> usize {
    let line_start: usize = file
        .text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &file.text[line_start.min(file.text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(offset, _)| offset)
}

/// "did you mean" for serde's `unknown variant `x`, expected one of `a`, `b``.
fn variant_hint(message: &str) -> Option<String> {
    let rest = message.split("unknown variant `").nth(1)?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(word, candidates.iter().copied())
        .map(|candidate| format!("did you mean `{candidate}`?"))
        .or_else(|| Some(format!("expected one of: {}", candidates.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fields_through_maps_refs_and_options() {
        let schema = spec::json_schema();
        let fields = known_fields(&schema, &NodePath::parse("tables.any_table"));
        assert!(fields.contains(&"ttl_attribute".to_owned()), "{fields:?}");
        let fields = known_fields(&schema, &NodePath::parse("tables.t.indexes.i"));
        assert!(fields.contains(&"projection".to_owned()), "{fields:?}");
        let fields = known_fields(&schema, &NodePath::parse("tables.t.billing.provisioned"));
        assert_eq!(fields, ["read", "write"]);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            closest("ttl_atribute", ["ttl_attribute", "name"]),
            Some("ttl_attribute")
        );
        assert_eq!(closest("zzz", ["ttl_attribute", "name"]), None);
        assert_eq!(closest("evn", ["service", "env"]), Some("env"));
    }

    #[test]
    fn suggests_the_intended_enum_variant() {
        let hint =
            variant_hint("unknown variant `ondemand`, expected `on_demand` or `provisioned`");
        assert_eq!(hint.as_deref(), Some("did you mean `on_demand`?"));
    }
}
