//! Multi-factor authentication (spec §6.6).
//!
//! When an auth collection has `mfa.enabled` and its `mfa.rule` admits the record, a first
//! successful login does not issue a token: it stores an `_mfas` row naming the method used and
//! answers 401 `{"mfaId"}`. A login with a different method that carries that id (query or
//! body `mfaId`) within `mfa.duration` seconds consumes the row and completes. Every method is
//! equal: there is no required pairing, only "not the same method twice".
//!
//! The `_mfas` row is the whole session state, so any node can finish a login another node
//! started.

use std::sync::Arc;

use sb_query::{AuthInfo, RequestInfo};
use sb_schema::Collection;
use sb_sql::{CmpOp, Delete, Expr, Stmt, Ty};
use serde_json::{Map, Value as Json, json};

use crate::App;
use crate::error::{CoreError, CoreResult};
use crate::records::view::load_record;
use crate::records::write::insert_stmt;
use crate::records::{Record, compile_rule};
use crate::system::SUPERUSERS;

pub(crate) const PASSWORD: &str = "password";
pub(crate) const OAUTH2: &str = "oauth2";

const MFAS: &str = "_mfas";

impl App {
    /// Decides whether `record`, just authenticated with `method`, may log in now.
    /// `Ok(())` lets the login finish; the 401 `{"mfaId"}` answer and the MFA session errors
    /// come back as `Err`.
    pub(crate) async fn check_mfa(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        record: &Record,
        method: &str,
    ) -> CoreResult<()> {
        let Some(mfa) = c.auth.as_ref().map(|a| &a.mfa).filter(|m| m.enabled) else {
            return Ok(());
        };
        if !self.mfa_rule_applies(req, c, record, &mfa.rule).await? {
            return Ok(());
        }
        let mfas = self.mfas_collection()?;
        let submitted = submitted_mfa_id(req);
        if submitted.is_empty() {
            let now = sb_schema::datetime::now_string();
            let mut row = Map::new();
            let id = sb_auth::random::lower_alphanumeric(15);
            row.insert("id".into(), json!(id));
            row.insert("collectionRef".into(), json!(c.id));
            row.insert("recordRef".into(), json!(record.id()));
            row.insert("method".into(), json!(method));
            row.insert("created".into(), json!(now));
            row.insert("updated".into(), json!(now));
            // Sessions of this collection that can no longer complete go in the same write,
            // so the table stays bounded by the logins of the last `mfa.duration` seconds.
            let cutoff = chrono::Utc::now() - chrono::Duration::seconds(mfa.duration);
            let purge = Stmt::Delete(Delete {
                table: mfas.name.clone(),
                where_: Some(Expr::And(vec![
                    Expr::eq(Expr::bare("collectionRef"), Expr::param(c.id.as_str()), Ty::Text),
                    Expr::Cmp {
                        op: CmpOp::Lt,
                        lhs: Box::new(Expr::bare("created").typed(Ty::Text)),
                        rhs: Box::new(
                            Expr::param(sb_schema::datetime::format(cutoff)).typed(Ty::Text),
                        ),
                    },
                ])),
            });
            self.store.write(&[purge, insert_stmt(&mfas, &row)]).await?;
            return Err(CoreError::Custom { status: 401, body: json!({"mfaId": id}) });
        }
        let stored = load_record(self.store.as_ref(), &mfas, &submitted, None).await?;
        let Some(stored) = stored else {
            return Err(CoreError::bad_request("Invalid or expired MFA session."));
        };
        let text = |key: &str| stored.data.get(key).and_then(Json::as_str).unwrap_or("");
        let expired = sb_schema::datetime::parse_lenient(text("created")).is_none_or(|created| {
            created + chrono::Duration::seconds(mfa.duration) < chrono::Utc::now()
        });
        if expired {
            self.delete_mfa(&mfas, &submitted).await;
            return Err(CoreError::bad_request("Invalid or expired MFA session."));
        }
        if text("recordRef") != record.id() || text("collectionRef") != c.id {
            return Err(CoreError::bad_request("Invalid MFA session."));
        }
        if text("method") == method {
            return Err(CoreError::bad_request("A different authentication method is required."));
        }
        self.delete_mfa(&mfas, &submitted).await;
        Ok(())
    }

    /// `mfa.rule` evaluated with the authenticating record as `@request.auth`; empty means
    /// everyone. Superusers pass every rule, so an MFA-enabled `_superusers` always asks for a
    /// second factor (as PocketBase does).
    async fn mfa_rule_applies(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        record: &Record,
        rule: &str,
    ) -> CoreResult<bool> {
        if rule.is_empty() || c.name == SUPERUSERS {
            return Ok(true);
        }
        let mut rule_req = req.clone();
        rule_req.auth = Some(AuthInfo { collection: c.clone(), record: record.data.clone() });
        let condition = compile_rule(&self.catalog(), c, rule, "t", &rule_req)?;
        self.exists_where(c, record.id(), condition).await
    }

    fn mfas_collection(&self) -> CoreResult<Arc<Collection>> {
        self.catalog().get(MFAS).cloned().ok_or_else(|| CoreError::internal("_mfas is missing"))
    }

    /// Deletes a used or expired MFA session; a failure only leaves it to expire.
    async fn delete_mfa(&self, mfas: &Collection, id: &str) {
        let delete = Stmt::Delete(Delete {
            table: mfas.name.clone(),
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(id), Ty::Text)),
        });
        if let Err(e) = self.store.write(&[delete]).await {
            tracing::warn!(error = %e, mfa_id = id, "cannot delete an MFA session");
        }
    }
}

/// The `mfaId` of the request: the query parameter, else the submitted form's value.
fn submitted_mfa_id(req: &RequestInfo) -> String {
    if let Some(id) = req.query.get("mfaId").filter(|id| !id.is_empty()) {
        return id.clone();
    }
    match req.body.iter().find(|(k, _)| k.eq_ignore_ascii_case("mfaId")).map(|(_, v)| v) {
        Some(Json::String(s)) => s.clone(),
        _ => String::new(),
    }
}
