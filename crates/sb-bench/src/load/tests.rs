use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::*;
use crate::data::post_id;
use crate::scenario::Scenario;

/// A stand-in server: posts `0..10` exist except post 3; every body is 5 bytes.
async fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let id = request.uri().path().rsplit('/').next().unwrap_or_default();
                    let found = (0..10).any(|i| i != 3 && id == post_id(i));
                    let status = if found { StatusCode::OK } else { StatusCode::NOT_FOUND };
                    let mut response =
                        hyper::Response::new(Full::new(Bytes::from_static(b"hello")));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                });
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                    .ok();
            });
        }
    });
    url
}

fn config(url: String) -> LoadConfig {
    LoadConfig {
        url,
        label: "stand-in".into(),
        mode: LoadMode::Closed,
        connections: 4,
        warmup: Duration::from_millis(100),
        duration: Duration::from_millis(300),
        seed: 1,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn measures_successful_requests() {
    let config = config(start_server().await);
    let result = run(&config, Workload::new(Scenario::View, 3, 1)).await.expect("run");
    assert!(result.requests > 0);
    assert_eq!(result.errors, 0, "{:?}", result.error_kinds);
    assert!((0.3..1.3).contains(&result.measured_secs), "measured {}", result.measured_secs);
    let rps = result.requests as f64 / result.measured_secs;
    assert!((result.requests_per_sec - rps).abs() < 1e-6);
    assert!((result.body_bytes_per_sec - 5.0 * rps).abs() < 1e-6);
    let l = &result.latency_ms;
    assert!(0.0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
    assert_eq!((result.label.as_str(), result.scenario.as_str()), ("stand-in", "view"));
}

#[tokio::test(flavor = "current_thread")]
async fn counts_non_2xx_answers_as_errors() {
    let config = config(start_server().await);
    let result = run(&config, Workload::new(Scenario::View, 10, 1)).await.expect("run");
    let not_found = result.error_kinds.get("404").copied().unwrap_or(0);
    assert!(not_found > 0);
    assert_eq!(result.errors, not_found);
    assert!(result.requests > not_found, "about 1 in 10 requests should fail");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_probe_stops_the_run() {
    let config = config(start_server().await);
    let err = run(&config, Workload::new(Scenario::View, 20, 1)).await.expect_err("probe");
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_server_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let err = run(&config(url), Workload::new(Scenario::View, 3, 1)).await.expect_err("down");
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn rejects_non_http_urls() {
    let err = run(&config("https://example.invalid".into()), Workload::new(Scenario::View, 3, 1))
        .await
        .expect_err("https");
    assert!(err.to_string().contains("only http://"), "{err}");
}
