//! Realtime over Server-Sent Events (spec §7) and the OAuth2 redirect handoff (spec §6.8).

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use sb_core::App;
use sb_core::realtime::{Connection, Message};
use tokio::time::{Instant, Sleep};

use super::body_error;
use crate::HttpConfig;
use crate::error::ApiResult;
use crate::extract::{Req, parse_body, parse_form_body, read_body};
use crate::respond;

const GENERIC: &str = "Something went wrong while processing your request.";

/// Queued messages one write may carry.
const BATCH: u64 = 32;

/// Appends one SSE message in PocketBase's exact form (spec §7.1).
fn push_frame(out: &mut BytesMut, client_id: &str, event: &str, data: &str) {
    let parts = ["id:", client_id, "\nevent:", event, "\ndata:", data, "\n\n"];
    out.reserve(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
}

/// `GET /api/realtime`: the event stream. It starts with `PB_CONNECT` and ends when nothing
/// was sent for the idle timeout, at the lifetime limit, or when the server shuts down (the
/// client's queue closes).
pub async fn connect(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
) -> Response {
    let Some(connection) = app.realtime_connect(req.client_ip()) else {
        return crate::error::error_response(503, "Service Unavailable.", serde_json::json!({}));
    };
    let mut first = BytesMut::new();
    push_frame(
        &mut first,
        &connection.client_id,
        "PB_CONNECT",
        &serde_json::json!({"clientId": &*connection.client_id}).to_string(),
    );
    let first = first.freeze();
    let state =
        StreamState::new(connection, config.realtime_idle_timeout, config.realtime_lifetime);
    let rest = futures::stream::unfold(state, |mut s| async move {
        loop {
            tokio::select! {
                biased;
                // `None`: the queue closed (shutdown, or the client was dropped)
                message = s.connection.messages.recv() => {
                    let chunk = s.chunk(message?);
                    return Some((Ok::<_, std::convert::Infallible>(chunk), s));
                }
                // The timer moves on only when it fires, not at every message, so a busy
                // stream does not touch the timer wheel per event.
                () = &mut s.timer => {
                    let end = s.end();
                    if Instant::now() >= end {
                        return None;
                    }
                    s.timer.as_mut().reset(end);
                }
            }
        }
    });
    let stream = futures::StreamExt::chain(futures::stream::once(async move { Ok(first) }), rest);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

struct StreamState {
    /// Counts the stream in the realtime connections gauge while it lives.
    _open: OpenStream,
    connection: Connection,
    idle: Duration,
    /// The end of the stream's lifetime.
    deadline: Instant,
    last_sent: Instant,
    /// Fires at or before [`StreamState::end`].
    timer: Pin<Box<Sleep>>,
}

impl StreamState {
    fn new(connection: Connection, idle: Duration, lifetime: Duration) -> StreamState {
        let now = Instant::now();
        let mut state = StreamState {
            _open: OpenStream::new(),
            connection,
            idle,
            deadline: now + lifetime,
            last_sent: now,
            timer: Box::pin(tokio::time::sleep_until(now)),
        };
        let end = state.end();
        state.timer.as_mut().reset(end);
        state
    }

    /// When the stream ends unless a message goes out first: the idle end or the end of its
    /// lifetime, whichever comes first.
    fn end(&self) -> Instant {
        (self.last_sent + self.idle).min(self.deadline)
    }

    /// `first` and the messages queued behind it (up to [`BATCH`]) as one chunk, so a client
    /// that fell behind catches up in fewer writes.
    fn chunk(&mut self, first: Message) -> Bytes {
        let mut bytes = BytesMut::new();
        let mut next = Some(first);
        let mut sent = 0;
        while let Some(Message { event, data }) = next.take() {
            push_frame(&mut bytes, &self.connection.client_id, &event, &data);
            sent += 1;
            if sent < BATCH {
                next = self.connection.messages.try_recv().ok();
            }
        }
        sb_observe::realtime_events_delivered(sent);
        self.last_sent = Instant::now();
        bytes.freeze()
    }
}

struct OpenStream;

impl OpenStream {
    fn new() -> OpenStream {
        sb_observe::realtime_connections(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        sb_observe::realtime_connections(-1.0);
    }
}

/// `POST /api/realtime`: sets the client's subscriptions (spec §7.2).
pub async fn subscribe(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let bytes = read_body(body, config.body_limit).await?;
    let body = parse_body(&headers, bytes).await.map_err(|e| body_error(e, GENERIC))?;
    app.realtime_subscribe(req.client_ip(), req.info.auth.clone(), &body).await?;
    Ok(respond::no_content())
}

/// `GET|POST /api/oauth2-redirect` (spec §6.8): hands the provider's answer to the realtime
/// client named by `state` and redirects to the admin UI's success or failure page (307 for
/// GET, 303 for POST).
pub async fn oauth2_redirect(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    method: Method,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut state = req.query.get("state").unwrap_or("").to_owned();
    let mut code = req.query.get("code").unwrap_or("").to_owned();
    let mut error = req.query.get("error").unwrap_or("").to_owned();
    if method == Method::POST
        && let Ok(bytes) = read_body(body, config.body_limit).await
        && let Ok(form) = parse_form_body(&headers, bytes).await
    {
        let text = |k: &str| form.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        state = text("state").unwrap_or(state);
        code = text("code").unwrap_or(code);
        error = text("error").unwrap_or(error);
    }
    let sent = !state.is_empty()
        && app.realtime_oauth2_handoff(req.client_ip(), &state, &code, &error).await;
    let ok = sent && !code.is_empty() && error.is_empty();
    let location = if ok {
        "../_/#/auth/oauth2-redirect-success"
    } else {
        "../_/#/auth/oauth2-redirect-failure"
    };
    let status =
        if method == Method::POST { StatusCode::SEE_OTHER } else { StatusCode::TEMPORARY_REDIRECT };
    (status, [(header::LOCATION, location)]).into_response()
}
