//! How long a value can be once deployed, for the limits a name or a policy must keep to.

use super::Infrastructure;
use super::redis;
use super::values::{BucketRef, TableRef, Value};
use crate::limits;

/// The longest ARN IAM accepts, characters (`arn` in IAM's API reference).
const MAX_ARN: usize = 2_048;

impl Infrastructure<'_> {
    /// The longest `value` can be once deployed, characters. Names and what a policy
    /// statement can name are measured; the ARNs of roles and policies count as the
    /// longest ARN there is.
    pub fn max_len(&self, value: &Value<'_>) -> usize {
        let parameters = &self.model.parameters;
        let table_name = |table: TableRef| {
            limits::max_len(
                &self.table(table).table.table_name,
                parameters,
                limits::TABLE_NAME,
            )
        };
        let bucket_name = |bucket: BucketRef| {
            limits::max_len(
                &self.bucket(bucket).bucket.bucket_name,
                parameters,
                limits::BUCKET_NAME,
            )
        };
        // `arn:<partition>:dynamodb:<region>:<account>:table/<name>`
        let table_arn = |table: TableRef| {
            "arn::dynamodb:::table/".len()
                + limits::PARTITION
                + limits::REGION
                + limits::ACCOUNT_ID
                + table_name(table)
        };
        // `arn:<partition>:s3:::<bucket>`
        let bucket_arn =
            |bucket: BucketRef| "arn::s3:::".len() + limits::PARTITION + bucket_name(bucket);
        match value {
            Value::TableName(table) => table_name(*table),
            Value::TableArn(table) => table_arn(*table),
            Value::IndexArn(table, index) => table_arn(*table) + "/index/".len() + index.len(),
            Value::BucketName(bucket) => bucket_name(*bucket),
            Value::BucketArn(bucket) => bucket_arn(*bucket),
            Value::BucketObjects(bucket) => bucket_arn(*bucket) + "/*".len(),
            Value::ObjectsArn(bucket, prefix) => bucket_arn(*bucket) + 1 + prefix.len() + 1,
            // A free parameter is at most a parameter value long.
            Value::Text(text) => limits::max_len(text, parameters, limits::PARAMETER_VALUE),
            Value::FunctionNameOfArn(_) | Value::FunctionName(_) => limits::FUNCTION_NAME,
            Value::PolicyArn(..)
            | Value::RoleArn(_)
            | Value::RoleName(_)
            | Value::RoleNameOfArn(_)
            | Value::AwsManagedPolicy(_)
            | Value::FunctionArn(_) => MAX_ARN,
            Value::RedisAddress | Value::RedisPort | Value::RedisUrl => redis::MAX_URL_LENGTH,
            Value::GivenRedisUrl(_) => redis::MAX_GIVEN_URL_LENGTH,
        }
    }
}
