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
use tracing::Instrument;

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

/// Per-request facts that inner layers fill in for the request log line and entry.
#[derive(Default)]
pub(crate) struct LogSlot {
    /// The authenticated record's collection name and id (set when a handler resolves the
    /// token).
    pub auth: parking_lot::Mutex<Option<(String, String)>>,
    /// The client IP as the trusted proxy settings decide it (set by the rate limit layer).
    pub user_ip: parking_lot::Mutex<Option<std::net::IpAddr>>,
}

/// The error a response answers, for the request log (`data.error`, `data.details`); carried
/// as a response extension by every error response.
#[derive(Clone, Debug)]
pub(crate) struct LoggedError {
    pub message: String,
    /// The internal cause, when there is one (superusers read it in `/api/logs`).
    pub details: Option<String>,
}

/// The request's id (`X-Request-Id`, taken from the client when sane, else generated).
#[derive(Clone)]
pub struct RequestId(pub Arc<str>);

/// The W3C trace context of the request: the caller's trace id when it sent a valid
/// `traceparent`, else a new one; `span_id` identifies this server's handling of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub parent_id: Option<String>,
    pub span_id: String,
    pub sampled: bool,
}

impl TraceContext {
    /// Parses a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`); all-zero ids and
    /// unknown shapes are refused, as the W3C spec requires.
    pub fn parse(header: &str) -> Option<(String, String, bool)> {
        let parts: Vec<&str> = header.trim().split('-').collect();
        let [version, trace, parent, flags] = parts.as_slice() else { return None };
        let hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
        if !hex(version, 2) || *version == "ff" || !hex(trace, 32) || !hex(parent, 16) {
            return None;
        }
        if !hex(flags, 2) || !nonzero(trace) || !nonzero(parent) {
            return None;
        }
        let sampled = u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1);
        Some(((*trace).to_owned(), (*parent).to_owned(), sampled))
    }

    /// The context of a request: its exported span's ids when spans are exported (the span
    /// already continues the caller's trace), else the caller's trace id or a new one.
    fn new(traceparent: Option<&str>, span: &tracing::Span) -> TraceContext {
        let incoming = traceparent.and_then(TraceContext::parse);
        if let Some((trace_id, span_id, sampled)) = sb_observe::trace::span_ids(span) {
            let parent_id = incoming.map(|(_, parent, _)| parent);
            return TraceContext { trace_id, parent_id, span_id, sampled };
        }
        let span_id = random_hex(8);
        match incoming {
            Some((trace_id, parent, sampled)) => {
                TraceContext { trace_id, parent_id: Some(parent), span_id, sampled }
            }
            None => {
                TraceContext { trace_id: random_hex(16), parent_id: None, span_id, sampled: false }
            }
        }
    }

    /// The `traceparent` value for calls made while handling this request.
    pub fn header(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, if self.sampled { "01" } else { "00" })
    }
}

/// A random non-zero id of `bytes` (8 or 16) bytes in lower-case hex.
fn random_hex(bytes: usize) -> String {
    let value = rand::random::<u128>() | 1;
    let hex = format!("{value:032x}");
    hex[32 - bytes * 2..].to_owned()
}

/// A client's request id is kept when it is 1–128 visible ASCII characters.
fn sane_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Outermost middleware: request id and trace context, in-flight gauge, request counter and
/// latency histogram, a log line per request when the access log is on, and the request log
/// entry (`/api/logs`).
pub(crate) async fn record(
    State((app, access_log)): State<(Arc<App>, bool)>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    // The request log's copies of the URL and headers, only while request logging is on.
    let logged = app.request_logs_on().then(|| {
        let header = |name: header::HeaderName| {
            request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
        };
        let url =
            request.uri().path_and_query().map_or_else(|| path.clone(), |p| p.as_str().to_owned());
        (url, header(header::REFERER), header(header::USER_AGENT))
    });
    let started = Instant::now();
    let request_id: Arc<str> =
        match request.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
            Some(id) if sane_request_id(id) => id.into(),
            _ => random_hex(16).into(),
        };
    let traceparent = request.headers().get("traceparent").and_then(|v| v.to_str().ok());
    let span = sb_observe::trace::request_span(&method, &path, &request_id, traceparent);
    let trace = TraceContext::new(traceparent, &span);
    let slot = Arc::new(LogSlot::default());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    request.extensions_mut().insert(trace.clone());
    request.extensions_mut().insert(slot.clone());
    sb_observe::http_in_flight(1.0);
    let _leave = InFlight;
    let handled = sb_observe::trace::scope(trace.header(), next.run(request));
    let mut response = handled.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or_else(|| Arc::from("unmatched"), |t| t.0.clone());
    sb_observe::http_request(&route, &method, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let (auth_collection, auth_id) = slot.auth.lock().take().unwrap_or_default();
    sb_observe::trace::record_response(&span, &method, &route, status, &auth_id);
    drop(span);
    if access_log {
        tracing::info!(
            target: "scalebase::request",
            request_id = &*request_id,
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
            method = %method,
            route = &*route,
            path = %path,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            auth_id = %auth_id,
            "request"
        );
    }
    if let Some((url, referer, user_agent)) = logged
        && loggable(&method, &path, status)
    {
        let remote_ip = peer.map(|ip| ip.to_string()).unwrap_or_default();
        let user_ip = slot.user_ip.lock().map_or_else(|| remote_ip.clone(), |ip| ip.to_string());
        let error = response
            .extensions()
            .get::<LoggedError>()
            .map(|e| (e.message.clone(), e.details.clone()))
            .or_else(|| (status >= 400).then(|| (String::new(), None)));
        let log = sb_core::RequestLog {
            method,
            url,
            status,
            exec_time_ms: elapsed.as_nanos() as f64 / 1e6,
            remote_ip,
            user_ip,
            referer,
            user_agent,
            auth_collection,
            auth_id,
            error,
        };
        if app.log_request(log) == sb_core::LogOutcome::Dropped {
            sb_observe::request_log_dropped();
        }
    }
    response
}

/// Which requests get a request log entry: API requests, except successful preflights,
/// realtime streams and OAuth2 redirects (spec §8.5); errors on any path.
fn loggable(method: &str, path: &str, status: u16) -> bool {
    status >= 400
        || (method != "OPTIONS"
            && path.starts_with("/api/")
            && path != "/api/realtime"
            && path != "/api/oauth2-redirect")
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

#[cfg(test)]
mod tests;
