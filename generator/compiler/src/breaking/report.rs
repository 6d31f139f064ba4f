//! The changes found, placed in the new spec and printed as text, JSON or GitHub
//! annotations.

use serde::Serialize;

use super::{Change, Class};
use crate::annotation::{Annotation, Level};
use crate::diagnostics::SourceFile;
use crate::diagnostics::source::SourceMap;

/// A change with its place in the new spec and whether it was allowed.
#[derive(Clone, Debug, Serialize)]
pub struct Located {
    /// The change.
    #[serde(flatten)]
    pub change: Change,
    /// Whether it fails the check: refused by its class and not allowed.
    pub refused: bool,
    /// 1-based line in the new spec.
    pub line: usize,
    /// 1-based column in the new spec.
    pub column: usize,
}

/// Every change between two specs, ready to print.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The new spec, as messages name it.
    pub spec: String,
    /// What it was compared against (a git ref or a file).
    pub against: String,
    /// The changes, in the order of the new spec's text.
    pub changes: Vec<Located>,
}

impl Report {
    /// Places `changes` in the text of the new spec `file`; the `allowed` classes do
    /// not fail the check.
    pub fn new(file: &SourceFile, against: &str, changes: Vec<Change>, allowed: &[Class]) -> Self {
        let map = SourceMap::build(&file.text).unwrap_or_default();
        let mut changes: Vec<Located> = changes
            .into_iter()
            .map(|change| {
                let offset = map.key_span(&change.path).map_or(0, |span| span.start);
                let (line, column) = file.line_col(offset);
                Located {
                    refused: change.class.refused_unless_allowed()
                        && !allowed.contains(&change.class),
                    change,
                    line,
                    column,
                }
            })
            .collect();
        changes.sort_by_key(|located| (located.line, located.column));
        Self {
            spec: file.name.clone(),
            against: against.to_owned(),
            changes,
        }
    }

    /// How many changes fail the check.
    pub fn refused(&self) -> usize {
        self.changes.iter().filter(|c| c.refused).count()
    }

    /// Like rustc: `error[table-replaced]: cache.yaml:12:5: …`, a hint for each refused
    /// change, and a count.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for located in &self.changes {
            let class = located.change.class.id();
            let level = if located.refused { "error" } else { "warning" };
            out.push_str(&format!(
                "{level}[{class}]: {}:{}:{}: {}\n",
                self.spec, located.line, located.column, located.change.message
            ));
            if located.refused {
                out.push_str(&format!(
                    "  = help: if this is intended, pass `--allow {class}`\n"
                ));
            } else if located.change.class.refused_unless_allowed() {
                out.push_str("  = note: allowed\n");
            }
        }
        let total = self.changes.len();
        out.push_str(&match total {
            0 => format!("no change to a live cache since {}\n", self.against),
            _ => format!(
                "{total} change{} since {}: {} refused\n",
                if total == 1 { "" } else { "s" },
                self.against,
                self.refused()
            ),
        });
        out
    }

    /// One annotation per change: `::error` for the refused ones, `::warning` for the rest.
    pub fn render_github(&self) -> String {
        let mut out = String::new();
        for located in &self.changes {
            let title = format!("cachegen breaking: {}", located.change.class.id());
            let message = if located.refused {
                format!(
                    "{}\nIf this is intended, pass `--allow {}`.",
                    located.change.message,
                    located.change.class.id()
                )
            } else {
                located.change.message.clone()
            };
            let annotation = Annotation {
                level: if located.refused {
                    Level::Error
                } else {
                    Level::Warning
                },
                file: &self.spec,
                position: Some((located.line, located.column)),
                title: &title,
                message: &message,
            };
            out.push_str(&format!("{annotation}\n"));
        }
        out
    }

    /// The report as pretty JSON: `spec`, `against` and `changes` (each with `class`,
    /// `message`, `refused`, `line`, `column`).
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
