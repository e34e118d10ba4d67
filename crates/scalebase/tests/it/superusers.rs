//! Superuser authentication: auth-with-password, auth-refresh, the token format, token
//! invalidation and forgery, impersonation, and a login flood. Checked against PocketBase
//! 0.40.6.

use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, assert_error, record_token};

const LOGIN: &str = "/api/collections/_superusers/auth-with-password";
const REFRESH: &str = "/api/collections/_superusers/auth-refresh";
const NEEDS_TOKEN: &str = "The request requires valid record authorization token.";

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c).expect("base64url character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The decoded header and payload of a JWT.
fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let part = |s: &str| serde_json::from_slice::<Value>(&b64url_decode(s)).expect("JSON part");
    (part(parts[0]), part(parts[1]))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn login(url: &str, app: &sb_core::App) -> (Client, Value) {
    app.upsert_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("create superuser");
    let g = Client::guest(url);
    let r = g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    (g.with_token(r.body["token"].as_str()), r.body)
}

sb_testkit::sbtest_http!(auth_with_password, |url, app| async move {
    let (su, body) = login(&url, &app).await;
    let record = &body["record"];
    assert_eq!(record["collectionName"], "_superusers");
    assert_eq!(record["collectionId"], "pbc_3142635823");
    assert_eq!(record["email"], ADMIN_EMAIL);
    assert_eq!(record["verified"], true);
    assert!(record.get("password").is_none() && record.get("tokenKey").is_none());

    // HS256 with exactly PocketBase's claims; superuser tokens live one day.
    let token = body["token"].as_str().unwrap();
    let (header, claims) = decode(token);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let mut keys: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["collectionId", "exp", "id", "refreshable", "type"]);
    assert_eq!(
        (claims["type"].clone(), claims["refreshable"].clone()),
        (json!("auth"), json!(true))
    );
    assert_eq!(claims["id"], record["id"]);
    assert_eq!(claims["collectionId"], "pbc_3142635823");
    let exp = claims["exp"].as_i64().unwrap();
    assert!((exp - now() - 86_400).abs() < 60, "exp {exp}");
    assert_eq!(su.get("/api/settings").await.status, 200, "the token authenticates");

    let g = su.with_token(None);
    for bad in [
        json!({"identity": ADMIN_EMAIL, "password": "wrong-password"}),
        json!({"identity": "nobody@example.com", "password": ADMIN_PASSWORD}),
        json!({"identity": ADMIN_EMAIL.to_uppercase(), "password": ADMIN_PASSWORD}),
    ] {
        assert_error(&g.post(LOGIN, bad).await, 400, "Failed to authenticate.");
    }
    let r = g.post(LOGIN, json!({"identity": "", "password": null})).await;
    assert_eq!(
        r.body,
        json!({"data": {
        "identity": {"code": "validation_required", "message": "Cannot be blank."},
        "password": {"code": "validation_required", "message": "Cannot be blank."},
    }, "message": "An error occurred while validating the submitted data.", "status": 400})
    );
    assert_eq!(
        g.post(LOGIN, json!({})).await.body["data"]["identity"]["code"],
        "validation_required"
    );
    let long = "a".repeat(256);
    let r = g.post(LOGIN, json!({"identity": long, "password": long})).await;
    assert_eq!(
        r.body["data"]["identity"],
        json!({"code": "validation_length_out_of_range", "message": "The length must be between 1 and 255.", "params": {"max": 255, "min": 1}})
    );
    let r = g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "identityField": "username"})).await;
    assert_eq!(r.body["data"]["identityField"]["code"], "validation_in_invalid");
    assert_error(
        &g.post(LOGIN, json!({"identity": ["a"], "password": "b"})).await,
        400,
        "An error occurred while loading the submitted data.",
    );
    assert_error(
        &g.post(LOGIN, json!({"identity": 1, "password": true})).await,
        400,
        "An error occurred while loading the submitted data.",
    );
    // Form keys match case-insensitively; urlencoded forms keep values as text.
    assert_eq!(
        g.post(LOGIN, json!({"IDENTITY": ADMIN_EMAIL, "Password": ADMIN_PASSWORD})).await.status,
        200
    );
    let r = g
        .urlencoded(
            reqwest::Method::POST,
            LOGIN,
            &[("identity", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = g
        .urlencoded(reqwest::Method::POST, LOGIN, &[("identity", "123"), ("password", "true")])
        .await;
    assert_error(&r, 400, "Failed to authenticate.");
    assert_error(
        &g.post("/api/collections/nope/auth-with-password", json!({})).await,
        404,
        "Missing or invalid auth collection context.",
    );
});

sb_testkit::sbtest_http!(auth_refresh_and_token_invalidation, |url, app| async move {
    let (su, body) = login(&url, &app).await;
    let id = body["record"]["id"].as_str().unwrap().to_owned();
    let r = su.post(REFRESH, json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["record"]["id"], id.as_str());
    assert_eq!(r.body["record"]["email"], ADMIN_EMAIL);
    let refreshed = su.with_token(r.body["token"].as_str());
    assert_eq!(decode(r.body["token"].as_str().unwrap()).1["refreshable"], true);
    assert_eq!(refreshed.get("/api/settings").await.status, 200);

    let g = su.with_token(None);
    assert_error(&g.post(REFRESH, json!({})).await, 401, NEEDS_TOKEN);
    assert_error(&g.with_token(Some("garbage")).post(REFRESH, json!({})).await, 401, NEEDS_TOKEN);
    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let user = g.with_token(Some(&record_token(&app, "users", "user00000000001").await));
    assert_error(
        &user.post(REFRESH, json!({})).await,
        403,
        "The request requires auth record from users collection.",
    );
    assert_error(
        &su.post("/api/collections/users/auth-refresh", json!({})).await,
        403,
        "The request requires auth record from _superusers collection.",
    );
    // A `Bearer ` prefix is accepted.
    let bearer = g.with_token(Some(&format!("Bearer {}", su.token.as_deref().unwrap())));
    assert_eq!(bearer.get("/api/settings").await.status, 200);

    // Forged tokens are ignored: the request proceeds as a guest.
    let token = su.token.clone().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let (_, mut claims) = decode(&token);
    claims["exp"] = json!(now() + 999_999);
    let payload = b64url_encode(claims.to_string().as_bytes());
    let none_header = b64url_encode(br#"{"alg":"none","typ":"JWT"}"#);
    let hs512_header = b64url_encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    let mut flipped = parts[2].to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let forged = [
        format!("{}.{payload}.{}", parts[0], parts[2]),
        format!("{none_header}.{}.", parts[1]),
        format!("{none_header}.{payload}."),
        format!("{hs512_header}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], String::from_utf8(flipped).unwrap()),
        format!("{}.{}", parts[0], parts[1]),
        "a.b.c".into(),
    ];
    for t in &forged {
        let c = g.with_token(Some(t));
        assert_error(&c.get("/api/settings").await, 401, NEEDS_TOKEN);
        assert_error(&c.post(REFRESH, json!({})).await, 401, NEEDS_TOKEN);
        assert_eq!(c.get("/api/health").await.status, 200);
    }

    // An expired token is a guest's: a one-second impersonation token stops working once its
    // `exp` (plus the verifier's few seconds of clock leeway) has passed.
    let short = su
        .post(&format!("/api/collections/_superusers/impersonate/{id}"), json!({"duration": 1}))
        .await;
    let short_token = short.body["token"].as_str().unwrap().to_owned();
    let exp = decode(&short_token).1["exp"].as_i64().unwrap();
    let short = g.with_token(Some(&short_token));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = short.get("/api/settings").await.status;
        if status == 401 {
            assert!(now() >= exp, "refused before its expiry");
            break;
        }
        assert_eq!(status, 200);
        assert!(std::time::Instant::now() < deadline, "the expired token still works");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    // Changing the password revokes every earlier token of the record.
    let path = format!("/api/collections/_superusers/records/{id}");
    let r = su
        .patch(&path, json!({"password": "another-pass-1", "passwordConfirm": "another-pass-1"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_error(&su.get("/api/settings").await, 401, NEEDS_TOKEN);
    assert_error(&refreshed.get("/api/settings").await, 401, NEEDS_TOKEN);
    assert_error(
        &g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await,
        400,
        "Failed to authenticate.",
    );
    let r = g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": "another-pass-1"})).await;
    assert_eq!(r.status, 200);
    let su = g.with_token(r.body["token"].as_str());
    // A deleted record's token is a guest's.
    let other = su.create_record("_superusers", json!({"email": "two@example.com", "password": "password-two", "passwordConfirm": "password-two"})).await;
    assert_eq!(other["verified"], true, "superusers are always verified");
    let other_id = other["id"].as_str().unwrap();
    let two = g.with_token(Some(&record_token(&app, "_superusers", other_id).await));
    assert_eq!(two.get("/api/settings").await.status, 200);
    assert_eq!(
        su.delete(&format!("/api/collections/_superusers/records/{other_id}")).await.status,
        204
    );
    assert_error(&two.get("/api/settings").await, 401, NEEDS_TOKEN);
});

sb_testkit::sbtest_http!(superuser_records_and_impersonation, |url, app| async move {
    let (su, _) = login(&url, &app).await;
    let g = su.with_token(None);
    let only = "Only superusers can perform this action.";
    assert_error(&g.get("/api/collections/_superusers/records").await, 403, only);
    assert_error(&g.post("/api/collections/_superusers/records", json!({"email": "x@example.com", "password": "12345678", "passwordConfirm": "12345678"})).await, 403, only);
    assert_eq!(su.get("/api/collections/_superusers/records").await.body["totalItems"], 1);

    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let imp = "/api/collections/users/impersonate/user00000000001";
    let r = su.post(imp, json!({"duration": 100})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["email"], "u1@example.com");
    let token = r.body["token"].as_str().unwrap().to_owned();
    let (_, claims) = decode(&token);
    assert_eq!(claims["refreshable"], false);
    assert!((claims["exp"].as_i64().unwrap() - now() - 100).abs() < 30);
    // Refreshing an impersonation token returns the same token.
    let user = g.with_token(Some(&token));
    let r = user.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token"], token.as_str());
    assert_error(
        &user.post(imp, json!({})).await,
        403,
        "The authorized record is not allowed to perform this action.",
    );
    assert_error(&g.post(imp, json!({})).await, 401, NEEDS_TOKEN);
    assert_error(
        &su.post("/api/collections/users/impersonate/nope", json!({})).await,
        404,
        "The requested resource wasn't found.",
    );
    let r = su.post(imp, json!({"duration": -1})).await;
    assert_eq!(
        r.body,
        json!({"data": {"duration": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}, "message": "An error occurred while validating the submitted data.", "status": 400})
    );
    assert_error(
        &su.post(imp, json!({"duration": "abc"})).await,
        400,
        "An error occurred while loading the submitted data.",
    );
    let default_exp =
        decode(su.post(imp, json!({})).await.body["token"].as_str().unwrap()).1["exp"]
            .as_i64()
            .unwrap();
    assert!(default_exp - now() > 400_000, "0 means the collection's duration");
});

sb_testkit::sbtest_http!(login_flood_is_bounded_and_answered, |url, app| async move {
    let (su, _) = login(&url, &app).await;
    // This test is about the cost of a flood; the failed-login guard (tested in rate_limits)
    // would answer most of it with 429.
    let r =
        su.patch("/api/settings", json!({"rateLimits": {"failedAuth": {"enabled": false}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let g = su.with_token(None);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let g = g.clone();
            tokio::spawn(async move {
                let password = if i % 2 == 0 { "wrong-password" } else { "x".repeat(255).leak() };
                g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": password})).await.status
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 400);
    }
    su.assert_healthy().await;
    assert_eq!(
        g.post(LOGIN, json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).await.status,
        200
    );
});
