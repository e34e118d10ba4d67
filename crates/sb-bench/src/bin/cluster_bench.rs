//! Figures of a Scalebase cluster: several `scalebase serve` processes on one PostgreSQL
//! database and one Redis, under a read-mostly load spread over every node, with writers that
//! check, after every acknowledged write, that every other node already reads it.
//!
//! ```text
//! cargo build --release -p scalebase -p sb-bench
//! target/release/cluster_bench --bin target/release/scalebase --nodes 3 --seconds 10
//! ```
//!
//! Reported (printed, never asserted): read throughput, the record and auth cache hit rates
//! (from each node's `/metrics`), write latency (which includes waiting for every node to
//! apply the write's invalidation), and staleness: reads on other nodes, right after a write
//! was acknowledged, that returned an older value (the design says zero). `--cache-mb 0` runs
//! the same load without the record cache, as the baseline of the same run.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The scalebase binary.
    #[arg(long)]
    bin: String,
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Load duration.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent readers (spread over the nodes).
    #[arg(long, default_value_t = 32)]
    readers: usize,
    /// Concurrent writers; each owns a share of the hot records.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Records in the collection; reads pick one of the first `hot` 80% of the time.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    #[arg(long, default_value_t = 50)]
    hot: usize,
    /// The nodes' record cache (`serve --cache-mb`).
    #[arg(long, default_value_t = 64)]
    cache_mb: u64,
    /// Maintenance URL of the PostgreSQL server (a database is created and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// First port of the nodes.
    #[arg(long, default_value_t = 18_300)]
    port: u16,
}

struct Nodes {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.children {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

fn psql(admin: &str, sql: &str) -> Result<()> {
    let status = Command::new("psql").args([admin, "-qc", sql]).stdout(Stdio::null()).status()?;
    if !status.success() {
        bail!("psql failed: {sql}");
    }
    Ok(())
}

/// `sum` of a counter's samples in Prometheus text whose labels contain every `want`.
fn counter(text: &str, name: &str, want: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && want.iter().all(|w| l.contains(w)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let db_name = format!(
        "sbbench_{}_{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
        std::process::id()
    );
    psql(&args.pg, &format!("CREATE DATABASE \"{db_name}\""))?;
    let result = run(&args, &db_name).await;
    psql(&args.pg, &format!("DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)")).ok();
    result
}

async fn run(args: &Args, db_name: &str) -> Result<()> {
    let db = format!("{}/{db_name}", args.pg.rsplit_once('/').map(|(a, _)| a).unwrap_or(&args.pg));
    let dir = tempfile::tempdir()?;
    let dir_s = dir.path().to_string_lossy().to_string();
    let status = Command::new(&args.bin)
        .args(["superuser", "upsert", "bench@example.com", "bench-password-1"])
        .args(["--dir", &dir_s, "--db", &db])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("superuser upsert failed");
    }
    let prefix = format!("sbbench:{}:", std::process::id());
    let cache_mb = args.cache_mb.to_string();
    let mut children = Vec::new();
    let mut bases = Vec::new();
    for i in 0..args.nodes {
        let addr = format!("127.0.0.1:{}", args.port + i as u16);
        // A server still on the port (an earlier run shutting down) would answer for ours.
        if std::net::TcpListener::bind(&addr).is_err() {
            bail!("{addr} is in use; pass another --port");
        }
        children.push(
            Command::new(&args.bin)
                .args(["serve", "--http", &addr, "--dir", &dir_s, "--db", &db])
                .args(["--redis", &args.redis, "--redis-prefix", &prefix])
                .args(["--cache-mb", &cache_mb, "--metrics-token", "bench", "--log-level", "warn"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("start a node")?,
        );
        bases.push(format!("http://{addr}"));
    }
    let _nodes = Nodes { children, _dir: dir };
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    for base in &bases {
        let mut up = false;
        for _ in 0..200 {
            // Ready once it has joined the cluster.
            let ready = http.get(format!("{base}/api/ready")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !up {
            bail!("{base} did not start");
        }
    }
    // Let the nodes hear each other before the schema is made (a node that joins while a
    // schema change commits elsewhere may answer from its old catalog for a moment).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let login: Value = http
        .post(format!("{}/api/collections/_superusers/auth-with-password", bases[0]))
        .json(&json!({"identity": "bench@example.com", "password": "bench-password-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login")?.to_owned();
    let r = http
        .post(format!("{}/api/collections", bases[0]))
        .header("Authorization", &token)
        .json(&json!({"name": "items", "listRule": "", "viewRule": "", "updateRule": "", "createRule": "",
            "fields": [{"name": "v", "type": "number"}, {"name": "t", "type": "text"}]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create collection: {}", r.text().await?);
    }
    let mut ids = Vec::with_capacity(args.records);
    for i in 0..args.records {
        let r: Value = http
            .post(format!("{}/api/collections/items/records", bases[i % bases.len()]))
            .json(&json!({"v": 0, "t": format!("item {i}")}))
            .send()
            .await?
            .json()
            .await?;
        ids.push(r["id"].as_str().context("create")?.to_owned());
    }
    // A user whose token every read carries (token checks go through the auth cache).
    let r = http
        .post(format!("{}/api/collections/users/records", bases[0]))
        .json(&json!({"email": "reader@example.com", "password": "reader-password",
            "passwordConfirm": "reader-password"}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create user: {}", r.text().await?);
    }
    let auth: Value = http
        .post(format!("{}/api/collections/users/auth-with-password", bases[0]))
        .json(&json!({"identity": "reader@example.com", "password": "reader-password"}))
        .send()
        .await?
        .json()
        .await?;
    let user_token = auth["token"].as_str().context("user login")?.to_owned();
    // Let the nodes hear each other and trust their caches.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics_before = scrape(&http, &bases).await?;

    let ids = Arc::new(ids);
    let bases = Arc::new(bases);
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let read_errors = Arc::new(AtomicU64::new(0));
    let checks = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let write_latency = Arc::new(std::sync::Mutex::new(hdrhistogram::Histogram::<u64>::new(3)?));
    let mut tasks = Vec::new();
    for r in 0..args.readers {
        let (http, ids, bases, stop) = (http.clone(), ids.clone(), bases.clone(), stop.clone());
        let (reads, errors, token) = (reads.clone(), read_errors.clone(), user_token.clone());
        let hot = args.hot.min(ids.len()).max(1);
        tasks.push(tokio::spawn(async move {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ r as u64;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = if x % 10 < 8 {
                    &ids[(x / 10) as usize % hot]
                } else {
                    &ids[(x / 10) as usize % ids.len()]
                };
                let base = &bases[(x / 7) as usize % bases.len()];
                let url = if x.is_multiple_of(5) {
                    format!("{base}/api/collections/items/records?perPage=10&sort=-v")
                } else {
                    format!("{base}/api/collections/items/records/{id}")
                };
                match http.get(url).header("Authorization", &token).send().await {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for w in 0..args.writers {
        let (http, ids, bases, stop) = (http.clone(), ids.clone(), bases.clone(), stop.clone());
        let (checks, stale, latency) = (checks.clone(), stale.clone(), write_latency.clone());
        let (writers, hot) = (args.writers, args.hot.min(ids.len()).max(1));
        tasks.push(tokio::spawn(async move {
            let mut value = 0u64;
            let mut turn = 0usize;
            while !stop.load(Ordering::Relaxed) {
                // This writer's records: the hot ones with index ≡ w (mod writers).
                let owned: Vec<usize> = (0..hot).filter(|i| i % writers == w).collect();
                if owned.is_empty() {
                    return;
                }
                let id = &ids[owned[turn % owned.len()]];
                let node = turn % bases.len();
                turn += 1;
                value += 1;
                let started = Instant::now();
                let r = http
                    .patch(format!("{}/api/collections/items/records/{id}", bases[node]))
                    .json(&json!({"v": value}))
                    .send()
                    .await;
                if !matches!(&r, Ok(resp) if resp.status().is_success()) {
                    continue;
                }
                let micros = started.elapsed().as_micros() as u64;
                latency.lock().unwrap().record(micros.max(1)).ok();
                for (i, base) in bases.iter().enumerate() {
                    if i == node {
                        continue;
                    }
                    let got: Option<Value> = match http
                        .get(format!("{base}/api/collections/items/records/{id}"))
                        .send()
                        .await
                    {
                        Ok(resp) => resp.json().await.ok(),
                        Err(_) => None,
                    };
                    checks.fetch_add(1, Ordering::Relaxed);
                    if got.and_then(|v| v["v"].as_u64()) != Some(value) {
                        stale.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.ok();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics_after = scrape(&http, &bases).await?;
    let delta = |cache: &str, result: &str| {
        let want = [format!("cache=\"{cache}\""), format!("result=\"{result}\"")];
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        counter(&metrics_after, "scalebase_cache_requests_total", &want)
            - counter(&metrics_before, "scalebase_cache_requests_total", &want)
    };
    let rate = |cache: &str| {
        let (h, m, b) = (delta(cache, "hit"), delta(cache, "miss"), delta(cache, "bypass"));
        let shared = delta(cache, "shared_hit");
        let total = h + shared + m + b;
        if total == 0.0 {
            "no lookups".to_owned()
        } else {
            format!(
                "{:.1}% hits ({h} on the node, {shared} shared, {m} misses, {b} bypasses)",
                100.0 * (h + shared) / total
            )
        }
    };
    let latency = write_latency.lock().unwrap();
    println!(
        "cluster: {} nodes (PostgreSQL + Redis), {} readers, {} writers, {:.1} s, cache {} MiB",
        args.nodes, args.readers, args.writers, elapsed, args.cache_mb
    );
    println!(
        "reads: {:.0}/s ({} errors); record cache: {}; auth cache: {}",
        reads.load(Ordering::Relaxed) as f64 / elapsed,
        read_errors.load(Ordering::Relaxed),
        rate("records"),
        rate("auth"),
    );
    println!(
        "writes: {} acknowledged, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latency.len(),
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        latency.max() as f64 / 1000.0
    );
    println!(
        "staleness: {} of {} reads on other nodes right after an acknowledged write returned an older value",
        stale.load(Ordering::Relaxed),
        checks.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Every node's `/metrics`, concatenated.
async fn scrape(http: &reqwest::Client, bases: &[String]) -> Result<String> {
    let mut all = String::new();
    for base in bases {
        let text = http
            .get(format!("{base}/metrics"))
            .header("Authorization", "Bearer bench")
            .send()
            .await?
            .text()
            .await?;
        all.push_str(&text);
        all.push('\n');
    }
    Ok(all)
}
