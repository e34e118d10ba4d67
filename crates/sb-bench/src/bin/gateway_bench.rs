//! The gateway's overhead beside nginx's, same box, same run: one nginx worker serves a fixed
//! small answer (the upstream); the load driver asks it directly, through nginx as a reverse
//! proxy (one worker, upstream keep-alive), and through `scalebase gateway` (one runtime
//! thread), alternating, and reports requests/s, p50/p99, the CPU each proxy spent per request
//! and the ratios gateway/nginx.
//!
//! ```text
//! cargo build --release -p scalebase -p sb-bench
//! taskset -c 0 target/release/gateway_bench --bin target/release/scalebase
//! ```
//!
//! With two or more cores the proxies run pinned to CPU 1 (`taskset`), the upstream and (when
//! started as above) the driver on CPU 0, as in `../shared/gateway.md` §2.4. Figures are printed,
//! never asserted; `--quick` is the CI smoke (a functional check only).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use sb_bench::load::{LoadConfig, LoadMode};
use sb_bench::results::RunResult;
use sb_bench::scenario::{Scenario, Workload};

#[derive(Parser)]
struct Args {
    /// The scalebase binary.
    #[arg(long)]
    bin: PathBuf,
    /// The nginx binary (the nginx column is skipped when it cannot be run).
    #[arg(long, default_value = "nginx")]
    nginx: String,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Runs per target, alternating targets; the table shows medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The upstream, nginx and the gateway listen on this port and the next two.
    #[arg(long, default_value_t = 29180)]
    port_base: u16,
    /// 1 s per run, one round (CI smoke).
    #[arg(long)]
    quick: bool,
}

/// Children killed when dropped.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

fn pinned(cpu: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2
        && Command::new("taskset").arg("-V").output().is_ok()
    {
        let mut cmd = Command::new("taskset");
        cmd.arg("-c").arg(cpu.to_string()).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn nginx_conf(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/{name}.pid;\n\
         error_log {dir}/{name}.err warn;\nevents {{ worker_connections 4096; }}\n\
         http {{\n access_log off;\n client_body_temp_path {dir}/{name}-body;\n\
         proxy_temp_path {dir}/{name}-proxy;\n fastcgi_temp_path {dir}/{name}-fcgi;\n\
         uwsgi_temp_path {dir}/{name}-uwsgi;\n scgi_temp_path {dir}/{name}-scgi;\n{body}\n}}\n",
        dir = dir.display()
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf)?;
    Ok(path)
}

/// CPU time (user + system) a process has used.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / 100.0))
}

async fn wait_up(url: &str) -> Result<()> {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("{url}/proxy-bench"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{url} did not answer")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.quick {
        (args.seconds, args.warmup, args.rounds) = (1, 1, 1);
    }
    let dir = tempfile::tempdir()?;
    // Three free ports from the base on (moving on by tens when one is taken).
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let base = (0..50u16)
        .map(|k| args.port_base + 10 * k)
        .find(|&b| (b..b + 3).all(free))
        .context("no three free ports near --port-base")?;
    let (up, via_nginx, via_gateway) = (base, base + 1, base + 2);
    let mut procs = Procs(Vec::new());
    let upstream_conf = nginx_conf(
        dir.path(),
        "upstream",
        &format!(
            " server {{ listen 127.0.0.1:{up}; keepalive_requests 1000000;\n  \
             location / {{ return 200 \"hello, proxy\\n\"; }} }}"
        ),
    )?;
    let nginx_ok = Command::new(&args.nginx).arg("-v").output().is_ok();
    if !nginx_ok {
        bail!("{} cannot be run; install nginx (the upstream is an nginx worker)", args.nginx);
    }
    procs.0.push(
        pinned(0, &args.nginx)
            .arg("-c")
            .arg(&upstream_conf)
            .stderr(Stdio::null())
            .spawn()
            .context("start the nginx upstream")?,
    );
    let proxy_conf = nginx_conf(
        dir.path(),
        "proxy",
        &format!(
            " upstream app {{ server 127.0.0.1:{up}; keepalive 128; }}\n \
             server {{ listen 127.0.0.1:{via_nginx}; keepalive_requests 1000000;\n  \
             location / {{ proxy_pass http://app; proxy_http_version 1.1;\n   \
             proxy_set_header Connection \"\"; proxy_set_header X-Forwarded-For $remote_addr; }} }}"
        ),
    )?;
    let nginx = pinned(1, &args.nginx)
        .arg("-c")
        .arg(&proxy_conf)
        .stderr(Stdio::null())
        .spawn()
        .context("start nginx as the proxy")?;
    let nginx_pid = nginx.id();
    procs.0.push(nginx);
    let gateway = pinned(1, &args.bin)
        .args(["gateway", "--listen", &format!("127.0.0.1:{via_gateway}")])
        .args(["--upstream", &format!("http://127.0.0.1:{up}"), "--log-level", "warn"])
        .args(["--workers", "1"])
        .stdout(Stdio::null())
        .spawn()
        .context("start scalebase gateway")?;
    let gateway_pid = gateway.id();
    procs.0.push(gateway);
    // taskset execs the program, so the pids are the proxies' own.
    let targets = [
        ("direct", up, None),
        ("nginx", via_nginx, Some(nginx_pid)),
        ("gateway", via_gateway, Some(gateway_pid)),
    ];
    for (_, port, _) in &targets {
        wait_up(&format!("http://127.0.0.1:{port}")).await?;
    }

    let mut results: Vec<(usize, RunResult, Option<f64>)> = Vec::new();
    for round in 0..args.rounds {
        for k in 0..targets.len() {
            let i = (k + round) % targets.len();
            let (label, port, pid) = targets[i];
            let config = LoadConfig {
                url: format!("http://127.0.0.1:{port}"),
                label: label.into(),
                mode: LoadMode::Closed,
                connections: args.connections,
                warmup: Duration::from_secs(args.warmup),
                duration: Duration::from_secs(args.seconds),
                seed: round as u64,
                server_pids: Vec::new(),
            };
            let cpu_before = pid.and_then(cpu_time);
            let result = sb_bench::load::run(&config, Workload::new(Scenario::Proxy, 1, 1)).await?;
            let cpu_after = pid.and_then(cpu_time);
            // CPU per answered request, over warm-up and measured time alike.
            let total = result.requests as f64 * (1.0 + args.warmup as f64 / args.seconds as f64);
            let cpu_us = cpu_before
                .zip(cpu_after)
                .map(|(a, b)| (b - a).as_secs_f64() * 1e6 / total.max(1.0));
            if result.errors > 0 {
                bail!("{label}: {} failed requests", result.errors);
            }
            results.push((i, result, cpu_us));
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    let row = |i: usize| {
        let of: Vec<&(usize, RunResult, Option<f64>)> =
            results.iter().filter(|r| r.0 == i).collect();
        let rps = median(of.iter().map(|r| r.1.requests_per_sec).collect());
        let p50 = median(of.iter().map(|r| r.1.latency_ms.p50).collect());
        let p99 = median(of.iter().map(|r| r.1.latency_ms.p99).collect());
        let cpu = median(of.iter().filter_map(|r| r.2).collect());
        (rps, p50, p99, cpu)
    };
    let (direct, nginx, gateway) = (row(0), row(1), row(2));
    println!(
        "gateway bench: {} connections, {} s per run ({} s warm-up), {} round(s), medians",
        args.connections, args.seconds, args.warmup, args.rounds
    );
    println!("| target | req/s | p50 ms | p99 ms | added p99 ms | proxy CPU µs/request |");
    println!("|---|---|---|---|---|---|");
    for (label, (rps, p50, p99, cpu)) in
        [("direct", direct), ("nginx", nginx), ("gateway", gateway)]
    {
        let added =
            if label == "direct" { "—".into() } else { format!("{:+.2}", p99 - direct.2) };
        let cpu = if label == "direct" { "—".into() } else { format!("{cpu:.1}") };
        println!("| {label} | {rps:.0} | {p50:.2} | {p99:.2} | {added} | {cpu} |");
    }
    println!(
        "ratio gateway/nginx: throughput {:.2}, CPU per request {:.2}, added p99 {:.2}",
        gateway.0 / nginx.0.max(1.0),
        gateway.3 / nginx.3.max(f64::EPSILON),
        (gateway.2 - direct.2) / (nginx.2 - direct.2).max(f64::EPSILON)
    );
    Ok(())
}
