//! `scalebase gateway`: runs `sb_gateway` from a configuration file (`--config FILE`, reloaded
//! on SIGHUP, when the file changes, or through the admin endpoint) or from the quick form
//! (`--listen ADDR --upstream URL …`).
//!
//! Thread per core: each serving thread (`--workers`, default one per CPU) runs a
//! single-threaded runtime that accepts on every listener and drives its own upstream
//! connections, as nginx's workers do; the calling runtime keeps the rest (health checks, the
//! cache's channel, the admin endpoint, reloads, signals). Measured against one worker of the
//! multi-threaded runtime, this is about 8% more requests per second through one core
//! (`bench/README.md`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use futures::FutureExt;
use sb_gateway::{GatewayConfig, Running};
use tokio::net::TcpListener;

/// How often the configuration file's modification time is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GatewayArgs {
    /// Quick form: the address to listen on (with --upstream; one pool, round robin, health
    /// checks on /api/health).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Quick form: an upstream's URL (repeat for each).
    #[arg(long = "upstream", value_name = "URL")]
    pub upstreams: Vec<String>,
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Serving threads, each with its own single-threaded runtime (default: `workers` in the
    /// file, else one per CPU).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Log level (error, warn, info, debug, trace); access logs are at info.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// The gateway's admin endpoint (`scalebase gateway` and `scalebase cluster`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AdminArgs {
    /// Address of the admin endpoint (pools and health, upstreams added or removed at run
    /// time, reload, Prometheus metrics); needs --admin-token.
    #[arg(long, value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// Bearer token of the admin endpoint.
    #[arg(
        long,
        env = "SCALEBASE_GATEWAY_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
}

/// Re-reads and applies the configuration file.
pub type Reload = Box<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

impl AdminArgs {
    /// Refuses an address without a token.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.admin_addr.is_some() && self.admin_token.as_deref().is_none_or(str::is_empty) {
            bail!("--admin-addr needs --admin-token (or SCALEBASE_GATEWAY_ADMIN_TOKEN)");
        }
        Ok(())
    }

    /// Serves the admin endpoint of `running` until `shutdown`, when it was asked for.
    pub async fn start(
        &self,
        running: &Arc<Running>,
        reload: Option<Reload>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
        let (Some(addr), Some(token)) = (self.admin_addr, self.admin_token.clone()) else {
            return Ok(None);
        };
        let listener =
            TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(address = %addr, "gateway admin at http://{addr}/pools");
        let admin = Arc::new(sb_gateway::admin::Admin {
            running: running.clone(),
            token,
            reload,
            render: Box::new(|| sb_observe::exporter().map(|e| e.render()).unwrap_or_default()),
        });
        Ok(Some(tokio::spawn(sb_gateway::serve_admin(admin, listener, shutdown))))
    }
}

fn load(path: &Path) -> anyhow::Result<GatewayConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the gateway configuration {}", path.display()))?;
    Ok(GatewayConfig::from_toml(&text)?)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Runs the gateway until `shutdown` resolves, then drains.
pub async fn run(
    args: GatewayArgs,
    file: Option<PathBuf>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = match (&file, args.listen) {
        (Some(path), None) if args.upstreams.is_empty() => load(path)?,
        (None, Some(listen)) if !args.upstreams.is_empty() => {
            GatewayConfig::quick(listen, &args.upstreams)?
        }
        (Some(_), _) => bail!("give either --config FILE or --listen with --upstream, not both"),
        _ => bail!("give --config FILE, or --listen ADDR with at least one --upstream URL"),
    };
    args.admin.check()?;
    if args.workers == Some(0) {
        bail!("--workers must be at least 1");
    }
    config.workers = args.workers.or(config.workers);
    let threads = config.worker_count();
    sb_observe::exporter();
    let running = Running::start(&config)?;
    let mut listeners = Vec::new();
    let mut certificates = Vec::new();
    for l in &config.listeners {
        let tls = match &l.tls {
            Some(tls) => {
                let certs = sb_gateway::tls::Certificates::load(tls)?;
                certificates.push((l.addr, certs.clone()));
                Some(certs.acceptor()?)
            }
            None => None,
        };
        let listener = listen(l.addr).with_context(|| format!("cannot listen on {}", l.addr))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %l.addr, threads, "gateway listening on {scheme}://{}", l.addr);
        listeners.push((listener, tls));
    }
    let shutdown = shutdown.boxed().shared();
    let reload = file.clone().map(|path| {
        let running = running.clone();
        let certificates = certificates.clone();
        move || -> anyhow::Result<()> {
            let mut next = load(&path)?;
            // The serving threads stay as they are; so does their count of clients.
            next.workers = Some(threads);
            // Listeners stay too, but their certificates are read again (checked before
            // anything changes).
            let mut staged = Vec::new();
            for (addr, certs) in &certificates {
                let tls =
                    next.listeners.iter().find(|l| l.addr == *addr).and_then(|l| l.tls.as_ref());
                if let Some(tls) = tls {
                    staged.push((certs, sb_gateway::tls::Certificates::stage(tls)?));
                }
            }
            running.reload(&next)?;
            for (certs, staged) in staged {
                certs.install(staged);
            }
            Ok(())
        }
    });
    let admin_reload = reload.clone().map(|r| Box::new(r) as Reload);
    let tasks: Vec<_> =
        args.admin.start(&running, admin_reload, shutdown.clone()).await?.into_iter().collect();
    if let (Some(path), Some(reload)) = (file, reload) {
        tokio::spawn(watch(path, reload, shutdown.clone()));
    }
    let drain = Duration::from_millis(config.drain_ms);
    let mut serving = Vec::new();
    for worker in 0..threads {
        let listeners = listeners
            .iter()
            .map(|(l, tls)| Ok((l.try_clone()?, tls.clone())))
            .collect::<std::io::Result<Vec<_>>>()?;
        let (done, finished) = tokio::sync::oneshot::channel();
        let (running, shutdown) = (running.clone(), shutdown.clone());
        std::thread::Builder::new().name(format!("gateway-{worker}")).spawn(move || {
            done.send(serve_thread(worker, &running, listeners, drain, shutdown)).ok();
        })?;
        serving.push(finished);
    }
    for task in tasks {
        task.await.context("the gateway admin endpoint stopped unexpectedly")??;
    }
    for finished in serving {
        finished.await.context("a gateway thread stopped unexpectedly")??;
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// A listening socket (address reuse on, so a restart does not wait for old connections),
/// to be served by every thread.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// One serving thread: its own single-threaded runtime accepting on every listener, until
/// `shutdown`, then draining its connections.
fn serve_thread(
    worker: usize,
    running: &Arc<Running>,
    listeners: Vec<(std::net::TcpListener, Option<sb_gateway::tls::TlsAcceptor>)>,
    drain: Duration,
    shutdown: impl Future<Output = ()> + Clone + Send,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    sb_gateway::enter_worker(worker);
    runtime.block_on(async {
        let mut serving = Vec::new();
        for (listener, tls) in listeners {
            let listener = TcpListener::from_std(listener)?;
            serving.push(running.serve_with(listener, tls, drain, shutdown.clone()));
        }
        futures::future::try_join_all(serving).await?;
        Ok(())
    })
}

/// Reloads on SIGHUP and whenever the file's modification time changes; a configuration that
/// does not validate is logged and the running one kept.
async fn watch(
    path: PathBuf,
    reload: impl Fn() -> anyhow::Result<()>,
    shutdown: impl Future<Output = ()>,
) {
    let mut seen = modified(&path);
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    tokio::pin!(shutdown);
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(h) => h.recv().await.map(drop),
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        let why = tokio::select! {
            _ = &mut shutdown => return,
            _ = signalled => "SIGHUP",
            _ = ticks.tick() => {
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                "file changed"
            }
        };
        match reload() {
            Ok(()) => tracing::info!(reason = why, "gateway configuration reloaded"),
            Err(e) => {
                tracing::error!(reason = why, error = %format!("{e:#}"), "gateway configuration not reloaded; keeping the running one")
            }
        }
    }
}
