//! Authentication: auth tokens (spec §6.2), password login (§6.4), refresh (§6.5), auth methods
//! (§6.11), impersonation (§6.10), and the superuser commands of the CLI. OAuth2 (§6.8) and MFA
//! (§6.6) live in the submodules.
//!
//! A token is trusted only after its record is loaded and the signature verifies with that
//! record's `tokenKey` + the collection's secret, so a password change (new tokenKey) or a
//! secret rotation revokes earlier tokens at once.

mod file_token;

use std::sync::Arc;

use sb_auth::token::{Claims, TokenType};
use sb_query::{AuthInfo, RequestInfo};
use sb_schema::{Collection, ErrorMap, FieldError};
use sb_sql::{Expr, Ty};
use serde_json::{Value as Json, json};

use crate::cache::Answer;
use crate::error::{CoreError, CoreResult};
use crate::records::view::load_record;
use crate::records::{Record, Viewer, compile_rule};
use crate::system::SUPERUSERS;
use crate::{App, ListParams, RecordInput};

mod cleanup;
mod email_flows;
mod origins;
mod otp;

mod mfa;
mod oauth2;

/// A successful authentication: the token and the record as the auth response shows it.
#[derive(Debug, Clone)]
pub struct AuthResponse {
    pub token: String,
    pub record: Json,
    /// OAuth2 logins only: the provider's user data and `isNew` (spec §6.8).
    pub meta: Option<Json>,
}

impl AuthResponse {
    pub fn to_json(&self) -> Json {
        match &self.meta {
            Some(meta) => json!({"token": self.token, "record": self.record, "meta": meta}),
            None => json!({"token": self.token, "record": self.record}),
        }
    }
}

/// The threads that hash and verify passwords.
///
/// Each argon2id computation needs ~19 MiB. Running them on a few long-lived threads (instead
/// of tokio's blocking pool, whose threads come and go) bounds both the work in flight and the
/// memory: the allocator keeps a per-thread arena, and with a fixed set of threads the memory
/// retained by password work stays proportional to the pool size whatever the number of
/// requests (measured: ~215 MiB per thread with glibc, flat after the first few hashes).
/// Callers queue without limit, but a queued job is a small closure; `run` awaits its turn.
pub(crate) struct HashPool {
    jobs: tokio::sync::mpsc::UnboundedSender<HashJob>,
}

type HashJob = Box<dyn FnOnce() + Send>;

impl HashPool {
    /// Starts `threads` workers (at least one). They stop when the pool is dropped.
    pub(crate) fn new(threads: usize) -> HashPool {
        let (jobs, queue) = tokio::sync::mpsc::unbounded_channel::<HashJob>();
        let queue = Arc::new(parking_lot::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let spawned =
                std::thread::Builder::new().name(format!("sb-hash-{i}")).spawn(move || {
                    loop {
                        // One idle worker waits on the queue; the others wait for the lock.
                        let job = queue.lock().blocking_recv();
                        let Some(job) = job else { break };
                        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                            tracing::error!("password hashing job panicked");
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        HashPool { jobs }
    }

    /// Runs `work` on a pool thread and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> CoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            // A caller that went away (client disconnected) needs no result: skip the work.
            if !tx.is_closed() {
                tx.send(work()).ok();
            }
        });
        self.jobs.send(job).map_err(|_| CoreError::internal("password hashing pool stopped"))?;
        rx.await.map_err(|_| CoreError::internal("password hashing job failed"))
    }
}

/// The e-mail of the temporary superuser behind the first-run install link (PocketBase's
/// own, so a data folder moved between the two behaves the same).
pub const INSTALLER_EMAIL: &str = "__pbinstaller@example.com";
/// How long the install link works.
const INSTALL_TOKEN_SECS: i64 = 30 * 60;

const AUTH_FAILED: &str = "Failed to authenticate.";
const AUTH_RULE_FAILED: &str =
    "The request doesn't satisfy the collection requirements to authenticate.";

impl App {
    /// Resolves an `Authorization` token to its principal; any failure means "guest".
    pub async fn authenticate_token(&self, token: &str) -> Option<AuthInfo> {
        self.resolve_token(token).await.ok().flatten()
    }

    /// Like [`App::authenticate_token`], but a database that cannot be reached is an error
    /// (503) rather than a guest: an unverifiable token must not be answered as if absent.
    pub async fn resolve_token(&self, token: &str) -> CoreResult<Option<AuthInfo>> {
        let Some(claims) = sb_auth::token::peek(token) else { return Ok(None) };
        if claims.kind != TokenType::Auth || claims.id.is_empty() {
            return Ok(None);
        }
        let catalog = self.catalog();
        let Some(c) = catalog.get(&claims.collection_id).cloned() else { return Ok(None) };
        if c.id != claims.collection_id || !c.is_auth() {
            return Ok(None);
        }
        let Some(record) = self.load_auth_record(&c, &claims.id).await? else { return Ok(None) };
        let Some(key) = signing_key(&c, &record, TokenType::Auth) else { return Ok(None) };
        let now = chrono::Utc::now().timestamp();
        if sb_auth::token::verify(token, &key, TokenType::Auth, now).is_err() {
            return Ok(None);
        }
        Ok(Some(AuthInfo { collection: c, record: record.data }))
    }

    /// The auth record a token names, through the auth cache (a record changed or deleted on
    /// any node is re-read, so a revoked token is refused everywhere: `cache.rs`). Only an
    /// unreachable database is an error; any other failure reads as "no such record".
    async fn load_auth_record(&self, c: &Arc<Collection>, id: &str) -> CoreResult<Option<Record>> {
        let key = format!("{}\0{id}", c.id);
        let fill = match self.auth_cache.get(&self.coherence, &key).await.map(Answer::into_value) {
            Ok(Json::Object(data)) => {
                return Ok(Some(Record {
                    collection: c.clone(),
                    data,
                    expand: None,
                    managed: false,
                }));
            }
            Ok(_) => None,
            Err(fill) => fill,
        };
        let (loaded, reads) =
            crate::cache::recording(load_record(self.store.as_ref(), c, id, None)).await;
        let record = match loaded {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(None),
            Err(e @ CoreError::Unavailable(_)) => return Err(e),
            Err(_) => return Ok(None),
        };
        if let Some(fill) = fill {
            let catalog = self.catalog();
            let data = Json::Object(record.data.clone());
            self.auth_cache.put(&self.coherence, &catalog, key, fill, reads, &data).await;
        }
        Ok(Some(record))
    }

    /// `POST /api/collections/COLL/auth-with-password`.
    pub async fn auth_with_password(
        &self,
        req: &RequestInfo,
        collection: &str,
        body: &Json,
        expand: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        let c = self.auth_collection(collection)?;
        let auth = c.auth.as_ref().ok_or_else(|| CoreError::internal("auth options missing"))?;
        if !auth.password_auth.enabled {
            return Err(CoreError::Forbidden(
                "The collection is not configured to allow password authentication.".into(),
            ));
        }
        let identity = form_string(body, "identity")?;
        let password = form_string(body, "password")?;
        let identity_field = form_string(body, "identityField")?;
        let mut errors = ErrorMap::new();
        for (key, value) in [("identity", &identity), ("password", &password)] {
            if value.is_empty() {
                errors.insert(key, FieldError::required());
            } else if value.chars().count() > 255 {
                errors.insert(
                    key,
                    FieldError::new(
                        "validation_length_out_of_range",
                        "The length must be between 1 and 255.",
                    )
                    .with_param("min", 1)
                    .with_param("max", 255),
                );
            }
        }
        if !identity_field.is_empty()
            && !auth.password_auth.identity_fields.contains(&identity_field)
        {
            errors.insert(
                "identityField",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(
                "An error occurred while validating the submitted data.",
                errors,
            ));
        }
        let fields: Vec<String> = if identity_field.is_empty() {
            let mut fields = auth.password_auth.identity_fields.clone();
            // `email` is tried first, and only for e-mail-shaped identities.
            fields.sort_by_key(|f| f != "email");
            fields.retain(|f| f != "email" || identity.contains('@'));
            fields
        } else {
            vec![identity_field]
        };
        let mut found: Option<Record> = None;
        for field in fields {
            if c.field(&field).is_none() {
                continue;
            }
            if let Some(r) = self.find_by_field(&c, &field, &identity).await? {
                found = Some(r);
                break;
            }
        }
        let Some(record) = found else {
            // Same cost as a wrong password, so unknown identities can't be told apart by time.
            self.dummy_verify_password(password).await?;
            return Err(CoreError::bad_request(AUTH_FAILED));
        };
        let hash = record.data.get("password").and_then(Json::as_str).unwrap_or("").to_owned();
        let verification = self.verify_password(password.clone(), hash).await?;
        if !verification.ok {
            return Err(CoreError::bad_request(AUTH_FAILED));
        }
        if verification.needs_rehash {
            self.rehash(&c, record.id(), password).await;
        }
        let mut auth_req = req.clone();
        auth_req.context = "password".into();
        // The form travels with the request so that the MFA step finds a submitted `mfaId`.
        auth_req.body = body.as_object().cloned().unwrap_or_default();
        self.auth_response(&auth_req, &c, record, expand, true, Some(mfa::PASSWORD)).await
    }

    /// `POST /api/collections/COLL/auth-refresh`.
    pub async fn auth_refresh(
        &self,
        req: &RequestInfo,
        collection: &str,
        token: &str,
        expand: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        let c = self.auth_collection(collection)?;
        let Some(auth) = &req.auth else {
            return Err(CoreError::Unauthorized(
                "The request requires valid record authorization token.".into(),
            ));
        };
        if auth.collection.id != c.id {
            // PocketBase names the collection of the presented token here.
            return Err(CoreError::Forbidden(format!(
                "The request requires auth record from {} collection.",
                auth.collection.name
            )));
        }
        let record =
            load_record(self.store.as_ref(), &c, auth.id(), None).await?.ok_or_else(|| {
                CoreError::Unauthorized(
                    "The request requires valid record authorization token.".into(),
                )
            })?;
        let refreshable =
            sb_auth::token::peek(token).and_then(|claims| claims.refreshable).unwrap_or(false);
        if refreshable {
            self.auth_response(req, &c, record, expand, true, None).await
        } else {
            // Impersonation tokens are returned unchanged (spec §6.5).
            self.check_auth_rule(req, &c, &record).await?;
            let viewer = Viewer { force_email: true, ..Viewer::from_request(req) };
            let json = self.finish_record(&self.catalog(), req, &viewer, record, expand).await?;
            Ok(AuthResponse { token: token.to_owned(), record: json, meta: None })
        }
    }

    /// `POST /api/collections/COLL/impersonate/RID` (superusers only).
    pub async fn impersonate(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        duration: i64,
        expand: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        if !crate::records::is_superuser(req) {
            return Err(CoreError::Forbidden(
                "The authorized record is not allowed to perform this action.".into(),
            ));
        }
        let c = self.auth_collection(collection)?;
        let record = load_record(self.store.as_ref(), &c, id, None)
            .await?
            .ok_or_else(CoreError::not_found)?;
        let duration = if duration > 0 {
            duration
        } else {
            c.auth.as_ref().map_or(0, |a| a.auth_token.duration)
        };
        let token = self.issue_token(&c, &record, TokenType::Auth, duration, Some(false))?;
        let mut own_req = req.clone();
        own_req.auth = Some(AuthInfo { collection: c.clone(), record: record.data.clone() });
        let viewer = Viewer { force_email: true, ..Viewer::from_request(&own_req) };
        let json = self.finish_record(&self.catalog(), &own_req, &viewer, record, expand).await?;
        Ok(AuthResponse { token, record: json, meta: None })
    }

    /// `GET /api/collections/COLL/auth-methods`.
    pub fn auth_methods(&self, collection: &str) -> CoreResult<Json> {
        let c = self.auth_collection(collection)?;
        let auth = c.auth.as_ref().ok_or_else(|| CoreError::internal("auth options missing"))?;
        let password_enabled = auth.password_auth.enabled;
        let identity_fields: Vec<String> =
            if password_enabled { auth.password_auth.identity_fields.clone() } else { Vec::new() };
        let providers =
            if auth.oauth2.enabled { oauth2::auth_method_entries(auth) } else { Vec::new() };
        // The pre-0.23 key repeats the entries without logos.
        let legacy_providers: Vec<Json> = providers
            .iter()
            .cloned()
            .map(|mut p| {
                p["logo"] = Json::String(String::new());
                p
            })
            .collect();
        Ok(json!({
            "password": {"enabled": password_enabled, "identityFields": identity_fields},
            "oauth2": {"enabled": auth.oauth2.enabled, "providers": providers},
            "mfa": {"enabled": auth.mfa.enabled, "duration": if auth.mfa.enabled { auth.mfa.duration } else { 0 }},
            "otp": {"enabled": auth.otp.enabled, "duration": if auth.otp.enabled { auth.otp.duration } else { 0 }},
            "authProviders": legacy_providers,
            "usernamePassword": password_enabled && identity_fields.iter().any(|f| f == "username"),
            "emailPassword": password_enabled && identity_fields.iter().any(|f| f == "email"),
        }))
    }

    /// Creates or updates a superuser (CLI `superuser upsert`).
    pub async fn upsert_superuser(&self, email: &str, password: &str) -> CoreResult<()> {
        let c = self.auth_collection(SUPERUSERS)?;
        let su = self.system_request();
        match self.find_by_field(&c, "email", email).await? {
            Some(existing) => {
                let input = RecordInput::from_data(json_map(
                    json!({"password": password, "passwordConfirm": password}),
                ));
                self.update_record(&su, SUPERUSERS, existing.id(), input, None).await?;
            }
            None => {
                let input = RecordInput::from_data(json_map(
                    json!({"email": email, "password": password, "passwordConfirm": password}),
                ));
                self.create_record(&su, SUPERUSERS, input, None).await?;
            }
        }
        Ok(())
    }

    /// When no superuser exists: the temporary superuser [`INSTALLER_EMAIL`] (made with a
    /// random password nobody knows, if missing) and a non-refreshable token of it, valid for
    /// 30 minutes, for the admin UI's first-run link (`/_/#/pbinstall/TOKEN`), with which the
    /// first real superuser is created; the installer goes once one is (`remove_installer`).
    /// `None` when a superuser exists (any installer left over is then removed).
    pub async fn install_token(&self) -> CoreResult<Option<String>> {
        let c = self.auth_collection(SUPERUSERS)?;
        let su = self.system_request();
        let others = ListParams {
            per_page: 1,
            skip_total: true,
            filter: Some(format!("email != '{INSTALLER_EMAIL}'")),
            ..ListParams::default()
        };
        if !self.list_records(&su, SUPERUSERS, &others).await?.items.is_empty() {
            self.remove_installer().await?;
            return Ok(None);
        }
        let installer = match self.find_by_field(&c, "email", INSTALLER_EMAIL).await? {
            Some(record) => record,
            None => {
                let password = sb_schema::ids::random_string(32, sb_schema::ids::ALPHANUMERIC);
                // Another node starting on the same database may have made it meanwhile.
                let made = self.create_superuser(INSTALLER_EMAIL, &password).await;
                match self.find_by_field(&c, "email", INSTALLER_EMAIL).await? {
                    Some(record) => record,
                    None => return made.map(|()| None),
                }
            }
        };
        self.issue_token(&c, &installer, TokenType::Auth, INSTALL_TOKEN_SECS, Some(false)).map(Some)
    }

    /// Deletes the install link's temporary superuser, if there is one.
    pub(crate) async fn remove_installer(&self) -> CoreResult<()> {
        match self.delete_superuser(INSTALLER_EMAIL).await {
            Ok(()) | Err(CoreError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates a superuser; fails when the e-mail is taken (CLI `superuser create`).
    pub async fn create_superuser(&self, email: &str, password: &str) -> CoreResult<()> {
        let su = self.system_request();
        let input = RecordInput::from_data(json_map(
            json!({"email": email, "password": password, "passwordConfirm": password}),
        ));
        self.create_record(&su, SUPERUSERS, input, None).await.map(|_| ())
    }

    /// Deletes a superuser by e-mail (CLI `superuser delete`).
    pub async fn delete_superuser(&self, email: &str) -> CoreResult<()> {
        let c = self.auth_collection(SUPERUSERS)?;
        let existing =
            self.find_by_field(&c, "email", email).await?.ok_or_else(CoreError::not_found)?;
        self.delete_record(&self.system_request(), SUPERUSERS, existing.id()).await
    }

    /// A request acting with superuser rights, for internal operations (CLI, migrations).
    pub fn system_request(&self) -> RequestInfo {
        let catalog = self.catalog();
        let collection = catalog
            .get(SUPERUSERS)
            .cloned()
            .unwrap_or_else(|| Arc::new(Collection::scaffold(sb_schema::CollectionType::Auth)));
        RequestInfo {
            context: "default".into(),
            method: "POST".into(),
            auth: Some(AuthInfo { collection, record: serde_json::Map::new() }),
            ..Default::default()
        }
    }

    pub(crate) fn auth_collection(&self, id_or_name: &str) -> CoreResult<Arc<Collection>> {
        self.catalog().get(id_or_name).filter(|c| c.is_auth()).cloned().ok_or_else(|| {
            CoreError::NotFound("Missing or invalid auth collection context.".into())
        })
    }

    pub(crate) async fn find_by_field(
        &self,
        c: &Arc<Collection>,
        field: &str,
        value: &str,
    ) -> CoreResult<Option<Record>> {
        if value.is_empty() {
            return Ok(None);
        }
        let mut select = crate::storage::select_record(c, "t");
        let column = Expr::col("t", field);
        let nocase = crate::storage::index_defs(c).unwrap_or_default().iter().any(|d| {
            d.unique && d.columns.len() == 1 && d.columns[0].name == field && d.columns[0].nocase
        });
        select.where_ = Some(if nocase {
            Expr::eq(
                Expr::Lower(Box::new(column)),
                Expr::Lower(Box::new(Expr::param(value))),
                Ty::Text,
            )
        } else {
            Expr::eq(column, Expr::param(value), Ty::Text)
        });
        select.limit = Some(1);
        let rows = self.store.query(&sb_sql::Stmt::Select(select)).await?;
        Ok(Record::from_rows(c, rows).into_iter().next())
    }

    async fn rehash(&self, c: &Arc<Collection>, id: &str, password: String) {
        let Ok(hash) = self.hash_password(password).await else { return };
        let update = sb_sql::Stmt::Update(sb_sql::Update {
            table: c.name.clone(),
            set: vec![("password".into(), Expr::param(hash))],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(id), Ty::Text)),
        });
        if let Ok(mut tx) = self.store.begin().await
            && tx.execute(&update).await.is_ok()
        {
            tx.commit().await.ok();
        }
    }

    async fn check_auth_rule(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        record: &Record,
    ) -> CoreResult<()> {
        if crate::records::is_superuser(req) {
            return Ok(());
        }
        match c.auth.as_ref().and_then(|a| a.auth_rule.as_deref()) {
            None => Err(CoreError::Forbidden(AUTH_RULE_FAILED.into())),
            Some("") => Ok(()),
            Some(rule) => {
                let mut rule_req = req.clone();
                rule_req.auth =
                    Some(AuthInfo { collection: c.clone(), record: record.data.clone() });
                let condition = compile_rule(&self.catalog(), c, rule, "t", &rule_req)?;
                if self.exists_where(c, record.id(), condition).await? {
                    Ok(())
                } else {
                    Err(CoreError::Forbidden(AUTH_RULE_FAILED.into()))
                }
            }
        }
    }

    /// The common end of every login: the auth rule, the MFA step when `method` (`password`,
    /// `otp`, `oauth2`; `None` for refreshes) names a first factor, then the token and the
    /// record. A `mfaId` is taken from the query or the submitted form in `req.body`; when a
    /// second factor is needed the answer is the 401 `{"mfaId"}` response (spec §6.6).
    pub(crate) async fn auth_response(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        record: Record,
        expand: Option<&str>,
        refreshable: bool,
        method: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        // The auth rule sees the authenticating record as `@request.auth`.
        let guest = RequestInfo { auth: None, ..req.clone() };
        self.check_auth_rule(&guest, c, &record).await?;
        if let Some(method) = method {
            self.check_mfa(req, c, &record, method).await?;
        }
        let duration = c.auth.as_ref().map_or(0, |a| a.auth_token.duration);
        let token = self.issue_token(c, &record, TokenType::Auth, duration, Some(refreshable))?;
        let mut own_req = req.clone();
        own_req.auth = Some(AuthInfo { collection: c.clone(), record: record.data.clone() });
        let viewer = Viewer { force_email: true, ..Viewer::from_request(&own_req) };
        let json = self.finish_record(&self.catalog(), &own_req, &viewer, record, expand).await?;
        Ok(AuthResponse { token, record: json, meta: None })
    }

    fn issue_token(
        &self,
        c: &Collection,
        record: &Record,
        kind: TokenType,
        duration: i64,
        refreshable: Option<bool>,
    ) -> CoreResult<String> {
        let key =
            signing_key(c, record, kind).ok_or_else(|| CoreError::internal("missing token key"))?;
        let claims = Claims {
            id: record.id().to_owned(),
            collection_id: c.id.clone(),
            kind,
            exp: chrono::Utc::now().timestamp() + duration.max(1),
            refreshable: if kind == TokenType::Auth { refreshable } else { None },
            email: None,
            new_email: None,
        };
        Ok(sb_auth::token::sign(&claims, &key))
    }
}

/// The HMAC key of a token: the record's tokenKey followed by the collection's secret for the
/// token kind.
fn signing_key(c: &Collection, record: &Record, kind: TokenType) -> Option<String> {
    let auth = c.auth.as_ref()?;
    let token_key = record.data.get("tokenKey").and_then(Json::as_str).filter(|k| !k.is_empty())?;
    let secret = match kind {
        TokenType::Auth => &auth.auth_token.secret,
        TokenType::File => &auth.file_token.secret,
        TokenType::Verification => &auth.verification_token.secret,
        TokenType::PasswordReset => &auth.password_reset_token.secret,
        TokenType::EmailChange => &auth.email_change_token.secret,
    };
    Some(format!("{token_key}{secret}"))
}

/// A string value of a form body; keys of auth forms match case-insensitively (spec §1.2).
/// A missing key or `null` is empty; any other non-string value cannot be bound to the form
/// (PocketBase: 400 "An error occurred while loading the submitted data.").
pub(crate) fn form_string(body: &Json, key: &str) -> CoreResult<String> {
    let value = body
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v));
    match value {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(_) => {
            Err(CoreError::bad_request("An error occurred while loading the submitted data."))
        }
    }
}

fn json_map(v: Json) -> serde_json::Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests;
