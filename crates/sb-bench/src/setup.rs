//! Creates the benchmark's collections on a server and fills them, through the public API only,
//! so the same code prepares PocketBase and Scalebase.
//!
//! `posts` is shaped like a typical app table: text, number, bool, select, a relation to
//! `authors`, autodates, and an index on `(published, views)` that the list scenario's filter and
//! sort use. Its list, view and create rules are public (`""`), so the load runs as a guest, like
//! most app traffic. Records are inserted by many concurrent requests as the superuser, with ids
//! fixed by their index (see [`crate::data`]).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{self, AUTHORS, POSTS};

/// Parameters of `sb-bench setup`.
#[derive(Debug, Clone)]
pub struct SetupConfig {
    pub url: String,
    pub email: String,
    pub password: String,
    pub records: u64,
    pub authors: u64,
    /// Concurrent insert requests.
    pub concurrency: usize,
    pub seed: u64,
    /// Delete existing `posts` and `authors` collections first instead of failing.
    pub replace: bool,
    /// How long to wait for the server to answer `/api/health`.
    pub wait: Duration,
}

/// What setup did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupReport {
    pub records: u64,
    pub authors: u64,
    /// Time spent inserting records (not creating collections or waiting for the server).
    pub insert_time: Duration,
}

/// Prepares the server: waits for it, signs in, creates the collections and inserts the data.
pub async fn run(config: &SetupConfig) -> anyhow::Result<SetupReport> {
    let base = config.url.trim_end_matches('/').to_owned();
    let client = Client::builder().pool_max_idle_per_host(config.concurrency).build()?;
    wait_for_health(&client, &base, config.wait).await?;
    let token = sign_in(&client, &base, &config.email, &config.password).await?;
    let api = Api { client, base, token };

    prepare_collections(&api, config.replace).await?;
    let started = Instant::now();
    let seed = config.seed;
    insert_all(
        &api,
        AUTHORS,
        config.concurrency,
        (0..config.authors).map(|i| data::author(seed, i)),
    )
    .await?;
    let authors = config.authors;
    let posts = (0..config.records).map(|i| data::seeded_post(seed, i, authors));
    insert_all(&api, POSTS, config.concurrency, posts).await?;
    Ok(SetupReport {
        records: config.records,
        authors: config.authors,
        insert_time: started.elapsed(),
    })
}

/// The `authors` collection: publicly readable names.
pub fn authors_collection() -> Value {
    json!({
        "name": AUTHORS,
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "fields": [
            {"name": "name", "type": "text", "required": true, "max": 100},
        ],
    })
}

/// The `posts` collection, given the id of `authors`.
pub fn posts_collection(authors_id: &str) -> Value {
    json!({
        "name": POSTS,
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "createRule": "",
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 200},
            {"name": "body", "type": "text", "max": 2000},
            {"name": "views", "type": "number", "onlyInt": true, "min": 0},
            {"name": "published", "type": "bool"},
            {"name": "category", "type": "select", "maxSelect": 1, "values": data::CATEGORIES},
            {"name": "author", "type": "relation", "maxSelect": 1, "collectionId": authors_id},
            {"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ],
        "indexes": [
            format!("CREATE INDEX `idx_{POSTS}_published_views` ON `{POSTS}` (`published`, `views`)"),
        ],
    })
}

/// An authenticated superuser client.
struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.token)
    }

    /// Sends a request and returns its JSON answer, failing on a non-2xx status.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        if text.is_empty() { Ok(Value::Null) } else { Ok(serde_json::from_str(&text)?) }
    }
}

async fn wait_for_health(client: &Client, base: &str, wait: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    let url = format!("{base}/api/health");
    loop {
        let last = match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("status {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!("{url} did not answer within {wait:?} (last: {last})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(
    client: &Client,
    base: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/collections/_superusers/auth-with-password"))
        .json(&json!({"identity": email, "password": password}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    match body.get("token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => bail!("superuser sign-in as {email} failed ({status}): {body}"),
    }
}

async fn prepare_collections(api: &Api, replace: bool) -> anyhow::Result<()> {
    for name in [POSTS, AUTHORS] {
        let path = format!("/api/collections/{name}");
        let exists =
            api.request(Method::GET, &path).send().await?.status() != StatusCode::NOT_FOUND;
        if exists && !replace {
            bail!("collection {name} already exists (pass --replace to recreate it)");
        }
        if exists {
            api.call(Method::DELETE, &path, None).await?;
        }
    }
    let authors = api.call(Method::POST, "/api/collections", Some(&authors_collection())).await?;
    let authors_id =
        authors.get("id").and_then(Value::as_str).context("created collection without an id")?;
    api.call(Method::POST, "/api/collections", Some(&posts_collection(authors_id))).await?;
    Ok(())
}

async fn insert_all(
    api: &Api,
    collection: &str,
    concurrency: usize,
    records: impl Iterator<Item = Value>,
) -> anyhow::Result<()> {
    let path = format!("/api/collections/{collection}/records");
    futures::stream::iter(records)
        .map(|record| {
            let path = &path;
            async move { api.call(Method::POST, path, Some(&record)).await.map(drop) }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
}
