//! The diagnostic index: one page per code, kept beside the codes
//! (`generator/compiler/src/diagnostics/codes/CGxxxx.md`, as rustc keeps
//! `error_codes/E0308.md`), each with a failing spec this test compiles (it must give
//! that code and no other), the message it gives (written in by this test), and a fix
//! that must build clean. A page about a user's template (`outputs.templates`) adds a
//! `tera` block after each spec: the template the spec names, rendered as `build` does. From them this test writes the table `cachegen explain` reads,
//! the book's index page, a page per code including its explanation, and the SUMMARY.

use std::path::{Path, PathBuf};

use cachegen_compiler::diagnostics::codes::{ALL, Code};
use cachegen_compiler::diagnostics::{Diagnostics, SourceFile};
use cachegen_compiler::ir::CacheModel;

use crate::markdown;

/// The name failing examples are compiled under, as `cachegen build` names a spec.
const SPEC_NAME: &str = "cache.yaml";

/// Where the explanations live, relative to the workspace root.
pub const EXPLANATIONS: &str = "generator/compiler/src/diagnostics/codes";

/// The line that introduces the message on a page, after the author's example.
const REPORTS: &str = "`cachegen build` reports:";

/// An explanation page, cut into the parts its author writes.
pub struct Explanation {
    pub code: Code,
    /// What triggers the code, in prose.
    trigger: String,
    /// The example: its failing spec as the first `yaml` block, and a template it names
    /// as the first `tera` block, if any.
    example: String,
    /// A minimal spec that gives the code.
    pub failing: String,
    /// The template the failing spec names, if the code is about one.
    failing_template: Option<String>,
    /// The fix in prose, with the fixed spec as its first `yaml` block (and its template
    /// as the first `tera` block).
    fix: String,
    /// The fixed spec.
    pub fixed: String,
    /// The template the fixed spec names, if any.
    fixed_template: Option<String>,
}

impl Explanation {
    /// Reads the page of `code` at `path`, or fails saying which part is missing.
    pub fn parse(code: Code, path: &Path) -> Self {
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
        let block = |section: &str, info: &str| {
            markdown::blocks(section)
                .into_iter()
                .find(|block| block.info == info)
                .map(|block| block.text)
        };
        let failing =
            block(example, "yaml").unwrap_or_else(|| fail("no `yaml` block under Example"));
        let fixed = block(fix, "yaml").unwrap_or_else(|| fail("no `yaml` block under The fix"));
        Self {
            code,
            trigger: trigger.trim().to_owned(),
            example: example.trim().to_owned(),
            failing,
            failing_template: block(example, "tera"),
            fix: fix.trim().to_owned(),
            fixed,
            fixed_template: block(fix, "tera"),
        }
    }

    /// The page as it must read: the author's parts, the title from `codes.rs`, and the
    /// message the failing spec gives today.
    pub fn render(&self, message: &str) -> String {
        format!(
            "# {}: {}\n\n{}\n\n## Example\n\n{}\n\n{REPORTS}\n\n```text\n{}```\n\n## The fix\n\n{}\n",
            self.code.id, self.code.summary, self.trigger, self.example, message, self.fix
        )
    }
}

/// The path of `code`'s explanation, whether or not it exists.
pub fn page_path(root: &Path, code: Code) -> PathBuf {
    root.join(EXPLANATIONS).join(format!("{}.md", code.id))
}

/// Every code's explanation, or `None` for the codes without one yet.
pub fn explanations(root: &Path) -> Vec<(Code, Option<Explanation>)> {
    ALL.iter()
        .map(|&code| {
            let path = page_path(root, code);
            (
                code,
                path.is_file().then(|| Explanation::parse(code, &path)),
            )
        })
        .collect()
}

/// Compiles `spec`, then renders `template` (if any) as the one template it names, as
/// `cachegen build` does.
fn build(spec: &str, template: Option<&str>) -> Result<CacheModel, Diagnostics> {
    let model = cachegen_compiler::compile_text(SPEC_NAME, spec)?;
    if let Some(template) = template {
        let [named] = model.templates.as_slice() else {
            panic!("a spec with a `tera` block names one template");
        };
        let file = SourceFile::new(named.template.clone(), template);
        cachegen_compiler::emit::templates::render(&model, SPEC_NAME, &file)?;
    }
    Ok(model)
}

/// The rendered report of a failing example, after checking that it gives `code` alone.
pub fn failing_message(explanation: &Explanation) -> Result<String, String> {
    let id = explanation.code.id;
    match build(
        &explanation.failing,
        explanation.failing_template.as_deref(),
    ) {
        Ok(_) => Err(format!("{id}: the failing example builds")),
        Err(diagnostics) => {
            let codes: Vec<&str> = diagnostics.items.iter().map(|item| item.code.id).collect();
            if codes.iter().all(|code| *code == id) {
                Ok(diagnostics.render())
            } else {
                Err(format!(
                    "{id}: the failing example gives {codes:?}, not {id} alone:\n  {}",
                    diagnostics.summary().join("\n  ")
                ))
            }
        }
    }
}

/// Checks that a fixed example builds: it compiles, and every target it names emits.
pub fn check_fixed(explanation: &Explanation) -> Result<(), String> {
    let id = explanation.code.id;
    let model = build(&explanation.fixed, explanation.fixed_template.as_deref()).map_err(
        |diagnostics| {
            format!(
                "{id}: the fix does not build:\n  {}",
                diagnostics.summary().join("\n  ")
            )
        },
    )?;
    let files = cachegen_compiler::emit::generate(&model, SPEC_NAME, None);
    if files.is_empty() {
        return Err(format!("{id}: the fix builds no file"));
    }
    Ok(())
}

/// The Rust table of explained codes, included by `codes.rs`.
pub fn explanations_rs(explained: &[Code]) -> String {
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
pub fn index_page(explanations: &[(Code, Option<Explanation>)]) -> String {
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
    for (code, explanation) in explanations {
        let id = match explanation {
            Some(_) => format!("[`{0}`](diagnostics/{0}.md)", code.id),
            None => format!("`{}`", code.id),
        };
        out.push_str(&format!(
            "| {id} | {} |\n",
            code.summary.replace('|', "\\|")
        ));
    }
    let missing: Vec<String> = explanations
        .iter()
        .filter(|(_, explanation)| explanation.is_none())
        .map(|(code, _)| format!("`{}`", code.id))
        .collect();
    if !missing.is_empty() {
        out.push_str(&format!(
            "\nNot explained yet ({} codes; `cachegen explain` prints their summary): {}.\n",
            missing.len(),
            missing.join(", ")
        ));
    }
    out
}

/// A code's page in the book: its explanation, included from beside the codes.
pub fn book_page(code: Code) -> String {
    format!(
        "{{{{#include ../../../../{EXPLANATIONS}/{}.md}}}}\n",
        code.id
    )
}

/// SUMMARY.md with its generated region listing the explained codes.
pub fn summary(current: &str, explained: &[Code]) -> String {
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
