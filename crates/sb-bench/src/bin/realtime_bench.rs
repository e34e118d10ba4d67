//! Realtime figures of a `scalebase serve` process: server memory per idle SSE connection,
//! event throughput and delivery latency (from the start of the write request to the event's
//! arrival at a subscriber) for a number of subscribers.
//!
//! ```text
//! cargo build --release -p scalebase -p sb-bench
//! target/release/realtime_bench --bin target/release/scalebase --subscribers 1000 --events 1000
//! ```
//!
//! It starts the server itself on a temporary directory (SQLite, or `--db postgres://...`),
//! opens the subscribers as raw HTTP/1.1 connections (`GET /api/realtime`, one guest
//! subscription `rt/*` each on a collection whose listRule is checked per event), then creates
//! records from a few concurrent writers. Figures are printed, never asserted.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// The scalebase binary.
    #[arg(long)]
    bin: String,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    #[arg(long, default_value_t = 500)]
    events: usize,
    /// Concurrent writers.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// PostgreSQL URL (default: SQLite in the temporary directory).
    #[arg(long)]
    db: Option<String>,
    #[arg(long, default_value_t = 18_095)]
    port: u16,
}

struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Reads one SSE connection's `PB_CONNECT`, returning the client id.
async fn open_subscriber(addr: &str) -> Result<(TcpStream, String)> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(b"GET /api/realtime HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            bail!("stream closed before PB_CONNECT");
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(i) = text.find("\"clientId\":\"") {
            let rest = &text[i + 12..];
            if let Some(end) = rest.find('"') {
                return Ok((s, rest[..end].to_owned()));
            }
        }
    }
}

/// Reads events until `want` arrived, recording each one's latency (µs since `t0`, minus the
/// `ts` the writer put in the record).
async fn read_events(
    mut s: TcpStream,
    t0: Instant,
    want: usize,
    hist: Arc<parking::Hist>,
    delivered: Arc<AtomicU64>,
) {
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut got = 0;
    let marker = b"\"ts\":";
    while got < want {
        let Ok(n) = s.read(&mut chunk).await else { return };
        if n == 0 {
            return;
        }
        let now = t0.elapsed().as_micros() as u64;
        pending.extend_from_slice(&chunk[..n]);
        let mut consumed = 0;
        while let Some(pos) = find(&pending[consumed..], marker) {
            let start = consumed + pos + marker.len();
            let Some(len) = pending[start..].iter().position(|b| !b.is_ascii_digit() && *b != b'.')
            else {
                break;
            };
            let ts: f64 = std::str::from_utf8(&pending[start..start + len])
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0.0);
            hist.record(now.saturating_sub(ts as u64));
            delivered.fetch_add(1, Ordering::Relaxed);
            got += 1;
            consumed = start + len;
        }
        pending.drain(..consumed);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A shared latency histogram.
mod parking {
    pub struct Hist(std::sync::Mutex<hdrhistogram::Histogram<u64>>);

    impl Hist {
        pub fn new() -> Self {
            Hist(std::sync::Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram"),
            ))
        }

        pub fn record(&self, v: u64) {
            if let Ok(mut h) = self.0.lock() {
                h.saturating_record(v.max(1));
            }
        }

        pub fn quantile(&self, q: f64) -> u64 {
            self.0.lock().map(|h| h.value_at_quantile(q)).unwrap_or(0)
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", args.port);
    let base = format!("http://{addr}");
    let mut db_args: Vec<String> = Vec::new();
    if let Some(db) = &args.db {
        db_args = vec!["--db".into(), db.clone()];
    }
    let dir_s = dir.path().to_string_lossy().to_string();
    let status = Command::new(&args.bin)
        .args(["superuser", "upsert", "bench@example.com", "bench-password-1", "--dir", &dir_s])
        .args(&db_args)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("superuser upsert failed");
    }
    let child = Command::new(&args.bin)
        .args(["serve", "--http", &addr, "--dir", &dir_s])
        .args(&db_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start the server")?;
    let server = Server { child, _dir: dir };
    let pid = server.child.id();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    for _ in 0..200 {
        if http.get(format!("{base}/api/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login: Value = http
        .post(format!("{base}/api/collections/_superusers/auth-with-password"))
        .json(&json!({"identity": "bench@example.com", "password": "bench-password-1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login")?.to_owned();
    let r = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(&json!({"name": "rt", "listRule": "t != 'hidden'", "viewRule": "",
            "fields": [{"name": "t", "type": "text"}, {"name": "ts", "type": "number"}]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("create collection: {}", r.text().await?);
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = rss_kib(pid);
    let mut streams = Vec::with_capacity(args.subscribers);
    let opened = Instant::now();
    for batch in (0..args.subscribers).collect::<Vec<_>>().chunks(250) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|_| {
                let addr = addr.clone();
                tokio::spawn(async move { open_subscriber(&addr).await })
            })
            .collect();
        for t in tasks {
            streams.push(t.await??);
        }
    }
    let subscribe = futures::stream::iter(streams.iter().map(|(_, id)| {
        let http = http.clone();
        let url = format!("{base}/api/realtime");
        let id = id.clone();
        async move {
            let r = http
                .post(url)
                .json(&json!({"clientId": id, "subscriptions": ["rt/*"]}))
                .send()
                .await?;
            if r.status().as_u16() != 204 {
                bail!("subscribe: {}", r.status());
            }
            Ok::<_, anyhow::Error>(())
        }
    }));
    let results: Vec<Result<()>> =
        futures::StreamExt::collect(futures::StreamExt::buffer_unordered(subscribe, 64)).await;
    for r in results {
        r?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss1 = rss_kib(pid);
    println!(
        "subscribers: {} connected and subscribed in {:.1} s; server RSS {} KiB -> {} KiB: {:.1} KiB per idle subscriber",
        args.subscribers,
        opened.elapsed().as_secs_f64(),
        rss0,
        rss1,
        (rss1.saturating_sub(rss0)) as f64 / args.subscribers as f64
    );

    let t0 = Instant::now();
    let hist = Arc::new(parking::Hist::new());
    let delivered = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = streams
        .into_iter()
        .map(|(s, _)| {
            tokio::spawn(read_events(s, t0, args.events, hist.clone(), delivered.clone()))
        })
        .collect();
    let next = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..args.writers)
        .map(|_| {
            let http = http.clone();
            let url = format!("{base}/api/collections/rt/records");
            let token = token.clone();
            let next = next.clone();
            let events = args.events as u64;
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < events {
                    let ts = t0.elapsed().as_micros() as u64;
                    let r = http
                        .post(&url)
                        .header("Authorization", &token)
                        .json(&json!({"t": "x", "ts": ts}))
                        .send()
                        .await;
                    if !r.is_ok_and(|r| r.status().is_success()) {
                        eprintln!("a write failed");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await?;
    }
    let written = t0.elapsed();
    let all =
        tokio::time::timeout(Duration::from_secs(120), futures::future::join_all(readers)).await;
    let done = t0.elapsed();
    let total = delivered.load(Ordering::Relaxed);
    println!(
        "events: {} written in {:.2} s ({:.0} writes/s); {} of {} deliveries in {:.2} s{}: {:.0} events/s fanned out, {:.0} deliveries/s",
        args.events,
        written.as_secs_f64(),
        args.events as f64 / written.as_secs_f64(),
        total,
        args.events * args.subscribers,
        done.as_secs_f64(),
        if all.is_err() { " (timed out)" } else { "" },
        args.events as f64 / done.as_secs_f64(),
        total as f64 / done.as_secs_f64(),
    );
    println!(
        "delivery latency (write start -> event read): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        hist.quantile(0.5) as f64 / 1000.0,
        hist.quantile(0.99) as f64 / 1000.0,
        hist.quantile(1.0) as f64 / 1000.0
    );
    drop(server);
    Ok(())
}
