//! AWS's documented limits on what the outputs declare, each with where it is documented.
//!
//! Validation refuses a spec whose outputs would break one of them (see
//! `limit_check`); the model splits what can be split (dashboards, IAM policies)
//! so that each piece stays within them. Names whose length is only known at deploy time
//! are measured at their longest ([`max_len`]), so a template that passes here cannot be
//! refused later for a longer parameter value.

use crate::ir::{NamePart, NameTemplate, Parameter};

// CloudFormation, "Understand CloudFormation quotas"
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).

/// Template body size in a `CreateStack`/`CreateChangeSet` request (`TemplateBody`), bytes.
pub const TEMPLATE_BODY_INLINE: usize = 51_200;
/// Template body size in an Amazon S3 object (`TemplateURL`): "1 MB", which cfn-lint
/// (rule E1002) and CloudFormation count as 1,000,000 bytes.
pub const TEMPLATE_BODY_S3: usize = 1_000_000;
/// Resources declared in one template.
pub const TEMPLATE_RESOURCES: usize = 500;
/// Parameters declared in one template.
pub const TEMPLATE_PARAMETERS: usize = 200;
/// Outputs declared in one template.
pub const TEMPLATE_OUTPUTS: usize = 200;
/// Mappings declared in one template (cachegen writes none).
pub const TEMPLATE_MAPPINGS: usize = 200;
/// Template description, bytes.
pub const TEMPLATE_DESCRIPTION: usize = 1_024;
/// A parameter value (a default or an allowed value), bytes.
pub const PARAMETER_VALUE: usize = 4_096;
/// A resource's or an output's logical ID, characters.
pub const LOGICAL_ID: usize = 255;
/// A stack name, characters: the prefix of alarm, dashboard and policy names.
pub const STACK_NAME: usize = 128;

// CloudWatch, "CloudWatch service quotas"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html),
// and "Dashboard Body Structure and Syntax" for the widget count
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
// No size of a dashboard body is documented; the body counts towards the template size.

/// Widgets on one dashboard.
pub const DASHBOARD_WIDGETS: usize = 500;
/// Metrics on one dashboard, across its widgets, including those only read by metric math.
pub const DASHBOARD_METRICS: usize = 2_500;
/// Metrics in one dashboard widget.
pub const WIDGET_METRICS: usize = 500;
/// Metrics an alarm on a metric math expression may read.
pub const ALARM_METRICS: usize = 10;
/// Actions of one alarm state (`AlarmActions`).
pub const ALARM_ACTIONS: usize = 5;
/// An alarm's name, characters (`PutMetricAlarm`, `AlarmName`).
pub const ALARM_NAME: usize = 255;
/// An alarm's description, characters (`PutMetricAlarm`, `AlarmDescription`).
pub const ALARM_DESCRIPTION: usize = 1_024;
/// A dashboard's name, characters (`PutDashboard`, `DashboardName`).
pub const DASHBOARD_NAME: usize = 255;

// IAM, "IAM and AWS STS quotas"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).

/// A customer managed policy document, characters; IAM does not count white space.
pub const MANAGED_POLICY_SIZE: usize = 6_144;
/// Managed policies attached to one role: the default quota (it can be raised to 20 on
/// request; cachegen keeps to the default, which every account has).
pub const ROLE_MANAGED_POLICIES: usize = 10;

// DynamoDB, "Quotas in Amazon DynamoDB"
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).

/// Global secondary indexes per table (the default quota; `CreateTable` says the same).
pub const TABLE_INDEXES: usize = 20;
/// Non-key attributes projected into all of a table's secondary indexes together, an
/// attribute projected into two indexes counting twice (`CreateTable`,
/// `NonKeyAttributes`).
pub const PROJECTED_ATTRIBUTES: usize = 100;
/// A table's name, characters.
pub const TABLE_NAME: usize = 255;
/// Tags on one table ("Tagging for DynamoDB"); S3 allows the same number on a bucket
/// ("Using cost allocation S3 bucket tags").
pub const RESOURCE_TAGS: usize = 50;

// S3, "General purpose bucket naming rules"
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).

/// A bucket's name, characters.
pub const BUCKET_NAME: usize = 63;

// Lambda, "Lambda quotas" (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).

/// All of a function's environment variables together (names and values), bytes.
pub const LAMBDA_ENVIRONMENT: usize = 4_096;
/// A function's name, characters.
pub const FUNCTION_NAME: usize = 64;

// Deploy-time names, at their longest.

/// The longest region code there is today is 14 characters (`ap-southeast-5`); this
/// leaves room for longer ones.
pub const REGION: usize = 20;
/// The longest partition there is today is `aws-us-gov` (10 characters).
pub const PARTITION: usize = 16;
/// An account ID: 12 digits.
pub const ACCOUNT_ID: usize = 12;

/// The longest a name made from `template` can be once deployed, given that no such name
/// may be longer than `ceiling`: a parameter with allowed values counts as its longest,
/// one without as `ceiling` (the deployer may pass anything), the stack name as
/// [`STACK_NAME`].
pub fn max_len(template: &NameTemplate, parameters: &[Parameter], ceiling: usize) -> usize {
    let total: usize = template
        .0
        .iter()
        .map(|part| match part {
            NamePart::Literal(text) => text.len(),
            NamePart::Parameter(name) => parameters
                .iter()
                .find(|parameter| &parameter.name == name)
                .and_then(|parameter| parameter.allowed.iter().map(String::len).max())
                .unwrap_or(ceiling),
            NamePart::StackName => STACK_NAME,
            NamePart::Region => REGION,
            NamePart::AccountId => ACCOUNT_ID,
        })
        .sum();
    total.min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_names_at_their_longest() {
        let parameters = [
            Parameter {
                name: "env".into(),
                default: Some("dev".into()),
                allowed: vec!["dev".into(), "staging".into()],
                description: None,
            },
            Parameter {
                name: "free".into(),
                default: Some("x".into()),
                allowed: Vec::new(),
                description: None,
            },
        ];
        let name = |parts: Vec<NamePart>| NameTemplate(parts);
        let literal = |text: &str| NamePart::Literal(text.into());
        assert_eq!(
            max_len(
                &name(vec![literal("cache-"), NamePart::Parameter("env".into())]),
                &parameters,
                TABLE_NAME
            ),
            "cache-staging".len()
        );
        assert_eq!(
            max_len(
                &name(vec![literal("a-"), NamePart::Parameter("free".into())]),
                &parameters,
                TABLE_NAME
            ),
            TABLE_NAME,
            "a parameter without allowed values may fill the name"
        );
        assert_eq!(
            max_len(
                &name(vec![NamePart::StackName, literal("-x")]),
                &parameters,
                TABLE_NAME
            ),
            STACK_NAME + 2
        );
    }
}
