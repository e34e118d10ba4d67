//! End to end: `setup` and every scenario against an in-process Scalebase server, on each
//! storage backend.

use std::time::Duration;

use sb_bench::load::{self, LoadConfig, LoadMode};
use sb_bench::scenario::{Scenario, Workload};
use sb_bench::setup::{self, SetupConfig};
use serde_json::Value;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench-password-1";

fn setup_config(url: &str, replace: bool) -> SetupConfig {
    SetupConfig {
        url: url.to_owned(),
        email: EMAIL.into(),
        password: PASSWORD.into(),
        records: 200,
        authors: 5,
        concurrency: 8,
        seed: 1,
        replace,
        wait: Duration::from_secs(5),
    }
}

sb_testkit::sbtest_http!(seeds_and_runs_every_scenario, |url, app| async move {
    app.upsert_superuser(EMAIL, PASSWORD).await.expect("superuser");
    let done = setup::run(&setup_config(&url, false)).await.expect("setup");
    assert_eq!((done.records, done.authors), (200, 5));

    // A second setup refuses to drop the data unless asked to.
    let err = setup::run(&setup_config(&url, false)).await.expect_err("exists");
    assert!(err.to_string().contains("--replace"), "{err}");

    // The list scenario's page: public, filtered and sorted as the benchmark claims.
    let page: Value = reqwest::get(format!(
        "{url}/api/collections/posts/records?filter=(published=true%20%26%26%20views>500)&sort=-views&perPage=30"
    ))
    .await
    .expect("list")
    .json()
    .await
    .expect("json");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() > 10, "{page}");
    let views: Vec<f64> = items.iter().filter_map(|i| i["views"].as_f64()).collect();
    assert!(views.windows(2).all(|w| w[0] >= w[1]), "{views:?}");
    assert!(items.iter().all(|i| i["published"] == true && i["views"].as_f64() > Some(500.0)));

    for scenario in [Scenario::View, Scenario::List, Scenario::Create] {
        let config = LoadConfig {
            url: url.clone(),
            label: "scalebase".into(),
            mode: LoadMode::Closed,
            connections: 4,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            seed: 1,
        };
        let result = load::run(&config, Workload::new(scenario, 200, 5)).await.expect("run");
        assert_eq!(result.errors, 0, "{scenario:?}: {:?}", result.error_kinds);
        assert!(result.requests > 0, "{scenario:?}");
    }
});
