//! What a case found: each failed step, by data type, and how to reproduce it: the seed,
//! and each failing data type's spec shrunk to that type alone (checked to compile, and
//! written out for `CACHEGEN_CONFORMANCE_REPLAY`).

use std::fmt::Write;
use std::path::Path;

use cachegen_conformance_draw::{REPLAY_ENV, SEEDS_ENV, shrink, spec};

use crate::Case;

/// Longest detail kept per finding: values can be 450 KB.
const DETAIL_LIMIT: usize = 800;

/// One failed step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The data type or handler (`*` for the whole cache).
    pub subject: String,
    /// The step (`get after set (new process)`).
    pub step: String,
    /// What went wrong.
    pub detail: String,
}

/// What a driver found, the steps it did not run, and the keys it built.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Failed steps.
    pub findings: Vec<Finding>,
    /// Steps not run, and why.
    pub notes: Vec<Finding>,
    /// Each key the driver used: its data type, parameters (type and canonical text), and
    /// the key, tags and key prefixes the generated module built, for the TypeScript
    /// module to build too.
    pub key_cases: Vec<serde_json::Value>,
}

impl Report {
    /// Records that `step` of `subject` failed.
    pub fn fail(&mut self, subject: &str, step: &str, detail: impl std::fmt::Display) {
        self.findings.push(finding(subject, step, detail));
    }

    /// Records that `step` of `subject` was not run.
    pub fn note(&mut self, subject: &str, step: &str, why: impl std::fmt::Display) {
        self.notes.push(finding(subject, step, why));
    }
}

fn finding(subject: &str, step: &str, detail: impl std::fmt::Display) -> Finding {
    let mut detail = detail.to_string();
    if detail.len() > DETAIL_LIMIT {
        let cut = (0..=DETAIL_LIMIT)
            .rev()
            .find(|at| detail.is_char_boundary(*at))
            .unwrap_or(0);
        detail.truncate(cut);
        detail.push_str("… (cut)");
    }
    Finding {
        subject: subject.to_owned(),
        step: step.to_owned(),
        detail,
    }
}

/// An error and its sources, `: `-separated.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            write!(text, ": {cause_text}").unwrap();
        }
        source = cause.source();
    }
    text
}

/// The failure message of `case`: its findings, the spec, and per failing data type the
/// shrunk spec, written under `dir` to be replayed.
pub fn describe(case: &Case, findings: &[Finding], dir: &Path) -> String {
    let mut out = format!("== {} ({}) ==\n", case.label, case.spec);
    if let Some(seed) = case.seed {
        writeln!(
            out,
            "reproduce: {SEEDS_ENV}={seed} cargo test -p cachegen-conformance"
        )
        .unwrap();
    }
    for finding in findings {
        writeln!(
            out,
            "- `{}`: {}: {}",
            finding.subject, finding.step, finding.detail
        )
        .unwrap();
    }
    let text = std::fs::read_to_string(case.spec).unwrap_or_default();
    let Ok(drawn) = serde_yaml::from_str::<serde_json::Value>(&text) else {
        writeln!(out, "the spec:\n{text}").unwrap();
        return out;
    };
    let mut subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
    subjects.dedup();
    let mut shrunk_any = false;
    for subject in subjects {
        let Some(shrunk) = shrink::shrink(&drawn, subject) else {
            continue;
        };
        shrunk_any = true;
        let origin = format!("`{subject}` of {} alone", case.label);
        let yaml = spec::to_yaml(&shrunk, &origin);
        let file = dir.join(format!(
            "{}-{subject}.cache.yaml",
            case.label.replace(' ', "-")
        ));
        let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&file, &yaml));
        let compiles = match cachegen_compiler::compile_text("cache.yaml", &yaml) {
            Ok(_) => String::new(),
            Err(problems) => format!("\n(the compiler refuses it alone:\n{problems})"),
        };
        let replay = match written {
            Ok(()) => format!(
                "{REPLAY_ENV}={} cargo test -p cachegen-conformance",
                file.display()
            ),
            Err(err) => format!("(not written: {err})"),
        };
        writeln!(
            out,
            "shrunk to `{subject}` alone; replay: {replay}\n{yaml}{compiles}"
        )
        .unwrap();
    }
    if !shrunk_any {
        writeln!(out, "the spec:\n{text}").unwrap();
    }
    out
}
