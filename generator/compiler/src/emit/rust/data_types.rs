//! The items of one data type: its key and value structs, its marker type implementing
//! the runtime's `DataType` (and `DocumentType`), and its handle with index queries and
//! prefix invalidation.

use heck::{ToPascalCase, ToSnakeCase};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::parse_quote;

use super::key_defaults::key_constructor;
use super::policy::policy_const;
use super::tables::{index_query_fn, module_ident};
use super::text::{Params, text_code, texts_code};
use super::types::rust_type;
use super::{doc, duration, ident};
use crate::ir::{
    AttributeType, CacheModel, DataType, FieldType, Index, Piece, Rendering, ValueType,
};

/// Identifiers of one data type's generated items.
pub(super) struct Names {
    /// The key struct, `<Type>Key`.
    pub key: syn::Ident,
    /// The value: the generated struct `<Type>`, or the user's type.
    pub value: TokenStream,
    /// The marker type, `<Type>Type`.
    pub marker: syn::Ident,
    /// The handle, `<Type>Cache`.
    pub handle: syn::Ident,
    /// The `Cache` method giving the handle, `<type>`.
    pub method: syn::Ident,
}

pub(super) fn names(data_type: &DataType) -> Names {
    let pascal = data_type.name.to_pascal_case();
    let value = match &data_type.value {
        ValueType::Fields(_) => {
            let value = ident(&pascal);
            quote! { #value }
        }
        ValueType::Rust(path) => syn::parse_str::<syn::Type>(path)
            .map(|ty| quote! { #ty })
            .expect("validated Rust type path"),
    };
    Names {
        key: format_ident!("{pascal}Key"),
        value,
        marker: format_ident!("{pascal}Type"),
        handle: format_ident!("{pascal}Cache"),
        method: ident(data_type.name.to_snake_case()),
    }
}

/// Every item of `data_type`.
pub(super) fn data_type_items(model: &CacheModel, data_type: &DataType) -> TokenStream {
    let names = names(data_type);
    let key_struct = key_struct(data_type, &names);
    let value_struct = value_struct(data_type, &names);
    let handle = handle(model, data_type, &names);
    let marker = marker(data_type, &names);
    let document = data_type
        .document
        .is_some()
        .then(|| document_impl(data_type, &names));
    quote! {
        #key_struct
        #value_struct
        #handle
        #marker
        #document
    }
}

fn key_struct(data_type: &DataType, names: &Names) -> TokenStream {
    let fields = data_type.params.iter().map(|param| {
        let field = ident(&param.name);
        let ty = rust_type(&param.ty);
        let default = data_type
            .param_defaults
            .iter()
            .find(|default| default.name == param.name)
            .map(|default| format!(" (default `{}`)", default.value))
            .unwrap_or_default();
        let docs = doc(&format!("`{{{}}}` in the key{default}.", param.name));
        quote! { #docs pub #field: #ty }
    });
    let docs = doc(&format!(
        "Key of `{}` items: `{}`.",
        data_type.name, data_type.key
    ));
    let key = &names.key;
    let constructor = key_constructor(data_type, key);
    quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct #key { #(#fields),* }
        #constructor
    }
}

fn value_struct(data_type: &DataType, names: &Names) -> Option<TokenStream> {
    let ValueType::Fields(fields) = &data_type.value else {
        return None;
    };
    let fields = fields.iter().map(|field| {
        let name = ident(&field.name);
        let ty = rust_type(&field.ty);
        let default =
            matches!(field.ty, FieldType::Option(_)).then(|| quote! { #[serde(default)] });
        quote! { #default pub #name: #ty }
    });
    let docs = doc(data_type
        .description
        .as_deref()
        .unwrap_or(&format!("A `{}` value.", data_type.name)));
    let value = &names.value;
    Some(quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct #value { #(#fields),* }
    })
}

/// The marker type and its `DataType` implementation: TTLs, flags and the texts of keys,
/// tags, key prefixes and item attributes.
fn marker(data_type: &DataType, names: &Names) -> TokenStream {
    let Names {
        key, value, marker, ..
    } = names;
    let name = &data_type.name;
    let out = format_ident!("out");
    let ttl = duration(data_type.ttl_secs);
    let memory_ttl = duration(data_type.memory_ttl_secs);
    let constants = constants(data_type);

    let key_rendering = data_type.key_rendering();
    let key_arg = argument(parse_quote!(key), key_rendering.uses_key());
    let key_body = text_code(&key_rendering, Params::OfKey, &out).body();
    let tags = data_type.tag_renderings();
    let tags_fn = (!tags.is_empty()).then(|| {
        let key_arg = argument(parse_quote!(key), tags.iter().any(|tag| tag.uses_key()));
        let (statements, tags) = texts_code(&tags, Params::OfKey, "tag");
        quote! {
            fn tags(#key_arg: &#key) -> Vec<String> {
                #statements
                Vec::from([#(#tags),*])
            }
        }
    });
    let prefixes = data_type.key_prefixes();
    let prefixes_fn = (!prefixes.is_empty()).then(|| {
        let renderings: Vec<_> = prefixes
            .iter()
            .map(|prefix| data_type.prefix_rendering(prefix))
            .collect();
        let (statements, prefixes) = texts_code(&renderings, Params::OfKey, "prefix");
        quote! {
            fn key_prefixes(key: &#key) -> Vec<String> {
                #statements
                Vec::from([#(#prefixes),*])
            }
        }
    });
    let attributes_fn = attributes_fn(data_type, names);
    let sort_key = data_type
        .sort_key
        .as_ref()
        .map(|sort_key| format!(", sort key `{sort_key}`"))
        .unwrap_or_default();
    let docs = doc(&format!(
        "The `{name}` data type: keys `{}`{sort_key}, store TTL {}s, in-memory TTL {}s.",
        data_type.key, data_type.ttl_secs, data_type.memory_ttl_secs
    ));
    quote! {
        #docs
        #[derive(Clone, Copy, Debug)]
        pub enum #marker {}

        impl runtime::typed::DataType for #marker {
            type Key = #key;
            type Value = #value;
            const NAME: &'static str = #name;
            const TTL: std::time::Duration = #ttl;
            const MEMORY_TTL: std::time::Duration = #memory_ttl;
            #constants

            fn key(#key_arg: &#key) -> String { #key_body }
            #tags_fn
            #prefixes_fn
            #attributes_fn
        }
    }
}

/// `DataType::attributes`: the item attributes a data type's indexes read.
fn attributes_fn(data_type: &DataType, names: &Names) -> Option<TokenStream> {
    let Names { key, value, .. } = names;
    (!data_type.attributes.is_empty()).then(|| {
        let renderings: Vec<_> = data_type
            .attributes
            .iter()
            .map(|attribute| data_type.attribute_rendering(attribute))
            .collect();
        let (statements, texts) = texts_code(&renderings, Params::OfKey, "attribute");
        let entries = data_type.attributes.iter().zip(texts).map(|(attribute, text)| {
            let attribute_name = &attribute.name;
            let variant = match attribute.kind {
                AttributeType::N => quote! { N },
                AttributeType::S | AttributeType::B => quote! { S },
            };
            quote! { (#attribute_name.to_owned(), runtime::store::AttrValue::#variant(#text)) }
        });
        let any = |reads: &dyn Fn(&Rendering) -> bool| renderings.iter().any(reads);
        let key_arg = argument(parse_quote!(key), any(&|r| r.uses_key()));
        let value_arg = argument(parse_quote!(value), any(&|r| r.uses_value()));
        let now_arg = argument(parse_quote!(now), any(&|r| r.uses_now()));
        quote! {
            fn attributes(#key_arg: &#key, #value_arg: &#value, #now_arg: u64) -> runtime::store::Attributes {
                #statements
                runtime::store::Attributes::from([#(#entries),*])
            }
        }
    })
}

/// The constants of `DataType` after the TTLs: the key prefix, and those a data type sets
/// only when the spec does (the TTL's env var, stale-while-revalidate, distributed
/// single-flight, the version check, large values, the origin policy).
fn constants(data_type: &DataType) -> TokenStream {
    let key_prefix = data_type.key_prefix();
    let swr = data_type.stale_while_revalidate_secs.map(|secs| {
        let window = duration(secs);
        quote! { const STALE_WHILE_REVALIDATE: Option<std::time::Duration> = Some(#window); }
    });
    let distributed = data_type
        .distributed_flight
        .then(|| quote! { const DISTRIBUTED_FLIGHT: bool = true; });
    let large_values = data_type
        .large_values
        .then(|| quote! { const LARGE_VALUES: bool = true; });
    let policy = policy_const(&data_type.policy);
    let ttl_env = data_type
        .ttl_env
        .as_ref()
        .map(|var| quote! { const TTL_ENV: Option<&'static str> = Some(#var); });
    let version_check = data_type.version_check_secs.map(|secs| {
        let bound = duration(secs);
        quote! { const VERSION_CHECK: Option<std::time::Duration> = Some(#bound); }
    });

    quote! {
        #ttl_env
        #swr
        const KEY_PREFIX: &'static str = #key_prefix;
        #distributed
        #version_check
        #large_values
        #policy
    }
}

/// `name`, or `_name` when the function does not read it.
fn argument(name: syn::Ident, used: bool) -> syn::Ident {
    if used { name } else { format_ident!("_{name}") }
}

/// `impl DocumentType`: the object key of a key, and back.
fn document_impl(data_type: &DataType, names: &Names) -> TokenStream {
    let Names { key, marker, .. } = names;
    let rendering = data_type
        .object_key_rendering()
        .expect("a document data type");
    let object_key = text_code(&rendering, Params::OfKey, &format_ident!("out")).body();
    let (literals, params) = rendering
        .split()
        .expect("validated object keys hold key parameters only");
    let read: Vec<syn::Ident> = params.iter().map(|param| ident(&param.name)).collect();
    let fields = data_type.params.iter().map(|param| {
        let field = ident(&param.name);
        if param.ty == FieldType::String {
            quote! { #field }
        } else {
            quote! { #field: #field.parse().ok()? }
        }
    });
    let key_arg = argument(parse_quote!(key), rendering.uses_key());
    quote! {
        impl runtime::documents::DocumentType for #marker {
            fn object_key(#key_arg: &#key) -> String { #object_key }

            fn parse_object_key(object_key: &str) -> Option<#key> {
                let [#(#read),*] = runtime::documents::object_key_parts(object_key, &[#(#literals),*])?;
                Some(#key { #(#fields),* })
            }
        }
    }
}

/// The per-type handle: `TypedCache` (through `Deref`) plus typed index queries and
/// prefix invalidation, when the type has them.
fn handle(model: &CacheModel, data_type: &DataType, names: &Names) -> TokenStream {
    let Names {
        handle,
        marker,
        value,
        ..
    } = names;
    let queries: Vec<TokenStream> = model
        .table_of(data_type)
        .into_iter()
        .flat_map(|table| {
            data_type
                .indexes
                .iter()
                .map(|index| query_method(data_type, &table.name, table.global_index(index), value))
        })
        .collect();
    let invalidations = prefix_invalidations(data_type);
    let extras = match (queries.is_empty(), invalidations.is_empty()) {
        (true, true) => "",
        (false, true) => ", plus its index queries",
        (true, false) => ", plus its prefix invalidation",
        (false, false) => ", plus its index queries and prefix invalidation",
    };
    let docs = doc(&format!(
        "Typed access to `{}`: everything of [`runtime::typed::TypedCache`]{extras}.",
        data_type.name
    ));
    let methods = (!queries.is_empty() || !invalidations.is_empty()).then(|| {
        quote! {
            impl #handle {
                #(#queries)*
                #(#invalidations)*
            }
        }
    });
    quote! {
        #docs
        #[derive(Clone, Debug)]
        pub struct #handle(pub runtime::typed::TypedCache<#marker>);

        impl std::ops::Deref for #handle {
            type Target = runtime::typed::TypedCache<#marker>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        #methods
    }
}

/// How a query method obtains the value of an index key this data type writes.
enum KeySource {
    /// Fixed for the data type: no argument.
    Constant(String),
    /// An argument of this type.
    Argument(syn::Ident, FieldType),
}

fn key_source(data_type: &DataType, attribute: &str, kind: AttributeType) -> KeySource {
    let written = data_type.attributes.iter().find(|a| a.name == attribute);
    let rendering = written.map(|attribute| data_type.attribute_rendering(attribute));
    if let Some(text) = rendering
        .as_ref()
        .and_then(|rendering| rendering.constant())
    {
        return KeySource::Constant(text);
    }
    let fallback = match kind {
        AttributeType::N => FieldType::I64,
        AttributeType::S | AttributeType::B => FieldType::String,
    };
    match rendering
        .as_ref()
        .map(|rendering| rendering.pieces.as_slice())
    {
        Some([Piece::Param(field)]) => KeySource::Argument(ident(&field.name), field.ty.clone()),
        Some([Piece::ValueField(name, ty)]) => {
            KeySource::Argument(ident(name), ty.cloned().unwrap_or(fallback))
        }
        _ => KeySource::Argument(ident(attribute.to_snake_case()), fallback),
    }
}

fn query_method(
    data_type: &DataType,
    table: &str,
    index: &Index,
    value: &TokenStream,
) -> TokenStream {
    let method = index_query_fn(index);
    let module = module_ident(table);
    let partition_attribute = &index.partition_key.name;
    let (partition_param, partition_value) =
        match key_source(data_type, partition_attribute, index.partition_key.kind) {
            KeySource::Constant(text) => (
                None,
                quote! { runtime::store::AttrValue::S(#text.to_owned()) },
            ),
            KeySource::Argument(name, ty) => {
                let (param, value) = key_argument(&name, &ty);
                (Some(param), value)
            }
        };
    let (sort_param, sort_arg, sort_doc) = match &index.sort_key {
        Some(sort) if sort.kind == AttributeType::N => (
            Some(quote! { range: impl std::ops::RangeBounds<i64> }),
            Some(quote! { range }),
            format!(", `{}` within `range`", sort.name),
        ),
        Some(sort) => (
            Some(quote! { sort: Option<runtime::query::SortCondition> }),
            Some(quote! { sort }),
            format!(", `{}` matching `sort`", sort.name),
        ),
        None => (None, None, String::new()),
    };
    let docs = doc(&format!(
        "One page of `{}` items from index `{}` by `{partition_attribute}`{sort_doc}; \
         pass the previous page's `next` to continue.",
        data_type.name, index.name
    ));
    let params = partition_param.into_iter().chain(sort_param);
    let sort_arg = sort_arg.into_iter();
    quote! {
        #docs
        pub async fn #method(
            &self,
            #(#params,)*
            page: Option<runtime::query::PageToken>,
        ) -> Result<runtime::query::Page<#value>, runtime::CacheError> {
            self.0.query(#module::#method(#partition_value, #(#sort_arg,)* page)).await
        }
    }
}

/// A method parameter for a key value of type `ty`, and the `AttrValue` it becomes.
fn key_argument(name: &syn::Ident, ty: &FieldType) -> (TokenStream, TokenStream) {
    match ty {
        FieldType::String => (
            quote! { #name: &str },
            quote! { runtime::store::AttrValue::S(#name.to_owned()) },
        ),
        FieldType::U32 | FieldType::U64 | FieldType::I64 | FieldType::F64 => {
            let rust = rust_type(ty);
            (
                quote! { #name: #rust },
                quote! { runtime::store::AttrValue::N(#name.to_string()) },
            )
        }
        other => {
            let rust = rust_type(other);
            (
                quote! { #name: #rust },
                quote! { runtime::store::AttrValue::S(#name.to_string()) },
            )
        }
    }
}

/// `invalidate_by_<first>[_and_<next>]`: every item whose key starts with the given leading
/// parameters, where the template puts fixed text after them.
fn prefix_invalidations(data_type: &DataType) -> Vec<TokenStream> {
    let prefix = format_ident!("prefix");
    data_type
        .key_prefixes()
        .iter()
        .map(|key_prefix| {
            let method = format_ident!("invalidate_by_{}", key_prefix.params.join("_and_"));
            let args = data_type
                .params
                .iter()
                .filter(|param| key_prefix.params.contains(&param.name))
                .map(|param| {
                    let name = ident(&param.name);
                    let ty = match param.ty {
                        FieldType::String => quote! { &str },
                        _ => rust_type(&param.ty),
                    };
                    quote! { #name: #ty }
                });
            let rendering = data_type.prefix_rendering(key_prefix);
            let build = text_code(&rendering, Params::Arguments, &prefix).bind(&prefix);
            let docs = doc(&format!(
                "Invalidates every `{}` item whose key starts with `{}`: one stamp write, \
                 whatever the number of items.",
                data_type.name, key_prefix.template
            ));
            quote! {
                #docs
                pub async fn #method(&self, #(#args),*) -> Result<(), runtime::CacheError> {
                    #build
                    self.0.invalidate_prefix(&prefix).await
                }
            }
        })
        .collect()
}
