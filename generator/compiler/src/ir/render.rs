//! How a data type's templates become text, defined once: the generated module follows
//! it in compiled code (`emit::rust` turns each [`Piece`] into tokens) and the CLI by
//! interpretation (the `cachegen` crate's `operate::item` walks the same pieces).
//!
//! The escaping policy is decided here too: in store keys, key prefixes, tags and object
//! keys, string parameters are percent-encoded (the runtime's `push_key_part`), so no
//! parameter can forge a separator; item attributes carry their values as they are.

use cachegen_names::sort_key;

use super::{
    DataType, Field, FieldType, ItemAttribute, KeyPrefix, Template, TemplatePart, ValueType,
};

/// How key parameters are written into a template's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaping {
    /// Keys, key prefixes, tags and object keys: string parameters percent-encoded.
    KeyParts,
    /// Item attributes: every value written as it is.
    Verbatim,
}

/// One step of writing a template's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'m> {
    /// Fixed text: the template's literals and the data type's name, merged.
    Text(String),
    /// A string key parameter, percent-encoded.
    EscapedParam(&'m Field),
    /// A key parameter, as its `Display` text.
    Param(&'m Field),
    /// A field of the value, as its `Display` text; its type when cachegen generates the
    /// value (`None` for a user's Rust type).
    ValueField(&'m str, Option<&'m FieldType>),
    /// The write time, epoch seconds.
    Now,
}

/// A template of a data type, resolved into the [`Piece`]s that write its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendering<'m> {
    /// The steps, in order; adjacent fixed text is merged, and empty text left out.
    pub pieces: Vec<Piece<'m>>,
}

impl<'m> Rendering<'m> {
    /// Appends `piece`, merging fixed text into the text before it and leaving empty text out.
    fn push(&mut self, piece: Piece<'m>) {
        match (piece, self.pieces.last_mut()) {
            (Piece::Text(text), _) if text.is_empty() => {}
            (Piece::Text(text), Some(Piece::Text(last))) => last.push_str(&text),
            (piece, _) => self.pieces.push(piece),
        }
    }

    /// The whole text, when the template has no parameter, value field or `{now}`.
    pub fn constant(&self) -> Option<String> {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether some piece reads a key parameter.
    pub fn uses_key(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Param(_) | Piece::EscapedParam(_)))
    }

    /// Whether some piece reads the value.
    pub fn uses_value(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::ValueField(..)))
    }

    /// Whether some piece reads the write time.
    pub fn uses_now(&self) -> bool {
        self.pieces.iter().any(|piece| matches!(piece, Piece::Now))
    }

    /// How a text written by this rendering is read back: the fixed texts around and
    /// between the parameters (one more than there are parameters), and the parameters
    /// in order. `None` when it holds a value field or `{now}`.
    pub fn split(&self) -> Option<(Vec<&str>, Vec<&Field>)> {
        let mut literals = vec![""];
        let mut params = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => *literals.last_mut().expect("one literal") = text,
                Piece::Param(field) | Piece::EscapedParam(field) => {
                    params.push(*field);
                    literals.push("");
                }
                Piece::ValueField(..) | Piece::Now => return None,
            }
        }
        Some((literals, params))
    }
}

impl DataType {
    /// How `template`, one of this type's, is written under `escaping`.
    pub fn render<'m>(&'m self, template: &'m Template, escaping: Escaping) -> Rendering<'m> {
        let mut rendering = Rendering { pieces: Vec::new() };
        for part in &template.0 {
            match part {
                TemplatePart::Literal(text) => rendering.push(Piece::Text(text.clone())),
                TemplatePart::DataTypeName => rendering.push(Piece::Text(self.name.clone())),
                TemplatePart::Param(name) => {
                    let field = self.param(name);
                    rendering.push(match (escaping, &field.ty) {
                        (Escaping::KeyParts, FieldType::String) => Piece::EscapedParam(field),
                        _ => Piece::Param(field),
                    });
                }
                TemplatePart::ValueField(name) => {
                    let ty = match &self.value {
                        ValueType::Fields(fields) => fields
                            .iter()
                            .find(|field| &field.name == name)
                            .map(|field| &field.ty),
                        ValueType::Rust(_) => None,
                    };
                    rendering.push(Piece::ValueField(name, ty));
                }
                TemplatePart::Now => rendering.push(Piece::Now),
            }
        }
        rendering
    }

    /// The store key: the key's text and, on a table with a sort key, the separator and
    /// the sort key's text, which the runtime splits into the item's two key attributes.
    pub fn key_rendering(&self) -> Rendering<'_> {
        let mut key = self.partition_key_rendering();
        if let Some(sort_key) = self.sort_key_rendering() {
            key.push(Piece::Text(sort_key::SEPARATOR.to_string()));
            for piece in sort_key.pieces {
                key.push(piece);
            }
        }
        key
    }

    /// The item's partition key value.
    pub fn partition_key_rendering(&self) -> Rendering<'_> {
        self.render(&self.key, Escaping::KeyParts)
    }

    /// The item's sort key value, on a table with a sort key.
    pub fn sort_key_rendering(&self) -> Option<Rendering<'_>> {
        let sort_key = self.sort_key.as_ref()?;
        Some(self.render(sort_key, Escaping::KeyParts))
    }

    /// The invalidation tags, in spec order.
    pub fn tag_renderings(&self) -> Vec<Rendering<'_>> {
        self.tags
            .iter()
            .map(|tag| self.render(tag, Escaping::KeyParts))
            .collect()
    }

    /// A key prefix of [`DataType::key_prefixes`].
    pub fn prefix_rendering<'m>(&'m self, prefix: &'m KeyPrefix) -> Rendering<'m> {
        self.render(&prefix.template, Escaping::KeyParts)
    }

    /// An item attribute's value, as text.
    pub fn attribute_rendering<'m>(&'m self, attribute: &'m ItemAttribute) -> Rendering<'m> {
        self.render(&attribute.template, Escaping::Verbatim)
    }

    /// The S3 object key of a document data type.
    pub fn object_key_rendering(&self) -> Option<Rendering<'_>> {
        let document = self.document.as_ref()?;
        Some(self.render(&document.object_key, Escaping::KeyParts))
    }

    /// The key parameter called `name`; validation resolves every `{name}` of a template.
    fn param(&self, name: &str) -> &Field {
        self.params
            .iter()
            .find(|param| param.name == name)
            .unwrap_or_else(|| panic!("validated template names key parameter `{name}`"))
    }
}
