//! Backups (spec §8.7): the API on both backends (PostgreSQL answers a 400 pointing to
//! pg_dump), a backup taken while writes go on, and restores through `scalebase::run` (which
//! restarts the application in-process on the restored data, or keeps the old data when the
//! restored one cannot be opened).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{ADMIN_EMAIL, ADMIN_PASSWORD, Client, RawResp, Resp, assert_error, code};

const PG_MESSAGE: &str = "Backups are not available with the PostgreSQL database: back it up with \
     pg_dump and restore it with pg_restore (or the database service's own snapshots).";
const VALIDATION: &str = "An error occurred while validating the submitted data.";

/// Sends one file part `file` (multipart).
async fn upload(c: &Client, filename: &str, bytes: Vec<u8>) -> Resp {
    let boundary = "sbbackupsboundary51";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = c.raw(reqwest::Method::POST, "/api/backups/upload", Some(&ct), body, &[]).await;
    Resp { status: r.status, body: r.json(), headers: r.headers }
}

async fn download(c: &Client, key: &str, token: &str) -> RawResp {
    let path = format!("/api/backups/{key}?token={token}");
    c.with_token(None).raw(reqwest::Method::GET, &path, None, Vec::<u8>::new(), &[]).await
}

async fn file_token(c: &Client) -> String {
    let r = c.post("/api/files/token", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["token"].as_str().unwrap().to_owned()
}

fn zip_entries(bytes: &[u8]) -> Vec<String> {
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    zip.file_names().map(|n| n.expect("utf-8 name").into_owned()).collect()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn keys(r: &Resp) -> Vec<String> {
    r.body.as_array().unwrap().iter().map(|b| b["key"].as_str().unwrap().to_owned()).collect()
}

async fn user_token(su: &Client, app: &sb_core::App) -> String {
    let user = su
        .create_record(
            "users",
            json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}),
        )
        .await;
    crate::common::record_token(app, "users", user["id"].as_str().unwrap()).await
}

sb_testkit::sbtest_http!(backups_api, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let guest = su.with_token(None);
    let user = su.with_token(Some(&user_token(&su, &app).await));
    // Superusers only, on every route, before anything else.
    for (method, path) in [
        (reqwest::Method::GET, "/api/backups"),
        (reqwest::Method::POST, "/api/backups"),
        (reqwest::Method::POST, "/api/backups/upload"),
        (reqwest::Method::DELETE, "/api/backups/x.zip"),
        (reqwest::Method::POST, "/api/backups/x.zip/restore"),
    ] {
        let r = guest.send(method.clone(), path, None).await;
        assert_error(&r, 401, "The request requires valid record authorization token.");
        let r = user.send(method, path, None).await;
        assert_error(&r, 403, "The authorized record is not allowed to perform this action.");
    }
    // The download takes a superuser file token in the query only.
    let forbidden = "Insufficient permissions to access the resource.";
    assert_error(&su.get("/api/backups/x.zip").await, 403, forbidden);
    let user_file_token = file_token(&user).await;
    let r = download(&su, "x.zip", &user_file_token).await;
    assert_eq!((r.status, r.json()["message"].as_str()), (403, Some(forbidden)));
    let r = download(&su, "x.zip", "not-a-token").await;
    assert_eq!(r.status, 403);
    let token = file_token(&su).await;

    if !app.backups_available() {
        // PostgreSQL: one clear answer on every route.
        assert_error(&su.get("/api/backups").await, 400, PG_MESSAGE);
        assert_error(&su.post("/api/backups", json!({})).await, 400, PG_MESSAGE);
        assert_error(&upload(&su, "a.zip", zip_of(&[("data.db", b"x")])).await, 400, PG_MESSAGE);
        assert_error(&su.delete("/api/backups/a.zip").await, 400, PG_MESSAGE);
        assert_error(&su.post("/api/backups/a.zip/restore", json!({})).await, 400, PG_MESSAGE);
        let r = download(&su, "a.zip", &token).await;
        assert_eq!((r.status, r.json()["message"].as_str()), (400, Some(PG_MESSAGE)));
        // No auto-backup job either.
        su.patch("/api/settings", json!({"backups": {"cron": "0 3 * * *"}})).await;
        let crons = su.get("/api/crons").await.body;
        assert!(!crons.to_string().contains("__pbAutoBackup__"), "{crons}");
        return;
    }

    assert_eq!(su.get("/api/backups").await.body, json!([]));
    // A default name from the app name and the time.
    assert_eq!(su.post("/api/backups", json!({})).await.status, 204);
    let r = su.get("/api/backups").await;
    let listed = r.body.as_array().unwrap().clone();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let default_key = listed[0]["key"].as_str().unwrap().to_owned();
    assert!(default_key.starts_with("pb_backup_acme_"), "{default_key}");
    assert_eq!(default_key.len(), "pb_backup_acme_20261128015000.zip".len(), "{default_key}");
    assert!(listed[0]["size"].as_u64().unwrap() > 0);
    let modified = listed[0]["modified"].as_str().unwrap();
    assert!(modified.ends_with('Z') && modified.len() == 24, "{modified}");

    // Names: PocketBase's rule, length and uniqueness.
    assert_eq!(su.post("/api/backups", json!({"name": "good-1_x.zip"})).await.status, 204);
    let r = su.post("/api/backups", json!({"name": "good-1_x.zip"})).await;
    assert_eq!((r.status, code(&r, "name")), (400, "validation_backup_name_exists"));
    assert_eq!(r.body["message"], VALIDATION);
    for bad in ["Bad.zip", "../x.zip", "x", "a.b.zip", ".zip", "@auto.zip", "a/b.zip"] {
        let r = su.post("/api/backups", json!({ "name": bad })).await;
        assert_eq!((r.status, code(&r, "name")), (400, "validation_match_invalid"), "{bad}");
    }
    let long = format!("{}.zip", "a".repeat(147));
    let r = su.post("/api/backups", json!({ "name": long })).await;
    assert_eq!((r.status, code(&r, "name")), (400, "validation_length_out_of_range"));
    let r = su.post("/api/backups", json!({"name": 5})).await;
    assert_error(&r, 400, "An error occurred while loading the submitted data.");
    let r = su.multipart(reqwest::Method::POST, "/api/backups", &[("name", "form.zip")]).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        keys(&su.get("/api/backups").await),
        vec!["form.zip".to_owned(), "good-1_x.zip".into(), default_key.clone()],
        "listed by key"
    );

    // Download: the archive holds the database.
    let r = download(&su, "good-1_x.zip", &token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/zip");
    assert_eq!(r.headers["content-disposition"], "attachment; filename=\"good-1_x.zip\"");
    assert_eq!(zip_entries(&r.bytes), vec!["data.db".to_owned()]);
    let archive = r.bytes;
    for missing in ["nope.zip", "..%2Fdata.db", "..", "%2E%2E%2Fdata.db", ".hidden"] {
        let r = download(&su, missing, &token).await;
        assert_eq!(r.status, 404, "{missing}: {:?}", r.json());
    }

    // Upload: the file's base name, a zip only, unique.
    assert_eq!(upload(&su, "../../up1.zip", archive.clone()).await.status, 204);
    let r = upload(&su, "up1.zip", archive.clone()).await;
    assert_eq!((r.status, code(&r, "file")), (400, "validation_backup_name_exists"));
    let r = upload(&su, "t.zip", b"hello, not a zip".to_vec()).await;
    assert_eq!((r.status, code(&r, "file")), (400, "validation_invalid_mime_type"));
    let r = su.post("/api/backups/upload", json!({})).await;
    assert_eq!((r.status, code(&r, "file")), (400, "validation_required"));
    let r = upload(&su, ".hidden.zip", archive.clone()).await;
    assert_eq!(r.status, 400);
    let r = download(&su, "up1.zip", &token).await;
    assert_eq!((r.status, r.bytes == archive), (200, true));
    // Names as uploaded, spaces and percent signs included.
    assert_eq!(upload(&su, "Up Two 100%.zip", archive.clone()).await.status, 204);
    assert!(keys(&su.get("/api/backups").await).contains(&"Up Two 100%.zip".to_owned()));
    let r = download(&su, "Up%20Two%20100%25.zip", &token).await;
    assert_eq!((r.status, r.bytes == archive), (200, true));
    assert_eq!(su.delete("/api/backups/Up%20Two%20100%25.zip").await.status, 204);

    // Restores of bad archives are refused before anything happens.
    assert_error(
        &su.post("/api/backups/nope.zip/restore", json!({})).await,
        400,
        "Missing or invalid backup file.",
    );
    assert_eq!(su.post("/api/backups/..%2Fdata.db/restore", json!({})).await.status, 400);
    for (name, bytes) in [
        ("nodb.zip", zip_of(&[("storage/a/b/c.txt", b"x")])),
        ("notsqlite.zip", zip_of(&[("data.db", b"not a database")])),
        ("slip.zip", zip_of(&[("data.db", b"SQLite format 3\0"), ("../../evil", b"x")])),
        ("truncated.zip", archive[..archive.len() / 2].to_vec()),
    ] {
        assert_eq!(upload(&su, name, bytes).await.status, 204, "{name}");
        let r = su.post(&format!("/api/backups/{name}/restore"), json!({})).await;
        assert_eq!(r.status, 400, "{name}: {:?}", r.body);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.starts_with("Missing or invalid backup file. Raw error:"), "{message}");
    }
    assert!(app.can_backup(), "a refused restore leaves the slot free");

    // Delete.
    assert_eq!(su.delete("/api/backups/good-1_x.zip").await.status, 204);
    let r = su.delete("/api/backups/good-1_x.zip").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid or already deleted backup file. Raw error:"),
        "{:?}",
        r.body
    );
    assert_eq!(su.delete("/api/backups/..%2Fdata.db").await.status, 400);
    assert!(!keys(&su.get("/api/backups").await).contains(&"good-1_x.zip".to_owned()));
    // The database file next to the backups folder is untouched by all of the above.
    assert_eq!(su.get("/api/health").await.status, 200);

    // The auto-backup job is listed last once `backups.cron` is set, and keeps the newest
    // `cronMaxKeep` automatic backups.
    let r = su
        .patch("/api/settings", json!({"backups": {"cron": "0 3 * * *", "cronMaxKeep": 1}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let crons = su.get("/api/crons").await.body;
    assert_eq!(
        crons.as_array().unwrap().last().unwrap(),
        &json!({"id": "__pbAutoBackup__", "expression": "0 3 * * *"})
    );
    let mut previous: Option<String> = None;
    for _ in 0..2 {
        if previous.is_some() {
            // Names carry the second: let the clock move on before the next one.
            let second = chrono::Utc::now().timestamp();
            while chrono::Utc::now().timestamp() == second {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(su.post("/api/crons/__pbAutoBackup__", json!({})).await.status, 204);
        let deadline = Instant::now() + Duration::from_secs(20);
        let current = loop {
            let autos: Vec<String> = keys(&su.get("/api/backups").await)
                .into_iter()
                .filter(|k| k.starts_with("@auto_pb_backup_acme_"))
                .collect();
            if autos.len() == 1 && Some(&autos[0]) != previous.as_ref() && app.can_backup() {
                break autos[0].clone();
            }
            assert!(Instant::now() < deadline, "auto backups: {autos:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        previous = Some(current);
    }
    let r = su.get("/api/backups").await;
    assert!(keys(&r).contains(&default_key), "manual backups are never pruned");

    // A staged restore holds the slot until the host restarts the app (this test server never
    // does): meanwhile backups and restores are refused, and the backup in use stays.
    assert_eq!(su.post("/api/backups/form.zip/restore", json!({})).await.status, 204);
    let busy = "Try again later - another backup/restore process has already been started.";
    assert_error(&su.post("/api/backups", json!({})).await, 400, busy);
    assert_error(
        &su.post(&format!("/api/backups/{default_key}/restore"), json!({})).await,
        400,
        busy,
    );
    assert_error(
        &su.delete("/api/backups/form.zip").await,
        400,
        "The backup is currently being used and cannot be deleted.",
    );
    assert_eq!(su.get("/api/health").await.body["data"]["canBackup"], false);
});

/// A server run by `scalebase::run` on a data folder (restores restart it in-process).
struct RunServer {
    url: String,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn storage_in(dir: &std::path::Path) -> scalebase::config::StorageConfig {
    scalebase::config::StorageConfig {
        dir: dir.to_path_buf(),
        database: scalebase::config::Database::Sqlite {
            path: dir.join("data.db"),
            synchronous_full: false,
            readers: Some(2),
        },
        query_timeout: Duration::from_secs(30),
        cache_bytes: 64 << 20,
    }
}

impl RunServer {
    async fn start() -> RunServer {
        RunServer::start_in(tempfile::tempdir().unwrap()).await
    }

    async fn start_in(dir: tempfile::TempDir) -> RunServer {
        let storage = storage_in(dir.path());
        let app = scalebase::open_app(&storage).await.unwrap();
        app.upsert_superuser(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = scalebase::config::ServeConfig {
            http: addr,
            storage,
            body_limit: 32 << 20,
            cors_origins: Vec::new(),
            log_json: false,
            log_level: "info".into(),
            access_log: false,
            metrics_addr: None,
            metrics_token: None,
            otlp: None,
            redis: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            scalebase::run(listener, app, &config, async move {
                stopped.await.ok();
            })
            .await
        });
        RunServer { url: format!("http://{addr}"), dir, stop: Some(stop), task }
    }

    async fn login(&self) -> Client {
        let mut c = Client::guest(&self.url);
        let r = c
            .post(
                "/api/collections/_superusers/auth-with-password",
                json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        c.token = r.body["token"].as_str().map(String::from);
        c
    }

    /// Stops the server; returns its data folder.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        self.task.await.unwrap().unwrap();
        self.dir
    }
}

/// A GET that tolerates the connection being closed under it (a restart drains the server
/// and closes idle keep-alive connections): `None` then.
async fn try_get(c: &Client, path: &str) -> Option<(u16, Value)> {
    let mut req = c.http.get(format!("{}{}", c.base, path));
    if let Some(t) = &c.token {
        req = req.header("Authorization", t);
    }
    let res = req.send().await.ok()?;
    let status = res.status().as_u16();
    let bytes = res.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// Waits (bounded) until `check` holds for the records of `collection`.
async fn wait_records(
    c: &Client,
    collection: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let path = format!("/api/collections/{collection}/records?perPage=500&sort=n");
        let r = try_get(c, &path).await;
        if let Some((200, body)) = &r {
            let items = body["items"].as_array().cloned().unwrap_or_default();
            if check(&items) {
                return items;
            }
        }
        assert!(Instant::now() < deadline, "records of {collection} never matched: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_back_the_backed_up_data_and_files() {
    let server = RunServer::start().await;
    let su = server.login().await;
    su.create_collection(json!({
        "name": "notes", "type": "base",
        "fields": [{"name": "n", "type": "number"}, {"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 1000000}],
    }))
    .await;
    let boundary = "sbrestoreboundary1";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfirst file\r\n--{boundary}--\r\n"
    );
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r =
        su.raw(reqwest::Method::POST, "/api/collections/notes/records", Some(&ct), body, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let first = r.json();
    let file_path = format!(
        "/api/files/notes/{}/{}",
        first["id"].as_str().unwrap(),
        first["doc"].as_str().unwrap()
    );
    assert_eq!(su.post("/api/backups", json!({"name": "before.zip"})).await.status, 204);
    let token = file_token(&su).await;
    let archive = download(&su, "before.zip", &token).await;
    let entries = zip_entries(&archive.bytes);
    assert!(entries.contains(&"data.db".to_owned()), "{entries:?}");
    assert!(
        entries.iter().any(|e| e.starts_with("storage/") && e.ends_with(".txt")),
        "{entries:?}"
    );

    // Change everything: a new record, the first one (and its file) deleted.
    su.create_record("notes", json!({"n": 2})).await;
    let r = su
        .delete(&format!("/api/collections/notes/records/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status, 204);
    wait_records(&su, "notes", |items| items.len() == 1 && items[0]["n"] == 2).await;

    // A restore of a database that cannot be opened keeps the current data.
    let broken =
        zip_of(&[("data.db", b"SQLite format 3\0 and then garbage, not pages".as_slice())]);
    assert_eq!(upload(&su, "broken.zip", broken).await.status, 204);
    assert_eq!(su.post("/api/backups/broken.zip/restore", json!({})).await.status, 204);
    // The server comes back (on the previous data) and the slot is free again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = try_get(&su, "/api/health").await;
        if let Some((200, body)) = &r
            && body["data"]["canBackup"] == true
        {
            break;
        }
        assert!(Instant::now() < deadline, "server did not come back: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_records(&su, "notes", |items| items.len() == 1 && items[0]["n"] == 2).await;

    // The real restore: the old record and its file are back, the later record gone; the
    // superuser's token (its record is in the backup) still works.
    assert_eq!(su.post("/api/backups/before.zip/restore", json!({})).await.status, 204);
    wait_records(&su, "notes", |items| items.len() == 1 && items[0]["n"] == 1).await;
    let r = su.raw(reqwest::Method::GET, &file_path, None, Vec::<u8>::new(), &[]).await;
    assert_eq!((r.status, r.bytes.as_slice()), (200, b"first file".as_slice()));
    // Backups themselves are not part of the data: both are still listed.
    let listed = keys(&su.get("/api/backups").await);
    assert!(listed.contains(&"before.zip".to_owned()) && listed.contains(&"broken.zip".to_owned()));
    // No temporary folder is left in the data folder.
    let leftovers: Vec<String> = std::fs::read_dir(server.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".sb_"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writes_go_on_is_a_consistent_snapshot() {
    let server = RunServer::start().await;
    let su = server.login().await;
    su.create_collection(json!({
        "name": "seq", "type": "base",
        "fields": [{"name": "n", "type": "number"}, {"name": "pad", "type": "text", "max": 100000}],
    }))
    .await;
    // Some bulk, so the copy takes a while.
    let pad = "p".repeat(20_000);
    for n in 0..200 {
        su.create_record("seq", json!({"n": n, "pad": pad})).await;
    }
    // One writer numbers its records in order: a consistent copy holds exactly 0..k.
    let next = Arc::new(AtomicU64::new(200));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (c, next, stop, pad) = (su.clone(), next.clone(), stop.clone(), pad.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = next.load(Ordering::Relaxed);
                c.create_record("seq", json!({"n": n, "pad": pad})).await;
                next.store(n + 1, Ordering::Relaxed);
            }
        })
    };
    let before = next.load(Ordering::Relaxed);
    assert_eq!(su.post("/api/backups", json!({"name": "live.zip"})).await.status, 204);
    let after = next.load(Ordering::Relaxed);
    eprintln!("records written while the backup ran: {}", after - before);
    // Writes go on after the backup too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while next.load(Ordering::Relaxed) < after + 5 {
        assert!(Instant::now() < deadline, "writes stopped after the backup");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let written = next.load(Ordering::Relaxed);

    assert_eq!(su.post("/api/backups/live.zip/restore", json!({})).await.status, 204);
    // Wait for the restart onto the snapshot (it holds fewer records than were written).
    let deadline = Instant::now() + Duration::from_secs(30);
    let total = loop {
        let r = try_get(&su, "/api/collections/seq/records?perPage=1&fields=n").await;
        if let Some((200, body)) = &r
            && body["totalItems"].as_u64() != Some(written)
        {
            break body["totalItems"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "the restore never happened: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        total >= before && total <= after + 1,
        "snapshot of {total} records, writes {before}..{after}"
    );
    // Exactly 0..total: no gap, no half-applied write.
    let mut seen = Vec::new();
    for page in 1..=total.div_ceil(500) {
        let r = su
            .get(&format!(
                "/api/collections/seq/records?perPage=500&page={page}&sort=n&fields=n,pad"
            ))
            .await;
        for item in r.body["items"].as_array().unwrap() {
            assert_eq!(item["pad"].as_str().map(str::len), Some(20_000));
            seen.push(item["n"].as_u64().unwrap());
        }
    }
    assert_eq!(seen, (0..total).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_go_to_s3_when_configured() {
    let s3 = sb_testkit::s3::S3Server::start("backups").await;
    let server = RunServer::start().await;
    let su = server.login().await;
    let r = su.patch("/api/settings", json!({"backups": {"s3": s3.settings()}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(su.post("/api/backups", json!({"name": "remote.zip"})).await.status, 204);
    assert_eq!(s3.keys().await, vec!["remote.zip".to_owned()]);
    assert!(!server.dir.path().join("backups/remote.zip").exists());
    let listed = su.get("/api/backups").await.body;
    assert_eq!(listed[0]["key"], "remote.zip");
    let token = file_token(&su).await;
    let r = download(&su, "remote.zip", &token).await;
    assert_eq!(r.status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.bytes)).unwrap();
    let mut header = [0u8; 16];
    zip.by_name("data.db").unwrap().read_exact(&mut header).unwrap();
    assert_eq!(&header, b"SQLite format 3\0");
    assert_eq!(su.delete("/api/backups/remote.zip").await.status, 204);
    assert!(s3.keys().await.is_empty());
    server.stop().await;
    s3.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_interrupted_by_a_crash_is_undone_at_the_next_start() {
    let server = RunServer::start().await;
    let su = server.login().await;
    su.create_collection(
        json!({"name": "notes", "type": "base", "fields": [{"name": "n", "type": "number"}]}),
    )
    .await;
    su.create_record("notes", json!({"n": 7})).await;
    let dir = server.stop().await;
    // The crash: the live database moved aside, the restored one not moved in yet.
    let temp = dir.path().join(".sb_restore_crash");
    std::fs::create_dir_all(temp.join("previous")).unwrap();
    std::fs::create_dir_all(temp.join("data")).unwrap();
    std::fs::rename(dir.path().join("data.db"), temp.join("previous/data.db")).unwrap();
    std::fs::write(temp.join("data/data.db"), b"SQLite format 3\0restored").unwrap();
    std::fs::create_dir_all(dir.path().join(".sb_backup_left")).unwrap();
    scalebase::restore::recover(&storage_in(dir.path())).unwrap();
    assert!(!temp.exists() && !dir.path().join(".sb_backup_left").exists());
    let server = RunServer::start_in(dir).await;
    let su = server.login().await;
    let items = su.all_records("notes").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["n"], 7);
    server.stop().await;
}
