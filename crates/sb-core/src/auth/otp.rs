//! One-time passwords by e-mail (spec §6.7): `request-otp` and `auth-with-otp`.
//!
//! A code is stored hashed in an `_otps` row (through the records layer, so the row's
//! `password` field hashes it) and mailed from a spawned task. Unknown addresses get a random
//! id that matches no row, so the answer does not tell whether an account exists. A code works
//! once: the row is deleted by a statement whose changed-row count decides who used it.

use std::sync::Arc;

use sb_query::RequestInfo;
use sb_schema::{ErrorMap, FieldError};
use sb_sql::{CmpOp, Delete, Expr, Stmt, Ty};
use serde_json::{Value as Json, json};

use super::email_flows::{VALIDATION_FAILED, record_placeholders};
use super::{AuthResponse, form_string};
use crate::App;
use crate::error::{CoreError, CoreResult};
use crate::records::view::load_record;
use crate::records::write::RecordInput;

const OTPS: &str = "_otps";
const INVALID_OTP: &str = "Invalid or expired OTP.";
const OTP_DISABLED: &str = "The collection is not configured to allow OTP authentication.";
/// Beyond this many live codes per record, the newest is handed out again.
const MAX_LIVE_OTPS: usize = 9;
/// Code checks allowed per record within [`ATTEMPT_WINDOW`].
const MAX_ATTEMPTS: u32 = 5;
const ATTEMPT_WINDOW: std::time::Duration = std::time::Duration::from_secs(180);

fn text(data: &serde_json::Map<String, Json>, key: &str) -> String {
    data.get(key).and_then(Json::as_str).unwrap_or("").to_owned()
}

impl App {
    /// `POST /api/collections/COLL/request-otp` → `{"otpId"}`.
    pub async fn request_otp(self: &Arc<Self>, collection: &str, body: &Json) -> CoreResult<Json> {
        let c = self.auth_collection(collection)?;
        let auth = c.auth.clone().ok_or_else(|| CoreError::internal("auth options missing"))?;
        if !auth.otp.enabled {
            return Err(CoreError::Forbidden(OTP_DISABLED.into()));
        }
        let email = form_string(body, "email")?;
        let mut errors = ErrorMap::new();
        if email.is_empty() {
            errors.insert("email", FieldError::required());
        } else if !sb_schema::is_email(&email) {
            errors.insert(
                "email",
                FieldError::new("validation_is_email", "Must be a valid email address."),
            );
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(VALIDATION_FAILED, errors));
        }
        let Some(record) = self.find_by_email(&c, &email).await? else {
            // Same shape as a real id; it matches no row.
            return Ok(json!({"otpId": sb_auth::random::lower_alphanumeric(15)}));
        };
        let live = self.live_otps(&c.id, record.id(), auth.otp.duration).await?;
        if live.len() > MAX_LIVE_OTPS
            && let Some(newest) = live.first()
        {
            return Ok(json!({"otpId": newest}));
        }
        let length = usize::try_from(auth.otp.length.clamp(4, 64)).unwrap_or(8);
        let code = sb_auth::random::random_string(length, "0123456789");
        let mut data = serde_json::Map::new();
        data.insert("collectionRef".into(), Json::String(c.id.clone()));
        data.insert("recordRef".into(), Json::String(record.id().to_owned()));
        data.insert("password".into(), Json::String(code.clone()));
        data.insert("sentTo".into(), Json::String(email.clone()));
        let created = self
            .create_record(&self.system_request(), OTPS, RecordInput::from_data(data), None)
            .await?;
        let otp_id = created.get("id").and_then(Json::as_str).unwrap_or("").to_owned();
        let app = self.clone();
        let id = otp_id.clone();
        tokio::spawn(async move {
            let mut placeholders = app.app_placeholders();
            placeholders.push(("{OTP}".into(), code));
            placeholders.push(("{OTP_ID}".into(), id));
            placeholders.extend(record_placeholders(&c, &record));
            if let Err(e) = app.send_template(&email, &auth.otp.email_template, &placeholders).await
            {
                tracing::error!(error = %e, collection = %c.name, record = record.id(), "failed to send an OTP e-mail");
            }
        });
        Ok(json!({"otpId": otp_id}))
    }

    /// Ids of the record's codes younger than `duration` seconds, newest first.
    async fn live_otps(
        &self,
        collection_id: &str,
        record_id: &str,
        duration: i64,
    ) -> CoreResult<Vec<String>> {
        let otps =
            self.catalog().get(OTPS).cloned().ok_or_else(|| CoreError::internal("no _otps"))?;
        let cutoff = sb_schema::datetime::format(
            chrono::Utc::now() - chrono::Duration::seconds(duration.max(0)),
        );
        let mut select = crate::storage::select_record(&otps, "t");
        select.where_ = Some(Expr::And(vec![
            Expr::eq(Expr::col("t", "collectionRef"), Expr::param(collection_id), Ty::Text),
            Expr::eq(Expr::col("t", "recordRef"), Expr::param(record_id), Ty::Text),
            Expr::Cmp {
                op: CmpOp::Gt,
                lhs: Box::new(Expr::col("t", "created").typed(Ty::Text)),
                rhs: Box::new(Expr::param(cutoff).typed(Ty::Text)),
            },
        ]));
        let rows = self.store.query(&Stmt::Select(select)).await?;
        let mut found: Vec<(String, String)> = crate::records::Record::from_rows(&otps, rows)
            .into_iter()
            .map(|r| (text(&r.data, "created"), r.id().to_owned()))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// `POST /api/collections/COLL/auth-with-otp`.
    pub async fn auth_with_otp(
        &self,
        req: &RequestInfo,
        collection: &str,
        body: &Json,
        expand: Option<&str>,
    ) -> CoreResult<AuthResponse> {
        let c = self.auth_collection(collection)?;
        let auth = c.auth.clone().ok_or_else(|| CoreError::internal("auth options missing"))?;
        if !auth.otp.enabled {
            return Err(CoreError::Forbidden(OTP_DISABLED.into()));
        }
        let otp_id = form_string(body, "otpId")?;
        let code = form_string(body, "password")?;
        let mut errors = ErrorMap::new();
        for (key, value, max) in [("otpId", &otp_id, 255), ("password", &code, 71)] {
            let len = value.chars().count();
            if len == 0 {
                errors.insert(key, FieldError::required());
            } else if len > max {
                errors.insert(
                    key,
                    FieldError::new(
                        "validation_length_out_of_range",
                        format!("The length must be between 1 and {max}."),
                    )
                    .with_param("max", max)
                    .with_param("min", 1),
                );
            }
        }
        if !errors.is_empty() {
            return Err(CoreError::validation(VALIDATION_FAILED, errors));
        }
        let invalid = || CoreError::bad_request(INVALID_OTP);
        let otps =
            self.catalog().get(OTPS).cloned().ok_or_else(|| CoreError::internal("no _otps"))?;
        let Some(otp) = load_record(self.store.as_ref(), &otps, &otp_id, None).await? else {
            // Same cost as a wrong code.
            self.hasher.run(move || sb_auth::password::dummy_verify(&code)).await?;
            return Err(invalid());
        };
        let record_key =
            format!("{}:{}", text(&otp.data, "collectionRef"), text(&otp.data, "recordRef"));
        if !self.counters().admit(&format!("otp:{record_key}"), MAX_ATTEMPTS, ATTEMPT_WINDOW).await
        {
            let message = "Too many attempts, please try again later with a new OTP.";
            return Err(CoreError::Custom {
                status: 429,
                body: json!({"data": {}, "message": message, "status": 429}),
            });
        }
        let created = sb_schema::datetime::parse_lenient(&text(&otp.data, "created"));
        let fresh = created.is_some_and(|at| {
            chrono::Utc::now() - at <= chrono::Duration::seconds(auth.otp.duration.max(0))
        });
        let hash = text(&otp.data, "password");
        let matches = self.verify_password(code, hash).await?.ok;
        if !matches || !fresh || text(&otp.data, "collectionRef") != c.id {
            return Err(invalid());
        }
        let record_id = text(&otp.data, "recordRef");
        let Some(record) = load_record(self.store.as_ref(), &c, &record_id, None).await? else {
            return Err(invalid());
        };
        // Single use: only the request that deletes the row goes on.
        let deleted = self
            .store
            .write(&[Stmt::Delete(Delete {
                table: OTPS.into(),
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(otp_id.as_str()), Ty::Text)),
            })])
            .await?;
        if deleted.first().copied().unwrap_or(0) == 0 {
            return Err(invalid());
        }
        let verified = record.data.get("verified").and_then(Json::as_bool).unwrap_or(false);
        let email = record.data.get("email").and_then(Json::as_str).unwrap_or("");
        let record = if !verified && !email.is_empty() && text(&otp.data, "sentTo") == email {
            // The code proves the mailbox. A password set by whoever created the unverified
            // account before the owner is not kept (unless MFA still asks for a second factor).
            let mut set = vec![("verified".to_owned(), Expr::param(true))];
            if !auth.mfa.enabled {
                let hash = self.hash_password(sb_auth::random::alphanumeric(30)).await?;
                set.push(("password".into(), Expr::param(hash)));
                set.push(("tokenKey".into(), Expr::param(sb_auth::random::alphanumeric(50))));
            }
            self.update_auth_record(&c, record.id(), set, None).await?;
            load_record(self.store.as_ref(), &c, record.id(), None).await?.ok_or_else(invalid)?
        } else {
            record
        };
        let mut auth_req = req.clone();
        auth_req.context = "otp".into();
        // The form (with any `mfaId`) is where MFA looks for the session of a first factor.
        auth_req.body = body.as_object().cloned().unwrap_or_default();
        self.auth_response(&auth_req, &c, record, expand, true, Some("otp")).await
    }
}
