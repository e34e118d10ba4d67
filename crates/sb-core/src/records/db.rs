//! Where a record operation reads and writes: the store, for a single request (reads on the
//! read pool, each write its own short transaction), or an open transaction, for a batch (every
//! read sees the batch's earlier writes, and nothing is committed until the batch ends).

use sb_sql::Stmt;
use sb_store::{Rows, Store, Tx};

pub(crate) enum Db<'a> {
    Store(&'a dyn Store),
    Tx(&'a mut dyn Tx),
}

impl Db<'_> {
    pub(crate) async fn query(&mut self, stmt: &Stmt) -> sb_store::Result<Rows> {
        match self {
            Db::Store(store) => store.query(stmt).await,
            Db::Tx(tx) => tx.query(stmt).await,
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
            Db::Tx(tx) => tx.execute(&stmt).await,
        }
    }
}
