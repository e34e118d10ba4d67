//! PostgreSQL read replicas and faults, on private servers (`sb_testkit::pg_server`): reads
//! served by a caught-up replica, read-your-writes when the replica is held back (on the
//! writing node, and on another node given the writer's position), a replica that goes away,
//! multi-host primary URLs that fail over, and PostgreSQL restarted under write load with no
//! acknowledged write lost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::FutureExt;
use sb_store::Store;
use sb_store_postgres::{PostgresConfig, PostgresStore};
use sb_testkit::pg_server::{PgServer, StopMode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::Client;

/// Polls `check` every 20 ms until it holds; panics after `limit`.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A PostgreSQL store on `primary` reading from `replicas`.
async fn open_store(primary: &str, replicas: &[String]) -> Arc<PostgresStore> {
    let mut config = PostgresConfig::new(primary);
    config.pool_size = 6;
    config.connect_timeout = Duration::from_secs(2);
    config.replicas = replicas.to_vec();
    Arc::new(sb_store_postgres::open(config).await.expect("open the PostgreSQL store"))
}

/// A Scalebase node serving an app on `store`, logs on the primary.
struct Node {
    url: String,
    app: Arc<sb_core::App>,
    store: Arc<PostgresStore>,
    _dir: tempfile::TempDir,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    /// A node without the record cache: these tests count the reads that reach the store.
    async fn start(primary: &PgServer, replicas: &[&PgServer]) -> Node {
        Node::start_with_cache(primary, replicas, 0).await
    }

    async fn start_with_cache(
        primary: &PgServer,
        replicas: &[&PgServer],
        cache_bytes: u64,
    ) -> Node {
        let urls: Vec<String> = replicas.iter().map(|r| r.url("postgres")).collect();
        let store = open_store(&primary.url("postgres"), &urls).await;
        let dir = tempfile::tempdir().unwrap();
        let mut logs = PostgresConfig::new(primary.url("postgres"));
        logs.pool_size = 2;
        logs.schema = Some(scalebase::LOGS_SCHEMA.into());
        let logs = sb_store_postgres::open(logs).await.expect("open the log schema");
        let config = sb_core::AppConfig {
            storage_dir: dir.path().join("storage"),
            data_dir: dir.path().to_path_buf(),
            cache_bytes,
            ..Default::default()
        };
        let app = sb_core::App::open_with_logs(store.clone(), Arc::new(logs), config)
            .await
            .expect("open the app");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = sb_http::router(app.clone(), sb_http::HttpConfig::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                stopped.await.ok();
            };
            sb_http::serve(listener, router, sb_http::ServeConfig::default(), shutdown).await.ok();
        });
        Node { url, app, store, _dir: dir, stop, task }
    }

    async fn stop(self) {
        self.stop.send(()).ok();
        self.task.await.ok();
        self.app.close_logs().await;
        self.store.close().await;
    }
}

/// Creates the public collection `notes` (text field `text`).
async fn notes(su: &Client) {
    su.create_collection(json!({
        "name": "notes", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "text", "type": "text"}],
    }))
    .await;
}

/// Waits until reads of `node` are served by a replica (each with a filter of its own, so no
/// cached page answers it).
async fn wait_for_replica_reads(node: &Node, guest: &Client) {
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    wait_for("reads served by the replica", Duration::from_secs(20), || async {
        let before = node.store.read_counts().replica;
        let n = PROBES.fetch_add(1, Ordering::Relaxed);
        let filter = crate::common::encode(&format!("text != 'probe {n}'"));
        let r = guest.get(&format!("/api/collections/notes/records?filter={filter}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        node.store.read_counts().replica > before
    })
    .await;
}

/// Holds replay on a standby and waits until it is paused.
async fn pause_replay(replica: &PgServer) {
    let c = replica.client("postgres").await;
    c.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    wait_for("replay paused", Duration::from_secs(10), || async {
        let row = c.query_one("SELECT pg_get_wal_replay_pause_state()", &[]).await.unwrap();
        row.get::<_, String>(0) == "paused"
    })
    .await;
}

async fn resume_replay(replica: &PgServer) {
    let c = replica.client("postgres").await;
    c.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
}

/// Whether the server has the note `id` (read directly).
async fn has_note(server: &PgServer, id: &str) -> bool {
    let c = server.client("postgres").await;
    let row = c.query_one("SELECT count(*) FROM notes WHERE id = $1", &[&id]).await.unwrap();
    row.get::<_, i64>(0) == 1
}

/// The value of `scalebase_db_reads_total{target="…"}` in the exporter's output.
fn exported_reads(target: &str) -> f64 {
    let exporter = sb_observe::exporter().expect("metrics recorder");
    let prefix = format!("scalebase_db_reads_total{{target=\"{target}\"}} ");
    exporter
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

// Reads go to the caught-up replica; a write is read at once on the same node, also while the
// replica's replay is paused (the read then goes to the primary), and reads return to the
// replica once it has caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_serves_reads_and_writes_are_read_at_once() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    sb_observe::exporter().expect("metrics recorder");
    let node = Node::start(&primary, &[&replica]).await;
    let su = Client::admin(&node.url, &node.app).await;
    let guest = su.with_token(None);
    notes(&su).await;
    wait_for_replica_reads(&node, &guest).await;
    // The metric counts the same reads.
    let exported = exported_reads("replica");
    let before = node.store.read_counts();
    for _ in 0..5 {
        assert_eq!(guest.get("/api/collections/notes/records").await.status, 200);
    }
    let after = node.store.read_counts();
    assert!(after.replica >= before.replica + 5, "{before:?} -> {after:?}");
    assert!(exported_reads("replica") >= exported + 5.0);

    // Write then read at once, many times: never a stale answer.
    let (counts_before, started) = (node.store.read_counts(), Instant::now());
    for i in 0..30 {
        let text = format!("note {i}");
        let created = su.create_record("notes", json!({"text": text})).await;
        let id = created["id"].as_str().unwrap();
        let r = guest.get(&format!("/api/collections/notes/records/{id}")).await;
        assert_eq!(r.status, 200, "read right after write {i}: {:?}", r.body);
        assert_eq!(r.body["text"], text);
        let list = guest.get("/api/collections/notes/records?perPage=1").await;
        assert_eq!(list.body["totalItems"], i + 1, "list after write {i}");
    }

    let counts = node.store.read_counts();
    eprintln!(
        "30 × (create, view, list): {:?}; reads on the primary {}, on the replica {}",
        started.elapsed(),
        counts.primary - counts_before.primary,
        counts.replica - counts_before.replica,
    );

    // Replay held back: the write is not on the replica, yet it is read, from the primary.
    pause_replay(&replica).await;
    let created = su.create_record("notes", json!({"text": "while paused"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(has_note(&primary, &id).await);
    assert!(!has_note(&replica, &id).await, "replay is paused");
    let before = node.store.read_counts();
    for _ in 0..3 {
        let r = guest.get(&format!("/api/collections/notes/records/{id}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["text"], "while paused");
    }
    let after = node.store.read_counts();
    assert_eq!(after.replica, before.replica, "no read may go to the paused replica");
    assert!(after.primary >= before.primary + 3, "{before:?} -> {after:?}");
    assert!(node.store.write_position().is_some());

    // Replay resumed: reads go back to the replica, which now has the write.
    resume_replay(&replica).await;
    wait_for_replica_reads(&node, &guest).await;
    assert!(has_note(&replica, &id).await);
    let r = guest.get(&format!("/api/collections/notes/records/{id}")).await;
    assert_eq!(r.body["text"], "while paused");
    node.stop().await;
}

// A node that did not make a write reads it from its replica once it is told the writer's
// position (`Store::require_position`, what the cluster layer carries between nodes); before
// that, a held-back replica answers without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_reads_a_write_once_given_its_position() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    let a = Node::start(&primary, &[&replica]).await;
    let su = Client::admin(&a.url, &a.app).await;
    notes(&su).await;
    // Node B starts after the collection exists (its schema cache is not this test's topic).
    let b = Node::start(&primary, &[&replica]).await;
    let guest_b = Client::guest(&b.url);
    wait_for_replica_reads(&b, &guest_b).await;

    pause_replay(&replica).await;
    let created = su.create_record("notes", json!({"text": "from A"})).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/collections/notes/records/{id}");
    // Unaware of A's write, B reads the held-back replica.
    assert_eq!(guest_b.get(&path).await.status, 404);
    let position = a.store.write_position().expect("A's commit position");
    b.store.require_position(&position);
    b.store.require_position("not a position");
    let r = guest_b.get(&path).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["text"], "from A");

    resume_replay(&replica).await;
    wait_for_replica_reads(&b, &guest_b).await;
    assert_eq!(guest_b.get(&path).await.status, 200);
    a.stop().await;
    b.stop().await;
}

// With the cluster layer (LISTEN/NOTIFY transport here), a node's write carries its position
// to the other nodes before it is acknowledged: read at once on another node, it is never
// missing, even with the replica held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_nodes_read_each_others_writes_at_once() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    // With the record cache, as nodes run by default.
    let cache = sb_core::AppConfig::default().cache_bytes;
    let a = Node::start_with_cache(&primary, &[&replica], cache).await;
    let su = Client::admin(&a.url, &a.app).await;
    notes(&su).await;
    let b = Node::start_with_cache(&primary, &[&replica], cache).await;
    for node in [&a, &b] {
        let transport = scalebase::cluster::PgTransport::new(&primary.url("postgres"))
            .expect("LISTEN/NOTIFY transport");
        node.app.join_cluster(Arc::new(transport));
    }
    wait_for("the cluster forms", Duration::from_secs(20), || async {
        [&a, &b].iter().all(|n| n.app.cluster_trusted() && n.app.cluster_peers() == 1)
    })
    .await;
    let guest_b = Client::guest(&b.url);
    wait_for_replica_reads(&b, &guest_b).await;

    // Caught-up replica, then a held-back one: every write is read on B at once.
    for paused in [false, true] {
        if paused {
            pause_replay(&replica).await;
        }
        for i in 0..10 {
            let text = format!("{paused} {i}");
            let created = su.create_record("notes", json!({"text": text})).await;
            let id = created["id"].as_str().unwrap();
            let r = guest_b.get(&format!("/api/collections/notes/records/{id}")).await;
            assert_eq!(
                r.status, 200,
                "write {i} (replay paused: {paused}) read on B: {:?}",
                r.body
            );
            assert_eq!(r.body["text"], text);
        }
    }
    resume_replay(&replica).await;
    wait_for_replica_reads(&b, &guest_b).await;
    a.stop().await;
    b.stop().await;
}

// A replica that goes away is skipped (reads answer from the primary) and used again once it
// is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_survive_a_replica_going_away() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    let node = Node::start(&primary, &[&replica]).await;
    let su = Client::admin(&node.url, &node.app).await;
    let guest = su.with_token(None);
    notes(&su).await;
    su.create_record("notes", json!({"text": "kept"})).await;
    wait_for_replica_reads(&node, &guest).await;
    let ready = guest.get("/api/ready").await;
    assert_eq!((ready.status, &ready.body["status"]), (200, &json!("ready")), "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["replicas"][0]["status"], "ok", "{:?}", ready.body);

    replica.stop(StopMode::Immediate).await;
    let before = node.store.read_counts();
    for _ in 0..10 {
        let r = guest.get("/api/collections/notes/records").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["totalItems"], 1);
    }
    let after = node.store.read_counts();
    assert!(after.primary >= before.primary + 10, "{before:?} -> {after:?}");
    // Writes are unaffected.
    su.create_record("notes", json!({"text": "while the replica is down"})).await;
    // Still ready (reads go to the primary), reported degraded with the replica unavailable.
    let ready = guest.get("/api/ready").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "degraded", "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["replicas"][0]["status"], "unavailable");

    replica.start().await;
    wait_for_replica_reads(&node, &guest).await;
    let r = guest.get("/api/collections/notes/records").await;
    assert_eq!(r.body["totalItems"], 2);
    node.stop().await;
}

// While the primary is down, reads the replica has replayed are still answered (by it);
// writes get 503 until the primary is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_answers_reads_while_the_primary_is_down() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    let node = Node::start(&primary, &[&replica]).await;
    let su = Client::admin(&node.url, &node.app).await;
    let guest = su.with_token(None);
    notes(&su).await;
    let id = su.create_record("notes", json!({"text": "replicated"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_replica_reads(&node, &guest).await;

    primary.stop(StopMode::Fast).await;
    let r = guest.get(&format!("/api/collections/notes/records/{id}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["text"], "replicated");
    // A superuser's token is checked on the replica too.
    let list = su.get("/api/collections/notes/records").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["totalItems"], 1);
    let write = su.post("/api/collections/notes/records", json!({"text": "refused"})).await;
    assert_eq!(write.status, 503, "{:?}", write.body);
    assert_eq!(write.body["status"], 503);
    assert_eq!(guest.get("/api/ready").await.status, 503, "not ready for writes");

    primary.start().await;
    wait_for("writes after the primary is back", Duration::from_secs(20), || async {
        su.post("/api/collections/notes/records", json!({"text": "back"})).await.status == 200
    })
    .await;
    assert_eq!(guest.get("/api/ready").await.status, 200);
    node.stop().await;
}

// `scalebase serve --db PRIMARY --db-replica REPLICA`, composed as the binary does: reads
// reach the replica (seen in the exported metric).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_from_the_replica_flag() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    sb_observe::exporter().expect("metrics recorder");
    let Served { base, app, stop, server, _dir } = serve(scalebase::config::StorageArgs {
        db: Some(primary.url("postgres")),
        db_replica: Some(vec![replica.url("postgres")]),
        pg_pool_size: Some(4),
        ..Default::default()
    })
    .await;
    let su = Client::admin(&base, &app).await;
    notes(&su).await;
    let guest = su.with_token(None);
    wait_for("reads counted on the replica", Duration::from_secs(20), || async {
        let before = exported_reads("replica");
        assert_eq!(guest.get("/api/collections/notes/records").await.status, 200);
        exported_reads("replica") > before
    })
    .await;
    let created = su.create_record("notes", json!({"text": "read back"})).await;
    let r = guest
        .get(&format!("/api/collections/notes/records/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    stop.send(()).ok();
    server.await.expect("server task").expect("server ran");
}

/// A node as `scalebase serve` builds it from `storage` flags (`scalebase::open_app`, then
/// `scalebase::run` until `stop`), with a temporary data directory.
struct Served {
    base: String,
    app: Arc<sb_core::App>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn serve(mut storage: scalebase::config::StorageArgs) -> Served {
    let dir = tempfile::tempdir().unwrap();
    storage.dir = Some(dir.path().to_path_buf());
    let args = scalebase::config::ServeArgs { storage, ..Default::default() };
    let config = args.resolve(&scalebase::config::FileConfig::default()).unwrap();
    let app = scalebase::open_app(&config.storage).await.expect("open the app");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = {
        let app = app.clone();
        tokio::spawn(async move {
            scalebase::run(listener, app, &config, async move {
                stopped.await.ok();
            })
            .await
        })
    };
    Served { base, app, stop, server, _dir: dir }
}

/// Whether the store's write connection is on a primary.
async fn writes_on_primary(store: &dyn Store) -> sb_store::Result<bool> {
    let mut tx = store.begin().await?;
    let rows = tx
        .query(&sb_sql::Stmt::Raw {
            sql: "SELECT pg_is_in_recovery() AS r".into(),
            params: Vec::new(),
        })
        .await?;
    tx.commit().await?;
    Ok(rows.rows[0][0] == sb_store::Value::Bool(false))
}

// Multi-host primary URLs with `target_session_attrs=read-write`: a read-only host or a dead
// one listed first is passed over, and after a failover (primary gone, standby promoted) the
// pool reconnects to the new primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_host_urls_find_the_writable_host() {
    let primary = PgServer::start_primary().await;
    let replica = primary.start_replica().await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = |ports: &[u16]| {
        let hosts: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("postgres://postgres@{}/postgres?target_session_attrs=read-write", hosts.join(","))
    };
    for ports in [[replica.port(), primary.port()], [dead, primary.port()]] {
        let store = open_store(&url(&ports), &[]).await;
        assert!(writes_on_primary(store.as_ref()).await.unwrap(), "{ports:?}");
        store.close().await;
    }

    // Failover: the store lists both; the primary dies and the standby is promoted.
    let store = open_store(&url(&[primary.port(), replica.port()]), &[]).await;
    assert!(writes_on_primary(store.as_ref()).await.unwrap());
    primary.stop(StopMode::Immediate).await;
    replica.promote().await;
    wait_for("writes on the promoted standby", Duration::from_secs(20), || async {
        writes_on_primary(store.as_ref()).await.unwrap_or(false)
    })
    .await;
    store.close().await;
}

/// One create attempt of the write-load test.
#[derive(Debug, Clone)]
struct Attempt {
    id: String,
    /// HTTP status, or `None` when no response arrived (outcome unknown).
    status: Option<u16>,
}

// PostgreSQL stopped (as by a crash) and started again while several clients create records:
// readiness drops and recovers, the pools reconnect without a node restart, errors meanwhile
// are PocketBase-format 503s, and every acknowledged create is in the database exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_write_load_loses_no_acknowledged_write() {
    const WRITERS: usize = 6;
    const MAX_ATTEMPTS: usize = 3000;
    let primary = PgServer::start_primary().await;
    // The node as `scalebase serve --db URL` builds it.
    let Served { base, app, stop, server, _dir } = serve(scalebase::config::StorageArgs {
        db: Some(primary.url("postgres")),
        pg_pool_size: Some(8),
        ..Default::default()
    })
    .await;
    let su = Client::admin(&base, &app).await;
    su.create_collection(json!({
        "name": "events", "type": "base",
        "fields": [{"name": "writer", "type": "number"}, {"name": "seq", "type": "number"}],
    }))
    .await;
    let token = su.token.clone().expect("superuser token");

    // The writers: each creates records with ids of its own and logs every attempt.
    let halt = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (halt, acked, failed) = (halt.clone(), acked.clone(), failed.clone());
        let (base, token) = (base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            let mut history = Vec::new();
            let mut bad_bodies = Vec::new();
            for seq in 0..MAX_ATTEMPTS {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let id = format!("w{w}{seq:013}");
                let sent = http
                    .post(format!("{base}/api/collections/events/records"))
                    .header("Authorization", &token)
                    .json(&json!({"id": id, "writer": w, "seq": seq}))
                    .send()
                    .await;
                let status = match sent {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body: Value = res.json().await.unwrap_or(Value::Null);
                        if status == 200 {
                            assert_eq!(body["id"], id.as_str());
                        } else {
                            let clean = body["status"] == status
                                && body["message"].as_str().is_some_and(|m| !m.is_empty())
                                && body["data"].is_object();
                            if !clean {
                                bad_bodies.push((status, body));
                            }
                        }
                        Some(status)
                    }
                    Err(_) => None,
                };
                history.push(Attempt { id, status });
                if status == Some(200) {
                    acked.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                    // A client's pause before trying again.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            (history, bad_bodies)
        }));
    }
    let guest = Client::guest(&base);
    let ready = |c: Client| async move { c.get("/api/ready").await.status };

    let acked_before = |n: usize| {
        let acked = acked.clone();
        move || {
            let acked = acked.clone();
            async move { acked.load(Ordering::SeqCst) >= n }
        }
    };
    wait_for("writes before the fault", Duration::from_secs(30), acked_before(100)).await;

    // The fault: PostgreSQL stops at once (a crash as far as it can tell), then starts again.
    let down_at = Instant::now();
    primary.stop(StopMode::Immediate).await;
    wait_for("readiness 503 while PostgreSQL is down", Duration::from_secs(10), || {
        ready(guest.clone()).map(|s| s == 503)
    })
    .await;
    let failed_at_stop = failed.load(Ordering::SeqCst);
    wait_for("writes failing while PostgreSQL is down", Duration::from_secs(10), || {
        let failed = failed.clone();
        async move { failed.load(Ordering::SeqCst) >= failed_at_stop + WRITERS }
    })
    .await;
    assert_eq!(guest.get("/api/health").await.status, 200, "the node itself stays alive");
    primary.start().await;
    let started_at = Instant::now();
    wait_for("readiness 200 after PostgreSQL is back", Duration::from_secs(20), || {
        ready(guest.clone()).map(|s| s == 200)
    })
    .await;
    let ready_after = started_at.elapsed();
    let acked_at_start = acked.load(Ordering::SeqCst);
    wait_for(
        "writes succeeding again after the restart",
        Duration::from_secs(30),
        acked_before(acked_at_start + 100),
    )
    .await;
    let recovered_after = started_at.elapsed();
    halt.store(true, Ordering::SeqCst);
    let mut history = Vec::new();
    let mut bad_bodies = Vec::new();
    for writer in writers {
        let (h, b) = writer.await.expect("writer task");
        history.extend(h);
        bad_bodies.extend(b);
    }

    // The history check: the database, read directly and through the API.
    let db = primary.client("postgres").await;
    let rows = db.query("SELECT id, count(*) FROM events GROUP BY id", &[]).await.unwrap();
    let present: HashMap<String, i64> =
        rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))).collect();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let (mut ok, mut info, mut recovered) = (0, 0, 0);
    let attempted: HashSet<&str> = history.iter().map(|a| a.id.as_str()).collect();
    let mut lost = Vec::new();
    for a in &history {
        let key = a.status.map_or_else(|| "no response".to_owned(), |s| s.to_string());
        *statuses.entry(key).or_default() += 1;
        match a.status {
            Some(200) => {
                ok += 1;
                if present.get(&a.id) != Some(&1) {
                    lost.push(a.id.clone());
                }
            }
            _ => {
                info += 1;
                recovered += usize::from(present.contains_key(&a.id));
            }
        }
    }
    let unexpected: Vec<&String> =
        present.keys().filter(|id| !attempted.contains(id.as_str())).collect();
    let mut api_ids = HashSet::new();
    for page in 1.. {
        let r = su
            .get(&format!(
                "/api/collections/events/records?perPage=1000&page={page}&skipTotal=1&sort=id&fields=id"
            ))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = r.body["items"].as_array().unwrap();
        api_ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        if items.len() < 1000 {
            break;
        }
        assert!(page < 100, "bounded paging");
    }
    let db_ids: HashSet<String> = present.keys().cloned().collect();
    eprintln!(
        "postgres restart under write load: {} attempts, {ok} acknowledged, {info} not \
         (of which {recovered} committed anyway), statuses {statuses:?}; down for {:?} \
         before the start, ready {ready_after:?} after it, writes again within {recovered_after:?}",
        history.len(),
        started_at - down_at,
    );
    assert!(lost.is_empty(), "acknowledged creates lost or duplicated: {lost:?}");
    assert!(unexpected.is_empty(), "records nobody created: {unexpected:?}");
    assert_eq!(api_ids, db_ids, "the API and the database disagree");
    assert!(bad_bodies.is_empty(), "error bodies not in PocketBase's format: {bad_bodies:?}");
    let unexpected_statuses: Vec<&String> =
        statuses.keys().filter(|s| !matches!(s.as_str(), "200" | "503")).collect();
    assert!(unexpected_statuses.is_empty(), "statuses besides 200 and 503: {statuses:?}");
    assert!(statuses.contains_key("503"), "the outage was seen by the writers: {statuses:?}");

    stop.send(()).ok();
    server.await.expect("server task").expect("server ran");
}
