//! Record create and update (spec §3.7–3.9): body → field values (coercion, modifiers), rules,
//! auth-collection form checks, validation, the write, unique-index errors.
//!
//! Write transactions are short: everything that reads (rules, relation existence) or waits
//! (password hashing on the hashing threads) happens before `begin`, and the transaction holds
//! a single INSERT or UPDATE. An update's rule checks are repeated inside that UPDATE's WHERE
//! clause, so they hold at the moment of the write; uniqueness is left to the database's
//! indexes (a violation becomes `validation_not_unique`).

use std::sync::Arc;

use sb_query::RequestInfo;
use sb_schema::record;
use sb_schema::{Collection, ErrorMap, Field, FieldError, FieldKind};
use sb_sql::{Expr, FromItem, Insert, Select, SelectItem, Stmt, Ty, Update};
use sb_store::StoreError;
use serde_json::{Map, Value as Json};

use super::changes::{ChangeAction, RecordChange};
use super::db::Db;
use super::files;
use super::view::load_record_in;
use super::{Record, Viewer, compile_rule, id_equals, is_superuser, target_condition};
use crate::auth::INSTALLER_EMAIL;
use crate::catalog::Catalog;
use crate::error::{CoreError, CoreResult};
use crate::system::SUPERUSERS;
use crate::{App, storage};

const ALIAS: &str = "t";
const CREATE_FAILED: &str = "Failed to create record.";
const UPDATE_FAILED: &str = "Failed to update record.";

/// Keys of the request body that are never field values.
const IGNORED_KEYS: &[&str] = &["collectionId", "collectionName", "expand"];

/// A submitted record body: JSON object after multipart/urlencoded inference and
/// `@jsonPayload` merging, plus the uploaded files.
#[derive(Debug, Clone, Default)]
pub struct RecordInput {
    pub data: Map<String, Json>,
    /// Multipart file parts in the order sent, keyed by the part name as sent (a field name,
    /// possibly with a modifier: `documents`, `documents+`, `+documents`).
    pub files: Vec<(String, UploadedFile)>,
}

impl RecordInput {
    /// A body without files.
    pub fn from_data(data: Map<String, Json>) -> Self {
        RecordInput { data, files: Vec::new() }
    }
}

/// One uploaded file as the client sent it (name and content are untrusted).
#[derive(Debug, Clone)]
pub struct UploadedFile {
    /// The file name the client gave (`filename` of the multipart part).
    pub original_name: String,
    /// The content type the client claimed; never trusted for serving.
    pub claimed_type: String,
    pub bytes: bytes::Bytes,
}

/// The body applied to a record: the new values, what was submitted (for `@request.body`), and
/// the auth-form extras.
struct Applied {
    data: Map<String, Json>,
    submitted: Map<String, Json>,
    password_confirm: Option<Json>,
    old_password: Option<Json>,
    /// New plaintext values of password fields, hashed just before the write.
    new_passwords: Map<String, Json>,
    /// Uploaded files, already named in `data`; stored just before the write.
    uploads: files::Uploads,
}

impl Applied {
    /// The new plaintext of an auth collection's `password` field.
    fn new_password(&self) -> Option<&str> {
        self.new_passwords.get("password").and_then(Json::as_str)
    }
}

impl App {
    /// Creates a record; answers with its JSON as the requester may see it.
    pub async fn create_record(
        &self,
        req: &RequestInfo,
        collection: &str,
        input: RecordInput,
        expand: Option<&str>,
    ) -> CoreResult<Json> {
        let catalog = self.catalog();
        let mut db = Db::Store(self.store.as_ref());
        let record = self.create_in(&mut db, &catalog, req, collection, input).await?;
        if record.collection.name == SUPERUSERS
            && record.data.get("email").and_then(Json::as_str) != Some(INSTALLER_EMAIL)
        {
            // The first real superuser ends the install link's temporary one.
            if let Err(e) = self.remove_installer().await {
                tracing::warn!(error = %e, "cannot remove the installer superuser");
            }
        }
        self.records_changed(vec![RecordChange {
            action: ChangeAction::Create,
            record: record.clone(),
        }]);
        let viewer = Viewer::from_request(req);
        self.finish_record(&catalog, req, &viewer, record, expand).await
    }

    /// A create on `db`: the checks, then the INSERT. Returns the written record (every field);
    /// the caller reports the change once it is committed.
    pub(crate) async fn create_in(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        collection: &str,
        input: RecordInput,
    ) -> CoreResult<Record> {
        let (c, data) = self.prepare_create(db, catalog, req, collection, input).await?;
        let insert = insert_stmt(&c, &data);
        if let Err(e) = db.write(insert).await {
            // Every file of a record being created is one of this request's uploads.
            let id = data.get("id").and_then(Json::as_str).unwrap_or_default();
            self.remove_files(&c, id, &files::file_names(&c, &data)).await;
            return Err(write_error(&c, e, CREATE_FAILED));
        }
        Ok(Record { collection: c, data, expand: None, managed: false })
    }

    /// Everything of a create before the write: the body applied, rules, form checks,
    /// validation and password hashing. Returns the collection and the row to insert, so that
    /// callers (OAuth2 sign-up) can write it together with other rows in one transaction.
    pub(crate) async fn prepare_create(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        collection: &str,
        input: RecordInput,
    ) -> CoreResult<(Arc<Collection>, Map<String, Json>)> {
        let c = catalog
            .get(collection)
            .cloned()
            .ok_or_else(|| CoreError::NotFound("Missing or invalid collection context.".into()))?;
        if c.is_view() {
            return Err(CoreError::bad_request("Unsupported collection type."));
        }
        let superuser = is_superuser(req);
        if !superuser && c.create_rule.is_none() {
            return Err(CoreError::superusers_only());
        }
        let mut base = Map::with_capacity(c.fields.len());
        for f in &c.fields {
            base.insert(f.name.clone(), record::zero_value(&f.kind));
        }
        let mut applied = apply_input(&c, base, &input, superuser);
        let now = sb_schema::datetime::now_string();
        // Server-set values: empty text fields with an autogenerate pattern (the id among
        // them), autodates, tokenKey.
        for f in &c.fields {
            let empty = applied.data.get(&f.name).and_then(Json::as_str).is_none_or(str::is_empty);
            if empty && let Some(pattern) = autogenerate_pattern(f) {
                let value =
                    sb_schema::ids::generate_from_pattern(pattern).map_err(CoreError::internal)?;
                applied.data.insert(f.name.clone(), Json::String(value));
            }
        }
        for f in &c.fields {
            if let FieldKind::Autodate(o) = &f.kind
                && o.on_create
            {
                applied.data.insert(f.name.clone(), Json::String(now.clone()));
            }
        }
        let mut rule_req = req.clone();
        rule_req.body = applied.submitted.clone();
        if c.is_auth() {
            applied.data.insert("tokenKey".into(), Json::String(sb_auth::random::alphanumeric(50)));
            if c.name == crate::system::SUPERUSERS {
                applied.data.insert("verified".into(), Json::Bool(true));
            }
        }
        if !superuser
            && let Some(rule) = c.create_rule.as_deref().filter(|r| !r.is_empty())
            && !self.virtual_row_passes(db, catalog, &c, &applied.data, rule, &rule_req).await?
        {
            return Err(CoreError::bad_request(CREATE_FAILED));
        }
        if c.is_auth() {
            let manager = superuser
                || self.manages_virtual(db, catalog, &c, &applied.data, &rule_req).await?;
            let form = auth_form_checks(&c, &applied, None, manager);
            if !form.errors.is_empty() {
                return Err(CoreError::validation(CREATE_FAILED, form.errors));
            }
        }
        let errors = self.validate_record(db, catalog, &c, &applied, None).await?;
        if !errors.is_empty() {
            return Err(CoreError::validation(CREATE_FAILED, errors));
        }
        self.hash_new_passwords(&mut applied).await?;
        let id = applied.data.get("id").and_then(Json::as_str).unwrap_or_default().to_owned();
        self.store_uploads(db, &c, &id, &applied.data, &applied.uploads).await?;
        Ok((c, applied.data))
    }

    /// Updates a record (PATCH semantics).
    ///
    /// Everything that may wait (password hashing and verification, relation checks) happens
    /// before the write transaction; the UPDATE itself carries the update rule (and, when they
    /// were relied on, the manage rule and the verified old password hash) in its WHERE clause,
    /// so a concurrent change that invalidates a check makes it a no-op answered with 404.
    pub async fn update_record(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        input: RecordInput,
        expand: Option<&str>,
    ) -> CoreResult<Json> {
        let catalog = self.catalog();
        // A record's changes are reported in commit order: hold its lock from before the
        // write until the change is reported.
        let order_key = catalog.get(collection).map(|c| c.id.clone()).unwrap_or_default();
        let _order = self.change_order.lock(&order_key, id).await;
        let mut db = Db::Store(self.store.as_ref());
        let (record, changed) =
            self.update_in(&mut db, &catalog, req, collection, id, input).await?;
        if changed {
            self.records_changed(vec![RecordChange {
                action: ChangeAction::Update,
                record: record.clone(),
            }]);
        }
        let viewer = Viewer::from_request(req);
        self.finish_record(&catalog, req, &viewer, record, expand).await
    }

    /// An update on `db`: the checks, then the UPDATE. Returns the record as written (every
    /// field) and whether anything changed; the caller reports the change once it is
    /// committed.
    pub(crate) async fn update_in(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        input: RecordInput,
    ) -> CoreResult<(Record, bool)> {
        let c = catalog
            .get(collection)
            .cloned()
            .ok_or_else(|| CoreError::NotFound("Missing or invalid collection context.".into()))?;
        if c.is_view() {
            return Err(CoreError::bad_request("Unsupported collection type."));
        }
        let superuser = is_superuser(req);
        if !superuser && c.update_rule.is_none() {
            return Err(CoreError::superusers_only());
        }
        let existing = load_record_in(db, &c, id, None).await?.ok_or_else(CoreError::not_found)?;
        let mut applied = apply_input(&c, existing.data.clone(), &input, superuser);
        let mut rule_req = req.clone();
        rule_req.body = applied.submitted.clone();
        let rule =
            if superuser { None } else { c.update_rule.as_deref().filter(|r| !r.is_empty()) };
        if let Some(rule) = rule {
            let condition = compile_rule(catalog, &c, rule, ALIAS, &rule_req)?;
            if !exists_where_in(db, &c, id, condition).await? {
                return Err(CoreError::not_found());
            }
        }
        let now = sb_schema::datetime::now_string();
        for f in &c.fields {
            if let FieldKind::Autodate(o) = &f.kind
                && o.on_update
            {
                applied.data.insert(f.name.clone(), Json::String(now.clone()));
            }
        }
        let mut target = target_condition(catalog, &c, id, rule, &rule_req)?;
        if c.is_auth() {
            let manager = superuser || self.manages_stored(db, catalog, &c, id, &rule_req).await?;
            let mut form = auth_form_checks(&c, &applied, Some(&existing), manager);
            if let Some(old) = form.old_password_to_verify.take() {
                let hash = existing.data.get("password").and_then(Json::as_str).unwrap_or("");
                if self.verify_password(old, hash.to_owned()).await?.ok {
                    // The old password was checked against this hash: it must not change
                    // before the write.
                    target = Expr::And(vec![
                        target,
                        Expr::eq(Expr::col(&c.name, "password"), Expr::param(hash), Ty::Text),
                    ]);
                } else {
                    form.errors.insert(
                        "oldPassword",
                        FieldError::new(
                            "validation_invalid_old_password",
                            "Missing or invalid old password.",
                        ),
                    );
                }
            }
            if !form.errors.is_empty() {
                return Err(CoreError::validation(UPDATE_FAILED, form.errors));
            }
            if !superuser
                && manager
                && !auth_form_checks(&c, &applied, Some(&existing), false).errors.is_empty()
            {
                // The change needs the manager's rights: they must still hold at the write.
                let manage_rule = c.auth.as_ref().and_then(|a| a.manage_rule.as_deref());
                target = Expr::And(vec![
                    target,
                    target_condition(catalog, &c, id, manage_rule, &rule_req)?,
                ]);
            }
            let email_changed = applied.data.get("email") != existing.data.get("email");
            if applied.new_password().is_some() || email_changed {
                applied
                    .data
                    .insert("tokenKey".into(), Json::String(sb_auth::random::alphanumeric(50)));
            }
        }
        let errors = self.validate_record(db, catalog, &c, &applied, Some(&existing)).await?;
        if !errors.is_empty() {
            return Err(CoreError::validation(UPDATE_FAILED, errors));
        }
        self.hash_new_passwords(&mut applied).await?;
        self.store_uploads(db, &c, id, &applied.data, &applied.uploads).await?;
        let set: Vec<(String, Expr)> = c
            .fields
            .iter()
            .filter(|f| f.name != "id" && applied.data.get(&f.name) != existing.data.get(&f.name))
            .map(|f| {
                (
                    f.name.clone(),
                    Expr::Param(storage::to_sql(
                        f,
                        applied.data.get(&f.name).unwrap_or(&Json::Null),
                    )),
                )
            })
            .collect();
        let changed = !set.is_empty();
        if changed {
            let update = Stmt::Update(Update { table: c.name.clone(), set, where_: Some(target) });
            // Nothing changed (the rule no longer admits the row, or it is gone) commits
            // nothing and answers 404.
            let written = db.write(update).await;
            if !matches!(&written, Ok(n) if *n != 0) {
                let new: Vec<String> = applied.uploads.0.iter().map(|u| u.name.clone()).collect();
                self.remove_files(&c, id, &new).await;
            }
            let count = written.map_err(|e| write_error(&c, e, UPDATE_FAILED))?;
            if count == 0 {
                return Err(CoreError::not_found());
            }
            // Single requests are committed here; a batch removes them once it commits.
            self.remove_replaced_files(db, &c, id, &existing.data, &applied.data).await;
        }
        let record = Record { collection: c, data: applied.data, expand: None, managed: false };
        Ok((record, changed))
    }

    async fn hash_new_passwords(&self, applied: &mut Applied) -> CoreResult<()> {
        for (name, plain) in std::mem::take(&mut applied.new_passwords) {
            let hash = self.hash_password(plain.as_str().unwrap_or_default().to_owned()).await?;
            applied.data.insert(name, Json::String(hash));
        }
        Ok(())
    }

    /// True when the stored record `id` satisfies `condition` (over alias `t`).
    pub(crate) async fn exists_where(
        &self,
        c: &Collection,
        id: &str,
        condition: Expr,
    ) -> CoreResult<bool> {
        exists_where_in(&mut Db::Store(self.store.as_ref()), c, id, condition).await
    }

    /// Evaluates a rule against a virtual row made of `data` (create rules, spec §5.3).
    async fn virtual_row_passes(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        c: &Arc<Collection>,
        data: &Map<String, Json>,
        rule: &str,
        req: &RequestInfo,
    ) -> CoreResult<bool> {
        let condition = compile_rule(catalog, c, rule, ALIAS, req)?;
        let mut virtual_data = data.clone();
        virtual_data.insert("verified".into(), Json::Bool(false));
        // Autodate values are set when the record is saved, after the rules: in the virtual row
        // they are still empty (PocketBase: `created = ''` holds in a create rule).
        for f in &c.fields {
            if matches!(f.kind, FieldKind::Autodate(_)) {
                virtual_data.insert(f.name.clone(), Json::String(String::new()));
            }
        }
        let row = Select {
            columns: c
                .fields
                .iter()
                .map(|f| SelectItem::Expr {
                    expr: Expr::Param(storage::to_sql(
                        f,
                        virtual_data.get(&f.name).unwrap_or(&Json::Null),
                    )),
                    alias: Some(f.name.clone()),
                })
                .collect(),
            ..Default::default()
        };
        let select = Select {
            columns: vec![SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(FromItem::Subquery { select: Box::new(row), alias: ALIAS.into() }),
            where_: Some(condition),
            limit: Some(1),
            ..Default::default()
        };
        Ok(!db.query(&Stmt::Select(select)).await?.is_empty())
    }

    /// Whether the requester satisfies the collection's manageRule for a record being created.
    async fn manages_virtual(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        c: &Arc<Collection>,
        data: &Map<String, Json>,
        req: &RequestInfo,
    ) -> CoreResult<bool> {
        match c.auth.as_ref().and_then(|a| a.manage_rule.as_deref()) {
            Some(rule) if !rule.is_empty() && req.auth.is_some() => {
                self.virtual_row_passes(db, catalog, c, data, rule, req).await
            }
            _ => Ok(false),
        }
    }

    /// Whether the requester satisfies the collection's manageRule for a stored record.
    pub(crate) async fn manages_stored(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        c: &Arc<Collection>,
        id: &str,
        req: &RequestInfo,
    ) -> CoreResult<bool> {
        match c.auth.as_ref().and_then(|a| a.manage_rule.as_deref()) {
            Some(rule) if !rule.is_empty() && req.auth.is_some() => {
                let condition = compile_rule(catalog, c, rule, ALIAS, req)?;
                exists_where_in(db, c, id, condition).await
            }
            _ => Ok(false),
        }
    }

    /// Field validation, including the checks that need the database (relation ids exist).
    async fn validate_record(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        c: &Collection,
        applied: &Applied,
        existing: Option<&Record>,
    ) -> CoreResult<ErrorMap> {
        let mut errors = ErrorMap::new();
        for f in &c.fields {
            let value = applied.data.get(&f.name).unwrap_or(&Json::Null);
            match &f.kind {
                FieldKind::Autodate(_) => continue,
                FieldKind::Password(o) => {
                    // A new plaintext is validated; otherwise only the presence of a hash
                    // matters (`value` is the stored hash, empty when new or cleared).
                    match applied.new_passwords.get(&f.name) {
                        Some(plain) => {
                            if let Err(e) = record::validate_value(f, plain) {
                                errors.insert(f.name.clone(), e);
                            }
                        }
                        None if o.required && value.as_str().is_none_or(str::is_empty) => {
                            errors.insert(f.name.clone(), FieldError::required());
                        }
                        None => {}
                    }
                    continue;
                }
                FieldKind::File(o) => {
                    let before = existing
                        .map(|r| {
                            record::to_unique_strings(r.data.get(&f.name).unwrap_or(&Json::Null))
                        })
                        .unwrap_or_default();
                    if let Some(e) = files::check_field(f, o, value, &before, &applied.uploads) {
                        errors.insert(f.name.clone(), e);
                        continue;
                    }
                }
                _ => {}
            }
            if let FieldKind::Text(o) = &f.kind
                && o.primary_key
            {
                let id = value.as_str().unwrap_or_default();
                if let Some(r) = existing {
                    // Stored ids are not re-validated (they may predate the current pattern).
                    if id != r.id() {
                        errors.insert(
                            f.name.clone(),
                            FieldError::new(
                                "validation_pk_change",
                                "The record primary key cannot be changed.",
                            ),
                        );
                    }
                    continue;
                }
                if let Some(e) = self.check_new_id(db, c, &o.pattern, id).await? {
                    errors.insert(f.name.clone(), e);
                    continue;
                }
            }
            if let Err(e) = record::validate_value(f, value) {
                errors.insert(f.name.clone(), e);
                continue;
            }
            if let FieldKind::Relation(o) = &f.kind {
                let ids: Vec<String> = match value {
                    Json::String(s) if !s.is_empty() => vec![s.clone()],
                    Json::Array(items) => {
                        items.iter().filter_map(Json::as_str).map(String::from).collect()
                    }
                    _ => Vec::new(),
                };
                let unchanged = existing.is_some_and(|r| r.data.get(&f.name) == Some(value));
                if ids.is_empty() || unchanged {
                    continue;
                }
                let Some(target) = catalog.get(&o.collection_id) else {
                    errors.insert(
                        f.name.clone(),
                        FieldError::new(
                            "validation_missing_rel_collection",
                            "Missing or invalid relation collection.",
                        ),
                    );
                    continue;
                };
                if !self.all_exist(db, target, &ids).await? {
                    errors.insert(
                        f.name.clone(),
                        FieldError::new(
                            "validation_missing_rel_records",
                            "Failed to find all relation records with the provided ids.",
                        ),
                    );
                }
            }
        }
        Ok(errors)
    }

    /// The checks of a new record id that come before its text validation: no path
    /// separators, and (for ids with a custom pattern) no case-insensitive duplicate.
    async fn check_new_id(
        &self,
        db: &mut Db<'_>,
        c: &Collection,
        pattern: &str,
        id: &str,
    ) -> CoreResult<Option<FieldError>> {
        if let Some(forbidden) = ["/", "\\"].into_iter().find(|ch| id.contains(ch)) {
            return Ok(Some(
                FieldError::new(
                    "validation_pk_forbidden",
                    "The record primary key contains forbidden characters.",
                )
                .with_param("forbidden", forbidden),
            ));
        }
        if pattern == DEFAULT_ID_PATTERN || id.is_empty() {
            return Ok(None);
        }
        let select = Select {
            columns: vec![SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(FromItem::Table { name: c.name.clone(), alias: Some(ALIAS.into()) }),
            where_: Some(Expr::eq(
                Expr::Lower(Box::new(Expr::col(ALIAS, "id"))),
                Expr::Lower(Box::new(Expr::param(id))),
                Ty::Text,
            )),
            limit: Some(1),
            ..Default::default()
        };
        if db.query(&Stmt::Select(select)).await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(FieldError::new(
            "validation_pk_invalid",
            "The record primary key is invalid or already exists.",
        )))
    }

    async fn all_exist(
        &self,
        db: &mut Db<'_>,
        target: &Collection,
        ids: &[String],
    ) -> CoreResult<bool> {
        let select = Select {
            columns: vec![SelectItem::Expr { expr: Expr::CountStar, alias: None }],
            from: Some(FromItem::Table { name: target.name.clone(), alias: Some(ALIAS.into()) }),
            where_: Some(Expr::InList {
                expr: Box::new(Expr::col(ALIAS, "id")),
                list: ids.iter().map(|id| Expr::param(id.as_str())).collect(),
                negated: false,
            }),
            ..Default::default()
        };
        let rows = db.query(&Stmt::Select(select)).await?;
        let count = rows.rows.first().and_then(|r| r.first()).and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(count as usize == ids.len())
    }
}

/// True when the record `id` of `c` satisfies `condition` (over alias `t`) as `db` sees it.
pub(crate) async fn exists_where_in(
    db: &mut Db<'_>,
    c: &Collection,
    id: &str,
    condition: Expr,
) -> CoreResult<bool> {
    let select = Select {
        columns: vec![SelectItem::Expr { expr: Expr::Int(1), alias: None }],
        from: Some(FromItem::Table { name: c.name.clone(), alias: Some(ALIAS.into()) }),
        where_: Some(Expr::And(vec![id_equals(ALIAS, id), condition])),
        limit: Some(1),
        ..Default::default()
    };
    Ok(!db.query(&Stmt::Select(select)).await?.is_empty())
}

/// Applies the submitted body to `data`: plain keys first, then modifiers, in order of
/// increasing key length (spec §3.9).
fn apply_input(
    c: &Collection,
    mut data: Map<String, Json>,
    input: &RecordInput,
    superuser: bool,
) -> Applied {
    let mut keys: Vec<&String> = input.data.keys().collect();
    keys.sort_by_key(|k| k.len());
    let mut submitted = Map::new();
    let mut new_passwords = Map::new();
    for key in keys {
        let raw = &input.data[key.as_str()];
        // `@request.body` is the whole body as sent (PocketBase keeps keys that are not fields,
        // such as `agree` or `passwordConfirm`, and even `collectionName` or autodate values),
        // with modifier keys replaced by the field's resolved value and hidden fields removed
        // for non-superusers.
        if IGNORED_KEYS.contains(&key.as_str()) {
            submitted.insert(key.clone(), raw.clone());
            continue;
        }
        let (name, modifier) = record::parse_modifier_key(key);
        let Some(field) = c.field(name) else {
            submitted.insert(key.clone(), raw.clone());
            continue;
        };
        if matches!(field.kind, FieldKind::Autodate(_)) {
            if modifier.is_none() && !field.hidden {
                submitted.insert(key.clone(), raw.clone());
            }
            continue;
        }
        let is_auth_password = c.is_auth() && field.name == "password";
        if field.hidden && !superuser && !is_auth_password {
            continue;
        }
        // tokenKey is generated by the server.
        if c.is_auth() && field.name == "tokenKey" {
            continue;
        }
        let current = data.get(&field.name).cloned().unwrap_or(Json::Null);
        let value = match modifier {
            None => record::normalize(field, raw),
            Some(m) => match record::apply_modifier(field, &current, m, raw) {
                Some(v) => v,
                None => continue,
            },
        };
        submitted.insert(field.name.clone(), value.clone());
        if matches!(field.kind, FieldKind::Password(_)) {
            // A new plaintext is hashed just before the write (the stored hash stays in `data`
            // until then); an empty value clears the password, as in PocketBase.
            if value.as_str().is_some_and(|p| !p.is_empty()) {
                new_passwords.insert(field.name.clone(), value);
            } else {
                data.insert(field.name.clone(), Json::String(String::new()));
            }
            continue;
        }
        data.insert(field.name.clone(), value);
    }
    let uploads = files::apply_uploads(c, &mut data, input, superuser);
    Applied {
        uploads,
        password_confirm: input.data.get("passwordConfirm").cloned(),
        old_password: input.data.get("oldPassword").cloned(),
        data,
        submitted,
        new_passwords,
    }
}

/// The pattern a text field's empty value is generated from on create; the id falls back to
/// the default id pattern when its own is empty.
fn autogenerate_pattern(f: &Field) -> Option<&str> {
    match &f.kind {
        FieldKind::Text(o) if !o.autogenerate_pattern.is_empty() => Some(&o.autogenerate_pattern),
        FieldKind::Text(o) if o.primary_key => Some(DEFAULT_ID_GENERATOR),
        _ => None,
    }
}

/// The default `autogeneratePattern` of record ids.
const DEFAULT_ID_GENERATOR: &str = "[a-z0-9]{15}";
/// The default `pattern` of record ids; ids of other shapes are checked for case-insensitive
/// duplicates (spec §1.8).
const DEFAULT_ID_PATTERN: &str = "^[a-z0-9]+$";

/// The outcome of the auth-collection form checks.
struct FormChecks {
    errors: ErrorMap,
    /// The submitted old password, when it must match the stored hash (an update that sets a
    /// new password without manager rights). Checking it needs the hashing threads, so the
    /// caller does it and adds `validation_invalid_old_password` to `errors` on a mismatch.
    old_password_to_verify: Option<String>,
}

/// Auth-collection form checks, which run before (and short-circuit) field validation
/// (spec §3.7, §3.8): e-mail and `verified` changes need manager rights; `password`,
/// `passwordConfirm` and `oldPassword` require each other as PocketBase's form does.
fn auth_form_checks(
    c: &Collection,
    applied: &Applied,
    existing: Option<&Record>,
    manager: bool,
) -> FormChecks {
    let mut errors = ErrorMap::new();
    let creating = existing.is_none();
    let text = |v: &Option<Json>| v.as_ref().map(record::to_go_string).unwrap_or_default();
    let password = applied.new_password().unwrap_or("");
    let confirm = text(&applied.password_confirm);
    let old = text(&applied.old_password);
    let mismatch = || FieldError::new("validation_values_mismatch", "Values don't match.");
    if !manager {
        if let Some(r) = existing
            && applied.data.get("email") != r.data.get("email")
        {
            errors.insert("email", mismatch());
        }
        let verified = |data: &Map<String, Json>| {
            data.get("verified").and_then(Json::as_bool).unwrap_or(false)
        };
        let verified_before = existing.is_some_and(|r| verified(&r.data));
        if verified(&applied.data) != verified_before && c.name != crate::system::SUPERUSERS {
            errors.insert("verified", mismatch());
        }
    }
    if password.is_empty() && (creating || !confirm.is_empty() || !old.is_empty()) {
        errors.insert("password", FieldError::required());
    }
    if confirm.is_empty() && (creating || !password.is_empty() || !old.is_empty()) {
        errors.insert("passwordConfirm", FieldError::required());
    } else if confirm != password {
        errors.insert("passwordConfirm", mismatch());
    }
    let mut old_password_to_verify = None;
    if !creating && !manager && (!password.is_empty() || !confirm.is_empty()) {
        if old.is_empty() {
            errors.insert("oldPassword", FieldError::required());
        } else {
            old_password_to_verify = Some(old);
        }
    }
    FormChecks { errors, old_password_to_verify }
}

/// The INSERT of a whole row of `c` (every field, `Null` for missing values).
pub(crate) fn insert_stmt(c: &Collection, data: &Map<String, Json>) -> Stmt {
    Stmt::Insert(Insert {
        table: c.name.clone(),
        columns: c.fields.iter().map(|f| f.name.clone()).collect(),
        values: c
            .fields
            .iter()
            .map(|f| Expr::Param(storage::to_sql(f, data.get(&f.name).unwrap_or(&Json::Null))))
            .collect(),
    })
}

/// Maps a failed write to the API error: unique violations become `validation_not_unique` on
/// the indexed fields; anything else is internal.
pub(crate) fn write_error(c: &Collection, err: StoreError, message: &str) -> CoreError {
    let Some(unique) = err.unique.as_ref() else {
        return CoreError::from(err);
    };
    let mut columns = unique.columns.clone();
    if let Some(index) = &unique.index {
        if let Ok(defs) = storage::index_defs(c)
            && let Some(def) = defs.iter().find(|d| &d.name == index)
        {
            columns = def.columns.iter().map(|col| col.name.clone()).collect();
        }
        if index.ends_with("_pkey") {
            columns = vec!["id".into()];
        }
    }
    if columns.is_empty() {
        return CoreError::from(err);
    }
    let mut errors = ErrorMap::new();
    for column in columns {
        if c.field(&column).is_some() {
            errors
                .insert(column, FieldError::new("validation_not_unique", "Value must be unique."));
        }
    }
    if errors.is_empty() {
        return CoreError::from(err);
    }
    CoreError::validation(message, errors)
}
