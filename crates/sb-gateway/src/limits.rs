//! Rate limits per route: the GCRA of `sb_ratelimit`, in this process or, for global limits,
//! in Redis through the same script the app nodes use, with this process's counts deciding
//! while Redis does not answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::HeaderMap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sb_ratelimit::{MemoryLimiter, Quota, RateLimiter, redis_gcra};

use crate::config::{RateLimitConfig, RedisConfig, RouteConfig};

/// The longest a request waits for Redis before this gateway's own counts decide.
const REDIS_WAIT: Duration = Duration::from_millis(200);

/// Redis for global limits.
struct Global {
    config: RedisConfig,
    connection: ConnectionManager,
    script: redis::Script,
}

/// The limiters of a gateway; kept across reloads, so counts carry on.
pub struct Limits {
    local: MemoryLimiter,
    global: Option<Global>,
}

impl Limits {
    pub fn new(redis: Option<&RedisConfig>) -> anyhow::Result<Limits> {
        let global = match redis {
            Some(config) => {
                let client = redis::Client::open(config.url.as_str())
                    .map_err(|e| anyhow::anyhow!("invalid Redis URL: {e}"))?;
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_WAIT))
                    .set_response_timeout(Some(REDIS_WAIT))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let connection = ConnectionManager::new_lazy_with_config(client, manager)
                    .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
                Some(Global { config: config.clone(), connection, script: redis_gcra::script() })
            }
            None => None,
        };
        Ok(Limits { local: MemoryLimiter::default(), global })
    }

    /// Whether these limiters serve `redis` (else a reload builds new ones).
    pub fn serves(&self, redis: Option<&RedisConfig>) -> bool {
        self.global.as_ref().map(|g| &g.config) == redis
    }

    /// Counts a request of `client` on `route`; false when it is over the route's limit.
    pub async fn admit(
        &self,
        route: &RouteConfig,
        headers: &HeaderMap,
        client: SocketAddr,
    ) -> bool {
        let Some(limit) = &route.rate_limit else { return true };
        let key = format!("gw:{}:{}", route.id(), client_key(limit, headers, client));
        let quota =
            Quota { max_requests: limit.requests, period: Duration::from_millis(limit.period_ms) };
        if let (true, Some(global)) = (limit.global, &self.global) {
            let redis_key = format!("{}rl:{key}", global.config.prefix);
            let mut connection = global.connection.clone();
            let decided = tokio::time::timeout(
                REDIS_WAIT,
                redis_gcra::decide(&global.script, &mut connection, redis_key, quota, true),
            )
            .await;
            match decided {
                Ok(Ok(allowed)) => return allowed,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "global rate limit: Redis failed; counting locally")
                }
                Err(_) => {
                    tracing::debug!("global rate limit: Redis did not answer; counting locally")
                }
            }
        }
        self.local.hit(&key, quota).await
    }
}

/// The client part of a key: a header's value, or the IP (IPv6 reduced to its /64: one
/// subscriber's network).
fn client_key(limit: &RateLimitConfig, headers: &HeaderMap, client: SocketAddr) -> String {
    if let Some(value) = limit.header().and_then(|name| headers.get(name)) {
        return format!("h:{}", String::from_utf8_lossy(value.as_bytes()));
    }
    match client.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => {
            let s = ip.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}
