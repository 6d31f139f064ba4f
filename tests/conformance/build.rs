//! Draws the specs of the seeds to run (`CACHEGEN_CONFORMANCE_SEEDS`, else the default
//! few) and the spec files to replay (`CACHEGEN_CONFORMANCE_REPLAY`), and writes for each
//! into `OUT_DIR`: the spec, its typed module (as a user's build.rs would, with
//! `cachegen_compiler::Builder`) and its driver. `cases.rs` lists them for the harness.
//! A spec the compiler refuses becomes a case that fails with its diagnostics.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use cachegen_conformance_draw::{DEFAULT_SEEDS, REPLAY_ENV, SEEDS_ENV, driver, parse_seeds, spec};

fn main() {
    println!("cargo:rerun-if-env-changed={SEEDS_ENV}");
    println!("cargo:rerun-if-env-changed={REPLAY_ENV}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let seeds = match std::env::var(SEEDS_ENV) {
        Ok(text) if !text.trim().is_empty() => parse_seeds(&text).unwrap_or_else(|problem| {
            eprintln!("{SEEDS_ENV}: {problem}");
            std::process::exit(1)
        }),
        _ => DEFAULT_SEEDS.to_vec(),
    };
    let specs_dir = out_dir.join("specs");
    std::fs::create_dir_all(&specs_dir).expect("OUT_DIR is writable");
    let mut cases: Vec<(String, Option<u64>, PathBuf)> = Vec::new();
    for seed in seeds {
        let path = specs_dir.join(format!("seed-{seed}.cache.yaml"));
        let origin = format!(
            "drawn from seed {seed}: {SEEDS_ENV}={seed} cargo test -p cachegen-conformance"
        );
        write_if_changed(&path, &spec::to_yaml(&spec::draw(seed), &origin));
        cases.push((format!("seed {seed}"), Some(seed), path));
    }
    if let Ok(replay) = std::env::var(REPLAY_ENV) {
        for file in replay
            .split(',')
            .map(str::trim)
            .filter(|file| !file.is_empty())
        {
            println!("cargo:rerun-if-changed={file}");
            cases.push((format!("replay of {file}"), None, PathBuf::from(file)));
        }
    }
    let mut modules = String::new();
    let mut entries = String::new();
    for (position, (label, seed, path)) in cases.iter().enumerate() {
        let module = format!("case_{position}");
        let terraform = seed.is_some_and(cachegen_conformance_draw::deploys_with_terraform);
        let seed = seed.map_or("None".to_owned(), |seed| format!("Some({seed})"));
        let spec = path.display().to_string();
        let compiled = cachegen_compiler::Project::load(path).and_then(|project| {
            cachegen_compiler::Builder::new(path)
                .out_dir(&out_dir)
                .file_name(format!("{module}_cache.rs"))
                .compile()?;
            Ok(project)
        });
        let (refused, run) = match compiled {
            Ok(project) => {
                write_if_changed(
                    &out_dir.join(format!("{module}_driver.rs")),
                    &driver::driver(&project.model),
                );
                writeln!(
                    modules,
                    "pub mod {module} {{
    pub mod cache {{
        include!(concat!(env!(\"OUT_DIR\"), \"/{module}_cache.rs\"));
    }}
    include!(concat!(env!(\"OUT_DIR\"), \"/{module}_driver.rs\"));
}}"
                )
                .unwrap();
                (
                    "None".to_owned(),
                    format!("Some(|env| Box::pin({module}::run(env)))"),
                )
            }
            Err(err) => (format!("Some({:?})", err.to_string()), "None".to_owned()),
        };
        writeln!(
            entries,
            "    crate::Case {{ label: {label:?}, seed: {seed}, spec: {spec:?}, terraform: {terraform}, refused: {refused}, run: {run} }},"
        )
        .unwrap();
    }
    write_if_changed(
        &out_dir.join("cases.rs"),
        &format!(
            "{modules}\n/// Every case of this build.\npub const CASES: &[crate::Case] = &[\n{entries}];\n"
        ),
    );
}

/// Writes `contents` to `path` unless it holds them already, so cargo sees no change.
fn write_if_changed(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    }
}
