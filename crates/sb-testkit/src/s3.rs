//! A local S3-compatible server for tests: the `moto` server (PyPI `moto[server]`, installed
//! by `.ci/run`) on a free loopback port, stopped when dropped. A missing `moto_server` fails
//! the test: S3 support is never silently untested.

use std::process::Stdio;
use std::time::Duration;

/// A running `moto_server` with one bucket.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub bucket: String,
    child: tokio::process::Child,
}

impl S3Server {
    /// Starts the server, waits until it answers and creates `bucket`.
    pub async fn start(bucket: &str) -> S3Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("local addr").port()
        };
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server is not installed: pip install 'moto[server]' (see .ci/run)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.put(format!("{endpoint}/{bucket}")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "moto_server did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        S3Server { endpoint, bucket: bucket.to_owned(), child }
    }

    /// The keys stored in the bucket (first 1000), from its listing.
    pub async fn keys(&self) -> Vec<String> {
        let body = reqwest::get(format!("{}/{}", self.endpoint, self.bucket))
            .await
            .expect("list bucket")
            .text()
            .await
            .expect("listing");
        body.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(String::from)
            .collect()
    }

    /// The `settings.s3` object that points the application at this server.
    pub fn settings(&self) -> serde_json::Value {
        serde_json::json!({
            "enabled": true,
            "bucket": self.bucket,
            "region": "us-east-1",
            "endpoint": self.endpoint,
            "accessKey": "testing",
            "secret": "testing",
            "forcePathStyle": true,
        })
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}
