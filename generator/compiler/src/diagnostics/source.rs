//! Where each node of a spec sits in its YAML text, so diagnostics can point at it.

use std::collections::HashMap;
use std::fmt;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A byte range in the spec text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// One step into a YAML document: a mapping key or a sequence index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence position.
    Index(usize),
}

/// The route from the document root to a node, such as `tables.cache.indexes`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodePath(pub Vec<Segment>);

impl NodePath {
    /// The path of the document root.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a mapping key.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.into()));
        Self(segments)
    }

    /// This path extended by a sequence index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// Builds a path from dotted keys (`"tables.cache.name"`); keys holding dots need [`Self::key`].
    pub fn parse(dotted: &str) -> Self {
        Self(
            dotted
                .split('.')
                .filter(|part| !part.is_empty())
                .map(|part| Segment::Key(part.to_owned()))
                .collect(),
        )
    }

    /// The parent path, or `None` at the root.
    pub fn parent(&self) -> Option<Self> {
        let (_, rest) = self.0.split_last()?;
        Some(Self(rest.to_vec()))
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The spans of one node: its mapping key (if it has one) and its value.
#[derive(Clone, Copy, Debug)]
pub struct NodeSpans {
    /// The key the node stands under, in a mapping.
    pub key: Option<Span>,
    /// The value itself (for collections, where it starts).
    pub value: Span,
}

/// A key written twice in one mapping.
#[derive(Clone, Debug)]
pub struct DuplicateKey {
    /// Path of the repeated key.
    pub path: NodePath,
    /// Where it was first written.
    pub first: Span,
    /// Where it was written again.
    pub again: Span,
}

/// A YAML syntax error found while mapping the text.
#[derive(Clone, Debug)]
pub struct SyntaxError {
    /// What the scanner said.
    pub message: String,
    /// Where.
    pub span: Span,
}

/// Node paths to their spans, built from the same text serde reads.
#[derive(Debug, Default)]
pub struct SourceMap {
    nodes: HashMap<NodePath, NodeSpans>,
    duplicates: Vec<DuplicateKey>,
    first_alias: Option<Span>,
    null_root: bool,
}

impl SourceMap {
    /// Maps every node of `text`; fails on a YAML syntax error.
    pub fn build(text: &str) -> Result<Self, SyntaxError> {
        let offsets = CharOffsets::new(text);
        let mut builder = Builder {
            offsets: &offsets,
            frames: Vec::new(),
            map: SourceMap::default(),
        };
        let mut parser = Parser::new_from_str(text);
        parser.load(&mut builder, false).map_err(|err| {
            let span = offsets.point(err.marker());
            SyntaxError {
                message: err.info().to_owned(),
                span,
            }
        })?;
        Ok(builder.map)
    }

    /// Spans of the node at `path`, if the text has it.
    pub fn get(&self, path: &NodePath) -> Option<NodeSpans> {
        self.nodes.get(path).copied()
    }

    /// The best span for a message about `path`: its value, else the nearest ancestor's.
    pub fn value_span(&self, path: &NodePath) -> Option<Span> {
        self.nearest(path).map(|spans| spans.value)
    }

    /// The best span for a message about a key at `path`: the key, else the value, else an ancestor.
    pub fn key_span(&self, path: &NodePath) -> Option<Span> {
        self.nearest(path)
            .map(|spans| spans.key.unwrap_or(spans.value))
    }

    /// Keys written twice in the same mapping.
    pub fn duplicates(&self) -> &[DuplicateKey] {
        &self.duplicates
    }

    /// Whether the text holds no document, or only a null (`---`, `~`, `null`).
    pub fn is_empty(&self) -> bool {
        self.null_root || !self.nodes.contains_key(&NodePath::root())
    }

    /// Where the text first uses an alias (`*name`), if it does.
    pub fn first_alias(&self) -> Option<Span> {
        self.first_alias
    }

    fn nearest(&self, path: &NodePath) -> Option<NodeSpans> {
        let mut current = Some(path.clone());
        while let Some(path) = current {
            if let Some(spans) = self.nodes.get(&path) {
                return Some(*spans);
            }
            current = path.parent();
        }
        None
    }
}

/// Converts the parser's char indices into byte offsets.
struct CharOffsets {
    /// Byte offset of each char; empty when the text is ASCII (offsets are then identical).
    bytes: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let bytes = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(offset, _)| offset).collect()
        };
        Self {
            bytes,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.bytes.is_empty() {
            char_index.min(self.len)
        } else {
            self.bytes.get(char_index).copied().unwrap_or(self.len)
        }
    }

    fn point(&self, marker: &Marker) -> Span {
        let start = self.byte(marker.index());
        Span {
            start,
            end: (start + 1).min(self.len.max(start)),
        }
    }

    fn scalar(&self, marker: &Marker, value: &str, style: TScalarStyle) -> Span {
        let quotes = match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 2,
            _ => 0,
        };
        let chars = value.lines().next().unwrap_or("").chars().count() + quotes;
        let start = self.byte(marker.index());
        let end = self.byte(marker.index() + chars.max(1));
        Span { start, end }
    }
}

enum Frame {
    Mapping {
        path: NodePath,
        pending_key: Option<(String, Span)>,
        seen: HashMap<String, Span>,
    },
    Sequence {
        path: NodePath,
        next: usize,
    },
}

struct Builder<'a> {
    offsets: &'a CharOffsets,
    frames: Vec<Frame>,
    map: SourceMap,
}

impl Builder<'_> {
    /// Records a value node at the current position and returns its path.
    fn value(&mut self, span: Span) -> Option<NodePath> {
        let (path, key) = match self.frames.last_mut() {
            None => (NodePath::root(), None),
            Some(Frame::Sequence { path, next }) => {
                let child = path.index(*next);
                *next += 1;
                (child, None)
            }
            Some(Frame::Mapping {
                path, pending_key, ..
            }) => {
                let (key, key_span) = pending_key.take()?;
                (path.key(key), Some(key_span))
            }
        };
        self.map
            .nodes
            .insert(path.clone(), NodeSpans { key, value: span });
        Some(path)
    }

    /// Whether the next scalar in the current mapping is a key.
    fn expects_key(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame::Mapping {
                pending_key: None,
                ..
            })
        )
    }

    fn key(&mut self, key: String, span: Span) {
        if let Some(Frame::Mapping {
            path,
            pending_key,
            seen,
        }) = self.frames.last_mut()
        {
            if let Some(first) = seen.get(&key) {
                self.map.duplicates.push(DuplicateKey {
                    path: path.key(key.clone()),
                    first: *first,
                    again: span,
                });
            } else {
                seen.insert(key.clone(), span);
            }
            *pending_key = Some((key, span));
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(value, style, ..) => {
                let span = self.offsets.scalar(&mark, &value, style);
                if self.frames.is_empty() && style == TScalarStyle::Plain {
                    self.map.null_root =
                        matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL");
                }
                if self.expects_key() {
                    self.key(value, span);
                } else {
                    self.value(span);
                }
            }
            Event::Alias(_) => {
                let span = self.offsets.point(&mark);
                self.map.first_alias.get_or_insert(span);
                if self.expects_key() {
                    self.key(String::from("*alias"), span);
                } else {
                    self.value(span);
                }
            }
            Event::MappingStart(..) => {
                let path = self.value(self.offsets.point(&mark)).unwrap_or_default();
                self.frames.push(Frame::Mapping {
                    path,
                    pending_key: None,
                    seen: HashMap::new(),
                });
            }
            Event::SequenceStart(..) => {
                let path = self.value(self.offsets.point(&mark)).unwrap_or_default();
                self.frames.push(Frame::Sequence { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.frames.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "service: demo\ntables:\n  cache:\n    name: \"x-${env}\"\n    indexes:\n      - a\n      - b\n";

    fn text_at(span: Span) -> &'static str {
        &TEXT[span.start..span.end]
    }

    #[test]
    fn maps_keys_and_values_to_their_text() {
        let map = SourceMap::build(TEXT).unwrap();
        let name = map.get(&NodePath::parse("tables.cache.name")).unwrap();
        assert_eq!(text_at(name.key.unwrap()), "name");
        assert_eq!(text_at(name.value), "\"x-${env}\"");
        let second = map
            .get(&NodePath::parse("tables.cache.indexes").index(1))
            .unwrap();
        assert_eq!(text_at(second.value), "b");
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let map = SourceMap::build(TEXT).unwrap();
        let span = map
            .key_span(&NodePath::parse("tables.cache.missing"))
            .unwrap();
        assert_eq!(&TEXT[span.start..span.start + 5], "cache");
    }

    #[test]
    fn reports_keys_written_twice() {
        let map = SourceMap::build("a: 1\nb: 2\na: 3\n").unwrap();
        let [duplicate] = map.duplicates() else {
            panic!("expected one duplicate, got {:?}", map.duplicates());
        };
        assert_eq!(duplicate.path, NodePath::parse("a"));
        assert_eq!((duplicate.first.start, duplicate.again.start), (0, 10));
    }

    #[test]
    fn handles_non_ascii_text() {
        let text = "description: \"caché\"\nservice: demo\n";
        let map = SourceMap::build(text).unwrap();
        let service = map.get(&NodePath::parse("service")).unwrap();
        assert_eq!(&text[service.value.start..service.value.end], "demo");
    }

    #[test]
    fn reports_syntax_errors_with_a_position() {
        let err = SourceMap::build("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(!err.message.is_empty());
    }

    #[test]
    fn displays_paths_like_the_yaml_reads() {
        let path = NodePath::parse("tables.cache.indexes").index(2).key("name");
        assert_eq!(path.to_string(), "tables.cache.indexes[2].name");
    }
}
