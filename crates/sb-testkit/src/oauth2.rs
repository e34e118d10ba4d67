//! A local OAuth2 / OpenID Connect provider for tests: an axum server on 127.0.0.1:0 with
//! `authorize`, `token` and `userinfo` endpoints.
//!
//! It checks what a real provider checks: the client id and secret (form fields or HTTP
//! basic), single-use authorization codes bound to their redirect URI, and the PKCE verifier
//! against the challenge given at `authorize` (S256 or plain). The user that `authorize`
//! "logs in" is set by the test with [`FakeProvider::set_user`].
//!
//! Token answers also carry an OpenID Connect `id_token` (RS256, signed with the committed test
//! key `testdata/oauth2-rsa.pem`, public half served at `/jwks`) whose claims are the user's
//! over defaults (`iss` [`ISSUER`], `aud` [`CLIENT_ID`], `iat`, `exp` in ten minutes), so a test
//! forges a wrong audience or an expired token by setting those claims on the user;
//! [`FakeProvider::sign_with_foreign_key`] signs with a key the JWKS does not hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret";
/// The default `iss` of the fake's `id_token`s (Apple's, so it stands in for Sign in with Apple).
pub const ISSUER: &str = "https://appleid.apple.com";
/// The `kid` of the test key.
pub const KEY_ID: &str = "test-key-1";

const SIGNING_KEY: &str = include_str!("../testdata/oauth2-rsa.pem");
const FOREIGN_KEY: &str = include_str!("../testdata/oauth2-rsa-other.pem");
const JWK: &str = include_str!("../testdata/oauth2-rsa.jwk.json");

/// What `authorize` recorded for a code.
struct Grant {
    redirect_uri: String,
    challenge: Option<(String, String)>,
    user: Json,
}

#[derive(Default)]
struct Inner {
    user: Json,
    /// The answer of `/userinfo/emails` (GitHub-style e-mail list); 404 when `Null`.
    emails: Json,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Json>,
    /// Token requests seen (for tests that check a request never reached the provider).
    token_requests: usize,
    /// Sign `id_token`s with a key the JWKS does not hold.
    foreign_key: bool,
    /// Extra members of the token answers.
    token_extra: Json,
    /// The user-info requests seen, oldest first.
    user_info_requests: Vec<SeenRequest>,
    /// For each token request, whether the client authenticated with HTTP basic.
    token_basic_auth: Vec<bool>,
}

/// A user-info request as the fake received it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake provider.
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    inner: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let inner: Shared = Arc::default();
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo).post(userinfo))
            .route("/userinfo/emails", get(emails))
            .route("/jwks", get(jwks))
            .route("/avatar.png", get(avatar))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake provider");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    rx.await.ok();
                })
                .await
                .ok();
        });
        FakeProvider { url, inner, shutdown: Some(tx), task: Some(task) }
    }

    pub fn auth_url(&self) -> String {
        format!("{}/authorize", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn user_info_url(&self) -> String {
        format!("{}/userinfo", self.url)
    }

    /// The JSON Web Key Set that verifies the `id_token`s.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.url)
    }

    /// An `apple` provider entry: Apple has no user-info endpoint, its configured user-info URL
    /// is the key set the `id_token` is checked with.
    pub fn apple_provider_config(&self) -> Json {
        let mut config = self.provider_config("apple");
        config["userInfoURL"] = json!(self.jwks_url());
        config
    }

    /// Members added to every token answer (VK sends the e-mail there).
    pub fn set_token_extra(&self, extra: Json) {
        self.inner.lock().expect("fake provider lock").token_extra = extra;
    }

    /// The user-info requests received so far.
    pub fn user_info_requests(&self) -> Vec<SeenRequest> {
        self.inner.lock().expect("fake provider lock").user_info_requests.clone()
    }

    /// For each token request so far, whether it authenticated with HTTP basic.
    pub fn token_basic_auth(&self) -> Vec<bool> {
        self.inner.lock().expect("fake provider lock").token_basic_auth.clone()
    }

    /// Signs the next `id_token`s with a key the JWKS does not hold (a forgery).
    pub fn sign_with_foreign_key(&self, foreign: bool) {
        self.inner.lock().expect("fake provider lock").foreign_key = foreign;
    }

    /// The collection's `oauth2.providers[]` entry for this provider under `name`.
    pub fn provider_config(&self, name: &str) -> Json {
        json!({
            "name": name,
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "authURL": self.auth_url(),
            "tokenURL": self.token_url(),
            "userInfoURL": self.user_info_url(),
        })
    }

    /// The user the next `authorize` call logs in (OIDC claims: `sub`, `email`, ...).
    pub fn set_user(&self, user: Json) {
        self.inner.lock().expect("fake provider lock").user = user;
    }

    /// The answer of `/userinfo/emails` for any valid token (`Null`: 404).
    pub fn set_emails(&self, emails: Json) {
        self.inner.lock().expect("fake provider lock").emails = emails;
    }

    pub fn token_requests(&self) -> usize {
        self.inner.lock().expect("fake provider lock").token_requests
    }

    /// Follows an `authURL` from `auth-methods` (its `redirect_uri=` completed by the caller)
    /// like a browser would, and returns the `code` and `state` of the redirect.
    pub async fn authorize(&self, auth_url: &str) -> (String, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let r = client.get(auth_url).send().await.expect("authorize request");
        assert_eq!(
            r.status(),
            StatusCode::FOUND,
            "authorize: {}",
            r.text().await.unwrap_or_default()
        );
        let location = r.headers()[header::LOCATION].to_str().expect("location").to_owned();
        let location = url::Url::parse(&location).expect("redirect URL");
        let param =
            |key: &str| location.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
        (param("code").expect("code"), param("state").unwrap_or_default())
    }

    /// Stops the server; later requests to it are refused.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

async fn authorize(
    State(inner): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("response_type") != "code" {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let redirect_uri = get("redirect_uri");
    let Ok(mut target) = url::Url::parse(&redirect_uri) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let challenge = q.get("code_challenge").map(|c| {
        (c.clone(), q.get("code_challenge_method").cloned().unwrap_or_else(|| "plain".into()))
    });
    let code = random_token();
    let mut inner = inner.lock().expect("fake provider lock");
    let user = inner.user.clone();
    inner.codes.insert(code.clone(), Grant { redirect_uri, challenge, user });
    target.query_pairs_mut().append_pair("code", &code).append_pair("state", &get("state"));
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// Client credentials from HTTP basic auth, else from the form.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|s| s.split_once(':')) {
        return (id.to_owned(), secret.to_owned());
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    (get("client_id"), get("client_secret"))
}

async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().expect("fake provider lock");
    inner.token_requests += 1;
    let (id, secret) = client_credentials(&headers, &form);
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Basic "));
    inner.token_basic_auth.push(basic);
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Codes are single-use: removed on the first attempt, right or wrong.
    let Some(grant) = inner.codes.remove(&get("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if grant.redirect_uri != get("redirect_uri") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if let Some((challenge, method)) = &grant.challenge {
        let verifier = get("code_verifier");
        let computed = match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier,
        };
        if &computed != challenge {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    let access_token = random_token();
    let id_token = id_token(&grant.user, inner.foreign_key);
    inner.tokens.insert(access_token.clone(), grant.user);
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": random_token(),
        "id_token": id_token,
    });
    for (k, v) in inner.token_extra.as_object().into_iter().flatten() {
        answer[k] = v.clone();
    }
    axum::Json(answer).into_response()
}

/// An RS256 `id_token` whose claims are `user`'s over the defaults.
fn id_token(user: &Json, foreign_key: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let mut claims = json!({"iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 600});
    for (k, v) in user.as_object().into_iter().flatten() {
        claims[k] = v.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KEY_ID.into());
    let pem = if foreign_key { FOREIGN_KEY } else { SIGNING_KEY };
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test RSA key");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign id_token")
}

async fn jwks() -> Response {
    let key: Json = serde_json::from_str(JWK).expect("test JWK");
    axum::Json(json!({"keys": [key]})).into_response()
}

fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

async fn userinfo(
    State(inner): State<Shared>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = inner.lock().expect("fake provider lock");
    let seen = SeenRequest {
        method: method.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
    };
    inner.user_info_requests.push(seen);
    match inner.tokens.get(bearer(&headers)) {
        Some(user) => axum::Json(user.clone()).into_response(),
        None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
}

async fn emails(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let inner = inner.lock().expect("fake provider lock");
    if !inner.tokens.contains_key(bearer(&headers)) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    if inner.emails.is_null() {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(inner.emails.clone()).into_response()
}

/// `GET /avatar.png`: a small PNG (an 8x6 image), for avatar downloads at sign-up.
async fn avatar() -> Response {
    ([(header::CONTENT_TYPE, "image/png")], avatar_png()).into_response()
}

/// The bytes `/avatar.png` serves: an 8x6 RGB PNG built by hand (stored, uncompressed
/// deflate blocks), so the testkit needs no image library.
pub fn avatar_png() -> Vec<u8> {
    let (w, h) = (8u32, 6u32);
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0u8);
        for x in 0..w {
            raw.extend([(x * 30) as u8, (y * 40) as u8, 200]);
        }
    }
    // zlib: header, one stored block, adler32.
    let mut z = vec![0x78, 0x01, 0x01];
    let len = raw.len() as u16;
    z.extend(len.to_le_bytes());
    z.extend((!len).to_le_bytes());
    z.extend(&raw);
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65521;
        b = (b + a) % 65521;
    }
    z.extend(((b << 16) | a).to_be_bytes());
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        png.extend(&body);
        png.extend(crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &z);
    chunk(b"IEND", &[]);
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
