//! When `scalebase cluster` adds or removes a node: a pure policy over the load read from the
//! nodes' metrics (requests in flight, and the p95 latency of the requests answered lately),
//! with hysteresis and a cooldown.
//!
//! - **Up** when, for `up_after` without a break, the requests in flight per node stay above
//!   `target_inflight` or the p95 above `target_p95`.
//! - **Down** when, for `down_after` without a break, the load would stay below [`LOW_MARK`]
//!   of those targets *with one node fewer*: so removing a node never brings the load back
//!   above the level that adds one (no flapping between the two).
//! - Never within `cooldown` of the last change, never outside `min..=max`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// After a removal, the load per node must stay below this share of the targets.
pub const LOW_MARK: f64 = 0.5;
/// How far back the load is averaged.
pub const WINDOW: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub min: usize,
    pub max: usize,
    pub target_inflight: f64,
    pub target_p95: Option<Duration>,
    pub up_after: Duration,
    pub down_after: Duration,
    pub cooldown: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Hold,
    Up,
    Down,
}

/// The load over the last [`WINDOW`]: mean requests in flight (all nodes together) and the
/// p95 of the requests answered in it (`None` when none were).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Load {
    pub inflight: f64,
    pub p95: Option<Duration>,
}

/// Cumulative latency buckets (upper bound in seconds, count), as a Prometheus histogram has
/// them, summed over every label set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(pub Vec<(f64, f64)>);

impl Buckets {
    /// What was added since `earlier` (all of `self` when the node restarted in between).
    pub fn since(&self, earlier: Option<&Buckets>) -> Buckets {
        let Some(earlier) = earlier else { return self.clone() };
        let restarted = self.0.len() != earlier.0.len()
            || self.0.iter().zip(&earlier.0).any(|(now, then)| now.1 < then.1);
        if restarted {
            return self.clone();
        }
        Buckets(self.0.iter().zip(&earlier.0).map(|(now, then)| (now.0, now.1 - then.1)).collect())
    }

    /// Adds `other`'s counts (same bounds) to these.
    pub fn add(&mut self, other: &Buckets) {
        if self.0.is_empty() {
            self.0 = other.0.clone();
        } else if self.0.len() == other.0.len() {
            for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
                mine.1 += theirs.1;
            }
        }
    }

    /// The upper bound of the bucket holding the 95th percentile (`None`: no requests; the
    /// last finite bound when it falls in `+Inf`).
    pub fn p95(&self) -> Option<Duration> {
        let total = self.0.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let wanted = total * 0.95;
        let last_finite = self.0.iter().rev().find(|(le, _)| le.is_finite()).map(|(le, _)| *le);
        let bound = self
            .0
            .iter()
            .find(|(_, count)| *count >= wanted)
            .map(|(le, _)| *le)
            .filter(|le| le.is_finite())
            .or(last_finite)?;
        Some(Duration::from_secs_f64(bound))
    }
}

/// The samples of the last [`WINDOW`].
#[derive(Debug, Default)]
pub struct Window {
    samples: VecDeque<(Instant, f64, Buckets)>,
}

impl Window {
    /// Adds one sample: the requests in flight on every node now, and the latencies recorded
    /// since the previous sample.
    pub fn push(&mut self, now: Instant, inflight: f64, answered: Buckets) {
        self.samples.push_back((now, inflight, answered));
        while self.samples.front().is_some_and(|(at, _, _)| now.duration_since(*at) > WINDOW) {
            self.samples.pop_front();
        }
    }

    pub fn load(&self) -> Load {
        if self.samples.is_empty() {
            return Load::default();
        }
        let inflight =
            self.samples.iter().map(|(_, n, _)| n).sum::<f64>() / self.samples.len() as f64;
        let mut answered = Buckets::default();
        for (_, _, b) in &self.samples {
            answered.add(b);
        }
        Load { inflight, p95: answered.p95() }
    }
}

/// The policy with its memory: since when the load is high or low, and the last change.
#[derive(Debug)]
pub struct Scaler {
    policy: Policy,
    high_since: Option<Instant>,
    low_since: Option<Instant>,
    last_change: Option<Instant>,
}

impl Scaler {
    pub fn new(policy: Policy) -> Scaler {
        Scaler { policy, high_since: None, low_since: None, last_change: None }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// What to do with `nodes` nodes under `load` at `now`. A returned change starts the
    /// cooldown.
    pub fn decide(&mut self, now: Instant, nodes: usize, load: Load) -> Decision {
        let p = &self.policy;
        if nodes < p.min {
            return self.changed(now, Decision::Up);
        }
        if nodes > p.max {
            return self.changed(now, Decision::Down);
        }
        let per_node = load.inflight / nodes.max(1) as f64;
        let slow = matches!((load.p95, p.target_p95), (Some(at), Some(target)) if at > target);
        let high = per_node > p.target_inflight || slow;
        let low = nodes > 1 && {
            let per_node_after = load.inflight / (nodes - 1) as f64;
            let fast = match (load.p95, p.target_p95) {
                (Some(at), Some(target)) => at.as_secs_f64() < target.as_secs_f64() * LOW_MARK,
                _ => true,
            };
            per_node_after < p.target_inflight * LOW_MARK && fast
        };
        self.high_since = if high { self.high_since.or(Some(now)) } else { None };
        self.low_since = if low { self.low_since.or(Some(now)) } else { None };
        let cooling = self.last_change.is_some_and(|at| now.duration_since(at) < p.cooldown);
        if cooling {
            return Decision::Hold;
        }
        let lasted = |since: Option<Instant>, wanted: Duration| {
            since.is_some_and(|since| now.duration_since(since) >= wanted)
        };
        if nodes < p.max && lasted(self.high_since, p.up_after) {
            return self.changed(now, Decision::Up);
        }
        if nodes > p.min && lasted(self.low_since, p.down_after) {
            return self.changed(now, Decision::Down);
        }
        Decision::Hold
    }

    fn changed(&mut self, now: Instant, decision: Decision) -> Decision {
        self.last_change = Some(now);
        self.high_since = None;
        self.low_since = None;
        decision
    }
}

/// What `scalebase cluster` reads from one node's `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeMetrics {
    pub inflight: f64,
    pub latency: Buckets,
}

/// Routes whose requests say nothing about load: health checks, and realtime connections
/// (answered at once, then streamed).
const IGNORED_ROUTES: &[&str] = &["/api/health", "/api/ready", "/api/realtime"];

/// Reads the in-flight gauge and the request-duration histogram from the Prometheus text
/// format; lines it does not understand are skipped.
pub fn parse_metrics(text: &str) -> NodeMetrics {
    let inflight_name = sb_observe::names::HTTP_IN_FLIGHT;
    let bucket_name = format!("{}_bucket{{", sb_observe::names::HTTP_REQUEST_DURATION);
    let mut metrics = NodeMetrics::default();
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(inflight_name) {
            if let Some(value) = rest.strip_prefix(' ').and_then(|v| v.trim().parse::<f64>().ok()) {
                metrics.inflight = value.max(0.0);
            }
            continue;
        }
        let Some(labels) = line.strip_prefix(bucket_name.as_str()) else { continue };
        let Some((labels, value)) = labels.rsplit_once("} ") else { continue };
        if IGNORED_ROUTES.iter().any(|r| labels.contains(&format!("route=\"{r}\""))) {
            continue;
        }
        let Some(le) = label(labels, "le") else { continue };
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse::<f64>().unwrap_or(f64::NAN) };
        let Ok(count) = value.split_whitespace().next().unwrap_or("").parse::<f64>() else {
            continue;
        };
        if le.is_nan() {
            continue;
        }
        match buckets.iter_mut().find(|(bound, _)| *bound == le) {
            Some(bucket) => bucket.1 += count,
            None => buckets.push((le, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    metrics.latency = Buckets(buckets);
    metrics
}

/// The value of label `name` in `a="x",name="y"` (values without escaped quotes).
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let first = format!("{name}=\"");
    let start = if labels.starts_with(&first) {
        first.len()
    } else {
        labels.find(&format!("\",{first}"))? + first.len() + 2
    };
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}
