use rusqlite::ffi;
use sb_store::{ErrorKind, UniqueViolation};

use crate::error::{classify, parse_unique};

fn failure(extended: i32, msg: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(extended), Some(msg.to_owned()))
}

#[test]
fn unique_columns_lose_their_table_prefix() {
    assert_eq!(
        parse_unique("UNIQUE constraint failed: posts.title, posts.slug"),
        UniqueViolation { index: None, columns: vec!["title".into(), "slug".into()] }
    );
}

#[test]
fn unique_on_an_expression_index_names_the_index() {
    assert_eq!(
        parse_unique("UNIQUE constraint failed: index 'idx_lower_email'"),
        UniqueViolation { index: Some("idx_lower_email".into()), columns: vec![] }
    );
}

#[test]
fn unparsable_unique_message_gives_empty_details() {
    assert_eq!(parse_unique("something else"), UniqueViolation::default());
}

#[test]
fn classifies_constraint_codes() {
    let e = classify(&failure(ffi::SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE constraint failed: t.id"));
    assert_eq!(e.kind, ErrorKind::Unique);
    assert_eq!(e.unique.map(|u| u.columns), Some(vec!["id".to_owned()]));
    let cases = [
        (ffi::SQLITE_CONSTRAINT_NOTNULL, ErrorKind::NotNull),
        (ffi::SQLITE_CONSTRAINT_CHECK, ErrorKind::Check),
        (ffi::SQLITE_CONSTRAINT_FOREIGNKEY, ErrorKind::ForeignKey),
        (ffi::SQLITE_BUSY, ErrorKind::Busy),
        (ffi::SQLITE_BUSY_SNAPSHOT, ErrorKind::Busy),
        (ffi::SQLITE_LOCKED, ErrorKind::Busy),
        (ffi::SQLITE_CANTOPEN, ErrorKind::Unavailable),
        (ffi::SQLITE_IOERR_FSYNC, ErrorKind::Other),
    ];
    for (code, kind) in cases {
        assert_eq!(classify(&failure(code, "x")).kind, kind, "code {code}");
    }
}

#[test]
fn classifies_runtime_schema_errors_as_syntax() {
    assert_eq!(
        classify(&failure(ffi::SQLITE_ERROR, "no such table: nope")).kind,
        ErrorKind::Syntax
    );
    assert_eq!(classify(&failure(ffi::SQLITE_ERROR, "something odd")).kind, ErrorKind::Other);
    assert_eq!(classify(&failure(ffi::SQLITE_ERROR, "malformed JSON")).kind, ErrorKind::BadValue);
}

#[test]
fn every_function_the_renderer_needs_is_implemented() {
    for f in sb_sql::SQLITE_FUNCTIONS {
        assert!(crate::functions::math(f.name).is_some(), "{}", f.name);
    }
}

#[test]
fn math_arguments_convert_like_sqlite() {
    use crate::functions::numeric;
    use rusqlite::types::ValueRef;
    assert_eq!(numeric(ValueRef::Integer(3)), Some(3.0));
    assert_eq!(numeric(ValueRef::Real(0.5)), Some(0.5));
    assert_eq!(numeric(ValueRef::Text(b" 12.5 ")), Some(12.5));
    assert_eq!(numeric(ValueRef::Text(b"1e3")), Some(1000.0));
    assert_eq!(numeric(ValueRef::Text(b"inf")), None);
    assert_eq!(numeric(ValueRef::Text(b"12abc")), None);
    assert_eq!(numeric(ValueRef::Null), None);
    assert_eq!(numeric(ValueRef::Blob(b"1")), None);
}
