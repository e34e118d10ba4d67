//! The response cache of the routes that have `cache` (a shared cache in RFC 9111's terms).
//!
//! What is stored: answers to GET (a HEAD is answered from the GET entry; a HEAD that misses
//! goes upstream as HEAD and is not stored) whose status is heuristically cacheable (200, 203,
//! 204, 300, 301, 308, 404, 405, 410, 414, 501), whose `Cache-Control` has none of `no-store`,
//! `private` or `no-cache` (this cache never revalidates, so `no-cache` means not stored), with
//! no `Set-Cookie`, no `Vary: *`, no trailers, not `text/event-stream`, and a body of at most
//! the route's `max_body_bytes`. Freshness: `s-maxage`, else `max-age`, else `Expires` − `Date`,
//! else the route's `ttl_ms`, less the upstream's `Age`. Stale entries are never served.
//!
//! Keys: host, path and query (not the scheme, not the method), then the values of the
//! request headers the answer's `Vary` names (the `Vary` list is kept per target; an answer
//! with `Content-Encoding` also varies on `Accept-Encoding`). Requests with `Authorization`
//! or `Cookie` (PocketBase's auth is the `Authorization` header; other services may use
//! cookies) neither read nor fill the cache unless the route says `authorized = true`; then
//! both values are part of the key, so each credential sees only what was fetched with it.
//!
//! Request directives: `no-store` bypasses the cache; `no-cache`, `max-age=0` (and `Pragma:
//! no-cache` without `Cache-Control`) go upstream and may store the answer; `max-age=N` serves
//! only entries at most N seconds old. `Range` requests and upgrades bypass the cache.
//!
//! Answers on cached routes carry `X-Cache`: `HIT` (served from the cache, with `Age` and the
//! request's own `X-Request-Id`), `MISS` (went upstream; the answer may have been stored) or
//! `BYPASS` (neither read nor filled: credentials, `no-store`, `Range`, or a cache that does
//! not hear its invalidation channel).
//!
//! Coherence: every purge forgets everything (the gateway cannot tell which answers a write
//! changes: expansions and rules read other collections) and moves the generation; an entry
//! carries the generation its request started at and is served only while that is still the
//! current one, so a fill that raced a purge is never served. Purges come from the nodes'
//! `invalidate` messages (`cluster.rs`), from unsafe requests (POST, PUT, PATCH, DELETE, on any
//! route) through the gateway whose answer is not a 4xx (RFC 9111 §4.4; this also covers
//! writes by a node cut off from the channel, when they go through this gateway), from link
//! loss and reconnection, and from a reload. Nodes wait for the gateway's `ack` before they
//! acknowledge a write, so a write acknowledged by a node that hears the channel is never
//! hidden. What remains: a write made by a node that does not reach the channel (it announces
//! it through the database's epoch count, which the gateway does not read) and not sent
//! through this gateway can be hidden for at most the entry's freshness; keep `ttl_ms` short
//! where that matters.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use tokio::task::JoinHandle;

use crate::cluster::Membership;
use crate::config::{CacheConfig, Invalidations, RedisConfig, RouteCacheConfig};
use crate::proxy::Body;

/// The header telling clients what the cache did.
pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");

/// What a stored entry costs besides its body and headers (key, bookkeeping).
const ENTRY_OVERHEAD: u32 = 256;

/// One stored answer.
struct Entry {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    stored: Instant,
    /// The upstream's `Age` when it was received.
    initial_age: Duration,
    lifetime: Duration,
    /// The generation its request started at: served only while it is the current one.
    generation: u64,
}

impl Entry {
    fn age(&self) -> Duration {
        self.initial_age + self.stored.elapsed()
    }
}

#[derive(Clone)]
enum Stored {
    /// The header names the answers for a target vary on.
    Vary(Arc<[HeaderName]>),
    Answer(Arc<Entry>),
}

/// What the cache holds and its coherence state; the channel tasks hold it weakly.
pub(crate) struct Shared {
    store: moka::sync::Cache<String, Stored>,
    generation: AtomicU64,
    /// The gateway's standing on the invalidation channel (`None`: no channel, TTL only).
    pub(crate) membership: Option<Membership>,
}

impl Shared {
    /// Forgets everything; fills that started before are never served.
    pub(crate) fn purge(&self, reason: &'static str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.store.invalidate_all();
        sb_observe::gateway::cache_purge(reason);
        tracing::debug!(reason, "response cache purged");
    }

    /// Whether entries may be served and stored now.
    fn trusted(&self) -> bool {
        self.membership.as_ref().is_none_or(Membership::trusted)
    }

    /// Whether a fill starting now may be stored: trusted, and no node is still applying a
    /// write it announced (its answers could predate the write).
    fn settled(&self) -> bool {
        self.membership.as_ref().is_none_or(|m| m.trusted() && m.settled())
    }

    pub(crate) fn report_size(&self) {
        self.store.run_pending_tasks();
        sb_observe::gateway::cache_size(
            self.store.weighted_size(),
            self.store.entry_count(),
            self.trusted(),
        );
    }
}

/// The gateway's response cache, kept across reloads while `[cache]` does not change.
pub struct ResponseCache {
    shared: Arc<Shared>,
    config: CacheConfig,
    invalidations: Invalidations,
    tasks: Vec<JoinHandle<()>>,
}

impl ResponseCache {
    /// A cache sized and connected as `config` says (`redis`: the `[redis]` section).
    pub fn new(config: &CacheConfig, redis: Option<&RedisConfig>) -> anyhow::Result<ResponseCache> {
        let invalidations = config.invalidations(redis)?;
        let node = format!("gateway-{:016x}", rand::random::<u64>());
        let membership = match invalidations {
            Invalidations::None => None,
            _ => Some(Membership::new(node)),
        };
        let store = moka::sync::Cache::builder()
            .max_capacity(config.max_bytes())
            .weigher(|key: &String, stored: &Stored| {
                let size = match stored {
                    Stored::Vary(names) => names.iter().map(|n| n.as_str().len()).sum(),
                    Stored::Answer(entry) => {
                        entry.body.len()
                            + entry
                                .headers
                                .iter()
                                .map(|(n, v)| n.as_str().len() + v.len())
                                .sum::<usize>()
                    }
                };
                u32::try_from(size + key.len()).unwrap_or(u32::MAX).saturating_add(ENTRY_OVERHEAD)
            })
            .build();
        let shared = Arc::new(Shared { store, generation: AtomicU64::new(0), membership });
        let mut tasks = vec![tokio::spawn(report(Arc::downgrade(&shared)))];
        if shared.membership.is_some() {
            tasks.extend(crate::cluster::start(&invalidations, Arc::downgrade(&shared))?);
        }
        Ok(ResponseCache { shared, config: config.clone(), invalidations, tasks })
    }

    /// Whether this cache is what `config` asks for (else a reload builds a new one).
    pub fn serves(&self, config: &CacheConfig, redis: Option<&RedisConfig>) -> bool {
        self.config == *config
            && config.invalidations(redis).ok() == Some(self.invalidations.clone())
    }

    pub fn purge(&self, reason: &'static str) {
        self.shared.purge(reason);
    }

    /// Whether the cache is in use now (it hears its channel, when it has one).
    pub fn trusted(&self) -> bool {
        self.shared.trusted()
    }

    /// The gateway's id on the cluster channel (`None` without one).
    pub fn node_id(&self) -> Option<&str> {
        self.shared.membership.as_ref().map(Membership::node)
    }

    /// Nodes heard on the channel lately.
    pub fn peers(&self) -> usize {
        self.shared.membership.as_ref().map_or(0, Membership::live_peers)
    }

    /// What to do with a request on a route cached as `route` (`host`: the request's).
    pub(crate) fn lookup<B>(
        &self,
        route: &RouteCacheConfig,
        req: &Request<B>,
        host: Option<&str>,
    ) -> Lookup {
        let method = req.method();
        if !(method == Method::GET || method == Method::HEAD) {
            return if is_unsafe(method) { Lookup::Write } else { Lookup::Bypass };
        }
        let headers = req.headers();
        let directives = Directives::of(headers.get_all(header::CACHE_CONTROL));
        let credentials =
            headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE);
        if (credentials && !route.authorized)
            || directives.no_store
            || headers.contains_key(header::RANGE)
            || headers.contains_key(header::UPGRADE)
            || !self.shared.trusted()
        {
            return Lookup::Bypass;
        }
        let mut target = format!(
            "{}\n{}",
            host.unwrap_or("").to_ascii_lowercase(),
            req.uri().path_and_query().map_or("/", |p| p.as_str())
        );
        if route.authorized {
            for name in [header::AUTHORIZATION, header::COOKIE] {
                target.push('\n');
                for value in headers.get_all(&name) {
                    target.push_str(&String::from_utf8_lossy(value.as_bytes()));
                    target.push('\u{0}');
                }
            }
        }
        // Taken before anything is read: a purge from now on makes this fill unservable.
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let revalidate = directives.no_cache
            || directives.max_age == Some(0)
            || (!headers.contains_key(header::CACHE_CONTROL)
                && headers.get_all(header::PRAGMA).iter().any(|v| {
                    v.to_str().is_ok_and(|v| v.to_ascii_lowercase().contains("no-cache"))
                }));
        if !revalidate && let Some(hit) = self.hit(&target, headers, method, directives.max_age) {
            return Lookup::Hit(hit);
        }
        if method == Method::HEAD {
            return Lookup::Miss(None);
        }
        let fill = Fill {
            shared: Arc::downgrade(&self.shared),
            target,
            request_headers: headers.clone(),
            generation,
            storable: self.shared.settled(),
            ttl: route.ttl(),
            max_body: route.max_body_bytes,
            sent: Instant::now(),
        };
        Lookup::Miss(Some(fill))
    }

    fn hit(
        &self,
        target: &str,
        headers: &HeaderMap,
        method: &Method,
        max_age: Option<u64>,
    ) -> Option<Response<Body>> {
        let Some(Stored::Vary(names)) = self.shared.store.get(target) else { return None };
        let Some(Stored::Answer(entry)) =
            self.shared.store.get(&variant_key(target, &names, headers))
        else {
            return None;
        };
        let age = entry.age();
        let current = entry.generation == self.shared.generation.load(Ordering::SeqCst);
        if !current
            || !self.shared.trusted()
            || age >= entry.lifetime
            || max_age.is_some_and(|max| age.as_secs() > max)
        {
            return None;
        }
        let body = if method == Method::HEAD { Bytes::new() } else { entry.body.clone() };
        let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
        *response.status_mut() = entry.status;
        *response.headers_mut() = entry.headers.clone();
        let out = response.headers_mut();
        if entry.status != StatusCode::NO_CONTENT && entry.status != StatusCode::NOT_MODIFIED {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(entry.body.len()));
        }
        out.insert(header::AGE, HeaderValue::from(age.as_secs()));
        out.insert(X_CACHE.clone(), HeaderValue::from_static("HIT"));
        Some(response)
    }
}

impl Drop for ResponseCache {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Reports the cache's size every second while it lives.
async fn report(shared: Weak<Shared>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        shared.report_size();
    }
}

/// What the cache does with one request.
pub(crate) enum Lookup {
    /// Answered from the cache.
    Hit(Response<Body>),
    /// Goes upstream; a GET's answer is offered to the [`Fill`].
    Miss(Option<Fill>),
    /// Goes upstream; the cache is neither read nor filled.
    Bypass,
    /// An unsafe method: a successful answer purges the cache.
    Write,
}

/// POST, PUT, PATCH, DELETE and any extension method (RFC 9110 §9.2.1).
fn is_unsafe(method: &Method) -> bool {
    !method.is_safe()
}

/// A GET that missed: stores its answer if HTTP allows and no purge came in between.
pub(crate) struct Fill {
    shared: Weak<Shared>,
    target: String,
    request_headers: HeaderMap,
    generation: u64,
    /// False when a write was still being applied by some node as the request started.
    storable: bool,
    ttl: Duration,
    max_body: u64,
    sent: Instant,
}

impl Fill {
    /// Wraps `response` so that its body, passed on as it streams, is also stored once it has
    /// ended, when the answer may be stored.
    pub(crate) fn tee(self, response: Response<Body>) -> Response<Body> {
        let Some(plan) = self.plan(&response) else { return response };
        let (parts, body) = response.into_parts();
        let mut headers = parts.headers.clone();
        headers.remove(&crate::proxy::REQUEST_ID);
        headers.remove(&X_CACHE);
        if body.is_end_stream() {
            self.store(plan, parts.status, headers, Bytes::new());
            return Response::from_parts(parts, body);
        }
        let expected =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let tee = Tee {
            inner: body,
            chunks: Some(Vec::new()),
            size: 0,
            expected,
            fill: Some((self, plan, parts.status, headers)),
        };
        Response::from_parts(parts, tee.boxed())
    }

    /// How the answer would be stored, if it may be.
    fn plan(&self, response: &Response<Body>) -> Option<Plan> {
        if !self.storable || !storable_status(response.status()) {
            return None;
        }
        let headers = response.headers();
        let directives = Directives::of(headers.get_all(header::CACHE_CONTROL));
        if directives.no_store
            || directives.private
            || directives.no_cache
            || headers.contains_key(header::SET_COOKIE)
        {
            return None;
        }
        let event_stream = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
        let too_big = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|n| n > self.max_body);
        if event_stream || too_big {
            return None;
        }
        let mut vary: Vec<HeaderName> = Vec::new();
        for value in headers.get_all(header::VARY) {
            for name in value.to_str().ok()?.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if name == "*" {
                    return None;
                }
                vary.push(HeaderName::from_bytes(name.as_bytes()).ok()?);
            }
        }
        if headers.contains_key(header::CONTENT_ENCODING) {
            vary.push(header::ACCEPT_ENCODING);
        }
        vary.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        vary.dedup();
        let initial_age = headers
            .get(header::AGE)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or_default()
            + self.sent.elapsed();
        let lifetime = freshness(headers, &directives).unwrap_or(self.ttl);
        if lifetime <= initial_age {
            return None;
        }
        Some(Plan { vary: vary.into(), initial_age, lifetime })
    }

    fn store(self, plan: Plan, status: StatusCode, headers: HeaderMap, body: Bytes) {
        let Some(shared) = self.shared.upgrade() else { return };
        if shared.generation.load(Ordering::SeqCst) != self.generation || !shared.trusted() {
            return;
        }
        let key = variant_key(&self.target, &plan.vary, &self.request_headers);
        let entry = Entry {
            status,
            headers,
            body,
            stored: Instant::now(),
            initial_age: plan.initial_age,
            lifetime: plan.lifetime,
            generation: self.generation,
        };
        shared.store.insert(self.target, Stored::Vary(plan.vary));
        shared.store.insert(key, Stored::Answer(Arc::new(entry)));
    }
}

struct Plan {
    vary: Arc<[HeaderName]>,
    initial_age: Duration,
    lifetime: Duration,
}

/// Statuses a cache may store without explicit freshness (RFC 9110 §15.1), less 206 (ranges
/// are not cached).
fn storable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501)
}

/// The key of the answer to `target` for a request with `headers`, given what it varies on.
fn variant_key(target: &str, vary: &[HeaderName], headers: &HeaderMap) -> String {
    let mut key = format!("{target}\n#");
    for name in vary {
        key.push('\n');
        key.push_str(name.as_str());
        key.push('=');
        for value in headers.get_all(name) {
            key.push_str(&String::from_utf8_lossy(value.as_bytes()));
            key.push('\u{0}');
        }
    }
    key
}

/// The explicit freshness of an answer, if it has one.
fn freshness(headers: &HeaderMap, directives: &Directives) -> Option<Duration> {
    if let Some(seconds) = directives.s_maxage.or(directives.max_age) {
        return Some(Duration::from_secs(seconds));
    }
    let expires = headers.get(header::EXPIRES)?;
    // An invalid `Expires` means already expired (RFC 9111 §5.3).
    let Some(expires) = expires.to_str().ok().and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return Some(Duration::ZERO);
    };
    let date = headers
        .get(header::DATE)
        .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok())
        .unwrap_or_else(SystemTime::now);
    Some(expires.duration_since(date).unwrap_or_default())
}

/// The `Cache-Control` directives this cache acts on.
#[derive(Debug, Default, PartialEq)]
struct Directives {
    no_store: bool,
    no_cache: bool,
    private: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

impl Directives {
    fn of<'a>(values: impl IntoIterator<Item = &'a HeaderValue>) -> Directives {
        let mut d = Directives::default();
        for value in values {
            // A value that is not text is ignored as a whole, as an unknown directive would be.
            let Ok(text) = value.to_str() else { continue };
            for directive in split_directives(text) {
                let (name, argument) = match directive.split_once('=') {
                    Some((name, argument)) => {
                        (name.trim(), Some(argument.trim().trim_matches('"')))
                    }
                    None => (directive.trim(), None),
                };
                // Delta-seconds beyond what fits are as good as forever; a malformed one
                // means stale (0), the safe reading.
                let seconds = || {
                    argument.map(|a| {
                        if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) {
                            a.parse::<u64>().unwrap_or(u64::from(u32::MAX))
                        } else {
                            0
                        }
                    })
                };
                match name.to_ascii_lowercase().as_str() {
                    "no-store" => d.no_store = true,
                    // `no-cache="field"` and `private="field"` are taken whole: stricter.
                    "no-cache" => d.no_cache = true,
                    "private" => d.private = true,
                    "max-age" => {
                        d.max_age = seconds().or(Some(0)).min(d.max_age.or(Some(u64::MAX)))
                    }
                    "s-maxage" => {
                        d.s_maxage = seconds().or(Some(0)).min(d.s_maxage.or(Some(u64::MAX)))
                    }
                    _ => {}
                }
            }
        }
        d
    }
}

/// Splits a `Cache-Control` value at the commas outside quoted strings.
fn split_directives(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// A response body passed on frame by frame and copied aside, up to the fill's limit; stored
/// when it has ended cleanly (a client that goes away, an error, trailers or too many bytes
/// store nothing).
struct Tee {
    inner: Body,
    /// What was copied so far (`None` once the answer cannot be stored).
    chunks: Option<Vec<Bytes>>,
    size: u64,
    /// The declared length: once that much has come the body is complete (hyper stops
    /// polling a body of known length after its last byte).
    expected: Option<u64>,
    fill: Option<(Fill, Plan, StatusCode, HeaderMap)>,
}

impl Tee {
    fn store(&mut self) {
        if let (Some(chunks), Some((fill, plan, status, headers))) =
            (self.chunks.take(), self.fill.take())
        {
            let body = if chunks.len() == 1 {
                chunks.into_iter().next().unwrap_or_default()
            } else {
                Bytes::from(chunks.concat())
            };
            fill.store(plan, status, headers, body);
        }
    }
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => match frame.data_ref() {
                Some(data) => {
                    this.size += data.len() as u64;
                    let limit = this.fill.as_ref().map_or(0, |(fill, ..)| fill.max_body);
                    match this.chunks.as_mut() {
                        Some(chunks) if this.size <= limit => chunks.push(data.clone()),
                        _ => this.chunks = None,
                    }
                    if this.expected.is_some_and(|n| this.size >= n) {
                        if this.expected != Some(this.size) {
                            this.chunks = None;
                        }
                        this.store();
                    }
                }
                None => this.chunks = None,
            },
            Poll::Ready(Some(Err(_))) => this.chunks = None,
            Poll::Ready(None) => {
                if this.expected.is_some_and(|n| n != this.size) {
                    this.chunks = None;
                }
                this.store();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        // While copying, the end is seen through `poll_frame`, so that the entry is stored.
        let copying = self.fill.is_some() && self.chunks.is_some();
        !copying && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(text: &str) -> Directives {
        Directives::of([&HeaderValue::from_str(text).unwrap()])
    }

    #[test]
    fn directives_are_read_case_blind_with_quotes_and_bad_numbers() {
        let d = cc("Public, MAX-AGE=60, s-maxage=\"30\"");
        assert_eq!((d.max_age, d.s_maxage, d.no_store), (Some(60), Some(30), false));
        let d = cc("no-cache=\"set-cookie, x-a\", private");
        assert!(d.no_cache && d.private && !d.no_store);
        assert_eq!(cc("max-age=abc").max_age, Some(0), "malformed means stale");
        assert_eq!(cc("max-age").max_age, Some(0));
        assert_eq!(cc("max-age=99999999999999999999999").max_age, Some(u64::from(u32::MAX)));
        assert_eq!(cc("max-age=5, max-age=9").max_age, Some(5), "the stricter one");
        assert!(cc(",,no-store,,").no_store);
    }

    #[test]
    fn freshness_prefers_s_maxage_then_max_age_then_expires() {
        let mut h = HeaderMap::new();
        assert_eq!(freshness(&h, &cc("")), None);
        h.insert(header::DATE, HeaderValue::from_static("Tue, 15 Nov 1994 08:12:31 GMT"));
        h.insert(header::EXPIRES, HeaderValue::from_static("Tue, 15 Nov 1994 08:13:31 GMT"));
        assert_eq!(freshness(&h, &cc("")), Some(Duration::from_secs(60)));
        assert_eq!(freshness(&h, &cc("max-age=5")), Some(Duration::from_secs(5)));
        assert_eq!(freshness(&h, &cc("max-age=5, s-maxage=7")), Some(Duration::from_secs(7)));
        h.insert(header::EXPIRES, HeaderValue::from_static("0"));
        assert_eq!(freshness(&h, &cc("")), Some(Duration::ZERO), "invalid Expires: expired");
    }

    #[test]
    fn variant_keys_separate_vary_values_and_absence() {
        let mut a = HeaderMap::new();
        a.insert("accept-language", HeaderValue::from_static("fr"));
        let b = HeaderMap::new();
        let vary = [HeaderName::from_static("accept-language")];
        assert_ne!(variant_key("t", &vary, &a), variant_key("t", &vary, &b));
        assert_eq!(variant_key("t", &[], &a), variant_key("t", &[], &b));
    }
}
