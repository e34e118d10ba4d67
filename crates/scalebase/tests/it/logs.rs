//! Request logs (spec §8.5): entries written in the background for API requests, the
//! superuser API over them (list, view, stats, delete), `settings.logs` and retention.
//!
//! Entries are written in batches after the response, so tests wait for them with a bounded
//! poll of the API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Client, GENERIC_400, NOT_FOUND, assert_error, encode};

/// Polls `GET /api/logs?filter=...` until `done` holds for the items; returns them.
async fn wait_logs(su: &Client, filter: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = su.get(&format!("/api/logs?perPage=1000&filter={}", encode(filter))).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = r.body["items"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            return items;
        }
        assert!(Instant::now() < deadline, "logs matching {filter:?} never satisfied the check");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits for exactly one entry for a request whose URL contains `marker`.
async fn wait_one(su: &Client, marker: &str) -> Value {
    wait_logs(su, &format!("data.url ~ '{marker}'"), |items| !items.is_empty()).await.remove(0)
}

/// A guest and a regular user client next to the superuser.
async fn user_client(su: &Client, app: &sb_core::App, email: &str) -> (Client, String) {
    let user = su
        .create_record(
            "users",
            json!({"email": email, "password": "password123", "passwordConfirm": "password123"}),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let token = crate::common::record_token(app, "users", &id).await;
    (su.with_token(Some(&token)), id)
}

sb_testkit::sbtest_http!(requests_are_logged_and_viewable, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);

    let r = guest
        .http
        .get(format!("{url}/api/health?marker=ok1"))
        .header("referer", "http://example.com/page")
        .header("user-agent", "logs-test-agent")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let entry = wait_one(&su, "marker=ok1").await;
    let keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "created", "data", "message", "level"]);
    assert_eq!(entry["level"], 0);
    assert_eq!(entry["message"], "GET /api/health?marker=ok1");
    assert_eq!(entry["id"].as_str().unwrap().len(), 15);
    assert!(entry["created"].as_str().unwrap().ends_with('Z'));
    let data = &entry["data"];
    let keys: Vec<&str> = data.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "auth",
            "execTime",
            "method",
            "referer",
            "remoteIP",
            "status",
            "type",
            "url",
            "userAgent",
            "userIP"
        ]
    );
    assert_eq!(data["auth"], "");
    assert!(data["execTime"].as_f64().unwrap() >= 0.0);
    assert_eq!(data["method"], "GET");
    assert_eq!(data["referer"], "http://example.com/page");
    assert_eq!(data["remoteIP"], "127.0.0.1");
    assert_eq!(data["userIP"], "127.0.0.1");
    assert_eq!(data["status"], 200);
    assert_eq!(data["type"], "request");
    assert_eq!(data["url"], "/api/health?marker=ok1");
    assert_eq!(data["userAgent"], "logs-test-agent");

    // An error request: level 8, with the message answered.
    assert_eq!(guest.get("/api/collections/missing/records?marker=err1").await.status, 404);
    let entry = wait_one(&su, "marker=err1").await;
    assert_eq!(entry["level"], 8);
    assert_eq!(entry["data"]["status"], 404);
    assert_eq!(entry["data"]["error"], "Missing collection context.");
    assert_eq!(entry["data"]["details"], Value::Null);

    // The superuser's own requests carry the collection of the requester.
    let own = wait_logs(&su, "data.auth = '_superusers'", |items| !items.is_empty()).await;
    assert!(own.iter().all(|e| e["data"].get("authId").is_none()), "logAuthId is off by default");

    // View by id; unknown ids are 404.
    let id = entry["id"].as_str().unwrap();
    let r = su.get(&format!("/api/logs/{id}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body, entry);
    assert_error(&su.get("/api/logs/nope").await, 404, NOT_FOUND);

    // Stored apart from the main data: the log table is only in the log store.
    assert!(app.store().table_columns("_logs").await.unwrap().is_empty());
    assert_eq!(
        app.logs_store().table_columns("_logs").await.unwrap(),
        ["id", "created", "level", "message", "data"]
    );

    // Delete all.
    assert_eq!(su.delete("/api/logs").await.status, 204);
    assert_error(&su.get(&format!("/api/logs/{id}")).await, 404, NOT_FOUND);
    let r = su.get("/api/logs?filter=data.url~'marker='").await;
    assert_eq!(r.body["totalItems"], 0, "{:?}", r.body);
});

sb_testkit::sbtest_http!(logs_api_is_superuser_only, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);
    let (user, _) = user_client(&su, &app, "plain@example.com").await;
    for path in ["/api/logs", "/api/logs/stats", "/api/logs/abc"] {
        assert_error(
            &guest.get(path).await,
            401,
            "The request requires valid record authorization token.",
        );
        assert_error(
            &user.get(path).await,
            403,
            "The authorized record is not allowed to perform this action.",
        );
    }
    assert_eq!(guest.delete("/api/logs").await.status, 401);
    assert_eq!(user.delete("/api/logs").await.status, 403);
    // The refused requests are logged too, as errors.
    let refused =
        wait_logs(&su, "data.url = '/api/logs/stats' && level = 8", |items| items.len() >= 2).await;
    assert!(refused.iter().any(|e| e["data"]["status"] == 401));
    assert!(refused.iter().any(|e| e["data"]["status"] == 403 && e["data"]["auth"] == "users"));
});

sb_testkit::sbtest_http!(filter_sort_and_stats, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);
    for i in 0..3 {
        assert_eq!(guest.get(&format!("/api/health?fs=ok{i}")).await.status, 200);
    }
    for i in 0..2 {
        assert_eq!(guest.get(&format!("/api/missing?fs=bad{i}")).await.status, 404);
    }
    wait_logs(&su, "data.url ~ 'fs='", |items| items.len() == 5).await;

    // Filters over columns and data.* paths; sorts over both.
    let r = su.get(&format!("/api/logs?filter={}", encode("data.url ~ 'fs=' && level > 0"))).await;
    assert_eq!(r.body["totalItems"], 2, "{:?}", r.body);
    let r = su
        .get(&format!(
            "/api/logs?filter={}&sort=-data.status,message&perPage=2",
            encode("data.url ~ 'fs=' && data.method = 'GET'")
        ))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalItems"], 5);
    assert_eq!(r.body["totalPages"], 3);
    let messages: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["GET /api/missing?fs=bad0", "GET /api/missing?fs=bad1"]);
    let r = su
        .get(&format!(
            "/api/logs?filter={}&sort=-@rowid&page=2&perPage=3",
            encode("data.url ~ 'fs='")
        ))
        .await;
    let messages: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["GET /api/health?fs=ok1", "GET /api/health?fs=ok0"]);
    let r = su.get(&format!("/api/logs?filter={}&skipTotal=1", encode("data.status = 404"))).await;
    assert_eq!(r.body["totalItems"], -1);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = su.get("/api/logs?filter=data.url~'fs='&fields=id,data.status&perPage=1").await;
    assert_eq!(r.body["items"][0].as_object().unwrap().len(), 2, "{:?}", r.body);

    // Bad filters and sorts.
    for q in ["filter=bad((", "filter=nofield=1", "sort=nofield", "filter=@request.auth.id!=''"] {
        assert_error(&su.get(&format!("/api/logs?{q}")).await, 400, GENERIC_400);
    }
    assert_error(&su.get("/api/logs?page=x").await, 400, GENERIC_400);

    // Stats per hour, with the filter.
    let r = su.get(&format!("/api/logs/stats?filter={}", encode("data.url ~ 'fs='"))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stats = r.body.as_array().unwrap();
    let total: i64 = stats.iter().map(|s| s["total"].as_i64().unwrap()).sum();
    assert_eq!(total, 5);
    for s in stats {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["date", "total"]);
        let date = s["date"].as_str().unwrap();
        assert_eq!(date.len(), "2026-11-28 01:00:00.000Z".len(), "{date}");
        assert!(date.ends_with(":00:00.000Z"), "{date}");
    }
    let r = su.get(&format!("/api/logs/stats?filter={}", encode("data.status = 404"))).await;
    let total: i64 = r.body.as_array().unwrap().iter().map(|s| s["total"].as_i64().unwrap()).sum();
    assert_eq!(total, 2);
    let r = su.get("/api/logs/stats").await;
    assert!(!r.body.as_array().unwrap().is_empty());
    for q in ["filter=bad((", "filter=zz=1"] {
        assert_error(&su.get(&format!("/api/logs/stats?{q}")).await, 400, "Invalid filter format.");
    }
});

sb_testkit::sbtest_http!(settings_shape_the_entries, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);
    let (user, user_id) = user_client(&su, &app, "logged@example.com").await;

    // logIP off, logAuthId on.
    let r = su.patch("/api/settings", json!({"logs": {"logIP": false, "logAuthId": true}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(user.get("/api/collections/users/records?st=auth1").await.status, 200);
    let entry = wait_one(&su, "st=auth1").await;
    assert_eq!(entry["data"]["auth"], "users");
    assert_eq!(entry["data"]["authId"], user_id.as_str());
    assert!(entry["data"].get("remoteIP").is_none(), "{entry}");
    assert!(entry["data"].get("userIP").is_none(), "{entry}");
    assert_eq!(guest.get("/api/health?st=guest1").await.status, 200);
    let entry = wait_one(&su, "st=guest1").await;
    assert!(entry["data"].get("authId").is_none(), "{entry}");

    // maxDataSize: keys are kept (in order) while they fit, then the data is marked.
    let r = su.patch("/api/settings", json!({"logs": {"maxDataSize": 100}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(guest.get("/api/health?st=trunc1").await.status, 200);
    let entry = wait_logs(&su, "message ~ 'st=trunc1'", |items| !items.is_empty()).await.remove(0);
    assert_eq!(entry["data"]["__pb_truncated__"], true, "{entry}");
    assert!(entry["data"].get("url").is_none(), "{entry}");
    assert_eq!(entry["message"], "GET /api/health?st=trunc1");

    // minLevel 8: successful requests are no longer logged, and stored ones below it go.
    let r = su
        .patch("/api/settings", json!({"logs": {"maxDataSize": 0, "logIP": true, "minLevel": 8}}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(guest.get("/api/health?st=info2").await.status, 200);
    assert_eq!(guest.get("/api/missing?st=error2").await.status, 404);
    let entry = wait_one(&su, "st=error2").await;
    assert_eq!(entry["level"], 8);
    app.flush_logs().await;
    let r = su.get(&format!("/api/logs?filter={}", encode("level < 8"))).await;
    assert_eq!(r.body["totalItems"], 0, "{:?}", r.body);

    // maxDays 0: nothing is logged and the stored entries are removed.
    let r = su.patch("/api/settings", json!({"logs": {"minLevel": 0, "maxDays": 0}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(guest.get("/api/missing?st=off3").await.status, 404);
    app.flush_logs().await;
    let r = su.get("/api/logs").await;
    assert_eq!(r.body["totalItems"], 0, "{:?}", r.body);
});

sb_testkit::sbtest_http!(retention_job_deletes_old_entries, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);
    assert_eq!(guest.get("/api/health?ret=old").await.status, 200);
    assert_eq!(guest.get("/api/health?ret=new").await.status, 200);
    let old = wait_one(&su, "ret=old").await;
    wait_one(&su, "ret=new").await;
    // Age one entry past the 5 days of `logs.maxDays`.
    let age = sb_sql::Stmt::Update(sb_sql::Update {
        table: "_logs".into(),
        set: vec![("created".into(), sb_sql::Expr::param("2020-01-01 00:00:00.000Z"))],
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param(old["id"].as_str().unwrap()),
            sb_sql::Ty::Text,
        )),
    });
    assert_eq!(app.logs_store().write(&[age]).await.unwrap(), vec![1]);
    let r = su.get("/api/logs/stats?filter=data.url~'ret=old'").await;
    assert_eq!(r.body, json!([{"date": "2020-01-01 00:00:00.000Z", "total": 1}]));

    assert_eq!(su.post("/api/crons/__pbLogsCleanup__", json!({})).await.status, 204);
    wait_logs(&su, "data.url ~ 'ret='", |items| {
        items.len() == 1 && items[0]["data"]["url"] == "/api/health?ret=new"
    })
    .await;
});
