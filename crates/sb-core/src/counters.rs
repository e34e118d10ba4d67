//! Counts of events per key within a time window ("at most N in a window"), for the limits the
//! auth flows keep themselves: OTP code attempts per record and the resend throttle of
//! verification and password-reset mails. In a cluster they must hold across nodes, so the
//! counts live behind [`Counters`]: [`LocalCounters`] in this process, or a shared store
//! (`sb_redis::RedisCounters`) installed with [`crate::App::set_counters`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Admits or refuses one more event for a key.
#[async_trait::async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Records an event for `key`; false when more than `limit` were recorded within `window`.
    async fn admit(&self, key: &str, limit: u32, window: Duration) -> bool;
}

/// This process's counts: a sliding window per key.
#[derive(Default)]
pub struct LocalCounters {
    seen: parking_lot::Mutex<HashMap<String, Vec<Instant>>>,
}

impl LocalCounters {
    /// [`Counters::admit`], synchronously (the fallback of shared implementations).
    pub fn admit_now(&self, key: &str, limit: u32, window: Duration) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock();
        seen.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < window);
            !times.is_empty()
        });
        let times = seen.entry(key.to_owned()).or_default();
        times.push(now);
        times.len() <= limit as usize
    }
}

#[async_trait::async_trait]
impl Counters for LocalCounters {
    async fn admit(&self, key: &str, limit: u32, window: Duration) -> bool {
        self.admit_now(key, limit, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_limit_within_the_window_per_key() {
        let c = LocalCounters::default();
        let window = Duration::from_secs(60);
        assert!(c.admit_now("a", 2, window));
        assert!(c.admit_now("a", 2, window));
        assert!(!c.admit_now("a", 2, window));
        assert!(c.admit_now("b", 2, window), "keys count apart");
        assert!(c.admit_now("z", 1, Duration::ZERO));
        assert!(c.admit_now("z", 1, Duration::ZERO), "events outside the window are forgotten");
    }
}
