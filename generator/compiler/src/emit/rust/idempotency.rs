//! The items of one idempotent handler: its request and response structs (unless the spec
//! names its own types) and a handle whose `run` wraps a `lambda_runtime` handler body.

use heck::{ToPascalCase, ToSnakeCase};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::tables::module_ident;
use super::types::rust_type;
use super::{doc, duration, ident};
use crate::ir::{FieldType, IdempotentHandler, InFlight, ValueType};

/// Identifiers of one handler's generated items.
struct Names {
    /// The request: the generated struct `<Handler>Request`, or the user's type.
    request: TokenStream,
    /// The response: the generated struct `<Handler>Response`, or the user's type.
    response: TokenStream,
    /// The handle, `<Handler>Idempotency`.
    handle: syn::Ident,
}

fn names(handler: &IdempotentHandler) -> Names {
    let pascal = handler.name.to_pascal_case();
    Names {
        request: type_of(&handler.request, &format!("{pascal}Request")),
        response: type_of(&handler.response, &format!("{pascal}Response")),
        handle: format_ident!("{pascal}Idempotency"),
    }
}

/// The generated struct `generated`, or the user's type.
fn type_of(value: &ValueType, generated: &str) -> TokenStream {
    match value {
        ValueType::Fields(_) => {
            let name = ident(generated);
            quote! { #name }
        }
        ValueType::Rust(path) => syn::parse_str::<syn::Type>(path)
            .map(|ty| quote! { #ty })
            .expect("validated Rust type path"),
    }
}

/// Every item of `handler`.
pub(super) fn handler_items(handler: &IdempotentHandler) -> TokenStream {
    let names = names(handler);
    let request = fields_struct(
        &handler.request,
        &names.request,
        &format!("A request to `{}`.", handler.name),
    );
    let response = fields_struct(
        &handler.response,
        &names.response,
        &format!(
            "The response of `{}`, stored and returned to its retries.",
            handler.name
        ),
    );
    let handle = handle(handler, &names);
    quote! {
        #request
        #response
        #handle
    }
}

/// The struct of an inline `fields` type.
fn fields_struct(value: &ValueType, name: &TokenStream, docs: &str) -> Option<TokenStream> {
    let ValueType::Fields(fields) = value else {
        return None;
    };
    let fields = fields.iter().map(|field| {
        let name = ident(&field.name);
        let ty = rust_type(&field.ty);
        let default =
            matches!(field.ty, FieldType::Option(_)).then(|| quote! { #[serde(default)] });
        quote! { #default pub #name: #ty }
    });
    let docs = doc(docs);
    Some(quote! {
        #docs
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct #name { #(#fields),* }
    })
}

fn handle(handler: &IdempotentHandler, names: &Names) -> TokenStream {
    let Names {
        request,
        response,
        handle,
    } = names;
    let name = &handler.name;
    let key_list = handler.key.join(", ");
    let summary = handler
        .description
        .clone()
        .unwrap_or_else(|| format!("The idempotent handler `{name}`."));
    let docs = doc(&format!(
        "{summary}\n\nIdempotent: one run per ({key_list}) within {} s, whose response retries get; \
         a duplicate in flight {}; failures are not stored.",
        handler.expires_after_secs,
        match handler.in_flight {
            InFlight::Refuse => "gets `IdempotencyError::InProgress`",
            InFlight::Wait => "waits for the first one's response",
        },
    ));
    let window = duration(handler.expires_after_secs);
    let validation = handler.payload_validation;
    let in_flight = match handler.in_flight {
        InFlight::Refuse => quote! { runtime::idempotency::InFlight::Refuse },
        InFlight::Wait => quote! {
            runtime::idempotency::InFlight::Wait { poll: std::time::Duration::from_millis(50) }
        },
    };
    let key_fields = handler.key.iter().map(ident);
    quote! {
        #docs
        #[derive(Clone, Debug)]
        pub struct #handle(pub runtime::idempotency::Idempotency);

        impl #handle {
            /// The handler's name, which scopes its records' keys.
            pub const NAME: &str = #name;

            /// The spec's settings: window, payload validation and what a duplicate in flight gets.
            pub fn config() -> runtime::idempotency::IdempotencyConfig {
                runtime::idempotency::IdempotencyConfig {
                    expires_after: #window,
                    payload_validation: #validation,
                    in_flight: #in_flight,
                    ..runtime::idempotency::IdempotencyConfig::default()
                }
            }

            /// Runs `handler` on `request` once per key (see the type's docs).
            /// `deadline_ms` is when the invocation ends, epoch ms
            /// (`lambda_runtime::Context::deadline`): a record left by an invocation that
            /// crashed or timed out lapses then, so the next retry runs the handler.
            pub async fn run<'r, E, F, Fut>(
                &self,
                deadline_ms: u64,
                request: &'r #request,
                handler: F,
            ) -> Result<#response, runtime::idempotency::IdempotencyError<E>>
            where
                F: FnOnce(&'r #request) -> Fut,
                Fut: std::future::Future<Output = Result<#response, E>>,
            {
                let key = (#(&request.#key_fields,)*);
                self.0.run(&key, request, deadline_ms, || handler(request)).await
            }
        }
    }
}

/// The `Cache` methods giving each handler's handle, on its table's store.
pub(super) fn accessors(handlers: &[IdempotentHandler]) -> impl Iterator<Item = TokenStream> {
    handlers.iter().map(|handler| {
        let Names { handle, .. } = names(handler);
        let method = ident(handler.name.to_snake_case());
        let table = module_ident(handler.table.name());
        let docs = doc(&format!(
            "The idempotent handler `{}`, its records on table `{}`. A cache built disabled \
             (`CACHE_ENABLED=false`) runs handlers without idempotency.",
            handler.name,
            handler.table.name()
        ));
        quote! {
            #docs
            pub fn #method(&self) -> #handle {
                #handle(self.#table.idempotency(#handle::NAME, #handle::config()))
            }
        }
    })
}
