//! The Rust source of a spec's driver: one function per data type exercising its generated
//! API (set, get, `get_many`, wrap, each tag and `invalidate_by_*`, each index query,
//! delete, `invalidate_all`, `wrap_optional` and `wrap_expiring`, large values, documents,
//! the TTL override), each idempotent handler, and `verify_deployment`. It is written from the IR, and calls the harness's checks
//! (`crate::checks`) with the keys and values of [`values`](crate::values).
//!
//! The driver sits beside the generated module, as `super::cache`'s sibling: it names the
//! module's items as the emitter names them (`UserProfileKey`, `user_profile()`), so a
//! renamed item fails to compile, which is a finding too.

use std::fmt::Write;

use cachegen_compiler::ir::{CacheModel, DataType, FieldType, IdempotentHandler, Piece, ValueType};
use heck::{ToPascalCase, ToSnakeCase};

use crate::values;

/// Keys (and values) each data type is driven with, when its parameters make that many.
const KEYS: usize = 3;

/// The driver of `model` (a module body: `connect`, `run` and one function per data type).
pub fn driver(model: &CacheModel) -> String {
    let mut out = String::new();
    let redis = model.store.redis().is_some();
    let connect = if redis {
        "cache::Cache::from_lookup(|name| env.var(name)).await"
    } else {
        "cache::Cache::from_lookup(env.sdk(), |name| env.var(name)).await"
    };
    writeln!(
        out,
        "/// A new `Cache`, as a fresh Lambda container connects.
async fn connect(env: &crate::Env) -> Result<cache::Cache, cachegen_runtime::CacheError> {{
    {connect}
}}

/// Drives every data type and handler of the spec; the report holds what went wrong.
pub async fn run(env: &crate::Env) -> crate::Report {{
    let mut report = crate::Report::default();
    let hot = match connect(env).await {{
        Ok(cache) => cache,
        Err(err) => {{
            report.fail(\"*\", \"connect\", err);
            return report;
        }}
    }};"
    )
    .unwrap();
    for data_type in &model.data_types {
        writeln!(
            out,
            "    drive_{}(env, &hot, &mut report).await;",
            data_type.name.to_snake_case()
        )
        .unwrap();
    }
    for handler in &model.idempotency {
        writeln!(
            out,
            "    drive_{}(&hot, &mut report).await;",
            handler.name.to_snake_case()
        )
        .unwrap();
    }
    // A Redis store has nothing deployed to verify: its module has no `verify_deployment`.
    if !redis {
        writeln!(
            out,
            "    crate::checks::verified(&mut report, hot.verify_deployment().await);"
        )
        .unwrap();
    }
    writeln!(out, "    report\n}}").unwrap();
    for data_type in &model.data_types {
        out.push_str(&data_type_driver(model, data_type));
    }
    for handler in &model.idempotency {
        out.push_str(&handler_driver(handler));
    }
    out
}

/// The Rust type of a data type's values, from the driver's module.
fn value_type(data_type: &DataType) -> String {
    match &data_type.value {
        ValueType::Fields(_) => format!("cache::{}", data_type.name.to_pascal_case()),
        ValueType::Rust(path) => path.clone(),
    }
}

/// `crate::value::<T>("json")`: a value read from its JSON text.
fn value_code(ty: &str, json: &serde_json::Value) -> String {
    format!("crate::value::<{ty}>({:?})", json.to_string())
}

fn data_type_driver(model: &CacheModel, data_type: &DataType) -> String {
    let name = &data_type.name;
    let method = name.to_snake_case();
    let pascal = name.to_pascal_case();
    let value_ty = value_type(data_type);
    let key_count = values::key_count(data_type, KEYS);
    let keys: Vec<String> = (0..key_count)
        .map(|position| {
            let fields: Vec<String> = data_type
                .params
                .iter()
                .zip(values::key_variants(data_type, position))
                .map(|(param, variant)| {
                    format!("{}: {}", param.name, values::param_code(param, variant))
                })
                .collect();
            format!("cache::{pascal}Key {{ {} }}", fields.join(", "))
        })
        .collect();
    let value_list: Vec<String> = (0..key_count)
        .map(|position| value_code(&value_ty, &values::value(&data_type.value, position)))
        .collect();
    let mut out = format!(
        "
/// Drives `{name}`.
async fn drive_{method}(env: &crate::Env, hot: &cache::Cache, report: &mut crate::Report) {{
    let mut checks = crate::checks::Checks::new({name:?}, report);
    let keys: Vec<cache::{pascal}Key> = vec![{keys}];
    let values: Vec<{value_ty}> = vec![{value_list}];
    let handle = hot.{method}();
    let typed = handle.0.strict();
    let cold = async || connect(env).await.map(|cache| cache.{method}().0.strict());
    if !checks.round_trip(&typed, &cold, &keys, &values).await {{
        return;
    }}
",
        keys = keys.join(", "),
        value_list = value_list.join(", "),
    );
    let last = key_count - 1;
    for position in 0..key_count {
        let params: Vec<String> = data_type
            .params
            .iter()
            .map(|param| {
                format!(
                    "({:?}, {:?}, keys[{position}].{}.to_string())",
                    param.name,
                    param.ty.to_string(),
                    param.name
                )
            })
            .collect();
        writeln!(
            out,
            "    checks.key_case::<cache::{pascal}Type>(&keys[{position}], &[{}]);",
            params.join(", ")
        )
        .unwrap();
    }
    if let Some(var) = &data_type.ttl_env {
        let secs = ttl_override(data_type);
        writeln!(
            out,
            "    checks.ttl_override({var:?}, typed.ttl(), std::time::Duration::from_secs({secs}));"
        )
        .unwrap();
    }
    if data_type.large_values
        && let Some(large) = values::large_value(&data_type.value)
    {
        writeln!(
            out,
            "    checks.large_value(&typed, &cold, &keys[0], {}, &values[0]).await;",
            value_code(&value_ty, &large)
        )
        .unwrap();
    }
    writeln!(
        out,
        "    for tag in <cache::{pascal}Type as cachegen_runtime::typed::DataType>::tags(&keys[{last}]) {{
        let invalidated = typed.invalidate_tag(&tag).await;
        checks.invalidates(&format!(\"invalidate_tag({{tag:?}})\"), invalidated, &typed, &cold, &keys[{last}], &values[{last}]).await;
    }}"
    )
    .unwrap();
    for prefix in data_type.key_prefixes() {
        let call = format!("invalidate_by_{}", prefix.params.join("_and_"));
        let args: Vec<String> = data_type
            .params
            .iter()
            .filter(|param| prefix.params.contains(&param.name))
            .map(|param| match param.ty {
                FieldType::String => format!("&keys[{last}].{}", param.name),
                _ => format!("keys[{last}].{}", param.name),
            })
            .collect();
        writeln!(
            out,
            "    let invalidated = handle.{call}({}).await;
    checks.invalidates({call:?}, invalidated, &typed, &cold, &keys[{last}], &values[{last}]).await;",
            args.join(", ")
        )
        .unwrap();
    }
    if let Some(table) = model.table_of(data_type) {
        for index in &data_type.indexes {
            let index = table.global_index(index);
            let call = format!("query_{}", index.name.to_snake_case());
            let Some(partition) = query_partition(data_type, &index.partition_key.name, last)
            else {
                writeln!(
                    out,
                    "    checks.skip({call:?}, \"its partition key is the write time\");"
                )
                .unwrap();
                continue;
            };
            let sort = match &index.sort_key {
                Some(sort) if sort.kind == cachegen_compiler::ir::AttributeType::N => "..,",
                Some(_) => "None,",
                None => "",
            };
            writeln!(
                out,
                "    checks.finds({call:?}, &values[{last}], async |page| handle.{call}({partition} {sort} page).await).await;"
            )
            .unwrap();
        }
    }
    writeln!(
        out,
        "    checks.deletes(&typed, &cold, &keys, &values).await;
    checks.origin_answers(&typed, &cold, &keys[0], &values[0]).await;"
    )
    .unwrap();
    if data_type.document.is_some() {
        writeln!(
            out,
            "    checks.object_keys::<cache::{pascal}Type>(&keys);
    let s3 = cachegen_runtime::config::s3_client(env.sdk().expect(\"a DynamoDB case has an AWS configuration\"));
    let documents = async || connect(env).await.and_then(|cache| cache.{method}_documents(&s3));
    checks.documents(&typed, &documents, &keys[0], &values[0]).await;"
        )
        .unwrap();
    }
    writeln!(out, "}}").unwrap();
    out
}

/// The arguments a query method takes for its index partition key (empty when the data
/// type writes a constant there), or `None` when they cannot be known (the write time).
fn query_partition(data_type: &DataType, attribute: &str, last: usize) -> Option<String> {
    let written = data_type
        .attributes
        .iter()
        .find(|written| written.name == attribute)
        .expect("the type writes every key of the indexes it is on");
    let rendering = data_type.attribute_rendering(written);
    if rendering.constant().is_some() {
        return Some(String::new());
    }
    match rendering.pieces.as_slice() {
        [Piece::Param(field) | Piece::EscapedParam(field)] => Some(match field.ty {
            FieldType::String => format!("&keys[{last}].{},", field.name),
            _ => format!("keys[{last}].{},", field.name),
        }),
        [Piece::ValueField(name, Some(ty))] => Some(match ty {
            FieldType::String => format!("&values[{last}].{name},"),
            _ => format!("values[{last}].{name},"),
        }),
        _ => None,
    }
}

/// The TTL the harness sets through a type's `ttl_env`: half its TTL, within its bounds.
pub fn ttl_override(data_type: &DataType) -> u64 {
    let half = (data_type.ttl_secs / 2).max(1);
    match data_type.policy.ttl_bounds {
        Some(bounds) => half.clamp(bounds.min_secs, bounds.max_secs),
        None => half,
    }
}

fn handler_driver(handler: &IdempotentHandler) -> String {
    let name = &handler.name;
    let method = name.to_snake_case();
    let pascal = name.to_pascal_case();
    let request = value_code(
        &format!("cache::{pascal}Request"),
        &values::value(&handler.request, 0),
    );
    let other_request = value_code(
        &format!("cache::{pascal}Request"),
        &values::value(&handler.request, 1),
    );
    let response = value_code(
        &format!("cache::{pascal}Response"),
        &values::value(&handler.response, 0),
    );
    format!(
        "
/// Drives idempotent handler `{name}`.
async fn drive_{method}(hot: &cache::Cache, report: &mut crate::Report) {{
    let mut checks = crate::checks::Checks::new({name:?}, report);
    let handler = hot.{method}();
    let response = {response};
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let (counter, answer) = (&calls, &response);
    for (position, request) in [{request}, {other_request}].into_iter().enumerate() {{
        let mut answers = Vec::new();
        for _ in 0..2 {{
            let answer = handler
                .run(crate::deadline_ms(), &request, move |_| async move {{
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(answer.clone())
                }})
                .await
                .map_err(|err| err.to_string());
            answers.push(answer);
        }}
        checks.idempotent(answers, &response, calls.load(std::sync::atomic::Ordering::SeqCst), position + 1);
    }}
}}
"
    )
}
