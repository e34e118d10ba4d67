//! Classification of tokio-postgres / pool errors into portable [`ErrorKind`]s, by SQLSTATE.

use deadpool_postgres::PoolError;
use sb_store::{ErrorKind, StoreError, UniqueViolation};

/// Maps a driver error to a [`StoreError`].
pub(crate) fn classify(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // No server answer: the connection or the network failed (or, rarely, a value could
        // not be encoded/decoded, which is not an availability problem).
        let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
        let text = e.to_string();
        let unreachable = e.is_closed()
            || io
            || text.starts_with("error connecting")
            || text.starts_with("error communicating")
            || text.starts_with("timeout");
        let kind = if unreachable { ErrorKind::Unavailable } else { ErrorKind::Other };
        return StoreError::new(kind, full_message(e));
    };
    let code = db.code().code();
    let message = match db.detail() {
        Some(detail) => format!("{} ({code}): {detail}", db.message()),
        None => format!("{} ({code})", db.message()),
    };
    let kind = match code {
        "23505" => {
            let unique = UniqueViolation {
                index: db.constraint().map(str::to_owned),
                columns: db.detail().map(key_columns).unwrap_or_default(),
            };
            return StoreError {
                unique: Some(unique),
                ..StoreError::new(ErrorKind::Unique, message)
            };
        }
        "23503" => ErrorKind::ForeignKey,
        "23502" => ErrorKind::NotNull,
        "23514" => ErrorKind::Check,
        // Serialization failure, deadlock, lock not available; and a prepared statement whose
        // result type changed under it (the caller can retry once caches are cleared).
        "40001" | "40P01" | "55P03" => ErrorKind::Busy,
        _ if is_stale_plan(db) => ErrorKind::Busy,
        "57014" => ErrorKind::Timeout,
        // Admin shutdown, crash shutdown, cannot connect now, too many connections.
        "57P01" | "57P02" | "57P03" | "53300" => ErrorKind::Unavailable,
        _ if code.starts_with("08") => ErrorKind::Unavailable,
        _ if code.starts_with("42") => ErrorKind::Syntax,
        _ => ErrorKind::Other,
    };
    StoreError::new(kind, message)
}

/// "cached plan must not change result type": a cached prepared statement whose tables changed.
pub(crate) fn is_stale_plan(db: &tokio_postgres::error::DbError) -> bool {
    db.code().code() == "0A000" && db.message().contains("cached plan")
}

pub(crate) fn pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => classify(&e),
        PoolError::Timeout(t) => StoreError::new(
            ErrorKind::Unavailable,
            format!("no PostgreSQL connection available in time ({t:?})"),
        ),
        PoolError::Closed => {
            StoreError::new(ErrorKind::Unavailable, "the PostgreSQL store is closed")
        }
        other => StoreError::new(ErrorKind::Unavailable, other.to_string()),
    }
}

/// The driver's message plus its cause (tokio-postgres puts the useful part in the source).
fn full_message(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// Columns from a unique violation's detail, `Key (a, b)=(1, 2) already exists.`. Quoted names
/// are unquoted; expressions (`lower(email)`) are left out, as SQLite reports no columns for
/// expression indexes either.
pub(crate) fn key_columns(detail: &str) -> Vec<String> {
    let Some(rest) = detail.strip_prefix("Key (") else {
        return Vec::new();
    };
    let Some(end) = rest.find(")=(") else {
        return Vec::new();
    };
    let list = rest.get(..end).unwrap_or_default();
    split_top_level(list)
        .into_iter()
        .filter_map(|item| {
            let item = item.trim();
            if let Some(quoted) = item.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(quoted.replace("\"\"", "\""))
            } else if !item.is_empty() && item.chars().all(|c| c.is_alphanumeric() || c == '_') {
                Some(item.to_owned())
            } else {
                None
            }
        })
        .collect()
}

/// Splits on commas outside parentheses and double quotes.
fn split_top_level(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts
}
