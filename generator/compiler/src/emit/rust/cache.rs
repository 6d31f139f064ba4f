//! The `Cache` struct: one tiered cache per table, connected from the environment, with a
//! typed handle per data type.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::data_types::{Names, names};
use super::tables::module_ident;
use super::{described, doc};
use crate::ir::{CacheModel, DataType, Ref, Table, TableRef};
use cachegen_names::env;

/// The field of the `Cache` of a Redis store holding its one tiered cache.
pub(super) const STORE_FIELD: &str = "store";

/// The typed handle of `data_type`, on the tiered cache in `field`.
pub(super) fn accessor(data_type: &DataType, field: &syn::Ident) -> TokenStream {
    let Names { handle, method, .. } = names(data_type);
    let docs = described(
        &format!("Typed access to `{}`", data_type.name),
        data_type.description.as_deref(),
    );
    let ttl = data_type.ttl_env.is_some().then(|| {
        let field = format_ident!("{method}_ttl");
        quote! { .with_ttl(self.#field) }
    });
    quote! {
        #docs
        pub fn #method(&self) -> #handle {
            #handle(runtime::typed::TypedCache::new(&self.#field)#ttl)
        }
    }
}

/// The `Cache` fields keeping the TTLs the environment overrides, read at construction:
/// the field and the data type's marker, per data type with a `ttl_env`.
pub(super) fn ttl_overrides(model: &CacheModel) -> (Vec<syn::Ident>, Vec<syn::Ident>) {
    model
        .data_types
        .iter()
        .filter(|data_type| data_type.ttl_env.is_some())
        .map(|data_type| {
            let Names { marker, method, .. } = names(data_type);
            (format_ident!("{method}_ttl"), marker)
        })
        .unzip()
}

/// What `from_env`'s docs add for the TTL overrides: nothing when there are none.
pub(super) fn ttl_env_docs(model: &CacheModel) -> String {
    let ttl_envs: Vec<&str> = model
        .data_types
        .iter()
        .filter_map(|data_type| data_type.ttl_env.as_deref())
        .collect();
    if ttl_envs.is_empty() {
        return String::new();
    }
    format!(
        ", and the data types' TTL overrides ({}): a bad value is an error naming its variable",
        code_list(ttl_envs.into_iter())
    )
}

/// The `Cache` struct of a spec whose store is DynamoDB: one tiered cache per table.
pub(super) fn cache_struct(model: &CacheModel) -> TokenStream {
    let service = &model.service;
    let (ttl_fields, ttl_markers) = ttl_overrides(model);
    let (bucket_fields, bucket_modules): (Vec<syn::Ident>, Vec<syn::Ident>) = model
        .buckets
        .iter()
        .map(|bucket| {
            let field = format_ident!("{}_bucket", bucket.name.to_snake_case());
            (field, module_ident(&bucket.name))
        })
        .unzip();
    let (document_accessors, sync_fn) = document_methods(model);
    let field_names: Vec<syn::Ident> = model
        .tables
        .iter()
        .map(|table| module_ident(&table.name))
        .collect();
    let connects =
        Ref::each(&model.tables).map(|(reference, table)| connect_table(model, &reference, table));
    let accessors = model.data_types.iter().map(|data_type| {
        let table = data_type
            .table
            .as_ref()
            .map_or(STORE_FIELD, |table| table.name());
        accessor(data_type, &module_ident(table))
    });
    let idempotent = super::idempotency::accessors(&model.idempotency);
    let verify_deployment = verify_deployment(model);
    let has_buckets = !model.buckets.is_empty();
    let s3_field = has_buckets.then(|| quote! { s3: Option<runtime::aws_sdk_s3::Client>, });
    let s3_connect = has_buckets.then(|| quote! { s3: sdk.map(runtime::config::s3_client), });
    let s3_none = has_buckets.then(|| quote! { s3: None, });
    let from_env_docs = from_env_docs(model);
    let cache_docs = doc(&format!(
        "Typed access to the `{service}` cache: one handle per data type."
    ));
    quote! {
        #cache_docs
        #[derive(Clone, Debug)]
        pub struct Cache {
            #(#field_names: runtime::TieredCache,)*
            #(#bucket_fields: Option<String>,)*
            #(#ttl_fields: std::time::Duration,)*
            #s3_field
        }

        impl Cache {
            #from_env_docs
            pub async fn from_env() -> Result<Self, runtime::CacheError> {
                let sdk = runtime::config::aws_config_for_tables(&[#(#field_names::ENV_VAR),*]).await;
                Self::from_env_with_sdk(sdk.as_ref()).await
            }

            /// Like [`Cache::from_env`], with an explicit AWS configuration (custom endpoint, test credentials).
            pub async fn from_env_with_sdk(sdk: Option<&runtime::aws_config::SdkConfig>) -> Result<Self, runtime::CacheError> {
                Self::from_lookup(sdk, |name| std::env::var(name).ok()).await
            }

            /// Like [`Cache::from_env_with_sdk`], reading settings through `lookup` instead of the environment.
            pub async fn from_lookup(
                sdk: Option<&runtime::aws_config::SdkConfig>,
                lookup: impl Fn(&str) -> Option<String>,
            ) -> Result<Self, runtime::CacheError> {
                #(let #ttl_fields = runtime::typed::ttl_from_lookup::<#ttl_markers>(&lookup)?;)*
                #(#connects)*
                #(let #bucket_fields = lookup(buckets::#bucket_modules::ENV_VAR).filter(|name| !name.trim().is_empty());)*
                Ok(Self { #(#field_names,)* #(#bucket_fields,)* #(#ttl_fields,)* #s3_connect })
            }

            /// From tiered caches built by hand, one per table, in spec order.
            pub fn from_parts(#(#field_names: runtime::TieredCache),*) -> Self {
                Self {
                    #(#field_names,)*
                    #(#bucket_fields: None,)*
                    #(#ttl_fields: <#ttl_markers as runtime::typed::DataType>::TTL,)*
                    #s3_none
                }
            }

            #(#accessors)*
            #(#idempotent)*
            #(#document_accessors)*
            #sync_fn

            #verify_deployment

            /// Writes the metrics gathered so far as EMF log lines (call at the end of an invocation).
            pub fn flush_metrics(&self) {
                #(self.#field_names.metrics().flush();)*
            }
        }
    }
}

/// `Cache::from_env`'s doc comment: the env vars it reads.
fn from_env_docs(model: &CacheModel) -> TokenStream {
    let settings = [
        env::REDIS_URL,
        env::REDIS_CLUSTER,
        env::CACHE_ENABLED,
        env::KEY_PREFIX,
        env::MEMORY_SIZE,
        env::STORE_TIMEOUT_MS,
    ];
    let ttl_env_docs = ttl_env_docs(model);
    doc(&format!(
        "Connects as the templates configure a Lambda: each table's name from its env var ({}), \
         plus {}{ttl_env_docs}.",
        code_list(model.tables.iter().map(|table| table.env_var.as_str())),
        code_list(settings.into_iter()),
    ))
}

/// The accessors of each document type's `Documents`, and `sync_documents` when the spec
/// has document types.
fn document_methods(model: &CacheModel) -> (Vec<TokenStream>, Option<TokenStream>) {
    let document_accessors = model.data_types.iter().filter_map(|data_type| {
        let document = data_type.document.as_ref()?;
        let Names { marker, method, .. } = names(data_type);
        let accessor = format_ident!("{method}_documents");
        let field = format_ident!("{}_bucket", document.bucket.name().to_snake_case());
        let module = module_ident(document.bucket.name());
        let docs = doc(&format!(
            "`{}` documents in S3 (`{}`), cached and indexed through [`Cache::{method}`]: \
             write-through, fallback reads and event sync. Fails when the bucket's env var \
             was not set.",
            data_type.name, document.object_key
        ));
        Some(quote! {
            #docs
            pub fn #accessor(
                &self,
                s3: &runtime::aws_sdk_s3::Client,
            ) -> Result<runtime::documents::Documents<#marker>, runtime::CacheError> {
                runtime::documents::Documents::in_bucket_from_env(
                    self.#method().0,
                    s3,
                    self.#field.as_deref(),
                    buckets::#module::ENV_VAR,
                )
            }
        })
    });
    let syncs = model.data_types.iter().filter_map(|data_type| {
        data_type.document.as_ref()?;
        let accessor = format_ident!("{}_documents", data_type.name.to_snake_case());
        Some(quote! { self.#accessor(s3)?.sync(event).await? })
    });
    // A bucket that only holds large values' bodies has no events to apply.
    let has_documents = model.data_types.iter().any(|dt| dt.document.is_some());
    let sync_fn = has_documents.then(|| {
        quote! {
            /// Applies an S3 event notification to every document type: the body of the
            /// sync Lambda the bucket notifies. Records no type recognises are skipped.
            pub async fn sync_documents(
                &self,
                s3: &runtime::aws_sdk_s3::Client,
                event: &runtime::documents::S3Event,
            ) -> Result<runtime::documents::SyncSummary, runtime::documents::DocumentError> {
                let per_type = [#(#syncs),*];
                Ok(runtime::documents::SyncSummary::of_types(&per_type, event.records.len()))
            }
        }
    });
    (document_accessors.collect(), sync_fn)
}

/// How `from_lookup` connects one table's tiered cache.
fn connect_table(model: &CacheModel, reference: &TableRef, table: &Table) -> TokenStream {
    let field = module_ident(&table.name);
    let distributed = model
        .data_types_in(reference)
        .any(|data_type| data_type.distributed_flight)
        .then(|| quote! { .distributed_flight(runtime::DistributedFlight::default()) });
    let overflow = table.overflow_bucket.as_ref().map(|bucket| {
        let module = module_ident(bucket.name());
        quote! {
            let config = match lookup(buckets::#module::ENV_VAR).filter(|name| !name.trim().is_empty()) {
                Some(bucket) => config.with_overflow_bucket(bucket),
                None => config,
            };
        }
    });
    quote! {
        let #field = {
            let config = runtime::config::CacheConfig::from_lookup(#field::ENV_VAR, &lookup)?;
            #overflow
            config
                .builder_with_sdk(sdk, #field::layout(), runtime::DEFAULT_STORE_TIMEOUT)
                .await?
                .namespace(METRICS_NAMESPACE)
                .service(SERVICE)
                .schema_version(#field::SCHEMA_VERSION)
                #distributed
                .build()
        };
    }
}

/// `verify_deployment`: each table, then each bucket the templates create, against what
/// this module expects.
fn verify_deployment(model: &CacheModel) -> TokenStream {
    let verifies = model.tables.iter().map(|table| {
        let field = module_ident(&table.name);
        let name = &table.name;
        quote! {
            report.extend(#name, runtime::verify::verify_table(&self.#field, &#field::expected()).await?);
        }
    });
    let bucket_verifies = model.buckets.iter().filter(|bucket| bucket.created).map(|bucket| {
        let field = format_ident!("{}_bucket", bucket.name.to_snake_case());
        let module = module_ident(&bucket.name);
        let name = &bucket.name;
        quote! {
            if let (Some(s3), Some(bucket)) = (&self.s3, &self.#field) {
                report.extend_bucket(#name, runtime::verify::verify_bucket(s3, bucket, &buckets::#module::expected()).await?);
            }
        }
    });
    quote! {
    /// Compares each deployed table (keys, indexes, TTL, fingerprint tag) and each
    /// document bucket the templates create (encryption, versioning, public access
    /// block, notifications, fingerprint tag) with what this module expects. Tables
    /// without a DynamoDB store are skipped, and buckets when the cache was built
    /// without an AWS configuration or the bucket's env var.
    pub async fn verify_deployment(&self) -> Result<runtime::verify::VerifyReport, runtime::CacheError> {
        let mut report = runtime::verify::VerifyReport::default();
        #(#verifies)*
        #(#bucket_verifies)*
        Ok(report)
    }
    }
}

/// `names` as code, comma-separated: `` `A`, `B` ``.
pub(super) fn code_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
