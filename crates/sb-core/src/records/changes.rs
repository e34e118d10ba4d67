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
    }
}
