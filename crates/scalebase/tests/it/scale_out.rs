//! Several nodes on one database (issue 6): writes, schema changes and revocations made on
//! one node are in force on the others when the write is acknowledged, through the caches;
//! realtime events and subscriptions cross nodes; Redis killed or hung never causes a 5xx
//! (caches are bypassed) and the cluster recovers when it is back. Every test runs on SQLite
//! (nodes sharing the store in-process) and PostgreSQL (nodes with stores of their own); the
//! LISTEN/NOTIFY transport is PostgreSQL's alone.

use std::sync::Arc;
use std::time::Duration;

use sb_testkit::faults::{Fault, FaultProxy};
use serde_json::json;

use crate::common::Client;
use crate::realtime::Sse;

/// Bound on waiting for the cluster to reach a state.
const WAIT: Duration = Duration::from_secs(15);

fn redis_addr() -> std::net::SocketAddr {
    let url = std::env::var("SCALEBASE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rest = url.trim_start_matches("redis://");
    let host = rest.split(['/', '@']).next().unwrap_or(rest);
    host.parse().expect("SCALEBASE_TEST_REDIS_URL is redis://IP:PORT")
}

/// A Redis handle at `url` whose keys and channel are this test's own.
fn redis_at(url: &str) -> sb_redis::Redis {
    use std::hash::{BuildHasher, RandomState};
    let prefix =
        format!("sbtest:{:016x}:", RandomState::new().hash_one(std::time::SystemTime::now()));
    redis_with_prefix(url, &prefix)
}

fn redis_with_prefix(url: &str, prefix: &str) -> sb_redis::Redis {
    let config = sb_redis::RedisConfig { url: url.into(), prefix: prefix.into() };
    sb_redis::Redis::open(&config).expect("redis url")
}

/// A node: an app on the shared database, served on its own port.
type Node = sb_testkit::Serving;

/// `n` nodes on `t`'s database, node `i` joined by `join(i, app)`, once every node hears the
/// others and trusts its caches.
async fn cluster(
    t: &sb_testkit::TestApp,
    n: usize,
    join: impl Fn(usize, &Arc<sb_core::App>),
) -> Vec<Node> {
    let mut nodes = Vec::new();
    for i in 0..n {
        let app = if i == 0 { t.app.clone() } else { t.open_peer().await };
        join(i, &app);
        nodes.push(Node::app(app).await);
    }
    wait_until("the cluster forms", || {
        nodes.iter().all(|node| node.app.cluster_trusted() && node.app.cluster_peers() == n - 1)
    })
    .await;
    nodes
}

/// Nodes joined over Redis, node `i` through `handles[i]`, each with the shared cache layer
/// (as `scalebase serve --redis` does).
async fn redis_cluster(t: &sb_testkit::TestApp, handles: &[&sb_redis::Redis]) -> Vec<Node> {
    cluster(t, handles.len(), |i, app| {
        let redis = handles[i];
        app.set_shared_cache(Arc::new(sb_redis::RedisCache::new(redis.clone())));
        app.join_cluster(Arc::new(sb_redis::RedisTransport::new(redis.clone())));
    })
    .await
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop_all(nodes: Vec<Node>) {
    for node in nodes {
        node.stop().await;
    }
}

fn at(client: &Client, node: &Node) -> Client {
    Client { base: node.url.clone(), ..client.clone() }
}

async fn notes(su: &Client) {
    su.create_collection(json!({
        "name": "notes", "type": "base", "listRule": "", "viewRule": "",
        "createRule": "", "updateRule": "",
        "fields": [
            {"name": "t", "type": "text"},
            {"name": "n", "type": "number"},
            {"name": "body", "type": "text", "max": 30000}
        ]
    }))
    .await;
}

/// A user of `users` logged in through `node`.
async fn user(su: &Client, node: &Node, name: &str) -> (Client, String) {
    let email = format!("{name}@example.com");
    let r = su
        .post(
            "/api/collections/users/records",
            json!({"email": email, "password": "password123", "passwordConfirm": "password123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut c = Client::guest(&node.url);
    let r = c
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": email, "password": "password123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    c.token = r.body["token"].as_str().map(String::from);
    (c, id)
}

/// Writes, schema changes and revocations on one node, read at once on the others.
async fn writes_are_read_everywhere(nodes: &[Node]) {
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let su = Client::admin(&a.url, &a.app).await;
    // A schema change on A is in force on B and C when A answers.
    notes(&su).await;
    for node in [b, c] {
        let r = Client::guest(&node.url).get("/api/collections/notes/records").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let r = su.post("/api/collections/notes/records", json!({"t": "v0", "n": 0})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let guest_b = Client::guest(&b.url);
    let (hits_before, _) = b.app.cache_stats();
    for i in 1..=15 {
        // Each read on B fills or hits its cache; each write on A must invalidate it.
        let view = guest_b.get(&format!("/api/collections/notes/records/{id}")).await;
        assert_eq!(view.body["n"], i - 1, "view on B before write {i}");
        let again = guest_b.get(&format!("/api/collections/notes/records/{id}")).await;
        assert_eq!(again.body, view.body);
        let list = guest_b.get("/api/collections/notes/records?sort=-n").await;
        assert_eq!(list.body["items"][0]["n"], i - 1);
        let writer = if i % 2 == 0 { at(&su, c) } else { su.clone() };
        let r = writer
            .patch(
                &format!("/api/collections/notes/records/{id}"),
                json!({"n": i, "t": format!("v{i}")}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let view = guest_b.get(&format!("/api/collections/notes/records/{id}")).await;
        assert_eq!(view.body["n"], i, "B reads write {i} at once");
        let list = guest_b.get("/api/collections/notes/records?sort=-n").await;
        assert_eq!(list.body["items"][0]["t"], format!("v{i}"));
    }
    let (hits_after, _) = b.app.cache_stats();
    assert!(
        hits_after.hits >= hits_before.hits + 15,
        "B served repeated reads from its cache: {hits_before:?} -> {hits_after:?}"
    );
    // A rule changed on A is enforced on B at once (the cached list entry must not answer).
    let r = su.patch("/api/collections/notes", json!({"listRule": null})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(guest_b.get("/api/collections/notes/records").await.status, 403);

    // A token revoked on A (password change rotates the token key) is refused on B and C.
    let (alice, alice_id) = user(&su, a, "alice").await;
    for node in [b, c] {
        for _ in 0..2 {
            let r = at(&alice, node).post("/api/collections/users/auth-refresh", json!({})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    }
    let r = su
        .patch(
            &format!("/api/collections/users/records/{alice_id}"),
            json!({"password": "password456", "passwordConfirm": "password456"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for node in [b, c] {
        let r = at(&alice, node).post("/api/collections/users/auth-refresh", json!({})).await;
        assert_eq!(r.status, 401, "revoked token on {}: {:?}", node.url, r.body);
    }
    // Settings saved on C are in force on A when C answers.
    let r = at(&su, c).patch("/api/settings", json!({"meta": {"appName": "clustered"}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(su.get("/api/settings").await.body["meta"]["appName"], "clustered");
}

/// The shared cache layer: an answer computed on one node is served by the others from it,
/// never after a write to what it read was acknowledged.
async fn shared_cache_serves_other_nodes(nodes: &[Node]) {
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let su = Client::admin(&a.url, &a.app).await;
    let r = su.patch("/api/collections/notes", json!({"listRule": ""})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A lookup that outlasts its short bound computes the answer instead (a loaded machine):
    // try a few fresh records until one is served from the shared layer.
    let mut shared_view = None;
    for attempt in 0..5 {
        let r = su.post("/api/collections/notes/records", json!({"t": "s", "n": attempt})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let path = format!("/api/collections/notes/records/{}", r.body["id"].as_str().unwrap());
        let on_a = Client::guest(&a.url).get(&path).await;
        assert_eq!(on_a.body["n"], attempt);
        let (before, _) = c.app.cache_stats();
        let on_c = Client::guest(&c.url).get(&path).await;
        assert_eq!(on_c.body, on_a.body, "the shared answer is the one A computed");
        if c.app.cache_stats().0.shared_hits > before.shared_hits {
            shared_view = Some(path);
            break;
        }
    }
    let path = shared_view.expect("C was served from the shared cache");
    // A write on B hides the shared entry and C's copy before B answers.
    let r = at(&su, b).patch(&path, json!({"t": "changed"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for node in [a, c] {
        let r = Client::guest(&node.url).get(&path).await;
        assert_eq!(r.body["t"], "changed", "read on {} after the write", node.url);
    }
    // List pages too, for the same query and principal only.
    let query = "/api/collections/notes/records?filter=(t='changed')";
    let on_b = Client::guest(&b.url).get(query).await;
    assert_eq!(on_b.body["totalItems"], 1, "{:?}", on_b.body);
    let on_a = Client::guest(&a.url).get(query).await;
    assert_eq!(on_a.body, on_b.body);
    let as_su = at(&su, c).get(query).await;
    assert_eq!(as_su.body["totalItems"], 1);
    let r = su.post("/api/collections/notes/records", json!({"t": "changed"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for node in [a, b, c] {
        let r = Client::guest(&node.url).get(query).await;
        assert_eq!(r.body["totalItems"], 2, "list on {} after the create", node.url);
    }
}

/// A subscription made through one node on a stream held by another; events of writes made
/// on a third reach it, and the auth binding is checked by the node holding the stream.
async fn realtime_crosses_nodes(nodes: &[Node]) {
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let su = Client::admin(&a.url, &a.app).await;
    let mut sse = Sse::connect(&c.url).await;
    let (alice, _) = user(&su, a, "rt-alice").await;
    let (bob, _) = user(&su, a, "rt-bob").await;
    // Subscribed through A (as alice), bound on C.
    sse.subscribe(&at(&alice, a), &["notes/*"]).await;
    // Another identity cannot take the client over, through any node.
    let body = json!({"clientId": sse.client_id(), "subscriptions": ["notes/*"]});
    let r = at(&bob, b).post("/api/realtime", body).await;
    assert_eq!(r.status, 403, "{:?}", r.body);
    let r = at(&alice, b)
        .post("/api/realtime", json!({"clientId": "no-such-client", "subscriptions": []}))
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = at(&su, b).post("/api/collections/notes/records", json!({"t": "from B"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = sse.until(|e| e.name == "notes/*").await;
    let last = events.last().unwrap();
    assert_eq!(last.data["action"], "create");
    assert_eq!(last.data["record"]["t"], "from B");
}

async fn three_nodes_over_redis(backend: sb_testkit::Backend) {
    let t = sb_testkit::TestApp::open(backend).await;
    let redis = redis_at(&format!("redis://{}", redis_addr()));
    let nodes = redis_cluster(&t, &[&redis; 3]).await;
    for node in &nodes {
        let ready = Client::guest(&node.url).get("/api/ready").await;
        assert_eq!(ready.status, 200, "{:?}", ready.body);
        assert_eq!(ready.body["checks"]["cluster"], json!({"status": "ok", "peers": 2}));
    }
    writes_are_read_everywhere(&nodes).await;
    shared_cache_serves_other_nodes(&nodes).await;
    let su = Client::admin(&nodes[0].url, &nodes[0].app).await;
    let r = su.patch("/api/collections/notes", json!({"listRule": ""})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    realtime_crosses_nodes(&nodes).await;
    stop_all(nodes).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_redis_sqlite() {
    three_nodes_over_redis(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_redis_postgres() {
    three_nodes_over_redis(sb_testkit::Backend::Postgres).await;
}

// Without Redis, PostgreSQL's LISTEN/NOTIFY carries the same messages (a PostgreSQL feature:
// there is no SQLite variant).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_over_postgres_notifications() {
    let t = sb_testkit::TestApp::open(sb_testkit::Backend::Postgres).await;
    let url = t.pg_url().unwrap();
    let nodes = cluster(&t, 3, |_, app| {
        app.join_cluster(Arc::new(scalebase::cluster::PgTransport::new(&url).expect("transport")));
    })
    .await;
    writes_are_read_everywhere(&nodes).await;
    let su = Client::admin(&nodes[0].url, &nodes[0].app).await;
    let r = su.patch("/api/collections/notes", json!({"listRule": ""})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    realtime_crosses_nodes(&nodes).await;
    // A record too large for one notification travels by reference.
    let mut sse = Sse::connect(&nodes[2].url).await;
    sse.subscribe(&Client::guest(&nodes[1].url), &["notes/*"]).await;
    let big = "x".repeat(20_000);
    let r = su.post("/api/collections/notes/records", json!({"body": big})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = sse.until(|e| e.name == "notes/*").await;
    assert_eq!(events.last().unwrap().data["record"]["body"].as_str().map(str::len), Some(20_000));
    stop_all(nodes).await;
    t.cleanup().await;
}

/// Status of every CRUD call made while Redis is unavailable.
async fn crud_round(su: &Client, reader: &Client, id: &str, n: i64) -> Vec<u16> {
    let mut statuses = Vec::new();
    let r = su.patch(&format!("/api/collections/notes/records/{id}"), json!({"n": n})).await;
    statuses.push(r.status);
    let view = reader.get(&format!("/api/collections/notes/records/{id}")).await;
    statuses.push(view.status);
    assert_eq!(view.body["n"], n, "a write is read on the other node while Redis is out");
    let list = reader.get("/api/collections/notes/records").await;
    statuses.push(list.status);
    let created = su.post("/api/collections/notes/records", json!({"t": "during"})).await;
    statuses.push(created.status);
    let refreshed = reader.post("/api/collections/users/auth-refresh", json!({})).await;
    statuses.push(refreshed.status);
    statuses
}

async fn redis_faults(backend: sb_testkit::Backend) {
    let t = sb_testkit::TestApp::open(backend).await;
    let proxy = FaultProxy::start(redis_addr()).await;
    let redis = redis_at(&proxy.url("redis", ""));
    let nodes = redis_cluster(&t, &[&redis; 2]).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let su = Client::admin(&a.url, &a.app).await;
    notes(&su).await;
    let r = su.post("/api/collections/notes/records", json!({"t": "x", "n": 0})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let (alice, _) = user(&su, a, "fault-alice").await;
    let reader = at(&alice, b);
    let mut sse = Sse::connect(&b.url).await;
    sse.subscribe(&Client::guest(&b.url), &["notes/*"]).await;
    let mut n = 0;
    for fault in [Fault::Down, Fault::Hang] {
        // Warm B's cache, then take Redis away.
        let _ = reader.get(&format!("/api/collections/notes/records/{id}")).await;
        proxy.set(fault);
        wait_until("the nodes stop trusting their caches", || {
            nodes.iter().all(|node| !node.app.cluster_trusted())
        })
        .await;
        // Still ready: a node cut off from the cluster serves, without its caches. (A hello
        // already on its way when the fault began can still come back and make the node trust
        // its caches again for a moment, so ask until the answer settles.)
        let mut ready = Client::guest(&b.url).get("/api/ready").await;
        for _ in 0..40 {
            if ready.body["status"] == "degraded" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            ready = Client::guest(&b.url).get("/api/ready").await;
        }
        assert_eq!(ready.status, 200, "{:?}", ready.body);
        assert_eq!(ready.body["status"], "degraded");
        assert_eq!(ready.body["checks"]["cluster"]["status"], "unavailable");
        let (before, _) = b.app.cache_stats();
        for _ in 0..3 {
            n += 1;
            let statuses = crud_round(&su, &reader, &id, n).await;
            assert!(statuses.iter().all(|s| *s < 500), "{fault:?}: {statuses:?}");
        }
        let (after, _) = b.app.cache_stats();
        assert!(after.bypasses > before.bypasses, "{fault:?}: caches bypassed");
        assert_eq!(after.hits, before.hits, "{fault:?}: no cached answer while Redis is out");
        // Redis back: the cluster re-forms, realtime crosses nodes again.
        proxy.set(Fault::None);
        wait_until("the cluster re-forms", || {
            nodes.iter().all(|node| node.app.cluster_trusted() && node.app.cluster_peers() == 1)
        })
        .await;
        // Nothing cached before the outage answers for what was written during it (on
        // either layer: the shared entries are refused once a node has stamped everything).
        for node in [a, b] {
            let r = at(&alice, node).get(&format!("/api/collections/notes/records/{id}")).await;
            assert_eq!(r.body["n"], n, "{fault:?}: the last write, read on {}", node.url);
        }
        let title = format!("after {fault:?}");
        let r = su.post("/api/collections/notes/records", json!({"t": title})).await;
        assert_eq!(r.status, 200);
        let events = sse.until(|e| e.data["record"]["t"] == title.as_str()).await;
        assert_eq!(events.last().unwrap().data["action"], "create");
    }
    stop_all(nodes).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_or_hung_sqlite() {
    redis_faults(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_or_hung_postgres() {
    redis_faults(sb_testkit::Backend::Postgres).await;
}

// Redis lost by one node only: the others still hear each other and trust their caches, so the
// writes of the cut-off node reach them through the database's epoch count, before the write
// is answered — values, list pages and schema changes alike.
async fn one_node_cut_off_from_redis(backend: sb_testkit::Backend) {
    let t = sb_testkit::TestApp::open(backend).await;
    let proxy = FaultProxy::start(redis_addr()).await;
    let direct = redis_at(&format!("redis://{}", redis_addr()));
    let prefix = direct.key("");
    let through_proxy = redis_with_prefix(&proxy.url("redis", ""), &prefix);
    let nodes = redis_cluster(&t, &[&through_proxy, &direct]).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let su = Client::admin(&a.url, &a.app).await;
    notes(&su).await;
    let r = su.post("/api/collections/notes/records", json!({"t": "x", "n": 0})).await;
    let path = format!("/api/collections/notes/records/{}", r.body["id"].as_str().unwrap());
    let guest_b = Client::guest(&b.url);
    for _ in 0..2 {
        assert_eq!(guest_b.get(&path).await.body["n"], 0);
        assert_eq!(guest_b.get("/api/collections/notes/records").await.body["totalItems"], 1);
    }

    proxy.set(Fault::Down);
    wait_until("A stops hearing Redis", || !a.app.cluster_trusted()).await;
    assert!(b.app.cluster_trusted(), "B still hears Redis");
    for n in 1..=3 {
        let r = su.patch(&path, json!({"n": n})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(guest_b.get(&path).await.body["n"], n, "B reads A's write {n} at once");
        let r = su.post("/api/collections/notes/records", json!({"t": "y"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let list = guest_b.get("/api/collections/notes/records").await;
        assert_eq!(list.body["totalItems"], 1 + n, "B lists A's create {n} at once");
    }
    let r =
        su.post("/api/collections", json!({"name": "late", "type": "base", "listRule": ""})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(guest_b.get("/api/collections/late/records").await.status, 200);
    let (before, _) = b.app.cache_stats();
    let _ = guest_b.get(&path).await;
    let _ = guest_b.get(&path).await;
    let (after, _) = b.app.cache_stats();
    assert!(after.hits + after.shared_hits > before.hits + before.shared_hits, "B keeps caching");

    proxy.set(Fault::None);
    wait_until("the cluster re-forms", || {
        nodes.iter().all(|node| node.app.cluster_trusted() && node.app.cluster_peers() == 1)
    })
    .await;
    let r = su.patch(&path, json!({"n": 10})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(guest_b.get(&path).await.body["n"], 10);
    stop_all(nodes).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_cut_off_from_redis_sqlite() {
    one_node_cut_off_from_redis(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_cut_off_from_redis_postgres() {
    one_node_cut_off_from_redis(sb_testkit::Backend::Postgres).await;
}

// A node that has not joined the cluster yet is not ready (its catalog may lag changes made
// elsewhere until it hears them): for at most the join grace, after which it serves alone,
// degraded; once it hears the cluster it is ready.
async fn not_ready_until_joined(backend: sb_testkit::Backend) {
    let t = sb_testkit::TestApp::open(backend).await;
    let proxy = FaultProxy::start(redis_addr()).await;
    proxy.set(Fault::Down);
    let redis = redis_at(&proxy.url("redis", ""));
    t.app.join_cluster(Arc::new(sb_redis::RedisTransport::new(redis.clone())));
    let node = Node::app(t.app.clone()).await;
    let guest = Client::guest(&node.url);
    let ready = guest.get("/api/ready").await;
    assert_eq!(ready.status, 503, "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["cluster"]["status"], "joining");
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + WAIT;
    let ready = loop {
        let ready = guest.get("/api/ready").await;
        if ready.status != 503 {
            break ready;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ready: {:?}", ready.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(started.elapsed() < sb_core::cluster::JOIN_GRACE + Duration::from_secs(2));
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["checks"]["cluster"]["status"], "unavailable", "{:?}", ready.body);
    proxy.set(Fault::None);
    wait_until("the node joins", || node.app.cluster_trusted()).await;
    let ready = guest.get("/api/ready").await;
    assert_eq!((ready.status, &ready.body["checks"]["cluster"]["status"]), (200, &json!("ok")));
    node.stop().await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_not_ready_until_it_joins_sqlite() {
    not_ready_until_joined(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_not_ready_until_it_joins_postgres() {
    not_ready_until_joined(sb_testkit::Backend::Postgres).await;
}
