//! Lambda entry point: the environment configures the cache (CACHE_TABLE_NAME, set by the
//! generated templates), and each invocation flushes its metrics.

use std::time::Duration;

use cachegen_runtime::BoxError;
use drs_orchestration_cache::{Cache, DrsQuotas};
use drs_query_lambda::{QueryHandler, QuotaOrigin, Request};
use lambda_runtime::{LambdaEvent, service_fn};

/// This example's stand-in for the DRS API (`DescribeSourceServers`), kept out of the
/// example's dependencies: it takes as long as the real call and counts nothing real.
/// Replace it with an `aws-sdk-drs` client in a real deployment.
struct SimulatedDrsApi;

impl QuotaOrigin for SimulatedDrsApi {
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
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = QueryHandler::new(Cache::from_env().await?, SimulatedDrsApi);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Request>| async move {
        let response = handler.handle(event.payload).await;
        handler.flush_metrics();
        response
    }))
    .await
}
