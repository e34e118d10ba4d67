//! Domain errors. Each carries what the PocketBase API answers: an HTTP status, a message and
//! (for validation failures) the per-field error tree. `sb-http` turns them into
//! `{"data","message","status"}` bodies; internal causes are logged there, never sent.

use sb_schema::ErrorMap;

#[derive(Debug)]
pub enum CoreError {
    /// 400 with a message and optional field errors.
    BadRequest { message: String, data: ErrorMap },
    /// 401.
    Unauthorized(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 413.
    TooLarge,
    /// 429.
    TooManyRequests,
    /// 500; the cause is for logs only.
    Internal(String),
    /// 503: the database is unreachable or overloaded.
    Unavailable(String),
    /// A response that is not an error body (the MFA `{"mfaId"}` 401, later issues).
    Custom { status: u16, body: serde_json::Value },
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        CoreError::BadRequest { message: message.into(), data: ErrorMap::new() }
    }

    pub fn validation(message: impl Into<String>, data: ErrorMap) -> Self {
        CoreError::BadRequest { message: message.into(), data }
    }

    pub fn not_found() -> Self {
        CoreError::NotFound("The requested resource wasn't found.".into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        CoreError::Internal(cause.to_string())
    }

    pub fn superusers_only() -> Self {
        CoreError::Forbidden("Only superusers can perform this action.".into())
    }

    pub fn status(&self) -> u16 {
        match self {
            CoreError::BadRequest { .. } => 400,
            CoreError::Unauthorized(_) => 401,
            CoreError::Forbidden(_) => 403,
            CoreError::NotFound(_) => 404,
            CoreError::TooLarge => 413,
            CoreError::TooManyRequests => 429,
            CoreError::Internal(_) => 500,
            CoreError::Unavailable(_) => 503,
            CoreError::Custom { status, .. } => *status,
        }
    }
}

impl From<sb_store::StoreError> for CoreError {
    fn from(err: sb_store::StoreError) -> Self {
        match err.kind {
            sb_store::ErrorKind::Unavailable | sb_store::ErrorKind::Busy => {
                CoreError::Unavailable(err.message)
            }
            // A statement that ran past the query timeout (typically a costly client filter):
            // PocketBase answers such failed queries with its generic 400.
            sb_store::ErrorKind::Timeout => {
                tracing::warn!(cause = %err.message, "statement timed out");
                CoreError::bad_request("Something went wrong while processing your request.")
            }
            // A filter whose comparisons the database could not evaluate: PocketBase's 400.
            sb_store::ErrorKind::BadValue => {
                tracing::warn!(cause = %err.message, "statement failed on a value");
                CoreError::bad_request("Something went wrong while processing your request.")
            }
            _ => CoreError::Internal(err.to_string()),
        }
    }
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::BadRequest { message, .. }
            | CoreError::Unauthorized(message)
            | CoreError::Forbidden(message)
            | CoreError::NotFound(message)
            | CoreError::Internal(message)
            | CoreError::Unavailable(message) => f.write_str(message),
            CoreError::TooLarge => f.write_str("Request entity too large."),
            CoreError::TooManyRequests => f.write_str("Too Many Requests."),
            CoreError::Custom { status, .. } => write!(f, "custom response {status}"),
        }
    }
}

impl std::error::Error for CoreError {}

#[cfg(test)]
mod tests;
