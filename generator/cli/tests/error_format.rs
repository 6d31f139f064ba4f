//! `--error-format github`: every command that reads a spec reports its problems as GitHub
//! Actions annotations on standard output, besides the usual report on standard error.

mod support;

use std::fs;

use support::cachegen;

const BROKEN: &str = "version: 1\nservice: demo\ntables:\n  cache:\n    name: demo-cache\n    ttl_atribute: ttl\ndata_types:\n  user: { key: \"u#{id}\", params: { id: string }, value: { fields: { name: string } } }\n";

#[test]
fn every_command_reading_a_spec_annotates_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("cache.yaml"), BROKEN).unwrap();
    fs::write(dir.path().join("old.yaml"), BROKEN).unwrap();
    let commands: [&[&str]; 10] = [
        &["build"],
        &["check"],
        &["diff"],
        &["ir"],
        &["docs", "--out", "-"],
        &["cost"],
        &["breaking", "--against", "old.yaml"],
        &["deploy", "--stack", "s"],
        &["verify", "--stack", "s"],
        &["query", "--data-type", "user", "--index", "i", "--key", "k"],
    ];
    for command in commands {
        let mut args = vec!["--error-format", "github"];
        args.extend_from_slice(command);
        let out = cachegen(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{command:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout,
            "::error file=cache.yaml,line=6,col=5,title=CG0007::unknown field `ttl_atribute` in `tables.cache`%0Ahelp: did you mean `ttl_attribute`?\n",
            "{command:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error[CG0007]"), "{command:?}: {stderr}");
        assert!(!fs::exists(dir.path().join("generated")).unwrap());
    }
    let human = cachegen(dir.path(), &["check"]);
    assert_eq!(human.status.code(), Some(2));
    assert!(
        human.stdout.is_empty(),
        "no annotation without --error-format github"
    );
}
