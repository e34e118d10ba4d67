//! E-mail auth flows (spec §6.9) and the settings' test e-mail (§8.6), end to end through a
//! local SMTP sink configured with `PATCH /api/settings`.

use sb_testkit::sbtest_http;
use sb_testkit::smtp::{Mail, SmtpSink};
use serde_json::{Value, json};

use crate::common::{Client, assert_error, code};

pub const PASSWORD: &str = "user-password-1";
const VALIDATION: &str = "An error occurred while validating the submitted data.";

/// A superuser client and an SMTP sink the server is configured to send through.
pub async fn mail_setup(url: &str, app: &sb_core::App) -> (Client, SmtpSink) {
    let sink = SmtpSink::start().await;
    let admin = Client::admin(url, app).await;
    let r = admin
        .patch(
            "/api/settings",
            json!({
                "smtp": {"enabled": true, "host": "127.0.0.1", "port": sink.port,
                         "username": "mailer", "password": "smtp-secret", "authMethod": "PLAIN",
                         "localName": "sb.test"},
                "meta": {"appName": "TestApp", "appURL": "http://app.test",
                         "senderName": "Sender", "senderAddress": "noreply@app.test"}
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["smtp"].get("password").is_none(), "the SMTP password is write-only");
    (admin, sink)
}

/// Creates a user of `collection` with [`PASSWORD`]; returns its id.
pub async fn create_user(admin: &Client, collection: &str, email: &str) -> String {
    let r = admin
        .create_record(
            collection,
            json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, "name": "Ann <&> \"A\""}),
        )
        .await;
    r["id"].as_str().expect("record id").to_owned()
}

pub async fn login(
    url: &str,
    collection: &str,
    email: &str,
    password: &str,
) -> crate::common::Resp {
    Client::guest(url)
        .post(
            &format!("/api/collections/{collection}/auth-with-password"),
            json!({"identity": email, "password": password}),
        )
        .await
}

/// The token in a mail's confirmation link (`.../<route>/<TOKEN>`).
fn link_token(mail: &Mail, route: &str) -> String {
    let body = mail.body();
    let marker = format!("/{route}/");
    let start =
        body.find(&marker).unwrap_or_else(|| panic!("no {route} link in {body}")) + marker.len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect()
}

fn claims(token: &str) -> sb_auth::Claims {
    sb_auth::token::peek(token).expect("token claims")
}

async fn record(admin: &Client, collection: &str, id: &str) -> Value {
    let r = admin.get(&format!("/api/collections/{collection}/records/{id}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The stored `tokenKey` of a record (never part of any response).
async fn token_key(app: &sb_core::App, table: &str, id: &str) -> String {
    let select = sb_sql::Stmt::Select(sb_sql::Select {
        columns: vec![sb_sql::SelectItem::Expr {
            expr: sb_sql::Expr::bare("tokenKey"),
            alias: None,
        }],
        from: Some(sb_sql::FromItem::Table { name: table.into(), alias: None }),
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param(id),
            sb_sql::Ty::Text,
        )),
        ..Default::default()
    });
    let rows = app.store().query(&select).await.expect("select tokenKey");
    rows.rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(sb_sql::Value::into_string)
        .expect("tokenKey")
}

// Request + confirm verification: the mail (sender, recipient, SMTP auth, subject, escaped
// record placeholders), the token's claims, the effect, idempotence, no mail when verified.
sbtest_http!(verification_flow, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let id = create_user(&admin, "users", "ann@example.com").await;
    let r = admin
        .patch(
            "/api/collections/users",
            json!({"verificationTemplate": {"subject": "Verify {APP_NAME} for {RECORD:name}",
                   "body": "<p>{RECORD:email} {RECORD:tokenKey} {RECORD:password}</p><a href=\"{APP_URL}/v/confirm-verification/{TOKEN}\">go</a>"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let guest = Client::guest(&url);
    let r = guest
        .post("/api/collections/users/request-verification", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let mail = sink.next_to("ann@example.com", 0).await;
    assert_eq!(mail.from, "noreply@app.test");
    assert_eq!(mail.helo, "sb.test");
    assert_eq!(mail.auth, Some(("mailer".into(), "smtp-secret".into())));
    assert_eq!(mail.auth_mechanism, "PLAIN");
    assert_eq!(mail.header("From").as_deref(), Some("Sender <noreply@app.test>"));
    assert_eq!(mail.subject(), "Verify TestApp for Ann &lt;&amp;&gt; &#34;A&#34;");
    let body = mail.body();
    assert!(body.contains("ann@example.com {RECORD:tokenKey} {RECORD:password}"), "{body}");
    assert!(body.contains("http://app.test/v/confirm-verification/"), "{body}");
    let token = link_token(&mail, "confirm-verification");
    let c = claims(&token);
    assert_eq!(c.kind, sb_auth::TokenType::Verification);
    assert_eq!((c.id.as_str(), c.email.as_deref()), (id.as_str(), Some("ann@example.com")));
    assert_eq!(c.collection_id, "_pb_users_auth_");
    assert!(c.new_email.is_none() && c.refreshable.is_none());

    assert_eq!(record(&admin, "users", &id).await["verified"], false);
    let r =
        guest.post("/api/collections/users/confirm-verification", json!({"token": token})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(record(&admin, "users", &id).await["verified"], true);
    // Idempotent.
    let r =
        guest.post("/api/collections/users/confirm-verification", json!({"token": token})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Verified → 204 and no mail; a later request for another user is the barrier.
    let r = guest
        .post("/api/collections/users/request-verification", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(r.status, 204);
    create_user(&admin, "users", "bob@example.com").await;
    let r = guest
        .post("/api/collections/users/request-verification", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(r.status, 204);
    sink.next_to("bob@example.com", 0).await;
    assert_eq!(sink.mails_to("ann@example.com").len(), 1);
});

// Unknown addresses answer exactly like known ones and get no mail; resends within two
// minutes are silent.
sbtest_http!(requests_do_not_enumerate_accounts, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    create_user(&admin, "users", "known@example.com").await;
    let guest = Client::guest(&url);
    for route in ["request-verification", "request-password-reset"] {
        let path = format!("/api/collections/users/{route}");
        let unknown = guest.post(&path, json!({"email": "nobody@example.com"})).await;
        let known = guest.post(&path, json!({"email": "known@example.com"})).await;
        assert_eq!((unknown.status, &unknown.body), (known.status, &known.body), "{route}");
        assert_eq!(known.status, 204);
        assert_eq!(
            unknown.headers.get("content-length"),
            known.headers.get("content-length"),
            "{route}"
        );
    }
    sink.next_to("known@example.com", 1).await;
    // Second requests within the throttle window: 204, no third mail. Barrier: another user.
    for route in ["request-verification", "request-password-reset"] {
        let r = guest
            .post(&format!("/api/collections/users/{route}"), json!({"email": "known@example.com"}))
            .await;
        assert_eq!(r.status, 204);
    }
    create_user(&admin, "users", "later@example.com").await;
    guest
        .post(
            "/api/collections/users/request-password-reset",
            json!({"email": "later@example.com"}),
        )
        .await;
    sink.next_to("later@example.com", 0).await;
    assert_eq!(sink.mails_to("known@example.com").len(), 2);
    assert!(sink.mails_to("nobody@example.com").is_empty());
});

// Request endpoints' validation and the superuser special cases.
sbtest_http!(request_validation, |url, app| async move {
    let (admin, _sink) = mail_setup(&url, &app).await;
    let guest = Client::guest(&url);
    for route in ["request-verification", "request-password-reset"] {
        let path = format!("/api/collections/users/{route}");
        let r = guest.post(&path, json!({})).await;
        assert_eq!((r.status, code(&r, "email")), (400, "validation_required"), "{r:?}");
        assert_eq!(r.body["message"], VALIDATION);
        let r = guest.post(&path, json!({"email": "not-an-email"})).await;
        assert_eq!((r.status, code(&r, "email")), (400, "validation_is_email"), "{r:?}");
        let r = guest.post(&path, json!({"email": 5})).await;
        assert_error(&r, 400, "An error occurred while loading the submitted data.");
        let r = guest.post(&format!("/api/collections/nope/{route}"), json!({})).await;
        assert_error(&r, 404, "Missing or invalid auth collection context.");
        let r = guest.post(&format!("/api/collections/_mfas/{route}"), json!({})).await;
        assert_eq!(r.status, 404);
    }
    let r = guest
        .post("/api/collections/_superusers/request-verification", json!({"email": "a@b.co"}))
        .await;
    assert_error(&r, 400, "All superusers are verified by default.");
    let r =
        admin.patch("/api/collections/users", json!({"passwordAuth": {"enabled": false}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = guest
        .post("/api/collections/users/request-password-reset", json!({"email": "a@b.co"}))
        .await;
    assert_error(&r, 400, "The collection is not configured to allow password authentication.");
});

// confirm-verification refuses garbage, expired tokens, tokens of another type and of another
// collection, and tokens whose e-mail no longer matches.
sbtest_http!(confirm_verification_errors, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let guest = Client::guest(&url);
    let confirm = |token: Value| {
        let guest = guest.clone();
        async move {
            guest.post("/api/collections/users/confirm-verification", json!({"token": token})).await
        }
    };
    let r = guest.post("/api/collections/users/confirm-verification", json!({})).await;
    assert_eq!(code(&r, "token"), "validation_required");
    let r = confirm(json!("garbage")).await;
    assert_eq!(r.body["data"]["token"]["message"], "Missing email token claim.");
    assert_eq!(code(&r, "token"), "validation_invalid_token_claims");
    let r = confirm(json!(5)).await;
    assert_error(&r, 400, "An error occurred while loading the submitted data.");

    let id = create_user(&admin, "users", "carl@example.com").await;
    // A password-reset token (same claims shape, other type and secret).
    guest
        .post("/api/collections/users/request-password-reset", json!({"email": "carl@example.com"}))
        .await;
    let reset = link_token(&sink.next_to("carl@example.com", 0).await, "confirm-password-reset");
    let r = confirm(json!(reset)).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "{r:?}");
    // An auth token has no email claim.
    let auth = crate::common::record_token(&app, "users", &id).await;
    let r = confirm(json!(auth)).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token_claims");

    // A token of another auth collection.
    admin
        .create_collection(json!({"name": "members", "type": "auth", "fields": [{"name": "name", "type": "text"}]}))
        .await;
    create_user(&admin, "members", "mia@example.com").await;
    guest
        .post("/api/collections/members/request-verification", json!({"email": "mia@example.com"}))
        .await;
    let other = link_token(&sink.next_to("mia@example.com", 0).await, "confirm-verification");
    let r = confirm(json!(other)).await;
    assert_eq!(code(&r, "token"), "validation_token_collection_mismatch", "{r:?}");
    assert_eq!(
        r.body["data"]["token"]["message"],
        "The provided token is for different auth collection."
    );

    // Expired and tampered tokens, signed with the real key (secret set through the API).
    let secret = "s".repeat(40);
    let r = admin
        .patch("/api/collections/users", json!({"verificationToken": {"secret": secret}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let key = format!("{}{secret}", token_key(&app, "users", &id).await);
    let now = chrono_now();
    let mut c = sb_auth::Claims {
        collection_id: "_pb_users_auth_".into(),
        email: Some("carl@example.com".into()),
        exp: now - 60,
        id: id.clone(),
        new_email: None,
        refreshable: None,
        kind: sb_auth::TokenType::Verification,
    };
    let r = confirm(json!(sb_auth::token::sign(&c, &key))).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "expired: {r:?}");
    c.exp = now + 600;
    let r = confirm(json!(sb_auth::token::sign(&c, &format!("{key}x")))).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "bad signature: {r:?}");
    c.email = Some("other@example.com".into());
    let r = confirm(json!(sb_auth::token::sign(&c, &key))).await;
    assert_eq!(code(&r, "token"), "validation_token_email_mismatch", "{r:?}");
    c.email = Some("carl@example.com".into());
    let r = confirm(json!(sb_auth::token::sign(&c, &key))).await;
    assert_eq!(r.status, 204, "a valid forged-with-the-real-key token works: {r:?}");
    assert_eq!(record(&admin, "users", &id).await["verified"], true);
});

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// Password reset: new password works, the old one and every earlier auth token stop working,
// the token is single-use, and the record becomes verified.
sbtest_http!(password_reset_flow, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let id = create_user(&admin, "users", "dan@example.com").await;
    let old = login(&url, "users", "dan@example.com", PASSWORD).await;
    assert_eq!(old.status, 200);
    let old_token = old.body["token"].as_str().unwrap().to_owned();
    let guest = Client::guest(&url);
    let r = guest
        .post("/api/collections/users/request-password-reset", json!({"email": "dan@example.com"}))
        .await;
    assert_eq!(r.status, 204);
    let mail = sink.next_to("dan@example.com", 0).await;
    assert_eq!(mail.subject(), "Reset your TestApp password");
    assert!(mail.body().contains("http://app.test/_/#/auth/confirm-password-reset/"));
    let token = link_token(&mail, "confirm-password-reset");
    let c = claims(&token);
    assert_eq!(c.kind, sb_auth::TokenType::PasswordReset);
    assert_eq!(c.email.as_deref(), Some("dan@example.com"));
    assert!(c.exp - chrono_now() <= 1800 && c.exp - chrono_now() > 1700, "30 minutes");

    let path = "/api/collections/users/confirm-password-reset";
    let r = guest.post(path, json!({})).await;
    for field in ["token", "password", "passwordConfirm"] {
        assert_eq!(code(&r, field), "validation_required", "{field}");
    }
    let r = guest
        .post(path, json!({"token": "garbage", "password": "1", "passwordConfirm": "2"}))
        .await;
    assert_eq!(code(&r, "token"), "validation_invalid_token");
    assert_eq!(code(&r, "password"), "validation_length_out_of_range");
    assert_eq!(r.body["data"]["password"]["message"], "The length must be between 8 and 255.");
    assert_eq!(code(&r, "passwordConfirm"), "validation_values_mismatch");
    let r = guest
        .post(path, json!({"token": token, "password": "new-password-1", "passwordConfirm": "other-password"}))
        .await;
    assert_eq!(code(&r, "passwordConfirm"), "validation_values_mismatch");
    assert!(r.body["data"].get("token").is_none(), "{r:?}");
    // Past the password field's limits (bcrypt's 72 bytes, then the field max of 71).
    for (len, field_code) in
        [(72, "validation_max_text_constraint"), (100, "validation_invalid_value")]
    {
        let long = "p".repeat(len);
        let r = guest
            .post(path, json!({"token": token, "password": long, "passwordConfirm": long}))
            .await;
        assert_eq!(r.body["message"], "Failed to set new password.", "{len}");
        assert_eq!((r.status, code(&r, "password")), (400, field_code), "{len}: {r:?}");
    }

    let r = guest
        .post(path, json!({"token": token, "password": "new-password-1", "passwordConfirm": "new-password-1"}))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(login(&url, "users", "dan@example.com", PASSWORD).await.status, 400);
    assert_eq!(login(&url, "users", "dan@example.com", "new-password-1").await.status, 200);
    let refresh = Client::guest(&url).with_token(Some(&old_token));
    let r = refresh.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(r.status, 401, "the old session is revoked: {:?}", r.body);
    assert_eq!(record(&admin, "users", &id).await["verified"], true);
    // Single use.
    let r = guest
        .post(path, json!({"token": token, "password": "third-password", "passwordConfirm": "third-password"}))
        .await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "{r:?}");
    assert_eq!(login(&url, "users", "dan@example.com", "new-password-1").await.status, 200);
});

// A verification token is not a reset token, and reset tokens of another collection are
// refused.
sbtest_http!(password_reset_token_kinds, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    create_user(&admin, "users", "eve@example.com").await;
    let guest = Client::guest(&url);
    guest
        .post("/api/collections/users/request-verification", json!({"email": "eve@example.com"}))
        .await;
    let verification =
        link_token(&sink.next_to("eve@example.com", 0).await, "confirm-verification");
    let body = |token: &str| json!({"token": token, "password": "new-password-1", "passwordConfirm": "new-password-1"});
    let r = guest.post("/api/collections/users/confirm-password-reset", body(&verification)).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "{r:?}");
    admin.create_collection(json!({"name": "members", "type": "auth", "fields": [{"name": "name", "type": "text"}]})).await;
    create_user(&admin, "members", "eve@example.com").await;
    guest
        .post(
            "/api/collections/members/request-password-reset",
            json!({"email": "eve@example.com"}),
        )
        .await;
    let other = link_token(&sink.next_to("eve@example.com", 1).await, "confirm-password-reset");
    let r = guest.post("/api/collections/users/confirm-password-reset", body(&other)).await;
    assert_eq!(code(&r, "token"), "validation_token_collection_mismatch", "{r:?}");
    assert_eq!(login(&url, "users", "eve@example.com", PASSWORD).await.status, 200);
});

// E-mail change: auth required, validation, mail to the new address, confirm with the
// password, old sessions revoked, token single-use.
sbtest_http!(email_change_flow, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let id = create_user(&admin, "users", "fay@example.com").await;
    create_user(&admin, "users", "taken@example.com").await;
    let session = login(&url, "users", "fay@example.com", PASSWORD).await;
    let token = session.body["token"].as_str().unwrap().to_owned();
    let user = Client::guest(&url).with_token(Some(&token));
    let path = "/api/collections/users/request-email-change";

    let r = Client::guest(&url).post(path, json!({"newEmail": "new@example.com"})).await;
    assert_error(&r, 401, "The request requires valid record authorization token.");
    let r = admin.post(path, json!({"newEmail": "new@example.com"})).await;
    assert_error(&r, 403, "The request requires auth record from _superusers collection.");
    let r = admin
        .post(
            "/api/collections/_superusers/request-email-change",
            json!({"newEmail": "x@example.com"}),
        )
        .await;
    assert_error(&r, 400, "All superusers can change their emails directly.");
    for (body, field_code) in [
        (json!({}), "validation_required"),
        (json!({"newEmail": "bad"}), "validation_is_email"),
        (json!({"newEmail": "fay@example.com"}), "validation_not_in_invalid"),
        (json!({"newEmail": "taken@example.com"}), "validation_invalid_new_email"),
    ] {
        let r = user.post(path, body.clone()).await;
        assert_eq!((r.status, code(&r, "newEmail")), (400, field_code), "{body}: {r:?}");
    }

    let r = user.post(path, json!({"newEmail": "new@example.com"})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let mail = sink.next_to("new@example.com", 0).await;
    assert!(sink.mails_to("fay@example.com").is_empty());
    assert_eq!(mail.subject(), "Confirm your TestApp new email address");
    let change = link_token(&mail, "confirm-email-change");
    let c = claims(&change);
    assert_eq!(c.kind, sb_auth::TokenType::EmailChange);
    assert_eq!(
        (c.email.as_deref(), c.new_email.as_deref()),
        (Some("fay@example.com"), Some("new@example.com"))
    );

    let confirm = "/api/collections/users/confirm-email-change";
    let guest = Client::guest(&url);
    let r = guest.post(confirm, json!({})).await;
    assert_eq!(code(&r, "token"), "validation_required");
    assert_eq!(code(&r, "password"), "validation_required");
    let r = guest.post(confirm, json!({"token": "garbage", "password": "x"})).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token_payload");
    assert_eq!(code(&r, "password"), "validation_invalid_password");
    let r = guest.post(confirm, json!({"token": change, "password": "wrong-password"})).await;
    assert_eq!(code(&r, "password"), "validation_invalid_password", "{r:?}");
    assert!(r.body["data"].get("token").is_none(), "{r:?}");

    let r = guest.post(confirm, json!({"token": change, "password": PASSWORD})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let rec = record(&admin, "users", &id).await;
    assert_eq!((rec["email"].as_str(), &rec["verified"]), (Some("new@example.com"), &json!(true)));
    let r = user.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(r.status, 401, "old sessions are revoked: {:?}", r.body);
    assert_eq!(login(&url, "users", "new@example.com", PASSWORD).await.status, 200);
    assert_eq!(login(&url, "users", "fay@example.com", PASSWORD).await.status, 400);
    let r = guest.post(confirm, json!({"token": change, "password": PASSWORD})).await;
    assert_eq!(code(&r, "token"), "validation_invalid_token", "single use: {r:?}");
});

// The new address taken between request and confirm.
sbtest_http!(email_change_target_taken_meanwhile, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let id = create_user(&admin, "users", "gil@example.com").await;
    let token = crate::common::record_token(&app, "users", &id).await;
    let user = Client::guest(&url).with_token(Some(&token));
    let r = user
        .post("/api/collections/users/request-email-change", json!({"newEmail": "hot@example.com"}))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let change = link_token(&sink.next_to("hot@example.com", 0).await, "confirm-email-change");
    create_user(&admin, "users", "hot@example.com").await;
    let r = Client::guest(&url)
        .post(
            "/api/collections/users/confirm-email-change",
            json!({"token": change, "password": PASSWORD}),
        )
        .await;
    assert_eq!(code(&r, "token"), "validation_invalid_token_email", "{r:?}");
    assert_eq!(record(&admin, "users", &id).await["email"], "gil@example.com");
});

// A failing SMTP server: the anonymous request still answers 204, the authenticated e-mail
// change reports the failure, the test e-mail reports the raw error.
sbtest_http!(delivery_failures, |url, app| async move {
    let (admin, _sink) = mail_setup(&url, &app).await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let r = admin.patch("/api/settings", json!({"smtp": {"port": port}})).await;
    assert_eq!(r.status, 200);
    let id = create_user(&admin, "users", "hal@example.com").await;
    let guest = Client::guest(&url);
    let r = guest
        .post("/api/collections/users/request-verification", json!({"email": "hal@example.com"}))
        .await;
    assert_eq!(r.status, 204);
    let token = crate::common::record_token(&app, "users", &id).await;
    let user = Client::guest(&url).with_token(Some(&token));
    let r = user
        .post("/api/collections/users/request-email-change", json!({"newEmail": "h2@example.com"}))
        .await;
    assert_error(&r, 400, "Failed to request email change.");
    let r = admin
        .post("/api/settings/test/email", json!({"email": "t@example.com", "template": "otp"}))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap_or("");
    assert!(message.starts_with("Failed to send the test email. Raw error: \n"), "{message}");
    crate::common::Client::guest(&url).assert_healthy().await;
});

// `POST /api/settings/test/email`: access, validation, and each template delivered.
sbtest_http!(test_email, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let path = "/api/settings/test/email";
    let r = Client::guest(&url).post(path, json!({})).await;
    assert_eq!(r.status, 401);
    let id = create_user(&admin, "users", "ivy@example.com").await;
    let token = crate::common::record_token(&app, "users", &id).await;
    let r = Client::guest(&url).with_token(Some(&token)).post(path, json!({})).await;
    assert_error(&r, 403, "The authorized record is not allowed to perform this action.");
    let r = admin.post(path, json!({})).await;
    assert_eq!(r.body["message"], "Failed to send the test email.");
    assert_eq!(code(&r, "email"), "validation_required");
    assert_eq!(code(&r, "template"), "validation_required");
    let r = admin.post(path, json!({"email": "bad", "template": "x", "collection": "nope"})).await;
    assert_eq!(code(&r, "email"), "validation_is_email");
    assert_eq!(code(&r, "template"), "validation_in_invalid");
    assert_eq!(code(&r, "collection"), "validation_invalid_auth_collection");
    let r = admin
        .post(path, json!({"email": "t@example.com", "template": "otp", "collection": "_mfas"}))
        .await;
    assert_eq!(code(&r, "collection"), "validation_invalid_auth_collection");

    let cases = [
        ("verification", "Verify your TestApp email"),
        ("password-reset", "Reset your TestApp password"),
        ("email-change", "Confirm your TestApp new email address"),
        ("otp", "OTP for TestApp"),
        ("login-alert", "Login from a new location"),
    ];
    for (i, (template, subject)) in cases.iter().enumerate() {
        let r = admin
            .post(
                path,
                json!({"email": "test@example.com", "template": template, "collection": "users"}),
            )
            .await;
        assert_eq!(r.status, 204, "{template}: {:?}", r.body);
        let mail = sink.next_to("test@example.com", i).await;
        assert_eq!(mail.subject(), *subject, "{template}");
        assert!(!mail.body().contains("{APP_NAME}"), "{template}: {}", mail.body());
    }
    // Default collection: _superusers.
    let r = admin.post(path, json!({"email": "su@example.com", "template": "verification"})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    sink.next_to("su@example.com", 0).await;
    // The settings are read at send time: a new sink gets the next message.
    let second = SmtpSink::start().await;
    let r = admin
        .patch(
            "/api/settings",
            json!({"smtp": {"port": second.port, "authMethod": "LOGIN", "username": "other"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = admin.post(path, json!({"email": "again@example.com", "template": "otp"})).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let mail = second.next_to("again@example.com", 0).await;
    assert_eq!(mail.auth_mechanism, "LOGIN");
    assert_eq!(mail.auth, Some(("other".into(), "smtp-secret".into())));
});

async fn login_as(url: &str, agent: &str, email: &str) -> u16 {
    let http = reqwest::Client::builder().user_agent(agent).build().expect("client");
    let c = Client { base: url.to_owned(), http, token: None };
    let r = c
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": email, "password": PASSWORD}),
        )
        .await;
    r.status
}

// Login alerts (spec §6.12): the first origin is recorded silently, a known origin sends
// nothing, a new one mails the alert; at most five origins are kept; `authAlert.enabled`
// off records and sends nothing.
sbtest_http!(login_alerts, |url, app| async move {
    let (admin, sink) = mail_setup(&url, &app).await;
    let id = create_user(&admin, "users", "lou@example.com").await;
    let origins = |admin: Client| {
        let id = id.clone();
        async move {
            admin
                .all_records("_authOrigins")
                .await
                .into_iter()
                .filter(|o| o["recordRef"] == id.as_str())
                .count()
        }
    };
    assert_eq!(login_as(&url, "agent-one", "lou@example.com").await, 200);
    assert_eq!(origins(admin.clone()).await, 1);
    assert_eq!(login_as(&url, "agent-one", "lou@example.com").await, 200);
    assert_eq!(origins(admin.clone()).await, 1);
    assert!(
        sink.mails_to("lou@example.com").is_empty(),
        "no alert for the first or a known origin"
    );
    assert_eq!(login_as(&url, "agent-two", "lou@example.com").await, 200);
    // The login waits for the alert, so it is there once the login answered.
    let mails = sink.mails_to("lou@example.com");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject(), "Login from a new location");
    let body = mails[0].body();
    assert!(body.contains("127.0.0.1 agent-two"), "{body}");
    assert_eq!(origins(admin.clone()).await, 2);
    for i in 3..=7 {
        assert_eq!(login_as(&url, &format!("agent-{i}"), "lou@example.com").await, 200);
    }
    assert_eq!(origins(admin.clone()).await, 5, "oldest origins pruned");
    assert_eq!(sink.mails_to("lou@example.com").len(), 6);

    let r = admin.patch("/api/collections/users", json!({"authAlert": {"enabled": false}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(login_as(&url, "agent-off", "lou@example.com").await, 200);
    assert_eq!(sink.mails_to("lou@example.com").len(), 6);
    assert_eq!(origins(admin.clone()).await, 5);
    // A failed login records nothing.
    let r = login(&url, "users", "lou@example.com", "wrong-password").await;
    assert_eq!(r.status, 400);
});

// With SMTP disabled (the default) mail goes to the local sendmail program; the request flows
// answer as usual whether or not it can deliver, and the test e-mail reports the failure.
sbtest_http!(smtp_disabled, |url, app| async move {
    let admin = Client::admin(&url, &app).await;
    create_user(&admin, "users", "sam@example.com").await;
    let r = admin.patch("/api/collections/users", json!({"otp": {"enabled": true}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let guest = Client::guest(&url);
    for email in ["sam@example.com", "nobody@example.com"] {
        for route in ["request-verification", "request-password-reset"] {
            let r = guest
                .post(&format!("/api/collections/users/{route}"), json!({"email": email}))
                .await;
            assert_eq!((r.status, &r.body), (204, &Value::Null), "{route} {email}");
        }
        let r = guest.post("/api/collections/users/request-otp", json!({"email": email})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["otpId"].as_str().map(str::len), Some(15));
    }
    let sendmail = ["/usr/bin/sendmail", "/usr/sbin/sendmail", "/usr/local/bin/sendmail"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !sendmail {
        let r = admin
            .post("/api/settings/test/email", json!({"email": "t@example.com", "template": "otp"}))
            .await;
        assert_error(
            &r,
            400,
            "Failed to send the test email. Raw error: \nfailed to locate a sendmail executable path.",
        );
    }
    guest.assert_healthy().await;
});
