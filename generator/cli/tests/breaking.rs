//! `cachegen breaking` in a git repository: the spec at a revision or in a file, each
//! output format, `--allow`, and the exit codes a CI job gates on.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::cachegen;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A repository whose first commit holds the DRS example as `specs/cachegen.yaml`.
fn repository() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = fs::read_to_string(
        cachegen_testkit::workspace_root().join("examples/drs-query-cache/cache.yaml"),
    )
    .unwrap()
    .replace("../../templates/", "templates/");
    fs::create_dir(dir.path().join("specs")).unwrap();
    fs::write(dir.path().join("specs/cachegen.yaml"), &spec).unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "the cache"]);
    (dir, spec)
}

#[test]
fn a_key_change_since_a_revision_is_refused_until_allowed() {
    let (dir, spec) = repository();
    let changed = spec.replace(
        "partition_key: { name: cacheKey, type: S }",
        "partition_key: { name: key, type: S }",
    );
    fs::write(dir.path().join("specs/cachegen.yaml"), &changed).unwrap();

    let refused = cachegen(
        dir.path(),
        &["breaking", "specs/cachegen.yaml", "--against", "main"],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let out = text(&refused.stdout);
    assert!(
        out.starts_with("error[table-replaced]: specs/cachegen.yaml:28:5: table `query-cache`: the partition key changes"),
        "{out}"
    );
    assert!(
        out.ends_with("1 change since main:specs/cachegen.yaml: 1 refused\n"),
        "{out}"
    );

    let github = cachegen(
        dir.path(),
        &[
            "--error-format",
            "github",
            "breaking",
            "--spec",
            "specs/cachegen.yaml",
            "--against",
            "main",
        ],
    );
    assert_eq!(github.status.code(), Some(1));
    assert!(
        text(&github.stdout).starts_with(
            "::error file=specs/cachegen.yaml,line=28,col=5,title=cachegen breaking%3A table-replaced::"
        ),
        "{}",
        text(&github.stdout)
    );

    let allowed = cachegen(
        dir.path(),
        &[
            "breaking",
            "specs/cachegen.yaml",
            "--against",
            "main",
            "--allow",
            "table-replaced",
            "--format",
            "json",
        ],
    );
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    let json: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(json["changes"][0]["class"], "table-replaced");
    assert_eq!(json["changes"][0]["refused"], false);
    assert_eq!(json["changes"][0]["line"], 28);
}

#[test]
fn a_cold_cache_warns_and_passes() {
    let (dir, spec) = repository();
    fs::write(
        dir.path().join("specs/cachegen.yaml"),
        spec.replace(
            "key: \"drs-quotas#{region}#{account_id}\"",
            "key: \"quotas#{region}#{account_id}\"",
        ),
    )
    .unwrap();
    let out = cachegen(
        dir.path(),
        &["breaking", "specs/cachegen.yaml", "--against", "HEAD"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("warning[key-template-changed]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn against_a_file_a_new_spec_and_an_unknown_revision() {
    let (dir, spec) = repository();
    fs::write(dir.path().join("old.yaml"), &spec).unwrap();
    let same = cachegen(
        dir.path(),
        &["breaking", "specs/cachegen.yaml", "--against", "old.yaml"],
    );
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(
        text(&same.stdout),
        "no change to a live cache since old.yaml\n"
    );

    fs::write(dir.path().join("specs/other.yaml"), &spec).unwrap();
    let new = cachegen(
        dir.path(),
        &["breaking", "specs/other.yaml", "--against", "main"],
    );
    assert_eq!(new.status.code(), Some(0));
    assert!(text(&new.stdout).contains("is new at main: nothing to compare"));

    let unknown = cachegen(
        dir.path(),
        &[
            "breaking",
            "specs/cachegen.yaml",
            "--against",
            "no-such-branch",
        ],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("`no-such-branch` is neither a file nor a git revision")
    );

    let bad_class = cachegen(
        dir.path(),
        &[
            "breaking",
            "specs/cachegen.yaml",
            "--against",
            "main",
            "--allow",
            "everything",
        ],
    );
    assert_eq!(bad_class.status.code(), Some(2));
    assert!(text(&bad_class.stderr).contains("one of: table-replaced"));
}

#[test]
fn a_spec_with_problems_exits_2_on_either_side() {
    let (dir, spec) = repository();
    fs::write(
        dir.path().join("specs/cachegen.yaml"),
        spec.replace("version: 1", "version: 7"),
    )
    .unwrap();
    let out = cachegen(
        dir.path(),
        &["breaking", "specs/cachegen.yaml", "--against", "main"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CG0101"),
        "{}",
        text(&out.stderr)
    );

    fs::write(dir.path().join("specs/cachegen.yaml"), &spec).unwrap();
    fs::write(dir.path().join("old.yaml"), "version: 1\n").unwrap();
    let old = cachegen(
        dir.path(),
        &["breaking", "specs/cachegen.yaml", "--against", "old.yaml"],
    );
    assert_eq!(old.status.code(), Some(2));
    assert!(text(&old.stderr).contains("the earlier spec (old.yaml) does not compile"));
}
