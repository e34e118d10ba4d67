//! Consistent copies of the live database (backups), with SQLite's online backup API.
//!
//! The copy runs on a connection of its own, opened read-only, and copies every page in a single
//! `sqlite3_backup_step(-1)`: that step reads the whole database inside one read transaction, so
//! the copy is the database as of one commit. In WAL mode a reader blocks no writer, so writes go
//! on (into the WAL) while the copy is made; the writer's checkpoints simply stop short of the
//! pages the copy still needs until it ends.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use sb_store::{ErrorKind, Result, StoreError};

use crate::error;

/// Copies the database at `source` into the new file `dest` (which must not exist).
pub(crate) fn copy(source: &Path, dest: &Path, busy_timeout: Duration) -> Result<()> {
    if dest.exists() {
        return Err(StoreError::other(format!("{} exists already", dest.display())));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let src = Connection::open_with_flags(source, flags).map_err(|e| error::classify(&e))?;
    src.busy_timeout(busy_timeout).map_err(|e| error::classify(&e))?;
    let mut dst = Connection::open(dest).map_err(|e| error::classify(&e))?;
    let started = std::time::Instant::now();
    {
        let backup = Backup::new(&src, &mut dst).map_err(|e| error::classify(&e))?;
        loop {
            match backup.step(-1).map_err(|e| error::classify(&e))? {
                StepResult::Done => break,
                // Another connection holds a lock the first step needs (not expected in WAL
                // mode): wait a little, within the busy timeout.
                StepResult::Busy | StepResult::Locked if started.elapsed() < busy_timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                StepResult::Busy | StepResult::Locked => {
                    return Err(StoreError::new(
                        ErrorKind::Busy,
                        "the database stayed locked during the snapshot",
                    ));
                }
                // `More` cannot follow a step of all pages; step again if it ever does.
                _ => {}
            }
        }
    }
    // The copy is a standalone file: a rollback journal, not a WAL beside it.
    dst.pragma_update(None, "journal_mode", "DELETE").map_err(|e| error::classify(&e))?;
    dst.close().map_err(|(_, e)| error::classify(&e))?;
    Ok(())
}
