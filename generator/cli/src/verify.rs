//! Verifying a deployed stack's tables and document buckets against the spec: what the
//! spec says each must look like once deployed ([`expected_table`], [`expected_bucket`]),
//! compared with what AWS reports ([`verify_stack`]).
//!
//! The AWS configuration is the SDK's default chain, so `AWS_REGION`, `AWS_PROFILE`
//! and `AWS_ENDPOINT_URL` (for a local endpoint such as moto) apply as usual.

use aws_sdk_cloudformation::Client;

use cachegen_compiler::ir::{
    AttributeType, BucketRef, CacheModel, DeployedEncryption, ProjectionType, SyncFunction, Table,
};
use cachegen_runtime::verify::{
    BucketEncryption, ExpectedBucket, ExpectedIndex, ExpectedNotification, ExpectedTable,
    KeyAttribute, Projection, ScalarType, VerifyReport,
};

use crate::deploy::{self, DeployError, aws};

/// Verifies every table of stack `stack`, and every document bucket it creates, against
/// the spec.
pub async fn verify_stack(
    cloudformation: &Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
    model: &CacheModel,
    stack: &str,
) -> Result<VerifyReport, DeployError> {
    let mut report = VerifyReport::default();
    for table in &model.tables {
        let name = deploy::stack::table_name(cloudformation, stack, table).await?;
        let differences =
            cachegen_runtime::verify::verify_dynamo(dynamodb, &name, &expected_table(model, table))
                .await
                .map_err(aws("verifying the table"))?;
        report.extend(&table.name, differences);
    }
    for (reference, bucket) in cachegen_compiler::ir::Ref::each(&model.buckets) {
        if !bucket.created {
            continue; // an existing bucket: the templates set none of what is verified
        }
        let name = deploy::stack::bucket_name(cloudformation, stack, bucket).await?;
        let created_function = match bucket.events.as_ref().map(|events| &events.function) {
            Some(SyncFunction::Created(function)) => Some(
                deploy::stack::function_arn(cloudformation, stack, &function.logical_id).await?,
            ),
            _ => None,
        };
        let expected = expected_bucket(model, &reference, created_function.as_deref());
        let differences = cachegen_runtime::verify::verify_bucket(s3, &name, &expected)
            .await
            .map_err(aws("verifying the bucket"))?;
        report.extend_bucket(&bucket.name, differences);
    }
    Ok(report)
}

/// What the spec says a table must look like once deployed: the compiler's
/// [`DeployedTable`](cachegen_compiler::ir::DeployedTable), which the generated module's
/// `expected()` is printed from too, as the runtime's value.
pub fn expected_table(model: &CacheModel, table: &Table) -> ExpectedTable {
    let deployed = model.deployed_table(table);
    ExpectedTable {
        partition_key: key_attribute(&deployed.partition_key),
        sort_key: deployed.sort_key.as_ref().map(key_attribute),
        indexes: deployed
            .indexes
            .into_iter()
            .map(|index| ExpectedIndex {
                partition_key: key_attribute(&index.partition_key),
                sort_key: index.sort_key.as_ref().map(key_attribute),
                projection: match index.projection {
                    ProjectionType::All => Projection::All,
                    ProjectionType::KeysOnly => Projection::KeysOnly,
                    ProjectionType::Include => Projection::Include,
                },
                name: index.name,
            })
            .collect(),
        ttl_attribute: deployed.ttl_attribute,
        fingerprint: deployed.fingerprint,
    }
}

fn key_attribute(key: &cachegen_compiler::ir::KeyAttribute) -> KeyAttribute {
    let kind = match key.kind {
        AttributeType::S => ScalarType::S,
        AttributeType::N => ScalarType::N,
        AttributeType::B => ScalarType::B,
    };
    KeyAttribute::new(key.name.as_str(), kind)
}

/// What the spec says a bucket the templates create must look like once deployed: the
/// compiler's [`DeployedBucket`](cachegen_compiler::ir::DeployedBucket), as the runtime's
/// value. `function_arn` is the ARN of the sync function the stack created, which the
/// deployment knows and the generated module's `buckets::<name>::expected()` does not:
/// with it, verify also compares a created function's ARN (a function the spec names by
/// ARN is compared either way; a KMS key given by a parameter never is).
pub fn expected_bucket(
    model: &CacheModel,
    reference: &BucketRef,
    function_arn: Option<&str>,
) -> ExpectedBucket {
    let deployed = model.deployed_bucket(reference, function_arn);
    ExpectedBucket {
        encryption: match deployed.encryption {
            DeployedEncryption::S3Managed => BucketEncryption::S3Managed,
            DeployedEncryption::Kms(key) => BucketEncryption::Kms(key),
        },
        versioning: deployed.versioning,
        notifications: deployed
            .notifications
            .into_iter()
            .map(|notification| ExpectedNotification {
                function_arn: notification.function_arn,
                events: notification.events,
                prefix: notification.prefix,
                suffix: notification.suffix,
            })
            .collect(),
        fingerprint: deployed.fingerprint,
    }
}
