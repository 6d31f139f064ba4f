//! The SAM template: the CloudFormation resources (tables stay `AWS::DynamoDB::Table`,
//! since `AWS::Serverless::SimpleTable` has no sort keys, GSIs or TTL), the table env vars
//! in `Globals`, and per consumer a managed policy its functions list under `Policies`.

use serde_json::{Map, Value, json};

use super::cloudformation;
use crate::ir::CacheModel;
use crate::model::{Infrastructure, Roles};

/// The SAM transform.
pub const TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// The SAM template, as YAML text.
pub fn render(model: &CacheModel, spec_name: &str) -> String {
    render_template(model, spec_name, &template(model))
}

/// `template` (this module's [`template`] of `model`), as YAML text.
pub(crate) fn render_template(model: &CacheModel, spec_name: &str, template: &Value) -> String {
    super::yaml_document(&header(model, spec_name), template)
}

fn header(model: &CacheModel, spec_name: &str) -> String {
    let infrastructure = Infrastructure::new(model, Roles::SamFunctions);
    let generated = super::generated_line(spec_name);
    let mut header = format!(
        "# {generated}\n\
         # Spec fingerprint: {}\n\
         # Add these resources to your SAM application. Every function gets the table env vars\n\
         # through Globals; give each consumer's functions its policy:\n",
        model.fingerprint
    );
    for resources in &infrastructure.consumers {
        let name = &resources.consumer.name;
        if resources.policies.is_empty() {
            header.push_str(&format!(
                "#   {name}: no cache policy (Redis is reached over the network, not IAM)\n"
            ));
        } else if resources
            .policies
            .iter()
            .all(|policy| policy.attach_to.is_none())
        {
            let references: Vec<String> = resources
                .policies
                .iter()
                .map(|policy| format!("!Ref {}", policy.id.logical_id))
                .collect();
            header.push_str(&format!(
                "#   {name}: Policies: [{}]\n",
                references.join(", ")
            ));
        } else {
            header.push_str(&format!("#   {name}: attached to its existing role\n"));
        }
    }
    if let Some(redis) = &infrastructure.redis {
        header.push_str(&format!(
            "# Functions reach the Redis from inside its VPC: give them VpcConfig (subnets of\n\
             # {}, a security group {} admits on port 6379).\n",
            redis.subnets, redis.security_groups
        ));
    }
    header
}

/// The template as data.
pub fn template(model: &CacheModel) -> Value {
    let infrastructure = Infrastructure::new(model, Roles::SamFunctions);
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), "2010-09-09".into());
    template.insert("Transform".into(), TRANSFORM.into());
    template.insert(
        "Description".into(),
        infrastructure.description.as_str().into(),
    );
    template.insert("Globals".into(), globals(&infrastructure));
    let parameters = cloudformation::parameters(&infrastructure);
    if !parameters.is_empty() {
        template.insert("Parameters".into(), Value::Object(parameters));
    }
    template.insert(
        "Resources".into(),
        Value::Object(cloudformation::resources(&infrastructure)),
    );
    let outputs = cloudformation::outputs(&infrastructure);
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Value::Object(outputs));
    }
    Value::Object(template)
}

/// Every function learns each table's and bucket's name from its env var.
fn globals(infrastructure: &Infrastructure<'_>) -> Value {
    let variables: Map<String, Value> = infrastructure
        .environment
        .iter()
        .map(|(env_var, value)| {
            (
                (*env_var).to_owned(),
                cloudformation::value(infrastructure, value),
            )
        })
        .collect();
    json!({ "Function": { "Environment": { "Variables": variables } } })
}
