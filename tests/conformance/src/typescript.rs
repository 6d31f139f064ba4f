//! The TypeScript module of `templates/typescript.ts.tera`, rendered over a case's model,
//! builds the keys, tags and key prefixes the generated Rust module built for the driver.

use cachegen_compiler::Project;
use cachegen_compiler::diagnostics::SourceFile;
use cachegen_tests::typescript::{PARTS, build_keys};
use serde_json::Value;

use crate::Finding;

/// Where the TypeScript module differs from the Rust one over `cases`.
pub fn differences(project: &Project, cases: &[Value]) -> Vec<Finding> {
    let failed = |subject: &str, detail: String| Finding {
        subject: subject.to_owned(),
        step: "TypeScript key builders".to_owned(),
        detail,
    };
    let template = cachegen_tests::workspace_root().join("templates/typescript.ts.tera");
    let text = match std::fs::read_to_string(&template) {
        Ok(text) => text,
        Err(err) => return vec![failed("*", format!("{}: {err}", template.display()))],
    };
    let source = SourceFile::new(template.display().to_string(), text);
    let module = match cachegen_compiler::emit::templates::render(
        &project.model,
        &project.spec_name(),
        &source,
    ) {
        Ok(module) => module,
        Err(err) => return vec![failed("*", format!("rendering: {err}"))],
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => return vec![failed("*", err.to_string())],
    };
    let path = dir.path().join("cache.ts");
    if let Err(err) = std::fs::write(&path, module) {
        return vec![failed("*", err.to_string())];
    }
    let built = match build_keys(&path, cases) {
        Ok(built) => built,
        Err(problem) => return vec![failed("*", problem)],
    };
    let mut findings = Vec::new();
    for (case, built) in cases.iter().zip(&built) {
        for part in PARTS {
            if built[part] != case[part] {
                findings.push(failed(
                    case["data_type"].as_str().unwrap_or("*"),
                    format!(
                        "{part} with {}: TypeScript builds {}, Rust {}",
                        case["params"], built[part], case[part]
                    ),
                ));
            }
        }
    }
    findings
}
