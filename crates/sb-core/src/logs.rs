//! Request logs (spec §8.5): one entry per API request, kept in a store of their own.
//!
//! The log store is a separate `Store` handed to [`App::open_with_logs`]: on SQLite a second
//! database file (`auxiliary.db`, as PocketBase's), on PostgreSQL the same database with the
//! tables in their own schema, so every node of a cluster writes to and reads from one log.
//!
//! The request path never waits on it: [`App::log_request`] turns the request's facts into an
//! entry (as `settings.logs` says) and offers it to a bounded queue, dropping it when the queue
//! is full. One writer task per node takes entries off the queue and writes them in batches
//! (up to [`BATCH`] entries, or what arrived within [`LINGER`] of the first one) in one
//! transaction each. Listing, stats and retention read and delete through the same filter
//! language as records, compiled over a synthetic collection that describes the `_logs` table.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sb_query::Access;
use sb_schema::Collection;
use sb_sql::{
    CmpOp, Delete, Expr, FromItem, IndexColumn, IndexDef, Insert, OrderBy, Select, SelectItem,
    Stmt, Ty, Value,
};
use sb_store::Store;
use serde_json::{Map, Value as Json, json};
use tokio::sync::{mpsc, oneshot};

use crate::error::{CoreError, CoreResult};
use crate::records::list::ListQuery;
use crate::{App, Catalog, ListParams, ListResult};

/// The table of the log store.
pub(crate) const LOGS_TABLE: &str = "_logs";
/// Entries waiting for the writer; beyond this, new entries are dropped.
const QUEUE: usize = 8192;
/// Most entries written in one transaction.
const BATCH: usize = 500;
/// How long the writer waits for more entries after the first one of a batch.
const LINGER: Duration = Duration::from_millis(500);
/// Serialises the creation of the log tables across nodes (PostgreSQL).
const LOGS_LOCK: i64 = 0x5CA1_E106;
/// Longest `url` kept (PocketBase's limit); longer ones are cut and end with `...`.
const MAX_URL: usize = 3000;
/// Longest `userAgent` kept.
const MAX_USER_AGENT: usize = 2000;

/// slog levels, as PocketBase stores them.
pub const LEVEL_INFO: i64 = 0;
pub const LEVEL_ERROR: i64 = 8;

/// The facts of one answered request, as the HTTP layer saw them.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub method: String,
    /// Path and query string as requested.
    pub url: String,
    pub status: u16,
    /// Handling time in milliseconds.
    pub exec_time_ms: f64,
    /// The TCP peer address.
    pub remote_ip: String,
    /// The client IP after the trusted proxy headers (spec §9.4).
    pub user_ip: String,
    pub referer: String,
    pub user_agent: String,
    /// The requester's collection name and record id (empty for guests).
    pub auth_collection: String,
    pub auth_id: String,
    /// For error responses: the message answered and, when known, the internal cause.
    pub error: Option<(String, Option<String>)>,
}

/// What became of a [`RequestLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutcome {
    Queued,
    /// The settings exclude it (`maxDays` 0, or below `minLevel`).
    Skipped,
    /// The writer's queue was full.
    Dropped,
}

/// A row of `_logs`.
#[derive(Debug, Clone)]
struct LogRow {
    id: String,
    created: String,
    level: i64,
    message: String,
    data: String,
}

enum Msg {
    Entry(LogRow),
    /// Answered once every entry queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The log store and the queue of its writer.
pub(crate) struct RequestLogs {
    store: Arc<dyn Store>,
    queue: mpsc::Sender<Msg>,
    /// The `_logs` table described as a collection, for filters and sorts.
    schema: Arc<Collection>,
    catalog: Catalog,
}

/// `_logs` as a base collection: the fields filters and sorts may name (`data.*` paths go
/// into the JSON field).
fn logs_collection() -> Collection {
    let def = json!({
        "id": "_logs", "name": LOGS_TABLE, "type": "base", "system": true,
        "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "system": true, "required": true},
            {"name": "created", "type": "text", "system": true},
            {"name": "level", "type": "number", "system": true},
            {"name": "message", "type": "text", "system": true},
            {"name": "data", "type": "json", "system": true},
        ],
    });
    match Collection::from_json(&def) {
        Ok(c) => c,
        // A constant definition; failing to load it is a programming error.
        Err(e) => panic!("the _logs collection definition does not load: {e:?}"),
    }
}

impl RequestLogs {
    /// Creates the log tables when missing and starts the writer task.
    pub(crate) async fn open(store: Arc<dyn Store>) -> CoreResult<RequestLogs> {
        let schema = logs_collection();
        let mut create = match crate::storage::create_table(&schema) {
            Stmt::CreateTable(t) => t,
            _ => return Err(CoreError::internal("the _logs table is not a table")),
        };
        create.if_not_exists = true;
        let index = |name: &str, column: &str| {
            Stmt::CreateIndex(IndexDef {
                name: name.into(),
                table: LOGS_TABLE.into(),
                unique: false,
                if_not_exists: true,
                columns: vec![IndexColumn {
                    name: column.into(),
                    is_expr: false,
                    nocase: false,
                    desc: false,
                }],
                where_: None,
            })
        };
        let mut tx = store.begin().await?;
        let created = async {
            tx.lock(LOGS_LOCK).await?;
            tx.execute(&Stmt::CreateTable(create)).await?;
            tx.execute(&index("idx_logs_created", "created")).await?;
            tx.execute(&index("idx_logs_level", "level")).await?;
            Ok::<_, sb_store::StoreError>(())
        }
        .await;
        match created {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e.into());
            }
        }
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store.clone(), rx));
        let catalog = Catalog::new(vec![schema.clone()]);
        Ok(RequestLogs { store, queue, schema: Arc::new(schema), catalog })
    }
}

impl RequestLogs {
    /// Queues a row for the writer, or drops it when the queue is full; never waits.
    fn offer(&self, row: LogRow) -> LogOutcome {
        match self.queue.try_send(Msg::Entry(row)) {
            Ok(()) => LogOutcome::Queued,
            Err(_) => LogOutcome::Dropped,
        }
    }
}

/// Takes entries off the queue and writes them in batches until every sender is gone.
async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<LogRow> = Vec::with_capacity(BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let take = |msg: Msg, batch: &mut Vec<LogRow>, flushes: &mut Vec<oneshot::Sender<()>>| match msg
    {
        Msg::Entry(row) => batch.push(row),
        Msg::Flush(done) => flushes.push(done),
    };
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut flushes);
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH && flushes.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => take(msg, &mut batch, &mut flushes),
                Ok(None) | Err(_) => break,
            }
        }
        // A flush writes what is already queued too.
        if !flushes.is_empty() {
            while let Ok(msg) = rx.try_recv() {
                take(msg, &mut batch, &mut flushes);
            }
        }
        for chunk in batch.chunks(BATCH) {
            write_batch(store.as_ref(), chunk).await;
        }
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn write_batch(store: &dyn Store, rows: &[LogRow]) {
    if rows.is_empty() {
        return;
    }
    let stmts: Vec<Stmt> = rows
        .iter()
        .map(|r| {
            Stmt::Insert(Insert {
                table: LOGS_TABLE.into(),
                columns: vec![
                    "id".into(),
                    "created".into(),
                    "level".into(),
                    "message".into(),
                    "data".into(),
                ],
                values: vec![
                    Expr::param(r.id.as_str()),
                    Expr::param(r.created.as_str()),
                    Expr::Param(Value::Float(r.level as f64)),
                    Expr::param(r.message.as_str()),
                    Expr::Param(Value::Json(r.data.clone())),
                ],
            })
        })
        .collect();
    if let Err(e) = store.write(&stmts).await {
        tracing::warn!(error = %e, entries = rows.len(), "cannot write request logs");
    }
}

/// A log entry id in PocketBase's id format (15 characters `[a-z0-9]`) that grows with time:
/// the milliseconds since 1970 in 8 base-36 digits (enough until 2059), then 7 random ones.
/// Entries are inserted in id order, so the id index is appended to rather than written at
/// random pages (with random ids, each batch dirtied a page per row: measured as most of the
/// logging cost).
fn log_id(millis: i64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = u64::try_from(millis).unwrap_or(0);
    let mut head = [b'0'; 8];
    for slot in head.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    let mut id = String::with_capacity(15);
    id.extend(head.iter().map(|&b| b as char));
    id.push_str(&sb_auth::random::lower_alphanumeric(7));
    id
}

/// A request entry's `data`, written in one pass (no map of values built first): its keys in
/// byte order, as PocketBase's encoder writes a map; the optional ones left out when `None`.
#[derive(serde::Serialize)]
struct EntryData<'a> {
    auth: &'a str,
    #[serde(rename = "authId", skip_serializing_if = "Option::is_none")]
    auth_id: Option<&'a str>,
    /// Present (maybe null) on errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(rename = "execTime")]
    exec_time: f64,
    method: &'a str,
    referer: &'a str,
    #[serde(rename = "remoteIP", skip_serializing_if = "Option::is_none")]
    remote_ip: Option<&'a str>,
    status: u16,
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
    #[serde(rename = "userAgent")]
    user_agent: &'a str,
    #[serde(rename = "userIP", skip_serializing_if = "Option::is_none")]
    user_ip: Option<&'a str>,
}

/// Whether `settings.logs` keeps request logs at all (`maxDays` 0 turns them off).
fn logs_on(logs: &Json) -> bool {
    setting_i64(logs, "maxDays", 5) > 0
}

/// `s` cut to `max` characters, with `...` appended when cut.
fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &s[..at]).into(),
        None => s.into(),
    }
}

/// Keeps the keys (in order) while their encoded size stays within `max` bytes, then marks the
/// data as truncated (PocketBase's `logs.maxDataSize`).
fn truncate_data(data: BTreeMap<String, Json>, max: usize) -> BTreeMap<String, Json> {
    let mut kept = BTreeMap::new();
    let mut size = 0usize;
    let mut truncated = false;
    for (key, value) in data {
        size += key.len() + 3 + value.to_string().len();
        if size > max {
            truncated = true;
            break;
        }
        kept.insert(key, value);
    }
    if truncated {
        kept.insert("__pb_truncated__".to_owned(), Json::Bool(true));
    }
    kept
}

fn setting_i64(logs: &Json, key: &str, default: i64) -> i64 {
    logs.get(key).and_then(Json::as_f64).map_or(default, |f| f as i64)
}

/// A log row of a query's result as the API answers it.
fn row_json(columns: &[String], row: Vec<Value>) -> Json {
    let mut m = Map::new();
    let get = |name: &str| columns.iter().position(|c| c == name).and_then(|i| row.get(i).cloned());
    let text = |v: Option<Value>| Json::String(v.and_then(Value::into_string).unwrap_or_default());
    m.insert("id".into(), text(get("id")));
    m.insert("created".into(), text(get("created")));
    let data = match get("data") {
        Some(Value::Json(s) | Value::Text(s)) => serde_json::from_str(&s).unwrap_or(json!({})),
        _ => json!({}),
    };
    m.insert("data".into(), data);
    m.insert("message".into(), text(get("message")));
    let level = get("level").and_then(|v| v.as_f64()).unwrap_or(0.0);
    m.insert("level".into(), Json::from(level as i64));
    Json::Object(m)
}

fn columns() -> Vec<SelectItem> {
    ["id", "created", "level", "message", "data"]
        .into_iter()
        .map(|c| SelectItem::Expr { expr: Expr::col("t", c), alias: None })
        .collect()
}

/// Filters and sorts over logs may not reach `@request.*` or other collections.
fn check_text(text: Option<&str>) -> CoreResult<()> {
    match text {
        Some(t) if t.contains("@request.") || t.contains("@collection.") => {
            Err(crate::records::generic_bad_request())
        }
        _ => Ok(()),
    }
}

impl App {
    /// Whether request logs are kept now (so callers gather an entry's facts only then).
    pub fn request_logs_on(&self) -> bool {
        self.settings().get(&["logs"]).is_some_and(logs_on)
    }

    /// Turns a request's facts into a log entry (following `settings.logs`) and queues it for
    /// the writer; never waits.
    pub fn log_request(&self, log: RequestLog) -> LogOutcome {
        let settings = self.settings();
        let Some(logs) = settings.get(&["logs"]) else { return LogOutcome::Skipped };
        if !logs_on(logs) {
            return LogOutcome::Skipped;
        }
        let level = if log.status >= 400 { LEVEL_ERROR } else { LEVEL_INFO };
        if level < setting_i64(logs, "minLevel", 0) {
            return LogOutcome::Skipped;
        }
        let flag =
            |key: &str, default: bool| logs.get(key).and_then(Json::as_bool).unwrap_or(default);
        let url = cut(&log.url, MAX_URL);
        let message = format!("{} {}", log.method, url);
        let log_ip = flag("logIP", true);
        let data = EntryData {
            auth: &log.auth_collection,
            auth_id: (flag("logAuthId", false) && !log.auth_id.is_empty())
                .then_some(log.auth_id.as_str()),
            details: log.error.as_ref().map(|(_, details)| details.as_deref()),
            error: log.error.as_ref().map(|(error, _)| error.as_str()),
            exec_time: log.exec_time_ms,
            method: &log.method,
            referer: &log.referer,
            remote_ip: log_ip.then_some(log.remote_ip.as_str()),
            status: log.status,
            kind: "request",
            url: &url,
            user_agent: &cut(&log.user_agent, MAX_USER_AGENT),
            user_ip: log_ip.then_some(log.user_ip.as_str()),
        };
        let mut data = match serde_json::to_string(&data) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(error = %e, "cannot encode a request log entry");
                return LogOutcome::Skipped;
            }
        };
        let max = setting_i64(logs, "maxDataSize", 0);
        // truncate_data counts `"key":value` per key, which adds up to less than the whole
        // object's text: an entry within the limit as a whole keeps every key.
        if max > 0 && data.len() > max as usize {
            let full: BTreeMap<String, Json> = serde_json::from_str(&data).unwrap_or_default();
            data =
                Json::Object(truncate_data(full, max as usize).into_iter().collect()).to_string();
        }
        let now = chrono::Utc::now();
        let row = LogRow {
            id: log_id(now.timestamp_millis()),
            created: sb_schema::datetime::format(now),
            level,
            message,
            data,
        };
        self.logs.offer(row)
    }

    /// Waits until every entry queued so far is written (shutdown, tests).
    pub async fn flush_logs(&self) {
        let (done, wait) = oneshot::channel();
        if self.logs.queue.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The request log store.
    pub fn logs_store(&self) -> &Arc<dyn Store> {
        &self.logs.store
    }

    /// Writes what is queued and closes the log store (when it is not the main store).
    pub async fn close_logs(&self) {
        self.flush_logs().await;
        if !Arc::ptr_eq(&self.logs.store, &self.store) {
            self.logs.store.close().await;
        }
    }

    fn logs_query(&self, params: &ListParams) -> CoreResult<ListQuery> {
        check_text(params.filter.as_deref())?;
        check_text(params.sort.as_deref())?;
        let request = self.system_request();
        ListQuery::build(
            &self.logs.schema,
            &self.logs.catalog,
            &request,
            params,
            Access::Full,
            None,
        )
    }

    /// `GET /api/logs`.
    pub async fn list_logs(&self, params: &ListParams) -> CoreResult<ListResult> {
        let query = self.logs_query(params)?;
        let (rows, total) = query.run(self.logs.store.as_ref(), &columns()).await?;
        let cols = rows.columns.clone();
        let items = rows.rows.into_iter().map(|r| row_json(&cols, r)).collect();
        Ok(ListResult::new(items, params, total))
    }

    /// `GET /api/logs/ID`.
    pub async fn view_log(&self, id: &str) -> CoreResult<Json> {
        let stmt = Stmt::Select(Select {
            columns: columns(),
            from: Some(FromItem::Table { name: LOGS_TABLE.into(), alias: Some("t".into()) }),
            where_: Some(crate::records::id_equals("t", id)),
            limit: Some(1),
            ..Default::default()
        });
        let rows = self.logs.store.query(&stmt).await?;
        let cols = rows.columns.clone();
        rows.rows.into_iter().next().map(|r| row_json(&cols, r)).ok_or_else(CoreError::not_found)
    }

    /// `GET /api/logs/stats`: entries per hour, oldest first.
    pub async fn log_stats(&self, filter: Option<&str>) -> CoreResult<Json> {
        let params = ListParams { filter: filter.map(str::to_owned), ..ListParams::default() };
        let query = self
            .logs_query(&params)
            .map_err(|_| CoreError::bad_request("Invalid filter format."))?;
        let hour = Expr::Strftime {
            format: Box::new(Expr::Str("%Y-%m-%d %H:00:00")),
            time: Some(Box::new(Expr::col("t", "created").typed(Ty::Text))),
            modifiers: Vec::new(),
        };
        let stmt = Stmt::Select(Select {
            columns: vec![
                SelectItem::Expr { expr: Expr::CountStar, alias: Some("total".into()) },
                SelectItem::Expr { expr: hour.clone(), alias: Some("date".into()) },
            ],
            from: Some(FromItem::Table { name: LOGS_TABLE.into(), alias: Some("t".into()) }),
            where_: query.where_().cloned(),
            group_by: vec![hour.clone()],
            order_by: vec![OrderBy { expr: hour, desc: false }],
            ..Default::default()
        });
        let rows = self.logs.store.query(&stmt).await.map_err(|e| {
            tracing::debug!(error = %e, "log stats query failed");
            CoreError::bad_request("Invalid filter format.")
        })?;
        let items = rows
            .rows
            .into_iter()
            .filter_map(|r| {
                let mut r = r.into_iter();
                let total = r.next()?.as_i64().unwrap_or(0);
                let date = r.next()?.into_string()?;
                Some(json!({"date": format!("{date}.000Z"), "total": total}))
            })
            .collect();
        Ok(Json::Array(items))
    }

    /// `DELETE /api/logs`: removes every entry.
    pub async fn delete_logs(&self) -> CoreResult<()> {
        self.delete_logs_where(None).await.map(drop)
    }

    async fn delete_logs_where(&self, where_: Option<Expr>) -> CoreResult<u64> {
        let stmt = Stmt::Delete(Delete { table: LOGS_TABLE.into(), where_ });
        let counts = self.logs.store.write(&[stmt]).await?;
        Ok(counts.into_iter().sum())
    }

    /// The retention job (`__pbLogsCleanup__`): deletes entries older than `logs.maxDays`
    /// days (all of them when it is 0). Returns how many were deleted.
    pub async fn cleanup_logs(&self) -> CoreResult<u64> {
        let days = self.settings().get(&["logs"]).map_or(5, |l| setting_i64(l, "maxDays", 5));
        let cutoff = chrono::Utc::now() - chrono::Duration::days(days.max(0));
        self.delete_logs_where(Some(Expr::Cmp {
            op: CmpOp::Lt,
            lhs: Box::new(Expr::bare("created").typed(Ty::Text)),
            rhs: Box::new(Expr::param(sb_schema::datetime::format(cutoff)).typed(Ty::Text)),
        }))
        .await
    }

    /// After the settings changed: `maxDays` 0 clears the log, and entries below `minLevel`
    /// are removed (as PocketBase does on save).
    pub(crate) async fn apply_log_settings(&self) {
        let settings = self.settings();
        let Some(logs) = settings.get(&["logs"]) else { return };
        // Entries queued under the old settings are written first, so they are covered too.
        self.flush_logs().await;
        let result = if setting_i64(logs, "maxDays", 5) <= 0 {
            self.delete_logs_where(None).await
        } else {
            let min = setting_i64(logs, "minLevel", 0);
            self.delete_logs_where(Some(Expr::Cmp {
                op: CmpOp::Lt,
                lhs: Box::new(Expr::bare("level").typed(Ty::Number)),
                rhs: Box::new(Expr::Param(Value::Float(min as f64)).typed(Ty::Number)),
            }))
            .await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot apply the log settings to stored logs");
        }
    }
}

#[cfg(test)]
mod tests;
