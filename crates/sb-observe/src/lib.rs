//! Metrics: every metric Scalebase exports is named, described and labelled here, and recorded
//! through the functions of this crate (so names and label sets cannot drift between callers).
//!
//! Recording goes through the `metrics` facade; [`exporter`] installs the process-wide
//! Prometheus recorder once and renders the text exposition format (process metrics — RSS, CPU,
//! open file descriptors — are sampled at each render). Before the recorder is installed the
//! recording functions are no-ops, so libraries and tests that never export pay nothing.
//!
//! Conventions: `scalebase_` prefix, base units (`_seconds`, `_bytes`), `_total` counters, and
//! only bounded label values — route templates (`/api/collections/{collection}/records`), never
//! raw paths.

pub mod node;
pub mod trace;

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The metric names.
pub mod names {
    pub const HTTP_REQUESTS: &str = "scalebase_http_requests_total";
    pub const HTTP_REQUEST_DURATION: &str = "scalebase_http_request_duration_seconds";
    pub const HTTP_IN_FLIGHT: &str = "scalebase_http_requests_in_flight";
    pub const RATE_LIMITED: &str = "scalebase_rate_limited_requests_total";
    pub const DB_QUERY_DURATION: &str = "scalebase_db_query_duration_seconds";
    pub const DB_POOL_CONNECTIONS: &str = "scalebase_db_pool_connections";
    pub const DB_POOL_WAIT_DURATION: &str = "scalebase_db_pool_wait_duration_seconds";
    pub const DB_POOL_WAITING: &str = "scalebase_db_pool_waiting";
    pub const DB_READS: &str = "scalebase_db_reads_total";
    pub const SQLITE_WRITER_QUEUE: &str = "scalebase_sqlite_writer_queue_depth";
    pub const SQLITE_COMMIT_GROUP_SIZE: &str = "scalebase_sqlite_commit_group_size";
    pub const REALTIME_CONNECTIONS: &str = "scalebase_realtime_connections";
    pub const REALTIME_EVENTS_DELIVERED: &str = "scalebase_realtime_events_delivered_total";
    pub const CACHE_REQUESTS: &str = "scalebase_cache_requests_total";
    pub const CLUSTER_MESSAGES: &str = "scalebase_cluster_messages_total";
    pub const CLUSTER_ACK_WAIT: &str = "scalebase_cluster_ack_wait_seconds";
    pub const REQUEST_LOGS_DROPPED: &str = "scalebase_request_logs_dropped_total";
    pub const GATEWAY_REQUESTS: &str = "scalebase_gateway_requests_total";
    pub const GATEWAY_REQUEST_DURATION: &str = "scalebase_gateway_request_duration_seconds";
    pub const GATEWAY_RETRIES: &str = "scalebase_gateway_retries_total";
    pub const GATEWAY_BUDGET_EXHAUSTED: &str = "scalebase_gateway_retry_budget_exhausted_total";
    pub const GATEWAY_OVERFLOW: &str = "scalebase_gateway_overflow_total";
    pub const GATEWAY_EJECTIONS: &str = "scalebase_gateway_ejections_total";
    pub const GATEWAY_UPSTREAM_HEALTHY: &str = "scalebase_gateway_upstream_healthy";
    pub const GATEWAY_RATE_LIMITED: &str = "scalebase_gateway_rate_limited_total";
    pub const GATEWAY_CACHE_LOOKUPS: &str = "scalebase_gateway_cache_lookups_total";
    pub const GATEWAY_CACHE_PURGES: &str = "scalebase_gateway_cache_purges_total";
    pub const GATEWAY_CACHE_BYTES: &str = "scalebase_gateway_cache_bytes";
    pub const GATEWAY_CACHE_ENTRIES: &str = "scalebase_gateway_cache_entries";
    pub const GATEWAY_CACHE_TRUSTED: &str = "scalebase_gateway_cache_trusted";

    /// Every name above (the deploy kit's dashboards and alerts are checked against it).
    pub const ALL: &[&str] = &[
        HTTP_REQUESTS,
        HTTP_REQUEST_DURATION,
        HTTP_IN_FLIGHT,
        RATE_LIMITED,
        DB_QUERY_DURATION,
        DB_POOL_CONNECTIONS,
        DB_POOL_WAIT_DURATION,
        DB_POOL_WAITING,
        DB_READS,
        SQLITE_WRITER_QUEUE,
        SQLITE_COMMIT_GROUP_SIZE,
        REALTIME_CONNECTIONS,
        REALTIME_EVENTS_DELIVERED,
        CACHE_REQUESTS,
        CLUSTER_MESSAGES,
        CLUSTER_ACK_WAIT,
        REQUEST_LOGS_DROPPED,
        GATEWAY_REQUESTS,
        GATEWAY_REQUEST_DURATION,
        GATEWAY_RETRIES,
        GATEWAY_BUDGET_EXHAUSTED,
        GATEWAY_OVERFLOW,
        GATEWAY_EJECTIONS,
        GATEWAY_UPSTREAM_HEALTHY,
        GATEWAY_RATE_LIMITED,
        GATEWAY_CACHE_LOOKUPS,
        GATEWAY_CACHE_PURGES,
        GATEWAY_CACHE_BYTES,
        GATEWAY_CACHE_ENTRIES,
        GATEWAY_CACHE_TRUSTED,
    ];

    /// Process metrics sampled at each scrape (Prometheus' standard names).
    pub const PROCESS: &[&str] = &[
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
        "process_threads",
    ];
}

use names::*;

/// Latency buckets (seconds): 0.25 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Commit group sizes.
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The installed Prometheus recorder.
pub struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Exporter {
    /// The current metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    /// Drains histogram samples into their buckets; [`Exporter::render`] does it too. Call
    /// it periodically when scrapes may be rare.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// Installs the process-wide recorder (once; later calls return the same exporter). `None`
/// when another recorder was installed first by someone else.
pub fn exporter() -> Option<&'static Exporter> {
    static EXPORTER: OnceLock<Option<Exporter>> = OnceLock::new();
    EXPORTER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(SQLITE_COMMIT_GROUP_SIZE.into()),
                        GROUP_BUCKETS,
                    )
                })
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            let process = metrics_process::Collector::default();
            process.describe();
            Some(Exporter { handle, process })
        })
        .as_ref()
}

/// The `Content-Type` of [`Exporter::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time from request to response headers, by route template, method and status."
    );
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being processed.");
    describe_counter!(RATE_LIMITED, "Requests refused with 429 by a rate limit, by kind.");
    describe_histogram!(
        DB_QUERY_DURATION,
        Unit::Seconds,
        "Database statement latency, by backend and operation."
    );
    describe_gauge!(DB_POOL_CONNECTIONS, "Database pool connections, by backend and state.");
    describe_histogram!(
        DB_POOL_WAIT_DURATION,
        Unit::Seconds,
        "Time spent waiting for a pooled database connection, by backend."
    );
    describe_gauge!(DB_POOL_WAITING, "Callers waiting for a pooled database connection.");
    describe_counter!(
        DB_READS,
        "Reads outside transactions on a PostgreSQL store with read replicas, by where they ran \
         (primary or replica)."
    );
    describe_gauge!(SQLITE_WRITER_QUEUE, "Jobs queued for the SQLite writer thread.");
    describe_histogram!(
        SQLITE_COMMIT_GROUP_SIZE,
        "Transactions committed together by one SQLite COMMIT (group commit)."
    );
    describe_gauge!(REALTIME_CONNECTIONS, "Open realtime (SSE) connections.");
    describe_counter!(REALTIME_EVENTS_DELIVERED, "Realtime events sent to clients.");
    describe_counter!(CACHE_REQUESTS, "Cache lookups, by cache and result (hit, miss or bypass).");
    describe_counter!(
        CLUSTER_MESSAGES,
        "Messages sent to the other nodes, by kind and whether they were published."
    );
    describe_histogram!(
        CLUSTER_ACK_WAIT,
        Unit::Seconds,
        "Time a write waited for every node to apply its invalidation, by whether all answered."
    );
    describe_counter!(
        REQUEST_LOGS_DROPPED,
        "Request log entries (`/api/logs`) dropped because the log writer's queue was full."
    );
    describe_counter!(
        GATEWAY_REQUESTS,
        "Requests the gateway answered, by pool, upstream (`-`: none reached) and status class."
    );
    describe_histogram!(
        GATEWAY_REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival at the gateway to its response head, by pool."
    );
    describe_counter!(GATEWAY_RETRIES, "Requests the gateway tried again, by pool and reason.");
    describe_counter!(GATEWAY_BUDGET_EXHAUSTED, "Retries the gateway's retry budget refused.");
    describe_counter!(GATEWAY_OVERFLOW, "Requests refused by a pool's circuit-breaking limits.");
    describe_counter!(GATEWAY_EJECTIONS, "Upstreams ejected after consecutive failures.");
    describe_gauge!(GATEWAY_UPSTREAM_HEALTHY, "Whether an upstream passes its active check (1/0).");
    describe_counter!(GATEWAY_RATE_LIMITED, "Requests the gateway refused with 429, by pool.");
    describe_counter!(
        GATEWAY_CACHE_LOOKUPS,
        "Requests on the gateway's cached routes, by pool and result (hit, miss or bypass)."
    );
    describe_counter!(
        GATEWAY_CACHE_PURGES,
        "Times the gateway's response cache forgot everything, by reason \
         (invalidate, write, link, reload, admin)."
    );
    describe_gauge!(
        GATEWAY_CACHE_BYTES,
        Unit::Bytes,
        "What the gateway's cached responses weigh (bodies and headers)."
    );
    describe_gauge!(GATEWAY_CACHE_ENTRIES, "Responses (and Vary records) the gateway keeps.");
    describe_gauge!(
        GATEWAY_CACHE_TRUSTED,
        "Whether the gateway's response cache hears its invalidation channel and is used (1/0)."
    );
}

/// One answered HTTP request. `route` must be a route template (or `"unmatched"`).
pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_REQUEST_DURATION, &labels).record(elapsed.as_secs_f64());
    node::request(elapsed);
}

/// Counts a request entering (`+1`) or leaving (`-1`) processing.
pub fn http_in_flight(delta: f64) {
    gauge!(HTTP_IN_FLIGHT).increment(delta);
    node::in_flight(delta);
}

/// A request refused by a rate limit; `kind` is `rule` or `failed_auth`.
pub fn rate_limited(kind: &'static str) {
    counter!(RATE_LIMITED, "kind" => kind).increment(1);
}

/// Which storage engine recorded a database metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One database statement (`operation`: select, insert, update, delete, ddl, commit, other).
pub fn db_query(backend: Backend, operation: &'static str, elapsed: Duration) {
    histogram!(DB_QUERY_DURATION, "backend" => backend.as_str(), "operation" => operation)
        .record(elapsed.as_secs_f64());
}

/// The pool's connections right now.
pub fn db_pool(backend: Backend, idle: usize, busy: usize, waiting: usize) {
    let b = backend.as_str();
    gauge!(DB_POOL_CONNECTIONS, "backend" => b, "state" => "idle").set(idle as f64);
    gauge!(DB_POOL_CONNECTIONS, "backend" => b, "state" => "busy").set(busy as f64);
    gauge!(DB_POOL_WAITING, "backend" => b).set(waiting as f64);
}

/// Time a caller waited for a pooled connection.
pub fn db_pool_wait(backend: Backend, elapsed: Duration) {
    histogram!(DB_POOL_WAIT_DURATION, "backend" => backend.as_str()).record(elapsed.as_secs_f64());
}

/// Where a read of a store with read replicas ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadTarget {
    Primary,
    Replica,
}

/// One read outside a transaction on a store with read replicas.
pub fn db_read(target: ReadTarget) {
    let target = match target {
        ReadTarget::Primary => "primary",
        ReadTarget::Replica => "replica",
    };
    counter!(DB_READS, "target" => target).increment(1);
}

/// Jobs waiting for the SQLite writer.
pub fn sqlite_writer_queue(depth: usize) {
    gauge!(SQLITE_WRITER_QUEUE).set(depth as f64);
}

/// Transactions in one committed SQLite group.
pub fn sqlite_commit_group(size: usize) {
    histogram!(SQLITE_COMMIT_GROUP_SIZE).record(size as f64);
}

/// A realtime connection opened (`+1`) or closed (`-1`).
pub fn realtime_connections(delta: f64) {
    gauge!(REALTIME_CONNECTIONS).increment(delta);
    node::realtime(delta);
}

/// Realtime events written to client streams.
pub fn realtime_events_delivered(n: u64) {
    counter!(REALTIME_EVENTS_DELIVERED).increment(n);
}

/// A cache lookup; `result` is `hit`, `miss`, or `bypass` (the cache could not be trusted, so
/// it was neither read nor filled).
pub fn cache_lookup(cache: &'static str, result: &'static str) {
    counter!(CACHE_REQUESTS, "cache" => cache, "result" => result).increment(1);
    node::cache(result);
}

/// A message sent to the other nodes of the cluster (`kind`: invalidate, event, subscribe …)
/// and whether it was published.
pub fn cluster_message(kind: &'static str, published: bool) {
    counter!(CLUSTER_MESSAGES, "kind" => kind, "published" => if published { "yes" } else { "no" })
        .increment(1);
}

/// Time a write waited for the other nodes to apply its invalidation.
pub fn cluster_ack_wait(elapsed: Duration, complete: bool) {
    histogram!(CLUSTER_ACK_WAIT, "complete" => if complete { "yes" } else { "no" })
        .record(elapsed.as_secs_f64());
}

/// A request log entry dropped: the log writer's queue was full.
pub fn request_log_dropped() {
    counter!(REQUEST_LOGS_DROPPED).increment(1);
}

/// The SQL operation of a statement text, for [`db_query`]'s label.
pub fn sql_operation(sql: &str) -> &'static str {
    let word = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
    match word.to_ascii_lowercase().as_str() {
        "select" | "with" => "select",
        "insert" => "insert",
        "update" => "update",
        "delete" => "delete",
        "create" | "drop" | "alter" => "ddl",
        "commit" => "commit",
        _ => "other",
    }
}

#[cfg(test)]
mod tests;

/// The gateway's metrics (`sb-gateway`; labels: pool names and upstream URLs from its
/// configuration, bounded by it).
pub mod gateway {
    use super::{counter, gauge, histogram, names};
    use std::time::Duration;

    const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    fn class(status: u16) -> usize {
        usize::from((status / 100).clamp(1, 5) - 1)
    }

    /// A request answered: by which pool and upstream (`-` when none was reached), its status.
    pub fn request(pool: &str, upstream: &str, status: u16, elapsed: Duration) {
        counter!(names::GATEWAY_REQUESTS, "pool" => pool.to_owned(),
            "upstream" => upstream.to_owned(), "class" => CLASSES[class(status)])
        .increment(1);
        histogram!(names::GATEWAY_REQUEST_DURATION, "pool" => pool.to_owned())
            .record(elapsed.as_secs_f64());
    }

    /// [`request`] for one pool and upstream, with the metric handles looked up once (on
    /// first use) instead of on every request.
    pub struct Requests {
        pool: String,
        upstream: String,
        counters: [std::sync::OnceLock<metrics::Counter>; 5],
        duration: std::sync::OnceLock<metrics::Histogram>,
    }

    impl Requests {
        pub fn new(pool: &str, upstream: &str) -> Requests {
            Requests {
                pool: pool.to_owned(),
                upstream: upstream.to_owned(),
                counters: Default::default(),
                duration: Default::default(),
            }
        }

        pub fn record(&self, status: u16, elapsed: Duration) {
            let class = class(status);
            self.counters[class]
                .get_or_init(|| {
                    counter!(names::GATEWAY_REQUESTS, "pool" => self.pool.clone(),
                        "upstream" => self.upstream.clone(), "class" => CLASSES[class])
                })
                .increment(1);
            self.duration
                .get_or_init(
                    || histogram!(names::GATEWAY_REQUEST_DURATION, "pool" => self.pool.clone()),
                )
                .record(elapsed.as_secs_f64());
        }
    }

    /// A request tried again (`reason`: connect, timeout, reset, status).
    pub fn retry(pool: &str, reason: &'static str) {
        counter!(names::GATEWAY_RETRIES, "pool" => pool.to_owned(), "reason" => reason)
            .increment(1);
    }

    /// A retry refused by the budget.
    pub fn budget_exhausted(pool: &str) {
        counter!(names::GATEWAY_BUDGET_EXHAUSTED, "pool" => pool.to_owned()).increment(1);
    }

    /// A request refused by its route's rate limit.
    pub fn rate_limited(pool: &str) {
        counter!(names::GATEWAY_RATE_LIMITED, "pool" => pool.to_owned()).increment(1);
    }

    /// A request refused by the pool's circuit-breaking limits.
    pub fn overflow(pool: &str) {
        counter!(names::GATEWAY_OVERFLOW, "pool" => pool.to_owned()).increment(1);
    }

    pub fn ejected(pool: &str, upstream: &str) {
        counter!(names::GATEWAY_EJECTIONS, "pool" => pool.to_owned(),
            "upstream" => upstream.to_owned())
        .increment(1);
    }

    /// A request on a cached route: `result` is hit, miss or bypass.
    pub fn cache_lookup(pool: &str, result: &'static str) {
        counter!(names::GATEWAY_CACHE_LOOKUPS, "pool" => pool.to_owned(), "result" => result)
            .increment(1);
    }

    /// The response cache forgot everything (`reason`: invalidate, write, link, reload, admin).
    pub fn cache_purge(reason: &'static str) {
        counter!(names::GATEWAY_CACHE_PURGES, "reason" => reason).increment(1);
    }

    /// The response cache's size and whether it is used.
    pub fn cache_size(bytes: u64, entries: u64, trusted: bool) {
        gauge!(names::GATEWAY_CACHE_BYTES).set(bytes as f64);
        gauge!(names::GATEWAY_CACHE_ENTRIES).set(entries as f64);
        gauge!(names::GATEWAY_CACHE_TRUSTED).set(if trusted { 1.0 } else { 0.0 });
    }

    /// An upstream's active-check state (1 healthy, 0 not).
    pub fn health(pool: &str, upstream: &str, healthy: bool) {
        gauge!(names::GATEWAY_UPSTREAM_HEALTHY, "pool" => pool.to_owned(),
            "upstream" => upstream.to_owned())
        .set(if healthy { 1.0 } else { 0.0 });
    }
}
