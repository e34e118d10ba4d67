//! Records API: list, view, create, update, delete and batches of writes, with API rules, expand
//! and the record JSON form (hidden fields, e-mail visibility).

pub(crate) mod batch;
pub(crate) mod changes;
pub(crate) mod db;
pub(crate) mod delete;
pub(crate) mod expand;
pub(crate) mod files;
pub(crate) mod list;
pub(crate) mod view;
pub(crate) mod write;

use std::sync::Arc;

use sb_query::{Access, RequestInfo, Scope};
use sb_schema::{Collection, FieldKind};
use sb_sql::{Expr, Rendered, Stmt, Ty};
use sb_store::Rows;
use serde_json::{Map, Value as Json};

use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::{App, storage};

/// A record as read from the database: every field (hidden ones included) in its JSON form,
/// plus the expanded relations once computed.
#[derive(Debug, Clone)]
pub struct Record {
    pub collection: Arc<Collection>,
    pub data: Map<String, Json>,
    /// Serialised expanded records, keyed by relation field (or back-relation) name.
    pub expand: Option<Map<String, Json>>,
    /// The requester satisfies the auth collection's manageRule for this record (and so sees
    /// its e-mail); set by [`App::mark_managed`].
    pub managed: bool,
}

impl Record {
    pub fn id(&self) -> &str {
        self.data.get("id").and_then(Json::as_str).unwrap_or("")
    }

    /// Builds records from rows selected with `storage::select_columns` (one column per field,
    /// in field order). Public for the micro-benchmarks of `sb-bench` (`benches/hot_paths.rs`),
    /// which measure this conversion as the list and view paths run it.
    pub fn from_rows(collection: &Arc<Collection>, rows: Rows) -> Vec<Record> {
        rows.rows
            .into_iter()
            .map(|row| {
                let mut data = Map::with_capacity(collection.fields.len());
                for (field, value) in collection.fields.iter().zip(row) {
                    data.insert(field.name.clone(), storage::from_sql(field, value));
                }
                Record { collection: collection.clone(), data, expand: None, managed: false }
            })
            .collect()
    }

    /// The record's API JSON as `viewer` may see it.
    pub fn to_json(&self, viewer: &Viewer) -> Json {
        let c = &self.collection;
        let mut out = Map::with_capacity(c.fields.len() + 3);
        out.insert("collectionId".into(), Json::String(c.id.clone()));
        out.insert("collectionName".into(), Json::String(c.name.clone()));
        let email_visible = c.is_auth() && viewer.sees_email(self);
        for field in &c.fields {
            if field.hidden && !viewer.superuser {
                continue;
            }
            if c.is_auth() {
                match field.name.as_str() {
                    "password" | "tokenKey" => continue,
                    "email" if !email_visible => continue,
                    _ => {}
                }
            }
            if matches!(field.kind, FieldKind::Password(_)) {
                // The stored hash never leaves the server; PocketBase shows the (always empty)
                // plain value instead.
                out.insert(field.name.clone(), Json::String(String::new()));
                continue;
            }
            if let Some(v) = self.data.get(&field.name) {
                out.insert(field.name.clone(), v.clone());
            }
        }
        if let Some(expand) = &self.expand {
            out.insert("expand".into(), Json::Object(expand.clone()));
        }
        Json::Object(out)
    }
}

/// Who a record is serialised for.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub superuser: bool,
    /// `(collectionId, recordId)` of the requester.
    pub auth: Option<(String, String)>,
    /// Auth responses always include the e-mail of their record.
    pub force_email: bool,
}

impl Viewer {
    pub fn from_request(req: &RequestInfo) -> Self {
        Viewer {
            superuser: is_superuser(req),
            auth: req.auth.as_ref().map(|a| (a.collection.id.clone(), a.id().to_owned())),
            force_email: false,
        }
    }

    fn sees_email(&self, r: &Record) -> bool {
        self.superuser
            || self.force_email
            || r.managed
            || r.data.get("emailVisibility").and_then(Json::as_bool).unwrap_or(false)
            || self.auth.as_ref().is_some_and(|(cid, id)| *cid == r.collection.id && id == r.id())
    }
}

impl App {
    /// Marks the auth records (all of one collection) whose collection's manageRule the
    /// requester satisfies, so that they are shown with their e-mail. One query for the
    /// records whose e-mail would otherwise be hidden; nothing for other collections.
    pub(crate) async fn mark_managed(
        &self,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        records: &mut [Record],
    ) -> CoreResult<()> {
        let mut db = db::Db::Store(self.store.as_ref());
        self.mark_managed_in(&mut db, catalog, req, viewer, records).await
    }

    /// [`App::mark_managed`], reading through `db` (a batch's transaction).
    pub(crate) async fn mark_managed_in(
        &self,
        db: &mut db::Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        records: &mut [Record],
    ) -> CoreResult<()> {
        const CHUNK: usize = 500;
        let Some(c) = records.first().map(|r| r.collection.clone()) else { return Ok(()) };
        let rule = c.auth.as_ref().and_then(|a| a.manage_rule.as_deref()).unwrap_or("");
        if viewer.superuser || req.auth.is_none() || rule.is_empty() {
            return Ok(());
        }
        let hidden: Vec<String> =
            records.iter().filter(|r| !viewer.sees_email(r)).map(|r| r.id().to_owned()).collect();
        if hidden.is_empty() {
            return Ok(());
        }
        let Ok(condition) = compile_rule(catalog, &c, rule, "t", req) else { return Ok(()) };
        let mut managed = std::collections::HashSet::new();
        for chunk in hidden.chunks(CHUNK) {
            let select = sb_sql::Select {
                columns: vec![sb_sql::SelectItem::Expr { expr: Expr::col("t", "id"), alias: None }],
                from: Some(sb_sql::FromItem::Table {
                    name: c.name.clone(),
                    alias: Some("t".into()),
                }),
                where_: Some(Expr::And(vec![
                    Expr::InList {
                        expr: Box::new(Expr::col("t", "id")),
                        list: chunk.iter().map(|id| Expr::param(id.as_str())).collect(),
                        negated: false,
                    },
                    condition.clone(),
                ])),
                ..Default::default()
            };
            let rows = db.query(&Stmt::Select(select)).await?;
            managed.extend(
                rows.rows.into_iter().filter_map(|row| row.into_iter().next()?.into_string()),
            );
        }
        for r in records.iter_mut() {
            r.managed = managed.contains(r.id());
        }
        Ok(())
    }
}

pub fn is_superuser(req: &RequestInfo) -> bool {
    req.auth.as_ref().is_some_and(|a| a.is_superuser())
}

/// Compiles a stored API rule (full access) over `alias`.
pub(crate) fn compile_rule(
    catalog: &Catalog,
    collection: &Collection,
    rule: &str,
    alias: &str,
    req: &RequestInfo,
) -> CoreResult<Expr> {
    let _span = sb_observe::trace::rule_compile_span(&collection.name, "rule").entered();
    let expr = sb_filter::parse_filter(rule).map_err(|e| {
        tracing::warn!(collection = %collection.name, error = %e, "stored rule does not parse");
        generic_bad_request()
    })?;
    let scope = Scope {
        collection,
        alias,
        lookup: catalog,
        request: req,
        access: Access::Full,
        now: chrono::Utc::now(),
    };
    sb_query::compile_filter(&expr, &scope).map_err(|e| {
        tracing::warn!(collection = %collection.name, error = %e, "stored rule does not compile");
        generic_bad_request()
    })
}

pub(crate) fn generic_bad_request() -> CoreError {
    CoreError::bad_request("Something went wrong while processing your request.")
}

/// `alias.column` holds `value`: equal to it (single value), or among the elements of its JSON
/// array (`multiple`, through `json_each`).
pub(crate) fn holds_value(alias: &str, column: &str, multiple: bool, value: &str) -> Expr {
    if !multiple {
        return Expr::eq(Expr::col(alias, column), Expr::param(value), Ty::Text);
    }
    Expr::Exists {
        select: Box::new(sb_sql::Select {
            columns: vec![sb_sql::SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(sb_sql::FromItem::One { alias: "_a".into() }),
            joins: vec![sb_sql::Join {
                kind: sb_sql::JoinKind::Inner,
                source: sb_sql::JoinSource::JsonEach(Box::new(sb_sql::Typed::new(
                    Expr::col(alias, column),
                    Ty::JsonText,
                ))),
                alias: "_je".into(),
                on: None,
            }],
            where_: Some(Expr::eq(Expr::col("_je", "value"), Expr::param(value), Ty::Text)),
            ..Default::default()
        }),
        negated: false,
    }
}

/// `alias.id = ?`
pub(crate) fn id_equals(alias: &str, id: &str) -> Expr {
    Expr::eq(Expr::col(alias, "id"), Expr::param(id), Ty::Text)
}

/// The WHERE condition of an UPDATE or DELETE of record `id` that must also satisfy `rule`
/// (`None` or `""`: no rule). Putting the rule into the writing statement makes the check atomic
/// with the write: a concurrent change that makes the rule false turns the write into a no-op
/// (0 rows), never into a write the rule forbids.
///
/// UPDATE and DELETE statements see the table under its own name, so the rule is compiled over
/// that name. A collection named like the aliases `sb-query` generates (`_j0`, `_m1`, `_a2`)
/// could clash with them; its rule goes through `id IN (SELECT t.id ... WHERE rule)` instead.
pub(crate) fn target_condition(
    catalog: &Catalog,
    c: &Collection,
    id: &str,
    rule: Option<&str>,
    req: &RequestInfo,
) -> CoreResult<Expr> {
    let by_id = id_equals(&c.name, id);
    let Some(rule) = rule.filter(|r| !r.is_empty()) else { return Ok(by_id) };
    if !looks_generated_alias(&c.name) {
        let condition = compile_rule(catalog, c, rule, &c.name, req)?;
        return Ok(Expr::And(vec![by_id, condition]));
    }
    const INNER: &str = "t";
    let condition = compile_rule(catalog, c, rule, INNER, req)?;
    Ok(Expr::InSelect {
        expr: Box::new(Expr::col(&c.name, "id")),
        select: Box::new(sb_sql::Select {
            columns: vec![sb_sql::SelectItem::Expr { expr: Expr::col(INNER, "id"), alias: None }],
            from: Some(sb_sql::FromItem::Table { name: c.name.clone(), alias: Some(INNER.into()) }),
            where_: Some(Expr::And(vec![id_equals(INNER, id), condition])),
            ..Default::default()
        }),
        negated: false,
    })
}

/// `_j0`, `_m12`, `_a3`: the shape of the aliases `sb-query` generates.
fn looks_generated_alias(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next() == Some('_')
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.as_str().chars().all(|c| c.is_ascii_digit())
}

/// Debug helper for logs: the SQLite rendering of a statement.
#[allow(dead_code, reason = "kept for ad-hoc debugging of generated SQL")]
pub(crate) fn debug_sql(stmt: &Stmt) -> Rendered {
    sb_sql::Dialect::Sqlite.render(stmt)
}
