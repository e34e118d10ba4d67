//! The optional PostgreSQL leg of `filter_sql`, enabled by `SB_FUZZ_PG_URL` (a connection URL,
//! e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! The fixture (helper functions, tables, rows) is created inside one transaction that is never
//! committed, so nothing outlives the fuzzing process whichever way it ends. Each statement runs
//! under a savepoint with a short `statement_timeout`; a cancelled run is not an error.

use std::error::Error;

use bytes::BytesMut;
use sb_sql::{Dialect, Stmt, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

pub struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    /// Connects and creates the fixture when `SB_FUZZ_PG_URL` is set. A set but unusable URL
    /// is a setup failure, not a silent skip.
    pub fn from_env(setup: &[Stmt]) -> Option<Pg> {
        let url = std::env::var("SB_FUZZ_PG_URL").ok().filter(|u| !u.is_empty())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("SB_FUZZ_PG_URL={url}: {e}"));
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN; SET LOCAL statement_timeout = 200")
                .await
                .expect("begin the fixture transaction");
            client.batch_execute(sb_sql::postgres_support_sql()).await.expect("support SQL");
            for stmt in setup {
                let r = Dialect::Postgres.render(stmt);
                let params: Vec<PgParam<'_>> = r.params.iter().map(PgParam).collect();
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
                client
                    .execute(&r.sql, &refs)
                    .await
                    .unwrap_or_else(|e| panic!("fixture statement fails: {e}: {}", r.sql));
            }
            client
        });
        Some(Pg { rt, client })
    }

    /// Prepares and runs a statement selecting one text column. `None` when it was cancelled
    /// by the timeout; any other error fails the run.
    pub fn ids(&self, sql: &str, params: &[Value]) -> Option<Vec<String>> {
        let params: Vec<PgParam<'_>> = params.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.rt.block_on(async {
            self.client.batch_execute("SAVEPOINT q").await.expect("savepoint");
            let result = match self.client.prepare(sql).await {
                Ok(stmt) => self.client.query(&stmt, &refs).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(rows) => {
                    self.client.batch_execute("RELEASE SAVEPOINT q").await.expect("release");
                    Some(rows.iter().map(|row| row.get::<_, String>(0)).collect())
                }
                Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => {
                    self.client.batch_execute("ROLLBACK TO SAVEPOINT q").await.expect("rollback");
                    None
                }
                Err(e) => panic!(
                    "PostgreSQL cannot run the statement: {}\n{sql}\nparams: {params:?}",
                    e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_owned())
                ),
            }
        })
    }
}

/// Binds a `Value` as the type of its placeholder's cast (see `sb_sql`'s PostgreSQL rendering).
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

impl ToSql for PgParam<'_> {
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
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Json(s) => {
                if *ty == Type::JSONB {
                    out.extend_from_slice(&[1]);
                }
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
