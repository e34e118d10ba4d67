//! `GET /api/collections/COLL/records` (spec §3.2).

use sb_query::{Access, CollectionLookup, RequestInfo, Scope};
use sb_schema::Collection;
use sb_sql::{Expr, FromItem, OrderBy, Select, SelectItem, Stmt};
use sb_store::{Rows, Store};

use super::{Record, Viewer, generic_bad_request, is_superuser};
use crate::error::{CoreError, CoreResult};
use crate::{App, ListParams, ListResult, storage};

const ALIAS: &str = "t";

/// A compiled list query: the WHERE condition, order and window over one collection's table.
pub(crate) struct ListQuery {
    table: String,
    where_: Option<Expr>,
    order_by: Vec<OrderBy>,
    limit: u64,
    offset: u64,
    count: bool,
}

impl ListQuery {
    /// Compiles `params.filter`/`params.sort` over `collection` (with `access`) together with a
    /// stored rule (full access); they share relation joins, as in PocketBase.
    pub(crate) fn build(
        collection: &Collection,
        lookup: &dyn CollectionLookup,
        request: &RequestInfo,
        params: &ListParams,
        access: Access,
        rule: Option<&str>,
    ) -> CoreResult<ListQuery> {
        let _span = sb_observe::trace::rule_compile_span(&collection.name, "list").entered();
        let scope =
            Scope { collection, alias: ALIAS, lookup, request, access, now: chrono::Utc::now() };
        let parse = |text: &str| sb_filter::parse_filter(text).map_err(|_| generic_bad_request());
        let rule = rule.filter(|r| !r.is_empty()).map(parse).transpose()?;
        let filter = params.filter.as_deref().filter(|f| !f.is_empty()).map(parse).transpose()?;
        let sort = match params.sort.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => sb_filter::parse_sort(s).map_err(|_| generic_bad_request())?,
            None => Vec::new(),
        };
        let mut parts: Vec<(&sb_filter::Expr, Access)> = Vec::new();
        if let Some(r) = &rule {
            parts.push((r, Access::Full));
        }
        if let Some(f) = &filter {
            parts.push((f, access));
        }
        let compiled = sb_query::compile_query(&parts, &sort, &scope).map_err(|e| {
            tracing::debug!(error = %e, "list query does not compile");
            generic_bad_request()
        })?;
        let mut order_by = compiled.order_by;
        if order_by.is_empty() && !collection.is_view() {
            // Default: insertion order (spec §3.2, Scalebase's choice).
            order_by.push(OrderBy { expr: Expr::RowId { table: Some(ALIAS.into()) }, desc: false });
        }
        let per_page = params.per_page.max(1) as u64;
        let page = params.page.max(1) as u64;
        Ok(ListQuery {
            table: collection.name.clone(),
            where_: compiled.where_,
            order_by,
            limit: per_page,
            offset: (page - 1).saturating_mul(per_page),
            count: !params.skip_total,
        })
    }

    /// The compiled condition (filter and rule), over the alias `t`.
    pub(crate) fn where_(&self) -> Option<&Expr> {
        self.where_.as_ref()
    }

    fn from(&self) -> FromItem {
        FromItem::Table { name: self.table.clone(), alias: Some(ALIAS.into()) }
    }

    /// Runs the page query (and the count query, concurrently, unless `skipTotal`).
    pub(crate) async fn run(
        &self,
        store: &dyn Store,
        columns: &[SelectItem],
    ) -> CoreResult<(Rows, Option<i64>)> {
        let page = Stmt::Select(Select {
            columns: columns.to_vec(),
            from: Some(self.from()),
            where_: self.where_.clone(),
            order_by: self.order_by.clone(),
            limit: Some(self.limit),
            offset: Some(self.offset),
            ..Default::default()
        });
        if !self.count {
            return Ok((store.query(&page).await?, None));
        }
        let count = Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::CountStar, alias: None }],
            from: Some(self.from()),
            where_: self.where_.clone(),
            ..Default::default()
        });
        let (rows, total) = tokio::join!(store.query(&page), store.query(&count));
        let total = total?
            .rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        Ok((rows?, Some(total)))
    }
}

impl App {
    /// Lists records of a collection as the requester may see them (through the read cache
    /// when the request can be cached: see `cache.rs`).
    pub async fn list_records(
        &self,
        req: &RequestInfo,
        collection: &str,
        params: &ListParams,
    ) -> CoreResult<ListResult> {
        let catalog = self.catalog();
        let uses_macros =
            [&params.filter, &params.sort].into_iter().flatten().any(|t| t.contains('@'));
        let Some(cache) = self.read_cache.as_ref().filter(|_| !uses_macros) else {
            return self.list_uncached(catalog, req, collection, params).await;
        };
        let subject = format!(
            "{}\0{}\0{}\0{}\0{}\0{}",
            params.page,
            params.per_page,
            params.skip_total,
            params.filter.as_deref().unwrap_or(""),
            params.sort.as_deref().unwrap_or(""),
            params.expand.as_deref().unwrap_or(""),
        );
        let key = crate::cache::request_key(&catalog, "list", collection, &subject, req);
        let fill = match cache.get(&self.coherence, &key).await {
            Ok(hit) => return Ok(ListResult::from_json(hit.into_value(), params)),
            Err(fill) => fill,
        };
        let (result, mut reads) =
            crate::cache::recording(self.list_uncached(catalog.clone(), req, collection, params))
                .await;
        if let (Ok(list), Some(fill)) = (&result, fill) {
            crate::cache::add_principal(&mut reads, req);
            cache.put(&self.coherence, &catalog, key, fill, reads, &list.to_json()).await;
        }
        result
    }

    async fn list_uncached(
        &self,
        catalog: std::sync::Arc<crate::Catalog>,
        req: &RequestInfo,
        collection: &str,
        params: &ListParams,
    ) -> CoreResult<ListResult> {
        let c = catalog
            .get(collection)
            .cloned()
            .ok_or_else(|| CoreError::NotFound("Missing collection context.".into()))?;
        let superuser = is_superuser(req);
        let rule = if superuser {
            None
        } else {
            let Some(rule) = c.list_rule.as_deref() else {
                return Err(CoreError::superusers_only());
            };
            for text in [params.filter.as_deref(), params.sort.as_deref()].into_iter().flatten() {
                if text.contains("@collection.") {
                    return Err(CoreError::Forbidden(
                        "Only superusers can filter by @collection.".into(),
                    ));
                }
                if text.contains("@request.") {
                    return Err(CoreError::Forbidden(
                        "Only superusers can filter by @request.".into(),
                    ));
                }
            }
            Some(rule)
        };
        let access = if superuser { Access::Full } else { Access::Client };
        let query = ListQuery::build(&c, &*catalog, req, params, access, rule)?;
        let (rows, total) =
            query.run(self.store.as_ref(), &storage::select_columns(&c, ALIAS)).await?;
        let mut records = Record::from_rows(&c, rows);
        let viewer = Viewer::from_request(req);
        if let Some(expand) = params.expand.as_deref() {
            self.expand(&catalog, req, &viewer, &mut records, expand).await?;
        }
        self.mark_managed(&catalog, req, &viewer, &mut records).await?;
        let items = records.iter().map(|r| r.to_json(&viewer)).collect();
        Ok(ListResult::new(items, params, total))
    }
}
