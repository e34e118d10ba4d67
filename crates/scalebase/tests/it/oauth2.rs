//! OAuth2 login (`auth-with-oauth2`) and the provider entries of `auth-methods`, against the
//! local fake provider of `sb_testkit::oauth2` (real HTTP, real code/PKCE checks). Expected
//! statuses and messages were read from PocketBase 0.40.6.

use sb_testkit::oauth2::FakeProvider;
use serde_json::{Value, json};

use crate::common::{Client, Resp, assert_error, code, encode, record_token};

/// The redirect URL the client registered (never visited: the test plays the browser).
pub const REDIRECT: &str = "http://127.0.0.1:9/oauth2-callback";

/// An OpenID Connect user-info answer with a verified e-mail.
pub fn oidc_user(sub: &str, email: &str, name: &str, username: &str) -> Value {
    json!({
        "sub": sub,
        "email": email,
        "email_verified": true,
        "name": name,
        "preferred_username": username,
        "picture": format!("https://images.example.com/{sub}.png"),
    })
}

/// Enables OAuth2 on `collection` with the fake provider registered as `oidc`; `extra` is
/// merged into the PATCH body.
pub async fn enable_oauth2(su: &Client, collection: &str, fake: &FakeProvider, extra: Value) {
    let mut body =
        json!({"oauth2": {"enabled": true, "providers": [fake.provider_config("oidc")]}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if k == "oauth2" {
                for (k2, v2) in v.as_object().into_iter().flatten() {
                    b["oauth2"][k2] = v2.clone();
                }
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    let r = su.patch(&format!("/api/collections/{collection}"), body).await;
    assert_eq!(r.status, 200, "enable oauth2: {:?}", r.body);
}

/// The whole client flow: `auth-methods`, the provider's authorize redirect (as a browser),
/// then `auth-with-oauth2` with the code and the PKCE verifier. `extra` is merged into the
/// body; `query` is appended to the path.
pub async fn oauth2_login(
    client: &Client,
    fake: &FakeProvider,
    collection: &str,
    user: Value,
    extra: Value,
    query: &str,
) -> Resp {
    fake.set_user(user);
    let methods = Client::guest(&client.base)
        .get(&format!("/api/collections/{collection}/auth-methods"))
        .await;
    assert_eq!(methods.status, 200, "{:?}", methods.body);
    let provider = methods.body["oauth2"]["providers"][0].clone();
    let auth_url =
        format!("{}{}", provider["authURL"].as_str().expect("authURL"), encode(REDIRECT));
    let (code, state) = fake.authorize(&auth_url).await;
    assert_eq!(state, provider["state"].as_str().unwrap());
    let mut body = json!({
        "provider": provider["name"],
        "code": code,
        "codeVerifier": provider["codeVerifier"],
        "redirectURL": REDIRECT,
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    client.post(&format!("/api/collections/{collection}/auth-with-oauth2{query}"), body).await
}

async fn external_auths(su: &Client) -> Vec<Value> {
    su.all_records("_externalAuths").await
}

sb_testkit::sbtest_http!(auth_methods_lists_providers_without_secrets, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    let r = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    assert_eq!(r.body["oauth2"], json!({"enabled": false, "providers": []}));
    enable_oauth2(&su, "users", &fake, json!({})).await;

    let collection = su.get("/api/collections/users").await.body;
    assert_eq!(collection["oauth2"]["providers"][0]["clientId"], "test-client");
    assert!(collection["oauth2"]["providers"][0].get("clientSecret").is_none());
    assert!(!collection.to_string().contains("test-client-secret"));

    let r = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    assert!(!r.body.to_string().contains("test-client-secret"));
    let p = &r.body["oauth2"]["providers"][0];
    assert_eq!(r.body["oauth2"]["enabled"], true);
    assert_eq!((p["name"].as_str(), p["displayName"].as_str()), (Some("oidc"), Some("OIDC")));
    let state = p["state"].as_str().unwrap();
    let verifier = p["codeVerifier"].as_str().unwrap();
    let challenge = p["codeChallenge"].as_str().unwrap();
    assert_eq!((state.len(), verifier.len(), challenge.len()), (30, 43, 43));
    assert_eq!(p["codeChallengeMethod"], "S256");
    assert_eq!(
        p["authURL"].as_str().unwrap(),
        format!(
            "{}?client_id=test-client&code_challenge={challenge}&code_challenge_method=S256&response_type=code&scope=openid+email+profile&state={state}&redirect_uri=",
            fake.auth_url()
        )
    );
    assert_eq!(p["authUrl"], p["authURL"]);
    assert_eq!(r.body["authProviders"][0]["logo"], "");
    assert_eq!(r.body["authProviders"][0]["state"], p["state"]);
    // Fresh state and verifier on every call.
    let again = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    assert_ne!(again.body["oauth2"]["providers"][0]["state"], p["state"]);
    assert_ne!(again.body["oauth2"]["providers"][0]["codeVerifier"], p["codeVerifier"]);

    // Without PKCE the PKCE values are empty and the URL has no challenge.
    let mut config = fake.provider_config("oidc");
    config["pkce"] = json!(false);
    let r = su.patch("/api/collections/users", json!({"oauth2": {"providers": [config]}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    let p = &r.body["oauth2"]["providers"][0];
    assert_eq!(
        (p["codeVerifier"].as_str(), p["codeChallengeMethod"].as_str()),
        (Some(""), Some(""))
    );
    assert!(!p["authURL"].as_str().unwrap().contains("code_challenge"));
    fake.stop().await;
});

sb_testkit::sbtest_http!(oauth2_signs_up_then_logs_in, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    let guest = Client::guest(&url);
    let user = oidc_user("sub-1", "new@example.com", "New User", "newbie");
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        user.clone(),
        json!({"createData": {"emailVisibility": true}}),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let record = &r.body["record"];
    assert_eq!(record["email"], "new@example.com");
    assert_eq!(record["verified"], true);
    assert_eq!(record["emailVisibility"], true);
    // users maps `name`; the avatar file is downloaded best effort (this URL does not resolve).
    assert_eq!(record["name"], "New User");
    assert_eq!(record["avatar"], "");
    let meta = &r.body["meta"];
    assert_eq!(meta["isNew"], true);
    assert_eq!(meta["id"], "sub-1");
    assert_eq!(meta["email"], "new@example.com");
    assert_eq!(meta["username"], "newbie");
    assert_eq!(meta["avatarURL"], "https://images.example.com/sub-1.png");
    assert_eq!(meta["avatarUrl"], meta["avatarURL"]);
    assert_eq!(meta["rawUser"], user);
    assert!(!meta["accessToken"].as_str().unwrap().is_empty());
    assert!(!meta["refreshToken"].as_str().unwrap().is_empty());
    assert!(meta["expiry"].as_str().unwrap().ends_with('Z'));
    let id = record["id"].as_str().unwrap().to_owned();

    // The token is a working auth token of the new record.
    let me = guest.with_token(r.body["token"].as_str());
    let refreshed = me.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(refreshed.body["record"]["id"], id.as_str());

    let links = external_auths(&su).await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["recordRef"], id.as_str());
    assert_eq!(links[0]["collectionRef"], "_pb_users_auth_");
    // The login's origin is recorded like a password login's (spec §6.12).
    let origins = su.all_records("_authOrigins").await;
    assert_eq!(origins.len(), 1, "{origins:?}");
    assert_eq!(origins[0]["recordRef"], id.as_str());
    assert_eq!(links[0]["provider"], "oidc");
    assert_eq!(links[0]["providerId"], "sub-1");

    // The same provider account again: the linked record, not a new one (even when the
    // provider now reports another e-mail).
    let moved = oidc_user("sub-1", "moved@example.com", "Renamed", "newbie");
    let r = oauth2_login(&guest, &fake, "users", moved, json!({}), "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["meta"]["isNew"], false);
    assert_eq!(r.body["record"]["id"], id.as_str());
    assert_eq!(r.body["record"]["email"], "new@example.com");
    assert_eq!(external_auths(&su).await.len(), 1);
    assert_eq!(su.all_records("users").await.len(), 1);
    fake.stop().await;
});

sb_testkit::sbtest_http!(oauth2_logs_into_existing_user_by_email, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    let created = su
        .create_record(
            "users",
            json!({"email": "old@example.com", "password": "old-password", "passwordConfirm": "old-password"}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["verified"], false);
    let login_with_password = || async {
        Client::guest(&url)
            .post(
                "/api/collections/users/auth-with-password",
                json!({"identity": "old@example.com", "password": "old-password"}),
            )
            .await
    };
    assert_eq!(login_with_password().await.status, 200);

    let guest = Client::guest(&url);
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        oidc_user("sub-2", "old@example.com", "Old", ""),
        json!({}),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["meta"]["isNew"], false);
    assert_eq!(r.body["record"]["id"], id);
    assert_eq!(r.body["record"]["verified"], true);
    // It was unverified: whoever set its password may not own the address, so the password
    // was replaced with a random one.
    assert_error(&login_with_password().await, 400, "Failed to authenticate.");
    let links = external_auths(&su).await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["recordRef"], id);
    fake.stop().await;
});

sb_testkit::sbtest_http!(oauth2_links_the_logged_in_record, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    let created = su
        .create_record(
            "users",
            json!({"email": "me@example.com", "password": "my-password", "passwordConfirm": "my-password", "verified": true}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let me = Client::guest(&url).with_token(Some(&record_token(&app, "users", id).await));
    // A provider account with another address links to the record making the request.
    let r = oauth2_login(
        &me,
        &fake,
        "users",
        oidc_user("sub-3", "other@example.com", "", ""),
        json!({}),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], id);
    assert_eq!(r.body["record"]["email"], "me@example.com");
    assert_eq!(r.body["meta"]["isNew"], false);
    let links = external_auths(&su).await;
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0]["recordRef"].as_str(), links[0]["providerId"].as_str()),
        (Some(id), Some("sub-3"))
    );
    // A verified record keeps its password.
    let r = Client::guest(&url)
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "me@example.com", "password": "my-password"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // Later, as a guest, the link finds the record.
    let r = oauth2_login(
        &Client::guest(&url),
        &fake,
        "users",
        oidc_user("sub-3", "other@example.com", "", ""),
        json!({}),
        "",
    )
    .await;
    assert_eq!(r.body["record"]["id"], id);
    assert_eq!(su.all_records("users").await.len(), 1);
    fake.stop().await;
});

sb_testkit::sbtest_http!(oauth2_errors, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    let guest = Client::guest(&url);
    let path = "/api/collections/users/auth-with-oauth2";
    let body = json!({"provider": "oidc", "code": "c", "redirectURL": REDIRECT});
    assert_error(
        &guest.post(path, body.clone()).await,
        403,
        "The collection is not configured to allow OAuth2 authentication.",
    );
    let r = guest.post("/api/collections/missing/auth-with-oauth2", body.clone()).await;
    assert_error(&r, 404, "Missing or invalid auth collection context.");
    enable_oauth2(&su, "users", &fake, json!({})).await;

    let r = guest.post(path, json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "An error occurred while loading the submitted data.");
    assert_eq!(
        (code(&r, "provider"), code(&r, "code")),
        ("validation_required", "validation_required")
    );
    let r = guest.post(path, json!({"provider": "github", "code": "c"})).await;
    assert_eq!(code(&r, "provider"), "validation_invalid_provider");
    assert_eq!(
        r.body["data"]["provider"]["message"],
        "Provider with name github is missing or is not enabled."
    );
    assert_eq!(r.body["data"]["provider"]["params"], json!({"name": "github"}));
    let r = guest.post(path, json!({"provider": "oidc", "code": 5})).await;
    assert_error(&r, 400, "An error occurred while loading the submitted data.");

    // A code the provider never issued.
    assert_error(&guest.post(path, body.clone()).await, 400, "Failed to fetch OAuth2 token.");
    // A real code with the wrong PKCE verifier, then the code replayed.
    fake.set_user(oidc_user("sub-4", "x@example.com", "", ""));
    let methods = guest.get("/api/collections/users/auth-methods").await;
    let p = &methods.body["oauth2"]["providers"][0];
    let (code_value, _) =
        fake.authorize(&format!("{}{}", p["authURL"].as_str().unwrap(), encode(REDIRECT))).await;
    let wrong = json!({"provider": "oidc", "code": code_value, "codeVerifier": "x".repeat(43), "redirectURL": REDIRECT});
    assert_error(&guest.post(path, wrong).await, 400, "Failed to fetch OAuth2 token.");
    let replay = json!({"provider": "oidc", "code": code_value, "codeVerifier": p["codeVerifier"], "redirectURL": REDIRECT});
    assert_error(&guest.post(path, replay).await, 400, "Failed to fetch OAuth2 token.");
    // Another redirect URL than the one given to authorize.
    let (code_value, _) =
        fake.authorize(&format!("{}{}", p["authURL"].as_str().unwrap(), encode(REDIRECT))).await;
    let elsewhere = json!({"provider": "oidc", "code": code_value, "codeVerifier": p["codeVerifier"], "redirectURL": "http://127.0.0.1:9/other"});
    assert_error(&guest.post(path, elsewhere).await, 400, "Failed to fetch OAuth2 token.");

    // The token works but the user-info endpoint does not answer with a user.
    let mut config = fake.provider_config("oidc");
    config["userInfoURL"] = json!(format!("{}/missing", fake.url));
    su.patch("/api/collections/users", json!({"oauth2": {"providers": [config]}})).await;
    let r = oauth2_login(
        &guest,
        &fake,
        "users",
        oidc_user("sub-4", "x@example.com", "", ""),
        json!({}),
        "",
    )
    .await;
    assert_error(&r, 400, "Failed to fetch OAuth2 user.");
    // A user without an id is no user.
    enable_oauth2(&su, "users", &fake, json!({})).await;
    let r = oauth2_login(&guest, &fake, "users", json!({"email": "x@example.com"}), json!({}), "")
        .await;
    assert_error(&r, 400, "Failed to fetch OAuth2 user.");

    // The provider is down.
    let requests_before = fake.token_requests();
    assert!(requests_before > 0);
    fake.stop().await;
    let r = guest.post(path, body.clone()).await;
    assert_error(&r, 400, "Failed to fetch OAuth2 token.");
    assert!(su.all_records("users").await.is_empty());
    assert!(external_auths(&su).await.is_empty());
    su.assert_healthy().await;
});

sb_testkit::sbtest_http!(
    oauth2_sign_up_follows_create_rule_and_maps_fields,
    |url, app| async move {
        let su = Client::admin(&url, &app).await;
        let fake = FakeProvider::start().await;
        su.create_collection(json!({
        "name": "members",
        "type": "auth",
        "createRule": "@request.context = 'oauth2' && name != 'Blocked'",
        "fields": [
            {"name": "name", "type": "text"},
            {"name": "handle", "type": "text", "pattern": "^[a-z]+$"},
            {"name": "picture", "type": "url"},
            {"name": "externalId", "type": "text"},
            {"name": "plan", "type": "text"},
        ],
        "indexes": ["CREATE UNIQUE INDEX idx_members_handle ON members (handle) WHERE handle != ''"],
    }))
    .await;
        enable_oauth2(
        &su,
        "members",
        &fake,
        json!({"oauth2": {"mappedFields": {"id": "externalId", "name": "name", "username": "handle", "avatarURL": "picture"}}}),
    )
    .await;
        let guest = Client::guest(&url);
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-1", "m1@example.com", "Mia", "mia"),
            json!({"createData": {"plan": "pro"}}),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let record = &r.body["record"];
        assert_eq!(record["name"], "Mia");
        assert_eq!(record["handle"], "mia");
        assert_eq!(record["picture"], "https://images.example.com/m-1.png");
        assert_eq!(record["externalId"], "m-1");
        assert_eq!(record["plan"], "pro");

        // The username is mapped only when valid and free; createData wins over mapped values.
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-2", "m2@example.com", "Max", "mia"),
            json!({"createData": {"name": "Maxi"}}),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["record"]["handle"].as_str(), r.body["record"]["name"].as_str()),
            (Some(""), Some("Maxi"))
        );
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-3", "m3@example.com", "Ola", "NOT valid"),
            json!({}),
            "",
        )
        .await;
        assert_eq!(r.body["record"]["handle"], "");

        // The create rule refuses: nothing is created or linked.
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-4", "m4@example.com", "Blocked", "blk"),
            json!({}),
            "",
        )
        .await;
        assert_error(&r, 400, "Failed to create record.");
        // createData is validated like a create body.
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-5", "m5@example.com", "Eve", ""),
            json!({"createData": {"verified": true}}),
            "",
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["message"], "Failed to create record.");
        assert_eq!(code(&r, "verified"), "validation_values_mismatch");
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-5", "", "Eve", ""),
            json!({"createData": {"email": "bad"}}),
            "",
        )
        .await;
        assert_eq!(code(&r, "email"), "validation_is_email");
        // superusers only.
        su.patch("/api/collections/members", json!({"createRule": null})).await;
        let r = oauth2_login(
            &guest,
            &fake,
            "members",
            oidc_user("m-6", "m6@example.com", "Zed", ""),
            json!({}),
            "",
        )
        .await;
        assert_error(&r, 403, "Only superusers can perform this action.");
        assert_eq!(su.all_records("members").await.len(), 3);
        assert_eq!(external_auths(&su).await.len(), 3);
        fake.stop().await;
    }
);

sb_testkit::sbtest_http!(oauth2_github_user_and_email_list, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    // A GitHub (Enterprise-style) server at the fake's URLs: GitHub's user-info mapping and
    // its e-mail list under the user-info URL.
    let r = su
        .patch(
            "/api/collections/users",
            json!({"oauth2": {"enabled": true, "providers": [fake.provider_config("github")]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let methods = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    let p = methods.body["oauth2"]["providers"][0].clone();
    assert_eq!(p["displayName"], "GitHub");
    assert!(p["authURL"].as_str().unwrap().contains("scope=read%3Auser+user%3Aemail"));
    let login = |user: Value| {
        let p = p.clone();
        let fake = &fake;
        let url = url.clone();
        async move {
            fake.set_user(user);
            let auth_url = format!("{}{}", p["authURL"].as_str().unwrap(), encode(REDIRECT));
            let (code, _) = fake.authorize(&auth_url).await;
            let body = json!({"provider": "github", "code": code, "codeVerifier": p["codeVerifier"], "redirectURL": REDIRECT});
            Client::guest(&url).post("/api/collections/users/auth-with-oauth2", body).await
        }
    };
    fake.set_emails(json!([
        {"email": "secondary@example.com", "primary": false, "verified": true},
        {"email": "octo@example.com", "primary": true, "verified": true},
    ]));
    let r = login(json!({"id": 77, "login": "octo", "name": "Octo Cat", "email": null, "avatar_url": "https://a/77.png"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["meta"]["id"], "77");
    assert_eq!(r.body["meta"]["username"], "octo");
    assert_eq!(r.body["meta"]["email"], "octo@example.com");
    assert_eq!(r.body["record"]["email"], "octo@example.com");
    assert_eq!(r.body["record"]["name"], "Octo Cat");
    // No usable address: the sign-up fails like a create without the (required) e-mail.
    fake.set_emails(Value::Null);
    let r = login(json!({"id": 78, "login": "nomail", "name": "No Mail"})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["message"], "Failed to create record.");
    assert_eq!(code(&r, "email"), "validation_required");
    assert_eq!(su.all_records("_externalAuths").await.len(), 1);
    fake.stop().await;
});

// Every built-in provider: the listing and, configured with client id `cid`, each provider's
// authorization URL (endpoint, scopes, extra parameters, PKCE) are PocketBase's
// (`oauth2_providers_ref.json`, read from PocketBase 0.40.6).
sb_testkit::sbtest_http!(provider_list_and_urls_match_pocketbase, |url, app| async move {
    let reference: Value =
        serde_json::from_str(include_str!("oauth2_providers_ref.json")).expect("reference JSON");
    let reference = reference["providers"].as_array().expect("providers").clone();
    let su = Client::admin(&url, &app).await;
    let listed = su.get("/api/collections/meta/oauth2-providers").await;
    assert_eq!(listed.status, 200);
    let names = |list: &[Value]| -> Vec<(String, String)> {
        list.iter()
            .map(|p| {
                (p["name"].as_str().unwrap().into(), p["displayName"].as_str().unwrap().into())
            })
            .collect()
    };
    assert_eq!(names(listed.body.as_array().unwrap()), names(&reference));

    let configs: Vec<Value> = reference
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            let mut config = json!({"name": name, "clientId": "cid", "clientSecret": "sec"});
            if name.starts_with("oidc") {
                config["authURL"] = json!("https://id.example.com/auth");
                config["tokenURL"] = json!("https://id.example.com/token");
                config["userInfoURL"] = json!("https://id.example.com/userinfo");
            }
            config
        })
        .collect();
    let r = su
        .patch("/api/collections/users", json!({"oauth2": {"enabled": true, "providers": configs}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let methods = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    let entries = methods.body["oauth2"]["providers"].as_array().unwrap().clone();
    assert_eq!(entries.len(), reference.len());
    for (entry, expected) in entries.iter().zip(&reference) {
        let auth_url = entry["authURL"]
            .as_str()
            .unwrap()
            .replace(&format!("state={}", entry["state"].as_str().unwrap()), "state=STATE");
        let challenge = entry["codeChallenge"].as_str().unwrap();
        let auth_url = if challenge.is_empty() {
            auth_url
        } else {
            auth_url.replace(&format!("code_challenge={challenge}"), "code_challenge=CHALLENGE")
        };
        assert_eq!(
            (entry["name"].as_str(), entry["displayName"].as_str()),
            (expected["name"].as_str(), expected["displayName"].as_str())
        );
        assert_eq!(auth_url, expected["authURL"].as_str().unwrap(), "{}", expected["name"]);
        assert_eq!(entry["codeChallengeMethod"], expected["codeChallengeMethod"]);
    }
});

/// Apple-style claims of an `id_token` (Apple sends `email_verified` as a string).
fn apple_claims(sub: &str, email: &str) -> Value {
    json!({"sub": sub, "email": email, "email_verified": "true", "is_private_email": "true"})
}

async fn enable_apple(su: &Client, fake: &FakeProvider) {
    let body = json!({"oauth2": {"enabled": true, "providers": [fake.apple_provider_config()]}});
    let r = su.patch("/api/collections/users", body).await;
    assert_eq!(r.status, 200, "enable apple: {:?}", r.body);
}

sb_testkit::sbtest_http!(apple_id_token_signs_up_then_logs_in, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_apple(&su, &fake).await;
    let guest = Client::guest(&url);
    let claims = apple_claims("001234.abcd", "ann@privaterelay.appleid.com");
    let r = oauth2_login(&guest, &fake, "users", claims.clone(), json!({}), "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let meta = &r.body["meta"];
    assert_eq!((meta["id"].as_str(), meta["isNew"].as_bool()), (Some("001234.abcd"), Some(true)));
    assert_eq!(meta["email"], "ann@privaterelay.appleid.com");
    // rawUser is the verified claims (the fake's defaults plus the user's).
    assert_eq!(meta["rawUser"]["sub"], "001234.abcd");
    assert_eq!(meta["rawUser"]["aud"], sb_testkit::oauth2::CLIENT_ID);
    assert_eq!(meta["rawUser"]["iss"], sb_testkit::oauth2::ISSUER);
    let record = &r.body["record"];
    assert_eq!(
        (record["email"].as_str(), record["verified"].as_bool()),
        (Some("ann@privaterelay.appleid.com"), Some(true))
    );
    let id = record["id"].as_str().unwrap().to_owned();
    let links = external_auths(&su).await;
    assert_eq!((links.len(), links[0]["provider"].as_str()), (1, Some("apple")));

    // Logging in again finds the linked record.
    let r = oauth2_login(&guest, &fake, "users", claims, json!({}), "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["record"]["id"].as_str(), r.body["meta"]["isNew"].as_bool()),
        (Some(id.as_str()), Some(false))
    );

    // An unverified Apple e-mail is not used: the sign-up takes the submitted one, unverified.
    let mut unverified = apple_claims("009.other", "other@example.com");
    unverified["email_verified"] = json!("false");
    let typed = json!({"createData": {"email": "typed@example.com"}});
    let r = oauth2_login(&guest, &fake, "users", unverified, typed, "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["meta"]["email"], "");
    let record = &r.body["record"];
    assert_eq!(
        (record["email"].as_str(), record["verified"].as_bool()),
        (Some("typed@example.com"), Some(false))
    );
    fake.stop().await;
});

sb_testkit::sbtest_http!(apple_refuses_bad_id_tokens, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_apple(&su, &fake).await;
    let guest = Client::guest(&url);
    let claims = apple_claims("001.bad", "bad@example.com");
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            c[k] = v.clone();
        }
        c
    };
    let past = 1_600_000_000_u64;
    let cases = [
        ("wrong audience", with(json!({"aud": "someone-else"}))),
        ("wrong issuer", with(json!({"iss": "https://accounts.example.com"}))),
        ("expired", with(json!({"exp": past, "iat": past - 600}))),
        ("no subject", with(json!({"sub": ""}))),
    ];
    for (case, user) in cases {
        let r = oauth2_login(&guest, &fake, "users", user, json!({}), "").await;
        assert_eq!(r.status, 400, "{case}: {:?}", r.body);
        assert_error(&r, 400, "Failed to fetch OAuth2 user.");
    }
    // Signed with a key the key set does not hold.
    fake.sign_with_foreign_key(true);
    let r = oauth2_login(&guest, &fake, "users", claims.clone(), json!({}), "").await;
    assert_error(&r, 400, "Failed to fetch OAuth2 user.");
    fake.sign_with_foreign_key(false);
    assert!(su.all_records("users").await.is_empty());
    assert!(external_auths(&su).await.is_empty());

    // A key set that cannot be read refuses the login too.
    let mut config = fake.apple_provider_config();
    config["userInfoURL"] = json!(format!("{}/missing-jwks", fake.url));
    let r = su.patch("/api/collections/users", json!({"oauth2": {"providers": [config]}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = oauth2_login(&guest, &fake, "users", claims, json!({}), "").await;
    assert_error(&r, 400, "Failed to fetch OAuth2 user.");
    fake.stop().await;
});

// What differs per provider on the wire: GraphQL POSTs, extra headers, HTTP basic client
// authentication at the token endpoint, the e-mail in the token answer.
sb_testkit::sbtest_http!(provider_specific_requests, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    let guest = Client::guest(&url);
    let cases = [
        (
            "linear",
            json!({"data": {"viewer": {"id": "lin-1", "displayName": "ann", "name": "Ann", "email": "ann@linear.test", "active": true}}}),
            json!({}),
            "ann@linear.test",
        ),
        (
            "twitch",
            json!({"data": [{"id": "tw-1", "login": "tw", "display_name": "Tw", "email": "tw@twitch.test"}]}),
            json!({}),
            "tw@twitch.test",
        ),
        ("trakt", json!({"user": {"username": "tr", "ids": {"uuid": "tr-1"}}}), json!({}), ""),
        (
            "notion",
            json!({"bot": {"owner": {"user": {"id": "no-1", "name": "No", "person": {"email": "no@notion.test"}}}}}),
            json!({}),
            "no@notion.test",
        ),
        ("twitter", json!({"data": {"id": "x-1", "username": "xx"}}), json!({}), ""),
        (
            "vk",
            json!({"response": [{"id": 77, "first_name": "Ann", "last_name": "Lee"}]}),
            json!({"email": "ann@vk.test"}),
            "ann@vk.test",
        ),
    ];
    for (i, (provider, user, token_extra, email)) in cases.into_iter().enumerate() {
        let body =
            json!({"oauth2": {"enabled": true, "providers": [fake.provider_config(provider)]}});
        let r = su.patch("/api/collections/users", body).await;
        assert_eq!(r.status, 200, "{provider}: {:?}", r.body);
        fake.set_token_extra(token_extra);
        let extra = if email.is_empty() {
            json!({"createData": {"email": format!("{provider}@typed.test")}})
        } else {
            json!({})
        };
        let r = oauth2_login(&guest, &fake, "users", user, extra, "").await;
        assert_eq!(r.status, 200, "{provider}: {:?}", r.body);
        assert_eq!(r.body["meta"]["email"], email, "{provider}");
        assert_eq!(r.body["meta"]["isNew"], true, "{provider}");
        let seen = fake.user_info_requests();
        let request = &seen[i];
        let header = |name: &str| request.headers.get(name).map(String::as_str).unwrap_or("");
        let basic = fake.token_basic_auth()[i];
        match provider {
            "linear" => {
                assert_eq!(request.method, "POST");
                assert_eq!(header("content-type"), "application/json");
                let query: Value = serde_json::from_str(&request.body).expect("GraphQL body");
                assert!(query["query"].as_str().unwrap().contains("viewer"), "{query}");
                assert!(header("authorization").starts_with("Bearer "));
            }
            "twitch" => assert_eq!(header("client-id"), sb_testkit::oauth2::CLIENT_ID),
            "trakt" => {
                assert_eq!(header("trakt-api-key"), sb_testkit::oauth2::CLIENT_ID);
                assert_eq!(header("trakt-api-version"), "2");
            }
            "notion" => assert_eq!(header("notion-version"), "2022-06-28"),
            "vk" => assert_eq!(r.body["meta"]["name"], "Ann Lee"),
            _ => {}
        }
        if provider != "linear" {
            assert_eq!(request.method, "GET", "{provider}");
        }
        assert_eq!(basic, matches!(provider, "notion" | "twitter"), "{provider}");
    }
    assert_eq!(su.all_records("users").await.len(), 6);
    fake.stop().await;
});

sb_testkit::sbtest_http!(oauth2_sign_up_downloads_the_avatar, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    let guest = Client::guest(&url);
    let mut user = oidc_user("sub-av", "av@example.com", "Ava", "ava");
    user["picture"] = json!(format!("{}/avatar.png", fake.url));
    let r = oauth2_login(&guest, &fake, "users", user, json!({}), "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let record = &r.body["record"];
    let avatar = record["avatar"].as_str().unwrap();
    assert!(avatar.starts_with("avatar_") && avatar.ends_with(".png"), "{avatar}");
    let path = format!("/api/files/users/{}/{avatar}", record["id"].as_str().unwrap());
    let f = guest.raw(reqwest::Method::GET, &path, None, Vec::<u8>::new(), &[]).await;
    assert_eq!(f.status, 200);
    assert_eq!(f.bytes, sb_testkit::oauth2::avatar_png());
    assert_eq!(f.headers["content-type"], "image/png");
    fake.stop().await;
});
