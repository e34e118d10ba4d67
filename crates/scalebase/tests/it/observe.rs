//! Operations: Prometheus metrics on the main listener (superuser or metrics token) and on a
//! separate unauthenticated listener, metric labels from route templates only, and the
//! readiness view.

use reqwest::Method;
use serde_json::json;

use crate::common::{Client, RawResp, assert_error};

const TOKEN: &str = "scrape-secret-0123456789";

/// The value of the sample whose line starts with `prefix` (its labels included).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"))
}

fn text(r: &RawResp) -> String {
    String::from_utf8(r.bytes.clone()).expect("utf-8")
}

async fn metrics_case(backend: sb_testkit::Backend) {
    let config = sb_http::HttpConfig { metrics_token: Some(TOKEN.into()), ..Default::default() };
    let server = sb_testkit::TestServer::start_with(backend, config).await;
    let su = Client::admin(&server.url, &server.app.app).await;
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "fields": [{"name": "title", "type": "text"}]})).await;
    let post = su.create_record("posts", json!({"title": "hello"})).await;
    let id = post["id"].as_str().unwrap().to_owned();
    let g = su.with_token(None);
    for _ in 0..3 {
        assert_eq!(g.get(&format!("/api/collections/posts/records/{id}")).await.status, 200);
    }
    assert_eq!(g.get("/api/nothing/here/xyz123").await.status, 404);

    // Access on the main listener.
    let scrape = |c: &Client| {
        let c = c.clone();
        async move { c.raw(Method::GET, "/metrics", None, "", &[]).await }
    };
    let r = scrape(&g).await;
    assert_eq!(r.status, 401);
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let token =
        crate::common::record_token(&server.app.app, "users", user["id"].as_str().unwrap()).await;
    assert_eq!(scrape(&su.with_token(Some(&token))).await.status, 403);
    assert_eq!(scrape(&su.with_token(Some("Bearer wrong-token"))).await.status, 401);
    let by_token = scrape(&su.with_token(Some(&format!("Bearer {TOKEN}")))).await;
    assert_eq!(by_token.status, 200);
    let r = scrape(&su).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("content-type").unwrap(), "text/plain; version=0.0.4; charset=utf-8");
    let body = text(&r);
    let view = r#"scalebase_http_requests_total{route="/api/collections/{collection}/records/{id}",method="GET",status="200"}"#;
    assert_eq!(sample(&body, view), 3.0);
    assert!(
        sample(
            &body,
            r#"scalebase_http_requests_total{route="unmatched",method="GET",status="404"}"#
        ) >= 1.0
    );
    // Raw paths never become label values.
    assert!(!body.contains(&id), "a record id leaked into the labels");
    assert!(!body.contains("xyz123"));
    assert!(body.contains(r#"scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records/{id}",method="GET",status="200",le="+Inf"} 3"#), "{body}");
    // Database metrics of this backend, process metrics.
    let name = match backend {
        sb_testkit::Backend::Sqlite => "sqlite",
        sb_testkit::Backend::Postgres => "postgres",
    };
    let select = format!(
        r#"scalebase_db_query_duration_seconds_count{{backend="{name}",operation="select"}}"#
    );
    assert!(sample(&body, &select) >= 3.0);
    let commit = format!(
        r#"scalebase_db_query_duration_seconds_count{{backend="{name}",operation="commit"}}"#
    );
    assert!(sample(&body, &commit) >= 1.0);
    match backend {
        sb_testkit::Backend::Sqlite => {
            assert!(sample(&body, "scalebase_sqlite_commit_group_size_count") >= 1.0);
        }
        sb_testkit::Backend::Postgres => {
            assert!(
                sample(&body, r#"scalebase_db_pool_connections{backend="postgres",state="idle"}"#)
                    >= 0.0
            );
            assert!(
                sample(
                    &body,
                    r#"scalebase_db_pool_wait_duration_seconds_count{backend="postgres"}"#
                ) >= 1.0
            );
        }
    }
    assert!(sample(&body, "process_resident_memory_bytes") > 0.0);
    assert!(
        sample(&body, "scalebase_http_requests_in_flight") >= 1.0,
        "the scrape itself is in flight"
    );

    // The separate listener: no authentication, nothing but /metrics.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sb_http::serve(
        listener,
        sb_http::metrics_router(),
        sb_http::ServeConfig::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let internal = Client::guest(&format!("http://{addr}"));
    let r = internal.raw(Method::GET, "/metrics", None, "", &[]).await;
    assert_eq!(r.status, 200);
    assert!(sample(&text(&r), view) >= 3.0);
    assert_eq!(internal.raw(Method::GET, "/api/health", None, "", &[]).await.status, 404);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_sqlite() {
    metrics_case(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_postgres() {
    metrics_case(sb_testkit::Backend::Postgres).await;
}

// Readiness: 200 while the database answers, 503 once it does not; liveness stays up.
sb_testkit::sbtest_http!(readiness_follows_the_database, |url, app| async move {
    let g = Client::guest(&url);
    let r = g.get("/api/ready").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["checks"]["database"]["status"], "ok");
    app.store().close().await;
    let r = g.get("/api/ready").await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["checks"]["database"]["status"], "unavailable");
    assert_eq!(g.get("/api/health").await.status, 200);
    assert_error(&g.get("/api/nope").await, 404, "The requested resource wasn't found.");
});

/// Log lines written while a test runs (JSON, one per line), for the request-log test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn request_lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "scalebase::request")
            .collect()
    }
}

// With the access log on (`--access-log`): one JSON log line per request with its id, route
// template, status, latency and auth id; `X-Request-Id` taken from a sane client value (else
// generated) and echoed; the caller's `traceparent` trace id carried into the log. With it off
// (the default), no line, and the id is still echoed.
async fn access_log_case(backend: sb_testkit::Backend) {
    // The server runs on other threads: capture process-wide (each test is its own process).
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .json()
            .with_env_filter("scalebase::request=info")
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("no other subscriber in this test process");

    let quiet = sb_testkit::TestServer::start(backend).await;
    let r = Client::guest(&quiet.url)
        .raw(Method::GET, "/api/health", None, "", &[("X-Request-Id", "quiet-1")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "quiet-1");
    quiet.stop().await;
    assert_eq!(captured.request_lines(), Vec::<serde_json::Value>::new());

    let config = sb_http::HttpConfig { access_log: true, ..Default::default() };
    let server = sb_testkit::TestServer::start_with(backend, config).await;
    let su = Client::admin(&server.url, &server.app.app).await;
    let r = su
        .raw(
            Method::GET,
            "/api/collections",
            None,
            "",
            &[
                ("X-Request-Id", "req-abc-123"),
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("x-request-id").unwrap(), "req-abc-123");
    let g = su.with_token(None);
    let r = g.raw(Method::GET, "/api/health", None, "", &[]).await;
    let generated = r.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let too_long = "x".repeat(200);
    let r =
        g.raw(Method::GET, "/api/health", None, "", &[("X-Request-Id", too_long.as_str())]).await;
    assert_ne!(r.headers.get("x-request-id").unwrap(), too_long.as_str());

    let lines = captured.request_lines();
    let line = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == "req-abc-123")
        .unwrap_or_else(|| panic!("no log line for req-abc-123 in {lines:?}"));
    let f = &line["fields"];
    assert_eq!(f["route"], "/api/collections");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["status"], 200);
    assert_eq!(f["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(f["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(!f["auth_id"].as_str().unwrap().is_empty(), "{line}");
    let health = lines
        .iter()
        .find(|l| l["fields"]["request_id"] == generated.as_str())
        .expect("the generated id is logged");
    assert_eq!(health["fields"]["auth_id"], "");
    assert_eq!(health["fields"]["route"], "/api/health");
    assert_eq!(health["fields"]["trace_id"].as_str().unwrap().len(), 32);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_sqlite() {
    access_log_case(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_postgres() {
    access_log_case(sb_testkit::Backend::Postgres).await;
}
