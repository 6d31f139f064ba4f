//! The book under `docs/` as a reader sees it: its generated references (the spec from
//! the JSON Schema, the command line from clap, the diagnostic index from the codes) are
//! up to date, every example on its pages builds or runs, and every page is reachable.
//! A stale generated page is rewritten and the test fails (rust-analyzer's
//! `ensure_file_contents`): run the test again and commit the diff.

mod blocks;
mod cli_reference;
mod diagnostics;
mod ensure;
mod markdown;
mod moto;
mod spec_reference;

use std::path::PathBuf;
use std::process::Command;

use cachegen_compiler::diagnostics::codes::ALL;
use cachegen_testkit::workspace_root as root;

/// The book's sources.
fn book() -> PathBuf {
    root().join("docs/src")
}

#[test]
fn spec_reference_is_generated_from_the_schema() {
    let root = root();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schema/cachegen.schema.json")).unwrap(),
    )
    .unwrap();
    let mut specs = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let spec: serde_json::Value = serde_yaml::from_str(&text).unwrap();
            let name = file.strip_prefix(&root).unwrap().display().to_string();
            let link = format!("[`{name}`](https://github.com/cachegen/cachegen/blob/main/{name})");
            specs.push((link, spec));
        }
    }
    for (path, page) in markdown::pages(&book()) {
        if path.starts_with(book().join("reference")) {
            continue;
        }
        let page_path = path.strip_prefix(book()).unwrap().display().to_string();
        for block in markdown::blocks(&page) {
            let text = blocks::dedent(&block.text);
            if block.info == "yaml" && blocks::is_spec(&text) {
                let spec: serde_json::Value = serde_yaml::from_str(&text).unwrap();
                specs.push((format!("[`{page_path}`](../{page_path})"), spec));
            }
        }
    }
    for explanation in diagnostics::explanations(&root) {
        let spec: serde_json::Value = serde_yaml::from_str(explanation.fixed_spec()).unwrap();
        specs.push((
            format!("the fix of [{0}](diagnostics/{0}.md)", explanation.code.id),
            spec,
        ));
    }
    let page = spec_reference::page(&schema, &specs);
    assert!(page.contains("## DataType") && page.contains("- **`ttl`**"));
    ensure::ensure_files(&[(book().join("reference/spec.md"), page)]);
}

#[test]
fn cli_reference_is_generated_from_the_commands() {
    let page = cli_reference::page();
    for command in ["build", "check", "deploy", "verify", "explain"] {
        assert!(
            page.contains(&format!("## `cachegen {command}`")),
            "{command} is missing"
        );
    }
    ensure::ensure_files(&[(book().join("reference/cli.md"), page)]);
}

#[test]
fn every_command_has_a_line_in_commands_in_short() {
    let summary = std::fs::read_to_string(book().join("reference/commands.md")).unwrap();
    let missing = cli_reference::missing_from(&summary);
    assert!(
        missing.is_empty(),
        "reference/commands.md has no row for {missing:?}"
    );
}

#[test]
fn every_diagnostic_code_has_a_page() {
    let unexplained = diagnostics::unexplained(&root());
    assert!(
        unexplained.is_empty(),
        "codes without a page in {}/ (what triggers the code, a failing spec, the fix): {}",
        diagnostics::EXPLANATIONS,
        unexplained.join(" ")
    );
}

#[test]
fn every_diagnostic_page_builds_its_examples_and_is_up_to_date() {
    let root = root();
    let explanations = diagnostics::explanations(&root);
    let mut failures = Vec::new();
    let mut files = Vec::new();
    for explanation in &explanations {
        let code = explanation.code;
        match diagnostics::failing_message(explanation) {
            Ok(message) => files.push((
                diagnostics::page_path(&root, code),
                explanation.render(&message),
            )),
            Err(failure) => failures.push(failure),
        }
        if let Err(failure) = diagnostics::check_fixed(explanation) {
            failures.push(failure);
        }
        files.push((
            book().join(format!("reference/diagnostics/{}.md", code.id)),
            diagnostics::book_page(code),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let explained: Vec<_> = explanations
        .iter()
        .map(|explanation| explanation.code)
        .collect();
    let stray: Vec<PathBuf> = std::fs::read_dir(book().join("reference/diagnostics"))
        .into_iter()
        .flatten()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !files.iter().any(|(file, _)| file == path))
        .collect();
    assert!(stray.is_empty(), "pages of no explained code: {stray:?}");
    let summary = std::fs::read_to_string(book().join("SUMMARY.md")).unwrap();
    files.push((
        root.join(diagnostics::EXPLANATIONS).join("explanations.rs"),
        diagnostics::explanations_rs(&explained),
    ));
    files.push((
        book().join("reference/diagnostics.md"),
        diagnostics::index_page(),
    ));
    files.push((
        book().join("SUMMARY.md"),
        diagnostics::summary(&summary, &explained),
    ));
    ensure::ensure_files(&files);
}

#[test]
fn explain_prints_each_codes_page() {
    for code in ALL {
        let output = Command::new(env!("CARGO_BIN_EXE_cachegen"))
            .args(["explain", &code.id.to_lowercase()])
            .output()
            .unwrap();
        assert!(output.status.success(), "explain {} failed", code.id);
        let printed = String::from_utf8(output.stdout).unwrap();
        let page = std::fs::read_to_string(diagnostics::page_path(&root(), *code))
            .unwrap_or_else(|_| panic!("{} has no page", code.id));
        assert_eq!(printed, page, "explain {} is not its page", code.id);
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_cachegen"))
        .args(["explain", "CG9999"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("`CG9999` is not a cachegen diagnostic code")
    );
}

#[test]
fn every_spec_on_the_books_pages_builds() {
    let (specs, problems) = blocks::yaml_problems(&book(), &book().join("reference/diagnostics"));
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(specs >= 3, "the book shows {specs} whole specs");
}

#[test]
fn every_offline_command_on_the_books_pages_runs() {
    let (ran, failures) = blocks::run_sh_blocks(&root(), &book());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 10, "the book's sh blocks ran {ran} commands");
}

#[test]
fn every_aws_command_on_the_books_pages_runs_on_moto() {
    let Some(endpoint) = moto::endpoint() else {
        return;
    };
    let (ran, failures) = moto::run_sh_blocks(&root(), &book(), &endpoint);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 8, "the book's AWS commands ran {ran} times");
}

#[test]
fn the_summary_links_every_page() {
    let summary = std::fs::read_to_string(book().join("SUMMARY.md")).unwrap();
    let unlinked: Vec<String> = markdown::pages(&book())
        .into_iter()
        .map(|(path, _)| path.strip_prefix(book()).unwrap().display().to_string())
        .filter(|page| page != "SUMMARY.md" && !summary.contains(&format!("]({page})")))
        .collect();
    assert!(
        unlinked.is_empty(),
        "pages SUMMARY.md does not link: {unlinked:?}"
    );
}

#[test]
fn the_readmes_link_to_files_that_exist() {
    let root = root();
    let mut broken = Vec::new();
    for readme in [
        "README.md",
        "generator/compiler/README.md",
        "generator/cli/README.md",
        "runtime/README.md",
        "runtime/names/README.md",
        "runtime/src/lib.rs",
    ] {
        let path = root.join(readme);
        let text = std::fs::read_to_string(&path).unwrap();
        for link in markdown::links(&text) {
            let target = match link.split_once("github.com/cachegen/cachegen/") {
                Some((_, rest)) => match rest.split_once("/main/") {
                    Some((_, file)) => root.join(file),
                    None => continue,
                },
                // Rust sources hold intra-doc links, which rustdoc checks.
                None if link.contains("://") || readme.ends_with(".rs") => continue,
                None => path.parent().unwrap().join(&link),
            };
            if !target.exists() {
                broken.push(format!("{readme}: {link}"));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:?}");
}
