//! Shared helpers of the integration tests: an HTTP client logged in as a superuser.

#![allow(dead_code, reason = "each test module uses a different subset")]

use serde_json::{Value, json};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// A small JSON client for one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

/// A response: status and parsed JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Client {
    pub fn guest(base: &str) -> Client {
        Client { base: base.to_owned(), http: reqwest::Client::new(), token: None }
    }

    /// Creates the superuser through the app and logs in over HTTP.
    pub async fn superuser(base: &str, app: &sb_core::App) -> Client {
        app.upsert_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("create superuser");
        let mut c = Client::guest(base);
        let r = c
            .post(
                "/api/collections/_superusers/auth-with-password",
                json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "superuser login: {:?}", r.body);
        c.token = r.body["token"].as_str().map(String::from);
        c
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, body, headers }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates a collection and asserts success.
    pub async fn create_collection(&self, def: Value) -> Value {
        let r = self.post("/api/collections", def).await;
        assert_eq!(r.status, 200, "create collection: {:?}", r.body);
        r.body
    }
}
