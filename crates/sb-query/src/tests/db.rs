//! The fixture on the real storage backends, so compiled filters run on exactly the code path
//! production uses: the `sb-sql` renderers, the backends' parameter binding and value decoding,
//! the SQL functions the SQLite backend registers and the PostgreSQL support SQL.
//!
//! SQLite is a file in a temporary directory opened with `sb_store_sqlite::open`; PostgreSQL is
//! a fresh database on `SCALEBASE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) opened with `sb_store_postgres::open` and
//! dropped with the [`TestDb`]. Its name starts with `sbtest_<unix seconds>_` like those of
//! `sb-testkit` (which this crate cannot depend on: it sits above `sb-core`), so leftovers of a
//! killed run are cleaned up by the next testkit run. PostgreSQL being unreachable fails the
//! test.
//!
//! The tests are synchronous; each database owns a current-thread runtime it blocks on, which
//! also lets `Drop` close the store and drop the database when an assertion fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sb_schema::{FieldKind, Storage};
use sb_sql::{ColumnDef, ColumnType, CreateTable, Dialect, Expr, Insert, Stmt, Value};
use sb_store::Store;

use super::fixture::{self, Fixture};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn dialect(self) -> Dialect {
        match self {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        }
    }
}

/// A database holding the fixture rows.
pub(crate) struct TestDb {
    backend: Backend,
    rt: tokio::runtime::Runtime,
    store: Box<dyn Store>,
    /// PostgreSQL: the database to drop.
    pg_name: Option<String>,
    /// SQLite: the directory of the database file, removed after the store is closed.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend` with the fixture tables and rows.
    pub fn open(backend: Backend) -> TestDb {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let db = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let config = sb_store_sqlite::SqliteConfig::new(dir.path().join("data.db"));
                let store = rt.block_on(sb_store_sqlite::open(config)).expect("open SQLite");
                TestDb { backend, rt, store: Box::new(store), pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let name = rt.block_on(create_pg_database());
                let mut config = sb_store_postgres::PostgresConfig::new(pg_url_for(&name));
                config.pool_size = 2;
                match rt.block_on(sb_store_postgres::open(config)) {
                    Ok(store) => TestDb {
                        backend,
                        rt,
                        store: Box::new(store),
                        pg_name: Some(name),
                        _dir: None,
                    },
                    Err(e) => {
                        rt.block_on(drop_pg_database(&name));
                        panic!("open PostgreSQL database {name}: {e}");
                    }
                }
            }
        };
        // seeded after `db` exists, so that a failure still drops the database
        db.rt
            .block_on(async {
                let mut tx = db.store.begin().await?;
                for stmt in setup_statements() {
                    tx.execute(&stmt).await?;
                }
                tx.commit().await
            })
            .unwrap_or_else(|e| panic!("[{backend:?}] seeding the fixture: {e}"));
        db
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs a query whose first column is a record id.
    pub fn ids(&self, stmt: &Stmt) -> Result<Vec<String>, String> {
        let rows = self
            .rt
            .block_on(self.store.query(stmt))
            .map_err(|e| format!("{e} in: {}", self.backend.dialect().render(stmt).sql))?;
        rows.rows
            .into_iter()
            .map(|row| match row.into_iter().next() {
                Some(Value::Text(id)) => Ok(id),
                other => Err(format!("not an id: {other:?}")),
            })
            .collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.rt.block_on(async {
            self.store.close().await;
            if let Some(name) = &self.pg_name {
                drop_pg_database(name).await;
            }
        });
    }
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

/// The column of a field, as `sb-core` creates collection tables.
fn column(f: &sb_schema::Field) -> ColumnDef {
    let (ty, default) = match f.kind.storage() {
        Storage::Text => (ColumnType::Text, Some(Value::Text(String::new()))),
        Storage::Number => (ColumnType::Number, Some(Value::Int(0))),
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

fn pg_admin_url() -> String {
    std::env::var("SCALEBASE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The URL of database `name` on the test server.
fn pg_url_for(name: &str) -> String {
    let admin = pg_admin_url();
    match url::Url::parse(&admin) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("{}/{name}", admin.trim_end_matches('/')),
    }
}

/// Runs `sql` on the maintenance database.
async fn admin_sql(sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) =
        tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls).await?;
    let connection = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = connection.await;
    result
}

async fn create_pg_database() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!("sbtest_{secs}_sbquery_{}_{seq}", std::process::id());
    admin_sql(&format!("CREATE DATABASE \"{name}\"")).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {} is required for these tests: {e}", pg_admin_url())
    });
    name
}

async fn drop_pg_database(name: &str) {
    // Best effort: this runs in `Drop`, where a panic could abort the process; a leftover is
    // removed by the next testkit run.
    let _ = admin_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
}
