//! Restart-time configuration, layered: command-line flag > environment variable > TOML file >
//! default. clap resolves flag and environment (each flag has a `SCALEBASE_*` twin); this module
//! adds the file layer and the defaults, and hands plain structs to the lower crates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// The `[serve]`-level keys of the TOML file. Every key mirrors a flag (dashes become
/// underscores): `http = "127.0.0.1:8090"`, `dir = "./sb_data"`, `db = "postgres://..."`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub http: Option<String>,
    pub dir: Option<PathBuf>,
    pub db: Option<String>,
    pub db_replica: Option<Vec<String>>,
    pub synchronous: Option<String>,
    pub sqlite_readers: Option<usize>,
    pub pg_pool_size: Option<usize>,
    pub query_timeout_secs: Option<u64>,
    pub cache_mb: Option<u64>,
    pub body_limit: Option<usize>,
    pub cors_origins: Option<Vec<String>>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub access_log: Option<bool>,
    pub metrics_addr: Option<String>,
    pub metrics_token: Option<String>,
    pub otlp_endpoint: Option<String>,
    pub otlp_service_name: Option<String>,
    pub redis: Option<String>,
    pub redis_prefix: Option<String>,
}

impl FileConfig {
    /// Reads the file at `path`; a missing file is an error only when it was asked for
    /// explicitly.
    pub fn load(path: Option<&Path>) -> anyhow::Result<FileConfig> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("scalebase.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("invalid config file {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(FileConfig::default())
            }
            Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
        }
    }
}

/// Values given on the command line or in the environment (None = not given).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCALEBASE_HTTP", value_name = "ADDR")]
    pub http: Option<String>,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Maximum request body in bytes (default 32 MiB).
    #[arg(long, env = "SCALEBASE_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Allowed CORS origins, comma separated (default: any).
    #[arg(long, env = "SCALEBASE_CORS_ORIGINS", value_delimiter = ',', value_name = "ORIGINS")]
    pub cors_origins: Option<Vec<String>>,
    /// Log format: `pretty` or `json`.
    #[arg(long, env = "SCALEBASE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log level filter (tracing `EnvFilter` syntax), default `info`.
    #[arg(long, env = "SCALEBASE_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log a line per request (target `scalebase::request`: id, trace id, method, route, path,
    /// status, latency, auth id). Off by default, as in PocketBase: the request log
    /// (`/api/logs`) keeps the same facts.
    #[arg(long, env = "SCALEBASE_ACCESS_LOG")]
    pub access_log: bool,
    /// Serve `GET /metrics` (Prometheus, no authentication) on this separate address, e.g. an
    /// internal scrape port `127.0.0.1:9090`.
    #[arg(long, env = "SCALEBASE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// A bearer token that may read `GET /metrics` on the main listener (superusers always may).
    #[arg(long, env = "SCALEBASE_METRICS_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is appended). Off when not given.
    #[arg(long, env = "SCALEBASE_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported traces (default `scalebase`).
    #[arg(long, env = "SCALEBASE_OTLP_SERVICE_NAME", value_name = "NAME")]
    pub otlp_service_name: Option<String>,
    /// Redis shared by the nodes of a cluster (`redis://host:6379`): cluster-wide rate limits.
    /// A node keeps serving (per-node limits) while it is unreachable.
    #[arg(long, env = "SCALEBASE_REDIS", value_name = "URL", hide_env_values = true)]
    pub redis: Option<String>,
    /// Prefix of Scalebase's Redis keys (default `scalebase:`), so clusters can share a Redis.
    #[arg(long, env = "SCALEBASE_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<String>,
}

/// Storage options shared by `serve` and the `superuser` commands.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct StorageArgs {
    /// Data directory (SQLite database file, uploaded files).
    #[arg(long, env = "SCALEBASE_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Database URL: `postgres://...` (multi-host allowed) or `sqlite://PATH`; default: SQLite in DIR.
    #[arg(long, env = "SCALEBASE_DB", value_name = "URL")]
    pub db: Option<String>,
    /// A read replica of the PostgreSQL database (`postgres://...`, a streaming standby);
    /// repeatable, or several comma separated. Reads go to a replica that has replayed this
    /// node's writes, else to the primary.
    #[arg(long, env = "SCALEBASE_DB_REPLICA", value_name = "URL")]
    pub db_replica: Option<Vec<String>>,
    /// SQLite durability: `full` (default; survives power loss) or `normal`.
    #[arg(long, env = "SCALEBASE_SYNCHRONOUS", value_name = "MODE")]
    pub synchronous: Option<String>,
    /// SQLite reader connections (default: CPU count, at least 2).
    #[arg(long, env = "SCALEBASE_SQLITE_READERS", value_name = "N")]
    pub sqlite_readers: Option<usize>,
    /// PostgreSQL pool size (default 16).
    #[arg(long, env = "SCALEBASE_PG_POOL_SIZE", value_name = "N")]
    pub pg_pool_size: Option<usize>,
    /// Statement timeout in seconds (default 30).
    #[arg(long, env = "SCALEBASE_QUERY_TIMEOUT", value_name = "SECS")]
    pub query_timeout_secs: Option<u64>,
    /// Memory for cached record views and list pages, in MiB (default 64; 0 disables).
    #[arg(long, env = "SCALEBASE_CACHE_MB", value_name = "MIB")]
    pub cache_mb: Option<u64>,
}

/// Which database to open.
#[derive(Debug, Clone, PartialEq)]
pub enum Database {
    Sqlite {
        path: PathBuf,
        synchronous_full: bool,
        readers: Option<usize>,
    },
    /// `replicas`: URLs of read replicas.
    Postgres {
        url: String,
        pool_size: usize,
        replicas: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    pub dir: PathBuf,
    pub database: Database,
    pub query_timeout: std::time::Duration,
    /// Bytes of cached record views and list pages (0: no cache).
    pub cache_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub http: SocketAddr,
    pub storage: StorageConfig,
    pub body_limit: usize,
    pub cors_origins: Vec<String>,
    pub log_json: bool,
    pub log_level: String,
    /// A log line per request (`--access-log`).
    pub access_log: bool,
    pub metrics_addr: Option<SocketAddr>,
    pub metrics_token: Option<String>,
    /// OTLP trace export, when configured.
    pub otlp: Option<Otlp>,
    /// The cluster's Redis, when configured.
    pub redis: Option<sb_redis::RedisConfig>,
}

/// Where and as what traces are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct Otlp {
    pub endpoint: String,
    pub service_name: String,
}

impl StorageArgs {
    /// Resolves storage settings: these args (flag/env) over the file over defaults.
    pub fn resolve(&self, file: &FileConfig) -> anyhow::Result<StorageConfig> {
        let dir = self
            .dir
            .clone()
            .or_else(|| file.dir.clone())
            .unwrap_or_else(|| PathBuf::from("./sb_data"));
        let db = self.db.clone().or_else(|| file.db.clone());
        let synchronous = self
            .synchronous
            .clone()
            .or_else(|| file.synchronous.clone())
            .unwrap_or_else(|| "full".into());
        let synchronous_full = match synchronous.to_ascii_lowercase().as_str() {
            "full" => true,
            "normal" => false,
            other => bail!("invalid synchronous mode {other:?} (expected full or normal)"),
        };
        let replicas = split_urls(
            self.db_replica.as_deref().or(file.db_replica.as_deref()).unwrap_or_default(),
        );
        if let Some(bad) = replicas.iter().find(|u| !is_postgres_url(u)) {
            bail!("invalid --db-replica URL {bad:?} (expected postgres://…)");
        }
        let database = match db.as_deref() {
            Some(url) if is_postgres_url(url) => Database::Postgres {
                url: url.to_owned(),
                pool_size: self.pg_pool_size.or(file.pg_pool_size).unwrap_or(16),
                replicas,
            },
            _ if !replicas.is_empty() => {
                bail!("--db-replica needs a PostgreSQL database (--db postgres://…)")
            }
            Some(url) if url.starts_with("sqlite://") => Database::Sqlite {
                path: PathBuf::from(&url["sqlite://".len()..]),
                synchronous_full,
                readers: self.sqlite_readers.or(file.sqlite_readers),
            },
            Some(other) => {
                bail!("unsupported database URL {other:?} (expected postgres://… or sqlite://…)")
            }
            None => Database::Sqlite {
                path: dir.join("data.db"),
                synchronous_full,
                readers: self.sqlite_readers.or(file.sqlite_readers),
            },
        };
        let query_timeout = std::time::Duration::from_secs(
            self.query_timeout_secs.or(file.query_timeout_secs).unwrap_or(30),
        );
        let cache_bytes = self.cache_mb.or(file.cache_mb).unwrap_or(64).saturating_mul(1 << 20);
        Ok(StorageConfig { dir, database, query_timeout, cache_bytes })
    }
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URLs in `values`, each of which may hold several separated by commas. A comma starts a
/// new URL only before a scheme, so the host lists of multi-host URLs
/// (`postgres://h1:5432,h2:5432/db`) stay whole.
fn split_urls(values: &[String]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for value in values {
        let mut current = String::new();
        for part in value.split(',') {
            let starts_url = part.trim_start().contains("://");
            if starts_url && !current.trim().is_empty() {
                urls.push(current.trim().to_owned());
                current.clear();
            } else if !current.is_empty() {
                current.push(',');
            }
            current.push_str(part);
        }
        if !current.trim().is_empty() {
            urls.push(current.trim().to_owned());
        }
    }
    urls
}

impl ServeArgs {
    pub fn resolve(&self, file: &FileConfig) -> anyhow::Result<ServeConfig> {
        let http = self
            .http
            .clone()
            .or_else(|| file.http.clone())
            .unwrap_or_else(|| "127.0.0.1:8090".into());
        let http: SocketAddr =
            http.parse().with_context(|| format!("invalid --http address {http:?}"))?;
        let log_format = self
            .log_format
            .clone()
            .or_else(|| file.log_format.clone())
            .unwrap_or_else(|| "pretty".into());
        let log_json = match log_format.as_str() {
            "json" => true,
            "pretty" => false,
            other => bail!("invalid log format {other:?} (expected pretty or json)"),
        };
        let metrics_addr = match self.metrics_addr.clone().or_else(|| file.metrics_addr.clone()) {
            Some(a) => Some(
                a.parse::<SocketAddr>()
                    .with_context(|| format!("invalid --metrics-addr address {a:?}"))?,
            ),
            None => None,
        };
        let otlp = self
            .otlp_endpoint
            .clone()
            .or_else(|| file.otlp_endpoint.clone())
            .filter(|e| !e.is_empty())
            .map(|endpoint| Otlp {
                endpoint,
                service_name: self
                    .otlp_service_name
                    .clone()
                    .or_else(|| file.otlp_service_name.clone())
                    .unwrap_or_else(|| "scalebase".into()),
            });
        if let Some(o) = &otlp
            && !(o.endpoint.starts_with("http://") || o.endpoint.starts_with("https://"))
        {
            bail!("invalid --otlp-endpoint {:?} (expected an http:// or https:// URL)", o.endpoint);
        }
        let redis =
            match self.redis.clone().or_else(|| file.redis.clone()).filter(|u| !u.is_empty()) {
                Some(url) if url.starts_with("redis://") || url.starts_with("unix://") => {
                    Some(sb_redis::RedisConfig {
                        url,
                        prefix: self
                            .redis_prefix
                            .clone()
                            .or_else(|| file.redis_prefix.clone())
                            .unwrap_or_else(|| "scalebase:".into()),
                    })
                }
                Some(other) => bail!("invalid --redis URL {other:?} (expected redis://host:port)"),
                None => None,
            };
        Ok(ServeConfig {
            http,
            metrics_addr,
            otlp,
            redis,
            metrics_token: self
                .metrics_token
                .clone()
                .or_else(|| file.metrics_token.clone())
                .filter(|t| !t.is_empty()),
            storage: self.storage.resolve(file)?,
            body_limit: self.body_limit.or(file.body_limit).unwrap_or(32 << 20),
            cors_origins: self
                .cors_origins
                .clone()
                .or_else(|| file.cors_origins.clone())
                .unwrap_or_default(),
            log_json,
            log_level: self
                .log_level
                .clone()
                .or_else(|| file.log_level.clone())
                .unwrap_or_else(|| "info".into()),
            access_log: self.access_log || file.access_log.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests;
