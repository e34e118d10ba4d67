//! Integration tests of the PostgreSQL store. Each test creates its own database on
//! `SCALEBASE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drops it
//! afterwards; an unreachable server fails the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sb_store::{ErrorKind, Stmt, Store, Value};
use sb_store_postgres::{PostgresConfig, PostgresStore, open};
use tokio_postgres::NoTls;

fn admin_url() -> String {
    std::env::var("SCALEBASE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, dropped when this goes out of scope (also when the test panics).
struct TestDb {
    name: String,
}

impl TestDb {
    async fn create() -> TestDb {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "sbtest_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        admin(&format!("CREATE DATABASE {name}")).await;
        TestDb { name }
    }

    /// The admin URL with this database instead.
    fn url(&self) -> String {
        let admin = admin_url();
        let (base, query) =
            admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
        let (server, _) = base.rsplit_once('/').expect("a URL with a database path");
        match query {
            Some(q) => format!("{server}/{}?{q}", self.name),
            None => format!("{server}/{}", self.name),
        }
    }

    async fn open(&self, tune: impl FnOnce(&mut PostgresConfig)) -> Arc<PostgresStore> {
        let mut config = PostgresConfig::new(self.url());
        tune(&mut config);
        Arc::new(open(config).await.expect("open"))
    }

    /// A direct connection to the test database (another "node").
    async fn connect(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own: this may run inside (or after) the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(admin(&sql));
            }
        });
        let _ = dropped.join();
    }
}

async fn admin(sql: &str) {
    let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .expect("PostgreSQL must be reachable at SCALEBASE_TEST_PG_URL");
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = task.await;
}

fn raw(sql: &str, params: Vec<Value>) -> Stmt {
    Stmt::Raw { sql: sql.to_owned(), params }
}

fn sql(sql: &str) -> Stmt {
    raw(sql, Vec::new())
}

fn insert(id: i64, name: &str) -> Stmt {
    raw("INSERT INTO t (id, name) VALUES (?, ?)", vec![Value::Int(id), name.into()])
}

/// A database with table `t (id BIGINT PRIMARY KEY, name TEXT)` and a store on it.
async fn with_table(tune: impl FnOnce(&mut PostgresConfig)) -> (TestDb, Arc<PostgresStore>) {
    let db = TestDb::create().await;
    let store = db.open(tune).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")).await.unwrap();
    tx.commit().await.unwrap();
    (db, store)
}

async fn names(store: &PostgresStore) -> Vec<String> {
    let rows = store.query(&sql("SELECT name FROM t ORDER BY id")).await.expect("select");
    rows.rows.into_iter().map(|r| r[0].as_str().expect("text").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_become_visible_to_reads_on_commit_only() {
    let (_db, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.execute(&insert(1, "a")).await.unwrap(), 1);
    let own = tx.query(&sql("SELECT count(*) AS n FROM t")).await.unwrap();
    assert_eq!(own.rows, vec![vec![Value::Int(1)]]);
    assert_eq!(&*own.columns, ["n".to_owned()]);
    assert!(names(&store).await.is_empty());
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_bind_and_columns_decode_by_type() {
    let db = TestDb::create().await;
    let store = db.open(|_| {}).await;
    let rows = store
        .query(&raw(
            "SELECT ?, ?, ?, ?, ?, ?",
            vec![
                Value::Int(-7),
                Value::Float(1.5),
                "text".into(),
                Value::Bool(true),
                Value::Json("[1, 2]".into()),
                Value::Null,
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Int(-7),
            Value::Float(1.5),
            Value::Text("text".into()),
            Value::Bool(true),
            Value::Json("[1, 2]".into()),
            Value::Null,
        ]]
    );

    let rows = store
        .query(&sql(
            "SELECT 1::int2, 2::int4, 3::int8, 0.25::float4, 12.5::numeric, avg(x), count(*), \
             'v'::varchar, 'n'::name, '{\"a\": 1}'::jsonb, '2024-02-29 12:34:56.789123+00'::timestamptz, \
             '2024-02-29 01:02:03'::timestamp, '2024-02-29'::date, ARRAY[1, 2] \
             FROM (VALUES (1), (2), (4)) AS v(x)",
        ))
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::Float(0.25),
            Value::Float(12.5),
            Value::Float(7.0 / 3.0),
            Value::Int(3),
            Value::Text("v".into()),
            Value::Text("n".into()),
            Value::Json("{\"a\": 1}".into()),
            Value::Text("2024-02-29 12:34:56.789Z".into()),
            Value::Text("2024-02-29 01:02:03.000Z".into()),
            Value::Text("2024-02-29".into()),
            Value::Null,
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_counts_changed_rows_also_with_returning() {
    let (_db, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    for i in 1..=3 {
        tx.execute(&insert(i, "x")).await.unwrap();
    }
    assert_eq!(tx.execute(&sql("UPDATE t SET name = 'y' WHERE id > 1")).await.unwrap(), 2);
    assert_eq!(tx.execute(&sql("DELETE FROM t WHERE id = 1 RETURNING id")).await.unwrap(), 1);
    let returned = tx.query(&sql("UPDATE t SET name = 'z' WHERE id = 3 RETURNING id")).await;
    assert_eq!(returned.unwrap().rows, vec![vec![Value::Int(3)]]);
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["y", "z"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_rollback_discards_writes() {
    let (_db, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(names(&store).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back_before_its_connection_is_reused() {
    // One connection: the next transaction must get it back outside the dropped one.
    let (_db, store) = with_table(|c| c.pool_size = 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(2, "b")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cancelled_mid_statement_is_rolled_back() {
    let (_db, store) = with_table(|c| c.pool_size = 1).await;
    // Slow enough that its answer cannot arrive during the first poll.
    let slow_insert = |id: i64, name: &str| {
        raw(
            "INSERT INTO t (id, name) SELECT ?, ? FROM pg_sleep(0.05)",
            vec![Value::Int(id), name.into()],
        )
    };
    // Cache the statement, so that the first poll sends BEGIN and the INSERT at once.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&slow_insert(1, "a")).await.unwrap();
    tx.rollback().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let stmt = slow_insert(2, "b");
    let mut pending = tx.execute(&stmt);
    assert!(futures::poll!(pending.as_mut()).is_pending());
    drop(pending);
    drop(tx);
    // Same connection: it must not still be inside the cancelled transaction.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(3, "c")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_disables_the_transaction() {
    let (_db, store) = with_table(|c| c.pool_size = 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    assert_eq!(tx.execute(&insert(1, "dup")).await.unwrap_err().kind, ErrorKind::Unique);
    assert_eq!(tx.execute(&insert(2, "b")).await.unwrap_err().kind, ErrorKind::Other);
    assert!(tx.commit().await.is_err());
    assert!(names(&store).await.is_empty());
    // The connection is usable again.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(3, "c")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_transactions_commit_and_roll_back() {
    let db = TestDb::create().await;
    let store = db.open(|c| c.pool_size = 1).await;
    store.begin().await.unwrap().commit().await.unwrap();
    store.begin().await.unwrap().rollback().await.unwrap();
    drop(store.begin().await.unwrap());
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_all_commit() {
    let (_db, store) = with_table(|c| c.pool_size = 8).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                tx.execute(&insert(i, &format!("n{i}"))).await?;
                tx.commit().await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(names(&store).await.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_violations_name_index_and_columns() {
    let (_db, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql("CREATE TABLE u (a TEXT, b TEXT, c TEXT)")).await.unwrap();
    tx.execute(&sql("CREATE UNIQUE INDEX u_ab ON u (a, b)")).await.unwrap();
    tx.execute(&sql("CREATE UNIQUE INDEX u_c ON u (lower(c))")).await.unwrap();
    tx.execute(&sql("INSERT INTO u VALUES ('x', 'y', 'Z')")).await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    tx.commit().await.unwrap();

    let attempt = |stmt: Stmt| {
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.execute(&stmt).await.unwrap_err()
        }
    };
    let e = attempt(sql("INSERT INTO u VALUES ('x', 'y', 'other')")).await;
    assert_eq!(e.kind, ErrorKind::Unique);
    let u = e.unique.unwrap();
    assert_eq!(
        (u.index.as_deref(), u.columns),
        (Some("u_ab"), vec!["a".to_owned(), "b".to_owned()])
    );
    let e = attempt(insert(1, "again")).await;
    let u = e.unique.unwrap();
    assert_eq!((u.index.as_deref(), u.columns), (Some("t_pkey"), vec!["id".to_owned()]));
    let e = attempt(sql("INSERT INTO u VALUES ('1', '2', 'z')")).await;
    let u = e.unique.unwrap();
    assert_eq!((u.index.as_deref(), u.columns), (Some("u_c"), vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_errors_are_classified() {
    let db = TestDb::create().await;
    let store = db.open(|_| {}).await;
    assert_eq!(store.query(&sql("SELEC 1")).await.unwrap_err().kind, ErrorKind::Syntax);
    assert_eq!(
        store.query(&sql("SELECT * FROM missing")).await.unwrap_err().kind,
        ErrorKind::Syntax
    );
    assert_eq!(
        store.query(&sql("SELECT nope FROM pg_class")).await.unwrap_err().kind,
        ErrorKind::Syntax
    );

    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql("CREATE TABLE p (id INT PRIMARY KEY)")).await.unwrap();
    tx.execute(&sql(
        "CREATE TABLE n (a TEXT NOT NULL, b INT CHECK (b > 0), p INT REFERENCES p (id))",
    ))
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for (stmt, kind) in [
        ("INSERT INTO n VALUES (NULL, 1, NULL)", ErrorKind::NotNull),
        ("INSERT INTO n VALUES ('a', 0, NULL)", ErrorKind::Check),
        ("INSERT INTO n VALUES ('a', 1, 5)", ErrorKind::ForeignKey),
    ] {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.execute(&sql(stmt)).await.unwrap_err().kind, kind, "{stmt}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_statements_time_out() {
    let db = TestDb::create().await;
    let store = db.open(|c| c.statement_timeout = Duration::from_millis(100)).await;
    let e = store.query(&sql("SELECT pg_sleep(5)")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_host_urls_skip_unreachable_hosts() {
    let db = TestDb::create().await;
    let config: tokio_postgres::Config = db.url().parse().unwrap();
    let user = config.get_user().unwrap_or("postgres");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("a TCP host is needed for this test, got {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    // Port 1 on loopback refuses connections.
    let url = format!(
        "postgres://{user}@127.0.0.1:1,{host}:{port}/{}?target_session_attrs=read-write",
        db.name
    );
    let store = open(PostgresConfig::new(url)).await.expect("second host");
    store.ping().await.unwrap();
    store.close().await;

    let mut only_bad = PostgresConfig::new(format!("postgres://{user}@127.0.0.1:1/{}", db.name));
    only_bad.connect_timeout = Duration::from_secs(1);
    assert_eq!(open(only_bad).await.err().map(|e| e.kind), Some(ErrorKind::Unavailable));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_columns_are_case_sensitive_and_hide_rowid() {
    let db = TestDb::create().await;
    let store = db.open(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql(
        "CREATE TABLE \"Posts\" (_rowid BIGINT GENERATED ALWAYS AS IDENTITY, id TEXT, \"Title\" TEXT)",
    ))
    .await
    .unwrap();
    tx.execute(&sql("CREATE VIEW posts_view AS SELECT id FROM \"Posts\"")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.table_columns("Posts").await.unwrap(), ["id", "Title"]);
    assert!(store.table_columns("posts").await.unwrap().is_empty());
    assert_eq!(store.table_columns("posts_view").await.unwrap(), ["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_statements_survive_schema_changes_by_other_nodes() {
    let (db, store) = with_table(|c| c.pool_size = 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    tx.commit().await.unwrap();
    let select_all = sql("SELECT * FROM t");
    assert_eq!(store.query(&select_all).await.unwrap().columns.len(), 2);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.query(&select_all).await.unwrap().columns.len(), 2);
    tx.commit().await.unwrap();

    // Another node alters the table: our cached plans of `SELECT *` are now stale.
    let other = db.connect().await;
    other.batch_execute("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'e'").await.unwrap();
    assert_eq!(store.query(&select_all).await.unwrap().columns.len(), 3);

    other.batch_execute("ALTER TABLE t ADD COLUMN more INT DEFAULT 0").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.query(&select_all).await.unwrap().columns.len(), 4);
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opening_together_install_support_sql() {
    let db = TestDb::create().await;
    let url = db.url();
    let opens: Vec<_> =
        (0..3).map(|_| tokio::spawn(open(PostgresConfig::new(url.clone())))).collect();
    for o in opens {
        let store = o.await.unwrap().expect("open");
        store.ping().await.unwrap();
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_store_is_unavailable() {
    let db = TestDb::create().await;
    let store = db.open(|_| {}).await;
    store.ping().await.unwrap();
    store.close().await;
    assert_eq!(store.ping().await.unwrap_err().kind, ErrorKind::Unavailable);
    assert_eq!(store.begin().await.err().map(|e| e.kind), Some(ErrorKind::Unavailable));
}

mod ast {
    //! Statements built from the sb-sql tree, rendered by the PostgreSQL dialect.

    use sb_sql::{
        ColumnDef, ColumnType, CreateTable, Delete, Expr, FromItem, IndexColumn, IndexDef, Insert,
        OrderBy, Select, SelectItem, Ty, Update,
    };
    use sb_store::Rows;

    use super::*;

    fn column(name: &str, ty: ColumnType) -> ColumnDef {
        ColumnDef { name: name.into(), ty, primary_key: false, not_null: false, default: None }
    }

    fn posts() -> Stmt {
        Stmt::CreateTable(CreateTable {
            name: "posts".into(),
            if_not_exists: false,
            rowid: true,
            columns: vec![
                ColumnDef { primary_key: true, ..column("id", ColumnType::Text) },
                column("title", ColumnType::Text),
                column("views", ColumnType::Number),
                column("published", ColumnType::Bool),
                column("meta", ColumnType::Json),
            ],
        })
    }

    fn insert_post(id: &str, title: &str, views: f64) -> Stmt {
        Stmt::Insert(Insert {
            table: "posts".into(),
            columns: vec![
                "id".into(),
                "title".into(),
                "views".into(),
                "published".into(),
                "meta".into(),
            ],
            values: vec![
                Expr::param(id),
                Expr::param(title),
                Expr::param(views),
                Expr::param(true),
                Expr::Param(Value::Json("{\"a\":[1,2]}".into())),
            ],
        })
    }

    fn by_id(id: &str) -> Option<Expr> {
        Some(Expr::eq(Expr::bare("id"), Expr::param(id), Ty::Text))
    }

    fn select_all() -> Stmt {
        Stmt::Select(Select {
            columns: vec![SelectItem::All(None)],
            from: Some(FromItem::Table { name: "posts".into(), alias: None }),
            order_by: vec![OrderBy { expr: Expr::RowId { table: None }, desc: false }],
            ..Select::default()
        })
    }

    fn cell<'a>(rows: &'a Rows, row: usize, name: &str) -> &'a Value {
        &rows.rows[row][rows.column_index(name).expect(name)]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crud_through_the_tree() {
        let db = TestDb::create().await;
        let store = db.open(|_| {}).await;
        let mut tx = store.begin().await.unwrap();
        tx.execute(&posts()).await.unwrap();
        tx.execute(&Stmt::CreateIndex(IndexDef {
            name: "idx_title".into(),
            table: "posts".into(),
            unique: true,
            if_not_exists: false,
            columns: vec![IndexColumn {
                name: "title".into(),
                is_expr: false,
                nocase: false,
                desc: false,
            }],
            where_: None,
        }))
        .await
        .unwrap();
        tx.execute(&insert_post("p1", "first", 3.0)).await.unwrap();
        tx.execute(&insert_post("p2", "second", 2.5)).await.unwrap();
        tx.commit().await.unwrap();

        let rows = store.query(&select_all()).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(cell(&rows, 0, "id"), &Value::Text("p1".into()));
        assert_eq!(cell(&rows, 0, "views"), &Value::Float(3.0));
        assert_eq!(cell(&rows, 0, "published"), &Value::Bool(true));
        assert_eq!(cell(&rows, 0, "meta"), &Value::Json("{\"a\":[1,2]}".into()));
        assert_eq!(cell(&rows, 1, "views"), &Value::Float(2.5));
        assert_eq!(
            store.table_columns("posts").await.unwrap(),
            ["id", "title", "views", "published", "meta"]
        );

        let mut tx = store.begin().await.unwrap();
        let update = Stmt::Update(Update {
            table: "posts".into(),
            set: vec![("views".into(), Expr::param(10.0))],
            where_: by_id("p1"),
        });
        assert_eq!(tx.execute(&update).await.unwrap(), 1);
        let dup = tx.execute(&insert_post("p3", "second", 1.0)).await.unwrap_err();
        let unique = dup.unique.expect("unique details");
        assert_eq!(unique.columns, ["title"]);
        assert_eq!(unique.index.as_deref(), Some("idx_title"));
        drop(tx);

        let mut tx = store.begin().await.unwrap();
        tx.execute(&update).await.unwrap();
        let delete = Stmt::Delete(Delete { table: "posts".into(), where_: by_id("p2") });
        assert_eq!(tx.execute(&delete).await.unwrap(), 1);
        tx.commit().await.unwrap();
        let rows = store.query(&select_all()).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(cell(&rows, 0, "views"), &Value::Float(10.0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn geo_distance_uses_the_support_functions() {
        let db = TestDb::create().await;
        let store = db.open(|_| {}).await;
        let num = |v: f64| Expr::param(v).typed(Ty::Number);
        // Paris → London.
        let distance = Expr::GeoDistance {
            lon_a: Box::new(num(2.3522)),
            lat_a: Box::new(num(48.8566)),
            lon_b: Box::new(num(-0.1276)),
            lat_b: Box::new(num(51.5072)),
        };
        let stmt = Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: distance, alias: Some("d".into()) }],
            ..Select::default()
        });
        let rows = store.query(&stmt).await.unwrap();
        let km = rows.rows[0][0].as_f64().expect("a number");
        assert!((km - 343.5).abs() < 1.0, "{km}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_script_commits_all_or_nothing() {
    let (_db, store) = with_table(|_| {}).await;
    let update = raw("UPDATE t SET name = 'x' WHERE id > ?", vec![Value::Int(1)]);
    assert_eq!(store.write(&[insert(1, "a"), insert(2, "b"), update]).await.unwrap(), [1, 1, 1]);
    assert_eq!(names(&store).await, ["a", "x"]);
    let err = store.write(&[insert(3, "c"), insert(1, "dup"), insert(4, "d")]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unique);
    assert_eq!(names(&store).await, ["a", "x"]);
}
