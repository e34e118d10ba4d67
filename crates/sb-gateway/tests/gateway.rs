//! The gateway against in-process upstreams on loopback, each on a runtime of its own so that
//! "killing" one drops every socket it holds at once (like `kill -9`). Every load loop is
//! bounded and stops itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use sb_gateway::{GatewayConfig, Running};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How an upstream behaves.
#[derive(Default)]
struct Behaviour {
    /// Answers every request (health checks included) with this status when set.
    status: AtomicU64,
    /// Never answers (health checks included).
    hang: AtomicBool,
    /// Requests seen (health checks excluded).
    hits: AtomicUsize,
    /// Releases `/slow` and the second SSE event.
    release: tokio::sync::Notify,
    /// The client ports `/slow` was asked from (one per connection).
    ports: std::sync::Mutex<std::collections::HashSet<u16>>,
}

struct Upstream {
    url: String,
    behaviour: Arc<Behaviour>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Upstream {
    fn start(name: &str) -> Upstream {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let behaviour = Arc::new(Behaviour::default());
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", std_listener.local_addr().unwrap());
        let state = (name.to_owned(), behaviour.clone());
        runtime.spawn(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let app = axum::Router::new()
                .route("/api/health", get(health))
                .route("/slow", get(slow))
                .route("/sse", get(sse))
                .route("/upgrade", get(upgrade))
                .route("/big", post(big_in).get(big_out))
                .route("/c", any(cacheable))
                .route("/t", any(cacheable))
                .fallback(any(echo))
                .with_state(state);
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .ok();
        });
        Upstream { url, behaviour, runtime: Some(runtime) }
    }

    /// Drops the upstream's runtime: every socket closes at once.
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    fn hits(&self) -> usize {
        self.behaviour.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill();
    }
}

type St = State<(String, Arc<Behaviour>)>;

async fn gate(b: &Behaviour) -> Option<Response> {
    if b.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    match b.status.load(Ordering::SeqCst) as u16 {
        0 => None,
        status => {
            Some((axum::http::StatusCode::from_u16(status).unwrap(), "forced").into_response())
        }
    }
}

async fn health(State((_, b)): St) -> Response {
    gate(&b).await.unwrap_or_else(|| "ok".into_response())
}

async fn echo(State((name, b)): St, req: Request) -> Response {
    b.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = gate(&b).await {
        return r;
    }
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let method = req.method().to_string();
    let path = req.uri().to_string();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
    axum::Json(json!({"upstream": name, "method": method, "path": path, "headers": headers, "body": body.len()}))
        .into_response()
}

/// An answer shaped by the query: `cc` (Cache-Control), `vary` (Vary; the body echoes that
/// request header), `cookie` (a Set-Cookie), `status`, `sse` (text/event-stream), `size` (a
/// body of that many bytes, `chunked` to stream it without a length). The body's `n` numbers
/// the requests this upstream has seen.
async fn cacheable(State((name, b)): St, req: Request) -> Response {
    let n = b.hits.fetch_add(1, Ordering::SeqCst) + 1;
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header =
        |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let status = query.get("status").and_then(|s| s.parse().ok()).unwrap_or(200u16);
    let mut response = axum::http::Response::builder().status(status);
    if let Some(cc) = query.get("cc") {
        response = response.header("cache-control", cc);
    }
    if let Some(vary) = query.get("vary") {
        response = response.header("vary", vary);
    }
    if query.contains_key("cookie") {
        response = response.header("set-cookie", "sid=1");
    }
    if query.contains_key("sse") {
        response = response.header("content-type", "text/event-stream");
    }
    if let Some(size) = query.get("size").and_then(|s| s.parse::<usize>().ok()) {
        let body = pattern(size);
        if query.contains_key("chunked") {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                body.chunks(1000).map(|c| Ok(c.to_vec())).collect();
            let stream = futures::stream::iter(chunks);
            return response.body(axum::body::Body::from_stream(stream)).unwrap();
        }
        return response.body(axum::body::Body::from(body)).unwrap();
    }
    let vary = query.get("vary").map(|v| header(v)).unwrap_or_default();
    let body = json!({"upstream": name, "n": n, "method": req.method().as_str(), "vary": vary,
                      "auth": header("authorization")});
    response
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

async fn slow(
    State((name, b)): St,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
) -> Response {
    b.ports.lock().unwrap().insert(peer.port());
    b.hits.fetch_add(1, Ordering::SeqCst);
    b.release.notified().await;
    name.into_response()
}

async fn sse(State((_, b)): St) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        tx.send(Ok("data: one\n\n".into())).await.ok();
        b.release.notified().await;
        tx.send(Ok("data: two\n\n".into())).await.ok();
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    ([("content-type", "text/event-stream")], axum::body::Body::from_stream(stream)).into_response()
}

async fn upgrade(mut req: Request) -> Response {
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on.await else { return };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        let mut buf = [0u8; 1024];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    axum::http::Response::builder()
        .status(101)
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(axum::body::Body::empty())
        .unwrap()
}

async fn big_in(req: Request) -> String {
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
    format!("{} {:08x}", body.len(), crc32fast::hash(&body))
}

async fn big_out() -> Vec<u8> {
    pattern(8 << 20)
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A gateway serving `config` (its listener replaced by a free port).
struct Gw {
    url: String,
    running: Arc<Running>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gw {
    async fn start(config: GatewayConfig) -> Gw {
        let running = Running::start(&config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = running.clone();
        let task = tokio::spawn(async move {
            serving
                .serve(listener, Duration::from_secs(5), async move {
                    stopped.await.ok();
                })
                .await
        });
        Gw { url, running, stop: Some(stop), task }
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).ok();
        self.task.await.unwrap().unwrap();
    }
}

fn config(upstreams: &[&Upstream], extra: &str) -> GatewayConfig {
    let list: Vec<String> =
        upstreams.iter().map(|u| format!("{{ url = \"{}\" }}", u.url)).collect();
    // Fast checks unless `extra` sets its own.
    let health = if extra.contains("health =") {
        ""
    } else {
        "health = { path = \"/api/health\", interval_ms = 100, timeout_ms = 200, rise = 1, fall = 2 }"
    };
    let text = format!(
        "[[listeners]]\naddr = \"127.0.0.1:0\"\n[[pools]]\nname = \"p\"\nupstreams = [{}]\n\
         {health}\n{extra}\n[[routes]]\npool = \"p\"\n",
        list.join(", ")
    );
    GatewayConfig::from_toml(&text).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap()
}

async fn wait_until(what: &str, limit: Duration, done: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

fn healthy(gw: &Gw, i: usize) -> bool {
    gw.running.current().pool("p").unwrap().endpoints()[i].is_healthy()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_spread_and_forwarded_with_clean_headers() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let gw = Gw::start(config(&[&a, &b], "")).await;
    let client = http();
    let mut seen = std::collections::HashMap::new();
    for _ in 0..10 {
        let r = client
            .get(format!("{}/api/collections/x/records?page=2", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["path"], "/api/collections/x/records?page=2");
        assert_eq!(body["headers"]["x-request-id"], id.as_str());
        assert_eq!(body["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(body["headers"]["x-forwarded-proto"], "http");
        *seen.entry(body["upstream"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    assert_eq!(seen.get("a"), Some(&5));
    assert_eq!(seen.get("b"), Some(&5));

    // Hop-by-hop headers, the ones `Connection` names, and a client's own X-Forwarded-For
    // never reach the upstream; traceparent and the request id travel on.
    let mut raw =
        tokio::net::TcpStream::connect(gw.url.trim_start_matches("http://")).await.unwrap();
    raw.write_all(
        b"GET /h HTTP/1.1\r\nHost: api.test\r\nConnection: close, x-secret\r\nX-Secret: s\r\n\
          Keep-Alive: 5\r\nX-Forwarded-For: 6.6.6.6\r\nX-Request-Id: req-1\r\n\
          traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n",
    )
    .await
    .unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).await.unwrap();
    let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let h = &body["headers"];
    assert!(h.get("x-secret").is_none() && h.get("keep-alive").is_none(), "{h}");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-host"], "api.test");
    assert_eq!(h["host"], "api.test", "the client's Host is kept");
    assert_eq!(h["forwarded"], "for=127.0.0.1;proto=http;host=api.test");
    assert_eq!(h["x-request-id"], "req-1");
    assert_eq!(h["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert!(text.contains("x-request-id: req-1"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_upstream_fails_no_idempotent_request() {
    let ups: Vec<Upstream> = (0..3).map(|i| Upstream::start(&format!("u{i}"))).collect();
    let mut ups = ups;
    let gw = Gw::start(config(&ups.iter().collect::<Vec<_>>(), "")).await;
    let client = http();
    let stop_at = Instant::now() + Duration::from_secs(3);
    let (gets, get_failures, posts, post_failures) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut workers = Vec::new();
    for w in 0..6 {
        let (client, url) = (client.clone(), gw.url.clone());
        let (done, failed) = if w % 2 == 0 {
            (gets.clone(), get_failures.clone())
        } else {
            (posts.clone(), post_failures.clone())
        };
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                let r = if w % 2 == 0 {
                    client.get(format!("{url}/read")).send().await
                } else {
                    client.post(format!("{url}/write")).body("x").send().await
                };
                done.fetch_add(1, Ordering::SeqCst);
                if !r.is_ok_and(|r| r.status() == 200) {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    // Kill once the load is under way.
    wait_until("the load is under way", Duration::from_secs(10), || {
        gets.load(Ordering::SeqCst) >= 100
    })
    .await;
    ups[1].kill();
    for w in workers {
        w.await.unwrap();
    }
    assert!(gets.load(Ordering::SeqCst) > 100 && posts.load(Ordering::SeqCst) > 100);
    assert_eq!(get_failures.load(Ordering::SeqCst), 0, "idempotent requests are retried elsewhere");
    // A POST in flight on the killed upstream may fail (indeterminate): at most one per POST
    // worker; every later one goes to the others (connect failures are retried).
    assert!(
        post_failures.load(Ordering::SeqCst) <= 3,
        "{} POSTs failed",
        post_failures.load(Ordering::SeqCst)
    );
    assert!(!healthy(&gw, 1), "the active check took it out");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_upstream_is_detected_and_never_holds_a_request_past_the_per_try_timeout() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let gw = Gw::start(config(&[&a, &b], "retry = { per_try_timeout_ms = 400 }")).await;
    let client = http();
    a.behaviour.hang.store(true, Ordering::SeqCst);
    // interval 100 ms × fall 2, each check bounded by its 200 ms timeout.
    let detected = wait_until("the hung upstream fails its checks", Duration::from_secs(5), || {
        !healthy(&gw, 0)
    })
    .await;
    assert!(
        detected <= Duration::from_millis(100 * 2 + 200 * 2 + 400),
        "detected after {detected:?}"
    );
    // Re-enable it as healthy from the pool's view to force requests onto it: a hung upstream
    // chosen by a request costs at most one per-try timeout, then the request goes elsewhere.
    let pool = gw.running.current().pool("p").unwrap().clone();
    let mut slowest = Duration::ZERO;
    for _ in 0..6 {
        pool.checked(&pool.endpoints()[0], true);
        let started = Instant::now();
        let r = client.get(format!("{}/x", gw.url)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["upstream"], "b");
        slowest = slowest.max(started.elapsed());
    }
    assert!(slowest < Duration::from_millis(400 + 600), "a request took {slowest:?}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_holds_under_a_full_outage_and_the_ejection_cap_holds() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let extra = "retry = { attempts = 3, budget_percent = 20, min_retries_per_second = 1 }\n\
                 outlier = { consecutive_failures = 3, max_ejected_percent = 50 }\n\
                 health = { enabled = false }";
    let gw = Gw::start(config(&[&a, &b], extra)).await;
    for u in [&a, &b] {
        u.behaviour.status.store(503, Ordering::SeqCst);
    }
    let client = http();
    for _ in 0..100 {
        let r = client.get(format!("{}/x", gw.url)).send().await.unwrap();
        assert_eq!(r.status(), 503, "the upstream's own answer comes back");
    }
    let hits = a.hits() + b.hits();
    // Without a budget: 300 tries. With it: 100 + 20% + 10 s × 1/s of reserve.
    assert!(hits > 100, "some retries happened: {hits}");
    assert!(hits <= 100 + 20 + 10 + 5, "retries stayed within the budget: {hits}");
    let pool = gw.running.current().pool("p").unwrap().clone();
    let ejected = pool.endpoints().iter().filter(|e| pool.is_ejected(e)).count();
    assert_eq!(ejected, 1, "half the pool at most is ejected");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pass_through_unbuffered_both_ways() {
    let a = Upstream::start("a");
    let gw = Gw::start(config(&[&a], "")).await;
    let client = http();
    // SSE: the first event arrives while the upstream still holds the second.
    let mut r = client.get(format!("{}/sse", gw.url)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let first =
        tokio::time::timeout(Duration::from_secs(5), r.chunk()).await.expect("no buffering");
    assert_eq!(first.unwrap().unwrap(), "data: one\n\n");
    a.behaviour.release.notify_waiters();
    let second = tokio::time::timeout(Duration::from_secs(5), r.chunk()).await.unwrap();
    assert_eq!(second.unwrap().unwrap(), "data: two\n\n");

    // 8 MiB each way, streamed.
    let body = pattern(8 << 20);
    let crc = crc32fast::hash(&body);
    let r = client.post(format!("{}/big", gw.url)).body(body).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), format!("{} {crc:08x}", 8 << 20));
    let r = client.get(format!("{}/big", gw.url)).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), pattern(8 << 20).as_slice());

    // An upgraded connection is a tunnel.
    let mut raw =
        tokio::net::TcpStream::connect(gw.url.trim_start_matches("http://")).await.unwrap();
    raw.write_all(
        b"GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        raw.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    raw.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    raw.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaking_sheds_beyond_the_pool_limits_and_drain_finishes_in_flight_requests() {
    let a = Upstream::start("a");
    let gw = Gw::start(config(&[&a], "limits = { max_requests = 1, max_pending = 0 }")).await;
    let client = http();
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), gw.url.clone());
        async move { client.get(format!("{url}/slow")).send().await.unwrap().text().await.unwrap() }
    });
    wait_until("the slow request reaches the upstream", Duration::from_secs(5), || a.hits() == 1)
        .await;
    let r = client.get(format!("{}/x", gw.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "The upstream pool is at its limit.");
    // Shutdown begins with the slow request in flight: it still completes.
    let url = gw.url.clone();
    let stopping = tokio::spawn(gw.stop());
    // The listener closes: new connections are refused (while the slow request goes on).
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.is_ok() {
        assert!(Instant::now() < deadline, "new connections still accepted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!slow.is_finished(), "the slow request is still in flight");
    a.behaviour.release.notify_waiters();
    assert_eq!(slow.await.unwrap(), "a");
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_to_an_upstream_never_exceed_the_pool_cap() {
    let a = Upstream::start("a");
    let gw = Gw::start(config(&[&a], "limits = { max_connections = 2 }")).await;
    let client = http();
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (client.clone(), gw.url.clone());
            tokio::spawn(async move {
                client.get(format!("{url}/slow")).send().await.unwrap().text().await.unwrap()
            })
        })
        .collect();
    wait_until("two requests reach the upstream", Duration::from_secs(5), || a.hits() == 2).await;
    // Release the held requests until all six are answered: the later ones wait for one of
    // the two connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !requests.iter().all(|r| r.is_finished()) {
        assert!(Instant::now() < deadline, "requests stalled at {} hits", a.hits());
        a.behaviour.release.notify_waiters();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for r in requests {
        assert_eq!(r.await.unwrap(), "a");
    }
    assert_eq!(a.hits(), 6);
    let ports = a.behaviour.ports.lock().unwrap().len();
    assert!(ports <= 2, "six concurrent requests went over {ports} connections, the cap is 2");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_is_sticky_and_reloads_under_load_drop_nothing() {
    let (a, b, c) = (Upstream::start("a"), Upstream::start("b"), Upstream::start("c"));
    let hashed = "balance = \"hash\"\nhash_on = \"header:x-user\"";
    let gw = Gw::start(config(&[&a, &b, &c], hashed)).await;
    let client = http();
    let mut first = std::collections::HashMap::new();
    for round in 0..3 {
        for user in 0..12 {
            let r = client
                .get(format!("{}/x", gw.url))
                .header("x-user", user.to_string())
                .send()
                .await
                .unwrap();
            let body: Value = r.json().await.unwrap();
            let up = body["upstream"].as_str().unwrap().to_owned();
            if round == 0 {
                first.insert(user, up);
            } else {
                assert_eq!(first[&user], up, "user {user} stays on one upstream");
            }
        }
    }
    // Reloads while a load loop runs: none of its requests fails.
    let stop_at = Instant::now() + Duration::from_secs(2);
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, url, failures, done) =
            (client.clone(), gw.url.clone(), failures.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop_at {
                let ok =
                    client.get(format!("{url}/x")).send().await.is_ok_and(|r| r.status() == 200);
                done.fetch_add(1, Ordering::SeqCst);
                if !ok {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for i in 0..8 {
        let balance = if i % 2 == 0 { "balance = \"least_request\"" } else { hashed };
        gw.running.reload(&config(&[&a, &b, &c], balance)).unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for w in workers {
        w.await.unwrap();
    }
    assert!(done.load(Ordering::SeqCst) > 100);
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    // A configuration that does not validate is refused and the running one kept.
    let mut bad = config(&[&a], "");
    bad.routes[0].pool = "nope".into();
    assert!(gw.running.reload(&bad).is_err());
    assert_eq!(client.get(format!("{}/x", gw.url)).send().await.unwrap().status(), 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_shows_pools_and_changes_upstreams() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let gw = Gw::start(config(&[&a], "")).await;
    let admin = Arc::new(sb_gateway::admin::Admin {
        running: gw.running.clone(),
        token: "s3cret".into(),
        reload: None,
        render: Box::new(|| "# metrics\n".into()),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sb_gateway::serve_admin(admin, listener, async move {
        stopped.await.ok();
    }));
    let client = http();
    let r = client.get(format!("{admin_url}/pools")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client.get(format!("{admin_url}/pools")).bearer_auth("wrong!").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let pools: Value = client
        .get(format!("{admin_url}/pools"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pools["pools"][0]["upstreams"][0]["url"], a.url.as_str());
    assert_eq!(pools["pools"][0]["upstreams"][0]["healthy"], true);

    let r = client
        .post(format!("{admin_url}/pools/p/upstreams"))
        .bearer_auth("s3cret")
        .json(&json!({"url": b.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Added upstreams take requests once their check passed.
    wait_until("b passes its check", Duration::from_secs(5), || healthy(&gw, 1)).await;
    let mut upstreams = std::collections::HashSet::new();
    for _ in 0..6 {
        let body: Value =
            client.get(format!("{}/x", gw.url)).send().await.unwrap().json().await.unwrap();
        upstreams.insert(body["upstream"].as_str().unwrap().to_owned());
    }
    assert_eq!(upstreams.len(), 2);
    let r = client
        .delete(format!("{admin_url}/pools/p/upstreams?url={}", a.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..4 {
        let body: Value =
            client.get(format!("{}/x", gw.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["upstream"], "b");
    }
    let r = client
        .delete(format!("{admin_url}/pools/p/upstreams?url={}", b.url))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the last upstream stays");
    let r = client.get(format!("{admin_url}/metrics")).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "# metrics\n");
    stop.send(()).ok();
    task.await.unwrap().unwrap();
    gw.stop().await;
}

/// A gateway over `a` terminating TLS with `acceptor`: its address, what stops it, its task.
async fn serve_tls(
    a: &Upstream,
    acceptor: sb_gateway::tls::TlsAcceptor,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let running = Running::start(&config(&[a], "")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        running
            .serve_with(listener, Some(acceptor), Duration::from_secs(1), async move {
                stopped.await.ok();
            })
            .await
    });
    (addr, stop, task)
}

/// A client that trusts only `name`'s test certificate and finds both test names at `addr`.
fn trusting(dir: &str, name: &str, addr: SocketAddr) -> reqwest::Client {
    let pem = std::fs::read(format!("{dir}/{name}.crt")).unwrap();
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("api.test", addr)
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_certificates_are_swapped_in_place() {
    let a = Upstream::start("a");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let default_only = sb_gateway::config::TlsConfig {
        cert: format!("{dir}/localhost.crt").into(),
        key: format!("{dir}/localhost.key").into(),
        sni: vec![],
    };
    let with_api = sb_gateway::config::TlsConfig {
        sni: vec![sb_gateway::config::SniConfig {
            host: "api.test".into(),
            cert: format!("{dir}/api.test.crt").into(),
            key: format!("{dir}/api.test.key").into(),
        }],
        ..default_only.clone()
    };
    let certs = sb_gateway::tls::Certificates::load(&default_only).unwrap();
    let (addr, stop, task) = serve_tls(&a, certs.acceptor().unwrap()).await;
    let trusting = |name: &str| trusting(dir, name, addr);
    let port = addr.port();
    let (localhost, api) = (trusting("localhost"), trusting("api.test"));
    let r = localhost.get(format!("https://localhost:{port}/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // No certificate for api.test yet: the default one does not name it.
    assert!(api.get(format!("https://api.test:{port}/x")).send().await.is_err());
    // Files that do not load are refused before anything changes.
    let missing =
        sb_gateway::config::TlsConfig { cert: "/nonexistent.crt".into(), ..with_api.clone() };
    assert!(sb_gateway::tls::Certificates::stage(&missing).is_err());
    certs.install(sb_gateway::tls::Certificates::stage(&with_api).unwrap());
    let r = api.get(format!("https://api.test:{port}/x")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the new certificate is served");
    let r = localhost.get(format!("https://localhost:{port}/x")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the existing connection and the default certificate go on");
    stop.send(()).ok();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_terminated_with_the_certificate_the_client_named() {
    let a = Upstream::start("a");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
    let tls = sb_gateway::config::TlsConfig {
        cert: format!("{dir}/localhost.crt").into(),
        key: format!("{dir}/localhost.key").into(),
        sni: vec![sb_gateway::config::SniConfig {
            host: "api.test".into(),
            cert: format!("{dir}/api.test.crt").into(),
            key: format!("{dir}/api.test.key").into(),
        }],
    };
    let (addr, stop, task) = serve_tls(&a, sb_gateway::tls::acceptor(&tls).unwrap()).await;
    let trusting = |name: &str| trusting(dir, name, addr);
    let port = addr.port();
    // The default certificate, over HTTP/2 (ALPN) or HTTP/1.1; the upstream hears "https".
    let r = trusting("localhost").get(format!("https://localhost:{port}/x")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    let h1 = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(format!("{dir}/localhost.crt")).unwrap())
                .unwrap(),
        )
        .resolve("localhost", addr)
        .http1_only()
        .build()
        .unwrap();
    let r = h1.get(format!("https://localhost:{port}/x")).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.status(), 200);
    // The name the client sent picks its certificate: a client trusting only api.test's
    // certificate connects to api.test, and fails on localhost (which gets the default).
    let r = trusting("api.test").get(format!("https://api.test:{port}/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(trusting("api.test").get(format!("https://localhost:{port}/x")).send().await.is_err());
    // Plain HTTP on a TLS listener is refused.
    assert!(http().get(format!("http://{addr}/x")).send().await.is_err());
    stop.send(()).ok();
    task.await.unwrap().unwrap();
}

fn redis_url() -> String {
    std::env::var("SCALEBASE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A gateway over `a` whose only route has `limit`, with `redis` for global limits.
async fn limited(a: &Upstream, limit: &str, redis: Option<(&str, &str)>) -> Gw {
    let mut text = format!(
        "[[listeners]]\naddr = \"127.0.0.1:0\"\n[[pools]]\nname = \"p\"\nupstreams = [{{ url = \"{}\" }}]\n\
         [[routes]]\npool = \"p\"\nrate_limit = {limit}\n",
        a.url
    );
    if let Some((url, prefix)) = redis {
        text.push_str(&format!("[redis]\nurl = \"{url}\"\nprefix = \"{prefix}\"\n"));
    }
    Gw::start(GatewayConfig::from_toml(&text).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_per_client_locally_and_across_gateways_through_redis() {
    let a = Upstream::start("a");
    let client = http();
    let status = |gw: &Gw, user: &str| {
        let request = client.get(format!("{}/x", gw.url)).header("x-user", user);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Local: three per minute per user.
    let gw =
        limited(&a, "{ requests = 3, period_ms = 60000, key = \"header:x-user\" }", None).await;
    for _ in 0..3 {
        assert_eq!(status(&gw, "ann").await, 200);
    }
    let r = client.get(format!("{}/x", gw.url)).header("x-user", "ann").send().await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"status": 429, "message": "Too many requests.", "data": {}}));
    assert_eq!(status(&gw, "bob").await, 200, "another client counts apart");
    gw.stop().await;

    // Global: two gateways share four per minute through Redis.
    let prefix = format!("sbtest:gw:{}:", rand_suffix());
    let global = "{ requests = 4, period_ms = 60000, key = \"header:x-user\", global = true }";
    let one = limited(&a, global, Some((&redis_url(), &prefix))).await;
    let two = limited(&a, global, Some((&redis_url(), &prefix))).await;
    for gw in [&one, &two, &one, &two] {
        assert_eq!(status(gw, "cy").await, 200);
    }
    assert_eq!(status(&one, "cy").await, 429);
    assert_eq!(status(&two, "cy").await, 429);
    one.stop().await;
    two.stop().await;

    // Redis down: each gateway's own counts decide (never an error, never unlimited).
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("redis://{}", l.local_addr().unwrap())
    };
    let one = limited(&a, global, Some((&dead, &prefix))).await;
    for _ in 0..4 {
        assert_eq!(status(&one, "di").await, 200);
    }
    assert_eq!(status(&one, "di").await, 429);
    one.stop().await;
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// A gateway over `a` whose routes cache: `/` as `route_cache` says, `/t` with a 300 ms TTL;
/// `cache` is the `[cache]` section and `redis` the `[redis]` one.
async fn caching(a: &Upstream, route_cache: &str, cache: &str, redis: &str) -> Gw {
    let text = format!(
        "[[listeners]]\naddr = \"127.0.0.1:0\"\n[[pools]]\nname = \"p\"\n\
         upstreams = [{{ url = \"{}\" }}]\n\
         health = {{ path = \"/api/health\", interval_ms = 100, timeout_ms = 200 }}\n\
         [[routes]]\npool = \"p\"\ncache = {route_cache}\n\
         [[routes]]\npool = \"p\"\npath_prefix = \"/t\"\ncache = {{ ttl_ms = 300 }}\n\
         {redis}\n[cache]\n{cache}\n",
        a.url
    );
    Gw::start(GatewayConfig::from_toml(&text).unwrap()).await
}

/// What a request through the gateway got: `X-Cache`, status, body and headers.
struct Got {
    cache: String,
    status: u16,
    body: bytes::Bytes,
    headers: reqwest::header::HeaderMap,
}

impl Got {
    fn n(&self) -> u64 {
        serde_json::from_slice::<Value>(&self.body).unwrap()["n"].as_u64().unwrap()
    }
}

async fn fetch(request: reqwest::RequestBuilder) -> Got {
    let r = request.send().await.unwrap();
    let headers = r.headers().clone();
    let cache = headers.get("x-cache").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    Got { cache, status, body, headers }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_serves_what_http_allows_and_nothing_else() {
    let a = Upstream::start("a");
    let gw =
        caching(&a, "{ ttl_ms = 60000, max_body_bytes = 10000 }", "invalidations = \"none\"", "")
            .await;
    let client = http();
    let get = |path: &str| fetch(client.get(format!("{}{path}", gw.url)));

    // A hit is served without the upstream, with its age and its own request id.
    let first = get("/c?cc=max-age%3D60").await;
    assert_eq!((first.cache.as_str(), first.status), ("MISS", 200));
    let r = client
        .get(format!("{}/c?cc=max-age%3D60", gw.url))
        .header("x-request-id", "mine-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-cache"], "HIT");
    assert_eq!(r.headers()["x-request-id"], "mine-1");
    assert_eq!(r.headers()["age"], "0");
    let hit: Value = r.json().await.unwrap();
    assert_eq!(hit["n"].as_u64(), Some(first.n()), "the stored answer");
    assert_eq!(a.hits(), 1);
    // HEAD is answered from the GET entry, with the length of the body it does not send.
    let head = fetch(client.head(format!("{}/c?cc=max-age%3D60", gw.url))).await;
    assert_eq!(head.cache, "HIT");
    assert_eq!(head.headers["content-length"], first.body.len().to_string().as_str());
    assert!(head.body.is_empty());
    // A HEAD that misses goes upstream as HEAD and stores nothing.
    let head = fetch(client.head(format!("{}/c?cc=max-age%3D60&h=1", gw.url))).await;
    assert_eq!(head.cache, "MISS");
    assert_eq!(get("/c?cc=max-age%3D60&h=1").await.cache, "MISS");
    assert_eq!(get("/c?cc=max-age%3D60&h=1").await.cache, "HIT");
    // Another query is another target.
    assert_eq!(get("/c?cc=max-age%3D60&other").await.cache, "MISS");
    assert_eq!(a.hits(), 4);

    // Vary: each value of the named request header has its own entry.
    let lang = |l: &'static str| {
        fetch(client.get(format!("{}/c?vary=accept-language", gw.url)).header("accept-language", l))
    };
    let (fr, en) = (lang("fr").await, lang("en").await);
    assert_eq!((fr.cache.as_str(), en.cache.as_str()), ("MISS", "MISS"));
    let (fr2, en2) = (lang("fr").await, lang("en").await);
    assert_eq!((fr2.cache.as_str(), en2.cache.as_str()), ("HIT", "HIT"));
    assert_eq!((fr2.n(), en2.n()), (fr.n(), en.n()));
    let vary: Value = serde_json::from_slice(&fr2.body).unwrap();
    assert_eq!(vary["vary"], "fr");
    let none = get("/c?vary=accept-language").await;
    assert_eq!(none.cache, "MISS", "no header is a value of its own");

    // Answers that must not be stored are not, and each request goes upstream.
    for path in [
        "/c?cc=no-store",
        "/c?cc=private%2C%20max-age%3D60",
        "/c?cc=no-cache",
        "/c?cc=max-age%3D0",
        "/c?cookie=1",
        "/c?vary=*",
        "/c?status=500",
        "/c?status=302",
        "/c?sse=1",
    ] {
        let before = a.hits();
        assert_eq!(get(path).await.cache, "MISS", "{path}");
        assert_eq!(get(path).await.cache, "MISS", "{path} was stored");
        assert_eq!(a.hits(), before + 2, "{path}");
    }
    // A 404 is cacheable like a 200.
    assert_eq!(get("/c?status=404").await.cache, "MISS");
    let nf = get("/c?status=404").await;
    assert_eq!((nf.cache.as_str(), nf.status), ("HIT", 404));

    // Credentials: passed through untouched, never served a guest's entry nor stored.
    let authed =
        || fetch(client.get(format!("{}/c?cc=max-age%3D60", gw.url)).header("authorization", "t1"));
    let before = a.hits();
    for _ in 0..2 {
        let r = authed().await;
        assert_eq!(r.cache, "BYPASS");
        assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap()["auth"], "t1");
    }
    let cookie = fetch(client.get(format!("{}/c?cc=max-age%3D60", gw.url)).header("cookie", "a=b"));
    assert_eq!(cookie.await.cache, "BYPASS");
    assert_eq!(a.hits(), before + 3);

    // Request directives: no-cache goes upstream (and refreshes), no-store bypasses,
    // max-age bounds the age served.
    let with_cc = |cc: &'static str| {
        fetch(client.get(format!("{}/c?cc=max-age%3D60", gw.url)).header("cache-control", cc))
    };
    let refreshed = with_cc("no-cache").await;
    assert_eq!(refreshed.cache, "MISS");
    assert_eq!(get("/c?cc=max-age%3D60").await.n(), refreshed.n(), "the refreshed answer is kept");
    assert_eq!(with_cc("no-store").await.cache, "BYPASS");
    assert_eq!(with_cc("max-age=3600").await.cache, "HIT");

    // Bodies over max_body_bytes are delivered whole and not stored (with or without a length).
    for path in ["/c?size=50000&cc=max-age%3D60", "/c?size=50000&chunked&cc=max-age%3D60"] {
        for _ in 0..2 {
            let big = get(path).await;
            assert_eq!(big.cache, "MISS", "{path}");
            assert_eq!(big.body.as_ref(), pattern(50000).as_slice(), "{path}");
        }
    }
    // A streamed body within the limit is stored once it has ended.
    let small = get("/c?size=5000&chunked&cc=max-age%3D60").await;
    assert_eq!(small.cache, "MISS");
    let again = get("/c?size=5000&chunked&cc=max-age%3D60").await;
    assert_eq!((again.cache.as_str(), again.body.as_ref()), ("HIT", pattern(5000).as_slice()));

    // The SSE endpoint streams through and is never stored.
    let sse = client.get(format!("{}/sse", gw.url)).send().await.unwrap();
    assert_eq!(sse.headers()["x-cache"], "MISS");
    a.behaviour.release.notify_one();
    assert_eq!(sse.text().await.unwrap(), "data: one\n\ndata: two\n\n");
    let sse = client.get(format!("{}/sse", gw.url)).send().await.unwrap();
    assert_eq!(sse.headers()["x-cache"], "MISS");
    drop(sse);

    // Freshness ends: max-age from the upstream, else the route's ttl_ms.
    for (path, at_least) in [("/c?cc=max-age%3D1", 900), ("/t", 250)] {
        assert_eq!(get(path).await.cache, "MISS");
        let started = Instant::now();
        assert_eq!(get(path).await.cache, "HIT", "{path}");
        while get(path).await.cache == "HIT" {
            assert!(started.elapsed() < Duration::from_secs(5), "{path} never expired");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(started.elapsed() >= Duration::from_millis(at_least - 150), "{path}");
    }

    // A successful write through the gateway purges; a refused one does not.
    assert_eq!(get("/c?cc=max-age%3D60").await.cache, "HIT");
    let refused = fetch(client.post(format!("{}/c?status=400", gw.url))).await;
    assert_eq!((refused.status, refused.cache.as_str()), (400, ""));
    assert_eq!(get("/c?cc=max-age%3D60").await.cache, "HIT");
    let r = client.post(format!("{}/anything", gw.url)).body("x").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get("/c?cc=max-age%3D60").await.cache, "MISS", "purged by the write");
    let r = client.delete(format!("{}/anything", gw.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get("/c?cc=max-age%3D60").await.cache, "MISS", "purged by the delete");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorized_route_keys_entries_by_credentials() {
    let a = Upstream::start("a");
    let gw =
        caching(&a, "{ ttl_ms = 60000, authorized = true }", "invalidations = \"none\"", "").await;
    let client = http();
    let as_ = |token: Option<&'static str>| {
        let mut request = client.get(format!("{}/c", gw.url));
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        fetch(request)
    };
    let (t1, t2, guest) = (as_(Some("t1")).await, as_(Some("t2")).await, as_(None).await);
    assert_eq!([&t1.cache, &t2.cache, &guest.cache], ["MISS", "MISS", "MISS"]);
    for (token, first) in [(Some("t1"), &t1), (Some("t2"), &t2), (None, &guest)] {
        let again = as_(token).await;
        assert_eq!(again.cache, "HIT");
        assert_eq!(again.n(), first.n(), "{token:?} sees only its own answer");
        let body: Value = serde_json::from_slice(&again.body).unwrap();
        assert_eq!(body["auth"], token.unwrap_or(""));
    }
    assert_eq!(a.hits(), 3);
    gw.stop().await;
}

/// A connection publishing on and hearing the channel `channel`, as a node would.
struct FakeNode {
    connection: redis::aio::MultiplexedConnection,
    channel: String,
    heard: tokio::sync::mpsc::UnboundedReceiver<Value>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeNode {
    async fn join(url: &str, channel: &str) -> FakeNode {
        let client = redis::Client::open(url).unwrap();
        let connection = client.get_multiplexed_async_connection().await.unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(channel).await.unwrap();
        let (tx, heard) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(m) = futures::StreamExt::next(&mut messages).await {
                let text: String = m.get_payload().unwrap();
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    tx.send(v).ok();
                }
            }
        });
        FakeNode { connection, channel: channel.to_owned(), heard, _task: task }
    }

    async fn publish(&self, message: impl ToString) {
        let mut c = self.connection.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(message.to_string())
            .query_async(&mut c)
            .await
            .unwrap();
    }

    /// The next message (within 5 s) that `wanted` accepts.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let next = tokio::time::timeout_at(deadline, self.heard.recv()).await;
            let message = next.expect("the expected message came").expect("channel open");
            if wanted(&message) {
                return message;
            }
        }
    }
}

fn cache_of(gw: &Gw) -> Arc<sb_gateway::cache::ResponseCache> {
    gw.running.current().cache().expect("a cache").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_invalidations_on_redis_purge_the_cache_and_are_acknowledged() {
    let a = Upstream::start("a");
    let prefix = format!("sbtest:gwc:{}:", rand_suffix());
    let channel = format!("{prefix}cluster");
    let mut node = FakeNode::join(&redis_url(), &channel).await;
    // Two nodes say hello, as live nodes do.
    let hellos = {
        let node = FakeNode::join(&redis_url(), &channel).await;
        tokio::spawn(async move {
            for sent in 0..1000u64 {
                for from in ["n1", "n2"] {
                    node.publish(json!({"from": from, "t": "hello", "sent": sent})).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let gw = caching(
        &a,
        "{ ttl_ms = 60000 }",
        &format!("invalidations = \"redis\"\nchannel_prefix = \"{prefix}\""),
        &format!("[redis]\nurl = \"{}\"", redis_url()),
    )
    .await;
    let client = http();
    let get = || fetch(client.get(format!("{}/c", gw.url)));
    let cache = cache_of(&gw);
    let hello = node.until(|m| m["t"] == "hello" && m["from"] != "n1" && m["from"] != "n2").await;
    let me = hello["from"].as_str().unwrap().to_owned();
    assert_eq!(Some(me.as_str()), cache.node_id());
    wait_until("the gateway hears itself", Duration::from_secs(5), || cache.trusted()).await;
    wait_until("the gateway hears both nodes", Duration::from_secs(5), || cache.peers() == 2).await;
    assert_eq!(get().await.cache, "MISS");
    assert_eq!(get().await.cache, "HIT");

    // n1 wrote: the gateway purges, then acknowledges; until n2 has applied the write too,
    // nothing is stored (n2 could still answer from its own caches).
    node.publish(
        json!({"from": "n1", "t": "invalidate", "id": 42, "tables": ["posts"], "all": false}),
    )
    .await;
    let ack = node.until(|m| m["t"] == "ack" && m["from"] == me.as_str()).await;
    assert_eq!((ack["to"].as_str(), ack["id"].as_u64()), (Some("n1"), Some(42)));
    assert_eq!(get().await.cache, "MISS", "purged before the ack");
    assert_eq!(get().await.cache, "MISS", "not stored while n2 has not applied the write");
    node.publish(json!({"from": "n2", "t": "ack", "to": "n1", "id": 42})).await;
    let started = Instant::now();
    while get().await.cache != "HIT" {
        assert!(started.elapsed() < Duration::from_secs(5), "never stored again");
    }

    // A message sent by reference (as nodes send large ones) is fetched and applied.
    let key = format!("{prefix}blob:1");
    let mut c = node.connection.clone();
    let body = json!({"from": "n2", "t": "invalidate", "id": 9, "tables": [], "all": true});
    let _: () =
        redis::cmd("SET").arg(&key).arg(body.to_string()).query_async(&mut c).await.unwrap();
    node.publish(format!("&{key}")).await;
    let ack = node.until(|m| m["t"] == "ack" && m["from"] == me.as_str()).await;
    assert_eq!((ack["to"].as_str(), ack["id"].as_u64()), (Some("n2"), Some(9)));
    assert_eq!(get().await.cache, "MISS");

    // Realtime requests are answered at once: the gateway holds no client.
    node.publish(json!({"from": "n1", "t": "subscribe", "id": 7, "client": "c", "ip": null,
                        "auth": null, "subscriptions": ["x"]}))
        .await;
    let reply = node.until(|m| m["t"] == "reply").await;
    assert_eq!(reply, json!({"from": me, "t": "reply", "to": "n1", "id": 7, "outcome": "unknown"}));
    node.publish(json!({"from": "n1", "t": "handoff", "id": 8, "ip": null, "state": "s",
                        "code": "c", "error": ""}))
        .await;
    let reply = node.until(|m| m["t"] == "reply").await;
    assert_eq!((reply["id"].as_u64(), reply["outcome"].as_str()), (Some(8), Some("unknown")));

    // Garbage is ignored; the gateway goes on.
    for junk in [
        "not json",
        "{}",
        "[1,2]",
        "{\"t\": 5}",
        "{\"t\": \"ack\", \"id\": \"x\"}",
        "{\"t\": \"hello\", \"from\": \"n3\", \"sent\": -1}",
        "&missing-key",
    ] {
        node.publish(junk).await;
    }
    node.publish(json!({"from": "n1", "t": "subscribe", "id": 99})).await;
    let reply = node.until(|m| m["t"] == "reply").await;
    assert_eq!(reply["id"].as_u64(), Some(99), "still answering after the junk");
    assert!(cache.trusted());
    hellos.abort();
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_bypassed_while_its_channel_cannot_be_heard() {
    let a = Upstream::start("a");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = http();
    for (cache, redis) in [
        ("invalidations = \"redis\"".to_owned(), format!("[redis]\nurl = \"redis://{closed}\"")),
        (
            format!("invalidations = {{ postgres = \"postgres://postgres@{closed}/x\" }}"),
            String::new(),
        ),
    ] {
        let gw = caching(&a, "{ ttl_ms = 60000 }", &cache, &redis).await;
        let before = a.hits();
        for _ in 0..3 {
            let got = fetch(client.get(format!("{}/c?cc=max-age%3D60", gw.url))).await;
            assert_eq!((got.cache.as_str(), got.status), ("BYPASS", 200), "{cache}");
        }
        assert_eq!(a.hits(), before + 3);
        assert!(!cache_of(&gw).trusted());
        gw.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_endpoint_shows_and_empties_the_cache() {
    let a = Upstream::start("a");
    let gw = caching(&a, "{ ttl_ms = 60000 }", "invalidations = \"none\"", "").await;
    let admin = Arc::new(sb_gateway::admin::Admin {
        running: gw.running.clone(),
        token: "s3cret".into(),
        reload: None,
        render: Box::new(String::new),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_url = format!("http://{}/cache", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sb_gateway::serve_admin(admin, listener, async move {
        stopped.await.ok();
    }));
    let client = http();
    let state: Value =
        client.get(&admin_url).bearer_auth("s3cret").send().await.unwrap().json().await.unwrap();
    assert_eq!(state, json!({"enabled": true, "trusted": true, "node": null, "peers": 0}));
    let get = || fetch(client.get(format!("{}/c", gw.url)));
    assert_eq!(get().await.cache, "MISS");
    assert_eq!(get().await.cache, "HIT");
    let r = client.delete(&admin_url).send().await.unwrap();
    assert_eq!(r.status(), 401, "emptying needs the token");
    assert_eq!(get().await.cache, "HIT");
    let r = client.delete(&admin_url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get().await.cache, "MISS", "emptied");
    stop.send(()).ok();
    task.await.unwrap().unwrap();
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_raced_a_purge_is_never_served() {
    let a = Upstream::start("a");
    let gw = caching(&a, "{ ttl_ms = 60000 }", "invalidations = \"none\"", "").await;
    let client = http();
    // A read starts (its answer is held by the upstream), a write purges, the read ends.
    let slow = tokio::spawn(fetch(client.get(format!("{}/slow", gw.url))));
    wait_until("the read reached the upstream", Duration::from_secs(5), || a.hits() == 1).await;
    let r = client.post(format!("{}/anything", gw.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    a.behaviour.release.notify_one();
    assert_eq!(slow.await.unwrap().cache, "MISS");
    // Its answer may predate the write: the next read goes upstream again.
    a.behaviour.release.notify_one();
    let again = fetch(client.get(format!("{}/slow", gw.url))).await;
    assert_eq!(again.cache, "MISS", "an answer fetched before the purge was served after it");
    assert_eq!(fetch(client.get(format!("{}/slow", gw.url))).await.cache, "HIT");
    gw.stop().await;
}
