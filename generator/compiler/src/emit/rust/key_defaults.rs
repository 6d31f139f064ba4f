//! The constructor of a key whose parameters have defaults: `new` takes the others, and
//! `Default` exists when every parameter has one, so callers omit what the spec defaults
//! (`Ec2InstanceTypesKey::new("us-east-1")` keys with account `global`).

use proc_macro2::TokenStream;
use quote::quote;

use super::types::rust_type;
use super::{doc, ident};
use crate::ir::{DataType, FieldType};

/// `impl <Type>Key { fn new(..) }` (and `Default`), or nothing when no parameter has a default.
pub(super) fn key_constructor(data_type: &DataType, key: &syn::Ident) -> Option<TokenStream> {
    if data_type.param_defaults.is_empty() {
        return None;
    }
    let mut arguments = Vec::new();
    let mut fields = Vec::new();
    let mut defaulted = Vec::new();
    for param in &data_type.params {
        let field = ident(&param.name);
        let default = data_type
            .param_defaults
            .iter()
            .find(|default| default.name == param.name);
        match (default, &param.ty) {
            (Some(default), FieldType::String) => {
                let value = &default.value;
                fields.push(quote! { #field: #value.to_owned() });
                defaulted.push(format!("`{}` = `{value}`", param.name));
            }
            (Some(default), _) => {
                let value: syn::Expr =
                    syn::parse_str(&default.value).expect("a validated number or bool");
                fields.push(quote! { #field: #value });
                defaulted.push(format!("`{}` = `{}`", param.name, default.value));
            }
            (None, FieldType::String) => {
                arguments.push(quote! { #field: impl Into<String> });
                fields.push(quote! { #field: #field.into() });
            }
            (None, ty) => {
                let ty = rust_type(ty);
                arguments.push(quote! { #field: #ty });
                fields.push(quote! { #field });
            }
        }
    }
    let docs = doc(&format!(
        "A key with its parameters' defaults: {}.",
        defaulted.join(", ")
    ));
    let default_impl = arguments.is_empty().then(|| {
        quote! {
            impl Default for #key {
                fn default() -> Self {
                    Self::new()
                }
            }
        }
    });
    Some(quote! {
        impl #key {
            #docs
            pub fn new(#(#arguments),*) -> Self {
                Self { #(#fields),* }
            }
        }
        #default_impl
    })
}
