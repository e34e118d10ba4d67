//! HTTP behaviour shared by every route: unknown routes and methods, HEAD, CORS, security
//! headers, content types and the health endpoint. Checked against PocketBase 0.40.6.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;

use crate::common::{Client, NOT_FOUND, RawResp};

fn header<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
}

#[track_caller]
fn assert_security_headers(r: &RawResp) {
    let h = &r.headers;
    assert_eq!(header(h, "x-xss-protection"), ["1; mode=block"]);
    assert_eq!(header(h, "x-content-type-options"), ["nosniff"]);
    assert_eq!(header(h, "x-frame-options"), ["SAMEORIGIN"]);
    assert_eq!(header(h, "cross-origin-opener-policy"), ["same-origin"]);
    assert!(header(h, "vary").contains(&"Origin"), "{h:?}");
}

#[track_caller]
fn assert_json_error(r: &RawResp, status: u16, message: &str) {
    assert_eq!(r.status, status);
    assert_eq!(header(&r.headers, "content-type"), ["application/json"]);
    assert_eq!(r.json(), json!({"data": {}, "message": message, "status": status}));
    assert_security_headers(r);
}

sb_testkit::sbtest_http!(unknown_routes_methods_and_head, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "fields": [{"name": "title", "type": "text"}]})).await;
    su.create_record("posts", json!({"id": "post00000000001", "title": "t"})).await;
    let g = su.with_token(None);
    for path in
        ["/api/nope", "/nope", "/api/collections/posts/records/post00000000001/extra", "/api"]
    {
        assert_json_error(&g.raw(Method::GET, path, None, "", &[]).await, 404, NOT_FOUND);
    }
    for (method, path) in [
        (Method::PUT, "/api/health"),
        (Method::DELETE, "/api/health"),
        (Method::PUT, "/api/collections/posts/records"),
        (Method::DELETE, "/api/collections/posts/records"),
        (Method::POST, "/api/collections/posts/records/post00000000001"),
        (Method::GET, "/api/collections/posts/auth-with-password"),
    ] {
        assert_json_error(&g.raw(method, path, None, "", &[]).await, 404, NOT_FOUND);
    }
    // HEAD answers like GET without a body.
    for path in [
        "/api/health",
        "/api/collections/posts/records",
        "/api/collections/posts/records/post00000000001",
    ] {
        let get = g.raw(Method::GET, path, None, "", &[]).await;
        let head = g.raw(Method::HEAD, path, None, "", &[]).await;
        assert_eq!((head.status, head.bytes.len()), (200, 0), "{path}");
        assert_eq!(header(&head.headers, "content-type"), ["application/json"]);
        assert_eq!(header(&head.headers, "content-length"), [get.bytes.len().to_string().as_str()]);
        assert_security_headers(&head);
    }
    let head = g.raw(Method::HEAD, "/api/collections/nope/records", None, "", &[]).await;
    assert_eq!((head.status, head.bytes.len()), (404, 0));
    // Success bodies are JSON; deletes answer 204 with nothing.
    let list = g.raw(Method::GET, "/api/collections/posts/records", None, "", &[]).await;
    assert_eq!(header(&list.headers, "content-type"), ["application/json"]);
    assert_security_headers(&list);
    let del = su
        .raw(Method::DELETE, "/api/collections/posts/records/post00000000001", None, "", &[])
        .await;
    assert_eq!((del.status, del.bytes.len()), (204, 0));
    assert_security_headers(&del);
    // An unusable Authorization header makes a guest, not an error.
    let r = g
        .raw(
            Method::GET,
            "/api/collections/posts/records",
            None,
            "",
            &[("Authorization", "Bearer")],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = g
        .raw(Method::GET, "/api/collections/posts/records", None, "", &[("Authorization", "x.y.z")])
        .await;
    assert_eq!(r.status, 200);
});

sb_testkit::sbtest_http!(cors_by_default_allows_any_origin, |url, app| async move {
    let g = Client::guest(&url);
    let _ = &app;
    let r = g
        .raw(
            Method::OPTIONS,
            "/api/collections/posts/records",
            None,
            "",
            &[
                ("Origin", "http://x.example"),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type,authorization"),
            ],
        )
        .await;
    assert_eq!((r.status, r.bytes.len()), (204, 0));
    assert_eq!(header(&r.headers, "access-control-allow-origin"), ["*"]);
    assert_eq!(
        header(&r.headers, "access-control-allow-methods"),
        ["GET,HEAD,PUT,PATCH,POST,DELETE"]
    );
    assert_eq!(header(&r.headers, "access-control-allow-headers"), ["content-type,authorization"]);
    assert_eq!(
        header(&r.headers, "vary"),
        ["Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"]
    );
    assert!(
        r.headers.get("access-control-max-age").is_none()
            && r.headers.get("access-control-allow-credentials").is_none()
    );
    // An OPTIONS request with an Origin is always answered as a preflight.
    let r =
        g.raw(Method::OPTIONS, "/api/health", None, "", &[("Origin", "http://x.example")]).await;
    assert_eq!(r.status, 204);
    assert_eq!(header(&r.headers, "access-control-allow-origin"), ["*"]);
    assert!(r.headers.get("access-control-allow-headers").is_none());
    // Without an Origin only `Vary: Origin`.
    let r = g.raw(Method::OPTIONS, "/api/nope", None, "", &[]).await;
    assert_eq!(r.status, 204);
    assert_eq!(header(&r.headers, "vary"), ["Origin"]);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // Ordinary responses, errors included.
    let r = g
        .raw(
            Method::GET,
            "/api/collections/nope/records",
            None,
            "",
            &[("Origin", "http://x.example")],
        )
        .await;
    assert_json_error(&r, 404, "Missing collection context.");
    assert_eq!(header(&r.headers, "access-control-allow-origin"), ["*"]);
    let r = g.raw(Method::GET, "/api/health", None, "", &[]).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
});

async fn cors_allow_list(backend: sb_testkit::Backend) {
    let config = sb_http::HttpConfig {
        cors_origins: vec!["https://good.example".into()],
        ..Default::default()
    };
    let server = sb_testkit::TestServer::start_with(backend, config).await;
    let g = Client::guest(&server.url);
    let r =
        g.raw(Method::GET, "/api/health", None, "", &[("Origin", "https://good.example")]).await;
    assert_eq!(header(&r.headers, "access-control-allow-origin"), ["https://good.example"]);
    let r =
        g.raw(Method::GET, "/api/health", None, "", &[("Origin", "https://evil.example")]).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    let r = g
        .raw(
            Method::OPTIONS,
            "/api/health",
            None,
            "",
            &[("Origin", "https://evil.example"), ("Access-Control-Request-Method", "GET")],
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allow_list_sqlite() {
    cors_allow_list(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allow_list_postgres() {
    cors_allow_list(sb_testkit::Backend::Postgres).await;
}

sb_testkit::sbtest_http!(health, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    let r = g.raw(Method::GET, "/api/health", None, "", &[]).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"message": "API is healthy.", "code": 200, "data": {}}))
    );
    assert_security_headers(&r);
    let r = su.get("/api/health").await;
    assert_eq!(
        r.body["data"],
        // Backups are made on SQLite only (PostgreSQL: pg_dump).
        json!({"canBackup": app.backups_available(), "realIP": "127.0.0.1", "possibleProxyHeader": ""})
    );
    // Security headers also on 401/403 answers.
    assert_json_error(
        &g.raw(Method::GET, "/api/settings", None, "", &[]).await,
        401,
        "The request requires valid record authorization token.",
    );
});
