//! A spec's Terraform module written under a root module aimed at moto: the provider with
//! dummy credentials, the consumer roles the spec expects to exist, and the module's inputs.

use std::path::Path;

use cachegen_compiler::Project;
use cachegen_compiler::emit::terraform::{self as tf, STACK_NAME};
use cachegen_compiler::ir::{REDIS_SECURITY_GROUPS_PARAMETER, REDIS_SUBNETS_PARAMETER, Role};

use crate::{run, terraform, terraform_plugin_dir, write_files};

/// The stack name the tests' root modules pass in.
pub const STACK: &str = "cachegen-test";

/// Writes `project`'s module under `dir/module`, and a root module calling it as stack
/// `stack` with a provider aimed at `endpoint` (dummy credentials), the consumer roles it
/// needs and `inputs` (such as sync function ARNs).
pub fn root_module(
    dir: &Path,
    project: &Project,
    endpoint: &str,
    stack: &str,
    extra_inputs: &[(String, String)],
) {
    let files: Vec<_> = project
        .files(Some(&[cachegen_compiler::ir::Target::Terraform]))
        .into_iter()
        .map(|mut file| {
            file.path = Path::new("module").join(file.path.strip_prefix(tf::DIR).unwrap());
            file
        })
        .collect();
    write_files(dir, &files);
    let mut roles = String::new();
    let mut inputs = format!("  {STACK_NAME} = \"{stack}\"\n");
    for (parameter, value) in extra_inputs {
        inputs.push_str(&format!("  {} = \"{value}\"\n", tf::variable(parameter)));
    }
    if creates_redis(project) {
        for (parameter, id) in [
            (REDIS_SUBNETS_PARAMETER, "subnet-0123456789abcdef0"),
            (REDIS_SECURITY_GROUPS_PARAMETER, "sg-0123456789abcdef0"),
        ] {
            inputs.push_str(&format!("  {} = [\"{id}\"]\n", tf::variable(parameter)));
        }
    }
    for consumer in &project.model.consumers {
        let (role, input) = match &consumer.role {
            Role::Create => continue,
            Role::Existing(name) => (name.clone(), None),
            Role::Parameter(parameter) => {
                (format!("{}-role", consumer.name), Some((parameter, "name")))
            }
            Role::ArnParameter(parameter) => {
                (format!("{}-role", consumer.name), Some((parameter, "arn")))
            }
        };
        let id = cachegen_compiler::model::terraform_name(&consumer.name);
        roles.push_str(&format!(
            "resource \"aws_iam_role\" \"{id}\" {{\n  name = \"{role}\"\n  assume_role_policy = jsonencode({{ Version = \"2012-10-17\", Statement = [{{ Effect = \"Allow\", Action = \"sts:AssumeRole\", Principal = {{ Service = \"lambda.amazonaws.com\" }} }}] }})\n}}\n\n"
        ));
        if let Some((parameter, attribute)) = input {
            inputs.push_str(&format!(
                "  {} = aws_iam_role.{id}.{attribute}\n",
                tf::variable(parameter)
            ));
        }
    }
    // Provider 5.100 needs skip_credentials_validation (else STS GetCallerIdentity) and
    // skip_requesting_account_id (else IAM GetUser, then STS) to plan with no endpoint;
    // skip_metadata_api_check only keeps it off the EC2 metadata service.
    let root = format!(
        r#"provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
    cloudwatch = "{endpoint}"
    dynamodb   = "{endpoint}"
    elasticache = "{endpoint}"
    iam        = "{endpoint}"
    lambda     = "{endpoint}"
    s3         = "{endpoint}"
    secretsmanager = "{endpoint}"
    sts        = "{endpoint}"
  }}
}}

{roles}module "cache" {{
  source = "./module"
{inputs}}}
"#
    );
    std::fs::write(dir.join("main.tf"), root).unwrap();
}

/// Whether the module creates a Redis (ElastiCache Serverless).
pub fn creates_redis(project: &Project) -> bool {
    let redis = project.model.store.redis();
    redis.is_some_and(|redis| redis.created.is_some())
}

/// `terraform init` of the root module in `dir`, from the offline plugin mirror; `false`
/// (after a loud notice) when terraform is not installed.
pub fn init(dir: &Path) -> bool {
    let Some(mut init) = terraform(dir) else {
        return false;
    };
    init.args(["init", "-backend=false", "-input=false", "-no-color"])
        .arg(format!("-plugin-dir={}", terraform_plugin_dir().display()));
    run(init);
    true
}
