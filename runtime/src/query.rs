//! Paginated queries of a DynamoDB global secondary index, for typed per-index queries.
//!
//! A query reads only table keys from the index (so it works for every projection),
//! restricted to one data type's key prefix within the cache's `CACHE_KEY_PREFIX`
//! scope; the values are then read like any other lookup (L1, then one BatchGetItem),
//! so expired or undecodable items are left out exactly as a `get` would.

use crate::attributes::AttrValue;

/// A condition on an index's sort key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortCondition {
    /// `low <= sort <= high`.
    Between(AttrValue, AttrValue),
    /// `sort >= low`.
    AtLeast(AttrValue),
    /// `sort <= high`.
    AtMost(AttrValue),
    /// The (string) sort key starts with this text.
    BeginsWith(String),
}

/// Where to continue a query: DynamoDB's `LastEvaluatedKey`, opaque to callers but
/// printable, so it can travel through an API and come back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageToken(pub(crate) String);

impl PageToken {
    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for PageToken {
    fn from(text: String) -> Self {
        Self(text)
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The values found, in index order.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next: Option<PageToken>,
}

/// A query of one index.
#[derive(Clone, Debug)]
pub struct IndexQuery {
    /// Index name.
    pub index: String,
    /// The index partition key and the value to match.
    pub partition: (String, AttrValue),
    /// A condition on the index sort key.
    pub sort: Option<(String, SortCondition)>,
    /// At most this many items are evaluated per page.
    pub limit: Option<i32>,
    /// Where to continue.
    pub start: Option<PageToken>,
    /// Whether to read the index in descending sort-key order.
    pub descending: bool,
}

impl IndexQuery {
    /// A query of `index` for items whose partition key `attribute` equals `value`.
    pub fn new(index: impl Into<String>, attribute: impl Into<String>, value: AttrValue) -> Self {
        Self {
            index: index.into(),
            partition: (attribute.into(), value),
            sort: None,
            limit: None,
            start: None,
            descending: false,
        }
    }

    /// Adds a sort key condition.
    pub fn sort(mut self, attribute: impl Into<String>, condition: SortCondition) -> Self {
        self.sort = Some((attribute.into(), condition));
        self
    }

    /// Limits the items evaluated per page.
    pub fn limit(mut self, limit: i32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after a previous page.
    pub fn start(mut self, token: Option<PageToken>) -> Self {
        self.start = token;
        self
    }

    /// Newest (highest sort key) first.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
}
