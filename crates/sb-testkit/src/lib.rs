//! Test support (dev-only): the backend matrix and in-process servers.
//!
//! [`sbtest!`] turns one async test body into two tests, `sqlite` and `postgres`, each with a
//! fresh database: a temporary SQLite file, or a new PostgreSQL database created on
//! `SCALEBASE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
//! afterwards. PostgreSQL being unreachable fails the test: nothing is skipped silently.

pub mod faults;
pub mod oauth2;
pub mod pg_server;
pub mod s3;
pub mod smtp;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sb_core::{App, AppConfig};
use sb_store::Store;
use tokio::net::TcpListener;

/// The storage backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Maintenance URL of the PostgreSQL server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("SCALEBASE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, removed by [`TestDb::cleanup`].
pub struct TestDb {
    pub backend: Backend,
    pub store: Arc<dyn Store>,
    /// The request log store, opened as `scalebase` opens it: SQLite `auxiliary.db` next to
    /// the data file, PostgreSQL the `_scalebase_logs` schema of the same database.
    pub logs_store: Arc<dyn Store>,
    /// SQLite: the temporary directory holding the file.
    pub dir: tempfile::TempDir,
    /// PostgreSQL: the database name.
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn open(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let config = sb_store_sqlite::SqliteConfig::new(dir.path().join("data.db"));
                let store = sb_store_sqlite::open(config).await.expect("open SQLite test database");
                let mut logs = sb_store_sqlite::SqliteConfig::new(dir.path().join("auxiliary.db"));
                logs.synchronous = sb_store_sqlite::Synchronous::Normal;
                logs.readers = 2;
                let logs = sb_store_sqlite::open(logs).await.expect("open SQLite log database");
                TestDb {
                    backend,
                    store: Arc::new(store),
                    logs_store: Arc::new(logs),
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = create_pg_database().await;
                let url = pg_url_for(&name);
                let mut config = sb_store_postgres::PostgresConfig::new(url.clone());
                config.pool_size = 8;
                let store =
                    sb_store_postgres::open(config).await.expect("open PostgreSQL test database");
                let mut logs = sb_store_postgres::PostgresConfig::new(url);
                logs.pool_size = 2;
                logs.schema = Some("_scalebase_logs".into());
                let logs = sb_store_postgres::open(logs).await.expect("open PostgreSQL log schema");
                TestDb {
                    backend,
                    store: Arc::new(store),
                    logs_store: Arc::new(logs),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Closes the store and drops the PostgreSQL database.
    pub async fn cleanup(self) {
        self.logs_store.close().await;
        self.store.close().await;
        if let Some(name) = self.pg_name {
            drop_pg_database(&name).await;
        }
    }
}

/// The URL of database `name` on the test server.
pub fn pg_url_for(name: &str) -> String {
    let admin = pg_admin_url();
    match url::Url::parse(&admin) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("{}/{name}", admin.trim_end_matches('/')),
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is unreachable: {e}", pg_admin_url()));
    tokio::spawn(connection);
    client
}

/// Creates `sbtest_<unix seconds>_<random>`; first drops leftovers older than an hour (from
/// test processes that were killed).
pub async fn create_pg_database() -> String {
    let client = admin_client().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    if let Ok(rows) =
        client.query("SELECT datname FROM pg_database WHERE datname LIKE 'sbtest\\_%'", &[]).await
    {
        for row in rows {
            let name: String = row.get(0);
            let created = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
            if now.saturating_sub(created) > 3600 {
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok();
            }
        }
    }
    let name = format!("sbtest_{now}_{:08x}", rand::random::<u32>());
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    name
}

pub async fn drop_pg_database(name: &str) {
    let client = admin_client().await;
    client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.ok();
}

/// An application on a fresh database.
pub struct TestApp {
    pub app: Arc<App>,
    pub db: TestDb,
}

impl TestApp {
    pub async fn open(backend: Backend) -> TestApp {
        let db = TestDb::open(backend).await;
        let config = AppConfig {
            storage_dir: db.dir.path().join("storage"),
            data_dir: db.dir.path().to_path_buf(),
            ..AppConfig::default()
        };
        let app = App::open_with_logs(db.store.clone(), db.logs_store.clone(), config)
            .await
            .expect("open app");
        TestApp { app, db }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Another application (a node) on the same database: on PostgreSQL over stores of its
    /// own, on SQLite over the same store (one writer); same file storage.
    pub async fn open_peer(&self) -> Arc<App> {
        let (store, logs): (Arc<dyn Store>, Arc<dyn Store>) = match &self.db.pg_name {
            Some(name) => {
                let url = pg_url_for(name);
                let mut config = sb_store_postgres::PostgresConfig::new(url.clone());
                config.pool_size = 8;
                let store = sb_store_postgres::open(config).await.expect("open a peer store");
                let mut logs = sb_store_postgres::PostgresConfig::new(url);
                logs.pool_size = 2;
                logs.schema = Some("_scalebase_logs".into());
                let logs = sb_store_postgres::open(logs).await.expect("open a peer log store");
                (Arc::new(store), Arc::new(logs))
            }
            None => (self.db.store.clone(), self.db.logs_store.clone()),
        };
        let config = AppConfig {
            storage_dir: self.db.dir.path().join("storage"),
            data_dir: self.db.dir.path().to_path_buf(),
            ..AppConfig::default()
        };
        App::open_with_logs(store, logs, config).await.expect("open a peer app")
    }

    /// The PostgreSQL URL of the test database (`None` on SQLite).
    pub fn pg_url(&self) -> Option<String> {
        self.db.pg_name.as_deref().map(pg_url_for)
    }

    /// A request context acting as a superuser.
    pub fn superuser(&self) -> sb_core::RequestInfo {
        self.app.system_request()
    }

    /// A guest request context.
    pub fn guest(&self) -> sb_core::RequestInfo {
        sb_core::RequestInfo {
            context: "default".into(),
            method: "GET".into(),
            ..Default::default()
        }
    }

    pub async fn cleanup(self) {
        drop(self.app);
        self.db.cleanup().await;
    }
}

/// `router` (over `app`) served in-process on 127.0.0.1:0 until [`Serving::stop`], which
/// ends the app's realtime streams and drains.
pub struct Serving {
    pub url: String,
    pub app: Arc<App>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Serving {
    pub async fn start(app: Arc<App>, router: axum::Router) -> Serving {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let realtime = app.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                stopped.await.ok();
                realtime.close_realtime();
            };
            sb_http::serve(listener, router, sb_http::ServeConfig::default(), shutdown).await.ok();
        });
        Serving { url, app, stop, task }
    }

    /// `app` with the default router.
    pub async fn app(app: Arc<App>) -> Serving {
        let router = sb_http::router(app.clone(), sb_http::HttpConfig::default());
        Serving::start(app, router).await
    }

    pub async fn stop(self) {
        self.stop.send(()).ok();
        self.task.await.ok();
    }
}

/// An in-process HTTP server on 127.0.0.1:0 over a fresh database.
pub struct TestServer {
    pub url: String,
    pub app: TestApp,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, sb_http::HttpConfig::default()).await
    }

    pub async fn start_with(backend: Backend, config: sb_http::HttpConfig) -> TestServer {
        Self::start_with_serve(backend, config, sb_http::ServeConfig::default()).await
    }

    /// A server with the given HTTP and connection-level settings.
    pub async fn start_with_serve(
        backend: Backend,
        config: sb_http::HttpConfig,
        serve: sb_http::ServeConfig,
    ) -> TestServer {
        let app = TestApp::open(backend).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let router = sb_http::router(app.app.clone(), config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let realtime = app.app.clone();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                rx.await.ok();
                realtime.close_realtime();
            };
            sb_http::serve(listener, router, serve, shutdown).await.ok();
        });
        TestServer { url, app, shutdown: Some(tx), task: Some(task) }
    }

    /// Stops the server (draining) and removes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
        self.app.cleanup().await;
    }
}

/// Runs `body` on a fresh [`TestApp`] for `backend`, cleaning up even when the body panics.
pub async fn run_app_test<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Arc<App>, Backend) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let t = TestApp::open(backend).await;
    let app = t.app.clone();
    let outcome = tokio::spawn(body(app, backend)).await;
    t.cleanup().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// Runs `body` against a fresh in-process server for `backend`, cleaning up even on panic.
pub async fn run_server_test<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(String, Arc<App>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let server = TestServer::start(backend).await;
    let outcome = tokio::spawn(body(server.url.clone(), server.app.app.clone())).await;
    server.stop().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

/// Declares a test that runs once per backend, each on a fresh application:
///
/// ```ignore
/// sbtest!(creates_records, |app, backend| async move { ... });
/// ```
///
/// expands to a module `creates_records` with tests `sqlite` and `postgres`.
#[macro_export]
macro_rules! sbtest {
    ($name:ident, |$app:ident, $backend:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run_app_test($crate::Backend::Sqlite, |$app, $backend| $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run_app_test($crate::Backend::Postgres, |$app, $backend| $body).await;
            }
        }
    };
}

/// Like [`sbtest!`] but with an in-process HTTP server: the closure gets the base URL and the
/// app.
#[macro_export]
macro_rules! sbtest_http {
    ($name:ident, |$url:ident, $app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::run_server_test($crate::Backend::Sqlite, |$url, $app| $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::run_server_test($crate::Backend::Postgres, |$url, $app| $body).await;
            }
        }
    };
}
