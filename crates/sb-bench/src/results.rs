//! The outcome of one load run, as the JSON that `sb-bench run` prints and `sb-bench report`
//! reads back.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One run of one scenario against one server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Which server this was (`pocketbase`, `scalebase`, …); the report's column.
    pub label: String,
    pub scenario: String,
    pub url: String,
    /// `closed`: each connection sends its next request when the previous answer arrived;
    /// `open`: requests fall due at `target_rate` per second, latency counted from then;
    /// `fanout`: `realtime_bench`, where the "requests" are delivered events and `target_rate`
    /// is the rate of the writes (when they were paced).
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    pub connections: usize,
    pub warmup_secs: f64,
    /// The measured time: from the end of the warm-up to the last answer.
    pub measured_secs: f64,
    /// Successful (2xx) answers to requests sent during the measured time.
    pub requests: u64,
    /// Successful answers per second of measured time.
    pub requests_per_sec: f64,
    /// Failed requests during the measured time (non-2xx answers and transport errors).
    pub errors: u64,
    /// Failures by kind: the HTTP status (`"404"`), `"connect"` or `"transport"` (including no
    /// answer within 30 s of the end).
    pub error_kinds: BTreeMap<String, u64>,
    /// Response body bytes per second (successful answers).
    pub body_bytes_per_sec: f64,
    /// Latency of successful answers, from sending the request to the end of the body.
    pub latency_ms: Latency,
    /// What the server processes used during the measured time (`sb-bench run --server-pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerUsage>,
}

/// CPU and memory of the server's processes over the measured time, read from `/proc` (see
/// `procstat` for the method and its approximations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerUsage {
    /// User plus system CPU time of the process tree during the measured time.
    pub cpu_secs: f64,
    /// `cpu_secs` per measured second: the cores the server kept busy on average.
    pub cpu_cores: f64,
    /// `cpu_secs` per successful answer, in microseconds (failed requests cost CPU too but are
    /// not counted, as in `requests_per_sec`).
    pub cpu_us_per_request: f64,
    /// The sum over the process tree of each process's peak resident set (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// Processes in the tree at the end (the given ones and their descendants).
    pub processes: usize,
    /// Whether every peak was reset at the start of the measured time; when not (writing
    /// `/proc/PID/clear_refs` was refused), a peak may be from before, even from the setup.
    pub hwm_reset: bool,
}

/// An open-loop rate stepped up until it no longer held (`sb-bench step`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub label: String,
    pub scenario: String,
    pub p99_budget_ms: f64,
    /// The last rate that held (`None`: not even the first).
    pub max_rate: Option<f64>,
    /// Every step, the one that did not hold last.
    pub steps: Vec<RunResult>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// Summarises a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}
