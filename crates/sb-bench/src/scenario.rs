//! What each scenario asks the server, as plain request descriptions.
//!
//! A scenario only decides method, path, headers and body; the load driver decides when and
//! over which connection. Scenarios that act as a signed-in author first sign some authors in
//! ([`Workload::prepare`]); connection `i` then acts as author `i mod` [`SIGNED_IN`], so each
//! keeps one identity, like a user's browser.

use std::sync::Arc;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderValue, Method};
use serde_json::{Value, json};

use crate::data::{self, AUTHORS, MEDIA, NOTES, POSTS, SplitMix64};
use crate::setup::BATCH_SIZE;

/// The measured operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `GET /api/collections/posts/records/ID` for a random seeded id (public rule).
    View,
    /// A filtered, sorted first page with the total count: published posts with more than 500
    /// views, most viewed first.
    List,
    /// A signed-in author's newest notes, without totals (`skipTotal`): the owner rule decides
    /// which rows are theirs.
    ListOwner,
    /// Published posts whose author's org is on the `pro` plan (a filter through two
    /// relations), most viewed first, without totals.
    ListRelation,
    /// `POST /api/collections/posts/records` with a small JSON record (public rule).
    Create,
    /// A signed-in author creates a note of their own (owner rule).
    CreateOwner,
    /// A signed-in author changes the title and state of one of their notes (owner rule).
    Update,
    /// `auth-with-password` of a random author (one password hash check each).
    AuthPassword,
    /// `auth-refresh` of a signed-in author's token.
    AuthRefresh,
    /// `POST /api/batch` creating [`BATCH_SIZE`] notes in one transaction, as their owner.
    Batch,
    /// A media record's image as a `100x100` thumb (made on first request, then stored).
    FileThumb,
    /// `GET /proxy-bench`: a fixed small answer, for proxies in front of a static upstream
    /// (`gateway_bench`).
    Proxy,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::View => "view",
            Scenario::List => "list",
            Scenario::ListOwner => "list-owner",
            Scenario::ListRelation => "list-relation",
            Scenario::Create => "create",
            Scenario::CreateOwner => "create-owner",
            Scenario::Update => "update",
            Scenario::AuthPassword => "auth-password",
            Scenario::AuthRefresh => "auth-refresh",
            Scenario::Batch => "batch",
            Scenario::FileThumb => "file-thumb",
            Scenario::Proxy => "proxy",
        }
    }

    /// Whether the requests are sent as a signed-in author.
    pub fn signed_in(self) -> bool {
        matches!(
            self,
            Scenario::ListOwner
                | Scenario::CreateOwner
                | Scenario::Update
                | Scenario::AuthRefresh
                | Scenario::Batch
        )
    }
}

/// The filter of the list scenario: it needs the `(published, views)` index and a sort.
pub const LIST_FILTER: &str = "(published=true && views>500)";
/// The sort of the list scenario.
pub const LIST_SORT: &str = "-views";
/// The page size of the list scenarios.
pub const LIST_PER_PAGE: u32 = 30;
/// How many authors the signed-in scenarios sign in (fewer when fewer were seeded).
pub const SIGNED_IN: u64 = 16;

/// One request to send, without the connection details (host, scheme).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub method: Method,
    /// Origin-form target: path and query.
    pub target: String,
    /// The `Authorization` header, if any.
    pub auth: Option<HeaderValue>,
    /// A JSON body, if any.
    pub body: Option<Bytes>,
}

impl RequestSpec {
    fn get(target: String) -> RequestSpec {
        RequestSpec { method: Method::GET, target, auth: None, body: None }
    }

    fn json(method: Method, target: String, body: &Value) -> RequestSpec {
        RequestSpec { method, target, auth: None, body: Some(Bytes::from(body.to_string())) }
    }

    fn signed(mut self, token: Option<&HeaderValue>) -> RequestSpec {
        self.auth = token.cloned();
        self
    }
}

/// A scenario bound to the data it runs against.
#[derive(Debug, Clone)]
pub struct Workload {
    pub scenario: Scenario,
    /// How many posts (and notes) were seeded.
    pub records: u64,
    /// How many authors were seeded.
    pub authors: u64,
    list_target: String,
    relation_target: String,
    owner_target: String,
    /// Tokens of the signed-in authors: entry `a` is author `a`'s (see [`Workload::prepare`]).
    tokens: Arc<Vec<HeaderValue>>,
    /// The thumb URLs of the media images (see [`Workload::prepare`]).
    files: Arc<Vec<String>>,
}

impl Workload {
    pub fn new(scenario: Scenario, records: u64, authors: u64) -> Workload {
        let list = |collection: &str, query: &str| {
            format!("/api/collections/{collection}/records?{query}&perPage={LIST_PER_PAGE}")
        };
        let relation_filter =
            format!("(author.org.plan='{}' && published=true)", data::FILTER_PLAN);
        Workload {
            scenario,
            records,
            authors,
            list_target: list(
                POSTS,
                &format!(
                    "filter={}&sort={}",
                    encode_component(LIST_FILTER),
                    encode_component(LIST_SORT)
                ),
            ),
            relation_target: list(
                POSTS,
                &format!(
                    "filter={}&sort={}&skipTotal=1",
                    encode_component(&relation_filter),
                    encode_component(LIST_SORT)
                ),
            ),
            owner_target: list(NOTES, "sort=-created&skipTotal=1"),
            tokens: Arc::default(),
            files: Arc::default(),
        }
    }

    /// Fetches what the scenario needs from the server before the load: the tokens of up to
    /// [`SIGNED_IN`] authors (signed in with their password), or the file names of the media
    /// records. Other scenarios need nothing.
    pub async fn prepare(mut self, url: &str) -> anyhow::Result<Workload> {
        let base = url.trim_end_matches('/');
        let client = reqwest::Client::new();
        if self.scenario.signed_in() {
            let count = SIGNED_IN.min(self.authors);
            let tokens: Vec<HeaderValue> = futures::stream::iter(0..count)
                .map(|author| sign_in(&client, base, author))
                .buffered(4)
                .try_collect()
                .await?;
            self.tokens = Arc::new(tokens);
        }
        if self.scenario == Scenario::FileThumb {
            self.files = Arc::new(thumb_targets(&client, base).await?);
        }
        Ok(self)
    }

    /// The next request of connection `connection`, drawn with `rng`.
    pub fn next_request(&self, rng: &mut SplitMix64, connection: usize) -> RequestSpec {
        let (me, token) = self.identity(connection);
        match self.scenario {
            Scenario::View => self.view(rng.below(self.records)),
            Scenario::List => RequestSpec::get(self.list_target.clone()),
            Scenario::ListRelation => RequestSpec::get(self.relation_target.clone()),
            Scenario::ListOwner => RequestSpec::get(self.owner_target.clone()).signed(token),
            Scenario::Create => RequestSpec::json(
                Method::POST,
                records_path(POSTS),
                &data::new_post(rng, self.authors),
            ),
            Scenario::CreateOwner => {
                RequestSpec::json(Method::POST, records_path(NOTES), &data::new_note(rng, me))
                    .signed(token)
            }
            Scenario::Update => {
                let note = data::owned_note(rng, me, self.authors, self.records);
                let note = data::note_id(note);
                let change = json!({"title": format!("Edited {}", rng.below(1_000_000)), "done": rng.below(2) == 0});
                RequestSpec::json(Method::PATCH, format!("{}/{note}", records_path(NOTES)), &change)
                    .signed(token)
            }
            Scenario::AuthPassword => RequestSpec::json(
                Method::POST,
                format!("/api/collections/{AUTHORS}/auth-with-password"),
                &json!({
                    "identity": data::author_email(rng.below(self.authors)),
                    "password": data::AUTHOR_PASSWORD,
                }),
            ),
            Scenario::AuthRefresh => RequestSpec {
                method: Method::POST,
                target: format!("/api/collections/{AUTHORS}/auth-refresh"),
                auth: None,
                body: None,
            }
            .signed(token),
            Scenario::Batch => {
                let requests: Vec<Value> = (0..BATCH_SIZE)
                    .map(|_| {
                        json!({
                            "method": "POST",
                            "url": records_path(NOTES),
                            "body": data::new_note(rng, me),
                        })
                    })
                    .collect();
                RequestSpec::json(Method::POST, "/api/batch".into(), &json!({"requests": requests}))
                    .signed(token)
            }
            Scenario::FileThumb => {
                let i = rng.below(self.files.len() as u64);
                let file = usize::try_from(i).ok().and_then(|i| self.files.get(i));
                RequestSpec::get(file.cloned().unwrap_or_default())
            }
            Scenario::Proxy => RequestSpec::get("/proxy-bench".into()),
        }
    }

    /// A request that must succeed before the load starts: for view it asks for the last
    /// seeded record, so a `--records` larger than what was seeded fails here, not as a stream
    /// of 404s; for update, the last note of the first author.
    pub fn probe(&self) -> RequestSpec {
        match self.scenario {
            Scenario::View => self.view(self.records.saturating_sub(1)),
            _ => self.next_request(&mut SplitMix64::new(0), 0),
        }
    }

    /// The author that connection `connection` acts as, and their token (none before
    /// [`Workload::prepare`] or for guest scenarios).
    fn identity(&self, connection: usize) -> (u64, Option<&HeaderValue>) {
        match self.tokens.len() {
            0 => (0, None),
            n => {
                let me = connection % n;
                (me as u64, self.tokens.get(me))
            }
        }
    }

    fn view(&self, index: u64) -> RequestSpec {
        RequestSpec::get(format!("{}/{}", records_path(POSTS), data::post_id(index)))
    }
}

/// Signs author `author` in with their password; their token as an `Authorization` value.
async fn sign_in(client: &reqwest::Client, base: &str, author: u64) -> anyhow::Result<HeaderValue> {
    let identity = data::author_email(author);
    let token = crate::setup::sign_in(client, base, AUTHORS, &identity, data::AUTHOR_PASSWORD)
        .await
        .context("was `sb-bench setup` run?")?;
    Ok(HeaderValue::from_str(&token)?)
}

/// The thumb URL of every media record's image.
async fn thumb_targets(client: &reqwest::Client, base: &str) -> anyhow::Result<Vec<String>> {
    let url = format!("{base}/api/collections/{MEDIA}/records?perPage=500&skipTotal=1");
    let response = client.get(&url).send().await?;
    let status = response.status();
    let page: Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!("GET {url} answered {status}: {page}");
    }
    let items =
        page.get("items").and_then(Value::as_array).context("no items in the media list")?;
    let targets: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let id = item.get("id")?.as_str()?;
            let file = item.get("image")?.as_str().filter(|f| !f.is_empty())?;
            Some(format!("/api/files/{MEDIA}/{id}/{file}?thumb={}", data::THUMB))
        })
        .collect();
    if targets.is_empty() {
        bail!("no media record has an image (was `sb-bench setup` run?)");
    }
    Ok(targets)
}

/// Percent-encodes a query value the way the JavaScript SDK does (`encodeURIComponent`, minus
/// the rarely used `!*'()` exceptions): spaces become `%20`, not `+`.
fn encode_component(value: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(value, SET).to_string()
}

fn records_path(collection: &str) -> String {
    format!("/api/collections/{collection}/records")
}

#[cfg(test)]
mod tests;
