//! Which tables (or single rows of them) a statement reads and writes: what caches key their
//! entries on and what a committed write invalidates.

use crate::Value;
use crate::ast::*;

/// The tables a statement touches. A read or write confined to one row (`WHERE id = ?` at the
/// top of the statement, or an `INSERT` naming its `id`) is listed in `rows_read` /
/// `rows_written` as `(table, id)` instead of the table. `opaque` statements (raw SQL, DDL,
/// views) may touch anything and count as touching every table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub reads: Vec<Ident>,
    pub writes: Vec<Ident>,
    pub rows_read: Vec<(Ident, String)>,
    pub rows_written: Vec<(Ident, String)>,
    pub opaque: bool,
}

impl Stmt {
    /// The statement's footprint (each table or row once, in order of first mention; a table
    /// read as a whole anywhere in the statement is not also listed as a row read).
    pub fn footprint(&self) -> Footprint {
        let mut fp = Footprint::default();
        match self {
            Stmt::Select(s) => select(s, &mut fp),
            Stmt::Insert(i) => {
                let id = i
                    .columns
                    .iter()
                    .position(|c| c == "id")
                    .and_then(|at| text_param(i.values.get(at)?));
                match id {
                    Some(id) => push_row(&mut fp.rows_written, &i.table, id),
                    None => write(&mut fp, &i.table),
                }
                i.values.iter().for_each(|e| expr(e, &mut fp));
            }
            Stmt::Update(u) => {
                let sets_id = u.set.iter().any(|(c, _)| c == "id");
                match u.where_.as_ref().and_then(|w| row_id(w, Some(&u.table))) {
                    Some(id) if !sets_id => push_row(&mut fp.rows_written, &u.table, id),
                    _ => write(&mut fp, &u.table),
                }
                u.set.iter().for_each(|(_, e)| expr(e, &mut fp));
                u.where_.iter().for_each(|e| expr(e, &mut fp));
            }
            Stmt::Delete(d) => {
                match d.where_.as_ref().and_then(|w| row_id(w, Some(&d.table))) {
                    Some(id) => push_row(&mut fp.rows_written, &d.table, id),
                    None => write(&mut fp, &d.table),
                }
                d.where_.iter().for_each(|e| expr(e, &mut fp));
            }
            _ => fp.opaque = true,
        }
        let whole = fp.reads.clone();
        fp.rows_read.retain(|(t, _)| !whole.contains(t));
        fp
    }
}

/// The text of a bound text parameter.
fn text_param(e: &Expr) -> Option<&str> {
    match e {
        Expr::Param(Value::Text(s)) => Some(s),
        _ => None,
    }
}

/// The id `condition` pins its row to: an `id = ?` (of `alias`, or unqualified) at the top
/// level of its conjunction.
fn row_id<'a>(condition: &'a Expr, alias: Option<&str>) -> Option<&'a str> {
    match condition {
        Expr::And(parts) => parts.iter().find_map(|p| row_id(p, alias)),
        Expr::Cmp { op: CmpOp::Eq | CmpOp::Is, lhs, rhs } => {
            let is_id = |e: &Expr| match e {
                Expr::Column { table, name } => {
                    name == "id" && (table.is_none() || table.as_deref() == alias)
                }
                _ => false,
            };
            if is_id(&lhs.expr) {
                text_param(&rhs.expr)
            } else if is_id(&rhs.expr) {
                text_param(&lhs.expr)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn push_row(rows: &mut Vec<(Ident, String)>, table: &str, id: &str) {
    if !rows.iter().any(|(t, i)| t == table && i == id) {
        rows.push((table.to_owned(), id.to_owned()));
    }
}

fn read(fp: &mut Footprint, table: &str) {
    if !fp.reads.iter().any(|t| t == table) {
        fp.reads.push(table.to_owned());
    }
}

fn write(fp: &mut Footprint, table: &str) {
    if !fp.writes.iter().any(|t| t == table) {
        fp.writes.push(table.to_owned());
    }
}

fn select(s: &Select, fp: &mut Footprint) {
    for item in &s.columns {
        if let SelectItem::Expr { expr: e, .. } = item {
            expr(e, fp);
        }
    }
    match &s.from {
        Some(FromItem::Table { name, alias }) => {
            let alias = alias.as_deref().unwrap_or(name);
            match s.where_.as_ref().and_then(|w| row_id(w, Some(alias))) {
                Some(id) => push_row(&mut fp.rows_read, name, id),
                None => read(fp, name),
            }
        }
        Some(FromItem::Subquery { select: inner, .. }) => select(inner, fp),
        Some(FromItem::One { .. }) | None => {}
    }
    for join in &s.joins {
        match &join.source {
            JoinSource::Table(name) => read(fp, name),
            JoinSource::Subquery(inner) => select(inner, fp),
            JoinSource::JsonEach(t) => expr(&t.expr, fp),
        }
        join.on.iter().for_each(|e| expr(e, fp));
    }
    s.where_.iter().for_each(|e| expr(e, fp));
    s.group_by.iter().for_each(|e| expr(e, fp));
    s.order_by.iter().for_each(|o| expr(&o.expr, fp));
}

fn expr(e: &Expr, fp: &mut Footprint) {
    match e {
        Expr::Column { .. }
        | Expr::RowId { .. }
        | Expr::Param(_)
        | Expr::Null
        | Expr::Int(_)
        | Expr::Str(_)
        | Expr::CountStar
        | Expr::Random => {}
        Expr::Cmp { lhs, rhs, .. } => {
            expr(&lhs.expr, fp);
            expr(&rhs.expr, fp);
        }
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| expr(p, fp)),
        Expr::Not(inner)
        | Expr::Lower(inner)
        | Expr::ContainsPattern(inner)
        | Expr::JsonText(inner)
        | Expr::IsNull { expr: inner, .. }
        | Expr::JsonExtract { expr: inner, .. } => expr(inner, fp),
        Expr::Like { expr: lhs, pattern, .. } => {
            expr(&lhs.expr, fp);
            expr(&pattern.expr, fp);
        }
        Expr::Arith { lhs, rhs, .. } => {
            expr(lhs, fp);
            expr(rhs, fp);
        }
        Expr::JsonArrayLength(t) => expr(&t.expr, fp),
        Expr::Exists { select: s, .. } | Expr::Subquery(s) => select(s, fp),
        Expr::InSelect { expr: lhs, select: s, .. } => {
            expr(lhs, fp);
            select(s, fp);
        }
        Expr::InList { expr: lhs, list, .. } => {
            expr(lhs, fp);
            list.iter().for_each(|e| expr(e, fp));
        }
        Expr::Strftime { format, time, modifiers } => {
            expr(format, fp);
            time.iter().for_each(|t| expr(&t.expr, fp));
            modifiers.iter().for_each(|e| expr(e, fp));
        }
        Expr::GeoDistance { lon_a, lat_a, lon_b, lat_b } => {
            for t in [lon_a, lat_a, lon_b, lat_b] {
                expr(&t.expr, fp);
            }
        }
        Expr::Case { whens, else_ } => {
            for (w, t) in whens {
                expr(w, fp);
                expr(t, fp);
            }
            else_.iter().for_each(|e| expr(e, fp));
        }
    }
}
