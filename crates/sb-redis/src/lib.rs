//! Redis, the shared layer of a cluster: one multiplexed connection per node (reconnecting on
//! its own), its health, and what is built on it — cluster-wide rate limits ([`RedisLimiter`])
//! the cluster transport ([`RedisTransport`]: invalidations, realtime events, forwarded
//! realtime requests), the cache layer the nodes share ([`RedisCache`]) and the auth flows'
//! shared counts ([`RedisCounters`]).
//!
//! Redis is never required for correctness: every user of it has a local fallback, and a call
//! that fails or takes longer than [`CALL_TIMEOUT`] counts as Redis being down. The node then
//! keeps serving (per-node limits) and reports itself `degraded` in `GET /api/ready`.

mod bus;
mod cache;
mod counters;
mod limiter;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use bus::RedisTransport;
pub use cache::RedisCache;
pub use counters::RedisCounters;
pub use limiter::RedisLimiter;

/// The longest a request waits for Redis before falling back.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the cluster's Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (`rediss://` for TLS is not built in).
    pub url: String,
    /// Prefix of every key and channel, so several clusters can share one Redis.
    pub prefix: String,
}

/// A node's handle to Redis (cheap to clone).
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    /// Whether the last call succeeded (for logging the changes only).
    up: AtomicBool,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.inner.prefix).finish_non_exhaustive()
    }
}

impl Redis {
    /// A handle for `config`; connects lazily, so a node starts while Redis is down.
    pub fn open(config: &RedisConfig) -> Result<Redis, String> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| format!("invalid Redis URL: {e}"))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        Ok(Redis {
            inner: Arc::new(Inner {
                client,
                connection,
                prefix: config.prefix.clone(),
                up: AtomicBool::new(true),
            }),
        })
    }

    /// `prefix` + `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }

    /// Runs `call` on the connection, bounded by [`CALL_TIMEOUT`]; logs when Redis goes down
    /// or comes back.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let outcome = tokio::time::timeout(CALL_TIMEOUT, call(self.inner.connection.clone())).await;
        let result = match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {CALL_TIMEOUT:?}")),
        };
        let was_up = self.inner.up.swap(result.is_ok(), Ordering::Relaxed);
        match (&result, was_up) {
            (Err(e), true) => {
                tracing::warn!(error = %e, "Redis is unavailable; using local fallbacks")
            }
            (Ok(_), false) => tracing::info!("Redis is available again"),
            _ => {}
        }
        result
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<(), String> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}

/// Redis in the readiness view: reported, not required (the node serves without it).
#[async_trait::async_trait]
impl sb_http::HealthCheck for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        self.ping().await
    }
}
