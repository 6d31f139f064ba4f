//! What a deployed CloudFormation stack holds: the physical names of the resources the
//! spec declares (tables, buckets, functions), and the stack's outputs. `verify`,
//! `backfill` and `query` find the deployed cache through these, and `deploy` prints the
//! outputs when done.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::Stack;

use cachegen_compiler::ir::{Bucket, Table};

use super::{DeployError, aws};

/// The physical ID of resource `logical_id` in stack `stack` (a table's or bucket's name).
pub async fn physical_id(
    client: &Client,
    stack: &str,
    logical_id: &str,
) -> Result<String, DeployError> {
    let resources = client
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("DescribeStackResources"))?;
    resources
        .stack_resources()
        .iter()
        .find(|resource| resource.logical_resource_id() == Some(logical_id))
        .and_then(|resource| resource.physical_resource_id())
        .map(str::to_owned)
        .ok_or_else(|| DeployError::MissingResource {
            stack: stack.to_owned(),
            logical_id: logical_id.to_owned(),
        })
}

/// The physical name of the table `table` in stack `stack`.
pub async fn table_name(
    client: &Client,
    stack: &str,
    table: &Table,
) -> Result<String, DeployError> {
    physical_id(client, stack, &table.logical_id).await
}

/// The physical name of the bucket `bucket` in stack `stack`.
pub async fn bucket_name(
    client: &Client,
    stack: &str,
    bucket: &Bucket,
) -> Result<String, DeployError> {
    physical_id(client, stack, &bucket.logical_id).await
}

/// The ARN of the Lambda function `logical_id` of stack `stack`: its physical ID is its
/// name, and the stack's ARN gives the partition, region and account it is in.
pub async fn function_arn(
    client: &Client,
    stack: &str,
    logical_id: &str,
) -> Result<String, DeployError> {
    let name = physical_id(client, stack, logical_id).await?;
    let described = describe(client, stack).await?;
    let stack_arn = described
        .as_ref()
        .and_then(|found| found.stack_id())
        .unwrap_or_default();
    // `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`
    match stack_arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, _, region, account, ..] => Ok(format!(
            "arn:{partition}:lambda:{region}:{account}:function:{name}"
        )),
        _ => Err(DeployError::MissingResource {
            stack: stack.to_owned(),
            logical_id: logical_id.to_owned(),
        }),
    }
}

/// A stack's outputs, as `(key, value)` pairs.
pub async fn outputs(client: &Client, stack: &str) -> Result<Vec<(String, String)>, DeployError> {
    Ok(describe(client, stack)
        .await?
        .map(|found| {
            found
                .outputs()
                .iter()
                .map(|output| {
                    (
                        output.output_key().unwrap_or_default().to_owned(),
                        output.output_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The stack as `DescribeStacks` reports it, if it exists.
async fn describe(client: &Client, stack: &str) -> Result<Option<Stack>, DeployError> {
    let stacks = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("DescribeStacks"))?;
    Ok(stacks.stacks().first().cloned())
}
