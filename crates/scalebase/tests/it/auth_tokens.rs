//! Auth tokens and passwords (spec §6.2, §6.4, §3.8; reliability.md rows 6 and 10): HS256
//! pinned, a few seconds of clock leeway and no more, keys bound to the record's tokenKey and
//! its own collection's auth secret, revocation by password change, bcrypt hashes from
//! PocketBase verified and rehashed to argon2id at the next login, and one hash verification
//! per failed login whether or not the identity exists.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{Client, record_token};
use crate::rules_matrix::{expired_token, now, stored};

const UID: &str = "tokenuser000001";
const PASSWORD: &str = "pass12345";

/// `people` (auth, each record sees only itself) and `others` (auth), one user in `people`.
async fn schema(su: &Client) {
    for name in ["people", "others"] {
        su.create_collection(
            json!({"name": name, "type": "auth", "listRule": "id = @request.auth.id",
            "viewRule": "id = @request.auth.id", "updateRule": "id = @request.auth.id",
            "fields": [{"name": "name", "type": "text"}]}),
        )
        .await;
    }
    su.create_record(
        "people",
        json!({"id": UID, "email": "t@example.com", "password": PASSWORD, "passwordConfirm": PASSWORD}),
    )
    .await;
}

/// The requester the server sees for `token`: the record id, or `None` for a guest.
async fn principal(url: &str, token: &str) -> Option<String> {
    let r = Client::guest(url).with_token(Some(token)).get("/api/collections/people/records").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"][0]["id"].as_str().map(String::from)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with header `header`, the claims of `valid` and an HMAC-SHA256 signature with `key`.
fn with_header(valid: &str, header: Value, key: &str) -> String {
    let payload = valid.split('.').nth(1).unwrap_or_default();
    let message = format!("{}.{payload}", b64(header.to_string().as_bytes()));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap_or_default();
    format!("{message}.{signature}")
}

/// Claims of a live auth token of `UID`, signed with `key`.
fn signed(collection_id: &str, key: &str, exp: i64) -> String {
    let claims = sb_auth::Claims {
        collection_id: collection_id.into(),
        email: None,
        exp,
        id: UID.into(),
        new_email: None,
        refreshable: Some(true),
        kind: sb_auth::TokenType::Auth,
    };
    sb_auth::sign(&claims, key)
}

sb_testkit::sbtest_http!(tokens_are_pinned_to_hs256_and_their_keys, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let catalog = app.catalog();
    let people = catalog.get("people").cloned().unwrap();
    let others = catalog.get("others").cloned().unwrap();
    let secrets = |c: &sb_core::Catalog, name: &str| {
        let a = c.get(name).and_then(|c| c.auth.clone()).unwrap();
        (a.auth_token.secret, a.file_token.secret)
    };
    let (people_secret, people_file_secret) = secrets(&catalog, "people");
    let (others_secret, _) = secrets(&catalog, "others");
    let token_key = stored(&app, "people", UID, "tokenKey").await;
    let key = format!("{token_key}{people_secret}");
    let me = Some(UID.to_owned());

    let valid = signed(&people.id, &key, now() + 600);
    assert_eq!(principal(&url, &valid).await, me);
    // "Bearer " prefixes are accepted too.
    assert_eq!(principal(&url, &format!("Bearer {valid}")).await, me);

    // Expiry: a second or two of clock skew is tolerated, more is not.
    assert_eq!(principal(&url, &expired_token(&app, "people", UID, 1).await).await, me);
    for ago in [6, 60, 86_400] {
        assert_eq!(principal(&url, &expired_token(&app, "people", UID, ago).await).await, None);
    }

    // Only HS256: `none` (any case, with or without a signature part), RS256 and HS512 headers
    // are refused even when the signature is a valid HMAC with the right key.
    let payload = valid.split('.').nth(1).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
            assert_eq!(principal(&url, &token).await, None, "{token}");
        }
    }
    for alg in ["RS256", "HS512", "ES256", "hs256"] {
        let token = with_header(&valid, json!({"alg": alg, "typ": "JWT"}), &key);
        assert_eq!(principal(&url, &token).await, None, "{alg}");
    }
    // The same header rebuilt by hand is accepted, so the refusals above are about `alg`.
    assert_eq!(
        principal(&url, &with_header(&valid, json!({"alg": "HS256", "typ": "JWT"}), &key)).await,
        me
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &sb_auth::peek(&valid).unwrap(),
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap();
    assert_eq!(principal(&url, &hs512).await, None);

    // Wrong keys: another collection's secret, the file-token secret, no tokenKey, a claimed
    // collection that is not the record's.
    // Tokens of the other types are not auth tokens, even signed with their own right key.
    let file_claims = sb_auth::Claims {
        collection_id: people.id.clone(),
        email: None,
        exp: now() + 600,
        id: UID.into(),
        new_email: None,
        refreshable: None,
        kind: sb_auth::TokenType::File,
    };
    let file_token = sb_auth::sign(&file_claims, &format!("{token_key}{people_file_secret}"));
    assert_eq!(principal(&url, &file_token).await, None);
    for bad in [
        signed(&people.id, &format!("{token_key}{others_secret}"), now() + 600),
        signed(&people.id, &format!("{token_key}{people_file_secret}"), now() + 600),
        signed(&people.id, &people_secret, now() + 600),
        signed(&others.id, &format!("{token_key}{others_secret}"), now() + 600),
        signed(&others.id, &key, now() + 600),
    ] {
        assert_eq!(principal(&url, &bad).await, None);
    }
    let r =
        su.with_token(Some(&valid)).post("/api/collections/others/auth-refresh", json!({})).await;
    assert_eq!(r.status, 403, "{:?}", r.body);

    // A password change through an update rotates tokenKey: every earlier token dies at once.
    let login = record_token(&app, "people", UID).await;
    assert_eq!(principal(&url, &login).await, me);
    let me_client = su.with_token(Some(&valid));
    let r = me_client
        .patch(
            &format!("/api/collections/people/records/{UID}"),
            json!({"oldPassword": PASSWORD, "password": "changed123", "passwordConfirm": "changed123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_ne!(stored(&app, "people", UID, "tokenKey").await, token_key);
    for old in [&valid, &login] {
        assert_eq!(principal(&url, old).await, None);
        let r =
            su.with_token(Some(old)).post("/api/collections/people/auth-refresh", json!({})).await;
        assert_eq!(r.status, 401, "{:?}", r.body);
    }
    let guest = Client::guest(&url);
    let login = |password: &'static str| {
        let guest = guest.clone();
        async move {
            guest
                .post(
                    "/api/collections/people/auth-with-password",
                    json!({"identity": "t@example.com", "password": password}),
                )
                .await
        }
    };
    assert_eq!(login(PASSWORD).await.status, 400);
    let r = login("changed123").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(principal(&url, r.body["token"].as_str().unwrap()).await, me);
});

sb_testkit::sbtest_http!(bcrypt_hashes_verify_and_are_rehashed_at_login, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    // A hash as PocketBase stores it (Go's bcrypt writes `$2a$`), cost 4 to keep the test fast.
    let bcrypt = bcrypt::hash("legacy-pass1", 4).unwrap().replacen("$2b$", "$2a$", 1);
    let update = sb_sql::Stmt::Update(sb_sql::Update {
        table: "people".into(),
        set: vec![("password".into(), sb_sql::Expr::param(bcrypt.as_str()))],
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param(UID),
            sb_sql::Ty::Text,
        )),
    });
    assert_eq!(app.store().write(&[update]).await.unwrap(), vec![1]);
    let guest = Client::guest(&url);
    let login = |password: &'static str| {
        let guest = guest.clone();
        async move {
            guest
                .post(
                    "/api/collections/people/auth-with-password",
                    json!({"identity": "t@example.com", "password": password}),
                )
                .await
        }
    };
    // A wrong password leaves the bcrypt hash alone.
    assert_eq!(login("legacy-pass2").await.status, 400);
    assert_eq!(stored(&app, "people", UID, "password").await, bcrypt);
    let r = login("legacy-pass1").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["id"], UID);
    let rehashed = stored(&app, "people", UID, "password").await;
    assert!(rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{rehashed}");
    // The new hash verifies the same password and is not rehashed again.
    assert_eq!(login("legacy-pass1").await.status, 200);
    assert_eq!(stored(&app, "people", UID, "password").await, rehashed);
    assert_eq!(login("legacy-pass2").await.status, 400);
    // The tokenKey did not change: a rehash is not a password change.
    let token = record_token(&app, "people", UID).await;
    assert_eq!(principal(&url, &token).await, Some(UID.to_owned()));
});

sb_testkit::sbtest_http!(failed_logins_cost_one_verification_either_way, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let guest = Client::guest(&url);
    let cases = [
        // (identity, password, status)
        ("nobody@example.com", PASSWORD, 400),
        ("t@example.com", "wrong-pass", 400),
        ("t@example.com", PASSWORD, 200),
        // Not e-mail-shaped and `username` is not an identity field: nothing to look up.
        ("nobody", PASSWORD, 400),
    ];
    for (identity, password, status) in cases {
        let before = app.password_verifications();
        let r = guest
            .post(
                "/api/collections/people/auth-with-password",
                json!({"identity": identity, "password": password}),
            )
            .await;
        assert_eq!(r.status, status, "{identity}: {:?}", r.body);
        if status == 400 {
            assert_eq!(
                r.body,
                json!({"data": {}, "message": "Failed to authenticate.", "status": 400})
            );
        }
        assert_eq!(app.password_verifications() - before, 1, "{identity} / {password}");
    }
});
