//! The batch API (spec §8.1): record creates, updates, upserts and deletes of any collections,
//! run in order in one transaction, all or nothing.
//!
//! Each sub-request runs the same code as its single-request handler, but reads and writes
//! through the batch's transaction ([`Db::Tx`]), so it sees the writes of the sub-requests
//! before it (rules, relation checks, uniqueness, expand). The whole batch, from `begin` to the
//! last sub-request, is bounded by the `batch.timeout` setting: on SQLite the transaction holds
//! the only writer. Record changes are reported once, after the commit, in order.

use std::time::Duration;

use sb_query::RequestInfo;
use sb_store::Tx;
use serde_json::Value as Json;

use super::changes::{ChangeAction, RecordChange};
use super::db::{Db, FileJournal};
use super::delete::{delete_in, delete_target};
use super::write::RecordInput;
use super::{Viewer, id_equals};
use crate::App;
use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};

/// What a sub-request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchAction {
    /// `POST /api/collections/C/records`
    Create,
    /// `PATCH /api/collections/C/records/ID`
    Update { id: String },
    /// `PUT /api/collections/C/records`: an update when the body's `id` names an existing
    /// record, a create otherwise.
    Upsert,
    /// `DELETE /api/collections/C/records/ID`
    Delete { id: String },
}

/// One sub-request, as the wire layer parsed it.
#[derive(Debug, Clone)]
pub struct BatchOp {
    /// The sub-request as rules see it: the caller's auth, `context = "batch"`, its method,
    /// query and headers (merged over the outer ones).
    pub req: RequestInfo,
    pub collection: String,
    pub action: BatchAction,
    pub input: RecordInput,
    pub expand: Option<String>,
}

/// Why a batch wrote nothing.
#[derive(Debug)]
pub enum BatchError {
    /// Sub-request `index` failed with `error` (its own error, e.g. a 403 or a validation
    /// error).
    Request { index: usize, error: CoreError },
    /// The batch ran out of time, or the transaction could not be started or committed.
    Transaction,
}

/// `settings.batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    pub enabled: bool,
    pub max_requests: usize,
    /// The whole transaction's time limit (0 in the settings: 3 s).
    pub timeout: Duration,
    /// The request body limit in bytes (0 in the settings: 128 MiB).
    pub max_body_size: usize,
}

impl App {
    /// The current `settings.batch`, defaults applied.
    pub fn batch_settings(&self) -> BatchSettings {
        let settings = self.settings();
        let int = |key: &str| settings.get(&["batch", key]).and_then(Json::as_i64).unwrap_or(0);
        let positive = |key: &str| usize::try_from(int(key)).unwrap_or(0);
        let timeout = match u64::try_from(int("timeout")) {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => Duration::from_secs(3),
        };
        let max_body_size = match positive("maxBodySize") {
            0 => 128 << 20,
            n => n,
        };
        BatchSettings {
            enabled: settings.get(&["batch", "enabled"]).and_then(Json::as_bool).unwrap_or(false),
            max_requests: positive("maxRequests"),
            timeout,
            max_body_size,
        }
    }

    /// Runs `ops` in order in one transaction limited to `timeout`; answers each one's
    /// response body (`None` for deletes), or why nothing was written.
    pub async fn batch(
        &self,
        ops: Vec<BatchOp>,
        timeout: Duration,
    ) -> Result<Vec<Option<Json>>, BatchError> {
        let catalog = self.catalog();
        let deadline = tokio::time::Instant::now() + timeout;
        // The records the batch changes report their changes in commit order (as single
        // writes do): their locks are taken before the transaction begins.
        let targets: Vec<(String, String)> = ops
            .iter()
            .filter_map(|op| {
                let c = catalog.get(&op.collection)?;
                let id = match &op.action {
                    BatchAction::Update { id } | BatchAction::Delete { id } => id.as_str(),
                    BatchAction::Upsert => op.input.data.get("id").and_then(Json::as_str)?,
                    BatchAction::Create => return None,
                };
                Some((c.id.clone(), id.to_owned()))
            })
            .collect();
        let locks = self.change_order.lock_all(targets.iter().map(|(c, id)| (&**c, &**id)));
        let Ok(_order) = tokio::time::timeout_at(deadline, locks).await else {
            return Err(BatchError::Transaction);
        };
        let begin = tokio::time::timeout_at(deadline, self.store.begin()).await;
        let mut tx = match begin {
            Ok(Ok(tx)) => tx,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "batch transaction could not start");
                return Err(BatchError::Transaction);
            }
            Err(_) => return Err(BatchError::Transaction),
        };
        let mut files = FileJournal::default();
        let run = async {
            let mut bodies = Vec::with_capacity(ops.len());
            let mut changes = Vec::new();
            for (index, op) in ops.into_iter().enumerate() {
                match self.batch_op(tx.as_mut(), &mut files, &catalog, op, &mut changes).await {
                    Ok(body) => bodies.push(body),
                    Err(error) => return Err(BatchError::Request { index, error }),
                }
            }
            Ok((bodies, changes))
        };
        let outcome = match tokio::time::timeout_at(deadline, run).await {
            Ok(Ok(done)) => match tx.commit().await {
                Ok(()) => Ok(done),
                Err(e) => {
                    tracing::warn!(error = %e, "batch transaction could not commit");
                    Err(BatchError::Transaction)
                }
            },
            Ok(Err(e)) => {
                tx.rollback().await.ok();
                Err(e)
            }
            Err(_) => {
                // Dropping rolls back without waiting: a statement of the batch may still be
                // blocked (on PostgreSQL, on a row lock), and the client gets its answer now.
                drop(tx);
                Err(BatchError::Transaction)
            }
        };
        match outcome {
            Ok((bodies, changes)) => {
                // Reported while the records' locks are held, as single writes do.
                self.records_changed(changes);
                self.remove_journal_files(&files.replaced).await;
                Ok(bodies)
            }
            Err(e) => {
                self.remove_journal_files(&files.stored).await;
                Err(e)
            }
        }
    }

    /// One sub-request in `tx`; its changes are appended to `changes`, the files it stores
    /// and replaces to `files`.
    async fn batch_op(
        &self,
        tx: &mut dyn Tx,
        files: &mut FileJournal,
        catalog: &Catalog,
        op: BatchOp,
        changes: &mut Vec<RecordChange>,
    ) -> CoreResult<Option<Json>> {
        let BatchOp { req, collection, action, input, expand } = op;
        let Some(c) = catalog.get(&collection).cloned() else {
            return Err(CoreError::NotFound("Missing collection context.".into()));
        };
        if let BatchAction::Delete { id } = &action {
            let (c, target) = delete_target(catalog, &req, &c.id, id)?;
            changes.extend(delete_in(tx, catalog, &c, id, target).await?);
            return Ok(None);
        }
        let mut db = Db::Tx(tx, files);
        let update_id = match action {
            BatchAction::Update { id } => Some(id),
            BatchAction::Upsert => upsert_target(&mut db, &c, &input).await?,
            BatchAction::Create | BatchAction::Delete { .. } => None,
        };
        let record = match update_id {
            Some(id) => {
                let (record, changed) =
                    self.update_in(&mut db, catalog, &req, &c.id, &id, input).await?;
                if changed {
                    changes.push(RecordChange {
                        action: ChangeAction::Update,
                        record: record.clone(),
                    });
                }
                record
            }
            None => {
                let record = self.create_in(&mut db, catalog, &req, &c.id, input).await?;
                changes.push(RecordChange { action: ChangeAction::Create, record: record.clone() });
                record
            }
        };
        let viewer = Viewer::from_request(&req);
        let body = self
            .finish_record_in(&mut db, catalog, &req, &viewer, record, expand.as_deref())
            .await?;
        Ok(Some(body))
    }
}

/// The record an upsert updates: the one the body's `id` names, when it exists (whatever the
/// rules say; the update's own rule check follows).
async fn upsert_target(
    db: &mut Db<'_>,
    c: &sb_schema::Collection,
    input: &RecordInput,
) -> CoreResult<Option<String>> {
    let Some(id) = input.data.get("id").and_then(Json::as_str).filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    if c.is_view() {
        return Ok(None);
    }
    let select = sb_sql::Select {
        columns: vec![sb_sql::SelectItem::Expr { expr: sb_sql::Expr::Int(1), alias: None }],
        from: Some(sb_sql::FromItem::Table { name: c.name.clone(), alias: Some("t".into()) }),
        where_: Some(id_equals("t", id)),
        limit: Some(1),
        ..Default::default()
    };
    let found = !db.query(&sb_sql::Stmt::Select(select)).await?.is_empty();
    Ok(found.then(|| id.to_owned()))
}
