use std::time::Duration;

use serde_json::json;

use super::{Audience, Policy, client_key};
use sb_ratelimit::{MemoryLimiter, Quota};

const SEC: u64 = 1_000_000_000;

fn quota(max: u32, secs: u64) -> Quota {
    Quota { max_requests: max, period: Duration::from_secs(secs) }
}

#[test]
fn gcra_bursts_then_spaces_requests() {
    let l = MemoryLimiter::new(1000);
    let q = quota(2, 3);
    let t0 = 10 * SEC;
    assert!(l.hit_at("k", q, t0));
    assert!(l.hit_at("k", q, t0));
    assert!(!l.hit_at("k", q, t0));
    assert!(!l.check_at("k", q, t0 + SEC));
    // One request is freed every period / max = 1.5 s.
    assert!(l.check_at("k", q, t0 + 3 * SEC / 2));
    assert!(l.hit_at("k", q, t0 + 3 * SEC / 2));
    assert!(!l.hit_at("k", q, t0 + 3 * SEC / 2));
    // After a whole idle period the burst is back.
    assert!(l.hit_at("k", q, t0 + 6 * SEC));
    assert!(l.hit_at("k", q, t0 + 6 * SEC));
    assert!(!l.hit_at("k", q, t0 + 6 * SEC));
    // Keys are independent; check never counts.
    for _ in 0..10 {
        assert!(l.check_at("other", q, t0));
    }
    assert!(l.hit_at("other", q, t0));
}

#[test]
fn refused_requests_are_not_counted() {
    let l = MemoryLimiter::new(1000);
    let q = quota(1, 10);
    assert!(l.hit_at("k", q, 0));
    for i in 1..100 {
        assert!(!l.hit_at("k", q, i * SEC / 20));
    }
    assert!(l.hit_at("k", q, 10 * SEC));
}

#[test]
fn idle_keys_are_swept_and_memory_is_capped() {
    let l = MemoryLimiter::new(16 * 100);
    let q = quota(5, 1);
    // 20k distinct clients over time: idle keys (TAT in the past) are dropped as shards grow.
    for i in 0..20_000u64 {
        assert!(l.hit_at(&format!("client-{i}"), q, i * SEC));
    }
    assert!(l.len() <= 16 * 100, "{}", l.len());
    // All at the same instant: the cap holds and further new keys are refused.
    let l = MemoryLimiter::new(16 * 10);
    let admitted = (0..1000).filter(|i| l.hit_at(&format!("c{i}"), q, SEC)).count();
    assert!((100..=160).contains(&admitted), "{admitted}");
    assert!(l.len() <= 160);
    // Once they are idle, new clients get in again.
    assert!(l.hit_at("late", q, 5 * SEC));
}

fn policy(rules: serde_json::Value) -> Policy {
    Policy::from_settings(&json!({"rateLimits": {"enabled": true, "rules": rules}}))
}

fn labels(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn rule_selection_follows_label_order() {
    let p = policy(json!([
        {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300},
        {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
        {"label": "users:create", "audience": "@guest", "duration": 5, "maxRequests": 2},
        {"label": "POST /api/batch", "audience": "", "duration": 1, "maxRequests": 3},
        {"label": "/api/collections/", "audience": "@auth", "duration": 1, "maxRequests": 9},
    ]));
    let create = |c: &str| {
        labels(&[
            &format!("{c}:create"),
            "*:create",
            &format!("POST /api/collections/{c}/records"),
            &format!("/api/collections/{c}/records"),
        ])
    };
    assert_eq!(p.find(&create("users"), false).unwrap().label, "users:create");
    // The guest-only rule is skipped for authenticated requests.
    assert_eq!(p.find(&create("users"), true).unwrap().label, "*:create");
    assert_eq!(p.find(&create("posts"), false).unwrap().label, "*:create");
    let batch = labels(&["POST /api/batch", "/api/batch"]);
    assert_eq!(p.find(&batch, false).unwrap().label, "POST /api/batch");
    let get_batch = labels(&["GET /api/batch", "/api/batch"]);
    assert_eq!(p.find(&get_batch, false).unwrap().label, "/api/");
    let list = labels(&["GET /api/collections/posts/records", "/api/collections/posts/records"]);
    assert_eq!(p.find(&list, false).unwrap().label, "/api/");
    // Among prefix rules, the first matching one in the rule list wins (as the reference).
    assert_eq!(p.find(&list, true).unwrap().label, "/api/");
    // A prefix rule matches its own path without the trailing slash.
    assert_eq!(p.find(&labels(&["GET /api", "/api"]), false).unwrap().label, "/api/");
    assert!(p.find(&labels(&["GET /other", "/other"]), false).is_none());
}

#[test]
fn policy_parsing() {
    let p = Policy::from_settings(&json!({
        "rateLimits": {
            "enabled": false,
            "rules": [
                {"label": "*:auth", "audience": "@guest", "duration": 3, "maxRequests": 2},
                {"label": "bad", "audience": "@nobody", "duration": 3, "maxRequests": 2},
                {"label": "zero", "audience": "", "duration": 0, "maxRequests": 2}
            ],
            "excludedIPs": ["10.0.0.0/8", "192.168.1.7", "junk"],
            "failedAuth": {"enabled": true, "duration": 60, "maxPerIP": 20, "maxPerIdentity": 5}
        },
        "trustedProxy": {"headers": ["X-Real-IP", " "], "useLeftmostIP": true}
    }));
    assert!(!p.enabled);
    assert_eq!(p.rules.len(), 1);
    assert_eq!(p.rules[0].audience, Audience::Guest);
    assert_eq!(p.rules[0].quota, quota(2, 3));
    assert!(p.is_excluded("10.1.2.3".parse().unwrap()));
    assert!(p.is_excluded("192.168.1.7".parse().unwrap()));
    assert!(!p.is_excluded("192.168.1.8".parse().unwrap()));
    let fa = p.failed_auth.unwrap();
    assert_eq!((fa.per_ip, fa.per_identity), (quota(20, 60), quota(5, 60)));
    assert_eq!(p.trusted_proxy.headers, vec!["X-Real-IP".to_string()]);
    assert!(p.trusted_proxy.use_leftmost_ip);
    let off = Policy::from_settings(&json!({"rateLimits": {"failedAuth": {"enabled": false}}}));
    assert!(off.failed_auth.is_none());
}

#[test]
fn client_keys_group_ipv6_by_64() {
    assert_eq!(client_key("1.2.3.4".parse().unwrap()), "1.2.3.4");
    let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
    let b = client_key("2001:db8:1:2:bbbb::9".parse().unwrap());
    assert_eq!(a, b);
    assert_ne!(a, client_key("2001:db8:1:3::1".parse().unwrap()));
}
