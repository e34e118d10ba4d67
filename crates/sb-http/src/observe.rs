//! Request metrics and the metrics endpoints (`GET /metrics`).
//!
//! The route table records each matched route's template into the response (a `route_layer`
//! sees axum's `MatchedPath`); the outermost middleware counts every request by that template
//! (`unmatched` for paths no route knows), method and status, and times it to the response
//! headers. Raw paths never become label values.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use sb_core::{App, AuthInfo};
use subtle::ConstantTimeEq;

use crate::HttpConfig;
use crate::error::error_response;

/// The matched route's template, carried on the response to the metrics middleware.
#[derive(Clone)]
struct RouteTemplate(Arc<str>);

/// `route_layer` of the route table: remembers which route answered.
pub(crate) async fn route_template(request: Request, next: Next) -> Response {
    let template = request.extensions().get::<MatchedPath>().map(|m| Arc::<str>::from(m.as_str()));
    let mut response = next.run(request).await;
    if let Some(t) = template {
        response.extensions_mut().insert(RouteTemplate(t));
    }
    response
}

/// Outermost middleware: in-flight gauge, request counter and latency histogram.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    sb_observe::http_in_flight(1.0);
    let _leave = InFlight;
    let response = next.run(request).await;
    let route = response.extensions().get::<RouteTemplate>().map_or("unmatched", |t| &t.0);
    sb_observe::http_request(route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// Decrements the in-flight gauge even when the request future is dropped (client gone).
struct InFlight;

impl Drop for InFlight {
    fn drop(&mut self) {
        sb_observe::http_in_flight(-1.0);
    }
}

fn exposition() -> Response {
    match sb_observe::exporter() {
        Some(exporter) => {
            let mut response = exporter.render().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(sb_observe::CONTENT_TYPE));
            response
        }
        None => error_response(404, "The requested resource wasn't found.", serde_json::json!({})),
    }
}

/// `GET /metrics` on the main listener: a superuser token, or the configured metrics bearer
/// token (`Authorization: Bearer …`), is required.
pub(crate) async fn metrics_main(
    State(app): State<Arc<App>>,
    axum::Extension(config): axum::Extension<Arc<HttpConfig>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let token = crate::extract::auth_token(&headers);
    let Some(token) = token else {
        return error_response(
            401,
            "The request requires valid record authorization token.",
            serde_json::json!({}),
        );
    };
    let by_config = config.metrics_token.as_deref().is_some_and(|expected| {
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    });
    if !by_config {
        let auth = app.authenticate_token(&token).await;
        if !auth.as_ref().is_some_and(AuthInfo::is_superuser) {
            let status = if auth.is_some() { 403 } else { 401 };
            let message = if auth.is_some() {
                "The authorized record is not allowed to perform this action."
            } else {
                "The request requires valid record authorization token."
            };
            return error_response(status, message, serde_json::json!({}));
        }
    }
    exposition()
}

/// The router of the separate metrics listener (`--metrics-addr`): `GET /metrics` without
/// authentication (an internal scrape port), and nothing else.
pub fn metrics_router() -> axum::Router {
    sb_observe::exporter();
    axum::Router::new()
        .route("/metrics", axum::routing::get(|| async { exposition() }))
        .fallback(|| async { StatusCode::NOT_FOUND })
}
