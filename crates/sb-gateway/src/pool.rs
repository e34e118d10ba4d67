//! A pool of upstreams: their state (active check, passive ejection, load) and how one is
//! picked for a request.
//!
//! An upstream takes requests while its active check passes and it is not ejected. When none
//! does, the pool ignores ejections, then the checks ("panic" mode, as in Envoy): a wrong
//! check or a burst of errors never leaves a pool with nowhere to send requests.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::config::{Balance, HashOn, PoolConfig, UpstreamUrl};

/// The decay time of the peak-EWMA latency.
const EWMA_DECAY: Duration = Duration::from_secs(10);
/// The latency assumed for an upstream that has not answered yet.
const EWMA_START: f64 = 0.001;
/// Points per unit of weight on the consistent-hash ring.
const RING_POINTS: u32 = 160;

/// One upstream of a pool.
pub struct Endpoint {
    pub url: String,
    pub upstream: UpstreamUrl,
    pub weight: u32,
    /// Requests in flight to it (until their response body ends) …
    inflight: AtomicUsize,
    /// … and those of them still waiting for their response head.
    awaiting: AtomicUsize,
    /// Peak-EWMA latency in seconds and when it was last updated.
    ewma: Mutex<(f64, Instant)>,
    /// Whether its active check passes, and the current run of check results (positive:
    /// successes, negative: failures).
    healthy: AtomicBool,
    streak: Mutex<i64>,
    /// Consecutive failures seen on requests, its ejection deadline (ms since the pool's
    /// epoch; 0: not ejected) and how many times it was ejected.
    failures: AtomicU32,
    ejected_until: AtomicU64,
    ejections: AtomicU32,
    /// Its request metrics.
    pub requests: sb_observe::gateway::Requests,
    /// One permit per connection open to it (`limits.max_connections`).
    pub connections: Arc<tokio::sync::Semaphore>,
}

impl Endpoint {
    fn new(
        pool: &PoolConfig,
        url: String,
        upstream: UpstreamUrl,
        weight: u32,
        healthy: bool,
    ) -> Endpoint {
        Endpoint {
            requests: sb_observe::gateway::Requests::new(&pool.name, &url),
            connections: Arc::new(tokio::sync::Semaphore::new(pool.limits.max_connections)),
            url,
            upstream,
            weight,
            inflight: AtomicUsize::new(0),
            awaiting: AtomicUsize::new(0),
            ewma: Mutex::new((EWMA_START, Instant::now())),
            healthy: AtomicBool::new(healthy),
            streak: Mutex::new(0),
            failures: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            ejections: AtomicU32::new(0),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Requests sent to it that have no response head yet. Once an upstream is out of its
    /// pool and this is zero, it can be told to shut down gracefully: what is left are
    /// responses being streamed, which a graceful shutdown lets finish.
    pub fn awaiting_response(&self) -> usize {
        self.awaiting.load(Ordering::SeqCst)
    }

    /// The cost of sending it one more request: in-flight requests times latency, per weight.
    fn cost(&self) -> f64 {
        let (ewma, at) = *self.ewma.lock();
        let decayed = ewma * (-at.elapsed().as_secs_f64() / EWMA_DECAY.as_secs_f64()).exp();
        (self.inflight() as f64 + 1.0) * decayed.max(1e-6) / f64::from(self.weight)
    }

    fn observe_latency(&self, seconds: f64) {
        let mut ewma = self.ewma.lock();
        let (value, at) = *ewma;
        let w = (-at.elapsed().as_secs_f64() / EWMA_DECAY.as_secs_f64()).exp();
        let next = if seconds > value { seconds } else { value * w + seconds * (1.0 - w) };
        *ewma = (next, Instant::now());
    }
}

/// A request in flight to an endpoint; counts it until dropped.
pub struct InFlight {
    pub endpoint: Arc<Endpoint>,
    started: Instant,
    awaiting: AtomicBool,
}

impl InFlight {
    fn start(endpoint: Arc<Endpoint>) -> InFlight {
        endpoint.inflight.fetch_add(1, Ordering::Relaxed);
        endpoint.awaiting.fetch_add(1, Ordering::SeqCst);
        InFlight { endpoint, started: Instant::now(), awaiting: AtomicBool::new(true) }
    }

    /// Records the time to the response head.
    pub fn answered(&self) {
        self.endpoint.observe_latency(self.started.elapsed().as_secs_f64());
        if self.awaiting.swap(false, Ordering::SeqCst) {
            self.endpoint.awaiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.endpoint.inflight.fetch_sub(1, Ordering::Relaxed);
        if *self.awaiting.get_mut() {
            self.endpoint.awaiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The upstreams of a pool and its balancing state.
pub struct Pool {
    pub name: String,
    pub config: PoolConfig,
    pub hash_on: Option<HashOn>,
    endpoints: RwLock<Arc<[Arc<Endpoint>]>>,
    ring: RwLock<Arc<Vec<(u64, usize)>>>,
    next: AtomicUsize,
    epoch: Instant,
}

/// Whether an endpoint may take a request, by how much it is excluded.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Eligible,
    /// Ejected, though its check passes.
    Ejected,
    /// Its check fails.
    Unhealthy,
}

impl Pool {
    pub fn new(config: PoolConfig) -> anyhow::Result<Pool> {
        let hash_on = config.hash_key()?;
        let endpoints: Vec<Arc<Endpoint>> = config
            .upstreams
            .iter()
            .map(|u| {
                let parsed = crate::config::parse_upstream(&u.url).map_err(anyhow::Error::msg)?;
                Ok(Arc::new(Endpoint::new(&config, u.url.clone(), parsed, u.weight, true)))
            })
            .collect::<anyhow::Result<_>>()?;
        let pool = Pool {
            name: config.name.clone(),
            config,
            hash_on,
            endpoints: RwLock::new(endpoints.into()),
            ring: RwLock::default(),
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        };
        pool.rebuild_ring();
        Ok(pool)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    pub fn endpoints(&self) -> Arc<[Arc<Endpoint>]> {
        self.endpoints.read().clone()
    }

    /// Adds an upstream at run time; it takes requests once its active check has passed
    /// `rise` times (at once when checks are off).
    pub fn add(&self, url: &str, weight: u32) -> Result<(), String> {
        let parsed = crate::config::parse_upstream(url)?;
        let mut endpoints = self.endpoints.write();
        if endpoints.iter().any(|e| e.url == url) {
            return Err(format!("{url} is already in pool {}", self.name));
        }
        let healthy = !self.config.health.enabled;
        let mut list = endpoints.to_vec();
        let weight = weight.clamp(1, 1000);
        list.push(Arc::new(Endpoint::new(&self.config, url.to_owned(), parsed, weight, healthy)));
        *endpoints = list.into();
        drop(endpoints);
        self.rebuild_ring();
        Ok(())
    }

    /// Removes an upstream at run time (requests in flight to it finish).
    pub fn remove(&self, url: &str) -> Result<(), String> {
        let mut endpoints = self.endpoints.write();
        if !endpoints.iter().any(|e| e.url == url) {
            return Err(format!("{url} is not in pool {}", self.name));
        }
        if endpoints.len() == 1 {
            return Err(format!("{url} is the last upstream of pool {}", self.name));
        }
        *endpoints = endpoints.iter().filter(|e| e.url != url).cloned().collect();
        drop(endpoints);
        self.rebuild_ring();
        Ok(())
    }

    fn rebuild_ring(&self) {
        let endpoints = self.endpoints();
        let mut ring = Vec::new();
        for (i, e) in endpoints.iter().enumerate() {
            for point in 0..RING_POINTS * e.weight {
                ring.push((hash_of(&(e.url.as_str(), point)), i));
            }
        }
        ring.sort_unstable();
        *self.ring.write() = Arc::new(ring);
    }

    fn standing(&self, e: &Endpoint, now: u64) -> Standing {
        if !e.is_healthy() {
            Standing::Unhealthy
        } else if e.ejected_until.load(Ordering::SeqCst) > now {
            Standing::Ejected
        } else {
            Standing::Eligible
        }
    }

    /// Picks an endpoint for a request (`key`: its hash key, for hash balancing) among those
    /// not in `tried` (a request is never tried twice on one upstream); `None` when every
    /// upstream was tried.
    pub fn pick(&self, key: Option<u64>, tried: &[Arc<Endpoint>]) -> Option<InFlight> {
        let endpoints = self.endpoints();
        let now = self.now_ms();
        let untried = |e: &Arc<Endpoint>| !tried.iter().any(|t| Arc::ptr_eq(t, e));
        // The best standing of the untried endpoints: only those that have it are candidates.
        let best = endpoints.iter().filter(|e| untried(e)).map(|e| self.standing(e, now)).min()?;
        let candidate = |e: &Arc<Endpoint>| untried(e) && self.standing(e, now) <= best;
        let chosen = match (self.config.balance, key) {
            (Balance::Hash, Some(key)) => {
                let ring = self.ring.read().clone();
                let start = ring.partition_point(|(h, _)| *h < key);
                (0..ring.len())
                    .map(|i| &endpoints[ring[(start + i) % ring.len()].1])
                    .find(|e| candidate(e))
                    .cloned()
            }
            (Balance::LeastRequest, _) => {
                let list: Vec<&Arc<Endpoint>> = endpoints.iter().filter(|e| candidate(e)).collect();
                match list.len() {
                    0 => None,
                    1 => Some(list[0].clone()),
                    n => {
                        let a = rand::random_range(0..n);
                        let b = (a + rand::random_range(1..n)) % n;
                        let (a, b) = (list[a], list[b]);
                        Some(if a.cost() <= b.cost() { a.clone() } else { b.clone() })
                    }
                }
            }
            _ => {
                let list: Vec<&Arc<Endpoint>> = endpoints.iter().filter(|e| candidate(e)).collect();
                let total: u64 = list.iter().map(|e| u64::from(e.weight)).sum();
                if total == 0 {
                    None
                } else {
                    let mut at = self.next.fetch_add(1, Ordering::Relaxed) as u64 % total;
                    list.into_iter()
                        .find(|e| {
                            let w = u64::from(e.weight);
                            if at < w {
                                true
                            } else {
                                at -= w;
                                false
                            }
                        })
                        .cloned()
                }
            }
        };
        chosen.map(InFlight::start)
    }

    /// A request to `e` ended in a gateway-classified failure (connect failure, reset,
    /// timeout, 502/503/504). Returns true when it ejected `e`.
    pub fn failed(&self, e: &Endpoint) -> bool {
        let outlier = &self.config.outlier;
        let failures = e.failures.fetch_add(1, Ordering::SeqCst) + 1;
        if outlier.consecutive_failures == 0 || failures < outlier.consecutive_failures {
            return false;
        }
        let now = self.now_ms();
        if e.ejected_until.load(Ordering::SeqCst) > now {
            return false;
        }
        // The cap: never more than max_ejected_percent of the pool, and never all of it.
        let endpoints = self.endpoints();
        let ejected = endpoints.iter().filter(|x| x.ejected_until.load(Ordering::SeqCst) > now);
        let allowed = (endpoints.len() * outlier.max_ejected_percent as usize / 100)
            .min(endpoints.len().saturating_sub(1));
        if ejected.count() >= allowed {
            return false;
        }
        let times = e.ejections.fetch_add(1, Ordering::SeqCst) + 1;
        let length = (outlier.base_ejection_ms * u64::from(times)).min(outlier.max_ejection_ms);
        e.ejected_until.store(now + length, Ordering::SeqCst);
        e.failures.store(0, Ordering::SeqCst);
        sb_observe::gateway::ejected(&self.name, &e.url);
        tracing::warn!(pool = %self.name, upstream = %e.url, ms = length, "upstream ejected");
        true
    }

    /// A request to `e` succeeded.
    pub fn succeeded(&self, e: &Endpoint) {
        if e.failures.load(Ordering::Relaxed) != 0 {
            e.failures.store(0, Ordering::Relaxed);
        }
    }

    /// Whether `e` is ejected now.
    pub fn is_ejected(&self, e: &Endpoint) -> bool {
        e.ejected_until.load(Ordering::SeqCst) > self.now_ms()
    }

    /// Records an active check result; returns the new health when it changed.
    pub fn checked(&self, e: &Endpoint, ok: bool) -> Option<bool> {
        let health = &self.config.health;
        let mut streak = e.streak.lock();
        *streak = match (ok, *streak) {
            (true, s) if s > 0 => s + 1,
            (true, _) => 1,
            (false, s) if s < 0 => s - 1,
            (false, _) => -1,
        };
        let was = e.is_healthy();
        let now =
            if was { *streak > -i64::from(health.fall) } else { *streak >= i64::from(health.rise) };
        if now != was {
            e.healthy.store(now, Ordering::SeqCst);
            Some(now)
        } else {
            None
        }
    }
}

/// A stable 64-bit hash (the same on every gateway running this build).
pub fn hash_of(value: &impl Hash) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OutlierConfig, UpstreamConfig};

    fn pool(balance: Balance, n: usize) -> Pool {
        let mut config = crate::config::GatewayConfig::quick(
            "127.0.0.1:1".parse().unwrap(),
            &(0..n).map(|i| format!("http://127.0.0.1:{}", 9000 + i)).collect::<Vec<_>>(),
        )
        .unwrap()
        .pools
        .remove(0);
        config.balance = balance;
        if balance == Balance::Hash {
            config.hash_on = Some("client_ip".into());
        }
        config.outlier = OutlierConfig { consecutive_failures: 2, ..Default::default() };
        Pool::new(config).unwrap()
    }

    fn port(f: &InFlight) -> u16 {
        f.endpoint.upstream.authority.port_u16().unwrap()
    }

    #[test]
    fn round_robin_follows_weights_and_skips_what_was_tried() {
        let mut p = pool(Balance::RoundRobin, 2);
        p.config.upstreams[1] = UpstreamConfig { url: "http://127.0.0.1:9001".into(), weight: 3 };
        let p = Pool::new(p.config.clone()).unwrap();
        let mut counts = [0; 2];
        for _ in 0..400 {
            counts[(port(&p.pick(None, &[]).unwrap()) - 9000) as usize] += 1;
        }
        assert_eq!(counts, [100, 300]);
        let first = p.pick(None, &[]).unwrap();
        for _ in 0..10 {
            let other = p.pick(None, std::slice::from_ref(&first.endpoint)).unwrap();
            assert_ne!(port(&other), port(&first));
        }
        let all: Vec<Arc<Endpoint>> = p.endpoints().to_vec();
        assert!(p.pick(None, &all).is_none(), "no upstream twice for one request");
    }

    #[test]
    fn least_request_prefers_the_idle_upstream() {
        let p = pool(Balance::LeastRequest, 2);
        let busy: Vec<InFlight> = (0..20).filter_map(|_| p.pick(None, &[])).collect();
        let loaded = busy.iter().filter(|f| port(f) == 9000).count();
        let hold: Vec<InFlight> = busy.into_iter().filter(|f| port(f) == 9000).collect();
        assert!(!hold.is_empty() && loaded == hold.len());
        for _ in 0..20 {
            assert_eq!(port(&p.pick(None, &[]).unwrap()), 9001, "9000 has {loaded} in flight");
        }
    }

    #[test]
    fn hashing_is_sticky_and_moves_only_the_keys_of_a_removed_upstream() {
        let p = pool(Balance::Hash, 4);
        let before: Vec<u16> =
            (0..200u64).map(|k| port(&p.pick(Some(hash_of(&k)), &[]).unwrap())).collect();
        let again: Vec<u16> =
            (0..200u64).map(|k| port(&p.pick(Some(hash_of(&k)), &[]).unwrap())).collect();
        assert_eq!(before, again);
        assert!((9000..9004).all(|port| before.contains(&port)), "every upstream gets keys");
        p.remove("http://127.0.0.1:9003").unwrap();
        for (k, was) in (0..200u64).zip(&before) {
            let now = port(&p.pick(Some(hash_of(&k)), &[]).unwrap());
            if *was != 9003 {
                assert_eq!(now, *was, "key {k} stays");
            } else {
                assert_ne!(now, 9003);
            }
        }
    }

    #[test]
    fn ejections_are_capped_and_grow_with_repeats() {
        let p = pool(Balance::RoundRobin, 2);
        let e: Vec<Arc<Endpoint>> = p.endpoints().to_vec();
        assert!(!p.failed(&e[0]));
        assert!(p.failed(&e[0]), "second consecutive failure ejects");
        assert!(p.is_ejected(&e[0]));
        // 50% of two: the other one is never ejected too.
        for _ in 0..10 {
            assert!(!p.failed(&e[1]));
        }
        for _ in 0..10 {
            assert_eq!(port(&p.pick(None, &[]).unwrap()), 9001);
        }
        // A pool of one is never emptied, whatever the share.
        let single = pool(Balance::RoundRobin, 1);
        let only = single.endpoints()[0].clone();
        for _ in 0..10 {
            assert!(!single.failed(&only));
        }
        assert!(single.pick(None, &[]).is_some());
    }

    #[test]
    fn checks_rise_and_fall_and_a_pool_without_healthy_upstreams_still_answers() {
        let p = pool(Balance::RoundRobin, 2);
        let e: Vec<Arc<Endpoint>> = p.endpoints().to_vec();
        assert_eq!(p.checked(&e[0], false), None, "one failure of fall = 2");
        assert_eq!(p.checked(&e[0], false), Some(false));
        for _ in 0..5 {
            assert_eq!(port(&p.pick(None, &[]).unwrap()), 9001);
        }
        assert_eq!(p.checked(&e[1], false), None);
        assert_eq!(p.checked(&e[1], false), Some(false));
        assert!(p.pick(None, &[]).is_some(), "panic mode: every upstream");
        assert_eq!(p.checked(&e[0], true), None);
        assert_eq!(p.checked(&e[0], true), Some(true), "rise = 2");
        for _ in 0..5 {
            assert_eq!(port(&p.pick(None, &[]).unwrap()), 9000);
        }
    }
}
