//! Cluster-wide rate limits: the GCRA of `sb_ratelimit` with each key's theoretical
//! arrival time (TAT) in Redis, decided atomically by a Lua script on Redis's own clock (so
//! nodes' clocks do not matter), and the in-process limiter as the fallback while Redis is
//! unavailable.

use async_trait::async_trait;
use sb_ratelimit::{MemoryLimiter, Quota, RateLimiter, redis_gcra};

use crate::Redis;

/// GCRA in Redis, falling back to this node's own counts when Redis does not answer.
pub struct RedisLimiter {
    redis: Redis,
    script: redis::Script,
    local: MemoryLimiter,
}

impl RedisLimiter {
    pub fn new(redis: Redis) -> RedisLimiter {
        RedisLimiter { redis, script: redis_gcra::script(), local: MemoryLimiter::default() }
    }

    async fn decide(&self, key: &str, quota: Quota, count: bool) -> Option<bool> {
        let key = self.redis.key(&format!("rl:{key}"));
        let script = &self.script;
        self.redis
            .call(
                |mut c| async move { redis_gcra::decide(script, &mut c, key, quota, count).await },
            )
            .await
            .ok()
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, key: &str, quota: Quota) -> bool {
        match self.decide(key, quota, true).await {
            Some(allowed) => allowed,
            None => self.local.hit(key, quota).await,
        }
    }

    async fn check(&self, key: &str, quota: Quota) -> bool {
        match self.decide(key, quota, false).await {
            Some(allowed) => allowed,
            None => self.local.check(key, quota).await,
        }
    }
}
