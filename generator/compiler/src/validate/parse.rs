//! YAML text to [`Spec`], reporting syntax errors, type errors, duplicate keys and
//! every unknown field (with "did you mean") in one pass.

use serde_json::Value;

use super::diagnostic::{Diagnostic, SourceFile};
use super::source::{NodePath, Segment, SourceMap, Span};
use crate::spec::{self, Spec};

/// A spec read from text, with the map from its nodes to their positions.
#[derive(Debug)]
pub struct Parsed {
    /// The spec as written.
    pub spec: Spec,
    /// Where each node is.
    pub map: SourceMap,
    /// Problems that did not stop deserialization (unknown fields, duplicate keys).
    pub problems: Vec<Diagnostic>,
}

/// Reads `file`, or returns the problems that stop it from being read at all.
pub fn parse(file: &SourceFile) -> Result<Parsed, Vec<Diagnostic>> {
    let map = SourceMap::build(&file.text).map_err(|err| {
        vec![
            Diagnostic::new(
                format!("YAML syntax error: {}", err.message),
                Some(err.span),
            )
            .with_hint("check the indentation and quoting around this point"),
        ]
    })?;
    let mut problems: Vec<Diagnostic> = map
        .duplicates()
        .iter()
        .map(|duplicate| {
            Diagnostic::new(
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
    let yaml = serde_yaml::Deserializer::from_str(&file.text);
    let mut track = |path: serde_ignored::Path<'_>| ignored.push(node_path(&path));
    let tracked = serde_ignored::Deserializer::new(yaml, &mut track);
    let result = serde_yaml::with::singleton_map_recursive::deserialize(tracked);
    let spec: Spec = match result {
        Ok(spec) => spec,
        Err(err) => {
            // The source map reports duplicate keys with both places; serde's note adds nothing.
            let duplicate = err.to_string().contains("duplicate field");
            if !duplicate || map.duplicates().is_empty() {
                problems.push(serde_problem(file, &err));
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
        return Diagnostic::new(format!("`{path}` is not expected here"), map.key_span(path));
    };
    let known = path
        .parent()
        .map(|parent| known_fields(schema, &parent))
        .unwrap_or_default();
    let place = match path.parent() {
        Some(parent) if !parent.0.is_empty() => format!(" in `{parent}`"),
        _ => String::new(),
    };
    let diagnostic = Diagnostic::new(format!("unknown field `{name}`{place}"), map.key_span(path));
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

/// Field names the schema allows at `path` (a mapping node).
fn known_fields(root: &Value, path: &NodePath) -> Vec<String> {
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
    let mut names: Vec<String> = current
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

fn serde_problem(file: &SourceFile, err: &serde_yaml::Error) -> Diagnostic {
    let text = err.to_string();
    let message = match text.rfind(" at line ") {
        Some(position) => text[..position].to_owned(),
        None => text.clone(),
    };
    let span = err.location().map(|location| {
        let start = offset_of(file, location.line(), location.column());
        Span {
            start,
            end: (start + 1).min(file.text.len()),
        }
    });
    let diagnostic = Diagnostic::new(message.clone(), span);
    match variant_hint(&message) {
        Some(hint) => diagnostic.with_hint(hint),
        None => diagnostic,
    }
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
