//! What a `build.rs` user compiles: the compiler depends on no AWS SDK, no async runtime
//! and not on the cache runtime; nor on tera, unless its `templates` feature is on.

use std::process::Command;

/// The packages the compiler crate builds with.
fn compiler_dependencies() -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "--package", "cachegen-compiler"])
        .args(["--edges", "normal,build"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_compiler_pulls_in_no_aws_sdk_and_no_tokio() {
    let dependencies = compiler_dependencies();
    for expected in ["cachegen-names", "serde_yaml", "quote"] {
        assert!(
            dependencies.iter().any(|name| name == expected),
            "the tree lacks {expected}: {dependencies:?}"
        );
    }
    let forbidden: Vec<&String> = dependencies
        .iter()
        .filter(|name| {
            name.starts_with("aws-")
                || name.starts_with("aws_")
                || name.starts_with("tokio")
                || *name == "cachegen-runtime"
                || *name == "tera"
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "the compiler crate depends on {forbidden:?}"
    );
}
