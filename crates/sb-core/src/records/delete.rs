//! Record delete with relation integrity (spec §3.11) and collection truncation.
//!
//! Everything happens in one transaction: the record's own DELETE (carrying the delete rule, so
//! the check is atomic with the write) comes first, then references to it are removed from
//! relation fields, referencing records are deleted when the relation has `cascadeDelete` and
//! became empty, and the whole delete fails (rolled back) when a required relation would become
//! empty. Deleting first makes self-references and cascade cycles end by themselves.

use std::collections::HashSet;
use std::sync::Arc;

use sb_query::RequestInfo;
use sb_schema::{Collection, FieldKind};
use sb_sql::{Delete, Expr, FromItem, Select, SelectItem, Stmt, Ty, Update};
use sb_store::Tx;
use serde_json::Value as Json;

use super::changes::{ChangeAction, RecordChange};
use super::{Record, holds_value, id_equals, is_superuser, target_condition};
use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::{App, storage};

const ALIAS: &str = "t";
const REQUIRED_REFERENCE: &str = "Failed to delete record. Make sure that the record is not part of a required relation reference.";

impl App {
    /// Deletes a record (and what cascades from it).
    ///
    /// The record's own DELETE runs first and carries the delete rule in its WHERE clause, so
    /// the rule check is atomic with the write (0 rows: missing or not allowed, 404); the
    /// references to it are handled afterwards in the same transaction.
    pub async fn delete_record(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
    ) -> CoreResult<()> {
        let catalog = self.catalog();
        let (c, target) = delete_target(&catalog, req, collection, id)?;
        let _order = self.change_order.lock(&c.id, id).await;
        let mut tx = self.store.begin().await?;
        match delete_in(tx.as_mut(), &catalog, &c, id, target).await {
            Ok(changes) => {
                tx.commit().await?;
                self.records_changed(changes);
                Ok(())
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    }

    /// Deletes every record of a collection with the same integrity handling as single deletes.
    /// The changes this makes to records of other collections (cascaded deletes, released
    /// references) are reported; the truncated records' own files go with their folder.
    pub(crate) async fn truncate_records(&self, c: &Arc<Collection>) -> CoreResult<()> {
        let catalog = self.catalog();
        let referenced = references_to(&catalog, &c.id).next().is_some();
        let mut tx = self.store.begin().await?;
        let mut changes = Vec::new();
        let result = async {
            if referenced {
                let rows = tx
                    .query(&Stmt::Select(Select {
                        columns: vec![SelectItem::Expr {
                            expr: Expr::col(ALIAS, "id"),
                            alias: None,
                        }],
                        from: Some(FromItem::Table {
                            name: c.name.clone(),
                            alias: Some(ALIAS.into()),
                        }),
                        ..Default::default()
                    }))
                    .await?;
                let mut visited = HashSet::new();
                for row in rows.rows {
                    if let Some(id) = row.into_iter().next().and_then(sb_sql::Value::into_string)
                        && !visited.contains(&(c.id.clone(), id.clone()))
                    {
                        let mut walk = Walk { visited: &mut visited, changes: &mut changes };
                        delete_cascading(tx.as_mut(), &catalog, c, &id, &mut walk).await?;
                    }
                }
            } else {
                tx.execute(&Stmt::Delete(Delete { table: c.name.clone(), where_: None })).await?;
            }
            Ok::<_, CoreError>(())
        }
        .await;
        match result {
            Ok(()) => {
                tx.commit().await?;
                changes.retain(|change| change.record.collection.id != c.id);
                self.records_changed(changes);
                Ok(())
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    }
}

/// The checks of a delete that need no database (collection, view, delete rule): the
/// collection and the WHERE condition of its DELETE (record id and rule).
pub(crate) fn delete_target(
    catalog: &Catalog,
    req: &RequestInfo,
    collection: &str,
    id: &str,
) -> CoreResult<(Arc<Collection>, Expr)> {
    let c = catalog
        .get(collection)
        .cloned()
        .ok_or_else(|| CoreError::NotFound("Missing collection context.".into()))?;
    if c.is_view() {
        return Err(CoreError::bad_request("Unsupported collection type."));
    }
    let rule = if is_superuser(req) {
        None
    } else {
        match c.delete_rule.as_deref() {
            None => return Err(CoreError::superusers_only()),
            Some(rule) => Some(rule),
        }
    };
    let target = target_condition(catalog, &c, id, rule, req)?;
    Ok((c, target))
}

/// The delete of record `id` of `c` in `tx`, with `target` from [`delete_target`], and the
/// relation integrity handling. Returns the changes in PocketBase's event order: a record's
/// delete comes after the changes its delete caused (cascaded deletes, records whose relations
/// lost it), depth first, this record's last; the caller reports them once `tx` commits (or
/// drops them when `tx` is rolled back).
pub(crate) async fn delete_in(
    tx: &mut dyn Tx,
    catalog: &Catalog,
    c: &Arc<Collection>,
    id: &str,
    target: Expr,
) -> CoreResult<Vec<RecordChange>> {
    // The record's last state, for the change notification.
    let mut select = storage::select_record(c, ALIAS);
    select.where_ = Some(id_equals(ALIAS, id));
    select.limit = Some(1);
    let before = Record::from_rows(c, tx.query(&Stmt::Select(select)).await?);
    let deleted =
        tx.execute(&Stmt::Delete(Delete { table: c.name.clone(), where_: Some(target) })).await?;
    if deleted == 0 {
        return Err(CoreError::not_found());
    }
    let mut changes = Vec::new();
    let mut visited = HashSet::from([(c.id.clone(), id.to_owned())]);
    let mut walk = Walk { visited: &mut visited, changes: &mut changes };
    release_references(tx, catalog, c, id, &mut walk).await?;
    changes.extend(
        before.into_iter().map(|record| RecordChange { action: ChangeAction::Delete, record }),
    );
    Ok(changes)
}

/// The state of a delete's walk over references: records already deleted (so a cascade never
/// deletes one twice) and the changes made so far.
struct Walk<'a> {
    visited: &'a mut HashSet<(String, String)>,
    changes: &'a mut Vec<RecordChange>,
}

/// The current full state of record `id` of `c`, as `tx` sees it.
async fn load_current(tx: &mut dyn Tx, c: &Arc<Collection>, id: &str) -> CoreResult<Vec<Record>> {
    let mut select = storage::select_record(c, ALIAS);
    select.where_ = Some(id_equals(ALIAS, id));
    select.limit = Some(1);
    Ok(Record::from_rows(c, tx.query(&Stmt::Select(select)).await?))
}

/// Relation fields (of non-view collections) that point to `collection_id`.
fn references_to<'a>(
    catalog: &'a Catalog,
    collection_id: &'a str,
) -> impl Iterator<Item = (&'a Arc<Collection>, &'a sb_schema::Field)> + 'a {
    catalog.all().iter().filter(|c| !c.is_view()).flat_map(move |c| {
        c.fields.iter().filter_map(move |f| match &f.kind {
            FieldKind::Relation(o) if o.collection_id == collection_id => Some((c, f)),
            _ => None,
        })
    })
}

/// Deletes record `id` of `c` (reached by a cascade) and then what references it.
fn delete_cascading<'a>(
    tx: &'a mut dyn Tx,
    catalog: &'a Catalog,
    c: &'a Arc<Collection>,
    id: &'a str,
    walk: &'a mut Walk<'_>,
) -> BoxFuture<'a, CoreResult<()>> {
    Box::pin(async move {
        if !walk.visited.insert((c.id.clone(), id.to_owned())) {
            return Ok(());
        }
        let last = load_current(tx, c, id).await?;
        tx.execute(&Stmt::Delete(Delete {
            table: c.name.clone(),
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(id), Ty::Text)),
        }))
        .await?;
        release_references(tx, catalog, c, id, walk).await?;
        walk.changes.extend(
            last.into_iter().map(|record| RecordChange { action: ChangeAction::Delete, record }),
        );
        Ok(())
    })
}

/// Handles every reference to the deleted record `id` of `c` (spec §3.11): the id is removed
/// from the referencing relation; a referencing record whose `cascadeDelete` relation became
/// empty is deleted in turn; a `required` relation that would become empty fails the delete.
/// The deleted rows are gone already, so self-references and cycles end by themselves;
/// `walk` keeps a cascade from deleting a record twice and collects the changes.
fn release_references<'a>(
    tx: &'a mut dyn Tx,
    catalog: &'a Catalog,
    c: &'a Arc<Collection>,
    id: &'a str,
    walk: &'a mut Walk<'_>,
) -> BoxFuture<'a, CoreResult<()>> {
    Box::pin(async move {
        let refs: Vec<(Arc<Collection>, sb_schema::Field)> =
            references_to(catalog, &c.id).map(|(rc, f)| (rc.clone(), f.clone())).collect();
        for (rc, field) in refs {
            let rows = tx
                .query(&Stmt::Select(Select {
                    columns: vec![
                        SelectItem::Expr { expr: Expr::col(ALIAS, "id"), alias: None },
                        SelectItem::Expr { expr: Expr::col(ALIAS, &field.name), alias: None },
                    ],
                    from: Some(FromItem::Table {
                        name: rc.name.clone(),
                        alias: Some(ALIAS.into()),
                    }),
                    where_: Some(holds_value(ALIAS, &field.name, field.kind.is_multiple(), id)),
                    ..Default::default()
                }))
                .await?;
            for row in rows.rows {
                let mut it = row.into_iter();
                let Some(ref_id) = it.next().and_then(sb_sql::Value::into_string) else { continue };
                if walk.visited.contains(&(rc.id.clone(), ref_id.clone())) {
                    continue;
                }
                let current = storage::from_sql(&field, it.next().unwrap_or(sb_sql::Value::Null));
                let remaining: Json = match current {
                    Json::Array(items) => {
                        Json::Array(items.into_iter().filter(|v| v.as_str() != Some(id)).collect())
                    }
                    _ => Json::String(String::new()),
                };
                let empty = match &remaining {
                    Json::Array(items) => items.is_empty(),
                    _ => true,
                };
                let (cascade, required) = match &field.kind {
                    FieldKind::Relation(o) => (o.cascade_delete, o.required),
                    _ => (false, false),
                };
                if empty && cascade {
                    delete_cascading(tx, catalog, &rc, &ref_id, walk).await?;
                    continue;
                }
                if empty && required {
                    return Err(CoreError::bad_request(REQUIRED_REFERENCE));
                }
                let mut set =
                    vec![(field.name.clone(), Expr::Param(storage::to_sql(&field, &remaining)))];
                let now = sb_schema::datetime::now_string();
                for f in &rc.fields {
                    if matches!(&f.kind, FieldKind::Autodate(o) if o.on_update) {
                        set.push((f.name.clone(), Expr::param(now.as_str())));
                    }
                }
                tx.execute(&Stmt::Update(Update {
                    table: rc.name.clone(),
                    set,
                    where_: Some(Expr::eq(
                        Expr::bare("id"),
                        Expr::param(ref_id.as_str()),
                        Ty::Text,
                    )),
                }))
                .await?;
                let updated = load_current(tx, &rc, &ref_id).await?;
                walk.changes.extend(
                    updated
                        .into_iter()
                        .map(|record| RecordChange { action: ChangeAction::Update, record }),
                );
            }
        }
        Ok(())
    })
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
