//! Paginated queries of a DynamoDB global secondary index, for typed per-index queries.
//!
//! A query reads only table keys from the index (so it works for every projection),
//! restricted to one data type's key prefix within the cache's `CACHE_KEY_PREFIX`
//! scope; the values are then read like any other lookup (L1, then one BatchGetItem),
//! so expired or undecodable items are left out exactly as a `get` would.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::StoreError;
use crate::store::{AttrValue, DynamoStore};
use cachegen_names::sort_key::SEPARATOR;

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
pub struct PageToken(String);

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

fn attribute(value: &AttrValue) -> AttributeValue {
    match value {
        AttrValue::S(text) => AttributeValue::S(text.clone()),
        AttrValue::N(number) => AttributeValue::N(number.clone()),
    }
}

/// The stored keys of one page (starting with `key_prefix`), and where the next starts.
///
/// The table filters on the partition part of `key_prefix`; a prefix that reaches into the
/// sort part (after [`SEPARATOR`]) is then matched here, on the whole key.
pub(crate) async fn query_keys(
    store: &DynamoStore,
    query: &IndexQuery,
    key_prefix: &str,
) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
    let layout = store.layout();
    let partition_prefix = key_prefix
        .split_once(SEPARATOR)
        .map_or(key_prefix, |(partition, _)| partition);
    let mut names = HashMap::from([
        ("#pk".to_owned(), query.partition.0.clone()),
        ("#k".to_owned(), layout.key_attribute.clone()),
    ]);
    let mut projection = "#k".to_owned();
    if let Some(sort_key) = &layout.sort_key {
        names.insert("#s".to_owned(), sort_key.attribute().to_owned());
        projection.push_str(", #s");
    }
    let mut values = HashMap::from([(":pk".to_owned(), attribute(&query.partition.1))]);
    // DynamoDB refuses an empty string as an expression value: no prefix, no filter.
    let filter = (!partition_prefix.is_empty()).then(|| {
        values.insert(
            ":prefix".to_owned(),
            AttributeValue::S(partition_prefix.to_owned()),
        );
        "begins_with(#k, :prefix)"
    });
    let mut condition = "#pk = :pk".to_owned();
    if let Some((sort_attribute, sort)) = &query.sort {
        names.insert("#sk".into(), sort_attribute.clone());
        let clause = match sort {
            SortCondition::Between(low, high) => {
                values.insert(":low".into(), attribute(low));
                values.insert(":high".into(), attribute(high));
                "#sk BETWEEN :low AND :high"
            }
            SortCondition::AtLeast(low) => {
                values.insert(":low".into(), attribute(low));
                "#sk >= :low"
            }
            SortCondition::AtMost(high) => {
                values.insert(":high".into(), attribute(high));
                "#sk <= :high"
            }
            SortCondition::BeginsWith(text) => {
                values.insert(":begins".into(), AttributeValue::S(text.clone()));
                "begins_with(#sk, :begins)"
            }
        };
        condition.push_str(" AND ");
        condition.push_str(clause);
    }
    let start = query.start.as_ref().map(decode_token).transpose()?;
    let output = store
        .client()
        .query()
        .table_name(store.table_name())
        .index_name(&query.index)
        .key_condition_expression(condition)
        .set_filter_expression(filter.map(str::to_owned))
        .projection_expression(projection)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .set_limit(query.limit)
        .set_exclusive_start_key(start)
        .scan_index_forward(!query.descending)
        .send()
        .await
        .map_err(|err| store.request_error("Query", err))?;
    let keys = output
        .items()
        .iter()
        .filter_map(|item| store.key_of(item))
        .filter(|key| key.starts_with(key_prefix))
        .collect();
    let next = output.last_evaluated_key().map(encode_token);
    Ok((keys, next))
}

fn encode_token(key: &HashMap<String, AttributeValue>) -> PageToken {
    let map: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .map(|(name, value)| {
            let value = match value {
                AttributeValue::N(number) => serde_json::json!({ "N": number }),
                AttributeValue::S(text) => serde_json::json!({ "S": text }),
                other => serde_json::json!({ "S": format!("{other:?}") }),
            };
            (name.clone(), value)
        })
        .collect();
    PageToken(serde_json::Value::Object(map).to_string())
}

fn decode_token(token: &PageToken) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let invalid = || StoreError::backend("dynamodb", format!("invalid page token `{}`", token.0));
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&token.0).map_err(|_| invalid())?;
    map.into_iter()
        .map(|(name, value)| {
            let value = match (
                value.get("S").and_then(|v| v.as_str()),
                value.get("N").and_then(|v| v.as_str()),
            ) {
                (Some(text), _) => AttributeValue::S(text.to_owned()),
                (None, Some(number)) => AttributeValue::N(number.to_owned()),
                _ => return Err(invalid()),
            };
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip() {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("change#1".into())),
            (
                "scheduledAt".to_owned(),
                AttributeValue::N("1700000000".into()),
            ),
        ]);
        let token = encode_token(&key);
        assert_eq!(
            decode_token(&PageToken::from(token.as_str().to_owned())).unwrap(),
            key
        );
        assert!(decode_token(&PageToken::from("not json".to_owned())).is_err());
    }
}
