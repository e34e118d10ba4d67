//! Identifier resolution and comparison building.

use sb_sql::{Expr, OrderBy};

use crate::{QueryError, Scope};

/// Compiles a filter or rule expression into a boolean SQL expression over `scope.alias`.
pub fn compile_filter(expr: &sb_filter::Expr, scope: &Scope<'_>) -> Result<Expr, QueryError> {
    let _ = (expr, scope);
    Err(QueryError::new("not implemented yet"))
}

/// Compiles sort keys into ORDER BY items over `scope.alias`.
pub fn compile_sort(
    items: &[sb_filter::SortItem],
    scope: &Scope<'_>,
) -> Result<Vec<OrderBy>, QueryError> {
    let _ = (items, scope);
    Err(QueryError::new("not implemented yet"))
}
