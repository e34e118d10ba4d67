//! Classification of rusqlite/SQLite errors into portable [`ErrorKind`]s, done once here.
//!
//! SQLite reports constraint failures through extended result codes and names the columns only
//! in the message (`UNIQUE constraint failed: t.a, t.b`, or `... failed: index 'name'` for
//! expression indexes), so unique violations parse the message for their details.

use rusqlite::ffi;
use sb_store::{ErrorKind, StoreError, UniqueViolation};

/// Maps a driver error to a [`StoreError`].
pub(crate) fn classify(e: &rusqlite::Error) -> StoreError {
    let message = e.to_string();
    let (code, text) = match e {
        rusqlite::Error::SqliteFailure(code, msg) => (*code, msg.as_deref().unwrap_or_default()),
        // Errors found while preparing: bad syntax, unknown tables or columns.
        rusqlite::Error::SqlInputError { .. } | rusqlite::Error::MultipleStatement => {
            return StoreError::new(ErrorKind::Syntax, message);
        }
        rusqlite::Error::InvalidParameterCount(..) => {
            return StoreError::new(ErrorKind::Syntax, message);
        }
        _ => return StoreError::new(ErrorKind::Other, message),
    };
    let kind = match code.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            return StoreError {
                unique: Some(parse_unique(text)),
                ..StoreError::new(ErrorKind::Unique, message)
            };
        }
        ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNull,
        ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::Check,
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKey,
        _ => match code.code {
            ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked => ErrorKind::Busy,
            ffi::ErrorCode::CannotOpen => ErrorKind::Unavailable,
            ffi::ErrorCode::Unknown if is_syntax_message(text) => ErrorKind::Syntax,
            ffi::ErrorCode::Unknown if text.contains("malformed JSON") => ErrorKind::BadValue,
            _ => ErrorKind::Other,
        },
    };
    StoreError::new(kind, message)
}

/// Whether the error is SQLite's "interrupted" (our statement deadline fired).
pub(crate) fn is_interrupt(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(c, _) if c.code == ffi::ErrorCode::OperationInterrupted)
}

/// Generic `SQLITE_ERROR`s that mean the SQL itself is wrong (reported at run time when the
/// statement was prepared against an older schema, or by table-valued functions).
fn is_syntax_message(text: &str) -> bool {
    ["syntax error", "no such table", "no such column", "no such function", "ambiguous column"]
        .iter()
        .any(|p| text.contains(p))
}

/// Parses `UNIQUE constraint failed: t.a, t.b` (columns `a`, `b`) or
/// `UNIQUE constraint failed: index 'name'` (index `name`, columns unknown).
pub(crate) fn parse_unique(text: &str) -> UniqueViolation {
    let Some((_, rest)) = text.split_once("constraint failed:") else {
        return UniqueViolation::default();
    };
    let rest = rest.trim();
    if let Some(name) = rest.strip_prefix("index ") {
        let name = name.trim_matches(|c| c == '\'' || c == '"');
        return UniqueViolation { index: Some(name.to_owned()), columns: Vec::new() };
    }
    let columns = rest
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        // `table.column`; table names never contain dots here (they are collection names), but
        // columns might not be qualified at all.
        .map(|c| c.split_once('.').map_or(c, |(_, col)| col).to_owned())
        .collect();
    UniqueViolation { index: None, columns }
}
