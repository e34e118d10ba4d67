//! The process's `tracing` subscriber: log lines (pretty or JSON, filtered by `--log-level`) on
//! a background writer, plus OTLP export of the [`sb_observe::trace`] spans when configured.
//! The two outputs are filtered apart: log lines never carry the trace spans, and the exporter
//! sees only them.

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Otlp;

/// Keeps the log writer and the span exporter alive; dropping it flushes both.
pub struct Telemetry {
    _log: tracing_appender::non_blocking::WorkerGuard,
    otlp: Option<sb_observe::trace::OtlpGuard>,
}

impl Telemetry {
    /// Sends the finished spans now (tests, and before exit).
    pub fn flush(&self) {
        if let Some(otlp) = &self.otlp {
            otlp.flush();
        }
    }
}

/// Installs the process-wide subscriber. `otlp` needs a tokio runtime (the exporter's HTTP
/// client runs on it); `batch_delay` is how long finished spans wait to be sent together.
pub fn init(
    json: bool,
    level: &str,
    otlp: Option<&Otlp>,
    batch_delay: std::time::Duration,
) -> anyhow::Result<Telemetry> {
    // The trace spans are the exporter's, never log lines' context.
    let directives = format!("{level},{}=off", sb_observe::trace::SPAN_TARGET);
    let filter = tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("info,{}=off", sb_observe::trace::SPAN_TARGET))
    });
    // Every request writes a log line: a background thread does the writing, so a slow
    // stderr never blocks a request (lines are dropped, not waited for, if it falls far
    // behind). The guard flushes the last lines when the caller drops it at exit.
    let (writer, log_guard) = tracing_appender::non_blocking(std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let (otel, otlp_guard) = match otlp {
        Some(o) => {
            let config = sb_observe::trace::OtlpConfig {
                endpoint: o.endpoint.clone(),
                service_name: o.service_name.clone(),
                instance_id: instance_id(),
                batch_delay,
            };
            let (layer, guard) =
                sb_observe::trace::otlp_layer(&config).map_err(|e| anyhow::anyhow!(e))?;
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the tracing subscriber: {e}"))?;
    Ok(Telemetry { _log: log_guard, otlp: otlp_guard })
}

/// `service.instance.id`: the host name and process id.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}
