//! Read replicas: which reads they serve, and how read-your-writes is kept.
//!
//! Each replica (a streaming standby of the primary) has a pool of its own. Reads outside a
//! transaction (`Store::query` with a statement tree) go round robin to a replica that is
//! healthy and has replayed every write this store must see; anything else (transactions,
//! writes, raw SQL, readiness pings) runs on the primary.
//!
//! Positions are write-ahead-log positions (LSNs, `16/B374D848`, as 64-bit numbers). After
//! each commit the store reads the primary's WAL insert position on the same connection, in
//! the round trip of the `COMMIT` (`Positions::committed`): every record of the commit lies
//! before it, and so does everything committed before the transaction's `commit` returned.
//! That is the position a replica must have replayed (`pg_last_wal_replay_lsn()`) before it
//! may serve a read of this store; another node's writes raise it through
//! `Store::require_position`. A task per replica reads its replay position every
//! [`REFRESH`]; when a read finds no replica far enough, the replica that was last checked
//! before the position was raised is asked once more on the connection that would serve the
//! read; when that does not suffice either, the read runs on the primary. So a replica whose
//! replay is behind (lag, `pg_wal_replay_pause()`) costs at most one extra round trip per
//! write, and every read sees at least the writes acknowledged before it started.
//!
//! A replica that cannot be reached (connection failure, probe without answer within
//! [`PROBE_TIMEOUT`]) is skipped until a probe, every [`RETRY`], gets an answer again. A read
//! that fails on a replica for any other reason than a statement timeout is run again on the
//! primary (a conflict with recovery, or a table the replica does not have yet).
//!
//! A server given as a replica that is not in recovery (a promoted standby, or the primary
//! itself) reports its WAL insert position: it serves every write it has.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use sb_observe::ReadTarget;
use sb_store::{ErrorKind, Result, Rows, StoreError, Value};

use crate::client::{self, Mode, Outcome, run_autocommit};
use crate::error;

/// How often each replica's replay position is read while it answers.
const REFRESH: Duration = Duration::from_millis(25);
/// How often an unreachable replica is tried again.
const RETRY: Duration = Duration::from_millis(500);
/// A probe without an answer within this marks the replica unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The replayed position of a standby; the insert position of a server not in recovery.
const PROBE_SQL: &str = "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
                         ELSE pg_current_wal_insert_lsn() END)::text";

/// Reads a store with replicas ran, by target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCounts {
    pub primary: u64,
    pub replica: u64,
}

/// Where this store's writes are, and what replicas must have replayed.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    /// The latest commit of this store (0: none yet).
    written: AtomicU64,
    /// What a replica must have replayed to serve a read: this store's commits and the
    /// positions other nodes reported.
    required: AtomicU64,
    /// Counts the raises of `required`, so a replica's position read before the latest raise
    /// is known to be worth reading again.
    generation: AtomicU64,
}

impl Positions {
    /// A commit of this store ended before `lsn`.
    pub(crate) fn committed(&self, lsn: u64) {
        self.written.fetch_max(lsn, Ordering::SeqCst);
        self.raise(lsn);
    }

    /// The latest commit's position as text.
    pub(crate) fn written(&self) -> Option<String> {
        match self.written.load(Ordering::SeqCst) {
            0 => None,
            lsn => Some(format_lsn(lsn)),
        }
    }

    /// Raises the required position to a reported one (ignored when it is not an LSN).
    pub(crate) fn require(&self, position: &str) {
        match parse_lsn(position) {
            Some(lsn) => self.raise(lsn),
            None => tracing::debug!(position, "ignoring a WAL position that is not an LSN"),
        }
    }

    /// What a replica must have replayed to serve a read now.
    pub(crate) fn required(&self) -> u64 {
        self.required.load(Ordering::SeqCst)
    }

    fn raise(&self, lsn: u64) {
        if self.required.fetch_max(lsn, Ordering::SeqCst) < lsn {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One replica.
struct Replica {
    /// Host list of its URL, for logs.
    name: String,
    pool: Pool,
    /// The latest replay position read (0: none yet).
    replayed: AtomicU64,
    /// `Positions::generation` as it was when `replayed` was last read.
    checked: AtomicU64,
    /// Whether it answered its latest probe and read; reads skip it otherwise.
    healthy: AtomicBool,
}

impl Replica {
    /// Records a replay position read when the positions were at `generation`.
    fn seen(&self, lsn: u64, generation: u64) {
        self.replayed.fetch_max(lsn, Ordering::SeqCst);
        self.checked.fetch_max(generation, Ordering::SeqCst);
    }

    fn up(&self) {
        if !self.healthy.swap(true, Ordering::SeqCst) {
            tracing::info!(replica = %self.name, "read replica answers; serving reads");
        }
    }

    fn down(&self, why: &str) {
        if self.healthy.swap(false, Ordering::SeqCst) {
            tracing::warn!(replica = %self.name, error = why, "read replica unreachable; reading from the primary");
        }
    }

    /// A pooled connection; failing to get one marks the replica down, except when the pool
    /// is only busy. Connecting is bounded by [`PROBE_TIMEOUT`], so a replica that stopped
    /// answering delays a read by at most that.
    async fn checkout(&self) -> Option<Object> {
        match tokio::time::timeout(PROBE_TIMEOUT, self.pool.get()).await {
            Ok(Ok(client)) => Some(client),
            Ok(Err(deadpool_postgres::PoolError::Timeout(_))) => None,
            Ok(Err(e)) => {
                self.down(&error::pool(e).message);
                None
            }
            Err(_) => {
                self.down("no connection within the probe timeout");
                None
            }
        }
    }

    /// Reads the replay position on `client` and records it.
    async fn probe(&self, client: &Object, generation: u64) -> Result<u64> {
        let stmt = client::prepare(client, PROBE_SQL).await.map_err(|e| error::classify(&e))?;
        let row = client.query_one(&stmt, &[]).await.map_err(|e| error::classify(&e))?;
        let text: Option<String> = row.try_get(0).map_err(|e| error::classify(&e))?;
        let lsn = text.as_deref().and_then(parse_lsn).ok_or_else(|| {
            StoreError::new(ErrorKind::Unavailable, "the replica reports no replay position")
        })?;
        self.seen(lsn, generation);
        Ok(lsn)
    }
}

/// The replicas of a store, their probes and the read counts.
pub(crate) struct Replicas {
    replicas: Vec<Arc<Replica>>,
    positions: Arc<Positions>,
    /// Round-robin cursor.
    next: AtomicUsize,
    primary_reads: AtomicU64,
    replica_reads: AtomicU64,
    probes: Vec<tokio::task::JoinHandle<()>>,
}

impl Replicas {
    /// Starts probing each `(name, pool)`; none is used before its first probe answers.
    pub(crate) fn start(pools: Vec<(String, Pool)>) -> Replicas {
        let positions = Arc::new(Positions::default());
        let replicas: Vec<Arc<Replica>> = pools
            .into_iter()
            .map(|(name, pool)| {
                Arc::new(Replica {
                    name,
                    pool,
                    replayed: AtomicU64::new(0),
                    checked: AtomicU64::new(0),
                    healthy: AtomicBool::new(false),
                })
            })
            .collect();
        let probes =
            replicas.iter().map(|r| tokio::spawn(watch(r.clone(), positions.clone()))).collect();
        Replicas {
            replicas,
            positions,
            next: AtomicUsize::new(0),
            primary_reads: AtomicU64::new(0),
            replica_reads: AtomicU64::new(0),
            probes,
        }
    }

    pub(crate) fn positions(&self) -> Arc<Positions> {
        self.positions.clone()
    }

    pub(crate) fn count(&self, target: ReadTarget) {
        let counter = match target {
            ReadTarget::Primary => &self.primary_reads,
            ReadTarget::Replica => &self.replica_reads,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        sb_observe::db_read(target);
    }

    pub(crate) fn health(&self) -> Vec<sb_store::ReplicaHealth> {
        let required = self.positions.required();
        self.replicas
            .iter()
            .map(|r| sb_store::ReplicaHealth {
                name: r.name.clone(),
                healthy: r.healthy.load(Ordering::SeqCst),
                behind_bytes: required.saturating_sub(r.replayed.load(Ordering::SeqCst)),
            })
            .collect()
    }

    pub(crate) fn counts(&self) -> ReadCounts {
        ReadCounts {
            primary: self.primary_reads.load(Ordering::Relaxed),
            replica: self.replica_reads.load(Ordering::Relaxed),
        }
    }

    /// Runs a read on a replica that has replayed the required position: `None` when there
    /// is none (or the read failed there in a way the primary may not), so the caller reads
    /// from the primary.
    pub(crate) async fn read(&self, sql: &str, params: &[Value]) -> Option<Result<Rows>> {
        let required = self.positions.required();
        let generation = self.positions.generation.load(Ordering::SeqCst);
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut behind = None;
        for i in 0..n {
            let replica = &self.replicas[(start + i) % n];
            if !replica.healthy.load(Ordering::SeqCst) {
                continue;
            }
            if replica.replayed.load(Ordering::SeqCst) >= required {
                let client = replica.checkout().await?;
                return self.read_on(replica, client, sql, params).await;
            }
            if behind.is_none() && replica.checked.load(Ordering::SeqCst) < generation {
                behind = Some(replica);
            }
        }
        // Ask the replica whose position predates the latest raise once more.
        let replica = behind?;
        let client = replica.checkout().await?;
        match replica.probe(&client, generation).await {
            Ok(replayed) if replayed >= required => {
                self.read_on(replica, client, sql, params).await
            }
            Ok(_) => None,
            Err(e) => {
                if e.kind == ErrorKind::Unavailable {
                    replica.down(&e.message);
                }
                None
            }
        }
    }

    async fn read_on(
        &self,
        replica: &Replica,
        client: Object,
        sql: &str,
        params: &[Value],
    ) -> Option<Result<Rows>> {
        let started = std::time::Instant::now();
        let result = run_autocommit(&client, sql, params, Mode::Query).await;
        sb_observe::db_query(
            sb_observe::Backend::Postgres,
            sb_observe::sql_operation(sql),
            started.elapsed(),
        );
        let e = match result {
            Ok(outcome) => {
                self.count(ReadTarget::Replica);
                return Some(Ok(match outcome {
                    Outcome::Rows(rows) => rows,
                    Outcome::Count(_) => Rows::default(),
                }));
            }
            Err(e) => error::classify(&e),
        };
        match e.kind {
            // The primary would take as long.
            ErrorKind::Timeout => {
                self.count(ReadTarget::Replica);
                Some(Err(e))
            }
            ErrorKind::Unavailable => {
                replica.down(&e.message);
                None
            }
            _ => {
                tracing::debug!(replica = %replica.name, error = %e, "read failed on a replica; reading from the primary");
                None
            }
        }
    }

    /// Stops the probes and closes the replicas' pools.
    pub(crate) fn close(&self) {
        for probe in &self.probes {
            probe.abort();
        }
        for replica in &self.replicas {
            replica.pool.close();
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for probe in &self.probes {
            probe.abort();
        }
    }
}

/// Probes one replica for as long as the store lives: its replay position every [`REFRESH`]
/// while it answers, a new attempt every [`RETRY`] while it does not.
async fn watch(replica: Arc<Replica>, positions: Arc<Positions>) {
    loop {
        let generation = positions.generation.load(Ordering::SeqCst);
        let probe = async {
            let client = replica.pool.get().await.map_err(error::pool)?;
            replica.probe(&client, generation).await
        };
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(_)) => replica.up(),
            Ok(Err(e)) => replica.down(&e.message),
            Err(_) => replica.down("no answer to the replay-position probe in time"),
        }
        let pause = if replica.healthy.load(Ordering::SeqCst) { REFRESH } else { RETRY };
        tokio::time::sleep(pause).await;
    }
}

/// The hosts of a connection URL (no credentials), to name a replica in logs.
pub(crate) fn describe(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, hosts)| hosts);
    if hosts.is_empty() { "(default host)".into() } else { hosts.to_owned() }
}

/// `16/B374D848` → `0x16_B374D848`.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.trim().split_once('/')?;
    let high = u32::from_str_radix(high, 16).ok()?;
    let low = u32::from_str_radix(low, 16).ok()?;
    Some((u64::from(high) << 32) | u64::from(low))
}

pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}
