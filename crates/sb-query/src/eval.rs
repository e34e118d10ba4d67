//! In-memory evaluation of a filter or rule against one row, for the subset of expressions
//! that need no join: literals, single-valued text/number/bool fields of the row,
//! `@request.context|method`, `@request.query.*`, `@request.headers.*` and scalar
//! `@request.auth.*` fields, with `=`, `!=`, `<`, `<=`, `>`, `>=`, `~`, `!~` (and their `?`
//! forms, which mean the same on single values), `&&` and `||`.
//!
//! The result is what the compiled SQL gives for the same row (realtime delivery evaluates
//! rules this way per event and falls back to SQL for everything else): operands are built
//! with the compiler's shapes and affinities, the comparison forms are `compare`'s (empty and
//! NULL handling, static parameter conversion), and the final comparison follows SQLite's
//! rules (NULL never compares true, numbers sort before text, text compares bytewise, LIKE
//! is ASCII case-insensitive with `\` escapes). `None` means "not in the subset": the caller
//! must use SQL.

use sb_filter::Op;
use sb_schema::{FieldKind, Storage};
use sb_sql::{CmpOp, Ty, Value};
use serde_json::Value as Json;

use crate::Scope;
use crate::affinity::{Affinity, convert_param, value_to_pattern_text};
use crate::compare::wrap_like;
use crate::operand::Shape;
use crate::path::column_type;

/// One resolved operand: its value for the row plus what the comparison builder looks at.
#[derive(Debug, Clone)]
struct Val {
    value: Value,
    ty: Ty,
    affinity: Affinity,
    shape: Shape,
}

impl Val {
    fn null() -> Val {
        Val { value: Value::Null, ty: Ty::Null, affinity: Affinity::None, shape: Shape::Null }
    }

    /// `Operand::param`.
    fn param(v: Value) -> Val {
        if v.is_null() {
            return Val::null();
        }
        let has_empty = matches!(&v, Value::Text(s) if s.is_empty());
        let ty = crate::affinity::value_ty(&v);
        Val { value: v, ty, affinity: Affinity::None, shape: Shape::Params { count: 1, has_empty } }
    }

    fn bool_literal(b: bool) -> Val {
        Val {
            value: Value::Int(i64::from(b)),
            ty: Ty::Number,
            affinity: Affinity::None,
            shape: Shape::BoolLiteral,
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self.shape, Shape::Null | Shape::Params { count: 1, has_empty: true })
    }

    fn known_non_empty(&self) -> bool {
        match self.shape {
            Shape::BoolLiteral => true,
            Shape::Params { count, has_empty } => count > 0 && !has_empty,
            Shape::Null | Shape::Plain => false,
        }
    }
}

/// Evaluates `expr` for the row whose column values (as bound in SQL) `row` returns.
pub fn evaluate(
    expr: &sb_filter::Expr,
    scope: &Scope<'_>,
    row: &dyn Fn(&str) -> Value,
) -> Option<bool> {
    match expr {
        // every operand is evaluated: one outside the subset may be a compile error, which
        // makes the SQL path refuse the whole expression
        sb_filter::Expr::Or(items) => {
            let mut any = false;
            for item in items {
                any |= evaluate(item, scope, row)?;
            }
            Some(any)
        }
        sb_filter::Expr::And(items) => {
            let mut all = true;
            for item in items {
                all &= evaluate(item, scope, row)?;
            }
            Some(all)
        }
        sb_filter::Expr::Cmp(c) => {
            let left = operand(&c.left, scope, row)?;
            let right = operand(&c.right, scope, row)?;
            compare(&left, c.op.base(), &right)
        }
    }
}

fn operand(op: &sb_filter::Operand, scope: &Scope<'_>, row: &dyn Fn(&str) -> Value) -> Option<Val> {
    match op {
        sb_filter::Operand::Number { value, .. } => Some(Val::param(Value::Float(*value))),
        sb_filter::Operand::Text { value, .. } => Some(Val::param(Value::Text(value.clone()))),
        sb_filter::Operand::Func { .. } => None,
        sb_filter::Operand::Ident { name, .. } => {
            if let Some(v) = crate::macros::resolve(name, scope.now) {
                return Some(Val::param(v));
            }
            if let Some(rest) = name.strip_prefix("@request.") {
                return request(rest, scope);
            }
            if name.contains(['.', ':', '@']) {
                return None;
            }
            let c = scope.collection;
            let Some(field) = c.field(name) else {
                return match name.to_ascii_lowercase().as_str() {
                    "null" => Some(Val::null()),
                    "true" => Some(Val::bool_literal(true)),
                    "false" => Some(Val::bool_literal(false)),
                    _ => None,
                };
            };
            let client = scope.access == crate::Access::Client;
            if (field.hidden && client)
                || (client && c.is_auth() && name == "email")
                || field.kind.storage() == Storage::Json
                || matches!(field.kind, FieldKind::Json(_))
            {
                return None;
            }
            let (ty, affinity) = column_type(field);
            Some(Val { value: row(name), ty, affinity, shape: Shape::Plain })
        }
    }
}

/// `@request.<rest>` for the static sections and scalar auth fields.
fn request(rest: &str, scope: &Scope<'_>) -> Option<Val> {
    if scope.access == crate::Access::Client || rest.contains(':') {
        return None;
    }
    let req = scope.request;
    let parts: Vec<&str> = rest.split('.').collect();
    let text = |s: &str, name: &str| static_value(scope, &Json::String(s.to_owned()), name);
    match parts.as_slice() {
        ["context"] => text(&req.context, "context"),
        ["method"] => text(&req.method, "method"),
        ["query", key] => match req.query.get(*key) {
            Some(v) => text(v, key),
            None => Some(Val::null()),
        },
        ["headers", key] => match req.headers.get(*key) {
            Some(v) => text(v, key),
            None => Some(Val::null()),
        },
        ["auth", name] => {
            let Some(auth) = &req.auth else { return Some(Val::null()) };
            const PLAIN: [&str; 6] =
                ["id", "collectionId", "collectionName", "email", "emailVisibility", "verified"];
            if PLAIN.contains(name) {
                let value = match *name {
                    "collectionId" => Json::String(auth.collection.id.clone()),
                    "collectionName" => Json::String(auth.collection.name.clone()),
                    _ => auth.record.get(*name).cloned().unwrap_or(Json::Null),
                };
                return static_value(scope, &value, name);
            }
            // `request::auth_param`: a scalar field as a parameter typed like its column
            let Some(field) = auth.collection.field(name) else { return Some(Val::null()) };
            let storage = field.kind.storage();
            if storage == Storage::Json {
                return None;
            }
            let value = match (storage, auth.record.get(*name).unwrap_or(&Json::Null)) {
                (_, Json::Null) => Value::Null,
                (Storage::Number, Json::Number(n)) => Value::Float(n.as_f64().unwrap_or(0.0)),
                (Storage::Bool, Json::Bool(b)) => Value::Bool(*b),
                (_, Json::String(s)) => Value::Text(s.clone()),
                (_, other) => Value::Text(other.to_string()),
            };
            let mut v = Val::param(value);
            if v.shape != Shape::Null {
                let (ty, affinity) = column_type(field);
                v.ty = ty;
                v.affinity = affinity;
            }
            Some(v)
        }
        _ => None,
    }
}

/// `request::static_value` without modifiers.
fn static_value(scope: &Scope<'_>, value: &Json, name: &str) -> Option<Val> {
    let v = match value {
        Json::Null => return Some(Val::null()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => {
            let number_field = scope
                .collection
                .field(name)
                .is_some_and(|f| matches!(f.kind, FieldKind::Number(_)));
            match s.trim().parse::<f64>() {
                Ok(n) if number_field && n.is_finite() && s.trim() == s => Value::Float(n),
                _ => Value::Text(s.clone()),
            }
        }
        _ => return None,
    };
    Some(Val::param(v))
}

/// `compare::build_plain` for single-valued operands.
fn compare(left: &Val, op: Op, right: &Val) -> Option<bool> {
    match op {
        Op::Eq => equal(true, left, right),
        Op::Neq => equal(false, left, right),
        Op::Like => like(left, right, false),
        Op::NotLike => like(left, right, true),
        Op::Lt => cmp(CmpOp::Lt, left, right),
        Op::Lte => cmp(CmpOp::Lte, left, right),
        Op::Gt => cmp(CmpOp::Gt, left, right),
        Op::Gte => cmp(CmpOp::Gte, left, right),
        _ => None,
    }
}

/// `compare::equal`.
fn equal(eq: bool, left: &Val, right: &Val) -> Option<bool> {
    let (direct, _) = if eq { (CmpOp::Eq, CmpOp::Is) } else { (CmpOp::IsNot, CmpOp::IsNot) };
    let (l_empty, r_empty) = (left.is_empty(), right.is_empty());
    if l_empty && r_empty {
        return Some(eq);
    }
    let empty = Val {
        value: Value::Text(String::new()),
        ty: Ty::Text,
        affinity: Affinity::None,
        shape: Shape::Plain,
    };
    if left.known_non_empty() || right.known_non_empty() {
        let l = if l_empty { &empty } else { left };
        let r = if r_empty { &empty } else { right };
        return cmp(direct, l, r);
    }
    let (empty_side, other) = match (l_empty, r_empty) {
        (true, _) => (true, right),
        (_, true) => (false, left),
        // the loose forms (two columns or expressions): not in the subset
        _ => return None,
    };
    let vs_empty =
        if empty_side { cmp(direct, &empty, other)? } else { cmp(direct, other, &empty)? };
    let is_null = other.value.is_null();
    Some(if eq { vs_empty || is_null } else { vs_empty && !is_null })
}

/// `compare::cmp`: the static parameter conversions, then SQLite's comparison.
fn cmp(op: CmpOp, left: &Val, right: &Val) -> Option<bool> {
    let (l, r) = typed_pair(left, right);
    let l = sqlite_value(&l)?;
    let r = sqlite_value(&r)?;
    let ord = || sqlite_order(&l, &r);
    Some(match op {
        CmpOp::Is => same(&l, &r),
        CmpOp::IsNot => !same(&l, &r),
        _ if l == Sql::Null || r == Sql::Null => false,
        CmpOp::Eq => ord() == std::cmp::Ordering::Equal,
        CmpOp::Lt => ord() == std::cmp::Ordering::Less,
        CmpOp::Lte => ord() != std::cmp::Ordering::Greater,
        CmpOp::Gt => ord() == std::cmp::Ordering::Greater,
        CmpOp::Gte => ord() != std::cmp::Ordering::Less,
        _ => return None,
    })
}

fn typed_pair(left: &Val, right: &Val) -> (Val, Val) {
    let mut l = left.clone();
    let mut r = right.clone();
    if right.affinity == Affinity::None {
        convert(&mut r, left.affinity, left.ty);
    }
    if left.affinity == Affinity::None {
        convert(&mut l, right.affinity, right.ty);
    }
    match (l.ty, r.ty) {
        (Ty::Bool, Ty::Number) => bool_to_number(&mut l),
        (Ty::Number, Ty::Bool) => bool_to_number(&mut r),
        _ => {}
    }
    (l, r)
}

/// Only parameters (and the 1/0 of boolean literals) are converted, never columns.
fn convert(v: &mut Val, affinity: Affinity, column_ty: Ty) {
    if !matches!(v.shape, Shape::Params { .. } | Shape::BoolLiteral) {
        return;
    }
    if let Some(c) = convert_param(&v.value, affinity, column_ty) {
        v.ty = crate::affinity::value_ty(&c);
        v.value = c;
    }
}

fn bool_to_number(v: &mut Val) {
    if matches!(v.shape, Shape::Params { .. })
        && let Value::Bool(b) = v.value
    {
        v.value = Value::Float(f64::from(u8::from(b)));
        v.ty = Ty::Number;
    }
}

/// A value as SQLite holds it (booleans are integers).
#[derive(Debug, Clone, PartialEq)]
enum Sql {
    Null,
    Num(f64),
    Text(String),
}

fn sqlite_value(v: &Val) -> Option<Sql> {
    Some(match &v.value {
        Value::Null => Sql::Null,
        Value::Int(i) => Sql::Num(*i as f64),
        Value::Float(f) if f.is_finite() => Sql::Num(*f),
        Value::Float(_) => return None,
        Value::Bool(b) => Sql::Num(f64::from(u8::from(*b))),
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Json(_) => return None,
    })
}

fn same(l: &Sql, r: &Sql) -> bool {
    match (l, r) {
        (Sql::Null, Sql::Null) => true,
        (Sql::Null, _) | (_, Sql::Null) => false,
        _ => sqlite_order(l, r) == std::cmp::Ordering::Equal,
    }
}

/// SQLite's order of non-NULL values: numbers before text, text bytewise.
fn sqlite_order(l: &Sql, r: &Sql) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (l, r) {
        (Sql::Num(a), Sql::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        (Sql::Num(_), Sql::Text(_)) => Ordering::Less,
        (Sql::Text(_), Sql::Num(_)) => Ordering::Greater,
        (Sql::Text(a), Sql::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Sql::Null, _) | (_, Sql::Null) => Ordering::Equal,
    }
}

/// `compare::like` with a parameter pattern and a text subject.
fn like(left: &Val, right: &Val, negated: bool) -> Option<bool> {
    if !matches!(right.shape, Shape::Params { .. }) {
        return None;
    }
    let pattern = wrap_like(&value_to_pattern_text(&right.value));
    let subject = match (&left.value, left.shape) {
        (Value::Null, _) => return Some(false),
        (Value::Text(s), _) => s.clone(),
        _ => return None,
    };
    let matched = like_match(pattern.as_bytes(), subject.as_bytes())?;
    Some(matched != negated)
}

/// SQLite's LIKE with `ESCAPE '\\'`: `%` any run, `_` one character, ASCII letters match
/// either case (escaped ones too). `None` for a pattern ending in a lone escape, or when the
/// match takes too many steps (many `%`): SQL decides those.
fn like_match(p: &[u8], s: &[u8]) -> Option<bool> {
    let mut budget = 20_000usize;
    like_steps(p, s, &mut budget)
}

/// The byte length of the UTF-8 character at the start of `b` (at least 1, at most `b.len()`).
fn char_len(b: &[u8]) -> usize {
    let n = match b.first() {
        Some(c) if *c >= 0xF0 => 4,
        Some(c) if *c >= 0xE0 => 3,
        Some(c) if *c >= 0xC0 => 2,
        _ => 1,
    };
    n.min(b.len()).max(1)
}

fn like_steps(p: &[u8], s: &[u8], budget: &mut usize) -> Option<bool> {
    *budget = budget.checked_sub(1)?;
    match p.first() {
        None => Some(s.is_empty()),
        Some(b'%') => {
            let rest = &p[1..];
            let mut i = 0;
            loop {
                if like_steps(rest, &s[i..], budget)? {
                    return Some(true);
                }
                if i >= s.len() {
                    return Some(false);
                }
                i += char_len(&s[i..]);
            }
        }
        Some(b'_') => {
            if s.is_empty() {
                return Some(false);
            }
            like_steps(&p[1..], &s[char_len(s)..], budget)
        }
        Some(b'\\') => {
            let escaped = p.get(1..).filter(|r| !r.is_empty())?;
            let n = char_len(escaped);
            let lit = &escaped[..n];
            if s.len() >= n && s[..n].eq_ignore_ascii_case(lit) {
                like_steps(&p[1 + n..], &s[n..], budget)
            } else {
                Some(false)
            }
        }
        Some(c) => {
            let Some(d) = s.first() else { return Some(false) };
            if c.eq_ignore_ascii_case(d) {
                like_steps(&p[1..], &s[1..], budget)
            } else {
                Some(false)
            }
        }
    }
}
