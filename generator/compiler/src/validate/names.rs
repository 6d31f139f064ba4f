//! Naming rules of AWS and Rust, and the two template languages of a spec:
//! `${parameter}` in resource names, `{placeholder}` in keys and attributes.

use crate::ir::{NamePart, NameTemplate, Template, TemplatePart};

/// Rust keywords, which cannot name a key parameter or a value field.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "yield",
];

/// Whether `c` marks where a key parameter ends: escaping (`push_key_part` in the runtime)
/// always encodes it, so no parameter's value contains it. `%` does not: it starts every
/// escape.
pub(super) fn ends_parameter(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '%'))
}

/// Why a DynamoDB table or index name is rejected, if it is.
pub(super) fn dynamodb_name_problem(kind: &str, name: &str) -> Option<String> {
    let bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "{kind} `{name}` has characters DynamoDB rejects: {}",
            quoted_chars(&bad)
        ));
    }
    if !(3..=255).contains(&name.len()) {
        return Some(format!(
            "{kind} `{name}` is {} characters long; DynamoDB needs 3 to 255",
            name.len()
        ));
    }
    None
}

/// Characters allowed in the literal parts of a table name.
pub(super) fn dynamodb_name_chars_problem(kind: &str, text: &str) -> Option<String> {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .collect();
    (!bad.is_empty()).then(|| {
        format!(
            "{kind} has characters DynamoDB rejects: {}",
            quoted_chars(&bad)
        )
    })
}

/// Why a CloudFormation parameter name is rejected, if it is.
pub(super) fn parameter_name_problem(name: &str) -> Option<String> {
    (name.is_empty() || name.len() > 255 || !name.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| format!("parameter name `{name}` must be 1 to 255 letters and digits (CloudFormation's rule)"))
}

/// Why a Lambda environment variable name is rejected, if it is.
pub(super) fn env_var_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Some(format!(
            "environment variable `{name}` must be letters, digits and `_`, not starting with a digit"
        ));
    }
    name.starts_with("AWS_")
        .then(|| format!("environment variable `{name}` uses the `AWS_` prefix Lambda reserves"))
}

/// Why a name that becomes part of identifiers (data types, consumers, alarms) is rejected.
pub(super) fn identifier_problem(kind: &str, name: &str) -> Option<String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    (!valid).then(|| {
        format!("{kind} name `{name}` must start with a letter and use only letters, digits, `-` and `_`")
    })
}

/// Modules the generated Rust module declares itself: the runtime's alias and the buckets.
const GENERATED_MODULES: &[&str] = &["runtime", "buckets"];

/// Why a table name is rejected as the name of its generated Rust module (snake_case).
pub(super) fn module_name_problem(name: &str) -> Option<String> {
    let module = heck::ToSnakeCase::to_snake_case(name);
    if GENERATED_MODULES.contains(&module.as_str()) {
        return Some(format!(
            "table `{name}` would generate the module `{module}`, which the generated module uses itself"
        ));
    }
    RUST_KEYWORDS
        .contains(&module.as_str())
        .then(|| format!("table `{name}` would generate the module `{module}`, a Rust keyword"))
}

/// Why a key parameter or value field name is rejected (it becomes a Rust field).
pub(super) fn field_name_problem(kind: &str, name: &str) -> Option<String> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Some(format!(
            "{kind} `{name}` must be snake_case (it becomes a Rust field)"
        ));
    }
    RUST_KEYWORDS
        .contains(&name)
        .then(|| format!("{kind} `{name}` is a Rust keyword"))
}

/// Why a tag is rejected, if it is.
pub(super) fn tag_problem(key: &str, value: &str) -> Option<String> {
    if key.is_empty() || key.chars().count() > 128 {
        return Some(format!("tag key `{key}` must be 1 to 128 characters"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Some(format!(
            "tag key `{key}` uses the `aws:` prefix AWS reserves"
        ));
    }
    (value.chars().count() > 256).then(|| format!("tag `{key}` has a value over 256 characters"))
}

/// Why a CloudWatch namespace is rejected, if it is.
pub(super) fn namespace_problem(namespace: &str) -> Option<String> {
    if namespace.starts_with("AWS/") {
        return Some(format!(
            "metrics namespace `{namespace}` uses the `AWS/` prefix AWS reserves"
        ));
    }
    let valid = !namespace.is_empty()
        && namespace.len() <= 255
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c));
    (!valid).then(|| {
        format!("metrics namespace `{namespace}` must be 1 to 255 letters, digits or `.-_/#:`")
    })
}

fn quoted_chars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `${...}` references in a resource name; `${service}` becomes literal text.
///
/// `$${` is a literal `${` (as in Terraform): `"$${env}"` is the text `${env}`.
pub(super) fn parse_name_template(
    text: &str,
    service: &str,
) -> Result<NameTemplate, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            push_literal(&mut parts, &rest[..start - 1]);
            push_literal(&mut parts, "${");
            rest = &rest[start + 2..];
            continue;
        }
        push_literal(&mut parts, &rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(TemplateError::Unclosed)?;
        let reference = after[..end].trim();
        parts.push(match reference {
            "service" => NamePart::Literal(service.to_owned()),
            "AWS::StackName" => NamePart::StackName,
            "AWS::Region" => NamePart::Region,
            "AWS::AccountId" => NamePart::AccountId,
            "" => return Err(TemplateError::Empty),
            name => NamePart::Parameter(name.to_owned()),
        });
        rest = &after[end + 1..];
    }
    push_literal(&mut parts, rest);
    Ok(NameTemplate(merge_literals(parts)))
}

fn push_literal(parts: &mut Vec<NamePart>, text: &str) {
    if !text.is_empty() {
        parts.push(NamePart::Literal(text.to_owned()));
    }
}

fn merge_literals(parts: Vec<NamePart>) -> Vec<NamePart> {
    let mut merged: Vec<NamePart> = Vec::with_capacity(parts.len());
    for part in parts {
        match (merged.last_mut(), part) {
            (Some(NamePart::Literal(previous)), NamePart::Literal(text)) => {
                previous.push_str(&text)
            }
            (_, part) => merged.push(part),
        }
    }
    merged
}

/// What went wrong reading a template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum TemplateError {
    /// `{` or `${` without its `}`.
    #[error("a `{{` is never closed")]
    Unclosed,
    /// A `}` with no `{`.
    #[error("a `}}` has no matching `{{`")]
    Stray,
    /// `{}`.
    #[error("`{{}}` names nothing")]
    Empty,
}

/// Parses a key, tag or attribute template: `{name}`, `{value.field}`, `{now}`, `{data_type}`.
pub(super) fn parse_template(text: &str) -> Result<Template, TemplateError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(TemplateError::Unclosed),
                    }
                }
                let name = name.trim();
                if name.is_empty() {
                    return Err(TemplateError::Empty);
                }
                if !literal.is_empty() {
                    parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
                }
                parts.push(match name {
                    "now" => TemplatePart::Now,
                    "data_type" => TemplatePart::DataTypeName,
                    _ => match name.strip_prefix("value.") {
                        Some(field) => TemplatePart::ValueField(field.to_owned()),
                        None => TemplatePart::Param(name.to_owned()),
                    },
                });
            }
            '}' => return Err(TemplateError::Stray),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(TemplatePart::Literal(literal));
    }
    Ok(Template(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_templates_resolve_service_and_keep_parameters() {
        let literal = parse_name_template("a-$${env}-${env}", "drs").unwrap();
        assert_eq!(
            literal.0,
            [
                NamePart::Literal("a-${env}-".into()),
                NamePart::Parameter("env".into())
            ]
        );
        let template = parse_name_template("${service}-cache-${env}", "drs").unwrap();
        assert_eq!(
            template.0,
            [
                NamePart::Literal("drs-cache-".into()),
                NamePart::Parameter("env".into())
            ]
        );
        assert_eq!(
            parse_name_template("${AWS::StackName}-cache", "x")
                .unwrap()
                .0[0],
            NamePart::StackName
        );
        assert_eq!(
            parse_name_template("a-${env", "x"),
            Err(TemplateError::Unclosed)
        );
    }

    #[test]
    fn key_templates_split_into_parts() {
        let template = parse_template("drs-quotas#{region}#{account_id}").unwrap();
        assert_eq!(
            template.0,
            [
                TemplatePart::Literal("drs-quotas#".into()),
                TemplatePart::Param("region".into()),
                TemplatePart::Literal("#".into()),
                TemplatePart::Param("account_id".into()),
            ]
        );
        assert_eq!(template.literal_prefix(), "drs-quotas#");
        assert_eq!(
            parse_template("{value.status}").unwrap().0,
            [TemplatePart::ValueField("status".into())]
        );
        assert_eq!(parse_template("a}"), Err(TemplateError::Stray));
        assert_eq!(parse_template("a{}"), Err(TemplateError::Empty));
    }

    #[test]
    fn only_what_escaping_encodes_ends_a_parameter() {
        for c in ['#', ':', '/', '|', ' ', 'é'] {
            assert!(ends_parameter(c), "{c}");
        }
        for c in ['a', 'Z', '0', '-', '.', '_', '~', '%'] {
            assert!(!ends_parameter(c), "{c}");
        }
    }

    #[test]
    fn aws_name_rules() {
        assert!(dynamodb_name_problem("table name", "ok-name_1.x").is_none());
        assert!(dynamodb_name_problem("table name", "no spaces").is_some());
        assert!(dynamodb_name_problem("table name", "ab").is_some());
        assert!(parameter_name_problem("env").is_none());
        assert!(parameter_name_problem("my-env").is_some());
        assert!(env_var_problem("CACHE_TABLE_NAME").is_none());
        assert!(env_var_problem("AWS_REGION").is_some());
        assert!(env_var_problem("1ABC").is_some());
        assert!(tag_problem("aws:owner", "x").is_some());
        assert!(namespace_problem("AWS/DynamoDB").is_some());
        assert!(field_name_problem("parameter", "type").is_some());
        assert!(field_name_problem("parameter", "accountId").is_some());
    }
}
