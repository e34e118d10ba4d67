use std::convert::Infallible;

use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;

use super::*;
use crate::data::post_id;
use crate::scenario::Scenario;

/// A stand-in server: posts `0..10` exist except post 3; every body is 5 bytes.
async fn start_server() -> String {
    start_server_with(None).await
}

/// [`start_server`], answering one request at a time after `delay` when given (a server with
/// a fixed capacity of one request per `delay`).
async fn start_server_with(delay: Option<Duration>) -> String {
    serve_stand_in(delay, true).await
}

/// The stand-in server; without `keep_alive` it closes every connection after one answer (as
/// a server does with a keep-alive connection that stayed idle past its timeout).
async fn serve_stand_in(delay: Option<Duration>, keep_alive: bool) -> String {
    let one_at_a_time = Arc::new(tokio::sync::Semaphore::new(1));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let one_at_a_time = one_at_a_time.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let one_at_a_time = one_at_a_time.clone();
                    async move {
                        if let Some(delay) = delay {
                            let _turn = one_at_a_time.acquire().await.expect("open");
                            tokio::time::sleep(delay).await;
                        }
                        let id = request.uri().path().rsplit('/').next().unwrap_or_default();
                        let found = (0..10).any(|i| i != 3 && id == post_id(i));
                        let status = if found { StatusCode::OK } else { StatusCode::NOT_FOUND };
                        let mut response =
                            hyper::Response::new(Full::new(Bytes::from_static(b"hello")));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                hyper::server::conn::http1::Builder::new()
                    .keep_alive(keep_alive)
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
        server_pids: Vec::new(),
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
async fn measures_the_server_process_when_given_its_pid() {
    // The stand-in server runs in this process, so this process is the server.
    let url = start_server().await;
    let measured = LoadConfig { server_pids: vec![std::process::id()], ..config(url.clone()) };
    let result = run(&measured, Workload::new(Scenario::View, 3, 1)).await.expect("run");
    let server = result.server.expect("server usage");
    assert!(server.cpu_secs > 0.0, "{server:?}");
    assert!(server.peak_rss_kib > 0 && server.processes >= 1, "{server:?}");
    let cores = server.cpu_secs / result.measured_secs;
    assert!((server.cpu_cores - cores).abs() < 1e-9, "{server:?}");
    assert!(
        run(&config(url), Workload::new(Scenario::View, 3, 1)).await.expect("run").server.is_none()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_pid_that_is_not_running_stops_the_run() {
    let config = LoadConfig { server_pids: vec![u32::MAX], ..config(start_server().await) };
    let err = run(&config, Workload::new(Scenario::View, 3, 1)).await.expect_err("no process");
    assert!(err.to_string().contains("no process"), "{err}");
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

#[tokio::test(flavor = "current_thread")]
async fn the_open_loop_sends_at_its_rate() {
    let config = LoadConfig {
        mode: LoadMode::Open { rate: 200.0 },
        duration: Duration::from_millis(1000),
        ..config(start_server().await)
    };
    let result = run(&config, Workload::new(Scenario::View, 3, 1)).await.expect("run");
    assert_eq!((result.mode.as_str(), result.target_rate), ("open", Some(200.0)));
    assert_eq!(result.errors, 0, "{:?}", result.error_kinds);
    // 200 requests fall due in the measured second: none more, few less.
    assert!((180..=201).contains(&result.requests), "{} requests", result.requests);
}

/// A connection the server closed between two requests is opened again before the next one,
/// as any client's pool does; only a request the server did not answer is an error.
#[tokio::test(flavor = "current_thread")]
async fn connections_the_server_closed_are_opened_again() {
    let config = LoadConfig {
        mode: LoadMode::Open { rate: 100.0 },
        connections: 2,
        duration: Duration::from_millis(600),
        ..config(serve_stand_in(None, false).await)
    };
    let result = run(&config, Workload::new(Scenario::View, 3, 1)).await.expect("run");
    assert_eq!(result.errors, 0, "{:?}", result.error_kinds);
    assert!((50..=61).contains(&result.requests), "{} requests", result.requests);
}

#[tokio::test(flavor = "current_thread")]
async fn the_open_loop_counts_waiting_against_the_requests_it_delays() {
    // One request at a time, 20 ms each: 50 per second at most.
    let url = start_server_with(Some(Duration::from_millis(20))).await;
    let closed = LoadConfig { connections: 1, duration: Duration::from_millis(600), ..config(url) };
    let closed_result = run(&closed, Workload::new(Scenario::View, 3, 1)).await.expect("closed");
    // Offered twice what it can do: the queue grows for the whole run.
    let open = LoadConfig { mode: LoadMode::Open { rate: 100.0 }, ..closed.clone() };
    let open_result = run(&open, Workload::new(Scenario::View, 3, 1)).await.expect("open");
    let (c, o) = (closed_result.latency_ms.p99, open_result.latency_ms.p99);
    assert!(c < 150.0, "closed loop: about one request's time, {c} ms");
    assert!(o > 200.0, "open loop: the queue's wait counts, {o} ms (closed {c} ms)");
}

#[tokio::test(flavor = "current_thread")]
async fn stepping_stops_at_the_first_rate_the_server_cannot_keep() {
    // Capacity: 100 requests per second (10 ms each, one at a time).
    let url = start_server_with(Some(Duration::from_millis(10))).await;
    let step_config = StepConfig {
        run: LoadConfig { connections: 8, duration: Duration::from_millis(800), ..config(url) },
        start_rate: 20.0,
        factor: 2.0,
        max_rate: 1000.0,
        p99_budget: Duration::from_millis(100),
    };
    let result = step(&step_config, || Workload::new(Scenario::View, 3, 1)).await.expect("step");
    let held = result.max_rate.expect("20/s holds");
    assert!((20.0..=80.0).contains(&held), "held {held}/s");
    let failed = result.steps.last().expect("steps");
    let failed_rate = failed.target_rate.expect("open");
    assert!(failed_rate > held && failed_rate <= 160.0, "stopped at {failed_rate}/s");
    assert_eq!(result.steps.len() as f64, (held / 20.0).log2() + 2.0, "one run per rate");
    assert_eq!(result.p99_budget_ms, 100.0);
}

/// A first rate above what the server can do is halved until one holds, then the climb goes on
/// from there.
#[tokio::test(flavor = "current_thread")]
async fn stepping_halves_a_first_rate_that_does_not_hold() {
    // Capacity: 50 requests per second (20 ms each, one at a time).
    let url = start_server_with(Some(Duration::from_millis(20))).await;
    let step_config = StepConfig {
        run: LoadConfig { connections: 8, duration: Duration::from_millis(800), ..config(url) },
        start_rate: 160.0,
        factor: 1.5,
        max_rate: 1000.0,
        p99_budget: Duration::from_millis(150),
    };
    let result = step(&step_config, || Workload::new(Scenario::View, 3, 1)).await.expect("step");
    let rates: Vec<f64> = result.steps.iter().filter_map(|s| s.target_rate).collect();
    // 160 and 80 are beyond it, 40 holds, then 60 does not.
    assert_eq!(&rates[..3], [160.0, 80.0, 40.0], "{rates:?}");
    assert_eq!(result.max_rate, Some(40.0), "{rates:?}");
    assert_eq!(rates.len(), 4, "{rates:?}");

    // A server that never holds: three halvings, then the series ends with nothing held.
    let url = start_server_with(Some(Duration::from_millis(200))).await;
    let hopeless = StepConfig {
        run: LoadConfig { connections: 4, duration: Duration::from_millis(500), ..config(url) },
        start_rate: 400.0,
        ..step_config
    };
    let result = step(&hopeless, || Workload::new(Scenario::View, 3, 1)).await.expect("step");
    let rates: Vec<f64> = result.steps.iter().filter_map(|s| s.target_rate).collect();
    assert_eq!(rates, [400.0, 200.0, 100.0, 50.0]);
    assert_eq!(result.max_rate, None);
}

#[tokio::test(flavor = "current_thread")]
async fn an_impossible_open_loop_rate_is_an_error() {
    for rate in [0.0, -5.0, 1e-300, f64::NAN, f64::INFINITY] {
        let config = LoadConfig { mode: LoadMode::Open { rate }, ..config(start_server().await) };
        let err = run(&config, Workload::new(Scenario::View, 3, 1)).await.expect_err("rate");
        assert!(err.to_string().contains("invalid open-loop rate"), "{rate}: {err}");
    }
}
