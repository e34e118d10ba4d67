//! Connection and request hardening: header-read and idle timeouts on the listener (slowloris),
//! the request body deadline, body limits answered in PocketBase's format while streaming,
//! security headers on refusals.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::Client;

/// A server with short timeouts, on a fresh database of `backend`.
struct Short {
    addr: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    app: sb_testkit::TestApp,
}

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const BODY_TIMEOUT: Duration = Duration::from_secs(1);

async fn short_server(backend: sb_testkit::Backend) -> Short {
    let app = sb_testkit::TestApp::open(backend).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config = sb_http::HttpConfig {
        body_limit: 64 * 1024,
        body_read_timeout: BODY_TIMEOUT,
        ..Default::default()
    };
    let router = sb_http::router(app.app.clone(), config);
    let serve = sb_http::ServeConfig { header_read_timeout: HEADER_TIMEOUT, ..Default::default() };
    let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        sb_http::serve(listener, router, serve, async {
            rx.await.ok();
        })
        .await
        .ok();
    });
    Short { addr, shutdown, task, app }
}

impl Short {
    async fn stop(self) {
        self.shutdown.send(()).ok();
        self.task.await.ok();
        self.app.cleanup().await;
    }
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read
/// and when the connection ended, if it did.
async fn read_until_closed(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    limit: Duration,
) -> (Vec<u8>, Option<Instant>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, Some(Instant::now())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

async fn slowloris_case(backend: sb_testkit::Backend) {
    let server = short_server(backend).await;
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    // Headers sent one byte every 100 ms, never finished (a 60-byte header takes 6 s).
    let dripper = tokio::spawn(async move {
        let request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        for byte in request {
            if writer.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    let closed = closed.expect("the slow client was never cut off");
    let after = closed - started;
    assert!(after >= HEADER_TIMEOUT - Duration::from_millis(100), "{after:?}");
    assert!(after < HEADER_TIMEOUT * 3, "cut off only after {after:?}");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "{answer:?}");
    dripper.abort();

    // An idle connection (nothing sent) is closed too...
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, _writer) = stream.into_split();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    let after = closed.expect("an idle connection was kept open") - started;
    assert!(after < HEADER_TIMEOUT * 3, "{after:?}");

    // ...and so is a kept-alive connection after its request, once idle.
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"), "{answer:?}");
    let after = closed.expect("an idle keep-alive connection was kept open") - started;
    assert!(after < HEADER_TIMEOUT * 3, "{after:?}");

    // The server still answers normal clients.
    let c = Client::guest(&format!("http://{}", server.addr));
    assert_eq!(c.get("/api/health").await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_connections_are_cut_off_sqlite() {
    slowloris_case(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_connections_are_cut_off_postgres() {
    slowloris_case(sb_testkit::Backend::Postgres).await;
}

async fn body_case(backend: sb_testkit::Backend) {
    let server = short_server(backend).await;
    let base = format!("http://{}", server.addr);
    let su = Client::admin(&base, &server.app.app).await;
    // No pooled connections: the server closes idle ones after a second, and a reused one
    // could race with that close.
    let su = Client {
        http: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap(),
        ..su
    };
    su.create_collection(json!({"name": "notes", "type": "base", "createRule": "", "fields": [{"name": "body", "type": "text", "max": 0}]})).await;

    // A body that trickles in slower than the deadline: 400, and nothing is written.
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/collections/notes/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\n{{\"body\": \"",
        su.token.as_deref().unwrap()
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let dripper = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (answer, _) = read_until_closed(&mut reader, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(started.elapsed() >= BODY_TIMEOUT - Duration::from_millis(100));
    assert!(started.elapsed() < BODY_TIMEOUT * 4, "{:?}", started.elapsed());
    dripper.abort();
    assert!(su.all_records("notes").await.is_empty());

    // A chunked body (no Content-Length) over the limit: 413 in PocketBase's format, with the
    // security headers.
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/collections/notes/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        su.token.as_deref().unwrap()
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let sender = tokio::spawn(async move {
        let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
        for _ in 0..16 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        writer.write_all(b"0\r\n\r\n").await.ok();
    });
    let (answer, _) = read_until_closed(&mut reader, Duration::from_secs(3)).await;
    sender.abort();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 413"), "{text}");
    assert!(text.contains("x-content-type-options: nosniff"), "{text}");
    assert!(text.contains("x-frame-options: sameorigin"), "{text}");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    assert!(
        body.contains(r#"{"data":{},"message":"request entity too large.","status":413}"#),
        "{text}"
    );
    assert!(su.all_records("notes").await.is_empty());
    // A declared Content-Length over the limit is refused without reading the body.
    let stream = TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /api/collections/notes/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        10 << 20
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut reader, Duration::from_secs(3)).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 413"), "{answer:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_bodies_sqlite() {
    body_case(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_oversized_bodies_postgres() {
    body_case(sb_testkit::Backend::Postgres).await;
}

// A connection that never sent a byte does not hold the shutdown drain for the header-read
// timeout: the server stops as soon as its in-flight requests are done.
sb_testkit::sbtest!(shutdown_does_not_wait_for_silent_connections, |app, _backend| async move {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = sb_http::router(app, sb_http::HttpConfig::default());
    let serve = sb_http::ServeConfig {
        header_read_timeout: Duration::from_secs(600),
        drain_timeout: Duration::from_secs(600),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sb_http::serve(listener, router, serve, async {
        stopped.await.ok();
    }));
    let silent = TcpStream::connect(addr).await.unwrap();
    // The server has accepted it once a request on another connection is answered.
    let r = Client::guest(&format!("http://{addr}")).get("/api/health").await;
    assert_eq!(r.status, 200);
    stop.send(()).ok();
    let finished = tokio::time::timeout(Duration::from_secs(30), task).await;
    assert!(finished.is_ok(), "the drain waited on a connection that never sent a byte");
    drop(silent);
});
