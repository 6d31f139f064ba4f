//! The book's `sh` commands that need AWS (`deploy`, `verify`, `backfill`, `query` on a
//! bundled example), run as written against the moto server `scripts/test.sh` starts
//! (`CACHEGEN_TEST_DYNAMODB_ENDPOINT`), through the AWS SDK's environment variables as a
//! reader's shell would set them.
//!
//! Each run works in an AWS account of its own: moto's STS hands out credentials for any
//! account a role ARN names. The examples' tables and buckets have fixed names (from
//! `env`), so a run in a shared account would meet the stacks and tables of the run
//! before it; in a fresh account the book's stack names are used as written.
//!
//! A tutorial's block that starts with `cachegen init` runs whole, in order, in an empty
//! folder: from the starter spec to a deployed and verified stack.
//!
//! A command on a stack no earlier command deployed finds it deployed as a reader's
//! would be: by `cachegen deploy` with the book's own `--param`s for that stack, values
//! for the parameters that name what the reader already has (existing roles, the sync
//! function's code), and the example's documents in its bucket.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use aws_sdk_cloudformation::config::ProvideCredentials;
use cachegen_compiler::Project;
use cachegen_compiler::ir::Target;

use crate::markdown::{blocks, pages};

/// The commands that need an AWS account.
const AWS: &[&str] = &["deploy", "verify", "backfill", "query"];

/// The book's AWS commands that are not run here, each with why.
const NOT_RUN: &[(&str, &str)] = &[];

/// What `verify` reports on moto, whose CloudFormation ignores the property behind it: a
/// verify that reports only these is a deployment that matches the spec. (It also ignores
/// a bucket's versioning, public access block and notifications: no book command
/// verifies a stack with a bucket yet.)
const MOTO_IGNORES: &[&str] = &[
    // TimeToLiveSpecification on AWS::DynamoDB::Table.
    ": TTL disabled",
];

/// The moto endpoint to run against, or `None` outside CI when there is none (with the
/// reason printed). In CI a missing endpoint fails.
pub(crate) fn endpoint() -> Option<String> {
    match std::env::var(cachegen_testkit::SHARED_DYNAMODB_ENV) {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint),
        _ if std::env::var_os("CI").is_some() => panic!(
            "{} is not set: scripts/test.sh starts moto and sets it",
            cachegen_testkit::SHARED_DYNAMODB_ENV
        ),
        _ => {
            eprintln!(
                "skipped: the book's AWS commands run against moto when {} is set (scripts/test.sh sets it)",
                cachegen_testkit::SHARED_DYNAMODB_ENV
            );
            None
        }
    }
}

/// A fresh AWS account on moto, and the shell environment of a reader using it.
struct Account {
    endpoint: String,
    id: String,
    credentials: aws_sdk_cloudformation::config::Credentials,
}

impl Account {
    /// Credentials for an account no other run uses, from moto's STS.
    fn fresh(endpoint: &str) -> Self {
        let id = format!(
            "{:012}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 900_000_000_000
                + 100_000_000_000
        );
        let role = format!("arn:aws:iam::{id}:role/book");
        let credentials = runtime().block_on(async {
            let sdk = sdk_config(endpoint, None).await;
            aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("book")
                .configure(&sdk)
                .build()
                .await
                .provide_credentials()
                .await
                .expect("moto's STS gives credentials for any account")
        });
        Self {
            endpoint: endpoint.to_owned(),
            id,
            credentials,
        }
    }

    /// `cachegen` with `args`, in `dir`, as a reader's shell with this account runs it.
    fn cachegen(&self, dir: &Path, args: &[String]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cachegen"));
        command
            .args(args)
            .current_dir(dir)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", self.credentials.access_key_id())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key(),
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        match self.credentials.session_token() {
            Some(token) => command.env("AWS_SESSION_TOKEN", token),
            None => command.env_remove("AWS_SESSION_TOKEN"),
        };
        command.output().unwrap()
    }

    /// The SDK configuration of this account.
    async fn sdk(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoint, Some(self.credentials.clone())).await
    }
}

/// A runtime for the SDK calls that set up what a reader has.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// An SDK configuration for moto, with `credentials` or the test ones.
async fn sdk_config(
    endpoint: &str,
    credentials: Option<aws_sdk_cloudformation::config::Credentials>,
) -> aws_config::SdkConfig {
    let credentials = credentials.unwrap_or_else(|| {
        aws_sdk_cloudformation::config::Credentials::new("testing", "testing", None, None, "book")
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// One AWS command of the book, where it is written.
struct BookCommand {
    place: String,
    args: Vec<String>,
}

impl BookCommand {
    fn line(&self) -> String {
        self.args.join(" ")
    }

    /// The value of `--name`, if given.
    fn option(&self, name: &str) -> Option<&str> {
        self.args
            .windows(2)
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str())
    }

    /// The bundled example it runs on, if any.
    fn spec(&self) -> Option<&str> {
        self.option("--spec").or_else(|| {
            self.args
                .iter()
                .find(|arg| arg.starts_with("examples/"))
                .map(String::as_str)
        })
    }

    /// The `--param NAME=VALUE`s it passes.
    fn params(&self) -> Vec<String> {
        self.args
            .windows(2)
            .filter(|pair| pair[0] == "--param")
            .map(|pair| pair[1].clone())
            .collect()
    }
}

/// Every AWS command of the book's `sh` blocks, in page order.
fn book_commands(book: &Path) -> Vec<BookCommand> {
    let mut found = Vec::new();
    for (path, page) in pages(book) {
        for block in blocks(&page).into_iter().filter(|block| block.info == "sh") {
            for args in crate::blocks::commands(&block.text, AWS) {
                let place = format!("{}:{}", path.display(), block.line);
                found.push(BookCommand { place, args });
            }
        }
    }
    found
}

/// Runs the book's AWS commands in a fresh account on the moto at `endpoint`, and the
/// tutorials' projects: how many commands ran, and the failures.
pub(crate) fn run_sh_blocks(root: &Path, book: &Path, endpoint: &str) -> (usize, Vec<String>) {
    let sandbox = crate::blocks::sandbox(root);
    let account = Account::fresh(endpoint);
    let commands = book_commands(book);
    let mut deployed = BTreeSet::new();
    let mut ran = 0;
    let mut failures = Vec::new();
    let stale: Vec<&str> = NOT_RUN
        .iter()
        .map(|(line, _)| *line)
        .filter(|line| !commands.iter().any(|command| command.line() == *line))
        .collect();
    if !stale.is_empty() {
        failures.push(format!(
            "NOT_RUN names commands the book no longer shows: run them, and drop the entries: {stale:?}"
        ));
    }
    for command in &commands {
        if let Some((_, why)) = NOT_RUN.iter().find(|(line, _)| *line == command.line()) {
            eprintln!(
                "not run on moto: {}: `cachegen {}`: {why}",
                command.place,
                command.line()
            );
            continue;
        }
        let Some(stack) = command.option("--stack") else {
            failures.push(format!(
                "{}: `cachegen {}` names no --stack",
                command.place,
                command.line()
            ));
            continue;
        };
        if command.args[0] != "deploy" && !deployed.contains(stack) {
            let params = commands
                .iter()
                .filter(|other| other.args[0] == "deploy" && other.option("--stack") == Some(stack))
                .flat_map(BookCommand::params)
                .collect();
            let spec = command.spec().expect("a command on a bundled example");
            if let Err(failure) = prepare(&account, sandbox.path(), spec, stack, params) {
                failures.push(format!(
                    "{}: deploying {stack} first: {failure}",
                    command.place
                ));
                continue;
            }
            deployed.insert(stack.to_owned());
        }
        ran += 1;
        match run(&account, sandbox.path(), command) {
            Ok(()) if command.args[0] == "deploy" => {
                deployed.insert(stack.to_owned());
            }
            Ok(()) => {}
            Err(failure) => failures.push(failure),
        }
    }
    for project in projects(book) {
        let dir = tempfile::tempdir().unwrap();
        for command in &project {
            ran += 1;
            if let Err(failure) = run(&account, dir.path(), command) {
                failures.push(failure);
                break;
            }
        }
    }
    (ran, failures)
}

/// Runs `command` in `dir` and judges what it did.
fn run(account: &Account, dir: &Path, command: &BookCommand) -> Result<(), String> {
    let output = account.cachegen(dir, &command.args);
    eprintln!(
        "ran on moto: `cachegen {}` ({}):\n{}",
        command.line(),
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    judge(command, &output)
        .map_err(|why| format!("{}: `cachegen {}`: {why}", command.place, command.line()))
}

/// The tutorials' `sh` blocks that start a project with `cachegen init`: each block's
/// cachegen commands in order, to run in an empty folder.
fn projects(book: &Path) -> Vec<Vec<BookCommand>> {
    let mut found = Vec::new();
    for (path, page) in pages(book) {
        for block in blocks(&page).into_iter().filter(|block| block.info == "sh") {
            let lines = crate::blocks::cachegen_lines(&block.text);
            if lines.first().map(|args| args.as_slice()) == Some(&["init".to_owned()][..]) {
                let place = format!("{}:{}", path.display(), block.line);
                found.push(
                    lines
                        .into_iter()
                        .map(|args| BookCommand {
                            place: place.clone(),
                            args,
                        })
                        .collect(),
                );
            }
        }
    }
    found
}

/// Whether a command did what the book says: it succeeded (and a query of the
/// change-metadata example found the ACME change of the month it asks for, and not the
/// older one), or it is a `verify` that found only what moto ignores.
fn judge(command: &BookCommand, output: &Output) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let text = || {
        format!(
            "{}\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let verb = command.args[0].as_str();
    if output.status.success() {
        let queried_changes =
            verb == "query" && command.spec() == Some("examples/change-metadata/cache.yaml");
        let found_the_month = stdout.contains(CHANGES[0].0) && !stdout.contains(CHANGES[2].0);
        if queried_changes && !found_the_month {
            return Err(format!(
                "it did not find only {} of the changes put in the bucket: {}",
                CHANGES[0].0,
                text()
            ));
        }
        return Ok(());
    }
    let only_moto_gaps = verb == "verify"
        && output.status.code() == Some(1)
        && stdout.lines().count() > 0
        && stdout
            .lines()
            .all(|line| MOTO_IGNORES.iter().any(|gap| line.contains(gap)));
    if only_moto_gaps { Ok(()) } else { Err(text()) }
}

/// Deploys `spec` as stack `stack` the way a reader of the book has it deployed: with
/// `params`, values for the parameters naming what the reader already has, and the
/// example's documents in its bucket.
fn prepare(
    account: &Account,
    dir: &Path,
    spec: &str,
    stack: &str,
    params: Vec<String>,
) -> Result<(), String> {
    let mut args: Vec<String> = ["deploy", spec, "--stack", stack]
        .map(str::to_owned)
        .to_vec();
    let given: Vec<&str> = params
        .iter()
        .filter_map(|param| param.split_once('=').map(|(name, _)| name))
        .collect();
    let mut supplied = Vec::new();
    for name in parameters_without_default(&dir.join(spec)) {
        if !given.contains(&name.as_str()) {
            supplied.push(format!("{name}={}", existing(account, stack, &name)?));
        }
    }
    for param in params.into_iter().chain(supplied) {
        args.extend(["--param".to_owned(), param]);
    }
    let output = account.cachegen(dir, &args);
    if !output.status.success() {
        return Err(format!(
            "`cachegen {}`:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    put_documents(account, spec, stack);
    Ok(())
}

/// The names of the CloudFormation template's parameters that have no default.
fn parameters_without_default(spec: &Path) -> Vec<String> {
    let project = Project::load(spec).unwrap();
    let files = project.files(Some(&[Target::Cloudformation]));
    let template: serde_yaml::Value = serde_yaml::from_str(&files[0].contents).unwrap();
    template["Parameters"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, parameter)| parameter.get("Default").is_none())
        .map(|(name, _)| name.as_str().unwrap().to_owned())
        .collect()
}

/// The value of a parameter that names something the reader already has in the account:
/// an existing role (made here), or the sync function's code (an empty zip uploaded here;
/// moto never runs it).
fn existing(account: &Account, stack: &str, parameter: &str) -> Result<String, String> {
    let role = format!(
        "{stack}-{}",
        parameter.trim_end_matches("Arn").trim_end_matches("Name")
    );
    let code_bucket = format!("{stack}-sync-code-{}", account.id);
    match parameter {
        _ if parameter.ends_with("RoleName") => {
            create_role(account, &role);
            Ok(role)
        }
        _ if parameter.ends_with("RoleArn") => {
            create_role(account, &role);
            Ok(format!("arn:aws:iam::{}:role/{role}", account.id))
        }
        "SyncCodeBucketName" => {
            runtime().block_on(async {
                let s3 = aws_sdk_s3::Client::new(&account.sdk().await);
                s3.create_bucket()
                    .bucket(&code_bucket)
                    .send()
                    .await
                    .unwrap();
                s3.put_object()
                    .bucket(&code_bucket)
                    .key("sync.zip")
                    .body(cachegen_testkit::EMPTY_ZIP.to_vec().into())
                    .send()
                    .await
                    .unwrap();
            });
            Ok(code_bucket)
        }
        "SyncCodeKey" => Ok("sync.zip".to_owned()),
        _ => Err(format!(
            "parameter {parameter} has no default, and book/moto.rs knows no value for it"
        )),
    }
}

/// Creates role `name` in the account, through a stack of its own.
fn create_role(account: &Account, name: &str) {
    let template = serde_json::json!({
        "Resources": { "Role": { "Type": "AWS::IAM::Role", "Properties": {
            "RoleName": name,
            "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }]},
        }}},
    });
    runtime().block_on(async {
        aws_sdk_cloudformation::Client::new(&account.sdk().await)
            .create_stack()
            .stack_name(format!("{name}-role"))
            .template_body(template.to_string())
            .send()
            .await
            .unwrap();
    });
}

/// Puts the example's documents into the bucket of the stack: for the change-metadata
/// example, changes of two customers, one of ACME in the month the book's query asks for.
fn put_documents(account: &Account, spec: &str, stack: &str) {
    if spec != "examples/change-metadata/cache.yaml" {
        return;
    }
    runtime().block_on(async {
        let sdk = account.sdk().await;
        let resources = aws_sdk_cloudformation::Client::new(&sdk)
            .describe_stack_resources()
            .stack_name(stack)
            .send()
            .await
            .unwrap();
        let bucket = resources
            .stack_resources()
            .iter()
            .find(|resource| resource.resource_type() == Some("AWS::S3::Bucket"))
            .and_then(|resource| resource.physical_resource_id())
            .expect("the stack creates the documents bucket")
            .to_owned();
        let s3 = aws_sdk_s3::Client::new(&sdk);
        for (id, customer, scheduled_at) in CHANGES {
            let body = serde_json::json!({
                "change_id": id,
                "customer_code": customer,
                "status": "approved",
                "title": format!("change {id}"),
                "scheduled_at": scheduled_at,
                "approvers": ["ops"],
            });
            s3.put_object()
                .bucket(&bucket)
                .key(format!("changes/{id}.json"))
                .body(serde_json::to_vec(&body).unwrap().into())
                .send()
                .await
                .unwrap();
        }
    });
}

/// The change documents `put_documents` writes: id, customer, scheduled time.
const CHANGES: [(&str, &str, u64); 3] = [
    ("c-in-january", "ACME", 1_768_000_000),
    ("c-other-customer", "INITECH", 1_768_000_000),
    ("c-long-ago", "ACME", 1_700_000_000),
];
