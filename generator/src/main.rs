//! The `cachegen` command line: argument parsing and dispatch only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use cachegen::ir::Target;
use cachegen::{Error, Project, output};

/// Compile one cache spec into CloudFormation and typed access code that cannot drift apart.
///
/// A spec (`cache.yaml`) declares the cache tables, their keys and indexes, the data types
/// cached in them with their TTLs, the consumers and what each may do, and the alarms.
/// `cachegen build` turns it into deployable templates; `cachegen check` fails when the
/// checked-in outputs no longer match the spec, so CI catches drift.
#[derive(Parser)]
#[command(name = "cachegen", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a spec and write its outputs.
    ///
    /// Writes every target of the spec (`outputs.targets`, default `cloudformation`) into
    /// the output directory (`outputs.dir`, relative to the spec; default `generated`).
    /// All files are written to temporary files first and renamed into place together, so
    /// an interrupted or failed build leaves the previous outputs intact. A spec with
    /// problems writes nothing and prints each problem with its file:line:column.
    ///
    /// Example: cachegen build examples/drs-query-cache/cache.yaml
    Build(BuildArgs),
    /// Fail when the checked-in outputs differ from what `build` would write.
    ///
    /// Exits 0 when every output is up to date, 1 when any is stale or missing (naming
    /// each), and 2 when the spec itself has problems. Run it in CI.
    ///
    /// Example: cachegen check examples/drs-query-cache/cache.yaml
    Check(BuildArgs),
    /// Write a commented starter spec.
    ///
    /// Refuses to overwrite an existing file.
    ///
    /// Example: cachegen init cache.yaml
    Init {
        /// Where to write it.
        #[arg(default_value = "cache.yaml")]
        path: PathBuf,
    },
    /// Print the JSON Schema of the spec format.
    ///
    /// Point yaml-language-server at it for completion and validation in editors:
    /// `# yaml-language-server: $schema=path/to/cachegen.schema.json`
    ///
    /// Example: cachegen schema > schema/cachegen.schema.json
    Schema,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The spec file.
    #[arg(default_value = "cache.yaml")]
    spec: PathBuf,
    /// Output directory (default: the spec's `outputs.dir`, relative to the spec).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Targets to write, comma-separated (default: the spec's `outputs.targets`).
    #[arg(long, value_delimiter = ',', value_enum)]
    target: Vec<TargetArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TargetArg {
    Cloudformation,
    Sam,
    Terraform,
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Cloudformation => Target::Cloudformation,
            TargetArg::Sam => Target::Sam,
            TargetArg::Terraform => Target::Terraform,
        }
    }
}

/// Exit code for a spec with problems.
const SPEC_PROBLEMS: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Build(args) => build(&args),
        Command::Check(args) => check(&args),
        Command::Init { path } => init(&path),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&cachegen::spec::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the spec, printing its problems and returning `None` when it has any.
fn load(spec: &Path) -> Result<Option<Project>> {
    match Project::load(spec) {
        Ok(project) => Ok(Some(project)),
        Err(Error::Spec(diagnostics)) => {
            eprint!("{diagnostics}");
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

fn outputs(args: &BuildArgs, project: &Project) -> (PathBuf, Vec<cachegen::emit::GeneratedFile>) {
    let targets: Vec<Target> = args.target.iter().copied().map(Target::from).collect();
    let files = project.files((!targets.is_empty()).then_some(targets.as_slice()));
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| project.default_out_dir());
    (dir, files)
}

fn build(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load(&args.spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let (dir, files) = outputs(args, &project);
    let written = output::write_all(&dir, &files)
        .with_context(|| format!("writing outputs to {}", dir.display()))?;
    for file in &files {
        let path = dir.join(&file.path);
        let state = if written.contains(&path) {
            "wrote"
        } else {
            "unchanged"
        };
        println!("{state:>9} {}", path.display());
    }
    println!("fingerprint {}", project.model.fingerprint);
    Ok(ExitCode::SUCCESS)
}

fn check(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load(&args.spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let (dir, files) = outputs(args, &project);
    let stale = output::stale(&dir, &files);
    if stale.is_empty() {
        println!(
            "{} outputs of {} are up to date",
            files.len(),
            args.spec.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for path in &stale {
        eprintln!("stale: {}", path.display());
    }
    eprintln!(
        "{} of {} outputs differ from the spec; run `cachegen build {}`",
        stale.len(),
        files.len(),
        args.spec.display()
    );
    Ok(ExitCode::FAILURE)
}

fn init(path: &Path) -> Result<ExitCode> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(cachegen::STARTER_SPEC.as_bytes())?;
    println!(
        "wrote {}; next: cachegen build {}",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
