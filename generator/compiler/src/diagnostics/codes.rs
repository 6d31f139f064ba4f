//! Stable codes for spec problems, one per rule, like cfn-lint's rule ids.
//!
//! A code never changes meaning once released: scripts and search engines rely on it.
//! Retire a code rather than reuse it. Each code's explanation (what triggers it, a
//! failing spec, the message, the fix) is `codes/CGxxxx.md` beside this file, as rustc
//! keeps `error_codes/E0308.md`: `cachegen explain` prints it, and the book's diagnostic
//! index includes it. `generator/cli/tests/book/` builds each example and rewrites the
//! generated parts of each page.

use std::fmt;

mod explanations;

/// The stable identifier of one kind of spec problem, rendered as `error[CG0301]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    /// `CG` and four digits: the first two name the section of the spec.
    pub id: &'static str,
    /// What the rule checks, in one line (the title of its explanation).
    pub summary: &'static str,
}

impl Code {
    /// The code with identifier `id` (`CG0310`, case-insensitive), if there is one.
    pub fn find(id: &str) -> Option<Code> {
        ALL.iter()
            .copied()
            .find(|code| code.id.eq_ignore_ascii_case(id))
    }

    /// The code's page in Markdown: what triggers it, a failing spec, the message and
    /// the fix.
    pub fn explanation(&self) -> &'static str {
        explanations::EXPLANATIONS
            .iter()
            .find(|(id, _)| *id == self.id)
            .map(|(_, text)| *text)
            .expect("every code has a page (tests::every_code_has_a_page)")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id)
    }
}

macro_rules! codes {
    ($($name:ident = $id:literal, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: Code = Code { id: $id, summary: $summary };
        )*
        /// Every code, in order.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    // CG00: reading the file.
    NOT_TEXT = "CG0001", "the file is not UTF-8 text (binary data, or another encoding)";
    YAML_SYNTAX = "CG0002", "the text is not valid YAML";
    EMPTY_SPEC = "CG0003", "the file holds no spec";
    NOT_A_MAPPING = "CG0004", "the spec is a list or a scalar, not a mapping of fields";
    ALIAS_EXPANSION = "CG0005", "YAML aliases expand too far (an alias bomb), or nesting is too deep";
    DUPLICATE_KEY = "CG0006", "a key is written twice in one mapping";
    UNKNOWN_FIELD = "CG0007", "a field the spec format does not have";
    MISSING_FIELD = "CG0008", "a required field is missing";
    INVALID_VALUE = "CG0009", "a value of the wrong type or form: a malformed duration, a number out of range, an unknown variant";

    // CG01: service, parameters and names shared by every section.
    UNSUPPORTED_VERSION = "CG0101", "the spec version is not 1";
    SERVICE_NAME = "CG0102", "the service name is empty or has characters DynamoDB rejects";
    PARAMETER_NAME = "CG0103", "a parameter name CloudFormation rejects";
    PARAMETER_DEFAULT = "CG0104", "a parameter default that is not one of its allowed values";
    UNKNOWN_PARAMETER = "CG0105", "`${name}` names no parameter";
    MALFORMED_TEMPLATE = "CG0106", "a template with an unclosed or stray brace, or an empty placeholder";
    LOGICAL_ID_CLASH = "CG0107", "two names become the same CloudFormation logical ID";
    IDENTIFIER = "CG0108", "a name that cannot become an identifier (letters, digits, `-` and `_`, starting with a letter)";
    METRICS_NAMESPACE = "CG0109", "a metrics namespace CloudWatch rejects";
    TAG = "CG0110", "a resource tag AWS rejects";
    ENV_VAR = "CG0111", "an environment variable name Lambda rejects";
    ENV_VAR_CLASH = "CG0112", "two tables, buckets or data type TTLs use the same environment variable, or a TTL one the runtime reads itself";
    SKIP_CHECK_ID = "CG0113", "a skipped check that is not a checkov check ID";
    SKIP_CHECK_REASON = "CG0114", "a skipped check without a one-line reason";
    LITERAL_REFERENCE = "CG0115", "`${` in a description or skip reason CloudFormation shows as written, where cfn-lint reads it as a reference";

    // CG02: tables and indexes.
    NO_TABLE = "CG0201", "the spec declares no table";
    UNKNOWN_TABLE = "CG0202", "a reference to a table that is not declared";
    TABLE_UNSPECIFIED = "CG0203", "a data type names no table, and the spec has several";
    TABLE_NAME = "CG0204", "a table name DynamoDB rejects";
    TABLE_NAME_CLASH = "CG0205", "two tables have the same physical name";
    KEY_ATTRIBUTE_NAME = "CG0206", "a key attribute name that is not 1 to 255 bytes";
    TTL_ATTRIBUTE = "CG0207", "the TTL attribute is also a key attribute";
    CAPACITY = "CG0208", "provisioned capacity of zero, or capacity on an on-demand table";
    TOO_MANY_INDEXES = "CG0209", "more global secondary indexes than DynamoDB allows on one table";
    INDEX_NAME = "CG0210", "an index name DynamoDB rejects";
    PROJECTION = "CG0211", "an index projection and its projected attributes disagree";
    KEY_ATTRIBUTE_TYPE = "CG0212", "a key attribute declared with two types on one table";
    INDEX_KEY_UNWRITTEN = "CG0213", "an index keyed on an attribute no data type writes";
    RESERVED_TABLE_NAME = "CG0214", "a table whose generated Rust module would be named like one the module uses itself (`runtime`, `buckets`) or like a Rust keyword";
    TABLE_KEY_TYPE = "CG0215", "a table key type the cache cannot write: its partition key must be a string (S), its sort key a string or a number (N)";

    // CG03: data types and their keys.
    NO_DATA_TYPE = "CG0301", "the spec declares no data type";
    RESERVED_TYPE_NAME = "CG0302", "a data type whose generated Rust type the module uses itself";
    TYPE_NAME_CLASH = "CG0303", "two data types whose names generate the same Rust types";
    SORT_KEY = "CG0304", "a sort key template missing on a table with a sort key, or given on one without";
    KEY_PARAMETER_TYPE = "CG0305", "a key parameter type other than string, u32, u64, i64 or bool";
    FIELD_NAME = "CG0306", "a key parameter or value field name that is not snake_case or is a Rust keyword";
    UNUSED_KEY_PARAMETER = "CG0307", "a key parameter the key templates never use";
    UNDECLARED_KEY_PARAMETER = "CG0308", "a placeholder naming an undeclared key parameter";
    PLACEHOLDER_NOT_ALLOWED = "CG0309", "a placeholder that cannot be used in this template";
    KEY_PARAMETER_END = "CG0310", "a key or tag template where a parameter's end cannot be told, so two parameter tuples can give one key";
    KEY_PREFIX_OVERLAP = "CG0311", "two data types on one table whose keys can collide";
    RESERVED_KEY_SPACE = "CG0312", "a key starting with `!`, which the runtime keeps for its own items";
    KEY_PARAMETER_DEFAULT = "CG0313", "a key parameter default that is not a value of its type, or that escaping would change";
    SORT_KEY_NUMBER = "CG0314", "a sort key template on a numeric sort key that is neither one integer parameter nor a whole number";
    KEY_SEPARATOR = "CG0315", "a key or sort key template holding U+001F, the character that separates a key's partition and sort parts";

    // CG04: values, lifetimes and item attributes.
    DURATION_RANGE = "CG0401", "a duration of zero, of more than 365 days, or not in whole seconds";
    MEMORY_TTL_LONGER = "CG0402", "a memory_ttl longer than the data type's ttl";
    VALUE_SHAPE = "CG0403", "a value with both or neither of `type` and `fields`";
    RUST_TYPE = "CG0404", "a value type that is not a Rust type path";
    FIELD_TYPE = "CG0405", "a value field type cachegen does not know";
    VALUE_FIELD_REFERENCE = "CG0406", "`{value.field}` names no field of the value, or a field that is not a scalar";
    RESERVED_ATTRIBUTE = "CG0407", "an attribute cachegen writes itself";
    ATTRIBUTE_TYPE = "CG0408", "an attribute written with another type than its index declares";
    INVALIDATION_INDEX = "CG0409", "an `invalidate_by` index that is missing or cannot find every item of the type";
    TRAFFIC = "CG0410", "a traffic hit rate outside 0 to 1, or an item size DynamoDB cannot hold";
    EAGER_REFRESH = "CG0411", "an eager_refresh fraction not strictly between 0 and 1";
    FINE_DURATION = "CG0412", "an origin timeout, fail-safe throttle or TTL jitter of zero, or not in whole milliseconds";
    ORIGIN_TIMEOUT = "CG0413", "an origin timeout longer than a Lambda may run (15 minutes), or a soft_timeout not shorter than the hard_timeout";
    SOFT_TIMEOUT_WITHOUT_FAIL_SAFE = "CG0414", "a soft_timeout without fail_safe, which gives it the expired value to answer with";
    FAIL_SAFE_THROTTLE = "CG0415", "a fail-safe throttle longer than its max_stale";
    TTL_JITTER = "CG0416", "a ttl_jitter longer than the data type's ttl";
    NEGATIVE_TTL = "CG0417", "a negative_ttl not shorter than the data type's ttl";
    TTL_BOUNDS = "CG0418", "ttl_bounds with neither min nor max, a min above the max, or a max above the data type's ttl";

    // CG05: buckets and documents.
    BUCKET_SOURCE = "CG0501", "a bucket with both or neither of `name` and `existing`";
    UNKNOWN_BUCKET = "CG0502", "a reference to a bucket that is not declared";
    BUCKET_NAME = "CG0503", "a bucket name S3 rejects";
    EXISTING_BUCKET = "CG0504", "events or tags on an existing bucket, which the templates do not manage";
    EVENT_FUNCTION = "CG0505", "a bucket's event target that is not a Lambda function ARN";
    DOCUMENT_BUCKET = "CG0506", "a document type with no bucket to name, or several to choose from";
    OBJECT_KEY = "CG0507", "an object key the sync Lambda cannot read the key parameters back from";
    EVENTS_UNUSED = "CG0508", "a bucket notifies a Lambda, but no data type keeps documents in it";
    SYNC_CONSUMER = "CG0509", "a bucket's event consumer that is not declared or may not sync its documents";
    OVERLAPPING_EVENTS = "CG0510", "two document types in one bucket whose event filters overlap";
    NO_OVERFLOW_BUCKET = "CG0511", "large values on a table with no overflow bucket";
    CUSTOMER_ATTRIBUTE = "CG0512", "a document's customer attribute that the data type does not write";
    SYNC_FUNCTION = "CG0513", "a created sync function's memory, timeout, handler or runtime that Lambda refuses";
    SYNC_FUNCTION_ROLE = "CG0514", "a created sync function whose consumer has no created role to run as";

    // CG06: consumers.
    NO_ACCESS = "CG0601", "a consumer given no access, or a data type listed with none";
    UNKNOWN_DATA_TYPE = "CG0602", "a reference to a data type that is not declared";
    SYNC_WITHOUT_DOCUMENTS = "CG0603", "`sync` access to a data type that keeps no documents";
    QUERY_WITHOUT_INDEX = "CG0604", "`query` access to a data type no index finds";
    ROLE_PARAMETER_CLASH = "CG0605", "a role parameter named like a spec parameter";

    // CG07: alarms.
    ALARM_PERIOD = "CG0701", "an alarm period CloudWatch does not accept";
    EVALUATION_PERIODS = "CG0702", "evaluation periods of zero, or spanning more than a day";
    ALARM_THRESHOLD = "CG0703", "a threshold of the wrong kind for the alarm's metric";
    ALARM_STATISTIC = "CG0704", "a latency statistic that is not a percentile";
    ALARM_SCOPE = "CG0705", "an alarm scoped to what its metric cannot watch: a throttling alarm with a data type or without its table, a sync_errors alarm without a bucket with events to watch";

    // CG08: AWS's limits on what the outputs declare (see `crate::limits`).
    TEMPLATE_SIZE = "CG0801", "a CloudFormation or SAM template larger than CloudFormation accepts";
    TEMPLATE_RESOURCES = "CG0802", "more resources in one template than CloudFormation accepts";
    TEMPLATE_PARAMETERS = "CG0803", "more parameters in one template than CloudFormation accepts";
    TEMPLATE_OUTPUTS = "CG0804", "more outputs in one template than CloudFormation accepts";
    DESCRIPTION_SIZE = "CG0805", "a template or alarm description longer than AWS accepts";
    PARAMETER_VALUE_SIZE = "CG0806", "a parameter default or allowed value longer than CloudFormation accepts";
    NAME_LENGTH = "CG0807", "a name that makes a logical ID, alarm name or dashboard name longer than AWS accepts";
    ROLE_POLICIES = "CG0808", "a consumer whose cache policies are more than its role may have attached";
    ALARM_ACTIONS = "CG0809", "an alarm with more actions than CloudWatch accepts";
    TOO_MANY_TAGS = "CG0810", "a table or bucket with more tags than AWS accepts";
    PROJECTED_ATTRIBUTES = "CG0811", "more non-key attributes projected into a table's indexes than DynamoDB accepts";
    LAMBDA_ENVIRONMENT = "CG0812", "environment variables, at their longest, larger than Lambda accepts";

    // CG09: users' templates (`outputs.templates`).
    TEMPLATE_OUTPUT = "CG0901", "a template's output path that is absolute, leaves the output directory, or is a file a target writes";
    TEMPLATE_SYNTAX = "CG0902", "a template tera cannot parse";
    TEMPLATE_RENDER = "CG0903", "a template that fails to render over the JSON view: an unknown variable, filter or function";
    TEMPLATE_HEADER = "CG0904", "a rendered template without the `Generated by cachegen` header near its top, which `build` needs to overwrite it";
    TEMPLATE_FILE = "CG0905", "a template file that cannot be read: missing (paths are relative to the spec's folder), unreadable, or not UTF-8 text";

    // CG10: idempotent handlers.
    IDEMPOTENCY_KEY = "CG1001", "an idempotency key that is empty, names a field twice, or names a field the request does not have";
    IDEMPOTENCY_NAME_CLASH = "CG1002", "an idempotent handler whose generated Rust names a data type's items already use";
    IDEMPOTENCY_CONSUMER = "CG1003", "an idempotent handler's consumer that is not declared or may not write the handler's table";

    // CG11: the shared store.
    DYNAMODB_ONLY = "CG1101", "a table, or what only DynamoDB does (sort keys, item attributes, indexes, documents, large values, idempotent handlers, `query` access, throttling alarms), with a Redis store";
    REDIS_CLUSTER_MODE = "CG1102", "`cluster: false` on a created Redis, which ElastiCache Serverless serves in cluster mode only";
    REDIS_CACHE_NAME = "CG1103", "a created Redis cache name ElastiCache rejects";
    REDIS_URL_SOURCE = "CG1104", "a Redis `url` naming both or neither of a parameter and a secret, a `key` without a secret, or a `url` on a created Redis";
    REDIS_URL_PARAMETER = "CG1105", "a Redis URL parameter named like another template parameter";
    REDIS_URL_SECRET = "CG1106", "a Redis URL secret name or JSON key that Secrets Manager or a dynamic reference cannot take";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in ALL {
            assert!(seen.insert(code.id), "{} is used twice", code.id);
            let digits = code.id.strip_prefix("CG").unwrap_or_default();
            assert!(
                digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()),
                "{} is not CG and four digits",
                code.id
            );
            assert!(!code.summary.is_empty() && !code.summary.contains('\n'));
        }
    }

    #[test]
    fn every_code_has_a_page() {
        let ids: HashSet<&str> = explanations::EXPLANATIONS
            .iter()
            .map(|(id, _)| *id)
            .collect();
        let missing: Vec<&str> = ALL
            .iter()
            .map(|code| code.id)
            .filter(|id| !ids.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "codes without a page in codes/: {missing:?}"
        );
        assert_eq!(
            ids.len(),
            ALL.len(),
            "a page for a code that does not exist"
        );
    }
}
