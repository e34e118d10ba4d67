//! Multi-factor authentication: a first factor answers 401 `{"mfaId"}`, a different second
//! factor carrying that id completes the login (password + OAuth2 through the fake provider).
//! Messages and statuses were read from PocketBase 0.40.6.

use sb_testkit::oauth2::FakeProvider;
use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, Resp, assert_error};
use crate::oauth2::{enable_oauth2, oauth2_login, oidc_user};

const PASSWORD: &str = "user-password-1";

async fn create_user(su: &Client, email: &str) -> String {
    let r = su
        .create_record(
            "users",
            json!({"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, "verified": true}),
        )
        .await;
    r["id"].as_str().unwrap().to_owned()
}

async fn password_login(
    url: &str,
    collection: &str,
    email: &str,
    password: &str,
    extra: Value,
) -> Resp {
    let mut body = json!({"identity": email, "password": password});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    Client::guest(url)
        .post(&format!("/api/collections/{collection}/auth-with-password"), body)
        .await
}

/// Moves an MFA session's creation time to 2020 (expired for any `mfa.duration`).
async fn backdate(app: &sb_core::App, mfa_id: &str) {
    let backdate = sb_sql::Stmt::Update(sb_sql::Update {
        table: "_mfas".into(),
        set: vec![("created".into(), sb_sql::Expr::param("2020-01-01 00:00:00.000Z"))],
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param(mfa_id),
            sb_sql::Ty::Text,
        )),
    });
    let counts = app.store().write(&[backdate]).await.expect("backdate the MFA session");
    assert_eq!(counts, vec![1]);
}

/// The `mfaId` of a 401 first-factor answer.
#[track_caller]
fn mfa_id(r: &Resp) -> String {
    assert_eq!(r.status, 401, "{:?}", r.body);
    let id = r.body["mfaId"].as_str().expect("mfaId").to_owned();
    assert_eq!(r.body.as_object().unwrap().len(), 1, "{:?}", r.body);
    assert_eq!(id.len(), 15);
    id
}

sb_testkit::sbtest_http!(mfa_password_then_oauth2_and_back, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({"mfa": {"enabled": true}})).await;
    let id = create_user(&su, "two@example.com").await;
    let provider_user = oidc_user("sub-mfa", "two@example.com", "Two", "");
    let guest = Client::guest(&url);

    let r = password_login(&url, "users", "two@example.com", PASSWORD, json!({})).await;
    let first = mfa_id(&r);
    let mfas = su.all_records("_mfas").await;
    assert_eq!(mfas.len(), 1);
    assert_eq!(mfas[0]["id"], first.as_str());
    assert_eq!(mfas[0]["method"], "password");
    assert_eq!(mfas[0]["recordRef"], id.as_str());
    assert_eq!(mfas[0]["collectionRef"], "_pb_users_auth_");

    // The same method twice is not two factors.
    let r =
        password_login(&url, "users", "two@example.com", PASSWORD, json!({"mfaId": first})).await;
    assert_error(&r, 400, "A different authentication method is required.");
    // A wrong password still fails as a password failure.
    let r =
        password_login(&url, "users", "two@example.com", "wrong-password", json!({"mfaId": first}))
            .await;
    assert_error(&r, 400, "Failed to authenticate.");

    // OAuth2 with the id (query parameter) completes the login and consumes the session.
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        provider_user.clone(),
        json!({}),
        &format!("?mfaId={first}"),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], id.as_str());
    assert_eq!(r.body["meta"]["id"], "sub-mfa");
    assert!(r.body["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(su.all_records("_mfas").await.is_empty());
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        provider_user.clone(),
        json!({}),
        &format!("?mfaId={first}"),
    )
    .await;
    assert_error(&r, 400, "Invalid or expired MFA session.");

    // OAuth2 first, then the password with the id in the body.
    let r = oauth2_login(&guest, &fake, "users", provider_user.clone(), json!({}), "").await;
    let second = mfa_id(&r);
    assert_eq!(su.all_records("_mfas").await[0]["method"], "oauth2");
    let r =
        password_login(&url, "users", "two@example.com", PASSWORD, json!({"mfaId": second})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], id.as_str());
    // Refreshing never asks for a second factor.
    let me = guest.with_token(r.body["token"].as_str());
    assert_eq!(me.post("/api/collections/users/auth-refresh", json!({})).await.status, 200);
    fake.stop().await;
});

sb_testkit::sbtest_http!(mfa_foreign_unknown_and_expired_sessions, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({"mfa": {"enabled": true, "duration": 60}})).await;
    create_user(&su, "a@example.com").await;
    create_user(&su, "b@example.com").await;
    let guest = Client::guest(&url);

    let of_a = mfa_id(&password_login(&url, "users", "a@example.com", PASSWORD, json!({})).await);
    // B's second factor with A's session.
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        oidc_user("sub-b", "b@example.com", "", ""),
        json!({"mfaId": of_a}),
        "",
    )
    .await;
    assert_error(&r, 400, "Invalid MFA session.");
    let r = password_login(
        &url,
        "users",
        "a@example.com",
        PASSWORD,
        json!({"mfaId": "nosuchmfa000000"}),
    )
    .await;
    assert_error(&r, 400, "Invalid or expired MFA session.");

    // A's session, created longer ago than mfa.duration.
    backdate(&app, &of_a).await;
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        oidc_user("sub-a", "a@example.com", "", ""),
        json!({"mfaId": of_a}),
        "",
    )
    .await;
    assert_error(&r, 400, "Invalid or expired MFA session.");
    // The expired session was removed.
    assert!(su.all_records("_mfas").await.iter().all(|m| m["id"] != of_a.as_str()));

    // Expired sessions nobody uses are purged when the next one is created.
    let stale = mfa_id(&password_login(&url, "users", "a@example.com", PASSWORD, json!({})).await);
    backdate(&app, &stale).await;
    let fresh = mfa_id(&password_login(&url, "users", "b@example.com", PASSWORD, json!({})).await);
    let ids: Vec<Value> = su.all_records("_mfas").await.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, vec![json!(fresh)]);
    fake.stop().await;
});

sb_testkit::sbtest_http!(mfa_rule_selects_records, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(
        &su,
        "users",
        &fake,
        json!({"mfa": {"enabled": true, "rule": "@request.auth.email ~ 'strict'"}}),
    )
    .await;
    create_user(&su, "strict@example.com").await;
    create_user(&su, "easy@example.com").await;
    let r = password_login(&url, "users", "easy@example.com", PASSWORD, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    mfa_id(&password_login(&url, "users", "strict@example.com", PASSWORD, json!({})).await);
    // Disabled MFA: one factor is enough.
    su.patch("/api/collections/users", json!({"mfa": {"enabled": false}})).await;
    let r = password_login(&url, "users", "strict@example.com", PASSWORD, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    fake.stop().await;
});

sb_testkit::sbtest_http!(mfa_for_superusers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    app.upsert_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("superuser");
    let fake = FakeProvider::start().await;
    // The rule of a system collection cannot change: superusers' MFA applies to all of them.
    enable_oauth2(&su, "_superusers", &fake, json!({"mfa": {"enabled": true}})).await;
    let first =
        mfa_id(&password_login(&url, "_superusers", ADMIN_EMAIL, ADMIN_PASSWORD, json!({})).await);
    let guest = Client::guest(&url);
    let r = oauth2_login(
        &guest,
        &fake,
        "_superusers",
        oidc_user("admin-sub", ADMIN_EMAIL, "", ""),
        json!({"mfaId": first}),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["email"], ADMIN_EMAIL);
    // Superusers cannot sign up through OAuth2.
    let r = oauth2_login(
        &guest,
        &fake,
        "_superusers",
        oidc_user("other-sub", "stranger@example.com", "", ""),
        json!({}),
        "",
    )
    .await;
    assert_error(&r, 400, "Failed to authenticate.");
    fake.stop().await;
});
