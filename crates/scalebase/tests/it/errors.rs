//! Hostile and malformed input: every case answers a PocketBase error body with the right
//! status, writes nothing, and leaves the server healthy. Checked against PocketBase 0.40.6
//! (differences kept on purpose are noted where they are tested).

use reqwest::Method;
use serde_json::json;

use crate::common::{Client, GENERIC_400, NOT_FOUND, Resp, assert_error};

const POSTS: &str = "/api/collections/posts/records";

async fn schema(su: &Client) {
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "", "fields": [
        {"name": "title", "type": "text"}, {"name": "n", "type": "number"}, {"name": "meta", "type": "json"},
        {"name": "secret", "type": "text", "hidden": true},
    ]}))
    .await;
    su.create_record("posts", json!({"id": "post00000000001", "title": "keep", "n": 1})).await;
}

/// Asserts that the posts are exactly the fixture (no partial write) and the server answers.
async fn assert_untouched(su: &Client) {
    let posts = su.all_records("posts").await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!((posts[0]["title"].as_str(), posts[0]["n"].as_i64()), (Some("keep"), Some(1)));
    su.assert_healthy().await;
}

fn as_resp(r: crate::common::RawResp) -> Resp {
    Resp { status: r.status, body: r.json(), headers: r.headers }
}

sb_testkit::sbtest_http!(malformed_bodies, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let p1 = format!("{POSTS}/post00000000001");
    let json_ct = Some("application/json");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_field =
        format!(r#"{{"title":"x","meta":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", br#"{"title":"x""#.to_vec()),
        ("not an object", b"[1,2]".to_vec()),
        ("a string", br#""str""#.to_vec()),
        ("a number", b"12".to_vec()),
        ("garbage", b"hello".to_vec()),
        ("trailing comma", br#"{"title":"x",}"#.to_vec()),
        ("single quotes", b"{'title':'x'}".to_vec()),
        ("invalid UTF-8 value", b"{\"title\":\"\xff\xfe\"}".to_vec()),
        ("invalid UTF-8 key", b"{\"\xff\":\"x\"}".to_vec()),
        ("lone surrogate", br#"{"title":"\ud800"}"#.to_vec()),
        ("byte order mark", b"\xef\xbb\xbf{\"title\":\"x\"}".to_vec()),
        ("duplicate key", br#"{"title":"a","title":"b"}"#.to_vec()),
        ("nested duplicate key", br#"{"meta":{"k":1,"k":2}}"#.to_vec()),
        ("NUL character", br#"{"title":"a\u0000b"}"#.to_vec()),
        ("NUL in a JSON key", br#"{"meta":{"a\u0000":1}}"#.to_vec()),
        ("nested 10000 deep", deep.into_bytes()),
        ("field nested 10000 deep", deep_field.into_bytes()),
        ("number overflow", br#"{"n":1e400}"#.to_vec()),
        ("float overflow", br#"{"n":1.7976931348623157e309}"#.to_vec()),
    ];
    for (name, body) in cases {
        for (method, path) in [(Method::POST, POSTS), (Method::PATCH, p1.as_str())] {
            let r = as_resp(su.raw(method.clone(), path, json_ct, body.clone(), &[]).await);
            assert_eq!(r.status, 400, "{name} ({method}): {:?}", r.body);
            assert_error(&r, 400, GENERIC_400);
        }
    }
    assert_untouched(&su).await;

    // Form bodies with a NUL are refused too.
    let r = su.multipart(Method::POST, POSTS, &[("title", "a\0b")]).await;
    assert_error(&r, 400, GENERIC_400);
    let r = su.urlencoded(Method::POST, POSTS, &[("title", "a\0b")]).await;
    assert_error(&r, 400, GENERIC_400);
    let r = as_resp(su.raw(Method::POST, POSTS, Some("multipart/form-data"), "x", &[]).await);
    assert_error(&r, 400, GENERIC_400);
    let r = as_resp(
        su.raw(
            Method::POST,
            POSTS,
            Some("multipart/form-data; boundary=zz"),
            "--zz\r\nbroken",
            &[],
        )
        .await,
    );
    assert_error(&r, 400, GENERIC_400);
    // Unsupported media types.
    for ct in [Some("text/plain"), Some("application/xml+nope"), None, Some("")] {
        let r = as_resp(su.raw(Method::POST, POSTS, ct, "title=x", &[]).await);
        assert_error(&r, 400, "Unsupported Content-Type.");
    }
    assert_untouched(&su).await;

    // Accepted: anything after the first JSON value, an empty body with any type, `null`,
    // numbers beyond 2^53 (as floats), a media type with parameters in any case.
    let r = as_resp(su.raw(Method::POST, POSTS, json_ct, r#"{"title":"t1"} garbage"#, &[]).await);
    assert_eq!((r.status, r.body["title"].as_str()), (200, Some("t1")));
    let r = as_resp(su.raw(Method::POST, POSTS, Some("text/plain"), "", &[]).await);
    assert_eq!(r.status, 200);
    let r = as_resp(su.raw(Method::POST, POSTS, json_ct, "null", &[]).await);
    assert_eq!(r.status, 200);
    let r = as_resp(
        su.raw(
            Method::POST,
            POSTS,
            Some("Application/JSON; charset=UTF-8"),
            r#"{"n":123456789012345678901234567890,"meta":[1e300,-0]}"#,
            &[],
        )
        .await,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body["n"].as_f64(), Some(1.2345678901234568e29));
    assert_eq!(su.all_records("posts").await.len(), 5);
    su.assert_healthy().await;
});

sb_testkit::sbtest_http!(bad_list_parameters, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    for q in [
        "page=abc",
        "page=1.5",
        "page=%201",
        "page=99999999999999999999",
        "perPage=x",
        "perPage=1e3",
        "skipTotal=yes",
        "skipTotal=2",
        "filter=%20",
        "filter=title",
        "sort=%20",
        "sort=nope",
        "sort=title,",
        "filter=secret='x'",
        "sort=secret",
        "fields=title:excerpt(0)",
    ] {
        assert_error(&g.get(&format!("{POSTS}?{q}")).await, 400, GENERIC_400);
    }
    // SQLite's constant propagation rewrites `meta = 'x' AND JSON_EXTRACT(meta, …)` into
    // `JSON_EXTRACT('x', …)`, which fails with "malformed JSON": a 400 like PocketBase's, never a
    // 500. PostgreSQL evaluates it (no row matches).
    let filter = crate::common::encode("meta = 'x' && meta.a = 1");
    let r = g.get(&format!("{POSTS}?filter={filter}")).await;
    if r.status == 200 {
        assert_eq!(r.body["totalItems"], 0, "{:?}", r.body);
    } else {
        assert_error(&r, 400, GENERIC_400);
    }
    // Size and complexity limits of filters and sorts.
    let big = |n: usize| crate::common::encode(&format!("title='{}'", "a".repeat(n)));
    assert_eq!(g.get(&format!("{POSTS}?filter={}", big(3_480))).await.status, 200);
    assert_error(&g.get(&format!("{POSTS}?filter={}", big(3_600))).await, 400, GENERIC_400);
    assert_error(&g.get(&format!("{POSTS}?filter={}", big(20_000))).await, 400, GENERIC_400);
    let parens =
        crate::common::encode(&format!("{}title='a'{}", "(".repeat(10_000), ")".repeat(10_000)));
    assert_error(&g.get(&format!("{POSTS}?filter={parens}")).await, 400, GENERIC_400);
    let ors = |n: usize| crate::common::encode(&vec!["title='a'"; n].join("||"));
    assert_eq!(g.get(&format!("{POSTS}?filter={}", ors(200))).await.status, 200);
    assert_error(&g.get(&format!("{POSTS}?filter={}", ors(201))).await, 400, GENERIC_400);
    assert_error(&g.get(&format!("{POSTS}?filter={}", ors(500))).await, 400, GENERIC_400);
    assert_error(
        &g.get(&format!("{POSTS}?sort={}", vec!["title"; 20].join(","))).await,
        400,
        GENERIC_400,
    );
    assert_error(&g.get(&format!("{POSTS}?sort={}", "a".repeat(5_000))).await, 400, GENERIC_400);
    assert_eq!(
        g.get(&format!("{POSTS}?expand={}", vec!["nope"; 1_000].join(","))).await.status,
        200
    );
    assert_eq!(
        g.get(&format!("{POSTS}?fields={}", vec!["title"; 1_000].join(","))).await.status,
        200
    );
    assert_error(
        &g.get(&format!("{POSTS}?filter=%40request.auth.id%3D''")).await,
        403,
        "Only superusers can filter by @request.",
    );
    assert_error(
        &g.get(&format!("{POSTS}?filter=%40collection.posts.id%3D''")).await,
        403,
        "Only superusers can filter by @collection.",
    );
    // A URI longer than 64 KiB is refused by the HTTP layer with 414 and no body
    // (PocketBase: 400); the HTTP client cannot even build one, so it goes over a raw socket.
    let request = format!(
        "GET {POSTS}?filter={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        big(100_000)
    );
    assert_eq!(raw_http(&g.base, request).await.0, 414);
    assert_untouched(&su).await;
});

sb_testkit::sbtest_http!(bad_ids_and_collections, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let long = "x".repeat(10_000);
    for id in [
        "nope",
        "a%00b",
        "%00",
        &long,
        "%C3%A9%F0%9F%98%80",
        "'%3B%20DROP%20TABLE%20posts%3B--",
        "post00000000001%20",
        "POST00000000001",
    ] {
        let path = format!("{POSTS}/{id}");
        assert_error(&su.get(&path).await, 404, NOT_FOUND);
        assert_error(&su.patch(&path, json!({"title": "x"})).await, 404, NOT_FOUND);
        assert_error(&su.delete(&path).await, 404, NOT_FOUND);
    }
    // Names match case-insensitively, as in PocketBase.
    assert_eq!(su.get("/api/collections/POSTS/records").await.status, 200);
    for coll in ["nope", "_superusers%2f..", &long] {
        assert_error(
            &su.get(&format!("/api/collections/{coll}/records")).await,
            404,
            "Missing collection context.",
        );
        assert_error(
            &su.post(&format!("/api/collections/{coll}/records"), json!({})).await,
            404,
            "Missing or invalid collection context.",
        );
    }
    // A NUL character anywhere in the path: nothing can be found there.
    assert_error(&su.get("/api/collections/pos%00ts/records").await, 404, NOT_FOUND);
    // NUL characters in the query string are refused before reaching any handler.
    assert_error(&su.get(&format!("{POSTS}?filter=title%3D'a%00'")).await, 400, GENERIC_400);
    assert_error(&su.get(&format!("{POSTS}?expand=%00")).await, 400, GENERIC_400);
    // Reserved record keys are ignored on input.
    let r = su.patch(&format!("{POSTS}/post00000000001"), json!({"collectionId": "x", "collectionName": "y", "expand": {"a": 1}, "id": "post00000000001"})).await;
    assert_eq!((r.status, r.body["collectionName"].as_str()), (200, Some("posts")));
    assert_untouched(&su).await;
});

/// Runs `body` against a server whose base body limit is 4 KiB, on both backends.
async fn with_small_limit<F, Fut>(backend: sb_testkit::Backend, body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let config = sb_http::HttpConfig { body_limit: 4096, ..Default::default() };
    let server = sb_testkit::TestServer::start_with(backend, config).await;
    let su = Client::admin(&server.url, &server.app.app).await;
    body(su).await;
    server.stop().await;
}

async fn body_limit_case(su: Client) {
    su.create_collection(json!({"name": "small", "type": "base", "createRule": "", "listRule": "", "fields": [{"name": "title", "type": "text", "max": 99999}]})).await;
    su.create_collection(json!({"name": "roomy", "type": "base", "createRule": "", "fields": [{"name": "doc", "type": "json"}]})).await;
    let big = json!({"title": "x".repeat(5_000)}).to_string();
    let r = as_resp(
        su.raw(
            Method::POST,
            "/api/collections/small/records",
            Some("application/json"),
            big.clone(),
            &[],
        )
        .await,
    );
    assert_error(&r, 413, "Request entity too large.");
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
    // Streamed in chunks without a Content-Length: cut off while reading.
    let chunked: String = big
        .as_bytes()
        .chunks(512)
        .map(|c| format!("{:x}\r\n{}\r\n", c.len(), String::from_utf8_lossy(c)))
        .collect();
    let request = format!(
        "POST /api/collections/small/records HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked}0\r\n\r\n"
    );
    let (status, body) = raw_http(&su.base, request).await;
    assert_eq!(
        (status, body),
        (413, json!({"data": {}, "message": "Request entity too large.", "status": 413}))
    );
    // Non-record routes use the base limit; record routes add the json field's 1 MiB.
    let login = json!({"identity": "x".repeat(5_000), "password": "y"}).to_string();
    let r = as_resp(
        su.raw(
            Method::POST,
            "/api/collections/_superusers/auth-with-password",
            Some("application/json"),
            login,
            &[],
        )
        .await,
    );
    assert_error(&r, 413, "Request entity too large.");
    let doc = json!({"doc": {"text": "x".repeat(100_000)}}).to_string();
    let r = as_resp(
        su.raw(Method::POST, "/api/collections/roomy/records", Some("application/json"), doc, &[])
            .await,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let small = json!({"title": "x".repeat(1_000)}).to_string();
    assert_eq!(
        su.raw(
            Method::POST,
            "/api/collections/small/records",
            Some("application/json"),
            small,
            &[]
        )
        .await
        .status,
        200
    );
    assert_eq!(su.all_records("small").await.len(), 1, "the refused bodies wrote nothing");
    su.assert_healthy().await;
}

/// Sends a raw HTTP/1.1 request and returns the status code and body of the answer.
async fn raw_http(base: &str, request: String) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body.trim()).unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_is_configurable_sqlite() {
    with_small_limit(sb_testkit::Backend::Sqlite, body_limit_case).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_is_configurable_postgres() {
    with_small_limit(sb_testkit::Backend::Postgres, body_limit_case).await;
}
