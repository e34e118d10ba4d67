//! `scalebase gateway`: a reverse proxy and load balancer in front of Scalebase nodes and any
//! other HTTP services. It depends on no app crate: only hyper, tower and the server loop
//! (`sb-server`).
//!
//! - [`config`]: listeners, pools and routes (TOML, or the quick command-line form).
//! - [`pool`]: upstream state and balancing (round robin, least request with peak-EWMA,
//!   consistent hashing; weights; passive ejection with a cap; panic mode).
//! - [`health`]: active checks.
//! - [`proxy`]: the request path (circuit breaking, retries under a budget, header hygiene,
//!   streaming, upgrades).
//! - [`cache`]: the response cache of GET/HEAD (RFC 9111 rules, `Vary`, credentials kept
//!   apart), purged through [`cluster`], the gateway's place on the nodes' cluster channel.
//!
//! The built configuration ([`proxy::Gateway`]) is immutable and swapped whole on reload
//! ([`Running::reload`]); requests in flight keep the one they started with, and pools whose
//! definition did not change keep their state.

pub mod admin;
pub mod cache;
pub mod cluster;
pub mod config;
mod connector;
pub mod health;
pub mod limits;
pub mod pool;
pub mod proxy;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::GatewayConfig;
pub use proxy::Gateway;

thread_local! {
    static WORKER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Marks the current thread as serving thread `index` (thread per core: each runs its own
/// single-threaded runtime and uses its own upstream connections).
pub fn enter_worker(index: usize) {
    WORKER.set(index);
}

/// The serving thread this is (0 on any other thread).
fn worker() -> usize {
    WORKER.get()
}

/// A gateway serving: its current configuration and the tasks checking its pools.
pub struct Running {
    current: RwLock<Arc<Gateway>>,
    checks: Mutex<Vec<JoinHandle<()>>>,
}

impl Running {
    /// Builds `config` (listeners are bound by the caller) and starts its health checks.
    pub fn start(config: &GatewayConfig) -> anyhow::Result<Arc<Running>> {
        let gateway = Arc::new(Gateway::build(config, None)?);
        let running = Arc::new(Running { current: RwLock::new(gateway), checks: Mutex::default() });
        running.restart_checks();
        Ok(running)
    }

    pub fn current(&self) -> Arc<Gateway> {
        self.current.read().clone()
    }

    /// Swaps in a new configuration (pools unchanged keep their state); the old one serves
    /// the requests that already started. Listeners are not changed by a reload.
    pub fn reload(&self, config: &GatewayConfig) -> anyhow::Result<()> {
        let next = Arc::new(Gateway::build(config, Some(&self.current()))?);
        *self.current.write() = next;
        self.restart_checks();
        tracing::info!(
            pools = config.pools.len(),
            routes = config.routes.len(),
            "gateway configuration reloaded"
        );
        Ok(())
    }

    fn restart_checks(&self) {
        let mut checks = self.checks.lock();
        for task in checks.drain(..) {
            task.abort();
        }
        for pool in self.current().pools() {
            checks.push(tokio::spawn(health::run(pool.clone())));
        }
    }

    /// Serves `listener` until `shutdown`, then drains for at most `drain`.
    pub async fn serve(
        self: &Arc<Self>,
        listener: TcpListener,
        drain: Duration,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        self.serve_with(listener, None, drain, shutdown).await
    }

    /// [`Running::serve`], terminating TLS with `tls` when given.
    pub async fn serve_with(
        self: &Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        drain: Duration,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let running = self.clone();
        let secure = tls.is_some();
        let service = move |peer: SocketAddr| {
            let running = running.clone();
            hyper::service::service_fn(move |req| {
                let gateway = running.current();
                async move { Ok::<_, std::convert::Infallible>(gateway.handle(req, peer, secure).await) }
            })
        };
        let config = sb_server::ServeConfig { drain_timeout: drain, tls, ..Default::default() };
        sb_server::serve(listener, service, config, shutdown).await
    }
}

/// Serves the admin endpoint on `listener` until `shutdown`.
pub async fn serve_admin(
    admin: Arc<admin::Admin>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let service = move |_peer: SocketAddr| {
        let admin = admin.clone();
        hyper::service::service_fn(move |req| {
            let admin = admin.clone();
            async move { Ok::<_, std::convert::Infallible>(admin.handle(req).await) }
        })
    };
    let config =
        sb_server::ServeConfig { drain_timeout: Duration::from_secs(1), ..Default::default() };
    sb_server::serve(listener, service, config, shutdown).await
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in self.checks.lock().drain(..) {
            task.abort();
        }
    }
}
