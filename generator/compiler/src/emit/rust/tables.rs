//! A module per table (its names, layout, expected deployment and index queries), and
//! one of bucket names.

use heck::{ToShoutySnakeCase, ToSnakeCase};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{described, doc, ident};
use crate::ir::{
    AttributeType, BucketRef, CacheModel, DeployedBucket, DeployedEncryption, DeployedNotification,
    DeployedTable, Index, IndexKeyRole, KeyAttribute, ProjectionType, Ref, Table, TableRef,
};

/// The module of a table's names: `<table>::ENV_VAR` and the rest.
pub(super) fn table_module(model: &CacheModel, reference: &TableRef, table: &Table) -> TokenStream {
    let module = module_ident(&table.name);
    let docs = described(
        &format!("Table `{}`.", table.name),
        table.description.as_deref(),
    );
    let env_var = &table.env_var;
    let partition_key = &table.partition_key.name;
    let ttl_attribute = &table.ttl_attribute;
    let sort_key = table.sort_key.as_ref().map(|key| {
        let name = &key.name;
        quote! {
            /// Sort key attribute.
            pub const SORT_KEY: &str = #name;
        }
    });
    // Each data type's key carries its sort key value, which the store splits off.
    let layout_sort_key = table.sort_key.as_ref().map(|key| {
        let kind = match key.kind {
            AttributeType::N => quote! { N },
            AttributeType::S | AttributeType::B => quote! { S },
        };
        quote! { .sort_key_from_keys(SORT_KEY, runtime::store::SortKeyType::#kind) }
    });
    // Index keys too long or empty for DynamoDB leave the item out of the index.
    let index_keys = table.string_index_keys().into_iter().map(|(name, role)| {
        let role = match role {
            IndexKeyRole::Partition => quote! { Partition },
            IndexKeyRole::Sort => quote! { Sort },
        };
        quote! { .index_key(#name, runtime::store::IndexKeyRole::#role) }
    });
    let indexes = table.indexes.iter().map(|index| {
        let constant = index_constant(index);
        let name = &index.name;
        let docs = doc(&format!("Global secondary index `{}`.", index.name));
        quote! { #docs pub const #constant: &str = #name; }
    });
    let attributes = attribute_constants(model, reference);
    let expected = expected_table(model, table);
    let queries = table.indexes.iter().map(index_query);
    let schema_version = proc_macro2::Literal::u32_unsuffixed(model.schema_version(reference));
    quote! {
        #docs
        pub mod #module {
            use super::runtime;

            /// Environment variable holding the physical table name.
            pub const ENV_VAR: &str = #env_var;
            /// Partition key attribute.
            pub const PARTITION_KEY: &str = #partition_key;
            #sort_key
            /// Attribute DynamoDB's TTL deletes items by.
            pub const TTL_ATTRIBUTE: &str = #ttl_attribute;
            /// Schema version of this table's entries: a hash of its data types' value
            /// shapes, so an entry written for another shape reads as a miss.
            pub const SCHEMA_VERSION: u32 = #schema_version;
            #(#indexes)*
            #attributes

            /// How items are laid out in this table.
            pub fn layout() -> runtime::store::DynamoLayout {
                runtime::store::DynamoLayout::builder(PARTITION_KEY)
                    #layout_sort_key
                    .ttl_attribute(TTL_ATTRIBUTE)
                    #(#index_keys)*
                    .build()
            }

            #expected
            #(#queries)*
        }
    }
}

/// The module of a table, or of a bucket's names.
pub(super) fn module_ident(name: &str) -> syn::Ident {
    ident(name.to_snake_case())
}

/// The constant naming an index in its table's module.
fn index_constant(index: &Index) -> syn::Ident {
    ident(index.name.to_shouty_snake_case())
}

/// The function of a table's module that builds a query of `index`.
pub(super) fn index_query_fn(index: &Index) -> syn::Ident {
    format_ident!("query_{}", index.name.to_snake_case())
}

/// `buckets::<name>::ENV_VAR` for each document bucket.
pub(super) fn buckets_module(model: &CacheModel) -> Option<TokenStream> {
    if model.buckets.is_empty() {
        return None;
    }
    let modules = Ref::each(&model.buckets).map(|(reference, bucket)| {
        let module = module_ident(&bucket.name);
        let env_var = &bucket.env_var;
        let docs = described(
            &format!("Bucket `{}`.", bucket.name),
            bucket.description.as_deref(),
        );
        let expected = bucket.created.then(|| expected_bucket(model, &reference));
        quote! {
            #docs
            pub mod #module {
                /// Environment variable holding the bucket name.
                pub const ENV_VAR: &str = #env_var;
                #expected
            }
        }
    });
    Some(quote! {
        /// S3 buckets holding documents, the source of truth of document data types.
        pub mod buckets {
            #(#modules)*
        }
    })
}

/// `expected()` of a bucket the templates create: what `Cache::verify_deployment` checks,
/// the bucket's [`DeployedBucket`] without the ARN of a function the stack creates
/// (unknown before deployment).
fn expected_bucket(model: &CacheModel, reference: &BucketRef) -> TokenStream {
    let DeployedBucket {
        encryption,
        versioning,
        notifications,
        fingerprint: _,
    } = model.deployed_bucket(reference, None);
    let optional = |text: Option<&str>| match text {
        Some(text) => quote! { Some(#text.into()) },
        None => quote! { None },
    };
    let encryption = match encryption {
        DeployedEncryption::S3Managed => quote! { S3Managed },
        DeployedEncryption::Kms(key) => {
            let key = optional(key.as_deref());
            quote! { Kms(#key) }
        }
    };
    let notifications = notifications.iter().map(|notification| {
        let function = optional(notification.function_arn.as_deref());
        let DeployedNotification {
            events,
            prefix,
            suffix,
            ..
        } = notification;
        quote! {
            runtime::verify::ExpectedNotification {
                function_arn: #function,
                events: Vec::from([#(#events.into()),*]),
                prefix: #prefix.into(),
                suffix: #suffix.into(),
            }
        }
    });
    quote! {
        use super::super::runtime;

        /// The bucket as this module expects it deployed: encryption, versioning,
        /// notifications and fingerprint (and every public access block on).
        pub fn expected() -> runtime::verify::ExpectedBucket {
            runtime::verify::ExpectedBucket {
                encryption: runtime::verify::BucketEncryption::#encryption,
                versioning: #versioning,
                notifications: Vec::from([#(#notifications),*]),
                fingerprint: super::super::FINGERPRINT.into(),
            }
        }
    }
}

/// The extra attributes data types write on this table's items, as constants.
fn attribute_constants(model: &CacheModel, table: &TableRef) -> Option<TokenStream> {
    let mut names: Vec<&str> = model
        .data_types_in(table)
        .flat_map(|data_type| {
            data_type
                .attributes
                .iter()
                .map(|attribute| attribute.name.as_str())
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return None;
    }
    let constants = names.iter().map(|name| {
        let constant = ident(name.to_shouty_snake_case());
        let docs = doc(&format!("Item attribute `{name}`."));
        quote! { #docs pub const #constant: &str = #name; }
    });
    Some(quote! {
        /// Extra item attributes written so the indexes can find items.
        pub mod attributes {
            #(#constants)*
        }
    })
}

/// What `verify_deployment` expects DynamoDB to report for the table: its
/// [`DeployedTable`], the TTL attribute and fingerprint named by their constants.
fn expected_table(model: &CacheModel, table: &Table) -> TokenStream {
    let DeployedTable {
        partition_key,
        sort_key,
        indexes,
        ttl_attribute: _,
        fingerprint: _,
    } = model.deployed_table(table);
    let partition_key = key_attribute(&partition_key);
    let sort_key = optional_key_attribute(sort_key.as_ref());
    let indexes = indexes.iter().map(|index| {
        let name = &index.name;
        let partition_key = key_attribute(&index.partition_key);
        let sort_key = optional_key_attribute(index.sort_key.as_ref());
        let projection = match index.projection {
            ProjectionType::All => quote! { All },
            ProjectionType::KeysOnly => quote! { KeysOnly },
            ProjectionType::Include => quote! { Include },
        };
        quote! {
            runtime::verify::ExpectedIndex {
                name: #name.into(),
                partition_key: #partition_key,
                sort_key: #sort_key,
                projection: runtime::verify::Projection::#projection,
            }
        }
    });
    quote! {
        /// The table as this module expects it deployed: keys, indexes, TTL and fingerprint.
        pub fn expected() -> runtime::verify::ExpectedTable {
            runtime::verify::ExpectedTable {
                partition_key: #partition_key,
                sort_key: #sort_key,
                indexes: Vec::from([#(#indexes),*]),
                ttl_attribute: TTL_ATTRIBUTE.into(),
                fingerprint: super::FINGERPRINT.into(),
            }
        }
    }
}

fn key_attribute(key: &KeyAttribute) -> TokenStream {
    let name = &key.name;
    let kind = match key.kind {
        AttributeType::S => quote! { S },
        AttributeType::N => quote! { N },
        AttributeType::B => quote! { B },
    };
    quote! { runtime::verify::KeyAttribute::new(#name, runtime::verify::ScalarType::#kind) }
}

fn optional_key_attribute(key: Option<&KeyAttribute>) -> TokenStream {
    match key {
        Some(key) => {
            let key = key_attribute(key);
            quote! { Some(#key) }
        }
        None => quote! { None },
    }
}

/// The query of one index, which every data type it finds runs with its own partition
/// value: numeric sort keys take a range, others a sort condition.
fn index_query(index: &Index) -> TokenStream {
    let function = index_query_fn(index);
    let constant = index_constant(index);
    let partition_attribute = &index.partition_key.name;
    let start = quote! {
        runtime::query::IndexQuery::new(#constant, #partition_attribute, partition).start(page)
    };
    let (sort_param, body, sort_doc) = match &index.sort_key {
        Some(sort) if sort.kind == AttributeType::N => {
            let attribute = &sort.name;
            (
                Some(quote! { range: impl std::ops::RangeBounds<i64>, }),
                quote! { #start.sort_within(#attribute, range) },
                format!(", `{attribute}` within `range`"),
            )
        }
        Some(sort) => {
            let attribute = &sort.name;
            (
                Some(quote! { sort: Option<runtime::query::SortCondition>, }),
                quote! { #start.sort_matching(#attribute, sort) },
                format!(", `{attribute}` matching `sort`"),
            )
        }
        None => (None, start, String::new()),
    };
    let docs = doc(&format!(
        "A query of index `{}` for the items whose `{partition_attribute}` is `partition`{sort_doc}, \
         from `page` on (the previous page's `next`).",
        index.name
    ));
    quote! {
        #docs
        pub fn #function(
            partition: runtime::store::AttrValue,
            #sort_param
            page: Option<runtime::query::PageToken>,
        ) -> runtime::query::IndexQuery {
            #body
        }
    }
}
