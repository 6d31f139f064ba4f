//! The diagnostic index: one page per code, kept beside the codes
//! (`generator/compiler/src/diagnostics/codes/CGxxxx.md`, as rustc keeps
//! `error_codes/E0308.md`), each with a failing spec this test builds (it must give
//! that code and no other), the message it gives (written in by this test), and a fix
//! that must build clean. Each example is built as `cachegen build cache.yaml` builds it,
//! from a folder of its own: the spec is written there as `cache.yaml` (in Latin-1 when
//! its block says `yaml,latin1`, for the code about files that are not UTF-8), and a
//! page about a user's template (`outputs.templates`) adds a `tera` block after the spec:
//! the template the spec names, written at the path it names (a spec without one names a
//! template that is not there). The folder's path reads `.` in the message. From the
//! pages this test writes the table `cachegen explain` reads, the book's index page, a
//! page per code including its explanation, and the SUMMARY.

use std::path::{Path, PathBuf};

use cachegen_compiler::diagnostics::codes::{ALL, Code};
use cachegen_compiler::{Error, Project};

use crate::markdown;

/// The name failing examples are built under, as `cachegen build` names a spec.
const SPEC_NAME: &str = "cache.yaml";

/// Where the explanations live, relative to the workspace root.
pub(crate) const EXPLANATIONS: &str = "generator/compiler/src/diagnostics/codes";

/// The line that introduces the message on a page, after the author's example.
const REPORTS: &str = "`cachegen build` reports:";

/// The info string attribute of a spec block written in Latin-1 rather than UTF-8.
const LATIN1: &str = "latin1";

/// An explanation page, cut into the parts its author writes.
pub(crate) struct Explanation {
    pub code: Code,
    /// What triggers the code, in prose.
    trigger: String,
    /// The example: its failing spec as the first `yaml` block, and a template it names
    /// as the first `tera` block, if any.
    example: String,
    /// A minimal spec that gives the code, and the template it names.
    failing: Example,
    /// The fix in prose, with the fixed spec as its first `yaml` block (and its template
    /// as the first `tera` block).
    fix: String,
    /// The fixed spec and the template it names.
    fixed: Example,
}

/// A spec as a page shows it, and the files `build` reads for it.
struct Example {
    /// The spec's text.
    spec: String,
    /// Whether the spec's file is written in Latin-1 rather than UTF-8.
    latin1: bool,
    /// The template the spec names, if the code is about one.
    template: Option<String>,
}

impl Example {
    /// The spec's file as it is written to disk.
    fn spec_bytes(&self) -> Vec<u8> {
        if !self.latin1 {
            return self.spec.clone().into_bytes();
        }
        self.spec
            .chars()
            .map(|c| {
                u8::try_from(u32::from(c)).expect("a Latin-1 spec holds no character past U+00FF")
            })
            .collect()
    }
}

impl Explanation {
    /// Reads the page of `code` at `path`, or fails saying which part is missing.
    pub(crate) fn parse(code: Code, path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap();
        let fail = |what: &str| -> ! { panic!("{}: {what}", path.display()) };
        let body = text.split_once('\n').map_or("", |(_, body)| body);
        let Some((trigger, rest)) = body.split_once("\n## Example\n") else {
            fail("no `## Example` section")
        };
        let Some((example, fix)) = rest.split_once("\n## The fix\n") else {
            fail("no `## The fix` section")
        };
        let example = example
            .split_once(REPORTS)
            .map_or(example, |(example, _)| example);
        let spec = |section: &str, under: &str| {
            let blocks = markdown::blocks(section);
            let spec = blocks
                .iter()
                .find(|block| block.info.split(',').next() == Some("yaml"))
                .unwrap_or_else(|| fail(&format!("no `yaml` block under {under}")));
            Example {
                spec: spec.text.clone(),
                latin1: spec.info.split(',').any(|attribute| attribute == LATIN1),
                template: blocks
                    .iter()
                    .find(|block| block.info == "tera")
                    .map(|block| block.text.clone()),
            }
        };
        Self {
            code,
            trigger: trigger.trim().to_owned(),
            example: example.trim().to_owned(),
            failing: spec(example, "Example"),
            fix: fix.trim().to_owned(),
            fixed: spec(fix, "The fix"),
        }
    }

    /// The fixed spec's text.
    pub(crate) fn fixed_spec(&self) -> &str {
        &self.fixed.spec
    }

    /// The page as it must read: the author's parts, the title from `codes.rs`, and the
    /// message the failing spec gives today.
    pub(crate) fn render(&self, message: &str) -> String {
        format!(
            "# {}: {}\n\n{}\n\n## Example\n\n{}\n\n{REPORTS}\n\n```text\n{}```\n\n## The fix\n\n{}\n",
            self.code.id, self.code.summary, self.trigger, self.example, message, self.fix
        )
    }
}

/// The path of `code`'s explanation, whether or not it exists.
pub(crate) fn page_path(root: &Path, code: Code) -> PathBuf {
    root.join(EXPLANATIONS).join(format!("{}.md", code.id))
}

/// The codes without an explanation page.
pub(crate) fn unexplained(root: &Path) -> Vec<&'static str> {
    ALL.iter()
        .filter(|code| !page_path(root, **code).is_file())
        .map(|code| code.id)
        .collect()
}

/// The explanation of every code that has a page.
pub(crate) fn explanations(root: &Path) -> Vec<Explanation> {
    ALL.iter()
        .map(|&code| (code, page_path(root, code)))
        .filter(|(_, path)| path.is_file())
        .map(|(code, path)| Explanation::parse(code, &path))
        .collect()
}

/// Why an example did not build: its problems' codes, the report `cachegen build`
/// prints, and one line per problem.
struct Refused {
    codes: Vec<&'static str>,
    report: String,
    summary: Vec<String>,
}

/// Builds `example` as `cachegen build cache.yaml` does in a folder holding the spec and
/// the template it names: every target's files and the template's. The folder's path
/// reads `.` in what is reported, as it does for a user building in that folder.
fn build(example: &Example) -> Result<usize, Refused> {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join(SPEC_NAME);
    std::fs::write(&spec_path, example.spec_bytes()).unwrap();
    if let Some(template) = &example.template {
        let path = dir.path().join(named_template(&example.spec));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, template).unwrap();
    }
    let built = Project::load(&spec_path).and_then(|project| project.outputs(None));
    match built {
        Ok(files) => Ok(files.len()),
        Err(Error::Spec(diagnostics)) => {
            let folder = dir.path().display().to_string();
            let relative = |text: &str| {
                text.replace(&format!("{folder}/"), "")
                    .replace(&folder, ".")
            };
            Err(Refused {
                codes: diagnostics.items.iter().map(|item| item.code.id).collect(),
                report: relative(&diagnostics.render()),
                summary: diagnostics
                    .summary()
                    .iter()
                    .map(|line| relative(line))
                    .collect(),
            })
        }
        Err(err) => panic!("{}: {err:#}", spec_path.display()),
    }
}

/// The path of the one template a spec names (in `outputs.templates`).
fn named_template(spec: &str) -> String {
    let spec: serde_yaml::Value = serde_yaml::from_str(spec).unwrap();
    let templates = spec["outputs"]["templates"]
        .as_mapping()
        .expect("a spec shown with a `tera` block names its template in `outputs.templates`");
    let [(_, path)] = templates.iter().collect::<Vec<_>>()[..] else {
        panic!("a spec shown with a `tera` block names one template");
    };
    path.as_str()
        .expect("a template path is a string")
        .to_owned()
}

/// The rendered report of a failing example, after checking that it gives `code` alone.
pub(crate) fn failing_message(explanation: &Explanation) -> Result<String, String> {
    let id = explanation.code.id;
    match build(&explanation.failing) {
        Ok(_) => Err(format!("{id}: the failing example builds")),
        Err(refused) if refused.codes.iter().all(|code| *code == id) => Ok(refused.report),
        Err(refused) => Err(format!(
            "{id}: the failing example gives {:?}, not {id} alone:\n  {}",
            refused.codes,
            refused.summary.join("\n  ")
        )),
    }
}

/// Checks that a fixed example builds: it compiles, and every target and template it
/// names is written.
pub(crate) fn check_fixed(explanation: &Explanation) -> Result<(), String> {
    let id = explanation.code.id;
    let files = build(&explanation.fixed).map_err(|refused| {
        format!(
            "{id}: the fix does not build:\n  {}",
            refused.summary.join("\n  ")
        )
    })?;
    if files == 0 {
        return Err(format!("{id}: the fix builds no file"));
    }
    Ok(())
}

/// The Rust table of explained codes, included by `codes.rs`.
pub(crate) fn explanations_rs(explained: &[Code]) -> String {
    let mut out = String::from(
        "//! Generated by `generator/cli/tests/book/` from the pages in this folder: do not edit.\n\n/// Each explained code's id and page.\npub(super) const EXPLANATIONS: &[(&str, &str)] = &[\n",
    );
    for code in explained {
        out.push_str(&format!(
            "    (\"{0}\", include_str!(\"{0}.md\")),\n",
            code.id
        ));
    }
    out.push_str("];\n");
    out
}

/// The book's index of codes: every code with its summary, linked to its page.
pub(crate) fn index_page() -> String {
    let mut out = String::from(
        "<!-- Generated by generator/cli/tests/book/ from generator/compiler/src/diagnostics/codes.rs: do not edit. -->\n\n# Diagnostic codes\n\n\
Every problem carries a stable code, like cfn-lint's rule ids (`error[CG0311]`), so a\n\
script or a search can tell the rules apart. Codes are defined once, in\n\
`generator/compiler/src/diagnostics/codes.rs`; a code is never reused for another rule.\n\
The first two digits name the section of the spec. Each page below shows what triggers\n\
the code, a spec that gives it, the message, and the fix; `cachegen explain CG0310`\n\
prints the same page in the terminal. A test builds every example on these pages.\n\n\
| Code | Problem |\n| --- | --- |\n",
    );
    for code in ALL {
        out.push_str(&format!(
            "| [`{0}`](diagnostics/{0}.md) | {1} |\n",
            code.id,
            code.summary.replace('|', "\\|")
        ));
    }
    out
}

/// A code's page in the book: its explanation, included from beside the codes.
pub(crate) fn book_page(code: Code) -> String {
    format!(
        "{{{{#include ../../../../{EXPLANATIONS}/{}.md}}}}\n",
        code.id
    )
}

/// SUMMARY.md with its generated region listing the explained codes.
pub(crate) fn summary(current: &str, explained: &[Code]) -> String {
    const START: &str = "<!-- generated: diagnostics -->\n";
    const END: &str = "<!-- end generated -->\n";
    let (before, rest) = current
        .split_once(START)
        .expect("SUMMARY.md has its generated region");
    let (_, after) = rest
        .split_once(END)
        .expect("the generated region of SUMMARY.md ends");
    let entries: String = explained
        .iter()
        .map(|code| format!("  - [{0}](reference/diagnostics/{0}.md)\n", code.id))
        .collect();
    format!("{before}{START}{entries}{END}{after}")
}
