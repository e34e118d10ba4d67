//! `GET /api/collections/COLL/records/RID` (spec §3.6) and record loading helpers.

use std::sync::Arc;

use sb_query::RequestInfo;
use sb_schema::Collection;
use sb_sql::{Expr, Stmt};
use sb_store::Store;
use serde_json::Value as Json;

use super::db::Db;
use super::{Record, Viewer, compile_rule, id_equals, is_superuser};
use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::{App, storage};

const ALIAS: &str = "t";

/// Loads one record by id, optionally constrained by a compiled condition over alias `t`.
pub(crate) async fn load_record(
    store: &dyn Store,
    c: &Arc<Collection>,
    id: &str,
    condition: Option<Expr>,
) -> CoreResult<Option<Record>> {
    load_record_in(&mut Db::Store(store), c, id, condition).await
}

/// [`load_record`] as `db` sees it.
pub(crate) async fn load_record_in(
    db: &mut Db<'_>,
    c: &Arc<Collection>,
    id: &str,
    condition: Option<Expr>,
) -> CoreResult<Option<Record>> {
    let mut select = storage::select_record(c, ALIAS);
    let mut conditions = vec![id_equals(ALIAS, id)];
    conditions.extend(condition);
    select.where_ = Some(Expr::And(conditions));
    select.limit = Some(1);
    let rows = db.query(&Stmt::Select(select)).await?;
    Ok(Record::from_rows(c, rows).into_iter().next())
}

impl App {
    /// Views one record as the requester may see it (through the read cache: `cache.rs`).
    pub async fn view_record(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        expand: Option<&str>,
    ) -> CoreResult<crate::Answer> {
        let catalog = self.catalog();
        let Some(cache) = self.read_cache.as_ref() else {
            return self.view_uncached(catalog, req, collection, id, expand).await.map(Into::into);
        };
        let subject = format!("{id}\0{}", expand.unwrap_or(""));
        let key = crate::cache::request_key(&catalog, "view", collection, &subject, req);
        let fill = match cache.get(&self.coherence, &key).await {
            Ok(hit) => return Ok(hit),
            Err(fill) => fill,
        };
        let (result, mut reads) = crate::cache::recording(self.view_uncached(
            catalog.clone(),
            req,
            collection,
            id,
            expand,
        ))
        .await;
        if let (Ok(record), Some(fill)) = (&result, fill) {
            crate::cache::add_principal(&mut reads, req);
            cache.put(&self.coherence, &catalog, key, fill, reads, record).await;
        }
        result.map(Into::into)
    }

    async fn view_uncached(
        &self,
        catalog: Arc<Catalog>,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        expand: Option<&str>,
    ) -> CoreResult<Json> {
        let c = catalog
            .get(collection)
            .cloned()
            .ok_or_else(|| CoreError::NotFound("Missing collection context.".into()))?;
        let record = self.fetch_viewable(&catalog, req, &c, id).await?;
        let viewer = Viewer::from_request(req);
        self.finish_record(&catalog, req, &viewer, record, expand).await
    }

    /// The record if it exists and the requester passes the view rule; 403/404 otherwise.
    pub(crate) async fn fetch_viewable(
        &self,
        catalog: &Catalog,
        req: &RequestInfo,
        c: &Arc<Collection>,
        id: &str,
    ) -> CoreResult<Record> {
        let condition = if is_superuser(req) {
            None
        } else {
            match c.view_rule.as_deref() {
                None => return Err(CoreError::superusers_only()),
                Some("") => None,
                Some(rule) => Some(compile_rule(catalog, c, rule, ALIAS, req)?),
            }
        };
        load_record(self.store.as_ref(), c, id, condition).await?.ok_or_else(CoreError::not_found)
    }

    /// Expands (when asked) and serialises one record.
    pub(crate) async fn finish_record(
        &self,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        record: Record,
        expand: Option<&str>,
    ) -> CoreResult<Json> {
        let mut db = Db::Store(self.store.as_ref());
        self.finish_record_in(&mut db, catalog, req, viewer, record, expand).await
    }

    /// [`App::finish_record`], reading through `db` (a batch's transaction).
    pub(crate) async fn finish_record_in(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        record: Record,
        expand: Option<&str>,
    ) -> CoreResult<Json> {
        let mut records = vec![record];
        if let Some(expand) = expand {
            self.expand_in(db, catalog, req, viewer, &mut records, expand).await?;
        }
        self.mark_managed_in(db, catalog, req, viewer, &mut records).await?;
        Ok(records.pop().map(|r| r.to_json(viewer)).unwrap_or(Json::Null))
    }
}
