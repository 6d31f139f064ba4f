//! The shared store: with Redis, no table, and nothing only DynamoDB does.

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{CreatedRedis, NamePart, NameTemplate, Redis, RedisUrl, Store};
use crate::spec::{self, Access, AlarmMetric};

/// The longest name ElastiCache gives a serverless cache, characters.
const CACHE_NAME_LENGTH: usize = 40;

/// Why a Redis store cannot keep what the spec asks for.
const REDIS_HINT: &str = "a Redis store keeps values by key only: remove it, or keep the cache in DynamoDB (drop `store`)";

impl Checker<'_> {
    /// The store, after refusing, with a Redis store, every part of the spec that needs a table.
    pub(super) fn store(&mut self) -> Store {
        let spec::Store::Redis(redis) = &self.spec.store else {
            return Store::Dynamodb;
        };
        self.dynamodb_only();
        let path = NodePath::parse("store.redis");
        let created = redis
            .create
            .as_ref()
            .map(|create| self.created_redis(&path.key("create"), create));
        if created.is_some() && redis.cluster == Some(false) {
            self.error(
                codes::REDIS_CLUSTER_MODE,
                &path.key("cluster"),
                "ElastiCache Serverless serves cluster mode only",
                "remove `cluster: false`: a created Redis is always a cluster",
            );
        }
        let url = redis.url.as_ref().and_then(|url| {
            let path = path.key("url");
            if created.is_some() {
                self.key_error(
                    codes::REDIS_URL_SOURCE,
                    &path,
                    "a created Redis has the URL of its endpoint",
                    "remove `url`, or `create` if the Redis exists already",
                );
                return None;
            }
            self.redis_url(&path, url)
        });
        Store::Redis(Redis {
            cluster: created.is_some() || redis.cluster.unwrap_or(false),
            created,
            url,
        })
    }

    /// Where an existing Redis's URL comes from: exactly one of a parameter and a secret.
    fn redis_url(&mut self, path: &NodePath, url: &spec::RedisUrlSource) -> Option<RedisUrl> {
        const WRITE: &str =
            "write `url: { parameter: RedisUrl }` or `url: { secret: <name or ARN>, key: url }`";
        if url.key.is_some() && url.secret.is_none() {
            self.key_error(
                codes::REDIS_URL_SOURCE,
                &path.key("key"),
                "`key` picks the URL out of a JSON secret, but `url` names no secret",
                WRITE,
            );
        }
        match (&url.parameter, &url.secret) {
            (Some(parameter), None) => {
                self.redis_url_parameter(&path.key("parameter"), parameter);
                Some(RedisUrl::Parameter(parameter.clone()))
            }
            (None, Some(secret)) => {
                let secret_path = path.key("secret");
                let template = self.name_template(&secret_path, secret);
                self.check(
                    codes::REDIS_URL_SECRET,
                    &secret_path,
                    secret_id_problem(&template),
                    "name the secret by its name or ARN: letters, digits and `/_+=.@-:`",
                );
                if let Some(key) = &url.key {
                    self.check(
                        codes::REDIS_URL_SECRET,
                        &path.key("key"),
                        json_key_problem(key),
                        "for example `key: url`, the key holding the URL in the secret's JSON",
                    );
                }
                Some(RedisUrl::Secret {
                    secret: template,
                    key: url.key.clone(),
                })
            }
            (Some(_), Some(_)) => {
                self.key_error(
                    codes::REDIS_URL_SOURCE,
                    path,
                    "`url` names both a parameter and a secret",
                    WRITE,
                );
                None
            }
            (None, None) => {
                self.key_error(
                    codes::REDIS_URL_SOURCE,
                    path,
                    "`url` names neither a parameter nor a secret",
                    WRITE,
                );
                None
            }
        }
    }

    /// A URL parameter is added to the templates on its own, so it must be a parameter name
    /// CloudFormation takes that no other parameter has.
    fn redis_url_parameter(&mut self, path: &NodePath, parameter: &str) {
        if let Some(problem) = names::parameter_name_problem(parameter) {
            self.error(
                codes::PARAMETER_NAME,
                path,
                problem,
                "for example `RedisUrl`",
            );
        }
        let clashes = self.spec.parameters.contains_key(parameter)
            || (self.spec.consumers.values())
                .any(|consumer| consumer.role.parameter() == Some(parameter));
        if clashes {
            self.error(
                codes::REDIS_URL_PARAMETER,
                path,
                format!("Redis URL parameter `{parameter}` has the name of another parameter"),
                "the URL parameter is added to the templates on its own: give it another name",
            );
        }
    }

    fn created_redis(&mut self, path: &NodePath, create: &spec::CreatedRedis) -> CreatedRedis {
        let name_text = create.name.as_deref().unwrap_or("${service}-cache");
        let name_path = if create.name.is_some() {
            path.key("name")
        } else {
            NodePath::parse("service")
        };
        let cache_name = self.name_template(&name_path, name_text);
        self.check(
            codes::REDIS_CACHE_NAME,
            &name_path,
            cache_name_problem(&cache_name),
            "ElastiCache names a serverless cache with 1 to 40 letters, digits and hyphens, starting with a letter; set `store.redis.create.name`",
        );
        CreatedRedis {
            logical_id: "RedisCache".to_owned(),
            cache_name,
            engine: create.engine,
            kms_key: create
                .kms_key
                .as_ref()
                .map(|key| self.name_template(&path.key("kms_key"), key)),
            tags: self.tags(&path.key("tags"), &Default::default()),
            skip_checks: self.skip_checks(&path.key("skip_checks"), &create.skip_checks),
        }
    }

    /// Refuses each part of the spec only a DynamoDB table can keep, where it is written.
    fn dynamodb_only(&mut self) {
        let spec = self.spec;
        if !spec.tables.is_empty() {
            self.refuse_on_redis(NodePath::parse("tables"), "a table".to_owned());
        }
        if spec.defaults.table.is_some() {
            self.refuse_on_redis(
                NodePath::parse("defaults.table"),
                "a default table".to_owned(),
            );
        }
        if !spec.buckets.is_empty() {
            self.refuse_on_redis(
                NodePath::parse("buckets"),
                "a document bucket (its documents are cached and indexed in a table)".to_owned(),
            );
        }
        if !spec.idempotency.is_empty() {
            self.refuse_on_redis(
                NodePath::parse("idempotency"),
                "an idempotent handler (its records are conditional writes to a table)".to_owned(),
            );
        }
        self.dynamodb_only_in_data_types();
        for (name, consumer) in &spec.consumers {
            for (data_type, levels) in &consumer.access {
                if levels.contains(&Access::Query) {
                    self.refuse_on_redis(
                        NodePath::parse("consumers")
                            .key(name)
                            .key("access")
                            .key(data_type),
                        format!("`query` access of consumer `{name}` (index queries)"),
                    );
                }
            }
        }
        for (name, alarm) in &spec.alarms {
            if alarm.metric == AlarmMetric::Throttles {
                self.refuse_on_redis(
                    NodePath::parse("alarms").key(name).key("metric"),
                    format!("alarm `{name}` on DynamoDB throttles"),
                );
            }
        }
    }

    /// Refuses what only DynamoDB can keep in each data type.
    fn dynamodb_only_in_data_types(&mut self) {
        for (name, data_type) in &self.spec.data_types {
            let path = NodePath::parse("data_types").key(name);
            let parts = [
                ("table", data_type.table.is_some(), "a table"),
                ("sort_key", data_type.sort_key.is_some(), "a sort key"),
                (
                    "attributes",
                    !data_type.attributes.is_empty(),
                    "item attributes (for indexes)",
                ),
                (
                    "invalidate_by",
                    data_type.invalidate_by.is_some(),
                    "invalidation through an index",
                ),
                ("document", data_type.document.is_some(), "a document in S3"),
                (
                    "large_values",
                    data_type.large_values == Some(true),
                    "values over an item's size kept in S3",
                ),
            ];
            for (field, present, what) in parts {
                if present {
                    self.refuse_on_redis(path.key(field), format!("{what} of data type `{name}`"));
                }
            }
        }
    }

    /// Refuses, at `path`, `what` the store cannot keep because it is Redis.
    fn refuse_on_redis(&mut self, path: NodePath, what: String) {
        self.key_error(
            codes::DYNAMODB_ONLY,
            &path,
            format!("{what} needs DynamoDB, but the store is Redis"),
            REDIS_HINT,
        );
    }
}

/// Why a secret ID cannot name a Secrets Manager secret in a dynamic reference, judging
/// its fixed text: names take letters, digits and `/_+=.@-`, ARNs add `:`.
fn secret_id_problem(secret: &NameTemplate) -> Option<String> {
    let bad: String = literal_text(secret)
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-:".contains(*c)))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "secret `{secret}` has characters a secret name or ARN cannot: `{bad}`"
        ));
    }
    secret
        .literal()
        .is_some_and(str::is_empty)
        .then(|| "the secret's name is empty".to_owned())
}

/// Why `key` cannot name a JSON key in a dynamic reference, whose fields `:` separates.
fn json_key_problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("the secret's JSON key is empty".to_owned());
    }
    let bad: String = key
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c)))
        .collect();
    (!bad.is_empty())
        .then(|| format!("JSON key `{key}` has characters cachegen does not pass on: `{bad}`"))
}

/// The fixed text of `name`, its parameters left out.
fn literal_text(name: &NameTemplate) -> String {
    name.0
        .iter()
        .filter_map(|part| match part {
            NamePart::Literal(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Why ElastiCache would refuse `name` for a serverless cache, judging its fixed text.
fn cache_name_problem(name: &NameTemplate) -> Option<String> {
    let bad: Vec<char> = literal_text(name)
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        .collect();
    if !bad.is_empty() {
        let bad: String = bad.into_iter().collect();
        return Some(format!(
            "cache name `{name}` has characters ElastiCache rejects: `{bad}`"
        ));
    }
    if let Some(text) = name.literal() {
        if text.len() > CACHE_NAME_LENGTH {
            return Some(format!(
                "cache name `{text}` is longer than {CACHE_NAME_LENGTH} characters"
            ));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphabetic())
            || text.ends_with('-')
            || text.contains("--")
        {
            return Some(format!(
                "cache name `{text}` must start with a letter, and neither end with a hyphen nor hold two in a row"
            ));
        }
    }
    None
}
