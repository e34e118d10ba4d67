//! Several nodes sharing Redis: cluster-wide rate limits (GCRA in Redis), per-node fallback
//! when Redis is down or hung (never a 5xx), and Redis in the readiness view.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;

use crate::common::Client;

/// Redis for the tests (`SCALEBASE_TEST_REDIS_URL`, default the local one).
fn redis_url() -> String {
    std::env::var("SCALEBASE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A Redis handle whose keys are this test's own.
fn redis_at(url: &str) -> sb_redis::Redis {
    let prefix = format!("sbtest:{:016x}:", rand_u64());
    sb_redis::Redis::open(&sb_redis::RedisConfig { url: url.into(), prefix }).expect("redis url")
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A node: an in-process server on its own database, counting rate limits through `redis`.
struct Node {
    url: String,
    app: sb_testkit::TestApp,
    served: sb_testkit::Serving,
}

impl Node {
    async fn start(backend: sb_testkit::Backend, redis: &sb_redis::Redis) -> Node {
        let app = sb_testkit::TestApp::open(backend).await;
        let mut config = sb_http::HttpConfig::default();
        config.health_checks.push(Arc::new(redis.clone()));
        let limiter = Arc::new(sb_redis::RedisLimiter::new(redis.clone()));
        let router = sb_http::router_with_limiter(app.app.clone(), config, limiter);
        let served = sb_testkit::Serving::start(app.app.clone(), router).await;
        Node { url: served.url.clone(), app, served }
    }

    /// A superuser client with the test's rate limit: 3 requests a minute on `/api/health`.
    async fn limited(&self) -> Client {
        let su = Client::admin(&self.url, &self.app.app).await;
        let limits = json!({"enabled": true, "rules": [
            {"label": "GET /api/health", "audience": "", "duration": 60, "maxRequests": 3}
        ]});
        let r = su.patch("/api/settings", json!({"rateLimits": limits})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        su.with_token(None)
    }

    async fn stop(self) {
        self.served.stop().await;
        self.app.cleanup().await;
    }
}

async fn health(c: &Client) -> u16 {
    c.raw(Method::GET, "/api/health", None, "", &[]).await.status
}

/// An address where nothing listens.
async fn dead_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("redis://{addr}")
}

/// A "Redis" that accepts connections and never answers.
async fn hung_address() -> (String, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = l.accept().await {
            held.push(socket);
        }
    });
    (format!("redis://{addr}"), task)
}

// Two nodes share one quota per client through Redis.
sb_testkit::sbtest!(rate_limits_are_shared_by_the_nodes, |_app, backend| async move {
    let redis = redis_at(&redis_url());
    let (a, b) = (Node::start(backend, &redis).await, Node::start(backend, &redis).await);
    let (ga, gb) = (a.limited().await, b.limited().await);
    assert_eq!(health(&ga).await, 200);
    assert_eq!(health(&gb).await, 200);
    assert_eq!(health(&ga).await, 200);
    // The quota of 3 is used up across the nodes, on either of them.
    assert_eq!(health(&gb).await, 429);
    assert_eq!(health(&ga).await, 429);
    let ready = ga.get("/api/ready").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["checks"]["redis"]["status"], "ok");
    a.stop().await;
    b.stop().await;
});

// Redis down (refused) or hung (never answers): requests are served, limits fall back to each
// node's own counts, and readiness reports the node degraded but ready.
sb_testkit::sbtest!(without_redis_nodes_serve_with_local_limits, |_app, backend| async move {
    let (hung, hung_task) = hung_address().await;
    for url in [dead_address().await, hung] {
        let redis = redis_at(&url);
        let (a, b) = (Node::start(backend, &redis).await, Node::start(backend, &redis).await);
        let (ga, gb) = (a.limited().await, b.limited().await);
        for _ in 0..3 {
            assert_eq!(health(&ga).await, 200, "{url}");
        }
        assert_eq!(health(&ga).await, 429, "node A's own quota, {url}");
        // Node B counts on its own.
        assert_eq!(health(&gb).await, 200, "{url}");
        let records = ga.get("/api/collections/users/records").await;
        assert!(records.status < 500, "{url}: {:?}", records.body);
        let ready = ga.get("/api/ready").await;
        assert_eq!(ready.status, 200, "{url}: {:?}", ready.body);
        assert_eq!(ready.body["status"], "degraded");
        assert_eq!(ready.body["checks"]["redis"]["status"], "unavailable");
        assert_eq!(ready.body["checks"]["database"]["status"], "ok");
        a.stop().await;
        b.stop().await;
    }
    hung_task.abort();
});

// The auth flows' counts (OTP attempts, mail resend throttle) hold across nodes through Redis,
// and fall back to each node's own counts while Redis is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_flow_counts_are_shared_by_the_nodes() {
    use sb_core::counters::Counters;
    let window = std::time::Duration::from_secs(60);
    let redis = redis_at(&redis_url());
    let (a, b) = (sb_redis::RedisCounters::new(redis.clone()), sb_redis::RedisCounters::new(redis));
    for node in [&a, &b, &a, &b, &a] {
        assert!(node.admit("otp:record1", 5, window).await);
    }
    assert!(!b.admit("otp:record1", 5, window).await, "the sixth attempt, on either node");
    assert!(!a.admit("otp:record1", 5, window).await);
    assert!(a.admit("otp:record2", 5, window).await, "other keys count apart");

    let down = redis_at(&dead_address().await);
    let (a, b) = (sb_redis::RedisCounters::new(down.clone()), sb_redis::RedisCounters::new(down));
    assert!(a.admit("mail:x", 1, window).await);
    assert!(!a.admit("mail:x", 1, window).await, "node A's own count");
    assert!(b.admit("mail:x", 1, window).await, "node B counts on its own");
}

// The shared cache layer in Redis: an entry is served until a stamp it was stored against is
// set (a change of its row keeps the entries of other rows), an entry computed while a change
// was stamped is never stored, and a stamp group lost (evicted) or the sequence lost never
// revives an older entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_cache_entries_live_until_what_they_read_is_stamped() {
    use sb_core::{SharedCache, SharedGet, Stamps};
    let stamps = |group: &str, fields: &[&str]| Stamps {
        group: group.into(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    };
    let redis = redis_at(&redis_url());
    let cache = sb_redis::RedisCache::new(redis.clone());
    let since = |got: SharedGet| match got {
        SharedGet::Miss { seq } => seq,
        SharedGet::Hit(v) => panic!("unexpected hit {v}"),
    };
    let view_p1 = [stamps("", &["all"]), stamps("posts", &["w", "r1"])];
    let view_p2 = [stamps("", &["all"]), stamps("posts", &["w", "r2"])];

    let s = since(cache.get("k1").await.unwrap());
    cache.put("k1", s, &view_p1, "one".into()).await.unwrap();
    cache.put("k2", s, &view_p2, "two".into()).await.unwrap();
    assert_eq!(cache.get("k1").await.unwrap(), SharedGet::Hit("one".into()));
    assert_eq!(cache.get("k2").await.unwrap(), SharedGet::Hit("two".into()));

    cache.bump(&[stamps("posts", &["t", "r2"]), stamps("", &["any"])]).await.unwrap();
    assert_eq!(cache.get("k1").await.unwrap(), SharedGet::Hit("one".into()), "another row");
    let after = since(cache.get("k2").await.unwrap());
    assert!(after > s, "the sequence moved on");

    // Computed from before a change that was stamped meanwhile: refused.
    cache.put("k2", s, &view_p2, "stale".into()).await.unwrap();
    assert!(matches!(cache.get("k2").await.unwrap(), SharedGet::Miss { .. }));
    cache.put("k2", after, &view_p2, "two'".into()).await.unwrap();
    assert_eq!(cache.get("k2").await.unwrap(), SharedGet::Hit("two'".into()));

    // A group evicted, then made again by a fill: entries stored before are refused.
    let mut c = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await;
    let c = c.as_mut().expect("redis");
    let _: i64 =
        redis::cmd("DEL").arg(redis.key("cache:stamps:posts")).query_async(c).await.unwrap();
    cache.bump(&[stamps("users", &["t", "w"]), stamps("", &["any"])]).await.unwrap();
    let now = since(cache.get("k3").await.unwrap());
    cache.put("k3", now, &view_p1, "three".into()).await.unwrap();
    assert!(matches!(cache.get("k1").await.unwrap(), SharedGet::Miss { .. }));
    assert!(matches!(cache.get("k2").await.unwrap(), SharedGet::Miss { .. }));

    // The sequence lost: it restarts from the clock, above every stamp given so far.
    let _: i64 = redis::cmd("DEL").arg(redis.key("cache:seq")).query_async(c).await.unwrap();
    let s = since(cache.get("k4").await.unwrap());
    assert_eq!(s, 0);
    cache.bump(&[stamps("posts", &["t", "r1"]), stamps("", &["any"])]).await.unwrap();
    assert!(since(cache.get("k4").await.unwrap()) > after);

    // A stamp of everything hides every entry.
    let s = since(cache.get("k5").await.unwrap());
    cache.put("k5", s, &view_p2, "five".into()).await.unwrap();
    assert_eq!(cache.get("k5").await.unwrap(), SharedGet::Hit("five".into()));
    cache.bump(&[stamps("", &["all", "any"])]).await.unwrap();
    assert!(matches!(cache.get("k5").await.unwrap(), SharedGet::Miss { .. }));

    // Redis down: errors (the node computes the answer itself), never a wrong hit.
    let down = sb_redis::RedisCache::new(redis_at(&dead_address().await));
    assert!(down.get("k1").await.is_err());
    assert!(down.bump(&view_p1).await.is_err());
}
