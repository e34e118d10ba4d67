//! Sort keys (spec §3.4).
//!
//! A key resolves like a filter identifier (no literals or macros). Keys that walk relations
//! must not multiply rows, so they become correlated scalar sub-queries over the key's own
//! joins, `LIMIT 1`: a multi-valued path sorts by its first value in stored order (the first
//! related row whose visibility condition holds), which is what PocketBase's
//! `SELECT DISTINCT ... ORDER BY joined.col` yields on SQLite.
//!
//! For client sorts PocketBase also applies the listRule of walked collections to the main
//! query (a row whose related row is not visible disappears). Those conditions are registered
//! on the main context, so `compile_query` returns them in its WHERE condition.
//!
//! Keys stored as JSON need a wrapper that tells the PostgreSQL rendering how to sort them
//! (`json` has no ordering there, and a sub-query's value has no static type): a whole JSON
//! column (multi-value, geoPoint) sorts by its stored text (`Expr::JsonText`), a JSON path by
//! the extracted value (`Expr::JsonExtract`). For walks the wrapper goes around the sub-query,
//! which then selects the raw column. The SQLite order does not change: `JsonText` renders as
//! the bare column there, and extracting from the sub-query's value is extracting inside it.

use sb_filter::SortItem;
use sb_sql::{Expr, FromItem, JsonPathSeg, OrderBy, Select, SelectItem, Ty};

use crate::context::{Ctx, err};
use crate::operand::Shape;
use crate::resolve::resolve_ident;
use crate::{Access, QueryError};

pub(crate) fn compile(
    ctx: &mut Ctx<'_, '_>,
    items: &[SortItem],
) -> Result<Vec<OrderBy>, QueryError> {
    let access = ctx.scope.access;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let expr = match item.ident.as_str() {
            "@random" => Expr::Random,
            "@rowid" => Expr::RowId { table: Some(ctx.scope.alias.to_owned()) },
            name => key(ctx, name, access)?,
        };
        out.push(OrderBy { expr, desc: item.desc });
    }
    Ok(out)
}

fn key(ctx: &mut Ctx<'_, '_>, name: &str, access: Access) -> Result<Expr, QueryError> {
    let invalid = || err(format!("invalid sort field {name:?}"));
    let mut own = ctx.child();
    let frame = own.base_frame(access);
    let op = resolve_ident(&mut own, &frame, name).map_err(|_| invalid())?;
    ctx.adopt_counter(&own);
    if !op.from_path || op.shape == Shape::Null || op.has_params() {
        return Err(invalid());
    }
    if !own.visibility.is_empty() {
        // the same walk on the main query carries the visibility restriction
        let frame = ctx.base_frame(access);
        resolve_ident(ctx, &frame, name)?;
    }
    let (value, json) = JsonKey::split(op.expr, op.ty);
    if !own.has_joins() {
        return Ok(json.wrap(value));
    }
    let conds = std::mem::take(&mut own.visibility);
    let where_ = match conds.len() {
        0 => None,
        1 => conds.into_iter().next(),
        _ => Some(Expr::And(conds)),
    };
    let anchor = own.fresh("_a");
    let select = Select {
        columns: vec![SelectItem::Expr { expr: value, alias: None }],
        from: Some(FromItem::One { alias: anchor }),
        joins: own.take_joins(),
        where_,
        limit: Some(1),
        ..Select::default()
    };
    ctx.adopt_counter(&own);
    Ok(json.wrap(Expr::Subquery(Box::new(select))))
}

/// How a key stored as JSON is sorted (see the module docs).
enum JsonKey {
    /// Not JSON.
    No,
    /// A whole JSON column: by its stored text.
    Text,
    /// A JSON path: by the extracted value.
    Extract(Vec<JsonPathSeg>),
}

impl JsonKey {
    /// Separates the JSON wrapper from the value it applies to.
    fn split(expr: Expr, ty: Ty) -> (Expr, JsonKey) {
        match expr {
            Expr::JsonExtract { expr, path } => (*expr, JsonKey::Extract(path)),
            other if ty == Ty::JsonText => (other, JsonKey::Text),
            other => (other, JsonKey::No),
        }
    }

    fn wrap(self, value: Expr) -> Expr {
        match self {
            JsonKey::No => value,
            JsonKey::Text => Expr::JsonText(Box::new(value)),
            JsonKey::Extract(path) => Expr::JsonExtract { expr: Box::new(value), path },
        }
    }
}
