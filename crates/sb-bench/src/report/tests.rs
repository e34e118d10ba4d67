use std::collections::BTreeMap;

use super::*;
use crate::results::Latency;

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
    let order: Vec<&str> = loaded.iter().map(|r| r.label.as_str()).collect();
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
