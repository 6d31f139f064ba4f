//! The Rust types of value fields and key parameters.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::FieldType;

/// The Rust type of a value field or key parameter of type `ty`.
pub(super) fn rust_type(ty: &FieldType) -> TokenStream {
    match ty {
        FieldType::String => quote! { String },
        FieldType::Bool => quote! { bool },
        FieldType::U32 => quote! { u32 },
        FieldType::U64 => quote! { u64 },
        FieldType::I64 => quote! { i64 },
        FieldType::F64 => quote! { f64 },
        FieldType::Json => quote! { serde_json::Value },
        FieldType::List(inner) => {
            let inner = rust_type(inner);
            quote! { Vec<#inner> }
        }
        FieldType::Option(inner) => {
            let inner = rust_type(inner);
            quote! { Option<#inner> }
        }
        FieldType::Map(inner) => {
            let inner = rust_type(inner);
            quote! { std::collections::BTreeMap<String, #inner> }
        }
    }
}
