//! Compilation entry points, operand resolution and the final assembly.
//!
//! Every comparison is compiled against one shared [`Ctx`]; comparisons that walk relations
//! reference join aliases registered there. The assembly then keeps the top-level conjuncts
//! that use no join as they are and wraps the others, together with the visibility
//! conditions, in a single correlated
//! `EXISTS (SELECT 1 FROM (SELECT 1) AS _a LEFT JOIN ... WHERE ...)`. That is PocketBase's
//! "LEFT JOIN + SELECT DISTINCT" main query expressed as a predicate: a row matches when some
//! combination of its joined rows (a NULL row where there is none) satisfies the expression.

use sb_sql::{Expr, FromItem, OrderBy, Select, SelectItem};

use crate::compare::{build, constant};
use crate::context::{Ctx, Frame, err};
use crate::operand::{Operand, Shape};
use crate::path::Walk;
use crate::request::{resolve_collection, resolve_request};
use crate::{Access, QueryError, Scope, functions, macros, sort};

/// A compiled list query: the WHERE condition (if any) and the ORDER BY items.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub where_: Option<Expr>,
    pub order_by: Vec<OrderBy>,
}

/// Compiles a filter or rule expression into a boolean SQL expression over `scope.alias`.
pub fn compile_filter(expr: &sb_filter::Expr, scope: &Scope<'_>) -> Result<Expr, QueryError> {
    let compiled = compile_query(&[(expr, scope.access)], &[], scope)?;
    Ok(compiled.where_.unwrap_or_else(|| constant(true)))
}

/// Compiles sort keys into ORDER BY items over `scope.alias`.
///
/// With [`Access::Client`], sorting by a relation path also restricts the rows to those whose
/// related row is visible (PocketBase applies the walked collection's listRule); only
/// [`compile_query`] returns that restriction.
pub fn compile_sort(
    items: &[sb_filter::SortItem],
    scope: &Scope<'_>,
) -> Result<Vec<OrderBy>, QueryError> {
    Ok(compile_query(&[], items, scope)?.order_by)
}

/// Compiles several expressions ANDed together plus sort keys, as PocketBase compiles a list
/// request: all parts share their relation joins (so `rels.name ?= 'a'` in a rule and in a
/// filter talk about the same related row), each part with its own access (typically the
/// listRule with [`Access::Full`] and the client filter with [`Access::Client`]); the sort keys
/// use `scope.access`. The WHERE condition includes the restrictions implied by client sort
/// keys.
pub fn compile_query(
    filters: &[(&sb_filter::Expr, Access)],
    sort: &[sb_filter::SortItem],
    scope: &Scope<'_>,
) -> Result<Compiled, QueryError> {
    let mut ctx = Ctx::new(scope);
    let mut conjuncts = Vec::new();
    for (expr, access) in filters {
        let frame = ctx.base_frame(*access);
        compile_conjuncts(&mut ctx, &frame, expr, &mut conjuncts)?;
    }
    let order_by = sort::compile(&mut ctx, sort)?;
    Ok(Compiled { where_: assemble(&mut ctx, conjuncts), order_by })
}

/// A compiled boolean expression and whether it references main-query joins.
pub(crate) struct Part {
    pub expr: Expr,
    pub uses_joins: bool,
}

pub(crate) fn compile_expr(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    expr: &sb_filter::Expr,
) -> Result<Part, QueryError> {
    match expr {
        sb_filter::Expr::Or(items) | sb_filter::Expr::And(items) => {
            let mut parts = Vec::with_capacity(items.len());
            let mut uses_joins = false;
            for item in items {
                let p = compile_expr(ctx, frame, item)?;
                uses_joins |= p.uses_joins;
                parts.push(p.expr);
            }
            let expr = if matches!(expr, sb_filter::Expr::Or(_)) {
                Expr::Or(parts)
            } else {
                Expr::And(parts)
            };
            Ok(Part { expr, uses_joins })
        }
        sb_filter::Expr::Cmp(c) => {
            let left = resolve_operand(ctx, frame, &c.left)
                .map_err(|e| err(format!("invalid left operand: {}", e.message)))?;
            let right = resolve_operand(ctx, frame, &c.right)
                .map_err(|e| err(format!("invalid right operand: {}", e.message)))?;
            let expr = build(ctx, &left, c.op, &right);
            Ok(Part { expr, uses_joins: left.uses_joins || right.uses_joins })
        }
    }
}

/// Compiles the top-level `&&` operands separately, so that those without joins can stay
/// outside the `EXISTS`.
fn compile_conjuncts(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    expr: &sb_filter::Expr,
    out: &mut Vec<Part>,
) -> Result<(), QueryError> {
    if let sb_filter::Expr::And(items) = expr {
        for item in items {
            compile_conjuncts(ctx, frame, item, out)?;
        }
        return Ok(());
    }
    out.push(compile_expr(ctx, frame, expr)?);
    Ok(())
}

/// Turns the compiled conjuncts and the context's joins into the final condition.
fn assemble(ctx: &mut Ctx<'_, '_>, conjuncts: Vec<Part>) -> Option<Expr> {
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    for p in conjuncts {
        if p.uses_joins { inner.push(p.expr) } else { outer.push(p.expr) }
    }
    inner.append(&mut ctx.visibility);
    if !inner.is_empty() {
        if ctx.has_joins() {
            outer.push(exists(ctx, inner));
        } else {
            outer.append(&mut inner);
        }
    }
    match outer.len() {
        0 => None,
        1 => outer.pop(),
        _ => Some(Expr::And(outer)),
    }
}

/// `EXISTS (SELECT 1 FROM (SELECT 1) AS _a <joins> WHERE <conds>)` over the context's joins.
fn exists(ctx: &mut Ctx<'_, '_>, conds: Vec<Expr>) -> Expr {
    let anchor = ctx.fresh("_a");
    let where_ = if conds.len() == 1 { conds.into_iter().next() } else { Some(Expr::And(conds)) };
    Expr::Exists {
        select: Box::new(Select {
            columns: vec![SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(FromItem::One { alias: anchor }),
            joins: ctx.take_joins(),
            where_,
            ..Select::default()
        }),
        negated: false,
    }
}

/// Resolves one operand of a comparison or function argument.
pub(crate) fn resolve_operand(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    operand: &sb_filter::Operand,
) -> Result<Operand, QueryError> {
    match operand {
        sb_filter::Operand::Ident { name, .. } => {
            if let Some(v) = macros::resolve(name, ctx.scope.now) {
                return Ok(Operand::param(v));
            }
            match resolve_ident(ctx, frame, name) {
                Ok(op) => Ok(op),
                Err(e) => match name.to_ascii_lowercase().as_str() {
                    "null" => Ok(Operand::null()),
                    "true" => Ok(Operand::bool_literal(true)),
                    "false" => Ok(Operand::bool_literal(false)),
                    _ => Err(e),
                },
            }
        }
        sb_filter::Operand::Number { value, .. } => Ok(Operand::param((*value).into())),
        sb_filter::Operand::Text { value, .. } => Ok(Operand::param(value.as_str().into())),
        sb_filter::Operand::Func { name, args, .. } => functions::resolve(ctx, frame, name, args),
    }
}

/// Resolves an identifier (field path, `@request.*`, `@collection.*`). Joins registered for an
/// identifier that resolves to NULL, or fails, are dropped.
pub(crate) fn resolve_ident(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    name: &str,
) -> Result<Operand, QueryError> {
    let mark = ctx.mark();
    let props: Vec<&str> = name.split('.').collect();
    let result = match props.first().copied().unwrap_or_default() {
        "@collection" => resolve_collection(ctx, frame, &props),
        "@request" => resolve_request(ctx, frame, &props),
        first if first.starts_with(|c: char| c.is_alphanumeric() || c == '_') => {
            Walk::from_frame(frame).run(ctx, &props)
        }
        _ => Err(err(format!("failed to resolve field {name:?}"))),
    };
    match &result {
        Ok(op) if op.shape != Shape::Null => {}
        _ => ctx.rollback(&mark),
    }
    result
}
