//! One SQLite connection as the store uses it: opening with our pragmas, the per-statement
//! timeout, parameter binding and result decoding.
//!
//! Value mapping (SQLite has no booleans or JSON type):
//! - parameters: `Null`, `Int`, `Float`, `Text` bind as themselves; `Bool` binds as the integer
//!   0/1 and `Json` as its text;
//! - result cells: NULL → `Null`, INTEGER → `Int`, REAL → `Float`, TEXT → `Text`, and BLOB →
//!   `Text` (decoded as UTF-8, invalid sequences replaced). Booleans therefore come back as
//!   `Int` and JSON columns as `Text`, which consumers of `sb_store::Rows` accept.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sb_store::{Result, Rows, StoreError, Value};

use crate::{SqliteConfig, Synchronous, error};

const SQLITE: sb_observe::Backend = sb_observe::Backend::Sqlite;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;
/// Virtual-machine instructions between two checks of the statement deadline. A check costs a
/// clock read; a thousand instructions take microseconds, so the overhead stays negligible.
const PROGRESS_OPS: i32 = 1_000;
/// Page cache per connection, in KiB (negative `cache_size` means KiB in SQLite): SQLite's
/// default. Reads come through the memory map below, so a larger cache mostly held copies of
/// pages the OS caches anyway; 32 MiB for writers and 16 MiB for readers cost 35–40 MiB of
/// resident memory under load for no throughput (`bench/README.md` § Server CPU and memory).
const PAGE_CACHE_KIB: i64 = 2 * 1024;
/// Memory-mapped I/O window: reads of the main file skip a copy, and all connections share the
/// mapped pages through the OS page cache.
const MMAP_SIZE: i64 = 256 * 1024 * 1024;

/// The clock origin deadlines are measured from (so they fit in an atomic integer).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_nanos() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether a connection writes (the single writer) or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Writer,
    Reader,
}

/// A connection plus the deadline its progress handler enforces.
pub(crate) struct Conn {
    pub(crate) db: Connection,
    /// Nanoseconds since [`EPOCH`] after which the running statement is interrupted; 0 = none.
    deadline: Arc<AtomicU64>,
    timeout: Duration,
}

impl Conn {
    pub(crate) fn open(path: &Path, role: Role, config: &SqliteConfig) -> Result<Conn> {
        let flags = match role {
            Role::Writer => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            Role::Reader => OpenFlags::SQLITE_OPEN_READ_ONLY,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let db = Connection::open_with_flags(path, flags).map_err(|e| error::classify(&e))?;
        let conn =
            Conn { db, deadline: Arc::new(AtomicU64::new(0)), timeout: config.query_timeout };
        conn.configure(role, config).map_err(|e| error::classify(&e))?;
        Ok(conn)
    }

    fn configure(&self, role: Role, config: &SqliteConfig) -> rusqlite::Result<()> {
        let db = &self.db;
        db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        db.busy_timeout(config.busy_timeout)?;
        if role == Role::Writer {
            // `journal_mode` answers with the mode now in force; anything but WAL (e.g. an
            // in-memory database) would break the reader/writer split, so insist on it.
            let mode: String = db.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
                    Some(format!("journal_mode is {mode}, WAL is required")),
                ));
            }
            let sync = match config.synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            };
            db.pragma_update(None, "synchronous", sync)?;
        }
        // The bundled SQLite enables foreign keys by default; collection tables do not use them.
        db.pragma_update(None, "foreign_keys", false)?;
        db.pragma_update(None, "temp_store", "MEMORY")?;
        db.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
        // `mmap_size` answers with a row, which `pragma_update` tolerates.
        db.pragma_update(None, "mmap_size", MMAP_SIZE)?;
        if role == Role::Reader {
            db.pragma_update(None, "query_only", true)?;
        }
        crate::functions::register(db)?;
        let deadline = self.deadline.clone();
        db.progress_handler(
            PROGRESS_OPS,
            Some(move || {
                let d = deadline.load(Ordering::Relaxed);
                d != 0 && now_nanos() > d
            }),
        );
        Ok(())
    }

    /// Arms the statement deadline until the guard is dropped.
    fn arm(&self) -> DeadlineGuard<'_> {
        let at = now_nanos().saturating_add(u64::try_from(self.timeout.as_nanos()).unwrap_or(0));
        self.deadline.store(at.max(1), Ordering::Relaxed);
        DeadlineGuard(&self.deadline)
    }

    /// Maps a driver error, turning an interrupt by our progress handler into a timeout.
    fn fail(&self, e: &rusqlite::Error) -> StoreError {
        if error::is_interrupt(e) {
            return StoreError::new(
                sb_store::ErrorKind::Timeout,
                format!("statement interrupted after the {:?} query timeout", self.timeout),
            );
        }
        error::classify(e)
    }

    /// Runs a statement and collects its result rows.
    pub(crate) fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        let _armed = self.arm();
        let started = std::time::Instant::now();
        let result = self.query_inner(sql, params).map_err(|e| self.fail(&e));
        sb_observe::db_query(SQLITE, sb_observe::sql_operation(sql), started.elapsed());
        result
    }

    fn query_inner(&self, sql: &str, params: &[Value]) -> rusqlite::Result<Rows> {
        let mut stmt = self.db.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            let width = row.as_ref().column_count();
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(decode(row.get_ref(i)?));
            }
            out.push(cells);
        }
        drop(rows);
        // Only now: SQLite re-prepares a cached statement whose tables changed when it is
        // first stepped, so before that the column list may be the old one.
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        Ok(Rows { columns, rows: out })
    }

    /// Runs a statement and returns the number of rows it changed (0 for reads). Statements
    /// that produce rows (`RETURNING`, `SELECT`) are run to completion and their rows dropped.
    pub(crate) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let _armed = self.arm();
        let started = std::time::Instant::now();
        let result = self.execute_inner(sql, params).map_err(|e| self.fail(&e));
        sb_observe::db_query(SQLITE, sb_observe::sql_operation(sql), started.elapsed());
        result
    }

    fn execute_inner(&self, sql: &str, params: &[Value]) -> rusqlite::Result<u64> {
        let mut stmt = self.db.prepare_cached(sql)?;
        bind(&mut stmt, params)?;
        if stmt.column_count() == 0 {
            return stmt.raw_execute().map(|n| n as u64);
        }
        let readonly = stmt.readonly();
        let mut rows = stmt.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(if readonly { 0 } else { self.db.changes() })
    }

    /// Runs a parameterless control statement (`BEGIN`, `SAVEPOINT`, ...) without a deadline.
    pub(crate) fn control(&self, sql: &str) -> Result<()> {
        self.db
            .prepare_cached(sql)
            .and_then(|mut s| s.raw_execute())
            .map(drop)
            .map_err(|e| error::classify(&e))
    }
}

struct DeadlineGuard<'a>(&'a AtomicU64);

impl Drop for DeadlineGuard<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// A parameter as SQLite sees it; borrows text instead of copying it.
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
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

fn bind(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> rusqlite::Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(params.len(), expected));
    }
    for (i, p) in params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, Param(p))?;
    }
    Ok(())
}

fn decode(cell: ValueRef<'_>) -> Value {
    match cell {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}
