//! Where a record operation reads and writes: the store, for a single request (reads on the
//! read pool, each write its own short transaction), or an open transaction, for a batch (every
//! read sees the batch's earlier writes, and nothing is committed until the batch ends).

use sb_sql::Stmt;
use sb_store::{Rows, Store, Tx};

pub(crate) enum Db<'a> {
    Store(&'a dyn Store),
    /// An open transaction and the journal of the files its writes stored and replaced.
    Tx(&'a mut dyn Tx, &'a mut FileJournal),
}

/// Files touched by the writes of an open transaction: the uploads it stored (removed again
/// if it rolls back) and the files its updates replaced (removed only once it commits).
#[derive(Default)]
pub(crate) struct FileJournal {
    pub(crate) stored: Vec<RecordFiles>,
    pub(crate) replaced: Vec<RecordFiles>,
}

/// Files of one record.
pub(crate) struct RecordFiles {
    pub(crate) collection: std::sync::Arc<sb_schema::Collection>,
    pub(crate) record_id: String,
    pub(crate) names: Vec<String>,
}

impl Db<'_> {
    /// Whether writes are committed at once (not inside a caller's transaction).
    pub(crate) fn commits_each_write(&self) -> bool {
        matches!(self, Db::Store(_))
    }

    /// Notes uploads about to be stored for a record (inside a transaction only).
    pub(crate) fn note_stored(&mut self, files: impl FnOnce() -> RecordFiles) {
        if let Db::Tx(_, journal) = self {
            journal.stored.push(files());
        }
    }

    /// Notes files an update replaced (inside a transaction only).
    pub(crate) fn note_replaced(&mut self, files: RecordFiles) {
        if let Db::Tx(_, journal) = self {
            journal.replaced.push(files);
        }
    }

    pub(crate) async fn query(&mut self, stmt: &Stmt) -> sb_store::Result<Rows> {
        match self {
            Db::Store(store) => store.query(stmt).await,
            Db::Tx(tx, _) => tx.query(stmt).await,
        }
    }

    /// Runs one writing statement and returns the number of rows it changed: committed at
    /// once through [`Store::write`] (one message to the SQLite writer), or as a statement of
    /// the open transaction.
    pub(crate) async fn write(&mut self, stmt: Stmt) -> sb_store::Result<u64> {
        match self {
            Db::Store(store) => {
                Ok(store.write(std::slice::from_ref(&stmt)).await?.first().copied().unwrap_or(0))
            }
            Db::Tx(tx, _) => tx.execute(&stmt).await,
        }
    }
}
