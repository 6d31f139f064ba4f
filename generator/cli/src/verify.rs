//! Verifying a deployed stack's tables and document buckets against the spec: what the
//! spec says each must look like once deployed ([`expected_table`], [`expected_bucket`]),
//! compared with what AWS reports ([`verify_stack`]).
//!
//! The AWS configuration is the SDK's default chain, so `AWS_REGION`, `AWS_PROFILE`
//! and `AWS_ENDPOINT_URL` (for a local endpoint such as moto) apply as usual.

use aws_sdk_cloudformation::Client;

use cachegen_compiler::ir::{BucketRef, CacheModel, SyncFunction, Table};
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

/// What the spec says a table must look like once deployed (the same description the
/// generated module's `expected()` returns).
pub fn expected_table(model: &CacheModel, table: &Table) -> ExpectedTable {
    let key = |attribute: &cachegen_compiler::ir::KeyAttribute| {
        KeyAttribute::new(
            attribute.name.as_str(),
            match attribute.kind {
                cachegen_compiler::ir::AttributeType::S => ScalarType::S,
                cachegen_compiler::ir::AttributeType::N => ScalarType::N,
                cachegen_compiler::ir::AttributeType::B => ScalarType::B,
            },
        )
    };
    ExpectedTable {
        partition_key: key(&table.partition_key),
        sort_key: table.sort_key.as_ref().map(key),
        indexes: table
            .indexes
            .iter()
            .map(|index| ExpectedIndex {
                name: index.name.clone(),
                partition_key: key(&index.partition_key),
                sort_key: index.sort_key.as_ref().map(key),
                projection: match index.projection {
                    cachegen_compiler::ir::ProjectionType::All => Projection::All,
                    cachegen_compiler::ir::ProjectionType::KeysOnly => Projection::KeysOnly,
                    cachegen_compiler::ir::ProjectionType::Include => Projection::Include,
                },
            })
            .collect(),
        ttl_attribute: table.ttl_attribute.clone(),
        fingerprint: model.fingerprint.clone(),
    }
}

/// What the spec says a bucket the templates create must look like once deployed (the
/// same description the generated module's `buckets::<name>::expected()` returns). Its
/// notifications name the sync function's ARN when the spec writes it out, else
/// `function_arn`, when the deployment knows it (a function the stack created). A KMS key
/// or function known to neither is not compared.
pub fn expected_bucket(
    model: &CacheModel,
    reference: &BucketRef,
    function_arn: Option<&str>,
) -> ExpectedBucket {
    let bucket = model.bucket(reference);
    let notifications = match &bucket.events {
        None => Vec::new(),
        Some(events) => model
            .documents_in(reference)
            .map(|(_, document)| ExpectedNotification {
                function_arn: (events.function.literal_arn())
                    .or(function_arn)
                    .map(str::to_owned),
                events: cachegen_compiler::ir::DOCUMENT_EVENTS
                    .map(str::to_owned)
                    .to_vec(),
                prefix: document.key_prefix(),
                suffix: document.key_suffix(),
            })
            .collect(),
    };
    ExpectedBucket {
        encryption: match &bucket.encryption {
            cachegen_compiler::ir::BucketEncryption::S3Managed => BucketEncryption::S3Managed,
            cachegen_compiler::ir::BucketEncryption::AwsManaged => BucketEncryption::Kms(None),
            cachegen_compiler::ir::BucketEncryption::KmsKey(key) => {
                BucketEncryption::Kms(key.literal().map(str::to_owned))
            }
        },
        versioning: bucket.versioning,
        notifications,
        fingerprint: model.fingerprint.clone(),
    }
}
