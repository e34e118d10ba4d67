//! Embedded SQLite backend of [`sb_store::Store`].
//!
//! Layout of the work:
//! - one **writer thread** owns the only read-write connection and commits concurrent
//!   transactions in groups, one fsync per group (see [`writer`](crate::writer) for the
//!   protocol); [`Tx::commit`](sb_store::Tx::commit) returns once its group is durable;
//! - a fixed set of **reader threads** own read-only connections (`query_only`) and answer
//!   [`Store::query`]; WAL mode lets them run while the writer writes;
//! - every connection caches prepared statements and interrupts statements that run longer
//!   than [`SqliteConfig::query_timeout`] (→ [`ErrorKind::Timeout`](sb_store::ErrorKind)).
//!
//! Statements are rendered with [`Dialect::Sqlite`] on the caller's task, so the database
//! threads only execute. `Stmt::Raw` is already SQLite text and is used as written.
//! Value mapping and error classification are described in `conn.rs` and `error.rs`.

mod conn;
mod error;
mod functions;
mod reader;
mod snapshot;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use sb_sql::Rendered;
use sb_store::{Dialect, ErrorKind, Result, Rows, Stmt, Store, StoreError, Tx, Value};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::conn::{Conn, Role};
use crate::reader::Readers;
use crate::writer::{Counters, Msg, Writer};

pub use crate::writer::WriterStats;

/// SQLite's `synchronous` level for the write connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync on every commit: committed data survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a process crash, a power loss may drop the last
    /// commits (PocketBase's setting).
    Normal,
}

/// Settings of the SQLite store; [`SqliteConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// Database file; it and its parent directory are created when missing.
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// Read-only connections (each with its own thread). Default: the number of CPUs, at least 2.
    pub readers: usize,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// Statements running longer are interrupted.
    pub query_timeout: Duration,
    /// Most transactions committed together by one physical commit.
    pub max_group: usize,
    /// A write transaction that sends no command for this long is rolled back, so a stuck
    /// task cannot hold the single writer.
    pub stall_timeout: Duration,
}

impl SqliteConfig {
    pub fn new(path: impl Into<PathBuf>) -> SqliteConfig {
        SqliteConfig {
            path: path.into(),
            synchronous: Synchronous::Full,
            readers: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            busy_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(30),
            max_group: 256,
            stall_timeout: Duration::from_secs(5),
        }
    }
}

/// The SQLite store. Cheap to share behind an `Arc`; see the crate docs.
pub struct SqliteStore {
    /// The database file (snapshots open their own connection on it).
    path: PathBuf,
    busy_timeout: Duration,
    writer: crossbeam_channel::Sender<Msg>,
    readers: Readers,
    counters: Arc<Counters>,
    reader_threads: Mutex<Vec<JoinHandle<()>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
}

/// Opens (creating when missing) the database and starts the writer and reader threads.
pub async fn open(config: SqliteConfig) -> Result<SqliteStore> {
    tokio::task::spawn_blocking(move || open_blocking(&config))
        .await
        .map_err(|e| StoreError::other(format!("opening the SQLite store failed: {e}")))?
}

fn open_blocking(config: &SqliteConfig) -> Result<SqliteStore> {
    if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::new(ErrorKind::Unavailable, format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    // The writer first: it creates the file and switches it to WAL, which the read-only
    // connections need.
    let writer_conn = Conn::open(&config.path, Role::Writer, config)?;
    let readers = (0..config.readers.max(1))
        .map(|_| Conn::open(&config.path, Role::Reader, config))
        .collect::<Result<Vec<_>>>()?;
    let spawn_failed = |e: std::io::Error| StoreError::other(format!("cannot start a thread: {e}"));
    let (readers, reader_threads) = Readers::start(readers).map_err(spawn_failed)?;

    let counters = Arc::new(Counters::default());
    let (writer, inbox) = crossbeam_channel::unbounded();
    let w =
        Writer::new(writer_conn, inbox, config.max_group, config.stall_timeout, counters.clone());
    let thread = std::thread::Builder::new()
        .name("sb-sqlite-writer".into())
        .spawn(move || w.run())
        .map_err(|e| {
            readers.stop();
            spawn_failed(e)
        })?;
    Ok(SqliteStore {
        path: config.path.clone(),
        busy_timeout: config.busy_timeout,
        writer,
        readers,
        counters,
        reader_threads: Mutex::new(reader_threads),
        writer_thread: Mutex::new(Some(thread)),
    })
}

impl SqliteStore {
    /// Counters of the writer's group commit (for metrics and tests).
    pub fn stats(&self) -> WriterStats {
        self.counters.snapshot()
    }
}

const SQLITE: sb_observe::Backend = sb_observe::Backend::Sqlite;

/// The trace span of one statement, awaited by its caller (queueing included).
pub(crate) fn db_span(sql: &str) -> tracing::Span {
    sb_observe::trace::db_span(SQLITE, sb_observe::sql_operation(sql), sql)
}

/// Renders a statement for SQLite; `Stmt::Raw` is SQLite text with `?` placeholders already.
pub(crate) fn render(stmt: &Stmt) -> Rendered {
    match stmt {
        Stmt::Raw { sql, params } => Rendered { sql: sql.clone(), params: params.clone() },
        other => Dialect::Sqlite.render(other),
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn query(&self, stmt: &Stmt) -> Result<Rows> {
        let r = render(stmt);
        let span = db_span(&r.sql);
        self.readers.query(r.sql, r.params).instrument(span).await
    }

    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(writer::begin(&self.writer)?))
    }

    async fn write(&self, stmts: &[Stmt]) -> Result<Vec<u64>> {
        let span = sb_observe::trace::db_span(SQLITE, "write", "");
        writer::write(&self.writer, stmts).instrument(span).await
    }

    async fn ping(&self) -> Result<()> {
        self.readers.query("SELECT 1".into(), Vec::new()).await.map(drop)
    }

    async fn optimize(&self) -> Result<()> {
        let stmt = Stmt::Raw { sql: "PRAGMA optimize".into(), params: Vec::new() };
        writer::write(&self.writer, &[stmt]).await.map(drop)
    }

    fn can_snapshot(&self) -> bool {
        true
    }

    async fn snapshot(&self, dest: &std::path::Path) -> Result<()> {
        let (source, dest, busy) = (self.path.clone(), dest.to_path_buf(), self.busy_timeout);
        tokio::task::spawn_blocking(move || snapshot::copy(&source, &dest, busy))
            .await
            .map_err(|e| StoreError::other(format!("the snapshot thread failed: {e}")))?
    }

    async fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        let rows = self
            .readers
            .query(
                "SELECT name FROM pragma_table_info(?) ORDER BY cid".into(),
                vec![Value::Text(table.to_owned())],
            )
            .await?;
        Ok(rows.rows.into_iter().filter_map(|r| r.into_iter().next()?.into_string()).collect())
    }

    async fn close(&self) {
        // Readers first, so that the writer's connection is the last one: closing it then
        // checkpoints the WAL into the database file and removes it.
        self.readers.stop();
        let readers = std::mem::take(&mut *self.reader_threads.lock());
        join(readers).await;
        let (reply, done) = oneshot::channel();
        if self.writer.send(Msg::Close(reply)).is_ok() {
            let _ = done.await;
        }
        let writer = self.writer_thread.lock().take();
        join(writer.into_iter().collect()).await;
    }
}

/// Waits (off the async threads) for threads to finish.
async fn join(threads: Vec<JoinHandle<()>>) {
    let joined = tokio::task::spawn_blocking(move || {
        for t in threads {
            if t.join().is_err() {
                tracing::error!("an SQLite thread panicked");
            }
        }
    });
    let _ = joined.await;
}

#[cfg(test)]
mod tests;
