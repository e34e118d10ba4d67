//! `POST /api/files/token` (spec §8.3): who may ask, the token's claims, signature and lifetime.

use base64::Engine;
use serde_json::{Value, json};

use crate::common::{Client, assert_error, record_token};

const PATH: &str = "/api/files/token";

fn claims(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: Value = serde_json::from_slice(&engine.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

sb_testkit::sbtest_http!(file_token_issue_and_claims, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let g = su.with_token(None);
    let needs = "The request requires valid record authorization token.";
    assert_error(&g.post(PATH, json!({})).await, 401, needs);
    assert_error(&g.with_token(Some("garbage")).post(PATH, json!({})).await, 401, needs);

    let user = su.create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let id = user["id"].as_str().unwrap();
    let users = su.get("/api/collections/users").await.body;
    let u = g.with_token(Some(&record_token(&app, "users", id).await));
    let r = u.post(PATH, json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body.as_object().unwrap().len(), 1);
    let token = r.body["token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["type"], "file");
    assert_eq!(c["id"], id);
    assert_eq!(c["collectionId"], users["id"]);
    assert_eq!(c.as_object().unwrap().len(), 4, "{c}");
    assert!((c["exp"].as_i64().unwrap() - now() - 180).abs() <= 5, "{c}");
    // Signed with the record's tokenKey + the collection's fileToken secret (HS256).
    let auth = app.authenticate_token(u.token.as_deref().unwrap()).await.expect("user token");
    let token_key = auth.record["tokenKey"].as_str().unwrap().to_owned();
    let secret =
        app.catalog().get("users").unwrap().auth.as_ref().unwrap().file_token.secret.clone();
    let kind = sb_auth::token::TokenType::File;
    let at = now();
    assert!(sb_auth::token::verify(token, &format!("{token_key}{secret}"), kind, at).is_ok());
    assert!(sb_auth::token::verify(token, &format!("{token_key}x{secret}"), kind, at).is_err());
    // A file token is not an auth token.
    assert_error(&g.with_token(Some(token)).post(PATH, json!({})).await, 401, needs);
    assert_eq!(
        g.with_token(Some(token)).get("/api/collections/users/records").await.body["items"],
        json!([])
    );

    // The collection's fileToken.duration.
    let r = su.patch("/api/collections/users", json!({"fileToken": {"duration": 60}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = claims(u.post(PATH, json!({})).await.body["token"].as_str().unwrap());
    assert!((c["exp"].as_i64().unwrap() - now() - 60).abs() <= 5, "{c}");

    // Superusers get one too, for their own record.
    let r = su.post(PATH, json!({})).await;
    assert_eq!(r.status, 200);
    let c = claims(r.body["token"].as_str().unwrap());
    assert_eq!(c["collectionId"], "pbc_3142635823");
    assert_eq!(c["type"], "file");
});
