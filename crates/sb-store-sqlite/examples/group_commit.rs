//! Write throughput of the SQLite store: small insert transactions from N concurrent tasks,
//! with group commit (`max_group` 256) and without it (`max_group` 1: one fsync per
//! transaction), for both `synchronous` levels. With `synchronous=FULL` each commit is one
//! fsync of the WAL; with `NORMAL` commits do not fsync.
//!
//! Run: `cargo run --release -p sb-store-sqlite --example group_commit [DIR]`
//! (DIR: where the database files go; default: a temporary directory).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sb_store::{Stmt, Store, Value};
use sb_store_sqlite::{SqliteConfig, Synchronous, open};

const DURATION: Duration = Duration::from_secs(3);

fn raw(sql: &str, params: Vec<Value>) -> Stmt {
    Stmt::Raw { sql: sql.to_owned(), params }
}

async fn run(dir: &std::path::Path, sync: Synchronous, max_group: usize, writers: usize) {
    let path = dir.join(format!("bench-{sync:?}-{max_group}-{writers}.db"));
    let mut config = SqliteConfig::new(&path);
    config.synchronous = sync;
    config.max_group = max_group;
    let store = Arc::new(open(config).await.expect("open"));
    let mut tx = store.begin().await.expect("begin");
    tx.execute(&raw("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n REAL)", vec![]))
        .await
        .expect("create");
    tx.commit().await.expect("commit");

    let before = store.stats();
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                while start.elapsed() < DURATION {
                    let mut tx = store.begin().await.expect("begin");
                    let params =
                        vec![Value::Text(format!("writer {w} row {done}")), Value::Float(1.5)];
                    tx.execute(&raw("INSERT INTO t (name, n) VALUES (?, ?)", params))
                        .await
                        .expect("insert");
                    tx.commit().await.expect("commit");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("task");
    }
    let secs = start.elapsed().as_secs_f64();
    let after = store.stats();
    let commits = after.commits - before.commits;
    println!(
        "synchronous={sync:?} max_group={max_group:>3} writers={writers:>3}: {:>7.0} tx/s, {commits} commits, {:.1} tx per commit",
        total as f64 / secs,
        total as f64 / commits.max(1) as f64,
    );
    store.close().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::args().nth(1).map_or_else(|| tmp.path().to_owned(), Into::into);
    for sync in [Synchronous::Full, Synchronous::Normal] {
        for writers in [1, 16, 64] {
            for max_group in [1, 256] {
                run(&dir, sync, max_group, writers).await;
            }
        }
    }
}
