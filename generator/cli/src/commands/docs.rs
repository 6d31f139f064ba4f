//! `cachegen docs`: the Markdown page describing the spec, from the built-in template or
//! the user's copy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use cachegen_compiler::emit::docs;
use cachegen_compiler::output;

use super::{SPEC_PROBLEMS, load, report_problems};

/// Writes the page of the spec at `spec` to `out` (`-` for standard output; default
/// `cache.md` in the output directory), rendered from `template` when given.
pub(crate) fn run(
    spec: &Path,
    out: Option<PathBuf>,
    template: Option<PathBuf>,
) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let page = match template {
        None => docs::render(&project.model, &project.spec_name()),
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let template =
                cachegen_compiler::diagnostics::SourceFile::new(path.display().to_string(), text);
            match docs::render_with(&project.model, &project.spec_name(), &template) {
                Ok(page) => page,
                Err(diagnostics) => {
                    report_problems(&diagnostics);
                    return Ok(ExitCode::from(SPEC_PROBLEMS));
                }
            }
        }
    };
    let path = out.unwrap_or_else(|| project.default_out_dir().join("cache.md"));
    if path == Path::new("-") {
        print!("{page}");
        return Ok(ExitCode::SUCCESS);
    }
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir.to_path_buf(), PathBuf::from(name)),
        _ => anyhow::bail!("{} is not a file path", path.display()),
    };
    let file = cachegen_compiler::emit::GeneratedFile {
        path: name,
        contents: page,
    };
    output::write_all(&dir, &[file]).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}
