//! postgres rendering.

use crate::{Rendered, Stmt};

pub(crate) fn render(stmt: &Stmt) -> Rendered {
    let _ = stmt;
    unimplemented!("postgres rendering")
}

/// SQL that creates the helper functions the PostgreSQL rendering relies on (idempotent:
/// `CREATE OR REPLACE`). Backends run it once at start-up.
pub fn support_sql() -> &'static str {
    ""
}
