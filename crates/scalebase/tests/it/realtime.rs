//! Realtime (spec §7): the SSE wire format, subscriptions, per-subscriber rules, options,
//! ordering, reconnects, timeouts, shutdown, and the OAuth2 redirect handoff (spec §6.8).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::Client;

/// Generous bound on waiting for one SSE message, so a broken server fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

/// One SSE message.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    id: String,
    pub(crate) name: String,
    pub(crate) data: Value,
}

/// A raw SSE reader over a streaming response.
pub(crate) struct Sse {
    resp: reqwest::Response,
    buf: String,
    client_id: String,
    headers: reqwest::header::HeaderMap,
}

impl Sse {
    pub(crate) async fn connect(base: &str) -> Sse {
        let resp = reqwest::get(format!("{base}/api/realtime")).await.expect("connect");
        assert_eq!(resp.status().as_u16(), 200);
        let headers = resp.headers().clone();
        let mut sse = Sse { resp, buf: String::new(), client_id: String::new(), headers };
        let first = sse.next().await.expect("PB_CONNECT");
        assert_eq!(first.name, "PB_CONNECT");
        assert_eq!(first.data["clientId"].as_str(), Some(first.id.as_str()));
        sse.client_id = first.id;
        sse
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The next message; `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut ev = Event { id: String::new(), name: String::new(), data: Value::Null };
                for line in raw.lines().filter(|l| !l.is_empty()) {
                    if let Some(v) = line.strip_prefix("id:") {
                        ev.id = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        ev.name = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        ev.data = serde_json::from_str(v).expect("data is JSON");
                    } else {
                        panic!("unexpected SSE line {line:?}");
                    }
                }
                return Some(ev);
            }
            let chunk = tokio::time::timeout(WAIT, self.resp.chunk())
                .await
                .expect("an SSE message within the wait bound")
                .ok()??;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// Messages up to and including the first that satisfies `last`.
    pub(crate) async fn until(&mut self, last: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let ev = self.next().await.expect("stream still open");
            let done = last(&ev);
            out.push(ev);
            if done {
                return out;
            }
        }
    }

    pub(crate) async fn subscribe(&self, client: &Client, topics: &[&str]) {
        let r = client
            .post("/api/realtime", json!({"clientId": self.client_id, "subscriptions": topics}))
            .await;
        assert_eq!(r.status, 204, "subscribe: {:?}", r.body);
    }
}

fn titles(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.data["record"]["t"].as_str().unwrap_or("").to_owned()).collect()
}

async fn user(admin: &Client, users: &str, name: &str) -> (Client, String) {
    let email = format!("{name}@example.com");
    let r = admin
        .post(
            &format!("/api/collections/{users}/records"),
            json!({"email": email, "password": "password123", "passwordConfirm": "password123", "name": name}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let mut c = Client::guest(&admin.base);
    let r = c
        .post(
            &format!("/api/collections/{users}/auth-with-password"),
            json!({"identity": email, "password": "password123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    c.token = r.body["token"].as_str().map(String::from);
    (c, id)
}

sb_testkit::sbtest_http!(realtime_wire_format, |url, app| async move {
    let sse = Sse::connect(&url).await;
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert_eq!(sse.headers["cache-control"], "no-store");
    assert_eq!(sse.headers["x-accel-buffering"], "no");
    assert_eq!(sse.client_id.len(), 40);
    assert!(sse.client_id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(app.realtime_client_count(), 1);

    let admin = Client::admin(&url, &app).await;
    admin
        .create_collection(json!({"name": "posts", "listRule": "", "viewRule": "",
            "fields": [{"name": "t", "type": "text"}]}))
        .await;
    let guest = Client::guest(&url);
    sse.subscribe(&guest, &["posts/*"]).await;
    admin.post("/api/collections/posts/records", json!({"t": "x"})).await;
    // the exact bytes of an event
    let mut sse = sse;
    loop {
        if let Some(end) = sse.buf.find("\n\n") {
            let raw = &sse.buf[..end + 2];
            let prefix = format!(
                "id:{}\nevent:posts/*\ndata:{{\"action\":\"create\",\"record\":{{",
                sse.client_id
            );
            assert!(raw.starts_with(&prefix), "{raw:?}");
            assert_eq!(raw.matches('\n').count(), 4, "{raw:?}");
            break;
        }
        let chunk = tokio::time::timeout(WAIT, sse.resp.chunk()).await.unwrap().unwrap().unwrap();
        sse.buf.push_str(std::str::from_utf8(&chunk).unwrap());
    }
});

sb_testkit::sbtest_http!(realtime_subscribe_errors, |url, app| async move {
    let admin = Client::admin(&url, &app).await;
    let users = "_pb_users_auth_";
    let (alice, _) = user(&admin, users, "alice").await;
    let (bob, _) = user(&admin, users, "bob").await;
    let guest = Client::guest(&url);

    let r = guest.post("/api/realtime", json!({"clientId": "nope", "subscriptions": []})).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "Missing or invalid client id.");
    let r = guest.post("/api/realtime", json!({"subscriptions": []})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["data"]["clientId"]["code"], "validation_required");
    let r = guest.post("/api/realtime", json!({"clientId": "x".repeat(256)})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["data"]["clientId"]["code"], "validation_length_out_of_range");
    let many: Vec<String> = (0..1001).map(|i| format!("t{i}")).collect();
    let r = guest.post("/api/realtime", json!({"clientId": "x", "subscriptions": many})).await;
    assert_eq!(r.status, 400);
    let r = guest
        .raw(reqwest::Method::POST, "/api/realtime", Some("application/json"), "{bad", &[])
        .await;
    assert_eq!(r.status, 400);

    // a guest client can be upgraded; then the auth is bound
    let sse = Sse::connect(&url).await;
    sse.subscribe(&guest, &["a"]).await;
    sse.subscribe(&alice, &["a"]).await;
    sse.subscribe(&alice, &[]).await;
    for other in [&bob, &guest, &admin] {
        let r = other
            .post("/api/realtime", json!({"clientId": sse.client_id, "subscriptions": ["a"]}))
            .await;
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert_eq!(
            r.body["message"],
            "The current and the previous request authorization don't match."
        );
    }
});

sb_testkit::sbtest_http!(realtime_rules_per_subscriber, |url, app| async move {
    let admin = Client::admin(&url, &app).await;
    let users = "_pb_users_auth_";
    let (alice, alice_id) = user(&admin, users, "alice").await;
    let (bob, bob_id) = user(&admin, users, "bob").await;
    let guest = Client::guest(&url);
    // in-memory checkable list rule; a view rule that walks a relation (SQL fallback)
    admin
        .create_collection(json!({
            "name": "notes",
            "listRule": "owner = @request.auth.id || t = 'public'",
            "viewRule": "owner.name = 'alice' || t = 'public'",
            "fields": [
                {"name": "t", "type": "text"},
                {"name": "n", "type": "number"},
                {"name": "secret", "type": "text", "hidden": true},
                {"name": "owner", "type": "relation", "collectionId": users, "maxSelect": 1}
            ]
        }))
        .await;
    let base = admin.post("/api/collections/notes/records", json!({"t": "base"})).await;
    let base_id = base.body["id"].as_str().unwrap().to_owned();

    let mut s_alice = Sse::connect(&url).await;
    let mut s_bob = Sse::connect(&url).await;
    let mut s_guest = Sse::connect(&url).await;
    let mut s_admin = Sse::connect(&url).await;
    let mut s_alice_view = Sse::connect(&url).await;
    let mut s_bob_view = Sse::connect(&url).await;
    let mut s_filter = Sse::connect(&url).await;
    s_alice.subscribe(&alice, &["notes/*"]).await;
    s_bob.subscribe(&bob, &["notes/*"]).await;
    s_guest.subscribe(&guest, &["notes"]).await;
    s_admin.subscribe(&admin, &["notes/*"]).await;
    s_alice_view.subscribe(&alice, &[&format!("notes/{base_id}")]).await;
    s_bob_view.subscribe(&bob, &[&format!("notes/{base_id}")]).await;
    let filter_topic = format!(
        "notes/*?options={}",
        percent(&json!({"query": {"filter": "n > 5", "fields": "t,n"}}).to_string())
    );
    s_filter.subscribe(&alice, &[&filter_topic]).await;

    for (t, owner, n) in [("for-alice", &alice_id, 10), ("for-bob", &bob_id, 1)] {
        admin
            .post(
                "/api/collections/notes/records",
                json!({"t": t, "owner": owner, "n": n, "secret": "s"}),
            )
            .await;
    }
    admin.post("/api/collections/notes/records", json!({"t": "for-guest", "n": 7})).await;
    // the watched record: alice owns it now (view rule walks owner.name)
    admin
        .patch(&format!("/api/collections/notes/records/{base_id}"), json!({"owner": alice_id}))
        .await;
    admin
        .patch(&format!("/api/collections/notes/records/{base_id}"), json!({"owner": bob_id}))
        .await;
    admin.post("/api/collections/notes/records", json!({"t": "public", "n": 100})).await;
    admin.patch(&format!("/api/collections/notes/records/{base_id}"), json!({"t": "public"})).await;

    let is_marker = |e: &Event| e.data["record"]["t"] == "public" && e.data["action"] == "create";
    let a = s_alice.until(is_marker).await;
    assert_eq!(titles(&a), ["for-alice", "base", "public"]);
    assert!(a.iter().all(|e| e.data["record"].get("secret").is_none()));
    let b = s_bob.until(is_marker).await;
    assert_eq!(titles(&b), ["for-bob", "base", "public"]);
    let g = s_guest.until(is_marker).await;
    assert_eq!(titles(&g), ["for-guest", "public"]);
    assert_eq!(g[0].name, "notes");
    let s = s_admin.until(is_marker).await;
    assert_eq!(titles(&s), ["for-alice", "for-bob", "for-guest", "base", "base", "public"]);
    assert_eq!(s[0].data["record"]["secret"], "s");
    let f = s_filter.until(is_marker).await;
    assert_eq!(titles(&f), ["for-alice", "public"]);
    assert_eq!(f[0].name, filter_topic);
    let keys: Vec<&String> = f[0].data["record"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["t", "n"]);

    // view subscriptions: both see the update that made the record alice's (the view rule
    // is checked per subscriber but does not depend on who asks), none the one to bob, both
    // the final public update
    let last = |e: &Event| e.data["record"]["t"] == "public";
    for s in [&mut s_alice_view, &mut s_bob_view] {
        let v = s.until(last).await;
        let owners: Vec<&str> =
            v.iter().map(|e| e.data["record"]["owner"].as_str().unwrap()).collect();
        assert_eq!(owners, [alice_id.as_str(), bob_id.as_str()]);
        assert!(v.iter().all(|e| e.data["action"] == "update"));
    }
});

sb_testkit::sbtest_http!(realtime_order_delete_and_options, |url, app| async move {
    let admin = Client::admin(&url, &app).await;
    let users = "_pb_users_auth_";
    let (alice, alice_id) = user(&admin, users, "alice").await;
    admin
        .create_collection(json!({
            "name": "items", "listRule": "", "viewRule": "",
            "fields": [
                {"name": "t", "type": "text"},
                {"name": "owner", "type": "relation", "collectionId": users, "maxSelect": 1}
            ]
        }))
        .await;
    let mut sse = Sse::connect(&url).await;
    let topic =
        format!("items/*?options={}", percent(&json!({"query": {"expand": "owner"}}).to_string()));
    sse.subscribe(&alice, &[&topic]).await;
    let r =
        admin.post("/api/collections/items/records", json!({"t": "v0", "owner": alice_id})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // concurrent updates of one record: the events follow the commits, so the last update
    // event carries the record's final state
    let path = format!("/api/collections/items/records/{id}");
    let writes = (1..=30).map(|i| admin.patch(&path, json!({"t": format!("v{i}")})));
    for r in futures::future::join_all(writes).await {
        assert_eq!(r.status, 200);
    }
    let current = admin.get(&format!("/api/collections/items/records/{id}")).await;
    admin.delete(&format!("/api/collections/items/records/{id}")).await;
    let events = sse.until(|e| e.data["action"] == "delete").await;
    let actions: Vec<&str> = events.iter().map(|e| e.data["action"].as_str().unwrap()).collect();
    assert_eq!(actions.len(), 32);
    assert_eq!(actions[0], "create");
    assert!(actions[1..31].iter().all(|a| *a == "update"));
    assert_eq!(events[30].data["record"]["t"], current.body["t"]);
    let last = events.last().unwrap();
    assert_eq!(last.data["record"]["id"], id.as_str());
    assert_eq!(last.data["record"]["t"], current.body["t"]);
    // the subscriber is the owner: the expanded user shows its e-mail
    assert_eq!(last.data["record"]["expand"]["owner"]["email"], "alice@example.com");
});

sb_testkit::sbtest_http!(realtime_unsubscribe_and_reconnect, |url, app| async move {
    let admin = Client::admin(&url, &app).await;
    admin
        .create_collection(
            json!({"name": "a", "listRule": "", "fields": [{"name": "t", "type": "text"}]}),
        )
        .await;
    let guest = Client::guest(&url);
    let mut sse = Sse::connect(&url).await;
    sse.subscribe(&guest, &["a/*", "@oauth2"]).await;
    admin.post("/api/collections/a/records", json!({"t": "one"})).await;
    assert_eq!(titles(&sse.until(|_| true).await), ["one"]);
    sse.subscribe(&guest, &[]).await;
    admin.post("/api/collections/a/records", json!({"t": "two"})).await;
    sse.subscribe(&guest, &["a/*"]).await;
    admin.post("/api/collections/a/records", json!({"t": "three"})).await;
    assert_eq!(titles(&sse.until(|_| true).await), ["three"]);

    // the client id dies with its stream; a new stream gets a new id
    let old = sse.client_id.clone();
    drop(sse);
    let mut gone = false;
    for _ in 0..200 {
        let r = guest.post("/api/realtime", json!({"clientId": old, "subscriptions": []})).await;
        if r.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(gone, "the old client id still works");
    let mut again = Sse::connect(&url).await;
    assert_ne!(again.client_id, old);
    again.subscribe(&guest, &["a/*"]).await;
    admin.post("/api/collections/a/records", json!({"t": "four"})).await;
    assert_eq!(titles(&again.until(|_| true).await), ["four"]);
});

sb_testkit::sbtest_http!(realtime_oauth2_redirect, |url, app| async move {
    let no_redirect =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let guest = Client::guest(&url);
    let mut sse = Sse::connect(&url).await;
    sse.subscribe(&guest, &["@oauth2"]).await;
    let get = |q: String| {
        let c = no_redirect.clone();
        let url = url.clone();
        async move { c.get(format!("{url}/api/oauth2-redirect?{q}")).send().await.unwrap() }
    };
    let r = get(format!("state={}&code=abc", sse.client_id)).await;
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(r.headers()["location"], "../_/#/auth/oauth2-redirect-success");
    let ev = sse.next().await.unwrap();
    assert_eq!(ev.name, "@oauth2");
    assert_eq!(ev.data, json!({"state": sse.client_id, "code": "abc"}));
    // the subscription was consumed
    let r = get(format!("state={}&code=abc", sse.client_id)).await;
    assert_eq!(r.headers()["location"], "../_/#/auth/oauth2-redirect-failure");
    // an error from the provider is handed over, and the page says failure
    sse.subscribe(&guest, &["@oauth2"]).await;
    let r = no_redirect
        .post(format!("{url}/api/oauth2-redirect"))
        .form(&[("state", sse.client_id.as_str()), ("error", "access_denied")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "../_/#/auth/oauth2-redirect-failure");
    let ev = sse.next().await.unwrap();
    assert_eq!(ev.data, json!({"state": sse.client_id, "code": "", "error": "access_denied"}));
    let r = get("code=abc".into()).await;
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(r.headers()["location"], "../_/#/auth/oauth2-redirect-failure");
});

/// Streams end after the idle timeout, and shutdown ends open streams instead of waiting for
/// them (the drain would otherwise hang until its own timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_idle_timeout_and_shutdown() {
    let config = sb_http::HttpConfig {
        realtime_idle_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = sb_testkit::TestServer::start_with(sb_testkit::Backend::Sqlite, config).await;
    let mut idle = Sse::connect(&server.url).await;
    assert!(idle.next().await.is_none(), "the idle stream ends");

    let config = sb_http::HttpConfig::default();
    let server2 = sb_testkit::TestServer::start_with(sb_testkit::Backend::Sqlite, config).await;
    let mut open = Sse::connect(&server2.url).await;
    let stop = tokio::spawn(server2.stop());
    assert!(open.next().await.is_none(), "shutdown ends the stream");
    tokio::time::timeout(Duration::from_secs(8), stop)
        .await
        .expect("shutdown does not wait for realtime streams")
        .unwrap();
    server.stop().await;
}

/// A superuser client, and a guest's stream subscribed to `a/*`: a new collection `a` (text
/// `t`) that everyone may list.
async fn public_collection_stream(server: &sb_testkit::TestServer) -> (Client, Sse) {
    let admin = Client::admin(&server.url, &server.app.app).await;
    admin
        .create_collection(
            json!({"name": "a", "listRule": "", "fields": [{"name": "t", "type": "text"}]}),
        )
        .await;
    let sse = Sse::connect(&server.url).await;
    sse.subscribe(&Client::guest(&server.url), &["a/*"]).await;
    (admin, sse)
}

/// The idle timeout counts from the last message sent: a stream that keeps receiving events
/// stays open well past it, and ends once they stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_messages_postpone_the_idle_end() {
    // generous, so that a slow machine's delays never reach it between two events
    let idle = Duration::from_secs(3);
    let config = sb_http::HttpConfig { realtime_idle_timeout: idle, ..Default::default() };
    let server = sb_testkit::TestServer::start_with(sb_testkit::Backend::Sqlite, config).await;
    let (admin, mut sse) = public_collection_stream(&server).await;
    let opened = std::time::Instant::now();
    let mut i = 0;
    // events a third of the idle timeout apart, for more than twice the idle timeout
    while opened.elapsed() < idle * 2 {
        tokio::time::sleep(idle / 3).await;
        let t = format!("m{i}");
        admin.post("/api/collections/a/records", json!({ "t": t })).await;
        assert_eq!(titles(&sse.until(|_| true).await), [t], "the stream is still open");
        i += 1;
    }
    let quiet = std::time::Instant::now();
    assert!(sse.next().await.is_none(), "the stream ends once the events stop");
    assert!(
        quiet.elapsed() >= idle / 2,
        "it ended by the idle timeout, after {:?}",
        quiet.elapsed()
    );
    server.stop().await;
}

/// The header-read timeout (which also bounds an idle keep-alive connection) does not end a
/// realtime stream that is still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_outlives_the_header_read_timeout() {
    let serve = sb_http::ServeConfig {
        header_read_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = sb_testkit::TestServer::start_with_serve(
        sb_testkit::Backend::Sqlite,
        sb_http::HttpConfig::default(),
        serve,
    )
    .await;
    let (admin, mut sse) = public_collection_stream(&server).await;
    // several header-read timeouts pass while the stream is idle
    tokio::time::sleep(Duration::from_millis(1500)).await;
    admin.post("/api/collections/a/records", json!({"t": "late"})).await;
    assert_eq!(titles(&sse.until(|_| true).await), ["late"]);
    drop(sse);
    server.stop().await;
}

/// Resident memory of this process in KiB (each nextest test runs in its own process).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

// 10k idle subscribers on one node (at the application layer, without sockets: the
// server-side memory of a whole SSE connection is measured by `realtime_bench`): every one
// receives the events its rule admits, and what they hold is printed (never asserted).
sb_testkit::sbtest_http!(realtime_ten_thousand_subscribers, |url, app| async move {
    const N: usize = 10_000;
    let admin = Client::admin(&url, &app).await;
    admin
        .create_collection(json!({"name": "posts", "listRule": "t != 'hidden'",
            "fields": [{"name": "t", "type": "text"}]}))
        .await;
    let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let before = rss_kib();
    let mut conns = Vec::with_capacity(N);
    for _ in 0..N {
        let c = app.realtime_connect(Some(ip)).expect("connect");
        let mut body = serde_json::Map::new();
        body.insert("clientId".into(), json!(&*c.client_id));
        body.insert("subscriptions".into(), json!(["posts/*"]));
        app.realtime_subscribe(Some(ip), None, &body).await.expect("subscribe");
        conns.push(c);
    }
    let after = rss_kib();
    eprintln!(
        "realtime: {N} idle subscribers hold {} KiB ({:.2} KiB each, application layer)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / N as f64
    );
    assert_eq!(app.realtime_client_count(), N);
    let started = std::time::Instant::now();
    for t in ["hello", "hidden", "last"] {
        admin.post("/api/collections/posts/records", json!({"t": t})).await;
    }
    for c in &mut conns {
        for want in ["hello", "last"] {
            let m = tokio::time::timeout(WAIT, c.messages.recv()).await.unwrap().unwrap();
            assert_eq!(&*m.event, "posts/*");
            let data: Value = serde_json::from_str(&m.data).unwrap();
            assert_eq!(data["record"]["t"], want);
        }
    }
    eprintln!("realtime: 2 events reached {N} subscribers in {:?}", started.elapsed());
});

fn percent(s: &str) -> String {
    url_encode(s)
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// A delete reports what it did to other records too: cascaded deletes as delete events, and
// records whose relations lost the deleted id as update events, in the reference PocketBase's
// order (checked against it: depth first, each record after what its delete caused).
sb_testkit::sbtest_http!(
    realtime_events_of_cascades_and_released_references,
    |url, app| async move {
        let admin = Client::admin(&url, &app).await;
        let authors = admin
            .create_collection(json!({"name": "authors", "listRule": "", "viewRule": "",
            "fields": [{"name": "name", "type": "text"}]}))
            .await;
        let authors_id = authors["id"].as_str().unwrap().to_owned();
        let posts = admin
            .create_collection(json!({"name": "posts", "listRule": "", "viewRule": "",
            "fields": [{"name": "title", "type": "text"},
                       {"name": "author", "type": "relation", "collectionId": authors_id,
                        "maxSelect": 1, "cascadeDelete": true}]}))
            .await;
        let posts_id = posts["id"].as_str().unwrap().to_owned();
        admin
            .create_collection(json!({"name": "notes", "listRule": "", "viewRule": "",
            "fields": [{"name": "text", "type": "text"},
                       {"name": "about", "type": "relation", "collectionId": posts_id,
                        "maxSelect": 5}]}))
            .await;
        let author = admin.create_record("authors", json!({"name": "ann"})).await;
        let author_id = author["id"].as_str().unwrap();
        let post = admin.create_record("posts", json!({"title": "p1", "author": author_id})).await;
        let post_id = post["id"].as_str().unwrap().to_owned();
        let other = admin.create_record("posts", json!({"title": "p2"})).await;
        let other_id = other["id"].as_str().unwrap().to_owned();
        let note = admin
            .create_record(
                "notes",
                json!({"text": "n", "about": [post_id.clone(), other_id.clone()]}),
            )
            .await;

        let mut sse = Sse::connect(&url).await;
        sse.subscribe(&Client::guest(&url), &["authors", "posts", "notes"]).await;
        let r = admin.delete(&format!("/api/collections/authors/records/{author_id}")).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
        let events = sse.until(|e| e.name == "authors").await;
        let seen: Vec<(String, String, String)> = events
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.data["action"].as_str().unwrap().to_owned(),
                    e.data["record"]["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("notes".into(), "update".into(), note["id"].as_str().unwrap().to_owned()),
                ("posts".into(), "delete".into(), post_id.clone()),
                ("authors".into(), "delete".into(), author_id.to_owned()),
            ]
        );
        // The update event carries the record's new state.
        assert_eq!(events[0].data["record"]["about"], json!([other_id]));
        assert_eq!(events[1].data["record"]["title"], "p1");
    }
);
