//! The deploy kit (`deploy/`) parses, and every metric its dashboards, alerts and autoscaler
//! name is one Scalebase exports (`sb_observe::names`).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(rel: &str) -> String {
    let path = deploy_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every YAML document of a file, as JSON values.
fn yaml_docs(rel: &str) -> Vec<Json> {
    let text = read(rel);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let value: serde_yaml_ng::Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{rel}: invalid YAML: {e}"));
            serde_json::to_value(value).unwrap_or_else(|e| panic!("{rel}: {e}"))
        })
        .collect()
}

/// The exported metric a series name belongs to (`_bucket`, `_sum` and `_count` are a
/// histogram's series).
fn known(series: &str) -> bool {
    let exported: Vec<&str> =
        sb_observe::names::ALL.iter().chain(sb_observe::names::PROCESS).copied().collect();
    exported.contains(&series)
        || ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| series.strip_suffix(suffix).is_some_and(|base| exported.contains(&base)))
}

/// Metric names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\b(scalebase_[a-z0-9_]+|process_[a-z0-9_]+)\b").unwrap();
    re.find_iter(expr).map(|m| m.as_str().to_owned()).collect()
}

fn assert_known(context: &str, expr: &str) -> usize {
    let names = metric_names(expr);
    for name in &names {
        assert!(known(name), "{context}: unknown metric {name} in {expr}");
    }
    names.len()
}

#[test]
fn grafana_dashboard_uses_exported_metrics() {
    let dash: Json = serde_json::from_str(&read("grafana/scalebase-dashboard.json"))
        .expect("dashboard is valid JSON");
    assert_eq!(dash["uid"], "scalebase-overview");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8);
    let mut used = 0;
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("?");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no queries");
        for t in targets {
            used += assert_known(title, t["expr"].as_str().expect("expr"));
        }
    }
    assert!(used >= 20, "{used}");
    // Every exported Scalebase metric appears on the dashboard.
    let all = read("grafana/scalebase-dashboard.json");
    for name in sb_observe::names::ALL {
        assert!(all.contains(name), "the dashboard does not show {name}");
    }
}

#[test]
fn alert_rules_use_exported_metrics() {
    let docs = yaml_docs("prometheus/alerts.yaml");
    assert_eq!(docs.len(), 1);
    let rules = docs[0]["groups"][0]["rules"].as_array().expect("rules");
    assert!(rules.len() >= 5);
    for rule in rules {
        let name = rule["alert"].as_str().expect("alert name");
        let expr = rule["expr"].as_str().expect("expr");
        assert!(rule["labels"]["severity"].is_string(), "{name}: no severity");
        if name != "ScalebaseDown" {
            assert!(assert_known(name, expr) >= 1, "{name}: no Scalebase metric");
        }
    }
}

#[test]
fn kubernetes_manifests_probe_and_scale_on_real_endpoints_and_metrics() {
    let deployment = &yaml_docs("kubernetes/deployment.yaml")[0];
    assert_eq!(deployment["kind"], "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/api/health");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/api/ready");
    let env = container["env"].as_array().expect("env");
    let metrics_addr = env
        .iter()
        .find(|e| e["name"] == "SCALEBASE_METRICS_ADDR")
        .and_then(|e| e["value"].as_str())
        .expect("metrics address");
    let port: u16 = metrics_addr.rsplit(':').next().unwrap().parse().unwrap();
    let ports = container["ports"].as_array().expect("ports");
    assert!(ports.iter().any(|p| p["name"] == "metrics" && p["containerPort"] == port));
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"],
        port.to_string()
    );

    let service = &yaml_docs("kubernetes/service.yaml")[0];
    assert_eq!(service["kind"], "Service");
    assert_eq!(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]);

    let hpa = &yaml_docs("kubernetes/hpa.yaml")[0];
    assert_eq!(hpa["kind"], "HorizontalPodAutoscaler");
    let metrics = hpa["spec"]["metrics"].as_array().expect("metrics");
    assert!(metrics.iter().any(|m| m["resource"]["name"] == "cpu"));
    let custom = metrics
        .iter()
        .find_map(|m| m["pods"]["metric"]["name"].as_str())
        .expect("a request-rate metric");
    // The adapter provides it from an exported counter.
    let adapter = &yaml_docs("kubernetes/prometheus-adapter.yaml")[0];
    let config = adapter["data"]["config.yaml"].as_str().expect("adapter config");
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(config).expect("adapter YAML");
    let rule = &rules["rules"][0];
    assert_eq!(rule["name"]["as"].as_str(), Some(custom));
    assert_known("prometheus-adapter", rule["seriesQuery"].as_str().expect("seriesQuery"));
}

#[test]
fn systemd_unit_runs_serve_with_metrics() {
    let unit = read("systemd/scalebase.service");
    for line in [
        "ExecStart=/usr/local/bin/scalebase serve",
        "Environment=SCALEBASE_METRICS_ADDR=127.0.0.1:9464",
        "[Install]",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line:?}");
    }
}
