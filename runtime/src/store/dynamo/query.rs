//! An index query as DynamoDB runs it: key condition, the cache's key prefix as a filter,
//! and page tokens carrying `LastEvaluatedKey`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use crate::attributes::AttrValue;
use crate::error::StoreError;
use crate::query::{IndexQuery, PageToken, SortCondition};
use cachegen_names::sort_key::SEPARATOR;

fn attribute(value: &AttrValue) -> AttributeValue {
    match value {
        AttrValue::S(text) => AttributeValue::S(text.clone()),
        AttrValue::N(number) => AttributeValue::N(number.clone()),
    }
}

/// The stored keys of one page (starting with `key_prefix`), and where the next starts.
///
/// On a table whose keys carry their sort key, `key_prefix` may hold the fixed text of each
/// part, joined by [`SEPARATOR`]: a key matches when each of its parts starts with its
/// own. The table filters on the partition part, and the sort part is matched here.
pub(super) async fn query_keys(
    store: &DynamoStore,
    query: &IndexQuery,
    key_prefix: &str,
) -> Result<(Vec<String>, Option<PageToken>), StoreError> {
    let layout = store.layout();
    let (partition_prefix, sort_prefix) = key_prefix.split_once(SEPARATOR).unzip();
    let partition_prefix = partition_prefix.unwrap_or(key_prefix);
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
        .filter(|key| match (key.split_once(SEPARATOR), sort_prefix) {
            (Some((partition, sort)), Some(sort_prefix)) => {
                partition.starts_with(partition_prefix) && sort.starts_with(sort_prefix)
            }
            _ => key.starts_with(key_prefix),
        })
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
