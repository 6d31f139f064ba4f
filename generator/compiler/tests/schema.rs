//! The checked-in JSON Schemas are exactly what `cachegen schema` and `cachegen ir --schema`
//! print.

mod support;

#[test]
fn checked_in_schema_is_fresh() {
    let schema =
        serde_json::to_string_pretty(&cachegen_compiler::spec::json_schema()).unwrap() + "\n";
    support::ensure_file_contents(
        &cachegen_testkit::workspace_root().join("schema/cachegen.schema.json"),
        &schema,
    );
}

#[test]
fn checked_in_ir_schema_is_fresh() {
    let schema =
        serde_json::to_string_pretty(&cachegen_compiler::view::json_schema()).unwrap() + "\n";
    support::ensure_file_contents(
        &cachegen_testkit::workspace_root().join("schema/cachegen-ir.schema.json"),
        &schema,
    );
}

#[test]
fn schema_describes_the_spec_sections() {
    let schema = cachegen_compiler::spec::json_schema();
    let properties = schema["properties"].as_object().unwrap();
    for section in [
        "service",
        "parameters",
        "store",
        "tables",
        "data_types",
        "consumers",
        "alarms",
        "metrics",
    ] {
        assert!(properties.contains_key(section), "schema lacks `{section}`");
    }
    // `tables` may be left out: a spec whose store is Redis has none.
    assert_eq!(
        schema["required"],
        serde_json::json!(["version", "service", "data_types"])
    );
}
