//! The GitHub Action's script (`scripts/action.sh`), run locally as the action runs it: in
//! a git repository with a base and a head commit, `GITHUB_STEP_SUMMARY` pointing at a
//! file. It fails on stale outputs and unapproved breaking changes, annotates them, and
//! writes the verdicts, the outputs' diff since the base and the docs page to the summary.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .unwrap_or_else(|err| panic!("{program} runs: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn cachegen(dir: &Path, args: &[&str]) {
    run(dir, env!("CARGO_BIN_EXE_cachegen"), args);
}

/// A repository whose base commit holds the starter spec and its outputs, and whose head
/// commit changes the spec with `edit` (rebuilding the outputs when `rebuild`).
fn repository(edit: (&str, &str), rebuild: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    run(path, "git", &["init", "-q", "-b", "main"]);
    cachegen(path, &["init"]);
    cachegen(path, &["build"]);
    run(path, "git", &["add", "."]);
    run(path, "git", &["commit", "-q", "-m", "base"]);
    let spec = fs::read_to_string(path.join("cachegen.yaml")).unwrap();
    assert!(spec.contains(edit.0));
    fs::write(path.join("cachegen.yaml"), spec.replacen(edit.0, edit.1, 1)).unwrap();
    if rebuild {
        cachegen(path, &["build"]);
    }
    run(path, "git", &["commit", "-q", "-a", "-m", "head"]);
    dir
}

/// Runs the action's script in `dir` against the base commit; its exit code, standard
/// output, and the job summary it wrote.
fn action(dir: &Path, allow: &str) -> (Option<i32>, String, String) {
    let summary = dir.join("..").join(format!(
        "{}-summary.md",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let output = Command::new("bash")
        .arg(cachegen_testkit::workspace_root().join("scripts/action.sh"))
        .current_dir(dir)
        .env("CACHEGEN", env!("CARGO_BIN_EXE_cachegen"))
        .env("CACHEGEN_BASE_REF", "HEAD~1")
        .env("CACHEGEN_ALLOW", allow)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let written = fs::read_to_string(&summary).unwrap_or_default();
    fs::remove_file(&summary).ok();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        written,
    )
}

#[test]
fn a_key_change_fails_until_allowed_and_the_summary_shows_why() {
    let repo = repository(
        (
            "partition_key: { name: pk, type: S }",
            "partition_key: { name: id, type: S }",
        ),
        true,
    );
    let (code, stdout, summary) = action(repo.path(), "");
    assert_eq!(code, Some(1), "{stdout}\n{summary}");
    assert!(
        stdout.contains("::error file=cachegen.yaml,line="),
        "annotated: {stdout}"
    );
    assert!(
        stdout.contains("title=cachegen breaking%3A table-replaced::"),
        "{stdout}"
    );
    assert!(
        summary.contains("✅ The generated outputs match the spec."),
        "{summary}"
    );
    assert!(summary.contains("❌ Breaking changes"), "{summary}");
    assert!(
        summary.contains("error[table-replaced]: cachegen.yaml:"),
        "{summary}"
    );
    // The outputs since the base: CloudFormation's verdict, then the text.
    assert!(summary.contains("### Outputs since `HEAD~1`"), "{summary}");
    assert!(summary.contains("-      - AttributeName: pk"), "{summary}");
    assert!(summary.contains("+      - AttributeName: id"), "{summary}");
    assert!(
        summary.contains("# Cache of my-service"),
        "the docs page: {summary}"
    );
    let worktrees = run(repo.path(), "git", &["worktree", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&worktrees.stdout).lines().count(),
        1
    );

    let (code, _, summary) = action(repo.path(), "table-replaced");
    assert_eq!(code, Some(0), "{summary}");
    assert!(
        summary.contains("✅ No unapproved breaking change."),
        "{summary}"
    );
}

#[test]
fn stale_outputs_fail_and_a_cold_cache_only_warns() {
    let repo = repository(
        (
            "key: \"user-profile#{user_id}\"",
            "key: \"profile#{user_id}\"",
        ),
        false,
    );
    let (code, stdout, summary) = action(repo.path(), "");
    assert_eq!(code, Some(1), "{summary}");
    assert!(
        summary.contains("❌ The generated outputs do not match the spec: run `cachegen build`"),
        "{summary}"
    );
    assert!(
        summary.contains("✅ No unapproved breaking change."),
        "{summary}"
    );
    assert!(
        summary.contains("warning[key-template-changed]"),
        "{summary}"
    );
    assert!(
        stdout.contains("::warning file=cachegen.yaml,line="),
        "{stdout}"
    );
}
