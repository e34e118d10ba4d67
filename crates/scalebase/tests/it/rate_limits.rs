//! Rate limiting (spec §9.1, §6.14): rules by label, tag and audience, the 429 body, windows
//! that refill, excluded IPs, trusted proxy headers, settings applied at once, and the
//! failed-login guard that is on by default.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Client, RawResp, assert_error};

const TOO_MANY: &str = "Too Many Requests.";

async fn set_limits(su: &Client, limits: Value) {
    let r = su.patch("/api/settings", json!({"rateLimits": limits})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn health_from(c: &Client, forwarded: &str) -> RawResp {
    c.raw(Method::GET, "/api/health", None, "", &[("X-Forwarded-For", forwarded)]).await
}

#[track_caller]
fn assert_429(r: &RawResp) {
    assert_eq!(r.status, 429);
    assert_eq!(r.json(), json!({"data": {}, "message": TOO_MANY, "status": 429}));
    assert!(r.headers.get("retry-after").is_none());
    assert_eq!(r.headers.get("x-content-type-options").unwrap(), "nosniff");
}

async fn posts_and_user(su: &Client, app: &sb_core::App) -> Client {
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "", "fields": [{"name": "title", "type": "text"}]})).await;
    let user = su
        .create_record("users", json!({"email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let token = crate::common::record_token(app, "users", user["id"].as_str().unwrap()).await;
    su.with_token(Some(&token))
}

sb_testkit::sbtest_http!(rules_by_tag_label_and_audience, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let user = posts_and_user(&su, &app).await;
    let g = su.with_token(None);
    set_limits(
        &su,
        json!({"enabled": true, "rules": [
            {"label": "posts:list", "audience": "", "duration": 60, "maxRequests": 3},
            {"label": "*:create", "audience": "@guest", "duration": 60, "maxRequests": 2},
            {"label": "GET /api/health", "audience": "", "duration": 60, "maxRequests": 2},
            {"label": "/api/files/", "audience": "", "duration": 60, "maxRequests": 1}
        ]}),
    )
    .await;
    let list = "/api/collections/posts/records";
    for _ in 0..3 {
        assert_eq!(g.get(list).await.status, 200);
    }
    assert_429(&g.raw(Method::GET, list, None, "", &[]).await);
    // Counted per client IP: the user on the same address shares the exhausted counter...
    assert_eq!(user.get(list).await.status, 429);
    // ...superusers are never limited.
    assert_eq!(su.get(list).await.status, 200);

    // `*:create` is for guests only; the user falls through to no rule at all.
    for i in 0..2 {
        assert_eq!(g.post(list, json!({"title": format!("g{i}")})).await.status, 200);
    }
    assert_error(&g.post(list, json!({"title": "g3"})).await, 429, TOO_MANY);
    for i in 0..4 {
        assert_eq!(user.post(list, json!({"title": format!("u{i}")})).await.status, 200);
    }
    // Other collections' routes are untouched by `posts:list`.
    assert_eq!(g.get("/api/collections/users/auth-methods").await.status, 200);

    // A `METHOD /path` label and a `/prefix/` label.
    for _ in 0..2 {
        assert_eq!(g.get("/api/health").await.status, 200);
    }
    assert_429(&g.raw(Method::GET, "/api/health", None, "", &[]).await);
    assert_eq!(g.raw(Method::HEAD, "/api/health", None, "", &[]).await.status, 200);
    assert_eq!(g.post("/api/files/token", json!({})).await.status, 401);
    assert_error(&g.post("/api/files/token", json!({})).await, 429, TOO_MANY);

    // Settings changes apply to the next request: disabling lifts every limit...
    set_limits(&su, json!({"enabled": false})).await;
    assert_eq!(g.get(list).await.status, 200);
    assert_eq!(g.get("/api/health").await.status, 200);
    // ...and re-enabling with the loopback range excluded keeps them lifted for this client.
    set_limits(&su, json!({"enabled": true, "excludedIPs": ["127.0.0.0/8"]})).await;
    for _ in 0..5 {
        assert_eq!(g.get(list).await.status, 200);
    }
    set_limits(&su, json!({"excludedIPs": ["::1", "10.0.0.1"]})).await;
    assert_eq!(g.get(list).await.status, 429);
});

sb_testkit::sbtest_http!(window_refills, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    set_limits(
        &su,
        json!({"enabled": true, "rules": [
            {"label": "/api/", "audience": "@guest", "duration": 6, "maxRequests": 2}
        ]}),
    )
    .await;
    assert_eq!(g.get("/api/health").await.status, 200);
    assert_eq!(g.get("/api/collections/users/auth-methods").await.status, 200);
    assert_429(&g.raw(Method::GET, "/api/health", None, "", &[]).await);
    let limited_at = Instant::now();
    // A request is freed every duration / maxRequests = 3 s (long enough that a slow machine
    // still sees the refusal above); wait for it (bounded).
    let deadline = limited_at + Duration::from_secs(30);
    loop {
        let status = g.get("/api/health").await.status;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "the limit never reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An unknown route under the prefix is limited too (the rule is by path).
    assert_eq!(g.get("/api/nothing-here").await.status, 429);
});

sb_testkit::sbtest_http!(client_ip_from_trusted_proxy_headers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    set_limits(
        &su,
        json!({"enabled": true, "rules": [
            {"label": "GET /api/health", "audience": "", "duration": 60, "maxRequests": 1}
        ]}),
    )
    .await;
    // Not trusted: the header is ignored, both requests come from 127.0.0.1.
    assert_eq!(health_from(&g, "1.1.1.1").await.status, 200);
    assert_429(&health_from(&g, "2.2.2.2").await);
    let r = su.raw(Method::GET, "/api/health", None, "", &[("X-Forwarded-For", "1.1.1.1")]).await;
    assert_eq!(r.json()["data"]["realIP"], "127.0.0.1");
    assert_eq!(r.json()["data"]["possibleProxyHeader"], "X-Forwarded-For");

    let r =
        su.patch("/api/settings", json!({"trustedProxy": {"headers": ["X-Forwarded-For"]}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(health_from(&g, "3.3.3.3").await.status, 200);
    assert_429(&health_from(&g, "3.3.3.3").await);
    assert_eq!(health_from(&g, "4.4.4.4").await.status, 200);
    // The right-most address by default (the one the trusted proxy appended)...
    assert_eq!(health_from(&g, "5.5.5.5, 6.6.6.6").await.status, 200);
    assert_429(&health_from(&g, "7.7.7.7, 6.6.6.6").await);
    // ...or the left-most.
    let r = su.patch("/api/settings", json!({"trustedProxy": {"useLeftmostIP": true}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(health_from(&g, "7.7.7.7, 6.6.6.6").await.status, 200);
    let r = su
        .raw(Method::GET, "/api/health", None, "", &[("X-Forwarded-For", "9.9.9.9, 1.1.1.1")])
        .await;
    assert_eq!(r.json()["data"]["realIP"], "9.9.9.9");
    assert_eq!(r.json()["data"]["possibleProxyHeader"], "");
    // Excluded by the proxied address.
    set_limits(&su, json!({"excludedIPs": ["8.8.8.0/24"]})).await;
    for _ in 0..3 {
        assert_eq!(health_from(&g, "8.8.8.8").await.status, 200);
    }
    assert_eq!(health_from(&g, "8.8.9.1").await.status, 200);
    assert_429(&health_from(&g, "8.8.9.1").await);
});

const LOGIN: &str = "/api/collections/users/auth-with-password";

sb_testkit::sbtest_http!(failed_login_guard_is_on_by_default, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let settings = su.get("/api/settings").await.body;
    assert_eq!(settings["rateLimits"]["enabled"], false, "PocketBase's rules ship disabled");
    assert_eq!(
        settings["rateLimits"]["failedAuth"],
        json!({"enabled": true, "duration": 300, "maxPerIP": 30, "maxPerIdentity": 10})
    );
    for i in 1..=2 {
        su.create_record("users", json!({"email": format!("u{i}@example.com"), "password": "password123", "passwordConfirm": "password123"})).await;
    }
    let g = su.with_token(None);
    let login = |identity: &str, password: &str| {
        let g = g.clone();
        let body = json!({"identity": identity, "password": password});
        async move { g.post(LOGIN, body).await }
    };
    // Ten failures for one identity, then it is refused, even with the right password.
    for _ in 0..10 {
        assert_error(&login("u1@example.com", "wrong").await, 400, "Failed to authenticate.");
    }
    assert_error(&login("u1@example.com", "wrong").await, 429, TOO_MANY);
    assert_error(&login("U1@example.com ", "password123").await, 429, TOO_MANY);
    // The identity is counted per collection, whichever way the route names it.
    let users_id = su.get("/api/collections/users").await.body["id"].as_str().unwrap().to_owned();
    let by_id = format!("/api/collections/{users_id}/auth-with-password");
    let r = g.post(&by_id, json!({"identity": "u1@example.com", "password": "password123"})).await;
    assert_error(&r, 429, TOO_MANY);
    // Another identity from the same client still works (the per-IP quota is 30).
    assert_eq!(login("u2@example.com", "password123").await.status, 200);
    // Successful logins do not count (checked under a small quota, which counts afresh).
    set_limits(&su, json!({"failedAuth": {"maxPerIdentity": 2}})).await;
    for _ in 0..4 {
        assert_eq!(login("u2@example.com", "password123").await.status, 200);
    }

    // Tighter per-IP quota, applied at once: failures on any identity add up per client.
    set_limits(&su, json!({"failedAuth": {"enabled": true, "duration": 300, "maxPerIP": 2, "maxPerIdentity": 10}})).await;
    assert_error(&login("nobody1@example.com", "x").await, 400, "Failed to authenticate.");
    assert_error(&login("nobody2@example.com", "x").await, 400, "Failed to authenticate.");
    assert_error(&login("u2@example.com", "password123").await, 429, TOO_MANY);
    // (Refilling is the limiter's GCRA, unit-tested in sb-http with its own clock; the
    // end-to-end refill of a window is in `window_refills`.)
    // Off only when a superuser turns it off.
    set_limits(&su, json!({"failedAuth": {"enabled": false}})).await;
    assert_eq!(login("u1@example.com", "password123").await.status, 200);
});

sb_testkit::sbtest_http!(auth_tags, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_record("users", json!({"email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let g = su.with_token(None);
    set_limits(&su, json!({"enabled": true, "rules": [
        {"label": "*:auth", "audience": "", "duration": 60, "maxRequests": 2},
        {"label": "users:listAuthMethods", "audience": "@guest", "duration": 60, "maxRequests": 1}
    ]}))
    .await;
    let body = json!({"identity": "u1@example.com", "password": "password123"});
    assert_eq!(g.post(LOGIN, body.clone()).await.status, 200);
    assert_eq!(g.post(LOGIN, body.clone()).await.status, 200);
    assert_error(&g.post(LOGIN, body.clone()).await, 429, TOO_MANY);
    // Counted per collection: the superusers' login has its own counter.
    let su_login =
        json!({"identity": "root@example.com", "password": crate::common::ADMIN_PASSWORD});
    assert_eq!(
        g.post("/api/collections/_superusers/auth-with-password", su_login).await.status,
        200
    );
    assert_eq!(g.get("/api/collections/users/auth-methods").await.status, 200);
    assert_error(&g.get("/api/collections/users/auth-methods").await, 429, TOO_MANY);
    assert_eq!(g.get("/api/collections/_superusers/auth-methods").await.status, 200);
    // An unknown collection is left to the route's 404.
    assert_eq!(g.post("/api/collections/nope/auth-with-password", body).await.status, 404);
});

// Every auth route checks its tag (spec §6.14): `COLL:tag` and `*:tag`, and the OTP and
// OAuth2 logins also `auth`.
sb_testkit::sbtest_http!(auth_route_tags, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    let rule =
        |label: &str| json!({"label": label, "audience": "", "duration": 60, "maxRequests": 1});
    let routes: [(&str, &str, Value); 8] = [
        ("requestVerification", "request-verification", json!({"email": "a@example.com"})),
        ("confirmVerification", "confirm-verification", json!({"token": "x"})),
        ("requestPasswordReset", "request-password-reset", json!({"email": "a@example.com"})),
        ("confirmPasswordReset", "confirm-password-reset", json!({"token": "x"})),
        ("requestEmailChange", "request-email-change", json!({"newEmail": "b@example.com"})),
        ("confirmEmailChange", "confirm-email-change", json!({"token": "x"})),
        ("requestOTP", "request-otp", json!({"email": "a@example.com"})),
        ("authWithOAuth2", "auth-with-oauth2", json!({"provider": "nope"})),
    ];
    let rules: Vec<Value> =
        routes.iter().map(|(tag, _, _)| rule(&format!("users:{tag}"))).collect();
    set_limits(&su, json!({"enabled": true, "rules": rules})).await;
    for (tag, path, body) in &routes {
        let path = format!("/api/collections/users/{path}");
        let first = g.post(&path, body.clone()).await;
        assert_ne!(first.status, 429, "{tag}: {:?}", first.body);
        assert_error(&g.post(&path, body.clone()).await, 429, TOO_MANY);
        // Another collection's route is not limited by the `users:` rule.
        let other = format!("/api/collections/_superusers/{}", path.rsplit('/').next().unwrap());
        assert_ne!(g.post(&other, body.clone()).await.status, 429, "{tag}");
    }
    // `*:auth` covers the OTP login.
    set_limits(&su, json!({"rules": [rule("*:auth")]})).await;
    let otp = "/api/collections/users/auth-with-otp";
    let body = json!({"otpId": "x", "password": "y"});
    assert_ne!(g.post(otp, body.clone()).await.status, 429);
    assert_error(&g.post(otp, body).await, 429, TOO_MANY);
});
