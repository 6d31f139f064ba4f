//! Commands that work on a deployed cache from the spec alone: `backfill` fills a document
//! type's cache from its bucket, `query` runs an index query. Both interpret the IR at run
//! time ([`DynamicType`]) the way the generated module does in compiled code, and reach the
//! deployed table and bucket through the names a stack or the consumers' env vars give.

pub mod backfill;
mod item;
pub mod query;

use std::collections::HashMap;
use std::sync::Arc;

use cachegen_runtime::TieredCache;
use cachegen_runtime::aws_config::SdkConfig;
use cachegen_runtime::config::{MemoryLimit, s3_client};
use cachegen_runtime::store::{DynamoLayout, DynamoStore, IndexKeyRole, S3Overflow, SortKeyType};

pub use item::{DynamicType, ItemError, Params};

use cachegen_compiler::ir::{self, AttributeType, Bucket, CacheModel, DataType, Table};

/// Why a deployed resource cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// Neither a stack nor the environment names it.
    #[error(
        "the {kind} `{name}` is not located: set {env_var} to its name, or pass --stack with the stack that created it"
    )]
    Unlocated {
        /// `table` or `bucket`.
        kind: &'static str,
        /// Name in the spec.
        name: String,
        /// The env var that would name it.
        env_var: String,
    },
    /// Reading the stack failed.
    #[error(transparent)]
    Stack(#[from] crate::deploy::DeployError),
    /// The data type is kept in Redis, which these commands do not reach.
    #[error(
        "data type `{0}` is kept in Redis (`store: redis`): cachegen operates on DynamoDB tables only; use redis-cli on the store"
    )]
    RedisStore(String),
}

/// The physical names of a deployed cache's tables and buckets, by spec name.
#[derive(Clone, Debug, Default)]
pub struct Deployment {
    tables: HashMap<String, String>,
    buckets: HashMap<String, String>,
}

impl Deployment {
    /// Names from the env vars the templates set on consumers (`METADATA_CACHE_TABLE`, ...),
    /// read through `lookup`.
    pub fn from_lookup(model: &CacheModel, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |var: &str| lookup(var).filter(|value| !value.trim().is_empty());
        Self {
            tables: model
                .tables
                .iter()
                .filter_map(|table| Some((table.name.clone(), get(&table.env_var)?)))
                .collect(),
            buckets: model
                .buckets
                .iter()
                .filter_map(|bucket| Some((bucket.name.clone(), get(&bucket.env_var)?)))
                .collect(),
        }
    }

    /// Names from the resources of CloudFormation stack `stack`.
    pub async fn from_stack(
        cloudformation: &aws_sdk_cloudformation::Client,
        stack: &str,
        model: &CacheModel,
    ) -> Result<Self, DeploymentError> {
        let mut deployment = Self::default();
        for table in &model.tables {
            let name =
                crate::deploy::stack::physical_id(cloudformation, stack, &table.logical_id).await?;
            deployment.tables.insert(table.name.clone(), name);
        }
        for bucket in &model.buckets {
            let name = if bucket.created {
                crate::deploy::stack::physical_id(cloudformation, stack, &bucket.logical_id).await?
            } else {
                match bucket.bucket_name.literal() {
                    Some(literal) => literal.to_owned(),
                    None => continue,
                }
            };
            deployment.buckets.insert(bucket.name.clone(), name);
        }
        Ok(deployment)
    }

    /// The physical name of table `table`.
    pub fn table(&self, table: &Table) -> Result<&str, DeploymentError> {
        self.tables
            .get(&table.name)
            .map(String::as_str)
            .ok_or_else(|| DeploymentError::Unlocated {
                kind: "table",
                name: table.name.clone(),
                env_var: table.env_var.clone(),
            })
    }

    /// The physical name of `bucket`.
    pub fn bucket(&self, bucket: &Bucket) -> Result<&str, DeploymentError> {
        self.buckets
            .get(&bucket.name)
            .map(String::as_str)
            .ok_or_else(|| DeploymentError::Unlocated {
                kind: "bucket",
                name: bucket.name.clone(),
                env_var: bucket.env_var.clone(),
            })
    }
}

/// How long one store call may take: these commands move whole documents in batches, not
/// one lookup on a Lambda's request path.
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The item layout of `table`, as the generated module's `layout()` builds it.
pub fn layout(table: &Table) -> DynamoLayout {
    let builder = DynamoLayout::builder(table.partition_key.name.clone());
    let builder = match &table.sort_key {
        Some(sort_key) => {
            let kind = match sort_key.kind {
                AttributeType::N => SortKeyType::N,
                AttributeType::S | AttributeType::B => SortKeyType::S,
            };
            builder.sort_key_from_keys(sort_key.name.clone(), kind)
        }
        None => builder,
    };
    let builder = builder.ttl_attribute(table.ttl_attribute.clone());
    table
        .string_index_keys()
        .into_iter()
        .fold(builder, |builder, (name, role)| {
            let role = match role {
                ir::IndexKeyRole::Partition => IndexKeyRole::Partition,
                ir::IndexKeyRole::Sort => IndexKeyRole::Sort,
            };
            builder.index_key(name, role)
        })
        .build()
}

/// A strict cache (no in-process layer; store failures are errors) on the deployed table
/// of `data_type`, with its overflow bucket when it keeps large values.
pub fn connect(
    sdk: &SdkConfig,
    model: &CacheModel,
    deployment: &Deployment,
    data_type: &DataType,
) -> Result<TieredCache, DeploymentError> {
    let table_ref = data_type
        .table
        .as_ref()
        .ok_or_else(|| DeploymentError::RedisStore(data_type.name.clone()))?;
    let table = model.table(table_ref);
    let mut store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        deployment.table(table)?,
        layout(table),
    );
    if let (true, Some(bucket)) = (data_type.large_values, &table.overflow_bucket) {
        store = store.with_overflow(S3Overflow::new(
            s3_client(sdk),
            deployment.bucket(model.bucket(bucket))?,
        ));
    }
    Ok(TieredCache::builder()
        .store(Arc::new(store))
        .memory(MemoryLimit::entries(0))
        .strict(true)
        .store_timeout(STORE_TIMEOUT)
        .namespace(model.metrics_namespace.clone())
        .service(model.service.clone())
        .schema_version(model.schema_version(table_ref))
        .build()
        .for_type(&data_type.name)
        .with_large_values(data_type.large_values))
}
