//! CPU time and peak memory of the server under test, read from Linux's `/proc`
//! (`sb-bench run --server-pid`).
//!
//! A [`Window`] opens when the warm-up ends and closes after the last answer, and covers the
//! given processes and all their descendants, found by following the parent links of every
//! `/proc/PID/stat`: a `scalebase cluster` (a gateway and its node processes) counts whole.
//!
//! - CPU: user plus system time (`utime` + `stime` in `/proc/PID/stat`, all threads of the
//!   process, in clock ticks of `sysconf(_SC_CLK_TCK)`) at the close minus at the open, summed
//!   over the tree. Approximations: a process that appears during the window counts from its
//!   start; one that ends during the window is lost (its time moves to its parent's `cutime`,
//!   which is not read); the close comes a moment after the last answer (the time to collect
//!   the connection tasks); the resolution is one tick (10 ms on most systems) per process.
//! - Memory: at the open, `5` is written to each process's `/proc/PID/clear_refs`, which
//!   resets its peak resident set (`VmHWM`) to the current one; at the close the `VmHWM` of
//!   every process in the tree is summed. For several processes the sum is an upper bound of
//!   the tree's peak, as they need not peak at the same time. When the reset is refused (another
//!   user's process, a kernel without it) the peak is since the process started, and
//!   [`ServerUsage::hwm_reset`] says so. A process that appears during the window has its peak
//!   since its start, which is inside the window.
//!
//! A process is named by its pid and start time, so a pid reused during the window counts as a
//! new process.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, bail, ensure};

use crate::results::ServerUsage;

/// The fields of a `/proc/PID/stat` line used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub ppid: u32,
    /// `utime + stime`, in clock ticks.
    pub cpu_ticks: u64,
    /// When the process started, in clock ticks after boot; with the pid it names the process.
    pub start_ticks: u64,
}

/// Parses a `/proc/PID/stat` line. The command name (the second field, in parentheses) may
/// hold spaces and parentheses of its own, so the other fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<Stat> {
    let (head, tail) = line.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = tail.split_whitespace().collect();
    // `tail` starts with field 3 (the state), so field `n` (numbered as in proc(5)) is at
    // index `n - 3`.
    let field = |n: usize| -> Option<u64> { fields.get(n.checked_sub(3)?)?.parse().ok() };
    Some(Stat {
        pid,
        ppid: u32::try_from(field(4)?).ok()?,
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
    })
}

/// The value in KiB of a `key:` line of `/proc/PID/status` (`VmHWM`, `VmRSS`, …).
pub fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// `roots` and all their descendants among `all`, by pid (a root not in `all` is left out).
pub fn tree(roots: &[u32], all: &[Stat]) -> Vec<Stat> {
    let mut by_pid: HashMap<u32, Stat> = HashMap::new();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for stat in all {
        by_pid.insert(stat.pid, *stat);
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut seen = HashSet::new();
    let mut queue = roots.to_vec();
    let mut found = Vec::new();
    // Each pid is expanded at most once, so this ends after at most `all.len()` expansions.
    while let Some(pid) = queue.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let Some(stat) = by_pid.get(&pid) else { continue };
        found.push(*stat);
        queue.extend(children.get(&pid).into_iter().flatten());
    }
    found.sort_by_key(|s| s.pid);
    found
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process now running (one that ends while the list is read is left out).
fn all_processes() -> anyhow::Result<Vec<Stat>> {
    let entries = std::fs::read_dir("/proc").context("cannot list /proc")?;
    Ok(entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .collect())
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    parse_status_kib(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?, "VmHWM")
}

/// Resets the process's peak resident set to its current one; `false` when refused.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Clock ticks per second, the unit of the CPU times in `/proc/PID/stat`.
#[cfg(unix)]
fn ticks_per_sec() -> anyhow::Result<f64> {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => Ok(ticks as f64),
        other => bail!("cannot read the clock tick (sysconf(_SC_CLK_TCK) gave {other:?})"),
    }
}

#[cfg(not(unix))]
fn ticks_per_sec() -> anyhow::Result<f64> {
    bail!("measuring a server process needs Linux's /proc")
}

/// Fails unless every pid in `pids` is a running process and `/proc` can be read.
pub fn check(pids: &[u32]) -> anyhow::Result<()> {
    ensure!(
        Path::new("/proc/self/stat").exists(),
        "no /proc here: measuring a server process (--server-pid) needs Linux"
    );
    for &pid in pids {
        ensure!(read_stat(pid).is_some(), "no process {pid} (--server-pid)");
    }
    Ok(())
}

/// A measurement of a process tree in progress (module docs).
#[derive(Debug)]
pub struct Window {
    /// The given processes, with their start times (to notice one that ended).
    roots: Vec<Stat>,
    ticks_per_sec: f64,
    /// CPU ticks of each process of the tree at the open, by pid and start time.
    opened: HashMap<(u32, u64), u64>,
    /// Whether every process of the tree at the open had its peak reset.
    hwm_reset: bool,
}

impl Window {
    /// Starts measuring `pids` and their descendants: resets their peaks, notes their CPU time.
    pub fn open(pids: &[u32]) -> anyhow::Result<Window> {
        let mut pids = pids.to_vec();
        pids.sort_unstable();
        pids.dedup();
        check(&pids)?;
        let ticks_per_sec = ticks_per_sec()?;
        let processes = tree(&pids, &all_processes()?);
        let roots: Vec<Stat> =
            processes.iter().filter(|p| pids.contains(&p.pid)).copied().collect();
        ensure!(roots.len() == pids.len(), "a --server-pid process ended before the measurement");
        let mut hwm_reset = true;
        for process in &processes {
            hwm_reset &= reset_peak(process.pid);
        }
        let opened = processes.iter().map(|p| ((p.pid, p.start_ticks), p.cpu_ticks)).collect();
        Ok(Window { roots, ticks_per_sec, opened, hwm_reset })
    }

    /// Ends the measurement of `measured_secs` in which the server gave `requests` successful
    /// answers.
    pub fn close(self, measured_secs: f64, requests: u64) -> anyhow::Result<ServerUsage> {
        let processes =
            tree(&self.roots.iter().map(|r| r.pid).collect::<Vec<_>>(), &all_processes()?);
        for root in &self.roots {
            if !processes.iter().any(|p| (p.pid, p.start_ticks) == (root.pid, root.start_ticks)) {
                bail!("server process {} ended during the measured time", root.pid);
            }
        }
        let ticks: u64 = processes
            .iter()
            .map(|p| {
                let at_open = self.opened.get(&(p.pid, p.start_ticks)).copied().unwrap_or(0);
                p.cpu_ticks.saturating_sub(at_open)
            })
            .sum();
        let cpu_secs = ticks as f64 / self.ticks_per_sec;
        Ok(ServerUsage {
            cpu_secs,
            cpu_cores: cpu_secs / measured_secs.max(f64::EPSILON),
            cpu_us_per_request: cpu_secs * 1e6 / requests.max(1) as f64,
            peak_rss_kib: processes.iter().filter_map(|p| peak_rss_kib(p.pid)).sum(),
            processes: processes.len(),
            hwm_reset: self.hwm_reset,
        })
    }
}

#[cfg(test)]
mod tests;
