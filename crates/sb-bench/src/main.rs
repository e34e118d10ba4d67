//! The `sb-bench` command: `setup`, `run`, `step` and `report` (see the crate docs of
//! `sb_bench`).
//!
//! Everything runs on a current-thread runtime so the driver uses about one core, leaving the
//! others to the server under test.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sb_bench::load::{self, LoadConfig, LoadMode};
use sb_bench::results::RunResult;
use sb_bench::scenario::{Scenario, Workload};
use sb_bench::{report, setup};

#[derive(Parser)]
#[command(name = "sb-bench", about = "Benchmarks a PocketBase-compatible server over HTTP")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the `authors` and `posts` collections and inserts the records.
    Setup {
        #[command(flatten)]
        data: DataArgs,
        /// Superuser e-mail.
        #[arg(long, env = "SB_BENCH_EMAIL")]
        email: String,
        /// Superuser password.
        #[arg(long, env = "SB_BENCH_PASSWORD")]
        password: String,
        /// Concurrent insert requests.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Delete existing `posts`/`authors` collections first.
        #[arg(long)]
        replace: bool,
        /// Seconds to wait for the server to become healthy.
        #[arg(long, default_value_t = 30.0, value_parser = parse_secs)]
        wait: f64,
    },
    /// Runs one scenario and prints its results as JSON.
    Run {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 10.0, value_parser = parse_secs)]
        duration: f64,
        /// Warm-up seconds, not measured.
        #[arg(long, default_value_t = 2.0, value_parser = parse_secs)]
        warmup: f64,
        /// Offer this many requests per second instead (an open loop: requests due at fixed
        /// times, latency counted from then); enough connections are needed for the rate
        /// times the latency.
        #[arg(long)]
        rate: Option<f64>,
        /// Name of the server in the results (default: the URL).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Raises an open-loop rate (requests due at fixed times, latency counted from then) step
    /// by step until the p99 passes the budget, a request fails or the server falls behind;
    /// prints every step and the last rate that held as JSON.
    Step {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// Keep-alive connections (enough for the rate times the latency).
        #[arg(long, default_value_t = 256)]
        connections: usize,
        /// The first rate, in requests per second.
        #[arg(long, default_value_t = 1000.0)]
        start_rate: f64,
        /// Each step's rate is the previous one times this.
        #[arg(long, default_value_t = 1.25)]
        factor: f64,
        #[arg(long, default_value_t = 1_000_000.0)]
        max_rate: f64,
        /// The p99 latency a rate must keep, in milliseconds.
        #[arg(long, default_value_t = 50.0, value_parser = parse_budget_ms)]
        p99_budget_ms: f64,
        /// Measured seconds per step (after the warm-up).
        #[arg(long, default_value_t = 5.0, value_parser = parse_secs)]
        duration: f64,
        /// Warm-up seconds per step, not measured.
        #[arg(long, default_value_t = 1.0, value_parser = parse_secs)]
        warmup: f64,
        /// Name of the server in the results (default: the URL).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Prints markdown tables of the `*.json` results in a directory (what `run` and `step`
    /// print).
    Report {
        dir: PathBuf,
        /// Server labels in column order; the first is the baseline of the ratios.
        #[arg(long, value_delimiter = ',', required = true)]
        labels: Vec<String>,
        /// Exit with status 1 (after printing) when any run had errors.
        #[arg(long)]
        fail_on_errors: bool,
        /// Also draw the ratios to the first label as a bar chart into this PNG file.
        #[arg(long, value_name = "PATH.png")]
        chart: Option<PathBuf>,
    },
}

/// The server's processes, measured by `run` and `step`.
#[derive(clap::Args)]
struct ServerArgs {
    /// Measure the CPU time and peak memory of this server process and its descendants over
    /// the measured time (Linux; repeat or separate with commas for several processes).
    #[arg(long = "server-pid", value_name = "PID", value_delimiter = ',')]
    server_pids: Vec<u32>,
}

/// The server and its data, shared by `setup` and `run`.
#[derive(clap::Args)]
struct DataArgs {
    /// Base URL of the server.
    #[arg(long, env = "SB_BENCH_URL", default_value = "http://127.0.0.1:8090")]
    url: String,
    /// Seeded posts (and as many notes).
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// Seeded authors.
    #[arg(long, default_value_t = 50)]
    authors: u64,
    /// Seed of the data and of the request streams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl DataArgs {
    /// A closed-loop run against this server (`label`: its name in the results, default the
    /// URL).
    fn load(
        self,
        label: Option<String>,
        server: ServerArgs,
        connections: usize,
        warmup: f64,
        duration: f64,
    ) -> LoadConfig {
        LoadConfig {
            label: label.unwrap_or_else(|| self.url.clone()),
            url: self.url,
            mode: LoadMode::Closed,
            connections,
            warmup: Duration::from_secs_f64(warmup),
            duration: Duration::from_secs_f64(duration),
            seed: self.seed,
            server_pids: server.server_pids,
        }
    }
}

/// Longest duration accepted on the command line (a day).
const MAX_SECS: f64 = 86_400.0;

fn parse_budget_ms(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SECS * 1000.0 => Ok(v),
        _ => Err(format!("expected a positive number of milliseconds, got {s:?}")),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=MAX_SECS).contains(&v) => Ok(v),
        _ => Err(format!("expected a number of seconds from 0 to {MAX_SECS}, got {s:?}")),
    }
}

/// The server's usage for the progress line on stderr (empty when it was not measured).
fn server_summary(result: &RunResult) -> String {
    result.server.as_ref().map_or_else(String::new, |s| {
        format!(
            "; server {:.2} cores, {:.1} µs CPU/request, peak RSS {:.1} MiB{}",
            s.cpu_cores,
            s.cpu_us_per_request,
            s.peak_rss_kib as f64 / 1024.0,
            if s.hwm_reset { "" } else { " (since its start: peak not reset)" },
        )
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Setup { data, email, password, concurrency, replace, wait } => {
                let config = setup::SetupConfig {
                    url: data.url,
                    email,
                    password,
                    records: data.records,
                    authors: data.authors,
                    concurrency,
                    seed: data.seed,
                    replace,
                    wait: Duration::from_secs_f64(wait),
                };
                let done = setup::run(&config).await?;
                let secs = done.insert_time.as_secs_f64();
                let total = setup::ORG_COUNT + done.authors + 2 * done.records + setup::MEDIA_COUNT;
                println!(
                    "inserted {} orgs, {} authors, {} posts, {} notes and {} images in {secs:.1} s \
                     ({:.0} records/s, {} concurrent)",
                    setup::ORG_COUNT,
                    done.authors,
                    done.records,
                    done.records,
                    setup::MEDIA_COUNT,
                    total as f64 / secs.max(f64::EPSILON),
                    config.concurrency,
                );
            }
            Command::Run { data, scenario, connections, duration, warmup, rate, label, server } => {
                let workload = Workload::new(scenario, data.records, data.authors)
                    .prepare(&data.url)
                    .await?;
                let mut config = data.load(label, server, connections, warmup, duration);
                if let Some(rate) = rate {
                    config.mode = LoadMode::Open { rate };
                }
                let result = load::run(&config, workload).await?;
                eprintln!(
                    "{} on {}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{}",
                    result.scenario,
                    result.label,
                    result.requests_per_sec,
                    result.latency_ms.p50,
                    result.latency_ms.p99,
                    result.errors,
                    server_summary(&result),
                );
                println!("{}", serde_json::to_string_pretty(&result)?);
            }
            Command::Step {
                data,
                scenario,
                connections,
                start_rate,
                factor,
                max_rate,
                p99_budget_ms,
                duration,
                warmup,
                label,
                server,
            } => {
                let workload = Workload::new(scenario, data.records, data.authors)
                    .prepare(&data.url)
                    .await?;
                let config = load::StepConfig {
                    run: data.load(label, server, connections, warmup, duration),
                    start_rate,
                    factor,
                    max_rate,
                    p99_budget: Duration::from_secs_f64(p99_budget_ms / 1000.0),
                };
                let result = load::step(&config, || workload.clone()).await?;
                for s in &result.steps {
                    eprintln!(
                        "{} on {} at {:.0}/s: {:.0} answered/s, p99 {:.2} ms, {} errors{}",
                        s.scenario,
                        s.label,
                        s.target_rate.unwrap_or_default(),
                        s.requests_per_sec,
                        s.latency_ms.p99,
                        s.errors,
                        server_summary(s),
                    );
                }
                match result.max_rate {
                    Some(rate) => eprintln!("max rate within a p99 of {p99_budget_ms} ms: {rate:.0}/s"),
                    None => eprintln!("not even {start_rate:.0}/s held"),
                }
                println!("{}", serde_json::to_string_pretty(&result)?);
            }
            Command::Report { dir, labels, fail_on_errors, chart } => {
                let results = report::load_results(&dir)?;
                anyhow::ensure!(!results.is_empty(), "no *.json results in {}", dir.display());
                print!("{}", report::render_all(&results, &labels));
                if let Some(path) = chart {
                    let png = sb_bench::chart::png(&report::chart(&results, &labels))?;
                    std::fs::write(&path, png)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                // A rate series ends at a rate that failed by design: only runs count here.
                if fail_on_errors && results.runs.iter().any(|r| r.errors > 0) {
                    std::process::exit(1);
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })
    .context("sb-bench failed")
}
