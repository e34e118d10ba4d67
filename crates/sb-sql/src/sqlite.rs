//! SQLite spelling of the dialect-specific nodes.
//!
//! SQLite is the reference: the SQL here is what PocketBase itself runs, so it is written
//! plainly and the typed annotations are ignored. The only additions are defensive: JSON paths
//! are bound parameters (their keys come from user filters), and the `acos` argument of the
//! distance formula is clamped to [-1, 1] (PostgreSQL does the same).
//!
//! The bundled SQLite of rusqlite is built without `SQLITE_ENABLE_MATH_FUNCTIONS`, so the math
//! functions the distance formula uses must be registered by the backend: see
//! [`crate::SQLITE_FUNCTIONS`].

use crate::ast::*;
use crate::render::Writer;
use crate::{Rendered, Value};

pub(crate) fn render(stmt: &Stmt) -> Rendered {
    let mut w = Writer::new(crate::Dialect::Sqlite);
    w.stmt(stmt);
    w.finish()
}

pub(crate) fn column_type(w: &mut Writer, c: &ColumnDef) {
    let (ty, default, not_null) = match c.ty {
        ColumnType::Text => ("TEXT", Some(Value::Text(String::new())), true),
        ColumnType::Number => ("NUMERIC", Some(Value::Int(0)), true),
        ColumnType::Bool => ("BOOLEAN", Some(Value::Bool(false)), true),
        ColumnType::Json => ("JSON", Some(Value::Null), false),
        ColumnType::Integer => ("INTEGER", None, false),
    };
    w.push(ty);
    if c.primary_key {
        w.push(" PRIMARY KEY");
    }
    // A primary key gets no implicit default: its value is always supplied.
    let default = match (&c.default, c.primary_key) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => default,
        (None, true) => None,
    };
    if let Some(d) = default {
        w.push(" DEFAULT ");
        w.literal(&d);
    }
    if not_null || c.not_null || c.primary_key {
        w.push(" NOT NULL");
    }
}

pub(crate) fn expr(w: &mut Writer, e: &Expr) {
    match e {
        Expr::RowId { table } => {
            if let Some(t) = table {
                w.ident(t);
                w.push(".");
            }
            w.push("rowid");
        }
        Expr::Cmp { op, lhs, rhs } => cmp(w, *op, &lhs.expr, &rhs.expr),
        Expr::Like { expr, pattern, negated } => {
            w.push("(");
            w.expr(&expr.expr);
            w.push(if *negated { " NOT LIKE " } else { " LIKE " });
            w.expr(&pattern.expr);
            w.push(" ESCAPE '\\')");
        }
        Expr::Lower(x) => call(w, "LOWER", x),
        Expr::ContainsPattern(x) => {
            w.push("('%' || ");
            w.expr(x);
            w.push(" || '%')");
        }
        Expr::JsonExtract { expr, path } => match sqlite_json_path(path) {
            Some(p) => {
                w.push("JSON_EXTRACT(");
                w.expr(expr);
                w.push(", ");
                w.param(&Value::Text(p));
                w.push(")");
            }
            None => w.push("NULL"),
        },
        Expr::JsonArrayLength(x) => {
            // NULL stays NULL, JSON text is measured as is (0 unless an array), anything else
            // counts as a one-element array.
            let x = &x.expr;
            w.push("json_array_length(CASE WHEN json_valid(");
            w.expr(x);
            w.push(") THEN ");
            w.expr(x);
            w.push(" WHEN ");
            w.expr(x);
            w.push(" IS NULL THEN NULL ELSE json_array(");
            w.expr(x);
            w.push(") END)");
        }
        Expr::JsonText(x) => w.expr(x),
        Expr::Random => w.push("RANDOM()"),
        Expr::Strftime { format, time, modifiers } => {
            w.push("strftime(");
            w.expr(format);
            match time {
                Some(t) => {
                    w.push(", ");
                    w.expr(&t.expr);
                }
                None if !modifiers.is_empty() => w.push(", 'now'"),
                None => {}
            }
            for m in modifiers {
                w.push(", ");
                w.expr(m);
            }
            w.push(")");
        }
        Expr::GeoDistance { lon_a, lat_a, lon_b, lat_b } => {
            let rad = |w: &mut Writer, f: &str, x: &Typed| {
                w.push(f);
                w.push("(radians(");
                w.expr(&x.expr);
                w.push("))");
            };
            w.push("(6371 * acos(MIN(1.0, MAX(-1.0, ");
            rad(w, "cos", lat_a);
            w.push(" * ");
            rad(w, "cos", lat_b);
            w.push(" * cos(radians(");
            w.expr(&lon_b.expr);
            w.push(") - radians(");
            w.expr(&lon_a.expr);
            w.push(")) + ");
            rad(w, "sin", lat_a);
            w.push(" * ");
            rad(w, "sin", lat_b);
            w.push("))))");
        }
        // Handled by the shared walker; listed for exhaustiveness.
        Expr::Column { .. }
        | Expr::Param(_)
        | Expr::Null
        | Expr::Int(_)
        | Expr::Str(_)
        | Expr::And(_)
        | Expr::Or(_)
        | Expr::Not(_)
        | Expr::IsNull { .. }
        | Expr::Arith { .. }
        | Expr::Exists { .. }
        | Expr::InSelect { .. }
        | Expr::InList { .. }
        | Expr::CountStar
        | Expr::Subquery(_)
        | Expr::Case { .. } => w.expr(e),
    }
}

fn call(w: &mut Writer, f: &str, x: &Expr) {
    w.push(f);
    w.push("(");
    w.expr(x);
    w.push(")");
}

fn cmp(w: &mut Writer, op: CmpOp, l: &Expr, r: &Expr) {
    let loose = matches!(op, CmpOp::LooseEq | CmpOp::LooseIsNot);
    w.push("(");
    if loose {
        w.push("COALESCE(");
        w.expr(l);
        w.push(", '')");
    } else {
        w.expr(l);
    }
    w.push(match op {
        CmpOp::Eq | CmpOp::LooseEq => " = ",
        CmpOp::Is => " IS ",
        CmpOp::IsNot | CmpOp::LooseIsNot => " IS NOT ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
    });
    if loose {
        w.push("COALESCE(");
        w.expr(r);
        w.push(", '')");
    } else {
        w.expr(r);
    }
    w.push(")");
}

/// `json_each` over a value: a JSON array yields its elements, NULL yields nothing, and any
/// other value yields one row holding it.
pub(crate) fn json_each(w: &mut Writer, x: &Typed) {
    let x = &x.expr;
    w.push("json_each(CASE WHEN ");
    w.expr(x);
    w.push(" IS NULL THEN json_array() WHEN json_valid(");
    w.expr(x);
    w.push(") THEN (CASE WHEN json_type(");
    w.expr(x);
    w.push(") = 'array' THEN ");
    w.expr(x);
    w.push(" ELSE json_array(");
    w.expr(x);
    w.push(") END) ELSE json_array(");
    w.expr(x);
    w.push(") END)");
}

/// The SQLite JSON path of a segment list (`$."a"[0]."b c"`), or `None` when a key cannot be
/// expressed (SQLite path keys cannot contain a double quote; such paths select nothing).
pub(crate) fn sqlite_json_path(path: &[JsonPathSeg]) -> Option<String> {
    let mut p = String::from("$");
    for seg in path {
        match seg {
            JsonPathSeg::Index(i) => p.push_str(&format!("[{i}]")),
            JsonPathSeg::Key(k) => {
                if k.contains('"') {
                    return None;
                }
                // Backslashes in a quoted key are JSON escapes; double them to match literally.
                p.push_str(".\"");
                p.push_str(&k.replace('\\', "\\\\"));
                p.push('"');
            }
        }
    }
    Some(p)
}
