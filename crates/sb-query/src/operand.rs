//! A resolved operand: the SQL expression of one side of a comparison plus what PocketBase's
//! comparison builder needs to know about it.

use sb_sql::{Expr, Join, Ty, Value};

use crate::affinity::{Affinity, value_ty};

/// PocketBase's "null fallback" preference of an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// `=` treats NULL and `''` alike (COALESCE or `x = '' OR x IS NULL` forms).
    Auto,
    /// Compare with `IS` / `IS NOT` as is (JSON extractions, `geoDistance`, `:changed`).
    Disabled,
    /// Never take the direct-comparison shortcut (`strftime`).
    Enforced,
}

/// What the equality builder looks at to detect empty and known non-empty operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The SQL NULL literal (`null`, a missing `@request.*` value).
    Null,
    /// A constant 1/0 (`true`, `false`, `:isset`): known non-empty.
    BoolLiteral,
    /// An expression carrying bound parameters: how many, and whether one is `''` or NULL.
    Params { count: usize, has_empty: bool },
    /// A column or computed expression without parameters.
    Plain,
}

/// The independent join chain PocketBase's multi-match sub-query walks for a multi-valued
/// operand: `value` evaluated over `joins` (LEFT JOINed from a one-row anchor) yields every
/// value of the operand for the current row.
#[derive(Debug, Clone)]
pub(crate) struct MultiMatch {
    pub joins: Vec<Join>,
    pub value: Expr,
}

#[derive(Debug, Clone)]
pub(crate) struct Operand {
    pub expr: Expr,
    pub ty: Ty,
    pub affinity: Affinity,
    pub shape: Shape,
    pub fallback: Fallback,
    /// Set for multi-valued operands (the ALL semantics of the plain operators).
    pub multi: Option<MultiMatch>,
    /// A condition ANDed to every comparison using this operand (email visibility).
    pub after: Option<Expr>,
    /// The expression references main-query join aliases.
    pub uses_joins: bool,
    /// Resolved from a field path (a valid sort key), not from a literal or request value.
    pub from_path: bool,
}

impl Operand {
    pub fn new(expr: Expr, ty: Ty, shape: Shape) -> Self {
        Operand {
            expr,
            ty,
            affinity: Affinity::None,
            shape,
            fallback: Fallback::Auto,
            multi: None,
            after: None,
            uses_joins: false,
            from_path: false,
        }
    }

    pub fn null() -> Self {
        Operand::new(Expr::Null, Ty::Null, Shape::Null)
    }

    /// A bound parameter (`NULL` values become the NULL literal, as PocketBase does).
    pub fn param(v: Value) -> Self {
        if v.is_null() {
            return Operand::null();
        }
        let has_empty = matches!(&v, Value::Text(s) if s.is_empty());
        let ty = value_ty(&v);
        Operand::new(Expr::Param(v), ty, Shape::Params { count: 1, has_empty })
    }

    /// The constant 1 or 0 that `true`/`false` resolve to.
    pub fn bool_literal(b: bool) -> Self {
        Operand::new(Expr::Int(i64::from(b)), Ty::Number, Shape::BoolLiteral)
    }

    /// PocketBase's `isEmptyIdentifier || single empty param`.
    pub fn is_empty(&self) -> bool {
        match self.shape {
            Shape::Null => true,
            Shape::Params { count: 1, has_empty: true } => self.fallback == Fallback::Auto,
            _ => false,
        }
    }

    /// PocketBase's `isKnownNonEmptyIdentifier`.
    pub fn known_non_empty(&self) -> bool {
        if self.fallback == Fallback::Enforced {
            return false;
        }
        match self.shape {
            Shape::BoolLiteral => true,
            Shape::Params { count, has_empty } => count > 0 && !has_empty,
            Shape::Null | Shape::Plain => false,
        }
    }

    pub fn has_params(&self) -> bool {
        matches!(self.shape, Shape::Params { .. })
    }
}

/// Merges the parameter shapes of a function's arguments.
pub(crate) fn merged_shape(args: &[&Operand]) -> Shape {
    let mut count = 0;
    let mut has_empty = false;
    for a in args {
        if let Shape::Params { count: c, has_empty: e } = a.shape {
            count += c;
            has_empty |= e;
        }
    }
    if count == 0 { Shape::Plain } else { Shape::Params { count, has_empty } }
}
