//! The e-mail auth flows (spec §6.9): verification, password reset and e-mail change, plus
//! the settings' test e-mail (§8.6).
//!
//! Request endpoints answer the same for known and unknown addresses and send their mail from a
//! spawned task, so neither the answer nor its timing tells whether an account exists; delivery
//! failures are logged. Confirm endpoints check the token (type, signature with the record's
//! `tokenKey` + the collection secret, expiry, collection) and write with the old `tokenKey` in
//! the `WHERE` clause where they rotate it, so a reset or e-mail-change token works once even
//! under concurrent use.

use std::sync::Arc;
use std::time::Duration;

use sb_auth::token::{Claims, TokenType};
use sb_schema::{Collection, EmailTemplate, ErrorMap, FieldError, FieldKind};
use sb_sql::{Expr, Stmt, Ty, Update};
use serde_json::Value as Json;

use super::{form_string, signing_key};
use crate::App;
use crate::error::{CoreError, CoreResult};
use crate::mail::escape_html;
use crate::records::Record;
use crate::records::view::load_record;
use crate::system::SUPERUSERS;

pub(crate) const VALIDATION_FAILED: &str = "An error occurred while validating the submitted data.";
const INVALID_TOKEN: &str = "Invalid or expired token.";
/// How long a request endpoint stays silent for a record after sending it a mail.
const RESEND_INTERVAL: Duration = Duration::from_secs(120);

impl App {
    /// Whether a verification or reset mail may be sent for `key` now (one per
    /// [`RESEND_INTERVAL`], PocketBase's resend throttle; counted across the cluster).
    async fn admit_mail(&self, key: String) -> bool {
        self.counters().admit(&format!("mail:{key}"), 1, RESEND_INTERVAL).await
    }
}

/// Why a presented token was refused.
pub(crate) enum TokenFailure {
    /// Bad signature, expired, wrong type, unknown record or collection.
    Invalid,
    /// A valid token of another auth collection.
    OtherCollection,
}

/// An e-mail body's placeholders for a record: `{RECORD:field}` for every field a client could
/// see (hidden fields, `password` and `tokenKey` excluded), HTML-escaped.
pub(crate) fn record_placeholders(c: &Collection, record: &Record) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for field in &c.fields {
        if field.hidden || matches!(field.kind, FieldKind::Password(_)) {
            continue;
        }
        let value = match record.data.get(&field.name) {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        out.push((format!("{{RECORD:{}}}", field.name), escape_html(&value)));
    }
    out
}

fn email_of(record: &Record) -> &str {
    record.data.get("email").and_then(Json::as_str).unwrap_or("")
}

fn token_key_of(record: &Record) -> &str {
    record.data.get("tokenKey").and_then(Json::as_str).unwrap_or("")
}

fn required(errors: &mut ErrorMap, key: &str, value: &str) -> bool {
    if value.is_empty() {
        errors.insert(key, FieldError::required());
        return false;
    }
    true
}

fn email_checks(errors: &mut ErrorMap, key: &str, value: &str) {
    if required(errors, key, value) && !sb_schema::is_email(value) {
        errors
            .insert(key, FieldError::new("validation_is_email", "Must be a valid email address."));
    }
}

fn validation(errors: ErrorMap) -> CoreResult<()> {
    if errors.is_empty() { Ok(()) } else { Err(CoreError::validation(VALIDATION_FAILED, errors)) }
}

impl App {
    /// Signs a token of `kind` for `record` carrying its e-mail (and `new_email`).
    pub(crate) fn email_token(
        &self,
        c: &Collection,
        record: &Record,
        kind: TokenType,
        new_email: Option<String>,
    ) -> CoreResult<String> {
        let auth = c.auth.as_ref().ok_or_else(|| CoreError::internal("auth options missing"))?;
        let duration = match kind {
            TokenType::Verification => auth.verification_token.duration,
            TokenType::PasswordReset => auth.password_reset_token.duration,
            TokenType::EmailChange => auth.email_change_token.duration,
            TokenType::Auth => auth.auth_token.duration,
            TokenType::File => auth.file_token.duration,
        };
        let key =
            signing_key(c, record, kind).ok_or_else(|| CoreError::internal("missing token key"))?;
        let claims = Claims {
            id: record.id().to_owned(),
            collection_id: c.id.clone(),
            kind,
            exp: chrono::Utc::now().timestamp() + duration.max(1),
            refreshable: None,
            email: Some(email_of(record).to_owned()),
            new_email,
        };
        Ok(sb_auth::token::sign(&claims, &key))
    }

    /// Finds the record a token of `kind` belongs to and verifies the token with its key.
    /// `expected` is the collection of the route.
    pub(crate) async fn record_by_token(
        &self,
        token: &str,
        kind: TokenType,
        expected: &Collection,
    ) -> Result<(Claims, Record), TokenFailure> {
        let claims = sb_auth::token::peek(token).ok_or(TokenFailure::Invalid)?;
        if claims.kind != kind {
            return Err(TokenFailure::Invalid);
        }
        let catalog = self.catalog();
        let c = catalog.get(&claims.collection_id).cloned().ok_or(TokenFailure::Invalid)?;
        if c.id != claims.collection_id || !c.is_auth() {
            return Err(TokenFailure::Invalid);
        }
        let record = load_record(self.store.as_ref(), &c, &claims.id, None)
            .await
            .ok()
            .flatten()
            .ok_or(TokenFailure::Invalid)?;
        let key = signing_key(&c, &record, kind).ok_or(TokenFailure::Invalid)?;
        let claims = sb_auth::token::verify(token, &key, kind, chrono::Utc::now().timestamp())
            .map_err(|_| TokenFailure::Invalid)?;
        if c.id != expected.id {
            return Err(TokenFailure::OtherCollection);
        }
        Ok((claims, record))
    }

    /// Updates columns of one auth record (and its `onUpdate` autodates). With `token_key`,
    /// only while the record still has that key. Returns whether the row changed.
    pub(crate) async fn update_auth_record(
        &self,
        c: &Collection,
        id: &str,
        set: Vec<(String, Expr)>,
        token_key: Option<&str>,
    ) -> CoreResult<bool> {
        Ok(self.update_auth_row(c, id, set, token_key).await?)
    }

    /// [`App::update_auth_record`] with the storage error as it is.
    async fn update_auth_row(
        &self,
        c: &Collection,
        id: &str,
        mut set: Vec<(String, Expr)>,
        token_key: Option<&str>,
    ) -> sb_store::Result<bool> {
        let now = sb_schema::datetime::now_string();
        for field in &c.fields {
            if let FieldKind::Autodate(o) = &field.kind
                && o.on_update
            {
                set.push((field.name.clone(), Expr::param(now.as_str())));
            }
        }
        let mut conditions = vec![Expr::eq(Expr::bare("id"), Expr::param(id), Ty::Text)];
        if let Some(key) = token_key {
            conditions.push(Expr::eq(Expr::bare("tokenKey"), Expr::param(key), Ty::Text));
        }
        let stmt = Stmt::Update(Update {
            table: c.name.clone(),
            set,
            where_: Some(Expr::And(conditions)),
        });
        let changed = self.store.write(&[stmt]).await?;
        Ok(changed.first().copied().unwrap_or(0) > 0)
    }

    /// Spawns the delivery of a token mail; failures are logged only.
    fn spawn_token_mail(
        self: &Arc<Self>,
        c: Arc<Collection>,
        record: Record,
        kind: TokenType,
        template: EmailTemplate,
    ) {
        let app = self.clone();
        tokio::spawn(async move {
            let to = email_of(&record).to_owned();
            let token = match app.email_token(&c, &record, kind, None) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign a mail token");
                    return;
                }
            };
            let mut placeholders = app.app_placeholders();
            placeholders.push(("{TOKEN}".into(), token));
            placeholders.extend(record_placeholders(&c, &record));
            if let Err(e) = app.send_template(&to, &template, &placeholders).await {
                tracing::error!(error = %e, collection = %c.name, record = record.id(), kind = ?kind, "failed to send an auth e-mail");
            }
        });
    }

    /// The record of `c` with this exact e-mail, if any (empty or malformed addresses match
    /// nothing).
    pub(crate) async fn find_by_email(
        &self,
        c: &Arc<Collection>,
        email: &str,
    ) -> CoreResult<Option<Record>> {
        self.find_by_field(c, "email", email).await
    }

    /// `POST /api/collections/COLL/request-verification` → 204.
    pub async fn request_verification(
        self: &Arc<Self>,
        collection: &str,
        body: &Json,
    ) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        if c.name == SUPERUSERS {
            return Err(CoreError::bad_request("All superusers are verified by default."));
        }
        let email = form_string(body, "email")?;
        let mut errors = ErrorMap::new();
        email_checks(&mut errors, "email", &email);
        validation(errors)?;
        let Some(record) = self.find_by_email(&c, &email).await? else { return Ok(()) };
        let verified = record.data.get("verified").and_then(Json::as_bool).unwrap_or(false);
        if verified || !self.admit_mail(format!("verification:{}:{}", c.id, record.id())).await {
            return Ok(());
        }
        let template = c.auth.as_ref().map(|a| a.verification_template.clone());
        if let Some(template) = template {
            self.spawn_token_mail(c, record, TokenType::Verification, template);
        }
        Ok(())
    }

    /// `POST /api/collections/COLL/confirm-verification` → 204.
    pub async fn confirm_verification(&self, collection: &str, body: &Json) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        let token = form_string(body, "token")?;
        let mut errors = ErrorMap::new();
        if !required(&mut errors, "token", &token) {
            return validation(errors);
        }
        let email_claim = sb_auth::token::peek(&token).and_then(|claims| claims.email);
        if email_claim.as_deref().unwrap_or("").is_empty() {
            errors.insert(
                "token",
                FieldError::new("validation_invalid_token_claims", "Missing email token claim."),
            );
            return validation(errors);
        }
        let (claims, record) = match self.record_by_token(&token, TokenType::Verification, &c).await
        {
            Ok(found) => found,
            Err(failure) => {
                errors.insert("token", token_error(failure));
                return validation(errors);
            }
        };
        if claims.email.as_deref() != Some(email_of(&record)) {
            errors.insert(
                "token",
                FieldError::new(
                    "validation_token_email_mismatch",
                    "The verification email is different from the one in the token.",
                ),
            );
            return validation(errors);
        }
        if record.data.get("verified").and_then(Json::as_bool).unwrap_or(false) {
            return Ok(());
        }
        let mut set = vec![("verified".to_owned(), Expr::param(true))];
        let password_auth = c.auth.as_ref().is_some_and(|a| a.password_auth.enabled);
        if !password_auth {
            // Nobody knows a password the account may never have chosen.
            let hash = self.hash_password(sb_auth::random::alphanumeric(30)).await?;
            set.push(("password".into(), Expr::param(hash)));
            set.push(("tokenKey".into(), Expr::param(sb_auth::random::alphanumeric(50))));
        }
        self.update_auth_record(&c, record.id(), set, None).await?;
        Ok(())
    }

    /// `POST /api/collections/COLL/request-password-reset` → 204.
    pub async fn request_password_reset(
        self: &Arc<Self>,
        collection: &str,
        body: &Json,
    ) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        if !c.auth.as_ref().is_some_and(|a| a.password_auth.enabled) {
            return Err(CoreError::bad_request(
                "The collection is not configured to allow password authentication.",
            ));
        }
        let email = form_string(body, "email")?;
        let mut errors = ErrorMap::new();
        email_checks(&mut errors, "email", &email);
        validation(errors)?;
        let Some(record) = self.find_by_email(&c, &email).await? else { return Ok(()) };
        if !self.admit_mail(format!("passwordReset:{}:{}", c.id, record.id())).await {
            return Ok(());
        }
        let template = c.auth.as_ref().map(|a| a.reset_password_template.clone());
        if let Some(template) = template {
            self.spawn_token_mail(c, record, TokenType::PasswordReset, template);
        }
        Ok(())
    }

    /// `POST /api/collections/COLL/confirm-password-reset` → 204.
    pub async fn confirm_password_reset(&self, collection: &str, body: &Json) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        let token = form_string(body, "token")?;
        let password = form_string(body, "password")?;
        let confirm = form_string(body, "passwordConfirm")?;
        let mut errors = ErrorMap::new();
        let mut found = None;
        if required(&mut errors, "token", &token) {
            match self.record_by_token(&token, TokenType::PasswordReset, &c).await {
                Ok(ok) => found = Some(ok),
                Err(failure) => errors.insert("token", token_error(failure)),
            }
        }
        let min = match c.field("password").map(|f| &f.kind) {
            Some(FieldKind::Password(o)) if o.min > 0 => o.min,
            _ => 8,
        };
        if required(&mut errors, "password", &password) {
            let len = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
            if len < min || len > 255 {
                errors.insert(
                    "password",
                    FieldError::new(
                        "validation_length_out_of_range",
                        format!("The length must be between {min} and 255."),
                    )
                    .with_param("max", 255)
                    .with_param("min", min),
                );
            }
        }
        if required(&mut errors, "passwordConfirm", &confirm) && confirm != password {
            errors.insert(
                "passwordConfirm",
                FieldError::new("validation_values_mismatch", "Values don't match."),
            );
        }
        validation(errors)?;
        let Some((claims, record)) = found else {
            return Err(CoreError::internal("token checked without a record"));
        };
        // The password field's own limit applies when the record is saved (PocketBase: bcrypt
        // refuses more than 72 bytes first, then the field's max length is checked).
        if let Some(field) = c.field("password")
            && let FieldKind::Password(o) = &field.kind
        {
            let max = if o.max > 0 { o.max } else { 71 };
            let len = i64::try_from(password.chars().count()).unwrap_or(i64::MAX);
            let error = if password.len() > 72 {
                Some(FieldError::new("validation_invalid_value", "Invalid value."))
            } else if len > max {
                Some(FieldError::new(
                    "validation_max_text_constraint",
                    format!("Must be less than {max} character(s)."),
                ))
            } else {
                None
            };
            if let Some(error) = error {
                let mut errors = ErrorMap::new();
                errors.insert("password", error);
                return Err(CoreError::validation("Failed to set new password.", errors));
            }
        }
        let hash = self.hash_password(password).await?;
        let mut set = vec![
            ("password".to_owned(), Expr::param(hash)),
            ("tokenKey".to_owned(), Expr::param(sb_auth::random::alphanumeric(50))),
        ];
        if claims.email.as_deref() == Some(email_of(&record)) {
            set.push(("verified".into(), Expr::param(true)));
        }
        let changed =
            self.update_auth_record(&c, record.id(), set, Some(token_key_of(&record))).await?;
        if !changed {
            // Another confirmation with this token (or a password change) won the race.
            let mut errors = ErrorMap::new();
            errors.insert("token", token_error(TokenFailure::Invalid));
            return validation(errors);
        }
        Ok(())
    }

    /// `POST /api/collections/COLL/request-email-change` (authenticated) → 204.
    pub async fn request_email_change(
        &self,
        req: &sb_query::RequestInfo,
        collection: &str,
        body: &Json,
    ) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        let Some(auth) = &req.auth else {
            return Err(CoreError::Unauthorized(
                "The request requires valid record authorization token.".into(),
            ));
        };
        if auth.collection.id != c.id {
            return Err(CoreError::Forbidden(format!(
                "The request requires auth record from {} collection.",
                auth.collection.name
            )));
        }
        if c.name == SUPERUSERS {
            return Err(CoreError::bad_request("All superusers can change their emails directly."));
        }
        let record =
            load_record(self.store.as_ref(), &c, auth.id(), None).await?.ok_or_else(|| {
                CoreError::Unauthorized(
                    "The request requires valid record authorization token.".into(),
                )
            })?;
        let new_email = form_string(body, "newEmail")?;
        let mut errors = ErrorMap::new();
        email_checks(&mut errors, "newEmail", &new_email);
        if errors.is_empty() {
            if new_email == email_of(&record) {
                errors.insert(
                    "newEmail",
                    FieldError::new("validation_not_in_invalid", "Must not be in list."),
                );
            } else if self.find_by_email(&c, &new_email).await?.is_some() {
                errors.insert(
                    "newEmail",
                    FieldError::new("validation_invalid_new_email", "Invalid new email address."),
                );
            }
        }
        validation(errors)?;
        let token =
            self.email_token(&c, &record, TokenType::EmailChange, Some(new_email.clone()))?;
        let template = c
            .auth
            .as_ref()
            .map(|a| a.confirm_email_change_template.clone())
            .ok_or_else(|| CoreError::internal("auth options missing"))?;
        let mut placeholders = self.app_placeholders();
        placeholders.push(("{TOKEN}".into(), token));
        placeholders.extend(record_placeholders(&c, &record));
        // The caller is authenticated, so the outcome of the delivery is theirs to know.
        if let Err(e) = self.send_template(&new_email, &template, &placeholders).await {
            tracing::error!(error = %e, collection = %c.name, record = record.id(), "failed to send the email change mail");
            return Err(CoreError::bad_request("Failed to request email change."));
        }
        Ok(())
    }

    /// `POST /api/collections/COLL/confirm-email-change` → 204.
    pub async fn confirm_email_change(&self, collection: &str, body: &Json) -> CoreResult<()> {
        let c = self.auth_collection(collection)?;
        let token = form_string(body, "token")?;
        let password = form_string(body, "password")?;
        let mut errors = ErrorMap::new();
        let mut found = None;
        if required(&mut errors, "token", &token) {
            let new_email = sb_auth::token::peek(&token).and_then(|claims| claims.new_email);
            if new_email.as_deref().unwrap_or("").is_empty() {
                errors.insert(
                    "token",
                    FieldError::new(
                        "validation_invalid_token_payload",
                        "Invalid token payload - newEmail must be set.",
                    ),
                );
            } else {
                match self.record_by_token(&token, TokenType::EmailChange, &c).await {
                    Ok((claims, record)) => {
                        let new_email = claims.new_email.clone().unwrap_or_default();
                        if self.find_by_email(&c, &new_email).await?.is_some() {
                            errors.insert(
                                "token",
                                FieldError::new(
                                    "validation_invalid_token_email",
                                    "The new email address is invalid.",
                                ),
                            );
                        } else {
                            found = Some((claims, record));
                        }
                    }
                    Err(failure) => errors.insert("token", token_error(failure)),
                }
            }
        }
        if required(&mut errors, "password", &password) {
            let hash = found
                .as_ref()
                .and_then(|(_, r)| r.data.get("password").and_then(Json::as_str))
                .unwrap_or("")
                .to_owned();
            let ok = if hash.is_empty() {
                let plain = password.clone();
                self.hasher.run(move || sb_auth::password::dummy_verify(&plain)).await?;
                false
            } else {
                self.verify_password(password.clone(), hash).await?.ok
            };
            if !ok {
                errors.insert(
                    "password",
                    FieldError::new(
                        "validation_invalid_password",
                        "Missing or invalid auth record password.",
                    ),
                );
            }
        }
        validation(errors)?;
        let Some((claims, record)) = found else {
            return Err(CoreError::internal("token checked without a record"));
        };
        let new_email = claims.new_email.unwrap_or_default();
        let set = vec![
            ("email".to_owned(), Expr::param(new_email)),
            ("verified".to_owned(), Expr::param(true)),
            ("tokenKey".to_owned(), Expr::param(sb_auth::random::alphanumeric(50))),
        ];
        let outcome = self.update_auth_row(&c, record.id(), set, Some(token_key_of(&record)));
        let token_error = |code: &'static str, message: &'static str| {
            let mut errors = ErrorMap::new();
            errors.insert("token", FieldError::new(code, message));
            validation(errors)
        };
        match outcome.await {
            Ok(true) => Ok(()),
            Ok(false) => token_error("validation_invalid_token", INVALID_TOKEN),
            Err(e) if e.kind == sb_store::ErrorKind::Unique => {
                token_error("validation_invalid_token_email", "The new email address is invalid.")
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /api/settings/test/email` (superusers): sends `template` of `collection` (default
    /// `_superusers`) to `email` with sample values.
    pub async fn send_test_email(&self, body: &Json) -> CoreResult<()> {
        const FAILED: &str = "Failed to send the test email.";
        let email = form_string(body, "email")?;
        let template = form_string(body, "template")?;
        let collection = form_string(body, "collection")?;
        let mut errors = ErrorMap::new();
        email_checks(&mut errors, "email", &email);
        const TEMPLATES: [&str; 5] =
            ["verification", "password-reset", "email-change", "otp", "login-alert"];
        if required(&mut errors, "template", &template) && !TEMPLATES.contains(&template.as_str()) {
            errors.insert(
                "template",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
        }
        let collection = if collection.is_empty() { SUPERUSERS.to_owned() } else { collection };
        let c = self.catalog().get(&collection).filter(|c| c.is_auth()).cloned();
        if c.is_none() {
            errors.insert(
                "collection",
                FieldError::new(
                    "validation_invalid_auth_collection",
                    "Must be a valid auth collection id or name.",
                ),
            );
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(FAILED, errors));
        }
        let (Some(c), Some(auth)) = (c.clone(), c.as_ref().and_then(|c| c.auth.clone())) else {
            return Err(CoreError::internal("auth options missing"));
        };
        // A sample record of the collection addressed to the recipient.
        let mut data = serde_json::Map::new();
        for field in &c.fields {
            data.insert(field.name.clone(), sb_schema::record::zero_value(&field.kind));
        }
        data.insert("id".into(), Json::String("__pb_test_id__".into()));
        data.insert("email".into(), Json::String(email.clone()));
        let record = Record { collection: c.clone(), data, expand: None, managed: false };
        let mut placeholders = self.app_placeholders();
        placeholders.extend([
            ("{TOKEN}".to_owned(), "__pb_test_token__".to_owned()),
            ("{OTP}".to_owned(), "123456".to_owned()),
            ("{OTP_ID}".to_owned(), "__pb_test_otp_id__".to_owned()),
            (
                "{ALERT_INFO}".to_owned(),
                format!("{} - 127.0.0.1 test user agent", sb_schema::datetime::now_string()),
            ),
        ]);
        placeholders.extend(record_placeholders(&c, &record));
        let chosen = match template.as_str() {
            "verification" => auth.verification_template,
            "password-reset" => auth.reset_password_template,
            "email-change" => auth.confirm_email_change_template,
            "otp" => auth.otp.email_template,
            _ => auth.auth_alert.email_template,
        };
        self.send_template(&email, &chosen, &placeholders)
            .await
            .map_err(|e| CoreError::bad_request(format!("{FAILED} Raw error: \n{e}")))
    }
}

fn token_error(failure: TokenFailure) -> FieldError {
    match failure {
        TokenFailure::Invalid => FieldError::new("validation_invalid_token", INVALID_TOKEN),
        TokenFailure::OtherCollection => FieldError::new(
            "validation_token_collection_mismatch",
            "The provided token is for different auth collection.",
        ),
    }
}
