//! OAuth2 login (spec §6.8) and the provider entries of `auth-methods` (§6.11).
//!
//! `auth-with-oauth2` exchanges the authorization code at the provider's token endpoint (with
//! the PKCE verifier when the provider uses PKCE), reads the user with the access token (as
//! the provider's table entry says: a GET or a GraphQL POST of the user-info endpoint, or, for
//! Apple, the token answer's `id_token` verified against the provider's key set), then finds
//! the record to log in: an `_externalAuths` link for (collection, provider,
//! provider user id), else the record already authenticated on this request, else the record
//! with the provider's e-mail, else it signs a new record up through the ordinary create path
//! (createRule, validation, `@request.context = "oauth2"`). The record changes and the new link
//! are written in one transaction; the common `auth_response` (auth rule, MFA, token) follows.
//!
//! Network calls happen before any transaction and are bounded: 30 s per login (as PocketBase)
//! and 1 MiB per provider answer.

mod providers;

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing::Instrument;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sb_query::RequestInfo;
use sb_schema::{AuthOptions, Collection, ErrorMap, FieldError, FieldKind, OAuth2Provider};
use sb_sql::{Delete, Expr, Stmt, Ty, Update};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use self::providers::{HeaderValue, MappedUser, ProviderKind, TokenAuth, UserInfo};
use super::{AUTH_FAILED, AuthResponse, form_string, mfa};
use crate::error::{CoreError, CoreResult};
use crate::records::Record;
use crate::records::db::Db;
use crate::records::view::load_record;
use crate::records::write::{insert_stmt, write_error};
use crate::system::SUPERUSERS;
use crate::{App, RecordInput, storage};

const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";
const TOKEN_FAILED: &str = "Failed to fetch OAuth2 token.";
const USER_FAILED: &str = "Failed to fetch OAuth2 user.";
const CREATE_FAILED: &str = "Failed to create record.";
const EXTERNAL_AUTHS: &str = "_externalAuths";

/// Upper bound of a whole exchange with a provider (token + user info).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of one provider answer.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// One HTTP client for all providers (connection pools are per client).
fn http_client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(EXCHANGE_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent("scalebase")
            .build()
            .unwrap_or_default()
    })
}

/// A configured provider with its defaults filled in.
struct Provider<'a> {
    config: &'a OAuth2Provider,
    kind: &'static ProviderKind,
    auth_url: &'a str,
    token_url: &'a str,
    user_info_url: &'a str,
    pkce: bool,
}

impl<'a> Provider<'a> {
    fn resolve(config: &'a OAuth2Provider) -> Option<Provider<'a>> {
        let kind = providers::find(&config.name)?;
        let or = |configured: &'a str, default: &'static str| {
            if configured.is_empty() { default } else { configured }
        };
        Some(Provider {
            auth_url: or(&config.auth_url, kind.auth_url),
            token_url: or(&config.token_url, kind.token_url),
            user_info_url: or(&config.user_info_url, kind.user_info_url),
            pkce: config.pkce.unwrap_or(kind.pkce),
            config,
            kind,
        })
    }

    fn display_name(&self) -> &str {
        if self.config.display_name.is_empty() {
            self.kind.display_name
        } else {
            &self.config.display_name
        }
    }
}

/// The `oauth2.providers` entries of `auth-methods`: fresh state and PKCE pair on every call.
/// The `authURL` ends with `&redirect_uri=` for the client to complete, as PocketBase's does.
pub(crate) fn auth_method_entries(auth: &AuthOptions) -> Vec<Json> {
    auth.oauth2
        .providers
        .iter()
        .filter_map(Provider::resolve)
        .map(|p| {
            let state = sb_auth::random::alphanumeric(30);
            let (verifier, challenge, method) = if p.pkce {
                let verifier = sb_auth::random::alphanumeric(43);
                let challenge = code_challenge(&verifier);
                (verifier, challenge, "S256")
            } else {
                (String::new(), String::new(), "")
            };
            // Go's url.Values.Encode: keys in byte order.
            let mut params: Vec<(&str, String)> = vec![
                ("client_id", p.config.client_id.clone()),
                ("response_type", "code".into()),
                ("state", state.clone()),
            ];
            if !p.kind.scopes.is_empty() {
                params.push(("scope", p.kind.scopes.join(" ")));
            }
            params.extend(p.kind.auth_params.iter().map(|(k, v)| (*k, (*v).to_owned())));
            if p.pkce {
                params.push(("code_challenge", challenge.clone()));
                params.push(("code_challenge_method", method.into()));
            }
            params.sort_by(|a, b| a.0.cmp(b.0));
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &params {
                query.append_pair(k, v);
            }
            let separator = if p.auth_url.contains('?') { '&' } else { '?' };
            let auth_url = format!("{}{separator}{}&redirect_uri=", p.auth_url, query.finish());
            json!({
                "name": p.config.name,
                "displayName": p.display_name(),
                "state": state,
                "authURL": auth_url,
                "authUrl": auth_url,
                "codeVerifier": verifier,
                "codeChallenge": challenge,
                "codeChallengeMethod": method,
                "logo": "",
            })
        })
        .collect()
}

/// RFC 7636 S256: base64url (no padding) of the SHA-256 of the verifier.
pub(crate) fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The answer of a token endpoint.
struct Token {
    access_token: String,
    refresh_token: String,
    expiry: Option<chrono::DateTime<chrono::Utc>>,
    /// The whole answer (`id_token`, VK's `email`, ...).
    fields: Map<String, Json>,
}

/// The OAuth2 user as `meta` shows it.
struct OAuth2User {
    mapped: MappedUser,
    token: Token,
    raw: Json,
}

impl OAuth2User {
    fn meta(&self, is_new: bool) -> Json {
        let m = &self.mapped;
        json!({
            "id": m.id,
            "name": m.name,
            "username": m.username,
            "email": m.email,
            "avatarURL": m.avatar_url,
            "accessToken": self.token.access_token,
            "refreshToken": self.token.refresh_token,
            "expiry": self.token.expiry.map(sb_schema::datetime::format).unwrap_or_default(),
            "rawUser": self.raw,
            "isNew": is_new,
            "avatarUrl": m.avatar_url,
        })
    }
}

/// The submitted `auth-with-oauth2` form.
struct Form {
    provider: String,
    code: String,
    code_verifier: String,
    redirect_url: String,
    create_data: Map<String, Json>,
}

fn parse_form(body: &Json) -> CoreResult<Form> {
    let mut redirect_url = form_string(body, "redirectURL")?;
    if redirect_url.is_empty() {
        redirect_url = form_string(body, "redirectUrl")?;
    }
    let create_data = match body
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("createData")))
        .map(|(_, v)| v)
    {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(m)) => m.clone(),
        // A multipart form carries it as JSON text.
        Some(Json::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Json::String(s)) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Object(m)) => m,
            _ => return Err(CoreError::bad_request(LOAD_FAILED)),
        },
        Some(_) => return Err(CoreError::bad_request(LOAD_FAILED)),
    };
    Ok(Form {
        provider: form_string(body, "provider")?,
        code: form_string(body, "code")?,
        code_verifier: form_string(body, "codeVerifier")?,
        redirect_url,
        create_data,
    })
}

impl App {
    /// `POST /api/collections/COLL/auth-with-oauth2`.
    pub async fn auth_with_oauth2(
        &self,
        req: &RequestInfo,
        collection: &str,
        body: &Json,
        expand: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        let c = self.auth_collection(collection)?;
        let auth = c.auth.as_ref().ok_or_else(|| CoreError::internal("auth options missing"))?;
        if !auth.oauth2.enabled {
            return Err(CoreError::Forbidden(
                "The collection is not configured to allow OAuth2 authentication.".into(),
            ));
        }
        let form = parse_form(body)?;
        let provider = validate_form(auth, &form)?;
        let user = fetch_user(&provider, &form).await?;

        let mut oauth_req = req.clone();
        oauth_req.context = "oauth2".into();
        oauth_req.body = body.as_object().cloned().unwrap_or_default();

        let externals = self.external_auths_collection()?;
        let link = self.find_link(&externals, &c, &form.provider, &user.mapped.id).await?;
        let found = match &link {
            Some(link) => {
                let record_id = link.data.get("recordRef").and_then(Json::as_str).unwrap_or("");
                Some(
                    load_record(self.store.as_ref(), &c, record_id, None)
                        .await?
                        .ok_or_else(CoreError::not_found)?,
                )
            }
            None => match req.auth.as_ref().filter(|a| a.collection.id == c.id) {
                Some(current) => load_record(self.store.as_ref(), &c, current.id(), None).await?,
                None => self.find_by_field(&c, "email", &user.mapped.email).await?,
            },
        };
        let is_new = found.is_none();
        let record = match found {
            None => self.oauth2_sign_up(&oauth_req, &c, &externals, &form, &user).await?,
            Some(record) => {
                self.oauth2_update_existing(
                    req,
                    &c,
                    &externals,
                    &form.provider,
                    &user,
                    record,
                    link.is_none(),
                )
                .await?
            }
        };
        let mut response =
            self.auth_response(&oauth_req, &c, record, expand, true, Some(mfa::OAUTH2)).await?;
        response.meta = Some(user.meta(is_new));
        Ok(response)
    }

    fn external_auths_collection(&self) -> CoreResult<Arc<Collection>> {
        self.catalog()
            .get(EXTERNAL_AUTHS)
            .cloned()
            .ok_or_else(|| CoreError::internal("_externalAuths is missing"))
    }

    async fn find_link(
        &self,
        externals: &Arc<Collection>,
        c: &Collection,
        provider: &str,
        provider_id: &str,
    ) -> CoreResult<Option<Record>> {
        let mut select = storage::select_record(externals, "t");
        select.where_ = Some(Expr::And(vec![
            Expr::eq(Expr::col("t", "collectionRef"), Expr::param(c.id.as_str()), Ty::Text),
            Expr::eq(Expr::col("t", "provider"), Expr::param(provider), Ty::Text),
            Expr::eq(Expr::col("t", "providerId"), Expr::param(provider_id), Ty::Text),
        ]));
        select.limit = Some(1);
        let rows = self.store.query(&Stmt::Select(select)).await?;
        Ok(Record::from_rows(externals, rows).into_iter().next())
    }

    /// Signs a new record up: `createData` plus the mapped provider fields through the
    /// ordinary create checks, written together with its `_externalAuths` link.
    async fn oauth2_sign_up(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        externals: &Arc<Collection>,
        form: &Form,
        user: &OAuth2User,
    ) -> CoreResult<Record> {
        if c.name == SUPERUSERS {
            tracing::info!("superusers cannot sign up with OAuth2");
            return Err(CoreError::bad_request(AUTH_FAILED));
        }
        let mapped_fields = c.auth.as_ref().map(|a| a.oauth2.mapped_fields.clone());
        let mapped_fields = mapped_fields.unwrap_or_default();
        let m = &user.mapped;
        let mut payload = form.create_data.clone();
        if payload.get("email").and_then(Json::as_str).is_none_or(str::is_empty) {
            payload.insert("email".into(), json!(m.email));
        }
        // Mapped values never replace explicitly submitted ones.
        for (field, value) in [(&mapped_fields.id, &m.id), (&mapped_fields.name, &m.name)] {
            if !field.is_empty() && !payload.contains_key(field) {
                payload.insert(field.clone(), json!(value));
            }
        }
        let username_field = &mapped_fields.username;
        if !username_field.is_empty()
            && !payload.contains_key(username_field)
            && !m.username.is_empty()
            && let Some(field) = c.field(username_field)
            && sb_schema::record::validate_value(field, &json!(m.username)).is_ok()
            && self.find_by_field(c, username_field, &m.username).await?.is_none()
        {
            payload.insert(username_field.clone(), json!(m.username));
        }
        let avatar_field = &mapped_fields.avatar_url;
        let mut files = Vec::new();
        if !avatar_field.is_empty()
            && !payload.contains_key(avatar_field)
            && !m.avatar_url.is_empty()
        {
            match c.field(avatar_field).map(|f| &f.kind) {
                Some(FieldKind::File(o)) => {
                    // Best effort, as PocketBase: a failed download leaves the field empty.
                    let limit = if o.max_size > 0 { o.max_size as usize } else { 5 << 20 };
                    match download_avatar(&m.avatar_url, limit).await {
                        Ok(file) => files.push((avatar_field.clone(), file)),
                        Err(e) => tracing::warn!(error = %e, "OAuth2 avatar not downloaded"),
                    }
                }
                _ => {
                    payload.insert(avatar_field.clone(), json!(m.avatar_url));
                }
            }
        }
        if !payload.contains_key("password") {
            let password = sb_auth::random::alphanumeric(30);
            payload.insert("passwordConfirm".into(), json!(password));
            payload.insert("password".into(), json!(password));
        }
        let catalog = self.catalog();
        let (c, mut data) = self
            .prepare_create(
                &mut Db::Store(self.store.as_ref()),
                &catalog,
                req,
                &c.id,
                RecordInput { data: payload, files },
            )
            .await?;
        let email = data.get("email").and_then(Json::as_str).unwrap_or("");
        if email == m.email {
            // Marked verified when it matches the provider's data (even when both are empty).
            data.insert("verified".into(), Json::Bool(true));
        }
        let id = data.get("id").and_then(Json::as_str).unwrap_or("").to_owned();
        let statements = vec![
            insert_stmt(&c, &data),
            insert_stmt(externals, &link_row(&c, &id, &form.provider, &m.id)),
        ];
        if let Err(e) = self.store.write(&statements).await {
            // The avatar (the only file of a new record) was stored before the write.
            self.remove_files(&c, &id, &crate::records::files::file_names(&c, &data)).await;
            return Err(match write_error(&c, e, CREATE_FAILED) {
                CoreError::Internal(cause) => {
                    tracing::warn!(%cause, "OAuth2 sign-up failed");
                    CoreError::bad_request(AUTH_FAILED)
                }
                other => other,
            });
        }
        Ok(Record { collection: c, data, expand: None, managed: false })
    }

    /// Logs into an existing record: an unverified record found by e-mail (not the logged-in
    /// one) gets a random password and loses its old links (a stranger may have registered
    /// with that address); an empty e-mail takes the provider's; the record becomes verified
    /// when its e-mail is empty or the provider's; the link is created when missing.
    #[allow(clippy::too_many_arguments, reason = "one call site; the values are unrelated")]
    async fn oauth2_update_existing(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        externals: &Arc<Collection>,
        provider: &str,
        user: &OAuth2User,
        record: Record,
        link_missing: bool,
    ) -> CoreResult<Record> {
        let logged_in =
            req.auth.as_ref().is_some_and(|a| a.collection.id == c.id && a.id() == record.id());
        let mut data = record.data.clone();
        let text = |data: &Map<String, Json>, key: &str| {
            data.get(key).and_then(Json::as_str).unwrap_or("").to_owned()
        };
        let verified = data.get("verified").and_then(Json::as_bool).unwrap_or(false);
        let mut drop_links = false;
        let mut new_token_key = false;
        if !logged_in && !text(&data, "email").is_empty() && !verified {
            let hash = self.hash_password(sb_auth::random::alphanumeric(30)).await?;
            data.insert("password".into(), json!(hash));
            new_token_key = true;
            drop_links = true;
        }
        if text(&data, "email").is_empty() && !user.mapped.email.is_empty() {
            data.insert("email".into(), json!(user.mapped.email));
            new_token_key = true;
        }
        let email = text(&data, "email");
        if !verified && (email.is_empty() || email == user.mapped.email) {
            data.insert("verified".into(), Json::Bool(true));
        }
        if new_token_key {
            data.insert("tokenKey".into(), json!(sb_auth::random::alphanumeric(50)));
        }
        let mut statements = Vec::new();
        let changed: Vec<&sb_schema::Field> =
            c.fields.iter().filter(|f| data.get(&f.name) != record.data.get(&f.name)).collect();
        if !changed.is_empty() {
            let now = sb_schema::datetime::now_string();
            for f in &c.fields {
                if let FieldKind::Autodate(o) = &f.kind
                    && o.on_update
                {
                    data.insert(f.name.clone(), Json::String(now.clone()));
                }
            }
            let set = c
                .fields
                .iter()
                .filter(|f| f.name != "id" && data.get(&f.name) != record.data.get(&f.name))
                .map(|f| {
                    let value = storage::to_sql(f, data.get(&f.name).unwrap_or(&Json::Null));
                    (f.name.clone(), Expr::Param(value))
                })
                .collect();
            statements.push(Stmt::Update(Update {
                table: c.name.clone(),
                set,
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(record.id()), Ty::Text)),
            }));
        }
        if drop_links {
            statements.push(Stmt::Delete(Delete {
                table: externals.name.clone(),
                where_: Some(Expr::And(vec![
                    Expr::eq(Expr::bare("collectionRef"), Expr::param(c.id.as_str()), Ty::Text),
                    Expr::eq(Expr::bare("recordRef"), Expr::param(record.id()), Ty::Text),
                ])),
            }));
        }
        if link_missing || drop_links {
            let row = link_row(c, record.id(), provider, &user.mapped.id);
            statements.push(insert_stmt(externals, &row));
        }
        if !statements.is_empty() {
            self.store.write(&statements).await.map_err(|e| {
                if e.unique.is_some() {
                    // The record is linked to another account of this provider, or a
                    // concurrent login linked it first.
                    tracing::info!(error = %e, "OAuth2 link refused");
                    CoreError::bad_request(AUTH_FAILED)
                } else {
                    CoreError::from(e)
                }
            })?;
        }
        Ok(Record { collection: c.clone(), data, expand: None, managed: false })
    }
}

/// A new `_externalAuths` row.
fn link_row(
    c: &Collection,
    record_id: &str,
    provider: &str,
    provider_id: &str,
) -> Map<String, Json> {
    let now = sb_schema::datetime::now_string();
    let mut row = Map::new();
    row.insert("id".into(), json!(sb_auth::random::lower_alphanumeric(15)));
    row.insert("collectionRef".into(), json!(c.id));
    row.insert("recordRef".into(), json!(record_id));
    row.insert("provider".into(), json!(provider));
    row.insert("providerId".into(), json!(provider_id));
    row.insert("created".into(), json!(now));
    row.insert("updated".into(), json!(now));
    row
}

/// The form checks of PocketBase's OAuth2 form: provider (known and configured) and code are
/// required; an empty redirect URL is passed on to the provider as is.
fn validate_form<'a>(auth: &'a AuthOptions, form: &Form) -> CoreResult<Provider<'a>> {
    let mut errors = ErrorMap::new();
    let mut provider = None;
    if form.provider.is_empty() {
        errors.insert("provider", FieldError::required());
    } else if form.provider.chars().count() > 100 {
        errors.insert(
            "provider",
            FieldError::new("validation_length_too_long", "The length must be no more than 100.")
                .with_param("max", 100),
        );
    } else {
        provider = auth
            .oauth2
            .providers
            .iter()
            .find(|p| p.name == form.provider)
            .and_then(Provider::resolve);
        if provider.is_none() {
            errors.insert(
                "provider",
                FieldError::new(
                    "validation_invalid_provider",
                    format!("Provider with name {} is missing or is not enabled.", form.provider),
                )
                .with_param("name", form.provider.clone()),
            );
        }
    }
    if form.code.is_empty() {
        errors.insert("code", FieldError::required());
    }
    match provider {
        Some(p) if errors.is_empty() => Ok(p),
        _ => Err(CoreError::validation(LOAD_FAILED, errors)),
    }
}

/// The code exchange and the user-info read, within [`EXCHANGE_TIMEOUT`] together.
async fn fetch_user(provider: &Provider<'_>, form: &Form) -> CoreResult<OAuth2User> {
    let work = async {
        let token = exchange_code(provider, form).await.map_err(|cause| {
            tracing::info!(provider = %provider.config.name, %cause, "OAuth2 token exchange failed");
            CoreError::bad_request(TOKEN_FAILED)
        })?;
        let raw = read_user_info(provider, &token).await.map_err(|cause| {
            tracing::info!(provider = %provider.config.name, %cause, "OAuth2 user info failed");
            CoreError::bad_request(USER_FAILED)
        })?;
        let mut mapped = (provider.kind.map_user)(&raw);
        if mapped.email.is_empty() && provider.kind.email_in_token {
            mapped.email = token.fields.get("email").and_then(Json::as_str).unwrap_or("").into();
        }
        if mapped.email.is_empty()
            && let Some(list) = provider.kind.emails
            && let Some(url) = list.at.resolve(provider.user_info_url)
        {
            // Without the address the login still works (by link or sign-up without e-mail).
            match get_json(&url, &token, &[]).await {
                Ok(emails) => mapped.email = (list.pick)(&emails),
                Err(cause) => {
                    tracing::info!(provider = %provider.config.name, %cause, "OAuth2 e-mail list failed");
                }
            }
        }
        if mapped.id.is_empty() {
            tracing::info!(provider = %provider.config.name, "OAuth2 user without an id");
            return Err(CoreError::bad_request(USER_FAILED));
        }
        Ok(OAuth2User { mapped, token, raw })
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, work).await {
        Ok(result) => result,
        Err(_) => Err(CoreError::bad_request(TOKEN_FAILED)),
    }
}

async fn exchange_code(provider: &Provider<'_>, form: &Form) -> Result<Token, String> {
    if provider.token_url.is_empty() {
        return Err("no token URL configured".into());
    }
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", form.code.as_str()),
        ("redirect_uri", form.redirect_url.as_str()),
    ];
    if provider.pkce {
        params.push(("code_verifier", form.code_verifier.as_str()));
    }
    let (id, secret) = (&provider.config.client_id, &provider.config.client_secret);
    let mut request =
        http_client().post(provider.token_url).header(reqwest::header::ACCEPT, "application/json");
    request = match provider.kind.token_auth {
        TokenAuth::Form => {
            params.push(("client_id", id.as_str()));
            params.push(("client_secret", secret.as_str()));
            request
        }
        // RFC 6749 §2.3.1: both parts form-encoded before the basic encoding.
        TokenAuth::Basic => request.basic_auth(form_encode(id), Some(form_encode(secret))),
    };
    let response = send(request.form(&params)).await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = read_limited(response).await?;
    if !status.is_success() {
        return Err(format!("token endpoint answered {status}"));
    }
    // Some providers (GitHub without Accept) answer form-encoded.
    let fields: Map<String, Json> = if content_type.contains("application/x-www-form-urlencoded")
        || content_type.starts_with("text/plain")
    {
        url::form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), json!(v))).collect()
    } else {
        match serde_json::from_slice::<Json>(&bytes) {
            Ok(Json::Object(m)) => m,
            _ => return Err("token answer is not a JSON object".into()),
        }
    };
    let text = |key: &str| fields.get(key).and_then(Json::as_str).unwrap_or("").to_owned();
    let access_token = text("access_token");
    if access_token.is_empty() {
        return Err(format!("no access token (error {:?})", text("error")));
    }
    let expires_in = match fields.get("expires_in") {
        Some(Json::Number(n)) => n.as_i64(),
        Some(Json::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    Ok(Token {
        access_token,
        refresh_token: text("refresh_token"),
        expiry: expires_in
            .filter(|s| *s > 0)
            .map(|s| chrono::Utc::now() + chrono::Duration::seconds(s)),
        fields,
    })
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The provider's user (or, for an `id_token` provider, the verified claims) as JSON.
async fn read_user_info(provider: &Provider<'_>, token: &Token) -> Result<Json, String> {
    if provider.user_info_url.is_empty() {
        return Err("no user info URL configured".into());
    }
    let headers: Vec<(&str, &str)> = provider
        .kind
        .headers
        .iter()
        .map(|(name, value)| match value {
            HeaderValue::Fixed(v) => (*name, *v),
            HeaderValue::ClientId => (*name, provider.config.client_id.as_str()),
        })
        .collect();
    let user = match provider.kind.user_info {
        UserInfo::Get => get_json(provider.user_info_url, token, &headers).await?,
        UserInfo::Post(body) => {
            let request = http_client()
                .post(provider.user_info_url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
            send_json(request, provider.user_info_url, token, &headers).await?
        }
        UserInfo::IdToken { issuer } => id_token_claims(provider, token, issuer).await?,
    };
    match user {
        Json::Object(_) => Ok(user),
        _ => Err("user info is not a JSON object".into()),
    }
}

/// The claims of the token answer's `id_token`, verified with the key set at the user-info
/// URL; a `user` JSON text beside it (Apple's first-authorization name) is added as `user`.
async fn id_token_claims(
    provider: &Provider<'_>,
    token: &Token,
    issuer: &str,
) -> Result<Json, String> {
    let id_token = token.fields.get("id_token").and_then(Json::as_str).unwrap_or("");
    if id_token.is_empty() {
        return Err("no id_token in the token answer".into());
    }
    let response = send(
        http_client()
            .get(provider.user_info_url)
            .header(reqwest::header::ACCEPT, "application/json"),
    )
    .await?;
    let status = response.status();
    let bytes = read_limited(response).await?;
    if !status.is_success() {
        return Err(format!("key set answered {status}"));
    }
    let jwks: Json = serde_json::from_slice(&bytes).map_err(|_| "key set is not JSON")?;
    let now = chrono::Utc::now().timestamp();
    let mut claims =
        sb_auth::verify_id_token(id_token, &jwks, issuer, &provider.config.client_id, now)
            .map_err(|e| e.to_string())?;
    if let Some(Json::String(user)) = token.fields.get("user")
        && let Ok(user @ Json::Object(_)) = serde_json::from_str::<Json>(user)
    {
        claims.insert("user".into(), user);
    }
    Ok(Json::Object(claims))
}

/// A GET with the access token, answered with JSON.
async fn get_json(url: &str, token: &Token, headers: &[(&str, &str)]) -> Result<Json, String> {
    send_json(http_client().get(url), url, token, headers).await
}

/// Sends `request` with the access token and `headers`; the answer must be JSON.
async fn send_json(
    mut request: reqwest::RequestBuilder,
    url: &str,
    token: &Token,
    headers: &[(&str, &str)],
) -> Result<Json, String> {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = send(
        request
            .bearer_auth(&token.access_token)
            .header(reqwest::header::ACCEPT, "application/json"),
    )
    .await?;
    let status = response.status();
    let bytes = read_limited(response).await?;
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    serde_json::from_slice::<Json>(&bytes).map_err(|_| format!("{url} did not answer JSON"))
}

/// Sends an outgoing request in a client span, with that span's W3C `traceparent` (or the
/// handled request's, when spans are not exported), so the provider's traces join ours.
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    let (client, request) = request.build_split();
    let mut request = request.map_err(|e| e.to_string())?;
    let host = request.url().host_str().unwrap_or("").to_owned();
    let span = sb_observe::trace::client_span(request.method().as_str(), &host);
    if let Some(traceparent) = span.in_scope(sb_observe::trace::current_traceparent)
        && let Ok(value) = reqwest::header::HeaderValue::from_str(&traceparent)
    {
        request.headers_mut().insert("traceparent", value);
    }
    let response =
        client.execute(request).instrument(span.clone()).await.map_err(|e| e.to_string())?;
    span.record("http.response.status_code", response.status().as_u16());
    Ok(response)
}

/// Upper bound of an avatar download.
const AVATAR_TIMEOUT: Duration = Duration::from_secs(15);

/// Downloads the provider's avatar (http/https only, at most `limit` bytes, bounded in time)
/// as an upload named after the URL's last path segment.
async fn download_avatar(url: &str, limit: usize) -> Result<crate::UploadedFile, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("unsupported avatar URL scheme".into());
    }
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .unwrap_or("avatar")
        .to_owned();
    let work = async {
        let mut response = send(http_client().get(parsed.clone())).await?;
        if !response.status().is_success() {
            return Err(format!("avatar answered {}", response.status()));
        }
        let claimed_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > limit {
                return Err("avatar too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(crate::UploadedFile { original_name: name, claimed_type, bytes: body.into() })
    };
    tokio::time::timeout(AVATAR_TIMEOUT, work)
        .await
        .map_err(|_| "avatar download timed out".to_string())?
}

/// The body of a provider answer, refused beyond [`MAX_ANSWER_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("provider answer too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_challenge_matches_rfc7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn built_in_authorization_urls_match_pocketbase() {
        // (name, display name, authURL up to the state, as PocketBase 0.40.6 lists them).
        let expected = [
            (
                "google",
                "Google",
                "https://accounts.google.com/o/oauth2/v2/auth?",
                "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.profile+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email",
            ),
            (
                "github",
                "GitHub",
                "https://github.com/login/oauth/authorize?",
                "scope=read%3Auser+user%3Aemail",
            ),
            ("gitlab", "GitLab", "https://gitlab.com/oauth/authorize?", "scope=read_user"),
            (
                "microsoft",
                "Microsoft",
                "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?",
                "scope=User.Read",
            ),
            (
                "discord",
                "Discord",
                "https://discord.com/api/oauth2/authorize?",
                "scope=identify+email",
            ),
            ("facebook", "Facebook", "https://www.facebook.com/v3.2/dialog/oauth?", "scope=email"),
            (
                "bitbucket",
                "Bitbucket",
                "https://bitbucket.org/site/oauth2/authorize?",
                "scope=account",
            ),
        ];
        let mut auth = AuthOptions::new();
        auth.oauth2.enabled = true;
        for (name, ..) in expected {
            auth.oauth2.providers.push(OAuth2Provider {
                name: name.into(),
                client_id: "c".into(),
                client_secret: "s".into(),
                ..Default::default()
            });
        }
        let entries = auth_method_entries(&auth);
        assert_eq!(entries.len(), expected.len());
        for (entry, (name, display, prefix, scope)) in entries.iter().zip(expected) {
            let url = entry["authURL"].as_str().unwrap();
            assert_eq!(
                (entry["name"].as_str(), entry["displayName"].as_str()),
                (Some(name), Some(display))
            );
            assert!(url.starts_with(&format!("{prefix}client_id=c&")), "{url}");
            assert!(url.contains(&format!("&{scope}&state=")), "{url}");
            let pkce = name != "bitbucket";
            assert_eq!(url.contains("code_challenge_method=S256"), pkce, "{url}");
        }
    }

    #[test]
    fn form_accepts_legacy_and_multipart_shapes() {
        let form = parse_form(&json!({
            "provider": "oidc", "code": "c", "redirectUrl": "http://x/cb",
            "createData": "{\"name\": \"N\"}",
        }))
        .unwrap();
        assert_eq!(form.redirect_url, "http://x/cb");
        assert_eq!(form.create_data.get("name"), Some(&json!("N")));
        let form = parse_form(&json!({"redirectURL": "a", "redirectUrl": "b"})).unwrap();
        assert_eq!(form.redirect_url, "a");
        for bad in [json!({"createData": [1]}), json!({"createData": "[1]"}), json!({"code": 1})] {
            assert!(matches!(parse_form(&bad), Err(CoreError::BadRequest { .. })), "{bad}");
        }
    }

    #[test]
    fn auth_method_entry_shape() {
        let mut auth = AuthOptions::new();
        auth.oauth2.enabled = true;
        auth.oauth2.providers.push(OAuth2Provider {
            name: "oidc".into(),
            client_id: "cid".into(),
            client_secret: "secret".into(),
            auth_url: "https://id.example.com/authorize".into(),
            ..Default::default()
        });
        let entries = auth_method_entries(&auth);
        let entry = &entries[0];
        let url = entry["authURL"].as_str().unwrap();
        let verifier = entry["codeVerifier"].as_str().unwrap();
        assert_eq!(verifier.len(), 43);
        assert_eq!(entry["codeChallenge"], code_challenge(verifier));
        assert_eq!(entry["displayName"], "OIDC");
        let expected = format!(
            "https://id.example.com/authorize?client_id=cid&code_challenge={}&code_challenge_method=S256&response_type=code&scope=openid+email+profile&state={}&redirect_uri=",
            entry["codeChallenge"].as_str().unwrap(),
            entry["state"].as_str().unwrap()
        );
        assert_eq!(url, expected);
        assert!(!entry.to_string().contains("secret"));
    }
}
