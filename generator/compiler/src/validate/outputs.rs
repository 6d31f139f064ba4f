//! What `build` writes: the targets, and the files of users' templates.

use super::Checker;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{Target, UserTemplate};

impl Checker<'_> {
    /// The spec's targets, sorted, `cloudformation` when it names none.
    pub(super) fn targets(&self) -> Vec<Target> {
        let mut targets = self.spec.outputs.targets.clone();
        if targets.is_empty() {
            targets.push(Target::Cloudformation);
        }
        targets.sort();
        targets.dedup();
        targets
    }

    /// `outputs.templates`: each output a relative path inside the output directory
    /// that no target writes.
    pub(super) fn templates(&mut self, targets: &[Target]) -> Vec<UserTemplate> {
        let mut templates = Vec::new();
        for (output, template) in &self.spec.outputs.templates {
            let path = NodePath::parse("outputs.templates").key(output.as_str());
            let escapes = output.starts_with('/')
                || output.contains('\\')
                || output
                    .split('/')
                    .any(|part| part.is_empty() || part == "." || part == "..");
            if escapes {
                self.key_error(
                    codes::TEMPLATE_OUTPUT,
                    &path,
                    format!("template output `{output}` is not a plain path inside the output directory"),
                    "write a relative path such as `typescript/cache.ts`, without `.`, `..` or empty parts",
                );
            } else if let Some(target) = targets.iter().find(|target| target.writes(output)) {
                self.key_error(
                    codes::TEMPLATE_OUTPUT,
                    &path,
                    format!("template output `{output}` is a file the `{target}` target writes"),
                    "give the template's output another path",
                );
            }
            templates.push(UserTemplate {
                output: output.clone(),
                template: template.clone(),
            });
        }
        templates
    }
}
