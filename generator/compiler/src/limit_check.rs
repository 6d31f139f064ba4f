//! The stage after printing: the model and the printed templates against AWS's
//! documented limits ([`crate::limits`]). What every target declares (tags, projected
//! attributes, alarm actions and names, IAM policies per role, Lambda's environment), and
//! what each CloudFormation or SAM template the build writes holds (its size, resources,
//! parameters, outputs, descriptions, logical IDs).
//!
//! Dashboards and IAM policies are split by the model, so they need no check here; what
//! cannot be split is refused, naming the limit and what to change.

use std::collections::BTreeMap;

use heck::ToPascalCase;
use serde_json::Value as Json;

use crate::diagnostics::Reporter;
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{CacheModel, ProjectionType, Role};
use crate::limits::*;
use crate::model::{Infrastructure, Roles};

/// A CloudFormation or SAM template as the build prints it.
#[derive(Debug)]
pub struct PrintedTemplate {
    /// Its file name, such as `cloudformation.yaml`.
    pub file: &'static str,
    /// The template.
    pub template: Json,
    /// Its size as written, bytes.
    pub size: usize,
}

/// Checks `model`, and the `printed` templates of the targets the build writes, against
/// AWS's limits, reporting what breaks one to `report`; returns what the build should say
/// without refusing it.
pub fn check(
    report: &mut Reporter<'_>,
    model: &CacheModel,
    printed: &[PrintedTemplate],
) -> Vec<String> {
    let mut check = LimitCheck { report };
    let infrastructure = Infrastructure::new(model, Roles::Created);
    check.tags_per_resource(model);
    check.projected_attributes(model);
    check.alarms_within_limits(&infrastructure);
    check.dashboard_names(&infrastructure);
    check.role_policies(&infrastructure);
    check.lambda_environment(&infrastructure);
    let mut notes = Vec::new();
    for PrintedTemplate {
        file,
        template,
        size,
    } in printed
    {
        check.template_limits(model, file, template, *size);
        if *size > TEMPLATE_BODY_INLINE && *size <= TEMPLATE_BODY_S3 {
            notes.push(format!(
                "{file} is {} bytes, over the {} bytes CloudFormation takes inline: deploy it \
                 from S3 (`cachegen deploy --template-bucket <bucket>`)",
                thousands(*size),
                thousands(TEMPLATE_BODY_INLINE)
            ));
        }
    }
    notes
}

/// Where problems go while the checks run.
struct LimitCheck<'r, 'a> {
    report: &'r mut Reporter<'a>,
}

impl LimitCheck<'_, '_> {
    /// A template's size, counts, description, parameter values and logical IDs.
    fn template_limits(&mut self, model: &CacheModel, file: &str, template: &Json, size: usize) {
        self.template_size(file, size);
        self.template_counts(model, file, template);
        self.description_and_parameter_values(model);
        self.logical_ids(model, template);
    }

    /// The template's size in bytes.
    fn template_size(&mut self, file: &str, size: usize) {
        let data_types = NodePath::parse("data_types");
        if size > TEMPLATE_BODY_S3 {
            self.report.key_error(
                codes::TEMPLATE_SIZE,
                &data_types,
                format!(
                    "{file} would be {} bytes; CloudFormation accepts a template of at most {} \
                     bytes (uploaded to S3; {} bytes inline)",
                    thousands(size),
                    thousands(TEMPLATE_BODY_S3),
                    thousands(TEMPLATE_BODY_INLINE)
                ),
                "each data type adds a row of dashboard widgets to the template: split the data \
                 types into several specs, each deployed as its own stack, or write only \
                 Terraform (`outputs: { targets: [terraform] }`), which has no template size limit",
            );
        }
    }

    /// How many resources, parameters and outputs the template declares.
    fn template_counts(&mut self, model: &CacheModel, file: &str, template: &Json) {
        let count = |section: &str| template[section].as_object().map_or(0, |map| map.len());
        let resources = count("Resources");
        if resources > TEMPLATE_RESOURCES {
            let (path, what) = self.largest_resource_section(template);
            self.report.key_error(
                codes::TEMPLATE_RESOURCES,
                &path,
                format!(
                    "{file} would declare {resources} resources, most of them for {what}; \
                     CloudFormation accepts {TEMPLATE_RESOURCES} in one template"
                ),
                "split the spec into several, each deployed as its own stack",
            );
        }
        let parameters = count("Parameters");
        if parameters > TEMPLATE_PARAMETERS {
            let spec_parameters = model.parameters.len();
            let path = if spec_parameters * 2 >= parameters {
                "parameters"
            } else {
                "consumers"
            };
            self.report.key_error(
                codes::TEMPLATE_PARAMETERS,
                &NodePath::parse(path),
                format!(
                    "{file} would declare {parameters} parameters ({spec_parameters} from \
                     `parameters`, the rest one per consumer role passed in); CloudFormation \
                     accepts {TEMPLATE_PARAMETERS} in one template"
                ),
                "let consumers share a role, name roles with `role: { existing: <name> }`, or \
                 drop parameters",
            );
        }
        let outputs = count("Outputs");
        if outputs > TEMPLATE_OUTPUTS {
            let (path, what) = self.largest_output_section(model);
            self.report.key_error(
                codes::TEMPLATE_OUTPUTS,
                &path,
                format!(
                    "{file} would declare {outputs} outputs, most of them for {what}; \
                     CloudFormation accepts {TEMPLATE_OUTPUTS} in one template"
                ),
                "split the spec into several, each deployed as its own stack",
            );
        }
        debug_assert!(count("Mappings") <= TEMPLATE_MAPPINGS);
    }

    /// The template description and each parameter value.
    fn description_and_parameter_values(&mut self, model: &CacheModel) {
        if let Some(description) = &model.description
            && description.len() > TEMPLATE_DESCRIPTION
        {
            self.report.error(
                codes::DESCRIPTION_SIZE,
                &NodePath::parse("description"),
                format!(
                    "the description is {} bytes; CloudFormation accepts a template description \
                     of at most {TEMPLATE_DESCRIPTION}",
                    description.len()
                ),
                "shorten it; the docs page (`cachegen docs`) is the place for more",
            );
        }
        for parameter in &model.parameters {
            let path = NodePath::parse("parameters").key(parameter.name.as_str());
            let values = parameter
                .default
                .iter()
                .map(|value| (path.key("default"), value))
                .chain(
                    parameter
                        .allowed
                        .iter()
                        .enumerate()
                        .map(|(index, value)| (path.key("allowed").index(index), value)),
                );
            for (path, value) in values {
                if value.len() > PARAMETER_VALUE {
                    self.report.error(
                        codes::PARAMETER_VALUE_SIZE,
                        &path,
                        format!(
                            "this value of parameter `{}` is {} bytes; CloudFormation accepts a \
                             parameter value of at most {PARAMETER_VALUE}",
                            parameter.name,
                            value.len()
                        ),
                        "shorten it",
                    );
                }
            }
        }
    }

    /// Each resource's and output's logical ID.
    fn logical_ids(&mut self, model: &CacheModel, template: &Json) {
        let ids = ["Resources", "Outputs"]
            .iter()
            .filter_map(|section| template[section].as_object())
            .flat_map(|map| map.keys());
        for id in ids.filter(|id| id.len() > LOGICAL_ID) {
            let path = self.named_by(model, id);
            self.report.key_error(
                codes::NAME_LENGTH,
                &path,
                format!(
                    "this name makes the logical ID `{id}`, {} characters long; CloudFormation \
                     accepts {LOGICAL_ID}",
                    id.len()
                ),
                "shorten the name",
            );
        }
    }

    /// The spec section that makes the most resources of `template`, and what they are.
    fn largest_resource_section(&self, template: &Json) -> (NodePath, &'static str) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for resource in template["Resources"].as_object().into_iter().flatten() {
            let section = match resource.1["Type"].as_str().unwrap_or_default() {
                "AWS::DynamoDB::Table" => "tables",
                "AWS::S3::Bucket" | "AWS::S3::BucketPolicy" | "AWS::Lambda::Permission" => {
                    "buckets"
                }
                "AWS::IAM::Role" | "AWS::IAM::ManagedPolicy" => "consumers",
                "AWS::CloudWatch::Alarm" => "alarms",
                _ => "data_types",
            };
            *counts.entry(section).or_default() += 1;
        }
        let section = counts
            .into_iter()
            .max_by_key(|(_, count)| *count)
            .map_or("data_types", |(section, _)| section);
        let what = match section {
            "tables" => "tables",
            "buckets" => "buckets",
            "consumers" => "consumers' roles and policies",
            "alarms" => "alarms",
            _ => "dashboards of data types",
        };
        (NodePath::parse(section), what)
    }

    /// The spec section that makes the most outputs, and what they are.
    fn largest_output_section(&self, model: &CacheModel) -> (NodePath, &'static str) {
        let tables = 2 * model.tables.len();
        let buckets = model.buckets.len();
        let infrastructure = Infrastructure::new(model, Roles::Created);
        let consumers: usize = infrastructure
            .consumers
            .iter()
            .map(|consumer| consumer.policies.len() + usize::from(consumer.role.is_some()))
            .sum();
        let (section, what) = [
            (tables, "tables", "tables' names and ARNs"),
            (buckets, "buckets", "buckets' names"),
            (consumers, "consumers", "consumers' policies and roles"),
        ]
        .into_iter()
        .max_by_key(|(count, ..)| *count)
        .map(|(_, section, what)| (section, what))
        .expect("three sections");
        (NodePath::parse(section), what)
    }

    /// The spec name a logical ID is made from: the table, bucket, consumer or alarm whose
    /// PascalCase name is the longest start of it.
    fn named_by(&self, model: &CacheModel, id: &str) -> NodePath {
        let names = model
            .tables
            .iter()
            .map(|table| ("tables", &table.name))
            .chain(model.buckets.iter().map(|bucket| ("buckets", &bucket.name)))
            .chain(
                model
                    .consumers
                    .iter()
                    .map(|consumer| ("consumers", &consumer.name)),
            )
            .chain(model.alarms.iter().map(|alarm| ("alarms", &alarm.name)));
        names
            .filter(|(_, name)| id.starts_with(&name.to_pascal_case()))
            .max_by_key(|(_, name)| name.len())
            .map_or_else(
                || NodePath::parse("service"),
                |(section, name)| NodePath::parse(section).key(name.as_str()),
            )
    }

    /// Tags on each table and bucket, the fingerprint tag included.
    fn tags_per_resource(&mut self, model: &CacheModel) {
        let tagged = model
            .tables
            .iter()
            .map(|table| ("tables", "table", &table.name, table.tags.len()))
            .chain(
                model
                    .buckets
                    .iter()
                    .filter(|bucket| bucket.created)
                    .map(|bucket| ("buckets", "bucket", &bucket.name, bucket.tags.len())),
            );
        for (section, kind, name, count) in tagged.collect::<Vec<_>>() {
            let count = count + 1;
            if count > RESOURCE_TAGS {
                let own = NodePath::parse(section).key(name.as_str()).key("tags");
                let path = if self.report.map().get(&own).is_some() {
                    own
                } else {
                    NodePath::parse("defaults.tags")
                };
                self.report.key_error(
                    codes::TOO_MANY_TAGS,
                    &path,
                    format!(
                        "{kind} `{name}` would carry {count} tags (with `defaults.tags` and \
                         cachegen's fingerprint tag); AWS accepts {RESOURCE_TAGS} on one {kind}"
                    ),
                    format!("keep to {} tags of your own", RESOURCE_TAGS - 1),
                );
            }
        }
    }

    /// Non-key attributes projected into each table's indexes, together.
    fn projected_attributes(&mut self, model: &CacheModel) {
        for table in &model.tables {
            let projected: usize = table
                .indexes
                .iter()
                .filter(|index| index.projection == ProjectionType::Include)
                .map(|index| index.projected_attributes.len())
                .sum();
            if projected > PROJECTED_ATTRIBUTES {
                self.report.key_error(
                    codes::PROJECTED_ATTRIBUTES,
                    &NodePath::parse("tables")
                        .key(table.name.as_str())
                        .key("indexes"),
                    format!(
                        "table `{}` projects {projected} non-key attributes into its indexes; \
                         DynamoDB accepts {PROJECTED_ATTRIBUTES} across a table's indexes (an \
                         attribute in two indexes counts twice)",
                        table.name
                    ),
                    "project fewer attributes, or use `projection: all` on an index that needs \
                     most of them",
                );
            }
        }
    }

    /// Each alarm's actions, description and name.
    fn alarms_within_limits(&mut self, infrastructure: &Infrastructure<'_>) {
        for resource in &infrastructure.alarms {
            let alarm = resource.alarm;
            let path = NodePath::parse("alarms").key(alarm.name.as_str());
            if alarm.actions.len() > ALARM_ACTIONS {
                self.report.key_error(
                    codes::ALARM_ACTIONS,
                    &path.key("actions"),
                    format!(
                        "alarm `{}` has {} actions; CloudWatch accepts {ALARM_ACTIONS}",
                        alarm.name,
                        alarm.actions.len()
                    ),
                    "send the alarm to one SNS topic and subscribe the rest to it",
                );
            }
            if alarm.description.chars().count() > ALARM_DESCRIPTION {
                self.report.error(
                    codes::DESCRIPTION_SIZE,
                    &path.key("description"),
                    format!(
                        "the description of alarm `{}` is {} characters; CloudWatch accepts \
                         {ALARM_DESCRIPTION}",
                        alarm.name,
                        alarm.description.chars().count()
                    ),
                    "shorten it",
                );
            }
            let name = infrastructure.max_len(&resource.name);
            if name > ALARM_NAME {
                self.report.key_error(
                    codes::NAME_LENGTH,
                    &path,
                    format!(
                        "alarm `{}` is named `<stack>-{}`, up to {name} characters with a stack \
                         name of {STACK_NAME}; CloudWatch accepts {ALARM_NAME}",
                        alarm.name, alarm.name
                    ),
                    "shorten the alarm's name",
                );
            }
        }
    }

    /// Each dashboard's name, with the longest stack name.
    fn dashboard_names(&mut self, infrastructure: &Infrastructure<'_>) {
        for dashboard in &infrastructure.dashboards {
            let length = infrastructure.max_len(&dashboard.name);
            // Only a table's name lengthens a dashboard's (a Redis store's is `<stack>-cache`).
            if let (true, Some(table)) =
                (length > DASHBOARD_NAME, dashboard.contents.tables.first())
            {
                let table = &table.name;
                self.report.key_error(
                    codes::NAME_LENGTH,
                    &NodePath::parse("tables").key(table.as_str()),
                    format!(
                        "table `{table}` names a dashboard of up to {length} characters with a \
                         stack name of {STACK_NAME}; CloudWatch accepts {DASHBOARD_NAME}"
                    ),
                    "shorten the table's name",
                );
            }
        }
    }

    /// The managed policies each consumer's role gets: its cache policy's parts, and
    /// AWSLambdaBasicExecutionRole on a role cachegen (or SAM) creates.
    fn role_policies(&mut self, infrastructure: &Infrastructure<'_>) {
        for resources in &infrastructure.consumers {
            let consumer = resources.consumer;
            let created = usize::from(consumer.role == Role::Create);
            let attached = resources.policies.len() + created;
            if attached > ROLE_MANAGED_POLICIES {
                self.report.key_error(
                    codes::ROLE_POLICIES,
                    &NodePath::parse("consumers")
                        .key(consumer.name.as_str())
                        .key("access"),
                    format!(
                        "consumer `{}` needs {} cache policies to keep each within IAM's {} \
                         characters{}; a role may have {ROLE_MANAGED_POLICIES} managed policies \
                         attached",
                        consumer.name,
                        resources.policies.len(),
                        thousands(MANAGED_POLICY_SIZE),
                        if created == 1 {
                            ", besides AWSLambdaBasicExecutionRole"
                        } else {
                            ""
                        }
                    ),
                    "split its access between consumers with roles of their own, or give the \
                     parameters in table names `allowed` values, so their longest length is known",
                );
            }
        }
    }

    /// Every table's and bucket's env var with its value at its longest: what each consumer
    /// function must be given.
    fn lambda_environment(&mut self, infrastructure: &Infrastructure<'_>) {
        let size: usize = infrastructure
            .environment
            .iter()
            .map(|(name, value)| name.len() + infrastructure.max_len(value))
            .sum();
        if size > LAMBDA_ENVIRONMENT {
            self.report.key_error(
                codes::LAMBDA_ENVIRONMENT,
                &NodePath::parse("tables"),
                format!(
                    "the env vars naming every table and bucket come to {} bytes with their \
                     longest names; Lambda accepts {} bytes of environment variables per function",
                    thousands(size),
                    thousands(LAMBDA_ENVIRONMENT)
                ),
                "use fewer tables and buckets, shorter `env_var` names, or give the parameters \
                 in their names `allowed` values, so their longest length is known",
            );
        }
    }
}

/// `1234567` as `1,234,567`.
fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(51_200), "51,200");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
