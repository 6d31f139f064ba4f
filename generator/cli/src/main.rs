//! The `cachegen` command line: argument parsing and dispatch only.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use cachegen_compiler::ir::Target;
use cachegen_compiler::{Error, Project, output};

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
    /// Log format on standard error: `text`, or `json` (one object per event, with
    /// `op`, keys and `duration_ms` fields). `CACHEGEN_LOG` sets the filter (default
    /// `warn` for text, `info` for JSON), such as `CACHEGEN_LOG=debug`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a spec and write its outputs.
    ///
    /// Writes every target of the spec (`outputs.targets`, default `cloudformation`; also
    /// `sam` and `terraform`) into the output directory (`outputs.dir`, relative to the
    /// spec; default `generated`).
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
        #[command(flatten)]
        spec: SpecArg,
    },
    /// Show what a spec change does to the checked-in outputs, for review.
    ///
    /// Prints, per table, the changes CloudFormation will make (tables and indexes added
    /// or removed, key changes) and which of them it cannot apply in one update, then a
    /// unified diff of every output file. Exits 0 when nothing changes, 1 otherwise.
    ///
    /// Example: cachegen diff examples/drs-query-cache/cache.yaml
    Diff(BuildArgs),
    /// Deploy the spec's CloudFormation template through a change set.
    ///
    /// Creates a change set (creating the stack if needed), lists its changes, executes
    /// it, shows stack events as they arrive, waits for completion and prints the stack
    /// outputs. Refuses, before touching the stack, an update CloudFormation cannot
    /// apply at once: more than one global secondary index created or deleted, or a
    /// key change on a table with a fixed name. Uses the AWS SDK's default
    /// configuration (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL...).
    ///
    /// Example: cachegen deploy examples/drs-query-cache/cache.yaml --stack drs-cache-dev --param env=dev
    Deploy {
        #[command(flatten)]
        spec: SpecArg,
        /// Stack name.
        #[arg(long)]
        stack: String,
        /// Template parameter, as NAME=VALUE (repeatable).
        #[arg(long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        /// Create and list the change set, but do not execute it (for review).
        #[arg(long)]
        no_execute: bool,
    },
    /// Compare a deployed stack's tables with the spec.
    ///
    /// Reads the table names from the stack outputs, then checks each table's keys,
    /// indexes, TTL and fingerprint tag, printing every difference in plain words.
    /// Exits 0 when the deployment matches, 1 otherwise.
    ///
    /// Example: cachegen verify examples/drs-query-cache/cache.yaml --stack drs-cache-dev
    Verify {
        #[command(flatten)]
        spec: SpecArg,
        /// Stack name.
        #[arg(long)]
        stack: String,
    },
    /// Estimate the monthly DynamoDB cost from the traffic the spec declares.
    ///
    /// Each data type may declare `traffic: { requests_per_day, hit_rate, item_size }`.
    /// Every lookup is counted as one eventually consistent store read and every miss as
    /// one write; stored items are the misses of one TTL. On-demand tables pay per request
    /// unit, provisioned tables their capacity beyond the free tier, and storage beyond the
    /// free 25 GB is charged. Prices are us-east-1 list prices.
    ///
    /// Example: cachegen cost examples/drs-query-cache/cache.yaml --json
    Cost {
        #[command(flatten)]
        spec: SpecArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a Markdown page describing the spec, for the pull request that changes it.
    ///
    /// The page has a Mermaid diagram of consumers, data types, tables and indexes, a table
    /// of the data types with their keys and TTLs, the tables, the IAM each consumer gets,
    /// and the alarms. It goes to `cache.md` in the output directory, or to `--out`
    /// (`-` for standard output).
    ///
    /// Example: cachegen docs examples/drs-query-cache/cache.yaml --out -
    Docs {
        #[command(flatten)]
        spec: SpecArg,
        /// Where to write the page (`-` for standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fill a document type's cache from the objects in its bucket.
    ///
    /// Lists the objects under the type's key prefix, skips those whose cached item was
    /// made from the same object version (its ETag), and reads and caches the rest,
    /// `--concurrency` at a time and at most `--rps` per second. Safe to stop and re-run:
    /// a re-run writes only what changed. Prints a summary (scanned, written, skipped,
    /// failed) and exits 1 if any object failed. The table and bucket are found through
    /// `--stack`, or the env vars the templates set on consumers.
    ///
    /// Example: cachegen backfill --spec examples/change-metadata/cache.yaml --data-type change --stack changes-dev --since 7d --rps 200
    Backfill(BackfillArgs),
    /// Run one of a data type's index queries and print the values found.
    ///
    /// `--key` is the index partition key value; `--from` and `--to` bound its sort key
    /// (inclusive). Prints one JSON object per line, or a table with `--format table`.
    ///
    /// Example: cachegen query --spec examples/change-metadata/cache.yaml --data-type change --index CustomerTimeIndex --key ACME --from 1767225600 --format table
    Query(QueryArgs),
    /// Print the validated model as JSON: the view of the IR that user templates read.
    ///
    /// The layout carries a `version`, and its JSON Schema (`--schema`) is checked in as
    /// schema/cachegen-ir.schema.json. A spec with problems prints them and exits 2.
    ///
    /// Example: cachegen ir examples/drs-query-cache/cache.yaml
    Ir {
        #[command(flatten)]
        spec: SpecArg,
        /// Print the JSON Schema of the view instead (no spec is read).
        #[arg(long)]
        schema: bool,
    },
    /// Print the JSON Schema of the spec format.
    ///
    /// Point yaml-language-server at it for completion and validation in editors:
    /// `# yaml-language-server: $schema=path/to/cachegen.schema.json`
    ///
    /// Example: cachegen schema > schema/cachegen.schema.json
    Schema,
}

/// The spec file: the first argument or `--spec`, every command alike.
#[derive(clap::Args)]
struct SpecArg {
    /// The spec file (default `cache.yaml`); `--spec` also names it.
    #[arg(id = "spec_argument", value_name = "SPEC")]
    argument: Option<PathBuf>,
    /// The spec file, as an option instead of the first argument.
    #[arg(
        id = "spec_option",
        long = "spec",
        value_name = "SPEC",
        conflicts_with = "spec_argument"
    )]
    option: Option<PathBuf>,
}

impl SpecArg {
    /// The path given, or `cache.yaml`.
    fn path(&self) -> &Path {
        self.option
            .as_deref()
            .or(self.argument.as_deref())
            .unwrap_or(Path::new("cache.yaml"))
    }
}

/// Where a spec's deployed resources are: a stack, else the consumers' env vars.
#[derive(clap::Args)]
struct DeployedArgs {
    #[command(flatten)]
    spec: SpecArg,
    /// The data type.
    #[arg(long)]
    data_type: String,
    /// The stack that created the table and bucket (default: their env vars).
    #[arg(long)]
    stack: Option<String>,
}

#[derive(clap::Args)]
struct BackfillArgs {
    #[command(flatten)]
    deployed: DeployedArgs,
    /// Only objects written at or after this time: RFC 3339 (`2026-11-01T00:00:00Z`) or
    /// a duration ago (`7d`).
    #[arg(long, value_parser = parse_time)]
    since: Option<std::time::SystemTime>,
    /// Only objects written before this time (same forms as `--since`).
    #[arg(long, value_parser = parse_time)]
    until: Option<std::time::SystemTime>,
    /// Only documents of this customer (the attribute the type's
    /// `document.customer_attribute` names).
    #[arg(long)]
    customer: Option<String>,
    /// Only documents whose item attribute has this value, as ATTRIBUTE=VALUE (repeatable).
    #[arg(long = "where", value_parser = parse_param)]
    filters: Vec<(String, String)>,
    /// Read and check everything; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Objects in flight at once.
    #[arg(long, default_value = "16")]
    concurrency: std::num::NonZeroUsize,
    /// At most this many objects read and cached per second.
    #[arg(long)]
    rps: Option<std::num::NonZeroU32>,
}

#[derive(clap::Args)]
struct QueryArgs {
    #[command(flatten)]
    deployed: DeployedArgs,
    /// The index.
    #[arg(long)]
    index: String,
    /// Value of the index partition key.
    #[arg(long)]
    key: String,
    /// Lowest sort key value (inclusive).
    #[arg(long)]
    from: Option<String>,
    /// Highest sort key value (inclusive).
    #[arg(long)]
    to: Option<String>,
    /// At most this many values.
    #[arg(long)]
    limit: Option<usize>,
    /// Highest sort key first.
    #[arg(long)]
    descending: bool,
    /// `json` (one object per line) or `table`.
    #[arg(long, value_enum, default_value_t = QueryFormat::Json)]
    format: QueryFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum QueryFormat {
    Json,
    Table,
}

/// An RFC 3339 time, or a duration before now (`7d`, `12h`).
fn parse_time(text: &str) -> Result<std::time::SystemTime, String> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        return Ok(time);
    }
    let ago = humantime::parse_duration(text)
        .map_err(|_| format!("`{text}` is neither an RFC 3339 time nor a duration such as `7d`"))?;
    std::time::SystemTime::now()
        .checked_sub(ago)
        .ok_or_else(|| format!("`{text}` reaches before the epoch"))
}

#[derive(clap::Args)]
struct BuildArgs {
    #[command(flatten)]
    spec: SpecArg,
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
    Rust,
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Cloudformation => Target::Cloudformation,
            TargetArg::Sam => Target::Sam,
            TargetArg::Terraform => Target::Terraform,
            TargetArg::Rust => Target::Rust,
        }
    }
}

/// Exit code for a spec with problems.
const SPEC_PROBLEMS: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
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
        Command::Init { spec } => init(spec.path()),
        Command::Diff(args) => diff(&args),
        Command::Deploy {
            spec,
            stack,
            params,
            no_execute,
        } => deploy(spec.path(), stack, params, !no_execute),
        Command::Verify { spec, stack } => verify(spec.path(), &stack),
        Command::Cost { spec, json } => cost(spec.path(), json),
        Command::Docs { spec, out } => docs(spec.path(), out),
        Command::Backfill(args) => backfill(&args),
        Command::Query(args) => query(&args),
        Command::Ir { spec, schema } => ir(spec.path(), schema),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&cachegen_compiler::spec::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Sends tracing events to standard error, as text or JSON lines.
fn init_logs(format: LogFormat) {
    let default = match format {
        LogFormat::Text => "warn",
        LogFormat::Json => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CACHEGEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
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

fn outputs(
    args: &BuildArgs,
    project: &Project,
) -> (PathBuf, Vec<cachegen_compiler::emit::GeneratedFile>) {
    let targets: Vec<Target> = args.target.iter().copied().map(Target::from).collect();
    let files = project.files((!targets.is_empty()).then_some(targets.as_slice()));
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| project.default_out_dir());
    (dir, files)
}

fn build(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load(args.spec.path())? else {
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
    let Some(project) = load(args.spec.path())? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let (dir, files) = outputs(args, &project);
    let stale = output::stale(&dir, &files);
    if stale.is_empty() {
        println!(
            "{} outputs of {} are up to date",
            files.len(),
            args.spec.path().display()
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
        args.spec.path().display()
    );
    Ok(ExitCode::FAILURE)
}

fn ir(spec: &Path, schema: bool) -> Result<ExitCode> {
    if schema {
        println!(
            "{}",
            serde_json::to_string_pretty(&cachegen_compiler::view::json_schema())?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let view = cachegen_compiler::view::View::new(&project.model);
    println!("{}", serde_json::to_string_pretty(&view)?);
    Ok(ExitCode::SUCCESS)
}

fn cost(spec: &Path, json: bool) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let estimate = cachegen_compiler::cost::estimate(&project.model);
    if json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        print!("{}", cachegen_compiler::cost::render(&estimate));
    }
    Ok(ExitCode::SUCCESS)
}

fn docs(spec: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let page = cachegen_compiler::emit::docs::render(&project.model, &project.spec_name());
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

fn init(path: &Path) -> Result<ExitCode> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(cachegen_compiler::STARTER_SPEC.as_bytes())?;
    println!(
        "wrote {}; next: cachegen build {}",
        path.display(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn diff(args: &BuildArgs) -> Result<ExitCode> {
    let Some(project) = load(args.spec.path())? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let (dir, files) = outputs(args, &project);
    let mut changed = false;
    for file in &files {
        let path = dir.join(&file.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old == file.contents {
            continue;
        }
        changed = true;
        if file.path.extension().is_some_and(|ext| ext == "yaml") {
            let changes = cachegen::deploy::plan::table_changes(&old, &file.contents)
                .with_context(|| format!("reading {}", path.display()))?;
            for change in &changes {
                for line in change.describe() {
                    println!("{line}");
                }
                if let Some(refusal) = change.refusal() {
                    println!("warning: needs more than one deploy: {refusal}");
                }
            }
        }
        let name = path.display().to_string();
        print!(
            "{}",
            similar::TextDiff::from_lines(&old, &file.contents)
                .unified_diff()
                .context_radius(3)
                .header(&name, &name)
        );
    }
    if !changed {
        println!("no output of {} changes", args.spec.path().display());
    }
    Ok(if changed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn deploy(
    spec: &Path,
    stack: String,
    parameters: Vec<(String, String)>,
    execute: bool,
) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    let template = project
        .files(Some(&[Target::Cloudformation]))
        .remove(0)
        .contents;
    let options = cachegen::deploy::DeployOptions {
        stack,
        parameters,
        poll: std::time::Duration::from_secs(2),
        execute,
    };
    runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_cloudformation::Client::new(&config);
        let outcome = cachegen::deploy::deploy(
            &client,
            &template,
            &project.model.fingerprint,
            &options,
            &mut |line| println!("{line}"),
        )
        .await?;
        match outcome {
            cachegen::deploy::DeployOutcome::NoChanges => {
                println!("stack {} is up to date", options.stack);
            }
            cachegen::deploy::DeployOutcome::Planned { change_set, .. } => {
                println!("change set {change_set} created and left for review");
            }
            cachegen::deploy::DeployOutcome::Deployed(outputs) => {
                println!("stack {} deployed", options.stack);
                for (key, value) in outputs {
                    println!("{key} = {value}");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn verify(spec: &Path, stack: &str) -> Result<ExitCode> {
    let Some(project) = load(spec)? else {
        return Ok(ExitCode::from(SPEC_PROBLEMS));
    };
    runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let report = cachegen::deploy::verify_stack(
            &aws_sdk_cloudformation::Client::new(&config),
            &aws_sdk_dynamodb::Client::new(&config),
            &project.model,
            stack,
        )
        .await?;
        print!("{report}");
        if report.is_ok() {
            println!();
            Ok(ExitCode::SUCCESS)
        } else {
            Ok(ExitCode::FAILURE)
        }
    })
}

/// The spec, the data type and the deployment `args` name, with an AWS configuration.
struct Operation {
    project: Project,
    data_type: String,
    config: aws_config::SdkConfig,
    deployment: cachegen::operate::Deployment,
}

impl Operation {
    async fn open(args: &DeployedArgs) -> Result<Option<Self>> {
        let Some(project) = load(args.spec.path())? else {
            return Ok(None);
        };
        if !project
            .model
            .data_types
            .iter()
            .any(|dt| dt.name == args.data_type)
        {
            let known = project.model.data_types.iter().map(|dt| dt.name.as_str());
            let hint = match cachegen_compiler::validate::closest(&args.data_type, known.clone()) {
                Some(candidate) => format!("did you mean `{candidate}`?"),
                None => format!("it declares: {}", known.collect::<Vec<_>>().join(", ")),
            };
            anyhow::bail!(
                "{} declares no data type `{}`; {hint}",
                args.spec.path().display(),
                args.data_type,
            );
        }
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let deployment = match &args.stack {
            Some(stack) => cachegen::operate::Deployment::from_stack(
                &aws_sdk_cloudformation::Client::new(&config),
                stack,
                &project.model,
            )
            .await
            .with_context(|| format!("reading stack {stack}"))?,
            None => cachegen::operate::Deployment::from_lookup(&project.model, |var| {
                std::env::var(var).ok()
            }),
        };
        Ok(Some(Self {
            data_type: args.data_type.clone(),
            project,
            config,
            deployment,
        }))
    }

    fn data_type(&self) -> &cachegen_compiler::ir::DataType {
        self.project.model.data_type(&self.data_type)
    }

    fn cache(&self) -> Result<cachegen_runtime::TieredCache> {
        Ok(cachegen::operate::connect(
            &self.config,
            &self.project.model,
            &self.deployment,
            self.data_type(),
        )?)
    }
}

fn backfill(args: &BackfillArgs) -> Result<ExitCode> {
    use cachegen::operate::backfill::{Backfill, BackfillOptions};
    runtime()?.block_on(async {
        let Some(operation) = Operation::open(&args.deployed).await? else {
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        };
        let data_type = operation.data_type();
        let Some(document) = &data_type.document else {
            anyhow::bail!(
                "data type `{}` keeps no documents in S3: only document types can be backfilled",
                data_type.name
            );
        };
        let mut filters = args.filters.clone();
        if let Some(customer) = &args.customer {
            let Some(attribute) = &document.customer_attribute else {
                anyhow::bail!(
                    "--customer needs `document.customer_attribute` on data type `{}`; or filter with --where ATTRIBUTE=VALUE",
                    data_type.name
                );
            };
            filters.push((attribute.clone(), customer.clone()));
        }
        let bucket = operation
            .deployment
            .bucket(&operation.project.model, &document.bucket)?;
        let backfill = Backfill::new(
            data_type,
            operation.cache()?,
            cachegen_runtime::config::s3_client(&operation.config),
            bucket,
        )?;
        let options = BackfillOptions {
            since: args.since,
            until: args.until,
            filters,
            dry_run: args.dry_run,
            concurrency: args.concurrency,
            rps: args.rps,
        };
        let bar = indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} objects ({per_sec}) {msg}",
            )?,
        );
        let summary = backfill
            .run(&options, &|tally| {
                bar.set_length(tally.scanned);
                bar.set_position(tally.written + tally.skipped + tally.failed);
                bar.set_message(format!("{} failed", tally.failed));
            })
            .await?;
        bar.finish_and_clear();
        println!(
            "backfill of {} from s3://{bucket}: {summary}{}",
            data_type.name,
            if args.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
        Ok(if summary.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

fn query(args: &QueryArgs) -> Result<ExitCode> {
    use cachegen::operate::query::{self, QueryRequest};
    runtime()?.block_on(async {
        let Some(operation) = Operation::open(&args.deployed).await? else {
            return Ok(ExitCode::from(SPEC_PROBLEMS));
        };
        let request = QueryRequest {
            index: args.index.clone(),
            partition: args.key.clone(),
            from: args.from.clone(),
            to: args.to.clone(),
            limit: args.limit,
            descending: args.descending,
        };
        let values = query::run(
            &operation.cache()?,
            &operation.project.model,
            operation.data_type(),
            &request,
        )
        .await?;
        match args.format {
            QueryFormat::Json => {
                for value in &values {
                    println!("{value}");
                }
            }
            QueryFormat::Table => println!("{}", query::table(&values)),
        }
        Ok(ExitCode::SUCCESS)
    })
}
