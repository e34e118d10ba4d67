//! The HTTP wire layer: PocketBase's REST paths on axum, the error body, CORS and security
//! headers, body limits, the `fields` picker, and the server loop.
//!
//! `router` builds the axum `Router` over an `Arc<App>`; `serve` runs any router on a bound
//! listener until a shutdown future resolves, then drains in-flight connections.

mod error;
mod extract;
mod middleware;
mod respond;
mod routes;
mod server;

use std::sync::Arc;

use axum::Router;
use sb_core::App;

pub use error::{ApiError, error_response};
pub use extract::{BodyError, parse_body};
pub use server::{ServeConfig, serve};

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Maximum request body in bytes (PocketBase: 32 MiB); record routes add their file/editor/
    /// json field allowances on top.
    pub body_limit: usize,
    /// Allowed CORS origins; empty means any (`*`).
    pub cors_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { body_limit: 32 << 20, cors_origins: Vec::new() }
    }
}

/// Builds the router for the PocketBase API.
pub fn router(app: Arc<App>, config: HttpConfig) -> Router {
    let config = Arc::new(config);
    routes::api(config.clone())
        .with_state(app)
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(config, middleware::cors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
}
