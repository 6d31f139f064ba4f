//! `cachegen query`: one of a data type's index queries, from the command line.

use cachegen_runtime::TieredCache;
use cachegen_runtime::query::{IndexQuery, PageToken, SortCondition};
use cachegen_runtime::store::AttrValue;
use serde_json::Value;

use cachegen_compiler::ir::{AttributeType, CacheModel, DataType, KeyAttribute};

/// Why a query cannot run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The index does not find this data type's items.
    #[error("index `{index}` does not find `{data_type}` items; its indexes: {known}")]
    UnknownIndex {
        /// The index asked for.
        index: String,
        /// The data type.
        data_type: String,
        /// Its indexes, comma-separated.
        known: String,
    },
    /// A key value does not fit the attribute's type.
    #[error("`{value}` is not a number, and `{attribute}` is a number attribute")]
    NotANumber {
        /// The attribute.
        attribute: String,
        /// The value given.
        value: String,
    },
    /// A range was given for an index without a sort key.
    #[error("index `{0}` has no sort key: drop --from and --to")]
    NoSortKey(String),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] cachegen_runtime::CacheError),
}

/// An index query: the partition key value, and optionally a sort key range.
#[derive(Clone, Debug, Default)]
pub struct QueryRequest {
    /// Index name.
    pub index: String,
    /// Value of the index partition key.
    pub partition: String,
    /// Lowest sort key value, inclusive.
    pub from: Option<String>,
    /// Highest sort key value, inclusive.
    pub to: Option<String>,
    /// At most this many values (default: all).
    pub limit: Option<usize>,
    /// Highest sort key first.
    pub descending: bool,
}

fn value(attribute: &KeyAttribute, text: &str) -> Result<AttrValue, QueryError> {
    match attribute.kind {
        AttributeType::N => {
            if text.parse::<f64>().is_err() {
                return Err(QueryError::NotANumber {
                    attribute: attribute.name.clone(),
                    value: text.to_owned(),
                });
            }
            Ok(AttrValue::N(text.to_owned()))
        }
        AttributeType::S | AttributeType::B => Ok(AttrValue::S(text.to_owned())),
    }
}

/// Runs `request` against `data_type`'s items through `cache`, following pages until the
/// limit or the end; values are returned as JSON, in index order.
pub async fn run(
    cache: &TieredCache,
    model: &CacheModel,
    data_type: &DataType,
    request: &QueryRequest,
) -> Result<Vec<Value>, QueryError> {
    // A data type in Redis has no index, so it is never found.
    let index = data_type
        .indexes
        .iter()
        .find(|index| index.name() == request.index)
        .and_then(|index| Some(model.table_of(data_type)?.global_index(index)))
        .ok_or_else(|| QueryError::UnknownIndex {
            index: request.index.clone(),
            data_type: data_type.name.clone(),
            known: data_type
                .indexes
                .iter()
                .map(|index| index.name())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let mut query = IndexQuery::new(
        index.name.clone(),
        index.partition_key.name.clone(),
        value(&index.partition_key, &request.partition)?,
    );
    if request.from.is_some() || request.to.is_some() {
        let sort = index
            .sort_key
            .as_ref()
            .ok_or_else(|| QueryError::NoSortKey(index.name.clone()))?;
        let from = request
            .from
            .as_deref()
            .map(|v| value(sort, v))
            .transpose()?;
        let to = request.to.as_deref().map(|v| value(sort, v)).transpose()?;
        let condition = match (from, to) {
            (Some(from), Some(to)) => SortCondition::Between(from, to),
            (Some(from), None) => SortCondition::AtLeast(from),
            (None, Some(to)) => SortCondition::AtMost(to),
            (None, None) => unreachable!("one bound is given"),
        };
        query = query.sort(sort.name.clone(), condition);
    }
    if request.descending {
        query = query.descending();
    }
    let prefix = data_type.key_prefix();
    let mut values = Vec::new();
    let mut start: Option<PageToken> = None;
    loop {
        let page = cache
            .query::<Value>(&prefix, query.clone().start(start.take()))
            .await?;
        values.extend(page.items);
        if request.limit.is_some_and(|limit| values.len() >= limit) {
            values.truncate(request.limit.unwrap_or(usize::MAX));
            break;
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    Ok(values)
}

/// Values as a text table: a column per top-level field (in first-seen order), nested
/// values as compact JSON.
pub fn table(values: &[Value]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for value in values {
        for key in value
            .as_object()
            .into_iter()
            .flat_map(|object| object.keys())
        {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(columns.iter().copied());
    for value in values {
        table.add_row(columns.iter().map(|column| match value.get(*column) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }));
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_column_per_field_in_first_seen_order() {
        let values = [
            serde_json::json!({ "id": "c1", "status": "open", "tags": ["a"] }),
            serde_json::json!({ "id": "c2", "owner": "ann" }),
        ];
        let text = table(&values);
        let header = text.lines().nth(1).unwrap();
        let positions: Vec<usize> = ["id", "status", "tags", "owner"]
            .iter()
            .map(|column| header.find(column).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{text}");
        assert!(text.contains("[\"a\"]") && text.contains("ann"), "{text}");
    }
}
