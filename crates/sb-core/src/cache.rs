//! Caches of hot reads (record views, list pages, auth records for token checks) and what keeps
//! them correct on one node and across a cluster.
//!
//! Correctness rests on three parts:
//! - **Footprints.** Every statement names the tables it reads and writes
//!   ([`sb_sql::Footprint`]). The application's store is wrapped in [`Watched`], which records
//!   the tables a cached computation reads (a task-local set, [`recording`]) and, once a write
//!   has committed, reports the tables it wrote.
//! - **A change clock.** [`Coherence`] keeps, per table, the clock value of its last change.
//!   An entry remembers the clock value read *before* its computation began and the tables it
//!   read; it is served only while none of them changed since. A write committed before the
//!   computation began is therefore seen by it, and one committed during it makes the entry
//!   stale at once. Entries that read a view (whose source tables are not known) or raw SQL
//!   depend on every table.
//! - **The cluster.** A committed write is reported to every other node, which advances its
//!   clock for those tables before answering; the writer acknowledges its client only after
//!   every node answered, or after the bound beyond which a silent node no longer trusts its
//!   caches (see `cluster.rs`). A node that cannot hear the cluster neither reads nor fills its
//!   caches (`bypass` in the metrics) until it hears it again, and then starts empty.
//! - **The shared layer** (with Redis): behind this node's cache, checked against change stamps
//!   that every write sets before it is acknowledged (`cache/shared.rs`).
//!
//! Keys always hold the principal (collection and record id of the requester, or `guest`),
//! every query parameter, and the request headers any rule of the catalog mentions; entries
//! whose answer depends on the time (`@now` and the other date macros, `@random`) are not kept.

mod shared;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::RwLock;
use sb_sql::Stmt;
use sb_store::{Dialect, Result, Rows, Store, Tx};
use serde_json::Value as Json;

use crate::catalog::Catalog;
use crate::cluster::Cluster;

pub use shared::{SharedCache, SharedGet, Stamps};

/// The longest a lookup waits for the shared cache before computing the answer itself.
const SHARED_WAIT: Duration = Duration::from_millis(100);

/// What a committed write changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Changed {
    /// Whole tables, and single rows `(table, id)` of others.
    Tables { tables: Vec<String>, rows: Vec<(String, String)> },
    /// Anything (schema changes, raw SQL, or a node that may have missed messages).
    All,
}

impl Changed {
    pub(crate) fn none() -> Changed {
        Changed::Tables { tables: Vec::new(), rows: Vec::new() }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Changed::Tables { tables, rows } if tables.is_empty() && rows.is_empty())
    }

    fn merge(&mut self, other: Changed) {
        match (&mut *self, other) {
            (Changed::All, _) => {}
            (_, Changed::All) => *self = Changed::All,
            (
                Changed::Tables { tables, rows },
                Changed::Tables { tables: more_tables, rows: more_rows },
            ) => {
                for t in more_tables {
                    if !tables.contains(&t) {
                        tables.push(t);
                    }
                }
                for r in more_rows {
                    if !rows.contains(&r) {
                        rows.push(r);
                    }
                }
            }
        }
    }

    fn of(stmt: &Stmt) -> Option<Changed> {
        if matches!(stmt, Stmt::Select(_)) {
            return None;
        }
        let fp = stmt.footprint();
        if fp.opaque {
            Some(Changed::All)
        } else {
            Some(Changed::Tables { tables: fp.writes, rows: fp.rows_written })
        }
    }

    /// Whether anything of `table` changed.
    pub(crate) fn touches(&self, table: &str) -> bool {
        match self {
            Changed::All => true,
            Changed::Tables { tables, rows } => {
                tables.iter().any(|t| t == table) || rows.iter().any(|(t, _)| t == table)
            }
        }
    }
}

/// Slots of the row change stamps: rows hash into them, so two rows sharing a slot only make
/// each other's entries stale early (never late), and memory stays fixed.
const ROW_SLOTS: usize = 1 << 16;

fn row_slot(table: &str, id: &str) -> usize {
    let mut hash = crc32fast::Hasher::new();
    hash.update(table.as_bytes());
    hash.update(&[0]);
    hash.update(id.as_bytes());
    hash.finalize() as usize % ROW_SLOTS
}

/// The change clock of this node, and its link to the cluster.
pub(crate) struct Coherence {
    clock: AtomicU64,
    /// Clock value of each table's last change (of any row or of the whole table).
    changed: RwLock<HashMap<String, u64>>,
    /// Clock value of each table's last change that was not confined to rows.
    changed_whole: RwLock<HashMap<String, u64>>,
    /// Clock value of the last change of the rows hashing to each slot.
    rows: Box<[AtomicU64]>,
    /// Clock value of the last change to any table.
    any_changed: AtomicU64,
    /// Clock value of the last change to everything.
    all_changed: AtomicU64,
    pub(crate) cluster: Cluster,
    /// The cache shared by the nodes, when there is one.
    shared: OnceLock<Arc<dyn SharedCache>>,
    /// Counts the moments since which the shared stamps may have missed a change (a write not
    /// stamped, a transport lost: Redis may have restarted from an older snapshot) …
    unstamped: AtomicU64,
    /// … and the last of them that a stamp of everything has covered since.
    restamped: AtomicU64,
}

impl Coherence {
    pub(crate) fn new(cluster: Cluster) -> Coherence {
        Coherence {
            clock: AtomicU64::new(1),
            changed: RwLock::default(),
            changed_whole: RwLock::default(),
            rows: (0..ROW_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            any_changed: AtomicU64::new(0),
            all_changed: AtomicU64::new(0),
            cluster,
            shared: OnceLock::new(),
            unstamped: AtomicU64::new(0),
            restamped: AtomicU64::new(0),
        }
    }

    /// Puts the shared cache behind this node's caches.
    pub(crate) fn set_shared(&self, shared: Arc<dyn SharedCache>) {
        self.shared.set(shared).ok();
    }

    /// The shared cache, when it may be read and filled now: this node hears the cluster and
    /// every change it may have made without stamping is covered by a stamp of everything.
    fn shared(&self) -> Option<&Arc<dyn SharedCache>> {
        let shared = self.shared.get()?;
        let covered =
            self.restamped.load(Ordering::SeqCst) >= self.unstamped.load(Ordering::SeqCst);
        (covered && self.cluster.trusted()).then_some(shared)
    }

    /// Notes that the shared stamps may have missed a change.
    pub(crate) fn stamps_missed(&self) {
        self.unstamped.fetch_add(1, Ordering::SeqCst);
    }

    /// When the shared stamps may have missed a change: stamps everything, so that every
    /// shared entry stored before is refused. Called while the node hears the cluster.
    pub(crate) async fn restamp(&self) {
        let Some(shared) = self.shared.get() else { return };
        let owed = self.unstamped.load(Ordering::SeqCst);
        if self.restamped.load(Ordering::SeqCst) >= owed {
            return;
        }
        match shared.bump(&shared::written(&Changed::All)).await {
            Ok(()) => {
                self.restamped.fetch_max(owed, Ordering::SeqCst);
            }
            Err(e) => tracing::debug!(error = %e, "cannot stamp the shared cache yet"),
        }
    }

    /// The clock value to stamp a computation starting now with.
    fn now(&self) -> u64 {
        self.clock.load(Ordering::SeqCst)
    }

    /// Advances the clock for what changed (a local commit or a message from another node).
    pub(crate) fn advance(&self, what: &Changed) {
        let at = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        match what {
            Changed::All => self.all_changed.store(at, Ordering::SeqCst),
            Changed::Tables { tables, rows } => {
                // Row stamps first: a reader that sees the table stamp sees the row's too.
                for (t, id) in rows {
                    self.rows[row_slot(t, id)].fetch_max(at, Ordering::SeqCst);
                }
                let mut changed = self.changed.write();
                for t in tables.iter().chain(rows.iter().map(|(t, _)| t)) {
                    changed.insert(t.clone(), at);
                }
                drop(changed);
                if !tables.is_empty() {
                    let mut whole = self.changed_whole.write();
                    for t in tables {
                        whole.insert(t.clone(), at);
                    }
                }
            }
        }
        self.any_changed.store(at, Ordering::SeqCst);
    }

    /// Whether nothing `deps` names changed after `since`.
    fn unchanged(&self, deps: &Deps, since: u64) -> bool {
        if self.all_changed.load(Ordering::SeqCst) > since {
            return false;
        }
        match deps {
            Deps::Any => self.any_changed.load(Ordering::SeqCst) <= since,
            Deps::On { tables, rows } => {
                let at_most =
                    |map: &HashMap<String, u64>, t: &str| map.get(t).is_none_or(|&at| at <= since);
                let changed = self.changed.read();
                if !tables.iter().all(|t| at_most(&changed, t)) {
                    return false;
                }
                drop(changed);
                let whole = self.changed_whole.read();
                rows.iter().all(|(t, id)| {
                    at_most(&whole, t) && self.rows[row_slot(t, id)].load(Ordering::SeqCst) <= since
                })
            }
        }
    }

    /// A write committed through `store`: this node's caches forget what it touched, then
    /// every other node's do (returns once they have, or once they no longer trust their
    /// caches). When the transport cannot be trusted to tell them, the write is announced
    /// through the database (`cluster.rs`).
    pub(crate) async fn committed(
        &self,
        store: &dyn Store,
        what: Changed,
        position: Option<String>,
    ) {
        if what.is_empty() {
            return;
        }
        self.advance(&what);
        self.stamp(&what).await;
        if !self.cluster.invalidate(what, position).await {
            announce(store).await;
        }
    }

    /// Sets the shared stamps of what a write changed; when that cannot be done now, the next
    /// [`Coherence::restamp`] stamps everything.
    async fn stamp(&self, what: &Changed) {
        let Some(shared) = self.shared.get() else {
            self.stamps_missed();
            return;
        };
        if !self.cluster.hearing() {
            self.stamps_missed();
            return;
        }
        if let Err(e) = shared.bump(&shared::written(what)).await {
            tracing::debug!(error = %e, "cannot stamp a change in the shared cache");
            self.stamps_missed();
        }
    }
}

/// Counts a write the transport could not carry in the database's epoch, then waits until
/// every node that still trusts its caches has polled the count since (`cluster.rs`).
async fn announce(store: &dyn Store) {
    for attempt in 1..=3u32 {
        match crate::system::bump_cluster_epoch(store).await {
            Ok(()) => {
                let margin = crate::cluster::HELLO_EVERY / 2;
                tokio::time::sleep(crate::cluster::EPOCH_FRESH + margin).await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "cannot announce a write to the cluster");
                tokio::time::sleep(Duration::from_millis(100) * attempt).await;
            }
        }
    }
    tracing::error!(
        "a write could not be announced to the cluster; other nodes may serve cached answers \
         from before it until their next change of the same tables"
    );
}

/// What an entry depends on.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
enum Deps {
    On { tables: Box<[String]>, rows: Box<[(String, String)]> },
    Any,
}

/// What a computation read (see [`recording`]).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    tables: Vec<String>,
    rows: Vec<(String, String)>,
    any: bool,
}

impl Reads {
    /// Adds a whole table (the requester's own record, which rules read).
    pub(crate) fn add_table(&mut self, table: String) {
        if !self.tables.contains(&table) {
            self.tables.push(table);
        }
    }
}

struct Entry {
    value: Json,
    /// The value's JSON text, written at the first hit that asks for it and shared by the
    /// later ones (a hit then costs neither a copy of the value nor its serialisation).
    text: OnceLock<bytes::Bytes>,
    since: u64,
    deps: Deps,
}

impl Entry {
    fn new(value: Json, since: u64, deps: Deps) -> Entry {
        Entry { value, text: OnceLock::new(), since, deps }
    }
}

/// A JSON answer, computed now or shared with a cache entry.
pub struct Answer(AnswerOf);

enum AnswerOf {
    Computed(Json),
    Cached(Arc<Entry>),
}

impl Answer {
    /// The value (a copy when it is a cache entry's).
    pub fn into_value(self) -> Json {
        match self.0 {
            AnswerOf::Computed(value) => value,
            AnswerOf::Cached(entry) => entry.value.clone(),
        }
    }

    /// The value's JSON text (for a cache entry, written once and shared).
    pub fn text(&self) -> bytes::Bytes {
        match &self.0 {
            AnswerOf::Computed(value) => value.to_string().into(),
            AnswerOf::Cached(entry) => {
                entry.text.get_or_init(|| entry.value.to_string().into()).clone()
            }
        }
    }
}

impl From<Json> for Answer {
    fn from(value: Json) -> Answer {
        Answer(AnswerOf::Computed(value))
    }
}

/// A cache of computed JSON answers (record views, list pages, auth records).
pub(crate) struct ReadCache {
    name: &'static str,
    entries: moka::sync::Cache<String, Arc<Entry>>,
    stats: [AtomicU64; 4],
}

/// Where a hit came from.
enum Layer {
    Node(Arc<Entry>),
    Shared(Arc<Entry>),
}

/// Lookups of a cache so far: hits (in this node's cache, or in the shared one), misses, and
/// bypasses (not trusted, neither read nor filled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub bypasses: u64,
    pub shared_hits: u64,
}

/// A cache fill in progress: the clock value before the computation began (and the shared
/// cache's sequence, when it was asked).
pub(crate) struct Fill {
    since: u64,
    shared_since: Option<u64>,
}

impl ReadCache {
    /// A cache of about `bytes` of JSON (estimated), entries idle for 10 minutes dropped.
    pub(crate) fn new(name: &'static str, bytes: u64) -> ReadCache {
        let entries = moka::sync::Cache::builder()
            .max_capacity(bytes)
            // The value, and room for its text (which a view hit writes; weight() estimates
            // above the text's length).
            .weigher(|key: &String, entry: &Arc<Entry>| {
                u32::try_from(key.len() + 2 * weight(&entry.value) + 64).unwrap_or(u32::MAX)
            })
            .time_to_idle(std::time::Duration::from_secs(600))
            .build();
        ReadCache { name, entries, stats: Default::default() }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let n = |i: usize| self.stats[i].load(Ordering::Relaxed);
        CacheStats { hits: n(0), misses: n(1), bypasses: n(2), shared_hits: n(3) }
    }

    /// The cached answer for `key` (from this node's cache, else from the shared one), or the
    /// [`Fill`] to store the computed one with; `None` when the caches cannot be trusted now
    /// (this node does not hear the cluster).
    pub(crate) async fn get(
        &self,
        coherence: &Coherence,
        key: &str,
    ) -> std::result::Result<Answer, Option<Fill>> {
        let span = sb_observe::trace::cache_span(self.name);
        let result = self.lookup(coherence, key).await;
        let (label, i) = match &result {
            Ok(Layer::Node(_)) => ("hit", 0),
            Ok(Layer::Shared(_)) => ("shared_hit", 3),
            Err(Some(_)) => ("miss", 1),
            Err(None) => ("bypass", 2),
        };
        self.stats[i].fetch_add(1, Ordering::Relaxed);
        span.record("cache.result", label);
        sb_observe::cache_lookup(self.name, label);
        result.map(|(Layer::Node(entry) | Layer::Shared(entry))| Answer(AnswerOf::Cached(entry)))
    }

    async fn lookup(
        &self,
        coherence: &Coherence,
        key: &str,
    ) -> std::result::Result<Layer, Option<Fill>> {
        if !coherence.cluster.trusted() {
            return Err(None);
        }
        let since = coherence.now();
        match self.entries.get(key) {
            Some(entry) if coherence.unchanged(&entry.deps, entry.since) => {
                return Ok(Layer::Node(entry));
            }
            Some(_) => self.entries.invalidate(key),
            None => {}
        }
        let Some(shared) = coherence.shared() else {
            return Err(Some(Fill { since, shared_since: None }));
        };
        let shared_key = self.shared_key(key);
        let answer = tokio::time::timeout(SHARED_WAIT, shared.get(&shared_key)).await;
        let shared_since = match answer {
            Ok(Ok(SharedGet::Hit(blob))) => match serde_json::from_str::<shared::Blob>(&blob) {
                Ok(shared::Blob { deps, value }) => {
                    // Kept here from `since` on: a change this node hears later hides it.
                    let entry = Arc::new(Entry::new(value, since, deps));
                    self.entries.insert(key.to_owned(), entry.clone());
                    return Ok(Layer::Shared(entry));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "ignoring a malformed shared cache entry");
                    None
                }
            },
            Ok(Ok(SharedGet::Miss { seq })) => Some(seq),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "shared cache unavailable");
                None
            }
            Err(_) => None,
        };
        Err(Some(Fill { since, shared_since }))
    }

    fn shared_key(&self, key: &str) -> String {
        format!("cache:{}:{key}", self.name)
    }

    /// Stores an answer computed after `fill` was taken, which read `reads` (in this node's
    /// cache, and in the shared one when the lookup asked it).
    pub(crate) async fn put(
        &self,
        coherence: &Coherence,
        catalog: &Catalog,
        key: String,
        fill: Fill,
        reads: Reads,
        value: &Json,
    ) {
        let profile = catalog.cache_profile();
        let Reads { tables, mut rows, any } = reads;
        let read_tables = || tables.iter().chain(rows.iter().map(|(t, _)| t));
        if read_tables().any(|t| profile.volatile.contains(t)) {
            return;
        }
        let any = any || read_tables().any(|t| catalog.get(t).is_some_and(|c| c.is_view()));
        let deps = if any {
            Deps::Any
        } else {
            rows.retain(|(t, _)| !tables.contains(t));
            Deps::On { tables: tables.into_boxed_slice(), rows: rows.into_boxed_slice() }
        };
        let shared = fill.shared_since.zip(coherence.shared()).map(|(since, shared)| {
            let blob = shared::Blob { deps: deps.clone(), value: value.clone() };
            let blob = serde_json::to_string(&blob).expect("JSON values serialise");
            (since, shared, blob, shared::read(&deps))
        });
        let entry = Entry::new(value.clone(), fill.since, deps);
        self.entries.insert(key.clone(), Arc::new(entry));
        if let Some((since, shared, blob, stamps)) = shared
            && blob.len() <= shared::MAX_SHARED_BYTES
        {
            let shared_key = self.shared_key(&key);
            let put = shared.put(&shared_key, since, &stamps, blob);
            match tokio::time::timeout(SHARED_WAIT, put).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "cannot fill the shared cache"),
                Err(_) => tracing::debug!("the shared cache did not answer a fill in time"),
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}

/// The key of a record read (`kind`: list or view) as `req` asks it: the principal, every
/// query parameter, and the headers the catalog's rules read.
pub(crate) fn request_key(
    catalog: &Catalog,
    kind: &str,
    collection: &str,
    subject: &str,
    req: &sb_query::RequestInfo,
) -> String {
    use std::fmt::Write;
    let mut key = String::with_capacity(128);
    let principal = match &req.auth {
        Some(a) => format!("{}/{}", a.collection.id, a.id()),
        None => "guest".into(),
    };
    let _ = write!(
        key,
        "{kind}\0{collection}\0{subject}\0{}\0{}\0{principal}",
        req.context, req.method
    );
    for (k, v) in &req.query {
        let _ = write!(key, "\0q{}={k}={v}", k.len());
    }
    for name in &catalog.cache_profile().headers {
        let value = req.headers.get(name).map(String::as_str).unwrap_or("");
        let _ = write!(key, "\0h{name}={value}");
    }
    key
}

/// What an answer for `req` depends on beyond what it read: the requester's own record (rules
/// see it as `@request.auth.*`).
pub(crate) fn add_principal(reads: &mut Reads, req: &sb_query::RequestInfo) {
    if let Some(a) = &req.auth {
        let row = (a.collection.name.clone(), a.id().to_owned());
        if !reads.rows.contains(&row) {
            reads.rows.push(row);
        }
    }
}

/// A rough size of a JSON value in memory.
fn weight(value: &Json) -> usize {
    match value {
        Json::Null | Json::Bool(_) | Json::Number(_) => 16,
        Json::String(s) => 24 + s.len(),
        Json::Array(items) => 24 + items.iter().map(weight).sum::<usize>(),
        Json::Object(map) => 48 + map.iter().map(|(k, v)| 24 + k.len() + weight(v)).sum::<usize>(),
    }
}

tokio::task_local! {
    static READS: RefCell<Reads>;
}

/// Runs `work`, returning its output and what its statements read (through [`Watched`]).
pub(crate) async fn recording<T>(work: impl Future<Output = T>) -> (T, Reads) {
    READS
        .scope(RefCell::new(Reads::default()), async move {
            let out = work.await;
            let reads = READS.with(|r| r.take());
            (out, reads)
        })
        .await
}

fn record_reads(stmt: &Stmt) {
    let _ = READS.try_with(|reads| {
        let fp = stmt.footprint();
        let mut reads = reads.borrow_mut();
        reads.any |= fp.opaque;
        for t in fp.reads.into_iter().chain(fp.writes) {
            reads.add_table(t);
        }
        for r in fp.rows_read.into_iter().chain(fp.rows_written) {
            if !reads.rows.contains(&r) {
                reads.rows.push(r);
            }
        }
    });
}

/// The application's store: reports committed writes to [`Coherence`] and read sets to
/// [`recording`].
pub(crate) struct Watched {
    inner: Arc<dyn Store>,
    coherence: Arc<Coherence>,
}

impl Watched {
    pub(crate) fn new(inner: Arc<dyn Store>, coherence: Arc<Coherence>) -> Watched {
        Watched { inner, coherence }
    }
}

#[async_trait::async_trait]
impl Store for Watched {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    async fn query(&self, stmt: &Stmt) -> Result<Rows> {
        // Read-only by contract: nothing to report.
        record_reads(stmt);
        self.inner.query(stmt).await
    }

    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(WatchedTx {
            inner: self.inner.begin().await?,
            store: self.inner.clone(),
            coherence: self.coherence.clone(),
            changed: Changed::none(),
        }))
    }

    async fn write(&self, stmts: &[Stmt]) -> Result<Vec<u64>> {
        let out = self.inner.write(stmts).await?;
        let mut changed = Changed::none();
        for stmt in stmts {
            changed.merge(Changed::of(stmt).unwrap_or_else(Changed::none));
        }
        let position = self.inner.write_position();
        self.coherence.committed(self.inner.as_ref(), changed, position).await;
        Ok(out)
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn optimize(&self) -> Result<()> {
        self.inner.optimize().await
    }

    fn can_snapshot(&self) -> bool {
        self.inner.can_snapshot()
    }

    async fn snapshot(&self, dest: &std::path::Path) -> Result<()> {
        self.inner.snapshot(dest).await
    }

    async fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        self.inner.table_columns(table).await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    fn write_position(&self) -> Option<String> {
        self.inner.write_position()
    }

    fn require_position(&self, position: &str) {
        self.inner.require_position(position)
    }

    fn replicas(&self) -> Vec<sb_store::ReplicaHealth> {
        self.inner.replicas()
    }
}

struct WatchedTx {
    inner: Box<dyn Tx>,
    store: Arc<dyn Store>,
    coherence: Arc<Coherence>,
    changed: Changed,
}

#[async_trait::async_trait]
impl Tx for WatchedTx {
    async fn query(&mut self, stmt: &Stmt) -> Result<Rows> {
        record_reads(stmt);
        let rows = self.inner.query(stmt).await?;
        if let Some(changed) = Changed::of(stmt) {
            self.changed.merge(changed);
        }
        Ok(rows)
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64> {
        let n = self.inner.execute(stmt).await?;
        if let Some(changed) = Changed::of(stmt) {
            self.changed.merge(changed);
        }
        Ok(n)
    }

    async fn lock(&mut self, key: i64) -> Result<()> {
        self.inner.lock(key).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        let WatchedTx { inner, store, coherence, changed } = *self;
        inner.commit().await?;
        let position = store.write_position();
        coherence.committed(store.as_ref(), changed, position).await;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.inner.rollback().await
    }
}

/// What of a catalog's rules bears on caching: the request headers some rule reads (part of
/// every key) and the tables whose rules depend on the time (never cached).
#[derive(Debug, Default)]
pub(crate) struct CacheProfile {
    pub(crate) headers: Vec<String>,
    pub(crate) volatile: std::collections::HashSet<String>,
}

impl CacheProfile {
    pub(crate) fn of(collections: &[Arc<sb_schema::Collection>]) -> CacheProfile {
        let mut profile = CacheProfile::default();
        for c in collections {
            let rules =
                [&c.list_rule, &c.view_rule, &c.create_rule, &c.update_rule, &c.delete_rule];
            let extra = c.auth.as_ref().map(|a| [&a.auth_rule, &a.manage_rule]);
            for rule in rules.into_iter().chain(extra.into_iter().flatten()).flatten() {
                for name in header_refs(rule) {
                    if !profile.headers.contains(&name) {
                        profile.headers.push(name);
                    }
                }
                if is_volatile(rule) {
                    profile.volatile.insert(c.name.clone());
                }
            }
        }
        profile.headers.sort();
        profile
    }
}

/// The header names `@request.headers.NAME` references in `text`.
fn header_refs(text: &str) -> Vec<String> {
    const PREFIX: &str = "@request.headers.";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        rest = &rest[at + PREFIX.len()..];
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        out.push(rest[..end].to_owned());
    }
    out
}

/// Whether an expression's answer may change with time alone: it uses a macro other than
/// `@request.*` and `@collection.*` (`@now`, `@todayStart`, … and `@random`).
pub(crate) fn is_volatile(text: &str) -> bool {
    text.match_indices('@').any(|(at, _)| {
        let rest = &text[at + 1..];
        !(rest.starts_with("request.") || rest.starts_with("collection."))
    })
}

#[cfg(test)]
mod tests;
