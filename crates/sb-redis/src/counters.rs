//! The auth flows' counts (OTP attempts, mail resend throttle) in Redis, so that a limit holds
//! across the nodes: one key per counted thing, incremented and given its window's expiry by
//! one Lua script (the window starts at the first event). While Redis does not answer, this
//! node's own counts decide.

use std::time::Duration;

use sb_core::counters::{Counters, LocalCounters};

use crate::Redis;

/// KEYS[1]: the key. ARGV: the limit and the window in milliseconds. Returns 1 when admitted.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return 1 end
return 0
";

/// Counts in Redis, falling back to this process's counts.
pub struct RedisCounters {
    redis: Redis,
    script: redis::Script,
    local: LocalCounters,
}

impl RedisCounters {
    pub fn new(redis: Redis) -> RedisCounters {
        RedisCounters { redis, script: redis::Script::new(COUNT), local: LocalCounters::default() }
    }
}

#[async_trait::async_trait]
impl Counters for RedisCounters {
    async fn admit(&self, key: &str, limit: u32, window: Duration) -> bool {
        let redis_key = self.redis.key(&format!("count:{key}"));
        let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let script = &self.script;
        let shared = self
            .redis
            .call(|mut c| async move {
                script.key(redis_key).arg(limit).arg(millis).invoke_async::<i64>(&mut c).await
            })
            .await;
        match shared {
            Ok(admitted) => admitted == 1,
            Err(_) => self.local.admit_now(key, limit, window),
        }
    }
}
