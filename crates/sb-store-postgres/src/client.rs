//! Running one statement on a pooled connection: prepared-statement cache, binding, decoding.

use std::sync::Arc;

use deadpool_postgres::ClientWrapper;
use futures::TryStreamExt;
use sb_store::{Rows, Value};
use tokio_postgres::{Error, Statement};

use crate::types::{Cell, Param};

/// Prepared statements kept per connection. The cache has no eviction of its own; when it
/// grows past this it is emptied (generated SQL has a bounded number of shapes per collection,
/// so this only trims what superuser-written queries accumulate).
const MAX_CACHED_STATEMENTS: usize = 1024;

/// What a statement is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Query,
    Execute,
}

/// A statement's outcome in either mode.
pub(crate) enum Outcome {
    Rows(Rows),
    Count(u64),
}

pub(crate) async fn prepare(client: &ClientWrapper, sql: &str) -> Result<Statement, Error> {
    if client.statement_cache.size() > MAX_CACHED_STATEMENTS {
        client.statement_cache.clear();
    }
    client.prepare_cached(sql).await
}

/// Runs a prepared statement.
pub(crate) async fn run(
    client: &ClientWrapper,
    stmt: &Statement,
    params: &[Value],
    mode: Mode,
) -> Result<Outcome, Error> {
    let params = params.iter().map(Param);
    if mode == Mode::Execute {
        return client.execute_raw(stmt, params).await.map(Outcome::Count);
    }
    let columns: Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    let width = columns.len();
    let stream = client.query_raw(stmt, params).await?;
    futures::pin_mut!(stream);
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        let mut cells = Vec::with_capacity(width);
        for i in 0..width {
            cells.push(row.try_get::<_, Cell>(i)?.0);
        }
        rows.push(cells);
    }
    Ok(Outcome::Rows(Rows { columns, rows }))
}

/// Prepares and runs a statement outside an explicit transaction. A cached statement whose
/// result type changed (a table was altered, possibly by another node) fails once with
/// "cached plan must not change result type"; the cache is then emptied and the statement
/// retried.
pub(crate) async fn run_autocommit(
    client: &ClientWrapper,
    sql: &str,
    params: &[Value],
    mode: Mode,
) -> Result<Outcome, Error> {
    let first = async { run(client, &prepare(client, sql).await?, params, mode).await }.await;
    match first {
        Err(e) if e.as_db_error().is_some_and(crate::error::is_stale_plan) => {
            client.statement_cache.clear();
            run(client, &prepare(client, sql).await?, params, mode).await
        }
        other => other,
    }
}
