//! The tables, as the spec declares them, with their tags.

use super::values::{Id, Tag, tags, terraform_name};
use crate::ir::{CacheModel, Table};

/// A DynamoDB table, retained on delete and replace: a cache table's loss costs a cold
/// start for every consumer, so deleting it is left to a person.
#[derive(Clone, Debug)]
pub struct TableResource<'m> {
    /// Its names.
    pub id: Id,
    /// Keys, indexes, billing, TTL, encryption, recovery and protection, as validated.
    pub table: &'m Table,
    /// The spec's tags, then the fingerprint tag.
    pub tags: Vec<Tag<'m>>,
}

/// The tables of `model`, in its order.
pub(super) fn resources(model: &CacheModel) -> Vec<TableResource<'_>> {
    model
        .tables
        .iter()
        .map(|table| TableResource {
            id: Id {
                logical_id: table.logical_id.clone(),
                terraform: terraform_name(&table.name),
            },
            table,
            tags: tags(&table.tags, &model.fingerprint),
        })
        .collect()
}
