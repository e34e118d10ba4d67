//! Cross-cutting middleware: CORS (spec §9.3), security headers (§1.12), panic containment.

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::HttpConfig;
use crate::error::error_response;

/// Adds the security headers every PocketBase response carries.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-xss-protection", HeaderValue::from_static("1; mode=block"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// PocketBase's CORS behaviour: any origin by default (or an allow-list), preflights answered
/// with 204 and the requested headers echoed, `Vary: Origin` on every response.
pub async fn cors(State(config): State<Arc<HttpConfig>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allow_origin = origin.as_ref().and_then(|o| allowed_origin(&config, o));
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        let preflight = request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if let (Some(allow), true) = (allow_origin, preflight) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
            );
            if let Some(requested) = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            headers.append(header::VARY, HeaderValue::from_static("Access-Control-Request-Method"));
            headers
                .append(header::VARY, HeaderValue::from_static("Access-Control-Request-Headers"));
        }
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(allow) = allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    }
    response
}

fn allowed_origin(config: &HttpConfig, origin: &HeaderValue) -> Option<HeaderValue> {
    if config.cors_origins.is_empty() || config.cors_origins.iter().any(|o| o == "*") {
        return Some(HeaderValue::from_static("*"));
    }
    let origin_str = origin.to_str().ok()?;
    config.cors_origins.iter().any(|o| o.eq_ignore_ascii_case(origin_str)).then(|| origin.clone())
}

/// Turns a handler panic into the generic 500 body (the panic is logged, not sent).
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    error_response(500, "", json!({}))
}
