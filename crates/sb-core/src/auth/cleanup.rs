//! Removal of expired one-time passwords and MFA sessions (PocketBase runs the same clean-up as
//! hourly system jobs). Expiry is per auth collection: its `otp.duration` and `mfa.duration`.

use sb_schema::AuthOptions;
use sb_sql::{CmpOp, Delete, Expr, Stmt, Ty};

use crate::App;
use crate::error::CoreResult;

const OTPS: &str = "_otps";
const MFAS: &str = "_mfas";

impl App {
    /// Deletes every `_otps` and `_mfas` row older than its collection's duration; returns how
    /// many rows went. Rows of collections that no longer exist go too.
    pub async fn purge_expired_auth_state(&self) -> CoreResult<u64> {
        Ok(self.purge_expired_otps().await? + self.purge_expired_mfas().await?)
    }

    /// The hourly `__pbOTPCleanup__` job.
    pub async fn purge_expired_otps(&self) -> CoreResult<u64> {
        self.purge_expired(OTPS, |a| a.otp.duration).await
    }

    /// The hourly `__pbMFACleanup__` job.
    pub async fn purge_expired_mfas(&self) -> CoreResult<u64> {
        self.purge_expired(MFAS, |a| a.mfa.duration).await
    }

    async fn purge_expired(
        &self,
        table: &str,
        duration_of: fn(&AuthOptions) -> i64,
    ) -> CoreResult<u64> {
        let catalog = self.catalog();
        let Some(target) = catalog.get(table) else { return Ok(0) };
        let now = chrono::Utc::now();
        let mut stmts = Vec::new();
        let mut known = Vec::new();
        for c in catalog.all() {
            let Some(auth) = c.auth.as_ref() else { continue };
            let cutoff = now - chrono::Duration::seconds(duration_of(auth).max(0));
            known.push(Expr::param(c.id.as_str()));
            stmts.push(Stmt::Delete(Delete {
                table: target.name.clone(),
                where_: Some(Expr::And(vec![
                    Expr::eq(Expr::bare("collectionRef"), Expr::param(c.id.as_str()), Ty::Text),
                    older_than(cutoff),
                ])),
            }));
        }
        // Rows of collections that no longer exist.
        stmts.push(Stmt::Delete(Delete {
            table: target.name.clone(),
            where_: (!known.is_empty()).then(|| Expr::InList {
                expr: Box::new(Expr::bare("collectionRef")),
                list: known,
                negated: true,
            }),
        }));
        let counts = self.store.write(&stmts).await?;
        Ok(counts.iter().sum())
    }
}

fn older_than(cutoff: chrono::DateTime<chrono::Utc>) -> Expr {
    Expr::Cmp {
        op: CmpOp::Lt,
        lhs: Box::new(Expr::bare("created").typed(Ty::Text)),
        rhs: Box::new(Expr::param(sb_schema::datetime::format(cutoff)).typed(Ty::Text)),
    }
}
