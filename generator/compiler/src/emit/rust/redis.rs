//! The `Cache` struct of a Redis store: one tiered cache on Redis, connected from the
//! environment without a table variable or an AWS configuration.

use proc_macro2::TokenStream;
use quote::quote;

use super::cache::{STORE_FIELD, accessor, code_list, ttl_env_docs, ttl_overrides};
use super::doc;
use super::tables::module_ident;
use crate::ir::{CacheModel, Redis};
use cachegen_names::env;

/// The `store` module and the `Cache` struct of a spec whose store is Redis: one tiered
/// cache for every data type.
pub(super) fn cache_struct(model: &CacheModel, redis: &Redis) -> TokenStream {
    let service = &model.service;
    let field = module_ident(STORE_FIELD);
    let cluster = redis.cluster;
    let redis_url = env::REDIS_URL;
    let redis_cluster = env::REDIS_CLUSTER;
    let distributed = model
        .data_types
        .iter()
        .any(|data_type| data_type.distributed_flight)
        .then(|| quote! { .distributed_flight(runtime::DistributedFlight::default()) });
    let accessors = model
        .data_types
        .iter()
        .map(|data_type| accessor(data_type, &field));
    let settings = [
        env::REDIS_CLUSTER,
        env::CACHE_ENABLED,
        env::KEY_PREFIX,
        env::MEMORY_SIZE,
        env::STORE_TIMEOUT_MS,
    ];
    let (ttl_fields, ttl_markers) = ttl_overrides(model);
    let from_env_docs = doc(&format!(
        "Connects as the templates configure a consumer: Redis at `{redis_url}` (unset: the \
         in-process cache only), plus {}{}. `{redis_cluster}` defaults to the spec's \
         `cluster` (`{cluster}`).",
        code_list(settings.into_iter()),
        ttl_env_docs(model),
    ));
    let cache_docs = doc(&format!(
        "Typed access to the `{service}` cache: one handle per data type."
    ));
    let store_module = store_module(model, redis);
    quote! {
        #store_module

        #cache_docs
        #[derive(Clone, Debug)]
        pub struct Cache {
            #field: runtime::TieredCache,
            #(#ttl_fields: std::time::Duration,)*
        }

        impl Cache {
            #from_env_docs
            pub async fn from_env() -> Result<Self, runtime::CacheError> {
                Self::from_lookup(|name| std::env::var(name).ok()).await
            }

            /// Like [`Cache::from_env`], reading settings through `lookup` instead of the environment.
            pub async fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, runtime::CacheError> {
                #(let #ttl_fields = runtime::typed::ttl_from_lookup::<#ttl_markers>(&lookup)?;)*
                let cluster = store::CLUSTER.to_string();
                let config = runtime::config::CacheConfig::redis_from_lookup(|name| {
                    lookup(name).or_else(|| (name == #redis_cluster).then(|| cluster.clone()))
                })?;
                let #field = config
                    .redis_builder(runtime::DEFAULT_STORE_TIMEOUT)
                    .await?
                    .namespace(METRICS_NAMESPACE)
                    .service(SERVICE)
                    .schema_version(store::SCHEMA_VERSION)
                    #distributed
                    .build();
                Ok(Self { #field, #(#ttl_fields,)* })
            }

            /// From a tiered cache built by hand.
            pub fn from_parts(#field: runtime::TieredCache) -> Self {
                Self {
                    #field,
                    #(#ttl_fields: <#ttl_markers as runtime::typed::DataType>::TTL,)*
                }
            }

            #(#accessors)*

            /// Writes the metrics gathered so far as EMF log lines (call at the end of an invocation).
            pub fn flush_metrics(&self) {
                self.#field.metrics().flush();
            }
        }
    }
}

/// The `store` module: the entries' schema version, and whether the Redis is a Cluster.
fn store_module(model: &CacheModel, redis: &Redis) -> TokenStream {
    let service = &model.service;
    let schema_version = proc_macro2::Literal::u32_unsuffixed(model.redis_schema_version());
    let cluster = redis.cluster;
    let module_docs = doc(&format!(
        "The Redis store of the `{service}` cache: no DynamoDB table."
    ));
    quote! {
        #module_docs
        pub mod store {
            /// Schema version of the store's entries: a hash of every data type's value
            /// shape, so an entry written for another shape reads as a miss.
            pub const SCHEMA_VERSION: u32 = #schema_version;

            /// Whether the spec's Redis is a Redis Cluster (`REDIS_CLUSTER` when unset).
            pub const CLUSTER: bool = #cluster;
        }
    }
}
