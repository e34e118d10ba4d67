//! The `scalebase` command: `serve`, `gateway`, `cluster`, `superuser upsert|create|delete`,
//! and the migration tools `import pocketbase` and `migrate`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use scalebase::config::{FileConfig, ServeArgs, StorageArgs};

/// mimalloc instead of the system allocator: request handling allocates many short-lived
/// buffers from several threads, where glibc's allocator showed as ~15% of a record-create
/// profile (`bench/README.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "scalebase", version, about = "A PocketBase-compatible backend that scales out")]
struct Cli {
    /// TOML config file (default: ./scalebase.toml when present).
    #[arg(long, global = true, env = "SCALEBASE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once at start; the size does not matter")]
enum Command {
    /// Runs the HTTP server.
    Serve(ServeArgs),
    /// Runs the load-balancing gateway in front of Scalebase nodes and other HTTP services
    /// (`--config gateway.toml`, or `--listen ADDR --upstream URL …`).
    Gateway(scalebase::gateway::GatewayArgs),
    /// Runs the gateway and N nodes as child processes on loopback ports, restarting nodes
    /// that die and scaling their number between --min and --max by load (PostgreSQL for
    /// more than one node).
    Cluster(Box<scalebase::local_cluster::ClusterArgs>),
    /// Manages superusers.
    Superuser {
        #[command(subcommand)]
        action: SuperuserAction,
    },
    /// Imports another system's data into this deployment.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Moves this SQLite deployment's database to an empty PostgreSQL database (one
    /// transaction, verified by row counts and checksums before it commits).
    Migrate {
        /// The target PostgreSQL database URL.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Only compare an already migrated target with the source.
        #[arg(long)]
        verify_only: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// Imports a PocketBase (v0.23+) data directory: collections, records, users and
    /// superusers (password hashes kept), files and settings, in one verified transaction.
    Pocketbase {
        /// PocketBase's data directory (pb_data).
        pb_data_dir: PathBuf,
        /// Import even when this deployment already has collections or records.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand)]
enum SuperuserAction {
    /// Creates the superuser or updates its password.
    Upsert {
        email: String,
        password: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Creates a new superuser.
    Create {
        email: String,
        password: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Deletes a superuser.
    Delete {
        email: String,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// The most threads blocking work (local file reads and writes, thumbnails, backups) may use:
/// 4 per core, at least 16, instead of tokio's 512. Local file storage runs every read on a
/// blocking thread, and each thread keeps its allocator heap: with 64 clients fetching
/// thumbs, the uncapped pool grew to 70 threads and a peak RSS of 240–400 MiB; at 16 it
/// stays at about 105 MiB with the same throughput (`bench/README.md` § Server CPU and memory).
fn blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (4 * cores).max(16)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Gateway(args) = cli.command {
        // `--config` names the gateway's own file here. The serving threads run runtimes of
        // their own; this one keeps the rest.
        let control = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        return control.block_on(gateway(args, cli.config));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(blocking_threads())
        .enable_all()
        .build()?;
    let file = FileConfig::load(cli.config.as_deref())?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args.resolve(&file)?).await,
            Command::Superuser { action } => superuser(action, &file).await,
            Command::Import {
                source: ImportSource::Pocketbase { pb_data_dir, force, storage },
            } => import_pocketbase(pb_data_dir, force, storage.resolve(&file)?).await,
            Command::Migrate { to, verify_only, storage } => {
                migrate(to, verify_only, storage.resolve(&file)?).await
            }
            Command::Cluster(args) => cluster(*args, cli.config, &file).await,
            Command::Gateway(_) => unreachable!("handled above"),
        }
    })
}

async fn serve(config: scalebase::config::ServeConfig) -> anyhow::Result<()> {
    let telemetry = scalebase::telemetry::init(
        config.log_json,
        &config.log_level,
        config.otlp.as_ref(),
        std::time::Duration::from_secs(2),
    )?;
    scalebase::restore::recover(&config.storage)?;
    let app = scalebase::open_app(&config.storage).await?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot listen on {}", config.http))?;
    tracing::info!(address = %config.http, "Server started at http://{}", config.http);
    let supervised = std::env::var_os(scalebase::local_cluster::SUPERVISED).is_some();
    if !supervised {
        print_install_link(&app, config.http).await;
    }
    let shutdown = async move {
        if supervised {
            tokio::select! {
                () = shutdown_signal() => {}
                () = scalebase::local_cluster::supervisor_gone() => {}
            }
        } else {
            shutdown_signal().await;
        }
    };
    scalebase::run(listener, app, &config, shutdown).await?;
    tracing::info!("server stopped");
    telemetry.flush();
    Ok(())
}

/// Without a superuser, prints the admin UI's link that creates the first one (as PocketBase
/// does), and how to make one from the command line instead.
async fn print_install_link(app: &sb_core::App, addr: std::net::SocketAddr) {
    match app.install_token().await {
        Ok(Some(token)) => {
            let host = if addr.ip().is_unspecified() {
                std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
            } else {
                addr
            };
            println!(
                "\nNo superuser exists yet. Open this link within 30 minutes to create the first one:\n\
                 http://{host}/_/#/pbinstall/{token}\n\
                 (or run: scalebase superuser upsert EMAIL PASSWORD)\n"
            );
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prepare the first-run install link"),
    }
}

async fn gateway(
    args: scalebase::gateway::GatewayArgs,
    file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let telemetry = scalebase::telemetry::init(
        args.log_format == "json",
        &args.log_level,
        None,
        std::time::Duration::from_secs(2),
    )?;
    scalebase::gateway::run(args, file, shutdown_signal()).await?;
    telemetry.flush();
    Ok(())
}

async fn cluster(
    args: scalebase::local_cluster::ClusterArgs,
    config_file: Option<PathBuf>,
    file: &FileConfig,
) -> anyhow::Result<()> {
    let resolved = args.serve.resolve(file)?;
    let telemetry = scalebase::telemetry::init(
        resolved.log_json,
        &resolved.log_level,
        None,
        std::time::Duration::from_secs(2),
    )?;
    scalebase::local_cluster::run(args, resolved, config_file, shutdown_signal()).await?;
    telemetry.flush();
    Ok(())
}

async fn superuser(action: SuperuserAction, file: &FileConfig) -> anyhow::Result<()> {
    let _telemetry =
        scalebase::telemetry::init(false, "warn", None, std::time::Duration::from_secs(2))?;
    let storage = match &action {
        SuperuserAction::Upsert { storage, .. }
        | SuperuserAction::Create { storage, .. }
        | SuperuserAction::Delete { storage, .. } => storage.resolve(file)?,
    };
    let app = scalebase::open_app(&storage).await?;
    let result = match &action {
        SuperuserAction::Upsert { email, password, .. } => {
            app.upsert_superuser(email, password).await
        }
        SuperuserAction::Create { email, password, .. } => {
            app.create_superuser(email, password).await
        }
        SuperuserAction::Delete { email, .. } => app.delete_superuser(email).await,
    };
    app.store().close().await;
    match result {
        Ok(()) => {
            let (verb, email) = match &action {
                SuperuserAction::Upsert { email, .. } => ("upserted", email),
                SuperuserAction::Create { email, .. } => ("created", email),
                SuperuserAction::Delete { email, .. } => ("deleted", email),
            };
            println!("Successfully {verb} superuser {email:?}!");
            Ok(())
        }
        Err(sb_core::CoreError::BadRequest { message, data }) => {
            anyhow::bail!("{message} {}", data.to_json())
        }
        Err(e) => anyhow::bail!("{e}"),
    }
}

async fn import_pocketbase(
    pb_dir: PathBuf,
    force: bool,
    storage: scalebase::config::StorageConfig,
) -> anyhow::Result<()> {
    let _telemetry =
        scalebase::telemetry::init(false, "warn", None, std::time::Duration::from_secs(2))?;
    scalebase::import::check_pocketbase_dir(&pb_dir).context("import failed")?;
    let app = scalebase::open_app(&storage).await?;
    let options = scalebase::import::ImportOptions { pb_dir, force };
    let result = scalebase::import::import_pocketbase(&app, &options).await;
    app.close_logs().await;
    app.store().close().await;
    let report = result.context("import failed; nothing was imported")?;
    print!("{report}");
    println!("Import verified: every row count and checksum matches.");
    Ok(())
}

async fn migrate(
    to: String,
    verify_only: bool,
    storage: scalebase::config::StorageConfig,
) -> anyhow::Result<()> {
    let _telemetry =
        scalebase::telemetry::init(false, "warn", None, std::time::Duration::from_secs(2))?;
    let options = scalebase::migrate::MigrateOptions { to, verify_only };
    let failed = if verify_only {
        "verification failed"
    } else {
        "migration failed; the target was not changed"
    };
    let report = scalebase::migrate::migrate(&storage, &options).await.context(failed)?;
    print!("{report}");
    println!(
        "{}: {} tables, {} rows; every row count and checksum matches.",
        if verify_only { "Verified" } else { "Migrated" },
        report.tables.len(),
        report.rows()
    );
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining");
}
