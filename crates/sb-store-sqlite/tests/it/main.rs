//! Integration tests of the SQLite store: real files in temporary directories.

use std::sync::Arc;
use std::time::Duration;

use sb_store::{ErrorKind, Stmt, Store, Value};
use sb_store_sqlite::{SqliteConfig, SqliteStore, open};
use tempfile::TempDir;

fn raw(sql: &str, params: Vec<Value>) -> Stmt {
    Stmt::Raw { sql: sql.to_owned(), params }
}

fn sql(sql: &str) -> Stmt {
    raw(sql, Vec::new())
}

async fn fresh(tune: impl FnOnce(&mut SqliteConfig)) -> (TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = SqliteConfig::new(dir.path().join("nested/dir/data.db"));
    tune(&mut config);
    let store = open(config).await.expect("open");
    (dir, Arc::new(store))
}

/// A store with table `t (id INTEGER PRIMARY KEY, name TEXT)`.
async fn with_table(tune: impl FnOnce(&mut SqliteConfig)) -> (TempDir, Arc<SqliteStore>) {
    let (dir, store) = fresh(tune).await;
    let mut tx = store.begin().await.expect("begin");
    tx.execute(&sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")).await.expect("create");
    tx.commit().await.expect("commit");
    (dir, store)
}

async fn names(store: &SqliteStore) -> Vec<String> {
    let rows = store.query(&sql("SELECT name FROM t ORDER BY id")).await.expect("select");
    rows.rows.into_iter().map(|r| r[0].as_str().expect("text").to_owned()).collect()
}

fn insert(id: i64, name: &str) -> Stmt {
    raw("INSERT INTO t (id, name) VALUES (?, ?)", vec![Value::Int(id), name.into()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_become_visible_to_reads_on_commit_only() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.execute(&insert(1, "a")).await.unwrap(), 1);
    // The transaction sees its own write; readers do not, yet.
    let own = tx.query(&sql("SELECT count(*) AS n FROM t")).await.unwrap();
    assert_eq!(own.rows, vec![vec![Value::Int(1)]]);
    assert_eq!(&*own.columns, ["n".to_owned()]);
    assert!(names(&store).await.is_empty());
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_map_both_ways() {
    let (_dir, store) = fresh(|_| {}).await;
    let rows = store
        .query(&raw(
            "SELECT ?, ?, ?, ?, ?, ?, x'6869'",
            vec![
                Value::Null,
                Value::Int(-7),
                Value::Float(1.5),
                "text".into(),
                Value::Bool(true),
                Value::Json("[1,2]".into()),
            ],
        ))
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Null,
            Value::Int(-7),
            Value::Float(1.5),
            Value::Text("text".into()),
            Value::Int(1),
            Value::Text("[1,2]".into()),
            Value::Text("hi".into()),
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_counts_changed_rows_also_with_returning() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    for i in 1..=3 {
        tx.execute(&insert(i, "x")).await.unwrap();
    }
    assert_eq!(tx.execute(&sql("UPDATE t SET name = 'y' WHERE id > 1")).await.unwrap(), 2);
    assert_eq!(tx.execute(&sql("DELETE FROM t WHERE id = 1 RETURNING id")).await.unwrap(), 1);
    assert_eq!(tx.execute(&sql("SELECT * FROM t")).await.unwrap(), 0);
    let returned = tx.query(&sql("UPDATE t SET name = 'z' WHERE id = 3 RETURNING id")).await;
    assert_eq!(returned.unwrap().rows, vec![vec![Value::Int(3)]]);
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["y", "z"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_rollback_discards_writes() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(names(&store).await.is_empty());
    assert_eq!(store.stats().rolled_back_jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    drop(tx);
    // The next transaction runs after the dropped one was rolled back.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(2, "b")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_rolls_the_transaction_back_and_disables_it() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    let err = tx.execute(&insert(1, "dup")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unique);
    let later = tx.execute(&insert(2, "b")).await.unwrap_err();
    assert_eq!(later.kind, ErrorKind::Other);
    assert!(tx.commit().await.is_err());
    assert!(names(&store).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_does_not_spoil_the_others_of_its_group() {
    let (_dir, store) = with_table(|_| {}).await;
    let before = store.stats();

    // Job 1 runs first; jobs 2 and 3 are queued behind it, so all three share one group.
    let mut tx1 = store.begin().await.unwrap();
    let mut tx2 = store.begin().await.unwrap();
    let mut tx3 = store.begin().await.unwrap();
    tx1.execute(&insert(1, "one")).await.unwrap();
    // Its commit is acknowledged only when the whole group commits.
    let commit1 = tokio::spawn(tx1.commit());

    tx2.execute(&insert(2, "two")).await.unwrap();
    assert_eq!(
        tx2.execute(&sql("INSERT INTO nope VALUES (1)")).await.unwrap_err().kind,
        ErrorKind::Syntax
    );
    drop(tx2);

    tx3.execute(&insert(3, "three")).await.unwrap();
    tx3.commit().await.unwrap();
    commit1.await.unwrap().unwrap();

    assert_eq!(names(&store).await, ["one", "three"]);
    let after = store.stats();
    assert_eq!(after.commits - before.commits, 1);
    assert_eq!(after.committed_jobs - before.committed_jobs, 2);
    assert_eq!(after.largest_group, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_are_committed_in_groups() {
    let (dir, store) = with_table(|_| {}).await;
    let before = store.stats();
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
    let after = store.stats();
    assert_eq!(after.committed_jobs - before.committed_jobs, 200);
    let commits = after.commits - before.commits;
    assert!(commits < 200, "no grouping: {commits} commits for 200 transactions");
    assert!(after.largest_group > 1);
    assert_eq!(names(&store).await.len(), 200);

    // Durable: a fresh store on the same file sees all of them.
    let path = dir.path().join("nested/dir/data.db");
    store.close().await;
    let reopened = open(SqliteConfig::new(path)).await.unwrap();
    assert_eq!(names(&reopened).await.len(), 200);
    reopened.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_violations_name_their_columns() {
    let (_dir, store) = with_table(|_| {}).await;
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
    assert_eq!(e.unique.unwrap().columns, ["a", "b"]);
    let e = attempt(insert(1, "again")).await;
    assert_eq!(e.unique.unwrap().columns, ["id"]);
    let e = attempt(sql("INSERT INTO u VALUES ('1', '2', 'z')")).await;
    assert_eq!(e.unique.unwrap().index.as_deref(), Some("u_c"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_errors_are_classified() {
    let (_dir, store) = fresh(|_| {}).await;
    assert_eq!(store.query(&sql("SELEC 1")).await.unwrap_err().kind, ErrorKind::Syntax);
    assert_eq!(
        store.query(&sql("SELECT * FROM missing")).await.unwrap_err().kind,
        ErrorKind::Syntax
    );
    assert_eq!(store.query(&sql("SELECT 1; SELECT 2")).await.unwrap_err().kind, ErrorKind::Syntax);
    assert_eq!(store.query(&raw("SELECT ?", vec![])).await.unwrap_err().kind, ErrorKind::Syntax);

    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql("CREATE TABLE n (a TEXT NOT NULL, b INTEGER CHECK (b > 0))")).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let e = tx.execute(&sql("INSERT INTO n VALUES (NULL, 1)")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotNull);
    let mut tx = store.begin().await.unwrap();
    let e = tx.execute(&sql("INSERT INTO n VALUES ('a', 0)")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Check);
    // Readers are read-only.
    let e = store.query(&sql("INSERT INTO n VALUES ('a', 1)")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Other);
}

/// Counts to a billion: far longer than any timeout used here.
const SLOW: &str = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000000) \
                    SELECT max(i) FROM c";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_reads_time_out() {
    let (_dir, store) = fresh(|c| c.query_timeout = Duration::from_millis(100)).await;
    let e = store.query(&sql(SLOW)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    // The reader is fine afterwards.
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_write_fails_the_pending_commits_of_its_group() {
    let (_dir, store) = with_table(|c| c.query_timeout = Duration::from_millis(100)).await;
    let mut tx1 = store.begin().await.unwrap();
    let mut tx2 = store.begin().await.unwrap();
    tx1.execute(&insert(1, "one")).await.unwrap();
    let commit1 = tokio::spawn(tx1.commit());
    let slow_insert = format!("INSERT INTO t (name) {}", SLOW.replace("max(i)", "i"));
    let e = tx2.execute(&sql(&slow_insert)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    // SQLite rolled back the whole physical transaction, so job 1 was not committed either.
    assert_eq!(commit1.await.unwrap().unwrap_err().kind, ErrorKind::Busy);
    assert!(names(&store).await.is_empty());
    // The writer goes on.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "retried")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(names(&store).await, ["retried"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_transaction_is_rolled_back_and_others_proceed() {
    let (_dir, store) = with_table(|c| c.stall_timeout = Duration::from_millis(200)).await;
    let mut stalled = store.begin().await.unwrap();
    stalled.execute(&insert(1, "stalled")).await.unwrap();

    // Queued behind the stalled one; runs once the writer gives up on it.
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(2, "next")).await.unwrap();
    tx.commit().await.unwrap();

    let e = stalled.execute(&insert(3, "late")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(stalled.commit().await.unwrap_err().kind, ErrorKind::Timeout);
    assert_eq!(names(&store).await, ["next"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_columns_ping_and_close() {
    let (dir, store) = with_table(|_| {}).await;
    assert_eq!(store.table_columns("t").await.unwrap(), ["id", "name"]);
    assert!(store.table_columns("missing").await.unwrap().is_empty());
    store.ping().await.unwrap();
    assert!(dir.path().join("nested/dir/data.db").exists());

    store.close().await;
    // The last connection to close checkpointed the WAL away.
    assert!(!dir.path().join("nested/dir/data.db-wal").exists());
    assert_eq!(store.ping().await.unwrap_err().kind, ErrorKind::Unavailable);
    assert_eq!(store.begin().await.err().map(|e| e.kind), Some(ErrorKind::Unavailable));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_finishes_queued_transactions() {
    let (_dir, store) = with_table(|_| {}).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    let commit = tokio::spawn(tx.commit());
    store.close().await;
    commit.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_statements_follow_schema_changes() {
    let (_dir, store) = with_table(|c| c.readers = 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.execute(&insert(1, "a")).await.unwrap();
    let select_all = sql("SELECT * FROM t");
    assert_eq!(tx.query(&select_all).await.unwrap().columns.len(), 2);
    tx.execute(&sql("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'e'")).await.unwrap();
    let rows = tx.query(&select_all).await.unwrap();
    assert_eq!((rows.columns.len(), rows.rows[0].len()), (3, 3));
    tx.commit().await.unwrap();

    let before = store.query(&select_all).await.unwrap();
    assert_eq!(before.columns.len(), 3);
    let mut tx = store.begin().await.unwrap();
    tx.execute(&sql("ALTER TABLE t DROP COLUMN extra")).await.unwrap();
    tx.commit().await.unwrap();
    let after = store.query(&select_all).await.unwrap();
    assert_eq!(&*after.columns, ["id".to_owned(), "name".to_owned()]);
    assert_eq!(after.rows, vec![vec![Value::Int(1), Value::Text("a".into())]]);
}

mod ast {
    //! Statements built from the sb-sql tree, rendered by the SQLite dialect.

    use sb_sql::{
        ColumnDef, ColumnType, CreateTable, Delete, Expr, FromItem, IndexColumn, IndexDef, Insert,
        OrderBy, Select, SelectItem, Ty, Update,
    };

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn crud_through_the_tree() {
        let (_dir, store) = fresh(|_| {}).await;
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
        assert_eq!(&*rows.columns, ["id", "title", "views", "published", "meta"].map(String::from));
        // NUMERIC affinity stores an integral float as an integer; booleans are 0/1 and JSON
        // is text on SQLite.
        assert_eq!(
            rows.rows[0],
            vec![
                Value::Text("p1".into()),
                Value::Text("first".into()),
                Value::Int(3),
                Value::Int(1),
                Value::Text("{\"a\":[1,2]}".into()),
            ]
        );
        assert_eq!(rows.rows[1][2], Value::Float(2.5));

        let mut tx = store.begin().await.unwrap();
        let update = Stmt::Update(Update {
            table: "posts".into(),
            set: vec![("views".into(), Expr::param(10.0))],
            where_: by_id("p1"),
        });
        assert_eq!(tx.execute(&update).await.unwrap(), 1);
        let dup = tx.execute(&insert_post("p3", "second", 1.0)).await.unwrap_err();
        assert_eq!(dup.unique.map(|u| u.columns), Some(vec!["title".to_owned()]));
        drop(tx);

        let mut tx = store.begin().await.unwrap();
        tx.execute(&update).await.unwrap();
        let delete = Stmt::Delete(Delete { table: "posts".into(), where_: by_id("p2") });
        assert_eq!(tx.execute(&delete).await.unwrap(), 1);
        tx.commit().await.unwrap();
        let rows = store.query(&select_all()).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows.rows[0][2], Value::Int(10));
        assert_eq!(store.table_columns("posts").await.unwrap().len(), 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn geo_distance_uses_the_registered_math_functions() {
        let (_dir, store) = fresh(|_| {}).await;
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
    let (_dir, store) = with_table(|_| {}).await;
    let update = raw("UPDATE t SET name = 'x' WHERE id > ?", vec![Value::Int(1)]);
    assert_eq!(store.write(&[insert(1, "a"), insert(2, "b"), update]).await.unwrap(), [1, 1, 1]);
    assert_eq!(names(&store).await, ["a", "x"]);

    // The second statement fails: the first is undone and the failure is the statement's own.
    let before = store.stats();
    let err = store.write(&[insert(3, "c"), insert(1, "dup"), insert(4, "d")]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unique);
    assert_eq!(names(&store).await, ["a", "x"]);
    assert_eq!(store.stats().rolled_back_jobs - before.rolled_back_jobs, 1);

    // Concurrent scripts share group commits like interactive transactions do.
    let before = store.stats();
    let tasks: Vec<_> = (10..110)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.write(&[insert(i, &format!("n{i}"))]).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), [1]);
    }
    let after = store.stats();
    assert_eq!(after.committed_jobs - before.committed_jobs, 100);
    assert_eq!(names(&store).await.len(), 102);
}
