//! The Markdown page describing a spec for the pull request that changes it, rendered from
//! the built-in tera template `templates/docs.md.tera` over the JSON view: a Mermaid
//! diagram of consumers → data types → tables → indexes, the data types with their keys and
//! lifetimes, the tables, the document buckets, the IAM each consumer gets, and the alarms.
//! Users change the page by rendering their own copy of the template instead.

use super::templates;
use crate::ir::CacheModel;
use crate::validate::{Diagnostics, SourceFile};

/// The built-in template of the page.
pub const TEMPLATE: &str = include_str!("../../templates/docs.md.tera");

/// The page, from the built-in template.
pub fn render(model: &CacheModel, spec_name: &str) -> String {
    render_with(model, spec_name, &SourceFile::new("docs.md.tera", TEMPLATE))
        .unwrap_or_else(|err| panic!("the built-in docs template renders: {err}"))
}

/// The page, from `template` (a user's copy of the built-in one, say).
pub fn render_with(
    model: &CacheModel,
    spec_name: &str,
    template: &SourceFile,
) -> Result<String, Diagnostics> {
    templates::render(model, spec_name, template)
}
