//! The application: collections, records, rules and authentication, over any `Store`.
//!
//! `App` is the domain API boundary: `sb-http` calls it with plain values (JSON bodies, list
//! parameters, the request data rules may see) and gets JSON values or `CoreError`s back.
//! It owns the catalog of collections (an immutable snapshot replaced after each schema change),
//! runs the system migrations at start-up and guards schema changes with one lock.

mod auth;
pub mod backups;
mod cache;
mod catalog;
pub mod cluster;
mod collections;
pub mod counters;
pub mod crons;
mod error;
mod files;
mod logs;
pub mod mail;
mod nodes;
pub mod realtime;
mod records;
mod settings;
mod storage;
mod system;
mod views;

use std::sync::Arc;

use parking_lot::RwLock;
use sb_store::Store;
use serde_json::Value as Json;

pub use auth::{AuthResponse, INSTALLER_EMAIL};
pub use cache::{Answer, CacheStats, SharedCache, SharedGet, Stamps};
pub use catalog::Catalog;
pub use cluster::{Link, Membership, Transport};
pub use collections::SchemaChange;
pub use error::{CoreError, CoreResult};
pub use files::{FileRequest, ServedFile};
pub use logs::{LogOutcome, RequestLog};
pub use records::batch::{BatchAction, BatchError, BatchOp, BatchSettings};
pub use records::changes::ChangeAction;
pub use records::write::{RecordInput, UploadedFile};
pub use records::{Record, Viewer};
pub use sb_query::{AuthInfo, RequestInfo};
pub use settings::Settings;
pub use system::{SUPERUSERS, prepare_copy_target};

/// Restart-time options of the application layer.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Concurrent password hashes (each argon2id hash holds ~19 MiB); defaults to the CPU count.
    pub hash_concurrency: usize,
    /// Root of the local file storage (`<dir>/storage`), used while `settings.s3` is disabled.
    pub storage_dir: std::path::PathBuf,
    /// The data folder: local backups (`<dir>/backups`) and their temporary folders.
    pub data_dir: std::path::PathBuf,
    /// Memory for cached record views and list pages (estimated bytes of JSON); 0 disables.
    pub cache_bytes: u64,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            hash_concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            storage_dir: std::path::PathBuf::from("sb_data/storage"),
            data_dir: std::path::PathBuf::from("sb_data"),
            cache_bytes: 64 << 20,
        }
    }
}

/// The application.
pub struct App {
    store: Arc<dyn Store>,
    catalog: RwLock<Arc<Catalog>>,
    /// Serialises schema changes (collection create/update/delete/import).
    schema_lock: tokio::sync::Mutex<()>,
    /// The threads that hash passwords (CPU and memory heavy), `hash_concurrency` of them.
    hasher: auth::HashPool,
    settings: RwLock<Arc<settings::Settings>>,
    /// Password verifications run so far, real and dummy (see [`App::password_verifications`]).
    password_checks: std::sync::atomic::AtomicU64,
    /// Delivers e-mail; swappable at run time ([`App::set_mailer`]).
    mailer: RwLock<Arc<dyn mail::Mailer>>,
    /// Counts of the auth flows' own limits (OTP attempts, mail resend throttle): this
    /// process's, or the cluster's shared store ([`App::set_counters`]).
    counters: RwLock<Arc<dyn counters::Counters>>,
    /// This process's id among the nodes sharing the database (cron claims, logs).
    node_id: String,
    /// Realtime clients of this node and the event bus.
    realtime: realtime::Realtime,
    /// Keeps each record's change reports in commit order.
    change_order: records::changes::ChangeOrder,
    /// File storage of file fields.
    storage: files::Storage,
    /// The request log store and its writer's queue.
    logs: logs::RequestLogs,
    /// Backups: the one running, the staged restore, the backups store.
    backups: backups::Backups,
    /// The change clock behind the caches, and this node's membership of the cluster.
    coherence: Arc<cache::Coherence>,
    /// Record views and list pages (`None` when disabled).
    read_cache: Option<cache::ReadCache>,
    /// Auth records for token checks.
    auth_cache: cache::ReadCache,
    /// This node's address and figures for the cluster view.
    node: nodes::NodeSelf,
}

impl App {
    /// Opens the application on a store, keeping the request logs in the same store.
    pub async fn open(store: Arc<dyn Store>, config: AppConfig) -> CoreResult<Arc<App>> {
        App::open_with_logs(store.clone(), store, config).await
    }

    /// Opens the application on a store: applies pending system migrations and loads the
    /// catalog and settings. Request logs go to `logs_store` (see `logs.rs`).
    pub async fn open_with_logs(
        store: Arc<dyn Store>,
        logs_store: Arc<dyn Store>,
        config: AppConfig,
    ) -> CoreResult<Arc<App>> {
        let node_id = sb_auth::random::lower_alphanumeric(12);
        let coherence = Arc::new(cache::Coherence::new(cluster::Cluster::new(node_id.clone())));
        let store: Arc<dyn Store> = Arc::new(cache::Watched::new(store, coherence.clone()));
        let mut tx = store.begin().await?;
        match system::migrate(tx.as_mut()).await {
            Ok(applied) => {
                tx.commit().await?;
                for name in applied {
                    tracing::info!(migration = name, "applied system migration");
                }
            }
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e);
            }
        }
        let catalog = Catalog::new(system::load_collections(store.as_ref()).await?);
        let settings = settings::load(store.as_ref()).await?;
        let logs = logs::RequestLogs::open(logs_store).await?;
        Ok(Arc::new(App {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            schema_lock: tokio::sync::Mutex::new(()),
            hasher: auth::HashPool::new(config.hash_concurrency),
            settings: RwLock::new(Arc::new(settings)),
            password_checks: std::sync::atomic::AtomicU64::new(0),
            mailer: RwLock::new(Arc::new(mail::SmtpMailer)),
            counters: RwLock::new(Arc::new(counters::LocalCounters::default())),
            node_id,
            node: nodes::NodeSelf::default(),
            realtime: realtime::Realtime::default(),
            change_order: records::changes::ChangeOrder::default(),
            backups: backups::Backups::new(config.data_dir, config.storage_dir.clone()),
            storage: files::Storage::new(config.storage_dir),
            logs,
            coherence,
            read_cache: (config.cache_bytes > 0)
                .then(|| cache::ReadCache::new("records", config.cache_bytes)),
            auth_cache: cache::ReadCache::new("auth", 8 << 20),
        }))
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Re-reads every collection definition after a schema change.
    async fn reload_catalog(&self) -> CoreResult<()> {
        let catalog = Catalog::new(system::load_collections(self.store.as_ref()).await?);
        *self.catalog.write() = Arc::new(catalog);
        Ok(())
    }

    /// Lookups of the record cache (views and list pages) and of the auth cache so far.
    pub fn cache_stats(&self) -> (CacheStats, CacheStats) {
        let records = self.read_cache.as_ref().map(|c| c.stats()).unwrap_or_default();
        (records, self.auth_cache.stats())
    }

    /// Keeps the auth flows' counts (OTP attempts, mail resend throttle) in `counters`, shared
    /// by the nodes of a cluster.
    pub fn set_counters(&self, counters: Arc<dyn counters::Counters>) {
        *self.counters.write() = counters;
    }

    /// Puts `shared` (Redis) behind this node's caches as the layer every node reads and fills:
    /// see `cache/shared.rs`. Call right after opening the app.
    pub fn set_shared_cache(&self, shared: Arc<dyn SharedCache>) {
        self.coherence.set_shared(shared);
    }

    fn counters(&self) -> Arc<dyn counters::Counters> {
        self.counters.read().clone()
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> CoreResult<()> {
        self.store.ping().await.map_err(CoreError::from)
    }

    /// Hashes a password on the hashing threads, at most `hash_concurrency` at a time.
    async fn hash_password(&self, plain: String) -> CoreResult<String> {
        self.hasher.run(move || sb_auth::password::hash_password(&plain)).await
    }

    async fn verify_password(
        &self,
        plain: String,
        hash: String,
    ) -> CoreResult<sb_auth::password::Verification> {
        self.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.hasher.run(move || sb_auth::password::verify_password(&plain, &hash)).await
    }

    /// One verification against a hash nobody knows the password of, for paths without an
    /// account (so an unknown identity costs what a wrong password costs).
    async fn dummy_verify_password(&self, plain: String) -> CoreResult<()> {
        self.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.hasher.run(move || sb_auth::password::dummy_verify(&plain)).await
    }

    /// How many password verifications (against a stored hash or the dummy one) this app has
    /// run: a failed login costs exactly one whether or not the identity exists, which tests
    /// check through this counter rather than with timings.
    pub fn password_verifications(&self) -> u64 {
        self.password_checks.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Pagination, filter and sort of a list request (spec §1.9).
#[derive(Debug, Clone)]
pub struct ListParams {
    pub page: i64,
    pub per_page: i64,
    pub sort: Option<String>,
    pub filter: Option<String>,
    pub skip_total: bool,
    pub expand: Option<String>,
}

impl Default for ListParams {
    fn default() -> Self {
        ListParams {
            page: 1,
            per_page: 30,
            sort: None,
            filter: None,
            skip_total: false,
            expand: None,
        }
    }
}

/// The list envelope (spec §1.9).
#[derive(Debug, Clone, PartialEq)]
pub struct ListResult {
    pub page: i64,
    pub per_page: i64,
    /// -1 when the count was skipped.
    pub total_items: i64,
    pub total_pages: i64,
    pub items: Vec<Json>,
}

impl ListResult {
    /// The cached form.
    fn to_json(&self) -> Json {
        serde_json::json!([self.total_items, self.total_pages, self.items])
    }

    /// Back from [`ListResult::to_json`].
    fn from_json(value: Json, params: &ListParams) -> ListResult {
        let Json::Array(mut parts) = value else {
            return ListResult::new(Vec::new(), params, None);
        };
        let items = match parts.pop() {
            Some(Json::Array(items)) => items,
            _ => Vec::new(),
        };
        let number = |v: Option<&Json>| v.and_then(Json::as_i64).unwrap_or(-1);
        ListResult {
            page: params.page.max(1),
            per_page: params.per_page.max(1),
            total_items: number(parts.first()),
            total_pages: number(parts.get(1)),
            items,
        }
    }

    fn new(items: Vec<Json>, params: &ListParams, total: Option<i64>) -> ListResult {
        let per_page = params.per_page.max(1);
        let (total_items, total_pages) = match total {
            Some(t) => (t, (t + per_page - 1) / per_page),
            None => (-1, -1),
        };
        ListResult { page: params.page.max(1), per_page, total_items, total_pages, items }
    }
}
