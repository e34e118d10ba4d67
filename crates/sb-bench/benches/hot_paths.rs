//! Criterion micro-benchmarks of the request path's CPU-bound steps, without HTTP or a database:
//!
//! * `filter/parse`: filter text → syntax tree (`sb_filter::parse_filter`);
//! * `filter/parse_resolve_render`: parse → resolve against the collections, ANDed with the
//!   listRule as the list endpoint does (`sb_query::compile_query`) → the page `SELECT` rendered
//!   as SQL text for SQLite and for PostgreSQL (`sb_sql::Dialect::render`);
//! * `rule/evaluate`: an API rule decided in memory against one row (`sb_query::evaluate`, what
//!   realtime delivery does per event), allowed and denied, with and without parsing the rule;
//! * `record/serialise`: stored rows → the API's JSON text (`sb_core::Record::from_rows`,
//!   `Record::to_json`, then the text the wire layer writes), for a view and a 30-record page;
//! * `token/verify`: an HS256 auth token checked as `App::resolve_token` does, minus the auth
//!   record's load (peek, collection checks, signing key, signature and expiry).
//!
//! The inputs are the side-by-side harness's collections (`sb_bench::setup`) and seeded data
//! (`sb_bench::data`), except that `authors` is an auth collection here, so that posts can have
//! an owner rule. The global allocator is the server's (mimalloc), since most of these paths
//! allocate. Run with `cargo bench -p sb-bench --bench hot_paths` (see `bench/README.md`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sb_auth::token::{Claims, TokenType};
use sb_bench::{data, setup};
use sb_core::{Catalog, Record, Viewer};
use sb_query::{Access, AuthInfo, RequestInfo, Scope};
use sb_schema::Collection;
use sb_sql::{Dialect, Expr, FromItem, OrderBy, Select, SelectItem, Stmt, Value};
use serde_json::{Map, Value as Json, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The seed of the records (any fixed value: the figures must not depend on the run).
const SEED: u64 = 42;
/// How many authors the seeded posts point to (as `sb-bench setup` makes by default).
const AUTHORS: u64 = 50;
/// The page size of the list endpoint's default and of the harness's `list` scenario.
const PAGE: usize = 30;
/// The base table alias the list path compiles against (`sb-core`'s `records/list.rs`).
const ALIAS: &str = "t";

/// The collections, a signed-in author and the rows the benchmarks work on.
struct World {
    catalog: Catalog,
    posts: Arc<Collection>,
    authors: Arc<Collection>,
    /// The author `ba0000000000007`, as `@request.auth` sees them.
    auth: AuthInfo,
    now: chrono::DateTime<chrono::Utc>,
}

impl World {
    fn new() -> World {
        let orgs = prepared(&setup::orgs_collection());
        let authors = prepared(&setup::authors_collection(&orgs.id));
        let posts = prepared(&setup::posts_collection(&authors.id));
        let catalog = Catalog::new(vec![orgs, authors, posts]);
        let get = |name: &str| catalog.get(name).cloned().expect("collection was just made");
        let (authors, posts) = (get(data::AUTHORS), get(data::POSTS));
        let mut record = Map::new();
        for (key, value) in [
            ("id", json!(data::author_id(7))),
            ("email", json!("ann@example.com")),
            ("emailVisibility", json!(false)),
            ("verified", json!(true)),
            ("tokenKey", json!("Xq2v9dKfL0aPz7RrT4mNbW1cYe8uHs3jG6iOoQlE5tVxZyAkBp")),
            ("password", json!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")),
            ("name", json!("Amber Bridge")),
            ("created", json!("2026-11-01 10:00:00.000Z")),
            ("updated", json!("2026-11-01 10:00:00.000Z")),
        ] {
            record.insert(key.to_owned(), value);
        }
        let auth = AuthInfo { collection: authors.clone(), record };
        World { catalog, posts, authors, auth, now: chrono::Utc::now() }
    }

    /// The request of a signed-in author (`Some`) or a guest, as the list path receives it.
    fn request(&self, auth: Option<&AuthInfo>) -> RequestInfo {
        RequestInfo {
            context: "default".into(),
            method: "GET".into(),
            headers: BTreeMap::from([("user_agent".to_owned(), "bench".to_owned())]),
            query: BTreeMap::from([("perPage".to_owned(), PAGE.to_string())]),
            body: Map::new(),
            auth: auth.cloned(),
        }
    }

    fn scope<'a>(&'a self, request: &'a RequestInfo, access: Access) -> Scope<'a> {
        Scope {
            collection: &self.posts,
            alias: ALIAS,
            lookup: &self.catalog,
            request,
            access,
            now: self.now,
        }
    }
}

/// A collection from its create body, given its id and system fields as the server does.
fn prepared(body: &Json) -> Collection {
    let mut c = Collection::from_json(body).expect("valid collection body");
    sb_schema::validate::prepare(&mut c, None, &[]);
    c
}

/// The stored row of the `index`-th seeded post, in field order, as the SQLite backend reads
/// it (numbers and booleans as integers, everything else as text).
fn stored_post(posts: &Collection, index: u64) -> Vec<Value> {
    let post = data::seeded_post(SEED, index, AUTHORS);
    posts
        .fields
        .iter()
        .map(|f| match (f.name.as_str(), &post[&f.name]) {
            ("created" | "updated", _) => Value::Text("2026-11-28 09:15:42.123Z".into()),
            (_, Json::Number(n)) => Value::Int(n.as_i64().unwrap_or(0)),
            (_, Json::Bool(b)) => Value::Int(i64::from(*b)),
            (_, Json::String(s)) => Value::Text(s.clone()),
            (_, _) => Value::Text(String::new()),
        })
        .collect()
}

fn rows(posts: &Collection, count: u64) -> sb_store::Rows {
    sb_store::Rows {
        columns: posts.fields.iter().map(|f| f.name.clone()).collect(),
        rows: (0..count).map(|i| stored_post(posts, i)).collect(),
    }
}

/// Filters of the kinds apps send, with the access the list path compiles them with: client
/// filters under the public listRule, and one owner-style rule (only rules and superusers may
/// use `@request.*`).
const FILTERS: [(&str, &str, Access); 4] = [
    ("simple", "views > 500", Access::Client),
    ("and", "(published=true && views>500)", Access::Client),
    ("relation", "author.name ~ 'amber'", Access::Client),
    (
        "auth_any",
        "@request.auth.id != \"\" && (author ?= @request.auth.id || published = true)",
        Access::Full,
    ),
];

fn filter_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("filter/parse");
    for (name, text, _) in FILTERS {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| sb_filter::parse_filter(black_box(text)).expect("valid filter"));
        });
    }
    group.finish();
}

/// The page statement of the list path (`records/list.rs`, `ListQuery::run`): every field
/// column, the compiled condition, the default order and the window.
fn page_select(posts: &Collection, where_: Option<Expr>, order_by: Vec<OrderBy>) -> Stmt {
    Stmt::Select(Select {
        columns: posts
            .fields
            .iter()
            .map(|f| SelectItem::Expr { expr: Expr::col(ALIAS, &f.name), alias: None })
            .collect(),
        from: Some(FromItem::Table { name: posts.name.clone(), alias: Some(ALIAS.into()) }),
        where_,
        order_by,
        limit: Some(PAGE as u64),
        offset: Some(0),
        ..Select::default()
    })
}

fn filter_parse_resolve_render(c: &mut Criterion) {
    let world = World::new();
    let request = world.request(Some(&world.auth));
    let list_rule = world.posts.list_rule.clone().unwrap_or_default();
    let mut group = c.benchmark_group("filter/parse_resolve_render");
    for (name, text, access) in FILTERS {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let id = BenchmarkId::new(name, format!("{dialect:?}").to_lowercase());
            group.bench_function(id, |b| {
                b.iter(|| {
                    let scope = world.scope(&request, access);
                    let rule = (!list_rule.is_empty())
                        .then(|| sb_filter::parse_filter(&list_rule).expect("valid rule"));
                    let filter = sb_filter::parse_filter(black_box(text)).expect("valid filter");
                    let mut parts = Vec::new();
                    if let Some(rule) = &rule {
                        parts.push((rule, Access::Full));
                    }
                    parts.push((&filter, access));
                    let compiled =
                        sb_query::compile_query(&parts, &[], &scope).expect("filter compiles");
                    let order_by = vec![OrderBy {
                        expr: Expr::RowId { table: Some(ALIAS.into()) },
                        desc: false,
                    }];
                    dialect.render(&page_select(&world.posts, compiled.where_, order_by))
                });
            });
        }
    }
    group.finish();
}

/// The owner rule and a public-with-condition rule, each with a row it admits and one it
/// refuses.
fn rule_evaluate(c: &mut Criterion) {
    let world = World::new();
    let owner = "@request.auth.id != \"\" && author = @request.auth.id";
    let public = "published = true && views > 100";
    let author_request = world.request(Some(&world.auth));
    let guest_request = world.request(None);
    let row_of = |author: &str, published: bool, views: i64| {
        let mut row = BTreeMap::new();
        row.insert("author", Value::Text(author.to_owned()));
        row.insert("published", Value::Int(i64::from(published)));
        row.insert("views", Value::Int(views));
        row.insert("title", Value::Text("Amber bridge cloud".into()));
        row
    };
    let own_row = row_of(world.auth.record["id"].as_str().unwrap_or_default(), false, 20);
    let other_row = row_of(&data::author_id(3), true, 742);
    let cases = [
        ("owner_allowed", owner, &author_request, &own_row, true),
        ("owner_denied_other", owner, &author_request, &other_row, false),
        ("owner_denied_guest", owner, &guest_request, &own_row, false),
        ("public_allowed", public, &guest_request, &other_row, true),
        ("public_denied", public, &guest_request, &own_row, false),
    ];
    let mut group = c.benchmark_group("rule/evaluate");
    for (name, rule, request, row, expected) in cases {
        let scope = world.scope(request, Access::Full);
        let column = |field: &str| row.get(field).cloned().unwrap_or(Value::Null);
        let parsed = sb_filter::parse_filter(rule).expect("valid rule");
        assert_eq!(sb_query::evaluate(&parsed, &scope, &column), Some(expected), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| sb_query::evaluate(black_box(&parsed), &scope, &column));
        });
        // Realtime delivery parses the rule text for every event it checks (`eval_group`).
        group.bench_function(BenchmarkId::new("with_parse", name), |b| {
            b.iter(|| {
                let parsed = sb_filter::parse_filter(black_box(rule)).expect("valid rule");
                sb_query::evaluate(&parsed, &scope, &column)
            });
        });
    }
    group.finish();
}

/// The list envelope as the wire layer writes it (`sb-http`'s `respond::list` without `fields`).
fn list_body(items: Vec<Json>, total: i64) -> String {
    json!({
        "items": items,
        "page": 1,
        "perPage": PAGE,
        "totalItems": total,
        "totalPages": (total + PAGE as i64 - 1) / PAGE as i64,
    })
    .to_string()
}

fn record_serialise(c: &mut Criterion) {
    let world = World::new();
    let viewer = Viewer::from_request(&world.request(None));
    let one = rows(&world.posts, 1);
    let page = rows(&world.posts, PAGE as u64);
    let mut group = c.benchmark_group("record/serialise");

    group.throughput(Throughput::Elements(1));
    group.bench_function("view", |b| {
        b.iter_batched(
            || one.clone(),
            |rows| {
                let records = Record::from_rows(&world.posts, rows);
                records.first().map(|r| r.to_json(&viewer).to_string())
            },
            BatchSize::SmallInput,
        );
    });

    group.throughput(Throughput::Elements(PAGE as u64));
    group.bench_function("list_page_30", |b| {
        b.iter_batched(
            || page.clone(),
            |rows| {
                let records = Record::from_rows(&world.posts, rows);
                let items = records.iter().map(|r| r.to_json(&viewer)).collect();
                list_body(items, 5_000)
            },
            BatchSize::SmallInput,
        );
    });

    // The same page split in two: rows → JSON values, then JSON values → text.
    group.bench_function("list_page_30_values_only", |b| {
        b.iter_batched(
            || page.clone(),
            |rows| {
                let records = Record::from_rows(&world.posts, rows);
                records.iter().map(|r| r.to_json(&viewer)).collect::<Vec<_>>()
            },
            BatchSize::SmallInput,
        );
    });
    let items: Vec<Json> =
        Record::from_rows(&world.posts, page.clone()).iter().map(|r| r.to_json(&viewer)).collect();
    group.bench_function("list_page_30_text_only", |b| {
        b.iter_batched(|| items.clone(), |items| list_body(items, 5_000), BatchSize::SmallInput);
    });
    group.finish();
}

/// `sb-core`'s signing key of a token type: the record's `tokenKey` plus the collection's secret.
fn signing_key(collection: &Collection, record: &Map<String, Json>) -> Option<String> {
    let secret = &collection.auth.as_ref()?.auth_token.secret;
    let token_key = record.get("tokenKey")?.as_str()?;
    Some(format!("{token_key}{secret}"))
}

fn token_verify(c: &mut Criterion) {
    let world = World::new();
    let record = &world.auth.record;
    let key = signing_key(&world.authors, record).expect("auth collection");
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        collection_id: world.authors.id.clone(),
        email: None,
        exp: now + 7 * 24 * 3600,
        id: world.auth.id().to_owned(),
        new_email: None,
        refreshable: Some(true),
        kind: TokenType::Auth,
    };
    let token = sb_auth::sign(&claims, &key);
    let forged = sb_auth::sign(&claims, "not the key");

    // `App::resolve_token` with the auth record already at hand (its load goes through the
    // auth cache or the database, which this suite leaves out).
    let resolve = |token: &str| -> Option<String> {
        let claims = sb_auth::peek(token)?;
        if claims.kind != TokenType::Auth || claims.id.is_empty() {
            return None;
        }
        let collection = world.catalog.get(&claims.collection_id)?;
        if collection.id != claims.collection_id || !collection.is_auth() {
            return None;
        }
        let key = signing_key(collection, record)?;
        let now = chrono::Utc::now().timestamp();
        sb_auth::verify(token, &key, TokenType::Auth, now).ok().map(|c| c.id)
    };
    assert!(resolve(&token).is_some() && resolve(&forged).is_none());

    let mut group = c.benchmark_group("token/verify");
    group.bench_function("hs256", |b| {
        b.iter(|| sb_auth::verify(black_box(&token), &key, TokenType::Auth, now));
    });
    group.bench_function("peek", |b| b.iter(|| sb_auth::peek(black_box(&token))));
    group.bench_function("request_path", |b| b.iter(|| resolve(black_box(&token))));
    group.bench_function("request_path_forged", |b| b.iter(|| resolve(black_box(&forged))));
    group.finish();
}

criterion_group!(
    benches,
    filter_parse,
    filter_parse_resolve_render,
    rule_evaluate,
    record_serialise,
    token_verify
);
criterion_main!(benches);
