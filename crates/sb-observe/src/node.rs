//! This process's own running totals of the figures the admin UI's cluster view shows (request
//! rate, p99 latency, requests in flight, cache hit rate, realtime connections), kept beside
//! the Prometheus metrics by the same recording functions, so a node can report them without
//! parsing its own exposition. Latencies fall into fixed buckets 25% apart, so a percentile
//! over a window (the difference of two [`Totals`]) is exact to within one bucket.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Bucket `i` holds latencies up to `FIRST_BOUND_US × 1.25^i`; the last one everything above.
const BUCKETS: usize = 72;
const FIRST_BOUND_US: f64 = 20.0;
const GROWTH: f64 = 1.25;

struct Tally {
    requests: AtomicU64,
    latency: [AtomicU64; BUCKETS],
    in_flight: AtomicI64,
    realtime: AtomicI64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

static TALLY: Tally = Tally {
    requests: AtomicU64::new(0),
    latency: [const { AtomicU64::new(0) }; BUCKETS],
    in_flight: AtomicI64::new(0),
    realtime: AtomicI64::new(0),
    cache_hits: AtomicU64::new(0),
    cache_misses: AtomicU64::new(0),
};

fn bucket(elapsed: Duration) -> usize {
    let us = elapsed.as_secs_f64() * 1e6;
    if us <= FIRST_BOUND_US {
        return 0;
    }
    ((us / FIRST_BOUND_US).ln() / GROWTH.ln()).ceil().min((BUCKETS - 1) as f64) as usize
}

fn bound_ms(bucket: usize) -> f64 {
    FIRST_BOUND_US * GROWTH.powi(bucket as i32) / 1000.0
}

pub(crate) fn request(elapsed: Duration) {
    TALLY.requests.fetch_add(1, Ordering::Relaxed);
    TALLY.latency[bucket(elapsed)].fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn in_flight(delta: f64) {
    TALLY.in_flight.fetch_add(delta as i64, Ordering::Relaxed);
}

pub(crate) fn realtime(delta: f64) {
    TALLY.realtime.fetch_add(delta as i64, Ordering::Relaxed);
}

pub(crate) fn cache(result: &str) {
    match result {
        "hit" => TALLY.cache_hits.fetch_add(1, Ordering::Relaxed),
        "miss" => TALLY.cache_misses.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

/// The totals since the process started, and the gauges now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    latency: Vec<u64>,
    pub in_flight: i64,
    pub realtime_connections: i64,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// Reads the running totals.
pub fn totals() -> Totals {
    Totals {
        requests: TALLY.requests.load(Ordering::Relaxed),
        latency: TALLY.latency.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
        in_flight: TALLY.in_flight.load(Ordering::Relaxed).max(0),
        realtime_connections: TALLY.realtime.load(Ordering::Relaxed).max(0),
        cache_hits: TALLY.cache_hits.load(Ordering::Relaxed),
        cache_misses: TALLY.cache_misses.load(Ordering::Relaxed),
    }
}

/// What happened between two readings, `elapsed` apart.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub requests_per_second: f64,
    /// The upper bound of the bucket holding the 99th percentile; `None` without requests.
    pub p99_ms: Option<f64>,
    pub in_flight: i64,
    /// Hits ÷ (hits + misses) of the read caches; `None` without lookups.
    pub cache_hit_rate: Option<f64>,
    pub realtime_connections: i64,
}

impl Window {
    /// The window from `earlier` to `later`, read `elapsed` apart; the gauges are `later`'s.
    pub fn between(earlier: &Totals, later: &Totals, elapsed: Duration) -> Window {
        let requests = later.requests.saturating_sub(earlier.requests);
        let counts: Vec<u64> =
            later.latency.iter().zip(&earlier.latency).map(|(l, e)| l.saturating_sub(*e)).collect();
        let total: u64 = counts.iter().sum();
        let p99_ms = (total > 0).then(|| {
            // The smallest bucket with at least 99% of the requests at or below it.
            let wanted = total - total / 100;
            let mut seen = 0;
            let i = counts.iter().position(|c| {
                seen += c;
                seen >= wanted
            });
            bound_ms(i.unwrap_or(BUCKETS - 1))
        });
        let hits = later.cache_hits.saturating_sub(earlier.cache_hits);
        let lookups = hits + later.cache_misses.saturating_sub(earlier.cache_misses);
        let secs = elapsed.as_secs_f64();
        Window {
            requests_per_second: if secs > 0.0 { requests as f64 / secs } else { 0.0 },
            p99_ms,
            in_flight: later.in_flight,
            cache_hit_rate: (lookups > 0).then(|| hits as f64 / lookups as f64),
            realtime_connections: later.realtime_connections,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals_with(latencies_ms: &[f64], hits: u64, misses: u64) -> Totals {
        let mut latency = vec![0; BUCKETS];
        for ms in latencies_ms {
            latency[bucket(Duration::from_secs_f64(ms / 1000.0))] += 1;
        }
        Totals {
            requests: latencies_ms.len() as u64,
            latency,
            in_flight: 2,
            realtime_connections: 5,
            cache_hits: hits,
            cache_misses: misses,
        }
    }

    #[test]
    fn a_window_gives_the_rate_the_p99_bucket_and_the_hit_rate() {
        let empty = totals_with(&[], 0, 0);
        // 990 fast requests and 10 slow ones: the p99 is the fast ones' bucket.
        let mut latencies = vec![1.0; 990];
        latencies.extend([50.0; 10]);
        let later = totals_with(&latencies, 30, 10);
        let w = Window::between(&empty, &later, Duration::from_secs(2));
        assert_eq!(w.requests_per_second, 500.0);
        let p99 = w.p99_ms.unwrap();
        assert!((1.0..1.25).contains(&p99), "p99 {p99} is the 1 ms bucket's bound");
        assert_eq!(w.cache_hit_rate, Some(0.75));
        assert_eq!((w.in_flight, w.realtime_connections), (2, 5));
        // Twenty slow ones out of a thousand move it to theirs.
        latencies[..10].fill(50.0);
        let later = totals_with(&latencies, 0, 0);
        let p99 = Window::between(&empty, &later, Duration::from_secs(1)).p99_ms.unwrap();
        assert!((50.0..62.5).contains(&p99), "p99 {p99} is the 50 ms bucket's bound");
    }

    #[test]
    fn an_idle_window_has_no_percentile_or_hit_rate() {
        let t = totals_with(&[3.0, 4.0], 1, 1);
        let w = Window::between(&t, &t, Duration::from_secs(2));
        assert_eq!(w.requests_per_second, 0.0);
        assert_eq!((w.p99_ms, w.cache_hit_rate), (None, None));
    }

    #[test]
    fn buckets_cover_from_microseconds_to_minutes() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS - 1);
        for us in [21, 100, 1_000, 10_000, 1_000_000] {
            let b = bucket(Duration::from_micros(us));
            assert!(bound_ms(b) * 1000.0 >= us as f64 && bound_ms(b - 1) * 1000.0 < us as f64);
        }
    }
}
