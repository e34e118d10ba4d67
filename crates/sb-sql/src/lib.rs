//! SQL tree and its rendering for SQLite and PostgreSQL.
//!
//! This crate is the only place (besides backend bootstrap code) that knows how SQL is spelled.
//! Everything above it builds [`Stmt`] values; the storage backends call [`Dialect::render`]
//! and hand the text plus parameters to their driver.
//!
//! Reference semantics are SQLite's (PocketBase runs on SQLite). The PostgreSQL rendering uses
//! the [`Ty`] annotations on comparisons to produce well-typed SQL that selects the same rows.

mod ast;
mod index;
mod postgres;
mod sqlite;
mod value;

pub use ast::*;
pub use index::parse_index;
pub use postgres::support_sql as postgres_support_sql;
pub use value::Value;

/// The SQL dialect a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement rendered to SQL text and its bound parameters, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Dialect {
    /// Renders a statement. Rendering never fails: every node has a spelling in both dialects.
    pub fn render(self, stmt: &Stmt) -> Rendered {
        match self {
            Dialect::Sqlite => sqlite::render(stmt),
            Dialect::Postgres => postgres::render(stmt),
        }
    }
}

#[cfg(test)]
mod tests;
