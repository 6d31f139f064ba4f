//! The compiler's stages, run in order: validate the spec into the IR, print the
//! templates the build writes, check them against AWS's limits.

use crate::diagnostics::{Diagnostics, Reporter, SourceFile};
use crate::emit::{cloudformation, sam};
use crate::ir::{CacheModel, Target};
use crate::limit_check::{self, PrintedTemplate};
use crate::validate::{self, Validated};

/// Compiles spec text; `name` is how diagnostics refer to it.
pub fn compile_text(name: &str, text: &str) -> Result<CacheModel, Diagnostics> {
    compile(&SourceFile::new(name, text))
}

/// Reads, checks and resolves a spec, or returns every problem in it. The outputs of the
/// spec's targets are checked against AWS's limits.
pub fn compile(file: &SourceFile) -> Result<CacheModel, Diagnostics> {
    compile_for(file, None)
}

/// [`compile`], checking the outputs of `targets` (the spec's own when `None`) against
/// AWS's limits: what `build --target` or `deploy` will write or send.
pub fn compile_for(
    file: &SourceFile,
    targets: Option<&[Target]>,
) -> Result<CacheModel, Diagnostics> {
    let Validated {
        mut model,
        map,
        mut notes,
    } = validate::validate(file)?;
    let targets = targets.unwrap_or(&model.targets).to_vec();
    let printed = print_templates(&model, &targets, &validate::spec_name(&file.name));
    let mut report = Reporter::new(&map, Vec::new());
    let limit_notes = limit_check::check(&mut report, &model, &printed);
    if !report.is_empty() {
        return Err(Diagnostics::new(file.clone(), report.into_problems()));
    }
    notes.extend(limit_notes.into_iter().map(|note| (None, note)));
    model.notes = notes
        .into_iter()
        .map(|(span, note)| match span {
            Some(span) => {
                let (line, col) = file.line_col(span.start);
                format!("{}:{line}:{col}: {note}", file.name)
            }
            None => note,
        })
        .collect();
    Ok(model)
}

/// The CloudFormation and SAM templates among `targets`, printed as the build writes them.
fn print_templates(
    model: &CacheModel,
    targets: &[Target],
    spec_name: &str,
) -> Vec<PrintedTemplate> {
    targets
        .iter()
        .filter_map(|target| {
            let (file, template, text) = match target {
                Target::Cloudformation => {
                    let template = cloudformation::template(model);
                    let text = cloudformation::render_template(model, spec_name, &template);
                    (target.output(), template, text)
                }
                Target::Sam => {
                    let template = sam::template(model);
                    let text = sam::render_template(model, spec_name, &template);
                    (target.output(), template, text)
                }
                Target::Terraform | Target::Rust => return None,
            };
            Some(PrintedTemplate {
                file,
                template,
                size: text.len(),
            })
        })
        .collect()
}
