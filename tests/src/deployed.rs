//! What a deployed cache table looks like, read back from DynamoDB and expected from the IR.
//!
//! [`verify_deployed_table`] is the one comparison the deploy tests make: the facts read
//! back must equal the IR's, and the runtime's verification (what the generated module's
//! `Cache::verify_deployment` runs) must find no difference.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use cachegen_compiler::ir::{
    Bucket, BucketEncryption, CacheModel, DOCUMENT_EVENTS, KeyAttribute, NamePart, NameTemplate,
    ProjectionType, Ref, Table,
};
use cachegen_runtime::aws_sdk_s3;

/// A GSI: its keys (`(attribute, HASH|RANGE)`), projection type and sorted non-key attributes.
pub type IndexFacts = (Vec<(String, String)>, String, Vec<String>);

/// The facts of one table that every deployment path must get right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableFacts {
    /// Physical name.
    pub name: String,
    /// `(attribute, HASH|RANGE)` of the table.
    pub keys: Vec<(String, String)>,
    /// GSIs by name.
    pub indexes: BTreeMap<String, IndexFacts>,
    /// TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// Deploy-time values: the spec's parameter defaults and the stack name.
pub struct Resolver {
    /// The stack name (or Terraform's `stack_name`).
    pub stack_name: String,
    /// Parameter values.
    pub parameters: BTreeMap<String, String>,
}

impl Resolver {
    /// The model's parameter defaults, under `stack_name`.
    pub fn defaults(model: &CacheModel, stack_name: &str) -> Self {
        Self {
            stack_name: stack_name.to_owned(),
            parameters: model
                .parameters
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.default.clone()?)))
                .collect(),
        }
    }

    /// A name template with every reference filled in (region `us-east-1`, moto's account).
    pub fn resolve(&self, template: &NameTemplate) -> String {
        template
            .0
            .iter()
            .map(|part| match part {
                NamePart::Literal(text) => text.clone(),
                NamePart::Parameter(name) => self.parameters[name].clone(),
                NamePart::StackName => self.stack_name.clone(),
                NamePart::Region => "us-east-1".into(),
                NamePart::AccountId => "123456789012".into(),
            })
            .collect()
    }
}

fn keys(partition: &KeyAttribute, sort: Option<&KeyAttribute>) -> Vec<(String, String)> {
    std::iter::once((partition.name.clone(), "HASH".to_owned()))
        .chain(sort.map(|key| (key.name.clone(), "RANGE".to_owned())))
        .collect()
}

/// What the IR says the deployed table must be.
pub fn expected(model: &CacheModel, table: &Table, resolver: &Resolver) -> TableFacts {
    TableFacts {
        name: resolver.resolve(&table.table_name),
        keys: keys(&table.partition_key, table.sort_key.as_ref()),
        indexes: table
            .indexes
            .iter()
            .map(|index| {
                let projection = match index.projection {
                    ProjectionType::All => "ALL",
                    ProjectionType::KeysOnly => "KEYS_ONLY",
                    ProjectionType::Include => "INCLUDE",
                };
                let mut attributes = index.projected_attributes.clone();
                attributes.sort();
                (
                    index.name.clone(),
                    (
                        keys(&index.partition_key, index.sort_key.as_ref()),
                        projection.to_owned(),
                        attributes,
                    ),
                )
            })
            .collect(),
        ttl_attribute: Some(table.ttl_attribute.clone()),
        tags: table
            .tags
            .iter()
            .map(|(key, value)| (key.clone(), resolver.resolve(value)))
            .chain([(
                cachegen_compiler::ir::FINGERPRINT_TAG.to_owned(),
                model.fingerprint.clone(),
            )])
            .collect(),
    }
}

/// Reads a table back: DescribeTable, DescribeTimeToLive and ListTagsOfResource.
pub async fn describe(client: &Client, name: &str) -> TableFacts {
    let table = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .unwrap_or_else(|err| panic!("DescribeTable {name}: {err:?}"))
        .table
        .expect("DescribeTable returns the table");
    let key_list = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        schema
            .iter()
            .map(|key| {
                (
                    key.attribute_name().to_owned(),
                    key.key_type().as_str().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let indexes = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            let projection = index.projection().expect("GSIs have a projection");
            let mut attributes = projection.non_key_attributes().to_vec();
            attributes.sort();
            (
                index.index_name().unwrap_or_default().to_owned(),
                (
                    key_list(index.key_schema()),
                    projection
                        .projection_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    attributes,
                ),
            )
        })
        .collect();
    let ttl = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .expect("DescribeTimeToLive")
        .time_to_live_description
        .filter(|ttl| {
            ttl.time_to_live_status()
                .is_some_and(|status| status.as_str() == "ENABLED")
        })
        .and_then(|ttl| ttl.attribute_name().map(str::to_owned));
    let tags = client
        .list_tags_of_resource()
        .resource_arn(table.table_arn().expect("tables have an ARN"))
        .send()
        .await
        .expect("ListTagsOfResource")
        .tags()
        .iter()
        .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
        .collect();
    TableFacts {
        name: table.table_name().unwrap_or_default().to_owned(),
        keys: key_list(table.key_schema()),
        indexes,
        ttl_attribute: ttl,
        tags,
    }
}

/// Asserts that every table of the model exists as the IR describes it: keys, GSIs with
/// projections, TTL attribute and tags (the `cachegen:fingerprint` tag included).
pub async fn verify_deployed_table(
    client: &Client,
    model: &CacheModel,
    table: &Table,
    resolver: &Resolver,
) {
    let expected = expected(model, table, resolver);
    let actual = describe(client, &expected.name).await;
    assert_eq!(actual, expected, "deployed table {} differs", table.name);
    let differences = cachegen_runtime::verify::verify_dynamo(
        client,
        &expected.name,
        &cachegen::verify::expected_table(model, table),
    )
    .await
    .expect("the table can be described");
    assert_eq!(
        differences,
        Vec::<String>::new(),
        "verify_deployment of {}",
        table.name
    );
}

/// A Lambda notification: its function ARN, sorted events and sorted key filter rules.
pub type NotificationFacts = (String, Vec<String>, Vec<(String, String)>);

/// What a deployed document bucket looks like, as far as a deployment path sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketFacts {
    /// Default encryption algorithm (`aws:kms` or `AES256`).
    pub encryption: Option<String>,
    /// Versioning status (`Enabled`), when the deployment sets it.
    pub versioning: Option<String>,
    /// All four public access blocks on.
    pub public_access_blocked: bool,
    /// Per Lambda notification: its function ARN, events and key filter rules, sorted.
    pub notifications: Vec<NotificationFacts>,
    /// Whether a bucket policy refuses requests without TLS.
    pub tls_only: bool,
}

/// What the IR says the deployed bucket must be; `function_arn` is the sync Lambda's.
pub fn expected_bucket(model: &CacheModel, bucket: &Bucket, function_arn: &str) -> BucketFacts {
    let mut notifications: Vec<_> = match &bucket.events {
        None => Vec::new(),
        Some(_) => model
            .documents_in(
                &Ref::find(&model.buckets, &bucket.name).expect("one of the model's buckets"),
            )
            .map(|(_, document)| {
                let mut rules = Vec::new();
                if !document.key_prefix().is_empty() {
                    rules.push(("prefix".to_owned(), document.key_prefix()));
                }
                if !document.key_suffix().is_empty() {
                    rules.push(("suffix".to_owned(), document.key_suffix()));
                }
                (
                    function_arn.to_owned(),
                    DOCUMENT_EVENTS.map(str::to_owned).to_vec(),
                    rules,
                )
            })
            .collect(),
    };
    notifications.sort();
    BucketFacts {
        encryption: Some(
            match bucket.encryption {
                BucketEncryption::S3Managed => "AES256",
                BucketEncryption::AwsManaged | BucketEncryption::KmsKey(_) => "aws:kms",
            }
            .to_owned(),
        ),
        versioning: bucket.versioning.then(|| "Enabled".to_owned()),
        public_access_blocked: true,
        notifications,
        tls_only: true,
    }
}

/// Reads a bucket's configuration back from S3.
pub async fn describe_bucket(s3: &aws_sdk_s3::Client, name: &str) -> BucketFacts {
    let encryption = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .ok()
        .and_then(|out| {
            let rule = out
                .server_side_encryption_configuration?
                .rules
                .into_iter()
                .next()?;
            Some(
                rule.apply_server_side_encryption_by_default?
                    .sse_algorithm
                    .as_str()
                    .to_owned(),
            )
        });
    let versioning = match s3.get_bucket_versioning().bucket(name).send().await {
        Ok(out) => out.status.map(|status| status.as_str().to_owned()),
        // moto names the response's root element `GetBucketVersioningResponse` where S3
        // says `VersioningConfiguration`, which the SDK refuses: read the status from
        // the body it kept.
        Err(err) => {
            let body = err
                .raw_response()
                .and_then(|response| response.body().bytes())
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
                .unwrap_or_else(|| panic!("bucket versioning is unreadable: {err:?}"));
            body.split_once("<Status>")
                .and_then(|(_, rest)| rest.split_once("</Status>"))
                .map(|(status, _)| status.to_owned())
        }
    };
    let public_access_blocked = s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .ok()
        .and_then(|out| out.public_access_block_configuration)
        .is_some_and(|c| {
            [
                c.block_public_acls,
                c.block_public_policy,
                c.ignore_public_acls,
                c.restrict_public_buckets,
            ]
            .iter()
            .all(|on| *on == Some(true))
        });
    let mut notifications: Vec<_> = s3
        .get_bucket_notification_configuration()
        .bucket(name)
        .send()
        .await
        .expect("bucket notifications are readable")
        .lambda_function_configurations
        .unwrap_or_default()
        .into_iter()
        .map(|configuration| {
            let mut events: Vec<String> = configuration
                .events
                .iter()
                .map(|event| event.as_str().to_owned())
                .collect();
            events.sort();
            let mut rules: Vec<(String, String)> = configuration
                .filter
                .and_then(|filter| filter.key)
                .map(|key| key.filter_rules.unwrap_or_default())
                .unwrap_or_default()
                .into_iter()
                .map(|rule| {
                    (
                        rule.name
                            .map(|n| n.as_str().to_ascii_lowercase())
                            .unwrap_or_default(),
                        rule.value.unwrap_or_default(),
                    )
                })
                .collect();
            rules.sort();
            (configuration.lambda_function_arn, events, rules)
        })
        .collect();
    notifications.sort();
    let tls_only = s3
        .get_bucket_policy()
        .bucket(name)
        .send()
        .await
        .ok()
        .and_then(|out| out.policy)
        .is_some_and(|policy| policy.contains("aws:SecureTransport"));
    BucketFacts {
        encryption,
        versioning,
        public_access_blocked,
        notifications,
        tls_only,
    }
}
