//! The gateway's configuration: listeners, pools of upstreams with their policies, and routes
//! from host and path prefix to a pool. Read from TOML (`scalebase gateway --config FILE`) or
//! built from the quick command-line form (one pool, round robin, checks on `/api/health`).
//!
//! ```toml
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
//! limits = { max_requests = 1024, max_pending = 1024, max_connections = 1024 }
//!
//! [[routes]]
//! host = "api.example.com"           # optional; any host when absent
//! path_prefix = "/"
//! pool = "app"
//! # optional: per client (client_ip or header:NAME); global = counted in [redis] by every gateway
//! rate_limit = { requests = 100, period_ms = 1000, key = "client_ip", global = true }
//!
//! [redis]                            # for global rate limits
//! url = "redis://127.0.0.1:6379"
//! prefix = "scalebase:gateway:"
//! ```

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
    /// Redis for the global rate limits (shared by every gateway and node using it).
    #[serde(default)]
    pub redis: Option<RedisConfig>,
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
    /// Idle connections kept per upstream.
    pub max_idle_connections: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig { max_requests: 4096, max_pending: 1024, max_idle_connections: 256 }
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
}

impl GatewayConfig {
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
            }],
            drain_ms: defaults::drain_ms(),
            redis: None,
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
            "#,
        )
        .unwrap();
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
        let https = format!(
            "{head}[[pools]]\nname = \"p\"\nupstreams = [{{ url = \"https://127.0.0.1:2\" }}]\n"
        );
        assert!(bad(&https).contains("only http://"));
        assert!(GatewayConfig::quick("127.0.0.1:1".parse().unwrap(), &[]).is_err());
    }
}
