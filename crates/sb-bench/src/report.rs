//! Turns the JSON results of a set of runs into markdown tables: a summary with the ratio of
//! each server to the first (the baseline), and every run's latency percentiles.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::results::RunResult;

/// Reads every `*.json` file of `dir` as a [`RunResult`], in file-name order.
pub fn load_results(dir: &Path) -> anyhow::Result<Vec<RunResult>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)?;
            serde_json::from_str(&text)
                .with_context(|| format!("invalid result {}", path.display()))
        })
        .collect()
}

/// The run with the median throughput among those of `label` on `scenario` (the lower of the two
/// middle ones for an even count), so that one disturbed round does not decide the summary.
pub fn median_run<'a>(
    results: &'a [RunResult],
    scenario: &str,
    label: &str,
) -> Option<&'a RunResult> {
    let mut runs: Vec<&RunResult> =
        results.iter().filter(|r| r.scenario == scenario && r.label == label).collect();
    runs.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    runs.get(runs.len().saturating_sub(1) / 2).copied()
}

/// The markdown tables. `labels` gives the server columns in order; the first is the baseline
/// of the ratios. Scenarios appear in the order of their first result. When a server ran a
/// scenario several times (rounds), the summary shows its median run.
pub fn render(results: &[RunResult], labels: &[String]) -> String {
    let mut scenarios: Vec<&str> = Vec::new();
    for r in results {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let find = |scenario: &str, label: &str| median_run(results, scenario, label);
    let rounds = scenarios
        .iter()
        .flat_map(|s| labels.iter().map(move |l| (*s, l)))
        .map(|(s, l)| results.iter().filter(|r| r.scenario == s && r.label == *l).count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    if rounds > 1 {
        let _ = writeln!(out, "Median run (by req/s) of up to {rounds} rounds per cell.\n");
    }

    let mut header = String::from("| scenario |");
    let mut rule = String::from("| --- |");
    for (i, label) in labels.iter().enumerate() {
        let _ = write!(header, " {label} req/s | {label} p99 ms |");
        rule.push_str(" ---: | ---: |");
        if i > 0 {
            let _ = write!(header, " ratio {label} |");
            rule.push_str(" ---: |");
        }
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for scenario in &scenarios {
        let baseline = labels.first().and_then(|l| find(scenario, l));
        let _ = write!(out, "| {scenario} |");
        for (i, label) in labels.iter().enumerate() {
            let run = find(scenario, label);
            let flag = if run.is_some_and(|r| r.errors > 0) { " ⚠" } else { "" };
            match run {
                Some(r) => {
                    let _ =
                        write!(out, " {:.0}{flag} | {:.2} |", r.requests_per_sec, r.latency_ms.p99);
                }
                None => out.push_str(" — | — |"),
            }
            if i > 0 {
                match (run, baseline) {
                    (Some(r), Some(b)) if b.requests_per_sec > 0.0 => {
                        let _ = write!(out, " {:.2}× |", r.requests_per_sec / b.requests_per_sec);
                    }
                    _ => out.push_str(" — |"),
                }
            }
        }
        out.push('\n');
    }

    let failed: Vec<&RunResult> = results.iter().filter(|r| r.errors > 0).collect();
    if failed.is_empty() {
        out.push_str("\nErrors: none.\n");
    } else {
        out.push_str("\n⚠ Errors (not counted in req/s or latency):\n");
        for r in failed {
            let kinds: Vec<String> =
                r.error_kinds.iter().map(|(k, n)| format!("{k}: {n}")).collect();
            let _ = writeln!(
                out,
                "- {} / {}: {} ({})",
                r.label,
                r.scenario,
                r.errors,
                kinds.join(", ")
            );
        }
    }

    out.push_str(
        "\nEvery run (latency in ms):\n\n\
         | server | scenario | req/s | mean | p50 | p90 | p99 | p99.9 | max | errors | measured s |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in results {
        let l = &r.latency_ms;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            r.label,
            r.scenario,
            r.requests_per_sec,
            l.mean,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            r.errors,
            r.measured_secs,
        );
    }
    out
}

#[cfg(test)]
mod tests;
