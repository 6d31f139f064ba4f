//! The `cachegen` binary: exit codes, what it writes, and what it refuses to write.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use support::cachegen;

/// Files under `dir` named like `tempfile`'s temporaries (`.tmpXXXXXX`).
fn temporary_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(temporary_files(&path));
        } else if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".tmp")
        {
            found.push(path.display().to_string());
        }
    }
    found
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary directory holding a copy of the DRS example spec as `cache.yaml` (its
/// templates still read from the workspace's `templates/`).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = cachegen_testkit::workspace_root();
    let spec = fs::read_to_string(root.join("examples/drs-query-cache/cache.yaml")).unwrap();
    let templates = format!("{}/", root.join("templates").display());
    fs::write(
        dir.path().join("cache.yaml"),
        spec.replace("../../templates/", &templates),
    )
    .unwrap();
    dir
}

#[test]
fn build_renders_the_spec_templates_and_check_keeps_them_fresh() {
    let dir = project();
    let first = cachegen(dir.path(), &["build"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let runbook = fs::read_to_string(dir.path().join("generated/RUNBOOK.md")).unwrap();
    assert!(runbook.contains("# Runbook: the drs-orchestration cache"));
    assert!(cachegen(dir.path(), &["check"]).status.success());

    fs::write(dir.path().join("generated/RUNBOOK.md"), "edited\n").unwrap();
    let check = cachegen(dir.path(), &["check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check.stderr).contains("stale: generated/RUNBOOK.md"),
        "{}",
        text(&check.stderr)
    );
}

#[test]
fn a_broken_template_is_located_and_nothing_is_written() {
    let dir = project();
    fs::write(
        dir.path().join("mine.tera"),
        "{{ generated }}\n\n{{ model.tabels }}\n",
    )
    .unwrap();
    let spec = fs::read_to_string(dir.path().join("cache.yaml")).unwrap();
    fs::write(
        dir.path().join("cache.yaml"),
        format!("{spec}    mine.txt: mine.tera\n"),
    )
    .unwrap();
    let build = cachegen(dir.path(), &["build"]);
    assert_eq!(build.status.code(), Some(2));
    let stderr = text(&build.stderr);
    assert!(
        stderr.contains("error[CG0903]: Variable `model.tabels` not found"),
        "{stderr}"
    );
    assert!(stderr.contains("mine.tera:3:4"), "{stderr}");
    assert!(!dir.path().join("generated").exists(), "nothing is written");
}

/// A spec copied to another folder keeps its relative template path, which now names
/// nothing: the error points at the spec line, says the cause once, and writes nothing.
#[test]
fn a_missing_template_is_located_at_the_spec_line_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = fs::read_to_string(
        cachegen_testkit::workspace_root().join("examples/drs-query-cache/cache.yaml"),
    )
    .unwrap();
    fs::write(dir.path().join("cache.yaml"), &spec).unwrap();
    let (line, column) = spec
        .lines()
        .enumerate()
        .find_map(|(index, text)| {
            let column = text.find("../../templates/runbook.md.tera")?;
            Some((index + 1, column + 1))
        })
        .expect("the example names its runbook template");

    let build = cachegen(dir.path(), &["build"]);
    assert_eq!(build.status.code(), Some(2));
    let stderr = text(&build.stderr);
    assert!(
        stderr.contains("error[CG0905]: cannot read template `../../templates/runbook.md.tera`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("cache.yaml:{line}:{column}")),
        "{stderr}"
    );
    assert!(stderr.contains("relative to the spec's folder"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "the cause is said once: {stderr}"
    );
    assert!(!dir.path().join("generated").exists(), "nothing is written");
}

#[test]
fn build_writes_the_template_then_leaves_it_unchanged() {
    let dir = project();
    let first = cachegen(dir.path(), &["build"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("wrote generated/cloudformation.yaml"));
    let template = fs::read_to_string(dir.path().join("generated/cloudformation.yaml")).unwrap();
    assert!(template.contains("Type: AWS::DynamoDB::Table"));

    let second = cachegen(dir.path(), &["build"]);
    assert!(second.status.success());
    assert!(text(&second.stdout).contains("unchanged generated/cloudformation.yaml"));
}

#[test]
fn build_honours_out_and_target() {
    let dir = project();
    let output = cachegen(
        dir.path(),
        &[
            "build",
            "cache.yaml",
            "--out",
            "infra",
            "--target",
            "cloudformation",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(dir.path().join("infra/cloudformation.yaml").is_file());
    assert!(!dir.path().join("generated").exists());
}

#[test]
fn check_passes_when_fresh_and_names_stale_files() {
    let dir = project();
    assert!(cachegen(dir.path(), &["build"]).status.success());
    let fresh = cachegen(dir.path(), &["check"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stderr));

    let template = dir.path().join("generated/cloudformation.yaml");
    let edited = fs::read_to_string(&template).unwrap().replace("ttl", "tll");
    fs::write(&template, edited).unwrap();
    let stale = cachegen(dir.path(), &["check"]);
    assert_eq!(stale.status.code(), Some(1));
    let stderr = text(&stale.stderr);
    assert!(
        stderr.contains("stale: generated/cloudformation.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run `cachegen build cache.yaml`"),
        "{stderr}"
    );
}

#[test]
fn check_reports_missing_outputs() {
    let dir = project();
    let output = cachegen(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("stale: generated/cloudformation.yaml"));
}

#[test]
fn a_bad_spec_writes_nothing_and_keeps_previous_outputs() {
    let dir = project();
    assert!(cachegen(dir.path(), &["build"]).status.success());
    let template = dir.path().join("generated/cloudformation.yaml");
    let before = fs::read_to_string(&template).unwrap();

    let spec = dir.path().join("cache.yaml");
    let broken = fs::read_to_string(&spec)
        .unwrap()
        .replacen("    ttl: 5m\n", "    ttl: 0s\n", 1);
    fs::write(&spec, broken).unwrap();
    let output = cachegen(dir.path(), &["build"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cache.yaml:52:10"), "{stderr}");
    assert!(stderr.contains("ttl must be longer than zero"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(fs::read_to_string(&template).unwrap(), before);
    assert_eq!(
        temporary_files(&dir.path().join("generated")),
        Vec::<String>::new()
    );
}

#[test]
fn target_flag_overrides_the_spec_targets() {
    let dir = project();
    let output = cachegen(dir.path(), &["build", "--target", "terraform,sam"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("wrote generated/sam.yaml"), "{stdout}");
    assert!(
        stdout.contains("wrote generated/terraform/main.tf"),
        "{stdout}"
    );
    assert!(!stdout.contains("cloudformation.yaml"), "{stdout}");
}

#[test]
fn init_writes_a_spec_that_builds_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let output = cachegen(dir.path(), &["init"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(dir.path().join("cachegen.yaml")).unwrap(),
        cachegen_compiler::STARTER_SPEC
    );
    assert!(cachegen(dir.path(), &["build"]).status.success());

    let again = cachegen(dir.path(), &["init"]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("must not exist yet"));
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let output = cachegen(Path::new("."), &["schema"]);
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, cachegen_compiler::spec::json_schema());
}

#[test]
fn help_reads_like_a_manual() {
    for (command, phrase) in [
        ("build", "renamed into place together"),
        ("check", "Exits 0 when every output is up to date"),
        ("init", "Refuses to overwrite"),
        ("schema", "yaml-language-server"),
    ] {
        let output = cachegen(Path::new("."), &[command, "--help"]);
        assert!(output.status.success());
        let help = text(&output.stdout);
        assert!(
            help.contains(phrase),
            "`cachegen {command} --help` lacks {phrase:?}:\n{help}"
        );
        assert!(
            help.contains("Example:"),
            "`cachegen {command} --help` has no example"
        );
    }
}

#[test]
fn an_unreadable_spec_is_a_plain_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = cachegen(dir.path(), &["build", "missing.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot read missing.yaml"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "the cause is said once: {stderr}"
    );
}

#[test]
fn diff_shows_table_changes_and_the_deploy_steps_then_the_text() {
    let dir = project();
    assert!(cachegen(dir.path(), &["build"]).status.success());
    let unchanged = cachegen(dir.path(), &["diff"]);
    assert_eq!(unchanged.status.code(), Some(0));
    assert!(text(&unchanged.stdout).contains("no output of cache.yaml changes"));

    // Rename the one index: a delete and a create, which CloudFormation applies one per update.
    let spec = dir.path().join("cache.yaml");
    let renamed = fs::read_to_string(&spec)
        .unwrap()
        .replace("dataType-createdAt-index", "by-type-index");
    fs::write(&spec, renamed).unwrap();
    let output = cachegen(dir.path(), &["diff", "--target", "cloudformation"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("QueryCacheTable: index by-type-index added"),
        "{stdout}"
    );
    assert!(
        stdout.contains("QueryCacheTable: index dataType-createdAt-index removed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "this update is applied in 2 steps\n  step 1: QueryCacheTable: delete index dataType-createdAt-index\n  step 2: QueryCacheTable: create index by-type-index\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("-      - IndexName: dataType-createdAt-index"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+      - IndexName: by-type-index"),
        "{stdout}"
    );
}

#[test]
fn cost_prints_the_seed_estimate_as_a_table_and_as_json() {
    let dir = project();
    let output = cachegen(dir.path(), &["cost"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = text(&output.stdout);
    assert!(table.contains("drs-quotas"), "{table}");
    assert!(table.contains("= $0.0225/month"), "{table}");

    let output = cachegen(dir.path(), &["cost", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["data_types"][0]["reads"], 30_000);
    assert_eq!(json["data_types"][0]["write_units"], 30_000.0);
}

#[test]
fn docs_writes_a_markdown_page_with_a_diagram() {
    let dir = project();
    let output = cachegen(dir.path(), &["docs"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let page = fs::read_to_string(dir.path().join("generated/cache.md")).unwrap();
    assert!(page.contains("```mermaid\nflowchart LR\n"), "{page}");
    assert!(
        page.contains("consumer_query_handler -->|read, write| type_drs_quotas"),
        "{page}"
    );
    assert!(
        page.contains("| drs-quotas | query-cache | `drs-quotas#{region}#{account_id}` | 5m |"),
        "{page}"
    );
    assert!(page.contains("### data-management-handler"), "{page}");
}

/// Runs cachegen under `umask`, as a shell would.
#[cfg(unix)]
fn cachegen_with_umask(dir: &Path, umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_cachegen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sh runs")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn build_respects_the_umask_and_keeps_the_mode_of_a_replaced_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project();
    let first = cachegen_with_umask(
        dir.path(),
        "027",
        &["build", "--target", "cloudformation,sam"],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let template = dir.path().join("generated/cloudformation.yaml");
    assert_eq!(mode(&template), 0o640, "0666 less the umask 027");
    assert_eq!(mode(&dir.path().join("generated/sam.yaml")), 0o640);

    fs::set_permissions(&template, fs::Permissions::from_mode(0o644)).unwrap();
    let spec = dir.path().join("cache.yaml");
    let changed = fs::read_to_string(&spec)
        .unwrap()
        .replacen("    ttl: 5m\n", "    ttl: 10m\n", 1);
    fs::write(&spec, changed).unwrap();
    let second = cachegen_with_umask(dir.path(), "027", &["build", "--target", "cloudformation"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(text(&second.stdout).contains("wrote generated/cloudformation.yaml"));
    assert_eq!(mode(&template), 0o644, "a replaced file keeps its mode");
}

#[test]
fn build_refuses_to_overwrite_a_file_it_did_not_write() {
    let dir = project();
    let generated = dir.path().join("generated");
    fs::create_dir(&generated).unwrap();
    let hand_written = "Resources: {}\n";
    fs::write(generated.join("cloudformation.yaml"), hand_written).unwrap();

    let refused = cachegen(dir.path(), &["build", "--target", "cloudformation,sam"]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(
            "error: generated/cloudformation.yaml was not written by cachegen (it has no `Generated by cachegen from` header)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("pass --force to overwrite them"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(generated.join("cloudformation.yaml")).unwrap(),
        hand_written
    );
    assert!(
        !generated.join("sam.yaml").exists(),
        "nothing is written, not even the files that were free"
    );

    let forced = cachegen(
        dir.path(),
        &["build", "--target", "cloudformation,sam", "--force"],
    );
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    let template = fs::read_to_string(generated.join("cloudformation.yaml")).unwrap();
    assert!(template.starts_with("# Generated by cachegen from cache.yaml"));
    assert!(generated.join("sam.yaml").is_file());
}

#[test]
fn binary_or_non_utf8_spec_exits_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("cache.yaml"),
        b"version: 1\nservice: \xff\xfe\n",
    )
    .unwrap();
    let output = cachegen(dir.path(), &["build"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("error[CG0001]: the spec is not UTF-8 text: byte 0xFF cannot be read"),
        "{stderr}"
    );
    assert!(stderr.contains("cache.yaml:2:10"), "{stderr}");
    assert!(!dir.path().join("generated").exists());
}

#[test]
fn every_command_takes_the_spec_as_argument_or_option() {
    let dir = project();
    fs::rename(dir.path().join("cache.yaml"), dir.path().join("drs.yaml")).unwrap();
    for args in [
        &["build", "--spec", "drs.yaml"][..],
        &["check", "drs.yaml"],
        &["check", "--spec", "drs.yaml"],
        &["cost", "--spec", "drs.yaml"],
        &["docs", "--spec", "drs.yaml", "--out", "-"],
    ] {
        let output = cachegen(dir.path(), args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    // backfill and query read the spec before reaching AWS: an unknown data type shows it was read.
    for command in ["backfill", "query"] {
        let mut args = vec![command, "drs.yaml", "--data-type", "drs-quota"];
        if command == "query" {
            args.extend(["--index", "x", "--key", "y"]);
        }
        let output = cachegen(dir.path(), &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr
                .contains("drs.yaml declares no data type `drs-quota`; did you mean `drs-quotas`?"),
            "{args:?}: {stderr}"
        );
    }
    let both = cachegen(dir.path(), &["build", "drs.yaml", "--spec", "drs.yaml"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).contains("cannot be used with"),
        "{}",
        text(&both.stderr)
    );
}

#[test]
fn ir_prints_the_versioned_view_and_its_schema() {
    let dir = project();
    let output = cachegen(dir.path(), &["ir"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let view: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(view["version"], cachegen_compiler::view::VERSION);
    assert_eq!(view["model"]["service"], "drs-orchestration");
    assert_eq!(view["model"]["tables"][0]["logical_id"], "QueryCacheTable");

    let output = cachegen(Path::new("."), &["ir", "--schema"]);
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, cachegen_compiler::view::json_schema());
}

/// A spec whose parameter default is `bytes` long: a CloudFormation limit only.
fn spec_with_default(bytes: usize) -> String {
    format!(
        "version: 1\nservice: demo\nparameters:\n  env: {{ default: {} }}\n  Spare: {{ default: x }}\n\
         tables:\n  cache:\n    name: \"demo-${{env}}\"\ndata_types:\n  user:\n    key: \"user#{{id}}\"\n\
         \x20   params: {{ id: string }}\n    value: {{ fields: {{ name: string }} }}\n",
        "e".repeat(bytes)
    )
}

#[test]
fn an_output_over_an_aws_limit_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cache.yaml"), spec_with_default(4_097)).unwrap();
    let refused = cachegen(dir.path(), &["build"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("error[CG0806]"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!dir.path().join("generated").exists(), "nothing is written");
    // The limit is CloudFormation's: Terraform has none, and `--target` says what is built.
    let terraform = cachegen(dir.path(), &["build", "--target", "terraform"]);
    assert!(terraform.status.success(), "{}", text(&terraform.stderr));
    assert!(dir.path().join("generated/terraform/main.tf").is_file());
    // `deploy` checks CloudFormation's limits before it reaches AWS.
    let deploy = cachegen(dir.path(), &["deploy", "--stack", "demo"]);
    assert_eq!(deploy.status.code(), Some(2), "{}", text(&deploy.stderr));
}

#[test]
fn build_notes_a_parameter_nothing_uses() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cache.yaml"), spec_with_default(3)).unwrap();
    let built = cachegen(dir.path(), &["build"]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    assert!(
        text(&built.stderr).contains(
            "note: cache.yaml:5:3: parameter `Spare` is declared but no name, tag or ARN uses it"
        ),
        "{}",
        text(&built.stderr)
    );
    let template = fs::read_to_string(dir.path().join("generated/cloudformation.yaml")).unwrap();
    assert!(!template.contains("Spare"), "{template}");
}

#[test]
fn the_default_spec_is_cachegen_yaml_else_cache_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let init = cachegen(dir.path(), &["init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    assert!(dir.path().join("cachegen.yaml").is_file());
    let build = cachegen(dir.path(), &["build"]);
    assert!(build.status.success(), "{}", text(&build.stderr));
    assert!(text(&build.stderr).is_empty(), "{}", text(&build.stderr));

    // Only the older name: it is read.
    fs::rename(
        dir.path().join("cachegen.yaml"),
        dir.path().join("cache.yaml"),
    )
    .unwrap();
    assert!(cachegen(dir.path(), &["build"]).status.success());
    let check = cachegen(dir.path(), &["check"]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(text(&check.stdout).contains("outputs of cache.yaml are up to date"));

    // Both: cachegen.yaml is read, and the other named as ignored.
    fs::write(dir.path().join("cachegen.yaml"), "version: 1\n").unwrap();
    let both = cachegen(dir.path(), &["check"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).starts_with(
            "note: reading cachegen.yaml; cache.yaml beside it is ignored (name a spec to read another)\n"
        ),
        "{}",
        text(&both.stderr)
    );
    assert!(text(&both.stderr).contains("cachegen.yaml"));
}
