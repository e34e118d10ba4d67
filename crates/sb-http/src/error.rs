//! The PocketBase error body `{"data": {...}, "message": "...", "status": N}` (spec §1.5).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_core::CoreError;
use serde_json::{Value as Json, json};

/// An error answered to the client. Internal causes are logged here, never sent.
#[derive(Debug)]
pub struct ApiError(pub CoreError);

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        ApiError(e)
    }
}

/// PocketBase's default message per status.
pub fn default_message(status: u16) -> &'static str {
    match status {
        400 => "Something went wrong while processing your request.",
        401 => "Missing or invalid authentication.",
        403 => "You are not allowed to perform this request.",
        404 => "The requested resource wasn't found.",
        413 => "Request entity too large.",
        429 => "Too Many Requests.",
        503 => "Service unavailable.",
        _ => "Something went wrong while processing your request.",
    }
}

/// Sentence-cases a message: first letter upper-cased, a final `.` added when missing.
fn sentence(message: &str) -> String {
    let trimmed = message.trim();
    let mut chars = trimmed.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A JSON error response with the given status, message and data.
pub fn error_response(status: u16, message: &str, data: Json) -> Response {
    let body = error_body(status, message, data);
    logged(json_response(status, &body), &body, None)
}

/// Marks an error response with its message (and internal cause) for the request log.
fn logged(mut response: Response, body: &Json, details: Option<String>) -> Response {
    let message = body.get("message").and_then(Json::as_str).unwrap_or("").to_owned();
    response.extensions_mut().insert(crate::observe::LoggedError { message, details });
    response
}

/// The error body `{"data", "message", "status"}`; an empty message is the status's default.
fn error_body(status: u16, message: &str, data: Json) -> Json {
    let message =
        if message.is_empty() { default_message(status).to_owned() } else { sentence(message) };
    json!({"data": data, "message": message, "status": status})
}

fn json_response(status: u16, body: &Json) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl ApiError {
    /// The status and JSON body answered for this error (internal causes are logged here).
    pub fn status_and_body(self) -> (u16, Json) {
        let status = self.0.status();
        match self.0 {
            CoreError::BadRequest { message, data } => {
                (400, error_body(400, &message, data.to_json()))
            }
            CoreError::Unauthorized(m) | CoreError::Forbidden(m) | CoreError::NotFound(m) => {
                (status, error_body(status, &m, json!({})))
            }
            CoreError::TooLarge | CoreError::TooManyRequests => {
                (status, error_body(status, "", json!({})))
            }
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (500, error_body(500, "", json!({})))
            }
            CoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "service unavailable");
                (503, error_body(503, "", json!({})))
            }
            CoreError::Custom { status, body } => (status, body),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unavailable = matches!(self.0, CoreError::Unavailable(_));
        let details = match &self.0 {
            CoreError::Internal(cause) | CoreError::Unavailable(cause) => Some(cause.clone()),
            _ => None,
        };
        let (status, body) = self.status_and_body();
        let mut response = logged(json_response(status, &body), &body, details);
        if unavailable {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

pub fn bad_request(message: &str) -> ApiError {
    ApiError(CoreError::bad_request(message))
}
