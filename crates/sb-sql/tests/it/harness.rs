//! Two databases with the same data: an in-memory SQLite (the reference) and a fresh
//! PostgreSQL database (dropped at the end), plus value adapters for both drivers.

use std::error::Error;

use bytes::BytesMut;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use sb_sql::{Dialect, Select, Stmt, Value};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls};

/// A result cell, normalized across the drivers (booleans become 0/1).
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Num(f64),
    Text(String),
}

impl Out {
    /// Equality with a small relative tolerance for numbers (math functions).
    pub fn same(&self, other: &Out) -> bool {
        match (self, other) {
            (Out::Num(a), Out::Num(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            _ => self == other,
        }
    }
}

pub struct Dbs {
    pub lite: rusqlite::Connection,
    pub pg: Client,
    admin: Client,
    name: String,
}

async fn connect(config: &tokio_postgres::Config) -> Client {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be reachable for the differential tests: {e}"));
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors surface on the client.
        let _ = conn.await;
    });
    client
}

impl Dbs {
    pub async fn new() -> Dbs {
        let url = std::env::var("SCALEBASE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut config: tokio_postgres::Config = url.parse().expect("valid PostgreSQL URL");
        let admin = connect(&config).await;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("sbsql_{}_{nanos}", std::process::id());
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
            ))
            .await
            .expect("create the test database");
        config.dbname(&name);
        let pg = connect(&config).await;
        pg.batch_execute(sb_sql::postgres_support_sql()).await.expect("support SQL installs");
        // Idempotent: running it twice must work.
        pg.batch_execute(sb_sql::postgres_support_sql()).await.expect("support SQL re-runs");

        let lite = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        register_sqlite_functions(&lite);
        Dbs { lite, pg, admin, name }
    }

    /// Drops the PostgreSQL database. Call at the end of every test (before asserting).
    pub async fn drop_pg(self) {
        let Dbs { pg, admin, name, .. } = self;
        drop(pg);
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        admin.batch_execute(&sql).await.expect("drop the test database");
    }

    /// Runs a statement on both databases; panics on any error.
    pub async fn exec(&self, stmt: &Stmt) {
        let (l, p) = (self.exec_lite(stmt), self.exec_pg(stmt).await);
        if let Err(e) = l {
            panic!("SQLite failed: {e}\n{:?}", Dialect::Sqlite.render(stmt));
        }
        if let Err(e) = p {
            panic!("PostgreSQL failed: {e}\n{:?}", Dialect::Postgres.render(stmt));
        }
    }

    pub fn exec_lite(&self, stmt: &Stmt) -> Result<usize, String> {
        let r = Dialect::Sqlite.render(stmt);
        let params: Vec<LiteVal<'_>> = r.params.iter().map(LiteVal).collect();
        self.lite
            .execute(&r.sql, rusqlite::params_from_iter(params.iter()))
            .map_err(|e| e.to_string())
    }

    pub async fn exec_pg(&self, stmt: &Stmt) -> Result<u64, String> {
        let r = Dialect::Postgres.render(stmt);
        let params: Vec<PgVal<'_>> = r.params.iter().map(PgVal).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.pg.execute(&r.sql, &refs).await.map_err(|e| format!("{e:?}"))
    }

    pub fn query_lite(&self, select: &Select) -> Result<Vec<Vec<Out>>, String> {
        let r = Dialect::Sqlite.render(&Stmt::Select(select.clone()));
        let params: Vec<LiteVal<'_>> = r.params.iter().map(LiteVal).collect();
        let mut stmt = self.lite.prepare(&r.sql).map_err(|e| format!("{e}: {}", r.sql))?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                (0..n)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => Out::Null,
                            ValueRef::Integer(i) => Out::Num(i as f64),
                            ValueRef::Real(f) => Out::Num(f),
                            ValueRef::Text(t) => Out::Text(String::from_utf8_lossy(t).into_owned()),
                            ValueRef::Blob(_) => Out::Text("<blob>".into()),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }

    pub async fn query_pg(&self, select: &Select) -> Result<Vec<Vec<Out>>, String> {
        let r = Dialect::Postgres.render(&Stmt::Select(select.clone()));
        let params: Vec<PgVal<'_>> = r.params.iter().map(PgVal).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.pg.query(&r.sql, &refs).await.map_err(|e| format!("{e:?}: {}", r.sql))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<_, PgOut>(i).map(|v| v.0).map_err(|e| e.to_string()))
                    .collect()
            })
            .collect()
    }
}

/// Registers the functions listed in `sb_sql::SQLITE_FUNCTIONS`, with the documented semantics.
fn register_sqlite_functions(conn: &rusqlite::Connection) {
    for f in sb_sql::SQLITE_FUNCTIONS {
        let op: fn(f64) -> f64 = match f.name {
            // std computes `x * (PI / 180)`, as SQLite does.
            "radians" => f64::to_radians,
            "sin" => f64::sin,
            "cos" => f64::cos,
            "acos" => f64::acos,
            other => panic!("unknown function {other}"),
        };
        conn.create_scalar_function(
            f.name,
            f.n_args,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| {
                let x = match ctx.get_raw(0) {
                    ValueRef::Integer(i) => Some(i as f64),
                    ValueRef::Real(r) => Some(r),
                    ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(numeric_text),
                    ValueRef::Null | ValueRef::Blob(_) => None,
                };
                Ok(x.map(op).filter(|r| !r.is_nan()))
            },
        )
        .expect("register SQLite function");
    }
}

/// Text that is entirely a decimal number (SQLite's numeric conversion).
fn numeric_text(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let ok = !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
        && t.chars().any(|c| c.is_ascii_digit());
    if !ok {
        return None;
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse().ok().or_else(|| format!("{t}0").parse().ok())
}

pub struct LiteVal<'a>(pub &'a Value);

impl rusqlite::ToSql for LiteVal<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Float(f) => ValueRef::Real(*f),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Text(s) | Value::Json(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

#[derive(Debug)]
pub struct PgVal<'a>(pub &'a Value);

impl ToSql for PgVal<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Float(f) => f.to_sql(ty, out),
            Value::Bool(b) => b.to_sql(ty, out),
            // `json` and `text` both travel as their UTF-8 text.
            Value::Text(s) | Value::Json(s) => {
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

struct PgOut(Out);

impl<'a> FromSql<'a> for PgOut {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let out = match *ty {
            Type::BOOL => Out::Num(if bool::from_sql(ty, raw)? { 1.0 } else { 0.0 }),
            Type::INT2 => Out::Num(f64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Out::Num(f64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Out::Num(i64::from_sql(ty, raw)? as f64),
            Type::FLOAT4 => Out::Num(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Out::Num(f64::from_sql(ty, raw)?),
            // A `json` value stands for what SQLite's json_extract returns.
            Type::JSON => match serde_json::from_slice(raw)? {
                serde_json::Value::Null => Out::Null,
                serde_json::Value::Bool(b) => Out::Num(if b { 1.0 } else { 0.0 }),
                serde_json::Value::Number(n) => Out::Num(n.as_f64().unwrap_or(f64::NAN)),
                serde_json::Value::String(s) => Out::Text(s),
                _ => Out::Text(String::from_utf8(raw.to_vec())?.trim().to_owned()),
            },
            _ => Out::Text(String::from_utf8(raw.to_vec())?),
        };
        Ok(PgOut(out))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(PgOut(Out::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
