//! Emitters: each turns the [`CacheModel`] into one target's files, and reads nothing else.
//! CloudFormation, SAM and Terraform print one model of the infrastructure, [`resources`].

pub mod cloudformation;
pub mod dashboard;
#[cfg(feature = "templates")]
pub mod docs;
mod hcl;
mod redis;
pub mod resources;
pub mod rust;
pub mod sam;
#[cfg(feature = "templates")]
pub mod templates;
pub mod terraform;
mod yaml;

use std::path::PathBuf;

use serde_json::Value;

use crate::ir::{CacheModel, Target};

/// One file `cachegen build` writes, relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path under the output directory.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

/// Every file of the model's targets (or of `targets`, when given), in a stable order.
pub fn generate(
    model: &CacheModel,
    spec_name: &str,
    targets: Option<&[Target]>,
) -> Vec<GeneratedFile> {
    let targets = targets.unwrap_or(&model.targets);
    let mut files = Vec::new();
    for target in targets {
        match target {
            Target::Cloudformation => files.push(GeneratedFile {
                path: PathBuf::from("cloudformation.yaml"),
                contents: cloudformation::render(model, spec_name),
            }),
            Target::Rust => files.extend(rust::crate_files(
                model,
                spec_name,
                model.rust_runtime_path.as_deref(),
            )),
            Target::Sam => files.push(GeneratedFile {
                path: PathBuf::from("sam.yaml"),
                contents: sam::render(model, spec_name),
            }),
            Target::Terraform => files.extend(terraform::files(model, spec_name)),
        }
    }
    files
}

/// Whether `target` writes the file at `path` (relative to the output directory): its
/// file, or anything in its directory.
pub fn writes(target: Target, path: &str) -> bool {
    match target {
        Target::Cloudformation => path == "cloudformation.yaml",
        Target::Sam => path == "sam.yaml",
        Target::Terraform => path.starts_with("terraform/"),
        Target::Rust => path.starts_with("rust/"),
    }
}

/// A YAML document: a comment header, then `value`.
pub(crate) fn yaml_document(header: &str, value: &Value) -> String {
    format!("{header}{}", yaml::to_string(value))
}
