//! YAML text from JSON values, safe for YAML 1.1 and 1.2 readers alike.
//!
//! serde_yaml (and yaml-rust2's emitter) write YAML 1.2, where `2010-09-09` is a string;
//! CloudFormation tooling such as cfn-lint reads YAML 1.1, where it is a date. This writer
//! leaves a string plain only when both versions read it back as the same string, and
//! otherwise writes it double-quoted, escaping every character a YAML 1.1 reader would
//! not read back as itself: control characters, and the line breaks YAML 1.1 knows
//! beyond `\n` and `\r` (U+0085, U+2028, U+2029), which it would fold into spaces.

use serde_json::Value;

/// Block-style YAML for `value`, ending in a newline.
pub(super) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string_text(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, indent + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, indent);
            }
            scalar => {
                out.push(' ');
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        out.push_str(&pad);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                write_map(&mut nested, map, indent + 2);
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string_text(text),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn string_text(text: &str) -> String {
    if is_plain_safe(text) {
        text.to_owned()
    } else {
        double_quoted(text)
    }
}

/// `text` as a YAML double-quoted scalar.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => {
                // Every such character is in the Basic Multilingual Plane.
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `c` must be escaped for a YAML 1.1 reader to read it back: the C0 and C1
/// control characters (U+0085, NEL, is a line break there) and DEL, the line and
/// paragraph separators (line breaks too), the byte order mark, and the two
/// non-characters YAML does not allow in a stream.
fn must_escape(c: char) -> bool {
    c < ' '
        || ('\u{7f}'..='\u{9f}').contains(&c)
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Words YAML 1.1 reads as booleans or null.
const SPECIAL_WORDS: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

/// Whether `text` reads back as itself, unquoted, in YAML 1.1 and 1.2.
fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let starts_well = first.is_ascii_alphabetic() || matches!(first, '$' | '/' | '_' | '(');
    let chars_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " _-./:${}()*,+=@<>;".contains(c));
    starts_well
        && chars_ok
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !SPECIAL_WORDS.contains(&text.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        for text in [
            "2010-09-09",
            "yes",
            "Off",
            "123",
            "1e3",
            "",
            " padded",
            "a: b",
            "x #y",
            "*ref",
            "it's",
            "two\nlines",
        ] {
            assert!(
                string_text(text).starts_with('"'),
                "{text:?} must be quoted"
            );
        }
        for text in [
            "AWS::DynamoDB::Table",
            "${AWS::StackName}-cache",
            "dynamodb:GetItem",
            "PAY_PER_REQUEST",
        ] {
            assert_eq!(string_text(text), text, "{text:?} reads fine unquoted");
        }
    }

    #[test]
    fn escapes_what_a_yaml_1_1_reader_would_fold_or_refuse() {
        let text = "a\u{2028}b\u{2029}c\u{85}d\u{7f}e\u{1b}f\u{feff}g\té\u{1F600}";
        assert_eq!(
            string_text(text),
            "\"a\\u2028b\\u2029c\\u0085d\\u007fe\\u001bf\\ufeffg\\té\u{1F600}\""
        );
        let back: Value = serde_yaml::from_str(&to_string(&json!({ "Text": text }))).unwrap();
        assert_eq!(back["Text"], text);
    }

    #[test]
    fn round_trips_through_a_yaml_reader() {
        let value = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "List": ["a", {"Name": "x", "Value": {"Ref": "T"}, "Deep": [1, 2.5, true]}, ["nested"]],
            "Empty": {}, "None": [], "Tricky": "a: b # c", "Text": "two\nlines \"quoted\"",
        });
        let text = to_string(&value);
        let back: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, value, "\n{text}");
        assert!(
            text.contains("AWSTemplateFormatVersion: \"2010-09-09\"\n"),
            "{text}"
        );
        assert!(text.contains("- Name: x\n  Value:\n    Ref: T\n"), "{text}");
    }
}
