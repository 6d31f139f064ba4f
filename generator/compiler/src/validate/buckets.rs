//! Document buckets, the documents kept in them, and the sync Lambda their events reach.

use heck::{ToPascalCase, ToShoutySnakeCase};

use super::{Checker, names};
use crate::diagnostics::codes;
use crate::diagnostics::source::NodePath;
use crate::ir::{
    Bucket, BucketEncryption, BucketEvents, Consumer, CreatedFunction, DataType, Document, Field,
    NameTemplate, Ref, Role, SyncFunction, Table, Template, TemplatePart,
};
use crate::limits;
use crate::spec::{self, Access};

impl Checker<'_> {
    pub(super) fn buckets(&mut self, tables: &[Table]) -> Vec<Bucket> {
        let spec = self.spec;
        self.unique_logical_ids("buckets", spec.buckets.keys());
        let buckets: Vec<Bucket> = spec
            .buckets
            .iter()
            .map(|(name, bucket)| self.bucket(name, bucket))
            .collect();
        for (position, bucket) in buckets.iter().enumerate() {
            let clash = tables
                .iter()
                .map(|table| (format!("table `{}`", table.name), &table.env_var))
                .chain(
                    buckets[..position]
                        .iter()
                        .map(|other| (format!("bucket `{}`", other.name), &other.env_var)),
                )
                .find(|(_, env_var)| **env_var == bucket.env_var);
            if let Some((other, _)) = clash {
                self.error(
                    codes::ENV_VAR_CLASH,
                    &NodePath::parse("buckets")
                        .key(bucket.name.as_str())
                        .key("env_var"),
                    format!(
                        "bucket `{}` and {other} both use the environment variable `{}`",
                        bucket.name, bucket.env_var
                    ),
                    "set a distinct `env_var` on the bucket",
                );
            }
        }
        buckets
    }

    fn bucket(&mut self, name: &str, bucket: &spec::Bucket) -> Bucket {
        let path = NodePath::parse("buckets").key(name);
        self.check(
            codes::IDENTIFIER,
            &path,
            names::identifier_problem("bucket", name),
            "bucket names become CloudFormation logical IDs",
        );
        let (bucket_name, created) = self.bucket_source(name, &path, bucket);
        let encryption = match &bucket.encryption {
            None | Some(spec::BucketEncryption::AwsManaged) => BucketEncryption::AwsManaged,
            Some(spec::BucketEncryption::S3Managed) => BucketEncryption::S3Managed,
            Some(spec::BucketEncryption::KmsKey(key)) => {
                BucketEncryption::KmsKey(self.name_template(&path.key("encryption"), key))
            }
        };
        let events = bucket
            .events
            .as_ref()
            .map(|events| self.bucket_events(name, &path, events, created));
        let env_var = bucket
            .env_var
            .clone()
            .unwrap_or_else(|| format!("{}_BUCKET_NAME", name.to_shouty_snake_case()));
        self.check(
            codes::ENV_VAR,
            &path.key("env_var"),
            names::env_var_problem(&env_var),
            "for example `DOCUMENTS_BUCKET_NAME`",
        );
        if !created && !bucket.tags.is_empty() {
            self.key_error(
                codes::EXISTING_BUCKET,
                &path.key("tags"),
                format!("bucket `{name}` is an existing bucket; the templates do not tag it"),
                "remove `tags`, or let the templates create the bucket",
            );
        }
        Bucket {
            name: name.to_owned(),
            logical_id: format!("{}Bucket", name.to_pascal_case()),
            bucket_name,
            created,
            description: bucket.description.clone(),
            env_var,
            versioning: bucket.versioning.unwrap_or(true),
            encryption,
            events,
            tags: if created {
                self.tags(&path.key("tags"), &bucket.tags)
            } else {
                Vec::new()
            },
            skip_checks: self.skip_checks(&path.key("skip_checks"), &bucket.skip_checks),
        }
    }

    /// A bucket's name, and whether the templates create it (`name`) or use it
    /// (`existing`).
    fn bucket_source(
        &mut self,
        name: &str,
        path: &NodePath,
        bucket: &spec::Bucket,
    ) -> (NameTemplate, bool) {
        // `named`: the bucket gives exactly one name, so that name is checked; with both
        // or neither, CG0501 alone is reported, not an empty name besides.
        let (bucket_name, created, named) = match (&bucket.name, &bucket.existing) {
            (Some(text), None) => (self.name_template(&path.key("name"), text), true, true),
            (None, Some(text)) => (self.name_template(&path.key("existing"), text), false, true),
            (Some(_), Some(_)) => {
                self.key_error(
                    codes::BUCKET_SOURCE,
                    &path.key("existing"),
                    format!("bucket `{name}` gives both `name` and `existing`"),
                    "`name` creates a bucket; `existing` uses one: keep one of them",
                );
                (NameTemplate(Vec::new()), false, false)
            }
            (None, None) => {
                self.key_error(
                    codes::BUCKET_SOURCE,
                    path,
                    format!("bucket `{name}` gives neither `name` nor `existing`"),
                    "add `name: \"${service}-documents-${AWS::AccountId}\"` to create it, or `existing: \"${DocumentsBucket}\"`",
                );
                (NameTemplate(Vec::new()), false, false)
            }
        };
        if named
            && let Some(literal) = bucket_name.literal()
            && let Some(problem) = bucket_name_problem(literal)
        {
            let field = if created { "name" } else { "existing" };
            self.error(
                codes::BUCKET_NAME,
                &path.key(field),
                problem,
                "bucket names are 3 to 63 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
            );
        }
        (bucket_name, created)
    }

    /// A bucket's `events`: the sync function its object events reach, and its consumer.
    fn bucket_events(
        &mut self,
        name: &str,
        path: &NodePath,
        events: &spec::BucketEvents,
        created: bool,
    ) -> BucketEvents {
        if !created {
            self.key_error(
                codes::EXISTING_BUCKET,
                &path.key("events"),
                format!("bucket `{name}` is an existing bucket; its notifications are not this template's to set"),
                "let the templates create the bucket (`name:`), or point the existing bucket's notifications at the sync Lambda yourself",
            );
        }
        let function_path = path.key("events").key("function");
        let function =
            match &events.function {
                spec::EventFunction::Arn(text) => {
                    let arn = self.name_template(&function_path, text);
                    if arn.literal().is_some_and(|arn| !is_function_arn(arn)) {
                        self.error(
                        codes::EVENT_FUNCTION,
                        &function_path,
                        format!("`{text}` is not a Lambda function ARN"),
                        "pass the ARN as a parameter, such as `function: \"${SyncFunctionArn}\"`",
                    );
                    }
                    SyncFunction::Arn(arn)
                }
                spec::EventFunction::Create { create } => SyncFunction::Created(
                    self.created_function(&function_path.key("create"), name, create),
                ),
            };
        BucketEvents {
            function,
            consumer: events.consumer.clone(),
        }
    }

    /// The sync function bucket `bucket` creates, as the spec at `path` describes it.
    fn created_function(
        &mut self,
        path: &NodePath,
        bucket: &str,
        function: &spec::SyncFunctionSpec,
    ) -> CreatedFunction {
        let memory_mb = function.memory.unwrap_or(DEFAULT_MEMORY_MB);
        if !(MIN_MEMORY_MB..=MAX_MEMORY_MB).contains(&memory_mb) {
            self.error(
                codes::SYNC_FUNCTION,
                &path.key("memory"),
                format!(
                    "Lambda gives a function {MIN_MEMORY_MB} to {MAX_MEMORY_MB} MB, not {memory_mb}"
                ),
                "for example `memory: 256`",
            );
        }
        let timeout_secs = match function.timeout {
            None => DEFAULT_TIMEOUT_SECS,
            Some(timeout) => {
                let secs = self.duration(&path.key("timeout"), "a function timeout", timeout);
                if secs > MAX_TIMEOUT_SECS {
                    self.error(
                        codes::SYNC_FUNCTION,
                        &path.key("timeout"),
                        format!("a Lambda function runs at most 15 minutes, not {timeout}"),
                        "for example `timeout: 30s`",
                    );
                }
                secs
            }
        };
        for (field, text) in [
            ("handler", &function.handler),
            ("runtime", &function.runtime),
        ] {
            if text.trim().is_empty() {
                self.error(
                    codes::SYNC_FUNCTION,
                    &path.key(field),
                    format!("the sync function's `{field}` is empty"),
                    "for a Rust binary: `handler: bootstrap`, `runtime: provided.al2023`",
                );
            }
        }
        // Terraform names it `<stack_name>-<bucket>-sync`, cutting the stack name to fit.
        let suffix = format!("-{bucket}-sync").len();
        if suffix >= limits::FUNCTION_NAME {
            self.key_error(
                codes::SYNC_FUNCTION,
                &NodePath::parse("buckets").key(bucket),
                format!(
                    "the sync function of bucket `{bucket}` is named `<stack>-{bucket}-sync`, \
                     which leaves no room for the stack name in Lambda's {} characters",
                    limits::FUNCTION_NAME
                ),
                format!(
                    "give the bucket a key of at most {} characters",
                    limits::FUNCTION_NAME - "--sync".len() - 1
                ),
            );
        }
        let code = path.key("code");
        CreatedFunction {
            logical_id: format!("{}SyncFunction", bucket.to_pascal_case()),
            handler: function.handler.clone(),
            runtime: function.runtime.clone(),
            architecture: match function.architecture.unwrap_or_default() {
                spec::Architecture::Arm64 => "arm64",
                spec::Architecture::X86_64 => "x86_64",
            }
            .to_owned(),
            memory_mb,
            timeout_secs,
            code_bucket: self.name_template(&code.key("s3_bucket"), &function.code.s3_bucket),
            code_key: self.name_template(&code.key("s3_key"), &function.code.s3_key),
            skip_checks: self.skip_checks(&path.key("skip_checks"), &function.skip_checks),
        }
    }

    /// The `document` section of data type `name`: its bucket and object key template.
    pub(super) fn document(
        &mut self,
        path: &NodePath,
        document: &spec::DocumentSpec,
        params: &[Field],
        buckets: &[Bucket],
    ) -> Option<Document> {
        let path = path.key("document");
        let bucket = match (&document.bucket, buckets) {
            (Some(wanted), _) => self.declared_bucket(&path.key("bucket"), wanted, buckets)?,
            (None, [only]) => only,
            (None, []) => {
                self.key_error(
                    codes::DOCUMENT_BUCKET,
                    &path,
                    "documents need a bucket, and the spec declares none",
                    "declare one under `buckets`, such as `documents: { name: \"${service}-documents-${AWS::AccountId}\" }`",
                );
                return None;
            }
            (None, _) => {
                self.key_error(
                    codes::DOCUMENT_BUCKET,
                    &path,
                    "this document names no bucket, and the spec has several",
                    "add `bucket: <name>`",
                );
                return None;
            }
        };
        let key_path = path.key("key");
        let object_key = self.template(&key_path, &document.key);
        self.placeholders(&key_path, &object_key, params, None, false);
        self.object_key_shape(&key_path, &document.key, &object_key, params);
        Some(Document {
            bucket: Ref::to(buckets, bucket),
            object_key,
            customer_attribute: document.customer_attribute.clone(),
        })
    }

    /// An object key must be readable back into the key parameters: every parameter used
    /// once, only parameters, and something between two parameters that marks the end of
    /// the first.
    fn object_key_shape(
        &mut self,
        path: &NodePath,
        text: &str,
        template: &Template,
        params: &[Field],
    ) {
        for param in params {
            let uses = template
                .0
                .iter()
                .filter(|part| matches!(part, TemplatePart::Param(used) if *used == param.name))
                .count();
            if uses != 1 {
                self.error(
                    codes::OBJECT_KEY,
                    path,
                    format!(
                        "object key `{text}` uses `{{{}}}` {uses} times; it must use each key parameter exactly once",
                        param.name
                    ),
                    "the S3 event handler reads the key parameters back out of the object key",
                );
            }
        }
        for part in &template.0 {
            if matches!(part, TemplatePart::Now | TemplatePart::DataTypeName) {
                self.error(
                    codes::OBJECT_KEY,
                    path,
                    format!("object key `{text}` uses a placeholder other than key parameters"),
                    "object keys are made of fixed text and `{param}`s only",
                );
            }
        }
        for pair in template.0.windows(3) {
            if let [
                TemplatePart::Param(first),
                TemplatePart::Literal(between),
                TemplatePart::Param(_),
            ] = pair
                && !between.chars().next().is_some_and(names::ends_parameter)
            {
                self.error(
                    codes::OBJECT_KEY,
                    path,
                    format!("in object key `{text}`, `{between}` cannot mark where `{{{first}}}` ends"),
                    "start the text between parameters with `/`, `#` or another character that parameters are escaped for",
                );
            }
        }
        if template
            .0
            .windows(2)
            .any(|pair| matches!(pair, [TemplatePart::Param(_), TemplatePart::Param(_)]))
        {
            self.error(
                codes::OBJECT_KEY,
                path,
                format!("object key `{text}` puts two parameters side by side"),
                "separate them with `/`, such as `{customer}/{id}.json`",
            );
        }
        if text.starts_with('/') {
            self.error(
                codes::OBJECT_KEY,
                path,
                format!("object key `{text}` starts with `/`"),
                "S3 keys do not start with `/`: write `changes/{id}.json`",
            );
        }
    }

    /// Checks what needs the consumers: each bucket's sync consumer exists and may sync
    /// every document type in it, and no two notified prefixes overlap.
    pub(super) fn check_bucket_events(
        &mut self,
        buckets: &[Bucket],
        data_types: &[DataType],
        consumers: &[Consumer],
    ) {
        for bucket in buckets {
            let Some(events) = &bucket.events else {
                continue;
            };
            let path = NodePath::parse("buckets")
                .key(bucket.name.as_str())
                .key("events");
            let documents: Vec<(&DataType, &Document)> = data_types
                .iter()
                .filter_map(|dt| {
                    dt.document
                        .as_ref()
                        .filter(|d| d.bucket.name() == bucket.name)
                        .map(|d| (dt, d))
                })
                .collect();
            let declared = self
                .spec
                .data_types
                .values()
                .any(|dt| dt.document.is_some());
            if documents.is_empty() && !declared {
                self.key_error(
                    codes::EVENTS_UNUSED,
                    &path,
                    format!(
                        "bucket `{}` notifies a Lambda, but no data type keeps documents in it",
                        bucket.name
                    ),
                    "add `document: { bucket: ... }` to a data type, or remove `events`",
                );
            }
            match consumers
                .iter()
                .find(|consumer| consumer.name == events.consumer)
            {
                None => {
                    let hint =
                        Self::suggest(&events.consumer, consumers.iter().map(|c| c.name.as_str()));
                    self.error(
                        codes::SYNC_CONSUMER,
                        &path.key("consumer"),
                        format!("consumer `{}` is not declared", events.consumer),
                        hint,
                    );
                }
                Some(consumer) => self.sync_consumer(&path, bucket, consumer, &documents),
            }
            self.overlapping_filters(&documents);
        }
    }

    /// The consumer of a bucket's events runs the created function as its created role,
    /// and may sync every document type kept in the bucket.
    fn sync_consumer(
        &mut self,
        path: &NodePath,
        bucket: &Bucket,
        consumer: &Consumer,
        documents: &[(&DataType, &Document)],
    ) {
        let events = bucket.events.as_ref().expect("a bucket with events");
        if matches!(events.function, SyncFunction::Created(_)) && consumer.role != Role::Create {
            self.error(
                codes::SYNC_FUNCTION_ROLE,
                &path.key("consumer"),
                format!(
                    "the templates create the sync function of bucket `{}`, but consumer `{}` does not have a created role for it to run as",
                    bucket.name, consumer.name
                ),
                format!(
                    "give consumer `{}` `role: create` (the default), or name an existing function in `function`",
                    consumer.name
                ),
            );
        }
        for (data_type, _) in documents {
            let syncs = consumer.access.iter().any(|(access, levels)| {
                access.name() == data_type.name && levels.contains(&Access::Sync)
            });
            if !syncs {
                self.error(
                    codes::SYNC_CONSUMER,
                    &path.key("consumer"),
                    format!(
                        "consumer `{}` receives the events of bucket `{}`, but may not `sync` data type `{}`",
                        consumer.name, bucket.name, data_type.name
                    ),
                    format!("add `{}: [sync]` to its access", data_type.name),
                );
            }
        }
    }

    /// No two document types of one bucket have overlapping object keys, which S3 refuses
    /// as event filters.
    fn overlapping_filters(&mut self, documents: &[(&DataType, &Document)]) {
        for (position, (data_type, document)) in documents.iter().enumerate() {
            let (prefix, suffix) = (document.key_prefix(), document.key_suffix());
            let overlapping = documents[..position].iter().find(|(_, other)| {
                let (other_prefix, other_suffix) = (other.key_prefix(), other.key_suffix());
                (prefix.starts_with(&other_prefix) || other_prefix.starts_with(&prefix))
                    && (suffix.ends_with(&other_suffix) || other_suffix.ends_with(&suffix))
            });
            if let Some((other, _)) = overlapping {
                self.error(
                codes::OVERLAPPING_EVENTS,
                &NodePath::parse("data_types").key(data_type.name.as_str()).key("document").key("key"),
                format!(
                    "the object keys of `{}` and `{}` overlap, and S3 refuses overlapping event filters",
                    other.name, data_type.name
                ),
                "give each document type its own fixed prefix, such as `changes/` and `announcements/`",
            );
            }
        }
    }
}

/// Memory of a created sync function when the spec gives none, MB.
const DEFAULT_MEMORY_MB: u32 = 256;
/// The least memory Lambda gives a function, MB.
const MIN_MEMORY_MB: u32 = 128;
/// The most memory Lambda gives a function, MB.
const MAX_MEMORY_MB: u32 = 10_240;
/// Timeout of a created sync function when the spec gives none, seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// The longest Lambda runs a function, seconds.
const MAX_TIMEOUT_SECS: u64 = 900;

/// Whether `arn` is a Lambda function's ARN (`arn:<partition>:lambda:<region>:<account>:function:<name>`,
/// perhaps with a version or alias after the name), whose seventh part is the function's name.
fn is_function_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && parts[5] == "function"
        && !parts[6].is_empty()
}

/// Why `name` cannot be an S3 bucket name, if it cannot.
fn bucket_name_problem(name: &str) -> Option<String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&name.len()) {
        Some(format!(
            "bucket name `{name}` is {} characters long",
            name.len()
        ))
    } else if !valid_chars
        || !ends_ok(name.chars().next())
        || !ends_ok(name.chars().last())
        || name.contains("..")
    {
        Some(format!("`{name}` is not a valid S3 bucket name"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_arns_name_a_lambda_function() {
        assert!(is_function_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:sync"
        ));
        assert!(is_function_arn(
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:sync:live"
        ));
        assert!(!is_function_arn("sync"));
        assert!(!is_function_arn("arn:aws:sns:us-east-1:123456789012:topic"));
        assert!(!is_function_arn(
            "arn:aws:lambda:us-east-1:123456789012:layer:sync"
        ));
        assert!(!is_function_arn(
            "arn:aws:lambda:us-east-1:123456789012:function:"
        ));
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert_eq!(bucket_name_problem("change-docs.example"), None);
        assert!(bucket_name_problem("ab").is_some());
        assert!(bucket_name_problem("Upper-Case").is_some());
        assert!(bucket_name_problem("-leading").is_some());
        assert!(bucket_name_problem("double..dot").is_some());
        assert!(bucket_name_problem(&"a".repeat(64)).is_some());
    }
}
