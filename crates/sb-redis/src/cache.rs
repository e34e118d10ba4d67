//! The cache layer the nodes share (`sb_core::SharedCache`), in Redis.
//!
//! - `<prefix>cache:seq`: the sequence. Each stamp takes the larger of its next value and the
//!   server clock in microseconds, so that it keeps increasing even if the key is evicted.
//! - `<prefix>cache:stamps:<group>`: a hash per stamp group: the stamps, and `born`, the sequence
//!   when the hash was made. An entry is fresh only while every group it is checked against
//!   exists with `born` and every stamp it names at most the entry's `since`; so a group
//!   evicted or expired and made again hides the entries stored before.
//! - `<prefix>cache:<cache>:<key>`: an entry: `s` (its since), `c` (its checks: per group a line
//!   with the hash key and a line with the stamp names) and `v` (the value), for
//!   [`ENTRY_TTL`].
//!
//! Each operation is one Lua script, so it sees one state of the stamps. The scripts name stamp
//! keys that are not in `KEYS`: this layer needs one Redis (or one shard), not Redis Cluster.

use sb_core::{SharedCache, SharedGet, Stamps};

use crate::Redis;

/// How long an entry is kept.
pub const ENTRY_TTL: u64 = 600;
/// How long a stamp group is kept after its last change (longer than [`ENTRY_TTL`], though
/// `born` keeps entries correct anyway).
const STAMPS_TTL: u64 = 24 * 3600;

/// Shared by the scripts: `fresh(checks, since)` tells whether no stamp named in `checks` is
/// newer than `since`.
const FRESH: &str = r"
local function fresh(checks, since)
  for group, names in string.gmatch(checks, '([^\n]*)\n([^\n]*)\n') do
    local fields = {'born'}
    for name in string.gmatch(names, '%S+') do fields[#fields + 1] = name end
    local stamps = redis.call('HMGET', group, unpack(fields))
    if not stamps[1] then return false end
    for i = 1, #stamps do
      if stamps[i] and tonumber(stamps[i]) > since then return false end
    end
  end
  return true
end
";

/// KEYS: the entry, the sequence. Returns `{1, value}` or `{0, sequence}`.
const GET: &str = r"
local e = redis.call('HMGET', KEYS[1], 's', 'c', 'v')
if e[1] then
  if fresh(e[2], tonumber(e[1])) then return {1, e[3]} end
  redis.call('DEL', KEYS[1])
end
return {0, redis.call('GET', KEYS[2]) or '0'}
";

/// KEYS: the entry, the sequence. ARGV: since, checks, value, TTL, stamps TTL. Groups that do
/// not exist are made, born now. Returns 1 when stored.
const PUT: &str = r"
local now = redis.call('GET', KEYS[2]) or '0'
for group in string.gmatch(ARGV[2], '([^\n]*)\n[^\n]*\n') do
  if redis.call('HSETNX', group, 'born', now) == 1 then
    redis.call('EXPIRE', group, ARGV[5])
  end
end
if not fresh(ARGV[2], tonumber(ARGV[1])) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', ARGV[1], 'c', ARGV[2], 'v', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
";

/// KEYS: the sequence, then the groups. ARGV: the stamps TTL, then per group its stamp names
/// (space separated). Returns the new sequence.
const BUMP: &str = r"
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
local seq = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1, clock)
seq = string.format('%.0f', seq)
redis.call('SET', KEYS[1], seq)
for i = 2, #KEYS do
  redis.call('HSETNX', KEYS[i], 'born', seq)
  for name in string.gmatch(ARGV[i], '%S+') do redis.call('HSET', KEYS[i], name, seq) end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return seq
";

/// The shared cache in Redis (see the module docs).
pub struct RedisCache {
    redis: Redis,
    get: redis::Script,
    put: redis::Script,
    bump: redis::Script,
}

impl RedisCache {
    pub fn new(redis: Redis) -> RedisCache {
        RedisCache {
            redis,
            get: redis::Script::new(&format!("{FRESH}{GET}")),
            put: redis::Script::new(&format!("{FRESH}{PUT}")),
            bump: redis::Script::new(BUMP),
        }
    }

    fn seq_key(&self) -> String {
        self.redis.key("cache:seq")
    }

    fn group_key(&self, group: &str) -> String {
        self.redis.key(&format!("cache:stamps:{group}"))
    }

    /// `checks` of an entry: per group, its hash key and its stamp names, one line each.
    fn checks(&self, stamps: &[Stamps]) -> String {
        let mut out = String::new();
        for s in stamps {
            out.push_str(&self.group_key(&s.group));
            out.push('\n');
            out.push_str(&s.fields.join(" "));
            out.push('\n');
        }
        out
    }
}

#[async_trait::async_trait]
impl SharedCache for RedisCache {
    async fn get(&self, key: &str) -> Result<SharedGet, String> {
        let (entry, seq) = (self.redis.key(key), self.seq_key());
        let script = &self.get;
        let (found, value) = self
            .redis
            .call(|mut c| async move {
                script.key(entry).key(seq).invoke_async::<(i64, String)>(&mut c).await
            })
            .await?;
        if found == 1 {
            return Ok(SharedGet::Hit(value));
        }
        let seq =
            value.parse().map_err(|_| format!("the cache sequence is not a number: {value}"))?;
        Ok(SharedGet::Miss { seq })
    }

    async fn put(
        &self,
        key: &str,
        since: u64,
        reads: &[Stamps],
        value: String,
    ) -> Result<(), String> {
        let (entry, seq, checks) = (self.redis.key(key), self.seq_key(), self.checks(reads));
        let script = &self.put;
        self.redis
            .call(|mut c| async move {
                script
                    .key(entry)
                    .key(seq)
                    .arg(since)
                    .arg(checks)
                    .arg(value)
                    .arg(ENTRY_TTL)
                    .arg(STAMPS_TTL)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(drop)
    }

    async fn bump(&self, changed: &[Stamps]) -> Result<(), String> {
        let mut invocation = self.bump.key(self.seq_key());
        invocation.arg(STAMPS_TTL);
        for s in changed {
            invocation.key(self.group_key(&s.group)).arg(s.fields.join(" "));
        }
        self.redis
            .call(|mut c| async move { invocation.invoke_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}
