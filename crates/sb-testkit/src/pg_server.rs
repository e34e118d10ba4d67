//! A private PostgreSQL server for tests that stop, restart or replicate it: `initdb` into a
//! temporary directory, `pg_ctl` on a free loopback port, trust authentication, `wal_level =
//! replica`; optionally a streaming replica of it (`pg_basebackup -R`).
//!
//! The binaries are the newest under `/usr/lib/postgresql/*/bin` (or the directory in
//! `SCALEBASE_TEST_PG_BIN`). PostgreSQL refuses to run as root: when the tests do, every
//! PostgreSQL command runs as the `postgres` OS user (`runuser -u postgres --`) and the
//! temporary directory is handed to that user. Startup is kept short for tests: small
//! `shared_buffers`, `fsync = off` (a stopped or crashed server loses nothing; only the OS
//! crashing would), a fast checkpoint for the base backup.
//!
//! Dropping a [`PgServer`] stops it at once (`-m immediate`) and removes its directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How `pg_ctl` stops a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Clients are disconnected, the server checkpoints and exits.
    Fast,
    /// The server exits at once, without a checkpoint; the next start recovers from the WAL
    /// (a crash, as far as PostgreSQL can tell).
    Immediate,
}

impl StopMode {
    fn as_str(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// One private PostgreSQL server (a primary, or a replica of one).
pub struct PgServer {
    bin: PathBuf,
    /// `postgres` when the tests run as root.
    run_as: Option<&'static str>,
    dir: tempfile::TempDir,
    port: u16,
}

impl PgServer {
    /// Initialises and starts a primary.
    pub async fn start_primary() -> PgServer {
        let server = PgServer::prepare().await;
        let data = server.data();
        server
            .pg(
                "initdb",
                &[
                    "-D",
                    path_str(&data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
            )
            .await;
        server.configure().await;
        server.start().await;
        server
    }

    /// Creates and starts a streaming replica of this server (a hot standby: read-only, it
    /// replays the primary's WAL as it is written).
    pub async fn start_replica(&self) -> PgServer {
        let replica = PgServer::prepare().await;
        let data = replica.data();
        let port = self.port.to_string();
        replica
            .pg(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-D",
                    path_str(&data),
                    "-R",
                    "-X",
                    "stream",
                    "--checkpoint=fast",
                    "--no-sync",
                ],
            )
            .await;
        // The copied configuration names the primary's port and socket directory; later lines
        // win.
        replica.configure().await;
        replica.start().await;
        replica
    }

    /// A directory for the server, owned by the user that will run it, and a free port.
    async fn prepare() -> PgServer {
        let bin = bin_dir();
        let run_as = if running_as_root().await { Some("postgres") } else { None };
        let dir = tempfile::Builder::new()
            .prefix("sbtest-pg-")
            .tempdir()
            .expect("temporary directory for PostgreSQL");
        if let Some(user) = run_as {
            run(
                "chown",
                tokio::process::Command::new("chown").arg(format!("{user}:")).arg(dir.path()),
            )
            .await;
        }
        let port = free_port();
        PgServer { bin, run_as, dir, port }
    }

    /// Appends the test settings to `postgresql.conf`.
    async fn configure(&self) {
        let settings = format!(
            "\n# sb-testkit\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{sockets}'\nshared_buffers = 16MB\nmax_connections = 60\n\
             fsync = off\nfull_page_writes = off\nwal_level = replica\nmax_wal_senders = 5\n\
             hot_standby = on\nwal_receiver_status_interval = 1s\nlogging_collector = off\n",
            port = self.port,
            sockets = self.dir.path().display(),
        );
        let conf = self.data().join("postgresql.conf");
        let mut text = tokio::fs::read_to_string(&conf).await.expect("read postgresql.conf");
        text.push_str(&settings);
        tokio::fs::write(&conf, text).await.expect("write postgresql.conf");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&self) {
        let (data, log) = (self.data(), self.log());
        self.pg(
            "pg_ctl",
            &["-D", path_str(&data), "-l", path_str(&log), "-w", "-t", "60", "start"],
        )
        .await;
    }

    /// Stops the server and waits until it has exited.
    pub async fn stop(&self, mode: StopMode) {
        let data = self.data();
        self.pg("pg_ctl", &["-D", path_str(&data), "-m", mode.as_str(), "-w", "-t", "60", "stop"])
            .await;
    }

    /// Stops and starts the server again.
    pub async fn restart(&self, mode: StopMode) {
        let (data, log) = (self.data(), self.log());
        self.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-m",
                mode.as_str(),
                "-w",
                "-t",
                "60",
                "restart",
            ],
        )
        .await;
    }

    /// Makes a replica the primary (`pg_ctl promote`, waiting until it accepts writes).
    pub async fn promote(&self) {
        let data = self.data();
        self.pg("pg_ctl", &["-D", path_str(&data), "-w", "-t", "60", "promote"]).await;
    }

    /// A connection to database `db`.
    pub async fn client(&self, db: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(db), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("private PostgreSQL on port {}: {e}", self.port));
        tokio::spawn(connection);
        client
    }

    /// The server's log so far (for failure messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Runs a PostgreSQL program as the server's user; panics with its output when it fails.
    async fn pg(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = tokio::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => tokio::process::Command::new(&path),
        };
        command.args(args).current_dir(self.dir.path());
        run(program, &mut command).await;
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data();
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&pg_ctl);
                c
            }
            None => std::process::Command::new(&pg_ctl),
        };
        // Stopping a server that is not running fails; that is fine here.
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a command to completion; panics with its output when it fails.
async fn run(what: &str, command: &mut tokio::process::Command) {
    command.stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 120 s"))
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The directory of the PostgreSQL programs.
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SCALEBASE_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!("no PostgreSQL programs under /usr/lib/postgresql/*/bin (set SCALEBASE_TEST_PG_BIN)")
    })
}

async fn running_as_root() -> bool {
    let output = tokio::process::Command::new("id").arg("-u").output().await;
    output.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
