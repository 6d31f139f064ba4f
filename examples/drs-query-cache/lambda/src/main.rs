//! Lambda entry point: the environment configures the cache (CACHE_TABLE_NAME, set by the
//! generated templates), and each invocation flushes its metrics.
//!
//! It runs with `lambda_runtime::run_concurrent`: on Lambda Managed Instances, which send
//! one execution environment several invocations at once (`AWS_LAMBDA_MAX_CONCURRENCY`,
//! 8 per vCPU by default), they share one handler, so one cache: concurrent misses of a
//! key make one DRS call. Elsewhere it handles one invocation at a time, as `run` does.

use std::sync::Arc;
use std::time::Duration;

use cachegen_runtime::BoxError;
use drs_orchestration_cache::{Cache, DrsQuotas, StartRecoveryRequest, StartRecoveryResponse};
use drs_query_lambda::{DrsApi, QueryHandler, Request};
use lambda_runtime::{LambdaEvent, service_fn, tracing};

/// This example's stand-in for the DRS API (`DescribeSourceServers`, `StartRecovery`),
/// kept out of the example's dependencies: it takes as long as the real calls, logs each
/// call (what a cache in front of it saves is counted in those lines), and counts nothing
/// real. Replace it with an `aws-sdk-drs` client in a real deployment.
struct SimulatedDrsApi;

impl DrsApi for SimulatedDrsApi {
    async fn fetch(&self, region: &str, account_id: &str) -> Result<DrsQuotas, BoxError> {
        tracing::info!(region, account_id, "DRS API call: DescribeSourceServers");
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
        tracing::info!(
            execution_id = request.execution_id,
            step = request.step,
            "DRS API call: StartRecovery"
        );
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
    tracing::init_default_subscriber();
    let handler = Arc::new(QueryHandler::new(Cache::from_env().await?, SimulatedDrsApi));
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Request>| {
        let handler = Arc::clone(&handler);
        async move {
            let response = handler.handle(event.payload, event.context.deadline).await;
            handler.flush_metrics();
            response
        }
    }))
    .await
}
