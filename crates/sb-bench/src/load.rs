//! The load driver.
//!
//! `connections` tasks each own one HTTP/1.1 keep-alive connection. In the closed loop they send
//! a request as soon as the previous answer has been read (like `wrk`). In the open loop
//! ([`LoadMode::Open`]) requests fall due at a fixed rate whatever the answers: each task takes
//! the next due time from one shared schedule, waits for it and sends; a latency runs from the
//! request's due time, so when the server stalls (or every connection is busy) the wait counts
//! against every request it delays (no coordinated omission, as in wrk2). The tasks share
//! nothing else while running: each keeps its own latency histogram and counters, merged at the
//! end, so the driver costs little CPU and runs well on a current-thread runtime (one core).
//!
//! [`step`] raises an open-loop rate step by step until the p99 exceeds a budget, errors
//! appear or the server falls behind; the last rate that held is the figure.
//!
//! Requests sent during the warm-up are not measured. A request is measured when it was *sent*
//! after the warm-up; the tasks stop sending at the end of the measured time and the last
//! answers are waited for, so the measured time runs from the end of the warm-up to the last
//! answer.
//!
//! Given the pids of the server ([`LoadConfig::server_pids`]), the driver also measures the
//! server's CPU time and peak memory over exactly the measured time ([`crate::procstat`]): the
//! window opens when the warm-up ends and closes after the last answer.
//!
//! A closed loop hides coordinated omission: while the server stalls, the driver stops sending,
//! so the stall shows up as one slow request per connection instead of many; the open loop
//! does not.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::data::SplitMix64;
use crate::procstat;
use crate::results::{Latency, RunResult, StepResult};
use crate::scenario::{RequestSpec, Workload};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadMode {
    /// Each connection sends its next request when the previous answer has arrived.
    Closed,
    /// `rate` requests per second fall due, whatever the answers (module docs).
    Open { rate: f64 },
}

/// The due times of an open loop: request `i` is due at `start + i / rate`.
#[derive(Debug)]
struct Schedule {
    start: Instant,
    interval: Duration,
    next: AtomicU64,
}

impl Schedule {
    fn next_due(&self) -> Instant {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.start + self.interval.mul_f64(i as f64)
    }
}

/// Parameters of one load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL of the server, `http://host:port` (a path prefix is allowed).
    pub url: String,
    /// Name of the server in the results (`pocketbase`, `scalebase`, …).
    pub label: String,
    pub mode: LoadMode,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Seed of the request streams (each connection gets its own stream).
    pub seed: u64,
    /// Processes of the server to measure (with their descendants); empty: the result has no
    /// `server` part.
    pub server_pids: Vec<u32>,
}

/// Longest latency the histograms hold; longer ones are recorded as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// How long after the measured time the last answers are waited for; a request still open then
/// counts as a transport error, so a stalled server cannot keep the run going.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// Pause before reconnecting after a failed connect, so a dead server is not spun on.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// Runs `workload` against the server and summarises the measured part.
///
/// Before the load starts one probe request must succeed (see [`Workload::probe`]): a
/// misconfigured run fails fast with the server's answer instead of measuring errors.
pub async fn run(config: &LoadConfig, workload: Workload) -> anyhow::Result<RunResult> {
    ensure!(config.connections > 0, "at least one connection is needed");
    let interval = match config.mode {
        LoadMode::Closed => None,
        LoadMode::Open { rate } => Some(
            Duration::try_from_secs_f64(1.0 / rate)
                .ok()
                .filter(|_| rate.is_finite() && rate > 0.0)
                .with_context(|| format!("invalid open-loop rate {rate}"))?,
        ),
    };
    if !config.server_pids.is_empty() {
        procstat::check(&config.server_pids)?;
    }
    let target = Target::resolve(&config.url).await?;
    probe(&target, &workload.probe()).await?;

    let started = Instant::now();
    let warmup_ends = started + config.warmup;
    let window = (!config.server_pids.is_empty()).then(|| {
        let pids = config.server_pids.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(warmup_ends)).await;
            // Reading /proc takes a moment: not on the thread that drives the connections.
            tokio::task::spawn_blocking(move || procstat::Window::open(&pids)).await
        })
    });
    let clock = Clock { warmup_ends, stop_at: warmup_ends + config.duration };
    let schedule = interval
        .map(|interval| Arc::new(Schedule { start: started, interval, next: AtomicU64::new(0) }));
    let target = Arc::new(target);
    let workload = Arc::new(workload);
    let mut tasks = JoinSet::new();
    for index in 0..config.connections {
        let rng = SplitMix64::stream(config.seed, index as u64);
        let pacing = schedule.clone();
        let connection = Connection { index, rng };
        tasks.spawn(connection_loop(target.clone(), workload.clone(), clock, pacing, connection));
    }
    let mut total = Tally::new()?;
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.context("a connection task failed")??)?;
    }

    let measured = total.last_answer.map_or(config.duration, |t| t.duration_since(warmup_ends));
    let secs = measured.as_secs_f64().max(f64::EPSILON);
    let server = match window {
        None => None,
        Some(opening) => {
            let window = opening.await??.context("cannot measure the server")?;
            let ok = total.ok;
            let usage = tokio::task::spawn_blocking(move || window.close(secs, ok)).await?;
            Some(usage.context("cannot measure the server")?)
        }
    };
    Ok(RunResult {
        label: config.label.clone(),
        scenario: workload.scenario.name().to_owned(),
        url: config.url.clone(),
        mode: match config.mode {
            LoadMode::Closed => "closed".to_owned(),
            LoadMode::Open { .. } => "open".to_owned(),
        },
        target_rate: match config.mode {
            LoadMode::Closed => None,
            LoadMode::Open { rate } => Some(rate),
        },
        connections: config.connections,
        warmup_secs: config.warmup.as_secs_f64(),
        measured_secs: secs,
        requests: total.ok,
        requests_per_sec: total.ok as f64 / secs,
        errors: total.errors.values().sum(),
        error_kinds: total.errors,
        body_bytes_per_sec: total.body_bytes as f64 / secs,
        latency_ms: Latency::from_micros(&total.histogram),
        server,
    })
}

/// When the warm-up ends and when the tasks stop sending.
#[derive(Debug, Clone, Copy)]
struct Clock {
    warmup_ends: Instant,
    stop_at: Instant,
}

/// Which connection a task drives (its identity in signed-in scenarios) and its request stream.
struct Connection {
    index: usize,
    rng: SplitMix64,
}

async fn connection_loop(
    target: Arc<Target>,
    workload: Arc<Workload>,
    clock: Clock,
    pacing: Option<Arc<Schedule>>,
    mut connection: Connection,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut conn: Option<Conn> = None;
    loop {
        let now = Instant::now();
        if now >= clock.stop_at {
            break;
        }
        if conn.is_none() {
            match Conn::open(&target).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    if now >= clock.warmup_ends {
                        tally.error("connect".to_owned());
                    }
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let spec = workload.next_request(&mut connection.rng, connection.index);
        let request = target.request(&spec)?;
        // A latency runs from when the request fell due (open loop) or was sent (closed loop).
        let sent = match &pacing {
            None => Instant::now(),
            Some(schedule) => {
                let due = schedule.next_due();
                if due >= clock.stop_at {
                    break;
                }
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                due
            }
        };
        // A keep-alive connection the server closed meanwhile (its idle timeout, or `Connection:
        // close`) is opened again, as a client's pool would; the time counts in this request.
        if c.sender.is_closed() {
            match Conn::open(&target).await {
                Ok(fresh) => *c = fresh,
                Err(_) => {
                    conn = None;
                    if sent >= clock.warmup_ends {
                        tally.error("connect".to_owned());
                    }
                    continue;
                }
            }
        }
        let deadline = tokio::time::Instant::from_std(clock.stop_at + DRAIN_LIMIT);
        let outcome = match tokio::time::timeout_at(deadline, c.send(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(anyhow::anyhow!("no answer before the drain limit")),
        };
        let latency = sent.elapsed();
        let measured = sent >= clock.warmup_ends;
        match outcome {
            Ok((status, body_bytes)) if measured => tally.answer(status, body_bytes, latency),
            Ok(_) => {}
            Err(_) => {
                conn = None;
                if measured {
                    tally.error("transport".to_owned());
                }
            }
        }
    }
    Ok(tally)
}

/// How [`step`] raises the rate.
#[derive(Debug, Clone)]
pub struct StepConfig {
    /// The run at each rate (its `mode` is replaced by the open loop at that rate).
    pub run: LoadConfig,
    pub start_rate: f64,
    /// Each step's rate is the previous one times this.
    pub factor: f64,
    pub max_rate: f64,
    /// A rate holds when its p99 is within this, no request failed, and the server answered
    /// at least [`KEPT_UP`] of the rate.
    pub p99_budget: Duration,
}

/// The share of the offered rate a server must answer for the rate to hold.
pub const KEPT_UP: f64 = 0.95;

/// How many times [`step`] halves a first rate that does not hold.
pub const STEP_DESCENTS: u32 = 3;

/// Runs the open loop at rising rates until one does not hold (or `max_rate` is passed);
/// `workload` gives each step its requests. When the first rate does not hold, the rate is
/// halved (up to [`STEP_DESCENTS`] times) until one does, and the climb starts from there.
pub async fn step(
    config: &StepConfig,
    mut workload: impl FnMut() -> Workload,
) -> anyhow::Result<StepResult> {
    ensure!(config.factor > 1.0, "the step factor must be above 1");
    ensure!(config.start_rate > 0.0 && config.start_rate <= config.max_rate, "invalid rates");
    let budget_ms = config.p99_budget.as_secs_f64() * 1000.0;
    let mut steps = Vec::new();
    let mut held = None;
    let mut rate = config.start_rate;
    let mut descents = 0;
    while rate <= config.max_rate {
        let run_config = LoadConfig { mode: LoadMode::Open { rate }, ..config.run.clone() };
        let result = run(&run_config, workload()).await?;
        let holds = result.errors == 0
            && result.latency_ms.p99 <= budget_ms
            && result.requests_per_sec >= rate * KEPT_UP;
        steps.push(result);
        if holds {
            held = Some(rate);
            rate *= config.factor;
        } else if held.is_none() && descents < STEP_DESCENTS {
            descents += 1;
            rate /= 2.0;
        } else {
            break;
        }
    }
    let last = steps.last().context("no step ran")?;
    Ok(StepResult {
        label: last.label.clone(),
        scenario: last.scenario.clone(),
        p99_budget_ms: budget_ms,
        max_rate: held,
        steps,
    })
}

/// Sends `spec` once and fails unless the answer is a success.
async fn probe(target: &Target, spec: &RequestSpec) -> anyhow::Result<()> {
    let mut conn =
        Conn::open(target).await.with_context(|| format!("cannot connect to {}", target.addr))?;
    conn.sender.ready().await?;
    let response = conn.sender.send_request(target.request(spec)?).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "probe {} {} answered {status}: {}",
            spec.method,
            spec.target,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// The server's address and the parts every request repeats.
#[derive(Debug)]
struct Target {
    addr: SocketAddr,
    host: HeaderValue,
    /// Path prefix of the base URL, without a trailing slash.
    prefix: String,
}

impl Target {
    async fn resolve(url: &str) -> anyhow::Result<Target> {
        let uri: http::Uri = url.parse().with_context(|| format!("invalid URL {url:?}"))?;
        ensure!(uri.scheme_str() == Some("http"), "only http:// URLs are supported: {url}");
        let authority = uri.authority().with_context(|| format!("URL without a host: {url}"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("cannot resolve {authority}"))?
            .next()
            .with_context(|| format!("{authority} has no address"))?;
        Ok(Target {
            addr,
            host: HeaderValue::from_str(authority.as_str())?,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    fn request(&self, spec: &RequestSpec) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(spec.method.clone())
            .uri(format!("{}{}", self.prefix, spec.target))
            .header(HOST, self.host.clone());
        if spec.body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(token) = &spec.auth {
            builder = builder.header(AUTHORIZATION, token.clone());
        }
        Ok(builder.body(Full::new(spec.body.clone().unwrap_or_default()))?)
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(target: &Target) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection future does the I/O; it ends when the sender is dropped.
        tokio::spawn(async move {
            connection.await.ok();
        });
        Ok(Conn { sender })
    }

    /// Sends a request and reads the whole answer; returns its status and body size.
    async fn send(&mut self, request: Request<Full<Bytes>>) -> anyhow::Result<(StatusCode, u64)> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = 0;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame?.data_ref() {
                bytes += data.len() as u64;
            }
        }
        Ok((status, bytes))
    }
}

/// What one connection measured.
struct Tally {
    /// Latencies of successful answers, in microseconds.
    histogram: Histogram<u64>,
    ok: u64,
    body_bytes: u64,
    errors: BTreeMap<String, u64>,
    last_answer: Option<Instant>,
}

impl Tally {
    fn new() -> anyhow::Result<Tally> {
        Ok(Tally {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?,
            ok: 0,
            body_bytes: 0,
            errors: BTreeMap::new(),
            last_answer: None,
        })
    }

    fn answer(&mut self, status: StatusCode, body_bytes: u64, latency: Duration) {
        if status.is_success() {
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            self.histogram.saturating_record(us.max(1));
            self.ok += 1;
            self.body_bytes += body_bytes;
        } else {
            self.error(status.as_u16().to_string());
        }
        self.last_answer = Some(Instant::now());
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.last_answer = Some(Instant::now());
    }

    fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        self.histogram.add(&other.histogram)?;
        self.ok += other.ok;
        self.body_bytes += other.body_bytes;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.last_answer = self.last_answer.max(other.last_answer);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
