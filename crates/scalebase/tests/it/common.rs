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
        Client::login(base, "_superusers", ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A client logged in with a password to an auth collection (asserting that it worked).
    pub async fn login(base: &str, collection: &str, identity: &str, password: &str) -> Client {
        let mut c = Client::guest(base);
        let r = c
            .post(
                &format!("/api/collections/{collection}/auth-with-password"),
                json!({"identity": identity, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "{identity} logs in to {collection}: {:?}", r.body);
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

// ---------------------------------------------------------------------------------------------
// Records-area helpers (records, fields, list, expand, errors, http, superusers modules).
// ---------------------------------------------------------------------------------------------

/// A raw response: status, headers and the body bytes as sent.
#[derive(Debug)]
pub struct RawResp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl RawResp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

impl Client {
    /// A superuser client whose token comes from impersonation (one password hash to create
    /// the superuser, none to log in), for tests that do not exercise the login itself.
    pub async fn admin(base: &str, app: &sb_core::App) -> Client {
        let email = "root@example.com";
        app.upsert_superuser(email, ADMIN_PASSWORD).await.expect("create superuser");
        let id = app
            .list_records(
                &app.system_request(),
                "_superusers",
                &sb_core::ListParams {
                    filter: Some(format!("email = '{email}'")),
                    ..Default::default()
                },
            )
            .await
            .expect("find superuser")
            .items[0]["id"]
            .as_str()
            .expect("superuser id")
            .to_owned();
        let mut c = Client::guest(base);
        c.token = Some(record_token(app, "_superusers", &id).await);
        c
    }

    /// The same server with another token (`None`: guest).
    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client { token: token.map(String::from), ..self.clone() }
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// Sends `body` as is with an optional Content-Type and extra headers.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> RawResp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path)).body(body);
        if let Some(t) = &self.token {
            req = req.header("Authorization", t);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body").to_vec();
        RawResp { status, headers, bytes }
    }

    /// POSTs `fields` as `multipart/form-data` text parts (in order; repeated names allowed).
    pub async fn multipart(
        &self,
        method: reqwest::Method,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Resp {
        let boundary = "sbtestboundary7MA4YWxkTrZu0gW";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let ct = format!("multipart/form-data; boundary={boundary}");
        let r = self.raw(method, path, Some(&ct), body, &[]).await;
        Resp { status: r.status, body: r.json(), headers: r.headers }
    }

    /// Sends `fields` as `application/x-www-form-urlencoded`.
    pub async fn urlencoded(
        &self,
        method: reqwest::Method,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Resp {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self.raw(method, path, Some("application/x-www-form-urlencoded"), body, &[]).await;
        Resp { status: r.status, body: r.json(), headers: r.headers }
    }

    /// Creates a record and asserts success; returns its JSON.
    pub async fn create_record(&self, collection: &str, body: Value) -> Value {
        let r = self.post(&format!("/api/collections/{collection}/records"), body).await;
        assert_eq!(r.status, 200, "create record in {collection}: {:?}", r.body);
        r.body
    }

    /// Every record of a collection as the superuser sees it (sorted by insertion).
    pub async fn all_records(&self, collection: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/collections/{collection}/records?perPage=1000")).await;
        assert_eq!(r.status, 200, "list {collection}: {:?}", r.body);
        r.body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Asserts that the server still answers its health check.
    pub async fn assert_healthy(&self) {
        let r = Client::guest(&self.base).get("/api/health").await;
        assert_eq!(r.status, 200, "health after a hostile request: {:?}", r.body);
        assert_eq!(r.body["message"], "API is healthy.");
    }
}

/// Percent-encodes a form value (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An auth token of record `id` of auth collection `collection` (through superuser
/// impersonation, so no password is hashed).
pub async fn record_token(app: &sb_core::App, collection: &str, id: &str) -> String {
    app.impersonate(&app.system_request(), collection, id, 3600, None)
        .await
        .expect("impersonate")
        .token
}

/// Asserts a PocketBase error body: status, message and `data: {}`.
#[track_caller]
pub fn assert_error(r: &Resp, status: u16, message: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.body, json!({"data": {}, "message": message, "status": status}));
}

/// The validation error code of `field` in an error body (`""` when absent).
pub fn code<'a>(r: &'a Resp, field: &str) -> &'a str {
    r.body["data"][field]["code"].as_str().unwrap_or("")
}

pub const GENERIC_400: &str = "Something went wrong while processing your request.";
pub const NOT_FOUND: &str = "The requested resource wasn't found.";
