use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// A `/proc/PID/stat` line of process 4242 (parent 17) named `name`, with 7 + 5 ticks of CPU
/// and started at tick 9000.
fn stat_line(name: &str) -> String {
    format!(
        "4242 ({name}) S 17 4242 4242 0 -1 4194560 120 0 0 0 7 5 0 0 20 0 3 0 9000 \
         123456789 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0"
    )
}

#[test]
fn parses_a_stat_line_whose_name_has_spaces_and_parentheses() {
    let expected = Some(Stat { pid: 4242, ppid: 17, cpu_ticks: 12, start_ticks: 9000 });
    for name in ["sb", "tokio worker", "a) S 99 (b", ") )", ""] {
        assert_eq!(parse_stat(&stat_line(name)), expected, "{name:?}");
    }
    assert_eq!(parse_stat("4242 (truncated) S 17 4242"), None);
    assert_eq!(parse_stat("no parentheses"), None);
    assert_eq!(parse_stat(""), None);
}

#[test]
fn reads_a_status_value_in_kib() {
    let status = "Name:\tsb\nVmPeak:\t  9000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t     999 kB\n";
    assert_eq!(parse_status_kib(status, "VmHWM"), Some(1234));
    assert_eq!(parse_status_kib(status, "VmRSS"), Some(999));
    assert_eq!(parse_status_kib(status, "VmSwap"), None);
    assert_eq!(parse_status_kib("VmHWM:\tlots kB\n", "VmHWM"), None);
}

#[test]
fn a_tree_holds_the_roots_and_all_their_descendants() {
    let stat = |pid, ppid| Stat { pid, ppid, cpu_ticks: 0, start_ticks: 0 };
    // 10 → 11 → 12 → 13, 10 → 14; 20 → 21 is another tree; 30 is given but not running.
    let all = [stat(1, 0), stat(10, 1), stat(11, 10), stat(12, 11), stat(13, 12), stat(14, 10)];
    let all = [&all[..], &[stat(20, 1), stat(21, 20)]].concat();
    let pids = |found: Vec<Stat>| found.iter().map(|s| s.pid).collect::<Vec<_>>();
    assert_eq!(pids(tree(&[10], &all)), [10, 11, 12, 13, 14]);
    assert_eq!(pids(tree(&[12, 21, 30], &all)), [12, 13, 21]);
    assert_eq!(pids(tree(&[11, 10, 11], &all)), [10, 11, 12, 13, 14], "each process once");
    assert_eq!(pids(tree(&[30], &all)), Vec::<u32>::new());
}

/// This process's CPU ticks so far.
fn own_ticks() -> u64 {
    read_stat(std::process::id()).expect("own stat").cpu_ticks
}

#[test]
fn measures_this_process_burning_cpu() {
    let window = Window::open(&[std::process::id()]).expect("open");
    // Burn CPU (and touch a few MiB) until the kernel has charged at least 3 ticks.
    let start = own_ticks();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut memory = vec![0u8; 4 << 20];
    let mut x = 0u64;
    while own_ticks() < start + 3 && Instant::now() < deadline {
        for (i, byte) in memory.iter_mut().enumerate().step_by(4096) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i as u64);
            *byte = x as u8;
        }
    }
    std::hint::black_box(&memory);
    let usage = window.close(2.0, 1000).expect("close");
    assert!(usage.cpu_secs > 0.0, "{usage:?}");
    assert!((usage.cpu_cores - usage.cpu_secs / 2.0).abs() < 1e-9, "{usage:?}");
    assert!((usage.cpu_us_per_request - usage.cpu_secs * 1000.0).abs() < 1e-6, "{usage:?}");
    assert!(usage.peak_rss_kib >= 4096, "4 MiB were touched: {usage:?}");
    assert!(usage.processes >= 1, "{usage:?}");
}

#[cfg(unix)]
#[test]
fn counts_the_descendants_of_a_process() {
    // This process → `timeout` → `sh` spinning: a tree of depth 2; `timeout` bounds the loop
    // should this test stop before stopping it.
    let mut child = Command::new("timeout")
        .args(["20", "sh", "-c", "while :; do :; done"])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn timeout");
    let window = Window::open(&[std::process::id()]).expect("open");
    let opened_at = own_ticks();
    // Wait until the spinning shell has been charged 20 ticks since the open.
    let shell_ticks = || {
        let all = all_processes().expect("processes");
        tree(&[child.id()], &all).iter().filter(|s| s.pid != child.id()).map(|s| s.cpu_ticks).sum()
    };
    let at_open: u64 = shell_ticks();
    let deadline = Instant::now() + Duration::from_secs(15);
    while shell_ticks() < at_open + 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let own = own_ticks() - opened_at;
    let usage = window.close(1.0, 1).expect("close");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("stop timeout");
    child.wait().expect("wait");

    assert!(usage.processes >= 3, "this process, timeout and sh: {usage:?}");
    // The shell's 20 ticks are in, beyond what this process used itself.
    let ticks = ticks_per_sec().expect("clock tick");
    assert!(usage.cpu_secs >= (own + 20) as f64 / ticks, "own {own} ticks: {usage:?}");
    assert!(usage.peak_rss_kib > 0, "{usage:?}");
}

#[test]
fn a_missing_process_is_an_error() {
    // Above any pid_max Linux allows (2^22).
    let err = Window::open(&[u32::MAX]).expect_err("no such process");
    assert!(err.to_string().contains("no process 4294967295"), "{err}");
}
