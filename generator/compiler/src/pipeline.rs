//! The compiler's stages, run in order: validate the spec into the IR, print the
//! templates the build writes, check them against AWS's limits; and [`Project`], a spec
//! file compiled, with the files it builds.

use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostics, Reporter, SourceFile};
use crate::emit::{self, GeneratedFile, cloudformation, sam};
use crate::error::Error;
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

/// A spec file compiled into its model.
#[derive(Clone, Debug)]
pub struct Project {
    /// Path of the spec file.
    pub spec_path: PathBuf,
    /// The validated model.
    pub model: CacheModel,
}

impl Project {
    /// Reads and compiles the spec at `spec_path`.
    pub fn load(spec_path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_for(spec_path, None)
    }

    /// Reads and compiles the spec at `spec_path`, checking the outputs of `targets` (the
    /// spec's own when `None`) against AWS's limits.
    pub fn load_for(
        spec_path: impl AsRef<Path>,
        targets: Option<&[Target]>,
    ) -> Result<Self, Error> {
        let spec_path = spec_path.as_ref().to_path_buf();
        let bytes = std::fs::read(&spec_path).map_err(|source| Error::Read {
            path: spec_path.clone(),
            source,
        })?;
        let file = validate::decode(&spec_path.display().to_string(), &bytes)?;
        let model = compile_for(&file, targets)?;
        Ok(Self { spec_path, model })
    }

    /// Where outputs go: the spec's `outputs.dir`, relative to the spec file.
    pub fn default_out_dir(&self) -> PathBuf {
        self.spec_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.model.out_dir)
    }

    /// How generated files name the spec they come from: its file name (`cache.yaml`
    /// when the path has none).
    pub fn spec_name(&self) -> String {
        validate::spec_name(&self.spec_path.display().to_string())
    }

    /// The generated files, for the spec's targets or the ones given.
    pub fn files(&self, targets: Option<&[Target]>) -> Vec<GeneratedFile> {
        emit::generate(&self.model, &self.spec_name(), targets)
    }

    /// What `build` writes: the files of the spec's targets and of its templates
    /// (`outputs.templates`, read relative to the spec), or of the targets given alone.
    /// Without the `templates` feature, a spec with templates is an error.
    pub fn outputs(&self, targets: Option<&[Target]>) -> Result<Vec<GeneratedFile>, Error> {
        let mut files = self.files(targets);
        if targets.is_none() && !self.model.templates.is_empty() {
            files.extend(self.template_files()?);
        }
        Ok(files)
    }

    #[cfg(feature = "templates")]
    fn template_files(&self) -> Result<Vec<GeneratedFile>, Error> {
        emit::templates::render_all(&self.model, &self.spec_path, &self.spec_name())
    }

    #[cfg(not(feature = "templates"))]
    fn template_files(&self) -> Result<Vec<GeneratedFile>, Error> {
        Err(Error::NoTemplates)
    }
}
