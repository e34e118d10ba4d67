use std::collections::BTreeMap;

use super::*;
use crate::results::{Latency, ServerUsage};

fn result(label: &str, scenario: &str, rps: f64, p99: f64, errors: u64) -> RunResult {
    let mut error_kinds = BTreeMap::new();
    if errors > 0 {
        error_kinds.insert("500".to_owned(), errors);
    }
    RunResult {
        label: label.into(),
        scenario: scenario.into(),
        url: "http://127.0.0.1:1".into(),
        mode: "closed".into(),
        target_rate: None,
        connections: 64,
        warmup_secs: 2.0,
        measured_secs: 10.0,
        requests: (rps * 10.0) as u64,
        requests_per_sec: rps,
        errors,
        error_kinds,
        body_bytes_per_sec: 0.0,
        latency_ms: Latency { mean: 1.0, p50: 1.0, p90: 2.0, p99, p999: 5.0, max: 9.0 },
        server: None,
    }
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn summary_has_ratios_against_the_first_label() {
    let results = [
        result("pb", "view", 1000.0, 4.0, 0),
        result("sb", "view", 2500.0, 1.5, 0),
        result("pb", "create", 400.0, 20.0, 0),
        result("sb", "create", 200.0, 40.0, 3),
        result("sbn", "create", 800.0, 10.0, 0),
    ];
    let text = render(&results, &labels(&["pb", "sb", "sbn"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(
            "| scenario | pb req/s | pb p99 ms | sb req/s | sb p99 ms | ratio sb | sbn req/s | sbn p99 ms | ratio sbn |"
        )
    );
    assert!(lines.contains(&"| view | 1000 | 4.00 | 2500 | 1.50 | 2.50× | — | — | — |"), "{text}");
    assert!(
        lines.contains(&"| create | 400 | 20.00 | 200 ⚠ | 40.00 | 0.50× | 800 | 10.00 | 2.00× |"),
        "{text}"
    );
    assert!(lines.contains(&"- sb / create: 3 (500: 3)"), "{text}");
    assert!(
        lines.contains(
            &"| sbn | create | 800 | 1.00 | 1.00 | 2.00 | 10.00 | 5.00 | 9.00 | 0 | 10.0 |"
        )
    );
}

#[test]
fn reports_no_errors_when_all_runs_succeeded() {
    let text = render(&[result("pb", "list", 10.0, 1.0, 0)], &labels(&["pb", "sb"]));
    assert!(text.contains("Errors: none."));
    assert!(text.contains("| list | 10 | 1.00 | — | — | — |"), "{text}");
}

#[test]
fn loads_results_in_file_name_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, r) in [
        ("2-b.json", result("sb", "view", 2.0, 1.0, 0)),
        ("1-a.json", result("pb", "view", 1.0, 1.0, 0)),
    ] {
        std::fs::write(dir.path().join(name), serde_json::to_string(&r).unwrap_or_default())
            .expect("write");
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let loaded = load_results(dir.path()).expect("load");
    let order: Vec<&str> = loaded.runs.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(order, ["pb", "sb"]);
}

#[test]
fn summary_uses_the_median_round() {
    let results = [
        result("pb", "view", 1000.0, 4.0, 0),
        result("pb", "view", 3000.0, 1.0, 0),
        result("pb", "view", 2000.0, 2.0, 0),
        result("sb", "view", 500.0, 9.0, 0),
        result("sb", "view", 800.0, 7.0, 0),
    ];
    let text = render(&results, &labels(&["pb", "sb"]));
    assert!(text.starts_with("Median run (by req/s) of up to 3 rounds per cell."), "{text}");
    assert!(text.contains("| view | 2000 | 2.00 | 500 | 9.00 | 0.25× |"), "{text}");
    assert_eq!(text.matches("| pb | view |").count(), 3, "every run is listed");
    assert!(median_run(&results, "list", "pb").is_none());
}

fn with_server(mut r: RunResult, cpu_cores: f64, peak_rss_mib: u64, hwm_reset: bool) -> RunResult {
    let cpu_secs = cpu_cores * r.measured_secs;
    r.server = Some(ServerUsage {
        cpu_secs,
        cpu_cores,
        cpu_us_per_request: cpu_secs * 1e6 / r.requests.max(1) as f64,
        peak_rss_kib: peak_rss_mib * 1024,
        processes: 1,
        hwm_reset,
    });
    r
}

#[test]
fn resources_are_shown_when_the_servers_were_measured() {
    let plain = [result("pb", "view", 1000.0, 4.0, 0), result("sb", "view", 2000.0, 2.0, 0)];
    assert!(!render(&plain, &labels(&["pb", "sb"])).contains("Server resources"));

    let results = [
        with_server(result("pb", "view", 1000.0, 4.0, 0), 1.0, 40, true),
        with_server(result("sb", "view", 2000.0, 2.0, 0), 0.5, 20, true),
        with_server(result("pb", "create", 400.0, 20.0, 0), 0.8, 50, true),
        with_server(result("sb", "create", 200.0, 40.0, 0), 0.9, 100, false),
        result("limit", "create", 900.0, 5.0, 0),
    ];
    let text = render(&results, &labels(&["pb", "sb", "limit"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(
            &"| scenario | pb CPU cores | pb CPU µs/req | pb peak RSS MiB | sb CPU cores | sb CPU µs/req | sb peak RSS MiB | RSS ratio sb | limit CPU cores | limit CPU µs/req | limit peak RSS MiB | RSS ratio limit |"
        ),
        "{text}"
    );
    assert!(
        lines.contains(
            &"| view | 1.00 | 1000.0 | 40.0 | 0.50 | 250.0 | 20.0 | 0.50× | — | — | — | — |"
        ),
        "{text}"
    );
    assert!(
        lines.contains(
            &"| create | 0.80 | 2000.0 | 50.0 | 0.90 | 4500.0 | 100.0 † | 2.00× | — | — | — | — |"
        ),
        "{text}"
    );
    assert!(text.contains("† The peak could not be reset"), "{text}");
    // The summary above it is unchanged.
    assert!(lines.contains(&"| view | 1000 | 4.00 | 2000 | 2.00 | 2.00× | — | — | — |"), "{text}");
}

/// A rate series of `label` on `scenario`: steps at `rates` (with their p99), of which the
/// last that is within 10 ms held.
fn series(label: &str, scenario: &str, rates: &[(f64, f64)]) -> StepResult {
    let steps: Vec<RunResult> = rates
        .iter()
        .map(|&(rate, p99)| RunResult {
            mode: "open".into(),
            target_rate: Some(rate),
            ..result(label, scenario, rate, p99, 0)
        })
        .collect();
    let max_rate = rates.iter().take_while(|(_, p99)| *p99 <= 10.0).last().map(|(r, _)| *r);
    StepResult {
        label: label.into(),
        scenario: scenario.into(),
        p99_budget_ms: 10.0,
        max_rate,
        steps,
    }
}

#[test]
fn step_series_give_the_highest_rate_that_held() {
    let steps = [
        series("pb", "view", &[(1000.0, 2.0), (2000.0, 8.0), (4000.0, 30.0)]),
        series("sb", "view", &[(1000.0, 1.0), (2000.0, 2.0), (4000.0, 3.0), (8000.0, 12.0)]),
        series("pb", "create", &[(2000.0, 70.0), (1000.0, 50.0)]),
        series("sb", "create", &[(1000.0, 5.0), (2000.0, 60.0)]),
    ];
    let text = render_steps(&steps, &labels(&["pb", "sb"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(text.starts_with("Max open-loop rate at p99 ≤ budget"), "{text}");
    assert!(
        lines.contains(&"| scenario | p99 budget ms | pb rate/s | pb p50 | pb p99 | pb p99.9 | sb rate/s | sb p50 | sb p99 | sb p99.9 | ratio sb |"),
        "{text}"
    );
    assert!(
        lines.contains(
            &"| view | 10 | 2000 | 1.00 | 8.00 | 5.00 | 4000 | 1.00 | 3.00 | 5.00 | 2.00× |"
        ),
        "{text}"
    );
    assert!(
        lines.contains(&"| create | 10 | < 1000 | — | — | — | 1000 | 1.00 | 5.00 | 5.00 | — |"),
        "{text}"
    );
}

#[test]
fn loads_runs_and_step_series_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = result("pb", "view", 1000.0, 4.0, 0);
    let step = series("sb", "view", &[(1000.0, 1.0), (2000.0, 20.0)]);
    let at_rate = at("sb", "view", 1000.0, 980.0, 2.0);
    // A realtime fan-out paced at 5 writes/s is a run of its own, not one at a rate.
    let fanout = RunResult {
        mode: "fanout".into(),
        target_rate: Some(5.0),
        ..result("sb", "realtime-1k", 5000.0, 20.0, 0)
    };
    let files = [
        ("1.json", serde_json::to_string(&run).unwrap_or_default()),
        ("2.json", serde_json::to_string(&step).unwrap_or_default()),
        ("3.json", serde_json::to_string(&at_rate).unwrap_or_default()),
        ("35.json", serde_json::to_string(&fanout).unwrap_or_default()),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let loaded = load_results(dir.path()).expect("load");
    assert_eq!(
        (loaded.runs, loaded.steps.clone(), loaded.at_rate),
        (vec![run, fanout], vec![step], vec![at_rate])
    );

    std::fs::write(dir.path().join("4.json"), r#"{"steps": 3}"#).expect("write");
    let err = load_results(dir.path()).expect_err("invalid");
    assert!(format!("{err:#}").contains("invalid result"), "{err:#}");
}

#[test]
fn the_whole_report_has_the_tables_it_has_data_for() {
    let runs = vec![result("pb", "view", 1000.0, 4.0, 0)];
    let steps = vec![series("pb", "view", &[(1000.0, 1.0), (2000.0, 20.0)])];
    let l = labels(&["pb"]);
    let at_rate = vec![at("pb", "view", 1000.0, 1000.0, 2.0)];
    let all = Results { runs: runs.clone(), steps: steps.clone(), at_rate: at_rate.clone() };
    let all = render_all(&all, &l);
    let tables = [render(&runs, &l), render_steps(&steps, &l), render_at_rate(&at_rate, &l)];
    assert_eq!(all, tables.join("\n"));
    let only_steps = Results { steps: steps.clone(), ..Results::default() };
    assert_eq!(render_all(&only_steps, &l), render_steps(&steps, &l));
}

/// An open-loop run of `label` on `scenario` offered `rate`, answering `answered` per second.
fn at(label: &str, scenario: &str, rate: f64, answered: f64, p99: f64) -> RunResult {
    RunResult {
        mode: "open".into(),
        target_rate: Some(rate),
        ..result(label, scenario, answered, p99, 0)
    }
}

#[test]
fn runs_at_one_rate_compare_each_p99_with_the_first_label() {
    let runs = [
        at("pb", "view", 1250.0, 1250.0, 16.0),
        at("sb", "view", 1250.0, 1250.0, 2.0),
        at("pb", "create", 1000.0, 990.0, 40.0),
        at("sb", "create", 1000.0, 600.0, 80.0),
    ];
    let text = render_at_rate(&runs, &labels(&["pb", "sb", "limit"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(text.starts_with("Latency at the same open-loop rate"), "{text}");
    assert!(
        lines.contains(&"| scenario | rate/s | pb p50 | pb p99 | pb p99.9 | sb p50 | sb p99 | sb p99.9 | sb p99 ÷ pb | limit p50 | limit p99 | limit p99.9 | limit p99 ÷ pb |"),
        "{text}"
    );
    assert!(
        lines.contains(
            &"| view | 1250 | 1.00 | 16.00 | 5.00 | 1.00 | 2.00 | 5.00 | 0.12 | — | — | — | — |"
        ),
        "{text}"
    );
    // 600 of 1 000 per second answered: behind, so marked.
    assert!(
        lines.contains(&"| create | 1000 | 1.00 | 40.00 | 5.00 | 1.00 | 80.00 ⚠ | 5.00 | 2.00 | — | — | — | — |"),
        "{text}"
    );
}

#[test]
fn the_chart_has_a_group_per_scenario_with_ratios_to_the_first_label() {
    let results = Results {
        runs: vec![
            result("pb", "view", 1000.0, 4.0, 0),
            result("sb", "view", 2500.0, 1.5, 0),
            result("sb", "list", 300.0, 1.5, 0),
        ],
        steps: vec![
            series("pb", "view", &[(1000.0, 1.0), (2000.0, 2.0), (4000.0, 20.0)]),
            series("sb", "view", &[(1000.0, 1.0), (2000.0, 2.0), (4000.0, 3.0), (8000.0, 30.0)]),
        ],
        at_rate: Vec::new(),
    };
    let chart = chart(&results, &labels(&["pb", "sb"]));
    assert_eq!(chart.title, "req/s and max rate relative to pb (higher is better)");
    assert_eq!(chart.series, ["pb", "sb"]);
    let groups: Vec<(&str, &[Option<f64>])> =
        chart.groups.iter().map(|g| (g.name.as_str(), g.values.as_slice())).collect();
    assert_eq!(
        groups,
        [
            ("view", &[Some(1.0), Some(2.5)][..]),
            ("list", &[None, None][..]),
            ("view max rate", &[Some(1.0), Some(2.0)][..]),
        ]
    );
}
