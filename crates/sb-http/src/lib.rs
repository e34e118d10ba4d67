//! The HTTP wire layer: PocketBase's REST paths on axum, the error body, CORS and security
//! headers, body limits, the `fields` picker, and the server loop.
//!
//! `router` builds the axum `Router` over an `Arc<App>`; `serve` runs any router on a bound
//! listener until a shutdown future resolves, then drains in-flight connections.

mod client_ip;
mod error;
mod extract;
mod middleware;
mod observe;
pub mod ratelimit;
mod respond;
mod routes;

use std::sync::Arc;

use axum::Router;
use sb_core::App;

pub use client_ip::{TrustedProxy, client_ip};
pub use error::{ApiError, error_response};
pub use extract::{BodyError, parse_body, parse_body_with_files, parse_form_body};
pub use observe::{RequestId, TraceContext, metrics_router};
pub use sb_server::ServeConfig;

/// Serves `router` on `listener` until `shutdown` resolves, then drains (see `sb_server`).
/// Handlers may read the peer address (`ConnectInfo`), as PocketBase's real IP.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let service = move |peer: std::net::SocketAddr| {
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                request
            },
        );
        hyper_util::service::TowerToHyperService::new(service)
    };
    sb_server::serve(listener, service, config, shutdown).await
}

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Maximum request body in bytes (PocketBase: 32 MiB); record routes add their file/editor/
    /// json field allowances on top.
    pub body_limit: usize,
    /// Allowed CORS origins; empty means any (`*`).
    pub cors_origins: Vec<String>,
    /// Time allowed to receive a whole request body (PocketBase's server read timeout is
    /// 5 minutes); a body still arriving after it fails with 400, so a client trickling bytes
    /// cannot hold a connection and its buffers indefinitely.
    pub body_read_timeout: std::time::Duration,
    /// A bearer token that may read `GET /metrics` on the main listener (besides superusers).
    pub metrics_token: Option<String>,
    /// A realtime stream ends after this long without a message (PocketBase: 5 minutes).
    pub realtime_idle_timeout: std::time::Duration,
    /// A realtime stream ends after this long regardless of activity (PocketBase: 30 minutes).
    pub realtime_lifetime: std::time::Duration,
    /// Dependencies besides the database that `GET /api/ready` reports (e.g. Redis).
    pub health_checks: Vec<std::sync::Arc<dyn HealthCheck>>,
    /// Write a `scalebase::request` log line per request (off by default, as PocketBase
    /// prints none: the request log in the database holds the same facts; the line costs
    /// about 15% of a cached record view).
    pub access_log: bool,
}

/// A dependency the readiness view reports on.
#[async_trait::async_trait]
pub trait HealthCheck: Send + Sync + std::fmt::Debug + 'static {
    /// Its name in the readiness body (`checks.<name>`).
    fn name(&self) -> &'static str;
    /// Whether the node cannot serve without it (then a failure makes the node unready; else
    /// the node reports itself `degraded` and stays ready).
    fn required(&self) -> bool;
    /// `Ok` when it answers; bounded in time by the caller.
    async fn check(&self) -> Result<(), String>;
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 32 << 20,
            cors_origins: Vec::new(),
            body_read_timeout: std::time::Duration::from_secs(300),
            metrics_token: None,
            realtime_idle_timeout: std::time::Duration::from_secs(300),
            realtime_lifetime: std::time::Duration::from_secs(1800),
            health_checks: Vec::new(),
            access_log: false,
        }
    }
}

/// Builds the router for the PocketBase API, with rate limits counted in this process.
pub fn router(app: Arc<App>, config: HttpConfig) -> Router {
    router_with_limiter(app, config, Arc::new(ratelimit::MemoryLimiter::default()))
}

/// Builds the router for the PocketBase API over the given rate limiter.
///
/// The routes sit behind an outer router whose only service is the route table, so the
/// middleware runs for every request, matched or not, outermost first: CORS (answers
/// preflights itself, as PocketBase does before anything else), security headers (so even a
/// contained panic carries them), panic containment, the NUL guard, rate limiting (which also
/// decides the client IP the handlers see), then the request body deadline. Around all of
/// them, the request metrics count every request.
pub fn router_with_limiter(
    app: Arc<App>,
    config: HttpConfig,
    limiter: Arc<dyn ratelimit::RateLimiter>,
) -> Router {
    sb_observe::exporter();
    let config = Arc::new(config);
    let limits = Arc::new(ratelimit::Limits::new(limiter));
    let api = routes::api(config.clone()).with_state(app.clone());
    let observed = (app.clone(), config.access_log);
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(config.clone(), middleware::body_deadline))
        .layer(axum::middleware::from_fn_with_state((app, limits), ratelimit::middleware))
        .layer(axum::middleware::from_fn(middleware::reject_nul))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(config, middleware::cors))
        .layer(axum::middleware::from_fn_with_state(observed, observe::record))
}
