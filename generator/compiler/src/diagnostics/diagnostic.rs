//! Spec problems with a position, rendered like rustc: `file:line:col`, a caret, a hint.

use std::fmt;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

use super::codes::Code;
use super::source::Span;

/// One problem in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Which rule it breaks.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// Where, when the text has a place for it.
    pub span: Option<Span>,
    /// How to fix it.
    pub hint: Option<String>,
    /// Other places that explain it (for example, where a name was first used).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// A problem with rule `code` at `span`.
    pub fn new(code: Code, message: impl Into<String>, span: Option<Span>) -> Self {
        Self {
            code,
            message: message.into(),
            span,
            hint: None,
            related: Vec::new(),
        }
    }

    /// Adds how to fix it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a related place.
    pub fn with_related(mut self, span: Span, note: impl Into<String>) -> Self {
        self.related.push((span, note.into()));
        self
    }
}

/// The spec text diagnostics point into.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// File name as shown in messages.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A named text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in chars) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }
}

/// Every problem found in one spec, ready to print.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    /// The spec they point into.
    pub file: SourceFile,
    /// The problems, in the order of the text.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Problems in `file`, sorted by position, each reported once.
    pub fn new(file: SourceFile, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|item| item.span.map_or(usize::MAX, |span| span.start));
        items.dedup();
        Self { file, items }
    }

    /// `file:line:col: message` for each problem: one line each, for logs and tests.
    pub fn summary(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|item| match item.span {
                Some(span) => {
                    let (line, col) = self.file.line_col(span.start);
                    format!("{}:{line}:{col}: {}", self.file.name, item.message)
                }
                None => format!("{}: {}", self.file.name, item.message),
            })
            .collect()
    }

    /// One GitHub Actions annotation per problem (`::error file=…,line=…,col=…,title=CGxxxx::…`),
    /// each line ending in a newline.
    pub fn render_github(&self) -> String {
        use crate::annotation::{Annotation, Level};
        let mut out = String::new();
        for item in &self.items {
            let message = match &item.hint {
                Some(hint) => format!("{}\nhelp: {hint}", item.message),
                None => item.message.clone(),
            };
            let annotation = Annotation {
                level: Level::Error,
                file: &self.file.name,
                position: item.span.map(|span| self.file.line_col(span.start)),
                title: item.code.id,
                message: &message,
            };
            out.push_str(&format!("{annotation}\n"));
        }
        out
    }

    /// The full report: source excerpts with carets and hints, like rustc.
    pub fn render(&self) -> String {
        let file = SimpleFile::new(self.file.name.as_str(), self.file.text.as_str());
        let config = Config::default();
        let mut out = String::new();
        for item in &self.items {
            let mut labels = Vec::new();
            if let Some(span) = item.span {
                labels.push(Label::primary((), span.start..span.end));
            }
            labels.extend(
                item.related.iter().map(|(span, note)| {
                    Label::secondary((), span.start..span.end).with_message(note)
                }),
            );
            let report = Report::error()
                .with_code(item.code.id)
                .with_message(&item.message)
                .with_labels(labels)
                .with_notes(
                    item.hint
                        .iter()
                        .map(|hint| format!("help: {hint}"))
                        .collect(),
                );
            match term::emit_into_string(&config, &file, &report) {
                Ok(text) => out.push_str(&text),
                Err(_) => out.push_str(&format!("error: {}\n", item.message)),
            }
        }
        let count = self.items.len();
        out.push_str(&format!(
            "{count} problem{} in {}; nothing was written\n",
            if count == 1 { "" } else { "s" },
            self.file.name
        ));
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::codes;

    #[test]
    fn counts_lines_and_columns_from_one() {
        let file = SourceFile::new("cache.yaml", "a: 1\nbé: 2\n");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(5), (2, 1));
        assert_eq!(file.line_col("a: 1\nbé:".len()), (2, 4));
    }

    #[test]
    fn renders_position_caret_and_hint() {
        let file = SourceFile::new("cache.yaml", "service: demo\nttl: 0s\n");
        let diagnostics = Diagnostics::new(
            file,
            vec![
                Diagnostic::new(
                    codes::DURATION_RANGE,
                    "ttl must be longer than zero",
                    Some(Span { start: 19, end: 21 }),
                )
                .with_hint("write a duration such as `5m`"),
            ],
        );
        let text = diagnostics.render();
        assert!(text.contains("error[CG0401]: ttl must be longer"), "{text}");
        assert!(text.contains("cache.yaml:2:6"), "{text}");
        assert!(text.contains("^^"), "{text}");
        assert!(
            text.contains("help: write a duration such as `5m`"),
            "{text}"
        );
        assert_eq!(
            diagnostics.summary(),
            ["cache.yaml:2:6: ttl must be longer than zero"]
        );
        assert_eq!(
            diagnostics.render_github(),
            "::error file=cache.yaml,line=2,col=6,title=CG0401::ttl must be longer than zero%0Ahelp: write a duration such as `5m`\n"
        );
    }
}
