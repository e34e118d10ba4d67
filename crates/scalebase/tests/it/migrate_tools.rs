//! The migration tools (`scalebase import pocketbase`, `scalebase migrate`): a data directory
//! made by the reference PocketBase binary imported into SQLite and PostgreSQL, a SQLite
//! deployment moved to PostgreSQL, and bad input (missing or foreign directories, targets that
//! already hold data, a failure half-way) refused with a clear message and nothing changed.
//!
//! The reference binary comes from `../shared/tools/pocketbase-ref` (`SCALEBASE_SHARED`
//! overrides the shared folder), which installs it on first use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sb_testkit::Backend;
use scalebase::config::{Database, StorageConfig};
use serde_json::{Value, json};

use crate::common::{ADMIN_PASSWORD, Client, Resp};

const PB_ADMIN: &str = "admin@pb.test";
const PB_ADMIN_PASSWORD: &str = "old-super-pass-1";
/// Users and their PocketBase passwords.
const USERS: [(&str, &str, &str); 2] =
    [("alice@pb.test", "alice-old-pass", "Alice"), ("bob@pb.test", "bob-old-pass", "Bob")];
/// Post ids, in creation order (not in id order, so the listing order is checked too).
const POSTS: [&str; 3] = ["zzzzzzzzzzzzzz1", "aaaaaaaaaaaaaa2", "mmmmmmmmmmmmmm3"];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn scalebase(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalebase"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("SCALEBASE_DIR")
        .env_remove("SCALEBASE_DB")
        .output()
        .expect("run scalebase")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The reference PocketBase binary. The tool installs it on first use; tests (one process
/// each) take turns through a file lock, so none runs the binary while another writes it.
fn pocketbase_ref() -> PathBuf {
    let shared = std::env::var_os("SCALEBASE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let lock = std::env::temp_dir().join("scalebase-pocketbase-ref.lock");
    let out = Command::new("flock")
        .arg(&lock)
        .arg(shared.join("tools/pocketbase-ref"))
        .output()
        .expect("run ../shared/tools/pocketbase-ref");
    assert!(out.status.success(), "pocketbase-ref failed: {}", text(&out.stderr));
    PathBuf::from(text(&out.stdout).trim())
}

/// A free loopback port (bound and released; PocketBase binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running reference PocketBase on a data directory.
struct PocketBase {
    child: Child,
    url: String,
}

impl PocketBase {
    async fn start(bin: &Path, root: &Path) -> PocketBase {
        let data = root.join("pb_data");
        let (migrations, hooks) = (root.join("pb_migrations"), root.join("pb_hooks"));
        std::fs::create_dir_all(&migrations).unwrap();
        std::fs::create_dir_all(&hooks).unwrap();
        let out = Command::new(bin)
            .args(["superuser", "upsert", PB_ADMIN, PB_ADMIN_PASSWORD, "--dir"])
            .arg(&data)
            .output()
            .expect("pocketbase superuser upsert");
        assert!(out.status.success(), "superuser upsert: {}", text(&out.stderr));
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(bin)
            .args(["serve", "--http", &addr, "--automigrate=false", "--dir"])
            .arg(&data)
            .arg("--migrationsDir")
            .arg(&migrations)
            .arg("--hooksDir")
            .arg(&hooks)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pocketbase");
        let pb = PocketBase { child, url: format!("http://{addr}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = reqwest::get(format!("{}/api/health", pb.url))
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "PocketBase did not start on {addr}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        pb
    }

    /// Stops it with SIGTERM (so it checkpoints its WAL) and waits for the exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(Instant::now() < deadline, "PocketBase did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PocketBase {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A file part of a multipart body: field, file name, bytes.
type FilePart<'a> = (&'a str, &'a str, &'a [u8]);

/// A multipart body of text fields and plain-text file parts (`files::send_files`).
async fn send_multipart(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    fields: &[(&str, &str)],
    files: &[FilePart<'_>],
) -> Resp {
    let parts: Vec<crate::files::Part<'_>> = files
        .iter()
        .map(|(name, file, bytes)| (*name, *file, "text/plain", bytes.to_vec()))
        .collect();
    crate::files::send_files(c, method, path, fields, &parts).await
}

async fn login(base: &str, collection: &str, identity: &str, password: &str) -> Resp {
    Client::guest(base)
        .post(
            &format!("/api/collections/{collection}/auth-with-password"),
            json!({"identity": identity, "password": password}),
        )
        .await
}

async fn logged_in(base: &str, collection: &str, identity: &str, password: &str) -> Client {
    Client::login(base, collection, identity, password).await
}

async fn download(c: &Client, collection: &str, id: &str, name: &str) -> Vec<u8> {
    let path = format!("/api/files/{collection}/{id}/{name}");
    let r = c.raw(reqwest::Method::GET, &path, None, Vec::<u8>::new(), &[]).await;
    assert_eq!(r.status, 200, "GET {path}");
    r.bytes
}

async fn get_ok(c: &Client, path: &str) -> Value {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
    r.body
}

/// A collection's JSON without its timestamps (an import sets them anew) and, for views, the
/// ids of the fields derived from the query (both systems make them up when they derive them).
fn definition(mut c: Value) -> Value {
    let view = c["type"] == "view";
    if let Value::Object(m) = &mut c {
        m.remove("created");
        m.remove("updated");
        if let Some(Value::Array(fields)) = m.get_mut("fields").filter(|_| view) {
            for f in fields {
                if f["id"].as_str().is_some_and(|id| id.starts_with("_clone_")) {
                    f["id"] = json!("_clone_");
                }
            }
        }
    }
    c
}

/// Where a Scalebase deployment keeps its data: a temporary directory (files, and the SQLite
/// database) and, on PostgreSQL, a fresh database.
struct Target {
    dir: tempfile::TempDir,
    pg: Option<String>,
}

impl Target {
    async fn new(backend: Backend) -> Target {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(sb_testkit::create_pg_database().await),
        };
        Target { dir: tempfile::tempdir().unwrap(), pg }
    }

    fn url(&self) -> Option<String> {
        self.pg.as_deref().map(sb_testkit::pg_url_for)
    }

    fn config(&self) -> StorageConfig {
        let database = match self.url() {
            Some(url) => Database::Postgres { url, pool_size: 4, replicas: Vec::new() },
            None => Database::Sqlite {
                path: self.dir.path().join("data.db"),
                synchronous_full: true,
                readers: Some(2),
            },
        };
        StorageConfig {
            dir: self.dir.path().to_path_buf(),
            database,
            query_timeout: Duration::from_secs(30),
            cache_bytes: 64 << 20,
        }
    }

    /// The storage flags of the CLI.
    fn args(&self) -> Vec<String> {
        let mut args = vec!["--dir".to_owned(), self.dir.path().display().to_string()];
        if let Some(url) = self.url() {
            args.extend(["--db".to_owned(), url]);
        }
        args
    }

    async fn cleanup(self) {
        if let Some(name) = &self.pg {
            sb_testkit::drop_pg_database(name).await;
        }
    }
}

/// Scalebase served in-process on a deployment.
struct Served {
    url: String,
    app: Arc<sb_core::App>,
    served: sb_testkit::Serving,
}

async fn serve(config: &StorageConfig) -> Served {
    let app = scalebase::open_app(config).await.expect("open the deployment");
    let served = sb_testkit::Serving::app(app.clone()).await;
    Served { url: served.url.clone(), app, served }
}

impl Served {
    async fn stop(self) {
        self.served.stop().await;
        self.app.close_logs().await;
        self.app.store().close().await;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` (relative paths), sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Import from PocketBase
// ---------------------------------------------------------------------------------------------

/// What the reference PocketBase answered before it was stopped, to compare Scalebase with.
struct PbSnapshot {
    collections: Vec<Value>,
    users: Value,
    posts: Value,
    view: Value,
    /// (record id, file name, bytes) of every stored file.
    files: Vec<(String, String, Vec<u8>)>,
    /// A superuser token PocketBase issued.
    token: String,
}

/// Makes a PocketBase data directory under `root` with the reference binary: a superuser, two
/// users, a `posts` collection (relation to users, files, every storage kind, an index) with
/// three posts, a view, and changed settings.
async fn make_pocketbase_dir(root: &Path) -> PbSnapshot {
    let pb = PocketBase::start(&pocketbase_ref(), root).await;
    let su = logged_in(&pb.url, "_superusers", PB_ADMIN, PB_ADMIN_PASSWORD).await;
    let r = su.patch("/api/settings", json!({"meta": {"appName": "Imported App"}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let users_id = get_ok(&su, "/api/collections/users").await["id"].as_str().unwrap().to_owned();
    let r = su
        .post(
            "/api/collections",
            json!({
                "name": "posts", "type": "base", "listRule": "", "viewRule": "",
                "fields": [
                    {"name": "title", "type": "text", "required": true},
                    {"name": "views", "type": "number"},
                    {"name": "published", "type": "bool"},
                    {"name": "meta", "type": "json"},
                    {"name": "author", "type": "relation", "collectionId": users_id, "maxSelect": 1},
                    {"name": "attachments", "type": "file", "maxSelect": 3, "maxSize": 1_000_000},
                    {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
                    {"name": "created", "type": "autodate", "onCreate": true},
                    {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
                ],
                "indexes": ["CREATE INDEX `idx_posts_title` ON `posts` (`title`)"]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "create posts: {:?}", r.body);
    let r = su
        .post(
            "/api/collections",
            json!({"name": "post_titles", "type": "view", "listRule": "", "viewRule": "",
                   "viewQuery": "SELECT id, title, views FROM posts"}),
        )
        .await;
    assert_eq!(r.status, 200, "create view: {:?}", r.body);
    let mut user_ids = Vec::new();
    for (email, password, name) in USERS {
        let r = su
            .post(
                "/api/collections/users/records",
                json!({"email": email, "password": password, "passwordConfirm": password, "name": name}),
            )
            .await;
        assert_eq!(r.status, 200, "create user: {:?}", r.body);
        user_ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    type Post<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [FilePart<'a>]);
    let posts: [Post<'_>; 3] = [
        (
            POSTS[0],
            &[
                ("title", "First"),
                ("views", "3.5"),
                ("published", "true"),
                ("meta", r#"{"a":[1,2]}"#),
                ("tags", "a"),
                ("tags", "c"),
            ],
            &[
                ("attachments", "one.txt", b"first file bytes"),
                ("attachments", "two.txt", b"second\nfile"),
            ],
        ),
        (
            POSTS[1],
            &[("title", "Second"), ("views", "7"), ("meta", "null")],
            &[("attachments", "three.txt", b"third")],
        ),
        (POSTS[2], &[("title", "Third")], &[]),
    ];
    for (i, (id, fields, files)) in posts.iter().enumerate() {
        let mut fields = fields.to_vec();
        fields.push(("id", id));
        if i < 2 {
            fields.push(("author", &user_ids[i]));
        }
        let r = send_multipart(
            &su,
            reqwest::Method::POST,
            "/api/collections/posts/records",
            &fields,
            files,
        )
        .await;
        assert_eq!(r.status, 200, "create post: {:?}", r.body);
    }
    let list = get_ok(&su, "/api/collections?perPage=100").await;
    let collections = list["items"].as_array().unwrap().clone();
    let users = get_ok(&su, "/api/collections/users/records?perPage=100").await;
    let posts = get_ok(&su, "/api/collections/posts/records?perPage=100&expand=author").await;
    let view = get_ok(&su, "/api/collections/post_titles/records?perPage=100").await;
    let mut files = Vec::new();
    for post in posts["items"].as_array().unwrap() {
        let id = post["id"].as_str().unwrap();
        for name in post["attachments"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            files.push((id.to_owned(), name.to_owned(), download(&su, "posts", id, name).await));
        }
    }
    assert_eq!(files.len(), 3);
    let token = su.token.clone().unwrap();
    pb.stop();
    PbSnapshot { collections, users, posts, view, files, token }
}

/// Checks a Scalebase serving an imported PocketBase against what PocketBase answered.
async fn check_imported(url: &str, pb: &PbSnapshot) {
    // The superuser and the users log in with their PocketBase passwords.
    let su = logged_in(url, "_superusers", PB_ADMIN, PB_ADMIN_PASSWORD).await;
    for (email, password, _) in USERS {
        logged_in(url, "users", email, password).await;
        assert_eq!(login(url, "users", email, "not-the-password").await.status, 400);
    }
    // The token secrets came along: PocketBase's superuser token works here.
    let pb_token = su.with_token(Some(&pb.token));
    assert_eq!(pb_token.get("/api/collections/posts").await.status, 200);

    // Collections: every PocketBase collection, with the same definition.
    for expected in &pb.collections {
        let name = expected["name"].as_str().unwrap();
        let got = get_ok(&su, &format!("/api/collections/{name}")).await;
        assert_eq!(definition(got), definition(expected.clone()), "collection {name}");
    }
    // Records, in the same order, with the relation intact (expanded the same way).
    assert_eq!(get_ok(&su, "/api/collections/users/records?perPage=100").await, pb.users);
    let posts = get_ok(&su, "/api/collections/posts/records?perPage=100&expand=author").await;
    assert_eq!(posts, pb.posts);
    let ids: Vec<&str> =
        posts["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, POSTS);
    assert_eq!(posts["items"][0]["expand"]["author"]["email"], "alice@pb.test");
    assert_eq!(get_ok(&su, "/api/collections/post_titles/records?perPage=100").await, pb.view);
    // Files: the same bytes under the same names.
    for (id, name, bytes) in &pb.files {
        assert_eq!(&download(&su, "posts", id, name).await, bytes, "file {name}");
    }
    // Settings.
    assert_eq!(get_ok(&su, "/api/settings").await["meta"]["appName"], "Imported App");
}

async fn import_case(backend: Backend) {
    let root = tempfile::tempdir().unwrap();
    let pb = make_pocketbase_dir(root.path()).await;
    let pb_dir = root.path().join("pb_data");
    let pb_dir_arg = pb_dir.display().to_string();
    let target = Target::new(backend).await;

    let mut args = vec!["import", "pocketbase", pb_dir_arg.as_str()];
    let storage = target.args();
    args.extend(storage.iter().map(String::as_str));
    let out = scalebase(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "import failed: {}\n{stdout}", text(&out.stderr));
    assert!(stdout.contains("Import verified"), "{stdout}");
    assert!(stdout.contains("3 files copied"), "{stdout}");
    for line in ["posts ", "users ", "_superusers "] {
        let row =
            stdout.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("{stdout}"));
        assert!(row.ends_with(" ok"), "{row}");
    }

    let served = serve(&target.config()).await;
    check_imported(&served.url, &pb).await;
    served.stop().await;

    // Importing again into the (now non-empty) deployment is refused and changes nothing.
    let before = files_under(target.dir.path());
    let out = scalebase(&args);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("already has data") && stderr.contains("--force"), "{stderr}");
    assert_eq!(files_under(target.dir.path()), before);
    let served = serve(&target.config()).await;
    check_imported(&served.url, &pb).await;
    served.stop().await;

    // With --force it imports on top: the records with the same ids are replaced.
    args.push("--force");
    let out = scalebase(&args);
    assert!(out.status.success(), "forced import failed: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Import verified") && stdout.contains("3 already present"), "{stdout}");
    let served = serve(&target.config()).await;
    check_imported(&served.url, &pb).await;
    served.stop().await;
    target.cleanup().await;

    if backend == Backend::Sqlite {
        // Settings PocketBase encrypted (`--encryptionEnv`) are skipped with a warning.
        let encrypted = root.path().join("encrypted");
        copy_dir(&pb_dir, &encrypted);
        let conn = rusqlite::Connection::open(encrypted.join("data.db")).unwrap();
        conn.execute(
            "UPDATE _params SET value = 'c2VhbGVkIHNldHRpbmdzIGJsb2I=' WHERE id = 'settings'",
            [],
        )
        .unwrap();
        drop(conn);
        let target = Target::new(backend).await;
        let encrypted_arg = encrypted.display().to_string();
        let mut args = vec!["import", "pocketbase", encrypted_arg.as_str()];
        let storage = target.args();
        args.extend(storage.iter().map(String::as_str));
        let out = scalebase(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("settings: skipped: PocketBase stored them encrypted"), "{stdout}");
        let served = serve(&target.config()).await;
        let su = logged_in(&served.url, "_superusers", PB_ADMIN, PB_ADMIN_PASSWORD).await;
        assert_eq!(get_ok(&su, "/api/settings").await["meta"]["appName"], "Acme");
        assert_eq!(get_ok(&su, "/api/collections/posts/records").await["totalItems"], 3);
        served.stop().await;
        target.cleanup().await;
    }

    // A failure half-way (a value that cannot be stored) rolls everything back, files included.
    let broken = root.path().join("broken");
    copy_dir(&pb_dir, &broken);
    let conn = rusqlite::Connection::open(broken.join("data.db")).unwrap();
    conn.execute("UPDATE posts SET meta = '{broken' WHERE id = ?", [POSTS[2]]).unwrap();
    drop(conn);
    let target = Target::new(backend).await;
    let broken_arg = broken.display().to_string();
    let mut args = vec!["import", "pocketbase", broken_arg.as_str()];
    let storage = target.args();
    args.extend(storage.iter().map(String::as_str));
    let out = scalebase(&args);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("posts.meta") && stderr.contains("nothing was imported"), "{stderr}");
    let stored: Vec<String> = files_under(&target.dir.path().join("storage"));
    assert_eq!(stored, Vec::<String>::new(), "files left behind");
    let served = serve(&target.config()).await;
    let su = Client::admin(&served.url, &served.app).await;
    assert_eq!(su.get("/api/collections/posts").await.status, 404);
    assert_eq!(login(&served.url, "users", USERS[0].0, USERS[0].1).await.status, 400);
    served.stop().await;
    target.cleanup().await;
}

mod imports_pocketbase {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::import_case(sb_testkit::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::import_case(sb_testkit::Backend::Postgres).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Migrate SQLite to PostgreSQL
// ---------------------------------------------------------------------------------------------

/// Everything a client can read of a deployment, for comparing before and after.
async fn read_all(su: &Client) -> Vec<Value> {
    let mut out = vec![get_ok(su, "/api/collections?perPage=100").await];
    for path in [
        "/api/collections/users/records?perPage=100",
        "/api/collections/notes/records?perPage=100",
        "/api/collections/notes/records?perPage=100&sort=-n&expand=owner",
        "/api/collections/notes/records?perPage=1&page=2",
        "/api/collections/note_view/records?perPage=100",
        "/api/collections/_superusers/records?perPage=100",
        "/api/settings",
    ] {
        out.push(get_ok(su, path).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_sqlite_to_postgres() {
    let source = Target::new(Backend::Sqlite).await;
    let served = serve(&source.config()).await;
    let su = Client::admin(&served.url, &served.app).await;
    let r = su.patch("/api/settings", json!({"meta": {"appName": "Migrated"}})).await;
    assert_eq!(r.status, 200);
    let users_id = get_ok(&su, "/api/collections/users").await["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({
        "name": "notes", "type": "base", "listRule": "", "viewRule": "",
        "fields": [
            {"name": "title", "type": "text"},
            {"name": "n", "type": "number"},
            {"name": "flag", "type": "bool"},
            {"name": "data", "type": "json"},
            {"name": "owner", "type": "relation", "collectionId": users_id, "maxSelect": 1},
            {"name": "docs", "type": "file", "maxSelect": 2},
            {"name": "tags", "type": "select", "values": ["x", "y"], "maxSelect": 2},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
        ],
        "indexes": ["CREATE UNIQUE INDEX `idx_notes_title` ON `notes` (`title`)"]
    }))
    .await;
    su.create_collection(json!({"name": "note_view", "type": "view", "listRule": "",
        "viewQuery": "SELECT id, title, n FROM notes"}))
        .await;
    let user = su
        .create_record(
            "users",
            json!({"email": "carol@example.com", "password": "carol-pass-1", "passwordConfirm": "carol-pass-1"}),
        )
        .await;
    let owner = user["id"].as_str().unwrap();
    // Ids out of id order, a deleted row (a gap in the insertion keys), an updated one.
    let notes = [
        ("note00000000003", "c", "2.25", "true", r#"{"k":[1,"two"]}"#),
        ("note00000000001", "a", "-4", "false", "null"),
        ("note00000000009", "gone", "0", "false", "5"),
        ("note00000000002", "b", "1e3", "true", r#""text""#),
    ];
    for (id, title, n, flag, data) in notes {
        let fields = [
            ("id", id),
            ("title", title),
            ("n", n),
            ("flag", flag),
            ("data", data),
            ("owner", owner),
            ("tags", "x"),
            ("tags", "y"),
        ];
        let files: &[FilePart<'_>] = &[("docs", "doc.txt", title.as_bytes())];
        let r = send_multipart(
            &su,
            reqwest::Method::POST,
            "/api/collections/notes/records",
            &fields,
            files,
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    assert_eq!(su.delete("/api/collections/notes/records/note00000000009").await.status, 204);
    let r =
        su.patch("/api/collections/notes/records/note00000000001", json!({"title": "a2"})).await;
    assert_eq!(r.status, 200);
    let before = read_all(&su).await;
    let doc = before[2]["items"][0]["docs"][0].as_str().unwrap().to_owned();
    served.stop().await;

    // Migrate to a fresh PostgreSQL database; the files stay in the data directory.
    let pg = sb_testkit::create_pg_database().await;
    let to = sb_testkit::pg_url_for(&pg);
    let options = scalebase::migrate::MigrateOptions { to: to.clone(), verify_only: false };
    let report = scalebase::migrate::migrate(&source.config(), &options).await.expect("migrate");
    let notes_row = report.tables.iter().find(|t| t.table == "notes").expect("notes migrated");
    assert_eq!((notes_row.source.rows, notes_row.target.rows), (3, 3));
    assert!(report.tables.iter().all(|t| t.matches()));
    for table in ["_collections", "_params", "_migrations", "_superusers", "users", "_cronRuns"] {
        assert!(report.tables.iter().any(|t| t.table == table), "{table} not in the report");
    }

    // A clean target verifies (before anything new is written to it).
    let verify = scalebase::migrate::MigrateOptions { to: to.clone(), verify_only: true };
    let again = scalebase::migrate::migrate(&source.config(), &verify).await.expect("verifies");
    assert_eq!(again.rows(), report.rows());

    let mut target_config = source.config();
    target_config.database =
        Database::Postgres { url: to.clone(), pool_size: 4, replicas: Vec::new() };
    let served = serve(&target_config).await;
    let su = logged_in(&served.url, "_superusers", "root@example.com", ADMIN_PASSWORD).await;
    assert_eq!(read_all(&su).await, before);
    logged_in(&served.url, "users", "carol@example.com", "carol-pass-1").await;
    assert_eq!(download(&su, "notes", "note00000000003", &doc).await, b"c");
    // The unique index came along.
    let r = su.post("/api/collections/notes/records", json!({"title": "b"})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // New records still list after the migrated ones.
    let r = su.post("/api/collections/notes/records", json!({"title": "new"})).await;
    assert_eq!(r.status, 200);
    let items = get_ok(&su, "/api/collections/notes/records?perPage=100").await;
    assert_eq!(items["items"][3]["title"], "new");
    assert_eq!(
        su.delete(&format!("/api/collections/notes/records/{}", r.body["id"].as_str().unwrap()))
            .await
            .status,
        204
    );

    // A changed value is caught by the verification.
    let tamper = sb_sql::Stmt::Raw {
        sql: "UPDATE notes SET title = 'tampered' WHERE id = ?".into(),
        params: vec![sb_sql::Value::Text("note00000000002".into())],
    };
    served.app.store().write(&[tamper]).await.unwrap();
    let err = scalebase::migrate::migrate(&source.config(), &verify).await.unwrap_err().to_string();
    assert!(err.contains("verification failed") && err.contains("notes"), "{err}");
    assert!(err.lines().any(|l| l.starts_with("notes ") && l.ends_with("MISMATCH")), "{err}");
    served.stop().await;

    // The target is not empty any more: a second migration is refused.
    let err =
        scalebase::migrate::migrate(&source.config(), &options).await.unwrap_err().to_string();
    assert!(err.contains("not empty"), "{err}");
    sb_testkit::drop_pg_database(&pg).await;
    source.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_clearly() {
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target");
    let target_arg = target.display().to_string();
    let check = |args: &[&str], wanted: &str| {
        let out = scalebase(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    };
    // A missing directory, a file, an empty directory: refused before the target is touched.
    let missing = root.path().join("missing").display().to_string();
    check(&["import", "pocketbase", &missing, "--dir", &target_arg], "does not exist");
    let file = root.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    check(
        &["import", "pocketbase", &file.display().to_string(), "--dir", &target_arg],
        "not a directory",
    );
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    check(
        &["import", "pocketbase", &empty.display().to_string(), "--dir", &target_arg],
        "no data.db",
    );
    // A database that is not PocketBase's.
    let not_sqlite = root.path().join("junk");
    std::fs::create_dir(&not_sqlite).unwrap();
    std::fs::write(not_sqlite.join("data.db"), "definitely not a database").unwrap();
    check(
        &["import", "pocketbase", &not_sqlite.display().to_string(), "--dir", &target_arg],
        "not a readable SQLite database",
    );
    // A Scalebase data directory is not a PocketBase one.
    let sb = Target::new(Backend::Sqlite).await;
    serve(&sb.config()).await.stop().await;
    let sb_dir = sb.dir.path().display().to_string();
    check(
        &["import", "pocketbase", &sb_dir, "--dir", &target_arg],
        "_collections has no fields column",
    );
    assert!(!target.exists(), "the target was created");

    // migrate: no source database, a source on PostgreSQL, a target that is not PostgreSQL.
    let pg_url = sb_testkit::pg_url_for("unused");
    check(&["migrate", "--to", &pg_url, "--dir", &target_arg], "no Scalebase database");
    check(&["migrate", "--to", &pg_url, "--db", &pg_url], "source (--db) is a PostgreSQL database");
    check(
        &["migrate", "--to", "sqlite:///tmp/x.db", "--dir", &sb_dir],
        "--to must be a PostgreSQL URL",
    );
    assert!(!target.exists(), "the target was created");
    sb.cleanup().await;
}
