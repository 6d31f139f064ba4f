//! The DRS orchestration Query Handler (seed 001) on cachegen: quota queries answered
//! from the generated cache (L1, then DynamoDB), the DRS API called only on a miss,
//! and an invalidation action for after protection-group changes.
//!
//! The handler is plain async code, so tests call [`QueryHandler::handle`] directly;
//! `main.rs` only wires it to `lambda_runtime`.

use std::future::Future;

use cachegen_runtime::BoxError;
use drs_orchestration_cache::{Cache, DrsQuotas, DrsQuotasKey};
use serde::{Deserialize, Serialize};

/// Where quota answers come from on a miss: in production, the DRS API.
pub trait QuotaOrigin: Send + Sync + 'static {
    /// The replication capacity of `account_id` in `region`.
    fn fetch(
        &self,
        region: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<DrsQuotas, BoxError>> + Send;
}

/// An invocation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Request {
    /// `{"action": "quota", "region": "us-east-1", "accountId": "123456789012"}`
    #[serde(rename_all = "camelCase")]
    Quota {
        /// AWS region.
        region: String,
        /// AWS account.
        account_id: String,
    },
    /// `{"action": "invalidate"}`: drops every cached quota (after servers change).
    Invalidate,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// The quota, from the cache or the origin.
    Quota(DrsQuotas),
    /// Every cached quota was invalidated, in every container.
    Invalidated,
}

/// The Query Handler: the cache in front of a quota origin.
pub struct QueryHandler<O> {
    cache: Cache,
    origin: O,
}

impl<O: QuotaOrigin> QueryHandler<O> {
    /// A handler over `cache`, calling `origin` on misses.
    pub fn new(cache: Cache, origin: O) -> Self {
        Self { cache, origin }
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Result<Response, BoxError> {
        match request {
            Request::Quota { region, account_id } => {
                let key = DrsQuotasKey {
                    region: region.clone(),
                    account_id: account_id.clone(),
                };
                let quota = self
                    .cache
                    .drs_quotas()
                    .wrap(&key, || self.origin.fetch(&region, &account_id))
                    .await?;
                Ok(Response::Quota(quota))
            }
            Request::Invalidate => {
                self.cache.drs_quotas().invalidate_all().await?;
                Ok(Response::Invalidated)
            }
        }
    }

    /// Writes this invocation's cache metrics (EMF log lines).
    pub fn flush_metrics(&self) {
        self.cache.flush_metrics();
    }
}
