//! The request path: route → pool limits → pick → forward (with retries under a budget) →
//! response, with header hygiene, `X-Forwarded-*`/`Forwarded`, request ids, streaming bodies
//! both ways and upgrade (WebSocket) tunnels.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::retry::budget::{Budget as _, TpsBudget};

use crate::cache::{Lookup, ResponseCache, X_CACHE};
use crate::config::{GatewayConfig, HashOn, RouteConfig, UpstreamUrl};
use crate::connector::Capped;
use crate::pool::{InFlight, Pool, hash_of};

/// Bodies both ways.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// Request bodies up to this size are read before forwarding, so that the request can be
/// tried again on another upstream; larger ones stream through and are tried once.
const REPLAYABLE_BODY: u64 = 64 * 1024;

/// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A pool with its circuit-breaking slots and retry budget.
struct PoolRuntime {
    pool: Arc<Pool>,
    budget: TpsBudget,
    slots: Arc<Semaphore>,
    pending: AtomicUsize,
    /// Metrics of the requests answered without an upstream: from the cache, or by the
    /// gateway itself (limits, failures).
    cached: sb_observe::gateway::Requests,
    unreached: sb_observe::gateway::Requests,
}

impl PoolRuntime {
    /// Circuit breaking: a slot among `max_requests`, waited for (at most one per-try timeout)
    /// by at most `max_pending` requests; `None` when the pool is at its limit.
    async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Some(permit);
        }
        let limits = &self.pool.config;
        if self.pending.fetch_add(1, Ordering::SeqCst) >= limits.limits.max_pending {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let waited = tokio::time::timeout(
            limits.retry.per_try_timeout(),
            self.slots.clone().acquire_owned(),
        )
        .await;
        self.pending.fetch_sub(1, Ordering::SeqCst);
        waited.ok().and_then(Result::ok)
    }
}

/// One immutable gateway configuration, built and ready to serve.
pub struct Gateway {
    routes: Vec<RouteConfig>,
    pools: HashMap<String, PoolRuntime>,
    /// One client (with its own connection pool) per serving thread, so a request is sent on
    /// connections driven by the thread that serves it.
    clients: Box<[Client<Capped, Body>]>,
    limits: Arc<crate::limits::Limits>,
    cache: Option<Arc<ResponseCache>>,
}

impl Gateway {
    /// Builds the pools of `config`; `existing` pools with the same name and upstreams keep
    /// their state (health, ejections, load), so a reload does not start from scratch.
    pub fn build(config: &GatewayConfig, existing: Option<&Gateway>) -> anyhow::Result<Gateway> {
        config.validate()?;
        let mut pools = HashMap::new();
        for pc in &config.pools {
            let reused = existing
                .and_then(|g| g.pools.get(&pc.name))
                .filter(|rt| rt.pool.config == *pc)
                .map(|rt| rt.pool.clone());
            let pool = match reused {
                Some(pool) => pool,
                None => Arc::new(Pool::new(pc.clone())?),
            };
            let retry = &pc.retry;
            let budget = TpsBudget::new(
                Duration::from_secs(10),
                retry.min_retries_per_second,
                retry.budget_percent as f32 / 100.0,
            );
            let slots = Arc::new(Semaphore::new(pc.limits.max_requests));
            let runtime = PoolRuntime {
                pool,
                budget,
                slots,
                pending: 0.into(),
                cached: sb_observe::gateway::Requests::new(&pc.name, "cache"),
                unreached: sb_observe::gateway::Requests::new(&pc.name, "-"),
            };
            pools.insert(pc.name.clone(), runtime);
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let connector = Capped::new(connector, pools.values().map(|rt| rt.pool.clone()).collect());
        let idle = config.pools.iter().map(|p| p.limits.max_idle_connections).max().unwrap_or(256);
        let clients = (0..config.worker_count())
            .map(|_| {
                Client::builder(TokioExecutor::new())
                    .pool_idle_timeout(Duration::from_secs(60))
                    .pool_max_idle_per_host(idle)
                    .build(connector.clone())
            })
            .collect();
        let limits = match existing.map(|g| &g.limits) {
            Some(limits) if limits.serves(config.redis.as_ref()) => limits.clone(),
            _ => Arc::new(crate::limits::Limits::new(config.redis.as_ref())?),
        };
        // The cache (and its place on the cluster channel) carries on while `[cache]` does not
        // change; its entries are forgotten, since routes may now lead elsewhere.
        let cache = match (config.cache.as_ref(), existing.and_then(|g| g.cache.as_ref())) {
            (None, _) => None,
            (Some(wanted), Some(cache)) if cache.serves(wanted, config.redis.as_ref()) => {
                cache.purge("reload");
                Some(cache.clone())
            }
            (Some(wanted), _) => Some(Arc::new(ResponseCache::new(wanted, config.redis.as_ref())?)),
        };
        Ok(Gateway { routes: config.routes.clone(), pools, clients, limits, cache })
    }

    /// This serving thread's client.
    fn client(&self) -> &Client<Capped, Body> {
        &self.clients[crate::worker() % self.clients.len()]
    }

    /// The response cache, when `[cache]` is configured.
    pub fn cache(&self) -> Option<&Arc<ResponseCache>> {
        self.cache.as_ref()
    }

    /// The pools, for health checks and the admin view.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.values().map(|rt| &rt.pool)
    }

    pub fn pool(&self, name: &str) -> Option<&Arc<Pool>> {
        self.pools.get(name).map(|rt| &rt.pool)
    }

    fn route(&self, host: Option<&str>, path: &str) -> Option<&RouteConfig> {
        let host = host.map(|h| h.split(':').next().unwrap_or(h));
        self.routes
            .iter()
            .filter(|r| match (&r.host, host) {
                (Some(want), Some(host)) => want.eq_ignore_ascii_case(host),
                (Some(_), None) => false,
                (None, _) => true,
            })
            .filter(|r| path_under(path, &r.path_prefix))
            .max_by_key(|r| (r.host.is_some(), r.path_prefix.len()))
    }

    /// Answers one request from `client` (`tls`: whether it came over TLS).
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        client: SocketAddr,
        tls: bool,
    ) -> Response<Body> {
        let started = Instant::now();
        let id = request_id(req.headers());
        let access = tracing::enabled!(target: "scalebase::gateway::access", tracing::Level::INFO);
        let logged = access.then(|| (req.method().clone(), req.uri().path().to_owned()));
        let (mut response, log) = self.forward(req, client, tls, &id).await;
        response.headers_mut().insert(REQUEST_ID.clone(), id.clone());
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        match (log.pool, &log.reached) {
            (Some(_), Reached::Upstream(e)) => e.requests.record(status, elapsed),
            (Some(rt), Reached::Cache) => rt.cached.record(status, elapsed),
            (Some(rt), Reached::Nothing) => rt.unreached.record(status, elapsed),
            (None, _) => sb_observe::gateway::request("-", "-", status, elapsed),
        }
        if let Some((method, path)) = logged {
            let upstream = match &log.reached {
                Reached::Nothing => "-",
                Reached::Cache => "cache",
                Reached::Upstream(e) => e.url.as_str(),
            };
            tracing::info!(
                target: "scalebase::gateway::access",
                request_id = id.to_str().unwrap_or(""),
                client = %client.ip(),
                method = %method,
                path = %path,
                status,
                pool = log.pool.map_or("-", |rt| rt.pool.name.as_str()),
                upstream,
                attempts = log.attempts,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
            );
        }
        response
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        client: SocketAddr,
        tls: bool,
        id: &HeaderValue,
    ) -> (Response<Body>, Log<'_>) {
        let mut log = Log { pool: None, reached: Reached::Nothing, attempts: 0 };
        let host = req.uri().authority().map(|a| a.as_str().to_owned()).or_else(|| {
            req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned)
        });
        let Some(route) = self.route(host.as_deref(), req.uri().path()) else {
            return (error(StatusCode::NOT_FOUND, "No route matches this request."), log);
        };
        let rt = &self.pools[&route.pool];
        let pool = &rt.pool;
        log.pool = Some(rt);
        if !self.limits.admit(route, req.headers(), client).await {
            sb_observe::gateway::rate_limited(&pool.name);
            return (error(StatusCode::TOO_MANY_REQUESTS, "Too many requests."), log);
        }
        // Cached routes look the request up; an unsafe request on any route purges the cache
        // once answered (the gateway cannot tell what it changed).
        let lookup = match (&route.cache, &self.cache) {
            (Some(cached), Some(cache)) => Some(cache.lookup(cached, &req, host.as_deref())),
            (None, Some(_)) if !req.method().is_safe() => Some(Lookup::Write),
            _ => None,
        };
        let result = match &lookup {
            Some(Lookup::Hit(_)) => "hit",
            Some(Lookup::Miss(_)) => "miss",
            Some(Lookup::Bypass) => "bypass",
            Some(Lookup::Write) | None => "",
        };
        if !result.is_empty() {
            sb_observe::gateway::cache_lookup(&pool.name, result);
        }
        if let Some(Lookup::Hit(response)) = lookup {
            log.reached = Reached::Cache;
            return (response, log);
        }
        let mut response = self.upstream(rt, req, client, tls, id, host.as_deref(), &mut log).await;
        match lookup {
            Some(Lookup::Write) if !response.status().is_client_error() => {
                if let Some(cache) = &self.cache {
                    cache.purge("write");
                }
            }
            Some(Lookup::Miss(Some(fill))) => response = fill.tee(response),
            _ => {}
        }
        if !result.is_empty() {
            let value = if result == "miss" { "MISS" } else { "BYPASS" };
            response.headers_mut().insert(X_CACHE.clone(), HeaderValue::from_static(value));
        }
        (response, log)
    }

    /// Forwards a request to `rt`'s pool: circuit breaking, picking, retries.
    #[allow(clippy::too_many_arguments)] // the request's facts, taken apart once by `forward`
    async fn upstream(
        &self,
        rt: &PoolRuntime,
        mut req: Request<Incoming>,
        client: SocketAddr,
        tls: bool,
        id: &HeaderValue,
        host: Option<&str>,
        log: &mut Log<'_>,
    ) -> Response<Body> {
        let pool = &rt.pool;
        let Some(permit) = rt.slot().await else {
            sb_observe::gateway::overflow(&pool.name);
            let message = "The upstream pool is at its limit.";
            return error(StatusCode::SERVICE_UNAVAILABLE, message);
        };

        let key = pool.hash_on.as_ref().and_then(|on| hash_key(on, req.headers(), client));
        let upgrade = wants_upgrade(&req);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let headers = forwarded_headers(&parts.headers, client, tls, host, id, upgrade);
        let path_and_query =
            parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));

        // Small bodies are read now, so the request can be tried again; larger ones stream.
        let small = body.size_hint().upper().is_some_and(|n| n <= REPLAYABLE_BODY);
        let mut replayable: Option<Bytes> = None;
        let mut streaming: Option<Incoming> = None;
        if body.is_end_stream() {
            replayable = Some(Bytes::new());
        } else if small {
            match body.collect().await {
                Ok(collected) => replayable = Some(collected.to_bytes()),
                Err(_) => {
                    return error(StatusCode::BAD_REQUEST, "The request body could not be read.");
                }
            }
        } else {
            streaming = Some(body);
        }
        let idempotent = is_idempotent(&parts.method, &parts.headers);
        rt.budget.deposit();

        let retry = &pool.config.retry;
        let mut tried: Vec<Arc<crate::pool::Endpoint>> = Vec::new();
        let mut last: Option<(Response<Body>, InFlight)> = None;
        let mut last_error = (StatusCode::BAD_GATEWAY, "The upstream could not be reached.");
        for attempt in 1..=retry.attempts {
            let Some(inflight) = pool.pick(key, &tried) else { break };
            let endpoint = inflight.endpoint.clone();
            log.attempts = attempt;
            log.reached = Reached::Upstream(endpoint.clone());
            let Some(uri) = upstream_uri(&endpoint.upstream, &path_and_query) else {
                return error(StatusCode::BAD_REQUEST, "The request path is invalid.");
            };
            let body: Body = match (&replayable, streaming.take()) {
                (Some(bytes), _) => {
                    Full::new(bytes.clone()).map_err(|never| match never {}).boxed()
                }
                (None, Some(incoming)) => incoming.boxed(),
                (None, None) => break,
            };
            let mut upstream_req = Request::new(body);
            *upstream_req.method_mut() = parts.method.clone();
            *upstream_req.version_mut() = Version::HTTP_11;
            *upstream_req.headers_mut() = headers.clone();
            *upstream_req.uri_mut() = uri;
            let outcome =
                tokio::time::timeout(retry.per_try_timeout(), self.client().request(upstream_req))
                    .await;
            let can_retry = replayable.is_some() && attempt < retry.attempts;
            let reason = match outcome {
                Ok(Ok(response)) => {
                    inflight.answered();
                    let status = response.status();
                    if matches!(status.as_u16(), 502..=504) {
                        pool.failed(&endpoint);
                        last = Some((response.map(BodyExt::boxed), inflight));
                        if !(idempotent && can_retry) {
                            break;
                        }
                        "status"
                    } else {
                        pool.succeeded(&endpoint);
                        drop(permit);
                        return respond(response, inflight, client_upgrade);
                    }
                }
                Ok(Err(e)) => {
                    pool.failed(&endpoint);
                    let connect = e.is_connect();
                    tracing::debug!(pool = %pool.name, upstream = %endpoint.url, error = %e, "upstream request failed");
                    last_error = (StatusCode::BAD_GATEWAY, "The upstream could not be reached.");
                    // A request that never reached the upstream may go elsewhere whatever its
                    // method; one that may have been seen, only when it is idempotent.
                    if !(can_retry && (connect || idempotent)) {
                        break;
                    }
                    if connect { "connect" } else { "reset" }
                }
                Err(_) => {
                    pool.failed(&endpoint);
                    last_error =
                        (StatusCode::GATEWAY_TIMEOUT, "The upstream did not answer in time.");
                    if !(idempotent && can_retry) {
                        break;
                    }
                    "timeout"
                }
            };
            if !rt.budget.withdraw() {
                sb_observe::gateway::budget_exhausted(&pool.name);
                break;
            }
            sb_observe::gateway::retry(&pool.name, reason);
            tried.push(endpoint);
        }
        drop(permit);
        match last {
            Some((response, inflight)) => {
                let response = response.map(|body| guard(body, inflight));
                strip_response(response)
            }
            None => error(last_error.0, last_error.1),
        }
    }
}

/// What the access log and the metrics say of a request.
struct Log<'a> {
    pool: Option<&'a PoolRuntime>,
    reached: Reached,
    attempts: u32,
}

/// Where a request's answer came from.
enum Reached {
    Nothing,
    Cache,
    Upstream(Arc<crate::pool::Endpoint>),
}

/// `http://<upstream>/<its base path><path and query>`; `None` when that is not a valid URI.
fn upstream_uri(upstream: &UpstreamUrl, path_and_query: &PathAndQuery) -> Option<Uri> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(upstream.authority.clone());
    parts.path_and_query = Some(if upstream.base_path.is_empty() {
        path_and_query.clone()
    } else {
        format!("{}{path_and_query}", upstream.base_path).parse().ok()?
    });
    Uri::from_parts(parts).ok()
}

fn path_under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || (path.starts_with(prefix)
            && (prefix.ends_with('/') || path.as_bytes()[prefix.len()] == b'/'))
}

/// The request's own id when it sent a sane one, else a new one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let id: u128 = rand::random();
            let mut text = [0u8; 32];
            for (i, c) in text.iter_mut().enumerate() {
                *c = HEX[((id >> (124 - 4 * i)) & 0xf) as usize];
            }
            HeaderValue::from_bytes(&text).expect("hex is a valid header value")
        })
}

fn is_idempotent(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    ) || headers.contains_key("idempotency-key")
}

fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn wants_upgrade<B>(req: &Request<B>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && connection_tokens(req.headers()).iter().any(|t| t == "upgrade")
}

/// The headers sent upstream: hop-by-hop ones (and any the `Connection` header names)
/// dropped, `X-Forwarded-*` and `Forwarded` set by the gateway (never trusted from the
/// client), the request id, and `Upgrade` kept for tunnels.
fn forwarded_headers(
    headers: &HeaderMap,
    client: SocketAddr,
    tls: bool,
    host: Option<&str>,
    id: &HeaderValue,
    upgrade: bool,
) -> HeaderMap {
    use std::fmt::Write as _;
    static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

    let mut out = headers.clone();
    // `Connection: upgrade` names the Upgrade header, which a tunnel keeps.
    let protocol = headers.get(header::UPGRADE).cloned().filter(|_| upgrade);
    strip_hop_by_hop(&mut out);
    let proto = if tls { "https" } else { "http" };
    let ip = client.ip();
    let mut text = String::with_capacity(96);
    write!(text, "{ip}").ok();
    if let Ok(v) = HeaderValue::from_str(&text) {
        out.insert(&X_FORWARDED_FOR, v);
    }
    out.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    text.clear();
    if ip.is_ipv6() {
        write!(text, "for=\"[{ip}]\";proto={proto}").ok();
    } else {
        write!(text, "for={ip};proto={proto}").ok();
    }
    out.remove(&X_FORWARDED_HOST);
    if let Some(host) = host {
        if let Ok(v) = HeaderValue::from_str(host) {
            if !out.contains_key(header::HOST) {
                out.insert(header::HOST, v.clone());
            }
            out.insert(&X_FORWARDED_HOST, v);
        }
        if host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
            text.push_str(";host=");
            text.push_str(host);
        }
    }
    match HeaderValue::from_str(&text) {
        Ok(v) => out.insert(&FORWARDED, v),
        Err(_) => out.remove(&FORWARDED),
    };
    out.insert(REQUEST_ID.clone(), id.clone());
    match protocol {
        Some(protocol) => {
            out.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            out.insert(header::UPGRADE, protocol);
        }
        None => {
            out.remove(header::UPGRADE);
        }
    }
    out
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for token in connection_tokens(headers) {
        if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

fn strip_response(mut response: Response<Body>) -> Response<Body> {
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        strip_hop_by_hop(response.headers_mut());
        response.headers_mut().remove(header::UPGRADE);
    }
    response
}

/// The response to send back: streamed, counting as in flight to its upstream until its body
/// ends; a `101` also joins the two upgraded connections.
fn respond(
    mut response: Response<Incoming>,
    inflight: InFlight,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<Body> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let _inflight = inflight;
                let (Ok(client), Ok(upstream)) = tokio::join!(client_upgrade, upstream_upgrade)
                else {
                    return;
                };
                let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    tracing::debug!(error = %e, "upgraded connection ended with an error");
                }
            });
            return response.map(BodyExt::boxed);
        }
        return error(StatusCode::BAD_GATEWAY, "The upstream switched protocols unasked.");
    }
    strip_response(response.map(|body| guard(body.boxed(), inflight)))
}

/// A body that keeps its request counted as in flight until it ends.
struct Guarded {
    inner: Body,
    _inflight: InFlight,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn guard(inner: Body, inflight: InFlight) -> Body {
    Guarded { inner, _inflight: inflight }.boxed()
}

/// A response of the gateway itself, in the PocketBase error format.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({"status": status.as_u16(), "message": message, "data": {}});
    let mut response = Response::new(
        Full::new(Bytes::from(body.to_string())).map_err(|never| match never {}).boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn hash_key(on: &HashOn, headers: &HeaderMap, client: SocketAddr) -> Option<u64> {
    match on {
        HashOn::ClientIp => Some(hash_of(&client.ip())),
        HashOn::Header(name) => headers.get(name).map(|v| hash_of(&v.as_bytes())),
        HashOn::Cookie(name) => headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| k == name)
            .map(|(_, v)| hash_of(&v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_forwarding_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, X-Secret"));
        h.insert("x-secret", HeaderValue::from_static("s"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        let id = HeaderValue::from_static("abc");
        let client: SocketAddr = "10.0.0.7:5000".parse().unwrap();
        let out = forwarded_headers(&h, client, false, Some("api.test:8080"), &id, false);
        for gone in ["connection", "x-secret", "keep-alive", "transfer-encoding", "upgrade"] {
            assert!(!out.contains_key(gone), "{gone} forwarded");
        }
        assert_eq!(out["x-forwarded-for"], "10.0.0.7", "the client's claim is replaced");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-forwarded-host"], "api.test:8080");
        assert_eq!(out["forwarded"], "for=10.0.0.7;proto=http;host=api.test:8080");
        assert_eq!(out["x-request-id"], "abc");
        assert_eq!(out["x-kept"], "yes");
        let v6: SocketAddr = "[::1]:5000".parse().unwrap();
        let out = forwarded_headers(&h, v6, true, None, &id, true);
        assert_eq!(out["forwarded"], "for=\"[::1]\";proto=https");
        assert_eq!(out["connection"], "upgrade");
        assert_eq!(out["upgrade"], "websocket");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(path_under("/api/x", "/api"));
        assert!(path_under("/api", "/api"));
        assert!(!path_under("/apix", "/api"));
        assert!(path_under("/anything", "/"));
        assert!(path_under("/static/a.css", "/static/"));
    }

    #[test]
    fn request_ids_are_kept_when_sane() {
        let mut h = HeaderMap::new();
        assert_eq!(request_id(&h).len(), 32);
        h.insert("x-request-id", HeaderValue::from_static("trace-1"));
        assert_eq!(request_id(&h), "trace-1");
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
    }
}
