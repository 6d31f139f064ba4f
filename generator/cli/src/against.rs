//! The earlier version of a spec that `cachegen breaking` compares with: a file, or the
//! spec's path at a git revision (`git show <rev>:<path>`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The earlier spec text, and how reports name it.
#[derive(Clone, Debug)]
pub struct Earlier {
    /// `main:cache.yaml`, or the file's path.
    pub label: String,
    /// Its text.
    pub text: String,
}

/// Reads what `against` names for `spec`: a file when one exists at that path, else the
/// spec's path at the git revision `against`. `None` when the revision has no file there
/// (the spec is new).
pub fn read(spec: &Path, against: &str) -> Result<Option<Earlier>> {
    let file = Path::new(against);
    if file.is_file() {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        return Ok(Some(Earlier {
            label: against.to_owned(),
            text,
        }));
    }
    let dir = match spec.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = spec
        .file_name()
        .with_context(|| format!("{} is not a file path", spec.display()))?
        .to_string_lossy();
    let revision = format!("{against}^{{commit}}");
    if !git(dir, &["rev-parse", "--verify", "--quiet", &revision])?
        .status
        .success()
    {
        bail!(
            "`{against}` is neither a file nor a git revision of the repository holding {}",
            spec.display()
        );
    }
    // `<rev>:./<name>` is resolved against the directory git runs in: the spec's own.
    let object = format!("{against}:./{name}");
    if !git(dir, &["cat-file", "-e", &object])?.status.success() {
        return Ok(None);
    }
    let shown = git(dir, &["show", &object])?;
    if !shown.status.success() {
        bail!(
            "git show {object} failed: {}",
            String::from_utf8_lossy(&shown.stderr).trim()
        );
    }
    let text =
        String::from_utf8(shown.stdout).with_context(|| format!("{object} is not UTF-8 text"))?;
    Ok(Some(Earlier {
        label: format!("{against}:{}", spec.display()),
        text,
    }))
}

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running git {} in {}", args.join(" "), dir.display()))
}
