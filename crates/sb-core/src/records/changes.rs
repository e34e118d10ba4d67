//! Committed record changes: every write path reports what it changed, once its transaction has
//! committed, so that realtime delivery (and later cache invalidation) sees exactly the
//! committed state, in commit order per record.

use super::Record;
use crate::App;

/// What a committed write did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
}

impl ChangeAction {
    /// The realtime event name (spec §7.4).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Create => "create",
            ChangeAction::Update => "update",
            ChangeAction::Delete => "delete",
        }
    }
}

/// One committed change. `record` holds every field (hidden ones included): the new state for
/// creates and updates, the last state for deletes.
#[derive(Debug, Clone)]
pub struct RecordChange {
    pub action: ChangeAction,
    pub record: Record,
}

/// Locks that keep a record's change reports in commit order: a write that will report a
/// change to an existing record holds its record's stripe from before its first statement
/// until after `records_changed`, so two writes of one record commit and publish in the same
/// order (without it, two transactions committed together could publish in either order).
/// Taken before any statement, so it never waits while holding a row lock.
pub(crate) struct ChangeOrder {
    stripes: Vec<std::sync::Arc<tokio::sync::Mutex<()>>>,
}

impl Default for ChangeOrder {
    fn default() -> Self {
        ChangeOrder { stripes: (0..1024).map(|_| Default::default()).collect() }
    }
}

impl ChangeOrder {
    fn stripe(&self, collection_id: &str, id: &str) -> usize {
        let mut hash = crc32fast::Hasher::new();
        hash.update(collection_id.as_bytes());
        hash.update(b"/");
        hash.update(id.as_bytes());
        hash.finalize() as usize % self.stripes.len()
    }

    pub(crate) async fn lock(
        &self,
        collection_id: &str,
        id: &str,
    ) -> tokio::sync::OwnedMutexGuard<()> {
        self.stripes[self.stripe(collection_id, id)].clone().lock_owned().await
    }

    /// Locks the stripes of several records (a batch), each once and in ascending order, so
    /// two batches (or a batch and a single write) never wait for each other in a cycle.
    pub(crate) async fn lock_all<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<tokio::sync::OwnedMutexGuard<()>> {
        let mut stripes: Vec<usize> =
            records.into_iter().map(|(collection, id)| self.stripe(collection, id)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for i in stripes {
            guards.push(self.stripes[i].clone().lock_owned().await);
        }
        guards
    }
}

impl App {
    /// Called after a transaction commits, with everything it changed in order.
    pub(crate) fn records_changed(&self, changes: Vec<RecordChange>) {
        self.remove_deleted_files(&changes);
        for change in &changes {
            tracing::trace!(
                action = change.action.as_str(),
                collection = %change.record.collection.name,
                id = change.record.id(),
                "record changed"
            );
        }
        self.publish_changes(changes);
    }
}
