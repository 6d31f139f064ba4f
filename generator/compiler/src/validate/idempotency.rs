//! Idempotent handlers: their key fields, window, table and the consumer that runs them.

use std::collections::HashSet;

use heck::{ToPascalCase, ToSnakeCase};

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{Consumer, DataType, IdempotentHandler, Ref, Table, ValueType, table_actions};
use crate::spec::{self, Access};

/// How long a response is returned to retries unless the spec says (Powertools' default).
const DEFAULT_EXPIRES_AFTER_SECS: u64 = 3600;

impl Checker<'_> {
    pub(super) fn idempotency(
        &mut self,
        tables: &[Table],
        data_types: &[DataType],
        consumers: &[Consumer],
    ) -> Vec<IdempotentHandler> {
        let spec = self.spec;
        spec.idempotency
            .iter()
            .filter_map(|(name, handler)| {
                self.idempotent_handler(name, handler, tables, data_types, consumers)
            })
            .collect()
    }

    fn idempotent_handler(
        &mut self,
        name: &str,
        handler: &spec::IdempotentHandler,
        tables: &[Table],
        data_types: &[DataType],
        consumers: &[Consumer],
    ) -> Option<IdempotentHandler> {
        let path = NodePath::parse("idempotency").key(name);
        self.check(
            codes::IDENTIFIER,
            &path,
            names::identifier_problem("idempotent handler", name),
            "handler names become Rust identifiers and scope their records' keys",
        );
        self.generated_names(&path, name, data_types);
        if let Some(description) = &handler.description {
            self.literal_text(
                &path.key("description"),
                description,
                &format!("the description of idempotent handler `{name}`"),
            );
        }
        let request = self.value_type(&path.key("request"), &handler.request);
        let response = self.value_type(&path.key("response"), &handler.response);
        self.key_fields(&path.key("key"), &handler.key, &request);
        let expires_after_secs = match handler.expires_after {
            Some(window) => self.duration(&path.key("expires_after"), "expires_after", window),
            None => DEFAULT_EXPIRES_AFTER_SECS,
        };
        let wanted = handler.table.as_ref().or(self.spec.defaults.table.as_ref());
        let table = self.resolve_table(
            &path,
            wanted,
            tables,
            (
                codes::TABLE_UNSPECIFIED,
                "this idempotent handler names no table, and the spec has several",
                "add `table: <name>`, or set `defaults.table`",
            ),
        )?;
        if let Some(consumer) = &handler.consumer {
            self.handler_consumer(&path.key("consumer"), name, consumer, table, consumers);
        }
        Some(IdempotentHandler {
            name: name.to_owned(),
            description: handler.description.clone(),
            table: Ref::find(tables, &table.name)?,
            request,
            response,
            key: handler.key.clone(),
            expires_after_secs,
            payload_validation: handler.payload_validation.unwrap_or(true),
            in_flight: handler.in_flight.unwrap_or_default(),
        })
    }

    /// The key names request fields, each once; a request of the user's own type is
    /// checked by the compiler instead.
    fn key_fields(&mut self, path: &NodePath, key: &[String], request: &ValueType) {
        if key.is_empty() {
            self.error(
                codes::IDEMPOTENCY_KEY,
                path,
                "the idempotency key names no request field",
                "list the fields that identify a request, such as `key: [order_id, customer]`",
            );
        }
        let mut seen = HashSet::new();
        for (position, field) in key.iter().enumerate() {
            let field_path = path.index(position);
            if !seen.insert(field) {
                self.error(
                    codes::IDEMPOTENCY_KEY,
                    &field_path,
                    format!("the idempotency key names `{field}` twice"),
                    "list each field once",
                );
            }
            if let ValueType::Fields(fields) = request
                && !fields.is_empty()
                && !fields.iter().any(|f| &f.name == field)
            {
                let hint = Self::suggest(field, fields.iter().map(|f| f.name.as_str()));
                self.error(
                    codes::IDEMPOTENCY_KEY,
                    &field_path,
                    format!("the idempotency key names `{field}`, which is not a request field"),
                    hint,
                );
            }
        }
    }

    /// The generated types and method must not be named like a data type's.
    fn generated_names(&mut self, path: &NodePath, name: &str, data_types: &[DataType]) {
        let pascal = name.to_pascal_case();
        let ours = [
            format!("{pascal}Request"),
            format!("{pascal}Response"),
            format!("{pascal}Idempotency"),
            name.to_snake_case(),
        ];
        let taken: HashSet<String> = data_types
            .iter()
            .flat_map(|data_type| {
                let pascal = data_type.name.to_pascal_case();
                [
                    format!("{pascal}Key"),
                    format!("{pascal}Type"),
                    format!("{pascal}Cache"),
                    data_type.name.to_snake_case(),
                    format!("{}_documents", data_type.name.to_snake_case()),
                    pascal,
                ]
            })
            .chain(["Cache".to_owned()])
            .collect();
        if let Some(clash) = ours.iter().find(|generated| taken.contains(*generated)) {
            self.key_error(
                codes::IDEMPOTENCY_NAME_CLASH,
                path,
                format!("idempotent handler `{name}` generates `{clash}`, which the module already names for a data type"),
                "rename the handler, for example with a verb: `start-recovery`",
            );
        }
    }

    /// The consumer is declared and may write the handler's table.
    fn handler_consumer(
        &mut self,
        path: &NodePath,
        name: &str,
        consumer: &str,
        table: &Table,
        consumers: &[Consumer],
    ) {
        let Some(found) = consumers.iter().find(|c| c.name == consumer) else {
            if !self.spec.consumers.contains_key(consumer) {
                let hint = Self::suggest(consumer, consumers.iter().map(|c| c.name.as_str()));
                self.error(
                    codes::IDEMPOTENCY_CONSUMER,
                    path,
                    format!("idempotent handler `{name}` names unknown consumer `{consumer}`"),
                    hint,
                );
            }
            return;
        };
        let needed = table_actions(Access::Write);
        let writes = found.grants.iter().any(|grant| {
            grant.table.name() == table.name
                && needed
                    .iter()
                    .all(|action| grant.table_actions.iter().any(|a| a == action))
        });
        if !writes {
            self.error(
                codes::IDEMPOTENCY_CONSUMER,
                path,
                format!(
                    "consumer `{consumer}` runs idempotent handler `{name}` but may not write table `{}`",
                    table.name
                ),
                "give it `write` on a data type of that table: the records are read, written conditionally and leased",
            );
        }
    }
}
