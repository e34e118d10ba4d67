//! The dialect-independent part of rendering: statements, SELECT structure, DDL skeletons and
//! the expression nodes both databases spell the same way.
//!
//! Nodes whose spelling or semantics differ (comparisons, LIKE, JSON, dates, column types) are
//! delegated to `sqlite.rs` and `postgres.rs`. Keeping one walker means both dialects agree on
//! statement structure and parameter order by construction.

use crate::ast::*;
use crate::{Dialect, Rendered, Value};

/// Output buffer of one rendering: SQL text plus the parameters bound so far.
pub(crate) struct Writer {
    pub(crate) dialect: Dialect,
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl Writer {
    pub(crate) fn new(dialect: Dialect) -> Writer {
        Writer { dialect, sql: String::new(), params: Vec::new() }
    }

    pub(crate) fn finish(self) -> Rendered {
        Rendered { sql: self.sql, params: self.params }
    }

    pub(crate) fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// A quoted identifier: backticks on SQLite, double quotes on PostgreSQL; the quote
    /// character is escaped by doubling it.
    pub(crate) fn ident(&mut self, name: &str) {
        let q = match self.dialect {
            Dialect::Sqlite => '`',
            Dialect::Postgres => '"',
        };
        self.sql.push(q);
        for c in name.chars() {
            if c == q {
                self.sql.push(q);
            }
            self.sql.push(c);
        }
        self.sql.push(q);
    }

    fn qualified(&mut self, table: Option<&str>, name: &str) {
        if let Some(t) = table {
            self.ident(t);
            self.push(".");
        }
        self.ident(name);
    }

    /// A single-quoted string literal (quotes doubled). Only for constants and DDL defaults.
    pub(crate) fn str_lit(&mut self, s: &str) {
        self.sql.push('\'');
        for c in s.chars() {
            if c == '\'' {
                self.sql.push('\'');
            }
            self.sql.push(c);
        }
        self.sql.push('\'');
    }

    /// A bound parameter. PostgreSQL placeholders carry an explicit cast so that every
    /// parameter has a known type regardless of context; NULL is written as a literal.
    pub(crate) fn param(&mut self, v: &Value) {
        match self.dialect {
            Dialect::Sqlite => {
                self.push("?");
                self.params.push(v.clone());
            }
            Dialect::Postgres => {
                if v.is_null() {
                    self.push("NULL");
                    return;
                }
                self.params.push(v.clone());
                let n = self.params.len();
                self.sql.push_str(&format!("${n}::{}", pg_cast(v)));
            }
        }
    }

    pub(crate) fn list<T>(&mut self, items: &[T], sep: &str, mut f: impl FnMut(&mut Self, &T)) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(sep);
            }
            f(self, item);
        }
    }

    pub(crate) fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Select(s) => self.select(s),
            Stmt::Insert(i) => self.insert(i),
            Stmt::Update(u) => self.update(u),
            Stmt::Delete(d) => self.delete(d),
            Stmt::CreateTable(t) => self.create_table(t),
            Stmt::DropTable { name, if_exists } => self.drop("TABLE", name, *if_exists),
            Stmt::RenameTable { from, to } => {
                self.push("ALTER TABLE ");
                self.ident(from);
                self.push(" RENAME TO ");
                self.ident(to);
            }
            Stmt::AddColumn { table, column } => {
                self.push("ALTER TABLE ");
                self.ident(table);
                self.push(" ADD COLUMN ");
                self.column_def(column);
            }
            Stmt::DropColumn { table, column } => {
                self.push("ALTER TABLE ");
                self.ident(table);
                self.push(" DROP COLUMN ");
                self.ident(column);
            }
            Stmt::RenameColumn { table, from, to } => {
                self.push("ALTER TABLE ");
                self.ident(table);
                self.push(" RENAME COLUMN ");
                self.ident(from);
                self.push(" TO ");
                self.ident(to);
            }
            Stmt::CreateIndex(def) => match self.dialect {
                Dialect::Sqlite => self.push(&def.to_sqlite()),
                Dialect::Postgres => crate::postgres::create_index(self, def),
            },
            Stmt::DropIndex { name, if_exists } => self.drop("INDEX", name, *if_exists),
            Stmt::CreateView { name, sql } => {
                self.push("CREATE VIEW ");
                self.ident(name);
                self.push(" AS ");
                self.push(sql);
            }
            Stmt::DropView { name, if_exists } => self.drop("VIEW", name, *if_exists),
            Stmt::Raw { sql, params } => match self.dialect {
                Dialect::Sqlite => {
                    self.push(sql);
                    self.params.extend(params.iter().cloned());
                }
                Dialect::Postgres => crate::postgres::raw(self, sql, params),
            },
        }
    }

    fn drop(&mut self, what: &str, name: &str, if_exists: bool) {
        self.push("DROP ");
        self.push(what);
        self.push(if if_exists { " IF EXISTS " } else { " " });
        self.ident(name);
    }

    fn insert(&mut self, i: &Insert) {
        self.push("INSERT INTO ");
        self.ident(&i.table);
        self.push(" (");
        self.list(&i.columns, ", ", |w, c| w.ident(c));
        self.push(") VALUES (");
        self.list(&i.values, ", ", |w, v| w.expr(v));
        self.push(")");
    }

    fn update(&mut self, u: &Update) {
        self.push("UPDATE ");
        self.ident(&u.table);
        self.push(" SET ");
        self.list(&u.set, ", ", |w, (c, v)| {
            w.ident(c);
            w.push(" = ");
            w.expr(v);
        });
        self.where_clause(u.where_.as_ref());
    }

    fn delete(&mut self, d: &Delete) {
        self.push("DELETE FROM ");
        self.ident(&d.table);
        self.where_clause(d.where_.as_ref());
    }

    fn where_clause(&mut self, cond: Option<&Expr>) {
        if let Some(c) = cond {
            self.push(" WHERE ");
            self.cond(c);
        }
    }

    fn create_table(&mut self, t: &CreateTable) {
        self.push("CREATE TABLE ");
        if t.if_not_exists {
            self.push("IF NOT EXISTS ");
        }
        self.ident(&t.name);
        self.push(" (");
        let mut first = true;
        if t.rowid && self.dialect == Dialect::Postgres {
            self.ident(crate::postgres::ROWID);
            self.push(" BIGINT GENERATED ALWAYS AS IDENTITY");
            first = false;
        }
        for c in &t.columns {
            if !first {
                self.push(", ");
            }
            first = false;
            self.column_def(c);
        }
        self.push(")");
    }

    fn column_def(&mut self, c: &ColumnDef) {
        self.ident(&c.name);
        self.push(" ");
        match self.dialect {
            Dialect::Sqlite => crate::sqlite::column_type(self, c),
            Dialect::Postgres => crate::postgres::column_type(self, c),
        }
    }

    /// A DDL default: always a literal, never a parameter (DDL cannot take parameters).
    pub(crate) fn literal(&mut self, v: &Value) {
        match v {
            Value::Null => self.push("NULL"),
            Value::Int(i) => self.push(&i.to_string()),
            Value::Float(f) if f.is_finite() => self.push(&format!("{f:?}")),
            Value::Float(_) => self.push("NULL"),
            Value::Bool(b) => self.push(if *b { "TRUE" } else { "FALSE" }),
            Value::Text(s) | Value::Json(s) => self.str_lit(s),
        }
    }

    pub(crate) fn select(&mut self, s: &Select) {
        self.push("SELECT ");
        if s.distinct {
            self.push("DISTINCT ");
        }
        if s.columns.is_empty() {
            self.push("*");
        }
        self.list(&s.columns, ", ", |w, item| match item {
            SelectItem::All(None) => w.push("*"),
            SelectItem::All(Some(t)) => {
                w.ident(t);
                w.push(".*");
            }
            SelectItem::Expr { expr, alias } => {
                w.expr(expr);
                if let Some(a) = alias {
                    w.push(" AS ");
                    w.ident(a);
                }
            }
        });
        if let Some(from) = &s.from {
            self.push(" FROM ");
            self.source(from);
        }
        for j in &s.joins {
            self.join(j);
        }
        self.where_clause(s.where_.as_ref());
        if !s.group_by.is_empty() {
            self.push(" GROUP BY ");
            self.list(&s.group_by, ", ", |w, e| w.expr(e));
        }
        if !s.order_by.is_empty() {
            self.push(" ORDER BY ");
            self.list(&s.order_by, ", ", |w, o| match w.dialect {
                Dialect::Sqlite => {
                    w.expr(&o.expr);
                    w.push(if o.desc { " DESC" } else { " ASC" });
                }
                Dialect::Postgres => crate::postgres::order_by(w, o),
            });
        }
        match (s.limit, s.offset) {
            (Some(l), _) => self.push(&format!(" LIMIT {l}")),
            (None, Some(_)) if self.dialect == Dialect::Sqlite => self.push(" LIMIT -1"),
            _ => {}
        }
        if let Some(o) = s.offset {
            self.push(&format!(" OFFSET {o}"));
        }
    }

    fn source(&mut self, f: &FromItem) {
        match f {
            FromItem::Table { name, alias } => {
                self.ident(name);
                if let Some(a) = alias {
                    self.push(" AS ");
                    self.ident(a);
                }
            }
            FromItem::Subquery { select, alias } => {
                self.subquery(select);
                self.push(" AS ");
                self.ident(alias);
            }
            FromItem::One { alias } => {
                self.push("(SELECT 1) AS ");
                self.ident(alias);
            }
        }
    }

    fn join(&mut self, j: &Join) {
        self.push(match j.kind {
            JoinKind::Left => " LEFT JOIN ",
            JoinKind::Inner => " INNER JOIN ",
        });
        match &j.source {
            JoinSource::Table(t) => self.ident(t),
            JoinSource::Subquery(s) => self.subquery(s),
            JoinSource::JsonEach(x) => match self.dialect {
                Dialect::Sqlite => crate::sqlite::json_each(self, x),
                Dialect::Postgres => {
                    self.push("LATERAL ");
                    crate::postgres::json_each(self, x);
                }
            },
        }
        self.push(" AS ");
        self.ident(&j.alias);
        if matches!(j.source, JoinSource::JsonEach(_)) && self.dialect == Dialect::Postgres {
            self.push("(");
            self.ident("value");
            self.push(")");
        }
        self.push(" ON ");
        match &j.on {
            Some(c) => self.cond(c),
            None => self.push(match self.dialect {
                Dialect::Sqlite => "1",
                Dialect::Postgres => "TRUE",
            }),
        }
    }

    pub(crate) fn subquery(&mut self, s: &Select) {
        self.push("(");
        self.select(s);
        self.push(")");
    }

    /// An expression in boolean position (WHERE, ON, AND/OR operands, CASE conditions).
    /// SQLite accepts any value there; PostgreSQL needs a boolean, so integer constants and
    /// integer parameters are compared with zero.
    pub(crate) fn cond(&mut self, e: &Expr) {
        if self.dialect == Dialect::Postgres {
            match e {
                Expr::Int(i) => return self.push(if *i != 0 { "TRUE" } else { "FALSE" }),
                Expr::Param(v @ (Value::Int(_) | Value::Float(_))) => {
                    self.push("(");
                    self.param(v);
                    return self.push(" <> 0)");
                }
                _ => {}
            }
        }
        self.expr(e);
    }

    pub(crate) fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Column { table, name } => self.qualified(table.as_deref(), name),
            Expr::Param(v) => self.param(v),
            Expr::Null => self.push("NULL"),
            Expr::Int(i) => self.push(&i.to_string()),
            Expr::Str(s) => self.str_lit(s),
            Expr::And(parts) => self.junction(parts, " AND ", true),
            Expr::Or(parts) => self.junction(parts, " OR ", false),
            Expr::Not(inner) => {
                self.push("NOT (");
                self.cond(inner);
                self.push(")");
            }
            Expr::IsNull { expr, negated } => {
                self.push("(");
                self.expr(expr);
                self.push(if *negated { " IS NOT NULL)" } else { " IS NULL)" });
            }
            Expr::Arith { op, lhs, rhs } => {
                self.push("(");
                self.expr(lhs);
                self.push(match op {
                    ArithOp::Add => " + ",
                    ArithOp::Sub => " - ",
                });
                self.expr(rhs);
                self.push(")");
            }
            Expr::Exists { select, negated } => {
                if *negated {
                    self.push("NOT ");
                }
                self.push("EXISTS ");
                self.subquery(select);
            }
            Expr::InSelect { expr, select, negated } => {
                self.push("(");
                self.expr(expr);
                self.push(if *negated { " NOT IN " } else { " IN " });
                self.subquery(select);
                self.push(")");
            }
            Expr::InList { expr, list, negated } => {
                if list.is_empty() {
                    // `x IN ()` is valid SQLite but not PostgreSQL; both mean a constant.
                    return self.push(match (negated, self.dialect) {
                        (false, Dialect::Sqlite) => "0",
                        (true, Dialect::Sqlite) => "1",
                        (false, Dialect::Postgres) => "FALSE",
                        (true, Dialect::Postgres) => "TRUE",
                    });
                }
                self.push("(");
                self.expr(expr);
                self.push(if *negated { " NOT IN (" } else { " IN (" });
                self.list(list, ", ", |w, x| w.expr(x));
                self.push("))");
            }
            Expr::CountStar => self.push("COUNT(*)"),
            Expr::Subquery(s) => self.subquery(s),
            Expr::Case { whens, else_ } => {
                self.push("CASE");
                for (c, v) in whens {
                    self.push(" WHEN ");
                    self.cond(c);
                    self.push(" THEN ");
                    self.expr(v);
                }
                if let Some(e) = else_ {
                    self.push(" ELSE ");
                    self.expr(e);
                }
                self.push(" END");
            }
            _ => match self.dialect {
                Dialect::Sqlite => crate::sqlite::expr(self, e),
                Dialect::Postgres => crate::postgres::expr(self, e),
            },
        }
    }

    fn junction(&mut self, parts: &[Expr], sep: &str, is_and: bool) {
        if parts.is_empty() {
            // The neutral element: AND of nothing is true, OR of nothing is false.
            return self.push(match (is_and, self.dialect) {
                (true, Dialect::Sqlite) => "1",
                (false, Dialect::Sqlite) => "0",
                (true, Dialect::Postgres) => "TRUE",
                (false, Dialect::Postgres) => "FALSE",
            });
        }
        self.push("(");
        self.list(parts, sep, |w, p| w.cond(p));
        self.push(")");
    }
}

/// The PostgreSQL type a parameter is cast to, chosen by the value's variant.
pub(crate) fn pg_cast(v: &Value) -> &'static str {
    match v {
        Value::Null | Value::Text(_) => "text",
        Value::Int(_) => "int8",
        Value::Float(_) => "float8",
        Value::Bool(_) => "bool",
        Value::Json(_) => "json",
    }
}
