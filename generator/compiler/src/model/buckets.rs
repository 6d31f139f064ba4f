//! Buckets and the sync functions their object events reach: encryption, lifecycle,
//! TLS-only access, notifications.

use super::Infrastructure;
use super::values::{BucketRef, ConsumerRef, Id, RoleRef, Tag, Value, tags, terraform_name};
use crate::ir::{
    self, Bucket, BucketEncryption, CreatedFunction, DOCUMENT_EVENTS, NameTemplate,
    OVERFLOW_PREFIX, SyncFunction,
};

/// Lifecycle rule that clears multipart uploads a crashed writer left unfinished.
pub const ABORT_UPLOADS_RULE: &str = "abort-incomplete-uploads";

/// Lifecycle rule that removes oversized values' bodies left behind when DynamoDB's TTL
/// removed their items.
pub const EXPIRE_OVERFLOW_RULE: &str = "expire-overflow";

/// Days after which an unfinished multipart upload is cleared.
pub const ABORT_UPLOADS_AFTER_DAYS: u32 = 7;

/// Days a replaced version of an oversized value's body is kept.
pub const NONCURRENT_VERSION_DAYS: u32 = 1;

/// Statement ID of a bucket policy's refusal of plain HTTP.
pub const DENY_PLAIN_HTTP: &str = "DenyPlainHttp";

/// Statement ID of the permission that lets S3 invoke a bucket's sync function.
pub const INVOKE_STATEMENT_ID: &str = "AllowS3Invoke";

/// A bucket of documents. A created one comes with settings, a policy and notifications
/// ([`BucketSettings`]); an existing one is only named.
#[derive(Clone, Debug)]
pub struct BucketResource<'m> {
    /// Its names.
    pub id: Id,
    /// The bucket, as validated.
    pub bucket: &'m Bucket,
    /// What the template creates with it: `None` for an existing bucket.
    pub created: Option<BucketSettings<'m>>,
}

/// A created bucket: encrypted, versioned, public access blocked, owner-enforced,
/// retained (documents are the source of truth), refusing plain HTTP.
#[derive(Clone, Debug)]
pub struct BucketSettings<'m> {
    /// How its objects are encrypted by default.
    pub encryption: DefaultEncryption<'m>,
    /// S3's public access block: every setting on.
    pub public_access: PublicAccessBlock,
    /// Who owns its objects: `BucketOwnerEnforced`, which also turns ACLs off.
    pub object_ownership: &'static str,
    /// The spec's tags, then the fingerprint tag.
    pub tags: Vec<Tag<'m>>,
    /// Lifecycle rules, in order.
    pub lifecycle_rules: Vec<LifecycleRule>,
    /// The bucket policy refusing requests without TLS.
    pub tls_policy: TlsPolicy<'m>,
    /// The sync function's event notifications, when the spec names one.
    pub notifications: Option<Notifications<'m>>,
}

/// A created bucket's default encryption.
#[derive(Clone, Debug)]
pub struct DefaultEncryption<'m> {
    /// The server-side encryption algorithm: `AES256` (SSE-S3) or `aws:kms` (SSE-KMS).
    pub algorithm: &'static str,
    /// The KMS key SSE-KMS uses, when the spec names one (AWS's own key otherwise).
    pub kms_key: Option<&'m NameTemplate>,
    /// Whether S3 Bucket Keys cut the KMS requests of SSE-KMS (on unless SSE-S3).
    pub bucket_key: bool,
}

impl<'m> DefaultEncryption<'m> {
    fn of(encryption: &'m BucketEncryption) -> Self {
        let (algorithm, kms_key) = match encryption {
            BucketEncryption::S3Managed => ("AES256", None),
            BucketEncryption::AwsManaged => ("aws:kms", None),
            BucketEncryption::KmsKey(key) => ("aws:kms", Some(key)),
        };
        Self {
            algorithm,
            kms_key,
            bucket_key: *encryption != BucketEncryption::S3Managed,
        }
    }
}

/// The four settings of S3's public access block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// Refuse requests that add a public ACL.
    pub block_public_acls: bool,
    /// Refuse a bucket policy that grants public access.
    pub block_public_policy: bool,
    /// Ignore public ACLs already there.
    pub ignore_public_acls: bool,
    /// Keep a public policy from granting access beyond AWS principals and the account.
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// Every setting on: no object of a cache's bucket is ever public.
    pub const ALL: Self = Self {
        block_public_acls: true,
        block_public_policy: true,
        ignore_public_acls: true,
        restrict_public_buckets: true,
    };
}

/// The object ownership of every created bucket.
pub const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";

/// A lifecycle rule of a created bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleRule {
    /// Rule ID.
    pub id: &'static str,
    /// What it does.
    pub action: Lifecycle,
}

/// What a lifecycle rule does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Clears multipart uploads unfinished after `days`, anywhere in the bucket.
    AbortUploads {
        /// Days after initiation.
        days: u32,
    },
    /// Expires the objects under `prefix` after `days`, and replaced versions after
    /// `noncurrent_days`.
    Expire {
        /// Key prefix.
        prefix: &'static str,
        /// Days after creation.
        days: u64,
        /// Days after a version is replaced.
        noncurrent_days: u32,
    },
}

/// A bucket policy denying every request made without TLS.
#[derive(Clone, Debug)]
pub struct TlsPolicy<'m> {
    /// Its names (Terraform adds a policy document named [`TlsPolicy::document`]).
    pub id: Id,
    /// Terraform name of the policy document.
    pub document: String,
    /// Statement ID.
    pub sid: &'static str,
    /// The bucket and its objects.
    pub resources: Vec<Value<'m>>,
}

/// The sync function notified of a bucket's object events, and S3's permission to invoke it.
#[derive(Clone, Debug)]
pub struct Notifications<'m> {
    /// Names of the invoke permission.
    pub permission: Id,
    /// The function's ARN.
    pub function: Value<'m>,
    /// One filter per document type kept in the bucket.
    pub filters: Vec<NotificationFilter>,
    /// The events each filter sends.
    pub events: &'static [&'static str],
}

/// The object keys of one document type: fixed text at their start and end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationFilter {
    /// Key prefix (empty: none).
    pub prefix: String,
    /// Key suffix (empty: none).
    pub suffix: String,
}

/// A sync function the template creates for a bucket's events.
#[derive(Clone, Debug)]
pub struct FunctionResource<'m> {
    /// Its names.
    pub id: Id,
    /// The bucket whose events it handles.
    pub bucket: BucketRef,
    /// Its settings, as validated.
    pub function: &'m CreatedFunction,
    /// Its description.
    pub description: String,
    /// The end of its name, after the stack name (`-<bucket>-sync`), where a target must
    /// give one (Terraform; CloudFormation names it itself).
    pub name_suffix: String,
    /// What it runs as.
    pub role: FunctionRole<'m>,
    /// Its environment: every table's and bucket's env var ([`Infrastructure::environment`]).
    pub environment: Vec<(&'m str, Value<'m>)>,
    /// Tags.
    pub tags: Vec<Tag<'m>>,
}

/// The execution role of a created sync function.
#[derive(Clone, Debug)]
pub enum FunctionRole<'m> {
    /// The events' consumer's created role.
    Created(RoleRef),
    /// The role SAM makes for the function, with the consumer's policies.
    SamPolicies(Vec<Value<'m>>),
}

impl<'m> Infrastructure<'m> {
    /// The sync function `bucket`'s events create, with the role of their consumer.
    pub(super) fn build_function(
        &self,
        in_model: &ir::BucketRef,
        bucket: &'m Bucket,
    ) -> Option<FunctionResource<'m>> {
        let events = bucket.events.as_ref()?;
        let SyncFunction::Created(function) = &events.function else {
            return None;
        };
        let (position, consumer) = self
            .consumers
            .iter()
            .enumerate()
            .find(|(_, resources)| resources.consumer.name == events.consumer)
            .expect("validation resolves a bucket's event consumer");
        let role = match consumer.role {
            Some(role) => FunctionRole::Created(role),
            None => FunctionRole::SamPolicies(
                (0..consumer.policies.len())
                    .map(|part| Value::PolicyArn(ConsumerRef(position), part))
                    .collect(),
            ),
        };
        let environment = self.environment.clone();
        Some(FunctionResource {
            id: Id {
                logical_id: function.logical_id.clone(),
                terraform: format!("{}_sync", terraform_name(&bucket.name)),
            },
            bucket: BucketRef::of(in_model),
            function,
            description: format!(
                "Applies the object events of bucket {} to the cache (consumer {})",
                bucket.name, events.consumer
            ),
            name_suffix: format!("-{}-sync", bucket.name),
            role,
            environment,
            tags: tags(&bucket.tags, &self.model.fingerprint),
        })
    }

    pub(super) fn build_bucket(
        &self,
        in_model: &ir::BucketRef,
        bucket: &'m Bucket,
    ) -> BucketResource<'m> {
        let reference = BucketRef::of(in_model);
        let stem = terraform_name(&bucket.name);
        let created = bucket.created.then(|| BucketSettings {
            encryption: DefaultEncryption::of(&bucket.encryption),
            public_access: PublicAccessBlock::ALL,
            object_ownership: BUCKET_OWNER_ENFORCED,
            tags: tags(&bucket.tags, &self.model.fingerprint),
            lifecycle_rules: std::iter::once(LifecycleRule {
                id: ABORT_UPLOADS_RULE,
                action: Lifecycle::AbortUploads {
                    days: ABORT_UPLOADS_AFTER_DAYS,
                },
            })
            .chain(
                self.model
                    .overflow_expiry_days(in_model)
                    .map(|days| LifecycleRule {
                        id: EXPIRE_OVERFLOW_RULE,
                        action: Lifecycle::Expire {
                            prefix: OVERFLOW_PREFIX,
                            days,
                            noncurrent_days: NONCURRENT_VERSION_DAYS,
                        },
                    }),
            )
            .collect(),
            tls_policy: TlsPolicy {
                id: Id {
                    logical_id: format!("{}Policy", bucket.logical_id),
                    terraform: stem.clone(),
                },
                document: format!("{stem}_tls_only"),
                sid: DENY_PLAIN_HTTP,
                resources: vec![Value::BucketArn(reference), Value::BucketObjects(reference)],
            },
            notifications: bucket.events.as_ref().map(|events| Notifications {
                permission: Id {
                    logical_id: format!("{}EventsPermission", bucket.logical_id),
                    terraform: format!("{stem}_events"),
                },
                function: match &events.function {
                    SyncFunction::Arn(arn) => Value::name(arn),
                    SyncFunction::Created(_) => Value::FunctionArn(reference),
                },
                filters: self
                    .model
                    .documents_in(in_model)
                    .map(|(_, document)| NotificationFilter {
                        prefix: document.key_prefix(),
                        suffix: document.key_suffix(),
                    })
                    .collect(),
                events: &DOCUMENT_EVENTS,
            }),
        });
        BucketResource {
            id: Id {
                logical_id: bucket.logical_id.clone(),
                terraform: stem,
            },
            bucket,
            created,
        }
    }

    /// The name of the sync function `bucket`'s events reach: cut from its ARN, when the
    /// spec writes the ARN out, else once deployed.
    pub(super) fn sync_function_name(&self, bucket: &ir::BucketRef) -> Value<'m> {
        let function = match &self
            .model
            .bucket(bucket)
            .events
            .as_ref()
            .expect("validation resolves sync_errors alarms to buckets with events")
            .function
        {
            SyncFunction::Arn(arn) => arn,
            SyncFunction::Created(_) => return Value::FunctionName(BucketRef::of(bucket)),
        };
        match function.literal().and_then(|arn| arn.split(':').nth(6)) {
            Some(name) => Value::literal(name),
            None => Value::FunctionNameOfArn(function),
        }
    }
}
