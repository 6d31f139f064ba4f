//! The two cold paths the cold-start bench times and the cold-start test counts: from a
//! process's start to its first answered lookup, as a Lambda's cold start runs them.
//!
//! - [`bare`]: `aws_config::load_defaults`, a DynamoDB client, one `GetItem`.
//! - [`cachegen`]: what a generated crate's `Cache::from_env` does (the AWS
//!   configuration loaded when a table variable is set, `CacheConfig::from_env`, the
//!   builder on that configuration), then one `TypedCache::get` that the store answers.
//!
//! Both read the table from [`TABLE_NAME_ENV`] and the endpoint, region and credentials
//! from the environment, as a Lambda's code does. [`seed`] creates the table and the
//! item they read.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use cachegen_runtime::aws_config::{self, BehaviorVersion, SdkConfig};
use cachegen_runtime::config::{CacheConfig, TABLE_NAME_ENV};
use cachegen_runtime::store::DynamoLayout;
use cachegen_runtime::typed::{DataType, TypedCache};
use cachegen_runtime::{BoxError, DEFAULT_STORE_TIMEOUT};
use serde::{Deserialize, Serialize};

/// The key both paths read.
pub(crate) const KEY: u32 = 7;

/// The value cached at [`KEY`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub id: u32,
    pub name: String,
}

/// The data type, as a generated crate declares it.
pub(crate) struct Profiles;

impl DataType for Profiles {
    type Key = u32;
    type Value = Profile;
    const NAME: &'static str = "profile";
    const TTL: Duration = Duration::from_secs(3600);
    const MEMORY_TTL: Duration = Duration::from_secs(60);
    const STALE_WHILE_REVALIDATE: Option<Duration> = None;
    const KEY_PREFIX: &'static str = "profile#";

    fn key(key: &u32) -> String {
        format!("profile#{key}")
    }
}

/// The table's layout, as a generated crate's `layout()` gives it.
pub(crate) fn layout() -> DynamoLayout {
    DynamoLayout::builder("pk").ttl_attribute("ttl").build()
}

fn table() -> Result<String, BoxError> {
    std::env::var(TABLE_NAME_ENV).map_err(|_| format!("{TABLE_NAME_ENV} is unset").into())
}

/// The bare path: an AWS configuration, a DynamoDB client, one strongly consistent
/// `GetItem` (as the runtime's store reads); whether the item was there.
pub(crate) async fn bare() -> Result<bool, BoxError> {
    let table = table()?;
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(Profiles::key(&KEY)))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out.item().is_some())
}

/// What a generated crate's `aws_config_for_env` does: the default configuration, when a
/// table variable is set.
async fn aws_config_for_env() -> Option<SdkConfig> {
    let needed = std::env::var(TABLE_NAME_ENV).is_ok_and(|value| !value.trim().is_empty());
    match needed {
        true => Some(aws_config::load_defaults(BehaviorVersion::latest()).await),
        false => None,
    }
}

/// The cachegen path: `Cache::from_env` as generated, then one lookup; whether the value
/// was there.
pub(crate) async fn cachegen() -> Result<bool, BoxError> {
    let sdk = aws_config_for_env().await;
    let cache = CacheConfig::from_env(TABLE_NAME_ENV)?
        .builder_with_sdk(sdk.as_ref(), layout(), DEFAULT_STORE_TIMEOUT)
        .await?
        .namespace("ColdStart")
        .service("cold-start")
        .build();
    let profiles = TypedCache::<Profiles>::new(&cache);
    Ok(profiles.get(&KEY).await?.is_some())
}

/// Creates `table` on the endpoint the environment names, waits until it is active, and
/// stores the value at [`KEY`] through the runtime, so both paths find it.
pub(crate) async fn seed(table: &str) -> Result<(), BoxError> {
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let pk = || {
        AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let hash = || {
        KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(pk()?)
        .key_schema(hash()?)
        .send()
        .await?;
    // DynamoDB (and dynalite) create tables asynchronously.
    for _ in 0..200 {
        let described = client.describe_table().table_name(table).send().await?;
        let status = described.table().and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let config = CacheConfig::from_lookup(TABLE_NAME_ENV, |name| {
        (name == TABLE_NAME_ENV).then(|| table.to_owned())
    })?;
    let cache = config
        .builder_with_sdk(Some(&sdk), layout(), DEFAULT_STORE_TIMEOUT)
        .await?
        .build();
    let profile = Profile {
        id: KEY,
        name: "a profile".to_owned(),
    };
    TypedCache::<Profiles>::new(&cache)
        .set(&KEY, &profile)
        .await?;
    Ok(())
}
