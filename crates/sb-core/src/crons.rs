//! The job scheduler (spec §8.8): built-in maintenance jobs on cron schedules, run once per
//! minute slot across a whole cluster.
//!
//! Every node ticks at each minute boundary (UTC) and, for each job whose schedule matches that
//! minute, tries to claim the slot by inserting `job@YYYY-MM-DDTHH:MM` into `_cronRuns`; the
//! primary key lets exactly one node's insert succeed, and that node runs the job. A claim is a
//! lease that never needs renewing: it covers one run. Claims older than a day are purged.
//! Running a job from the API (`POST /api/crons/ID`) runs it on the receiving node at once.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use futures::future::BoxFuture;
use sb_sql::{CmpOp, Delete, Expr, Insert, Stmt, Ty};

use crate::App;
use crate::error::{CoreError, CoreResult};

/// The claims table (a system table, not a collection).
pub(crate) const CRON_RUNS_TABLE: &str = "_cronRuns";

/// A parsed cron expression: a macro, or five fields (minute, hour, day of month, month, day of
/// week) of `*`, numbers, ranges, lists and `/steps` — the grammar PocketBase accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Day of month and day of week were both restricted: either may match (cron's rule).
    either_day: bool,
}

impl Schedule {
    pub fn parse(expr: &str) -> Option<Schedule> {
        let expanded = match expr {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split(' ').filter(|f| !f.is_empty()).collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else { return None };
        Some(Schedule {
            minutes: field(minute, 0, 59)?,
            hours: u32::try_from(field(hour, 0, 23)?).ok()?,
            days: u32::try_from(field(day, 1, 31)?).ok()?,
            months: u16::try_from(field(month, 1, 12)?).ok()?,
            weekdays: u8::try_from(field(weekday, 0, 6)?).ok()?,
            either_day: *day != "*" && *weekday != "*",
        })
    }

    /// Whether the schedule fires in the minute of `at`.
    pub fn matches(&self, at: DateTime<Utc>) -> bool {
        let bit = |set: u64, n: u32| set & (1u64 << n) != 0;
        let day = bit(u64::from(self.days), at.day());
        let weekday = bit(u64::from(self.weekdays), at.weekday().num_days_from_sunday());
        let day_ok = if self.either_day { day || weekday } else { day && weekday };
        bit(self.minutes, at.minute())
            && bit(u64::from(self.hours), at.hour())
            && bit(u64::from(self.months), at.month())
            && day_ok
    }
}

/// One field as a bit set of the values it admits within `lo..=hi`.
fn field(text: &str, lo: u32, hi: u32) -> Option<u64> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|n| *n >= 1)?),
            None => (part, 1),
        };
        let num = |s: &str| s.parse::<u32>().ok().filter(|n| (lo..=hi).contains(n));
        let (from, to) = if range == "*" {
            (lo, hi)
        } else {
            match range.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return None;
                    }
                    (a, b)
                }
                // `5/15` means from 5 to the end in steps of 15.
                None if part.contains('/') => (num(range)?, hi),
                None => {
                    let n = num(range)?;
                    (n, n)
                }
            }
        };
        let mut n = from;
        while n <= to {
            set |= 1u64 << n;
            n += step;
        }
    }
    Some(set)
}

type JobFn = Arc<dyn Fn(Arc<App>) -> BoxFuture<'static, CoreResult<()>> + Send + Sync>;

/// A scheduled job.
#[derive(Clone)]
pub struct CronJob {
    pub id: String,
    pub expression: String,
    schedule: Schedule,
    run: JobFn,
}

impl CronJob {
    fn new(
        id: &str,
        expression: &str,
        run: impl Fn(Arc<App>) -> BoxFuture<'static, CoreResult<()>> + Send + Sync + 'static,
    ) -> CronJob {
        let schedule = Schedule::parse(expression).unwrap_or_else(|| {
            // Built-in expressions are constants; a bad one is a programming error.
            panic!("invalid built-in cron expression {expression:?}")
        });
        CronJob { id: id.into(), expression: expression.into(), schedule, run: Arc::new(run) }
    }
}

impl App {
    /// The jobs in the API's order (user jobs by id, then the system `__pb*` jobs).
    pub fn cron_jobs(&self) -> Vec<CronJob> {
        let mut jobs = vec![
            CronJob::new("__pbDBOptimize__", "0 0 * * *", |app| {
                Box::pin(async move { app.store.optimize().await.map_err(CoreError::from) })
            }),
            CronJob::new("__pbMFACleanup__", "0 * * * *", |app| {
                Box::pin(async move { app.purge_expired_mfas().await.map(drop) })
            }),
            CronJob::new("__pbOTPCleanup__", "0 * * * *", |app| {
                Box::pin(async move { app.purge_expired_otps().await.map(drop) })
            }),
            CronJob::new("__pbLogsCleanup__", "0 */6 * * *", |app| {
                Box::pin(async move { app.cleanup_logs().await.map(drop) })
            }),
        ];
        // User jobs by id first; the system jobs after them in PocketBase's registration order.
        jobs.sort_by(|a, b| {
            let (sa, sb) = (a.id.starts_with("__pb"), b.id.starts_with("__pb"));
            sa.cmp(&sb).then_with(|| if sa { std::cmp::Ordering::Equal } else { a.id.cmp(&b.id) })
        });
        // Registered last by PocketBase, so listed last; only where backups can be made.
        let backup_cron =
            self.settings().get(&["backups", "cron"]).and_then(|v| v.as_str().map(str::to_owned));
        if let Some(expr) = backup_cron.filter(|e| !e.is_empty())
            && self.backups_available()
            && Schedule::parse(&expr).is_some()
        {
            jobs.push(CronJob::new(crate::backups::AUTO_BACKUP_JOB, &expr, |app| {
                Box::pin(async move { app.auto_backup().await })
            }));
        }
        jobs
    }

    /// `GET /api/crons`.
    pub fn list_crons(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.cron_jobs()
                .into_iter()
                .map(|j| serde_json::json!({"id": j.id, "expression": j.expression}))
                .collect(),
        )
    }

    /// `POST /api/crons/ID`: starts the job now on this node (not waiting for it).
    pub fn run_cron_now(self: &Arc<Self>, id: &str) -> CoreResult<()> {
        let job = self
            .cron_jobs()
            .into_iter()
            .find(|j| j.id == id)
            .ok_or_else(|| CoreError::NotFound("Missing or invalid cron job.".into()))?;
        let app = self.clone();
        tokio::spawn(async move { run_job(app, job).await });
        Ok(())
    }

    /// Runs the jobs due at the minute of `at` whose slot this node wins; returns their ids.
    pub async fn run_due_crons(self: &Arc<Self>, at: DateTime<Utc>) -> Vec<String> {
        let slot = at.format("%Y-%m-%dT%H:%M").to_string();
        let mut ran = Vec::new();
        for job in self.cron_jobs().into_iter().filter(|j| j.schedule.matches(at)) {
            match self.claim_slot(&job.id, &slot).await {
                Ok(true) => {
                    ran.push(job.id.clone());
                    run_job(self.clone(), job).await;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot claim a cron slot"),
            }
        }
        ran
    }

    /// Inserts the claim of `job` for `slot`; false when another node holds it.
    async fn claim_slot(&self, job: &str, slot: &str) -> CoreResult<bool> {
        let now = Utc::now();
        let insert = Stmt::Insert(Insert {
            table: CRON_RUNS_TABLE.into(),
            columns: vec!["id".into(), "node".into(), "created".into()],
            values: vec![
                Expr::param(format!("{job}@{slot}")),
                Expr::param(self.node_id.as_str()),
                Expr::param(sb_schema::datetime::format(now)),
            ],
        });
        let stale = Stmt::Delete(Delete {
            table: CRON_RUNS_TABLE.into(),
            where_: Some(Expr::Cmp {
                op: CmpOp::Lt,
                lhs: Box::new(Expr::bare("created").typed(Ty::Text)),
                rhs: Box::new(
                    Expr::param(sb_schema::datetime::format(now - chrono::Duration::days(1)))
                        .typed(Ty::Text),
                ),
            }),
        });
        match self.store.write(&[stale, insert]).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == sb_store::ErrorKind::Unique => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Ticks at every minute boundary and runs the due jobs, until the future is dropped.
    pub async fn run_scheduler(self: Arc<Self>) {
        loop {
            let now = Utc::now();
            let into_minute =
                u64::from(now.second()) * 1000 + u64::from(now.timestamp_subsec_millis());
            let wait = 60_000u64.saturating_sub(into_minute).max(1);
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            // Just past the boundary: the minute that starts now.
            let at = Utc::now();
            self.run_due_crons(at).await;
        }
    }
}

async fn run_job(app: Arc<App>, job: CronJob) {
    let started = std::time::Instant::now();
    match (job.run)(app).await {
        Ok(()) => tracing::debug!(job = %job.id, elapsed = ?started.elapsed(), "cron job done"),
        Err(e) => tracing::error!(job = %job.id, error = %e, "cron job failed"),
    }
}

#[cfg(test)]
mod tests;
