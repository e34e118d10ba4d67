//! One-time passwords by e-mail (spec §6.7), end to end through the local SMTP sink.

use sb_testkit::sbtest_http;
use sb_testkit::smtp::Mail;
use serde_json::{Value, json};

use crate::auth_mail::{PASSWORD, create_user, login, mail_setup};
use crate::common::{Client, assert_error, code};

const INVALID: &str = "Invalid or expired OTP.";

/// The code and id in a mail rendered from the template set by [`enable_otp`].
fn code_and_id(mail: &Mail) -> (String, String) {
    let body = mail.body();
    let after = |marker: &str| -> String {
        let start =
            body.find(marker).unwrap_or_else(|| panic!("no {marker} in {body}")) + marker.len();
        body[start..].chars().take_while(char::is_ascii_alphanumeric).collect()
    };
    (after("code="), after("id="))
}

async fn enable_otp(admin: &Client, extra: Value) {
    let mut otp = json!({"enabled": true, "length": 6,
        "emailTemplate": {"subject": "Code for {APP_NAME}", "body": "<p>code={OTP} id={OTP_ID} to {RECORD:email}</p>"}});
    if let (Some(o), Some(e)) = (otp.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    let r = admin.patch("/api/collections/users", json!({"otp": otp})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

// request-otp → mail with the code → auth-with-otp answers the auth response, the code is
// single-use, and the unverified record becomes verified (its password replaced).
sbtest_http!(otp_flow, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    enable_otp(&admin, json!({})).await;
    let id = create_user(&admin, "users", "olga@example.com").await;
    let guest = Client::guest(&url);
    let r = guest
        .post("/api/collections/users/request-otp", json!({"email": "olga@example.com"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    assert_eq!(otp_id.len(), 15);
    let mail = sink.next_to("olga@example.com", 0).await;
    assert_eq!(mail.subject(), "Code for TestApp");
    let (code_sent, id_sent) = code_and_id(&mail);
    assert_eq!(id_sent, otp_id);
    assert_eq!(code_sent.len(), 6);
    assert!(code_sent.chars().all(|c| c.is_ascii_digit()));
    // The row: hidden code hash, sentTo.
    let rows = admin.all_records("_otps").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["id"].as_str(), rows[0]["recordRef"].as_str()),
        (Some(otp_id.as_str()), Some(id.as_str()))
    );
    assert_eq!(rows[0]["sentTo"], "olga@example.com");

    let path = "/api/collections/users/auth-with-otp";
    let wrong = if code_sent == "000000" { "111111" } else { "000000" };
    let r = guest.post(path, json!({"otpId": otp_id, "password": wrong})).await;
    assert_error(&r, 400, INVALID);
    let r = guest.post(path, json!({"otpId": otp_id, "password": code_sent})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], id.as_str());
    assert_eq!(r.body["record"]["email"], "olga@example.com");
    assert_eq!(r.body["record"]["verified"], true);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let me = Client::guest(&url).with_token(Some(&token));
    let r = me.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(r.status, 200, "the OTP session works: {:?}", r.body);
    // Single use; the row is gone.
    let r = guest.post(path, json!({"otpId": otp_id, "password": code_sent})).await;
    assert_error(&r, 400, INVALID);
    assert!(admin.all_records("_otps").await.is_empty());
    // Proving the mailbox of an unverified account drops the password set before.
    assert_eq!(login(&url, "users", "olga@example.com", PASSWORD).await.status, 400);

    // A verified account keeps its password.
    let r = guest
        .post("/api/collections/users/request-otp", json!({"email": "olga@example.com"}))
        .await;
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    let (code_sent, _) = code_and_id(&sink.next_to("olga@example.com", 1).await);
    let r = guest.post(path, json!({"otpId": otp_id, "password": code_sent})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = me.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(r.status, 200, "no tokenKey rotation for a verified record: {:?}", r.body);
});

// Unknown e-mails get a random id and no mail; validation; OTP disabled → 403.
sbtest_http!(otp_requests_and_validation, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let guest = Client::guest(&url);
    let r =
        guest.post("/api/collections/users/request-otp", json!({"email": "a@example.com"})).await;
    assert_error(&r, 403, "The collection is not configured to allow OTP authentication.");
    let r = guest
        .post("/api/collections/users/auth-with-otp", json!({"otpId": "x", "password": "1"}))
        .await;
    assert_error(&r, 403, "The collection is not configured to allow OTP authentication.");
    enable_otp(&admin, json!({})).await;
    create_user(&admin, "users", "known@example.com").await;
    let r = guest
        .post("/api/collections/users/request-otp", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(r.status, 200);
    let fake = r.body["otpId"].as_str().unwrap().to_owned();
    assert_eq!(fake.len(), 15);
    let r = guest
        .post("/api/collections/users/request-otp", json!({"email": "known@example.com"}))
        .await;
    assert_eq!(r.status, 200);
    sink.next_to("known@example.com", 0).await;
    assert!(sink.mails_to("nobody@example.com").is_empty());
    assert_eq!(admin.all_records("_otps").await.len(), 1, "no row for the unknown address");
    let r = guest
        .post(
            "/api/collections/users/auth-with-otp",
            json!({"otpId": fake, "password": "12345678"}),
        )
        .await;
    assert_error(&r, 400, INVALID);

    let r = guest.post("/api/collections/users/request-otp", json!({})).await;
    assert_eq!((r.status, code(&r, "email")), (400, "validation_required"));
    let r = guest.post("/api/collections/users/request-otp", json!({"email": "bad"})).await;
    assert_eq!((r.status, code(&r, "email")), (400, "validation_is_email"));
    let r = guest.post("/api/collections/users/request-otp", json!({"email": 5})).await;
    assert_error(&r, 400, "An error occurred while loading the submitted data.");
    let path = "/api/collections/users/auth-with-otp";
    let r = guest.post(path, json!({})).await;
    assert_eq!(code(&r, "otpId"), "validation_required");
    assert_eq!(code(&r, "password"), "validation_required");
    let r = guest.post(path, json!({"otpId": "x", "password": "1".repeat(72)})).await;
    assert_eq!(code(&r, "password"), "validation_length_out_of_range");
    assert_eq!(r.body["data"]["password"]["message"], "The length must be between 1 and 71.");
    let r = guest.post(path, json!({"otpId": 5, "password": "1"})).await;
    assert_error(&r, 400, "An error occurred while loading the submitted data.");
});

// Codes expire after `otp.duration`, and a code of one collection does not log into another.
sbtest_http!(otp_expiry_and_collection, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    enable_otp(&admin, json!({"duration": 10})).await;
    let id = create_user(&admin, "users", "pat@example.com").await;
    let guest = Client::guest(&url);
    let r =
        guest.post("/api/collections/users/request-otp", json!({"email": "pat@example.com"})).await;
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    let (code_sent, _) = code_and_id(&sink.next_to("pat@example.com", 0).await);
    // Age the row past the 10 s lifetime.
    let old = "2020-01-01 00:00:00.000Z";
    let r = admin
        .patch(&format!("/api/collections/_otps/records/{otp_id}"), json!({"created": old}))
        .await;
    let aged = r.status == 200 && r.body["created"] == old;
    if !aged {
        // `created` is server-set through the API: age it in storage.
        let stmt = sb_sql::Stmt::Update(sb_sql::Update {
            table: "_otps".into(),
            set: vec![("created".into(), sb_sql::Expr::param(old))],
            where_: Some(sb_sql::Expr::eq(
                sb_sql::Expr::bare("id"),
                sb_sql::Expr::param(otp_id.as_str()),
                sb_sql::Ty::Text,
            )),
        });
        assert_eq!(app.store().write(&[stmt]).await.expect("age otp"), vec![1]);
    }
    // The periodic clean-up removes the expired code (and nothing else).
    let fresh = guest
        .post("/api/collections/users/request-otp", json!({"email": "pat@example.com"}))
        .await
        .body["otpId"]
        .as_str()
        .unwrap()
        .to_owned();
    sink.next_to("pat@example.com", 1).await;
    assert_eq!(app.purge_expired_auth_state().await.expect("purge"), 1);
    let left: Vec<Value> =
        admin.all_records("_otps").await.into_iter().map(|r| r["id"].clone()).collect();
    assert_eq!(left, vec![json!(fresh)]);
    let r = guest
        .post(
            "/api/collections/users/auth-with-otp",
            json!({"otpId": otp_id, "password": code_sent}),
        )
        .await;
    assert_error(&r, 400, INVALID);

    // Another collection's route refuses the code.
    let r =
        guest.post("/api/collections/users/request-otp", json!({"email": "pat@example.com"})).await;
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    let (code_sent, _) = code_and_id(&sink.next_to("pat@example.com", 2).await);
    admin
        .create_collection(json!({"name": "members", "type": "auth", "otp": {"enabled": true}, "fields": [{"name": "name", "type": "text"}]}))
        .await;
    let r = guest
        .post(
            "/api/collections/members/auth-with-otp",
            json!({"otpId": otp_id, "password": code_sent}),
        )
        .await;
    assert_error(&r, 400, INVALID);
    let r = guest
        .post(
            "/api/collections/users/auth-with-otp",
            json!({"otpId": otp_id, "password": code_sent}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], id.as_str());
});

// More than five code checks for one record within three minutes → 429, even with the right
// code.
sbtest_http!(otp_attempt_limit, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    enable_otp(&admin, json!({})).await;
    create_user(&admin, "users", "quin@example.com").await;
    let guest = Client::guest(&url);
    let r = guest
        .post("/api/collections/users/request-otp", json!({"email": "quin@example.com"}))
        .await;
    let otp_id = r.body["otpId"].as_str().unwrap().to_owned();
    let (code_sent, _) = code_and_id(&sink.next_to("quin@example.com", 0).await);
    let wrong = if code_sent == "000000" { "111111" } else { "000000" };
    let path = "/api/collections/users/auth-with-otp";
    for _ in 0..5 {
        let r = guest.post(path, json!({"otpId": otp_id, "password": wrong})).await;
        assert_error(&r, 400, INVALID);
    }
    let r = guest.post(path, json!({"otpId": otp_id, "password": code_sent})).await;
    assert_error(&r, 429, "Too many attempts, please try again later with a new OTP.");
});
