use std::time::{Duration, Instant};

use super::scaler::{Buckets, Decision, Load, Policy, Scaler, Window, parse_metrics};
use super::*;

fn policy() -> Policy {
    Policy {
        min: 1,
        max: 3,
        target_inflight: 10.0,
        target_p95: Some(Duration::from_millis(100)),
        up_after: Duration::from_secs(2),
        down_after: Duration::from_secs(5),
        cooldown: Duration::from_secs(3),
    }
}

fn load(inflight: f64) -> Load {
    Load { inflight, p95: None }
}

/// Feeds `load` every 250 ms for `seconds`, returning the decisions that were not Hold.
fn run(s: &mut Scaler, t: &mut Instant, nodes: &mut usize, l: Load, seconds: f64) -> Vec<Decision> {
    let mut changes = Vec::new();
    let steps = (seconds / 0.25) as usize;
    for _ in 0..steps {
        *t += Duration::from_millis(250);
        match s.decide(*t, *nodes, l) {
            Decision::Hold => {}
            d @ Decision::Up => {
                *nodes += 1;
                changes.push(d);
            }
            d @ Decision::Down => {
                *nodes -= 1;
                changes.push(d);
            }
        }
    }
    changes
}

#[test]
fn sustained_load_adds_a_node_but_a_burst_does_not() {
    let mut s = Scaler::new(policy());
    let (mut t, mut nodes) = (Instant::now(), 1);
    assert!(run(&mut s, &mut t, &mut nodes, load(30.0), 1.5).is_empty(), "a burst");
    assert!(run(&mut s, &mut t, &mut nodes, load(2.0), 1.0).is_empty());
    assert_eq!(run(&mut s, &mut t, &mut nodes, load(30.0), 2.25), vec![Decision::Up]);
    assert_eq!(nodes, 2);
}

#[test]
fn cooldown_spaces_changes_and_max_bounds_them() {
    let mut s = Scaler::new(policy());
    let (mut t, mut nodes) = (Instant::now(), 1);
    let changes = run(&mut s, &mut t, &mut nodes, load(100.0), 4.0);
    assert_eq!(changes, vec![Decision::Up], "the second waits for the cooldown");
    let changes = run(&mut s, &mut t, &mut nodes, load(100.0), 30.0);
    assert_eq!(changes, vec![Decision::Up], "then one more, up to max");
    assert_eq!(nodes, 3);
}

#[test]
fn removal_needs_the_load_to_stay_low_with_one_node_fewer() {
    let mut s = Scaler::new(policy());
    let (mut t, mut nodes) = (Instant::now(), 2);
    // 2 nodes × 6 = 12 in flight: below target per node, but 12 on one node would be above
    // half the target: kept (hysteresis).
    assert!(run(&mut s, &mut t, &mut nodes, load(12.0), 20.0).is_empty());
    // 4 in flight: 4 on one node is below half the target: removed after down_after.
    assert!(run(&mut s, &mut t, &mut nodes, load(4.0), 4.75).is_empty());
    assert_eq!(run(&mut s, &mut t, &mut nodes, load(4.0), 0.5), vec![Decision::Down]);
    assert!(run(&mut s, &mut t, &mut nodes, load(0.0), 20.0).is_empty(), "never below min");
    assert_eq!(nodes, 1);
}

#[test]
fn latency_above_its_target_adds_a_node_and_blocks_a_removal() {
    let mut s = Scaler::new(policy());
    let (mut t, mut nodes) = (Instant::now(), 2);
    let slow = Load { inflight: 1.0, p95: Some(Duration::from_millis(250)) };
    assert_eq!(run(&mut s, &mut t, &mut nodes, slow, 2.5), vec![Decision::Up]);
    let middling = Load { inflight: 0.0, p95: Some(Duration::from_millis(60)) };
    assert!(run(&mut s, &mut t, &mut nodes, middling, 20.0).is_empty());
    let fast = Load { inflight: 0.0, p95: Some(Duration::from_millis(10)) };
    assert_eq!(run(&mut s, &mut t, &mut nodes, fast, 6.0), vec![Decision::Down]);
}

#[test]
fn a_count_outside_the_bounds_is_corrected_at_once() {
    let mut s = Scaler::new(Policy { min: 2, ..policy() });
    assert_eq!(s.decide(Instant::now(), 1, load(0.0)), Decision::Up);
    let mut s = Scaler::new(policy());
    assert_eq!(s.decide(Instant::now(), 4, load(0.0)), Decision::Down);
}

const METRICS: &str = r#"# TYPE scalebase_http_requests_in_flight gauge
scalebase_http_requests_in_flight 7
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="GET",status="200",le="0.01"} 80
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="GET",status="200",le="0.1"} 96
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="GET",status="200",le="+Inf"} 100
scalebase_http_request_duration_seconds_bucket{route="/api/ready",method="GET",status="200",le="0.01"} 5000
scalebase_http_request_duration_seconds_bucket{route="/api/ready",method="GET",status="200",le="0.1"} 5000
scalebase_http_request_duration_seconds_bucket{route="/api/ready",method="GET",status="200",le="+Inf"} 5000
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="POST",status="200",le="0.01"} 0
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="POST",status="200",le="0.1"} 0
scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="POST",status="200",le="+Inf"} 100
scalebase_http_request_duration_seconds_sum{route="/api/ready",method="GET",status="200"} 1.5
garbage line {le="x"}
"#;

#[test]
fn node_metrics_are_read_without_health_checks() {
    let m = parse_metrics(METRICS);
    assert_eq!(m.inflight, 7.0);
    assert_eq!(m.latency, Buckets(vec![(0.01, 80.0), (0.1, 96.0), (f64::INFINITY, 200.0)]));
    // 95% of 200 is in +Inf: the last finite bound stands for it.
    assert_eq!(m.latency.p95(), Some(Duration::from_millis(100)));
    let earlier = Buckets(vec![(0.01, 70.0), (0.1, 80.0), (f64::INFINITY, 100.0)]);
    let recent = m.latency.since(Some(&earlier));
    assert_eq!(recent, Buckets(vec![(0.01, 10.0), (0.1, 16.0), (f64::INFINITY, 100.0)]));
    let restarted = Buckets(vec![(0.01, 500.0), (0.1, 500.0), (f64::INFINITY, 500.0)]);
    assert_eq!(m.latency.since(Some(&restarted)), m.latency, "a restarted node counts whole");
    assert_eq!(parse_metrics("").latency.p95(), None);
}

#[test]
fn the_window_averages_in_flight_and_pools_latencies() {
    let mut w = Window::default();
    let t = Instant::now();
    w.push(t, 10.0, Buckets(vec![(0.01, 10.0), (f64::INFINITY, 10.0)]));
    w.push(t + Duration::from_secs(1), 20.0, Buckets(vec![(0.01, 0.0), (f64::INFINITY, 10.0)]));
    let l = w.load();
    assert_eq!(l.inflight, 15.0);
    assert_eq!(l.p95, Some(Duration::from_millis(10)), "last finite bound for +Inf");
    w.push(t + Duration::from_secs(4), 2.0, Buckets::default());
    assert_eq!(w.load(), Load { inflight: 2.0, p95: None }, "old samples leave the window");
}

#[test]
fn every_node_setting_is_passed_on() {
    let args = ServeArgs {
        http: Some("127.0.0.1:1".into()),
        storage: StorageArgs {
            dir: Some("/data".into()),
            db: Some("postgres://db".into()),
            db_replica: Some(vec!["postgres://r1".into(), "postgres://r2".into()]),
            synchronous: Some("normal".into()),
            sqlite_readers: Some(3),
            pg_pool_size: Some(9),
            query_timeout_secs: Some(5),
            cache_mb: Some(0),
        },
        body_limit: Some(1024),
        cors_origins: Some(vec!["https://a".into(), "https://b".into()]),
        log_format: Some("json".into()),
        log_level: Some("warn".into()),
        access_log: true,
        metrics_addr: Some("127.0.0.1:2".into()),
        metrics_token: Some("secret".into()),
        otlp_endpoint: Some("http://127.0.0.1:4318".into()),
        otlp_service_name: Some("sb".into()),
        redis: Some("redis://127.0.0.1:6379".into()),
        redis_prefix: Some("p:".into()),
    };
    let env = node_env(&args, Some(std::path::Path::new("/etc/sb.toml")));
    let get = |k: &str| env.iter().find(|(name, _)| name == k).map(|(_, v)| v.to_str().unwrap());
    assert_eq!(env.len(), 19, "all but --http and --metrics-addr: {env:?}");
    assert_eq!(get("SCALEBASE_ACCESS_LOG"), Some("true"));
    assert_eq!(get("SCALEBASE_DB_REPLICA"), Some("postgres://r1,postgres://r2"));
    assert_eq!(get("SCALEBASE_CORS_ORIGINS"), Some("https://a,https://b"));
    assert_eq!(get("SCALEBASE_QUERY_TIMEOUT"), Some("5"));
    assert_eq!(get("SCALEBASE_CONFIG"), Some("/etc/sb.toml"));
    assert_eq!(get("SCALEBASE_HTTP"), None);
    assert!(node_env(&ServeArgs::default(), None).is_empty());
}
