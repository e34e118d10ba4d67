//! PostgreSQL spelling of the dialect-specific nodes, reproducing SQLite's semantics.
//!
//! The data model on PostgreSQL: text columns are `TEXT COLLATE "C"` (bytewise, like SQLite's
//! BINARY collation), numbers `float8`, booleans `boolean` (0/1 on SQLite), JSON columns `json`
//! holding the same compact text SQLite stores.
//!
//! Comparisons are typed ([`Ty`]). When both operands have the same simple type the native
//! operators are used, so plain column comparisons stay index-friendly. Anything else (text vs
//! number, JSON values, unknown types) goes through the `sb_*` helper functions installed by
//! [`support_sql`], which emulate SQLite's value model:
//!
//! * every operand is converted to a canonical `jsonb` scalar: a number, a string or SQL NULL
//!   (JSON `true`/`false` become 1/0, objects and arrays their JSON text, as `json_extract`
//!   returns them);
//! * `sb_cmp` orders them the SQLite way: NULL is unknown, numbers compare numerically and sort
//!   before text, text compares bytewise;
//! * SQLite's comparison affinity is applied first: when a column with TEXT affinity meets a
//!   value without affinity, numbers are converted to text (as SQLite prints them); when a
//!   column with NUMERIC affinity (number, bool and JSON columns) is involved, numeric-looking
//!   text is converted to a number. `COALESCE` has no affinity, so the loose operators skip it.
//!
//! LIKE and LOWER fold ASCII letters only (`translate`), numbers are converted to text with
//! SQLite's rules, and dates go through `sb_strftime`, a port of SQLite's date functions.
//!
//! `tests/it` checks all of this differentially against SQLite. Known differences, by design:
//! * `JsonEach` yields text: elements that are JSON numbers or booleans are numbers on SQLite
//!   (`true` is 1) but text on PostgreSQL (`'5'`, `'true'`). Arrays of strings agree exactly.
//! * `Ty::Any` operands get no comparison affinity (their column is unknown).
//! * ORDER BY a bare column sorts natively: JSON columns must be wrapped in `Expr::JsonText`;
//!   with `distinct`, ORDER BY expressions other than plain columns are rejected by PostgreSQL.
//! * strftime: the `±YYYY-MM-DD` modifier yields NULL; `localtime`/`utc` assume a UTC server.
//! * Numbers compare as `float8` (SQLite compares two 64-bit integers exactly).

use crate::ast::*;
use crate::render::Writer;
use crate::{Rendered, Value};

/// Name of the insertion-order identity column of collection tables on PostgreSQL.
pub(crate) const ROWID: &str = "_rowid";

pub(crate) fn render(stmt: &Stmt) -> Rendered {
    let mut w = Writer::new(crate::Dialect::Postgres);
    w.stmt(stmt);
    w.finish()
}

/// SQL that creates the helper functions the PostgreSQL rendering relies on (idempotent:
/// `CREATE OR REPLACE`). Backends run it once at start-up.
pub fn support_sql() -> &'static str {
    include_str!("postgres_support.sql")
}

pub(crate) fn column_type(w: &mut Writer, c: &ColumnDef) {
    let (ty, default, not_null) = match c.ty {
        ColumnType::Text => ("TEXT COLLATE \"C\"", Some(Value::Text(String::new())), true),
        ColumnType::Number => ("DOUBLE PRECISION", Some(Value::Int(0)), true),
        ColumnType::Bool => ("BOOLEAN", Some(Value::Bool(false)), true),
        ColumnType::Json => ("JSON", None, false),
        ColumnType::Integer => ("BIGINT", None, false),
    };
    w.push(ty);
    if c.primary_key {
        w.push(" PRIMARY KEY");
    }
    if not_null || c.not_null || c.primary_key {
        w.push(" NOT NULL");
    }
    let default = match (&c.default, c.primary_key) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => default,
        (None, true) => None,
    };
    if let Some(d) = default {
        w.push(" DEFAULT ");
        w.literal(&d);
    }
}

/// What the renderer knows about an operand: the PostgreSQL type it renders to and the SQLite
/// storage class(es) it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `text`.
    Text,
    /// `float8` from a NUMERIC column: SQLite stores integral values as INTEGER.
    NumCol,
    /// `float8` that SQLite holds as REAL (float parameters, computed distances).
    Real,
    /// An integer (`int8`/`int4`).
    Int,
    /// `boolean` (0/1 on SQLite).
    Bool,
    /// `json` with `json_extract` semantics (strings unquoted, true/false as 1/0).
    Json,
    /// A JSON column's stored text (`json` or `text`); SQLite stores bare numbers as numbers.
    JsonText,
    /// Unknown type (`Ty::Any`, or a column in a position without a static type): the
    /// `sb_val`/`sb_text` overloads convert by PostgreSQL's own type of the value.
    Any,
    /// The NULL literal.
    Null,
}

impl Kind {
    fn is_numeric(self) -> bool {
        matches!(self, Kind::NumCol | Kind::Real | Kind::Int | Kind::Bool)
    }
}

fn kind_of_ty(ty: Ty) -> Kind {
    match ty {
        Ty::Text => Kind::Text,
        Ty::Number => Kind::NumCol,
        Ty::Bool => Kind::Bool,
        Ty::Json => Kind::Json,
        Ty::JsonText => Kind::JsonText,
        Ty::Null | Ty::Any => Kind::Any,
    }
}

/// The kind of an expression: intrinsic where the node determines it (parameters by value,
/// functions by result), otherwise the static type from the tree.
fn kind_of(e: &Expr, ty: Ty) -> Kind {
    match e {
        Expr::Param(v) => match v {
            Value::Null => Kind::Null,
            Value::Text(_) | Value::Json(_) => Kind::Text,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Real,
            Value::Bool(_) => Kind::Bool,
        },
        Expr::Null => Kind::Null,
        Expr::Int(_) | Expr::RowId { .. } | Expr::CountStar | Expr::Random => Kind::Int,
        Expr::JsonArrayLength(_) => Kind::Int,
        Expr::Str(_) | Expr::Lower(_) | Expr::ContainsPattern(_) | Expr::Strftime { .. } => {
            Kind::Text
        }
        Expr::JsonExtract { .. } => Kind::Json,
        Expr::JsonText(_) => Kind::JsonText,
        Expr::GeoDistance { .. } => Kind::Real,
        Expr::Cmp { .. }
        | Expr::And(_)
        | Expr::Or(_)
        | Expr::Not(_)
        | Expr::IsNull { .. }
        | Expr::Like { .. }
        | Expr::Exists { .. }
        | Expr::InSelect { .. }
        | Expr::InList { .. } => Kind::Bool,
        Expr::Column { .. } | Expr::Subquery(_) | Expr::Case { .. } | Expr::Arith { .. } => {
            kind_of_ty(ty)
        }
    }
}

/// The kind of an expression in a position without a static type.
fn kind_untyped(e: &Expr) -> Kind {
    kind_of(e, Ty::Any)
}

/// SQLite column affinity, as far as it matters for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aff {
    None,
    Text,
    Numeric,
}

fn affinity(e: &Expr, ty: Ty) -> Aff {
    match e {
        Expr::Column { .. } => match ty {
            Ty::Text => Aff::Text,
            Ty::Number | Ty::Bool | Ty::Json | Ty::JsonText => Aff::Numeric,
            Ty::Any | Ty::Null => Aff::None,
        },
        Expr::RowId { .. } => Aff::Numeric,
        Expr::JsonText(inner) => affinity(inner, ty),
        Expr::Subquery(s) => match s.columns.first() {
            Some(SelectItem::Expr { expr, .. }) => affinity(expr, ty),
            _ => Aff::None,
        },
        _ => Aff::None,
    }
}

/// SQLite's `sqlite3CompareAffinity`: two columns compare numerically if either is numeric
/// (otherwise without conversion); a column and a non-column use the column's affinity.
fn compare_affinity(a: Aff, b: Aff) -> Aff {
    match (a, b) {
        (Aff::None, x) | (x, Aff::None) => x,
        (Aff::Numeric, _) | (_, Aff::Numeric) => Aff::Numeric,
        (Aff::Text, Aff::Text) => Aff::None,
    }
}

/// One comparison operand during rendering.
struct Operand<'a> {
    expr: &'a Expr,
    ty: Ty,
    kind: Kind,
    /// Render the operand's SQLite text form (TEXT affinity applied).
    as_text: bool,
    /// Apply NUMERIC affinity (numeric-looking text becomes a number).
    numaff: bool,
    /// A parameter replaced by its affinity-converted value.
    converted: Option<Value>,
}

impl<'a> Operand<'a> {
    fn new(t: &'a Typed) -> Operand<'a> {
        Operand {
            expr: &t.expr,
            ty: t.ty,
            kind: kind_of(&t.expr, t.ty),
            as_text: false,
            numaff: false,
            converted: None,
        }
    }

    /// The kind after conversions.
    fn eff(&self) -> Kind {
        if self.as_text { Kind::Text } else { self.kind }
    }

    fn render_native(&self, w: &mut Writer) {
        if let Some(v) = &self.converted {
            w.param(v);
        } else if self.as_text || self.kind == Kind::Text {
            text_form(w, self.expr, self.ty, self.kind);
        } else {
            w.expr(self.expr);
        }
    }

    fn render_canonical(&self, w: &mut Writer) {
        if self.numaff {
            w.push("sb_numaff(");
        }
        if let Some(v) = &self.converted {
            let e = Expr::Param(v.clone());
            canonical(w, &e, Ty::Any, kind_of(&e, Ty::Any));
        } else if self.as_text {
            w.push("to_jsonb(");
            text_form(w, self.expr, self.ty, self.kind);
            w.push(")");
        } else {
            canonical(w, self.expr, self.ty, self.kind);
        }
        if self.numaff {
            w.push(")");
        }
    }
}

pub(crate) fn expr(w: &mut Writer, e: &Expr) {
    match e {
        Expr::RowId { table } => {
            if let Some(t) = table {
                w.ident(t);
                w.push(".");
            }
            w.ident(ROWID);
        }
        Expr::Cmp { op, lhs, rhs } => cmp(w, *op, lhs, rhs),
        Expr::Like { expr, pattern, negated } => {
            w.push(if *negated { "(NOT sb_like(" } else { "(sb_like(" });
            text_form(w, &expr.expr, expr.ty, kind_of(&expr.expr, expr.ty));
            w.push(", ");
            text_form(w, &pattern.expr, pattern.ty, kind_of(&pattern.expr, pattern.ty));
            w.push("))");
        }
        Expr::Lower(x) => {
            w.push("sb_lower(");
            text_form(w, x, Ty::Any, kind_untyped(x));
            w.push(")");
        }
        Expr::ContainsPattern(x) => contains_pattern(w, x, kind_untyped(x)),
        Expr::JsonExtract { expr, path } => json_extract(w, expr, path),
        Expr::JsonArrayLength(x) => {
            let kind = kind_of(&x.expr, x.ty);
            if kind == Kind::JsonText {
                w.push("(CASE WHEN json_typeof(");
                json_of_json_text(w, &x.expr);
                w.push(") = 'array' THEN json_array_length(");
                json_of_json_text(w, &x.expr);
                w.push(") WHEN ");
                json_of_json_text(w, &x.expr);
                w.push(" IS NULL THEN NULL ELSE 0 END)");
            } else {
                w.push("sb_json_len(");
                text_form(w, &x.expr, x.ty, kind);
                w.push(")");
            }
        }
        Expr::JsonText(x) => {
            w.push("(");
            w.expr(x);
            w.push(")::text");
        }
        Expr::Random => w.push("random()"),
        Expr::Strftime { format, time, modifiers } => {
            w.push("sb_strftime(");
            text_form(w, format, Ty::Text, kind_untyped(format));
            w.push(", ");
            match time {
                Some(t) => canonical(w, &t.expr, t.ty, kind_of(&t.expr, t.ty)),
                None => w.push("'\"now\"'::jsonb"),
            }
            w.push(", ARRAY[");
            w.list(modifiers, ", ", |w, m| text_form(w, m, Ty::Text, kind_untyped(m)));
            w.push("]::text[])");
        }
        Expr::GeoDistance { lon_a, lat_a, lon_b, lat_b } => {
            let rad = |w: &mut Writer, f: &str, x: &Typed| {
                w.push(f);
                w.push("(radians(");
                num_form(w, x);
                w.push("))");
            };
            w.push("(6371 * acos(sb_clamp1(");
            rad(w, "cos", lat_a);
            w.push(" * ");
            rad(w, "cos", lat_b);
            w.push(" * cos(radians(");
            num_form(w, lon_b);
            w.push(") - radians(");
            num_form(w, lon_a);
            w.push(")) + ");
            rad(w, "sin", lat_a);
            w.push(" * ");
            rad(w, "sin", lat_b);
            w.push(")))");
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

fn cmp(w: &mut Writer, op: CmpOp, lhs: &Typed, rhs: &Typed) {
    let mut l = Operand::new(lhs);
    let mut r = Operand::new(rhs);
    let loose = matches!(op, CmpOp::LooseEq | CmpOp::LooseIsNot);
    if !loose {
        match compare_affinity(affinity(l.expr, l.ty), affinity(r.expr, r.ty)) {
            Aff::Text => {
                for o in [&mut l, &mut r] {
                    o.as_text = !matches!(o.kind, Kind::Text | Kind::Null);
                }
            }
            Aff::Numeric => {
                for o in [&mut l, &mut r] {
                    apply_numeric_affinity(o);
                }
            }
            Aff::None => {}
        }
    }
    let (lk, rk) = (l.eff(), r.eff());
    let text = |k: Kind| matches!(k, Kind::Text | Kind::Null);
    let num = |k: Kind| k.is_numeric() || k == Kind::Null;
    let native_text = text(lk) && text(rk) && !l.numaff && !r.numaff;
    let native_num = num(lk) && num(rk);
    w.push("(");
    if native_text {
        native_text_cmp(w, op, &l, &r);
    } else if native_num {
        native_num_cmp(w, op, &l, &r);
    } else {
        dynamic_cmp(w, op, &l, &r);
    }
    w.push(")");
}

/// NUMERIC affinity on one operand: numeric-looking text becomes a number. Text parameters are
/// converted right here; other text-capable operands are converted in SQL.
fn apply_numeric_affinity(o: &mut Operand<'_>) {
    match o.kind {
        Kind::Text => {
            if let Expr::Param(Value::Text(s)) = o.expr {
                if let Some(f) = sqlite_numeric(s) {
                    o.converted = Some(Value::Float(f));
                    o.kind = Kind::Real;
                }
            } else {
                o.numaff = true;
            }
        }
        Kind::Json | Kind::JsonText | Kind::Any => o.numaff = true,
        Kind::NumCol | Kind::Real | Kind::Int | Kind::Bool | Kind::Null => {}
    }
}

fn op_str(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq | CmpOp::LooseEq => " = ",
        CmpOp::Is => " IS NOT DISTINCT FROM ",
        CmpOp::IsNot => " IS DISTINCT FROM ",
        CmpOp::LooseIsNot => " <> ",
        CmpOp::Lt => " < ",
        CmpOp::Lte => " <= ",
        CmpOp::Gt => " > ",
        CmpOp::Gte => " >= ",
    }
}

fn native_text_cmp(w: &mut Writer, op: CmpOp, l: &Operand<'_>, r: &Operand<'_>) {
    let loose = matches!(op, CmpOp::LooseEq | CmpOp::LooseIsNot);
    let ordering = matches!(op, CmpOp::Lt | CmpOp::Lte | CmpOp::Gt | CmpOp::Gte);
    let side = |w: &mut Writer, o: &Operand<'_>, collate: bool| {
        if loose {
            w.push("COALESCE(");
            o.render_native(w);
            w.push(", '')");
        } else if collate {
            // Bytewise order, whatever the database's default collation is.
            w.push("(");
            o.render_native(w);
            w.push(") COLLATE \"C\"");
        } else {
            o.render_native(w);
        }
    };
    side(w, l, ordering);
    w.push(op_str(op));
    side(w, r, false);
}

fn native_num_cmp(w: &mut Writer, op: CmpOp, l: &Operand<'_>, r: &Operand<'_>) {
    // Booleans meet numbers as 0/1, like SQLite stores them.
    let both_bool = l.eff() == Kind::Bool && r.eff() == Kind::Bool;
    let side = |w: &mut Writer, o: &Operand<'_>| {
        if o.eff() == Kind::Bool && !both_bool {
            w.push("(");
            o.render_native(w);
            w.push(")::int");
        } else {
            o.render_native(w);
        }
    };
    // COALESCE(x, '') never equals a number, and two NULLs both become '': NULL-safe equality.
    let op_s = match op {
        CmpOp::LooseEq => " IS NOT DISTINCT FROM ",
        CmpOp::LooseIsNot => " IS DISTINCT FROM ",
        _ => op_str(op),
    };
    side(w, l);
    w.push(op_s);
    side(w, r);
}

fn dynamic_cmp(w: &mut Writer, op: CmpOp, l: &Operand<'_>, r: &Operand<'_>) {
    match op {
        CmpOp::Is | CmpOp::IsNot => {
            w.push(if op == CmpOp::Is { "sb_is(" } else { "NOT sb_is(" });
            l.render_canonical(w);
            w.push(", ");
            r.render_canonical(w);
            w.push(")");
        }
        CmpOp::LooseEq | CmpOp::LooseIsNot => {
            w.push("sb_cmp(COALESCE(");
            l.render_canonical(w);
            w.push(", '\"\"'::jsonb), COALESCE(");
            r.render_canonical(w);
            w.push(", '\"\"'::jsonb))");
            w.push(if op == CmpOp::LooseEq { " = 0" } else { " <> 0" });
        }
        _ => {
            w.push("sb_cmp(");
            l.render_canonical(w);
            w.push(", ");
            r.render_canonical(w);
            w.push(")");
            w.push(op_str(op));
            w.push("0");
        }
    }
}

/// The canonical `jsonb` scalar of a value (number, string or NULL), SQLite's view of it.
fn canonical(w: &mut Writer, e: &Expr, ty: Ty, kind: Kind) {
    let wrap = |w: &mut Writer, pre: &str, post: &str| {
        w.push(pre);
        w.expr(e);
        w.push(post);
    };
    match kind {
        Kind::Text => {
            w.push("to_jsonb(");
            text_form(w, e, ty, kind);
            w.push(")");
        }
        Kind::NumCol | Kind::Real | Kind::Int => wrap(w, "to_jsonb((", ")::float8)"),
        Kind::Bool => wrap(w, "to_jsonb((", ")::int)"),
        Kind::Json => match e {
            Expr::JsonExtract { .. } => wrap(w, "sb_vj(", ")"),
            _ => wrap(w, "sb_vj((", ")::json)"),
        },
        Kind::JsonText => {
            w.push("sb_vn(");
            text_form(w, e, ty, kind);
            w.push(")");
        }
        Kind::Any => wrap(w, "sb_val(", ")"),
        Kind::Null => w.push("NULL::jsonb"),
    }
}

/// The text SQLite would produce from a value (e.g. for LIKE): numbers as SQLite prints them,
/// booleans as 0/1, JSON values as `json_extract` returns them.
fn text_form(w: &mut Writer, e: &Expr, ty: Ty, kind: Kind) {
    if let Expr::ContainsPattern(inner) = e {
        // The pattern's static type describes the wrapped operand.
        return contains_pattern(w, inner, kind_of(inner, ty));
    }
    let wrap = |w: &mut Writer, pre: &str, post: &str| {
        w.push(pre);
        w.expr(e);
        w.push(post);
    };
    match kind {
        // JSON parameters and string constants need a type of their own.
        Kind::Text => match e {
            Expr::Param(Value::Json(_)) | Expr::Str(_) => wrap(w, "(", ")::text"),
            _ => w.expr(e),
        },
        Kind::NumCol => wrap(w, "sb_num_text((", ")::float8)"),
        Kind::Real => wrap(w, "sb_real_text((", ")::float8)"),
        Kind::Int => wrap(w, "(", ")::int8::text"),
        Kind::Bool => wrap(w, "(", ")::int::text"),
        Kind::Json => match e {
            Expr::JsonExtract { .. } => wrap(w, "sb_jt(", ")"),
            _ => wrap(w, "sb_jt((", ")::json)"),
        },
        Kind::JsonText => match e {
            Expr::JsonText(_) => w.expr(e),
            _ => wrap(w, "(", ")::text"),
        },
        Kind::Any => wrap(w, "sb_text(", ")"),
        Kind::Null => w.push("NULL::text"),
    }
}

fn contains_pattern(w: &mut Writer, x: &Expr, kind: Kind) {
    w.push("('%' || ");
    text_form(w, x, Ty::Any, kind);
    w.push(" || '%')");
}

/// A `float8` for math functions: SQLite's math functions take numbers and numeric-looking
/// text, and yield NULL for anything else.
fn num_form(w: &mut Writer, t: &Typed) {
    let kind = kind_of(&t.expr, t.ty);
    match kind {
        Kind::NumCol | Kind::Real | Kind::Int => {
            w.push("(");
            w.expr(&t.expr);
            w.push(")::float8");
        }
        Kind::Bool => {
            w.push("(");
            w.expr(&t.expr);
            w.push(")::int::float8");
        }
        Kind::Null => w.push("NULL::float8"),
        _ => {
            w.push("sb_num(");
            canonical(w, &t.expr, t.ty, kind);
            w.push(")");
        }
    }
}

/// A `json` value of a JSON-text operand (a JSON column, possibly wrapped in `JsonText`).
fn json_of_json_text(w: &mut Writer, e: &Expr) {
    let inner = match e {
        Expr::JsonText(inner) => inner,
        other => other,
    };
    w.push("(");
    w.expr(inner);
    w.push(")::json");
}

fn json_extract(w: &mut Writer, e: &Expr, path: &[JsonPathSeg]) {
    // Keys are bound parameters; indexes are integers written into the text. An index beyond
    // int4 cannot exist in any array, and a key with a double quote cannot be addressed on
    // SQLite: both select nothing.
    let representable = path.iter().all(|s| match s {
        JsonPathSeg::Index(i) => i32::try_from(*i).is_ok(),
        JsonPathSeg::Key(k) => !k.contains('"'),
    });
    if !representable {
        return w.push("NULL::json");
    }
    w.push("((");
    w.expr(e);
    w.push(")::json");
    for seg in path {
        w.push(" -> ");
        match seg {
            JsonPathSeg::Key(k) => w.param(&Value::Text(k.clone())),
            JsonPathSeg::Index(i) => w.push(&i.to_string()),
        }
    }
    w.push(")");
}

/// The rows of a `JsonEach` join source, as `json_array_elements_text(...)`.
pub(crate) fn json_each(w: &mut Writer, x: &Typed) {
    let kind = kind_of(&x.expr, x.ty);
    w.push("json_array_elements_text(");
    if kind == Kind::JsonText {
        w.push("CASE WHEN ");
        json_of_json_text(w, &x.expr);
        w.push(" IS NULL THEN '[]'::json WHEN json_typeof(");
        json_of_json_text(w, &x.expr);
        w.push(") = 'array' THEN ");
        json_of_json_text(w, &x.expr);
        w.push(" ELSE json_build_array((");
        json_of_json_text(w, &x.expr);
        w.push(")::text) END");
    } else {
        w.push("sb_each(");
        text_form(w, &x.expr, x.ty, kind);
        w.push(")");
    }
    w.push(")");
}

/// ORDER BY with SQLite's ordering: NULLs first ascending, numbers before text, text bytewise.
pub(crate) fn order_by(w: &mut Writer, o: &OrderBy) {
    let dir = if o.desc { " DESC" } else { " ASC" };
    let nulls = if o.desc { " NULLS LAST" } else { " NULLS FIRST" };
    // Columns sort natively (index-friendly; text columns are COLLATE "C"). JSON columns must
    // be wrapped in `JsonText` by the caller, as `json` has no ordering on PostgreSQL.
    let kind = kind_untyped(&o.expr);
    match kind {
        _ if matches!(o.expr, Expr::Column { .. }) => {
            w.expr(&o.expr);
            w.push(dir);
            w.push(nulls);
        }
        Kind::NumCol | Kind::Real | Kind::Int | Kind::Bool | Kind::Null => {
            w.expr(&o.expr);
            w.push(dir);
            w.push(nulls);
        }
        Kind::Text => {
            w.push("(");
            w.expr(&o.expr);
            w.push(") COLLATE \"C\"");
            w.push(dir);
            w.push(nulls);
        }
        k @ (Kind::Json | Kind::JsonText | Kind::Any) => {
            w.push("sb_sort_key(");
            canonical(w, &o.expr, Ty::Any, k);
            w.push(")");
            w.push(dir);
        }
    }
}

/// `CREATE INDEX` from a SQLite-dialect definition. A UNIQUE index over `COLLATE NOCASE`
/// columns becomes an index on `sb_lower(col)` (ASCII-only folding, exactly SQLite's NOCASE).
/// In a plain index NOCASE only affects SQLite's planner, so the column is indexed as is
/// (which is what equality queries on PostgreSQL can use).
pub(crate) fn create_index(w: &mut Writer, def: &IndexDef) {
    w.push("CREATE ");
    if def.unique {
        w.push("UNIQUE ");
    }
    w.push("INDEX ");
    if def.if_not_exists {
        w.push("IF NOT EXISTS ");
    }
    w.ident(&def.name);
    w.push(" ON ");
    w.ident(&def.table);
    w.push(" (");
    w.list(&def.columns, ", ", |w, c| {
        let fold = c.nocase && def.unique;
        if fold {
            w.push("sb_lower((");
        }
        if c.is_expr {
            w.push("(");
            w.push(&crate::index::sqlite_quotes_to_pg(&c.name));
            w.push(")");
        } else {
            w.ident(&c.name);
        }
        if fold {
            w.push(")::text)");
        }
        if c.desc {
            w.push(" DESC");
        }
    });
    w.push(")");
    if let Some(cond) = &def.where_ {
        w.push(" WHERE ");
        w.push(&crate::index::sqlite_quotes_to_pg(cond));
    }
}

/// Verbatim SQL with `?` placeholders: each `?` outside string literals, quoted identifiers
/// and comments becomes a typed `$n` (or NULL).
pub(crate) fn raw(w: &mut Writer, sql: &str, params: &[Value]) {
    let mut next = params.iter();
    let mut chars = sql.char_indices().peekable();
    let mut start = 0;
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                for (_, d) in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek().map(|p| p.1) == Some('-') => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek().map(|p| p.1) == Some('*') => {
                chars.next();
                let mut prev = ' ';
                for (_, d) in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
            }
            '?' => {
                w.push(&sql[start..i]);
                start = i + 1;
                match next.next() {
                    Some(v) => w.param(v),
                    None => w.push("?"),
                }
            }
            _ => {}
        }
    }
    w.push(&sql[start..]);
    // Surplus parameters are passed on so the driver reports the mismatch.
    w.params.extend(next.cloned());
}

/// SQLite's test for numeric-looking text (`sqlite3AtoF` consuming the whole string, surrounding
/// whitespace allowed), returning the number.
pub(crate) fn sqlite_numeric(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'));
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut n_digits = i - digits_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        n_digits += i - frac_start;
    }
    if n_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    // Rust's parser does not take a leading '+' before '.', nor a trailing '.'.
    let norm = t.strip_prefix('+').unwrap_or(t);
    let norm = if norm.ends_with('.') { format!("{norm}0") } else { norm.to_owned() };
    norm.parse::<f64>().ok()
}
