//! The counting part of rate limiting, shared by the app nodes (`sb_http::ratelimit`, with
//! `sb_redis::RedisLimiter` in a cluster) and the gateway: the [`RateLimiter`] interface, its
//! in-process implementation, and the same algorithm as one Redis script ([`redis_gcra`]).
//!
//! The algorithm is GCRA (generic cell rate algorithm): a key stores one number, its
//! theoretical arrival time (TAT). A quota of `max` requests per `period` has an emission
//! interval `T = period / max`; a request at `now` is allowed when `max(TAT, now) + T - now <=
//! period`, and then sets `TAT = max(TAT, now) + T`. So a fresh key may burst `max` requests,
//! and after that one request is allowed every `T`. A key whose TAT is in the past holds no
//! information and can be dropped. A shared implementation (e.g. Redis) stores the same single
//! number per key with an expiry of `TAT - now`, which makes the two interchangeable.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

/// `max_requests` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub max_requests: u32,
    pub period: Duration,
}

impl Quota {
    fn period_ns(self) -> u64 {
        u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX).max(1)
    }

    fn interval_ns(self) -> u64 {
        (self.period_ns() / u64::from(self.max_requests.max(1))).max(1)
    }
}

/// Counts requests per key against quotas.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request for `key`; `false` (and nothing counted) when the key is over quota.
    async fn hit(&self, key: &str, quota: Quota) -> bool;
    /// Whether a request for `key` would be allowed now, without counting it.
    async fn check(&self, key: &str, quota: Quota) -> bool;
}

/// The decision for a request at `now` on a key whose stored TAT is `tat`: the new TAT when
/// allowed.
fn gcra(tat: Option<u64>, now: u64, quota: Quota) -> Option<u64> {
    let start = tat.map_or(now, |t| t.max(now));
    let next = start.saturating_add(quota.interval_ns());
    (next - now <= quota.period_ns()).then_some(next)
}

const SHARDS: usize = 16;
/// A shard is swept of idle keys whenever it grows to this many entries (then twice its
/// live size).
const MIN_SWEEP_AT: usize = 1024;

struct Shard {
    tats: HashMap<Box<str>, u64>,
    sweep_at: usize,
}

/// GCRA in this process's memory: keys live in sharded maps, idle keys (TAT in the past) are
/// swept as a shard grows, and the number of live keys is capped (a key that cannot be stored
/// is refused, so a flood of distinct clients cannot grow memory without bound).
pub struct MemoryLimiter {
    epoch: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    max_keys_per_shard: usize,
}

impl MemoryLimiter {
    /// A limiter holding at most about `max_keys` live keys.
    pub fn new(max_keys: usize) -> MemoryLimiter {
        let shards = (0..SHARDS)
            .map(|_| Mutex::new(Shard { tats: HashMap::new(), sweep_at: MIN_SWEEP_AT }))
            .collect();
        MemoryLimiter {
            epoch: Instant::now(),
            hasher: RandomState::new(),
            shards,
            max_keys_per_shard: (max_keys / SHARDS).max(1),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        let i = (self.hasher.hash_one(key) as usize) % self.shards.len();
        &self.shards[i]
    }

    /// [`RateLimiter::hit`] at an explicit time (nanoseconds since the limiter's epoch).
    pub fn hit_at(&self, key: &str, quota: Quota, now: u64) -> bool {
        let mut shard = self.shard(key).lock();
        let Some(next) = gcra(shard.tats.get(key).copied(), now, quota) else {
            return false;
        };
        if let Some(tat) = shard.tats.get_mut(key) {
            *tat = next;
            return true;
        }
        if shard.tats.len() >= shard.sweep_at || shard.tats.len() >= self.max_keys_per_shard {
            shard.tats.retain(|_, tat| *tat > now);
            shard.sweep_at = (shard.tats.len() * 2).max(MIN_SWEEP_AT);
            if shard.tats.len() >= self.max_keys_per_shard {
                tracing::warn!("rate limiter is full; refusing a new client until keys expire");
                return false;
            }
        }
        shard.tats.insert(key.into(), next);
        true
    }

    /// [`RateLimiter::check`] at an explicit time.
    pub fn check_at(&self, key: &str, quota: Quota, now: u64) -> bool {
        let shard = self.shard(key).lock();
        gcra(shard.tats.get(key).copied(), now, quota).is_some()
    }

    /// Live and idle keys currently stored (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().tats.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryLimiter {
    /// Up to ~256k live keys (a few tens of MiB at most).
    fn default() -> Self {
        MemoryLimiter::new(256 * 1024)
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn hit(&self, key: &str, quota: Quota) -> bool {
        self.hit_at(key, quota, self.now())
    }

    async fn check(&self, key: &str, quota: Quota) -> bool {
        self.check_at(key, quota, self.now())
    }
}

/// KEYS[1]: the key. ARGV: emission interval and period in microseconds, and 1 to count the
/// request or 0 to only check. Returns 1 when allowed. The key expires when its TAT passes.
/// Decided on Redis's own clock, so the callers' clocks do not matter.
const GCRA_SCRIPT: &str = r"
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

/// The GCRA as one Redis script: each key's TAT stored under `key` with an expiry of
/// `TAT - now`, the same single number [`MemoryLimiter`] keeps.
pub mod redis_gcra {
    use super::Quota;

    /// The script, loaded once per caller.
    pub fn script() -> redis::Script {
        redis::Script::new(super::GCRA_SCRIPT)
    }

    /// Decides (and with `count`, counts) one request for `key` on `connection`.
    pub async fn decide(
        script: &redis::Script,
        connection: &mut impl redis::aio::ConnectionLike,
        key: String,
        quota: Quota,
        count: bool,
    ) -> redis::RedisResult<bool> {
        let period = u64::try_from(quota.period.as_micros()).unwrap_or(u64::MAX).max(1);
        let interval = (period / u64::from(quota.max_requests.max(1))).max(1);
        let allowed: i64 = script
            .key(key)
            .arg(interval)
            .arg(period)
            .arg(u8::from(count))
            .invoke_async(connection)
            .await?;
        Ok(allowed == 1)
    }
}
