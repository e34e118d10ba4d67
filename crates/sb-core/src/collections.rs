//! Collections API: create, update (with table migration), delete, truncate, import, list.
//!
//! Every schema change runs in one write transaction: the DDL, the data conversions and the row
//! in `_collections` commit together or not at all, on both backends (SQLite and PostgreSQL
//! DDL are transactional). Schema changes are serialised by `App::schema_lock`.

use std::collections::HashMap;
use std::sync::Arc;

use sb_schema::{Collection, CollectionType, ErrorMap, FieldError, FieldKind};
use sb_sql::{Delete, Expr, FromItem, Insert, Select, SelectItem, Stmt, Ty, Update, Value};
use sb_store::Tx;
use serde_json::Value as Json;

use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::storage;
use crate::system::COLLECTIONS_TABLE;
use crate::{App, ListParams, ListResult};

/// A definition that could not be read: a formatting error, or (unknown `type`) a validation
/// error with the operation's message.
fn load_error(e: sb_schema::errors::LoadError, validation_message: &str) -> CoreError {
    if e.is_validation() {
        CoreError::validation(validation_message, e.errors())
    } else {
        CoreError::bad_request(e.message())
    }
}

impl App {
    /// `GET /api/collections`: the filter and sort run in SQL over the `_collections` table,
    /// whose listable columns are described by a pseudo collection (spec §2.2).
    pub async fn list_collections(&self, params: &ListParams) -> CoreResult<ListResult> {
        let meta = collections_table_schema();
        let catalog = self.catalog();
        let request = sb_query::RequestInfo::default();
        let query = crate::records::list::ListQuery::build(
            &meta,
            &*catalog,
            &request,
            params,
            sb_query::Access::Full,
            None,
        )?;
        let (rows, total) = query
            .run(
                self.store.as_ref(),
                &[sb_sql::SelectItem::Expr { expr: Expr::col("t", "definition"), alias: None }],
            )
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows.rows {
            let text = row.into_iter().next().and_then(Value::into_string).unwrap_or_default();
            let json: Json = serde_json::from_str(&text).map_err(CoreError::internal)?;
            let c =
                Collection::from_json(&json).map_err(|e| CoreError::internal(format!("{e:?}")))?;
            items.push(c.to_json());
        }
        Ok(ListResult::new(items, params, total))
    }

    /// `GET /api/collections/COLL`.
    pub fn view_collection(&self, id_or_name: &str) -> CoreResult<Json> {
        self.catalog().get(id_or_name).map(|c| c.to_json()).ok_or_else(CoreError::not_found)
    }

    /// `POST /api/collections`.
    pub async fn create_collection(&self, input: &Json) -> CoreResult<Json> {
        let _guard = self.schema_lock.lock().await;
        let catalog = self.catalog();
        let others: Vec<Collection> = catalog.all().iter().map(|c| (**c).clone()).collect();
        let mut tx = self.store.begin().await?;
        let created = match create_in_tx(tx.as_mut(), input.clone(), &others).await {
            Ok(c) => c,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e);
            }
        };
        tx.commit().await?;
        self.reload_catalog().await?;
        Ok(created.to_json())
    }

    /// `PATCH /api/collections/COLL`.
    pub async fn update_collection(&self, id_or_name: &str, patch: &Json) -> CoreResult<Json> {
        let _guard = self.schema_lock.lock().await;
        let catalog = self.catalog();
        let old = catalog.get(id_or_name).cloned().ok_or_else(CoreError::not_found)?;
        let others: Vec<Collection> =
            catalog.all().iter().filter(|c| c.id != old.id).map(|c| (**c).clone()).collect();
        let mut new = Collection::merge_patch(&old, patch)
            .map_err(|e| load_error(e, "Failed to update collection."))?;
        new.updated = sb_schema::datetime::now_string();
        let mut tx = self.store.begin().await?;
        let result = update_in_tx(tx.as_mut(), &old, &mut new, &others, &catalog).await;
        if let Err(e) = result {
            tx.rollback().await.ok();
            return Err(e);
        }
        tx.commit().await?;
        self.reload_catalog().await?;
        Ok(new.to_json())
    }

    /// `DELETE /api/collections/COLL`.
    pub async fn delete_collection(&self, id_or_name: &str) -> CoreResult<()> {
        let _guard = self.schema_lock.lock().await;
        let catalog = self.catalog();
        let c = catalog.get(id_or_name).cloned().ok_or_else(CoreError::not_found)?;
        if c.system {
            return Err(CoreError::bad_request("Failed to delete collection."));
        }
        let mut referencing: Vec<&str> = Vec::new();
        for other in catalog.all() {
            if other.id == c.id {
                continue;
            }
            let refers = other
                .fields
                .iter()
                .any(|f| matches!(&f.kind, FieldKind::Relation(o) if o.collection_id == c.id));
            if refers || view_depends_on(other, &c) {
                referencing.push(&other.name);
            }
        }
        if !referencing.is_empty() {
            return Err(CoreError::bad_request(format!(
                "Failed to delete collection probably due to existing reference in {}.",
                referencing.join(", ")
            )));
        }
        let mut tx = self.store.begin().await?;
        let result = async {
            let views = drop_views(tx.as_mut(), &catalog, Some(&c.id)).await?;
            tx.execute(&if c.is_view() {
                Stmt::DropView { name: c.name.clone(), if_exists: true }
            } else {
                Stmt::DropTable { name: c.name.clone(), if_exists: true }
            })
            .await?;
            tx.execute(&Stmt::Delete(Delete {
                table: COLLECTIONS_TABLE.into(),
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
            }))
            .await?;
            recreate_views(tx.as_mut(), &views).await
        }
        .await;
        match result {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(raw_error("Failed to delete collection.", e));
            }
        }
        self.reload_catalog().await
    }

    /// `DELETE /api/collections/COLL/truncate`.
    pub async fn truncate_collection(&self, id_or_name: &str) -> CoreResult<()> {
        let catalog = self.catalog();
        let c = catalog.get(id_or_name).cloned().ok_or_else(CoreError::not_found)?;
        if c.is_view() {
            return Err(CoreError::bad_request(
                "View collections cannot be truncated since they don't store their own records.",
            ));
        }
        self.truncate_records(&c).await
    }

    /// `PUT /api/collections/import`.
    pub async fn import_collections(&self, input: &Json) -> CoreResult<()> {
        let list = input.get("collections").and_then(Json::as_array).cloned().unwrap_or_default();
        let delete_missing = input.get("deleteMissing").and_then(Json::as_bool).unwrap_or(false);
        if list.is_empty() {
            let mut data = ErrorMap::new();
            data.insert("collections", FieldError::required());
            return Err(CoreError::validation(
                "An error occurred while validating the submitted data.",
                data,
            ));
        }
        let _guard = self.schema_lock.lock().await;
        let catalog = self.catalog();
        let mut tx = self.store.begin().await?;
        let result = import_in_tx(tx.as_mut(), &catalog, &list, delete_missing).await;
        match result {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(match e {
                    CoreError::BadRequest { data, .. } if !data.is_empty() => {
                        CoreError::validation("Failed to import collections.", data)
                    }
                    other => {
                        let mut data = ErrorMap::new();
                        data.insert(
                            "collections",
                            FieldError::new(
                                "validation_collections_import_failure",
                                format!("Failed to import the collections configuration. Raw error:\n{other}"),
                            ),
                        );
                        CoreError::validation("Failed to import collections.", data)
                    }
                });
            }
        }
        self.reload_catalog().await
    }

    /// `GET /api/collections/meta/scaffolds`.
    pub fn scaffolds(&self) -> Json {
        let mut out = serde_json::Map::new();
        for kind in [CollectionType::Base, CollectionType::Auth, CollectionType::View] {
            out.insert(kind.as_str().into(), Collection::scaffold(kind).to_json());
        }
        Json::Object(out)
    }
}

fn raw_error(message: &str, err: CoreError) -> CoreError {
    match err {
        CoreError::BadRequest { .. } => err,
        other => CoreError::bad_request(format!("{message} Raw error: \n{other}")),
    }
}

/// The listable columns of `_collections` as a collection, so that `filter`/`sort` of
/// `GET /api/collections` compile through the ordinary resolver.
fn collections_table_schema() -> Collection {
    let json = serde_json::json!({
        "id": "_collections", "name": COLLECTIONS_TABLE, "type": "base",
        "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "system": true},
            {"name": "name", "type": "text"},
            {"name": "type", "type": "text"},
            {"name": "system", "type": "bool"},
            {"name": "created", "type": "text"},
            {"name": "updated", "type": "text"},
        ],
    });
    // The definition above is static and valid.
    Collection::from_json(&json).unwrap_or_else(|_| Collection::scaffold(CollectionType::Base))
}

/// Creates a collection (table, indexes, definition row) inside `tx`. `others` are the
/// collections that already exist.
pub(crate) async fn create_in_tx(
    tx: &mut dyn Tx,
    input: Json,
    others: &[Collection],
) -> CoreResult<Collection> {
    let mut c =
        Collection::from_json(&input).map_err(|e| load_error(e, "Failed to create collection."))?;
    let now = sb_schema::datetime::now_string();
    c.created = now.clone();
    c.updated = now;
    let other_refs: Vec<&Collection> = others.iter().collect();
    if c.is_view() {
        c.fields = crate::views::derive_fields(tx, &c, others).await?;
    }
    sb_schema::validate::prepare(&mut c, None, &other_refs);
    let errors = validate_full(&c, None, others);
    if !errors.is_empty() {
        return Err(CoreError::validation("Failed to create collection.", errors));
    }
    let result = async {
        tx.execute(&storage::create_table(&c)).await?;
        if !c.is_view() {
            for def in storage::index_defs(&c).map_err(CoreError::bad_request)? {
                tx.execute(&Stmt::CreateIndex(def)).await?;
            }
        }
        write_definition(tx, &c, true).await
    }
    .await;
    result.map_err(|e| raw_error("Failed to create collection.", e))?;
    Ok(c)
}

/// Schema validation plus the checks that need other crates: rule expressions compile, index
/// statements parse, relation targets exist.
fn validate_full(c: &Collection, old: Option<&Collection>, others: &[Collection]) -> ErrorMap {
    let other_refs: Vec<&Collection> = others.iter().collect();
    // Rule errors come first: ErrorMap keeps the first error recorded per key.
    let mut errors = ErrorMap::new();
    let mut all: Vec<Collection> = others.to_vec();
    all.push(c.clone());
    let lookup = Catalog::new(all);
    let request = sb_query::RequestInfo::default();
    let scope = sb_query::Scope {
        collection: c,
        alias: "t",
        lookup: &lookup,
        request: &request,
        access: sb_query::Access::Full,
        now: chrono::Utc::now(),
    };
    let mut rules: Vec<(&str, &Option<String>)> = vec![
        ("listRule", &c.list_rule),
        ("viewRule", &c.view_rule),
        ("createRule", &c.create_rule),
        ("updateRule", &c.update_rule),
        ("deleteRule", &c.delete_rule),
    ];
    if let Some(auth) = &c.auth {
        rules.push(("authRule", &auth.auth_rule));
        rules.push(("manageRule", &auth.manage_rule));
    }
    for (key, rule) in rules {
        let Some(rule) = rule.as_deref().filter(|r| !r.trim().is_empty()) else { continue };
        let compiled = sb_filter::parse_filter(rule)
            .map_err(|e| e.message)
            .and_then(|expr| sb_query::compile_filter(&expr, &scope).map_err(|e| e.message));
        if let Err(message) = compiled {
            errors.insert(
                key,
                FieldError::new(
                    "validation_invalid_rule",
                    format!("Invalid rule. Raw error: {message}"),
                ),
            );
        }
    }
    if !c.is_view() {
        let mut index_errors = ErrorMap::new();
        for (i, sql) in c.indexes.iter().enumerate() {
            match sb_sql::parse_index(sql) {
                Ok(def) => {
                    for column in def.columns.iter().filter(|col| !col.is_expr) {
                        if c.field(&column.name).is_none() {
                            index_errors.insert(
                                i.to_string(),
                                FieldError::new(
                                    "validation_invalid_index_expression",
                                    "Invalid CREATE INDEX expression.",
                                ),
                            );
                        }
                    }
                }
                Err(_) => index_errors.insert(
                    i.to_string(),
                    FieldError::new(
                        "validation_invalid_index_expression",
                        "Invalid CREATE INDEX expression.",
                    ),
                ),
            }
        }
        errors.insert_nested("indexes", index_errors);
    }
    let mut field_errors = ErrorMap::new();
    for (i, field) in c.fields.iter().enumerate() {
        if let FieldKind::Relation(o) = &field.kind {
            let target = if o.collection_id == c.id {
                Some(c)
            } else {
                others.iter().find(|x| x.id == o.collection_id)
            };
            match target {
                None if !o.collection_id.is_empty() => {
                    let mut e = ErrorMap::new();
                    e.insert(
                        "collectionId",
                        FieldError::new(
                            "validation_field_relation_missing_collection",
                            "The relation collection doesn't exist.",
                        ),
                    );
                    field_errors.insert_nested(i.to_string(), e);
                }
                Some(t) if t.is_view() && !c.is_view() => {
                    let mut e = ErrorMap::new();
                    e.insert(
                        "collectionId",
                        FieldError::new(
                            "validation_relation_field_non_view_base_collection",
                            "Non view collections are not allowed to have a view relation.",
                        ),
                    );
                    field_errors.insert_nested(i.to_string(), e);
                }
                _ => {}
            }
        }
    }
    errors.insert_nested("fields", field_errors);
    errors.merge(sb_schema::validate::validate(c, old, &other_refs));
    errors
}

async fn write_definition(tx: &mut dyn Tx, c: &Collection, insert: bool) -> CoreResult<()> {
    let definition = Value::Json(c.to_storage_json().to_string());
    if insert {
        tx.execute(&Stmt::Insert(Insert {
            table: COLLECTIONS_TABLE.into(),
            columns: ["id", "name", "type", "system", "definition", "created", "updated"]
                .map(String::from)
                .to_vec(),
            values: vec![
                Expr::param(c.id.as_str()),
                Expr::param(c.name.as_str()),
                Expr::param(c.kind.as_str()),
                Expr::param(c.system),
                Expr::Param(definition),
                Expr::param(c.created.as_str()),
                Expr::param(c.updated.as_str()),
            ],
        }))
        .await?;
    } else {
        tx.execute(&Stmt::Update(Update {
            table: COLLECTIONS_TABLE.into(),
            set: vec![
                ("name".into(), Expr::param(c.name.as_str())),
                ("system".into(), Expr::param(c.system)),
                ("definition".into(), Expr::Param(definition)),
                ("updated".into(), Expr::param(c.updated.as_str())),
            ],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
        }))
        .await?;
    }
    Ok(())
}

/// Applies a collection update inside `tx`: validates, migrates the table, rewrites views that
/// may depend on it, stores the definition.
async fn update_in_tx(
    tx: &mut dyn Tx,
    old: &Collection,
    new: &mut Collection,
    others: &[Collection],
    catalog: &Catalog,
) -> CoreResult<()> {
    let other_refs: Vec<&Collection> = others.iter().collect();
    if new.is_view()
        && let Some(query) = &new.view_query
    {
        if Some(query) != old.view_query.as_ref() || new.fields.is_empty() {
            new.fields = crate::views::derive_fields(tx, new, others).await?;
        } else {
            new.fields = old.fields.clone();
        }
    }
    sb_schema::validate::prepare(new, Some(old), &other_refs);
    let errors = validate_full(new, Some(old), others);
    if !errors.is_empty() {
        return Err(CoreError::validation("Failed to update collection.", errors));
    }
    let result = async {
        let views = drop_views(tx, catalog, Some(&old.id)).await?;
        if new.is_view() {
            tx.execute(&Stmt::DropView { name: old.name.clone(), if_exists: true }).await?;
            tx.execute(&storage::create_table(new)).await?;
        } else {
            migrate_table(tx, old, new).await?;
        }
        write_definition(tx, new, false).await?;
        // Views see the new definitions of the collections they read from.
        recreate_views(tx, &views).await
    }
    .await;
    result.map_err(|e| raw_error("Failed to update collection.", e))
}

/// Migrates the table of `old` to the shape of `new` without losing data: indexes are dropped
/// and recreated, fields matched by id are renamed, removed ones dropped, added ones added, and
/// fields that switched between single and multiple values are converted row by row.
async fn migrate_table(tx: &mut dyn Tx, old: &Collection, new: &Collection) -> CoreResult<()> {
    for def in storage::index_defs(old).unwrap_or_default() {
        tx.execute(&Stmt::DropIndex { name: def.name, if_exists: true }).await?;
    }
    if old.name != new.name {
        tx.execute(&Stmt::RenameTable { from: old.name.clone(), to: new.name.clone() }).await?;
    }
    let table = new.name.clone();
    // Drop removed fields first so that a new field may reuse a removed field's name.
    for f in &old.fields {
        if new.field_by_id(&f.id).is_none() {
            tx.execute(&Stmt::DropColumn { table: table.clone(), column: f.name.clone() }).await?;
        }
    }
    // Renames go through temporary names so that swaps (a→b, b→a) work.
    let renamed: Vec<(&sb_schema::Field, &sb_schema::Field)> = old
        .fields
        .iter()
        .filter_map(|f| new.field_by_id(&f.id).map(|n| (f, n)))
        .filter(|(f, n)| f.name != n.name)
        .collect();
    for (f, _) in &renamed {
        tx.execute(&Stmt::RenameColumn {
            table: table.clone(),
            from: f.name.clone(),
            to: format!("_tmp_{}", f.id),
        })
        .await?;
    }
    for (f, n) in &renamed {
        tx.execute(&Stmt::RenameColumn {
            table: table.clone(),
            from: format!("_tmp_{}", f.id),
            to: n.name.clone(),
        })
        .await?;
    }
    for f in &new.fields {
        match old.field_by_id(&f.id) {
            None => {
                tx.execute(&Stmt::AddColumn {
                    table: table.clone(),
                    column: storage::column_def(f),
                })
                .await?;
            }
            Some(o) if storage::column_type(o) != storage::column_type(f) => {
                convert_column(tx, &table, o, f).await?;
            }
            Some(_) => {}
        }
    }
    for def in storage::index_defs(new).map_err(CoreError::bad_request)? {
        tx.execute(&Stmt::CreateIndex(def)).await?;
    }
    Ok(())
}

/// Converts a column whose storage changed (single ↔ multiple select/relation/file): adds a
/// column of the new type, copies each row's converted value, swaps the columns.
async fn convert_column(
    tx: &mut dyn Tx,
    table: &str,
    old: &sb_schema::Field,
    new: &sb_schema::Field,
) -> CoreResult<()> {
    let tmp = format!("_conv_{}", new.id);
    tx.execute(&Stmt::AddColumn {
        table: table.into(),
        column: sb_sql::ColumnDef { name: tmp.clone(), ..storage::column_def(new) },
    })
    .await?;
    let rows = tx
        .query(&Stmt::Select(Select {
            columns: vec![
                SelectItem::Expr { expr: Expr::bare("id"), alias: None },
                SelectItem::Expr { expr: Expr::bare(&new.name), alias: None },
            ],
            from: Some(FromItem::Table { name: table.into(), alias: None }),
            ..Default::default()
        }))
        .await?;
    for row in rows.rows {
        let mut it = row.into_iter();
        let id = it.next().unwrap_or(Value::Null);
        let value = storage::from_sql(old, it.next().unwrap_or(Value::Null));
        let converted = sb_schema::record::normalize(new, &value);
        tx.execute(&Stmt::Update(Update {
            table: table.into(),
            set: vec![(tmp.clone(), Expr::Param(storage::to_sql(new, &converted)))],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::Param(id), Ty::Text)),
        }))
        .await?;
    }
    tx.execute(&Stmt::DropColumn { table: table.into(), column: new.name.clone() }).await?;
    tx.execute(&Stmt::RenameColumn { table: table.into(), from: tmp, to: new.name.clone() })
        .await?;
    Ok(())
}

/// True when a view's query mentions the collection's table name (a conservative check).
fn view_depends_on(view: &Collection, c: &Collection) -> bool {
    view.is_view()
        && view.view_query.as_deref().is_some_and(|q| crate::views::mentions_table(q, &c.name))
}

/// Drops every view collection (except `skip`), returning them so they can be recreated after a
/// change to the tables they read from.
async fn drop_views(
    tx: &mut dyn Tx,
    catalog: &Catalog,
    skip: Option<&str>,
) -> CoreResult<Vec<Arc<Collection>>> {
    let views: Vec<Arc<Collection>> = catalog
        .all()
        .iter()
        .filter(|c| c.is_view() && Some(c.id.as_str()) != skip)
        .cloned()
        .collect();
    for v in views.iter().rev() {
        tx.execute(&Stmt::DropView { name: v.name.clone(), if_exists: true }).await?;
    }
    Ok(views)
}

async fn recreate_views(tx: &mut dyn Tx, views: &[Arc<Collection>]) -> CoreResult<()> {
    for v in views {
        tx.execute(&storage::create_table(v)).await?;
    }
    Ok(())
}

async fn import_in_tx(
    tx: &mut dyn Tx,
    catalog: &Catalog,
    list: &[Json],
    delete_missing: bool,
) -> CoreResult<()> {
    let mut current: HashMap<String, Collection> =
        catalog.all().iter().map(|c| (c.id.clone(), (**c).clone())).collect();
    let mut errors = ErrorMap::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let existing = item
            .get("id")
            .and_then(Json::as_str)
            .filter(|id| !id.is_empty())
            .and_then(|id| current.get(id))
            .or_else(|| {
                let name = item.get("name").and_then(Json::as_str)?;
                current.values().find(|c| c.name == name)
            })
            .cloned();
        let others: Vec<Collection> = current
            .values()
            .filter(|c| existing.as_ref().is_none_or(|e| e.id != c.id))
            .cloned()
            .collect();
        let outcome = match &existing {
            Some(old) => {
                let mut patch = item.clone();
                if !delete_missing {
                    keep_missing_fields(&mut patch, old);
                }
                let mut new = Collection::merge_patch(old, &patch)
                    .map_err(|e| load_error(e, "Failed to update collection."))?;
                new.updated = sb_schema::datetime::now_string();
                let snapshot = Catalog::new(current.values().cloned().collect());
                update_in_tx(tx, old, &mut new, &others, &snapshot).await.map(|()| new)
            }
            None => create_in_tx(tx, item.clone(), &others).await,
        };
        match outcome {
            Ok(c) => {
                seen.push(c.id.clone());
                current.insert(c.id.clone(), c);
            }
            Err(CoreError::BadRequest { data, message }) if !data.is_empty() => {
                let _ = message;
                errors.insert_nested(i.to_string(), data);
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        let mut data = ErrorMap::new();
        data.insert_nested("collections", errors);
        return Err(CoreError::validation("Failed to import collections.", data));
    }
    if delete_missing {
        let doomed: Vec<Collection> =
            current.values().filter(|c| !c.system && !seen.contains(&c.id)).cloned().collect();
        for c in doomed {
            tx.execute(&if c.is_view() {
                Stmt::DropView { name: c.name.clone(), if_exists: true }
            } else {
                Stmt::DropTable { name: c.name.clone(), if_exists: true }
            })
            .await?;
            tx.execute(&Stmt::Delete(Delete {
                table: COLLECTIONS_TABLE.into(),
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
            }))
            .await?;
        }
    }
    Ok(())
}

/// For imports without `deleteMissing`: stored fields missing from the imported definition are
/// kept (spec §2.2).
fn keep_missing_fields(patch: &mut Json, old: &Collection) {
    let Some(fields) = patch.get_mut("fields").and_then(Json::as_array_mut) else { return };
    for f in &old.fields {
        let present = fields.iter().any(|x| {
            x.get("id").and_then(Json::as_str) == Some(f.id.as_str())
                || x.get("name").and_then(Json::as_str) == Some(f.name.as_str())
        });
        if !present
            && let Some(json) =
                old.to_json().get("fields").and_then(Json::as_array).and_then(|all| {
                    all.iter()
                        .find(|x| x.get("id").and_then(Json::as_str) == Some(f.id.as_str()))
                        .cloned()
                })
        {
            fields.push(json);
        }
    }
}
