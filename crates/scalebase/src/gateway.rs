//! `scalebase gateway`: runs `sb_gateway` from a configuration file (`--config FILE`, reloaded
//! on SIGHUP, when the file changes, or through the admin endpoint) or from the quick form
//! (`--listen ADDR --upstream URL …`).

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
    /// Log level (error, warn, info, debug, trace); access logs are at info.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
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
    let config = match (&file, args.listen) {
        (Some(path), None) if args.upstreams.is_empty() => load(path)?,
        (None, Some(listen)) if !args.upstreams.is_empty() => {
            GatewayConfig::quick(listen, &args.upstreams)?
        }
        (Some(_), _) => bail!("give either --config FILE or --listen with --upstream, not both"),
        _ => bail!("give --config FILE, or --listen ADDR with at least one --upstream URL"),
    };
    if args.admin_addr.is_some() && args.admin_token.as_deref().is_none_or(str::is_empty) {
        bail!("--admin-addr needs --admin-token (or SCALEBASE_GATEWAY_ADMIN_TOKEN)");
    }
    sb_observe::exporter();
    let running = Running::start(&config)?;
    let mut listeners = Vec::new();
    for l in &config.listeners {
        let tls = l.tls.as_ref().map(sb_gateway::tls::acceptor).transpose()?;
        let listener = TcpListener::bind(l.addr)
            .await
            .with_context(|| format!("cannot listen on {}", l.addr))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %l.addr, "gateway listening on {scheme}://{}", l.addr);
        listeners.push((listener, tls));
    }
    let shutdown = shutdown.boxed().shared();
    let reload = file.clone().map(|path| {
        let running = running.clone();
        move || -> anyhow::Result<()> { running.reload(&load(&path)?) }
    });
    let mut tasks = Vec::new();
    if let (Some(addr), Some(token)) = (args.admin_addr, args.admin_token.clone()) {
        let listener =
            TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(address = %addr, "gateway admin at http://{addr}/pools");
        let admin = Arc::new(sb_gateway::admin::Admin {
            running: running.clone(),
            token,
            reload: reload.clone().map(|r| Box::new(r) as Box<dyn Fn() -> _ + Send + Sync>),
            render: Box::new(|| sb_observe::exporter().map(|e| e.render()).unwrap_or_default()),
        });
        tasks.push(tokio::spawn(sb_gateway::serve_admin(admin, listener, shutdown.clone())));
    }
    if let (Some(path), Some(reload)) = (file, reload) {
        tokio::spawn(watch(path, reload, shutdown.clone()));
    }
    let drain = Duration::from_millis(config.drain_ms);
    for (listener, tls) in listeners {
        let running = running.clone();
        let shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            running.serve_with(listener, tls, drain, shutdown).await
        }));
    }
    for task in tasks {
        task.await.context("a gateway listener stopped unexpectedly")??;
    }
    tracing::info!("gateway stopped");
    Ok(())
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
