//! Which tables a statement reads and writes: what caches key their entries on and what a
//! committed write invalidates.

use crate::ast::*;

/// The tables a statement touches. `opaque` statements (raw SQL, DDL, views) may touch anything
/// and count as touching every table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    pub reads: Vec<Ident>,
    pub writes: Vec<Ident>,
    pub opaque: bool,
}

impl Stmt {
    /// The statement's footprint (each table once, in order of first mention).
    pub fn footprint(&self) -> Footprint {
        let mut fp = Footprint::default();
        match self {
            Stmt::Select(s) => select(s, &mut fp),
            Stmt::Insert(i) => {
                write(&mut fp, &i.table);
                i.values.iter().for_each(|e| expr(e, &mut fp));
            }
            Stmt::Update(u) => {
                write(&mut fp, &u.table);
                u.set.iter().for_each(|(_, e)| expr(e, &mut fp));
                u.where_.iter().for_each(|e| expr(e, &mut fp));
            }
            Stmt::Delete(d) => {
                write(&mut fp, &d.table);
                d.where_.iter().for_each(|e| expr(e, &mut fp));
            }
            _ => fp.opaque = true,
        }
        fp
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
        Some(FromItem::Table { name, .. }) => read(fp, name),
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
