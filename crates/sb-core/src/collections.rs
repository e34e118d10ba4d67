//! Collections API: list, view, create, update (with table migration), delete, truncate,
//! import, scaffolds, the view dry run and the OAuth2 provider list (spec §2.2).
//!
//! Every schema change runs in one write transaction that first takes the schema lock
//! ([`system::SCHEMA_LOCK`]) and re-reads the stored definitions, so it validates against the
//! current state even when another node changed it. The DDL, the data conversions and the rows
//! in `_collections` then commit together or not at all, on both backends (SQLite and
//! PostgreSQL DDL are transactional): a change that fails half-way — an index that existing
//! data violates, a dependent view that no longer works — leaves table, data and definition
//! as they were. Within a process, schema changes are also serialised by `App::schema_lock`.
//!
//! Views are dropped before a table changes and re-created after it, in creation order; a
//! renamed collection is renamed inside the queries of the views that read from it, and the
//! fields of every dependent view are derived again.

use sb_schema::{Collection, CollectionType, ErrorMap, FieldError, FieldKind};
use sb_sql::{Delete, Expr, FromItem, Insert, Select, SelectItem, Stmt, Ty, Update, Value};
use sb_store::{ErrorKind, StoreError, Tx};
use serde_json::{Value as Json, json};

use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::system::{COLLECTIONS_TABLE, SCHEMA_LOCK};
use crate::{App, ListParams, ListResult, storage, views};

mod import;

use import::{import_failure, import_in_tx};

const CREATE_FAILED: &str = "Failed to create collection.";
const UPDATE_FAILED: &str = "Failed to update collection.";
const DELETE_FAILED: &str = "Failed to delete collection.";
const IMPORT_FAILED: &str = "Failed to import collections.";
const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";
const VALIDATION_FAILED: &str = "An error occurred while validating the submitted data.";
/// Longest query `dry-run-view` accepts.
const MAX_DRY_RUN_QUERY: usize = 5000;
/// Rows in the `sample` of a dry run.
const DRY_RUN_SAMPLE: u64 = 10;

/// The built-in OAuth2 providers (spec §6.8): name and display name, in PocketBase's order.
pub(crate) const OAUTH2_PROVIDERS: [(&str, &str); 32] = [
    ("apple", "Apple"),
    ("google", "Google"),
    ("microsoft", "Microsoft"),
    ("yandex", "Yandex"),
    ("facebook", "Facebook"),
    ("instagram2", "Instagram"),
    ("github", "GitHub"),
    ("gitlab", "GitLab"),
    ("bitbucket", "Bitbucket"),
    ("gitee", "Gitee"),
    ("gitea", "Gitea/Forgejo"),
    ("discord", "Discord"),
    ("twitter", "X/Twitter"),
    ("kakao", "Kakao"),
    ("vk", "ВКонтакте"),
    ("linear", "Linear"),
    ("notion", "Notion"),
    ("monday", "monday.com"),
    ("lark", "Lark"),
    ("box", "Box"),
    ("spotify", "Spotify"),
    ("trakt", "Trakt"),
    ("twitch", "Twitch"),
    ("patreon", "Patreon"),
    ("strava", "Strava"),
    ("wakatime", "WakaTime"),
    ("livechat", "LiveChat"),
    ("mailcow", "mailcow"),
    ("planningcenter", "Planning Center"),
    ("oidc", "OIDC"),
    ("oidc2", "OIDC"),
    ("oidc3", "OIDC"),
];

/// A neutral logo for a provider: its initial on a disc (PocketBase ships brand artwork).
fn provider_logo(display_name: &str) -> String {
    let initial = match display_name.chars().next() {
        Some(c) if c.is_alphanumeric() => c.to_uppercase().collect(),
        _ => String::from("?"),
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"256\" height=\"256\" viewBox=\"0 0 256 256\">\
<circle cx=\"128\" cy=\"128\" r=\"120\" fill=\"#5a6473\"/>\
<text x=\"128\" y=\"128\" dy=\".35em\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"128\" fill=\"#fff\">{initial}</text></svg>"
    )
}

/// A definition that could not be read: a formatting error, or (unknown `type`) a validation
/// error with the operation's message.
fn load_error(e: sb_schema::errors::LoadError, validation_message: &str) -> CoreError {
    if e.is_validation() {
        CoreError::validation(validation_message, e.errors())
    } else {
        CoreError::bad_request(e.message())
    }
}

/// A database error met while changing the schema: the driver text becomes the "raw error"
/// of a 400, except for an unreachable or overloaded database.
fn db(e: StoreError) -> CoreError {
    match e.kind {
        ErrorKind::Unavailable | ErrorKind::Busy => CoreError::from(e),
        _ => CoreError::Internal(e.message),
    }
}

/// PocketBase's `"<message> Raw error: \n<cause>"` for unexpected failures of a schema change.
fn raw_error(message: &str, err: CoreError) -> CoreError {
    match err {
        CoreError::Internal(cause) => {
            CoreError::bad_request(format!("{message} Raw error: \n{}", with_period(&cause)))
        }
        other => other,
    }
}

fn with_period(s: &str) -> String {
    let s = s.trim_end();
    if s.ends_with('.') { s.to_owned() } else { format!("{s}.") }
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
        let (mut tx, current) = self.begin_schema_change().await?;
        let result = create_in_tx(tx.as_mut(), input.clone(), &current).await;
        let created = self.end_schema_change(tx, result).await?;
        Ok(created.to_json())
    }

    /// `PATCH /api/collections/COLL`.
    pub async fn update_collection(&self, id_or_name: &str, patch: &Json) -> CoreResult<Json> {
        let _guard = self.schema_lock.lock().await;
        let (mut tx, current) = self.begin_schema_change().await?;
        let result = async {
            let old = find(&current, id_or_name).cloned().ok_or_else(CoreError::not_found)?;
            let new = old.merge_patch(patch).map_err(|e| load_error(e, UPDATE_FAILED))?;
            update_in_tx(tx.as_mut(), &old, new, &current).await
        }
        .await;
        let updated = self.end_schema_change(tx, result).await?;
        Ok(updated.to_json())
    }

    /// `DELETE /api/collections/COLL`: refused for system collections, collections that a
    /// relation of another collection points to, and collections a view reads from.
    pub async fn delete_collection(&self, id_or_name: &str) -> CoreResult<()> {
        let _guard = self.schema_lock.lock().await;
        let (mut tx, current) = self.begin_schema_change().await?;
        let result = async {
            let c = find(&current, id_or_name).ok_or_else(CoreError::not_found)?;
            if c.system {
                return Err(CoreError::bad_request(DELETE_FAILED));
            }
            let referencing: Vec<&str> = current
                .iter()
                .filter(|o| o.id != c.id && relates_to(o, &c.id))
                .map(|o| o.name.as_str())
                .collect();
            if !referencing.is_empty() {
                return Err(CoreError::bad_request(format!(
                    "Failed to delete collection probably due to existing reference in {}.",
                    referencing.join(", ")
                )));
            }
            if current.iter().any(|o| o.id != c.id && view_depends_on(o, &c.name)) {
                return Err(CoreError::bad_request(DELETE_FAILED));
            }
            drop_storage(tx.as_mut(), c).await.map_err(|e| raw_error(DELETE_FAILED, e))?;
            Ok(c.id.clone())
        }
        .await;
        let id = self.end_schema_change(tx, result).await?;
        // The collection's files go once the delete has committed.
        self.remove_folder(&id).await;
        Ok(())
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
        self.truncate_records(&c).await?;
        self.remove_folder(&c.id).await;
        Ok(())
    }

    /// `PUT /api/collections/import` (spec §2.2): upserts every listed collection in one
    /// transaction (see [`import_in_tx`]).
    pub async fn import_collections(&self, input: &Json) -> CoreResult<()> {
        let list = match input.get("collections") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items.clone(),
            Some(_) => return Err(CoreError::bad_request(LOAD_FAILED)),
        };
        let delete_missing = match input.get("deleteMissing") {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => return Err(CoreError::bad_request(LOAD_FAILED)),
        };
        if list.iter().any(|item| !item.is_object() && !item.is_null()) {
            return Err(CoreError::bad_request(LOAD_FAILED));
        }
        if list.is_empty() {
            let mut data = ErrorMap::new();
            data.insert("collections", FieldError::required());
            return Err(CoreError::validation(VALIDATION_FAILED, data));
        }
        let _guard = self.schema_lock.lock().await;
        let (mut tx, current) = self.begin_schema_change().await?;
        let result = import_in_tx(tx.as_mut(), current, &list, delete_missing).await;
        self.end_schema_change(tx, result.map_err(import_error)).await
    }

    /// Starts a [`SchemaChange`]: a schema change that the caller extends with writes of its
    /// own before committing everything at once (`scalebase import pocketbase`).
    pub async fn begin_bulk_schema_change(&self) -> CoreResult<SchemaChange<'_>> {
        let guard = self.schema_lock.lock().await;
        let (tx, current) = self.begin_schema_change().await?;
        Ok(SchemaChange { app: self, _guard: guard, tx, current })
    }

    /// `GET /api/collections/meta/scaffolds`.
    pub fn scaffolds(&self) -> Json {
        let mut out = serde_json::Map::new();
        for kind in [CollectionType::Base, CollectionType::Auth, CollectionType::View] {
            out.insert(kind.as_str().into(), Collection::scaffold(kind).to_json());
        }
        Json::Object(out)
    }

    /// `GET /api/collections/meta/oauth2-providers`: `{name, displayName, logo}` per built-in
    /// provider.
    pub fn oauth2_providers(&self) -> Json {
        Json::Array(
            OAUTH2_PROVIDERS
                .iter()
                .map(|(name, display)| {
                    json!({"name": name, "displayName": display, "logo": provider_logo(display)})
                })
                .collect(),
        )
    }

    /// `POST /api/collections/meta/check-rules` (a Scalebase addition, for the admin UI's rule
    /// editor): compiles the API rules of the collection `input` describes — as a create or an
    /// update would, against the stored collections — without saving anything. Answers an
    /// object with a key per rule that does not compile (`{"listRule": {"message", "start",
    /// "end"}}`, the byte range only for syntax errors); `{}` when every rule compiles.
    pub fn check_rules(&self, input: &Json) -> CoreResult<Json> {
        let mut c = Collection::from_json(input).map_err(|e| load_error(e, VALIDATION_FAILED))?;
        let catalog = self.catalog();
        let stored = (!c.id.is_empty()).then(|| catalog.get(&c.id)).flatten();
        if let Some(stored) = stored.filter(|s| c.fields.is_empty() && s.is_view()) {
            // An edited view's fields come from its query, which the editor may not send.
            c.fields = stored.fields.clone();
        }
        let others: Vec<Collection> = catalog
            .all()
            .iter()
            .filter(|o| o.id != c.id && (stored.is_some() || o.name != c.name))
            .map(|o| (**o).clone())
            .collect();
        let mut out = serde_json::Map::new();
        for (key, error) in rule_errors(&c, &others) {
            let mut entry = json!({ "message": error.message });
            if let Some(span) = error.span {
                entry["start"] = json!(span.start);
                entry["end"] = json!(span.end);
            }
            out.insert(key.to_owned(), entry);
        }
        Ok(Json::Object(out))
    }

    /// `POST /api/collections/meta/dry-run-view`: the fields a view with this query would have
    /// and up to ten of its rows, without creating anything.
    pub async fn dry_run_view(&self, input: &Json) -> CoreResult<Json> {
        let query = match input.get("query") {
            None | Some(Json::Null) => "",
            Some(Json::String(q)) => q.as_str(),
            Some(_) => return Err(CoreError::bad_request(LOAD_FAILED)),
        };
        let length = query.chars().count();
        if query.is_empty() || length > MAX_DRY_RUN_QUERY {
            let error = if query.is_empty() {
                FieldError::required()
            } else {
                FieldError::new(
                    "validation_length_too_long",
                    format!("The length must be no more than {MAX_DRY_RUN_QUERY}."),
                )
                .with_param("max", MAX_DRY_RUN_QUERY)
                .with_param("min", 0)
            };
            let mut data = ErrorMap::new();
            data.insert("query", error);
            return Err(CoreError::validation(VALIDATION_FAILED, data));
        }
        let catalog = self.catalog();
        let others: Vec<Collection> = catalog.all().iter().map(|c| (**c).clone()).collect();
        let mut tx = self.store.begin().await?;
        let outcome = async {
            let derived = views::derive_fields(tx.as_mut(), query, &others).await;
            if let Some(e) = derived.error {
                return Err(e);
            }
            let rows =
                views::sample_rows(tx.as_mut(), query, &derived.fields, DRY_RUN_SAMPLE).await?;
            Ok((derived.fields, rows))
        }
        .await;
        tx.rollback().await.ok();
        let (fields, rows) = outcome.map_err(|e| {
            CoreError::bad_request(format!("Invalid view query. Raw error: \n{}", with_period(&e)))
        })?;
        let name =
            format!("temp_view_{}", sb_schema::ids::random_string(5, sb_schema::ids::ALPHANUMERIC));
        let id = sb_schema::ids::collection_id(CollectionType::View, &name);
        let sample: Vec<Json> = rows
            .into_iter()
            .map(|row| {
                let mut record = serde_json::Map::new();
                record.insert("collectionId".into(), Json::String(id.clone()));
                record.insert("collectionName".into(), Json::String(name.clone()));
                for f in &fields {
                    if matches!(f.kind, FieldKind::Password(_)) {
                        continue;
                    }
                    if let Some(v) = row.get(&f.name) {
                        record.insert(f.name.clone(), v.clone());
                    }
                }
                Json::Object(record)
            })
            .collect();
        let fields: Vec<Json> = fields.iter().map(sb_schema::Field::to_json).collect();
        Ok(json!({"fields": fields, "sample": sample}))
    }

    /// Starts a schema change: a write transaction holding the schema lock, and the stored
    /// collections as that transaction sees them.
    async fn begin_schema_change(&self) -> CoreResult<(Box<dyn Tx>, Vec<Collection>)> {
        let mut tx = self.store.begin().await?;
        let loaded = async {
            tx.lock(SCHEMA_LOCK).await?;
            crate::system::load_collections_tx(tx.as_mut()).await
        }
        .await;
        match loaded {
            Ok(mut current) => {
                sort_by_creation(&mut current);
                Ok((tx, current))
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    }

    /// Commits a successful schema change (then reloads the catalog) or rolls it back.
    async fn end_schema_change<T>(&self, tx: Box<dyn Tx>, result: CoreResult<T>) -> CoreResult<T> {
        match result {
            Ok(value) => {
                tx.commit().await?;
                self.reload_catalog().await?;
                Ok(value)
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    }
}

/// An import's unexpected failure, in PocketBase's words.
fn import_error(e: CoreError) -> CoreError {
    match e {
        CoreError::Internal(cause) => import_failure(format!(
            "Failed to import the collections configuration. Raw error:\n{}",
            with_period(&cause)
        )),
        other => other,
    }
}

/// One write transaction holding the schema lock (in-process and [`SCHEMA_LOCK`]), in which
/// collections are imported and then the caller's own rows written (a bulk import from another
/// system): everything commits together with [`SchemaChange::commit`], which then reloads the
/// catalog and the settings. Dropping it without committing rolls it all back.
pub struct SchemaChange<'a> {
    app: &'a App,
    _guard: tokio::sync::MutexGuard<'a, ()>,
    tx: Box<dyn Tx>,
    current: Vec<Collection>,
}

impl SchemaChange<'_> {
    /// The collections as this transaction sees them, in creation order.
    pub fn collections(&self) -> &[Collection] {
        &self.current
    }

    /// The transaction, for the caller's own statements.
    pub fn tx(&mut self) -> &mut dyn Tx {
        self.tx.as_mut()
    }

    /// Imports collection definitions as `PUT /api/collections/import` does (upsert by id,
    /// then by name; with `delete_missing`, non-system collections absent from `list` are
    /// deleted), then re-reads the definitions.
    pub async fn import_collections(
        &mut self,
        list: &[Json],
        delete_missing: bool,
    ) -> CoreResult<()> {
        let current = std::mem::take(&mut self.current);
        import_in_tx(self.tx.as_mut(), current, list, delete_missing)
            .await
            .map_err(import_error)?;
        let mut current = crate::system::load_collections_tx(self.tx.as_mut()).await?;
        sort_by_creation(&mut current);
        self.current = current;
        Ok(())
    }

    /// Replaces the stored settings document with `json` (merged over the defaults, as when
    /// loaded; keys of other shapes keep their defaults).
    pub async fn replace_settings(&mut self, json: &Json) -> CoreResult<()> {
        crate::settings::save_in_tx(self.tx.as_mut(), json).await
    }

    /// Commits, then reloads the catalog and the settings. An error means nothing was
    /// committed: a reload that fails after the commit is logged (the next schema change or
    /// restart reloads them).
    pub async fn commit(self) -> CoreResult<()> {
        self.tx.commit().await?;
        let reloaded = match self.app.reload_catalog().await {
            Ok(()) => self.app.reload_settings().await,
            Err(e) => Err(e),
        };
        if let Err(e) = reloaded {
            tracing::warn!(error = %e, "cannot reload the collections and settings after a bulk import");
        }
        Ok(())
    }

    pub async fn rollback(self) {
        self.tx.rollback().await.ok();
    }
}

/// A collection by id or name (names case-insensitively, as PocketBase looks them up).
fn find<'a>(all: &'a [Collection], id_or_name: &str) -> Option<&'a Collection> {
    all.iter()
        .find(|c| c.id == id_or_name)
        .or_else(|| all.iter().find(|c| c.name.eq_ignore_ascii_case(id_or_name)))
}

/// Creation order, the order views are re-created in.
fn sort_by_creation(all: &mut [Collection]) {
    all.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.id.cmp(&b.id)));
}

fn relates_to(c: &Collection, target_id: &str) -> bool {
    c.fields
        .iter()
        .any(|f| matches!(&f.kind, FieldKind::Relation(o) if o.collection_id == target_id))
}

/// True when `view` is a view whose query may read from the table `table`.
fn view_depends_on(view: &Collection, table: &str) -> bool {
    view.is_view() && view.view_query.as_deref().is_some_and(|q| views::mentions_table(q, table))
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

// ---------------------------------------------------------------------------------------------
// Create and update
// ---------------------------------------------------------------------------------------------

/// Creates a collection (table or view, indexes, definition row) inside `tx`. `others` are the
/// collections that already exist.
pub(crate) async fn create_in_tx(
    tx: &mut dyn Tx,
    input: Json,
    others: &[Collection],
) -> CoreResult<Collection> {
    let mut c = Collection::from_json(&input).map_err(|e| load_error(e, CREATE_FAILED))?;
    // Both timestamps are set by `prepare`, to the same instant.
    c.created.clear();
    check(tx, &mut c, None, others, CREATE_FAILED).await?;
    create_storage(tx, &c, CREATE_FAILED).await.map_err(|e| raw_error(CREATE_FAILED, e))?;
    write_definition(tx, &c, true).await.map_err(|e| raw_error(CREATE_FAILED, e))?;
    Ok(c)
}

/// Applies a collection update inside `tx`: validates `new` (the stored `old` with the patch
/// applied), migrates the table, re-creates the views, stores the definition. `current` is
/// every stored collection, `old` included.
async fn update_in_tx(
    tx: &mut dyn Tx,
    old: &Collection,
    mut new: Collection,
    current: &[Collection],
) -> CoreResult<Collection> {
    let others: Vec<Collection> = current.iter().filter(|c| c.id != old.id).cloned().collect();
    check(tx, &mut new, Some(old), &others, UPDATE_FAILED).await?;
    let applied = async {
        let views = drop_views(tx, current, Some(&old.id)).await?;
        if new.is_view() {
            tx.execute(&Stmt::DropView { name: old.name.clone(), if_exists: true })
                .await
                .map_err(db)?;
            tx.execute(&views::create_view(&new)).await.map_err(db)?;
        } else {
            migrate_table(tx, old, &new, UPDATE_FAILED).await?;
        }
        write_definition(tx, &new, false).await?;
        let mut state: Vec<Collection> =
            current.iter().map(|c| if c.id == new.id { new.clone() } else { c.clone() }).collect();
        recreate_views(tx, &mut state, &views, Some((old.name.as_str(), new.name.as_str()))).await
    }
    .await;
    applied.map_err(|e| raw_error(UPDATE_FAILED, e))?;
    Ok(new)
}

/// Prepares `c` for saving (ids, system fields, timestamps, view fields, index table names,
/// a new auth token secret when the auth rule changed) and validates it against `others`; a
/// failure is a 400 with `message` and the error tree.
async fn check(
    tx: &mut dyn Tx,
    c: &mut Collection,
    old: Option<&Collection>,
    others: &[Collection],
    message: &str,
) -> CoreResult<()> {
    let errors = prepare(tx, c, old, others).await;
    if errors.is_empty() { Ok(()) } else { Err(CoreError::validation(message, errors)) }
}

/// [`check`] without the error wrapping: the error tree (empty when `c` is valid).
async fn prepare(
    tx: &mut dyn Tx,
    c: &mut Collection,
    old: Option<&Collection>,
    others: &[Collection],
) -> ErrorMap {
    let mut errors = ErrorMap::new();
    if c.is_view() {
        let query = c.view_query.clone().unwrap_or_default();
        let derived = views::derive_fields(tx, &query, others).await;
        c.fields = derived.fields;
        if let Some(e) = derived.error {
            errors.insert(
                "viewQuery",
                FieldError::new(
                    "validation_invalid_view_query",
                    with_period(&format!("Invalid query - {e}")),
                ),
            );
        }
    }
    if let (Some(old_auth), Some(new_auth)) = (old.and_then(|o| o.auth.as_ref()), c.auth.as_mut())
        && old_auth.auth_rule.as_deref().unwrap_or_default()
            != new_auth.auth_rule.as_deref().unwrap_or_default()
    {
        // Tokens issued under the old rule stop working (spec §2.3).
        new_auth.auth_token.secret = sb_schema::ids::random_secret();
    }
    let refs: Vec<&Collection> = others.iter().collect();
    sb_schema::validate::prepare(c, old, &refs);
    retarget_indexes(c);
    errors.merge(validate_full(c, old, others));
    if errors.is_empty() {
        errors = index_column_errors(c);
    }
    errors
}

/// Points every index at the collection's table: an index naming another table is rewritten
/// (in PocketBase's layout), as PocketBase does on save; others are kept verbatim.
fn retarget_indexes(c: &mut Collection) {
    if c.is_view() {
        return;
    }
    for sql in &mut c.indexes {
        if let Ok(mut def) = sb_sql::parse_index(sql)
            && def.table != c.name
        {
            def.table = c.name.clone();
            *sql = def.to_sqlite();
        }
    }
}

/// Why a rule of a collection does not compile: the parser's or the resolver's message, and
/// for syntax errors the byte range of the rule it points at.
pub(crate) struct RuleError {
    pub message: String,
    pub span: Option<sb_filter::Span>,
}

/// The rules of `c` (among `others`) that do not parse or compile, by their JSON key, in the
/// order the collection lists them.
fn rule_errors(c: &Collection, others: &[Collection]) -> Vec<(&'static str, RuleError)> {
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
    let mut rules: Vec<(&'static str, &Option<String>)> = vec![
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
    let mut errors = Vec::new();
    for (key, rule) in rules {
        let Some(rule) = rule.as_deref().filter(|r| !r.trim().is_empty()) else { continue };
        let compiled = sb_filter::parse_filter(rule)
            .map_err(|e| RuleError { message: e.message, span: Some(e.span) })
            .and_then(|expr| {
                sb_query::compile_filter(&expr, &scope)
                    .map_err(|e| RuleError { message: e.message, span: None })
            });
        if let Err(error) = compiled {
            errors.push((key, error));
        }
    }
    errors
}

/// Schema validation plus the checks that need other crates or collections: rule expressions
/// compile, index statements parse, relation targets exist.
fn validate_full(c: &Collection, old: Option<&Collection>, others: &[Collection]) -> ErrorMap {
    let other_refs: Vec<&Collection> = others.iter().collect();
    // Rule errors come first: ErrorMap keeps the first error recorded per key.
    let mut errors = ErrorMap::new();
    for (key, error) in rule_errors(c, others) {
        errors.insert(
            key,
            FieldError::new(
                "validation_invalid_rule",
                format!("Invalid rule. Raw error: {}", error.message),
            ),
        );
    }
    if !c.is_view() {
        let mut index_errors = ErrorMap::new();
        for (i, sql) in c.indexes.iter().enumerate() {
            if sb_sql::parse_index(sql).is_err() {
                index_errors.insert(
                    i.to_string(),
                    FieldError::new(
                        "validation_invalid_index_expression",
                        "Invalid CREATE INDEX expression.",
                    ),
                );
            }
        }
        errors.insert_nested("indexes", index_errors);
    }
    let mut field_errors = ErrorMap::new();
    for (i, field) in c.fields.iter().enumerate() {
        let FieldKind::Relation(o) = &field.kind else { continue };
        let target = if o.collection_id == c.id {
            Some(c)
        } else {
            others.iter().find(|x| x.id == o.collection_id)
        };
        let error = match target {
            None if !o.collection_id.is_empty() => Some(FieldError::new(
                "validation_field_relation_missing_collection",
                "The relation collection doesn't exist.",
            )),
            Some(t) if t.is_view() && !c.is_view() => Some(FieldError::new(
                "validation_relation_field_non_view_base_collection",
                "Non view collections are not allowed to have a view relation.",
            )),
            _ => None,
        };
        if let Some(error) = error {
            let mut e = ErrorMap::new();
            e.insert("collectionId", error);
            field_errors.insert_nested(i.to_string(), e);
        }
    }
    errors.insert_nested("fields", field_errors);
    errors.merge(sb_schema::validate::validate(c, old, &other_refs));
    errors
}

/// Indexes over columns the collection does not have. Checked once everything else is valid,
/// as PocketBase only meets these when it creates the indexes.
fn index_column_errors(c: &Collection) -> ErrorMap {
    let mut index_errors = ErrorMap::new();
    if c.is_view() {
        return index_errors;
    }
    for (i, sql) in c.indexes.iter().enumerate() {
        let Ok(def) = sb_sql::parse_index(sql) else { continue };
        let missing = def.columns.iter().find(|col| {
            !col.is_expr && !c.fields.iter().any(|f| f.name.eq_ignore_ascii_case(&col.name))
        });
        if let Some(col) = missing {
            index_errors.insert(
                i.to_string(),
                FieldError::new(
                    "validation_invalid_index_expression",
                    format!("Failed to create index {} - no such column: {}.", def.name, col.name),
                ),
            );
        }
    }
    let mut errors = ErrorMap::new();
    errors.insert_nested("indexes", index_errors);
    errors
}

/// Creates the table (with its indexes) or the view of a new collection.
pub(crate) async fn create_storage(
    tx: &mut dyn Tx,
    c: &Collection,
    message: &str,
) -> CoreResult<()> {
    if c.is_view() {
        tx.execute(&views::create_view(c)).await.map_err(db)?;
        return Ok(());
    }
    tx.execute(&storage::create_table(c)).await.map_err(db)?;
    create_indexes(tx, c, message).await
}

/// Creates the indexes of `c`. One that the database refuses (typically a UNIQUE index that
/// existing rows violate) is reported as PocketBase does: `indexes.<i>` with the driver text.
async fn create_indexes(tx: &mut dyn Tx, c: &Collection, message: &str) -> CoreResult<()> {
    for (i, sql) in c.indexes.iter().enumerate() {
        let mut def = sb_sql::parse_index(sql).map_err(CoreError::Internal)?;
        def.table = c.name.clone();
        let name = def.name.clone();
        if let Err(e) = tx.execute(&Stmt::CreateIndex(def)).await {
            if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Busy) {
                return Err(e.into());
            }
            let mut index_errors = ErrorMap::new();
            index_errors.insert(
                i.to_string(),
                FieldError::new(
                    "validation_invalid_index_expression",
                    with_period(&format!("Failed to create index {name} - {}", e.message)),
                ),
            );
            let mut data = ErrorMap::new();
            data.insert_nested("indexes", index_errors);
            return Err(CoreError::validation(message, data));
        }
    }
    Ok(())
}

/// Drops the table or view of `c` and its definition row.
async fn drop_storage(tx: &mut dyn Tx, c: &Collection) -> CoreResult<()> {
    tx.execute(&if c.is_view() {
        Stmt::DropView { name: c.name.clone(), if_exists: true }
    } else {
        Stmt::DropTable { name: c.name.clone(), if_exists: true }
    })
    .await
    .map_err(db)?;
    tx.execute(&Stmt::Delete(Delete {
        table: COLLECTIONS_TABLE.into(),
        where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
    }))
    .await
    .map_err(db)?;
    Ok(())
}

async fn write_definition(tx: &mut dyn Tx, c: &Collection, insert: bool) -> CoreResult<()> {
    let definition = Value::Json(c.to_storage_json().to_string());
    let stmt = if insert {
        Stmt::Insert(Insert {
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
        })
    } else {
        Stmt::Update(Update {
            table: COLLECTIONS_TABLE.into(),
            set: vec![
                ("name".into(), Expr::param(c.name.as_str())),
                ("system".into(), Expr::param(c.system)),
                ("definition".into(), Expr::Param(definition)),
                ("updated".into(), Expr::param(c.updated.as_str())),
            ],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
        })
    };
    tx.execute(&stmt).await.map_err(db)?;
    Ok(())
}

/// Migrates the table of `old` to the shape of `new` without losing data: indexes are dropped
/// and recreated, fields matched by id are renamed, removed ones dropped, added ones added, and
/// fields that switched between single and multiple values are converted row by row.
async fn migrate_table(
    tx: &mut dyn Tx,
    old: &Collection,
    new: &Collection,
    message: &str,
) -> CoreResult<()> {
    for sql in &old.indexes {
        if let Ok(def) = sb_sql::parse_index(sql) {
            tx.execute(&Stmt::DropIndex { name: def.name, if_exists: true }).await.map_err(db)?;
        }
    }
    if old.name != new.name {
        tx.execute(&Stmt::RenameTable { from: old.name.clone(), to: new.name.clone() })
            .await
            .map_err(db)?;
    }
    let table = new.name.clone();
    // Drop removed fields first so that a new field may reuse a removed field's name.
    for f in &old.fields {
        if new.field_by_id(&f.id).is_none() {
            tx.execute(&Stmt::DropColumn { table: table.clone(), column: f.name.clone() })
                .await
                .map_err(db)?;
        }
    }
    // Renames go through temporary names so that swaps (a→b, b→a) work.
    let renamed: Vec<(&sb_schema::Field, &sb_schema::Field)> = old
        .fields
        .iter()
        .filter_map(|f| new.field_by_id(&f.id).map(|n| (f, n)))
        .filter(|(f, n)| f.name != n.name)
        .collect();
    for (i, (f, _)) in renamed.iter().enumerate() {
        let stmt = Stmt::RenameColumn {
            table: table.clone(),
            from: f.name.clone(),
            to: format!("_sb_tmp_{i}"),
        };
        tx.execute(&stmt).await.map_err(db)?;
    }
    for (i, (_, n)) in renamed.iter().enumerate() {
        let stmt = Stmt::RenameColumn {
            table: table.clone(),
            from: format!("_sb_tmp_{i}"),
            to: n.name.clone(),
        };
        tx.execute(&stmt).await.map_err(db)?;
    }
    for f in &new.fields {
        match old.field_by_id(&f.id) {
            None => {
                let stmt = Stmt::AddColumn { table: table.clone(), column: storage::column_def(f) };
                tx.execute(&stmt).await.map_err(db)?;
            }
            Some(o)
                if storage::column_type(o) != storage::column_type(f)
                    || o.kind.is_multiple() != f.kind.is_multiple() =>
            {
                convert_column(tx, &table, o, f).await?;
            }
            Some(_) => {}
        }
    }
    create_indexes(tx, new, message).await
}

/// Converts a column whose storage changed (single ↔ multiple select/relation/file): adds a
/// column of the new type, copies each row's converted value (a single value becomes a
/// one-element list, a list keeps its last element, as PocketBase does), swaps the columns.
async fn convert_column(
    tx: &mut dyn Tx,
    table: &str,
    old: &sb_schema::Field,
    new: &sb_schema::Field,
) -> CoreResult<()> {
    let tmp = String::from("_sb_conv");
    let column = sb_sql::ColumnDef { name: tmp.clone(), ..storage::column_def(new) };
    tx.execute(&Stmt::AddColumn { table: table.into(), column }).await.map_err(db)?;
    let rows = tx
        .query(&Stmt::Select(Select {
            columns: vec![
                SelectItem::Expr { expr: Expr::bare("id"), alias: None },
                SelectItem::Expr { expr: Expr::bare(&new.name), alias: None },
            ],
            from: Some(FromItem::Table { name: table.into(), alias: None }),
            ..Default::default()
        }))
        .await
        .map_err(db)?;
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
        .await
        .map_err(db)?;
    }
    tx.execute(&Stmt::DropColumn { table: table.into(), column: new.name.clone() })
        .await
        .map_err(db)?;
    tx.execute(&Stmt::RenameColumn { table: table.into(), from: tmp, to: new.name.clone() })
        .await
        .map_err(db)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Views of a changing schema
// ---------------------------------------------------------------------------------------------

/// Drops every view of `all` (except `skip`), in reverse creation order, returning their ids in
/// creation order so that [`recreate_views`] can bring them back.
async fn drop_views(
    tx: &mut dyn Tx,
    all: &[Collection],
    skip: Option<&str>,
) -> CoreResult<Vec<String>> {
    let views: Vec<&Collection> =
        all.iter().filter(|c| c.is_view() && Some(c.id.as_str()) != skip).collect();
    for v in views.iter().rev() {
        tx.execute(&Stmt::DropView { name: v.name.clone(), if_exists: true }).await.map_err(db)?;
    }
    Ok(views.iter().map(|v| v.id.clone()).collect())
}

/// Re-creates the views `ids` (in order) from their definitions in `state`, after a change to
/// the collections they read from. `changed` names the changed collection (old and new name;
/// `None`: anything may have changed): the views that may read from it get a renamed table
/// renamed in their queries and their fields derived again, their definitions rewritten when
/// that changed them. A view that no longer works fails the whole change.
async fn recreate_views(
    tx: &mut dyn Tx,
    state: &mut [Collection],
    ids: &[String],
    changed: Option<(&str, &str)>,
) -> CoreResult<()> {
    for id in ids {
        let Some(mut view) = state.iter().find(|c| c.id == *id).cloned() else { continue };
        let stored = view.view_query.clone().unwrap_or_default();
        let affected = changed.is_none_or(|(from, to)| {
            views::mentions_table(&stored, from) || views::mentions_table(&stored, to)
        });
        if affected {
            let query = match changed {
                Some((from, to)) if from != to => views::rename_table(&stored, from, to),
                _ => stored.clone(),
            };
            let others: Vec<Collection> = state.iter().filter(|c| c.id != *id).cloned().collect();
            let derived = views::derive_fields(tx, &query, &others).await;
            if let Some(e) = derived.error {
                return Err(CoreError::Internal(format!(
                    "the view collection {:?} reads from it and would fail: {e}",
                    view.name
                )));
            }
            if query != stored || view.fields != derived.fields {
                view.view_query = Some(query);
                view.fields = derived.fields;
                view.updated = sb_schema::datetime::now_string();
                write_definition(tx, &view, false).await?;
            }
        }
        tx.execute(&views::create_view(&view)).await.map_err(db)?;
        upsert_slice(state, view);
    }
    Ok(())
}

fn upsert_slice(state: &mut [Collection], c: Collection) {
    if let Some(slot) = state.iter_mut().find(|x| x.id == c.id) {
        *slot = c;
    }
}

#[cfg(test)]
mod tests;
