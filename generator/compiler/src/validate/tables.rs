//! Tables and their indexes.

use heck::{ToPascalCase, ToShoutySnakeCase};
use indexmap::IndexMap;

use super::Checker;
use super::names;
use crate::diagnostics::codes::{self, Code};
use crate::diagnostics::source::NodePath;
use crate::ir::{
    Billing, Bucket, DataType, Encryption, Index, KeyAttribute, NamePart, NameTemplate, Ref, Table,
};
use crate::limits::TABLE_INDEXES as MAX_INDEXES;
use crate::spec::{self, ProjectionType};

/// Table name env var when the spec has a single table (the name the seeds use).
const LONE_TABLE_ENV_VAR: &str = cachegen_names::env::TABLE_NAME;

impl Checker<'_> {
    pub(super) fn tables(&mut self) -> Vec<Table> {
        let spec = self.spec;
        if spec.tables.is_empty() && spec.store.is_dynamodb() {
            self.key_error(
                codes::NO_TABLE,
                &NodePath::parse("tables"),
                "the spec declares no table",
                "declare one, for example `tables: { cache: { name: \"${service}-cache\" } }`, or keep the cache in Redis: `store: { redis: {} }`",
            );
        }
        self.unique_logical_ids("tables", spec.tables.keys());
        let lone = spec.tables.len() == 1;
        let tables: Vec<Table> = spec
            .tables
            .iter()
            .map(|(name, table)| self.table(name, table, lone))
            .collect();
        self.unique_physical_names(&tables);
        tables
    }

    fn table(&mut self, name: &str, table: &spec::Table, lone: bool) -> Table {
        let defaults = &self.spec.defaults;
        let path = NodePath::parse("tables").key(name);
        self.table_identifier(&path, name);
        let table_name = self.name_template(&path.key("name"), &table.name);
        self.check_table_name(&path.key("name"), &table_name);

        let partition_key = self.key_attribute(
            &path.key("partition_key"),
            table.partition_key.as_ref(),
            "pk",
        );
        let sort_key = table
            .sort_key
            .as_ref()
            .map(|key| self.key_attribute(&path.key("sort_key"), Some(key), "sk"));
        self.table_key_types(&path, &partition_key, sort_key.as_ref());
        let ttl_attribute = self.ttl_attribute(&path, table, &partition_key, sort_key.as_ref());
        let billing = self.billing(&path, table);
        let indexes = self.table_indexes(&path, name, table, billing);
        let key_attributes =
            self.key_attributes(&path, &partition_key, sort_key.as_ref(), &indexes);
        let encryption = self.table_encryption(&path, table);
        let tags = self.tags(&path.key("tags"), &table.tags);
        let env_var = self.table_env_var(&path, name, table, lone);

        Table {
            name: name.to_owned(),
            logical_id: format!("{}Table", name.to_pascal_case()),
            table_name,
            description: table.description.clone(),
            env_var,
            partition_key,
            sort_key,
            ttl_attribute,
            billing,
            indexes,
            key_attributes,
            encryption,
            point_in_time_recovery: table
                .point_in_time_recovery
                .or(defaults.point_in_time_recovery)
                .unwrap_or(true),
            deletion_protection: table
                .deletion_protection
                .or(defaults.deletion_protection)
                .unwrap_or(false),
            tags,
            skip_checks: self.skip_checks(&path.key("skip_checks"), &table.skip_checks),
            overflow_bucket: None,
        }
    }

    /// A table's name is an identifier, and not one its generated Rust module cannot take.
    fn table_identifier(&mut self, path: &NodePath, name: &str) {
        if let Some(problem) = names::identifier_problem("table", name) {
            self.key_error(
                codes::IDENTIFIER,
                path,
                problem,
                "table names become Rust modules and CloudFormation logical IDs",
            );
        } else if let Some(problem) = names::module_name_problem(name) {
            self.key_error(
                codes::RESERVED_TABLE_NAME,
                path,
                problem,
                "rename the table in the spec, for example to `cache`; its physical name stays `name`",
            );
        }
    }

    /// The TTL attribute (`ttl` unless set), which must not be a key attribute.
    fn ttl_attribute(
        &mut self,
        path: &NodePath,
        table: &spec::Table,
        partition_key: &KeyAttribute,
        sort_key: Option<&KeyAttribute>,
    ) -> String {
        let ttl_attribute = table.ttl_attribute.clone().unwrap_or_else(|| "ttl".into());
        if ttl_attribute == partition_key.name
            || sort_key.is_some_and(|key| key.name == ttl_attribute)
        {
            self.error(
                codes::TTL_ATTRIBUTE,
                &path.key("ttl_attribute"),
                format!("TTL attribute `{ttl_attribute}` is also a key attribute"),
                "DynamoDB's TTL needs a plain number attribute; pick another name such as `ttl`",
            );
        }
        ttl_attribute
    }

    /// The table's billing (its own, else the default, else on demand); provisioned
    /// capacity is at least one unit each way.
    fn billing(&mut self, path: &NodePath, table: &spec::Table) -> Billing {
        match table
            .billing
            .clone()
            .or_else(|| self.spec.defaults.billing.clone())
        {
            None | Some(spec::Billing::OnDemand) => Billing::OnDemand,
            Some(spec::Billing::Provisioned(capacity)) => {
                if capacity.read == 0 || capacity.write == 0 {
                    self.error(
                        codes::CAPACITY,
                        &path.key("billing"),
                        "provisioned capacity must be at least 1 read and 1 write unit",
                        "the free tier covers 25 read and 25 write units in total",
                    );
                }
                Billing::Provisioned(capacity)
            }
        }
    }

    /// The table's global secondary indexes, no more than DynamoDB allows.
    fn table_indexes(
        &mut self,
        path: &NodePath,
        name: &str,
        table: &spec::Table,
        billing: Billing,
    ) -> Vec<Index> {
        if table.indexes.len() > MAX_INDEXES {
            self.key_error(
                codes::TOO_MANY_INDEXES,
                &path.key("indexes"),
                format!(
                    "table `{name}` declares {} global secondary indexes; DynamoDB allows {MAX_INDEXES}",
                    table.indexes.len()
                ),
                "split the data types across tables, or share one index by a generic key such as `dataType`",
            );
        }
        table
            .indexes
            .iter()
            .map(|(index_name, index)| {
                self.index(
                    &path.key("indexes").key(index_name),
                    index_name,
                    index,
                    billing,
                )
            })
            .collect()
    }

    /// The table's encryption (its own, else the default, else AWS-managed).
    fn table_encryption(&mut self, path: &NodePath, table: &spec::Table) -> Encryption {
        match table
            .encryption
            .clone()
            .or_else(|| self.spec.defaults.encryption.clone())
        {
            None | Some(spec::Encryption::AwsManaged) => Encryption::AwsManaged,
            Some(spec::Encryption::AwsOwned) => Encryption::AwsOwned,
            Some(spec::Encryption::KmsKey(key)) => {
                Encryption::KmsKey(self.name_template(&path.key("encryption"), &key))
            }
        }
    }

    /// The env var the table's name reaches Lambdas by: its own, else `TABLE_NAME` for a
    /// lone table, else `<TABLE>_TABLE_NAME`.
    fn table_env_var(
        &mut self,
        path: &NodePath,
        name: &str,
        table: &spec::Table,
        lone: bool,
    ) -> String {
        let env_var = table.env_var.clone().unwrap_or_else(|| {
            if lone {
                LONE_TABLE_ENV_VAR.into()
            } else {
                format!("{}_TABLE_NAME", name.to_shouty_snake_case())
            }
        });
        self.check(
            codes::ENV_VAR,
            &path.key("env_var"),
            names::env_var_problem(&env_var),
            "for example `CACHE_TABLE_NAME`",
        );
        env_var
    }

    /// Gives each table with a `large_values` data type its overflow bucket: the one it
    /// names, else the only bucket.
    pub(super) fn overflow_buckets(
        &mut self,
        tables: &mut [Table],
        buckets: &[Bucket],
        data_types: &[DataType],
    ) {
        for table in tables.iter_mut() {
            let Some(first) = data_types.iter().find(|dt| {
                dt.large_values && dt.table.as_ref().is_some_and(|t| t.name() == table.name)
            }) else {
                continue;
            };
            let path = NodePath::parse("tables").key(table.name.as_str());
            let wanted = self.spec.tables[&table.name].overflow_bucket.as_ref();
            table.overflow_bucket = match (wanted, buckets) {
                (Some(wanted), _) => self
                    .declared_bucket(&path.key("overflow_bucket"), wanted, buckets)
                    .map(|found| Ref::to(buckets, found)),
                (None, [only]) => Some(Ref::to(buckets, only)),
                (None, _) => {
                    self.error(
                        codes::NO_OVERFLOW_BUCKET,
                        &NodePath::parse("data_types").key(first.name.as_str()).key("large_values"),
                        format!(
                            "data type `{}` allows large values, but table `{}` has no overflow bucket",
                            first.name, table.name
                        ),
                        if buckets.is_empty() {
                            "declare a bucket under `buckets`; oversized bodies are kept there"
                        } else {
                            "set `overflow_bucket: <bucket>` on the table"
                        },
                    );
                    None
                }
            };
        }
    }

    /// `defaults.tags` merged with a resource's own `tags` (at `path`), each checked.
    pub(super) fn tags(
        &mut self,
        path: &NodePath,
        own: &IndexMap<String, String>,
    ) -> Vec<(String, NameTemplate)> {
        let mut tags: Vec<(String, NameTemplate)> = Vec::new();
        let all_tags = self
            .spec
            .defaults
            .tags
            .iter()
            .map(|(key, value)| (NodePath::parse("defaults.tags").key(key), key, value))
            .chain(own.iter().map(|(key, value)| (path.key(key), key, value)));
        for (tag_path, key, value) in all_tags {
            self.check(
                codes::TAG,
                &tag_path,
                names::tag_problem(key, value),
                "see AWS's tag rules: keys up to 128 characters, values up to 256",
            );
            let value = self.name_template(&tag_path, value);
            tags.retain(|(existing, _)| existing != key);
            tags.push((key.to_owned(), value));
        }
        tags
    }

    /// The table `wanted` names, else the only table; reports an unknown name (with a
    /// suggestion), or `when_ambiguous` (code, message, hint) when nothing is named and
    /// there are several. With no table at all, that problem is reported once, elsewhere.
    pub(super) fn resolve_table<'t>(
        &mut self,
        path: &NodePath,
        wanted: Option<&String>,
        tables: &'t [Table],
        when_ambiguous: (Code, &str, &str),
    ) -> Option<&'t Table> {
        match wanted {
            Some(wanted) => self.declared_table(&path.key("table"), wanted, tables),
            None if tables.len() == 1 => tables.first(),
            None if tables.is_empty() => None,
            None => {
                let (code, message, hint) = when_ambiguous;
                self.key_error(code, path, message, hint);
                None
            }
        }
    }

    /// The runtime writes a cache key's partition part as a string, and its sort part as a
    /// string or a number.
    fn table_key_types(
        &mut self,
        path: &NodePath,
        partition_key: &KeyAttribute,
        sort_key: Option<&KeyAttribute>,
    ) {
        if partition_key.kind != spec::AttributeType::S {
            self.error(
                codes::TABLE_KEY_TYPE,
                &path.key("partition_key").key("type"),
                format!(
                    "the table's partition key `{}` is of type {}, but cache keys are strings",
                    partition_key.name, partition_key.kind
                ),
                "use `type: S`: numbers in a key are written as text (`order#{id}`)",
            );
        }
        if let Some(sort_key) = sort_key.filter(|key| key.kind == spec::AttributeType::B) {
            self.error(
                codes::TABLE_KEY_TYPE,
                &path.key("sort_key").key("type"),
                format!(
                    "the table's sort key `{}` is binary (B), which sort key templates cannot give",
                    sort_key.name
                ),
                "use `type: S` (text) or `type: N` (a number)",
            );
        }
    }

    fn key_attribute(
        &mut self,
        path: &NodePath,
        key: Option<&spec::KeyAttribute>,
        default_name: &str,
    ) -> KeyAttribute {
        let attribute = key.map_or_else(
            || KeyAttribute {
                name: default_name.into(),
                kind: spec::AttributeType::S,
            },
            |key| KeyAttribute {
                name: key.name.clone(),
                kind: key.kind,
            },
        );
        if attribute.name.is_empty() || attribute.name.len() > 255 {
            self.error(
                codes::KEY_ATTRIBUTE_NAME,
                &path.key("name"),
                format!(
                    "key attribute name `{}` must be 1 to 255 bytes",
                    attribute.name
                ),
                "for example `pk`",
            );
        }
        attribute
    }

    fn index(
        &mut self,
        path: &NodePath,
        name: &str,
        index: &spec::Index,
        billing: Billing,
    ) -> Index {
        if let Some(problem) = names::dynamodb_name_problem("index name", name) {
            self.key_error(
                codes::INDEX_NAME,
                path,
                problem,
                "index names use letters, digits, `-`, `_` and `.`, 3 to 255 of them",
            );
        }
        let partition_key =
            self.key_attribute(&path.key("partition_key"), Some(&index.partition_key), "");
        let sort_key = index
            .sort_key
            .as_ref()
            .map(|key| self.key_attribute(&path.key("sort_key"), Some(key), ""));
        match (index.projection, index.projected_attributes.is_empty()) {
            (ProjectionType::Include, true) => self.error(
                codes::PROJECTION,
                &path.key("projection"),
                format!("index `{name}` has an INCLUDE projection but names no attributes"),
                "list them under `projected_attributes`, or use `projection: keys_only`",
            ),
            (ProjectionType::All | ProjectionType::KeysOnly, false) => self.error(
                codes::PROJECTION,
                &path.key("projected_attributes"),
                format!(
                    "index `{name}` lists projected attributes but its projection is not `include`"
                ),
                "set `projection: include`, or remove `projected_attributes`",
            ),
            _ => {}
        }
        let capacity = match (billing, index.capacity) {
            (Billing::Provisioned(table), capacity) => Some(capacity.unwrap_or(table)),
            (Billing::OnDemand, Some(_)) => {
                self.error(
                    codes::CAPACITY,
                    &path.key("capacity"),
                    format!("index `{name}` sets capacity on an on-demand table"),
                    "remove `capacity`, or make the table `provisioned`",
                );
                None
            }
            (Billing::OnDemand, None) => None,
        };
        Index {
            name: name.to_owned(),
            partition_key,
            sort_key,
            projection: index.projection,
            projected_attributes: index.projected_attributes.clone(),
            capacity,
        }
    }

    /// The attribute definitions: each key attribute once, with one type.
    fn key_attributes(
        &mut self,
        path: &NodePath,
        partition_key: &KeyAttribute,
        sort_key: Option<&KeyAttribute>,
        indexes: &[Index],
    ) -> Vec<KeyAttribute> {
        let mut attributes: Vec<KeyAttribute> = Vec::new();
        let table_keys = std::iter::once((path.key("partition_key"), partition_key))
            .chain(sort_key.map(|key| (path.key("sort_key"), key)));
        let index_keys = indexes.iter().flat_map(|index| {
            let index_path = path.key("indexes").key(index.name.as_str());
            std::iter::once((index_path.key("partition_key"), &index.partition_key)).chain(
                index
                    .sort_key
                    .as_ref()
                    .map(|key| (index_path.key("sort_key"), key)),
            )
        });
        for (key_path, key) in table_keys.chain(index_keys) {
            match attributes.iter().find(|existing| existing.name == key.name) {
                Some(existing) if existing.kind != key.kind => self.error(
                    codes::KEY_ATTRIBUTE_TYPE,
                    &key_path.key("type"),
                    format!(
                        "attribute `{}` is declared as {:?} here but as {:?} elsewhere on this table",
                        key.name, key.kind, existing.kind
                    ),
                    "an attribute has one type per table: make the declarations agree",
                ),
                Some(_) => {}
                None => attributes.push(key.clone()),
            }
        }
        attributes
    }

    /// Checks the literal text of a table name and its length for each allowed parameter value.
    fn check_table_name(&mut self, path: &NodePath, name: &NameTemplate) {
        for part in &name.0 {
            let text = match part {
                NamePart::Literal(text) => text.clone(),
                NamePart::Parameter(parameter) => {
                    let Some(declared) = self.spec.parameters.get(parameter) else {
                        continue;
                    };
                    declared
                        .allowed
                        .iter()
                        .chain(&declared.default)
                        .cloned()
                        .collect::<Vec<_>>()
                        .concat()
                }
                NamePart::StackName | NamePart::Region | NamePart::AccountId => continue,
            };
            if let Some(problem) = names::dynamodb_name_chars_problem("table name", &text) {
                self.error(
                    codes::TABLE_NAME,
                    path,
                    problem,
                    "table names use letters, digits, `-`, `_` and `.`",
                );
                return;
            }
        }
        if let Some(literal) = name.literal() {
            self.check(
                codes::TABLE_NAME,
                path,
                names::dynamodb_name_problem("table name", literal),
                "table names use letters, digits, `-`, `_` and `.`, 3 to 255 of them",
            );
        }
    }

    fn unique_physical_names(&mut self, tables: &[Table]) {
        for (position, table) in tables.iter().enumerate() {
            if let Some(first) = tables[..position].iter().find(|other| {
                other.table_name == table.table_name && !table.table_name.0.is_empty()
            }) {
                self.error(
                    codes::TABLE_NAME_CLASH,
                    &NodePath::parse("tables")
                        .key(table.name.as_str())
                        .key("name"),
                    format!(
                        "tables `{}` and `{}` have the same physical name",
                        first.name, table.name
                    ),
                    "give each table its own name",
                );
            }
            if let Some(first) = tables[..position]
                .iter()
                .find(|other| other.env_var == table.env_var)
            {
                self.error(
                    codes::ENV_VAR_CLASH,
                    &NodePath::parse("tables")
                        .key(table.name.as_str())
                        .key("env_var"),
                    format!(
                        "tables `{}` and `{}` both use the environment variable `{}`",
                        first.name, table.name, table.env_var
                    ),
                    "set a distinct `env_var` on one of them",
                );
            }
        }
    }
}
