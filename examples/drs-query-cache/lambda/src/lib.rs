//! The DRS orchestration Query Handler (seed 001) on cachegen: quota queries answered
//! from the generated cache (L1, then DynamoDB), the DRS API called only on a miss,
//! an invalidation action for after protection-group changes, and recovery jobs started
//! idempotently (one job per orchestration step, however often the step is retried).
//!
//! The handler is plain async code, so tests call [`QueryHandler::handle`] directly;
//! `main.rs` only wires it to `lambda_runtime`.

use std::future::Future;

use cachegen_runtime::BoxError;
use cachegen_runtime::idempotency::IdempotencyError;
use drs_orchestration_cache::{
    Cache, DrsQuotas, DrsQuotasKey, StartRecoveryRequest, StartRecoveryResponse,
};
use serde::{Deserialize, Serialize};

/// The DRS API, as the handler uses it: quota answers on a cache miss, and recovery jobs.
pub trait DrsApi: Send + Sync + 'static {
    /// The replication capacity of `account_id` in `region`.
    fn fetch(
        &self,
        region: &str,
        account_id: &str,
    ) -> impl Future<Output = Result<DrsQuotas, BoxError>> + Send;

    /// Starts a recovery job (`StartRecovery`) for the request's source servers.
    fn start_recovery(
        &self,
        request: &StartRecoveryRequest,
    ) -> impl Future<Output = Result<StartRecoveryResponse, BoxError>> + Send;
}

/// An invocation.
#[derive(Clone, Debug, PartialEq, Deserialize)]
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
    /// `{"action": "startRecovery", "execution_id": ..., "step": ..., ...}`: starts a
    /// recovery job once per (execution, step); a retry gets the first job back.
    StartRecovery(StartRecoveryRequest),
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// The quota, from the cache or the origin.
    Quota(DrsQuotas),
    /// Every cached quota was invalidated, in every container.
    Invalidated,
    /// The recovery job started for the step (by this invocation or the first one).
    Recovery(StartRecoveryResponse),
}

/// The Query Handler: the cache in front of the DRS API.
pub struct QueryHandler<O> {
    cache: Cache,
    origin: O,
}

impl<O: DrsApi> QueryHandler<O> {
    /// A handler over `cache`, calling `origin` on misses.
    pub fn new(cache: Cache, origin: O) -> Self {
        Self { cache, origin }
    }

    /// Answers one request, which must be done by `deadline_ms`, epoch ms (the Lambda
    /// context's `deadline`).
    pub async fn handle(&self, request: Request, deadline_ms: u64) -> Result<Response, BoxError> {
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
            Request::StartRecovery(request) => {
                let job = self
                    .cache
                    .start_recovery()
                    .run(deadline_ms, &request, |request| {
                        self.origin.start_recovery(request)
                    })
                    .await;
                match job {
                    Ok(job) => Ok(Response::Recovery(job)),
                    // The API's own error, unwrapped: the orchestrator retries on it.
                    Err(IdempotencyError::Handler(error)) => Err(error),
                    Err(error) => Err(error.into()),
                }
            }
        }
    }

    /// Writes this invocation's cache metrics (EMF log lines).
    pub fn flush_metrics(&self) {
        self.cache.flush_metrics();
    }
}
