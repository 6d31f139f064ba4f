//! Spec to [`CacheModel`]: every problem found at once, each with its position and a hint.

mod alarms;
mod buckets;
mod consumers;
mod data_types;
mod idempotency;
mod keys;
mod names;
mod operations;
mod outputs;
mod param_defaults;
mod parse;
mod policy;
mod store;
mod sync_errors;
mod tables;
mod ttl_env;

use std::collections::BTreeSet;
use std::time::Duration;

use heck::ToPascalCase;
use sha2::{Digest, Sha256};

use crate::diagnostics::codes::{self, Code};
use crate::diagnostics::source::{NodePath, SourceMap, Span};
use crate::diagnostics::{Diagnostics, Reporter, SourceFile};
use crate::ir::{Bucket, CacheModel, NameTemplate, Parameter, Table};
use crate::spec::{Spec, SpecDuration};
use names::TemplateError;
pub use parse::{closest, decode};

/// The longest TTL cachegen accepts. Neither store has a lower hard limit, but an entry
/// meant to live longer than a year is not cache data: keep it in a table of its own.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Store TTL used when neither the data type nor `defaults` sets one.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A spec checked and resolved into its model.
#[derive(Debug)]
pub struct Validated {
    /// The model; its `notes` are still empty (see [`notes`](Self::notes)).
    pub model: CacheModel,
    /// Where the spec's nodes are, for later stages that report problems at one of them.
    pub map: SourceMap,
    /// What the build should say without refusing, each where in the spec it is about.
    pub notes: Vec<(Option<Span>, String)>,
}

/// Reads, checks and resolves a spec, or returns every problem in it.
pub fn validate(file: &SourceFile) -> Result<Validated, Diagnostics> {
    let parsed = parse::parse(file).map_err(|items| Diagnostics::new(file.clone(), items))?;
    let mut checker = Checker {
        spec: &parsed.spec,
        report: Reporter::new(&parsed.map, parsed.problems),
        referenced: BTreeSet::new(),
        notes: Vec::new(),
    };
    let model = checker.model();
    let Checker { report, notes, .. } = checker;
    if !report.is_empty() {
        return Err(Diagnostics::new(file.clone(), report.into_problems()));
    }
    Ok(Validated {
        model,
        map: parsed.map,
        notes,
    })
}

/// How generated files name the spec at `path`: its file name (`cache.yaml` when the path
/// has none).
pub fn spec_name(path: &str) -> String {
    std::path::Path::new(path).file_name().map_or_else(
        || "cache.yaml".into(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// Checking state: the spec, where its nodes are, the problems found so far, the
/// parameters some `${...}` names, and what the build should say without refusing.
struct Checker<'a> {
    spec: &'a Spec,
    report: Reporter<'a>,
    referenced: BTreeSet<String>,
    notes: Vec<(Option<Span>, String)>,
}

impl Checker<'_> {
    /// Reports a problem with the value at `path`.
    fn error(
        &mut self,
        code: Code,
        path: &NodePath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.report.error(code, path, message, hint);
    }

    /// Reports a problem with the key at `path` (a name, rather than its content).
    fn key_error(
        &mut self,
        code: Code,
        path: &NodePath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.report.key_error(code, path, message, hint);
    }

    /// Reports `problem` at the value at `path`, if there is one.
    fn check(&mut self, code: Code, path: &NodePath, problem: Option<String>, hint: &str) {
        if let Some(message) = problem {
            self.error(code, path, message, hint);
        }
    }

    /// A hint naming the closest of `known`, or listing them.
    fn suggest<'k>(word: &str, known: impl IntoIterator<Item = &'k str> + Clone) -> String {
        match closest(word, known.clone()) {
            Some(candidate) => format!("did you mean `{candidate}`?"),
            None => {
                let known: Vec<&str> = known.into_iter().collect();
                if known.is_empty() {
                    "declare it first".to_owned()
                } else {
                    format!("expected one of: {}", known.join(", "))
                }
            }
        }
    }

    /// The table named `wanted`, or an error at `path` naming the closest declared one.
    fn declared_table<'t>(
        &mut self,
        path: &NodePath,
        wanted: &str,
        tables: &'t [Table],
    ) -> Option<&'t Table> {
        let found = tables.iter().find(|table| table.name == wanted);
        if found.is_none() {
            let hint = Self::suggest(wanted, tables.iter().map(|table| table.name.as_str()));
            self.error(
                codes::UNKNOWN_TABLE,
                path,
                format!("table `{wanted}` is not declared"),
                hint,
            );
        }
        found
    }

    /// The bucket named `wanted`, or an error at `path` naming the closest declared one.
    fn declared_bucket<'b>(
        &mut self,
        path: &NodePath,
        wanted: &str,
        buckets: &'b [Bucket],
    ) -> Option<&'b Bucket> {
        let found = buckets.iter().find(|bucket| bucket.name == wanted);
        if found.is_none() {
            let hint = Self::suggest(wanted, buckets.iter().map(|bucket| bucket.name.as_str()));
            self.error(
                codes::UNKNOWN_BUCKET,
                path,
                format!("bucket `{wanted}` is not declared"),
                hint,
            );
        }
        found
    }

    /// Checks a TTL-like duration: longer than zero, at most [`MAX_TTL`].
    fn duration(&mut self, path: &NodePath, what: &str, value: SpecDuration) -> u64 {
        if value.0.is_zero() {
            self.error(
                codes::DURATION_RANGE,
                path,
                format!("{what} must be longer than zero"),
                "write a duration such as `5m`",
            );
        } else if value.0 > MAX_TTL {
            self.error(
                codes::DURATION_RANGE,
                path,
                format!("{what} of {value} is longer than the 365-day maximum"),
                "data that must live longer than a year belongs in a table of its own, not a cache",
            );
        } else if value.0.subsec_nanos() != 0 || value.as_secs() == 0 {
            self.error(
                codes::DURATION_RANGE,
                path,
                format!("{what} of {value} is not a whole number of seconds"),
                "cache expiry is kept in epoch seconds; round it to whole seconds",
            );
        }
        value.as_secs()
    }

    /// Checks text CloudFormation takes only as written (a template or parameter
    /// description, a skip reason): a `${` there cannot go through `Fn::Sub`, and
    /// cfn-lint reads `${name}` as a reference to name outside it (E1029).
    fn literal_text(&mut self, path: &NodePath, text: &str, what: &str) {
        if text.contains("${") {
            self.error(
                codes::LITERAL_REFERENCE,
                path,
                format!("{what} contains `${{`, which CloudFormation shows as written but cfn-lint reads as a reference"),
                "descriptions are plain text, not templates: write the name without `${}`",
            );
        }
    }

    /// Resolves a `${...}` name template, checking the parameters it names.
    fn name_template(&mut self, path: &NodePath, text: &str) -> NameTemplate {
        match names::parse_name_template(text, &self.spec.service) {
            Ok(template) => {
                for part in &template.0 {
                    if let crate::ir::NamePart::Parameter(name) = part {
                        self.referenced.insert(name.clone());
                    }
                    if let crate::ir::NamePart::Parameter(name) = part
                        && !self.spec.parameters.contains_key(name)
                    {
                        let hint = Self::suggest(
                            name,
                            self.spec.parameters.keys().map(String::as_str).chain([
                                "service",
                                "AWS::StackName",
                                "AWS::Region",
                                "AWS::AccountId",
                            ]),
                        );
                        self.error(
                            codes::UNKNOWN_PARAMETER,
                            path,
                            format!("`${{{name}}}` names no parameter"),
                            hint,
                        );
                    }
                }
                template
            }
            Err(err) => {
                self.template_error(path, text, err);
                NameTemplate(Vec::new())
            }
        }
    }

    fn template_error(&mut self, path: &NodePath, text: &str, err: TemplateError) {
        self.error(
            codes::MALFORMED_TEMPLATE,
            path,
            format!("template `{text}` is malformed: {err}"),
            "placeholders are written `{name}` in keys and `${name}` in resource names",
        );
    }

    /// The whole model; problems accumulate in `self.report`.
    fn model(&mut self) -> CacheModel {
        let spec = self.spec;
        if spec.version != 1 {
            self.error(
                codes::UNSUPPORTED_VERSION,
                &NodePath::parse("version"),
                format!("spec version {} is not supported", spec.version),
                "write `version: 1`",
            );
        }
        self.check(
            codes::SERVICE_NAME,
            &NodePath::parse("service"),
            names::dynamodb_name_chars_problem("service name", &spec.service)
                .or_else(|| spec.service.is_empty().then(|| "service name is empty".to_owned())),
            "the service name is used in table and alarm names: use letters, digits, `-`, `_` and `.`",
        );
        if let Some(description) = &spec.description {
            self.literal_text(
                &NodePath::parse("description"),
                description,
                "the description",
            );
        }
        let mut parameters = self.parameters();
        let store = self.store();
        let mut tables = self.tables();
        let buckets = self.buckets(&tables);
        let data_types = self.data_types(&tables, &buckets);
        self.overflow_buckets(&mut tables, &buckets, &data_types);
        let consumers = self.consumers(&tables, &data_types);
        let idempotency = self.idempotency(&tables, &data_types, &consumers);
        self.check_bucket_events(&buckets, &data_types, &consumers);
        let metrics_namespace = self.metrics_namespace();
        let alarms = self.alarms(&tables, &buckets, &consumers, &metrics_namespace);
        self.leave_out_unused(&mut parameters);
        let targets = self.targets();
        let templates = self.templates(&targets);
        let mut model = CacheModel {
            service: spec.service.clone(),
            description: spec.description.clone(),
            parameters,
            store,
            tables,
            buckets,
            data_types,
            idempotency,
            consumers,
            alarms,
            metrics_namespace,
            targets,
            out_dir: spec
                .outputs
                .dir
                .clone()
                .unwrap_or_else(|| "generated".into()),
            rust_runtime_path: spec
                .outputs
                .rust
                .as_ref()
                .and_then(|rust| rust.runtime_path.clone()),
            templates,
            fingerprint: String::new(),
            notes: Vec::new(),
        };
        model.fingerprint = fingerprint(&model);
        model
    }

    fn parameters(&mut self) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        for (name, parameter) in &self.spec.parameters {
            let path = NodePath::parse("parameters").key(name);
            if let Some(problem) = names::parameter_name_problem(name) {
                self.key_error(
                    codes::PARAMETER_NAME,
                    &path,
                    problem,
                    format!("try `{}`", name.to_pascal_case()),
                );
            }
            if let Some(default) = &parameter.default
                && !parameter.allowed.is_empty()
                && !parameter.allowed.contains(default)
            {
                self.error(
                    codes::PARAMETER_DEFAULT,
                    &path.key("default"),
                    format!(
                        "default `{default}` of parameter `{name}` is not one of its allowed values"
                    ),
                    format!("allowed: {}", parameter.allowed.join(", ")),
                );
            }
            if let Some(description) = &parameter.description {
                self.literal_text(
                    &path.key("description"),
                    description,
                    &format!("the description of parameter `{name}`"),
                );
            }
            parameters.push(Parameter {
                name: name.clone(),
                default: parameter.default.clone(),
                allowed: parameter.allowed.clone(),
                description: parameter.description.clone(),
            });
        }
        parameters
    }

    /// Leaves out of `parameters` those no `${...}` names, noting each: a template parameter
    /// nothing reads only asks whoever deploys for a value that changes nothing (and
    /// cfn-lint warns of it, W2001), so it is dropped rather than written, and the build
    /// says so, since its author likely meant it to be used.
    fn leave_out_unused(&mut self, parameters: &mut Vec<Parameter>) {
        let referenced = &self.referenced;
        let (used, unused): (Vec<Parameter>, Vec<Parameter>) = std::mem::take(parameters)
            .into_iter()
            .partition(|parameter| referenced.contains(&parameter.name));
        *parameters = used;
        for parameter in unused {
            let span = self
                .report
                .map()
                .key_span(&NodePath::parse("parameters").key(parameter.name.as_str()));
            self.notes.push((
                span,
                format!(
                    "parameter `{}` is declared but no name, tag or ARN uses it (`${{{}}}`); it is \
                     left out of the templates",
                    parameter.name, parameter.name
                ),
            ));
        }
    }

    fn metrics_namespace(&mut self) -> String {
        let namespace = self
            .spec
            .metrics
            .namespace
            .clone()
            .unwrap_or_else(|| format!("Cachegen/{}", self.spec.service));
        self.check(
            codes::METRICS_NAMESPACE,
            &NodePath::parse("metrics.namespace"),
            names::namespace_problem(&namespace),
            "for example `MyService/Cache`",
        );
        namespace
    }

    /// Reports names that collide once turned into logical IDs (`a-b` and `a_b` both become `AB`).
    fn unique_logical_ids<'n>(
        &mut self,
        section: &str,
        names: impl IntoIterator<Item = &'n String>,
    ) {
        let mut seen: Vec<(String, &String)> = Vec::new();
        for name in names {
            let id = name.to_pascal_case();
            if let Some((_, first)) = seen.iter().find(|(other, _)| *other == id) {
                self.key_error(
                    codes::LOGICAL_ID_CLASH,
                    &NodePath::parse(section).key(name.as_str()),
                    format!("{section} `{name}` and `{first}` both become the CloudFormation name `{id}`"),
                    "rename one of them so they differ in more than punctuation",
                );
            } else {
                seen.push((id, name));
            }
        }
    }
}

fn fingerprint(model: &CacheModel) -> String {
    let bytes = serde_json::to_vec(model).expect("the model serializes");
    let digest = Sha256::digest(&bytes);
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
