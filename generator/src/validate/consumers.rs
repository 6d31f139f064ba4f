//! Consumers, and the least-privilege IAM grants derived from what each may do.

use std::collections::BTreeSet;

use heck::ToPascalCase;

use super::source::NodePath;
use super::{Checker, names};
use crate::ir::{Consumer, DataType, Grant, Role, Table, table_actions};
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
        };

        let mut access: Vec<(String, Vec<Access>)> = Vec::new();
        if consumer.access.is_empty() {
            self.key_error(
                &path.key("access"),
                format!("consumer `{name}` is given no access"),
                "list data types and what it may do, such as `access: { drs-quotas: [read, write] }`",
            );
        }
        for (data_type, levels) in &consumer.access {
            let access_path = path.key("access").key(data_type);
            if levels.is_empty() {
                self.error(
                    &access_path,
                    format!("consumer `{name}` lists `{data_type}` with no access"),
                    "give one or more of: read, write, invalidate, query",
                );
            }
            let names: Vec<&str> = if data_type == ALL_DATA_TYPES {
                data_types.iter().map(|dt| dt.name.as_str()).collect()
            } else if data_types.iter().any(|dt| &dt.name == data_type) {
                vec![data_type.as_str()]
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
                    &access_path,
                    format!("consumer `{name}` names unknown data type `{data_type}`"),
                    hint,
                );
                continue;
            };
            for data_type_name in names {
                let data_type = data_types.iter().find(|dt| dt.name == data_type_name);
                if let Some(data_type) = data_type
                    && levels.contains(&Access::Query)
                    && data_type.indexes.is_empty()
                {
                    self.error(
                        &access_path,
                        format!("consumer `{name}` may query `{data_type_name}`, but no index finds its items"),
                        "declare an index keyed on attributes the data type writes, or drop `query`",
                    );
                }
                let mut merged: BTreeSet<Access> = access
                    .iter()
                    .find(|(existing, _)| existing == data_type_name)
                    .map(|(_, levels)| levels.iter().copied().collect())
                    .unwrap_or_default();
                merged.extend(levels.iter().copied());
                access.retain(|(existing, _)| existing != data_type_name);
                access.push((data_type_name.to_owned(), merged.into_iter().collect()));
            }
        }
        let grants = grants(&access, tables, data_types);
        Consumer {
            name: name.to_owned(),
            logical_stem: name.to_pascal_case(),
            description: consumer.description.clone(),
            role,
            access,
            grants,
        }
    }

    fn role_parameter(&mut self, path: &NodePath, parameter: &str) {
        if let Some(problem) = names::parameter_name_problem(parameter) {
            self.error(path, problem, "for example `QueryHandlerRoleName`");
        }
        if self.spec.parameters.contains_key(parameter) {
            self.error(
                path,
                format!("role parameter `{parameter}` has the name of a spec parameter"),
                "the role parameter is added to the template on its own: give it another name",
            );
        }
    }
}

/// One grant per table: the union of the actions each access level needs.
fn grants(
    access: &[(String, Vec<Access>)],
    tables: &[Table],
    data_types: &[DataType],
) -> Vec<Grant> {
    let mut grants: Vec<Grant> = Vec::new();
    for table in tables {
        let mut actions = BTreeSet::new();
        let mut indexes = BTreeSet::new();
        for (name, levels) in access {
            let Some(data_type) = data_types
                .iter()
                .find(|dt| &dt.name == name && dt.table == table.name)
            else {
                continue;
            };
            for level in levels {
                actions.extend(
                    table_actions(*level)
                        .iter()
                        .map(|action| (*action).to_owned()),
                );
                match level {
                    Access::Query => indexes.extend(data_type.indexes.iter().cloned()),
                    Access::Invalidate => indexes.extend(data_type.invalidate_by.iter().cloned()),
                    Access::Read | Access::Write => {}
                }
            }
        }
        if !actions.is_empty() || !indexes.is_empty() {
            grants.push(Grant {
                table: table.name.clone(),
                table_actions: actions.into_iter().collect(),
                query_indexes: indexes.into_iter().collect(),
            });
        }
    }
    grants
}
