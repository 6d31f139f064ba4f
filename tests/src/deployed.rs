//! What a deployed cache table looks like, read back from DynamoDB and expected from the IR.
//!
//! [`verify_deployed_table`] is the one comparison the deploy tests make: the facts read
//! back must equal the IR's, and the runtime's verification (what the generated module's
//! `Cache::verify_deployment` runs) must find no difference.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use cachegen::ir::{CacheModel, KeyAttribute, NamePart, NameTemplate, ProjectionType, Table};

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
                cachegen::ir::FINGERPRINT_TAG.to_owned(),
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
        &cachegen::deploy::expected_table(model, table),
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
