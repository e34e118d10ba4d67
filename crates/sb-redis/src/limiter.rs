//! Cluster-wide rate limits: the GCRA of `sb_http::ratelimit` with each key's theoretical
//! arrival time (TAT) in Redis, decided atomically by a Lua script on Redis's own clock (so
//! nodes' clocks do not matter), and the in-process limiter as the fallback while Redis is
//! unavailable.

use async_trait::async_trait;
use sb_http::ratelimit::{MemoryLimiter, Quota, RateLimiter};

use crate::Redis;

/// KEYS[1]: the key. ARGV: emission interval and period in microseconds, and 1 to count the
/// request or 0 to only check. Returns 1 when allowed. The key expires when its TAT passes.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > period then return 0 end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000))
end
return 1
";

/// GCRA in Redis, falling back to this node's own counts when Redis does not answer.
pub struct RedisLimiter {
    redis: Redis,
    script: redis::Script,
    local: MemoryLimiter,
}

impl RedisLimiter {
    pub fn new(redis: Redis) -> RedisLimiter {
        RedisLimiter { redis, script: redis::Script::new(GCRA), local: MemoryLimiter::default() }
    }

    async fn decide(&self, key: &str, quota: Quota, count: bool) -> Option<bool> {
        let period = u64::try_from(quota.period.as_micros()).unwrap_or(u64::MAX).max(1);
        let interval = (period / u64::from(quota.max_requests.max(1))).max(1);
        let key = self.redis.key(&format!("rl:{key}"));
        let script = &self.script;
        self.redis
            .call(|mut c| async move {
                script
                    .key(key)
                    .arg(interval)
                    .arg(period)
                    .arg(u8::from(count))
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .ok()
            .map(|allowed| allowed == 1)
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
