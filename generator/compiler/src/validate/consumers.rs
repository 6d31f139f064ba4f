//! Consumers, and the least-privilege IAM grants derived from what each may do.

use std::collections::{BTreeSet, HashMap};

use heck::ToPascalCase;
use indexmap::IndexMap;

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{
    BucketGrant, BucketRef, Consumer, DataType, DataTypeRef, Grant, OVERFLOW_PREFIX, Ref, Role,
    Table, TableRef, document_actions, overflow_actions, table_actions,
};
use crate::spec::{self, Access};

/// The access key that stands for every data type.
const ALL_DATA_TYPES: &str = "*";

impl Checker<'_> {
    pub(super) fn consumers(&mut self, tables: &[Table], data_types: &[DataType]) -> Vec<Consumer> {
        let spec = self.spec;
        self.unique_logical_ids("consumers", spec.consumers.keys());
        spec.consumers
            .iter()
            .map(|(name, consumer)| self.consumer(name, consumer, tables, data_types))
            .collect()
    }

    fn consumer(
        &mut self,
        name: &str,
        consumer: &spec::Consumer,
        tables: &[Table],
        data_types: &[DataType],
    ) -> Consumer {
        let path = NodePath::parse("consumers").key(name);
        self.check(
            codes::IDENTIFIER,
            &path,
            names::identifier_problem("consumer", name),
            "consumer names become CloudFormation logical IDs",
        );
        let role = match &consumer.role {
            spec::RoleRef::Create => Role::Create,
            spec::RoleRef::Existing(role) => Role::Existing(role.clone()),
            spec::RoleRef::Parameter(parameter) => {
                self.role_parameter(&path.key("role"), parameter);
                Role::Parameter(parameter.clone())
            }
            spec::RoleRef::ArnParameter(parameter) => {
                self.role_parameter(&path.key("role"), parameter);
                Role::ArnParameter(parameter.clone())
            }
        };

        let access = self.access(name, &path, consumer, data_types);
        let grants = grants(&access, tables, data_types);
        let bucket_grants = bucket_grants(&access, tables, data_types);
        Consumer {
            name: name.to_owned(),
            logical_stem: name.to_pascal_case(),
            description: consumer.description.clone(),
            role,
            access,
            grants,
            bucket_grants,
        }
    }

    /// What a consumer may do with each data type it names (or every one, for `*`).
    fn access(
        &mut self,
        name: &str,
        path: &NodePath,
        consumer: &spec::Consumer,
        data_types: &[DataType],
    ) -> Vec<(DataTypeRef, Vec<Access>)> {
        let by_name: HashMap<&str, &DataType> =
            data_types.iter().map(|dt| (dt.name.as_str(), dt)).collect();
        let mut access: IndexMap<String, BTreeSet<Access>> = IndexMap::new();
        if consumer.access.is_empty() {
            self.key_error(
                codes::NO_ACCESS,
                &path.key("access"),
                format!("consumer `{name}` is given no access"),
                "list data types and what it may do, such as `access: { drs-quotas: [read, write] }`",
            );
        }
        for (data_type, levels) in &consumer.access {
            let access_path = path.key("access").key(data_type);
            if levels.is_empty() {
                self.error(
                    codes::NO_ACCESS,
                    &access_path,
                    format!("consumer `{name}` lists `{data_type}` with no access"),
                    "give one or more of: read, write, invalidate, query",
                );
            }
            let selected: Vec<&DataType> = if data_type == ALL_DATA_TYPES {
                data_types.iter().collect()
            } else if let Some(found) = by_name.get(data_type.as_str()) {
                vec![*found]
            } else if self.spec.data_types.contains_key(data_type) {
                // Declared but invalid: its own problem is reported already.
                continue;
            } else {
                let hint = Self::suggest(
                    data_type,
                    data_types
                        .iter()
                        .map(|dt| dt.name.as_str())
                        .chain([ALL_DATA_TYPES]),
                );
                self.key_error(
                    codes::UNKNOWN_DATA_TYPE,
                    &access_path,
                    format!("consumer `{name}` names unknown data type `{data_type}`"),
                    hint,
                );
                continue;
            };
            for data_type in selected {
                // Judged on the spec: a document section that failed to resolve has its own problem.
                let documents = self.spec.data_types[&data_type.name].document.is_some();
                if levels.contains(&Access::Sync) && !documents {
                    self.error(
                        codes::SYNC_WITHOUT_DOCUMENTS,
                        &access_path,
                        format!("consumer `{name}` may sync `{}`, which keeps no documents in S3", data_type.name),
                        "`sync` applies S3 events to document types; use `write` and `invalidate` for plain ones",
                    );
                }
                if levels.contains(&Access::Query)
                    && data_type.indexes.is_empty()
                    && self.spec.store.is_dynamodb()
                {
                    self.error(
                        codes::QUERY_WITHOUT_INDEX,
                        &access_path,
                        format!("consumer `{name}` may query `{}`, but no index finds its items", data_type.name),
                        "declare an index keyed on attributes the data type writes, or drop `query`",
                    );
                }
                access
                    .entry(data_type.name.clone())
                    .or_default()
                    .extend(levels.iter().copied());
            }
        }
        access
            .into_iter()
            .filter_map(|(name, levels)| {
                Some((Ref::find(data_types, &name)?, levels.into_iter().collect()))
            })
            .collect()
    }

    fn role_parameter(&mut self, path: &NodePath, parameter: &str) {
        if let Some(problem) = names::parameter_name_problem(parameter) {
            self.error(
                codes::PARAMETER_NAME,
                path,
                problem,
                "for example `QueryHandlerRoleName`",
            );
        }
        if self.spec.parameters.contains_key(parameter) {
            self.error(
                codes::ROLE_PARAMETER_CLASH,
                path,
                format!("role parameter `{parameter}` has the name of a spec parameter"),
                "the role parameter is added to the template on its own: give it another name",
            );
        }
    }
}

/// One grant per table: the union of the actions each access level needs.
fn grants(
    access: &[(DataTypeRef, Vec<Access>)],
    tables: &[Table],
    data_types: &[DataType],
) -> Vec<Grant> {
    let mut per_table: HashMap<&TableRef, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
    for (data_type, levels) in access {
        let data_type = &data_types[data_type.position()];
        // A Redis store takes no IAM: only DynamoDB tables are granted.
        let Some(table) = &data_type.table else {
            continue;
        };
        let (actions, indexes) = per_table.entry(table).or_default();
        for level in levels {
            actions.extend(
                table_actions(*level)
                    .iter()
                    .map(|action| (*action).to_owned()),
            );
            if *level == Access::Query {
                indexes.extend(
                    data_type
                        .indexes
                        .iter()
                        .map(|index| index.name().to_owned()),
                );
            }
        }
    }
    tables
        .iter()
        .filter_map(|table| {
            let table = Ref::to(tables, table);
            let (actions, indexes) = per_table.remove(&table)?;
            Some(Grant {
                table,
                table_actions: actions.into_iter().collect(),
                query_indexes: indexes.into_iter().collect(),
            })
        })
        .collect()
}

/// One S3 grant per bucket: per key prefix (each document type's, and the overflow
/// prefix of tables keeping large values there), the actions its access needs.
fn bucket_grants(
    access: &[(DataTypeRef, Vec<Access>)],
    tables: &[Table],
    data_types: &[DataType],
) -> Vec<BucketGrant> {
    let mut grants: Vec<BucketGrant> = Vec::new();
    let mut allow = |bucket: &BucketRef, prefix: String, actions: BTreeSet<&str>| {
        if actions.is_empty() {
            return;
        }
        let position = match grants.iter().position(|grant| &grant.bucket == bucket) {
            Some(position) => position,
            None => {
                grants.push(BucketGrant {
                    bucket: bucket.clone(),
                    prefixes: Vec::new(),
                });
                grants.len() - 1
            }
        };
        let prefixes = &mut grants[position].prefixes;
        let actions = actions.into_iter().map(str::to_owned);
        match prefixes
            .iter_mut()
            .find(|(existing, _)| *existing == prefix)
        {
            Some((_, existing)) => {
                existing.extend(actions);
                existing.sort();
                existing.dedup();
            }
            None => prefixes.push((prefix, actions.collect())),
        }
    };
    for (data_type, levels) in access {
        let data_type = &data_types[data_type.position()];
        if let Some(document) = &data_type.document {
            let actions = levels.iter().flat_map(|level| document_actions(*level));
            allow(
                &document.bucket,
                document.key_prefix(),
                actions.copied().collect(),
            );
        }
        let overflow = data_type
            .table
            .as_ref()
            .and_then(|table| tables[table.position()].overflow_bucket.as_ref());
        if let (true, Some(bucket)) = (data_type.large_values, overflow) {
            let actions = levels.iter().flat_map(|level| overflow_actions(*level));
            allow(
                bucket,
                OVERFLOW_PREFIX.to_owned(),
                actions.copied().collect(),
            );
        }
    }
    grants
}
