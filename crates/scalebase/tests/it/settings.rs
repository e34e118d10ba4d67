//! `/api/settings` (spec §8.6): access, the default document, deep merge, write-only secrets,
//! and validation with PocketBase 0.40.6's error codes (bodies compared with the reference).

use serde_json::{Value, json};

use crate::common::{Client, assert_error};

const SAVE_FAILED: &str = "An error occurred while saving the new settings.";
const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";

fn required() -> Value {
    json!({"code": "validation_required", "message": "Cannot be blank."})
}

fn min(n: i64) -> Value {
    json!({"code": "validation_min_greater_equal_than_required", "message": format!("Must be no less than {n}."), "params": {"threshold": n}})
}

async fn invalid(su: &Client, patch: Value, data: Value) {
    let r = su.patch("/api/settings", patch.clone()).await;
    assert_eq!(r.status, 400, "{patch}: {:?}", r.body);
    assert_eq!(r.body, json!({"data": data, "message": SAVE_FAILED, "status": 400}), "{patch}");
}

sb_testkit::sbtest_http!(access_defaults_and_merge, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    assert_error(
        &g.get("/api/settings").await,
        401,
        "The request requires valid record authorization token.",
    );
    assert_error(
        &g.patch("/api/settings", json!({})).await,
        401,
        "The request requires valid record authorization token.",
    );
    let user = su.create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let u = g.with_token(Some(
        &crate::common::record_token(&app, "users", user["id"].as_str().unwrap()).await,
    ));
    assert_error(
        &u.get("/api/settings").await,
        403,
        "The authorized record is not allowed to perform this action.",
    );

    let mut expected = json!({
        "superuserIPs": [],
        "smtp": {"enabled": false, "port": 587, "host": "smtp.example.com", "username": "", "authMethod": "", "tls": false, "localName": ""},
        "backups": {"cron": "", "cronMaxKeep": 3, "s3": {"enabled": false, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "forcePathStyle": false}},
        "s3": {"enabled": false, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "forcePathStyle": false},
        "meta": {"accentColor": "#1055c9", "appName": "Acme", "appURL": "http://localhost:8090", "senderName": "Support", "senderAddress": "support@example.com", "hideControls": false},
        "rateLimits": {"rules": [
            {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
            {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
            {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
            {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300}],
          "excludedIPs": [], "enabled": false,
          "failedAuth": {"enabled": true, "duration": 300, "maxPerIP": 30, "maxPerIdentity": 10}},
        "trustedProxy": {"headers": [], "useLeftmostIP": false},
        "batch": {"enabled": false, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": true, "logAuthId": false}
    });
    assert_eq!(su.get("/api/settings").await.body, expected);

    // Objects merge, arrays are replaced (elements completed with zero values), unknown keys
    // are dropped, secrets are accepted but never shown.
    let r = su
        .patch("/api/settings", json!({
            "meta": {"appName": "Renamed", "zzz": 1},
            "unknownSection": {"a": 1},
            "smtp": {"password": "s3cret", "username": "mailer"},
            "s3": {"secret": "k"},
            "rateLimits": {"rules": [{"label": "users:create", "duration": 5, "maxRequests": 1, "extra": true}]},
            "trustedProxy": {"headers": ["X-Real-IP"]}
        }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    expected["meta"]["appName"] = json!("Renamed");
    expected["smtp"]["username"] = json!("mailer");
    expected["rateLimits"]["rules"] =
        json!([{"label": "users:create", "audience": "", "duration": 5, "maxRequests": 1}]);
    expected["trustedProxy"]["headers"] = json!(["X-Real-IP"]);
    assert_eq!(r.body, expected);
    assert_eq!(su.get("/api/settings").await.body, expected);
    let stored = app.settings();
    assert_eq!(stored.get(&["smtp", "password"]), Some(&json!("s3cret")));
    assert_eq!(stored.get(&["s3", "secret"]), Some(&json!("k")));
    assert_eq!(stored.get(&["unknownSection"]), None);
    // `null` resets a list to empty.
    let r = su.patch("/api/settings", json!({"rateLimits": {"rules": null}})).await;
    assert_eq!(r.body["rateLimits"]["rules"], json!([]));
});

sb_testkit::sbtest_http!(validation_errors_as_the_reference, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    invalid(
        &su,
        json!({"rateLimits": {"rules": [
            {"label": "bad label!", "audience": "x", "duration": 0, "maxRequests": 0},
            {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
            {"label": "*:auth", "audience": "", "duration": 5, "maxRequests": 2},
            {"label": "*:auth", "audience": "@guest", "duration": 5, "maxRequests": 2},
            {"label": "POST /api/x", "duration": -3, "maxRequests": -2}
        ]}}),
        json!({"rateLimits": {"rules": {
            "0": {"audience": {"code": "validation_in_invalid", "message": "Must be a valid value."}, "duration": required(), "label": {"code": "validation_match_invalid", "message": "Must be in a valid format."}, "maxRequests": required()},
            "2": {"label": {"code": "validation_conflicting_rate_limit_rule", "message": "Rate limit rule configuration with label *:auth already exists or conflicts with another rule.", "params": {"label": "*:auth"}}},
            "4": {"duration": min(1), "maxRequests": min(1)}
        }}}),
    )
    .await;
    invalid(
        &su,
        json!({"meta": {"appName": "", "appURL": "notaurl", "senderName": "", "senderAddress": "bad"}, "smtp": {"enabled": true, "host": "", "port": 0, "authMethod": "XX"}}),
        json!({
            "meta": {"appName": required(), "appURL": {"code": "validation_is_url", "message": "Must be a valid URL."}, "senderAddress": {"code": "validation_is_email", "message": "Must be a valid email address."}, "senderName": required()},
            "smtp": {"authMethod": {"code": "validation_in_invalid", "message": "Must be a valid value."}, "host": required(), "port": required()}
        }),
    )
    .await;
    let long = "a".repeat(256);
    invalid(
        &su,
        json!({"meta": {"appName": long, "appURL": ""}, "smtp": {"enabled": true, "host": "bad host!", "port": -1}}),
        json!({
            "meta": {"appName": {"code": "validation_length_out_of_range", "message": "The length must be between 1 and 255.", "params": {"max": 255, "min": 1}}, "appURL": required()},
            "smtp": {"host": {"code": "validation_is_host", "message": "Must be a valid IP address or DNS name."}, "port": min(0)}
        }),
    )
    .await;
    invalid(
        &su,
        json!({"batch": {"enabled": true, "maxRequests": 0, "timeout": 0, "maxBodySize": -1}, "logs": {"maxDays": -1, "maxDataSize": -1, "minLevel": -100}}),
        json!({
            "batch": {"maxBodySize": min(0), "maxRequests": required(), "timeout": required()},
            "logs": {"maxDataSize": min(0), "maxDays": min(0)}
        }),
    )
    .await;
    let s3_required = json!({"accessKey": required(), "bucket": required(), "endpoint": required(), "region": required(), "secret": required()});
    let mut s3_bad_url = s3_required.clone();
    s3_bad_url["endpoint"] =
        json!({"code": "validation_is_url", "message": "Must be a valid URL."});
    invalid(
        &su,
        json!({"s3": {"enabled": true, "endpoint": "notaurl"}, "backups": {"cron": "bad cron", "cronMaxKeep": 0, "s3": {"enabled": true}}}),
        json!({
            "backups": {"cron": {"code": "validation_invalid_cron", "message": "Invalid cron expression - must be a valid macro or to have exactly 5 space separated segments."}, "cronMaxKeep": required(), "s3": s3_required},
            "s3": s3_bad_url
        }),
    )
    .await;
    let bad_ip =
        json!({"code": "validation_invlaid_ip_or_subnet", "message": "Invalid IP or CIDR subnet."});
    invalid(
        &su,
        json!({"rateLimits": {"excludedIPs": ["bad", "10.0.0.0/8", "1.2.3.4", "10.0.0.0/33"]}, "superuserIPs": ["::1", "nope"]}),
        json!({"rateLimits": {"excludedIPs": {"0": bad_ip, "3": bad_ip}}, "superuserIPs": {"1": bad_ip}}),
    )
    .await;
    invalid(
        &su,
        json!({"meta": {"appName": null}, "rateLimits": {"failedAuth": {"maxPerIP": 0}}}),
        json!({"meta": {"appName": required()}, "rateLimits": {"failedAuth": {"maxPerIP": required()}}}),
    )
    .await;
    // Values of the wrong JSON kind cannot be loaded at all.
    for patch in [
        json!([1]),
        json!({"batch": {"maxRequests": "x"}}),
        json!({"logs": {"maxDays": 1.5}}),
        json!({"trustedProxy": {"useLeftmostIP": "x"}}),
        json!({"rateLimits": {"rules": [{"label": 1}]}}),
        json!({"rateLimits": {"rules": {"label": "x"}}}),
        json!({"superuserIPs": [1]}),
        json!({"meta": "x"}),
    ] {
        assert_error(&su.patch("/api/settings", patch).await, 400, LOAD_FAILED);
    }
    // Accepted as the reference does: plain-tag labels, valid crons, untouched trusted headers.
    let r = su
        .patch("/api/settings", json!({
            "rateLimits": {"rules": [{"label": "list", "duration": 1, "maxRequests": 1}, {"label": "POST /api/x-y", "audience": "@auth", "duration": 1, "maxRequests": 1}]},
            "backups": {"cron": "*/5 1-3 * * 0,6", "cronMaxKeep": 1},
            "trustedProxy": {"headers": ["", "X Bad"]}
        }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Nothing of the refused patches was kept.
    assert_eq!(su.get("/api/settings").await.body["meta"]["appName"], "Acme");
});

// `superuserIPs` (spec §6.13): superusers are served only from the listed addresses — every
// request with a superuser token from elsewhere, and a superuser login with the right
// password, answer 403; wrong passwords, users and guests are unaffected.
sb_testkit::sbtest_http!(superuser_ips_whitelist, |url, app| async move {
    const NOT_ALLOWED: &str = "You are not allowed to perform this request.";
    let su = Client::admin(&url, &app).await;
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let user_token = crate::common::record_token(&app, "users", user["id"].as_str().unwrap()).await;
    let user = su.with_token(Some(&user_token));
    let g = su.with_token(None);
    let login = "/api/collections/_superusers/auth-with-password";
    let right = json!({"identity": "root@example.com", "password": crate::common::ADMIN_PASSWORD});
    // The loopback subnet is listed: everything works.
    let r = su.patch("/api/settings", json!({"superuserIPs": ["127.0.0.0/8", "::1"]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(su.get("/api/collections").await.status, 200);
    assert_eq!(g.post(login, right.clone()).await.status, 200);
    // Only another address is listed.
    let r = su.patch("/api/settings", json!({"superuserIPs": ["10.1.1.1"]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for path in
        ["/api/settings", "/api/collections", "/api/health", "/api/collections/users/records"]
    {
        assert_error(&su.get(path).await, 403, NOT_ALLOWED);
    }
    assert_error(&g.post(login, right).await, 403, NOT_ALLOWED);
    let wrong = json!({"identity": "root@example.com", "password": "wrong-password"});
    assert_error(&g.post(login, wrong).await, 400, "Failed to authenticate.");
    assert_eq!(user.get("/api/collections/users/records").await.status, 200);
    assert_eq!(g.get("/api/health").await.status, 200);
    // A trusted proxy header decides the address: a listed client is served again.
    app.update_settings(&json!({"trustedProxy": {"headers": ["X-Real-IP"]}}))
        .await
        .expect("settings");
    let r = su
        .raw(reqwest::Method::GET, "/api/collections", None, "", &[("X-Real-IP", "10.1.1.1")])
        .await;
    assert_eq!(r.status, 200);
});
