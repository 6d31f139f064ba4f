//! What a stack takes and gives: template parameters, outputs, and the environment
//! each consumer's functions get.

use std::borrow::Cow;

use super::Infrastructure;
use super::redis;
use super::values::{
    BucketRef, ConsumerRef, Id, Output, Parameter, ParameterKind, TableRef, Value,
};
use crate::ir::{CacheModel, Role, SyncFunction};

/// The spec's parameters, then one per consumer role passed in by name or ARN.
pub(super) fn parameters(model: &CacheModel) -> Vec<Parameter<'_>> {
    let spec = model.parameters.iter().map(|parameter| Parameter {
        name: &parameter.name,
        default: parameter.default.as_deref(),
        allowed: &parameter.allowed,
        description: parameter.description.as_deref().map(Cow::Borrowed),
        kind: ParameterKind::Text,
        functions_only: false,
    });
    let roles = model.consumers.iter().filter_map(|consumer| {
        let (name, what) = match &consumer.role {
            Role::Parameter(name) => (name, "Name"),
            Role::ArnParameter(name) => (name, "ARN"),
            Role::Create | Role::Existing(_) => return None,
        };
        Some(Parameter {
            name,
            default: None,
            allowed: &[],
            description: Some(Cow::Owned(format!(
                "{what} of the existing IAM role of consumer {}",
                consumer.name
            ))),
            kind: ParameterKind::Text,
            functions_only: false,
        })
    });
    spec.chain(roles).chain(redis::parameters(model)).collect()
}

impl<'m> Infrastructure<'m> {
    /// The stack's outputs: tables and buckets, the Redis, sync functions, then each
    /// consumer's policies and created role.
    pub(super) fn outputs_of(&self) -> Vec<Output<'m>> {
        let mut outputs = self.storage_outputs();
        if let Some(redis) = &self.redis {
            outputs.extend(redis.outputs());
        }
        outputs.extend(redis::secret_output(self.model));
        outputs.extend(self.functions.iter().map(|function| Output {
            id: Id {
                logical_id: format!("{}Arn", function.id.logical_id),
                terraform: format!("{}_function_arn", function.id.terraform),
            },
            description: format!(
                "ARN of the sync function of bucket {}",
                self.bucket(function.bucket).bucket.name
            ),
            value: Value::FunctionArn(function.bucket),
        }));
        for position in 0..self.consumers.len() {
            outputs.extend(self.consumer_outputs(ConsumerRef(position)));
        }
        outputs
    }

    /// Each table's name and ARN, then each bucket's name.
    fn storage_outputs(&self) -> Vec<Output<'m>> {
        let mut outputs = Vec::new();
        for (position, resource) in self.tables.iter().enumerate() {
            let (table, id) = (resource.table, &resource.id);
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Name", id.logical_id),
                    terraform: format!("{}_table_name", id.terraform),
                },
                description: format!(
                    "Name of cache table {} (set it as {})",
                    table.name, table.env_var
                ),
                value: Value::TableName(TableRef(position)),
            });
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Arn", id.logical_id),
                    terraform: format!("{}_table_arn", id.terraform),
                },
                description: format!("ARN of cache table {}", table.name),
                value: Value::TableArn(TableRef(position)),
            });
        }
        for (position, resource) in self.buckets.iter().enumerate() {
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Name", resource.id.logical_id),
                    terraform: format!("{}_bucket_name", resource.id.terraform),
                },
                description: format!(
                    "Name of document bucket {} (set it as {})",
                    resource.bucket.name, resource.bucket.env_var
                ),
                value: Value::BucketName(BucketRef(position)),
            });
        }
        outputs
    }

    /// A consumer's policies (the parts of one split over IAM's size limit), then its
    /// created role.
    fn consumer_outputs(&self, consumer: ConsumerRef) -> Vec<Output<'m>> {
        let mut outputs = Vec::new();
        let resources = self.consumer(consumer);
        let name = &resources.consumer.name;
        let count = resources.policies.len();
        for (index, policy) in resources.policies.iter().enumerate() {
            let (terraform, of) = match index {
                0 => (format!("{}_policy_arn", policy.id.terraform), String::new()),
                _ => (
                    format!(
                        "{}_policy_{}_arn",
                        resources.policies[0].id.terraform,
                        index + 1
                    ),
                    format!(" (part {} of {count})", index + 1),
                ),
            };
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Arn", policy.id.logical_id),
                    terraform,
                },
                description: format!("Cache policy of consumer {name}{of}"),
                value: Value::PolicyArn(consumer, index),
            });
        }
        if let Some(role) = resources.role {
            let role_id = &self.role(role).id;
            outputs.push(Output {
                id: Id {
                    logical_id: format!("{}Arn", role_id.logical_id),
                    terraform: format!("{}_role_arn", role_id.terraform),
                },
                description: format!("Execution role of consumer {name}"),
                value: Value::RoleArn(role),
            });
        }
        outputs
    }

    /// Each table's and bucket's env var and value. When the template creates a sync
    /// function, buckets are named by their name text rather than a reference: the
    /// bucket's notifications refer to the function, whose environment (in SAM, every
    /// function's, through `Globals`) would otherwise refer back to the bucket, a cycle.
    pub(super) fn environment_of(&self) -> Vec<(&'m str, Value<'m>)> {
        let creates_functions = self.model.buckets.iter().any(|bucket| {
            bucket
                .events
                .as_ref()
                .is_some_and(|events| matches!(events.function, SyncFunction::Created(_)))
        });
        let tables = self.model.tables.iter().enumerate();
        let buckets = self.model.buckets.iter().enumerate();
        tables
            .map(|(position, table)| (table.env_var.as_str(), Value::TableName(TableRef(position))))
            .chain(buckets.map(|(position, bucket)| {
                let value = if creates_functions {
                    Value::name(&bucket.bucket_name)
                } else {
                    Value::BucketName(BucketRef(position))
                };
                (bucket.env_var.as_str(), value)
            }))
            .chain(redis::environment(self.model, self.redis.as_ref()))
            .collect()
    }
}
