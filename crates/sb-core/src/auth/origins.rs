//! Auth origins and login alerts (spec §6.12).
//!
//! After a successful password, OTP or OAuth2 login, the client is fingerprinted
//! (`md5(ip + first 200 characters of the user agent)`, as PocketBase does) and remembered in
//! `_authOrigins` (at most five per record, the least recently used pruned). When the record
//! already had other origins and this one is new, the `authAlert` template is mailed to the
//! record; the login waits for the send (bounded) and only logs its failure.

use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use sb_schema::Collection;
use sb_sql::{Delete, Expr, Stmt, Ty, Update};
use serde_json::Value as Json;

use super::email_flows::record_placeholders;
use crate::App;
use crate::error::{CoreError, CoreResult};
use crate::records::Record;
use crate::records::write::RecordInput;

const ORIGINS: &str = "_authOrigins";
const MAX_ORIGINS: usize = 5;
/// How long a login waits for its alert mail.
const ALERT_WAIT: Duration = Duration::from_secs(15);

/// The client fingerprint of an origin.
pub(crate) fn fingerprint(ip: &str, user_agent: &str) -> String {
    let ua: String = user_agent.chars().take(200).collect();
    let digest = Md5::digest(format!("{ip}{ua}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    /// Records the origin of a successful login of `record_id` and sends the login alert when
    /// the origin is new. Never fails the login: problems are logged.
    pub async fn track_auth_origin(
        &self,
        collection: &str,
        record_id: &str,
        ip: &str,
        user_agent: &str,
    ) {
        if let Err(e) = self.track_origin(collection, record_id, ip, user_agent).await {
            tracing::error!(error = %e, collection, record = record_id, "failed to record the auth origin");
        }
    }

    async fn track_origin(
        &self,
        collection: &str,
        record_id: &str,
        ip: &str,
        user_agent: &str,
    ) -> CoreResult<()> {
        let Some(c) = self.catalog().get(collection).filter(|c| c.is_auth()).cloned() else {
            return Ok(());
        };
        let Some(auth) = c.auth.clone() else { return Ok(()) };
        if !auth.auth_alert.enabled {
            return Ok(());
        }
        let origins = self
            .catalog()
            .get(ORIGINS)
            .cloned()
            .ok_or_else(|| CoreError::internal("no _authOrigins"))?;
        let print = fingerprint(ip, user_agent);
        let mut select = crate::storage::select_record(&origins, "t");
        select.where_ = Some(Expr::And(vec![
            Expr::eq(Expr::col("t", "collectionRef"), Expr::param(c.id.as_str()), Ty::Text),
            Expr::eq(Expr::col("t", "recordRef"), Expr::param(record_id), Ty::Text),
        ]));
        let rows = self.store.query(&Stmt::Select(select)).await?;
        let mut existing = Record::from_rows(&origins, rows);
        let text =
            |r: &Record, key: &str| r.data.get(key).and_then(Json::as_str).unwrap_or("").to_owned();
        if let Some(known) = existing.iter().find(|r| text(r, "fingerprint") == print) {
            // Known origin: mark it as recently used.
            let now = sb_schema::datetime::now_string();
            self.store
                .write(&[Stmt::Update(Update {
                    table: ORIGINS.into(),
                    set: vec![("updated".into(), Expr::param(now))],
                    where_: Some(Expr::eq(Expr::bare("id"), Expr::param(known.id()), Ty::Text)),
                })])
                .await?;
            return Ok(());
        }
        let had_origins = !existing.is_empty();
        let mut data = serde_json::Map::new();
        data.insert("collectionRef".into(), Json::String(c.id.clone()));
        data.insert("recordRef".into(), Json::String(record_id.to_owned()));
        data.insert("fingerprint".into(), Json::String(print));
        let su = self.system_request();
        if let Err(e) = self.create_record(&su, ORIGINS, RecordInput::from_data(data), None).await {
            // A concurrent login from the same origin inserted it first.
            tracing::debug!(error = %e, "auth origin not inserted");
            return Ok(());
        }
        // Keep the most recently used ones.
        existing.sort_by_key(|r| std::cmp::Reverse(text(r, "updated")));
        let stale: Vec<Expr> = existing
            .iter()
            .skip(MAX_ORIGINS - 1)
            .map(|r| Expr::eq(Expr::bare("id"), Expr::param(r.id()), Ty::Text))
            .collect();
        if !stale.is_empty() {
            self.store
                .write(&[Stmt::Delete(Delete {
                    table: ORIGINS.into(),
                    where_: Some(Expr::Or(stale)),
                })])
                .await?;
        }
        if had_origins {
            self.send_login_alert(&c, record_id, ip, user_agent).await?;
        }
        Ok(())
    }

    async fn send_login_alert(
        &self,
        c: &Arc<Collection>,
        record_id: &str,
        ip: &str,
        user_agent: &str,
    ) -> CoreResult<()> {
        let Some(record) =
            crate::records::view::load_record(self.store.as_ref(), c, record_id, None).await?
        else {
            return Ok(());
        };
        let email = record.data.get("email").and_then(Json::as_str).unwrap_or("").to_owned();
        let Some(auth) = c.auth.as_ref() else { return Ok(()) };
        if email.is_empty() {
            return Ok(());
        }
        let when = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC");
        let mut placeholders = self.app_placeholders();
        placeholders.push((
            "{ALERT_INFO}".into(),
            crate::mail::escape_html(&format!("{when} - {ip} {user_agent}")),
        ));
        placeholders.extend(record_placeholders(c, &record));
        let send = self.send_template(&email, &auth.auth_alert.email_template, &placeholders);
        match tokio::time::timeout(ALERT_WAIT, send).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, collection = %c.name, record = record_id, "failed to send the login alert");
            }
            Err(_) => {
                tracing::error!(collection = %c.name, record = record_id, "login alert not sent within 15 s");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprint_is_md5_of_ip_and_truncated_agent() {
        // md5("127.0.0.1curl/8"), computed with Python's hashlib.
        assert_eq!(super::fingerprint("127.0.0.1", "curl/8"), "b13cc138e9f01b7bdbe0c10cda2c1ca4");
        let long = "a".repeat(300);
        assert_eq!(
            super::fingerprint("1.2.3.4", &long),
            super::fingerprint("1.2.3.4", &long[..200])
        );
        assert_ne!(super::fingerprint("1.2.3.4", "x"), super::fingerprint("1.2.3.5", "x"));
        assert_eq!(super::fingerprint("", "").len(), 32);
    }
}
