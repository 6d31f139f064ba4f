//! Does the deployed table match what the code expects? Keys, indexes, TTL and the
//! spec fingerprint, compared through DescribeTable, DescribeTimeToLive and
//! ListTagsOfResource, with each difference in plain words. Document buckets are checked
//! in `verify/bucket.rs` (with the `s3` feature).

#[cfg(feature = "s3")]
mod bucket;

use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    KeySchemaElement, KeyType, ProjectionType, ScalarAttributeType, TableDescription,
    TimeToLiveStatus,
};

use crate::error::{CacheError, StoreError};
use crate::tiered::TieredCache;

#[cfg(feature = "s3")]
pub use bucket::{BucketEncryption, ExpectedBucket, ExpectedNotification, verify_bucket};

/// Tag key carrying the spec fingerprint (written by cachegen's templates).
pub const FINGERPRINT_TAG: &str = cachegen_names::FINGERPRINT_TAG;

/// A DynamoDB scalar type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

/// A key attribute: name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// Scalar type.
    pub kind: ScalarType,
}

impl KeyAttribute {
    /// A key attribute.
    pub fn new(name: impl Into<String>, kind: ScalarType) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }
}

impl fmt::Display for KeyAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({:?})", self.name, self.kind)
    }
}

/// Which attributes an index copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// Every attribute.
    All,
    /// Only keys.
    KeysOnly,
    /// Keys plus named attributes.
    Include,
}

/// A global secondary index as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedIndex {
    /// Index name.
    pub name: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Projection type.
    pub projection: Projection,
}

/// A table as the generated code expects it deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTable {
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Global secondary indexes.
    pub indexes: Vec<ExpectedIndex>,
    /// TTL attribute, which must be enabled.
    pub ttl_attribute: String,
    /// Value of the [`FINGERPRINT_TAG`] tag.
    pub fingerprint: String,
}

/// Differences found per table and bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// `(resource, difference)` pairs, in the order found; the resource is `table <name>`
    /// or `bucket <name>`, with its name in the spec.
    pub findings: Vec<(String, String)>,
}

impl VerifyReport {
    /// Adds one table's differences.
    pub fn extend(&mut self, table: &str, differences: Vec<String>) {
        self.add(format!("table {table}"), differences);
    }

    /// Adds one document bucket's differences.
    pub fn extend_bucket(&mut self, bucket: &str, differences: Vec<String>) {
        self.add(format!("bucket {bucket}"), differences);
    }

    fn add(&mut self, resource: String, differences: Vec<String>) {
        self.findings.extend(
            differences
                .into_iter()
                .map(|difference| (resource.clone(), difference)),
        );
    }

    /// True when nothing differs.
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The differences alone, without table names.
    pub fn differences(&self) -> Vec<&str> {
        self.findings
            .iter()
            .map(|(_, difference)| difference.as_str())
            .collect()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "the deployed tables and buckets match the spec");
        }
        for (resource, difference) in &self.findings {
            writeln!(f, "{resource}: {difference}")?;
        }
        Ok(())
    }
}

/// Verifies the table behind `cache`; a cache not backed by DynamoDB has nothing to verify.
pub async fn verify_table(
    cache: &TieredCache,
    expected: &ExpectedTable,
) -> Result<Vec<String>, CacheError> {
    let Some(store) = cache.store() else {
        return Ok(Vec::new());
    };
    match store.table() {
        Some(table) => Ok(verify_dynamo(table.client, table.table, expected).await?),
        None => Ok(Vec::new()),
    }
}

/// Compares table `table` with `expected`, returning each difference in plain words.
pub async fn verify_dynamo(
    client: &Client,
    table: &str,
    expected: &ExpectedTable,
) -> Result<Vec<String>, StoreError> {
    let described = match client.describe_table().table_name(table).send().await {
        Ok(output) => output.table,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|service| service.is_resource_not_found_exception()) =>
        {
            return Ok(vec![format!("table `{table}` does not exist")]);
        }
        Err(err) => return Err(StoreError::backend("dynamodb", err)),
    };
    let Some(described) = described else {
        return Ok(vec![format!("table `{table}` does not exist")]);
    };
    let keys = |schema: &[KeySchemaElement], role: KeyType| key(&described, schema, role);
    let mut differences = Vec::new();
    compare_keys(
        &mut differences,
        "the table",
        (&expected.partition_key, expected.sort_key.as_ref()),
        (
            keys(described.key_schema(), KeyType::Hash),
            keys(described.key_schema(), KeyType::Range),
        ),
    );
    compare_indexes(&mut differences, &described, expected);
    compare_ttl(&mut differences, client, table, expected).await?;
    if let Some(arn) = described.table_arn() {
        compare_fingerprint(&mut differences, client, arn, expected).await?;
    }
    Ok(differences)
}

/// The key attribute of `role` in `schema`, with its type from the table's definitions.
fn key(
    described: &TableDescription,
    schema: &[KeySchemaElement],
    role: KeyType,
) -> Option<KeyAttribute> {
    schema
        .iter()
        .find(|element| *element.key_type() == role)
        .map(|element| {
            let name = element.attribute_name();
            let kind = described
                .attribute_definitions()
                .iter()
                .find(|definition| definition.attribute_name() == name)
                .map_or(ScalarType::S, |definition| {
                    scalar(definition.attribute_type())
                });
            KeyAttribute::new(name, kind)
        })
}

/// Each expected index is deployed with its keys and projection, and no other is.
fn compare_indexes(
    differences: &mut Vec<String>,
    described: &TableDescription,
    expected: &ExpectedTable,
) {
    let keys = |schema: &[KeySchemaElement], role: KeyType| key(described, schema, role);
    let deployed_indexes = described.global_secondary_indexes();
    for index in &expected.indexes {
        let Some(found) = deployed_indexes
            .iter()
            .find(|deployed| deployed.index_name() == Some(index.name.as_str()))
        else {
            differences.push(format!("index `{}` is missing", index.name));
            continue;
        };
        let schema = found.key_schema();
        compare_keys(
            differences,
            &format!("index `{}`", index.name),
            (&index.partition_key, index.sort_key.as_ref()),
            (keys(schema, KeyType::Hash), keys(schema, KeyType::Range)),
        );
        let projection = found
            .projection()
            .and_then(|projection| projection.projection_type())
            .map(|kind| match kind {
                ProjectionType::KeysOnly => Projection::KeysOnly,
                ProjectionType::Include => Projection::Include,
                _ => Projection::All,
            });
        if projection != Some(index.projection) {
            differences.push(format!(
                "index `{}` projects {}, expected {:?}",
                index.name,
                projection.map_or("nothing".into(), |p| format!("{p:?}")),
                index.projection
            ));
        }
    }
    for deployed in deployed_indexes {
        let name = deployed.index_name().unwrap_or_default();
        if !expected.indexes.iter().any(|index| index.name == name) {
            differences.push(format!(
                "index `{name}` is deployed but the spec does not declare it"
            ));
        }
    }
}

/// TTL is on, on the expected attribute.
async fn compare_ttl(
    differences: &mut Vec<String>,
    client: &Client,
    table: &str,
    expected: &ExpectedTable,
) -> Result<(), StoreError> {
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|err| StoreError::backend("dynamodb", err))?;
    let ttl = ttl.time_to_live_description();
    let enabled = ttl
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|status| {
            matches!(
                status,
                TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling
            )
        });
    let attribute = ttl.and_then(|d| d.attribute_name());
    if !enabled {
        differences.push("TTL disabled".to_owned());
    } else if attribute != Some(expected.ttl_attribute.as_str()) {
        differences.push(format!(
            "TTL is on attribute `{}`, expected `{}`",
            attribute.unwrap_or_default(),
            expected.ttl_attribute
        ));
    }
    Ok(())
}

/// The table's fingerprint tag matches the spec's.
async fn compare_fingerprint(
    differences: &mut Vec<String>,
    client: &Client,
    arn: &str,
    expected: &ExpectedTable,
) -> Result<(), StoreError> {
    let tags = client
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|err| StoreError::backend("dynamodb", err))?;
    let fingerprint = tags
        .tags()
        .iter()
        .find(|tag| tag.key() == FINGERPRINT_TAG)
        .map(|tag| tag.value().to_owned());
    match fingerprint {
        None => differences.push(format!("tag `{FINGERPRINT_TAG}` is missing")),
        Some(found) if found != expected.fingerprint => differences.push(format!(
            "tag `{FINGERPRINT_TAG}` is `{found}`, expected `{}`: the table was deployed from another version of the spec",
            expected.fingerprint
        )),
        Some(_) => {}
    }
    Ok(())
}

fn scalar(kind: &ScalarAttributeType) -> ScalarType {
    match kind {
        ScalarAttributeType::N => ScalarType::N,
        ScalarAttributeType::B => ScalarType::B,
        _ => ScalarType::S,
    }
}

fn compare_keys(
    differences: &mut Vec<String>,
    what: &str,
    expected: (&KeyAttribute, Option<&KeyAttribute>),
    found: (Option<KeyAttribute>, Option<KeyAttribute>),
) {
    if found.0.as_ref() != Some(expected.0) {
        differences.push(format!(
            "{what} has partition key {}, expected {}",
            found.0.map_or("none".into(), |key| key.to_string()),
            expected.0
        ));
    }
    if found.1.as_ref() != expected.1 {
        differences.push(format!(
            "{what} has sort key {}, expected {}",
            found.1.map_or("none".into(), |key| key.to_string()),
            expected.1.map_or("none".into(), |key| key.to_string())
        ));
    }
}
