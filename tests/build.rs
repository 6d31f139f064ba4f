//! Generates the typed module of `fixtures/templates.cache.yaml` for tests/key_templates.rs,
//! as a user's build.rs would.

fn main() {
    if let Err(err) = cachegen_compiler::Builder::new("fixtures/templates.cache.yaml")
        .file_name("templates.rs")
        .compile()
    {
        eprintln!("{err}");
        std::process::exit(1);
    }
}
