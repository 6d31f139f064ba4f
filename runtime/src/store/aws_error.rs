//! Readable errors of AWS SDK calls: which request on which resource, and what the service
//! answered (`DynamoDB rejected PutItem on table t: ValidationException: ...`), with the
//! SDK's error, raw response included, behind `source()`.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::StoreError;

/// One AWS service a store calls, for its error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Service {
    /// The store name errors carry (`dynamodb`, `s3`).
    pub store: &'static str,
    /// The service's name in messages (`DynamoDB`).
    pub name: &'static str,
}

impl Service {
    /// A failed `operation` (`PutItem`) on `resource` (`table t`) as a [`StoreError::Request`].
    pub(crate) fn request_error<E, R>(
        self,
        operation: &str,
        resource: &str,
        err: SdkError<E, R>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let Self { store, name } = self;
        let message = match &err {
            SdkError::ServiceError(context) => {
                let error = context.err();
                let code = error.code().unwrap_or("an error without a code");
                match error.message() {
                    Some(detail) => {
                        format!("{name} rejected {operation} on {resource}: {code}: {detail}")
                    }
                    None => format!("{name} rejected {operation} on {resource}: {code}"),
                }
            }
            SdkError::TimeoutError(_) => format!("{name} {operation} on {resource} timed out"),
            other => format!(
                "{name} {operation} on {resource} failed: {}",
                DisplayErrorContext(other)
            ),
        };
        StoreError::Request {
            store,
            message,
            source: Box::new(err),
        }
    }
}

/// DynamoDB, for the DynamoDB store.
pub(crate) const DYNAMODB: Service = Service {
    store: "dynamodb",
    name: "DynamoDB",
};

/// S3, for values kept there.
#[cfg(feature = "s3")]
pub(crate) const S3: Service = Service {
    store: "s3",
    name: "S3",
};
