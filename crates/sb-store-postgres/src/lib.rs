//! PostgreSQL backend of [`sb_store::Store`].
//!
//! A deadpool pool of tokio-postgres connections. Every statement goes through the
//! connection's prepared-statement cache, parameters are bound in binary form and results
//! decoded by column type (see `types.rs` for the value mapping and `error.rs` for the error
//! classification by SQLSTATE). Transactions are described in `tx.rs`.
//!
//! Connection URLs are libpq's, multi-host ones included
//! (`postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write`): hosts are tried in
//! order, each within `connect_timeout`, and `target_session_attrs` picks a writable one. The
//! statement timeout is set per connection through the startup options, so it costs no round
//! trip. Connections are plain TCP (`NoTls`); TLS would be one more `MakeTlsConnect` handed to
//! the [`Manager`] in [`open`].
//!
//! Read replicas (`PostgresConfig::replicas`) serve reads outside transactions once they have
//! replayed this store's writes; see `replicas.rs`.
//!
//! At open, `sb_sql::postgres_support_sql()` (the helper functions the rendering relies on)
//! runs in one transaction under an advisory lock, so nodes starting together do not race.

mod client;
mod error;
pub mod notify;
mod replicas;
mod tx;
mod types;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sb_sql::Rendered;
use sb_store::{Dialect, Result, Rows, Stmt, Store, StoreError, Tx, Value};
use tokio_postgres::NoTls;
use tracing::Instrument;

use crate::client::{Mode, Outcome, run_autocommit};
pub use crate::replicas::ReadCounts;

/// Key of the advisory lock held while the support SQL is installed.
const SUPPORT_LOCK: i64 = 0x5CA1_EBA5;

/// Settings of the PostgreSQL store; [`PostgresConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// libpq-style URL (`postgres://user:pass@host:port/db?...`, several hosts allowed).
    pub url: String,
    /// Most connections open at once. Waiting for one is bounded by `statement_timeout`.
    pub pool_size: usize,
    /// Statements running longer are cancelled by the server (→ `ErrorKind::Timeout`).
    pub statement_timeout: Duration,
    /// Per host tried when connecting.
    pub connect_timeout: Duration,
    /// Keep this store's tables in their own schema (created at open when missing): every
    /// connection's `search_path` is `<schema>, public`, so unqualified names resolve there.
    /// Must be a plain lower-case identifier. Used for the request logs (`_scalebase_logs`).
    pub schema: Option<String>,
    /// URLs of read replicas (streaming standbys of the primary), each with a pool of
    /// `pool_size` connections; see `replicas.rs` for which reads they serve.
    pub replicas: Vec<String>,
}

impl PostgresConfig {
    pub fn new(url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            url: url.into(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            schema: None,
            replicas: Vec::new(),
        }
    }
}

/// The PostgreSQL store; see the crate docs.
pub struct PostgresStore {
    pool: Pool,
    /// Present when replicas are configured.
    replicas: Option<Arc<replicas::Replicas>>,
}

/// Connects (checking that the database answers) and installs the support SQL. Replicas are
/// not connected here: each is probed in the background, and used once it answers.
pub async fn open(config: PostgresConfig) -> Result<PostgresStore> {
    let pool = build_pool(&config, &config.url)?;
    let client = pool.get().await.map_err(error::pool)?;
    install_support(&client, config.schema.as_deref())
        .await
        .map_err(|e| classify_ctx(&e, "installing the support SQL"))?;
    drop(client);
    let replicas = if config.replicas.is_empty() {
        None
    } else {
        let mut pools = Vec::with_capacity(config.replicas.len());
        for url in &config.replicas {
            pools.push((replicas::describe(url), build_pool(&config, url)?));
        }
        Some(Arc::new(replicas::Replicas::start(pools)))
    };
    Ok(PostgresStore { pool, replicas })
}

/// A connection pool for `url` (the primary's or a replica's) with the store's settings. No
/// connection is made yet.
fn build_pool(config: &PostgresConfig, url: &str) -> Result<Pool> {
    let mut pg: tokio_postgres::Config =
        url.parse().map_err(|e| StoreError::other(format!("invalid PostgreSQL URL: {e}")))?;
    pg.connect_timeout(config.connect_timeout);
    let mut startup = format!("-c statement_timeout={}", config.statement_timeout.as_millis());
    if let Some(schema) = &config.schema {
        let plain = !schema.is_empty()
            && schema.bytes().all(|b| b == b'_' || b.is_ascii_lowercase() || b.is_ascii_digit())
            && !schema.as_bytes()[0].is_ascii_digit();
        if !plain {
            return Err(StoreError::other(format!("invalid schema name {schema:?}")));
        }
        startup.push_str(&format!(" -c search_path={schema},public"));
    }
    let options = match pg.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {startup}"),
        _ => startup,
    };
    pg.options(options);
    if pg.get_application_name().is_none() {
        pg.application_name("scalebase");
    }
    let manager = Manager::from_config(
        pg,
        NoTls,
        // Fast: a pooled connection is reused if it is open; transactions always end before
        // a connection returns to the pool (see `tx.rs`).
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    Pool::builder(manager)
        .max_size(config.pool_size.max(1))
        .wait_timeout(Some(config.statement_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::other(format!("cannot build the connection pool: {e}")))
}

/// Installs the support SQL (into `schema` when given, after creating it; the name was checked
/// to be a plain identifier).
async fn install_support(
    client: &deadpool_postgres::Object,
    schema: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    let sql = sb_sql::postgres_support_sql();
    client.batch_execute("BEGIN").await?;
    let installed = async {
        client.batch_execute(&format!("SELECT pg_advisory_xact_lock({SUPPORT_LOCK})")).await?;
        if let Some(schema) = schema {
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await?;
        }
        client.batch_execute(sql).await?;
        client.batch_execute("COMMIT").await
    }
    .await;
    if installed.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    installed
}

fn classify_ctx(e: &tokio_postgres::Error, context: &str) -> StoreError {
    let mut err = error::classify(e);
    err.message = format!("{context}: {}", err.message);
    err
}

/// Renders a statement for PostgreSQL.
pub(crate) fn render(stmt: &Stmt) -> Rendered {
    Dialect::Postgres.render(stmt)
}

/// Takes a pooled connection, recording the wait and the pool's state.
async fn checkout(pool: &Pool) -> Result<deadpool_postgres::Object> {
    let started = std::time::Instant::now();
    let client = pool.get().await.map_err(error::pool);
    sb_observe::db_pool_wait(POSTGRES, started.elapsed());
    let status = pool.status();
    sb_observe::db_pool(
        POSTGRES,
        status.available,
        status.size.saturating_sub(status.available),
        status.waiting,
    );
    client
}

const POSTGRES: sb_observe::Backend = sb_observe::Backend::Postgres;

/// The trace span of one statement, awaited by its caller (pool wait included).
pub(crate) fn db_span(sql: &str) -> tracing::Span {
    sb_observe::trace::db_span(POSTGRES, sb_observe::sql_operation(sql), sql)
}

impl PostgresStore {
    /// How many reads outside transactions ran on the primary and on replicas (counted only
    /// when replicas are configured).
    pub fn read_counts(&self) -> ReadCounts {
        self.replicas.as_ref().map(|r| r.counts()).unwrap_or_default()
    }

    async fn run(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let client = checkout(&self.pool).await?;
        let started = std::time::Instant::now();
        let result = run_autocommit(&client, sql, params, Mode::Query).await;
        sb_observe::db_query(POSTGRES, sb_observe::sql_operation(sql), started.elapsed());
        match result {
            Ok(Outcome::Rows(rows)) => Ok(rows),
            Ok(Outcome::Count(_)) => Ok(Rows::default()),
            Err(e) => Err(error::classify(&e)),
        }
    }
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn query(&self, stmt: &Stmt) -> Result<Rows> {
        let r = render(stmt);
        let span = db_span(&r.sql);
        let Some(replicas) = &self.replicas else {
            return self.run(&r.sql, &r.params).instrument(span).await;
        };
        async {
            // Only statement trees are known to be read-only (raw SQL may call anything).
            if matches!(stmt, Stmt::Select(_))
                && let Some(done) = replicas.read(&r.sql, &r.params).await
            {
                return done;
            }
            replicas.count(sb_observe::ReadTarget::Primary);
            self.run(&r.sql, &r.params).await
        }
        .instrument(span)
        .await
    }

    async fn begin(&self) -> Result<Box<dyn Tx>> {
        let client = checkout(&self.pool).await?;
        let positions = self.replicas.as_ref().map(|r| r.positions());
        Ok(Box::new(tx::PgTx::new(client, self.pool.clone(), positions)))
    }

    fn write_position(&self) -> Option<String> {
        self.replicas.as_ref()?.positions().written()
    }

    fn require_position(&self, position: &str) {
        if let Some(replicas) = &self.replicas {
            replicas.positions().require(position);
        }
    }

    fn replicas(&self) -> Vec<sb_store::ReplicaHealth> {
        self.replicas.as_ref().map(|r| r.health()).unwrap_or_default()
    }

    async fn ping(&self) -> Result<()> {
        self.run("SELECT 1", &[]).await.map(drop)
    }

    async fn optimize(&self) -> Result<()> {
        self.run("ANALYZE", &[]).await.map(drop)
    }

    async fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        let rows = self
            .run(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1::text \
                 AND column_name <> '_rowid' ORDER BY ordinal_position",
                &[Value::Text(table.to_owned())],
            )
            .await?;
        Ok(rows.rows.into_iter().filter_map(|r| r.into_iter().next()?.into_string()).collect())
    }

    async fn close(&self) {
        if let Some(replicas) = &self.replicas {
            replicas.close();
        }
        self.pool.close();
    }
}

#[cfg(test)]
mod tests;
