//! Building one comparison out of two resolved operands, as PocketBase does (spec §4.8):
//! the NULL/empty-tolerant equality forms, LIKE with its pattern wrapping, and the multi-match
//! `NOT EXISTS` that gives the plain operators their ALL meaning on multi-valued operands.

use sb_filter::Op;
use sb_sql::{CmpOp, Expr, FromItem, Select, SelectItem, Ty, Typed, Value};

use crate::affinity::{Affinity, convert_param, value_to_pattern_text, value_ty};
use crate::context::Ctx;
use crate::operand::{Fallback, MultiMatch, Operand, Shape};

/// A constant boolean (`1 = 1` / `1 = 0`).
pub(crate) fn constant(b: bool) -> Expr {
    Expr::eq(Expr::Int(1), Expr::Int(i64::from(b)), Ty::Number)
}

/// The comparison `left op right`, with the multi-match constraints and the operands' extra
/// conditions.
pub(crate) fn build(ctx: &mut Ctx<'_, '_>, left: &Operand, op: Op, right: &Operand) -> Expr {
    let base = op.base();
    let mut expr = build_plain(left, base, right);
    if !op.is_any() {
        let all = match (&left.multi, &right.multi) {
            (Some(l), Some(r)) => Some(many_vs_many(ctx, left, l, base, right, r)),
            (Some(l), None) => Some(many_vs_one(ctx, left, l, base, right, false)),
            (None, Some(r)) => Some(many_vs_one(ctx, right, r, base, left, true)),
            (None, None) => None,
        };
        if let Some(all) = all {
            expr = Expr::And(vec![expr, all]);
        }
    }
    for after in [&left.after, &right.after].into_iter().flatten() {
        expr = Expr::And(vec![expr, after.clone()]);
    }
    expr
}

/// The comparison itself, without multi-match handling (`op` is a base operator).
fn build_plain(left: &Operand, op: Op, right: &Operand) -> Expr {
    match op {
        Op::Eq | Op::AnyEq => equal(true, left, right),
        Op::Neq | Op::AnyNeq => equal(false, left, right),
        Op::Like | Op::AnyLike => like(left, right, false),
        Op::NotLike | Op::AnyNotLike => like(left, right, true),
        Op::Lt | Op::AnyLt => cmp(CmpOp::Lt, left, right),
        Op::Lte | Op::AnyLte => cmp(CmpOp::Lte, left, right),
        Op::Gt | Op::AnyGt => cmp(CmpOp::Gt, left, right),
        Op::Gte | Op::AnyGte => cmp(CmpOp::Gte, left, right),
    }
}

/// `=` / `!=`: avoids COALESCE where possible and treats NULL and `''` alike (PocketBase's
/// `resolveEqualExpr`).
pub(crate) fn equal(eq: bool, left: &Operand, right: &Operand) -> Expr {
    let (direct, null_safe) =
        if eq { (CmpOp::Eq, CmpOp::Is) } else { (CmpOp::IsNot, CmpOp::IsNot) };
    if left.fallback == Fallback::Disabled || right.fallback == Fallback::Disabled {
        return cmp(null_safe, left, right);
    }
    let (l_empty, r_empty) = (left.is_empty(), right.is_empty());
    if l_empty && r_empty {
        return constant(eq);
    }
    if left.known_non_empty() || right.known_non_empty() {
        let empty = empty_text();
        let l = if l_empty { &empty } else { left };
        let r = if r_empty { &empty } else { right };
        return cmp(direct, l, r);
    }
    let (empty_side, other) = match (l_empty, r_empty) {
        (true, _) => (true, right),
        (_, true) => (false, left),
        _ => {
            let op = if eq { CmpOp::LooseEq } else { CmpOp::LooseIsNot };
            return Expr::Cmp {
                op,
                lhs: Box::new(Typed::new(left.expr.clone(), left.ty)),
                rhs: Box::new(Typed::new(right.expr.clone(), right.ty)),
            };
        }
    };
    let empty = empty_text();
    let vs_empty = if empty_side { cmp(direct, &empty, other) } else { cmp(direct, other, &empty) };
    let null_check = Expr::IsNull { expr: Box::new(other.expr.clone()), negated: !eq };
    if eq { Expr::Or(vec![vs_empty, null_check]) } else { Expr::And(vec![vs_empty, null_check]) }
}

fn empty_text() -> Operand {
    Operand::new(Expr::Str(""), Ty::Text, Shape::Plain)
}

/// A direct comparison; parameters compared with a column are converted to the column's
/// affinity (see `affinity`).
pub(crate) fn cmp(op: CmpOp, left: &Operand, right: &Operand) -> Expr {
    let (lhs, rhs) = typed_pair(left, right);
    Expr::Cmp { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}

fn typed_pair(left: &Operand, right: &Operand) -> (Typed, Typed) {
    let mut l = Typed::new(left.expr.clone(), left.ty);
    let mut r = Typed::new(right.expr.clone(), right.ty);
    if right.affinity == Affinity::None {
        convert(&mut r, left.affinity, left.ty);
    }
    if left.affinity == Affinity::None {
        convert(&mut l, right.affinity, right.ty);
    }
    // a boolean constant next to a number constant binds as 0/1 (SQLite has no booleans)
    match (l.ty, r.ty) {
        (Ty::Bool, Ty::Number) => bool_to_number(&mut l),
        (Ty::Number, Ty::Bool) => bool_to_number(&mut r),
        _ => {}
    }
    (l, r)
}

fn bool_to_number(t: &mut Typed) {
    if let Expr::Param(Value::Bool(b)) = t.expr {
        t.expr = Expr::Param(Value::Float(f64::from(u8::from(b))));
        t.ty = Ty::Number;
    }
}

fn convert(t: &mut Typed, affinity: Affinity, column_ty: Ty) {
    let value = match &t.expr {
        Expr::Param(v) => v.clone(),
        Expr::Int(i) => Value::Int(*i),
        _ => return,
    };
    if let Some(v) = convert_param(&value, affinity, column_ty) {
        t.ty = value_ty(&v);
        t.expr = Expr::Param(v);
    }
}

/// `~` / `!~`: a parameter pattern is wrapped as a "contains" test unless it has its own
/// unescaped `%`; another operand becomes `'%' || x || '%'`, typed as that operand (a bool
/// column must turn into `1`/`0` in the pattern, as on SQLite).
fn like(left: &Operand, right: &Operand, negated: bool) -> Expr {
    let pattern = if right.has_params() {
        let mut e = right.expr.clone();
        map_params(&mut e, &mut |v| Value::Text(wrap_like(&value_to_pattern_text(v))));
        Typed::new(e, Ty::Text)
    } else {
        Typed::new(Expr::ContainsPattern(Box::new(right.expr.clone())), right.ty)
    };
    Expr::Like {
        expr: Box::new(Typed::new(left.expr.clone(), left.ty)),
        pattern: Box::new(pattern),
        negated,
    }
}

/// Applies `f` to every bound parameter of an operand expression.
fn map_params(e: &mut Expr, f: &mut impl FnMut(&Value) -> Value) {
    match e {
        Expr::Param(v) => *v = f(v),
        Expr::Lower(inner) => map_params(inner, f),
        Expr::JsonExtract { expr, .. } => map_params(expr, f),
        Expr::Strftime { format, time, modifiers } => {
            map_params(format, f);
            if let Some(t) = time {
                map_params(&mut t.expr, f);
            }
            for m in modifiers {
                map_params(m, f);
            }
        }
        Expr::GeoDistance { lon_a, lat_a, lon_b, lat_b } => {
            for t in [lon_a, lat_a, lon_b, lat_b] {
                map_params(&mut t.expr, f);
            }
        }
        _ => {}
    }
}

/// PocketBase's LIKE parameter wrapping.
pub(crate) fn wrap_like(s: &str) -> String {
    if contains_unescaped(s, '%') {
        return s.to_owned();
    }
    format!("%{}%", escape_unescaped(s))
}

fn contains_unescaped(s: &str, ch: char) -> bool {
    let mut prev = '\0';
    for c in s.chars() {
        if c == ch && prev != '\\' {
            return true;
        }
        prev = if c == '\\' && prev == '\\' { '\0' } else { c };
    }
    false
}

/// Escapes `\`, `%` and `_` that are not already escaped. Scans from the end, like
/// PocketBase: the character right before an escaped one is never itself considered, so
/// `a__` becomes `a_\_`.
fn escape_unescaped(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<char> = Vec::with_capacity(chars.len() * 2);
    let mut pending = false;
    for (i, &c) in chars.iter().enumerate().rev() {
        if pending {
            if c != '\\' {
                out.push('\\');
            }
            pending = false;
        } else {
            pending = matches!(c, '\\' | '%' | '_');
        }
        out.push(c);
        if i == 0 && pending {
            out.push('\\');
        }
    }
    out.iter().rev().collect()
}

/// `NOT EXISTS (every value of the multi-valued operand ... WHERE NOT cond)`.
fn many_vs_one(
    ctx: &mut Ctx<'_, '_>,
    multi_op: &Operand,
    mm: &MultiMatch,
    op: Op,
    other: &Operand,
    inverse: bool,
) -> Expr {
    let value = mm_value(multi_op, mm);
    let mut other = other.clone();
    other.fallback = Fallback::Auto;
    other.multi = None;
    other.after = None;
    let cond =
        if inverse { build_plain(&other, op, &value) } else { build_plain(&value, op, &other) };
    not_exists(ctx, mm.joins.clone(), cond)
}

/// Both operands multi-valued: every pair must satisfy the condition.
fn many_vs_many(
    ctx: &mut Ctx<'_, '_>,
    left: &Operand,
    lm: &MultiMatch,
    op: Op,
    right: &Operand,
    rm: &MultiMatch,
) -> Expr {
    let cond = build_plain(&mm_value(left, lm), op, &mm_value(right, rm));
    let joins = lm.joins.iter().chain(&rm.joins).cloned().collect();
    not_exists(ctx, joins, cond)
}

fn mm_value(op: &Operand, mm: &MultiMatch) -> Operand {
    let mut v = Operand::new(mm.value.clone(), op.ty, Shape::Plain);
    v.affinity = op.affinity;
    v.fallback = op.fallback;
    v
}

fn not_exists(ctx: &mut Ctx<'_, '_>, joins: Vec<sb_sql::Join>, cond: Expr) -> Expr {
    let anchor = ctx.fresh("_a");
    Expr::Exists {
        select: Box::new(Select {
            columns: vec![SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(FromItem::One { alias: anchor }),
            joins,
            where_: Some(Expr::Not(Box::new(cond))),
            ..Select::default()
        }),
        negated: true,
    }
}
