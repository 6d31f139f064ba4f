//! Does a deployed document bucket match the spec? Default encryption, versioning, the
//! public access block, the Lambda notifications and the fingerprint tag, read back from
//! S3, with each difference in plain words.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{BucketVersioningStatus, ServerSideEncryption};

use super::FINGERPRINT_TAG;
use crate::error::StoreError;

/// A bucket's default encryption as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketEncryption {
    /// SSE-S3 (`AES256`).
    S3Managed,
    /// SSE-KMS (`aws:kms`), with this key when it is known before deployment (`None`: the
    /// AWS-managed `aws/s3` key, or a key named by a deployment parameter).
    Kms(Option<String>),
}

/// A Lambda notification of object events as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedNotification {
    /// The function's ARN, when known before deployment (`None`: any function).
    pub function_arn: Option<String>,
    /// The S3 event types, such as `s3:ObjectCreated:*`.
    pub events: Vec<String>,
    /// Key prefix filter (empty: none).
    pub prefix: String,
    /// Key suffix filter (empty: none).
    pub suffix: String,
}

/// A document bucket as the spec describes it deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedBucket {
    /// Default encryption.
    pub encryption: BucketEncryption,
    /// Whether versioning must be enabled (when not, it must not be).
    pub versioning: bool,
    /// The Lambda notifications, one per document type.
    pub notifications: Vec<ExpectedNotification>,
    /// Value of the [`FINGERPRINT_TAG`] tag.
    pub fingerprint: String,
}

/// S3 error codes that mean "this part is not configured", not a failure to read it.
const NOT_CONFIGURED: &[&str] = &[
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchTagSet",
];

/// The body of a successful response the SDK could not parse. Moto names some responses'
/// root element after the operation (`GetBucketVersioningResponse`, and an empty
/// `GetBucketNotificationResponse`) where S3 says `VersioningConfiguration` or
/// `NotificationConfiguration`, and the SDK refuses those.
fn unparsed_success<E>(err: &aws_sdk_s3::error::SdkError<E>) -> Option<String> {
    let response = err.raw_response()?;
    if !response.status().is_success() {
        return None;
    }
    Some(String::from_utf8_lossy(response.body().bytes()?).into_owned())
}

fn s3_error<E>(err: aws_sdk_s3::error::SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::backend("s3", err)
}

/// `Ok(None)` when S3 answered that the part is not configured.
fn configured<T, E>(
    result: Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(err)
            if err
                .code()
                .is_some_and(|code| NOT_CONFIGURED.contains(&code)) =>
        {
            Ok(None)
        }
        Err(err) => Err(s3_error(err)),
    }
}

/// Compares bucket `bucket` with `expected`, returning each difference in plain words.
pub async fn verify_bucket(
    s3: &Client,
    bucket: &str,
    expected: &ExpectedBucket,
) -> Result<Vec<String>, StoreError> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|service| service.is_not_found()) =>
        {
            return Ok(vec![format!("bucket `{bucket}` does not exist")]);
        }
        Err(err) => return Err(s3_error(err)),
    }
    let mut differences = Vec::new();
    encryption(s3, bucket, &expected.encryption, &mut differences).await?;
    versioning(s3, bucket, expected.versioning, &mut differences).await?;
    public_access(s3, bucket, &mut differences).await?;
    notifications(s3, bucket, &expected.notifications, &mut differences).await?;
    let tags = configured(s3.get_bucket_tagging().bucket(bucket).send().await)?;
    let fingerprint = tags.and_then(|tags| {
        tags.tag_set()
            .iter()
            .find(|tag| tag.key() == FINGERPRINT_TAG)
            .map(|tag| tag.value().to_owned())
    });
    match fingerprint {
        None => differences.push(format!("tag `{FINGERPRINT_TAG}` is missing")),
        Some(found) if found != expected.fingerprint => differences.push(format!(
            "tag `{FINGERPRINT_TAG}` is `{found}`, expected `{}`: the bucket was deployed from another version of the spec",
            expected.fingerprint
        )),
        Some(_) => {}
    }
    Ok(differences)
}

fn encryption_name(expected: &BucketEncryption) -> String {
    match expected {
        BucketEncryption::S3Managed => "SSE-S3 (AES256)".into(),
        BucketEncryption::Kms(None) => "SSE-KMS (aws:kms)".into(),
        BucketEncryption::Kms(Some(key)) => format!("SSE-KMS (aws:kms) with key `{key}`"),
    }
}

async fn encryption(
    s3: &Client,
    bucket: &str,
    expected: &BucketEncryption,
    differences: &mut Vec<String>,
) -> Result<(), StoreError> {
    let configured = configured(s3.get_bucket_encryption().bucket(bucket).send().await)?;
    let default = configured
        .and_then(|output| output.server_side_encryption_configuration)
        .and_then(|configuration| configuration.rules.into_iter().next())
        .and_then(|rule| rule.apply_server_side_encryption_by_default);
    let Some(default) = default else {
        differences.push(format!(
            "has no default encryption, expected {}",
            encryption_name(expected)
        ));
        return Ok(());
    };
    let found = match default.sse_algorithm {
        ServerSideEncryption::Aes256 => BucketEncryption::S3Managed,
        ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse => {
            BucketEncryption::Kms(default.kms_master_key_id)
        }
        other => {
            differences.push(format!(
                "is encrypted with `{}`, expected {}",
                other.as_str(),
                encryption_name(expected)
            ));
            return Ok(());
        }
    };
    let matches = match (expected, &found) {
        (BucketEncryption::Kms(None), BucketEncryption::Kms(_)) => true,
        (BucketEncryption::Kms(Some(key)), BucketEncryption::Kms(Some(found))) => {
            found == key || found.ends_with(&format!("/{key}"))
        }
        (expected, found) => expected == found,
    };
    if !matches {
        differences.push(format!(
            "is encrypted with {}, expected {}",
            encryption_name(&found),
            encryption_name(expected)
        ));
    }
    Ok(())
}

async fn versioning(
    s3: &Client,
    bucket: &str,
    expected: bool,
    differences: &mut Vec<String>,
) -> Result<(), StoreError> {
    let status = match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(output) => output.status.map(|status| status.as_str().to_owned()),
        Err(err) => match unparsed_success(&err) {
            Some(body) => body
                .split_once("<Status>")
                .and_then(|(_, rest)| rest.split_once("</Status>"))
                .map(|(status, _)| status.to_owned()),
            None => return Err(s3_error(err)),
        },
    };
    let enabled = status.as_deref() == Some(BucketVersioningStatus::Enabled.as_str());
    match (expected, enabled) {
        (true, false) => differences.push(format!(
            "versioning is {}, expected Enabled: overwritten and deleted documents cannot be recovered",
            status.as_deref().unwrap_or("off")
        )),
        (false, true) => differences.push(
            "versioning is Enabled, but the spec leaves it off".to_owned(),
        ),
        _ => {}
    }
    Ok(())
}

async fn public_access(
    s3: &Client,
    bucket: &str,
    differences: &mut Vec<String>,
) -> Result<(), StoreError> {
    let configured = configured(s3.get_public_access_block().bucket(bucket).send().await)?;
    let Some(block) = configured.and_then(|output| output.public_access_block_configuration) else {
        differences.push("has no public access block, expected all four settings on".into());
        return Ok(());
    };
    let off: Vec<&str> = [
        ("BlockPublicAcls", block.block_public_acls),
        ("IgnorePublicAcls", block.ignore_public_acls),
        ("BlockPublicPolicy", block.block_public_policy),
        ("RestrictPublicBuckets", block.restrict_public_buckets),
    ]
    .into_iter()
    .filter(|(_, on)| *on != Some(true))
    .map(|(name, _)| name)
    .collect();
    if !off.is_empty() {
        differences.push(format!(
            "public access is not fully blocked: {} off",
            off.join(", ")
        ));
    }
    Ok(())
}

fn notification_text(notification: &ExpectedNotification) -> String {
    let mut filters = Vec::new();
    if !notification.prefix.is_empty() {
        filters.push(format!("prefix `{}`", notification.prefix));
    }
    if !notification.suffix.is_empty() {
        filters.push(format!("suffix `{}`", notification.suffix));
    }
    format!(
        "{} on {}to {}",
        notification.events.join(", "),
        if filters.is_empty() {
            "every key ".to_owned()
        } else {
            format!("keys with {} ", filters.join(" and "))
        },
        notification
            .function_arn
            .as_deref()
            .map_or_else(|| "the sync function".to_owned(), |arn| format!("`{arn}`"))
    )
}

async fn notifications(
    s3: &Client,
    bucket: &str,
    expected: &[ExpectedNotification],
    differences: &mut Vec<String>,
) -> Result<(), StoreError> {
    let configuration = match s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(configuration) => configuration,
        Err(err) => match unparsed_success(&err) {
            // An empty configuration, under another root element.
            Some(body) if !body.contains("Configuration>") => {
                aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
            }
            _ => return Err(s3_error(err)),
        },
    };
    let mut found: Vec<ExpectedNotification> = configuration
        .lambda_function_configurations()
        .iter()
        .map(|lambda| {
            let rules = lambda
                .filter()
                .and_then(|filter| filter.key())
                .map(|key| key.filter_rules())
                .unwrap_or_default();
            let rule = |name: &str| {
                rules
                    .iter()
                    .find(|rule| {
                        rule.name()
                            .is_some_and(|n| n.as_str().eq_ignore_ascii_case(name))
                    })
                    .and_then(|rule| rule.value())
                    .unwrap_or_default()
                    .to_owned()
            };
            let mut events: Vec<String> = lambda
                .events()
                .iter()
                .map(|event| event.as_str().to_owned())
                .collect();
            events.sort();
            ExpectedNotification {
                function_arn: Some(lambda.lambda_function_arn().to_owned()),
                events,
                prefix: rule("prefix"),
                suffix: rule("suffix"),
            }
        })
        .collect();
    for wanted in expected {
        let mut events = wanted.events.clone();
        events.sort();
        let position = found.iter().position(|deployed| {
            deployed.events == events
                && deployed.prefix == wanted.prefix
                && deployed.suffix == wanted.suffix
                && wanted
                    .function_arn
                    .as_ref()
                    .is_none_or(|arn| deployed.function_arn.as_ref() == Some(arn))
        });
        match position {
            Some(position) => {
                found.remove(position);
            }
            None => differences.push(format!(
                "no notification sends {}",
                notification_text(wanted)
            )),
        }
    }
    for extra in found {
        differences.push(format!(
            "a notification the spec does not declare sends {}",
            notification_text(&extra)
        ));
    }
    Ok(())
}
