//! Active health checks: every pool's upstreams are asked `GET <health.path>` every interval
//! (with a little jitter, so gateways do not probe in step); a 2xx within the timeout passes.
//! `rise` passes in a row bring an upstream back, `fall` failures take it out.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::pool::Pool;

/// Checks `pool`'s upstreams until the task is aborted.
pub async fn run(pool: Arc<Pool>) {
    let health = pool.config.health.clone();
    if !health.enabled {
        return;
    }
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http();
    loop {
        let endpoints = pool.endpoints();
        let checks = endpoints.iter().map(|e| {
            let uri =
                format!("http://{}{}{}", e.upstream.authority, e.upstream.base_path, health.path);
            let request = http::Request::get(uri)
                .header(http::header::USER_AGENT, "scalebase-gateway-check")
                .body(Empty::new());
            let (client, timeout) = (&client, health.timeout());
            async move {
                let Ok(request) = request else { return false };
                matches!(
                    tokio::time::timeout(timeout, client.request(request)).await,
                    Ok(Ok(response)) if response.status().is_success()
                )
            }
        });
        let results = futures::future::join_all(checks).await;
        for (e, ok) in endpoints.iter().zip(results) {
            if let Some(healthy) = pool.checked(e, ok) {
                if healthy {
                    tracing::info!(pool = %pool.name, upstream = %e.url, "upstream passes its health check again");
                } else {
                    tracing::warn!(pool = %pool.name, upstream = %e.url, "upstream fails its health check");
                }
            }
            sb_observe::gateway::health(&pool.name, &e.url, e.is_healthy());
        }
        let jitter = rand::random_range(0.9..1.1);
        tokio::time::sleep(Duration::from_secs_f64(health.interval().as_secs_f64() * jitter)).await;
    }
}
