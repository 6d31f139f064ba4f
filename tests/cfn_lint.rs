//! Every generated CloudFormation and SAM template passes `cfn-lint` with no error and no
//! warning (cfn-lint expands SAM with aws-sam-translator first).

use std::path::{Path, PathBuf};
use std::process::Output;

use cachegen_tests::{examples, tool};

/// Runs cfn-lint once over `paths`. Its exit code is a bit field: 2 errors, 4 warnings,
/// 8 informational; 0 means clean.
fn cfn_lint(paths: &[PathBuf]) -> Output {
    tool("cfn-lint").arg("--").args(paths).output().unwrap()
}

fn report(output: &Output) -> String {
    format!(
        "cfn-lint exit {:?}\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Writes every example's YAML templates under `dir`, returning their paths.
fn write_templates(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (name, project) in examples() {
        for file in project.files(None) {
            if file.path.extension().is_some_and(|ext| ext == "yaml") {
                let path = dir.join(&name).join(&file.path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &file.contents).unwrap();
                paths.push(path);
            }
        }
    }
    paths
}

#[test]
fn every_example_template_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_templates(dir.path());
    let sam = paths
        .iter()
        .filter(|path| path.ends_with("sam.yaml"))
        .count();
    assert!(
        paths.len() >= 10 && sam >= 5,
        "only {} templates found, {sam} of them SAM",
        paths.len()
    );
    let output = cfn_lint(&paths);
    assert!(output.status.success(), "{}", report(&output));
}

#[test]
fn cfn_lint_catches_a_defect_in_a_generated_template() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_templates(dir.path()).remove(0);
    let template = std::fs::read_to_string(&path).unwrap();
    // An attribute definition no key uses: DynamoDB rejects the table (cfn-lint E3039).
    let broken = template.replacen(
        "      AttributeDefinitions:\n",
        "      AttributeDefinitions:\n      - AttributeName: unused\n        AttributeType: S\n",
        1,
    );
    assert_ne!(broken, template);
    std::fs::write(&path, broken).unwrap();
    let output = cfn_lint(&[path]);
    assert_eq!(output.status.code(), Some(2), "{}", report(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("E3039"),
        "{}",
        report(&output)
    );
}
