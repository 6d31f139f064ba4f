//! The deployed shape of each table and created bucket: what `cachegen verify` and a
//! generated module's `verify_deployment` compare the account with. It is described
//! here once, from the IR; the CLI turns it into the runtime's `verify` values and the
//! Rust emitter into the tokens of the generated `expected()` functions, so the two
//! checks cannot differ.

use super::{
    BucketEncryption, BucketRef, CacheModel, DOCUMENT_EVENTS, KeyAttribute, ProjectionType, Table,
};

/// A table as the spec deploys it: keys, indexes, TTL and fingerprint tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployedTable {
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Global secondary indexes, in spec order.
    pub indexes: Vec<DeployedIndex>,
    /// The attribute DynamoDB's TTL is enabled on.
    pub ttl_attribute: String,
    /// Value of the fingerprint tag.
    pub fingerprint: String,
}

/// A global secondary index as deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployedIndex {
    /// Index name.
    pub name: String,
    /// Partition key.
    pub partition_key: KeyAttribute,
    /// Sort key.
    pub sort_key: Option<KeyAttribute>,
    /// Projection type.
    pub projection: ProjectionType,
}

/// A bucket the templates create, as deployed: encryption, versioning, the sync
/// function's notifications and fingerprint tag (every public access block is on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployedBucket {
    /// Default encryption.
    pub encryption: DeployedEncryption,
    /// Whether versioning is enabled.
    pub versioning: bool,
    /// One Lambda notification per document type in the bucket (none without events).
    pub notifications: Vec<DeployedNotification>,
    /// Value of the fingerprint tag.
    pub fingerprint: String,
}

/// A bucket's default encryption.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployedEncryption {
    /// SSE-S3.
    S3Managed,
    /// SSE-KMS, with the key's ARN when the spec writes it out (`None`: `aws/s3`, or a
    /// key given by a parameter, which is not compared).
    Kms(Option<String>),
}

/// A Lambda notification of a document type's object events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployedNotification {
    /// The notified function's ARN, when known (`None`: not compared).
    pub function_arn: Option<String>,
    /// The S3 events notified.
    pub events: Vec<String>,
    /// Object key prefix filter.
    pub prefix: String,
    /// Object key suffix filter.
    pub suffix: String,
}

impl CacheModel {
    /// The deployed shape of `table`.
    pub fn deployed_table(&self, table: &Table) -> DeployedTable {
        DeployedTable {
            partition_key: table.partition_key.clone(),
            sort_key: table.sort_key.clone(),
            indexes: table
                .indexes
                .iter()
                .map(|index| DeployedIndex {
                    name: index.name.clone(),
                    partition_key: index.partition_key.clone(),
                    sort_key: index.sort_key.clone(),
                    projection: index.projection,
                })
                .collect(),
            ttl_attribute: table.ttl_attribute.clone(),
            fingerprint: self.fingerprint.clone(),
        }
    }

    /// The deployed shape of the created bucket `reference`. Its notifications name the
    /// sync function's ARN when the spec writes it out, else `created_function_arn`: the
    /// ARN of the function the stack created, which `cachegen verify` reads from the
    /// stack; generated code, compiled before any deployment, passes `None`, so it
    /// compares a created function's events and filters but not its ARN.
    pub fn deployed_bucket(
        &self,
        reference: &BucketRef,
        created_function_arn: Option<&str>,
    ) -> DeployedBucket {
        let bucket = self.bucket(reference);
        let notifications = match &bucket.events {
            None => Vec::new(),
            Some(events) => self
                .documents_in(reference)
                .map(|(_, document)| DeployedNotification {
                    function_arn: events
                        .function
                        .literal_arn()
                        .or(created_function_arn)
                        .map(str::to_owned),
                    events: DOCUMENT_EVENTS.map(str::to_owned).to_vec(),
                    prefix: document.key_prefix(),
                    suffix: document.key_suffix(),
                })
                .collect(),
        };
        DeployedBucket {
            encryption: match &bucket.encryption {
                BucketEncryption::S3Managed => DeployedEncryption::S3Managed,
                BucketEncryption::AwsManaged => DeployedEncryption::Kms(None),
                BucketEncryption::KmsKey(key) => {
                    DeployedEncryption::Kms(key.literal().map(str::to_owned))
                }
            },
            versioning: bucket.versioning,
            notifications,
            fingerprint: self.fingerprint.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{AttributeType, Ref};

    /// A spec with one created bucket whose events reach `function`, two document types
    /// in it, and a table with a GSI.
    fn model(function: &str) -> CacheModel {
        let text = format!(
            r#"version: 1
service: demo
parameters:
  SyncCode: {{}}
tables:
  cache:
    name: demo-cache
    indexes:
      by-kind: {{ partition_key: {{ name: kind, type: S }}, sort_key: {{ name: at, type: N }}, projection: keys_only }}
buckets:
  docs:
    name: demo-docs
    encryption: {{ kms_key: "arn:aws:kms:us-east-1:123456789012:key/k1" }}
    events: {{ function: {function}, consumer: sync }}
data_types:
  user:
    key: "user#{{id}}"
    params: {{ id: string }}
    value: {{ fields: {{ name: string }} }}
    attributes: {{ kind: "{{data_type}}", at: "{{now}}" }}
    document: {{ key: "users/{{id}}.json" }}
  team:
    key: "team#{{id}}"
    params: {{ id: string }}
    value: {{ fields: {{ name: string }} }}
    document: {{ key: "teams/{{id}}" }}
consumers:
  sync:
    access: {{ "*": [sync] }}
"#
        );
        crate::compile_text("cache.yaml", &text).unwrap_or_else(|err| panic!("{err}"))
    }

    const CREATED: &str = "{ create: { handler: bootstrap, runtime: provided.al2023, code: { s3_bucket: demo-code, s3_key: \"${SyncCode}\" } } }";
    const EXISTING: &str = "\"arn:aws:lambda:us-east-1:123456789012:function:sync\"";

    fn bucket(model: &CacheModel, created_function_arn: Option<&str>) -> DeployedBucket {
        let (reference, _) = Ref::each(&model.buckets).next().expect("one bucket");
        model.deployed_bucket(&reference, created_function_arn)
    }

    fn function_arns(bucket: &DeployedBucket) -> Vec<Option<&str>> {
        bucket
            .notifications
            .iter()
            .map(|notification| notification.function_arn.as_deref())
            .collect()
    }

    #[test]
    fn a_created_function_is_named_only_when_the_deployment_knows_it() {
        let model = model(CREATED);
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:demo-DocsSync";
        assert_eq!(function_arns(&bucket(&model, None)), [None, None]);
        assert_eq!(
            function_arns(&bucket(&model, Some(arn))),
            [Some(arn), Some(arn)]
        );
    }

    #[test]
    fn the_spec_s_function_arn_is_expected_whatever_the_deployment_says() {
        let model = model(EXISTING);
        let spec_arn = "arn:aws:lambda:us-east-1:123456789012:function:sync";
        assert_eq!(
            function_arns(&bucket(
                &model,
                Some("arn:aws:lambda:us-east-1:1:function:other")
            )),
            [Some(spec_arn), Some(spec_arn)]
        );
    }

    #[test]
    fn a_bucket_expects_its_encryption_versioning_and_each_document_type_s_filters() {
        let model = model(CREATED);
        let bucket = bucket(&model, None);
        assert_eq!(
            bucket.encryption,
            DeployedEncryption::Kms(Some("arn:aws:kms:us-east-1:123456789012:key/k1".to_owned()))
        );
        assert_eq!(bucket.fingerprint, model.fingerprint);
        let filters: Vec<(&str, &str, usize)> = bucket
            .notifications
            .iter()
            .map(|n| (n.prefix.as_str(), n.suffix.as_str(), n.events.len()))
            .collect();
        assert_eq!(filters, [("users/", ".json", 2), ("teams/", "", 2)]);
    }

    #[test]
    fn a_table_expects_its_keys_indexes_ttl_and_fingerprint() {
        let model = model(CREATED);
        let table = model.deployed_table(&model.tables[0]);
        assert_eq!(table.partition_key, model.tables[0].partition_key);
        assert_eq!(table.ttl_attribute, model.tables[0].ttl_attribute);
        assert_eq!(table.fingerprint, model.fingerprint);
        let [index] = table.indexes.as_slice() else {
            panic!("one index: {table:?}");
        };
        assert_eq!(index.name, "by-kind");
        assert_eq!(index.projection, ProjectionType::KeysOnly);
        assert_eq!(
            index.sort_key,
            Some(KeyAttribute {
                name: "at".to_owned(),
                kind: AttributeType::N
            })
        );
    }
}
