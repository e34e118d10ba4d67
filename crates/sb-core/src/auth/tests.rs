//! The password hashing pool: bounded parallelism on its own named threads, results delivered,
//! abandoned jobs skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::HashPool;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_at_most_its_thread_count_at_once() {
    let pool = Arc::new(HashPool::new(2));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    let name = std::thread::current().name().unwrap_or("").to_owned();
                    (i, name)
                })
                .await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let (n, thread) = task.await.unwrap().unwrap();
        assert_eq!(n, i);
        assert!(thread.starts_with("sb-hash-"), "{thread}");
    }
    assert!(peak.load(Ordering::SeqCst) <= 2, "peak {}", peak.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skips_jobs_whose_caller_is_gone_and_survives_panics() {
    let pool = Arc::new(HashPool::new(1));
    let ran = Arc::new(AtomicUsize::new(0));
    // Occupy the only worker until released.
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let pool = pool.clone();
        tokio::spawn(async move {
            pool.run(move || {
                started_tx.send(()).ok();
                wait.recv().ok()
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || started.recv()).await.unwrap().unwrap();
    // Queue a job (the first poll enqueues it), then drop its caller before it can start.
    let counter = ran.clone();
    let mut abandoned = Box::pin(pool.run(move || counter.fetch_add(1, Ordering::SeqCst)));
    assert!(futures::poll!(&mut abandoned).is_pending());
    drop(abandoned);
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    // A panicking job fails its caller only; the worker goes on, in queue order.
    assert!(pool.run(|| panic!("boom")).await.is_err());
    assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the abandoned job did not run");
}
