//! Creates the benchmark's collections on a server and fills them, through the public API only,
//! so the same code prepares PocketBase and Scalebase.
//!
//! The data is shaped like a small app's: `orgs`; `authors`, the users (an auth collection, each
//! in an org); `posts` (text, number, bool, select, a relation to `authors`, autodates, an index
//! on `(published, views)` that the list scenarios' filters and sorts use) with public list,
//! view and create rules, so most load runs as a guest, like most app traffic; `notes`, private
//! records that only their owner lists, views, creates and changes (owner rules); and `media`,
//! records with a PNG image whose field has a thumb size. Batch requests are enabled in the
//! settings (PocketBase ships with them off), for up to [`BATCH_SIZE`] sub-requests. Records are
//! inserted by many concurrent requests as the superuser, with ids fixed by their index (see
//! [`crate::data`]).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{self, AUTHORS, MEDIA, NOTES, ORGS, POSTS};

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

/// Organisations seeded.
pub const ORG_COUNT: u64 = 10;
/// Media records seeded, each with one image.
pub const MEDIA_COUNT: u64 = 20;
/// Sub-requests of the batch scenario (the batch settings allow this many).
pub const BATCH_SIZE: usize = 100;

/// What setup did.
#[derive(Debug, Clone, PartialEq)]
pub struct SetupReport {
    /// Posts, and as many notes.
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
    let token = sign_in(&client, &base, "_superusers", &config.email, &config.password).await?;
    let api = Api { client, base, token };

    prepare_collections(&api, config.replace).await?;
    enable_batch(&api).await?;
    let started = Instant::now();
    let (seed, authors, concurrency) = (config.seed, config.authors, config.concurrency);
    insert_all(&api, ORGS, concurrency, (0..ORG_COUNT).map(|i| data::org(seed, i))).await?;
    insert_all(&api, AUTHORS, concurrency, (0..authors).map(|i| data::author(seed, i, ORG_COUNT)))
        .await?;
    let posts = (0..config.records).map(|i| data::seeded_post(seed, i, authors));
    insert_all(&api, POSTS, concurrency, posts).await?;
    let notes = (0..config.records).map(|i| data::seeded_note(seed, i, authors));
    insert_all(&api, NOTES, concurrency, notes).await?;
    insert_media(&api, concurrency).await?;
    Ok(SetupReport {
        records: config.records,
        authors: config.authors,
        insert_time: started.elapsed(),
    })
}

/// The `orgs` collection: publicly readable names and plans.
pub fn orgs_collection() -> Value {
    json!({
        "name": ORGS,
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "fields": [
            {"name": "name", "type": "text", "required": true, "max": 100},
            {"name": "plan", "type": "select", "maxSelect": 1, "values": data::PLANS},
        ],
    })
}

/// The `authors` auth collection (sign-in by e-mail and password), given the id of `orgs`:
/// publicly readable names (e-mails stay hidden) and an org.
pub fn authors_collection(orgs_id: &str) -> Value {
    json!({
        "name": AUTHORS,
        "type": "auth",
        "listRule": "",
        "viewRule": "",
        "passwordAuth": {"enabled": true, "identityFields": ["email"]},
        "fields": [
            {"name": "name", "type": "text", "required": true, "max": 100},
            {"name": "org", "type": "relation", "maxSelect": 1, "collectionId": orgs_id},
        ],
    })
}

/// The owner rule of `notes`: a note is listed, viewed, changed and deleted by its owner only.
pub const OWNER_RULE: &str = "owner = @request.auth.id";

/// The `notes` collection, given the id of `authors`: private records with owner rules and an
/// index on `(owner, created)` for the owner's newest-first list.
pub fn notes_collection(authors_id: &str) -> Value {
    json!({
        "name": NOTES,
        "type": "base",
        "listRule": OWNER_RULE,
        "viewRule": OWNER_RULE,
        "createRule": format!("@request.auth.id != '' && {OWNER_RULE}"),
        "updateRule": format!("{OWNER_RULE} && (@request.body.owner:isset = false || @request.body.owner = @request.auth.id)"),
        "deleteRule": OWNER_RULE,
        "fields": [
            {"name": "title", "type": "text", "required": true, "max": 200},
            {"name": "body", "type": "text", "max": 2000},
            {"name": "done", "type": "bool"},
            {"name": "owner", "type": "relation", "required": true, "maxSelect": 1, "collectionId": authors_id},
            {"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ],
        "indexes": [
            format!("CREATE INDEX `idx_{NOTES}_owner_created` ON `{NOTES}` (`owner`, `created`)"),
        ],
    })
}

/// The `media` collection: a public image per record, with a [`data::THUMB`] thumb size.
pub fn media_collection() -> Value {
    json!({
        "name": MEDIA,
        "type": "base",
        "listRule": "",
        "viewRule": "",
        "fields": [
            {"name": "title", "type": "text", "max": 200},
            {"name": "image", "type": "file", "maxSelect": 1, "maxSize": 5_242_880,
             "mimeTypes": ["image/png", "image/jpeg"], "thumbs": [data::THUMB]},
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

/// Signs `identity` in to the auth collection `collection` with a password; the token.
pub(crate) async fn sign_in(
    client: &Client,
    base: &str,
    collection: &str,
    identity: &str,
    password: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/collections/{collection}/auth-with-password"))
        .json(&json!({"identity": identity, "password": password}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    match body.get("token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => bail!("sign-in of {identity} to {collection} failed ({status}): {body}"),
    }
}

async fn prepare_collections(api: &Api, replace: bool) -> anyhow::Result<()> {
    // Referencing collections first: a collection that a relation points to cannot be deleted.
    for name in [MEDIA, NOTES, POSTS, AUTHORS, ORGS] {
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
    let create = |collection: Value| async move {
        let created = api.call(Method::POST, "/api/collections", Some(&collection)).await?;
        let id = created.get("id").and_then(Value::as_str);
        id.map(str::to_owned).context("created collection without an id")
    };
    let orgs_id = create(orgs_collection()).await?;
    let authors_id = create(authors_collection(&orgs_id)).await?;
    create(posts_collection(&authors_id)).await?;
    create(notes_collection(&authors_id)).await?;
    create(media_collection()).await?;
    Ok(())
}

/// Turns batch requests on (PocketBase ships with them off) for [`BATCH_SIZE`] sub-requests.
async fn enable_batch(api: &Api) -> anyhow::Result<()> {
    let settings = json!({
        "batch": {"enabled": true, "maxRequests": BATCH_SIZE, "timeout": 30, "maxBodySize": 0},
    });
    api.call(Method::PATCH, "/api/settings", Some(&settings)).await.map(drop)
}

/// Uploads [`MEDIA_COUNT`] records with an image each (multipart, as a browser would).
async fn insert_media(api: &Api, concurrency: usize) -> anyhow::Result<()> {
    let path = format!("/api/collections/{MEDIA}/records");
    futures::stream::iter(0..MEDIA_COUNT)
        .map(|i| {
            let path = &path;
            async move {
                let image = reqwest::multipart::Part::bytes(data::sample_png(i)?)
                    .file_name(format!("photo{i}.png"))
                    .mime_str("image/png")?;
                let form = reqwest::multipart::Form::new()
                    .text("id", data::media_id(i))
                    .text("title", format!("Photo {i}"))
                    .part("image", image);
                let response = api.request(Method::POST, path).multipart(form).send().await?;
                let status = response.status();
                if !status.is_success() {
                    bail!("POST {path} answered {status}: {}", response.text().await?);
                }
                Ok(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<()>()
        .await
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
