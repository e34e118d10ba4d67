//! The storage interface: what the application needs from a database, and nothing else.
//!
//! Callers hold an `Arc<dyn Store>` and pass [`sb_sql::Stmt`] trees; each backend renders them in
//! its own dialect and runs them. Reads go to [`Store::query`] (a pool of read connections, or
//! a read replica that has replayed this store's writes); every write runs in a [`Tx`] from
//! [`Store::begin`].
//!
//! Invariant: a [`Tx`] that is dropped without [`Tx::commit`] is rolled back, and
//! [`Tx::commit`] returns only once the data is durable (for SQLite: after the group commit
//! that contains it has been fsynced with the configured `synchronous` level).

use std::sync::Arc;

pub use sb_sql::{Dialect, Stmt, Value};

/// Rows returned by a query: column names and the values of each row, in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Arc<[String]>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// Portable classification of database errors. Backends map their driver codes here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A UNIQUE constraint or index was violated; see [`StoreError::unique`].
    Unique,
    ForeignKey,
    NotNull,
    Check,
    /// Lock contention or serialization failure; retrying the transaction may succeed.
    Busy,
    /// The statement ran longer than the configured timeout and was interrupted.
    Timeout,
    /// The database cannot be reached.
    Unavailable,
    /// Invalid SQL (e.g. a bad view query written by a superuser).
    Syntax,
    /// A well-formed statement failed on a value it had to process, e.g. SQLite's
    /// `malformed JSON` when its constant propagation substitutes a compared text literal into
    /// a `JSON_EXTRACT` of the same column (`loc = 'x' && loc.lon = 8`).
    BadValue,
    Other,
}

/// Details of a unique violation: the index name when the driver reports it (PostgreSQL) and the
/// columns when it reports those (SQLite: `UNIQUE constraint failed: t.a, t.b`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UniqueViolation {
    pub index: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct StoreError {
    pub kind: ErrorKind,
    /// Driver message; for logs and superuser-facing "Raw error" texts only, never for clients.
    pub message: String,
    pub unique: Option<UniqueViolation>,
}

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError { kind, message: message.into(), unique: None }
    }

    pub fn other(message: impl Into<String>) -> Self {
        StoreError::new(ErrorKind::Other, message)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A database backend.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The dialect statements are rendered in (informational; callers build dialect-neutral
    /// trees).
    fn dialect(&self) -> Dialect;

    /// Runs a read-only statement on a read connection (PostgreSQL: a read replica's when one
    /// has replayed every write this store must see, see [`Store::require_position`]).
    async fn query(&self, stmt: &Stmt) -> Result<Rows>;

    /// Starts a write transaction.
    async fn begin(&self) -> Result<Box<dyn Tx>>;

    /// Runs `stmts` in order as one write transaction and commits it; returns the number of
    /// rows each statement changed. When a statement fails nothing is written and its error is
    /// returned. For writes that need no answer between statements this saves the round trips
    /// of [`Store::begin`]; backends override it where that pays (the SQLite writer receives the
    /// whole script at once).
    async fn write(&self, stmts: &[Stmt]) -> Result<Vec<u64>> {
        let mut tx = self.begin().await?;
        let mut counts = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            match tx.execute(stmt).await {
                Ok(n) => counts.push(n),
                Err(e) => {
                    tx.rollback().await.ok();
                    return Err(e);
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// Checks that the database answers (readiness).
    async fn ping(&self) -> Result<()>;

    /// Refreshes the planner's statistics (the daily maintenance job): SQLite's
    /// `PRAGMA optimize`, PostgreSQL's `ANALYZE`.
    async fn optimize(&self) -> Result<()> {
        Ok(())
    }

    /// Whether [`Store::snapshot`] is available (a database held in one local file).
    fn can_snapshot(&self) -> bool {
        false
    }

    /// Writes a transactionally consistent copy of the whole database to the new file `dest`
    /// while reads and writes go on (SQLite's online backup API). Backends without such a
    /// file copy (PostgreSQL: `pg_dump`) answer an `Other` error.
    async fn snapshot(&self, dest: &std::path::Path) -> Result<()> {
        let _ = dest;
        Err(StoreError::other("this database backend has no file snapshot"))
    }

    /// The position (in the database's write-ahead log, as text) of the last transaction this
    /// store committed, when it has read replicas (PostgreSQL's `pg_current_wal_insert_lsn()`
    /// after the commit); `None` without replicas, before the first commit, and on SQLite.
    /// A cluster carries it to the other nodes, which pass it to [`Store::require_position`],
    /// so a write acknowledged by one node is read by every node.
    fn write_position(&self) -> Option<String> {
        None
    }

    /// Raises the position a replica must have replayed before it serves a read of this store
    /// (a write another node reported; see [`Store::write_position`]). Never lowers it; text
    /// that is not a position is ignored. A no-op without replicas.
    fn require_position(&self, position: &str) {
        let _ = position;
    }

    /// The read replicas and their state, for the readiness report (empty without replicas).
    fn replicas(&self) -> Vec<ReplicaHealth> {
        Vec::new()
    }

    /// Names of the columns of a table or view, in order (empty when it does not exist).
    async fn table_columns(&self, table: &str) -> Result<Vec<String>>;

    /// Stops background workers and closes connections; pending transactions finish first.
    async fn close(&self);
}

/// A read replica as the readiness report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaHealth {
    /// Its host list.
    pub name: String,
    /// Whether it answered its latest probe (reads skip it otherwise).
    pub healthy: bool,
    /// How far (in bytes of write-ahead log) its replay is behind what it must have replayed
    /// to serve this node's reads, as last read.
    pub behind_bytes: u64,
}

/// A write transaction. Statements run in order; the first error leaves the transaction
/// unusable (callers roll back).
#[async_trait::async_trait]
pub trait Tx: Send {
    async fn query(&mut self, stmt: &Stmt) -> Result<Rows>;

    /// Runs a statement and returns the number of rows it changed.
    async fn execute(&mut self, stmt: &Stmt) -> Result<u64>;

    /// Holds the lock named `key` until this transaction ends, first waiting for any other
    /// transaction (of any process on the same database) that holds it. Backends whose write
    /// transactions are serialized anyway (SQLite's single writer) keep this default no-op.
    async fn lock(&mut self, key: i64) -> Result<()> {
        let _ = key;
        Ok(())
    }

    /// Commits; returns once the commit is durable.
    async fn commit(self: Box<Self>) -> Result<()>;

    async fn rollback(self: Box<Self>) -> Result<()>;
}
