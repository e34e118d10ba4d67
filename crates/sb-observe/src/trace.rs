//! Traces: the spans Scalebase opens (request, rule compilation and evaluation, database
//! statement, realtime bus) and their export over OTLP/HTTP.
//!
//! Every span is opened through a function of this module, with the target [`SPAN_TARGET`], so
//! span names and attribute keys are spelled in one place. The subscriber set up by the binary
//! enables that target only for the OpenTelemetry layer, and only when an OTLP endpoint is
//! configured: without one, no layer is interested in the spans and opening one costs a
//! cached callsite check.
//!
//! Trace context follows W3C Trace Context: a request's span continues the caller's
//! `traceparent`, and [`current_traceparent`] gives the header for calls made while handling it
//! (also without OpenTelemetry: then from the request's own context, set by [`scope`]).

use std::future::Future;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of every span meant for export.
pub const SPAN_TARGET: &str = "scalebase::span";

/// The export configuration.
#[derive(Clone, Debug)]
pub struct OtlpConfig {
    /// The collector's OTLP/HTTP base URL (`http://collector:4318`); `/v1/traces` is appended
    /// unless the URL already ends with it.
    pub endpoint: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// `service.instance.id` of the resource (the node).
    pub instance_id: String,
    /// How long finished spans wait to be sent in a batch.
    pub batch_delay: Duration,
}

/// Keeps the exporter alive; dropping it sends the spans still queued (bounded in time).
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl OtlpGuard {
    /// Sends the finished spans now.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "flushing spans to the OTLP endpoint failed");
        }
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown_with_timeout(Duration::from_secs(5)) {
            tracing::warn!(error = %e, "shutting the OTLP exporter down failed");
        }
    }
}

/// The OpenTelemetry layer exporting [`SPAN_TARGET`] spans to `config.endpoint`, plus the guard
/// that flushes it. Must be called inside a tokio runtime (the HTTP client runs on it).
pub fn otlp_layer<S>(
    config: &OtlpConfig,
) -> Result<(impl tracing_subscriber::Layer<S>, OtlpGuard), String>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    use tracing_subscriber::Layer;

    let mut endpoint = config.endpoint.trim_end_matches('/').to_owned();
    if !endpoint.ends_with("/v1/traces") {
        endpoint.push_str("/v1/traces");
    }
    let url = reqwest::Url::parse(&endpoint).map_err(|e| format!("invalid OTLP endpoint: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("invalid OTLP endpoint: the scheme must be http or https".into());
    }
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| "the OTLP exporter needs a tokio runtime".to_owned())?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .with_http_client(TokioHttpClient::new(handle)?)
        .build()
        .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(config.batch_delay)
        .with_max_queue_size(8192)
        .build();
    let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.instance.id",
            config.instance_id.clone(),
        ))
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    let provider =
        SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource).build();
    let tracer = provider.tracer("scalebase");
    let filter =
        tracing_subscriber::filter::Targets::new().with_target(SPAN_TARGET, tracing::Level::TRACE);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_filter(filter);
    Ok((layer, OtlpGuard { provider }))
}

/// The exporter's HTTP client: the process's reqwest (rustls) on the tokio runtime, so the
/// batch processor's own thread needs no runtime of its own.
#[derive(Debug)]
struct TokioHttpClient {
    client: reqwest::Client,
    handle: tokio::runtime::Handle,
}

impl TokioHttpClient {
    fn new(handle: tokio::runtime::Handle) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
        Ok(TokioHttpClient { client, handle })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for TokioHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let call = self.handle.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        });
        let (status, body) = call.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        Ok(response)
    }
}

tokio::task_local! {
    static TRACEPARENT: String;
}

/// Runs `fut` with `traceparent` as the request's trace context for [`current_traceparent`]
/// when no OpenTelemetry span is active.
pub async fn scope<F: Future>(traceparent: String, fut: F) -> F::Output {
    TRACEPARENT.scope(traceparent, fut).await
}

/// The `traceparent` header for an outgoing call made now: the current span's context when it
/// is exported, else the request's context given to [`scope`].
pub fn current_traceparent() -> Option<String> {
    if let Some((trace_id, span_id, sampled)) = span_ids(&Span::current()) {
        return Some(format!("00-{trace_id}-{span_id}-{}", if sampled { "01" } else { "00" }));
    }
    TRACEPARENT.try_with(Clone::clone).ok()
}

/// The OpenTelemetry trace id, span id and sampled flag of `span`, when it is exported.
pub fn span_ids(span: &Span) -> Option<(String, String, bool)> {
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    ids.is_valid().then(|| {
        (ids.trace_id().to_string(), ids.span_id().to_string(), ids.trace_flags().is_sampled())
    })
}

/// The span of one HTTP request, continuing the caller's `traceparent` when it sent one.
/// `http.route` and `http.response.status_code` are filled in by [`record_response`].
pub fn request_span(method: &str, path: &str, request_id: &str, traceparent: Option<&str>) -> Span {
    let span = tracing::info_span!(
        target: SPAN_TARGET,
        "request",
        otel.name = %method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        url.path = %path,
        request.id = %request_id,
        enduser.id = tracing::field::Empty,
    );
    continue_trace(&span, traceparent);
    span
}

/// Makes `span` (just opened) a child of the remote span a valid `traceparent` names.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    let Some(header) = traceparent else { return };
    if span.is_disabled() {
        return;
    }
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), header.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// Completes a request span with what the response knows.
pub fn record_response(span: &Span, method: &str, route: &str, status: u16, auth_id: &str) {
    if span.is_disabled() {
        return;
    }
    // The OpenTelemetry span exists already (its ids were read): rename it directly.
    span.context().span().update_name(format!("{method} {route}"));
    span.record("http.route", route);
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    if !auth_id.is_empty() {
        span.record("enduser.id", auth_id);
    }
}

/// The span of one database statement (or a commit), opened where the caller waits for it.
pub fn db_span(backend: crate::Backend, operation: &'static str, sql: &str) -> Span {
    tracing::debug_span!(
        target: SPAN_TARGET,
        "db",
        otel.name = %format_args!("{operation} {}", backend.as_str()),
        otel.kind = "client",
        db.system.name = backend.as_str(),
        db.operation.name = operation,
        db.query.text = sql,
    )
}

/// The span of compiling an API rule or a filter (to SQL) for `collection`.
pub fn rule_compile_span(collection: &str, purpose: &'static str) -> Span {
    tracing::debug_span!(
        target: SPAN_TARGET,
        "rule.compile",
        otel.name = %format_args!("rule.compile {purpose}"),
        scalebase.collection = collection,
        scalebase.rule.purpose = purpose,
    )
}

/// The span of deciding a realtime event's access for its subscriptions.
pub fn rule_evaluate_span(collection: &str, groups: usize) -> Span {
    tracing::debug_span!(
        target: SPAN_TARGET,
        "rule.evaluate",
        scalebase.collection = collection,
        scalebase.rule.groups = groups,
        scalebase.rule.in_memory = tracing::field::Empty,
        scalebase.rule.sql = tracing::field::Empty,
    )
}

/// The span of publishing changes on the event bus.
pub fn bus_publish_span(bus: &'static str, events: usize) -> Span {
    tracing::debug_span!(
        target: SPAN_TARGET,
        "bus.publish",
        otel.kind = "producer",
        messaging.system = bus,
        messaging.batch.message_count = events,
    )
}

/// The span of one cache lookup; `cache.result` (hit, miss, bypass) is recorded when known.
pub fn cache_span(cache: &'static str) -> Span {
    tracing::debug_span!(
        target: SPAN_TARGET,
        "cache.lookup",
        cache.name = cache,
        cache.result = tracing::field::Empty,
    )
}

/// The span of an outgoing HTTP call (OAuth2 provider, webhook, …).
pub fn client_span(method: &str, host: &str) -> Span {
    tracing::info_span!(
        target: SPAN_TARGET,
        "http.client",
        otel.name = %method,
        otel.kind = "client",
        http.request.method = %method,
        server.address = %host,
        http.response.status_code = tracing::field::Empty,
    )
}
