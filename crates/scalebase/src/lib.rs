//! Scalebase's composition root: turns configuration into a running server.
//!
//! This is the only place that names the storage backends. `run` takes an already bound
//! listener and a shutdown future so tests can run the whole server in-process on port 0.

pub mod cluster;
pub mod config;
pub mod gateway;
pub mod import;
pub mod local_cluster;
pub mod migrate;
pub mod restore;
pub mod telemetry;
pub mod transfer;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use sb_core::{App, AppConfig};
use sb_store::Store;
use tokio::net::TcpListener;

use crate::config::{Database, ServeConfig, StorageConfig};

/// Opens the configured database (the one place the backend is chosen).
pub async fn open_store(config: &StorageConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.database {
        Database::Sqlite { path, synchronous_full, readers } => {
            let mut c = sb_store_sqlite::SqliteConfig::new(path.clone());
            c.synchronous = if *synchronous_full {
                sb_store_sqlite::Synchronous::Full
            } else {
                sb_store_sqlite::Synchronous::Normal
            };
            if let Some(n) = readers {
                c.readers = (*n).max(1);
            }
            c.query_timeout = config.query_timeout;
            let store = sb_store_sqlite::open(c)
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            Arc::new(store)
        }
        Database::Postgres { url, pool_size, replicas } => {
            let mut c = sb_store_postgres::PostgresConfig::new(url.clone());
            c.pool_size = (*pool_size).max(1);
            c.replicas = replicas.clone();
            c.statement_timeout = config.query_timeout;
            let store = sb_store_postgres::open(c).await.context("cannot connect to PostgreSQL")?;
            Arc::new(store)
        }
    })
}

/// Opens the request log store: on SQLite `auxiliary.db` in the data directory (its own file
/// and writer, `synchronous=NORMAL`: logs need no power-loss durability), on PostgreSQL the
/// schema `_scalebase_logs` of the same database over a small pool of its own.
pub async fn open_logs_store(config: &StorageConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.database {
        Database::Sqlite { .. } => {
            let path = config.dir.join("auxiliary.db");
            let mut c = sb_store_sqlite::SqliteConfig::new(path.clone());
            c.synchronous = sb_store_sqlite::Synchronous::Normal;
            c.readers = 2;
            c.query_timeout = config.query_timeout;
            let store = sb_store_sqlite::open(c)
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            Arc::new(store)
        }
        Database::Postgres { url, .. } => {
            let mut c = sb_store_postgres::PostgresConfig::new(url.clone());
            c.pool_size = 4;
            c.statement_timeout = config.query_timeout;
            c.schema = Some(LOGS_SCHEMA.into());
            let store = sb_store_postgres::open(c)
                .await
                .context("cannot open the PostgreSQL log schema")?;
            Arc::new(store)
        }
    })
}

/// The PostgreSQL schema of the request logs.
pub const LOGS_SCHEMA: &str = "_scalebase_logs";

/// Opens the stores and the application (running system migrations).
pub async fn open_app(config: &StorageConfig) -> anyhow::Result<Arc<App>> {
    let store = open_store(config).await?;
    let logs = open_logs_store(config).await?;
    let app_config = AppConfig {
        storage_dir: config.dir.join("storage"),
        data_dir: config.dir.clone(),
        cache_bytes: config.cache_bytes,
        ..AppConfig::default()
    };
    App::open_with_logs(store, logs, app_config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the application: {e}"))
}

/// Serves the API on `listener` until `shutdown` resolves; then drains and closes the store.
///
/// A backup restore (`POST /api/backups/KEY/restore`) restarts the application in-process: the
/// server drains as for a shutdown, the store is closed, [`restore::apply`] swaps the data
/// files, and a new `App` is served on the same listening socket (kept open meanwhile, so
/// clients wait instead of being refused). When the restored data cannot be opened, the
/// previous data is put back and served again.
pub async fn run(
    listener: TcpListener,
    app: Arc<App>,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    use futures::FutureExt;
    let shutdown = shutdown.boxed().shared();
    if let Ok(addr) = listener.local_addr() {
        app.set_node_identity(addr.to_string(), env!("CARGO_PKG_VERSION"));
    }
    let redis = match &config.redis {
        Some(redis) => Some(sb_redis::Redis::open(redis).map_err(|e| anyhow::anyhow!(e))?),
        None => None,
    };
    let metrics = match config.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for metrics: {e}"))?;
            tracing::info!(address = %addr, "metrics at http://{addr}/metrics");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(sb_http::serve(
                listener,
                sb_http::metrics_router(),
                sb_http::ServeConfig::default(),
                async move {
                    let _ = stopped.await;
                },
            ));
            Some((stop, task))
        }
        None => None,
    };
    let upkeep = tokio::spawn(metrics_upkeep());
    let socket = listener.into_std()?;
    let mut app = app;
    let served = loop {
        let listener = TcpListener::from_std(socket.try_clone()?)?;
        let served =
            serve_app(listener, app.clone(), config, redis.as_ref(), shutdown.clone()).await;
        let staged = app.take_staged_restore();
        match (served, staged) {
            (Ok(()), Some(staged)) => app = restore::apply(app, staged, &config.storage).await?,
            (served, _) => break served,
        }
    };
    upkeep.abort();
    if let Some((stop, task)) = metrics {
        let _ = stop.send(());
        let _ = task.await;
    }
    served?;
    app.close_logs().await;
    app.store().close().await;
    Ok(())
}

/// Serves one application until `shutdown` resolves or it asks for a restore.
async fn serve_app(
    listener: TcpListener,
    app: Arc<App>,
    config: &ServeConfig,
    redis: Option<&sb_redis::Redis>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let mut http = sb_http::HttpConfig {
        body_limit: config.body_limit,
        cors_origins: config.cors_origins.clone(),
        metrics_token: config.metrics_token.clone(),
        access_log: config.access_log,
        ..Default::default()
    };
    let router = match redis {
        Some(redis) => {
            http.health_checks.push(Arc::new(redis.clone()));
            app.set_counters(Arc::new(sb_redis::RedisCounters::new(redis.clone())));
            app.set_shared_cache(Arc::new(sb_redis::RedisCache::new(redis.clone())));
            let limiter = Arc::new(sb_redis::RedisLimiter::new(redis.clone()));
            sb_http::router_with_limiter(app.clone(), http, limiter)
        }
        None => sb_http::router(app.clone(), http),
    };
    if let Some(transport) = cluster::transport(config, redis)? {
        app.join_cluster(transport);
    }
    let scheduler = tokio::spawn(app.clone().run_scheduler());
    // Realtime streams never finish by themselves: end them when shutdown begins, so the
    // drain completes as soon as the in-flight requests do.
    let realtime = app.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = realtime.restore_requested() => {}
        }
        realtime.close_realtime();
    };
    let served = sb_http::serve(listener, router, sb_http::ServeConfig::default(), stop).await;
    scheduler.abort();
    let _ = scheduler.await;
    Ok(served?)
}

/// Folds recorded histogram samples into their buckets every few seconds, so that memory stays
/// flat however rarely `/metrics` is scraped.
async fn metrics_upkeep() {
    let Some(exporter) = sb_observe::exporter() else { return };
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        ticks.tick().await;
        exporter.upkeep();
    }
}
