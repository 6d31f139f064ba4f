//! Lambda entry point: the environment configures the cache (CACHE_TABLE_NAME, set by the
//! generated templates), and each invocation flushes its metrics.

use std::time::Duration;

use cachegen_runtime::BoxError;
use drs_orchestration_cache::{Cache, DrsQuotas, StartRecoveryRequest, StartRecoveryResponse};
use drs_query_lambda::{DrsApi, QueryHandler, Request};
use lambda_runtime::{LambdaEvent, service_fn};

/// This example's stand-in for the DRS API (`DescribeSourceServers`, `StartRecovery`),
/// kept out of the example's dependencies: it takes as long as the real calls and
/// counts nothing real. Replace it with an `aws-sdk-drs` client in a real deployment.
struct SimulatedDrsApi;

impl DrsApi for SimulatedDrsApi {
    async fn fetch(&self, region: &str, account_id: &str) -> Result<DrsQuotas, BoxError> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok(DrsQuotas {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            replicating_servers: 0,
            max_replicating_servers: 300,
            utilization_percent: 0.0,
        })
    }

    async fn start_recovery(
        &self,
        request: &StartRecoveryRequest,
    ) -> Result<StartRecoveryResponse, BoxError> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok(StartRecoveryResponse {
            // A new job every call: only the idempotent handler keeps it to one per step.
            job_id: format!("drsjob-{:x}", std::time::UNIX_EPOCH.elapsed()?.as_nanos()),
            source_server_ids: request.source_server_ids.clone(),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = QueryHandler::new(Cache::from_env().await?, SimulatedDrsApi);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| async move {
        let response = handler.handle(event.payload, event.context.deadline).await;
        handler.flush_metrics();
        response
    }))
    .await
}
