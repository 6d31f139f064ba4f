//! Problems in a spec, and where they are: the bottom of the compiler, which every stage
//! reports through and none of which it imports.
//!
//! - [`source`]: where each node of a spec sits in its text ([`source::SourceMap`]);
//! - [`codes`]: every diagnostic code, with its page (`cachegen explain`);
//! - [`Diagnostic`], [`Diagnostics`]: problems rendered like rustc's, with a hint;
//! - [`Reporter`]: how a stage records a problem at a node of the spec.

pub mod codes;
mod diagnostic;
pub mod source;

pub use diagnostic::{Diagnostic, Diagnostics, SourceFile};

use codes::Code;
use source::{NodePath, SourceMap};

/// The problems a stage finds in one spec, each placed at the node it is about.
#[derive(Debug)]
pub struct Reporter<'a> {
    map: &'a SourceMap,
    problems: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    /// A reporter for the spec whose nodes `map` places, holding `problems` found before.
    pub fn new(map: &'a SourceMap, problems: Vec<Diagnostic>) -> Self {
        Self { map, problems }
    }

    /// Where the spec's nodes are.
    pub fn map(&self) -> &'a SourceMap {
        self.map
    }

    /// Reports a problem with the value at `path`.
    pub fn error(
        &mut self,
        code: Code,
        path: &NodePath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let span = self.map.value_span(path);
        self.push(Diagnostic::new(code, message, span).with_hint(hint));
    }

    /// Reports a problem with the key at `path` (a name, rather than its content).
    pub fn key_error(
        &mut self,
        code: Code,
        path: &NodePath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let span = self.map.key_span(path);
        self.push(Diagnostic::new(code, message, span).with_hint(hint));
    }

    /// Reports a problem already placed.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.problems.push(diagnostic);
    }

    /// Whether no problem has been reported.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// The problems reported, in order.
    pub fn into_problems(self) -> Vec<Diagnostic> {
        self.problems
    }
}
