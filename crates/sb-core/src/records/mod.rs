//! Records API: list, view, create, update, delete, with API rules, expand and the record JSON
//! form (hidden fields, e-mail visibility).

pub(crate) mod delete;
pub(crate) mod expand;
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
use crate::storage;

/// A record as read from the database: every field (hidden ones included) in its JSON form,
/// plus the expanded relations once computed.
#[derive(Debug, Clone)]
pub struct Record {
    pub collection: Arc<Collection>,
    pub data: Map<String, Json>,
    /// Serialised expanded records, keyed by relation field (or back-relation) name.
    pub expand: Option<Map<String, Json>>,
}

impl Record {
    pub fn id(&self) -> &str {
        self.data.get("id").and_then(Json::as_str).unwrap_or("")
    }

    /// Builds records from rows selected with [`storage::select_columns`].
    pub(crate) fn from_rows(collection: &Arc<Collection>, rows: Rows) -> Vec<Record> {
        rows.rows
            .into_iter()
            .map(|row| {
                let mut data = Map::with_capacity(collection.fields.len());
                for (field, value) in collection.fields.iter().zip(row) {
                    data.insert(field.name.clone(), storage::from_sql(field, value));
                }
                Record { collection: collection.clone(), data, expand: None }
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
            || r.data.get("emailVisibility").and_then(Json::as_bool).unwrap_or(false)
            || self.auth.as_ref().is_some_and(|(cid, id)| *cid == r.collection.id && id == r.id())
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

/// `alias.id = ?`
pub(crate) fn id_equals(alias: &str, id: &str) -> Expr {
    Expr::eq(Expr::col(alias, "id"), Expr::param(id), Ty::Text)
}

/// Debug helper for logs: the SQLite rendering of a statement.
#[allow(dead_code, reason = "kept for ad-hoc debugging of generated SQL")]
pub(crate) fn debug_sql(stmt: &Stmt) -> Rendered {
    sb_sql::Dialect::Sqlite.render(stmt)
}
