//! `scalebase cluster --min N --max M [serve flags]`: the gateway and N `scalebase serve`
//! nodes as child processes on loopback ports, in one command.
//!
//! - The gateway (`sb_gateway`, in this process) listens on `--http` and balances over the
//!   nodes (least request, readiness checks every 500 ms, retries of idempotent requests).
//! - Each node is this binary's `serve` with the same settings (passed through the `SCALEBASE_*`
//!   environment, so no secret shows in a process list), its own loopback port, and a metrics
//!   port of its own that the supervisor reads.
//! - A node that dies is replaced (after a growing pause when it keeps dying young).
//! - Every [`TICK`] the supervisor reads each node's requests in flight and request latencies
//!   and lets [`scaler::Scaler`] decide whether to add or remove a node.
//! - A node leaves by draining: the gateway stops routing to it, the requests it was sent get
//!   their response head, then it is sent SIGTERM, which ends its realtime streams (the
//!   clients reconnect through the gateway to another node) and lets its responses finish.
//! - With SQLite there is one node at most: one database file has one writer process.

pub mod scaler;

use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::FutureExt;
use sb_gateway::{GatewayConfig, Running};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

use crate::config::{Database, ServeArgs, ServeConfig, StorageArgs};
use scaler::{Buckets, Decision, Policy, Scaler, Window};

/// How often the nodes are looked at.
pub const TICK: Duration = Duration::from_millis(250);
/// The gateway's pool of nodes.
const POOL: &str = "nodes";
/// A node that dies sooner than this after it started is restarted after a pause that grows
/// with each such death (up to [`MAX_RESTART_PAUSE`]).
const STABLE: Duration = Duration::from_secs(10);
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(30);
/// Set in a node's environment: it stops when its supervisor is gone (see
/// [`supervisor_gone`]).
pub const SUPERVISED: &str = "SCALEBASE_SUPERVISED";
/// How long a starting node may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound of one metrics read.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// Nodes kept running at least.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub min: usize,
    /// Nodes the cluster may grow to under load (default: --min). More than one needs
    /// PostgreSQL.
    #[arg(long, value_name = "M")]
    pub max: Option<usize>,
    /// Requests in flight per node (averaged over 2 s) above which a node is added.
    #[arg(long, default_value_t = 16.0, value_name = "N")]
    pub scale_inflight: f64,
    /// p95 latency of the nodes' requests above which a node is added (off by default).
    #[arg(long, value_name = "MS")]
    pub scale_p95_ms: Option<u64>,
    /// How long the load must stay high before a node is added.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub scale_up_after_ms: u64,
    /// How long the load must stay low (below half the targets with one node fewer) before a
    /// node is removed.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub scale_down_after_ms: u64,
    /// The least time between two changes of the node count.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub scale_cooldown_ms: u64,
    /// How long a node being stopped, or the gateway at shutdown, may take to finish its
    /// requests.
    #[arg(long, default_value_t = 30_000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(..=86_400_000))]
    pub drain_ms: u64,
    #[command(flatten)]
    pub admin: crate::gateway::AdminArgs,
    /// The nodes' settings; `--http` is the gateway's address, `--metrics-addr` serves the
    /// gateway's metrics.
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl ClusterArgs {
    fn policy(&self) -> anyhow::Result<Policy> {
        let max = self.max.unwrap_or(self.min);
        if self.min == 0 {
            bail!("--min must be at least 1");
        }
        if max < self.min {
            bail!("--max ({max}) is below --min ({})", self.min);
        }
        if !(self.scale_inflight.is_finite() && self.scale_inflight > 0.0) {
            bail!("--scale-inflight must be a positive number");
        }
        Ok(Policy {
            min: self.min,
            max,
            target_inflight: self.scale_inflight,
            target_p95: self.scale_p95_ms.map(Duration::from_millis),
            up_after: Duration::from_millis(self.scale_up_after_ms),
            down_after: Duration::from_millis(self.scale_down_after_ms),
            cooldown: Duration::from_millis(self.scale_cooldown_ms),
        })
    }
}

/// The environment that gives a node the settings of `args` (flag or environment of this
/// process); the configuration file, when there is one, is named too. Every field is named
/// here, so a new setting cannot be forgotten silently.
pub fn node_env(
    args: &ServeArgs,
    config_file: Option<&std::path::Path>,
) -> Vec<(String, OsString)> {
    let ServeArgs {
        http: _,
        metrics_addr: _,
        storage:
            StorageArgs {
                dir,
                db,
                db_replica,
                synchronous,
                sqlite_readers,
                pg_pool_size,
                query_timeout_secs,
                cache_mb,
            },
        body_limit,
        cors_origins,
        log_format,
        log_level,
        access_log,
        metrics_token,
        otlp_endpoint,
        otlp_service_name,
        redis,
        redis_prefix,
    } = args;
    let text = |v: &Option<String>| v.clone().map(OsString::from);
    let number = |v: Option<usize>| v.map(|n| OsString::from(n.to_string()));
    let list = |v: &Option<Vec<String>>| v.as_ref().map(|l| OsString::from(l.join(",")));
    let pairs = [
        ("SCALEBASE_CONFIG", config_file.map(OsString::from)),
        ("SCALEBASE_DIR", dir.clone().map(OsString::from)),
        ("SCALEBASE_DB", text(db)),
        ("SCALEBASE_DB_REPLICA", list(db_replica)),
        ("SCALEBASE_SYNCHRONOUS", text(synchronous)),
        ("SCALEBASE_SQLITE_READERS", number(*sqlite_readers)),
        ("SCALEBASE_PG_POOL_SIZE", number(*pg_pool_size)),
        ("SCALEBASE_QUERY_TIMEOUT", query_timeout_secs.map(|n| OsString::from(n.to_string()))),
        ("SCALEBASE_CACHE_MB", cache_mb.map(|n| OsString::from(n.to_string()))),
        ("SCALEBASE_BODY_LIMIT", number(*body_limit)),
        ("SCALEBASE_CORS_ORIGINS", list(cors_origins)),
        ("SCALEBASE_LOG_FORMAT", text(log_format)),
        ("SCALEBASE_LOG_LEVEL", text(log_level)),
        ("SCALEBASE_ACCESS_LOG", access_log.then(|| OsString::from("true"))),
        ("SCALEBASE_METRICS_TOKEN", text(metrics_token)),
        ("SCALEBASE_OTLP_ENDPOINT", text(otlp_endpoint)),
        ("SCALEBASE_OTLP_SERVICE_NAME", text(otlp_service_name)),
        ("SCALEBASE_REDIS", text(redis)),
        ("SCALEBASE_REDIS_PREFIX", text(redis_prefix)),
    ];
    pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect()
}

/// Runs the cluster until `shutdown` resolves; then the gateway drains, and the nodes after it.
/// `config` is `args.serve` resolved against the configuration file (named `config_file`).
pub async fn run(
    args: ClusterArgs,
    config: ServeConfig,
    config_file: Option<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let policy = args.policy()?;
    if matches!(config.storage.database, Database::Sqlite { .. }) && policy.max > 1 {
        bail!(
            "SQLite is served by one process: a cluster of more than one node needs PostgreSQL \
             (--db postgres://…); with SQLite use --min 1 --max 1"
        );
    }
    args.admin.check()?;
    let shutdown = shutdown.boxed().shared();
    let drain = Duration::from_millis(args.drain_ms);
    let mut supervisor = Supervisor {
        exe: std::env::current_exe().context("cannot find this program to start nodes")?,
        env: node_env(&args.serve, config_file.as_deref()),
        http: reqwest::Client::builder().no_proxy().build()?,
        nodes: Vec::new(),
        running: None,
        dead: Vec::new(),
        restarts_due: Vec::new(),
        young_deaths: 0,
        window: Window::default(),
    };
    for _ in 0..policy.min {
        let node = supervisor.spawn()?;
        supervisor.nodes.push(node);
    }
    for node in &mut supervisor.nodes {
        wait_ready(&supervisor.http, node).await?;
    }

    sb_observe::exporter();
    let gateway = gateway_config(config.http, &supervisor.nodes, drain)?;
    let running = Running::start(&gateway)?;
    supervisor.running = Some(running.clone());
    let listener = TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot listen on {}", config.http))?;
    tracing::info!(
        address = %config.http,
        nodes = policy.min,
        max = policy.max,
        "cluster serving at http://{}",
        config.http
    );
    let mut tasks = Vec::new();
    {
        let running = running.clone();
        let shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move { running.serve(listener, drain, shutdown).await }));
    }
    tasks.extend(args.admin.start(&running, None, shutdown.clone()).await?);
    if let Some(addr) = config.metrics_addr {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        tasks.push(tokio::spawn(sb_http::serve(
            listener,
            sb_http::metrics_router(),
            sb_http::ServeConfig::default(),
            shutdown.clone(),
        )));
    }

    let mut scaler = Scaler::new(policy);
    let mut leaving = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticks.tick() => {}
        }
        supervisor.replace_dead();
        supervisor.sample().await;
        if !supervisor.restarts_due.is_empty() {
            continue;
        }
        let load = supervisor.window.load();
        match scaler.decide(Instant::now(), supervisor.nodes.len(), load) {
            Decision::Hold => {}
            Decision::Up => {
                tracing::info!(
                    nodes = supervisor.nodes.len() + 1,
                    inflight = load.inflight,
                    p95_ms = load.p95.map(|d| d.as_secs_f64() * 1000.0),
                    "adding a node"
                );
                if let Err(e) = supervisor.add() {
                    tracing::error!(error = %format!("{e:#}"), "cannot add a node");
                }
            }
            Decision::Down => {
                if let Some(node) = supervisor.nodes.pop() {
                    tracing::info!(
                        nodes = supervisor.nodes.len(),
                        inflight = load.inflight,
                        node = %node.url,
                        "removing a node"
                    );
                    leaving.spawn(leave(running.clone(), node, drain));
                }
            }
        }
        while leaving.try_join_next().is_some() {}
    }

    // The gateway drains first (its requests need the nodes), then the nodes.
    for task in tasks {
        task.await.context("a cluster listener stopped unexpectedly")??;
    }
    let nodes = std::mem::take(&mut supervisor.nodes);
    for node in nodes {
        leaving.spawn(stop_node(node, drain));
    }
    while leaving.join_next().await.is_some() {}
    tracing::info!("cluster stopped");
    Ok(())
}

/// One node process.
struct Node {
    url: String,
    metrics: String,
    child: Child,
    started: Instant,
    /// Its latency histogram at the last read, for the difference.
    latency: Option<Buckets>,
}

struct Supervisor {
    exe: PathBuf,
    env: Vec<(String, OsString)>,
    http: reqwest::Client,
    nodes: Vec<Node>,
    running: Option<Arc<Running>>,
    /// Dead nodes still in the gateway's pool (taken out once their replacement is in, so the
    /// pool is never empty).
    dead: Vec<String>,
    /// When the replacements of dead nodes are due.
    restarts_due: Vec<Instant>,
    /// Nodes that died young in a row.
    young_deaths: u32,
    window: Window,
}

impl Supervisor {
    /// Starts a node process on free loopback ports (not yet in the gateway).
    fn spawn(&self) -> anyhow::Result<Node> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let mut command = Command::new(&self.exe);
        command
            .arg("serve")
            .args(["--http", &format!("127.0.0.1:{port}")])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(SUPERVISED, "1")
            .kill_on_drop(true);
        // Its own process group: a Ctrl-C meant for the cluster reaches the nodes only
        // through the supervisor, after the gateway has drained.
        #[cfg(unix)]
        command.process_group(0);
        let child = command.spawn().context("cannot start a node")?;
        let url = format!("http://127.0.0.1:{port}");
        tracing::info!(node = %url, pid = child.id(), "node started");
        Ok(Node {
            url,
            metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
            child,
            started: Instant::now(),
            latency: None,
        })
    }

    fn pool(&self) -> Option<Arc<sb_gateway::pool::Pool>> {
        self.running.as_ref()?.current().pool(POOL).cloned()
    }

    /// Starts a node and gives it to the gateway, which sends it requests once its readiness
    /// check passes.
    fn add(&mut self) -> anyhow::Result<()> {
        let node = self.spawn()?;
        if let Some(pool) = self.pool() {
            pool.add(&node.url, 1).map_err(anyhow::Error::msg)?;
        }
        self.nodes.push(node);
        Ok(())
    }

    /// Notices nodes that died and starts their replacements when due.
    fn replace_dead(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.nodes.len() {
            let Ok(Some(status)) = self.nodes[i].child.try_wait() else {
                i += 1;
                continue;
            };
            let node = self.nodes.remove(i);
            let young = node.started.elapsed() < STABLE;
            self.young_deaths = if young { self.young_deaths + 1 } else { 0 };
            let pause = restart_pause(self.young_deaths);
            tracing::error!(
                node = %node.url,
                %status,
                restart_in_ms = pause.as_millis() as u64,
                "a node died; replacing it"
            );
            self.dead.push(node.url);
            self.restarts_due.push(now + pause);
        }
        while let Some(pos) = self.restarts_due.iter().position(|due| *due <= now) {
            match self.add() {
                Ok(()) => {
                    self.restarts_due.remove(pos);
                    if let Some(pool) = self.pool() {
                        for url in self.dead.drain(..) {
                            pool.remove(&url).ok();
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot restart a node");
                    self.young_deaths += 1;
                    self.restarts_due[pos] = now + restart_pause(self.young_deaths);
                    break;
                }
            }
        }
    }

    /// Reads every node's metrics into the load window.
    async fn sample(&mut self) {
        let http = &self.http;
        let reads = self.nodes.iter().map(|node| async move {
            let response = http.get(&node.metrics).timeout(SCRAPE_TIMEOUT).send().await.ok()?;
            let text = response.error_for_status().ok()?.text().await.ok()?;
            Some(scaler::parse_metrics(&text))
        });
        let read = futures::future::join_all(reads).await;
        let mut inflight = 0.0;
        let mut answered = Buckets::default();
        for (node, metrics) in self.nodes.iter_mut().zip(read) {
            let Some(metrics) = metrics else { continue };
            inflight += metrics.inflight;
            // The first read is the baseline: what came before it is not recent.
            if let Some(before) = &node.latency {
                answered.add(&metrics.latency.since(Some(before)));
            }
            node.latency = Some(metrics.latency);
        }
        self.window.push(Instant::now(), inflight, answered);
    }
}

fn restart_pause(young_deaths: u32) -> Duration {
    if young_deaths == 0 {
        return Duration::ZERO;
    }
    let pause = Duration::from_millis(500) * 2u32.saturating_pow(young_deaths - 1);
    pause.min(MAX_RESTART_PAUSE)
}

/// Takes `node` out of the gateway and stops it once the requests it was sent have their
/// response head (module docs).
async fn leave(running: Arc<Running>, node: Node, drain: Duration) {
    let deadline = tokio::time::Instant::now() + drain;
    if let Some(pool) = running.current().pool(POOL) {
        let endpoint = pool.endpoints().iter().find(|e| e.url == node.url).cloned();
        if let Err(e) = pool.remove(&node.url) {
            tracing::warn!(node = %node.url, error = %e, "could not take a node out of the gateway");
        }
        if let Some(endpoint) = endpoint {
            while endpoint.awaiting_response() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    stop_node(node, left).await;
}

/// SIGTERM, then SIGKILL when the node has not stopped after `drain` and a little more.
async fn stop_node(mut node: Node, drain: Duration) {
    terminate(&node.child);
    let grace = drain + Duration::from_secs(5);
    match tokio::time::timeout(grace, node.child.wait()).await {
        Ok(status) => {
            tracing::info!(node = %node.url, status = ?status.ok(), "node stopped")
        }
        Err(_) => {
            tracing::warn!(node = %node.url, "node did not stop in time; killing it");
            node.child.kill().await.ok();
        }
    }
}

#[cfg(unix)]
fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).ok();
    }
}

#[cfg(not(unix))]
fn terminate(_child: &Child) {}

/// Waits until `node` answers its readiness check (it fails when the node exits first).
async fn wait_ready(http: &reqwest::Client, node: &mut Node) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = node.child.try_wait()? {
            bail!("the node at {} exited ({status}) before it was ready", node.url);
        }
        let ready = http
            .get(format!("{}/api/ready", node.url))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the node at {} was not ready within {START_TIMEOUT:?}", node.url);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resolves when this process's parent is gone (it was adopted by another process): a node
/// started by `scalebase cluster` stops with its supervisor, even one killed with SIGKILL.
pub async fn supervisor_gone() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("the cluster supervisor is gone; stopping");
                return;
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The gateway in front of `nodes`: one pool, least request, readiness checks.
fn gateway_config(
    listen: SocketAddr,
    nodes: &[Node],
    drain: Duration,
) -> anyhow::Result<GatewayConfig> {
    let upstreams: Vec<String> =
        nodes.iter().map(|n| format!("{{ url = \"{}\" }}", n.url)).collect();
    let text = format!(
        "drain_ms = {drain}\n\
         [[listeners]]\naddr = \"{listen}\"\n\
         [[pools]]\nname = \"{POOL}\"\nbalance = \"least_request\"\nupstreams = [{upstreams}]\n\
         health = {{ path = \"/api/ready\", interval_ms = 500, timeout_ms = 1000, rise = 2, fall = 2 }}\n\
         [[routes]]\npool = \"{POOL}\"\n",
        drain = drain.as_millis(),
        upstreams = upstreams.join(", "),
    );
    Ok(GatewayConfig::from_toml(&text)?)
}

#[cfg(test)]
mod tests;
