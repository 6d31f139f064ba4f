//! A template's [`Rendering`] as Rust: the statements and expression that build its text.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::ir::{Field, FieldType, Piece, Rendering};

/// Code building one text: statements that fill a `String`, then the expression that is it.
pub(super) struct TextCode {
    statements: TokenStream,
    value: TokenStream,
}

impl TextCode {
    /// Statements leaving the text in `out`, the variable the code was built with.
    pub(super) fn bind(&self, out: &syn::Ident) -> TokenStream {
        let Self { statements, value } = self;
        if statements.is_empty() {
            quote! { let #out = #value; }
        } else {
            statements.clone()
        }
    }

    /// The text as the body of a function returning it.
    pub(super) fn body(&self) -> TokenStream {
        let Self { statements, value } = self;
        quote! { #statements #value }
    }
}

/// Where the generated code finds a rendering's key parameters.
#[derive(Clone, Copy)]
pub(super) enum Params {
    /// Fields of `key`, the data type's key struct.
    OfKey,
    /// Arguments of their own names (`&str` for strings).
    Arguments,
}

/// How a rendering's inputs are read.
enum Source {
    /// Borrowed text: `&key.name`, `name` (an argument) or `&value.name`.
    Text(TokenStream),
    /// Text that must be cloned: `key.name`, `value.name`.
    OwnedText(TokenStream),
    /// A value written as its `Display` text.
    Display(TokenStream),
}

impl Source {
    fn param(params: Params, field: &Field) -> Self {
        let ident = format_ident!("{}", field.name);
        match (params, &field.ty) {
            (Params::OfKey, FieldType::String) => Self::OwnedText(quote! { key.#ident }),
            (Params::OfKey, _) => Self::Display(quote! { key.#ident }),
            (Params::Arguments, FieldType::String) => Self::Text(quote! { #ident }),
            (Params::Arguments, _) => Self::Display(quote! { #ident }),
        }
    }

    fn value_field(name: &str, ty: Option<&FieldType>) -> Self {
        let ident = format_ident!("{name}");
        match ty {
            Some(FieldType::String) => Self::OwnedText(quote! { value.#ident }),
            _ => Self::Display(quote! { value.#ident }),
        }
    }

    /// A `&str` of the text (after `push_str(`).
    fn borrowed(&self) -> TokenStream {
        match self {
            Self::Text(text) => text.clone(),
            Self::OwnedText(text) => quote! { &#text },
            Self::Display(value) => quote! { &#value.to_string() },
        }
    }

    /// A `String` of the text.
    fn owned(&self) -> TokenStream {
        match self {
            Self::Text(text) => quote! { #text.to_owned() },
            Self::OwnedText(text) => quote! { #text.clone() },
            Self::Display(value) => quote! { #value.to_string() },
        }
    }
}

/// The code of `rendering`, building its text in `out` when it takes statements; value
/// fields are read from `value` and the write time from `now`.
pub(super) fn text_code(rendering: &Rendering, params: Params, out: &syn::Ident) -> TextCode {
    let alone = |value: TokenStream| TextCode {
        statements: TokenStream::new(),
        value,
    };
    match rendering.pieces.as_slice() {
        [] => return alone(quote! { String::new() }),
        [Piece::Text(text)] => return alone(quote! { String::from(#text) }),
        [Piece::Param(field)] => return alone(Source::param(params, field).owned()),
        [Piece::ValueField(name, ty)] => return alone(Source::value_field(name, *ty).owned()),
        [Piece::Now] => return alone(quote! { now.to_string() }),
        _ => {}
    }
    let (start, rest) = match rendering.pieces.split_first() {
        Some((Piece::Text(text), rest)) => (quote! { String::from(#text) }, rest),
        _ => (quote! { String::new() }, rendering.pieces.as_slice()),
    };
    let pushes = rest.iter().map(|piece| match piece {
        Piece::Text(text) => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => quote! { #out.push(#c); },
                _ => quote! { #out.push_str(#text); },
            }
        }
        Piece::EscapedParam(field) => {
            let text = Source::param(params, field).borrowed();
            quote! { runtime::typed::push_key_part(&mut #out, #text); }
        }
        Piece::Param(field) => {
            let text = Source::param(params, field).borrowed();
            quote! { #out.push_str(#text); }
        }
        Piece::ValueField(name, ty) => {
            let text = Source::value_field(name, *ty).borrowed();
            quote! { #out.push_str(#text); }
        }
        Piece::Now => quote! { #out.push_str(&now.to_string()); },
    });
    TextCode {
        statements: quote! {
            let mut #out = #start;
            #(#pushes)*
        },
        value: quote! { #out },
    }
}

/// The code of several texts: statements building, each in a variable of its own
/// (`<stem>`, or `<stem>_1`, `<stem>_2`... when there are several texts), those that need
/// them; then one expression per text.
pub(super) fn texts_code(
    renderings: &[Rendering],
    params: Params,
    stem: &str,
) -> (TokenStream, Vec<TokenStream>) {
    let mut statements = TokenStream::new();
    let values = renderings
        .iter()
        .enumerate()
        .map(|(position, rendering)| {
            let out = if renderings.len() == 1 {
                format_ident!("{stem}")
            } else {
                format_ident!("{stem}_{}", position + 1)
            };
            let code = text_code(rendering, params, &out);
            statements.extend(code.statements);
            code.value
        })
        .collect();
    (statements, values)
}
