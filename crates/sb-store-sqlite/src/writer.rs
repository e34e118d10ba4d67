//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` every `COMMIT` costs an
//! fsync. So one thread owns the only read-write connection and runs write transactions
//! ("jobs") one after another, several of them inside ONE physical transaction:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT job  <statements of job 1>  RELEASE job          (job 1 committed)
//!   SAVEPOINT job  <statements of job 2>  ROLLBACK TO job; RELEASE job   (job 2 rolled back)
//!   SAVEPOINT job  <statements of job 3>  RELEASE job          (job 3 committed)
//! COMMIT   ← one fsync; only now do jobs 1 and 3 learn that their commit succeeded
//! ```
//!
//! A job joins the open group only if it was already queued when the previous job ended, so a
//! lone writer never waits for company; under concurrency the groups grow by themselves (up to
//! `max_group` jobs). Savepoints isolate the jobs: one that fails or rolls back leaves the others
//! intact. Should SQLite roll back the whole transaction (an interrupted write, a full disk),
//! every job of the group whose commit was still pending gets an error instead of an
//! acknowledgement — that is why acknowledgements wait for the group's `COMMIT`.
//!
//! A [`SqliteTx`] talks to its job over a channel: each statement carries a oneshot for its
//! result. The writer waits for a job's next command at most `stall_timeout`; a job that stalls
//! (or whose handle is dropped) is rolled back so it cannot hold the writer forever. A job that
//! hits an error is rolled back at once and its later commands fail.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use sb_store::{ErrorKind, Result, Rows, Stmt, StoreError, Tx, Value};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::conn::Conn;

/// A message to the writer thread.
pub(crate) enum Msg {
    Job(Job),
    /// Finish the queued jobs, commit, answer and stop.
    Close(oneshot::Sender<()>),
}

/// One write transaction, as the writer sees it.
pub(crate) struct Job {
    cmds: Receiver<Cmd>,
    state: Arc<JobState>,
}

enum Cmd {
    Query { sql: String, params: Vec<Value>, reply: oneshot::Sender<Result<Rows>> },
    Execute { sql: String, params: Vec<Value>, reply: oneshot::Sender<Result<u64>> },
    Commit(oneshot::Sender<Result<()>>),
    Rollback(oneshot::Sender<Result<()>>),
}

/// Why the writer gave up on a job; read by the handle when its commands find nobody listening.
#[derive(Default)]
struct JobState {
    abort: Mutex<Option<(ErrorKind, String)>>,
}

impl JobState {
    fn abort(&self, kind: ErrorKind, message: impl Into<String>) {
        self.abort.lock().get_or_insert_with(|| (kind, message.into()));
    }

    /// The error for a command that the writer will never answer.
    fn gone(&self) -> StoreError {
        match &*self.abort.lock() {
            Some((kind, message)) => StoreError::new(*kind, message.clone()),
            None => StoreError::new(ErrorKind::Unavailable, "the SQLite writer has stopped"),
        }
    }
}

/// Counters of the writer, for metrics and tests.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    committed_jobs: AtomicU64,
    rolled_back_jobs: AtomicU64,
    largest_group: AtomicUsize,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Physical `COMMIT`s that succeeded (each is one fsync with `synchronous=FULL`).
    pub commits: u64,
    /// Transactions whose commit was acknowledged.
    pub committed_jobs: u64,
    /// Transactions rolled back (explicitly, on error, on drop or after stalling).
    pub rolled_back_jobs: u64,
    /// The most transactions acknowledged by a single physical commit.
    pub largest_group: usize,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WriterStats {
        WriterStats {
            commits: self.commits.load(Ordering::Relaxed),
            committed_jobs: self.committed_jobs.load(Ordering::Relaxed),
            rolled_back_jobs: self.rolled_back_jobs.load(Ordering::Relaxed),
            largest_group: self.largest_group.load(Ordering::Relaxed),
        }
    }
}

/// The jobs of the open physical transaction.
#[derive(Default)]
struct Group {
    /// Commit acknowledgements of the jobs that released their savepoint.
    pending: Vec<oneshot::Sender<Result<()>>>,
    /// Jobs run in this group, whatever their outcome.
    jobs: usize,
}

pub(crate) struct Writer {
    conn: Conn,
    msgs: Receiver<Msg>,
    max_group: usize,
    stall_timeout: Duration,
    counters: Arc<Counters>,
}

impl Writer {
    pub(crate) fn new(
        conn: Conn,
        msgs: Receiver<Msg>,
        max_group: usize,
        stall_timeout: Duration,
        counters: Arc<Counters>,
    ) -> Writer {
        Writer { conn, msgs, max_group: max_group.max(1), stall_timeout, counters }
    }

    /// The thread's body: returns on [`Msg::Close`] or when every sender is gone.
    pub(crate) fn run(self) {
        while let Ok(first) = self.msgs.recv() {
            let mut group = Group::default();
            let mut close = None;
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Close(reply) => {
                        close = Some(reply);
                        break;
                    }
                    Msg::Job(job) => self.run_guarded(job, &mut group),
                }
                if group.jobs < self.max_group {
                    next = self.msgs.try_recv().ok();
                }
            }
            self.finish(group);
            if let Some(reply) = close {
                let _ = reply.send(());
                return;
            }
        }
    }

    /// Runs a job; a panic rolls back the whole group instead of killing the thread.
    fn run_guarded(&self, job: Job, group: &mut Group) {
        group.jobs += 1;
        let state = job.state.clone();
        let ran = panic::catch_unwind(AssertUnwindSafe(|| self.run_job(job, group)));
        if ran.is_err() {
            tracing::error!("panic in the SQLite writer; rolling back its commit group");
            state.abort(ErrorKind::Other, "internal error in the SQLite writer");
            self.counters.rolled_back_jobs.fetch_add(1, Ordering::Relaxed);
            self.abandon(group, "internal error in the SQLite writer");
        }
    }

    fn run_job(&self, job: Job, group: &mut Group) {
        if let Err(e) = self.enter() {
            job.state.abort(e.kind, e.message);
            self.counters.rolled_back_jobs.fetch_add(1, Ordering::Relaxed);
            return;
        }
        loop {
            let cmd = match job.cmds.recv_timeout(self.stall_timeout) {
                Ok(cmd) => cmd,
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        timeout = ?self.stall_timeout,
                        "write transaction idle for too long; rolling it back"
                    );
                    job.state.abort(
                        ErrorKind::Timeout,
                        format!(
                            "transaction rolled back: idle for more than {:?}",
                            self.stall_timeout
                        ),
                    );
                    self.rollback_job(group);
                    return;
                }
                // The handle was dropped without commit or rollback.
                Err(RecvTimeoutError::Disconnected) => {
                    self.rollback_job(group);
                    return;
                }
            };
            let ok = match cmd {
                Cmd::Query { sql, params, reply } => {
                    let result = self.statement(group, |c| c.query(&sql, &params));
                    self.answer(&job, group, reply, result)
                }
                Cmd::Execute { sql, params, reply } => {
                    let result = self.statement(group, |c| c.execute(&sql, &params));
                    self.answer(&job, group, reply, result)
                }
                Cmd::Commit(reply) => {
                    match self.conn.control("RELEASE job") {
                        Ok(()) => group.pending.push(reply),
                        Err(e) => {
                            self.rollback_job(group);
                            let _ = reply.send(Err(e));
                        }
                    }
                    return;
                }
                Cmd::Rollback(reply) => {
                    self.rollback_job(group);
                    let _ = reply.send(Ok(()));
                    return;
                }
            };
            if !ok {
                return;
            }
        }
    }

    /// Sends a statement's result; on error rolls the job back first (the transaction is
    /// unusable after an error). Returns whether the job goes on.
    fn answer<T>(
        &self,
        job: &Job,
        group: &mut Group,
        reply: oneshot::Sender<Result<T>>,
        result: Result<T>,
    ) -> bool {
        let ok = result.is_ok();
        if !ok {
            self.rollback_job(group);
            job.state.abort(ErrorKind::Other, "transaction rolled back after an earlier error");
        }
        let _ = reply.send(result);
        ok
    }

    /// Opens the group's transaction if needed, then the job's savepoint.
    fn enter(&self) -> Result<()> {
        if self.conn.db.is_autocommit() {
            self.conn.control("BEGIN IMMEDIATE")?;
        }
        self.conn.control("SAVEPOINT job")
    }

    /// Runs one statement of a job and checks that the transaction survived it.
    fn statement<T>(&self, group: &mut Group, run: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        let result = run(&self.conn);
        if !self.conn.db.is_autocommit() {
            return result;
        }
        // SQLite rolled back the whole transaction (it does so for an interrupted write or a
        // full disk), or the statement itself ended it.
        self.fail_pending(group, "the transaction of its commit group was rolled back");
        Err(result.err().unwrap_or_else(|| {
            StoreError::other("transaction control statements are not allowed inside a transaction")
        }))
    }

    /// Undoes the current job's savepoint.
    fn rollback_job(&self, group: &mut Group) {
        self.counters.rolled_back_jobs.fetch_add(1, Ordering::Relaxed);
        if self.conn.db.is_autocommit() {
            return; // the whole transaction is already gone
        }
        let undone =
            self.conn.control("ROLLBACK TO job").and_then(|()| self.conn.control("RELEASE job"));
        if let Err(e) = undone {
            tracing::error!(error = %e, "cannot roll back a savepoint; rolling back the group");
            self.abandon(group, "the transaction of its commit group could not be rolled back");
        }
    }

    /// Rolls back the whole physical transaction and fails the group's pending commits.
    fn abandon(&self, group: &mut Group, why: &str) {
        if !self.conn.db.is_autocommit()
            && let Err(e) = self.conn.control("ROLLBACK")
        {
            tracing::error!(error = %e, "ROLLBACK failed");
        }
        self.fail_pending(group, why);
    }

    fn fail_pending(&self, group: &mut Group, why: &str) {
        let n = group.pending.len();
        for reply in group.pending.drain(..) {
            let _ = reply.send(Err(StoreError::new(
                ErrorKind::Busy,
                format!("{why}; the transaction was not committed and may be retried"),
            )));
        }
        self.counters.rolled_back_jobs.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Commits the group and answers its pending commits.
    fn finish(&self, mut group: Group) {
        if self.conn.db.is_autocommit() {
            // Nothing open (every job failed before starting); a lost transaction has already
            // failed its pending commits.
            self.fail_pending(&mut group, "the transaction was lost");
            return;
        }
        if group.pending.is_empty() {
            // Only rolled-back jobs: nothing to make durable.
            if let Err(e) = self.conn.control("ROLLBACK") {
                tracing::error!(error = %e, "ROLLBACK of an empty group failed");
            }
            return;
        }
        let started = std::time::Instant::now();
        let committed = self.conn.control("COMMIT");
        sb_observe::db_query(sb_observe::Backend::Sqlite, "commit", started.elapsed());
        sb_observe::sqlite_writer_queue(self.msgs.len());
        match committed {
            Ok(()) => {
                let n = group.pending.len();
                sb_observe::sqlite_commit_group(n);
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters.committed_jobs.fetch_add(n as u64, Ordering::Relaxed);
                self.counters.largest_group.fetch_max(n, Ordering::Relaxed);
                for reply in group.pending {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group COMMIT failed");
                if !self.conn.db.is_autocommit() {
                    let _ = self.conn.control("ROLLBACK");
                }
                let n = group.pending.len();
                for reply in group.pending {
                    let _ = reply.send(Err(StoreError::new(e.kind, e.message.clone())));
                }
                self.counters.rolled_back_jobs.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Queues a new job on the writer and returns its handle.
pub(crate) fn begin(writer: &Sender<Msg>) -> Result<SqliteTx> {
    let (cmds_tx, cmds_rx) = crossbeam_channel::unbounded();
    let state = Arc::new(JobState::default());
    writer
        .send(Msg::Job(Job { cmds: cmds_rx, state: state.clone() }))
        .map_err(|_| StoreError::new(ErrorKind::Unavailable, "the SQLite writer has stopped"))?;
    Ok(SqliteTx { cmds: cmds_tx, state })
}

/// Runs a whole write transaction as one job whose commands are all queued before the writer
/// sees it, so the writer never waits for this task between statements, and this task wakes
/// once, when the group's `COMMIT` acknowledges the job.
pub(crate) async fn write(writer: &Sender<Msg>, stmts: &[Stmt]) -> Result<Vec<u64>> {
    let (cmds_tx, cmds_rx) = crossbeam_channel::unbounded();
    let mut answers = Vec::with_capacity(stmts.len());
    // The caller's span (when exported) lists the job's statements.
    let span = tracing::Span::current();
    let mut texts = (!span.is_disabled()).then(Vec::new);
    for stmt in stmts {
        let r = crate::render(stmt);
        if let Some(texts) = &mut texts {
            texts.push(r.sql.clone());
        }
        let (reply, answer) = oneshot::channel();
        // Cannot fail: `cmds_rx` is alive here.
        let _ = cmds_tx.send(Cmd::Execute { sql: r.sql, params: r.params, reply });
        answers.push(answer);
    }
    if let Some(texts) = texts {
        span.record("db.query.text", texts.join(";\n"));
    }
    let (reply, committed) = oneshot::channel();
    let _ = cmds_tx.send(Cmd::Commit(reply));
    drop(cmds_tx);
    let state = Arc::new(JobState::default());
    writer
        .send(Msg::Job(Job { cmds: cmds_rx, state: state.clone() }))
        .map_err(|_| StoreError::new(ErrorKind::Unavailable, "the SQLite writer has stopped"))?;
    match committed.await {
        // Every statement was answered before the commit was.
        Ok(Ok(())) => {
            let mut counts = Vec::with_capacity(answers.len());
            for answer in answers {
                counts.push(answer.await.unwrap_or_else(|_| Err(state.gone()))?);
            }
            Ok(counts)
        }
        Ok(Err(e)) => Err(e),
        // The job ended before its commit: a statement failed (its answer says why), or the
        // writer gave up on the job.
        Err(_) => {
            for answer in answers {
                match answer.await {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => break,
                }
            }
            Err(state.gone())
        }
    }
}

/// A write transaction on SQLite: a handle to a job of the writer thread.
///
/// Dropping it without [`Tx::commit`] rolls the job back (the writer sees its channel close).
pub(crate) struct SqliteTx {
    cmds: Sender<Cmd>,
    state: Arc<JobState>,
}

impl SqliteTx {
    async fn call<T>(&self, cmd: impl FnOnce(oneshot::Sender<Result<T>>) -> Cmd) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        if self.cmds.send(cmd(reply)).is_err() {
            return Err(self.state.gone());
        }
        answer.await.unwrap_or_else(|_| Err(self.state.gone()))
    }
}

#[async_trait::async_trait]
impl Tx for SqliteTx {
    async fn query(&mut self, stmt: &Stmt) -> Result<Rows> {
        let r = crate::render(stmt);
        let span = crate::db_span(&r.sql);
        self.call(|reply| Cmd::Query { sql: r.sql, params: r.params, reply }).instrument(span).await
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64> {
        let r = crate::render(stmt);
        let span = crate::db_span(&r.sql);
        self.call(|reply| Cmd::Execute { sql: r.sql, params: r.params, reply })
            .instrument(span)
            .await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let span = crate::db_span("COMMIT");
        self.call(Cmd::Commit).instrument(span).await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        // A job the writer already gave up on is rolled back too: that is all we want.
        let _ = self.call(Cmd::Rollback).await;
        Ok(())
    }
}
