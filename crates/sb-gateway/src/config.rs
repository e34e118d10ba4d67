//! The gateway's configuration: listeners, pools of upstreams with their policies, and routes
//! from host and path prefix to a pool. Read from TOML (`scalebase gateway --config FILE`) or
//! built from the quick command-line form (one pool, round robin, checks on `/api/health`).
//!
//! ```toml
//! workers = 2                        # serving threads (default: one per CPU)
//!
//! [[listeners]]
//! addr = "127.0.0.1:8080"
//!
//! [[listeners]]                      # TLS, with certificates by server name
//! addr = "0.0.0.0:8443"
//! tls = { cert = "default.crt", key = "default.key", sni = [{ host = "api.example.com", cert = "api.crt", key = "api.key" }] }
//!
//! [[pools]]
//! name = "app"
//! balance = "least_request"          # round_robin | least_request | hash
//! hash_on = "header:x-user-id"       # with balance = "hash": header:NAME | cookie:NAME | client_ip
//! upstreams = [{ url = "http://127.0.0.1:8090" }, { url = "http://127.0.0.1:8091", weight = 2 }]
//! health = { path = "/api/ready", interval_ms = 1000, timeout_ms = 1000, rise = 2, fall = 2 }
//! outlier = { consecutive_failures = 5, base_ejection_ms = 5000, max_ejected_percent = 50 }
//! retry = { attempts = 3, per_try_timeout_ms = 10000, budget_percent = 20, min_retries_per_second = 10 }
//! limits = { max_requests = 1024, max_pending = 1024, max_connections = 512, max_idle_connections = 64 }
//!
//! [[routes]]
//! host = "api.example.com"           # optional; any host when absent
//! path_prefix = "/"
//! pool = "app"
//! # optional: per client (client_ip or header:NAME); global = counted in [redis] by every gateway
//! rate_limit = { requests = 100, period_ms = 1000, key = "client_ip", global = true }
//! # optional: cache GET/HEAD answers (see below); absent = this route is never cached
//! cache = { ttl_ms = 2000, authorized = false, max_body_bytes = 1048576 }
//!
//! [redis]                            # for global rate limits (and cache invalidations)
//! url = "redis://127.0.0.1:6379"
//! prefix = "scalebase:gateway:"
//!
//! [cache]                            # needed when a route has `cache`
//! max_mb = 64                        # bodies and headers kept, in MiB
//! invalidations = "redis"            # "redis" | { postgres = "postgres://…" } | "none"
//! channel_prefix = "scalebase:"      # with "redis": the nodes' --redis-prefix
//! ```
//!
//! The response cache (`cache.rs`, `cluster.rs`): a route's `cache` stores GET answers that
//! HTTP allows a shared cache to keep (RFC 9111: statuses 200, 203, 204, 300, 301, 308, 404,
//! 405, 410, 414 and 501; no `no-store`, `private`, `no-cache`, `Set-Cookie`, `Vary: *` or
//! `text/event-stream`; bodies up to `max_body_bytes`), fresh for `s-maxage`, `max-age` or
//! `Expires` when the upstream says, else for `ttl_ms`. Requests carrying `Authorization` or
//! `Cookie` are passed through untouched unless the route sets `authorized = true`, which
//! keys entries by those headers' values. Answers carry `X-Cache: HIT`, `MISS` or `BYPASS`
//! (see `cache.rs`). With `invalidations`, the gateway joins the nodes' cluster channel
//! (`<channel_prefix>cluster` in Redis at `[redis] url`, or PostgreSQL's `scalebase_cluster`
//! notifications) and forgets every entry when a node reports a write; `"none"` keeps entries
//! for their freshness whatever the nodes write.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// A configuration that failed validation.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub listeners: Vec<ListenerConfig>,
    pub pools: Vec<PoolConfig>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// How long in-flight requests may take to finish after SIGTERM.
    #[serde(default = "defaults::drain_ms")]
    pub drain_ms: u64,
    /// Redis for the global rate limits (shared by every gateway and node using it) and for
    /// cache invalidations over Redis.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// The response cache's size and invalidation channel.
    #[serde(default)]
    pub cache: Option<CacheConfig>,
    /// Threads serving requests, each with its own single-threaded runtime and its own
    /// upstream connections (default: one per CPU). Not changed by a reload.
    #[serde(default)]
    pub workers: Option<usize>,
}

/// The response cache shared by the routes that have `cache`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// What the stored answers may weigh in all (bodies and headers), in MiB.
    #[serde(default = "defaults::cache_max_mb")]
    pub max_mb: u64,
    /// `"redis"`, `{ postgres = "postgres://…" }` or `"none"` (see [`Invalidations`]).
    pub invalidations: toml::Value,
    /// With `invalidations = "redis"`: the nodes' key prefix (`--redis-prefix`); the channel is
    /// `<channel_prefix>cluster`.
    #[serde(default = "defaults::channel_prefix")]
    pub channel_prefix: String,
}

/// Where the gateway hears of the nodes' writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidations {
    /// Not at all: entries live for their freshness.
    None,
    /// Redis pub/sub on `channel` at `url` (the `[redis]` section's).
    Redis { url: String, channel: String },
    /// PostgreSQL LISTEN/NOTIFY on the nodes' database.
    Postgres { url: String },
}

impl CacheConfig {
    /// The channel to join, checked against `redis`.
    pub fn invalidations(&self, redis: Option<&RedisConfig>) -> Result<Invalidations, ConfigError> {
        let wrong =
            || err("cache.invalidations is \"redis\", \"none\" or { postgres = \"postgres://…\" }");
        match &self.invalidations {
            toml::Value::String(name) if name == "none" => Ok(Invalidations::None),
            toml::Value::String(name) if name == "redis" => {
                let Some(redis) = redis else {
                    return Err(err("cache.invalidations = \"redis\" needs [redis]"));
                };
                Ok(Invalidations::Redis {
                    url: redis.url.clone(),
                    channel: format!("{}cluster", self.channel_prefix),
                })
            }
            toml::Value::Table(table) if table.len() == 1 => {
                let url = table.get("postgres").and_then(toml::Value::as_str).ok_or_else(wrong)?;
                let _: tokio_postgres::Config = url.parse().map_err(|e| {
                    err(format!("cache.invalidations: invalid PostgreSQL URL: {e}"))
                })?;
                Ok(Invalidations::Postgres { url: url.to_owned() })
            }
            _ => Err(wrong()),
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_mb.saturating_mul(1024 * 1024)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: String,
    #[serde(default = "defaults::redis_prefix")]
    pub prefix: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub addr: SocketAddr,
    /// Terminates TLS on this listener.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// Certificates of a TLS listener (PEM files: the chain, and its private key).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The default certificate (for clients that send no name, or one no `sni` entry has).
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// Certificates by server name (SNI).
    #[serde(default)]
    pub sni: Vec<SniConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SniConfig {
    pub host: String,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    #[default]
    RoundRobin,
    /// Power of two choices over in-flight requests weighted by peak-EWMA latency.
    LeastRequest,
    /// Consistent hashing on [`PoolConfig::hash_on`].
    Hash,
}

/// What consistent hashing keys on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    Header(http::HeaderName),
    Cookie(String),
    ClientIp,
}

impl HashOn {
    fn parse(text: &str) -> Result<HashOn, ConfigError> {
        if text == "client_ip" {
            return Ok(HashOn::ClientIp);
        }
        if let Some(name) = text.strip_prefix("header:") {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| err(format!("hash_on: invalid header name {name:?}")))?;
            return Ok(HashOn::Header(name));
        }
        if let Some(name) = text.strip_prefix("cookie:").filter(|n| !n.is_empty()) {
            return Ok(HashOn::Cookie(name.to_owned()));
        }
        Err(err(format!("hash_on must be header:NAME, cookie:NAME or client_ip, not {text:?}")))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub name: String,
    #[serde(default)]
    pub balance: Balance,
    #[serde(default)]
    pub hash_on: Option<String>,
    pub upstreams: Vec<UpstreamConfig>,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub outlier: OutlierConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
}

impl PoolConfig {
    /// The hashing key, when the pool balances by hash.
    pub fn hash_key(&self) -> Result<Option<HashOn>, ConfigError> {
        match (self.balance, &self.hash_on) {
            (Balance::Hash, Some(text)) => HashOn::parse(text).map(Some),
            (Balance::Hash, None) => Err(err(format!(
                "pool {}: balance = \"hash\" needs hash_on (header:NAME, cookie:NAME or client_ip)",
                self.name
            ))),
            (_, Some(_)) => {
                Err(err(format!("pool {}: hash_on is only for balance = \"hash\"", self.name)))
            }
            (_, None) => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `http://host:port` (a base path is allowed and prefixed to every request path).
    pub url: String,
    #[serde(default = "defaults::weight")]
    pub weight: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Checked with GET; any 2xx is healthy. Scalebase's readiness endpoint by default.
    pub path: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Consecutive successes that bring an unhealthy upstream back.
    pub rise: u32,
    /// Consecutive failures that take a healthy upstream out.
    pub fall: u32,
    /// `false` turns active checks off (every upstream counts as healthy).
    pub enabled: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            path: "/api/ready".into(),
            interval_ms: 1000,
            timeout_ms: 1000,
            rise: 2,
            fall: 2,
            enabled: true,
        }
    }
}

impl HealthConfig {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutlierConfig {
    /// Consecutive gateway-classified failures (connect failure, reset, timeout, 502/503/504)
    /// that eject an upstream.
    pub consecutive_failures: u32,
    /// The first ejection's length; each further ejection of the same upstream is one base
    /// longer, up to [`OutlierConfig::max_ejection_ms`].
    pub base_ejection_ms: u64,
    pub max_ejection_ms: u64,
    /// At most this share of a pool is ever ejected (at least one upstream stays).
    pub max_ejected_percent: u32,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_failures: 5,
            base_ejection_ms: 5_000,
            max_ejection_ms: 300_000,
            max_ejected_percent: 50,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Tries per request in all (1: no retries). Only idempotent requests (or requests that
    /// never reached an upstream) are tried again, each time on another upstream.
    pub attempts: u32,
    pub per_try_timeout_ms: u64,
    /// Retries allowed on top of the requests of the last ten seconds, in percent …
    pub budget_percent: u32,
    /// … plus this many per second.
    pub min_retries_per_second: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 3,
            per_try_timeout_ms: 15_000,
            budget_percent: 20,
            min_retries_per_second: 10,
        }
    }
}

impl RetryConfig {
    pub fn per_try_timeout(&self) -> Duration {
        Duration::from_millis(self.per_try_timeout_ms)
    }
}

/// Circuit-breaking limits of a pool: requests beyond them get 503 at once.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests in flight to the pool's upstreams.
    pub max_requests: usize,
    /// Requests waiting for a free slot (beyond `max_requests`).
    pub max_pending: usize,
    /// Connections open to each upstream at once; a request that needs another waits (within
    /// its per-try timeout) for one to close or to become idle.
    pub max_connections: usize,
    /// Idle connections kept per upstream.
    pub max_idle_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_requests: 4096,
            max_pending: 1024,
            max_connections: 1024,
            max_idle_connections: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "defaults::prefix")]
    pub path_prefix: String,
    pub pool: String,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// Caches this route's GET answers (`[cache]` needed).
    #[serde(default)]
    pub cache: Option<RouteCacheConfig>,
}

/// How a route's answers are cached.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteCacheConfig {
    /// Freshness of an answer whose upstream gave none (`Cache-Control: s-maxage`/`max-age`,
    /// `Expires`); 0: only answers with a freshness of their own are stored.
    pub ttl_ms: u64,
    /// Requests with `Authorization` or `Cookie` use the cache too, keyed by those values
    /// (each credential sees only what was fetched with it). Off: they always go upstream.
    #[serde(default)]
    pub authorized: bool,
    /// Larger bodies are passed through, not stored.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
}

impl RouteCacheConfig {
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }
}

impl RouteConfig {
    /// What identifies the route in limiter keys (stable across reloads).
    pub fn id(&self) -> String {
        format!("{}{}", self.host.as_deref().unwrap_or("*"), self.path_prefix)
    }
}

/// At most `requests` per `period_ms` per client of a route (GCRA: a burst of `requests`,
/// then one every `period_ms / requests`); beyond that, 429.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub requests: u32,
    #[serde(default = "defaults::period_ms")]
    pub period_ms: u64,
    /// Who is a client: `client_ip` (IPv6 by /64), or `header:NAME` (the client IP when the
    /// header is absent).
    #[serde(default = "defaults::limit_key")]
    pub key: String,
    /// Counted in Redis across every gateway (`[redis]` needed); this gateway's own counts
    /// decide while Redis does not answer.
    #[serde(default)]
    pub global: bool,
}

impl RateLimitConfig {
    pub fn header(&self) -> Option<http::HeaderName> {
        self.key
            .strip_prefix("header:")
            .and_then(|n| http::HeaderName::from_bytes(n.as_bytes()).ok())
    }
}

mod defaults {
    pub(super) fn drain_ms() -> u64 {
        10_000
    }
    pub(super) fn weight() -> u32 {
        1
    }
    pub(super) fn prefix() -> String {
        "/".into()
    }
    pub(super) fn redis_prefix() -> String {
        "scalebase:gateway:".into()
    }
    pub(super) fn period_ms() -> u64 {
        1000
    }
    pub(super) fn limit_key() -> String {
        "client_ip".into()
    }
    pub(super) fn cache_max_mb() -> u64 {
        64
    }
    pub(super) fn channel_prefix() -> String {
        "scalebase:".into()
    }
    pub(super) fn max_body_bytes() -> u64 {
        1024 * 1024
    }
}

impl GatewayConfig {
    /// How many serving threads: `workers`, else one per CPU.
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// Parses and validates TOML.
    pub fn from_toml(text: &str) -> Result<GatewayConfig, ConfigError> {
        let config: GatewayConfig =
            toml::from_str(text).map_err(|e| err(format!("invalid gateway configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// The quick form: one listener, one pool of `upstreams`, round robin, every path.
    pub fn quick(listen: SocketAddr, upstreams: &[String]) -> Result<GatewayConfig, ConfigError> {
        let config = GatewayConfig {
            listeners: vec![ListenerConfig { addr: listen, tls: None }],
            pools: vec![PoolConfig {
                name: "default".into(),
                balance: Balance::RoundRobin,
                hash_on: None,
                upstreams: upstreams
                    .iter()
                    .map(|url| UpstreamConfig { url: url.clone(), weight: 1 })
                    .collect(),
                health: HealthConfig { path: "/api/health".into(), ..Default::default() },
                outlier: OutlierConfig::default(),
                retry: RetryConfig::default(),
                limits: LimitsConfig::default(),
            }],
            routes: vec![RouteConfig {
                host: None,
                path_prefix: "/".into(),
                pool: "default".into(),
                rate_limit: None,
                cache: None,
            }],
            drain_ms: defaults::drain_ms(),
            redis: None,
            cache: None,
            workers: None,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, references, URLs and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listeners.is_empty() {
            return Err(err("at least one listener is needed"));
        }
        if self.pools.is_empty() {
            return Err(err("at least one pool is needed"));
        }
        for (i, pool) in self.pools.iter().enumerate() {
            if pool.name.is_empty() {
                return Err(err("a pool needs a name"));
            }
            if self.pools[..i].iter().any(|p| p.name == pool.name) {
                return Err(err(format!("pool {} is defined twice", pool.name)));
            }
            if pool.upstreams.is_empty() {
                return Err(err(format!("pool {} has no upstreams", pool.name)));
            }
            for u in &pool.upstreams {
                parse_upstream(&u.url)
                    .map_err(|e| err(format!("pool {}: upstream {:?}: {e}", pool.name, u.url)))?;
                if u.weight == 0 || u.weight > 1000 {
                    return Err(err(format!("pool {}: weights go from 1 to 1000", pool.name)));
                }
            }
            pool.hash_key()?;
            if !pool.health.path.starts_with('/') {
                return Err(err(format!("pool {}: health.path must start with /", pool.name)));
            }
            if pool.health.interval_ms < 10 || pool.health.rise == 0 || pool.health.fall == 0 {
                return Err(err(format!(
                    "pool {}: health needs interval_ms >= 10 and rise, fall >= 1",
                    pool.name
                )));
            }
            if pool.retry.attempts == 0 || pool.retry.attempts > 10 {
                return Err(err(format!("pool {}: retry.attempts goes from 1 to 10", pool.name)));
            }
            if pool.retry.per_try_timeout_ms == 0 {
                return Err(err(format!("pool {}: retry.per_try_timeout_ms is 0", pool.name)));
            }
            if pool.outlier.max_ejected_percent > 100 {
                return Err(err(format!("pool {}: max_ejected_percent over 100", pool.name)));
            }
            if pool.limits.max_connections == 0
                || pool.limits.max_connections > tokio::sync::Semaphore::MAX_PERMITS
            {
                return Err(err(format!(
                    "pool {}: limits.max_connections is out of range",
                    pool.name
                )));
            }
            if pool.limits.max_requests == 0 {
                return Err(err(format!("pool {}: limits.max_requests is 0", pool.name)));
            }
        }
        for route in &self.routes {
            if !route.path_prefix.starts_with('/') {
                return Err(err(format!("route prefix {:?} must start with /", route.path_prefix)));
            }
            if !self.pools.iter().any(|p| p.name == route.pool) {
                return Err(err(format!(
                    "a route names pool {}, which does not exist",
                    route.pool
                )));
            }
            if let Some(limit) = &route.rate_limit {
                let id = route.id();
                if limit.requests == 0 || limit.period_ms == 0 {
                    return Err(err(format!(
                        "route {id}: rate_limit needs requests and period_ms above 0"
                    )));
                }
                if limit.key != "client_ip" && limit.header().is_none() {
                    return Err(err(format!(
                        "route {id}: rate_limit.key is client_ip or header:NAME"
                    )));
                }
                if limit.global && self.redis.is_none() {
                    return Err(err(format!("route {id}: a global rate limit needs [redis]")));
                }
            }
            if let Some(cache) = &route.cache {
                let id = route.id();
                if self.cache.is_none() {
                    return Err(err(format!(
                        "route {id}: cache needs a [cache] section (its size and invalidations)"
                    )));
                }
                if cache.ttl_ms > 86_400_000 {
                    return Err(err(format!("route {id}: cache.ttl_ms is at most a day")));
                }
                if cache.max_body_bytes == 0 || cache.max_body_bytes > 64 * 1024 * 1024 {
                    return Err(err(format!(
                        "route {id}: cache.max_body_bytes goes from 1 to 67108864"
                    )));
                }
            }
        }
        if let Some(cache) = &self.cache {
            if cache.max_mb == 0 || cache.max_mb > 1024 * 1024 {
                return Err(err("cache.max_mb goes from 1 to 1048576"));
            }
            if cache.channel_prefix.contains(char::is_whitespace) {
                return Err(err("cache.channel_prefix has spaces"));
            }
            cache.invalidations(self.redis.as_ref())?;
        }
        Ok(())
    }
}

/// An upstream's scheme, authority and base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    pub authority: http::uri::Authority,
    /// Prefixed to every request path ("" when none).
    pub base_path: String,
}

pub fn parse_upstream(url: &str) -> Result<UpstreamUrl, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() != "http" {
        return Err("only http:// upstreams are supported".into());
    }
    let host = parsed.host_str().ok_or("no host")?;
    let port = parsed.port_or_known_default().ok_or("no port")?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let authority = format!("{host}:{port}").parse().map_err(|_| "invalid authority")?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("no query or fragment allowed".into());
    }
    let base_path = parsed.path().trim_end_matches('/').to_owned();
    Ok(UpstreamUrl { authority, base_path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_and_defaults_fill_the_rest() {
        let config = GatewayConfig::from_toml(
            r#"
            [[listeners]]
            addr = "127.0.0.1:8080"
            [[pools]]
            name = "app"
            balance = "hash"
            hash_on = "cookie:sid"
            upstreams = [{ url = "http://127.0.0.1:8090" }, { url = "http://127.0.0.1:8091/base/", weight = 3 }]
            retry = { attempts = 2 }
            [[routes]]
            host = "api.example.com"
            pool = "app"
            cache = { ttl_ms = 1500 }
            [redis]
            url = "redis://127.0.0.1:6379"
            [cache]
            invalidations = "redis"
            "#,
        )
        .unwrap();
        let route_cache = config.routes[0].cache.as_ref().unwrap();
        assert_eq!(
            (route_cache.ttl(), route_cache.authorized),
            (Duration::from_millis(1500), false)
        );
        assert_eq!(route_cache.max_body_bytes, 1024 * 1024);
        let cache = config.cache.as_ref().unwrap();
        assert_eq!(cache.max_bytes(), 64 << 20);
        assert_eq!(
            cache.invalidations(config.redis.as_ref()).unwrap(),
            Invalidations::Redis {
                url: "redis://127.0.0.1:6379".into(),
                channel: "scalebase:cluster".into()
            }
        );
        let pool = &config.pools[0];
        assert_eq!(pool.hash_key().unwrap(), Some(HashOn::Cookie("sid".into())));
        assert_eq!(pool.retry.attempts, 2);
        assert_eq!(pool.retry.budget_percent, 20);
        assert_eq!(pool.health.path, "/api/ready");
        assert_eq!(config.routes[0].path_prefix, "/");
        let up = parse_upstream(&pool.upstreams[1].url).unwrap();
        assert_eq!((up.authority.as_str(), up.base_path.as_str()), ("127.0.0.1:8091", "/base"));
    }

    #[test]
    fn mistakes_are_reported_with_what_is_wrong() {
        let bad = |text: &str| GatewayConfig::from_toml(text).unwrap_err().0;
        let head = "[[listeners]]\naddr = \"127.0.0.1:1\"\n";
        assert!(bad(head).contains("missing field `pools`"));
        let pool = |extra: &str| {
            format!(
                "{head}[[pools]]\nname = \"p\"\nupstreams = [{{ url = \"http://127.0.0.1:2\" }}]\n{extra}"
            )
        };
        assert!(bad(&pool("balance = \"hash\"")).contains("needs hash_on"));
        assert!(bad(&pool("hash_on = \"client_ip\"")).contains("only for balance"));
        assert!(bad(&pool("balance = \"fastest\"")).contains("unknown variant"));
        assert!(bad(&pool("[[routes]]\npool = \"q\"")).contains("does not exist"));
        assert!(bad(&pool("retry = { attempts = 0 }")).contains("from 1 to 10"));
        assert!(bad(&pool("colour = 1")).contains("unknown field"));
        let route = |limit: &str| pool(&format!("[[routes]]\npool = \"p\"\nrate_limit = {limit}"));
        assert!(bad(&route("{ requests = 5, global = true }")).contains("needs [redis]"));
        assert!(
            bad(&route("{ requests = 5, key = \"cookie:x\" }"))
                .contains("client_ip or header:NAME")
        );
        assert!(bad(&route("{ requests = 0 }")).contains("above 0"));
        let cached = |route: &str, cache: &str| {
            pool(&format!("[[routes]]\npool = \"p\"\ncache = {route}\n{cache}"))
        };
        assert!(bad(&cached("{ ttl_ms = 5 }", "")).contains("needs a [cache] section"));
        assert!(bad(&cached("{ }", "")).contains("missing field `ttl_ms`"));
        let none = "[cache]\ninvalidations = \"none\"";
        assert!(bad(&cached("{ ttl_ms = 5, max_body_bytes = 0 }", none)).contains("from 1 to"));
        assert!(bad(&cached("{ ttl_ms = 5, vary = 1 }", none)).contains("unknown field"));
        let with = |inv: &str| cached("{ ttl_ms = 5 }", &format!("[cache]\ninvalidations = {inv}"));
        assert!(bad(&with("\"redis\"")).contains("needs [redis]"));
        assert!(bad(&with("\"kafka\"")).contains("is \"redis\", \"none\""));
        assert!(bad(&with("{ postgres = 5 }")).contains("is \"redis\", \"none\""));
        assert!(
            bad(&with("{ postgres = \"postgres://x:y:z\" }")).contains("invalid PostgreSQL URL")
        );
        assert!(bad(&cached("{ ttl_ms = 5 }", "[cache]\nmax_mb = 1")).contains("invalidations"));
        let https = format!(
            "{head}[[pools]]\nname = \"p\"\nupstreams = [{{ url = \"https://127.0.0.1:2\" }}]\n"
        );
        assert!(bad(&https).contains("only http://"));
        assert!(GatewayConfig::quick("127.0.0.1:1".parse().unwrap(), &[]).is_err());
    }
}
