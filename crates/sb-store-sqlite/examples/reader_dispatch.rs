//! Micro-benchmark: how to hand read queries from async tasks to blocking SQLite connections.
//!
//! Compares (a) dedicated reader threads fed by a shared channel with (b) a connection pool
//! behind a semaphore, each query run through `tokio::task::spawn_blocking`. Both run the same
//! small point query; what differs is only the dispatch.
//!
//! Run: `cargo run --release -p sb-store-sqlite --example reader_dispatch`

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

const READERS: usize = 2;
const TASKS: usize = 64;
const QUERIES_PER_TASK: usize = 2_000;

type Job = (i64, oneshot::Sender<i64>);

fn point_query(conn: &Connection, id: i64) -> i64 {
    let mut stmt = conn.prepare_cached("SELECT v FROM t WHERE id = ?").expect("prepare");
    stmt.query_row([id], |r| r.get(0)).expect("query")
}

fn open_reader(path: &std::path::Path) -> Connection {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open reader");
    conn.pragma_update(None, "query_only", true).expect("pragma");
    conn
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.db");
    let writer = Connection::open(&path).expect("open");
    writer
        .execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
             INSERT INTO t SELECT i, i * 2 FROM n;",
        )
        .expect("setup");

    for round in 0..2 {
        // (a) dedicated threads.
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let threads: Vec<_> = (0..READERS)
            .map(|_| {
                let rx = rx.clone();
                let conn = open_reader(&path);
                std::thread::spawn(move || {
                    while let Ok((id, reply)) = rx.recv() {
                        let _ = reply.send(point_query(&conn, id));
                    }
                })
            })
            .collect();
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for q in 0..QUERIES_PER_TASK {
                        let id = ((t * QUERIES_PER_TASK + q) % 1000 + 1) as i64;
                        let (reply, rx) = oneshot::channel();
                        tx.send((id, reply)).expect("send");
                        assert_eq!(rx.await.expect("reply"), id * 2);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let threads_rate = (TASKS * QUERIES_PER_TASK) as f64 / start.elapsed().as_secs_f64();
        drop(tx);
        for t in threads {
            t.join().expect("join");
        }

        // (b) pool + semaphore + spawn_blocking.
        let pool =
            Arc::new(Mutex::new((0..READERS).map(|_| open_reader(&path)).collect::<Vec<_>>()));
        let permits = Arc::new(Semaphore::new(READERS));
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let pool = pool.clone();
                let permits = permits.clone();
                tokio::spawn(async move {
                    for q in 0..QUERIES_PER_TASK {
                        let id = ((t * QUERIES_PER_TASK + q) % 1000 + 1) as i64;
                        let _permit = permits.acquire().await.expect("permit");
                        let conn = pool.lock().pop().expect("a free connection");
                        let (conn, v) = tokio::task::spawn_blocking(move || {
                            let v = point_query(&conn, id);
                            (conn, v)
                        })
                        .await
                        .expect("join");
                        pool.lock().push(conn);
                        assert_eq!(v, id * 2);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let blocking_rate = (TASKS * QUERIES_PER_TASK) as f64 / start.elapsed().as_secs_f64();

        println!(
            "round {round}: dedicated threads {threads_rate:.0} q/s, spawn_blocking pool {blocking_rate:.0} q/s"
        );
    }
}
