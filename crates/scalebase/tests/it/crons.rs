//! Crons (spec §8.8): the jobs API, and one run per schedule slot across nodes sharing a
//! database.

use chrono::TimeZone;
use serde_json::json;

use crate::common::{Client, assert_error};

sb_testkit::sbtest_http!(crons_api, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    assert_eq!(g.get("/api/crons").await.status, 401);
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let token = crate::common::record_token(&app, "users", user["id"].as_str().unwrap()).await;
    assert_eq!(su.with_token(Some(&token)).get("/api/crons").await.status, 403);
    let r = su.get("/api/crons").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            {"id": "__pbDBOptimize__", "expression": "0 0 * * *"},
            {"id": "__pbMFACleanup__", "expression": "0 * * * *"},
            {"id": "__pbOTPCleanup__", "expression": "0 * * * *"},
            {"id": "__pbLogsCleanup__", "expression": "0 */6 * * *"}
        ])
    );
    assert_error(&su.post("/api/crons/nope", json!({})).await, 404, "Missing or invalid cron job.");
    assert_eq!(g.post("/api/crons/__pbDBOptimize__", json!({})).await.status, 401);
    assert_eq!(su.post("/api/crons/__pbDBOptimize__", json!({})).await.status, 204);

    // Running the OTP clean-up from the API removes an expired code.
    let r = su
        .post(
            "/api/collections/_otps/records",
            json!({"collectionRef": "_pb_users_auth_", "recordRef": user["id"], "password": "123456"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let otp = r.body["id"].as_str().unwrap().to_owned();
    let age = sb_sql::Stmt::Update(sb_sql::Update {
        table: "_otps".into(),
        set: vec![("created".into(), sb_sql::Expr::param("2020-01-01 00:00:00.000Z"))],
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param(otp.as_str()),
            sb_sql::Ty::Text,
        )),
    });
    assert_eq!(app.store().write(&[age]).await.unwrap(), vec![1]);
    assert_eq!(su.post("/api/crons/__pbOTPCleanup__", json!({})).await.status, 204);
    // The job runs in the background: wait for its effect (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !su.all_records("_otps").await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "the expired OTP was not purged");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
});

// Two nodes (two applications on one database) tick the same minute: each due job runs on
// exactly one of them.
sb_testkit::sbtest!(each_slot_runs_once_across_nodes, |app, backend| async move {
    let other = sb_core::App::open(app.store().clone(), sb_core::AppConfig::default())
        .await
        .expect("second node");
    let _ = backend;
    for (minute, due) in [
        (chrono::Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap(), 4),
        (chrono::Utc.with_ymd_and_hms(2026, 11, 29, 7, 0, 0).unwrap(), 2),
        (chrono::Utc.with_ymd_and_hms(2026, 11, 29, 7, 1, 0).unwrap(), 0),
    ] {
        let (a, b) = tokio::join!(app.run_due_crons(minute), other.run_due_crons(minute));
        let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
        all.sort();
        let unique = {
            let mut u = all.clone();
            u.dedup();
            u
        };
        assert_eq!(all, unique, "a job ran twice at {minute}: {a:?} {b:?}");
        assert_eq!(all.len(), due, "at {minute}: {a:?} {b:?}");
        // A late tick of the same minute finds every slot taken.
        assert!(app.run_due_crons(minute).await.is_empty());
    }
});
