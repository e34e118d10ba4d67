//! Running compiled filters on real databases: an in-memory SQLite and a fresh PostgreSQL
//! database, both created from the fixture through the `sb-sql` renderers.

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use sb_schema::{Collection, FieldKind, Storage};
use sb_sql::{
    ColumnDef, ColumnType, CreateTable, Dialect, Expr, FromItem, Insert, OrderBy, Select,
    SelectItem, Stmt, Value,
};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::fixture::{self, Fixture};
use crate::{Access, RequestInfo, Scope};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// A `filter` query parameter (client access unless the requester is a superuser).
    Filter,
    /// A listRule evaluated for the requester (full access).
    Rule,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    Guest,
    Admin,
    User(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// Matching record ids with trailing zeros removed, sorted.
    Ids(&'static [&'static str]),
    Error,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub coll: &'static str,
    pub mode: Mode,
    pub who: Who,
    pub expr: &'static str,
    pub overrides: &'static [(&'static str, Option<&'static str>)],
    pub expect: Expect,
}

/// The request of a case: the reference runs were made with `?x=a&n=5` and `X-Token: abc`.
pub(crate) fn request(fixture: &Fixture, who: Who) -> RequestInfo {
    RequestInfo {
        context: "default".into(),
        method: "GET".into(),
        headers: BTreeMap::from([("x_token".to_owned(), "abc".to_owned())]),
        query: BTreeMap::from([("x".to_owned(), "a".to_owned()), ("n".to_owned(), "5".to_owned())]),
        body: serde_json::Map::new(),
        auth: match who {
            Who::User(name) => Some(fixture::auth(fixture, name)),
            Who::Guest | Who::Admin => None,
        },
    }
}

pub(crate) fn access(mode: Mode, who: Who) -> Access {
    match (mode, who) {
        (Mode::Filter, Who::Guest | Who::User(_)) => Access::Client,
        _ => Access::Full,
    }
}

pub(crate) fn scope<'a>(
    fixture: &'a Fixture,
    collection: &'a Collection,
    request: &'a RequestInfo,
    access: Access,
) -> Scope<'a> {
    Scope { collection, alias: "r", lookup: fixture, request, access, now: fixture::now() }
}

/// `SELECT r.id FROM coll AS r WHERE ... ORDER BY ...`.
pub(crate) fn select_ids(coll: &str, where_: Option<Expr>, order_by: Vec<OrderBy>) -> Stmt {
    Stmt::Select(Select {
        columns: vec![SelectItem::Expr { expr: Expr::col("r", "id"), alias: None }],
        from: Some(FromItem::Table { name: coll.to_owned(), alias: Some("r".to_owned()) }),
        where_,
        order_by,
        ..Select::default()
    })
}

/// Record ids as the reference cases write them (trailing zeros removed).
pub(crate) fn short(ids: Vec<String>) -> Vec<String> {
    ids.into_iter().map(|id| id.trim_end_matches('0').to_owned()).collect()
}

/// The statements creating and filling the fixture tables.
fn setup_statements() -> Vec<Stmt> {
    let fixture = Fixture::new();
    let mut out = Vec::new();
    for c in &fixture.colls {
        out.push(Stmt::CreateTable(CreateTable {
            name: c.name.clone(),
            if_not_exists: false,
            rowid: true,
            columns: c.fields.iter().map(column).collect(),
        }));
    }
    for (name, rows) in fixture::rows() {
        let c = fixture.get(name);
        for row in rows {
            let columns = c.fields.iter().map(|f| f.name.clone()).collect();
            let values = c
                .fields
                .iter()
                .map(|f| {
                    let v = row.iter().find(|(k, _)| *k == f.name).map(|(_, v)| v);
                    Expr::Param(fixture::cell(f, v))
                })
                .collect();
            out.push(Stmt::Insert(Insert { table: name.to_owned(), columns, values }));
        }
    }
    out
}

fn column(f: &sb_schema::Field) -> ColumnDef {
    let (ty, default) = match f.kind.storage() {
        Storage::Text => (ColumnType::Text, Some(Value::Text(String::new()))),
        Storage::Number => (ColumnType::Number, Some(Value::Float(0.0))),
        Storage::Bool => (ColumnType::Bool, Some(Value::Bool(false))),
        Storage::Json => match f.kind {
            FieldKind::Json(_) => (ColumnType::Json, None),
            FieldKind::GeoPoint(_) => {
                (ColumnType::Json, Some(Value::Json(r#"{"lon":0,"lat":0}"#.to_owned())))
            }
            _ => (ColumnType::Json, Some(Value::Json("[]".to_owned()))),
        },
    };
    ColumnDef {
        name: f.name.clone(),
        ty,
        primary_key: f.name == "id",
        not_null: default.is_some(),
        default,
    }
}

/// A database holding the fixture.
pub(crate) trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs a statement returning one text column.
    fn ids(&mut self, stmt: &Stmt) -> Result<Vec<String>, String>;
}

pub(crate) struct Sqlite(rusqlite::Connection);

impl Sqlite {
    pub fn new() -> Self {
        let conn = rusqlite::Connection::open_in_memory().expect("open sqlite");
        for stmt in setup_statements() {
            let r = Dialect::Sqlite.render(&stmt);
            let params: Vec<SqliteParam<'_>> = r.params.iter().map(SqliteParam).collect();
            conn.execute(&r.sql, rusqlite::params_from_iter(params))
                .unwrap_or_else(|e| panic!("{e}: {}", r.sql));
        }
        Sqlite(conn)
    }
}

struct SqliteParam<'a>(&'a Value);

impl rusqlite::ToSql for SqliteParam<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V};
        Ok(ToSqlOutput::Owned(match self.0 {
            Value::Null => V::Null,
            Value::Int(i) => V::Integer(*i),
            Value::Float(f) => V::Real(*f),
            Value::Bool(b) => V::Integer(i64::from(*b)),
            Value::Text(s) | Value::Json(s) => V::Text(s.clone()),
        }))
    }
}

impl Db for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn ids(&mut self, stmt: &Stmt) -> Result<Vec<String>, String> {
        let r = Dialect::Sqlite.render(stmt);
        let params: Vec<SqliteParam<'_>> = r.params.iter().map(SqliteParam).collect();
        let mut q = self.0.prepare(&r.sql).map_err(|e| format!("{e}: {}", r.sql))?;
        let rows = q
            .query_map(rusqlite::params_from_iter(params), |row| row.get::<_, String>(0))
            .map_err(|e| format!("{e}: {}", r.sql))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| format!("{e}: {}", r.sql))
    }
}

/// A fresh PostgreSQL database holding the fixture, dropped with the value.
pub(crate) struct Postgres {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    admin: tokio_postgres::Client,
    name: String,
}

fn pg_url() -> String {
    std::env::var("SCALEBASE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required for these tests: {e}"));
    tokio::spawn(conn);
    client
}

impl Postgres {
    pub fn new() -> Self {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name =
            format!("sbq_{}_{}_{}", std::process::id(), nanos, SEQ.fetch_add(1, Ordering::Relaxed));
        let url = pg_url();
        let (admin, client) = rt.block_on(async {
            let admin = connect(&url).await;
            admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
            let db_url = match url.rsplit_once('/') {
                Some((base, _)) => format!("{base}/{name}"),
                None => format!("{url}/{name}"),
            };
            (admin, connect(&db_url).await)
        });
        // built before filling the database, so that a failing setup still drops it
        let db = Postgres { rt, client, admin, name };
        db.rt.block_on(async {
            db.client.batch_execute(sb_sql::postgres_support_sql()).await.expect("support sql");
            for stmt in setup_statements() {
                let r = Dialect::Postgres.render(&stmt);
                let params: Vec<PgParam<'_>> = r.params.iter().map(PgParam).collect();
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                db.client.execute(&r.sql, &refs).await.unwrap_or_else(|e| panic!("{e}: {}", r.sql));
            }
        });
        db
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = self.rt.block_on(self.admin.batch_execute(&sql));
    }
}

impl Db for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn ids(&mut self, stmt: &Stmt) -> Result<Vec<String>, String> {
        let r = Dialect::Postgres.render(stmt);
        let params: Vec<PgParam<'_>> = r.params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self
            .rt
            .block_on(self.client.query(&r.sql, &refs))
            .map_err(|e| format!("{e:?}: {}", r.sql))?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }
}

/// Binds a `Value` as whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

impl ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let v = self.0;
        if v.is_null() {
            return Ok(IsNull::Yes);
        }
        let text = || match v {
            Value::Text(s) | Value::Json(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
        };
        match *ty {
            Type::BOOL => v.as_f64().map(|f| f != 0.0).unwrap_or(text() == "true").to_sql(ty, out),
            Type::INT2 | Type::INT4 | Type::INT8 => {
                let i = v.as_i64().ok_or("not an integer")?;
                match *ty {
                    Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                    Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                    _ => i.to_sql(ty, out),
                }
            }
            Type::FLOAT4 | Type::FLOAT8 => {
                let f = v.as_f64().ok_or("not a number")?;
                if *ty == Type::FLOAT4 { (f as f32).to_sql(ty, out) } else { f.to_sql(ty, out) }
            }
            Type::JSON => {
                out.extend_from_slice(text().as_bytes());
                Ok(IsNull::No)
            }
            Type::JSONB => {
                out.extend_from_slice(&[1]);
                out.extend_from_slice(text().as_bytes());
                Ok(IsNull::No)
            }
            _ => text().to_sql(&Type::TEXT, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
