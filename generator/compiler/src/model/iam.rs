//! IAM: each consumer's grants as policy statements, split over as many managed
//! policies as IAM's size limit needs, and the roles the template creates.

use std::borrow::Cow;

use super::Infrastructure;
use super::redis::LAMBDA_VPC_ACCESS;
use super::values::{BucketRef, Id, RoleRef, TableRef, Value, grant_stem, terraform_name};
use crate::ir::{Consumer, NamePart, NameTemplate, Role};
use crate::limits::MANAGED_POLICY_SIZE;

/// Who makes the execution roles of `create` consumers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roles {
    /// The template creates them, and attaches each consumer's policy.
    Created,
    /// SAM makes one per function; the policy is attached through the function's `Policies`.
    SamFunctions,
}

/// The AWS-managed policy a created Lambda role gets, so the function can write its logs
/// (which is also how the runtime's EMF metrics reach CloudWatch).
pub const LAMBDA_BASIC_EXECUTION: &str = "service-role/AWSLambdaBasicExecutionRole";

/// A consumer's IAM: its created role, if any, and its least-privilege cache policy.
#[derive(Clone, Debug)]
pub struct ConsumerResources<'m> {
    /// The consumer, as validated.
    pub consumer: &'m Consumer,
    /// The role the template creates, when it does.
    pub role: Option<RoleRef>,
    /// The cache policy, in as many parts as IAM's size limit needs (one, mostly).
    pub policies: Vec<Policy<'m>>,
}

/// A Lambda execution role the template creates.
#[derive(Clone, Debug)]
pub struct CreatedRole {
    /// Its names.
    pub id: Id,
    /// Its description.
    pub description: String,
    /// Terraform name of the attachment of [`LAMBDA_BASIC_EXECUTION`].
    pub logs_attachment: String,
    /// Terraform name of the attachment of [`LAMBDA_VPC_ACCESS`], when it gets it.
    pub vpc_attachment: Option<String>,
    /// The AWS-managed policies it gets.
    pub managed_policies: Vec<&'static str>,
}

/// A consumer's managed policy.
#[derive(Clone, Debug)]
pub struct Policy<'m> {
    /// Its names.
    pub id: Id,
    /// Its description.
    pub description: String,
    /// The name prefix Terraform gives it (CloudFormation names it after the stack).
    pub name_prefix: Value<'m>,
    /// The role it is attached to; `None` when SAM's functions list it instead.
    pub attach_to: Option<Value<'m>>,
    /// Its statements.
    pub statements: Vec<Statement<'m>>,
}

/// One `Allow` statement of a policy.
#[derive(Clone, Debug)]
pub struct Statement<'m> {
    /// Statement ID.
    pub sid: String,
    /// Actions, sorted.
    pub actions: Cow<'m, [String]>,
    /// What the actions apply to.
    pub resources: Resources<'m>,
}

/// What a statement applies to.
#[derive(Clone, Debug)]
pub enum Resources<'m> {
    /// One resource.
    One(Value<'m>),
    /// A set of resources, such as a table's indexes (a list even when it holds one).
    Each(Vec<Value<'m>>),
}

impl<'m> Resources<'m> {
    /// Every resource, in order.
    pub fn values(&self) -> &[Value<'m>] {
        match self {
            Self::One(value) => std::slice::from_ref(value),
            Self::Each(values) => values,
        }
    }
}

/// A policy document without statements: what every policy costs before them.
const EMPTY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[]}"#;

/// The action that reads an index.
const QUERY_ACTION: &str = "dynamodb:Query";

impl<'m> Infrastructure<'m> {
    /// A consumer's policy, and its role when the template creates it (which adds it
    /// to [`Infrastructure::roles`]).
    pub(super) fn build_consumer(
        &mut self,
        consumer: &'m Consumer,
        roles: Roles,
    ) -> ConsumerResources<'m> {
        let stem = terraform_name(&consumer.name);
        let role = (consumer.role == Role::Create && roles == Roles::Created)
            .then(|| self.create_role(consumer, &stem));
        let statements = self.statements(consumer);
        // Nothing to grant (a Redis store takes no IAM): no policy, rather than an empty one.
        let parts = if statements.is_empty() {
            Vec::new()
        } else {
            self.split_policy(statements)
        };
        ConsumerResources {
            consumer,
            role,
            policies: policies(consumer, &stem, attach_to(consumer, role), parts),
        }
    }

    /// The execution role the template creates for `consumer`, added to
    /// [`Infrastructure::roles`].
    fn create_role(&mut self, consumer: &Consumer, stem: &str) -> RoleRef {
        self.roles.push(CreatedRole {
            id: Id {
                logical_id: format!("{}Role", consumer.logical_stem),
                terraform: stem.to_owned(),
            },
            description: format!("Lambda execution role of cache consumer {}", consumer.name),
            logs_attachment: format!("{stem}_logs"),
            vpc_attachment: self.redis.as_ref().map(|_| format!("{stem}_vpc")),
            // A function reaches a created Redis only from inside its VPC.
            managed_policies: match self.redis {
                Some(_) => vec![LAMBDA_BASIC_EXECUTION, LAMBDA_VPC_ACCESS],
                None => vec![LAMBDA_BASIC_EXECUTION],
            },
        });
        RoleRef(self.roles.len() - 1)
    }

    /// Every statement of a consumer's grants: items and indexes of each table, then its
    /// document prefixes.
    fn statements(&self, consumer: &'m Consumer) -> Vec<Statement<'m>> {
        consumer
            .grants
            .iter()
            .flat_map(|grant| {
                let table = TableRef::of(&grant.table);
                let stem = grant_stem(&self.table(table).table.logical_id);
                let items = (!grant.table_actions.is_empty()).then(|| Statement {
                    sid: format!("{stem}Items"),
                    actions: Cow::Borrowed(grant.table_actions.as_slice()),
                    resources: Resources::One(Value::TableArn(table)),
                });
                let indexes = (!grant.query_indexes.is_empty()).then(|| Statement {
                    sid: format!("{stem}Indexes"),
                    actions: Cow::Owned(vec![QUERY_ACTION.to_owned()]),
                    resources: Resources::Each(
                        grant
                            .query_indexes
                            .iter()
                            .map(|index| Value::IndexArn(table, index))
                            .collect(),
                    ),
                });
                items.into_iter().chain(indexes)
            })
            .chain(consumer.bucket_grants.iter().flat_map(|grant| {
                let bucket = BucketRef::of(&grant.bucket);
                let stem = &self.model.buckets[bucket.0].logical_id;
                let numbered = grant.prefixes.len() > 1;
                grant
                    .prefixes
                    .iter()
                    .enumerate()
                    .map(move |(position, (prefix, actions))| Statement {
                        sid: if numbered {
                            format!("{stem}Documents{}", position + 1)
                        } else {
                            format!("{stem}Documents")
                        },
                        actions: Cow::Borrowed(actions.as_slice()),
                        resources: Resources::One(Value::ObjectsArn(bucket, prefix)),
                    })
            }))
            .collect()
    }

    /// `statements` in as few policies as IAM's size limit allows, in order: each policy
    /// at most [`MANAGED_POLICY_SIZE`] characters once deployed with its longest names. A
    /// statement too large on its own is first split by its resources.
    pub(super) fn split_policy(&self, statements: Vec<Statement<'m>>) -> Vec<Vec<Statement<'m>>> {
        let empty = EMPTY_POLICY.len();
        let mut policies: Vec<(usize, Vec<Statement<'m>>)> = vec![(empty, Vec::new())];
        for statement in statements
            .into_iter()
            .flat_map(|statement| self.fit_statement(statement, empty))
        {
            let size = self.statement_size(&statement);
            let (current, list) = policies.last_mut().expect("there is always a policy");
            // A comma separates it from the statement before.
            let grown = *current + size + usize::from(!list.is_empty());
            if grown > MANAGED_POLICY_SIZE && !list.is_empty() {
                policies.push((empty + size, vec![statement]));
            } else {
                *current = grown;
                list.push(statement);
            }
        }
        policies.into_iter().map(|(_, list)| list).collect()
    }

    /// `statement`, or its resources split over numbered statements when a policy of it
    /// alone would be over the size limit.
    pub(super) fn fit_statement(
        &self,
        statement: Statement<'m>,
        empty: usize,
    ) -> Vec<Statement<'m>> {
        let Resources::Each(resources) = &statement.resources else {
            return vec![statement];
        };
        if empty + self.statement_size(&statement) <= MANAGED_POLICY_SIZE || resources.len() < 2 {
            return vec![statement];
        }
        let mut parts: Vec<Vec<Value<'m>>> = vec![Vec::new()];
        for resource in resources {
            let last = parts.last_mut().expect("there is always a part");
            last.push(resource.clone());
            let candidate = Statement {
                sid: statement.sid.clone(),
                actions: statement.actions.clone(),
                resources: Resources::Each(last.clone()),
            };
            if empty + self.statement_size(&candidate) > MANAGED_POLICY_SIZE && last.len() > 1 {
                let moved = last.pop().expect("just pushed");
                parts.push(vec![moved]);
            }
        }
        parts
            .into_iter()
            .enumerate()
            .map(|(index, resources)| Statement {
                sid: format!("{}{}", statement.sid, index + 1),
                actions: statement.actions.clone(),
                resources: Resources::Each(resources),
            })
            .collect()
    }

    /// The characters IAM counts for `statement` in a policy, with every name at its
    /// longest: the statement as CloudFormation writes it (Terraform's policy documents
    /// have the same shape).
    pub(super) fn statement_size(&self, statement: &Statement<'_>) -> usize {
        let placeholder =
            |value: &Value<'_>| serde_json::Value::from("x".repeat(self.max_len(value)));
        let resource = match &statement.resources {
            Resources::One(value) => placeholder(value),
            Resources::Each(values) => values.iter().map(placeholder).collect(),
        };
        serde_json::json!({
            "Sid": statement.sid,
            "Effect": "Allow",
            "Action": statement.actions,
            "Resource": resource,
        })
        .to_string()
        .len()
    }
}

/// Where a consumer's policies are attached: its created role, the role it names, or
/// nowhere (in SAM, which makes the role with each function and lists the policy there).
fn attach_to<'m>(consumer: &'m Consumer, role: Option<RoleRef>) -> Option<Value<'m>> {
    match (&consumer.role, role) {
        (_, Some(role)) => Some(Value::RoleName(role)),
        // SAM makes the role with each function, which lists the policy itself.
        (Role::Create, None) => None,
        (Role::Existing(name), None) => Some(Value::literal(name.as_str())),
        (Role::Parameter(parameter), None) => Some(Value::Text(Cow::Owned(NameTemplate(vec![
            NamePart::Parameter(parameter.clone()),
        ])))),
        (Role::ArnParameter(parameter), None) => Some(Value::RoleNameOfArn(parameter)),
    }
}

/// A consumer's managed policies, one per part of its statements.
fn policies<'m>(
    consumer: &'m Consumer,
    stem: &str,
    attach_to: Option<Value<'m>>,
    parts: Vec<Vec<Statement<'m>>>,
) -> Vec<Policy<'m>> {
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(index, statements)| {
            let (logical_id, terraform, part) = match index {
                0 => (
                    format!("{}CachePolicy", consumer.logical_stem),
                    stem.to_owned(),
                    String::new(),
                ),
                _ => (
                    format!("{}CachePolicy{}", consumer.logical_stem, index + 1),
                    format!("{stem}-{}", index + 1),
                    format!("{}-", index + 1),
                ),
            };
            let of = if count > 1 {
                format!(", part {} of {count}", index + 1)
            } else {
                String::new()
            };
            Policy {
                id: Id {
                    logical_id,
                    terraform,
                },
                description: format!(
                    "Least-privilege cache access of {} (generated by cachegen{of})",
                    consumer.name
                ),
                name_prefix: Value::stack_prefixed(&format!("{}-{part}", consumer.name)),
                attach_to: attach_to.clone(),
                statements,
            }
        })
        .collect()
}
