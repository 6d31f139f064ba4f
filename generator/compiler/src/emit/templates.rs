//! Users' own outputs: tera templates, named in `outputs.templates`, rendered over the
//! versioned JSON view of the IR ([`crate::view`]) beside the built-in targets.
//!
//! The context is the view (`version`, `fingerprint`, `model`), plus `spec` (the spec's
//! file name) and `generated` (the header line `build` recognises its files by: every
//! output must carry it in its first lines). On top of tera's own filters:
//! - `duration`: seconds as the spec writes them (`300` → `5m`);
//! - `name`: a name template as the spec writes it (`${AWS::StackName}-cache`);
//! - `template`: a key template as the spec writes it (`user#{id}`);
//! - `snake_case`, `camel_case`, `pascal_case`, `shouty_snake_case`: identifiers;
//! - `number`: a number as Rust prints it (`0`, not `0.0`).
//!
//! and two functions. `overflow(bucket="name")`: where the bucket keeps oversized values'
//! bodies and after how many days it expires them (`{prefix, expiry_days}`), or nothing.
//! `renderings(data_type="name")`: how the data type's key, tags, key
//! prefixes, item attributes and object key become text ([`crate::ir::Rendering`], the
//! definition the generated Rust and the CLI follow), each a list of pieces
//! `{kind: "text", text}`, `{kind: "escaped_param", name, type}` (percent-encoded as the
//! runtime's `push_key_part` does), `{kind: "param", name, type}`,
//! `{kind: "value_field", name, type}` or `{kind: "now"}`.
//!
//! A template that does not parse or render is reported like a spec problem: its file,
//! line and column, with a caret.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use heck::{ToLowerCamelCase, ToPascalCase, ToShoutySnakeCase, ToSnakeCase};
use serde_json::{Value, json};
use tera::{Context, Tera};

use super::{GENERATED_MARKER, GeneratedFile, HEADER_LINES, is_generated};
use crate::diagnostics::codes::{self, Code};
use crate::diagnostics::source::{NodePath, SourceMap, Span};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceFile};
use crate::ir::{
    CacheModel, DataType, NameTemplate, OVERFLOW_PREFIX, Piece, Ref, Rendering, Template,
    UserTemplate,
};
use crate::spec::SpecDuration;
use crate::view::View;

/// A change of an identifier's case, as a filter does it.
type Case = fn(&str) -> String;

/// The files of the model's templates, read relative to the folder of the spec at
/// `spec_path`. Template files that cannot be read are reported together, each at the
/// spec line that names it.
pub fn render_all(
    model: &CacheModel,
    spec_path: &Path,
    spec_name: &str,
) -> Result<Vec<GeneratedFile>, crate::error::Error> {
    let spec_dir = spec_path.parent().unwrap_or(Path::new(""));
    let mut sources = Vec::new();
    let mut unreadable = Vec::new();
    for template in &model.templates {
        let path = spec_dir.join(&template.template);
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((template, SourceFile::new(path.display().to_string(), text))),
            Err(err) => unreadable.push((template, path, err)),
        }
    }
    if !unreadable.is_empty() {
        return Err(unreadable_templates(spec_path, &unreadable));
    }
    sources
        .into_iter()
        .map(|(template, source)| {
            Ok(GeneratedFile {
                path: template.output.clone().into(),
                contents: render(model, spec_name, &source)?,
            })
        })
        .collect()
}

/// Each template file that could not be read, reported at its `outputs.templates` entry.
/// The model keeps no positions, so the spec is read again for them.
fn unreadable_templates(
    spec_path: &Path,
    unreadable: &[(&UserTemplate, PathBuf, std::io::Error)],
) -> crate::error::Error {
    let text = match std::fs::read_to_string(spec_path) {
        Ok(text) => text,
        Err(source) => {
            return crate::error::Error::Read {
                path: spec_path.to_owned(),
                source,
            };
        }
    };
    let map = SourceMap::build(&text).ok();
    let spec_dir = match spec_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => ".".to_owned(),
    };
    let items = unreadable
        .iter()
        .map(|(template, path, err)| {
            let node = NodePath::parse("outputs.templates").key(template.output.as_str());
            let span = map.as_ref().and_then(|map| map.value_span(&node));
            Diagnostic::new(
                codes::TEMPLATE_FILE,
                format!(
                    "cannot read template `{}` for `{}` ({}): {err}",
                    template.template,
                    template.output,
                    path.display()
                ),
                span,
            )
            .with_hint(format!(
                "a template's path is relative to the spec's folder ({spec_dir}): correct the path, or copy the template there"
            ))
        })
        .collect();
    Diagnostics::new(
        SourceFile::new(spec_path.display().to_string(), text),
        items,
    )
    .into()
}

/// `template` rendered over the view of `model`, the spec being `spec_name`.
pub fn render(
    model: &CacheModel,
    spec_name: &str,
    template: &SourceFile,
) -> Result<String, Diagnostics> {
    let problem = |code: Code, message: String, span: Option<Span>, hint: &str| {
        Diagnostics::new(
            template.clone(),
            vec![Diagnostic::new(code, message, span).with_hint(hint)],
        )
    };
    let mut tera = Tera::default();
    tera.autoescape_on(Vec::new());
    register(&mut tera, model);
    if let Err(err) = tera.add_raw_template(&template.name, &template.text) {
        let (message, span) = parse_problem(template, &err);
        return Err(problem(
            codes::TEMPLATE_SYNTAX,
            message,
            span,
            "see tera's syntax: `{{ expression }}`, `{% tag %}`, `{# comment #}`",
        ));
    }
    let context = context(model, spec_name, &template.name);
    let rendered = tera.render(&template.name, &context).map_err(|err| {
        let message = deepest(&err);
        let span = render_problem_span(template, &message);
        problem(
            codes::TEMPLATE_RENDER,
            message,
            span,
            "`cachegen ir` prints the JSON view the template reads; `cachegen ir --schema` documents it",
        )
    })?;
    if !is_generated(&rendered) {
        return Err(problem(
            codes::TEMPLATE_HEADER,
            format!(
                "the output has no `{GENERATED_MARKER}...` line in its first {HEADER_LINES} lines"
            ),
            None,
            "start it with a comment holding `{{ generated }}`, so `build` knows the file is its own to overwrite",
        ));
    }
    Ok(rendered)
}

/// The context: the view, the spec's name and the header line.
fn context(model: &CacheModel, spec_name: &str, template: &str) -> Context {
    let mut value = serde_json::to_value(View::new(model)).expect("the view serializes");
    let file_name = Path::new(template).file_name().map_or_else(
        || template.to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    value["spec"] = json!(spec_name);
    value["generated"] = json!(format!(
        "{GENERATED_MARKER}{spec_name} with {file_name}: do not edit; change the spec or the template instead."
    ));
    Context::from_value(value).expect("the context is an object")
}

/// The filters and the function templates get.
fn register(tera: &mut Tera, model: &CacheModel) {
    tera.register_filter(
        "duration",
        |value: &Value, args: &HashMap<String, Value>| {
            let amount = value
                .as_u64()
                .ok_or_else(|| tera::Error::msg("`duration` takes a whole number"))?;
            let duration = match args.get("unit").and_then(Value::as_str) {
                None | Some("s") => std::time::Duration::from_secs(amount),
                Some("ms") => std::time::Duration::from_millis(amount),
                Some(other) => {
                    return Err(tera::Error::msg(format!(
                        "`duration`'s unit is `s` (the default) or `ms`, not `{other}`"
                    )));
                }
            };
            Ok(json!(SpecDuration(duration).to_string()))
        },
    );
    tera.register_filter("name", |value: &Value, _: &HashMap<String, Value>| {
        let name: NameTemplate = serde_json::from_value(value.clone())
            .map_err(|_| tera::Error::msg("`name` takes a name template of the view"))?;
        Ok(json!(name.to_string()))
    });
    tera.register_filter("template", |value: &Value, _: &HashMap<String, Value>| {
        let template: Template = serde_json::from_value(value.clone())
            .map_err(|_| tera::Error::msg("`template` takes a key template of the view"))?;
        Ok(json!(template.to_string()))
    });
    tera.register_filter("number", |value: &Value, _: &HashMap<String, Value>| {
        let number = value
            .as_f64()
            .ok_or_else(|| tera::Error::msg("`number` takes a number"))?;
        Ok(json!(number.to_string()))
    });
    let cases: [(&str, Case); 4] = [
        ("snake_case", |text| text.to_snake_case()),
        ("camel_case", |text| text.to_lower_camel_case()),
        ("pascal_case", |text| text.to_pascal_case()),
        ("shouty_snake_case", |text| text.to_shouty_snake_case()),
    ];
    for (name, case) in cases {
        tera.register_filter(name, move |value: &Value, _: &HashMap<String, Value>| {
            let text = value
                .as_str()
                .ok_or_else(|| tera::Error::msg(format!("`{name}` takes text")))?;
            Ok(json!(case(text)))
        });
    }
    let renderings: HashMap<String, Value> = model
        .data_types
        .iter()
        .map(|data_type| (data_type.name.clone(), renderings(data_type)))
        .collect();
    let overflow: HashMap<String, Value> = Ref::each(&model.buckets)
        .filter_map(|(reference, bucket)| {
            let days = model.overflow_expiry_days(&reference)?;
            Some((
                bucket.name.clone(),
                json!({ "prefix": OVERFLOW_PREFIX, "expiry_days": days }),
            ))
        })
        .collect();
    tera.register_function("overflow", move |args: &HashMap<String, Value>| {
        let name = args
            .get("bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("`overflow` takes `bucket=\"<name>\"`"))?;
        Ok(overflow.get(name).cloned().unwrap_or(Value::Null))
    });
    tera.register_function("renderings", move |args: &HashMap<String, Value>| {
        let name = args
            .get("data_type")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("`renderings` takes `data_type=\"<name>\"`"))?;
        renderings
            .get(name)
            .cloned()
            .ok_or_else(|| tera::Error::msg(format!("the spec declares no data type `{name}`")))
    });
}

/// What `renderings(data_type=...)` returns for `data_type`.
fn renderings(data_type: &DataType) -> Value {
    json!({
        "key": pieces(&data_type.partition_key_rendering()),
        "sort_key": data_type.sort_key_rendering().as_ref().map(pieces),
        "tags": data_type.tag_renderings().iter().map(pieces).collect::<Vec<_>>(),
        "key_prefixes": data_type
            .key_prefixes()
            .iter()
            .map(|prefix| json!({
                "params": prefix.params,
                "pieces": pieces(&data_type.prefix_rendering(prefix)),
            }))
            .collect::<Vec<_>>(),
        "attributes": data_type
            .attributes
            .iter()
            .map(|attribute| json!({
                "name": attribute.name,
                "kind": attribute.kind.to_string(),
                "pieces": pieces(&data_type.attribute_rendering(attribute)),
            }))
            .collect::<Vec<_>>(),
        "object_key": data_type.object_key_rendering().as_ref().map(pieces),
    })
}

fn pieces(rendering: &Rendering) -> Value {
    rendering
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => json!({ "kind": "text", "text": text }),
            Piece::EscapedParam(field) => {
                json!({ "kind": "escaped_param", "name": field.name, "type": field.ty.to_string() })
            }
            Piece::Param(field) => {
                json!({ "kind": "param", "name": field.name, "type": field.ty.to_string() })
            }
            Piece::ValueField(name, ty) => {
                json!({ "kind": "value_field", "name": name, "type": ty.map(ToString::to_string) })
            }
            Piece::Now => json!({ "kind": "now" }),
        })
        .collect()
}

/// The innermost message of a tera error: what went wrong, not where tera was.
fn deepest(err: &tera::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        message = inner.to_string();
        source = inner.source();
    }
    match message.find(" while rendering '") {
        Some(end) => message[..end].to_owned(),
        None => message,
    }
}

/// A parse error's message and place: tera reports `--> line:column` and what it
/// expected there.
fn parse_problem(template: &SourceFile, err: &tera::Error) -> (String, Option<Span>) {
    let detail = deepest(err);
    let place = detail.lines().find_map(|line| {
        let (line, column) = line.trim().strip_prefix("--> ")?.split_once(':')?;
        Some((
            line.trim().parse::<usize>().ok()?,
            column.trim().parse::<usize>().ok()?,
        ))
    });
    let expected = detail
        .lines()
        .find_map(|line| line.trim().strip_prefix("= "))
        .unwrap_or("the template does not parse");
    let span = place.and_then(|(line, column)| offset(&template.text, line, column));
    (
        expected.to_owned(),
        span.map(|start| Span {
            start,
            end: start + 1,
        }),
    )
}

/// Where a render error points: the first use of the variable, filter or function its
/// message names (tera gives no line for these).
fn render_problem_span(template: &SourceFile, message: &str) -> Option<Span> {
    let name = quoted(message, '`').or_else(|| quoted(message, '\''))?;
    let start = template.text.find(name)?;
    Some(Span {
        start,
        end: start + name.len(),
    })
}

/// The text between the first pair of `quote`s in `message`.
fn quoted(message: &str, quote: char) -> Option<&str> {
    let (_, rest) = message.split_once(quote)?;
    let (inside, _) = rest.split_once(quote)?;
    (!inside.is_empty()).then_some(inside)
}

/// The byte offset of a 1-based line and column (in chars).
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[line_start..];
    let within = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(at, _)| at);
    Some(line_start + within)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> CacheModel {
        crate::compile_text("cache.yaml", crate::STARTER_SPEC).unwrap()
    }

    fn render_text(text: &str) -> Result<String, Diagnostics> {
        render(&model(), "cache.yaml", &SourceFile::new("my.tera", text))
    }

    #[test]
    fn renders_the_view_with_the_header_filters_and_renderings() {
        let out = render_text(
            "// {{ generated }}\n{{ model.service | pascal_case }} {{ model.data_types[0].ttl_secs | duration }}\n\
             {{ model.data_types[0].key | template }} {{ model.tables[0].table_name | name }}\n\
             {% set r = renderings(data_type=model.data_types[0].name) %}{% for p in r.key %}{{ p.kind }};{% endfor %}\n",
        )
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("// Generated by cachegen from cache.yaml with my.tera"));
        let model = model();
        let data_type = &model.data_types[0];
        assert_eq!(
            lines[2],
            format!("{} {}", data_type.key, model.tables[0].table_name)
        );
        assert_eq!(lines[3], "text;escaped_param;");
    }

    #[test]
    fn a_parse_error_points_at_its_line_and_column() {
        let err = render_text("// {{ generated }}\nfine\n{{ model.service \nnext\n").unwrap_err();
        assert_eq!(err.items[0].code, codes::TEMPLATE_SYNTAX);
        let summary = err.summary();
        assert!(
            summary[0].starts_with("my.tera:4:1: expected"),
            "{summary:?}"
        );
        assert!(err.render().contains("error[CG0902]"), "{}", err.render());
    }

    #[test]
    fn a_render_error_points_at_what_it_names() {
        let err = render_text("// {{ generated }}\nok\n{{ model.servce }}\n").unwrap_err();
        assert_eq!(err.items[0].code, codes::TEMPLATE_RENDER);
        assert_eq!(
            err.summary(),
            ["my.tera:3:4: Variable `model.servce` not found in context"]
        );
        let err = render_text("// {{ generated }}\n{{ model.service | shout }}\n").unwrap_err();
        assert_eq!(err.summary(), ["my.tera:2:20: Filter 'shout' not found"]);
    }

    #[test]
    fn an_output_without_the_header_is_refused() {
        let err = render_text("no header\n").unwrap_err();
        assert_eq!(err.items[0].code, codes::TEMPLATE_HEADER);
    }
}
