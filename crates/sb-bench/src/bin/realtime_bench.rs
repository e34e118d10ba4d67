//! Realtime fan-out of one server, Scalebase or the reference PocketBase: N subscribers, E
//! records written by W concurrent writers, and for every event each subscriber receives, the
//! latency from the write's request to the event's arrival; plus missing events, events
//! delivered per second, the time to connect and subscribe, and server memory per idle
//! subscriber.
//!
//! ```text
//! cargo build --release -p scalebase -p sb-bench
//! target/release/realtime_bench --server scalebase --bin target/release/scalebase --subscribers 1000
//! target/release/realtime_bench --server pocketbase --bin "$(../shared/tools/pocketbase-ref)" --json
//! ```
//!
//! It starts the server itself on a fresh temporary directory and a loopback port (Scalebase on
//! SQLite there, or `--db postgres://…`), optionally under `taskset -c CPUS`, creates a
//! superuser with the server's CLI and, through the HTTP API, a collection `rt` whose listRule
//! (`t != 'hidden'`) is checked per subscriber and event. It opens the subscribers as raw
//! HTTP/1.1 connections (`GET /api/realtime`), subscribes each as a guest to `rt/*`, then
//! creates E records numbered by a `seq` field. Figures go to stderr; `--json` prints the run as
//! the harness's `RunResult` (scenario `realtime-1k`, `realtime-10k` or `realtime-N`) on stdout.
//! Latency runs from the write's request, an upper bound of commit-to-event: see
//! `sb_bench::realtime`. Every wait is bounded, and the server is stopped on every exit path
//! (errors, SIGINT and SIGTERM included).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::{Parser, ValueEnum};
use futures::{StreamExt, TryStreamExt};
use sb_bench::realtime::{
    self, Arrivals, ChunkedDecoder, RunInfo, SseParser, WriteOutcome, parse_response_head,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServerKind {
    Scalebase,
    Pocketbase,
}

#[derive(Parser)]
#[command(about = "Realtime fan-out of a PocketBase-compatible server it starts")]
struct Args {
    /// Which server `--bin` is (their CLIs differ).
    #[arg(long, value_enum, default_value = "scalebase")]
    server: ServerKind,
    /// The server binary.
    #[arg(long)]
    bin: PathBuf,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Records written; every subscriber should receive an event for each.
    #[arg(long, default_value_t = 200)]
    events: usize,
    /// Concurrent writers (superuser requests).
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Writes per second, due at fixed times (default: each writer sends its next write when
    /// the previous one is answered).
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// PostgreSQL URL for Scalebase (default: SQLite in the temporary directory).
    #[arg(long)]
    db: Option<String>,
    /// Loopback port of the server.
    #[arg(long, default_value_t = 18_095)]
    port: u16,
    /// Name of the server in the results (default: the `--server` kind).
    #[arg(long)]
    label: Option<String>,
    /// Print the run as JSON (`RunResult`) on stdout.
    #[arg(long)]
    json: bool,
    /// Run the server under `taskset -c CPUS` (e.g. `1`).
    #[arg(long)]
    taskset_cpus: Option<String>,
    /// Seconds all subscribers may take to connect and subscribe.
    #[arg(long, default_value_t = 120.0, value_parser = parse_secs)]
    connect_timeout: f64,
    /// Seconds to wait, after the last write was answered, for events still on their way; what
    /// has not arrived then is missing.
    #[arg(long, default_value_t = 30.0, value_parser = parse_secs)]
    drain: f64,
}

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench-password-1";
const TOPIC: &str = "rt/*";
/// Subscribers connecting at once (a burst of 10 000 would overflow the listen backlog).
const CONNECT_CONCURRENCY: usize = 128;
/// Subscription requests in flight at once.
const SUBSCRIBE_CONCURRENCY: usize = 64;
/// Longest wait for any one HTTP request of the setup, a subscription or a write.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the server to answer its health check after starting.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before reading the server's memory, so that it has settled.
const SETTLE: Duration = Duration::from_secs(1);
/// Longest wait for the readers to stop once told to.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Each subscriber's read buffer (an event is a few hundred bytes).
const READ_BUFFER: usize = 4096;

/// Longest duration accepted on the command line (a day).
const MAX_SECS: f64 = 86_400.0;

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SECS => Ok(v),
        _ => Err(format!("expected a number of seconds above 0, at most {MAX_SECS}, got {s:?}")),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.001..=1e7).contains(&v) => Ok(v),
        _ => Err(format!("expected a rate from 0.001 to 10^7 writes per second, got {s:?}")),
    }
}

/// The server under test, stopped (killed and reaped) when dropped; its data directory goes
/// after it.
struct ServerProcess {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Creates the superuser with the server's CLI, then starts `serve` on `addr`.
    fn start(args: &Args, addr: SocketAddr) -> Result<ServerProcess> {
        let dir = tempfile::tempdir().context("create the data directory")?;
        let path = dir.path();
        let mut data_args: Vec<OsString> = vec!["--dir".into(), path.into()];
        match args.server {
            // Explicit (empty) migration and hook folders, as bench/run.sh gives PocketBase.
            ServerKind::Pocketbase => {
                data_args.extend(["--migrationsDir".into(), path.join("pb_migrations").into()]);
                data_args.extend(["--hooksDir".into(), path.join("pb_hooks").into()]);
            }
            ServerKind::Scalebase => {
                if let Some(db) = &args.db {
                    data_args.extend(["--db".into(), db.into()]);
                }
            }
        }
        let upsert = Command::new(&args.bin)
            .args(["superuser", "upsert", EMAIL, PASSWORD])
            .args(&data_args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", args.bin.display()))?;
        ensure!(
            upsert.status.success(),
            "`{} superuser upsert` failed: {}",
            args.bin.display(),
            String::from_utf8_lossy(&upsert.stderr).trim()
        );
        let log = path.join("server.log");
        let log_file = std::fs::File::create(&log).context("create the server log")?;
        let mut command = match &args.taskset_cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.arg("-c").arg(cpus).arg(&args.bin);
                taskset
            }
            None => Command::new(&args.bin),
        };
        let child = command
            .arg("serve")
            .arg("--http")
            .arg(addr.to_string())
            .args(&data_args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", args.bin.display()))?;
        Ok(ServerProcess { child, log, _dir: dir })
    }

    /// The server's process id (`taskset` runs it in its own place).
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of the server's output, for error messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails with the server's output if it is no longer running.
    fn check_running(&mut self) -> Result<()> {
        match self.exited() {
            Some(status) => bail!("the server exited ({status}); its output:\n{}", self.log_tail()),
            None => Ok(()),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The server's resident memory, from `/proc` (0 when it cannot be read).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| sb_bench::procstat::parse_status_kib(&status, "VmRSS"))
        .unwrap_or(0)
}

/// Raises the soft limit of open files to the hard one when the subscribers need more; the
/// server, started afterwards, inherits it.
#[cfg(unix)]
fn raise_fd_limit(needed: u64) -> Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("read the open-file limit")?;
    if let Some(limit) = realtime::fd_soft_limit(soft, hard, needed)? {
        setrlimit(Resource::RLIMIT_NOFILE, limit, hard).with_context(|| {
            format!("cannot raise the open-file limit to {limit}: raise it with `ulimit -n`")
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn raise_fd_limit(_needed: u64) -> Result<()> {
    Ok(())
}

/// Waits until the server answers its health check, failing early if it exits.
async fn wait_healthy(
    http: &reqwest::Client,
    base: &str,
    server: &mut ServerProcess,
) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        server.check_running()?;
        let health =
            http.get(format!("{base}/api/health")).timeout(Duration::from_secs(1)).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "the server did not answer {base}/api/health within {START_TIMEOUT:?}; its output:\n{}",
        server.log_tail()
    )
}

/// Signs in as the superuser and creates the `rt` collection (replacing one left in a shared
/// PostgreSQL database); returns the token.
async fn create_collection(http: &reqwest::Client, base: &str) -> Result<String> {
    let login = http
        .post(format!("{base}/api/collections/_superusers/auth-with-password"))
        .json(&json!({"identity": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .context("superuser login")?;
    ensure!(login.status().is_success(), "superuser login answered {}", login.status());
    let login: Value = login.json().await.context("superuser login")?;
    let token = login["token"].as_str().context("no token in the login answer")?.to_owned();
    let old = http
        .delete(format!("{base}/api/collections/rt"))
        .header("Authorization", &token)
        .send()
        .await
        .context("delete an old rt collection")?;
    ensure!(
        old.status().is_success() || old.status() == reqwest::StatusCode::NOT_FOUND,
        "deleting an old rt collection answered {}",
        old.status()
    );
    let created = http
        .post(format!("{base}/api/collections"))
        .header("Authorization", &token)
        .json(&json!({
            "name": "rt",
            "type": "base",
            "listRule": "t != 'hidden'",
            "viewRule": "",
            "fields": [{"name": "t", "type": "text"}, {"name": "seq", "type": "number"}],
        }))
        .send()
        .await
        .context("create the rt collection")?;
    let status = created.status();
    if !status.is_success() {
        bail!("creating the rt collection answered {status}: {}", created.text().await?);
    }
    Ok(token)
}

/// The HTTP framing of a subscriber's response body.
enum Body {
    Chunked(ChunkedDecoder),
    /// The body runs to the end of the connection.
    Identity,
}

/// One SSE connection, past its `PB_CONNECT`.
struct Subscriber {
    stream: TcpStream,
    body: Body,
    sse: SseParser,
    /// Decoded body bytes, reused between reads.
    scratch: Vec<u8>,
    client_id: String,
}

impl Subscriber {
    /// Opens `GET /api/realtime` and reads up to the `PB_CONNECT` event.
    async fn connect(addr: SocketAddr) -> Result<Subscriber> {
        let mut stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET /api/realtime HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.context("send GET /api/realtime")?;
        let mut head_bytes = Vec::new();
        let mut chunk = [0u8; READ_BUFFER];
        let (head, body_start) = loop {
            let n = stream.read(&mut chunk).await.context("read the response head")?;
            ensure!(n > 0, "connection closed before the response head");
            head_bytes.extend_from_slice(&chunk[..n]);
            if let Some(head) = parse_response_head(&head_bytes)? {
                break head;
            }
        };
        ensure!(
            head.status == 200,
            "GET /api/realtime answered {}: {}",
            head.status,
            String::from_utf8_lossy(&head_bytes[body_start..])
        );
        let body =
            if head.chunked { Body::Chunked(ChunkedDecoder::default()) } else { Body::Identity };
        let mut subscriber = Subscriber {
            stream,
            body,
            sse: SseParser::default(),
            scratch: Vec::new(),
            client_id: String::new(),
        };
        subscriber.feed(&head_bytes[body_start..])?;
        loop {
            while let Some(event) = subscriber.sse.next_event() {
                if event.event == "PB_CONNECT" {
                    let data: Value = serde_json::from_str(&event.data).unwrap_or_default();
                    subscriber.client_id = match data["clientId"].as_str() {
                        Some(id) => id.to_owned(),
                        None => event.id,
                    };
                    ensure!(!subscriber.client_id.is_empty(), "PB_CONNECT without a client id");
                    return Ok(subscriber);
                }
            }
            let n = subscriber.stream.read(&mut chunk).await.context("read PB_CONNECT")?;
            ensure!(n > 0, "stream closed before PB_CONNECT");
            subscriber.feed(&chunk[..n])?;
        }
    }

    /// Hands bytes read from the socket to the SSE parser; returns how many body bytes they
    /// held.
    fn feed(&mut self, bytes: &[u8]) -> Result<usize> {
        match &mut self.body {
            Body::Chunked(decoder) => {
                self.scratch.clear();
                decoder.feed(bytes, &mut self.scratch)?;
                self.sse.push(&self.scratch);
                Ok(self.scratch.len())
            }
            Body::Identity => {
                self.sse.push(bytes);
                Ok(bytes.len())
            }
        }
    }

    /// The server ended the body (the last chunk).
    fn ended(&self) -> bool {
        matches!(&self.body, Body::Chunked(decoder) if decoder.is_done())
    }
}

/// Subscribes a client to the topic, as a guest.
async fn subscribe(http: &reqwest::Client, base: &str, client_id: &str) -> Result<()> {
    let answer = http
        .post(format!("{base}/api/realtime"))
        .json(&json!({"clientId": client_id, "subscriptions": [TOPIC]}))
        .send()
        .await
        .context("POST /api/realtime")?;
    let status = answer.status();
    ensure!(
        status.as_u16() == 204,
        "POST /api/realtime answered {status}: {}",
        answer.text().await?
    );
    Ok(())
}

/// Opens `n` subscribers and subscribes them, a bounded number at a time.
async fn connect_all(
    addr: SocketAddr,
    n: usize,
    http: &reqwest::Client,
    base: &str,
) -> Result<Vec<Subscriber>> {
    let subscribers: Vec<Subscriber> = futures::stream::iter(0..n)
        .map(|i| async move {
            Subscriber::connect(addr)
                .await
                .with_context(|| format!("subscriber {} of {n}", i + 1))
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await
        .context("opening the subscribers failed (is the server at its limit of connections or open files?)")?;
    futures::stream::iter(subscribers.iter())
        .map(|s| subscribe(http, base, &s.client_id))
        .buffer_unordered(SUBSCRIBE_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .context("subscribing failed")?;
    Ok(subscribers)
}

/// Counts the readers that are done (every event arrived, or the stream ended) and wakes the
/// driver when all are.
struct Progress {
    done: AtomicUsize,
    total: usize,
    all_done: Notify,
}

impl Progress {
    fn reader_done(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.total {
            // `notify_one` keeps the wake-up if the driver is not waiting yet.
            self.all_done.notify_one();
        }
    }
}

fn micros_since(t0: Instant) -> u64 {
    u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Reads one subscriber's events until all `events` arrived, the stream ends or `stop` is set;
/// returns the arrivals and, if the stream ended early, why.
async fn read_events(
    mut subscriber: Subscriber,
    events: usize,
    t0: Instant,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> (Arrivals, Option<String>) {
    let mut arrivals = Arrivals::new(events);
    let mut chunk = vec![0u8; READ_BUFFER];
    let mut at = micros_since(t0);
    let ended = loop {
        while let Some(event) = subscriber.sse.next_event() {
            let seq = if event.event == TOPIC { realtime::event_seq(&event.data) } else { None };
            arrivals.record(seq, at);
        }
        if arrivals.complete() {
            break None;
        }
        if subscriber.ended() {
            break Some("the server ended the stream".to_owned());
        }
        let read = tokio::select! {
            read = subscriber.stream.read(&mut chunk) => read,
            _ = stop.changed() => break None,
        };
        at = micros_since(t0);
        match read {
            Ok(0) => break Some("the server closed the connection".to_owned()),
            Ok(n) => match subscriber.feed(&chunk[..n]) {
                Ok(body_bytes) => arrivals.bytes += body_bytes as u64,
                Err(e) => break Some(format!("unreadable stream: {e:#}")),
            },
            Err(e) => break Some(format!("read error: {e}")),
        }
    };
    progress.reader_done();
    (arrivals, ended)
}

/// One writer: takes the next sequence number until all are taken, and creates its record.
async fn write_records(
    http: reqwest::Client,
    url: String,
    token: String,
    next: Arc<AtomicUsize>,
    events: usize,
    t0: Instant,
    interval: Option<Duration>,
) -> Vec<(usize, WriteOutcome)> {
    let mut outcomes = Vec::new();
    loop {
        let seq = next.fetch_add(1, Ordering::Relaxed);
        if seq >= events {
            return outcomes;
        }
        if let Some(interval) = interval {
            let due = t0 + interval.mul_f64(seq as f64);
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        }
        let sent_us = micros_since(t0);
        let answer = http
            .post(&url)
            .header("Authorization", &token)
            .json(&json!({"t": "x", "seq": seq}))
            .send()
            .await;
        let outcome = match answer {
            Ok(answer) if answer.status().is_success() => match answer.bytes().await {
                Ok(_) => WriteOutcome::Ok { sent_us },
                Err(_) => WriteOutcome::Failed { sent_us, kind: "write transport".to_owned() },
            },
            Ok(answer) => WriteOutcome::Failed {
                sent_us,
                kind: format!("write {}", answer.status().as_u16()),
            },
            Err(_) => WriteOutcome::Failed { sent_us, kind: "write transport".to_owned() },
        };
        outcomes.push((seq, outcome));
    }
}

async fn run(args: Args) -> Result<()> {
    ensure!(
        args.subscribers > 0 && args.events > 0 && args.writers > 0,
        "subscribers, events and writers must be positive"
    );
    ensure!(
        args.db.is_none() || args.server == ServerKind::Scalebase,
        "--db is for Scalebase only"
    );
    let label = args.label.clone().unwrap_or_else(|| match args.server {
        ServerKind::Scalebase => "scalebase".to_owned(),
        ServerKind::Pocketbase => "pocketbase".to_owned(),
    });
    let scenario = realtime::scenario_name(args.subscribers);
    raise_fd_limit(realtime::fds_needed(args.subscribers))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    std::net::TcpListener::bind(addr)
        .with_context(|| format!("port {} is not free (use --port)", args.port))?;
    let base = format!("http://{addr}");

    let mut server = ServerProcess::start(&args, addr)?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(SUBSCRIBE_CONCURRENCY * 2)
        .build()?;
    wait_healthy(&http, &base, &mut server).await?;
    let token = create_collection(&http, &base).await?;

    tokio::time::sleep(SETTLE).await;
    let rss_idle = rss_kib(server.pid());
    let opening = Instant::now();
    let connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    let subscribers = match tokio::time::timeout(
        connect_timeout,
        connect_all(addr, args.subscribers, &http, &base),
    )
    .await
    {
        Ok(subscribers) => subscribers,
        Err(_) => Err(anyhow!(
            "{} subscribers were not connected and subscribed within {connect_timeout:?}",
            args.subscribers
        )),
    };
    let subscribers = match subscribers {
        Ok(subscribers) => subscribers,
        Err(e) => {
            server.check_running().context(format!("{e:#}"))?;
            return Err(e);
        }
    };
    let connect_secs = opening.elapsed().as_secs_f64();
    tokio::time::sleep(SETTLE).await;
    server.check_running()?;
    let rss_subscribed = rss_kib(server.pid());

    // The server's CPU time and peak memory from the first write to the end.
    let window = sb_bench::procstat::Window::open(&[server.pid()])?;
    let t0 = Instant::now();
    let progress = Arc::new(Progress {
        done: AtomicUsize::new(0),
        total: args.subscribers,
        all_done: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|s| tokio::spawn(read_events(s, args.events, t0, progress.clone(), stop_rx.clone())))
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let interval = args.rate.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let writers: Vec<_> = (0..args.writers)
        .map(|_| {
            tokio::spawn(write_records(
                http.clone(),
                format!("{base}/api/collections/rt/records"),
                token.clone(),
                next.clone(),
                args.events,
                t0,
                interval,
            ))
        })
        .collect();
    let mut writes = vec![WriteOutcome::NotSent; args.events];
    for writer in writers {
        for (seq, outcome) in writer.await.context("a writer failed")? {
            writes[seq] = outcome;
        }
    }
    let writes_done_us = micros_since(t0);
    let drain = Duration::from_secs_f64(args.drain);
    let drained = tokio::time::timeout(drain, progress.all_done.notified()).await.is_ok();
    stop_tx.send(true).ok();
    let joined = tokio::time::timeout(STOP_TIMEOUT, futures::future::join_all(readers))
        .await
        .context("the subscribers did not stop")?;
    let server_exit = server.exited();

    let mut arrivals = Vec::with_capacity(joined.len());
    let mut ended_early: Vec<String> = Vec::new();
    for reader in joined {
        let (subscriber_arrivals, ended) = reader.context("a subscriber failed")?;
        arrivals.push(subscriber_arrivals);
        ended_early.extend(ended);
    }
    let tally = realtime::tally(&writes, &arrivals)?;
    let last_us = tally.last_arrival_us.unwrap_or(0).max(writes_done_us);
    let info = RunInfo {
        label,
        url: base,
        subscribers: args.subscribers,
        write_rate: args.rate,
        measured_secs: last_us as f64 / 1e6,
    };
    let mut result = realtime::run_result(&info, &tally);
    // Unknown when the server ended meanwhile (reported below).
    result.server = window.close(result.measured_secs, result.requests).ok();
    drop(server);

    let writes_secs = writes_done_us as f64 / 1e6;
    let failed_writes = args.events as u64 - tally.ok_writes;
    eprintln!(
        "{scenario} on {}: {} subscribers connected and subscribed in {connect_secs:.2} s",
        result.label, args.subscribers
    );
    eprintln!(
        "server RSS {:.1} MiB idle, {:.1} MiB with the subscribers: {:.1} KiB per idle subscriber",
        rss_idle as f64 / 1024.0,
        rss_subscribed as f64 / 1024.0,
        (rss_subscribed as f64 - rss_idle as f64) / args.subscribers as f64
    );
    eprintln!(
        "writes: {} in {writes_secs:.2} s ({:.0}/s) by {} writers, {failed_writes} failed",
        args.events,
        args.events as f64 / writes_secs.max(f64::EPSILON),
        args.writers
    );
    eprintln!(
        "events: {} of {} delivered in {:.2} s ({:.0}/s); {} missing ({} subscribers short){}",
        tally.delivered,
        tally.ok_writes * args.subscribers as u64,
        result.measured_secs,
        result.requests_per_sec,
        tally.missing,
        tally.subscribers_missing,
        if drained { String::new() } else { format!(", waited {drain:?} after the last write") },
    );
    let l = &result.latency_ms;
    eprintln!(
        "latency write request -> event (upper bound of commit -> event): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        l.p50, l.p99, l.p999, l.max
    );
    if !ended_early.is_empty() {
        eprintln!(
            "{} streams ended before all their events, first: {}",
            ended_early.len(),
            ended_early[0]
        );
    }
    if let Some(status) = server_exit {
        eprintln!("the server exited during the run ({status})");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
async fn interrupted() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            return tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => "SIGINT",
                Some(()) = term.recv() => "SIGTERM",
                else => std::future::pending().await,
            };
        }
    }
    match tokio::signal::ctrl_c().await {
        Ok(()) => "SIGINT",
        // Without a signal handler the run goes on; its own bounds end it.
        Err(_) => std::future::pending().await,
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    // One thread: the driver takes about one core and leaves the others to the server.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Dropping `run` on a signal drops the server process, which stops it.
        tokio::select! {
            result = run(args) => result,
            signal = interrupted() => bail!("interrupted by {signal}; the server was stopped"),
        }
    })
}
