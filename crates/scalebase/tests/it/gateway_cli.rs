//! `scalebase gateway --config FILE` as a process: its serving threads, reloads when the file
//! changes, on SIGHUP and through the admin endpoint (a configuration that does not validate
//! is refused and the running one kept), with no request failing meanwhile, and a clean exit
//! on SIGTERM. (No storage: the upstreams are two small in-process HTTP services.)

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

const TOKEN: &str = "gateway-cli-token";

/// An HTTP service answering `name` on every path (its readiness check included).
async fn upstream(name: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move { name });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A configuration routing everything to the pool named `to`.
fn config(port: u16, one: &str, two: &str, to: &str) -> String {
    format!(
        "workers = 2\n[[listeners]]\naddr = \"127.0.0.1:{port}\"\n\
         [[pools]]\nname = \"one\"\nupstreams = [{{ url = \"{one}\" }}]\n\
         health = {{ interval_ms = 100, rise = 1 }}\n\
         [[pools]]\nname = \"two\"\nupstreams = [{{ url = \"{two}\" }}]\n\
         health = {{ interval_ms = 100, rise = 1 }}\n\
         [[routes]]\npool = \"{to}\"\n"
    )
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Waits until the gateway answers `want` (the name of the upstream it routes to).
async fn routed_to(url: &str, want: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = http.get(format!("{url}/whoami")).send().await;
        if let Ok(r) = r
            && r.status() == 200
            && r.text().await.unwrap() == want
        {
            return;
        }
        assert!(Instant::now() < deadline, "never routed to {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_by_file_change_sighup_and_admin_drop_no_request() {
    let (one, two) = (upstream("one").await, upstream("two").await);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gateway.toml");
    let (port, admin_port) = (free_port(), free_port());
    std::fs::write(&file, config(port, &one, &two, "one")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_scalebase"))
        .args(["gateway", "--config"])
        .arg(&file)
        .args(["--admin-addr", &format!("127.0.0.1:{admin_port}"), "--admin-token", TOKEN])
        .args(["--log-level", "warn"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut gateway = Gateway(child);
    let url = format!("http://127.0.0.1:{port}");
    routed_to(&url, "one").await;
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", gateway.0.id()))
        .unwrap()
        .flatten()
        .map(|t| std::fs::read_to_string(t.path().join("comm")).unwrap().trim().to_owned())
        .filter(|name| name.starts_with("gateway-"))
        .collect();
    assert_eq!(threads.len(), 2, "two serving threads: {threads:?}");

    // A steady load through every reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (url, stop, sent, failed) = (url.clone(), stop.clone(), sent.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let r = http.get(format!("{url}/whoami")).send().await;
                sent.fetch_add(1, Ordering::SeqCst);
                if !r.is_ok_and(|r| r.status() == 200) {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }

    // The file changes: picked up by the watcher.
    std::fs::write(&file, config(port, &one, &two, "two")).unwrap();
    routed_to(&url, "two").await;

    // SIGHUP: the file changes but keeps its modification time, so only the signal tells.
    let seen = std::fs::metadata(&file).unwrap().modified().unwrap();
    write_keeping_mtime(&file, &config(port, &one, &two, "one"), seen);
    let hup = Command::new("kill").args(["-HUP", &gateway.0.id().to_string()]).status();
    assert!(hup.unwrap().success());
    routed_to(&url, "one").await;

    // A configuration that does not validate is refused, and the running one kept.
    write_keeping_mtime(&file, "[[listeners]]\naddr = \"nowhere\"\n", seen);
    let reload = || async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{admin_port}/reload"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(reload().await.status(), 400);
    routed_to(&url, "one").await;

    // Through the admin endpoint.
    write_keeping_mtime(&file, &config(port, &one, &two, "two"), seen);
    let r = reload().await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    routed_to(&url, "two").await;

    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(sent.load(Ordering::SeqCst) > 0);
    assert_eq!(failed.load(Ordering::SeqCst), 0, "no request failed across the reloads");

    // SIGTERM: a clean exit.
    let term = Command::new("kill").args(["-TERM", &gateway.0.id().to_string()]).status();
    assert!(term.unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = gateway.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the gateway did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
}

fn write_keeping_mtime(path: &std::path::Path, text: &str, mtime: SystemTime) {
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(mtime).unwrap();
}
