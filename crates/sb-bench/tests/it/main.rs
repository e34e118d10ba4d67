//! End to end: `setup` and every scenario against an in-process Scalebase server, on each
//! storage backend.

use std::time::Duration;

use sb_bench::data;
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

    // The relation filter's page: only published posts of authors in orgs on the filtered plan.
    let page: Value = reqwest::get(format!(
        "{url}/api/collections/posts/records?filter=(author.org.plan%3D%27pro%27%20%26%26%20published%3Dtrue)&sort=-views&skipTotal=1&perPage=30&expand=author.org"
    ))
    .await
    .expect("relation list")
    .json()
    .await
    .expect("json");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty(), "{page}");
    for item in &items {
        assert_eq!(item["expand"]["author"]["expand"]["org"]["plan"], "pro", "{item}");
        assert_eq!(item["published"], true);
    }

    // The owner rule: an author lists only their own notes and cannot change another's.
    let client = reqwest::Client::new();
    let token = |author: u64| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let answer: Value = client
                .post(format!("{url}/api/collections/authors/auth-with-password"))
                .json(&serde_json::json!({
                    "identity": data::author_email(author),
                    "password": data::AUTHOR_PASSWORD,
                }))
                .send()
                .await
                .expect("sign in")
                .json()
                .await
                .expect("json");
            answer["token"].as_str().map(str::to_owned).unwrap_or_default()
        }
    };
    let (first, second) = (token(0).await, token(1).await);
    let notes: Value = client
        .get(format!("{url}/api/collections/notes/records?perPage=500"))
        .header("Authorization", &first)
        .send()
        .await
        .expect("notes")
        .json()
        .await
        .expect("json");
    // 200 notes round 5 authors: 40 each.
    assert_eq!(notes["totalItems"], 40, "{notes}");
    let items = notes["items"].as_array().cloned().unwrap_or_default();
    assert!(items.iter().all(|n| n["owner"] == data::author_id(0)), "{notes}");
    let foreign = client
        .patch(format!("{url}/api/collections/notes/records/{}", data::note_id(0)))
        .header("Authorization", &second)
        .json(&serde_json::json!({"title": "not yours"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(foreign.status(), 404);

    let scenarios = <Scenario as clap::ValueEnum>::value_variants();
    for &scenario in scenarios.iter().filter(|s| **s != Scenario::Proxy) {
        let config = LoadConfig {
            url: url.clone(),
            label: "scalebase".into(),
            mode: LoadMode::Closed,
            connections: 4,
            // No warm-up: the first requests count, so that even a slow one (a password hash
            // in a debug build) is measured.
            warmup: Duration::ZERO,
            duration: Duration::from_millis(300),
            seed: 1,
            server_pids: Vec::new(),
        };
        let workload = Workload::new(scenario, 200, 5).prepare(&url).await.expect("prepare");
        let result = load::run(&config, workload).await.expect("run");
        assert_eq!(result.errors, 0, "{scenario:?}: {:?}", result.error_kinds);
        assert!(result.requests > 0, "{scenario:?}");
    }
});
