//! The book's code blocks as a reader would use them: every `yaml` block that is a spec
//! (it has the top-level fields every spec has) compiles, every other `yaml` block
//! parses, and every `sh` line that runs an offline cachegen command on a bundled
//! example (or `cachegen explain`) runs, against a copy of the bundled examples
//! (`moto.rs` runs the commands that need AWS).

use std::path::Path;
use std::process::Command;

use crate::markdown::{Block, blocks, pages};

/// The commands that need no AWS account, which a `sh` block may run here.
const OFFLINE: &[&str] = &[
    "build", "check", "diff", "cost", "docs", "ir", "schema", "explain",
];

/// Where a problem is: the page and the block's first line.
fn place(path: &Path, block: &Block) -> String {
    format!("{}:{}", path.display(), block.line)
}

/// The text of a block whose fence is indented (in a list item), without that indent.
pub(crate) fn dedent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| format!("{}\n", line.get(indent..).unwrap_or("")))
        .collect()
}

/// Whether a YAML block is a whole spec rather than an excerpt of one: it has the
/// top-level fields every spec has.
pub(crate) fn is_spec(text: &str) -> bool {
    ["version:", "service:", "data_types:"]
        .iter()
        .all(|field| text.lines().any(|line| line.starts_with(field)))
}

/// The problems of the book's `yaml` blocks, one line each (the diagnostic pages' own
/// examples are checked by `diagnostics.rs`: their failing specs must fail).
pub(crate) fn yaml_problems(book: &Path, skip: &Path) -> (usize, Vec<String>) {
    let mut specs = 0;
    let mut problems = Vec::new();
    for (path, page) in pages(book) {
        if path.starts_with(skip) {
            continue;
        }
        for block in blocks(&page)
            .into_iter()
            .filter(|block| block.info == "yaml")
        {
            let text = dedent(&block.text);
            if is_spec(&text) {
                specs += 1;
                if let Err(diagnostics) = cachegen_compiler::compile_text("cache.yaml", &text) {
                    problems.push(format!(
                        "{}: {}",
                        place(&path, &block),
                        diagnostics.render()
                    ));
                }
            } else if let Err(err) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                problems.push(format!("{}: not YAML: {err}", place(&path, &block)));
            }
        }
    }
    (specs, problems)
}

/// Every cachegen command line of a `sh` block, as argument lists (continuation lines
/// joined, comments dropped, `cargo run -p cachegen --` read as `cachegen`). Lines with
/// redirections, pipes or shell variables are left out.
pub(crate) fn cachegen_lines(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(|line| line.split(" #").next().unwrap_or("").trim())
        .filter(|line| !line.starts_with('#') && !line.contains(['>', '|', '$']))
        .filter_map(|line| {
            let rest = line
                .strip_prefix("cargo run -p cachegen -- ")
                .or_else(|| line.strip_prefix("cachegen "))?;
            let args: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            (!args.is_empty()).then_some(args)
        })
        .collect()
}

/// The cachegen command lines of a `sh` block that run one of `commands` on a bundled
/// example (or explain a code).
pub(crate) fn commands(text: &str, commands: &[&str]) -> Vec<Vec<String>> {
    cachegen_lines(text)
        .into_iter()
        .filter(|args| {
            let on_example = args.iter().any(|arg| arg.starts_with("examples/"));
            commands.contains(&args[0].as_str()) && (on_example || args[0] == "explain")
        })
        .collect()
}

/// A temporary copy of the bundled examples (and what they read), for commands to run in.
pub(crate) fn sandbox(root: &Path) -> tempfile::TempDir {
    let sandbox = tempfile::tempdir().unwrap();
    for dir in ["examples", "templates", "schema"] {
        copy_dir(&root.join(dir), &sandbox.path().join(dir));
    }
    sandbox
}

/// Runs each offline command of the book's `sh` blocks in a copy of `examples/` and
/// `templates/`; returns how many ran and the failures.
pub(crate) fn run_sh_blocks(root: &Path, book: &Path) -> (usize, Vec<String>) {
    let sandbox = sandbox(root);
    let mut ran = 0;
    let mut failures = Vec::new();
    for (path, page) in pages(book) {
        for block in blocks(&page).into_iter().filter(|block| block.info == "sh") {
            for args in commands(&block.text, OFFLINE) {
                ran += 1;
                let output = Command::new(env!("CARGO_BIN_EXE_cachegen"))
                    .args(&args)
                    .current_dir(sandbox.path())
                    .output()
                    .unwrap();
                if !output.status.success() {
                    failures.push(format!(
                        "{}: `cachegen {}` exited {}:\n{}{}",
                        place(&path, &block),
                        args.join(" "),
                        output.status,
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    ));
                }
            }
        }
    }
    (ran, failures)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
