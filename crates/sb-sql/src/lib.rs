//! SQL tree and its rendering for SQLite and PostgreSQL.
//!
//! This crate is the only place (besides backend bootstrap code) that knows how SQL is spelled.
//! Everything above it builds [`Stmt`] values; the storage backends call [`Dialect::render`]
//! and hand the text plus parameters to their driver.
//!
//! Reference semantics are SQLite's (PocketBase runs on SQLite). The PostgreSQL rendering uses
//! the [`Ty`] annotations on comparisons to produce well-typed SQL that selects the same rows.

mod ast;
mod footprint;
mod index;
mod postgres;
mod render;
mod sqlite;
mod value;

pub use ast::*;
pub use footprint::Footprint;
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

/// A scalar function the SQLite backend must register on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteFunction {
    pub name: &'static str,
    pub n_args: i32,
}

/// Scalar functions the SQLite rendering uses that rusqlite's bundled SQLite lacks (it is built
/// without `SQLITE_ENABLE_MATH_FUNCTIONS`); they are needed by [`Expr::GeoDistance`].
///
/// Each takes one argument and has the semantics of SQLite's own math functions, so they must
/// be registered as deterministic, with exactly this behaviour:
/// * the argument is converted as by `sqlite3_value_numeric_type`: INTEGER and REAL values are
///   used as `f64`; TEXT that is entirely a number (surrounding whitespace allowed, e.g.
///   `' 12.5 '`, `'1e3'`) is converted to that number; any other TEXT, BLOB and NULL give NULL;
/// * `radians(x)` = `x * (π / 180)`; `sin(x)`, `cos(x)`, `acos(x)` = the `f64` functions
///   (`acos` outside [-1, 1] gives NaN, which must be returned as NULL: SQLite never yields
///   NaN);
/// * the result is a REAL.
pub const SQLITE_FUNCTIONS: &[SqliteFunction] = &[
    SqliteFunction { name: "radians", n_args: 1 },
    SqliteFunction { name: "sin", n_args: 1 },
    SqliteFunction { name: "cos", n_args: 1 },
    SqliteFunction { name: "acos", n_args: 1 },
];

#[cfg(test)]
mod tests;
