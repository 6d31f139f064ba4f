//! Keys that cannot collide: within one template (two parameter tuples), across the data
//! types of a table, with the runtime's internal items, and in the generated Rust names.
//!
//! The runtime writes a string parameter with `push_key_part`, which percent-encodes all
//! but `A-Z a-z 0-9 - . _ ~`; numbers and bools print digits, `-`, `.` and letters. So a
//! parameter's value never holds a character escaping encodes, and such a character
//! right after it marks where it ends.

use std::collections::{BTreeMap, HashMap};

use heck::ToPascalCase;

use super::{Checker, names};
use crate::diagnostics::source::NodePath;
use crate::diagnostics::{Diagnostic, codes};
use cachegen_names::sort_key;

use crate::ir::{DataType, Field, FieldType, Template, TemplatePart};

/// The first character of the runtime's internal keys (invalidation stamps, tombstones),
/// right after `CACHE_KEY_PREFIX`. Escaping encodes it, so only fixed text can start with it.
const INTERNAL_KEY_START: char = '!';

impl Checker<'_> {
    /// A key or sort key template (`kind`), with its placeholders and parameter ends checked.
    pub(super) fn key_template(
        &mut self,
        path: &NodePath,
        kind: &str,
        text: &str,
        params: &[Field],
    ) -> Template {
        let template = self.template(path, text);
        self.placeholders(path, &template, params, None, false);
        self.parameter_ends(path, kind, text, &template);
        if text.contains(sort_key::SEPARATOR) {
            self.error(
                codes::KEY_SEPARATOR,
                path,
                format!("{kind} template {text:?} holds U+001F, which separates a key's partition and sort parts"),
                "remove the control character; separate parts of a key with `#`, `:` or `/`",
            );
        }
        template
    }

    /// A sort key template on a numeric sort key must give a number DynamoDB stores as
    /// written: one integer parameter, or a whole number in its plain form.
    pub(super) fn numeric_sort_key(
        &mut self,
        path: &NodePath,
        text: &str,
        template: &Template,
        params: &[Field],
    ) {
        let integer = |name: &str| {
            params.iter().any(|param| {
                param.name == name
                    && matches!(param.ty, FieldType::U32 | FieldType::U64 | FieldType::I64)
            })
        };
        let fits = match template.0.as_slice() {
            [TemplatePart::Param(name)] => integer(name),
            [TemplatePart::Literal(number)] => number
                .parse::<i64>()
                .is_ok_and(|n| n.to_string() == *number),
            _ => false,
        };
        if !fits {
            self.error(
                codes::SORT_KEY_NUMBER,
                path,
                format!("sort key template `{text}` does not give a number, but the table's sort key is a number (N)"),
                "write one integer parameter, such as `sort_key: \"{version}\"` with `params: { version: u64 }`, or a whole number such as `sort_key: \"0\"`; or make the table's sort key a string",
            );
        }
    }

    /// Reports each parameter of `template` whose end cannot be told: one followed by
    /// another placeholder, or by text starting with a character a value can hold.
    pub(super) fn parameter_ends(
        &mut self,
        path: &NodePath,
        kind: &str,
        text: &str,
        template: &Template,
    ) {
        for pair in template.0.windows(2) {
            let [TemplatePart::Param(name), next] = pair else {
                continue;
            };
            let problem = match next {
                TemplatePart::Literal(literal) => match literal.chars().next() {
                    Some(first) if !names::ends_parameter(first) => format!(
                        "`{{{name}}}` is followed by `{first}`, which a parameter's value can contain"
                    ),
                    _ => continue,
                },
                placeholder => format!(
                    "`{{{name}}}` is followed directly by `{}`",
                    Template(vec![placeholder.clone()])
                ),
            };
            self.error(
                codes::KEY_PARAMETER_END,
                path,
                format!("{kind} template `{text}` can give two parameter tuples the same {kind}: {problem}"),
                "follow each parameter with a character escaping always encodes, such as `#`, `:` or `/` (`session#{user}#{device}`), or end the template with it",
            );
        }
    }

    /// Reports a key that starts with the runtime's internal key space.
    pub(super) fn reserved_key_space(
        &mut self,
        path: &NodePath,
        data_type: &str,
        text: &str,
        key: &Template,
    ) {
        if let Some(TemplatePart::Literal(first)) = key.0.first()
            && first.starts_with(INTERNAL_KEY_START)
        {
            self.error(
                codes::RESERVED_KEY_SPACE,
                path,
                format!(
                    "key template `{text}` starts with `{INTERNAL_KEY_START}`, which the runtime keeps for its own items (invalidation stamps, tombstones)"
                ),
                format!("start the key with fixed text of its own, such as `{data_type}#`"),
            );
        }
    }

    /// Data types whose names differ only in punctuation or case (`user_x`, `user-x`)
    /// would generate the same Rust types.
    pub(super) fn unique_type_names(&mut self) {
        let mut seen: HashMap<String, &String> = HashMap::new();
        for name in self.spec.data_types.keys() {
            let generated = name.to_pascal_case();
            match seen.get(&generated) {
                Some(first) => {
                    let here = NodePath::parse("data_types").key(name.as_str());
                    let there = NodePath::parse("data_types").key(first.as_str());
                    let mut diagnostic = Diagnostic::new(
                        codes::TYPE_NAME_CLASH,
                        format!(
                            "data types `{first}` and `{name}` both generate the Rust type `{generated}` (and `{generated}Key`)"
                        ),
                        self.report.map().key_span(&here),
                    )
                    .with_hint("rename one of them so they differ in more than punctuation or case");
                    if let Some(span) = self.report.map().key_span(&there) {
                        diagnostic = diagnostic.with_related(span, format!("`{first}` is here"));
                    }
                    self.report.push(diagnostic);
                }
                None => {
                    seen.insert(generated, name);
                }
            }
        }
    }

    /// Data types sharing a table must not be able to produce the same key (and, on a
    /// table with a sort key, the same sort key too). Each type is reported once, against
    /// the first type it can collide with.
    pub(super) fn check_key_overlap(&mut self, data_types: &[DataType]) {
        // Per table, the fixed texts in sorted order: a text that begins others sorts just
        // before them, and stays on `open` (the chain of texts beginning one another)
        // until a text it does not begin. So each type meets on `open` exactly the
        // earlier-sorted texts that begin its own, without comparing every pair.
        let mut by_table: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
        for (position, data_type) in data_types.iter().enumerate() {
            by_table
                .entry(data_type.table.as_ref().map_or("", |table| table.name()))
                .or_default()
                .push((fixed_text(data_type, &data_type.key).0, position));
        }
        // For each type, the earliest-declared type it can collide with.
        let mut first_collision: Vec<Option<usize>> = vec![None; data_types.len()];
        for mut texts in by_table.into_values() {
            texts.sort();
            let mut open: Vec<(&str, usize)> = Vec::new();
            for (text, position) in &texts {
                while open.last().is_some_and(|(top, _)| !text.starts_with(top)) {
                    open.pop();
                }
                for &(_, other) in &open {
                    let (earlier, later) = (other.min(*position), other.max(*position));
                    if first_collision[later].is_none_or(|known| earlier < known)
                        && collision(&data_types[earlier], &data_types[later]).is_some()
                    {
                        first_collision[later] = Some(earlier);
                    }
                }
                open.push((text, *position));
            }
        }
        for (later, earlier) in first_collision.into_iter().enumerate() {
            let Some(earlier) = earlier else { continue };
            let (other, data_type) = (&data_types[earlier], &data_types[later]);
            if let Some(reason) = collision(other, data_type) {
                self.key_overlap(other, data_type, &reason);
            }
        }
    }

    /// Reports that the keys of `data_type` (declared later) and `other` can collide.
    fn key_overlap(&mut self, other: &DataType, data_type: &DataType, reason: &str) {
        let here = NodePath::parse("data_types")
            .key(data_type.name.as_str())
            .key("key");
        let there = NodePath::parse("data_types")
            .key(other.name.as_str())
            .key("key");
        let hint = if fixed_text(data_type, &data_type.key).0.is_empty()
            || fixed_text(other, &other.key).0.is_empty()
        {
            "a key may start with a parameter only when its data type is alone on its table; otherwise start it with fixed text, such as `server#{server_name}`".to_owned()
        } else {
            format!(
                "a data type's keys are told apart by their fixed text before the first parameter (its `invalidate_all` and index queries select keys by it): neither may equal or begin the other's; for example `{}#...` and `{}#...`",
                other.name, data_type.name
            )
        };
        let place = match &data_type.table {
            Some(table) => format!("on table `{table}`"),
            None => "in the Redis store".to_owned(),
        };
        let mut diagnostic = Diagnostic::new(
            codes::KEY_PREFIX_OVERLAP,
            format!(
                "keys of `{}` and `{}` can collide {place}: {reason}",
                data_type.name, other.name
            ),
            self.report.map().value_span(&here),
        )
        .with_hint(hint);
        if let Some(span) = self.report.map().value_span(&there) {
            diagnostic = diagnostic.with_related(span, format!("the key of `{}`", other.name));
        }
        self.report.push(diagnostic);
    }
}

/// Why the keys of `first` and `second` (on one table) can collide, if they can: their
/// keys overlap and, on a table with a sort key, their sort keys too.
fn collision(first: &DataType, second: &DataType) -> Option<String> {
    let reason = overlap(first, &first.key, second, &second.key)?;
    match (&first.sort_key, &second.sort_key) {
        (Some(a), Some(b)) => overlap(first, a, second, b)
            .map(|sort_reason| format!("{reason}; so can their sort keys: {sort_reason}")),
        _ => Some(reason),
    }
}

/// The text every key of `template` starts with (up to the first parameter, with
/// `{data_type}` spelled out), and whether that is the whole key (no parameter at all).
fn fixed_text(data_type: &DataType, template: &Template) -> (String, bool) {
    let mut text = String::new();
    for part in &template.0 {
        match part {
            TemplatePart::Literal(literal) => text.push_str(literal),
            TemplatePart::DataTypeName => text.push_str(&data_type.name),
            _ => return (text, false),
        }
    }
    (text, true)
}

/// Why templates `a` (of data type `first`) and `b` (of `second`) can produce the same
/// key, or keys one type's fixed text selects, if they can. Every key of a template
/// starts with its fixed text, so when neither fixed text begins the other, their keys
/// differ. A whole key without parameters that begins another type's fixed text is
/// refused too: it cannot equal a longer key, but the type's `invalidate_all` and index
/// queries select keys by that text, and would reach the other type's items.
fn overlap(first: &DataType, a: &Template, second: &DataType, b: &Template) -> Option<String> {
    let (a_text, a_whole) = fixed_text(first, a);
    let (b_text, b_whole) = fixed_text(second, b);
    let described = |data_type: &DataType, text: &str| {
        if text.is_empty() {
            format!(
                "`{}` starts with a parameter, so it can be any key",
                data_type.name
            )
        } else {
            format!("`{text}` (the fixed text of `{}`)", data_type.name)
        }
    };
    if a_text == b_text {
        if a_whole && b_whole {
            return Some(format!("both are the fixed key `{a_text}`"));
        }
        return Some(if a_text.is_empty() {
            "both start with a parameter, so they can be any key".to_owned()
        } else {
            format!("both start with the fixed text `{a_text}` before their parameters")
        });
    }
    let ((short, short_text), (long, long_text)) = if b_text.starts_with(&a_text) {
        ((first, &a_text), (second, &b_text))
    } else if a_text.starts_with(&b_text) {
        ((second, &b_text), (first, &a_text))
    } else {
        return None;
    };
    Some(if short_text.is_empty() {
        described(short, short_text)
    } else {
        format!(
            "{} begins {}",
            described(short, short_text),
            described(long, long_text)
        )
    })
}
