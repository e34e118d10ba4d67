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
    let message =
        if message.is_empty() { default_message(status).to_owned() } else { sentence(message) };
    let body = json!({"data": data, "message": message, "status": status});
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        match self.0 {
            CoreError::BadRequest { message, data } => {
                error_response(400, &message, data.to_json())
            }
            CoreError::Unauthorized(m) | CoreError::Forbidden(m) | CoreError::NotFound(m) => {
                error_response(status, &m, json!({}))
            }
            CoreError::TooLarge | CoreError::TooManyRequests => {
                error_response(status, "", json!({}))
            }
            CoreError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                error_response(500, "", json!({}))
            }
            CoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "service unavailable");
                let mut r = error_response(503, "", json!({}));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            CoreError::Custom { status, body } => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut r = (code, body.to_string()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
        }
    }
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

pub fn bad_request(message: &str) -> ApiError {
    ApiError(CoreError::bad_request(message))
}
