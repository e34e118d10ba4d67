//! The dialect-neutral SQL tree.
//!
//! Callers build statements out of these nodes; a [`crate::Dialect`] renders them to text plus
//! bound parameters. Nodes describe *intent* wherever SQLite and PostgreSQL spell a thing
//! differently (JSON extraction, array iteration, case-insensitive LIKE, typed comparisons), so
//! the layers above never branch on the database.
//!
//! Invariant: user-supplied values only ever appear as [`Expr::Param`]; identifiers come from
//! the schema. The only exception is [`Stmt::Raw`] / [`Stmt::CreateView`], which carry SQL that a
//! superuser wrote (view queries) or that a backend wrote for itself (bootstrap).

use crate::Value;

/// A quoted identifier (table, column or alias name). Rendered with the dialect's quoting.
pub type Ident = String;

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Select(Select),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    CreateTable(CreateTable),
    DropTable {
        name: Ident,
        if_exists: bool,
    },
    RenameTable {
        from: Ident,
        to: Ident,
    },
    AddColumn {
        table: Ident,
        column: ColumnDef,
    },
    DropColumn {
        table: Ident,
        column: Ident,
    },
    RenameColumn {
        table: Ident,
        from: Ident,
        to: Ident,
    },
    CreateIndex(IndexDef),
    DropIndex {
        name: Ident,
        if_exists: bool,
    },
    /// `CREATE VIEW name AS <sql>`; `sql` is a superuser-written SELECT, used verbatim.
    CreateView {
        name: Ident,
        sql: String,
    },
    DropView {
        name: Ident,
        if_exists: bool,
    },
    /// Verbatim SQL with `?` placeholders (rendered to `$n` on PostgreSQL). Only for SQL a
    /// superuser wrote or that a backend wrote for itself — never for request data.
    Raw {
        sql: String,
        params: Vec<Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Select {
    pub distinct: bool,
    pub columns: Vec<SelectItem>,
    pub from: Option<FromItem>,
    pub joins: Vec<Join>,
    pub where_: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `alias.*` (or `*` when `None`).
    All(Option<Ident>),
    Expr {
        expr: Expr,
        alias: Option<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FromItem {
    Table {
        name: Ident,
        alias: Option<Ident>,
    },
    Subquery {
        select: Box<Select>,
        alias: Ident,
    },
    /// A one-row, no-column source (`(SELECT 1)`), used as the anchor of LEFT JOIN chains
    /// inside EXISTS sub-queries.
    One {
        alias: Ident,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Left,
    Inner,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub source: JoinSource,
    pub alias: Ident,
    /// `None` renders as an always-true join condition.
    pub on: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JoinSource {
    Table(Ident),
    Subquery(Box<Select>),
    /// The elements of a JSON array value, as rows with one text column named `value`.
    /// A value that is not a JSON array yields one row holding that value, as SQLite's
    /// `json_each(CASE WHEN json_valid(x) THEN x ELSE json_array(x) END)` does; NULL yields
    /// no rows.
    JsonEach(Box<Typed>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expr,
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: Ident,
    pub columns: Vec<Ident>,
    pub values: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: Ident,
    pub set: Vec<(Ident, Expr)>,
    pub where_: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    pub table: Ident,
    pub where_: Option<Expr>,
}

/// How a column is stored. Each dialect maps these to its own column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Text, `NOT NULL DEFAULT ''`, binary collation.
    Text,
    /// Double precision number, `NOT NULL DEFAULT 0`.
    Number,
    /// Boolean, `NOT NULL DEFAULT FALSE` (0/1 on SQLite).
    Bool,
    /// JSON text (nullable unless a default is given).
    Json,
    /// 64-bit integer (system tables only).
    Integer,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: Ident,
    pub ty: ColumnType,
    pub primary_key: bool,
    pub not_null: bool,
    /// Default value; must be a constant (`Param` values are rendered as literals here).
    pub default: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub name: Ident,
    pub if_not_exists: bool,
    /// Give the table an insertion-order key ([`Expr::RowId`]). SQLite tables always have one;
    /// PostgreSQL adds a `_rowid BIGINT GENERATED ALWAYS AS IDENTITY` column.
    pub rowid: bool,
    pub columns: Vec<ColumnDef>,
}

/// A parsed `CREATE [UNIQUE] INDEX` statement (PocketBase stores SQLite-dialect index SQL on
/// collections; each dialect renders its own version of it).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub name: Ident,
    pub table: Ident,
    pub unique: bool,
    pub if_not_exists: bool,
    pub columns: Vec<IndexColumn>,
    /// Partial-index condition as written (SQLite dialect: backtick/double-quote/bracket
    /// quoting, single-quoted strings). Dialects translate the quoting only.
    pub where_: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexColumn {
    /// Column name, or an expression as written when `is_expr` is set.
    pub name: String,
    pub is_expr: bool,
    /// `COLLATE NOCASE` (case-insensitive).
    pub nocase: bool,
    pub desc: bool,
}

/// The static type of an operand, as far as the query builder knows it. SQLite's loose typing
/// is the reference semantics; PostgreSQL uses these to render equivalent, well-typed SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Text,
    Number,
    Bool,
    /// A JSON value of unknown type (e.g. a JSON path extraction). On SQLite it is whatever
    /// `json_extract` yields (number, text, NULL, or JSON text for arrays/objects).
    Json,
    /// A whole JSON column compared as its stored text (multi-value fields without modifiers).
    JsonText,
    /// The SQL NULL literal.
    Null,
    /// Unknown (view columns of computed expressions, function results).
    Any,
}

/// Comparison operators, with SQLite's meaning (PocketBase's SQL forms, spec §4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `a = b` (NULL if either side is NULL).
    Eq,
    /// `a IS b` (NULL-safe equality).
    Is,
    /// `a IS NOT b` (NULL-safe inequality; PocketBase renders `!=` this way).
    IsNot,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `COALESCE(a, '') = COALESCE(b, '')`: NULL counts as the empty string.
    LooseEq,
    /// `COALESCE(a, '') IS NOT COALESCE(b, '')`.
    LooseIsNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `table.column` (or bare `column` when `table` is `None`).
    Column {
        table: Option<Ident>,
        name: Ident,
    },
    /// The insertion-order key of a collection table: SQLite's implicit `rowid`, PostgreSQL's
    /// identity column `_rowid` (created when [`CreateTable::rowid`] is set).
    RowId {
        table: Option<Ident>,
    },
    /// A bound parameter.
    Param(Value),
    Null,
    /// A constant integer written into the SQL text (limits, 0/1 flags); never user data.
    Int(i64),
    /// A constant string literal written into the SQL text; never user data.
    Str(&'static str),
    /// A typed comparison; see [`Ty`]. Both dialects render SQLite semantics.
    Cmp {
        op: CmpOp,
        lhs: Box<Typed>,
        rhs: Box<Typed>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// ASCII case-insensitive LIKE with `\` as the escape character.
    Like {
        expr: Box<Typed>,
        pattern: Box<Typed>,
        negated: bool,
    },
    Lower(Box<Expr>),
    Arith {
        op: ArithOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `'%' || expr || '%'` (for LIKE against a column).
    ContainsPattern(Box<Expr>),
    /// Extract `path` (object keys and array indexes) from a JSON value; NULL when missing.
    JsonExtract {
        expr: Box<Expr>,
        path: Vec<JsonPathSeg>,
    },
    /// Length of a JSON array (as SQLite's `json_array_length`: 0 for other JSON values, NULL
    /// for NULL).
    JsonArrayLength(Box<Typed>),
    /// A JSON column's stored text (PostgreSQL: `col::text`).
    JsonText(Box<Expr>),
    Exists {
        select: Box<Select>,
        negated: bool,
    },
    /// `expr IN (SELECT ...)`.
    InSelect {
        expr: Box<Expr>,
        select: Box<Select>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    CountStar,
    Random,
    /// SQLite `strftime(format, time, modifiers...)`; emulated on PostgreSQL.
    Strftime {
        format: Box<Expr>,
        time: Option<Box<Typed>>,
        modifiers: Vec<Expr>,
    },
    /// Great-circle distance in km (spherical law of cosines, R = 6371).
    GeoDistance {
        lon_a: Box<Typed>,
        lat_a: Box<Typed>,
        lon_b: Box<Typed>,
        lat_b: Box<Typed>,
    },
    /// A scalar sub-query.
    Subquery(Box<Select>),
    /// `CASE WHEN c THEN v ... ELSE e END`.
    Case {
        whens: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum JsonPathSeg {
    Key(String),
    Index(u32),
}

/// An expression with its static type.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub expr: Expr,
    pub ty: Ty,
}

impl Typed {
    pub fn new(expr: Expr, ty: Ty) -> Self {
        Typed { expr, ty }
    }
}

impl Expr {
    pub fn col(table: &str, name: &str) -> Expr {
        Expr::Column { table: Some(table.to_owned()), name: name.to_owned() }
    }

    pub fn bare(name: &str) -> Expr {
        Expr::Column { table: None, name: name.to_owned() }
    }

    pub fn param(v: impl Into<Value>) -> Expr {
        Expr::Param(v.into())
    }

    pub fn eq(lhs: Expr, rhs: Expr, ty: Ty) -> Expr {
        Expr::Cmp {
            op: CmpOp::Eq,
            lhs: Box::new(Typed::new(lhs, ty)),
            rhs: Box::new(Typed::new(rhs, ty)),
        }
    }

    pub fn and(parts: Vec<Expr>) -> Expr {
        Expr::And(parts)
    }

    pub fn typed(self, ty: Ty) -> Typed {
        Typed::new(self, ty)
    }
}
