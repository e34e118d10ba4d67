//! Write transactions: a pooled connection between `BEGIN` and `COMMIT`/`ROLLBACK`.
//!
//! Isolation is PostgreSQL's default, READ COMMITTED: each statement sees the data committed
//! before it started; uniqueness is still enforced by the indexes.
//!
//! `BEGIN` is not sent on its own: it is pipelined with the transaction's first statement
//! (both go out before either answer arrives), which saves a round trip per transaction; an
//! empty transaction costs none. After a failed statement the transaction is unusable (the
//! server aborts it): later statements fail without a round trip and `commit` rolls back and
//! returns an error. A transaction dropped without `commit`/`rollback` is rolled back on a
//! spawned task before its connection goes back to the pool; if that cannot happen, the
//! connection is closed instead (the server then rolls back).
//!
//! With read replicas, `COMMIT` carries a second statement reading the WAL position the commit
//! ended before (see `replicas.rs`), recorded before `commit` returns.

use std::sync::Arc;

use deadpool_postgres::{Object, Pool};
use sb_sql::Rendered;
use sb_store::{ErrorKind, Result, Rows, Stmt, StoreError, Tx};
use tokio_postgres::Error;
use tracing::Instrument;

use crate::client::{self, Mode, Outcome};
use crate::error::{classify, is_stale_plan};
use crate::replicas::{Positions, parse_lsn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Fresh,
    /// `BEGIN` sent; statements succeeded so far.
    Open,
    /// A statement failed; the server has aborted the transaction.
    Failed,
}

pub(crate) struct PgTx {
    /// `None` once committed or rolled back.
    client: Option<Object>,
    state: State,
    /// Whether the transaction changed the schema (then prepared statements of every pooled
    /// connection are dropped after the commit, as their result types may have changed).
    ddl: bool,
    pool: Pool,
    /// With read replicas: where the commit's position is recorded.
    positions: Option<Arc<Positions>>,
}

impl PgTx {
    pub(crate) fn new(client: Object, pool: Pool, positions: Option<Arc<Positions>>) -> PgTx {
        PgTx { client: Some(client), state: State::Fresh, ddl: false, pool, positions }
    }

    fn client(&self) -> Result<&Object> {
        self.client.as_ref().ok_or_else(|| StoreError::other("transaction already finished"))
    }

    async fn run(&mut self, stmt: &Stmt, mode: Mode) -> Result<Outcome> {
        let rendered = crate::render(stmt);
        let span = crate::db_span(&rendered.sql);
        self.run_rendered(stmt, rendered, mode).instrument(span).await
    }

    async fn run_rendered(
        &mut self,
        stmt: &Stmt,
        rendered: Rendered,
        mode: Mode,
    ) -> Result<Outcome> {
        if self.state == State::Failed {
            return Err(aborted());
        }
        self.ddl |= is_ddl(stmt);
        let fresh = self.state == State::Fresh;
        // From here on a transaction may be open on the connection, even if this future is
        // cancelled half-way: a drop must then roll it back.
        self.state = State::Open;
        let client = self.client()?;
        let started = std::time::Instant::now();
        let result = if fresh {
            let first = begin_with(client, &rendered.sql, &rendered.params, mode).await;
            match first {
                // Nothing happened yet besides this statement: start over with fresh plans.
                Err(e) if e.as_db_error().is_some_and(is_stale_plan) => {
                    client.statement_cache.clear();
                    let _ = client.batch_execute("ROLLBACK").await;
                    begin_with(client, &rendered.sql, &rendered.params, mode).await
                }
                other => other,
            }
        } else {
            let prepared = client::prepare(client, &rendered.sql).await;
            match prepared {
                Ok(s) => client::run(client, &s, &rendered.params, mode).await,
                Err(e) => Err(e),
            }
        };
        sb_observe::db_query(
            sb_observe::Backend::Postgres,
            sb_observe::sql_operation(&rendered.sql),
            started.elapsed(),
        );
        if let Err(e) = &result
            && e.as_db_error().is_some_and(is_stale_plan)
        {
            client.statement_cache.clear();
        }
        result.map_err(|e| {
            self.state = State::Failed;
            classify(&e)
        })
    }

    /// Ends the transaction with `ROLLBACK`; a connection that cannot do it is discarded.
    async fn roll_back(&mut self) {
        let Some(client) = self.client.take() else { return };
        if self.state != State::Fresh && client.batch_execute("ROLLBACK").await.is_err() {
            let _ = Object::take(client);
        }
    }
}

/// Prepares the statement, then sends `BEGIN` and the statement together.
async fn begin_with(
    client: &Object,
    sql: &str,
    params: &[sb_store::Value],
    mode: Mode,
) -> std::result::Result<Outcome, Error> {
    let stmt = client::prepare(client, sql).await?;
    let (begun, result) =
        futures::join!(client.batch_execute("BEGIN"), client::run(client, &stmt, params, mode));
    begun?;
    result
}

/// Commits and records the primary's WAL insert position right after, in the same round trip
/// (a failed `COMMIT` skips the `SELECT`).
async fn commit_at(client: &Object, positions: &Positions) -> std::result::Result<(), Error> {
    let messages = client.simple_query("COMMIT; SELECT pg_current_wal_insert_lsn()::text").await?;
    for message in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message
            && let Some(lsn) = row.get(0).and_then(parse_lsn)
        {
            positions.committed(lsn);
        }
    }
    Ok(())
}

fn aborted() -> StoreError {
    StoreError::new(ErrorKind::Other, "transaction rolled back after an earlier error")
}

/// Statements that may change the result types of prepared statements.
fn is_ddl(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Select(_) | Stmt::Insert(_) | Stmt::Update(_) | Stmt::Delete(_) => false,
        Stmt::Raw { sql, .. } => {
            let head = sql.trim_start().get(..6).unwrap_or_default();
            ["CREATE", "ALTER", "DROP"]
                .iter()
                .any(|k| head.get(..k.len()).is_some_and(|h| h.eq_ignore_ascii_case(k)))
        }
        _ => true,
    }
}

#[async_trait::async_trait]
impl Tx for PgTx {
    async fn query(&mut self, stmt: &Stmt) -> Result<Rows> {
        match self.run(stmt, Mode::Query).await? {
            Outcome::Rows(rows) => Ok(rows),
            Outcome::Count(_) => Ok(Rows::default()),
        }
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64> {
        match self.run(stmt, Mode::Execute).await? {
            Outcome::Count(n) => Ok(n),
            Outcome::Rows(rows) => Ok(rows.len() as u64),
        }
    }

    /// A transaction-scoped advisory lock: released by `COMMIT`/`ROLLBACK`.
    async fn lock(&mut self, key: i64) -> Result<()> {
        let stmt = Stmt::Raw {
            sql: "SELECT pg_advisory_xact_lock(?)".into(),
            params: vec![sb_store::Value::Int(key)],
        };
        self.run(&stmt, Mode::Execute).await.map(drop)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        match self.state {
            State::Fresh => {
                self.client = None;
                Ok(())
            }
            State::Failed => {
                self.roll_back().await;
                Err(aborted())
            }
            State::Open => {
                let client = self.client.take().ok_or_else(aborted)?;
                let started = std::time::Instant::now();
                let span = crate::db_span("COMMIT");
                let committed = match &self.positions {
                    None => client.batch_execute("COMMIT").instrument(span).await,
                    Some(positions) => commit_at(&client, positions).instrument(span).await,
                };
                sb_observe::db_query(sb_observe::Backend::Postgres, "commit", started.elapsed());
                if committed.is_ok() && self.ddl {
                    self.pool.manager().statement_caches.clear();
                }
                committed.map_err(|e| classify(&e))
            }
        }
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        self.roll_back().await;
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else { return };
        if self.state == State::Fresh {
            return; // nothing was sent: the connection goes straight back to the pool
        }
        let guard = Discard(Some(client));
        // `guard` moves into the task, or is dropped here when there is no runtime.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let mut guard = guard;
                    let rolled_back = match &guard.0 {
                        Some(client) => client.batch_execute("ROLLBACK").await.is_ok(),
                        None => false,
                    };
                    if rolled_back {
                        drop(guard.0.take()); // back to the pool
                    }
                });
            }
            Err(_) => drop(guard), // no runtime: close the connection
        }
    }
}

/// Closes (rather than returns to the pool) a connection whose transaction state is unknown,
/// e.g. when the task rolling it back is cancelled.
struct Discard(Option<Object>);

impl Drop for Discard {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}
