//! Generates typed modules as a user's build.rs would: `fixtures/templates.cache.yaml` for
//! tests/key_templates.rs, the two versions of `fixtures/shape_v*.cache.yaml` for
//! tests/schema_version.rs, `fixtures/sort_keys.cache.yaml` for tests/sort_keys.rs, and
//! `fixtures/sort_key_parameters.cache.yaml` for tests/key_templates.rs.

fn main() {
    for (spec, file) in [
        ("fixtures/templates.cache.yaml", "templates.rs"),
        ("fixtures/shape_v1.cache.yaml", "shape_v1.rs"),
        ("fixtures/shape_v2.cache.yaml", "shape_v2.rs"),
        ("fixtures/sort_keys.cache.yaml", "sort_keys.rs"),
        (
            "fixtures/sort_key_parameters.cache.yaml",
            "sort_key_parameters.rs",
        ),
    ] {
        if let Err(err) = cachegen_compiler::Builder::new(spec)
            .file_name(file)
            .compile()
        {
            eprintln!("{err}");
            std::process::exit(1);
        }
    }
}
