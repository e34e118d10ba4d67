//! `scalebase cluster`: the supervisor with its gateway and real node processes. A node killed
//! with SIGKILL is replaced (SQLite with its one node, PostgreSQL with two, where no read fails
//! meanwhile); load adds a node and idleness removes it, with no failed request during either
//! and every acknowledged write kept (PostgreSQL: SQLite refuses more than one node, which is
//! tested too); SIGTERM stops the gateway, then the nodes.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sb_testkit::Backend;
use serde_json::{Value, json};

use crate::common::Client;
use crate::realtime::Sse;

const ADMIN: &str = "cluster-admin@example.com";
const PASSWORD: &str = "cluster-pass-1";
const TOKEN: &str = "cluster-admin-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `scalebase cluster` process.
struct Cluster {
    child: Option<Child>,
    url: String,
    admin: String,
    db: Option<String>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(backend: Backend, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut storage) = match backend {
            Backend::Sqlite => (None, Vec::new()),
            Backend::Postgres => {
                let db = sb_testkit::create_pg_database().await;
                let url = sb_testkit::pg_url_for(&db);
                (Some(db), vec!["--db".to_owned(), url])
            }
        };
        storage.extend(["--dir".to_owned(), dir.path().display().to_string()]);
        let bin = env!("CARGO_BIN_EXE_scalebase");
        let out = Command::new(bin)
            .args(["superuser", "upsert", ADMIN, PASSWORD])
            .args(&storage)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (port, admin_port) = (free_port(), free_port());
        let child = Command::new(bin)
            .arg("cluster")
            .args(["--http", &format!("127.0.0.1:{port}")])
            .args(["--admin-addr", &format!("127.0.0.1:{admin_port}"), "--admin-token", TOKEN])
            .args(["--log-level", "warn"])
            .args(&storage)
            .args(extra)
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut cluster = Cluster {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            admin: format!("http://127.0.0.1:{admin_port}"),
            db,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = http.get(format!("{}/api/health", cluster.url)).send().await;
            if health.is_ok_and(|r| r.status() == 200) {
                break;
            }
            let exited = cluster.child.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none(), "the cluster exited: {exited:?}");
            assert!(Instant::now() < deadline, "the cluster never served");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cluster
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The node processes: the children of the cluster process.
    fn nodes(&self) -> Vec<u32> {
        children(self.pid())
    }

    /// The gateway pool's upstreams as the admin endpoint shows them.
    async fn upstreams(&self) -> Vec<Value> {
        let r = reqwest::Client::new()
            .get(format!("{}/pools", self.admin))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["pools"][0]["upstreams"].as_array().unwrap().clone()
    }

    /// Requests in flight to each upstream of the gateway's pool.
    async fn inflight(&self) -> Vec<u64> {
        self.upstreams().await.iter().map(|u| u["inFlight"].as_u64().unwrap()).collect()
    }

    /// Waits until the cluster runs `n` nodes, all of them in the gateway and healthy.
    async fn wait_for_nodes(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let upstreams = self.upstreams().await;
            if self.nodes().len() == n
                && upstreams.len() == n
                && upstreams.iter().all(|u| u["healthy"] == true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "wanted {n} nodes; processes {:?}, upstreams {upstreams:?}",
                self.nodes()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM; the cluster must exit successfully and take its nodes with it.
    async fn stop(mut self) -> ExitStatus {
        let nodes = self.nodes();
        signal(self.pid(), "TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the cluster did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        for pid in nodes {
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "node {pid} outlived the cluster"
            );
        }
        if let Some(db) = &self.db {
            sb_testkit::drop_pg_database(db).await;
        }
        status
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let nodes = children(child.id());
            child.kill().ok();
            child.wait().ok();
            for pid in nodes {
                signal(pid, "KILL");
            }
        }
    }
}

fn signal(pid: u32, signal: &str) {
    Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().ok();
}

/// The live (not zombie) processes whose parent is `parent`.
fn children(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 1 && fields[0] != "Z" && fields[1] == parent.to_string() {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

async fn notes(cluster: &Cluster) -> Client {
    let su = Client::login(&cluster.url, "_superusers", ADMIN, PASSWORD).await;
    su.create_collection(json!({
        "name": "notes", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "title", "type": "text"}]
    }))
    .await;
    su
}

/// Reads in a loop until `stop`, counting them and their failures.
fn reader(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(usize, usize)> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let (mut reads, mut failed) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            let r = http.get(format!("{url}/api/collections/notes/records?perPage=5")).send().await;
            reads += 1;
            if !r.is_ok_and(|r| r.status() == 200) {
                failed += 1;
            }
        }
        (reads, failed)
    })
}

async fn a_dead_node_is_replaced(backend: Backend) {
    let n = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    let cluster = Cluster::start(backend, &["--min", &n.to_string()]).await;
    cluster.wait_for_nodes(n, Duration::from_secs(30)).await;
    let su = notes(&cluster).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(su.create_record("notes", json!({"title": format!("n{i}")})).await["id"].clone());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let reading = reader(cluster.url.clone(), stop.clone());
    let before = cluster.nodes();
    assert_eq!(before.len(), n, "{before:?}");
    signal(before[0], "KILL");
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster.nodes().contains(&before[0]) || cluster.nodes().len() < n {
        assert!(Instant::now() < deadline, "the dead node was not replaced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.wait_for_nodes(n, Duration::from_secs(60)).await;
    stop.store(true, Ordering::SeqCst);
    let (reads, failed) = reading.await.unwrap();
    assert!(reads > 0);
    if n > 1 {
        assert_eq!(failed, 0, "with another node up, no read fails ({reads} reads)");
    }

    // The replacement serves the same data, reads and writes.
    let listed = su.all_records("notes").await;
    let listed: Vec<&Value> = listed.iter().map(|r| &r["id"]).collect();
    for id in &ids {
        assert!(listed.contains(&id), "{id} kept");
    }
    su.create_record("notes", json!({"title": "after"})).await;
    assert!(cluster.stop().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_replaced_on_sqlite() {
    a_dead_node_is_replaced(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_replaced_on_postgres() {
    a_dead_node_is_replaced(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_refuses_more_than_one_node() {
    let dir = tempfile::tempdir().unwrap();
    for counts in [["--min", "2"], ["--max", "3"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_scalebase"))
            .arg("cluster")
            .args(counts)
            .args(["--http", &format!("127.0.0.1:{}", free_port())])
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{counts:?} accepted");
        assert!(stderr.contains("needs PostgreSQL"), "{counts:?}: {stderr}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_scalebase"))
        .args(["cluster", "--min", "3", "--max", "2", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max (2) is below --min (3)"));
    assert!(!dir.path().join("data.db").exists(), "nothing was started");
}

/// What a write's client saw.
enum Outcome {
    Acked(String),
    Failed,
}

/// `workers` clients, each creating a record then listing, until `stop`.
fn load(
    url: &str,
    workers: usize,
    pause: Duration,
    stop: Arc<AtomicBool>,
    history: Arc<Mutex<Vec<Outcome>>>,
    failed_reads: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (url, stop, history) = (url.to_owned(), stop.clone(), history.clone());
            let failed_reads = failed_reads.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                while !stop.load(Ordering::SeqCst) {
                    let created = http
                        .post(format!("{url}/api/collections/notes/records"))
                        .json(&json!({"title": "load"}))
                        .send()
                        .await;
                    let outcome = match created {
                        Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                            Ok(body) => Outcome::Acked(body["id"].as_str().unwrap().to_owned()),
                            Err(_) => Outcome::Failed,
                        },
                        _ => Outcome::Failed,
                    };
                    history.lock().unwrap().push(outcome);
                    let listed = http
                        .get(format!("{url}/api/collections/notes/records?perPage=20&sort=-id"))
                        .send()
                        .await;
                    if !listed.is_ok_and(|r| r.status() == 200) {
                        failed_reads.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(pause).await;
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_adds_a_node_and_idleness_removes_it_without_a_failed_request() {
    let args = [
        "--min",
        "1",
        "--max",
        "2",
        "--scale-inflight",
        "3",
        "--scale-up-after-ms",
        "1000",
        "--scale-down-after-ms",
        "2000",
        "--scale-cooldown-ms",
        "1000",
        "--drain-ms",
        "10000",
    ];
    let cluster = Cluster::start(Backend::Postgres, &args).await;
    cluster.wait_for_nodes(1, Duration::from_secs(30)).await;
    let su = notes(&cluster).await;
    let history: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let failed_reads = Arc::new(AtomicUsize::new(0));

    // Busy: 24 clients without pauses keep far more than 3 requests in flight on one node.
    let stop = Arc::new(AtomicBool::new(false));
    let busy =
        load(&cluster.url, 24, Duration::ZERO, stop.clone(), history.clone(), failed_reads.clone());
    cluster.wait_for_nodes(2, Duration::from_secs(90)).await;
    stop.store(true, Ordering::SeqCst);
    for w in busy {
        w.await.unwrap();
    }
    let during_up = history.lock().unwrap().len();

    // Realtime clients on both nodes: those on the node that leaves (the one added last, the
    // pool's second) must see their stream end, and then reconnect.
    let guest = Client::guest(&cluster.url);
    let mut streams = Vec::new();
    for _ in 0..6 {
        let sse = Sse::connect(&cluster.url).await;
        sse.subscribe(&guest, &["notes/*"]).await;
        streams.push(sse);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let on_leaving = loop {
        let inflight = cluster.inflight().await;
        if inflight.iter().sum::<u64>() == 6 {
            break inflight[1];
        }
        assert!(Instant::now() < deadline, "streams in flight: {inflight:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!((1..6).contains(&on_leaving), "streams on both nodes: {on_leaving} of 6");

    // Idle: one client with pauses, running until the second node has left.
    let stop = Arc::new(AtomicBool::new(false));
    let idle = load(
        &cluster.url,
        1,
        Duration::from_millis(20),
        stop.clone(),
        history.clone(),
        failed_reads.clone(),
    );
    cluster.wait_for_nodes(1, Duration::from_secs(90)).await;
    // A few more requests on the node that stayed.
    let settled = history.lock().unwrap().len() + 10;
    let deadline = Instant::now() + Duration::from_secs(30);
    while history.lock().unwrap().len() < settled {
        assert!(Instant::now() < deadline, "the idle load stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in idle {
        w.await.unwrap();
    }

    let marker = su.create_record("notes", json!({"title": "marker"})).await["id"].clone();
    let mut ended = 0;
    for sse in &mut streams {
        loop {
            match sse.next().await {
                None => {
                    ended += 1;
                    *sse = Sse::connect(&cluster.url).await;
                    sse.subscribe(&guest, &["notes/*"]).await;
                    break;
                }
                Some(e) if e.data["record"]["id"] == marker => break,
                Some(_) => {}
            }
        }
    }
    assert_eq!(ended, on_leaving, "the streams of the node that left ended, the others not");
    let marker = su.create_record("notes", json!({"title": "marker2"})).await["id"].clone();
    for sse in &mut streams {
        let events = sse.until(|e| e.data["record"]["id"] == marker).await;
        assert!(!events.is_empty());
    }

    let history = std::mem::take(&mut *history.lock().unwrap());
    let failed_writes = history.iter().filter(|o| matches!(o, Outcome::Failed)).count();
    println!(
        "autoscaling: {during_up} writes while scaling up, {} while scaling down; {} failed \
         writes, {} failed reads",
        history.len() - during_up,
        failed_writes,
        failed_reads.load(Ordering::SeqCst)
    );
    assert_eq!(failed_writes, 0, "no write failed");
    assert_eq!(failed_reads.load(Ordering::SeqCst), 0, "no read failed");
    assert!(history.len() > during_up, "the idle phase ran");

    // Every acknowledged write is stored once.
    let mut stored: Vec<String> = Vec::new();
    for page in 1.. {
        let r = su
            .get(&format!("/api/collections/notes/records?perPage=500&page={page}&skipTotal=1"))
            .await;
        assert_eq!(r.status, 200);
        let items = r.body["items"].as_array().unwrap().clone();
        stored.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        if items.len() < 500 {
            break;
        }
    }
    stored.sort();
    for outcome in &history {
        if let Outcome::Acked(id) = outcome {
            assert!(stored.binary_search(id).is_ok(), "{id} stored");
        }
    }
    let markers = 2;
    assert_eq!(stored.len(), history.len() + markers, "each write stored once, none from nowhere");
    assert!(cluster.stop().await.success());
}
