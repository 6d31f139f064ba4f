//! Deploying the CloudFormation template through change sets: the per-table plan that
//! refuses what CloudFormation cannot apply at once (`plan`), the steps an update with
//! several index changes is split into (`steps`), the template's parameters
//! (`parameters`), and what the deployed stack holds (`stack`).
//!
//! The AWS configuration is the SDK's default chain, so `AWS_REGION`, `AWS_PROFILE`
//! and `AWS_ENDPOINT_URL` (for a local endpoint such as moto) apply as usual.

pub mod parameters;
pub mod plan;
pub mod stack;
pub mod steps;

use std::fmt::Write as _;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackStatus, TemplateStage,
};

use cachegen_compiler::limits::TEMPLATE_BODY_INLINE;

/// Why a deploy, a verify, or a read of a deployed stack stopped.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// CloudFormation cannot apply the change in one update.
    #[error("refusing to deploy:\n{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// The change set could not be created.
    #[error("change set {name} failed: {reason}")]
    ChangeSetFailed {
        /// Change set name.
        name: String,
        /// CloudFormation's reason.
        reason: String,
    },
    /// The stack ended in a failed or rolled-back state.
    #[error("stack {stack} ended in {status}: {reason}")]
    StackFailed {
        /// Stack name.
        stack: String,
        /// Final status.
        status: String,
        /// The first failure reason among its events.
        reason: String,
    },
    /// The template is over the size CloudFormation takes inline, and no bucket was given.
    #[error(
        "the template is {size} bytes; CloudFormation takes at most {limit} bytes inline: pass \
         --template-bucket <bucket> to upload it to S3 and deploy it from there"
    )]
    TemplateTooLarge {
        /// The template's size, bytes.
        size: usize,
        /// CloudFormation's limit on `TemplateBody`, bytes.
        limit: usize,
    },
    /// Template parameters without a default were given no value.
    #[error(
        "the template needs a value for {} parameter(s) without a default; pass each as --param NAME=VALUE:\n{}",
        .0.len(),
        .0.iter().map(|parameter| format!("  {parameter}")).collect::<Vec<_>>().join("\n")
    )]
    MissingParameters(Vec<parameters::MissingParameter>),
    /// The stack lacks a resource the spec declares (it was deployed from another spec).
    #[error("stack {stack} has no resource {logical_id}: was it deployed from this spec?")]
    MissingResource {
        /// Stack name.
        stack: String,
        /// The resource's logical ID.
        logical_id: String,
    },
    /// An AWS call failed.
    #[error("{operation}: {message}")]
    Aws {
        /// The API operation.
        operation: &'static str,
        /// The error, with its service message.
        message: String,
    },
}

/// Wraps an AWS SDK error of `operation`, with its chain of causes, as [`DeployError::Aws`].
pub(crate) fn aws<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> DeployError {
    move |err| {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            write!(message, ": {cause}").ok();
            source = cause.source();
        }
        DeployError::Aws { operation, message }
    }
}

/// What [`deploy`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployOutcome {
    /// The stack already matched the template.
    NoChanges,
    /// The change set was created and listed, and left for review.
    Planned {
        /// The change set's name.
        change_set: String,
        /// One line per resource change.
        changes: Vec<String>,
    },
    /// The change set was executed; the stack outputs follow.
    Deployed(Vec<(String, String)>),
}

/// Deploy settings.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// Stack name.
    pub stack: String,
    /// Template parameters (`env=dev`).
    pub parameters: Vec<(String, String)>,
    /// How often to poll CloudFormation.
    pub poll: Duration,
    /// Execute the change set; when false, stop after listing its changes.
    pub execute: bool,
    /// Where the template was uploaded ([`upload_template`]), for a template too large
    /// to send inline; `None` sends it inline.
    pub template_url: Option<String>,
    /// DynamoDB, to wait between the steps of a stepped update until new indexes are
    /// active; `None` relies on CloudFormation's completion alone.
    pub dynamodb: Option<aws_sdk_dynamodb::Client>,
}

/// Uploads `template` to `bucket` for a deploy of `stack`, under a key named after the spec
/// fingerprint (the same template is uploaded to the same key), and returns its URL for
/// `TemplateURL`.
pub async fn upload_template(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    stack: &str,
    fingerprint: &str,
    template: &str,
) -> Result<String, DeployError> {
    let key = format!("cachegen/{stack}/{fingerprint}.yaml");
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(template.as_bytes().to_vec().into())
        .content_type("application/x-yaml")
        .send()
        .await
        .map_err(aws("PutObject"))?;
    let region = s3
        .config()
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    Ok(format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"))
}

/// Fails with every parameter of `template` that has no default and is not in `given`
/// ([`DeployError::MissingParameters`]); [`deploy`] checks this first, before any AWS call.
pub fn check_parameters(template: &str, given: &[(String, String)]) -> Result<(), DeployError> {
    let missing = parameters::missing_parameters(template, given)
        .map_err(aws("reading the template's parameters"))?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DeployError::MissingParameters(missing))
    }
}

/// Deploys `template` (the spec's CloudFormation) as stack `options.stack` through
/// change sets, writing progress lines to `progress` as stack events arrive. A template
/// over [`TEMPLATE_BODY_INLINE`] bytes is deployed from `options.template_url`.
///
/// An update creating or deleting more than one global secondary index on a table is
/// applied in steps ([`steps::steps`]), one index operation per table each, waiting after
/// each for the tables and their indexes to be active. The steps are planned from the
/// deployed template, so running the deploy again after an interruption resumes them.
pub async fn deploy(
    client: &Client,
    template: &str,
    fingerprint: &str,
    options: &DeployOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<DeployOutcome, DeployError> {
    check_parameters(template, &options.parameters)?;
    if template.len() > TEMPLATE_BODY_INLINE && options.template_url.is_none() {
        return Err(DeployError::TemplateTooLarge {
            size: template.len(),
            limit: TEMPLATE_BODY_INLINE,
        });
    }
    let existing = existing_template(client, &options.stack).await?;
    let Some(old) = &existing else {
        let change_set = format!("cachegen-{fingerprint}-{}", epoch_secs());
        return apply(client, template, &change_set, false, options, progress).await;
    };
    let changes =
        plan::table_changes(old, template).map_err(aws("reading the deployed template"))?;
    let refusals: Vec<String> = changes
        .iter()
        .filter_map(plan::TableChange::refusal)
        .collect();
    if !refusals.is_empty() {
        return Err(DeployError::Refused(refusals));
    }
    for line in changes.iter().flat_map(plan::TableChange::describe) {
        progress(&line);
    }
    let steps = steps::steps(old, template).map_err(aws("reading the deployed template"))?;
    if steps.len() > 1 {
        if options.template_url.is_some() {
            return Err(DeployError::Refused(vec![format!(
                "this update takes {} steps (one index operation per table each), and a template deployed from S3 (--template-bucket) is deployed in one: apply the index changes in smaller spec changes",
                steps.len()
            )]));
        }
        for line in describe_steps(&steps) {
            progress(&line);
        }
    }
    let count = steps.len();
    let mut outcome = DeployOutcome::NoChanges;
    for (number, step) in steps.iter().enumerate() {
        let last = number + 1 == count;
        let change_set = if last {
            format!("cachegen-{fingerprint}-{}", epoch_secs())
        } else {
            format!("cachegen-{fingerprint}-step{}-{}", number + 1, epoch_secs())
        };
        let body = if last { template } else { &step.template };
        if count > 1 {
            progress(&format!(
                "step {} of {count}: {}",
                number + 1,
                step.actions.join("; ")
            ));
        }
        outcome = apply(client, body, &change_set, true, options, progress).await?;
        if let DeployOutcome::Planned { .. } = outcome {
            if !last {
                progress(&format!(
                    "step 1 of {count} left for review; deploying applies the steps in order"
                ));
            }
            return Ok(outcome);
        }
        if let (false, Some(dynamodb)) = (last, &options.dynamodb) {
            wait_for_indexes(client, dynamodb, &options.stack, options.poll, progress).await?;
        }
    }
    Ok(outcome)
}

/// The plan of a stepped update, a line per step.
pub fn describe_steps(steps: &[steps::Step]) -> Vec<String> {
    let mut lines = vec![format!(
        "CloudFormation creates or deletes one global secondary index per table per update: this update is applied in {} steps",
        steps.len()
    )];
    lines.extend(
        steps
            .iter()
            .enumerate()
            .map(|(number, step)| format!("  step {}: {}", number + 1, step.actions.join("; "))),
    );
    lines
}

/// Waits until every table of `stack` and each of its indexes is active (an index being
/// created is backfilled after CloudFormation reports the update).
async fn wait_for_indexes(
    client: &Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    stack: &str,
    poll: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<(), DeployError> {
    let resources = client
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("DescribeStackResources"))?;
    let tables: Vec<String> = resources
        .stack_resources()
        .iter()
        .filter(|resource| resource.resource_type() == Some("AWS::DynamoDB::Table"))
        .filter_map(|resource| resource.physical_resource_id().map(str::to_owned))
        .collect();
    for table in tables {
        loop {
            let described = dynamodb
                .describe_table()
                .table_name(&table)
                .send()
                .await
                .map_err(aws("DescribeTable"))?;
            let Some(described) = described.table() else {
                break;
            };
            let active = |status: Option<&aws_sdk_dynamodb::types::IndexStatus>| {
                status.is_none_or(|status| *status == aws_sdk_dynamodb::types::IndexStatus::Active)
            };
            let ready = described.table_status()
                == Some(&aws_sdk_dynamodb::types::TableStatus::Active)
                && described
                    .global_secondary_indexes()
                    .iter()
                    .all(|index| active(index.index_status()));
            if ready {
                break;
            }
            progress(&format!(
                "waiting for table {table} and its indexes to be active"
            ));
            tokio::time::sleep(poll).await;
        }
    }
    Ok(())
}

/// Creates change set `change_set` for `template` (updating the stack when `update`),
/// lists it, and executes it and waits unless `options.execute` is false.
async fn apply(
    client: &Client,
    template: &str,
    change_set: &str,
    update: bool,
    options: &DeployOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<DeployOutcome, DeployError> {
    if !create_change_set(client, template, change_set, update, options).await? {
        return Ok(DeployOutcome::NoChanges);
    }
    progress(&format!("created change set {change_set}"));
    let Some(planned) = list_change_set(client, change_set, options, progress).await? else {
        return Ok(DeployOutcome::NoChanges);
    };
    if !options.execute {
        return Ok(DeployOutcome::Planned {
            change_set: change_set.to_owned(),
            changes: planned,
        });
    }
    execute_change_set(client, change_set, options, progress).await
}

/// Asks CloudFormation for change set `change_set` of `template`; `false` when it refuses
/// one without changes at once.
async fn create_change_set(
    client: &Client,
    template: &str,
    change_set: &str,
    update: bool,
    options: &DeployOptions,
) -> Result<bool, DeployError> {
    let kind = if update {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let inline = options.template_url.is_none() || template.len() <= TEMPLATE_BODY_INLINE;
    let created = client
        .create_change_set()
        .stack_name(&options.stack)
        .change_set_name(change_set)
        .change_set_type(kind)
        .set_template_body(inline.then(|| template.to_owned()))
        .set_template_url((!inline).then(|| options.template_url.clone()).flatten())
        .set_parameters(Some(
            options
                .parameters
                .iter()
                .map(|(key, value)| {
                    Parameter::builder()
                        .parameter_key(key)
                        .parameter_value(value)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await;
    match created {
        Ok(_) => Ok(true),
        // Moto refuses an empty change set outright, where CloudFormation creates it and
        // fails it (handled in `list_change_set`).
        Err(err) if format!("{err:?}").contains("No updates are to be performed") => Ok(false),
        Err(err) => Err(aws("CreateChangeSet")(err)),
    }
}

/// Waits for change set `change_set` to be created, then reports a line per resource
/// change and returns them. `None` when it holds no changes (it is then deleted).
async fn list_change_set(
    client: &Client,
    change_set: &str,
    options: &DeployOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Vec<String>>, DeployError> {
    loop {
        let described = client
            .describe_change_set()
            .stack_name(&options.stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(aws("DescribeChangeSet"))?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let mut planned = Vec::new();
                for change in described.changes() {
                    if let Some(resource) = change.resource_change() {
                        let line = format!(
                            "  {} {} ({}){}",
                            resource.action().map(|a| a.as_str()).unwrap_or("?"),
                            resource.logical_resource_id().unwrap_or_default(),
                            resource.resource_type().unwrap_or_default(),
                            resource
                                .replacement()
                                .map(|r| format!(", replacement: {}", r.as_str()))
                                .unwrap_or_default()
                        );
                        progress(&line);
                        planned.push(line.trim().to_owned());
                    }
                }
                return Ok(Some(planned));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default().to_owned();
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    client
                        .delete_change_set()
                        .stack_name(&options.stack)
                        .change_set_name(change_set)
                        .send()
                        .await
                        .map_err(aws("DeleteChangeSet"))?;
                    return Ok(None);
                }
                return Err(DeployError::ChangeSetFailed {
                    name: change_set.to_owned(),
                    reason,
                });
            }
            _ => tokio::time::sleep(options.poll).await,
        }
    }
}

/// Executes change set `change_set`, waits for the stack to settle, and returns its
/// outputs, or why it failed.
async fn execute_change_set(
    client: &Client,
    change_set: &str,
    options: &DeployOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<DeployOutcome, DeployError> {
    client
        .execute_change_set()
        .stack_name(&options.stack)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(aws("ExecuteChangeSet"))?;
    progress(&format!("executing change set on stack {}", options.stack));
    let status = wait_for_stack(client, &options.stack, options.poll, progress).await?;
    if !is_success(&status) {
        let reason = first_failure(client, &options.stack).await?;
        return Err(DeployError::StackFailed {
            stack: options.stack.clone(),
            status: status.as_str().to_owned(),
            reason,
        });
    }
    let outputs = stack::outputs(client, &options.stack).await?;
    Ok(DeployOutcome::Deployed(outputs))
}

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The template of a deployed stack, or `None` when there is no stack to update.
async fn existing_template(client: &Client, stack: &str) -> Result<Option<String>, DeployError> {
    let stacks = match client.describe_stacks().stack_name(stack).send().await {
        Ok(output) => output.stacks.unwrap_or_default(),
        Err(err)
            if err.to_string().contains("does not exist")
                || format!("{err:?}").contains("does not exist") =>
        {
            return Ok(None);
        }
        Err(err) => return Err(aws("DescribeStacks")(err)),
    };
    let Some(found) = stacks.first() else {
        return Ok(None);
    };
    if found.stack_status() == Some(&StackStatus::ReviewInProgress) {
        return Ok(None);
    }
    let template = client
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(aws("GetTemplate"))?;
    Ok(template.template_body().map(str::to_owned))
}

fn is_success(status: &StackStatus) -> bool {
    matches!(
        status,
        StackStatus::CreateComplete | StackStatus::UpdateComplete
    )
}

fn is_terminal(status: &StackStatus) -> bool {
    let text = status.as_str();
    (text.ends_with("_COMPLETE") || text.ends_with("_FAILED"))
        && !text.ends_with("_CLEANUP_IN_PROGRESS")
}

/// Polls until the stack settles, reporting each new stack event once, oldest first.
async fn wait_for_stack(
    client: &Client,
    stack: &str,
    poll: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<StackStatus, DeployError> {
    let mut seen = std::collections::HashSet::new();
    loop {
        let events = client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws("DescribeStackEvents"))?;
        for event in events.stack_events().iter().rev() {
            if seen.insert(event.event_id().unwrap_or_default().to_owned()) {
                progress(&format!(
                    "  {} {} {}{}",
                    event
                        .resource_status()
                        .map(|s| s.as_str())
                        .unwrap_or_default(),
                    event.logical_resource_id().unwrap_or_default(),
                    event.resource_type().unwrap_or_default(),
                    event
                        .resource_status_reason()
                        .map(|reason| format!(": {reason}"))
                        .unwrap_or_default()
                ));
            }
        }
        let stacks = client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws("DescribeStacks"))?;
        if let Some(status) = stacks.stacks().first().and_then(|s| s.stack_status())
            && is_terminal(status)
        {
            return Ok(status.clone());
        }
        tokio::time::sleep(poll).await;
    }
}

async fn first_failure(client: &Client, stack: &str) -> Result<String, DeployError> {
    let events = client
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("DescribeStackEvents"))?;
    Ok(events
        .stack_events()
        .iter()
        .rev()
        .find(|event| {
            event
                .resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .and_then(|event| event.resource_status_reason())
        .unwrap_or("no reason given")
        .to_owned())
}
