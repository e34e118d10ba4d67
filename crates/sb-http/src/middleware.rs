//! Cross-cutting middleware: CORS (spec §9.3), security headers (§1.12), panic containment.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

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
    let is_file = response.extensions().get::<crate::routes::files::FileResponse>().is_some();
    let headers = response.headers_mut();
    headers.insert("x-xss-protection", HeaderValue::from_static("1; mode=block"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if !is_file {
        headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
    }
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// Refuses requests whose path or query decodes to a NUL character (`%00`): no id, name or
/// parameter legitimately contains one, and PostgreSQL cannot bind it as text. Paths answer
/// 404 (nothing can be found there), queries 400 (a malformed parameter).
pub async fn reject_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if has_encoded_nul(uri.path()) {
        return error_response(404, "", json!({}));
    }
    if uri.query().is_some_and(has_encoded_nul) {
        return error_response(400, "", json!({}));
    }
    next.run(request).await
}

fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

/// PocketBase's CORS behaviour: any origin by default (or an allow-list); an `OPTIONS` request
/// with an `Origin` is answered as a preflight (204, methods listed, requested headers echoed),
/// one without only with `Vary: Origin`; `Vary: Origin` on every response.
pub async fn cors(State(config): State<Arc<HttpConfig>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let allow_origin = origin.as_ref().and_then(|o| allowed_origin(&config, o));
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(allow) = allow_origin {
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

/// Puts a deadline on receiving the request body (`HttpConfig::body_read_timeout`, counted
/// from when the request's headers arrived): past it the body ends with an error, which the
/// body readers answer with 400 and which ends the connection.
pub async fn body_deadline(
    State(config): State<Arc<HttpConfig>>,
    request: Request,
    next: Next,
) -> Response {
    use http_body::Body as _;
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, inner) = request.into_parts();
    let sleep = Box::pin(tokio::time::sleep(config.body_read_timeout));
    next.run(Request::from_parts(parts, Body::new(DeadlineBody { inner, sleep }))).await
}

/// A request body that fails once its deadline passes (sizes and end are the inner body's).
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err(axum::Error::new("request body read timed out"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
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
