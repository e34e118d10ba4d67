//! Turns the JSON results of a set of runs into markdown tables: a summary with the ratio of
//! each server to the first (the baseline), the servers' CPU and memory when they were
//! measured, every run's latency percentiles, the highest open-loop rate each server held
//! (`sb-bench step`) and the latency of each server at one open-loop rate (`sb-bench run
//! --rate`); and the ratios as a bar chart ([`chart`]).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::chart::{BarChart, BarGroup};
use crate::results::{RunResult, StepResult};

/// The results found in a directory: closed-loop runs (`sb-bench run`), rate series
/// (`sb-bench step`) and open-loop runs at a given rate (`sb-bench run --rate`), each in
/// file-name order.
#[derive(Debug, Default)]
pub struct Results {
    pub runs: Vec<RunResult>,
    pub steps: Vec<StepResult>,
    pub at_rate: Vec<RunResult>,
}

impl Results {
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.steps.is_empty() && self.at_rate.is_empty()
    }
}

/// Reads every `*.json` file of `dir`, in file-name order: an object with a `steps` key as a
/// [`StepResult`], any other as a [`RunResult`] (an open loop at one rate apart from the rest:
/// closed loops and realtime fan-outs).
pub fn load_results(dir: &Path) -> anyhow::Result<Results> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut results = Results::default();
    for path in &paths {
        let text = std::fs::read_to_string(path)?;
        let invalid = || format!("invalid result {}", path.display());
        let value: serde_json::Value = serde_json::from_str(&text).with_context(invalid)?;
        if value.get("steps").is_some() {
            results.steps.push(serde_json::from_value(value).with_context(invalid)?);
        } else {
            let run: RunResult = serde_json::from_value(value).with_context(invalid)?;
            match run.mode.as_str() {
                "open" => results.at_rate.push(run),
                _ => results.runs.push(run),
            }
        }
    }
    Ok(results)
}

/// Every table that `results` has data for: [`render`] for the runs, [`render_steps`] for the
/// rate series, [`render_at_rate`] for the runs at a given rate.
pub fn render_all(results: &Results, labels: &[String]) -> String {
    let mut out = String::new();
    let tables = [
        (!results.runs.is_empty()).then(|| render(&results.runs, labels)),
        (!results.steps.is_empty()).then(|| render_steps(&results.steps, labels)),
        (!results.at_rate.is_empty()).then(|| render_at_rate(&results.at_rate, labels)),
    ];
    for table in tables.into_iter().flatten() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&table);
    }
    out
}

/// The latency of each server at one open-loop rate per scenario (`sb-bench run --rate`; the
/// script uses the highest rate the first label held), with each p99 divided by the first
/// label's: below 1 means a shorter tail at the same load. A server that answered less than
/// [`KEPT_UP`](crate::load::KEPT_UP) of the rate is marked, since its latency then grows with
/// the queue and the run is cut at its end.
pub fn render_at_rate(runs: &[RunResult], labels: &[String]) -> String {
    let mut out = String::from(
        "Latency at the same open-loop rate (each server offered the rate in the second column; \
         p50 / p99 / p99.9 in ms; ⚠ marks errors or a server that fell behind):\n\n",
    );
    out.push_str(&table_head(
        &["scenario", "rate/s"],
        labels,
        &["{label} p50", "{label} p99", "{label} p99.9"],
        "{label} p99 ÷ {baseline}",
    ));
    for scenario in scenarios(runs.iter().map(|r| r.scenario.as_str())) {
        let find =
            |label: &str| runs.iter().rev().find(|r| r.scenario == scenario && r.label == label);
        let baseline = labels.first().and_then(|l| find(l));
        let rate = baseline.or_else(|| runs.iter().find(|r| r.scenario == scenario));
        let rate = rate.and_then(|r| r.target_rate).unwrap_or_default();
        let _ = write!(out, "| {scenario} | {rate:.0} |");
        for (i, label) in labels.iter().enumerate() {
            let run = find(label);
            match run {
                Some(r) => {
                    let behind = r.requests_per_sec < rate * crate::load::KEPT_UP;
                    let flag = if r.errors > 0 || behind { " ⚠" } else { "" };
                    let l = &r.latency_ms;
                    let _ = write!(out, " {:.2} | {:.2}{flag} | {:.2} |", l.p50, l.p99, l.p999);
                }
                None => out.push_str(" — | — | — |"),
            }
            if i > 0 {
                match (run, baseline) {
                    (Some(r), Some(b)) if b.latency_ms.p99 > 0.0 => {
                        let _ = write!(out, " {:.2} |", r.latency_ms.p99 / b.latency_ms.p99);
                    }
                    _ => out.push_str(" — |"),
                }
            }
        }
        out.push('\n');
    }
    out
}

/// A markdown table's header and rule: the `lead` columns, then `per_label` for each label
/// (`{label}` replaced by it), and after each label but the first the `ratio` column (`{label}`
/// and `{baseline}`, the first label, replaced). Numeric columns are right-aligned.
fn table_head(lead: &[&str], labels: &[String], per_label: &[&str], ratio: &str) -> String {
    let baseline = labels.first().map_or("", String::as_str);
    let mut names: Vec<String> = lead.iter().map(|c| (*c).to_owned()).collect();
    for (i, label) in labels.iter().enumerate() {
        names.extend(per_label.iter().map(|c| c.replace("{label}", label)));
        if i > 0 {
            names.push(ratio.replace("{label}", label).replace("{baseline}", baseline));
        }
    }
    let rule: Vec<&str> = (0..names.len()).map(|i| if i == 0 { "---" } else { "---:" }).collect();
    format!("| {} |\n| {} |\n", names.join(" | "), rule.join(" | "))
}

/// Scenarios in the order of their first appearance.
fn scenarios<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scenarios: Vec<&str> = Vec::new();
    for name in names {
        if !scenarios.contains(&name) {
            scenarios.push(name);
        }
    }
    scenarios
}

/// The run with the median throughput among those of `label` on `scenario` (the lower of the two
/// middle ones for an even count), so that one disturbed round does not decide the summary.
pub fn median_run<'a>(
    results: &'a [RunResult],
    scenario: &str,
    label: &str,
) -> Option<&'a RunResult> {
    let runs = results.iter().filter(|r| r.scenario == scenario && r.label == label);
    lower_median(runs.collect(), |r| r.requests_per_sec)
}

/// The item with the median `key` (the lower of the two middle ones for an even count).
fn lower_median<T>(mut items: Vec<&T>, key: impl Fn(&T) -> f64) -> Option<&T> {
    items.sort_by(|a, b| key(a).total_cmp(&key(b)));
    items.get(items.len().saturating_sub(1) / 2).copied()
}

/// The markdown tables. `labels` gives the server columns in order; the first is the baseline
/// of the ratios. Scenarios appear in the order of their first result. When a server ran a
/// scenario several times (rounds), the summary shows its median run.
pub fn render(results: &[RunResult], labels: &[String]) -> String {
    let scenarios = scenarios(results.iter().map(|r| r.scenario.as_str()));
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

    out.push_str(&table_head(
        &["scenario"],
        labels,
        &["{label} req/s", "{label} p99 ms"],
        "ratio {label}",
    ));
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

    if results.iter().any(|r| r.server.is_some()) {
        out.push('\n');
        out.push_str(&render_resources(&scenarios, labels, find));
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

/// The table of the servers' CPU and memory, for the runs `find` picks (the summary's).
fn render_resources<'a>(
    scenarios: &[&str],
    labels: &[String],
    find: impl Fn(&str, &str) -> Option<&'a RunResult>,
) -> String {
    let mut out = String::from(
        "Server resources over the measured time of the summary's runs (CPU cores = CPU \
         seconds ÷ measured seconds; CPU µs per successful request; peak RSS summed over the \
         server's processes; RSS ratio = server ÷ first column):\n\n",
    );
    out.push_str(&table_head(
        &["scenario"],
        labels,
        &["{label} CPU cores", "{label} CPU µs/req", "{label} peak RSS MiB"],
        "RSS ratio {label}",
    ));
    let mut not_reset = false;
    for scenario in scenarios {
        let usage = |label: &str| find(scenario, label).and_then(|r| r.server.as_ref());
        let baseline = labels.first().and_then(|l| usage(l));
        let _ = write!(out, "| {scenario} |");
        for (i, label) in labels.iter().enumerate() {
            let server = usage(label);
            match server {
                Some(s) => {
                    let mark = if s.hwm_reset { "" } else { " †" };
                    not_reset |= !s.hwm_reset;
                    let _ = write!(
                        out,
                        " {:.2} | {:.1} | {:.1}{mark} |",
                        s.cpu_cores,
                        s.cpu_us_per_request,
                        s.peak_rss_kib as f64 / 1024.0
                    );
                }
                None => out.push_str(" — | — | — |"),
            }
            if i > 0 {
                match (server, baseline) {
                    (Some(s), Some(b)) if b.peak_rss_kib > 0 => {
                        let _ =
                            write!(out, " {:.2}× |", s.peak_rss_kib as f64 / b.peak_rss_kib as f64);
                    }
                    _ => out.push_str(" — |"),
                }
            }
        }
        out.push('\n');
    }
    if not_reset {
        out.push_str(
            "\n† The peak could not be reset at the start (clear_refs refused): it is the peak \
             since the process started, set-up included.\n",
        );
    }
    out
}

/// Among the series of `label` on `scenario`, the one with the median highest rate (the lower
/// middle one for an even count); a series where no rate held ranks lowest.
pub fn median_step<'a>(
    steps: &'a [StepResult],
    scenario: &str,
    label: &str,
) -> Option<&'a StepResult> {
    let series = steps.iter().filter(|s| s.scenario == scenario && s.label == label);
    lower_median(series.collect(), |s| s.max_rate.unwrap_or(0.0))
}

/// The step run at the series' highest rate that held, if one did.
pub fn held_step(series: &StepResult) -> Option<&RunResult> {
    let rate = series.max_rate?;
    series
        .steps
        .iter()
        .rev()
        .find(|s| s.target_rate.is_some_and(|r| (r - rate).abs() <= rate.abs() * 1e-9))
}

/// The table of the highest open-loop rate each server held (`sb-bench step`), one row per
/// scenario, with the ratio of each rate to the first label's.
pub fn render_steps(steps: &[StepResult], labels: &[String]) -> String {
    let scenarios = scenarios(steps.iter().map(|s| s.scenario.as_str()));
    let mut out = String::from(
        "Max open-loop rate at p99 ≤ budget (the last rate that held, in requests/s, and the \
         p50 / p99 / p99.9 in ms at that rate):\n\n",
    );
    out.push_str(&table_head(
        &["scenario", "p99 budget ms"],
        labels,
        &["{label} rate/s", "{label} p50", "{label} p99", "{label} p99.9"],
        "ratio {label}",
    ));
    for scenario in &scenarios {
        let find = |label: &str| median_step(steps, scenario, label);
        let mut budgets: Vec<String> = Vec::new();
        for series in labels.iter().filter_map(|l| find(l)) {
            let budget = format!("{}", series.p99_budget_ms);
            if !budgets.contains(&budget) {
                budgets.push(budget);
            }
        }
        let _ = write!(out, "| {scenario} | {} |", budgets.join(" / "));
        let baseline = labels.first().and_then(|l| find(l)).and_then(|s| s.max_rate);
        for (i, label) in labels.iter().enumerate() {
            let series = find(label);
            match series.map(|s| (s, held_step(s))) {
                Some((_, Some(held))) => {
                    let l = &held.latency_ms;
                    let rate = held.target_rate.unwrap_or_default();
                    let _ =
                        write!(out, " {rate:.0} | {:.2} | {:.2} | {:.2} |", l.p50, l.p99, l.p999);
                }
                Some((s, None)) => {
                    let lowest = s.steps.iter().filter_map(|f| f.target_rate).reduce(f64::min);
                    let _ = write!(out, " < {:.0} | — | — | — |", lowest.unwrap_or_default());
                }
                None => out.push_str(" — | — | — | — |"),
            }
            if i > 0 {
                match (series.and_then(|s| s.max_rate), baseline) {
                    (Some(rate), Some(b)) if b > 0.0 => {
                        let _ = write!(out, " {:.2}× |", rate / b);
                    }
                    _ => out.push_str(" — |"),
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The ratios to the first label as a bar chart: one group per closed-loop scenario (req/s of
/// the summary's runs), then one per scenario of the rate series (the highest rate that held).
pub fn chart(results: &Results, labels: &[String]) -> BarChart {
    let baseline = labels.first().map_or("", String::as_str);
    let ratios = |value: &dyn Fn(&str) -> Option<f64>| -> Vec<Option<f64>> {
        let base = value(baseline).filter(|b| *b > 0.0);
        labels.iter().map(|l| Some(value(l)? / base?)).collect()
    };
    let mut groups = Vec::new();
    for scenario in scenarios(results.runs.iter().map(|r| r.scenario.as_str())) {
        let rate =
            |label: &str| median_run(&results.runs, scenario, label).map(|r| r.requests_per_sec);
        groups.push(BarGroup { name: scenario.to_owned(), values: ratios(&rate) });
    }
    for scenario in scenarios(results.steps.iter().map(|s| s.scenario.as_str())) {
        let rate = |label: &str| {
            median_step(&results.steps, scenario, label).map(|s| s.max_rate.unwrap_or(0.0))
        };
        groups.push(BarGroup { name: format!("{scenario} max rate"), values: ratios(&rate) });
    }
    let measure = match (results.runs.is_empty(), results.steps.is_empty()) {
        (false, true) => "req/s",
        (true, false) => "max rate at the p99 budget",
        _ => "req/s and max rate",
    };
    BarChart {
        title: format!("{measure} relative to {baseline} (higher is better)"),
        series: labels.to_vec(),
        groups,
    }
}

#[cfg(test)]
mod tests;
