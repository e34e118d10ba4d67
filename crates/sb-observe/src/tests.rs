use std::time::Duration;

use super::*;

#[test]
fn renders_recorded_metrics_with_their_labels_and_process_metrics() {
    let exporter = exporter().expect("recorder installed");
    http_request("/api/collections/{collection}/records", "GET", 200, Duration::from_millis(3));
    http_request("/api/collections/{collection}/records", "GET", 200, Duration::from_millis(30));
    rate_limited("rule");
    sqlite_commit_group(3);
    db_pool(Backend::Postgres, 2, 1, 0);
    db_read(ReadTarget::Replica);
    db_read(ReadTarget::Replica);
    let text = exporter.render();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix} in\n{text}"))
            .to_owned()
    };
    let requests = line("scalebase_http_requests_total{");
    assert!(requests.contains(r#"route="/api/collections/{collection}/records""#), "{requests}");
    assert!(requests.contains(r#"method="GET""#) && requests.contains(r#"status="200""#));
    assert!(requests.ends_with(" 2"), "{requests}");
    // Histogram buckets: 3 ms falls in le="0.005", 30 ms only from le="0.05".
    assert!(line(r#"scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="GET",status="200",le="0.005"}"#).ends_with(" 1"));
    assert!(line(r#"scalebase_http_request_duration_seconds_bucket{route="/api/collections/{collection}/records",method="GET",status="200",le="0.05"}"#).ends_with(" 2"));
    assert!(text.contains("# TYPE scalebase_http_requests_total counter"));
    assert!(line(r#"scalebase_rate_limited_requests_total{kind="rule"}"#).ends_with(" 1"));
    assert!(line(r#"scalebase_sqlite_commit_group_size_bucket{le="4"}"#).ends_with(" 1"));
    assert!(
        line(r#"scalebase_db_pool_connections{backend="postgres",state="idle"}"#).ends_with(" 2")
    );
    assert!(line(r#"scalebase_db_reads_total{target="replica"}"#).ends_with(" 2"));
    for name in ["process_resident_memory_bytes", "process_cpu_seconds_total"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing in\n{text}");
    }
}

#[test]
fn classifies_statements() {
    assert_eq!(sql_operation("  SELECT 1"), "select");
    assert_eq!(sql_operation("WITH x AS (SELECT 1) SELECT * FROM x"), "select");
    assert_eq!(sql_operation("insert into t values (1)"), "insert");
    assert_eq!(sql_operation("UPDATE t SET a = 1"), "update");
    assert_eq!(sql_operation("DELETE FROM t"), "delete");
    assert_eq!(sql_operation("CREATE TABLE t (a)"), "ddl");
    assert_eq!(sql_operation("SAVEPOINT s"), "other");
    assert_eq!(sql_operation(""), "other");
}
