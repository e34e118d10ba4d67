//! The gateway in front of real `scalebase serve` processes (PostgreSQL and Redis): a node
//! killed with SIGKILL under a load of reads and writes, with a history check of every
//! acknowledged write; realtime through the gateway when the node holding the stream dies; and
//! the gateway's response cache, which never hides a write acknowledged by a node (over Redis
//! or PostgreSQL notifications; on SQLite, one node with Redis).
//! (Several nodes need PostgreSQL: several processes on one SQLite file are refused by design.)

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::Client;
use crate::realtime::Sse;

const ADMIN: &str = "gw-admin@example.com";
const PASSWORD: &str = "gateway-pass-1";

fn redis_url() -> String {
    std::env::var("SCALEBASE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// How the nodes store and talk.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setup {
    /// PostgreSQL, cluster channel in Redis.
    PostgresRedis,
    /// PostgreSQL, cluster channel in PostgreSQL notifications (no Redis).
    PostgresNotify,
    /// One SQLite node, cluster channel in Redis.
    SqliteRedis,
}

/// `n` node processes on a fresh database and this test's own Redis prefix.
struct Nodes {
    children: Vec<Option<Child>>,
    urls: Vec<String>,
    /// The PostgreSQL database's name and URL (`None` on SQLite).
    db: Option<(String, String)>,
    /// The nodes' Redis key prefix (their channel is `<prefix>cluster`).
    prefix: String,
    _dir: tempfile::TempDir,
}

impl Nodes {
    async fn start(n: usize) -> Nodes {
        Nodes::start_with(n, Setup::PostgresRedis).await
    }

    async fn start_with(n: usize, setup: Setup) -> Nodes {
        assert!(n == 1 || setup != Setup::SqliteRedis, "one SQLite node at most");
        let db = match setup {
            Setup::SqliteRedis => None,
            _ => {
                let db = sb_testkit::create_pg_database().await;
                let url = sb_testkit::pg_url_for(&db);
                Some((db, url))
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let redis = redis_url();
        let prefix = {
            use std::hash::{BuildHasher, RandomState};
            format!("sbgw:{:016x}:", RandomState::new().hash_one(std::time::SystemTime::now()))
        };
        let storage = |i: usize| -> Vec<String> {
            let node_dir = dir.path().join(format!("node{i}")).display().to_string();
            match &db {
                Some((_, url)) => vec!["--db".into(), url.clone(), "--dir".into(), node_dir],
                None => vec!["--dir".into(), node_dir],
            }
        };
        let bin = env!("CARGO_BIN_EXE_scalebase");
        // On SQLite the superuser goes into the node's own directory.
        let mut upsert = Command::new(bin);
        upsert.args(["superuser", "upsert", ADMIN, PASSWORD]);
        match &db {
            Some((_, url)) => upsert.args(["--db", url]).arg("--dir").arg(dir.path().join("cli")),
            None => upsert.args(storage(0)),
        };
        let out = upsert.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for i in 0..n {
            let port =
                std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut command = Command::new(bin);
            command.args(["serve", "--http", &format!("127.0.0.1:{port}"), "--log-level", "warn"]);
            command.args(storage(i));
            if setup != Setup::PostgresNotify {
                command.args(["--redis", &redis, "--redis-prefix", &prefix]);
            }
            let child = command.env_remove("RUST_BACKTRACE").stdout(Stdio::null()).spawn().unwrap();
            children.push(Some(child));
            urls.push(format!("http://127.0.0.1:{port}"));
        }
        let http = reqwest::Client::new();
        for url in &urls {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let ready = http.get(format!("{url}/api/ready")).send().await;
                if ready.is_ok_and(|r| r.status() == 200) {
                    break;
                }
                assert!(Instant::now() < deadline, "{url} never became ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Nodes { children, urls, db, prefix, _dir: dir }
    }

    /// Sends `signal` (STOP, CONT) to node `i`.
    fn signal(&self, i: usize, signal: &str) {
        let pid = self.children[i].as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap();
        assert!(status.success());
    }

    /// SIGKILL.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    async fn stop(mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if let Some((db, _)) = &self.db {
            sb_testkit::drop_pg_database(db).await;
        }
    }
}

/// A failed test still stops its processes.
impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

/// An in-process gateway over `urls` (checks every 100 ms, out after 2 failures; each try of
/// a request bounded by `per_try_ms`).
async fn gateway(
    urls: &[String],
    per_try_ms: u64,
) -> (String, Arc<sb_gateway::Running>, tokio::sync::oneshot::Sender<()>) {
    let list: Vec<String> = urls.iter().map(|u| format!("{{ url = \"{u}\" }}")).collect();
    let config = sb_gateway::GatewayConfig::from_toml(&format!(
        "[[listeners]]\naddr = \"127.0.0.1:0\"\n[[pools]]\nname = \"app\"\nupstreams = [{}]\n\
         health = {{ interval_ms = 100, timeout_ms = 300, fall = 2, rise = 2 }}\n\
         retry = {{ per_try_timeout_ms = {per_try_ms} }}\n\
         [[routes]]\npool = \"app\"\n",
        list.join(", ")
    ))
    .unwrap();
    serve(&config)
}

/// Serves `config` in this process: its URL, the running gateway, and what stops it.
fn serve(
    config: &sb_gateway::GatewayConfig,
) -> (String, Arc<sb_gateway::Running>, tokio::sync::oneshot::Sender<()>) {
    let running = sb_gateway::Running::start(config).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = running.clone();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        serving
            .serve(listener, Duration::from_secs(2), async move {
                stopped.await.ok();
            })
            .await
    });
    (url, running, stop)
}

async fn superuser(base: &str) -> Client {
    Client::login(base, "_superusers", ADMIN, PASSWORD).await
}

/// What a write's client saw.
enum Outcome {
    Acked(String),
    /// Failed or no answer: it may or may not have happened.
    Indeterminate,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_behind_the_gateway_loses_no_acknowledged_write() {
    let mut nodes = Nodes::start(3).await;
    let (gw, running, stop) = gateway(&nodes.urls, 5000).await;
    let su = superuser(&gw).await;
    su.create_collection(
        json!({"name": "events", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
                   "fields": [{"name": "title", "type": "text"}]}),
    )
    .await;

    let http = reqwest::Client::new();
    let stop_at = Instant::now() + Duration::from_secs(4);
    let history: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    let (reads, read_failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (http, gw, history) = (http.clone(), gw.clone(), history.clone());
        let (reads, read_failures) = (reads.clone(), read_failures.clone());
        workers.push(tokio::spawn(async move {
            let mut seq = 0;
            while Instant::now() < stop_at {
                if w % 2 == 0 {
                    let r = http
                        .get(format!("{gw}/api/collections/events/records?perPage=5"))
                        .send()
                        .await;
                    reads.fetch_add(1, Ordering::SeqCst);
                    if !r.is_ok_and(|r| r.status() == 200) {
                        read_failures.fetch_add(1, Ordering::SeqCst);
                    }
                } else {
                    seq += 1;
                    let title = format!("w{w}-{seq}");
                    let r = http
                        .post(format!("{gw}/api/collections/events/records"))
                        .json(&json!({"title": title}))
                        .send()
                        .await;
                    let outcome = match r {
                        Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                            Ok(body) => {
                                Outcome::Acked(body["id"].as_str().unwrap_or("").to_owned())
                            }
                            Err(_) => Outcome::Indeterminate,
                        },
                        _ => Outcome::Indeterminate,
                    };
                    history.lock().unwrap().push((title, outcome));
                }
            }
        }));
    }
    // Kill once the load is under way.
    let deadline = Instant::now() + Duration::from_secs(20);
    while reads.load(Ordering::SeqCst) < 100 {
        assert!(Instant::now() < deadline, "the load did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nodes.kill(1);
    for w in workers {
        w.await.unwrap();
    }

    // Reads: none failed. Writes: only those in flight at the kill may be indeterminate (one
    // per writer at most).
    assert!(reads.load(Ordering::SeqCst) > 50, "the load ran");
    assert_eq!(read_failures.load(Ordering::SeqCst), 0, "idempotent requests never fail");
    let history = std::mem::take(&mut *history.lock().unwrap());
    let indeterminate = history.iter().filter(|(_, o)| matches!(o, Outcome::Indeterminate)).count();
    println!(
        "failover: {} reads (0 failed), {} writes ({indeterminate} indeterminate)",
        reads.load(Ordering::SeqCst),
        history.len()
    );
    assert!(indeterminate <= 2, "{indeterminate} writes failed");

    // History check: every acknowledged write is there exactly once, with its title.
    let mut stored: Vec<(String, String)> = Vec::new();
    for page in 1.. {
        let r = su
            .get(&format!("/api/collections/events/records?perPage=500&page={page}&skipTotal=1"))
            .await;
        assert_eq!(r.status, 200);
        let items = r.body["items"].as_array().unwrap().clone();
        stored.extend(items.iter().map(|i| {
            (i["id"].as_str().unwrap().to_owned(), i["title"].as_str().unwrap().to_owned())
        }));
        if items.len() < 500 {
            break;
        }
    }
    let acked: Vec<(&String, &String)> = history
        .iter()
        .filter_map(|(title, o)| match o {
            Outcome::Acked(id) => Some((id, title)),
            Outcome::Indeterminate => None,
        })
        .collect();
    assert!(acked.len() > 50, "writes were acknowledged: {}", acked.len());
    for (id, title) in &acked {
        let copies: Vec<_> = stored.iter().filter(|(s, _)| s == *id).collect();
        assert_eq!(copies.len(), 1, "acknowledged write {id} stored once");
        assert_eq!(&copies[0].1, *title);
    }
    let mut titles: Vec<&String> = stored.iter().map(|(_, t)| t).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), stored.len(), "no write was applied twice");
    assert!(stored.len() <= acked.len() + indeterminate, "nothing appeared from nowhere");
    let pool = running.current().pool("app").unwrap().clone();
    assert!(!pool.endpoints()[1].is_healthy(), "the killed node is out of the pool");
    stop.send(()).ok();
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_through_the_gateway_resumes_after_the_node_holding_the_stream_dies() {
    let mut nodes = Nodes::start(2).await;
    let (gw, running, stop) = gateway(&nodes.urls, 5000).await;
    let su = superuser(&gw).await;
    su.create_collection(
        json!({"name": "feed", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
                   "fields": [{"name": "t", "type": "text"}]}),
    )
    .await;
    let guest = Client::guest(&gw);
    let mut sse = Sse::connect(&gw).await;
    sse.subscribe(&guest, &["feed/*"]).await;
    let r = su.post("/api/collections/feed/records", json!({"t": "before"})).await;
    assert_eq!(r.status, 200);
    let events = sse.until(|e| e.name == "feed/*").await;
    assert_eq!(events.last().unwrap().data["record"]["t"], "before");

    // The stream is the only request in flight: its node is the one to kill.
    let pool = running.current().pool("app").unwrap().clone();
    let holder =
        pool.endpoints().iter().position(|e| e.inflight() == 1).expect("the stream's node");
    nodes.kill(holder);
    assert!(sse.next().await.is_none(), "the stream ends with its node");

    // What the SDK does: reconnect, subscribe again, and events flow.
    let mut sse = Sse::connect(&gw).await;
    sse.subscribe(&guest, &["feed/*"]).await;
    let r = su.post("/api/collections/feed/records", json!({"t": "after"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let events = sse.until(|e| e.name == "feed/*").await;
    assert_eq!(events.last().unwrap().data["record"]["t"], "after");
    stop.send(()).ok();
    nodes.stop().await;
}

// A node hung with SIGSTOP: the checks take it out within (interval + check timeout) × fall
// (plus the round under way), and no request waits longer than one per-try timeout before
// another node answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_node_is_detected_and_requests_do_not_wait_past_the_per_try_timeout() {
    let nodes = Nodes::start(2).await;
    let (gw, running, stop) = gateway(&nodes.urls, 700).await;
    let http = reqwest::Client::new();
    for _ in 0..4 {
        let r = http.get(format!("{gw}/api/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    nodes.signal(0, "STOP");
    let stopped = Instant::now();
    let pool = running.current().pool("app").unwrap().clone();
    let watcher = tokio::spawn(async move {
        while pool.endpoints()[0].is_healthy() {
            assert!(stopped.elapsed() < Duration::from_secs(10), "never detected");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stopped.elapsed()
    });
    let mut slowest = Duration::ZERO;
    while !watcher.is_finished() {
        let started = Instant::now();
        let r = http.get(format!("{gw}/api/health")).send().await.unwrap();
        assert_eq!(r.status(), 200, "answered by the other node");
        slowest = slowest.max(started.elapsed());
    }
    let detected = watcher.await.unwrap();
    // A check round takes the interval (100 ms, ±10% jitter) plus, for a hung node, the
    // check's 300 ms timeout; 2 failed rounds take it out, after at most one round that had
    // begun before the hang. A loaded machine adds a little.
    let round = Duration::from_millis(110 + 300);
    assert!(detected < round * 3 + Duration::from_millis(300), "detected after {detected:?}");
    // One try on the hung node (700 ms), then another node answers.
    assert!(slowest < Duration::from_millis(700 + 500), "a request waited {slowest:?}");
    nodes.signal(0, "CONT");
    stop.send(()).ok();
    nodes.stop().await;
}

/// An in-process gateway over `nodes` caching `/api/collections/` for a minute (unless a
/// write is heard of), joined to the nodes' cluster channel as `setup` says.
async fn caching_gateway(
    nodes: &Nodes,
    setup: Setup,
) -> (String, Arc<sb_gateway::Running>, tokio::sync::oneshot::Sender<()>) {
    let list: Vec<String> = nodes.urls.iter().map(|u| format!("{{ url = \"{u}\" }}")).collect();
    let channel = match (setup, &nodes.db) {
        (Setup::PostgresNotify, Some((_, url))) => {
            format!("invalidations = {{ postgres = \"{url}\" }}")
        }
        _ => format!(
            "invalidations = \"redis\"\nchannel_prefix = \"{}\"\n[redis]\nurl = \"{}\"",
            nodes.prefix,
            redis_url()
        ),
    };
    let config = sb_gateway::GatewayConfig::from_toml(&format!(
        "[[listeners]]\naddr = \"127.0.0.1:0\"\n[[pools]]\nname = \"app\"\nupstreams = [{}]\n\
         health = {{ interval_ms = 100, timeout_ms = 300, fall = 2, rise = 1 }}\n\
         [[routes]]\npool = \"app\"\n\
         [[routes]]\npool = \"app\"\npath_prefix = \"/api/collections/\"\n\
         cache = {{ ttl_ms = 60000 }}\n\
         [cache]\n{channel}\n",
        list.join(", ")
    ))
    .unwrap();
    serve(&config)
}

/// Writes acknowledged by a node, made directly on it (not through the gateway), are seen
/// through the gateway on the very next read, while reads in between are served from its
/// cache.
async fn the_gateway_cache_never_hides_an_acknowledged_write(setup: Setup, n: usize) {
    let nodes = Nodes::start_with(n, setup).await;
    let (gw, running, stop) = caching_gateway(&nodes, setup).await;
    let su = superuser(&nodes.urls[0]).await;
    su.create_collection(json!({
        "name": "cached", "type": "base", "listRule": "", "viewRule": "",
        "fields": [{"name": "t", "type": "text"}]
    }))
    .await;
    let r = su.post("/api/collections/cached/records", json!({"t": "v0"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let cache = running.current().cache().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !(cache.trusted() && cache.peers() == n) {
        assert!(
            Instant::now() < deadline,
            "the gateway never joined the {n} nodes (trusted: {}, peers heard: {})",
            cache.trusted(),
            cache.peers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let http = reqwest::Client::new();
    let paths = [
        format!("/api/collections/cached/records/{id}"),
        "/api/collections/cached/records?perPage=5".to_owned(),
    ];
    let read = |path: &str| {
        let request = http.get(format!("{gw}{path}"));
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let cache = r.headers()["x-cache"].to_str().unwrap().to_owned();
            let body: Value = r.json().await.unwrap();
            let t = body["t"].as_str().or(body["items"][0]["t"].as_str()).unwrap().to_owned();
            (cache, t)
        }
    };
    let (mut hits, mut reads) = (0, 0);
    for round in 1..=30 {
        let t = format!("v{round}");
        let writer = Client { base: nodes.urls[round % n].clone(), ..su.clone() };
        let r =
            writer.patch(&format!("/api/collections/cached/records/{id}"), json!({"t": t})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        for path in &paths {
            for _ in 0..3 {
                let (x_cache, seen) = read(path).await;
                assert_eq!(seen, t, "round {round}: {path} answered {x_cache} with a stale value");
                reads += 1;
                hits += usize::from(x_cache == "HIT");
            }
        }
    }
    println!("gateway cache ({setup:?}, {n} nodes): {hits} hits of {reads} reads");
    // The first read after each write goes upstream; most later ones are hits.
    assert!(hits >= reads / 3, "{hits} hits of {reads} reads");
    stop.send(()).ok();
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_cache_never_hides_a_write_with_redis_invalidations() {
    the_gateway_cache_never_hides_an_acknowledged_write(Setup::PostgresRedis, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_cache_never_hides_a_write_with_postgres_notifications() {
    the_gateway_cache_never_hides_an_acknowledged_write(Setup::PostgresNotify, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_cache_never_hides_a_write_on_sqlite_with_redis() {
    the_gateway_cache_never_hides_an_acknowledged_write(Setup::SqliteRedis, 1).await;
}
