//! GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`): a
//! line on standard output that the job turns into an annotation on the pull request.

use std::fmt;

/// How serious an annotation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Fails the check in the reviewer's eyes.
    Error,
    /// Worth a look.
    Warning,
}

/// One workflow command for one place in a file.
#[derive(Clone, Debug)]
pub struct Annotation<'a> {
    /// Error or warning.
    pub level: Level,
    /// The file, relative to the repository root as the job sees it.
    pub file: &'a str,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(usize, usize)>,
    /// Short title (a rule code).
    pub title: &'a str,
    /// The message; may span lines.
    pub message: &'a str,
}

impl fmt::Display for Annotation<'_> {
    /// The command line, with the escapes the runner decodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "::{command} file={}", property(self.file))?;
        if let Some((line, col)) = self.position {
            write!(f, ",line={line},col={col}")?;
        }
        write!(f, ",title={}::{}", property(self.title), data(self.message))
    }
}

/// A message escaped as the runner expects: `%`, CR and LF.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value escaped: as [`data`], plus `:` and `,`, which separate properties.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_end_a_property_or_the_line() {
        let line = Annotation {
            level: Level::Error,
            file: "specs/a,b.yaml",
            position: Some((3, 7)),
            title: "CG0007",
            message: "unknown field: 100%\nhelp: did you mean `ttl`?",
        }
        .to_string();
        assert_eq!(
            line,
            "::error file=specs/a%2Cb.yaml,line=3,col=7,title=CG0007::unknown field: 100%25%0Ahelp: did you mean `ttl`?"
        );
        let warning = Annotation {
            level: Level::Warning,
            file: "cache.yaml",
            position: None,
            title: "key-template-changed",
            message: "m",
        };
        assert_eq!(
            warning.to_string(),
            "::warning file=cache.yaml,title=key-template-changed::m"
        );
    }
}
