//! Parsing of SQLite-dialect `CREATE [UNIQUE] INDEX` statements, as collections store them.

use crate::IndexDef;

/// Parses an index definition; the error text is for the `validation_invalid_index_expression`
/// message.
pub fn parse_index(sql: &str) -> Result<IndexDef, String> {
    let _ = sql;
    Err("not implemented yet".into())
}
