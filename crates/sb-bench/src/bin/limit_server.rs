//! The "limit" of the side-by-side benchmark: the least work this API's view and create can
//! do on this machine, measured in the same run as the servers. axum on tokio, one SQLite
//! database in WAL mode with `synchronous=FULL` (Scalebase's default durability):
//!
//! - `GET /api/collections/posts/records/{id}`: one point read on the worker thread's own
//!   reader connection (a cached prepared statement), the row as JSON;
//! - `POST /api/collections/posts/records`: the JSON body's fields inserted by one writer
//!   thread that commits whatever is waiting in one transaction (one fsync per group), the
//!   record as JSON once its group is on disk;
//! - `GET /api/health`.
//!
//! No rules, no schema, no validation beyond the types, no request log: what any server of
//! this API must at least do. It seeds the same posts as `sb-bench setup` (same ids and
//! fields, from `sb_bench::data`), so the harness's requests find them.
//!
//! ```text
//! limit_server --http 127.0.0.1:28099 --db /tmp/limit.db --records 10000
//! ```

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:28099")]
    http: std::net::SocketAddr,
    /// The database file (created; emptied first).
    #[arg(long)]
    db: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    #[arg(long, default_value_t = 50)]
    authors: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Most inserts committed in one transaction.
const GROUP: usize = 256;

const COLUMNS: &str = "id, title, body, views, published, category, author, created, updated";

struct Insert {
    fields: Value,
    done: oneshot::Sender<Result<Value, String>>,
}

struct Shared {
    db: PathBuf,
    writer: mpsc::UnboundedSender<Insert>,
}

thread_local! {
    static READER: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "wal")?;
    conn.pragma_update(None, "synchronous", "full")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn row_json(row: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "collectionName": "posts",
        "id": row.get::<_, String>(0)?,
        "title": row.get::<_, String>(1)?,
        "body": row.get::<_, String>(2)?,
        "views": row.get::<_, i64>(3)?,
        "published": row.get::<_, bool>(4)?,
        "category": row.get::<_, String>(5)?,
        "author": row.get::<_, String>(6)?,
        "created": row.get::<_, String>(7)?,
        "updated": row.get::<_, String>(8)?,
    }))
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

/// A PocketBase-shaped id: 15 characters of `[a-z0-9]`.
fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..15).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

fn insert(conn: &Connection, id: &str, fields: &Value, at: &str) -> rusqlite::Result<Value> {
    let text = |name: &str| fields[name].as_str().unwrap_or_default().to_owned();
    let mut statement = conn.prepare_cached(&format!(
        "INSERT INTO posts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) RETURNING {COLUMNS}"
    ))?;
    statement.query_row(
        params![
            id,
            text("title"),
            text("body"),
            fields["views"].as_i64().unwrap_or(0),
            fields["published"].as_bool().unwrap_or(false),
            text("category"),
            text("author"),
            at,
        ],
        row_json,
    )
}

/// The writer: commits what is waiting in one transaction, then answers each insert.
fn write_groups(conn: Connection, mut queue: mpsc::UnboundedReceiver<Insert>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let at = now();
        let outcome = (|| -> rusqlite::Result<Vec<rusqlite::Result<Value>>> {
            let tx = conn.unchecked_transaction()?;
            let rows = group.iter().map(|i| insert(&tx, &new_id(), &i.fields, &at)).collect();
            tx.commit()?;
            Ok(rows)
        })();
        match outcome {
            Ok(rows) => {
                for (insert, row) in group.into_iter().zip(rows) {
                    insert.done.send(row.map_err(|e| e.to_string())).ok();
                }
            }
            Err(e) => {
                for insert in group {
                    insert.done.send(Err(e.to_string())).ok();
                }
            }
        }
    }
}

async fn view(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let found = READER.with(|reader| -> rusqlite::Result<Option<Value>> {
        let mut reader = reader.borrow_mut();
        if reader.is_none() {
            *reader = Some(open(&shared.db)?);
        }
        let conn = reader.as_ref().expect("opened above");
        let mut statement =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM posts WHERE id = ?1"))?;
        statement.query_row([&id], row_json).optional()
    });
    match found {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({"status": 404}))).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"status": 500}))).into_response(),
    }
}

async fn create(State(shared): State<Arc<Shared>>, Json(fields): Json<Value>) -> Response {
    let (done, answer) = oneshot::channel();
    if shared.writer.send(Insert { fields, done }).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match answer.await {
        Ok(Ok(record)) => Json(record).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"status": 500}))).into_response(),
    }
}

fn seed(conn: &mut Connection, args: &Args) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DROP TABLE IF EXISTS posts; CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, \
         title TEXT NOT NULL, body TEXT NOT NULL, views INTEGER NOT NULL, \
         published INTEGER NOT NULL, category TEXT NOT NULL, author TEXT NOT NULL, \
         created TEXT NOT NULL, updated TEXT NOT NULL); \
         CREATE INDEX posts_published_views ON posts (published, views);",
    )?;
    let tx = conn.transaction()?;
    let at = now();
    for i in 0..args.records {
        let post = sb_bench::data::seeded_post(args.seed, i, args.authors);
        insert(&tx, post["id"].as_str().unwrap_or_default(), &post, &at)?;
    }
    tx.commit()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut conn = open(&args.db).with_context(|| format!("cannot open {}", args.db.display()))?;
    seed(&mut conn, &args).context("cannot seed the posts")?;
    let (writer, queue) = mpsc::unbounded_channel();
    std::thread::Builder::new().name("writer".into()).spawn(move || write_groups(conn, queue))?;
    let shared = Arc::new(Shared { db: args.db.clone(), writer });
    let app = axum::Router::new()
        .route("/api/health", get(|| async { Json(json!({"code": 200})) }))
        .route("/api/collections/posts/records/{id}", get(view))
        .route("/api/collections/posts/records", axum::routing::post(create))
        .with_state(shared);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .with_context(|| format!("cannot listen on {}", args.http))?;
        eprintln!("limit server on http://{} ({} posts)", args.http, args.records);
        axum::serve(listener, app).await?;
        Ok(())
    })
}
