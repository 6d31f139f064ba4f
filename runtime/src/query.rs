//! Paginated queries of a DynamoDB global secondary index, for typed per-index queries.
//!
//! A query reads only table keys from the index (so it works for every projection),
//! restricted to one data type's key prefix within the cache's `CACHE_KEY_PREFIX`
//! scope; the values are then read like any other lookup (L1, then one BatchGetItem),
//! so expired or undecodable items are left out exactly as a `get` would.

use std::ops::RangeBounds;

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

    /// Adds `condition` on the sort key `attribute`, when there is one: a generated
    /// query passes its caller's optional condition through.
    pub fn sort_matching(self, attribute: &str, condition: Option<SortCondition>) -> Self {
        match condition {
            Some(condition) => self.sort(attribute, condition),
            None => self,
        }
    }

    /// Keeps the items whose numeric sort key `attribute` lies within `range`
    /// ([`number_range`](crate::typed::number_range); `..` keeps every item).
    pub fn sort_within(self, attribute: &str, range: impl RangeBounds<i64>) -> Self {
        self.sort_matching(attribute, crate::typed::number_range(&range))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> IndexQuery {
        IndexQuery::new("by-time", "kind", AttrValue::S("change".to_owned()))
    }

    #[test]
    fn a_range_becomes_the_sort_condition_and_everything_none() {
        let n = |v: i64| AttrValue::N(v.to_string());
        assert_eq!(
            query().sort_within("at", 10..20).sort,
            Some(("at".to_owned(), SortCondition::Between(n(10), n(19))))
        );
        assert_eq!(
            query().sort_within("at", ..=5).sort,
            Some(("at".to_owned(), SortCondition::AtMost(n(5))))
        );
        assert_eq!(query().sort_within("at", ..).sort, None);
    }

    #[test]
    fn an_optional_condition_is_kept_only_when_given() {
        let prefix = SortCondition::BeginsWith("2026-".to_owned());
        assert_eq!(
            query().sort_matching("day", Some(prefix.clone())).sort,
            Some(("day".to_owned(), prefix))
        );
        assert_eq!(query().sort_matching("day", None).sort, None);
    }
}
