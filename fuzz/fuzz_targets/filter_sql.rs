//! Compiles arbitrary filter and sort text against a fixed schema and checks the SQL it renders.
//!
//! Input: `<collection>|<sort>|<filter>` (UTF-8). Without two `|` the whole input is the filter
//! on `posts` with no sort. An unknown collection name picks a fixture collection from its
//! bytes, so every collection stays reachable by mutation.
//!
//! Each parsed filter/sort pair is compiled with `sb_query::compile_query` three times, the way
//! the server compiles list requests: a client filter of an authenticated user (with the
//! collection's listRule ANDed in with full access), the same as an API rule (full access), and
//! a full-access guest request. Each result is rendered as
//! `SELECT t.id FROM <coll> AS t WHERE ... ORDER BY ...` for SQLite and PostgreSQL.
//!
//! Oracles:
//! * nothing panics;
//! * each rendering has exactly as many placeholders outside quotes as bound parameters (`?`
//!   for SQLite, confirmed by SQLite's own count; `$1..$n` in order for PostgreSQL) and
//!   balanced parentheses;
//! * no text literal is spliced into the SQL: [`MARKER`] contains `~`, which no identifier can,
//!   and no fixture value contains it, so SQL text containing it can only come from a filter
//!   literal written verbatim;
//! * the SQLite statement prepares and runs on an in-memory database holding the fixture
//!   tables and a few rows (runs are cut off after a fixed number of VM steps: filters may join
//!   many relations, and only errors are of interest here).
//!
//! With `SB_FUZZ_PG_URL` set (see `filter_sql_pg.rs`), the PostgreSQL statement also prepares and
//! runs on the same fixture, and both databases must select the same ids. That leg needs a
//! server, so CI runs without it.

#![no_main]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use sb_query::{Access, AuthInfo, CollectionLookup, RequestInfo, Scope};
use sb_schema::{Collection, FieldKind, Storage};
use sb_sql::{
    ColumnDef, ColumnType, CreateTable, Dialect, Expr, FromItem, Insert, Select, SelectItem, Stmt,
    Value,
};
use serde_json::{Map, Value as Json, json};

/// Put into text literals by the seeds; must never show up in rendered SQL.
const MARKER: &str = "~Zq~";

/// SQLite progress-handler calls (every 1000 VM steps) before a run is interrupted.
const STEP_BUDGET: u32 = 200;

#[path = "filter_sql_pg.rs"]
mod pg;

struct Fixture {
    colls: Vec<Arc<Collection>>,
    user: AuthInfo,
    db: Mutex<Connection>,
    pg: Option<Mutex<pg::Pg>>,
}

impl CollectionLookup for Fixture {
    fn find(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.colls.iter().find(|c| c.id == id_or_name || c.name == id_or_name).cloned()
    }

    fn all(&self) -> Vec<Arc<Collection>> {
        self.colls.clone()
    }
}

/// The fixture schema in its API JSON form: every field type, single and multiple relations
/// (including self-relations, so back-relations exist in every direction), an auth collection,
/// and the three kinds of listRule (public, conditional, superusers only).
fn schema_json() -> Json {
    let auto = json!([
        {"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
        {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
    ]);
    let with_auto = |fields: Json| {
        let mut all = fields.as_array().cloned().unwrap_or_default();
        all.extend(auto.as_array().cloned().unwrap_or_default());
        Json::Array(all)
    };
    json!([
        {
            "id": "pbc_teams", "name": "teams", "type": "base", "listRule": "",
            "fields": with_auto(json!([
                {"name": "name", "type": "text", "required": true},
                {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
                {"name": "score", "type": "number"},
            ])),
        },
        {
            "id": "_pb_users_auth_", "name": "users", "type": "auth",
            "listRule": "id = @request.auth.id || team.name = 'red'",
            "fields": with_auto(json!([
                {"name": "name", "type": "text", "max": 100},
                {"name": "avatar", "type": "file", "maxSelect": 1},
                {"name": "role", "type": "select", "values": ["admin", "member"], "maxSelect": 1},
                {"name": "team", "type": "relation", "collectionId": "pbc_teams", "maxSelect": 1},
                {"name": "friends", "type": "relation", "collectionId": "_pb_users_auth_",
                 "maxSelect": 5},
                {"name": "secret", "type": "text", "hidden": true},
            ])),
        },
        {
            "id": "pbc_posts", "name": "posts", "type": "base", "listRule": "",
            "fields": with_auto(json!([
                {"name": "title", "type": "text", "min": 1, "max": 200},
                {"name": "body", "type": "editor"},
                {"name": "views", "type": "number", "onlyInt": true},
                {"name": "published", "type": "bool"},
                {"name": "contact", "type": "email"},
                {"name": "site", "type": "url"},
                {"name": "publishedAt", "type": "date"},
                {"name": "status", "type": "select", "values": ["draft", "live"], "maxSelect": 1},
                {"name": "labels", "type": "select", "values": ["x", "y", "z"], "maxSelect": 3},
                {"name": "author", "type": "relation", "collectionId": "_pb_users_auth_",
                 "maxSelect": 1},
                {"name": "coauthors", "type": "relation", "collectionId": "_pb_users_auth_",
                 "maxSelect": 9},
                {"name": "related", "type": "relation", "collectionId": "pbc_posts",
                 "maxSelect": 9},
                {"name": "cover", "type": "file", "maxSelect": 1},
                {"name": "attachments", "type": "file", "maxSelect": 5},
                {"name": "meta", "type": "json"},
                {"name": "loc", "type": "geoPoint"},
                {"name": "pin", "type": "password"},
                {"name": "note", "type": "text", "hidden": true},
            ])),
        },
        {
            "id": "pbc_comments", "name": "comments", "type": "base",
            "listRule": "@request.auth.id != '' && post.published = true",
            "fields": with_auto(json!([
                {"name": "message", "type": "text"},
                {"name": "post", "type": "relation", "collectionId": "pbc_posts",
                 "maxSelect": 1, "required": true},
                {"name": "likes", "type": "relation", "collectionId": "_pb_users_auth_",
                 "maxSelect": 99},
                {"name": "replyTo", "type": "relation", "collectionId": "pbc_comments",
                 "maxSelect": 1},
            ])),
        },
        {
            "id": "pbc_audit", "name": "audit", "type": "base", "listRule": null,
            "fields": with_auto(json!([
                {"name": "action", "type": "text"},
                {"name": "actor", "type": "relation", "collectionId": "_pb_users_auth_",
                 "maxSelect": 1},
                {"name": "payload", "type": "json"},
            ])),
        },
    ])
}

/// A few rows per table, by field name; ids are 15 characters as in PocketBase. Text columns
/// include values that are not JSON, so JSON functions over them are exercised.
fn rows() -> Vec<(&'static str, Vec<Json>)> {
    vec![
        (
            "teams",
            vec![
                json!({"id": "tred00000000000", "name": "red", "tags": ["a", "b"], "score": 5}),
                json!({"id": "tblue0000000000", "name": "[1,2", "tags": [], "score": -1.5}),
                json!({"id": "tnone0000000000", "name": "", "tags": ["c"], "score": 1e-7}),
            ],
        ),
        (
            "users",
            vec![
                json!({"id": "ualice000000000", "email": "alice@example.com", "verified": true,
                       "emailVisibility": true, "name": "Alice", "role": "admin",
                       "team": "tred00000000000", "friends": ["ubob00000000000"],
                       "password": "$2a$10$hash", "tokenKey": "k1", "secret": "s"}),
                json!({"id": "ubob00000000000", "email": "bob@example.com", "name": "{\"a\":1}",
                       "team": "tblue0000000000", "friends": [], "password": "$2a$10$hash",
                       "tokenKey": "k2"}),
                json!({"id": "ucarol000000000", "email": "c@x.com", "name": "10",
                       "friends": ["ualice000000000", "ubob00000000000"], "role": "member",
                       "password": "$2a$10$hash", "tokenKey": "k3"}),
            ],
        ),
        (
            "posts",
            vec![
                json!({"id": "p10000000000000", "title": "first", "views": 3, "published": true,
                       "publishedAt": "2025-01-02 03:04:05.000Z", "status": "live",
                       "labels": ["x", "y"], "author": "ualice000000000",
                       "coauthors": ["ubob00000000000", "ualice000000000"],
                       "related": ["p20000000000000"], "meta": {"k": [1, 2], "s": "x"},
                       "loc": {"lon": 23.3, "lat": 42.7}, "attachments": ["a.txt"]}),
                json!({"id": "p20000000000000", "title": "2", "meta": "5", "related": [],
                       "labels": [], "body": "<p>hi</p>", "loc": {"lon": 0, "lat": 0}}),
                json!({"id": "p30000000000000", "title": "null", "meta": null, "views": -7}),
                json!({"id": "p40000000000000", "title": "10", "views": 10, "meta": "10",
                       "labels": ["z"], "publishedAt": "2025-06-15 12:30:45.000Z",
                       "contact": "É@x.com", "body": "TRUE", "author": "ucarol000000000"}),
                json!({"id": "p50000000000000", "title": "É", "meta": true, "views": 1e20,
                       "site": "  5 ", "status": "draft", "related": ["p40000000000000"]}),
                json!({"id": "p60000000000000", "title": "1e3", "views": 0.5, "published": true,
                       "meta": [1, "a", true, null, {"k": 2}], "loc": {"lon": -180, "lat": 90},
                       "coauthors": ["ucarol000000000"], "status": "live"}),
            ],
        ),
        (
            "comments",
            vec![
                json!({"id": "c10000000000000", "message": "hi", "post": "p10000000000000",
                       "likes": ["ualice000000000", "ubob00000000000"]}),
                json!({"id": "c20000000000000", "message": "", "post": "p20000000000000",
                       "replyTo": "c10000000000000", "likes": []}),
                json!({"id": "c30000000000000", "message": "%_\\", "post": "p60000000000000",
                       "likes": ["ucarol000000000"]}),
            ],
        ),
        (
            "audit",
            vec![json!({"id": "a10000000000000", "action": "login", "actor": "ualice000000000",
                        "payload": [1, "two", null]})],
        ),
    ]
}

fn load_collections() -> Vec<Arc<Collection>> {
    let mut colls: Vec<Collection> = Vec::new();
    let schema = schema_json();
    for def in schema.as_array().into_iter().flatten() {
        let mut c = Collection::from_json(def).expect("fixture collection loads");
        let existing: Vec<&Collection> = colls.iter().collect();
        sb_schema::validate::prepare(&mut c, None, &existing);
        colls.push(c);
    }
    // Validated as updates of themselves: a self-relation is only valid once the collection
    // exists.
    let all: Vec<&Collection> = colls.iter().collect();
    for c in &colls {
        let errors = sb_schema::validate::validate(c, Some(c), &all);
        assert!(
            errors.is_empty(),
            "fixture collection {} is invalid: {}",
            c.name,
            errors.to_json()
        );
    }
    colls.into_iter().map(Arc::new).collect()
}

/// The column of a field, as the server creates it.
fn column(field: &sb_schema::Field) -> ColumnDef {
    let primary_key = matches!(&field.kind, FieldKind::Text(o) if o.primary_key);
    let (ty, not_null, default) = match field.kind.storage() {
        Storage::Text if primary_key => (ColumnType::Text, true, None),
        Storage::Text => (ColumnType::Text, true, Some(Value::Text(String::new()))),
        Storage::Number => (ColumnType::Number, true, Some(Value::Int(0))),
        Storage::Bool => (ColumnType::Bool, true, Some(Value::Bool(false))),
        Storage::Json => match field.kind {
            FieldKind::GeoPoint(_) => {
                (ColumnType::Json, true, Some(Value::Json(r#"{"lon":0,"lat":0}"#.into())))
            }
            _ if field.kind.is_multiple() => {
                (ColumnType::Json, true, Some(Value::Json("[]".into())))
            }
            _ => (ColumnType::Json, false, None),
        },
    };
    ColumnDef { name: field.name.clone(), ty, primary_key, not_null, default }
}

/// The stored form of a JSON field value.
fn cell(field: &sb_schema::Field, v: &Json) -> Value {
    match field.kind.storage() {
        Storage::Text => Value::Text(v.as_str().unwrap_or_default().to_owned()),
        Storage::Number => Value::Float(v.as_f64().unwrap_or(0.0)),
        Storage::Bool => Value::Bool(v.as_bool().unwrap_or(false)),
        Storage::Json => Value::Json(v.to_string()),
    }
}

fn bind(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Float(f) => V::Real(*f),
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Text(s) | Value::Json(s) => V::Text(s.clone()),
    }
}

fn execute(conn: &Connection, stmt: &Stmt) {
    let r = Dialect::Sqlite.render(stmt);
    let params: Vec<rusqlite::types::Value> = r.params.iter().map(bind).collect();
    conn.execute(&r.sql, rusqlite::params_from_iter(params))
        .unwrap_or_else(|e| panic!("fixture statement fails: {e}: {}", r.sql));
}

/// SQLite's numeric conversion of a function argument (see `sb_sql::SQLITE_FUNCTIONS`).
fn numeric_arg(ctx: &rusqlite::functions::Context<'_>) -> Option<f64> {
    use rusqlite::types::ValueRef;
    match ctx.get_raw(0) {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}

/// The statements creating the fixture tables (with the DDL the server uses) and their rows.
fn setup_statements(colls: &[Arc<Collection>]) -> Vec<Stmt> {
    let mut out = Vec::new();
    for c in colls {
        let columns = c.fields.iter().map(column).collect();
        let table =
            CreateTable { name: c.name.clone(), if_not_exists: false, rowid: true, columns };
        out.push(Stmt::CreateTable(table));
    }
    for (name, records) in rows() {
        let c = colls.iter().find(|c| c.name == name).expect("rows of a fixture collection");
        for record in records {
            let obj = record.as_object().cloned().unwrap_or_default();
            let (columns, values) = obj
                .iter()
                .map(|(k, v)| {
                    let f = c.field(k).unwrap_or_else(|| panic!("no field {name}.{k}"));
                    (k.clone(), Expr::Param(cell(f, v)))
                })
                .unzip();
            out.push(Stmt::Insert(Insert { table: name.to_owned(), columns, values }));
        }
    }
    out
}

fn open_db(setup: &[Stmt]) -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory SQLite");
    for f in sb_sql::SQLITE_FUNCTIONS {
        let op: fn(f64) -> f64 = match f.name {
            "radians" => f64::to_radians,
            "sin" => f64::sin,
            "cos" => f64::cos,
            "acos" => f64::acos,
            other => panic!("unknown SQLite function {other} in sb_sql::SQLITE_FUNCTIONS"),
        };
        conn.create_scalar_function(
            f.name,
            f.n_args,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| Ok(numeric_arg(ctx).map(op).filter(|x| !x.is_nan())),
        )
        .expect("register function");
    }
    conn.progress_handler(1000, Some(|| STEPS.fetch_add(1, Ordering::Relaxed) >= STEP_BUDGET));
    for stmt in setup {
        execute(&conn, stmt);
    }
    conn
}

/// Alice, as `sb-core` hands the authenticated record to rules (every field, hidden included).
fn auth_user(colls: &[Arc<Collection>]) -> AuthInfo {
    let users = colls.iter().find(|c| c.name == "users").cloned().expect("users collection");
    let alice = rows()
        .into_iter()
        .find(|(n, _)| *n == "users")
        .and_then(|(_, r)| r.into_iter().next())
        .and_then(|r| r.as_object().cloned())
        .unwrap_or_default();
    let mut record = Map::new();
    for f in &users.fields {
        let v =
            alice.get(&f.name).cloned().unwrap_or_else(|| sb_schema::record::zero_value(&f.kind));
        record.insert(f.name.clone(), v);
    }
    record.insert("collectionId".into(), json!(users.id));
    record.insert("collectionName".into(), json!(users.name));
    AuthInfo { collection: users, record }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let colls = load_collections();
        let user = auth_user(&colls);
        let setup = setup_statements(&colls);
        let db = Mutex::new(open_db(&setup));
        let pg = pg::Pg::from_env(&setup).map(Mutex::new);
        Fixture { colls, user, db, pg }
    })
}

fn request(auth: Option<AuthInfo>) -> RequestInfo {
    let body = json!({
        "title": "hello", "views": 3, "published": true, "labels": ["x", "z"],
        "meta": {"k": [1, 2]}, "author": "ualice000000000", "loc": {"lon": 1, "lat": 2},
        "related": [], "status": null,
    });
    RequestInfo {
        context: "default".into(),
        method: "GET".into(),
        headers: BTreeMap::from([
            ("x_token".to_owned(), "abc".to_owned()),
            ("user_agent".to_owned(), "fuzz".to_owned()),
        ]),
        query: BTreeMap::from([
            ("q".to_owned(), "hello".to_owned()),
            ("n".to_owned(), "5".to_owned()),
        ]),
        body: body.as_object().cloned().unwrap_or_default(),
        auth,
    }
}

/// The input split into collection, sort and filter (see the module docs).
fn split(src: &str) -> (&str, &str, &str) {
    match src.split_once('|').and_then(|(c, rest)| rest.split_once('|').map(|(s, f)| (c, s, f))) {
        Some(parts) => parts,
        None => ("posts", "", src),
    }
}

fn pick<'a>(fx: &'a Fixture, name: &str) -> &'a Arc<Collection> {
    let by_bytes = name.bytes().map(usize::from).sum::<usize>() % fx.colls.len();
    fx.colls
        .iter()
        .find(|c| c.name == name)
        .or_else(|| fx.colls.get(by_bytes))
        .expect("the fixture has collections")
}

/// The SQL text without its quoted strings and identifiers (`'...'`, `"..."` and, for SQLite,
/// `` `...` ``; a doubled quote inside closes and reopens, which keeps the scan right).
fn unquoted(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' || (c == '`' && dialect == Dialect::Sqlite) => {
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    assert!(quote.is_none(), "unterminated quote in {sql}");
    out
}

fn check_rendering(sql: &str, n_params: usize, dialect: Dialect) {
    assert!(!sql.contains(MARKER), "a text literal is spliced into the SQL: {sql}");
    let bare = unquoted(sql, dialect);
    let mut depth = 0i64;
    for c in bare.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        assert!(depth >= 0, "unbalanced parentheses in {sql}");
    }
    assert_eq!(depth, 0, "unbalanced parentheses in {sql}");
    match dialect {
        Dialect::Sqlite => {
            let placeholders = bare.matches('?').count();
            assert_eq!(placeholders, n_params, "placeholders vs params in {sql}");
        }
        Dialect::Postgres => {
            assert!(!bare.contains('?'), "'?' outside quotes in PostgreSQL SQL: {sql}");
            let numbers: Vec<usize> = bare
                .split('$')
                .skip(1)
                .map(|rest| {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().unwrap_or_else(|_| panic!("stray '$' in {sql}"))
                })
                .collect();
            let expected: Vec<usize> = (1..=n_params).collect();
            assert_eq!(numbers, expected, "placeholders vs params in {sql}");
        }
    }
}

/// Prepares and runs the statement; the selected ids, or `None` when the run was interrupted.
fn run_sqlite(conn: &Connection, sql: &str, params: &[Value]) -> Option<Vec<String>> {
    let mut stmt = match conn.prepare(sql) {
        Ok(stmt) => stmt,
        Err(e) => panic!("SQLite cannot prepare the statement: {e}\n{sql}"),
    };
    assert_eq!(stmt.parameter_count(), params.len(), "SQLite parameter count of {sql}");
    let values: Vec<rusqlite::types::Value> = params.iter().map(bind).collect();
    STEPS.store(0, Ordering::Relaxed);
    let result = stmt
        .query_map(rusqlite::params_from_iter(values), |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
    match result {
        Ok(ids) => Some(ids),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            None
        }
        // SQLite's constant propagation turns `col = 'x' AND JSON_EXTRACT(col, …)` into
        // `JSON_EXTRACT('x', …)`, which fails; the server answers it with a 400
        // (`ErrorKind::BadValue`), so it is an expected outcome here, not a bug.
        Err(rusqlite::Error::SqliteFailure(_, Some(msg))) if msg.contains("malformed JSON") => None,
        Err(e) => panic!("SQLite cannot run the statement: {e}\n{sql}\nparams: {params:?}"),
    }
}

static STEPS: AtomicU32 = AtomicU32::new(0);

fn compile_and_check(
    fx: &Fixture,
    coll: &Collection,
    filter: &sb_filter::Expr,
    sort: &[sb_filter::SortItem],
    access: Access,
    request: &RequestInfo,
) {
    let rule = match (access, coll.list_rule.as_deref()) {
        (Access::Client, Some(rule)) if !rule.is_empty() => {
            Some(sb_filter::parse_filter(rule).expect("fixture listRule parses"))
        }
        _ => None,
    };
    let mut filters = Vec::new();
    if let Some(rule) = &rule {
        filters.push((rule, Access::Full));
    }
    filters.push((filter, access));
    let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default();
    let scope = Scope { collection: coll, alias: "t", lookup: fx, request, access, now };
    let Ok(compiled) = sb_query::compile_query(&filters, sort, &scope) else {
        return;
    };
    let stmt = Stmt::Select(Select {
        columns: vec![SelectItem::Expr { expr: Expr::col("t", "id"), alias: None }],
        from: Some(FromItem::Table { name: coll.name.clone(), alias: Some("t".into()) }),
        where_: compiled.where_,
        order_by: compiled.order_by,
        ..Select::default()
    });
    let lite = Dialect::Sqlite.render(&stmt);
    check_rendering(&lite.sql, lite.params.len(), Dialect::Sqlite);
    let postgres = Dialect::Postgres.render(&stmt);
    check_rendering(&postgres.sql, postgres.params.len(), Dialect::Postgres);

    let lite_ids = {
        let conn = fx.db.lock().unwrap_or_else(|e| e.into_inner());
        run_sqlite(&conn, &lite.sql, &lite.params)
    };
    let Some(pg) = &fx.pg else { return };
    let pg_ids = pg.lock().unwrap_or_else(|e| e.into_inner()).ids(&postgres.sql, &postgres.params);
    if let (Some(mut a), Some(mut b)) = (lite_ids, pg_ids) {
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "SQLite and PostgreSQL select different rows\n{}\n{}",
            lite.sql, postgres.sql
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let (coll_name, sort_src, filter_src) = split(src);
    let sort = sb_filter::parse_sort(sort_src);
    let filter = sb_filter::parse_filter(filter_src);
    let (Ok(sort), Ok(filter)) = (sort, filter) else {
        return;
    };
    let fx = fixture();
    let coll = pick(fx, coll_name);
    let user = request(Some(fx.user.clone()));
    let guest = request(None);
    compile_and_check(fx, coll, &filter, &sort, Access::Client, &user);
    compile_and_check(fx, coll, &filter, &sort, Access::Full, &user);
    compile_and_check(fx, coll, &filter, &sort, Access::Full, &guest);
});
