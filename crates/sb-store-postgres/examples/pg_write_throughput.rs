//! Write throughput of the PostgreSQL store: small insert transactions (`BEGIN`, one INSERT,
//! `COMMIT`) from N concurrent tasks, for a few seconds each, on a scratch database.
//!
//! Run: `cargo run --release -p sb-store-postgres --example pg_write_throughput [ADMIN_URL]`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`; the database `sbbench_<pid>` is
//! created and dropped).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sb_store::{Stmt, Store, Value};
use sb_store_postgres::{PostgresConfig, open};
use tokio_postgres::NoTls;

const DURATION: Duration = Duration::from_secs(3);

fn raw(sql: &str, params: Vec<Value>) -> Stmt {
    Stmt::Raw { sql: sql.to_owned(), params }
}

async fn admin(url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(conn);
    client.batch_execute(sql).await.expect(sql);
}

#[tokio::main]
async fn main() {
    let admin_url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("sbbench_{}", std::process::id());
    admin(&admin_url, &format!("CREATE DATABASE {db}")).await;
    let (server, _) = admin_url.rsplit_once('/').expect("URL with a database");
    let url = format!("{server}/{db}");

    for writers in [1, 16, 64] {
        let mut config = PostgresConfig::new(&url);
        config.pool_size = writers.min(16);
        let store = Arc::new(open(config).await.expect("open"));
        let mut tx = store.begin().await.expect("begin");
        tx.execute(&raw("DROP TABLE IF EXISTS t", vec![])).await.expect("drop");
        tx.execute(&raw(
            "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY, name TEXT, n FLOAT8)",
            vec![],
        ))
        .await
        .expect("create");
        tx.commit().await.expect("commit");

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
        println!(
            "writers={writers:>3} pool={:>2}: {:>7.0} tx/s",
            writers.min(16),
            total as f64 / start.elapsed().as_secs_f64()
        );
        store.close().await;
    }
    admin(&admin_url, &format!("DROP DATABASE {db} WITH (FORCE)")).await;
}
