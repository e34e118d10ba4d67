use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{EntryData, cut, log_id, truncate_data};

/// The entry's data is written in one pass: keys in byte order as a map would have them, the
/// optional ones left out, `details` null on an error without one.
#[test]
fn entry_data_is_an_object_with_sorted_keys() {
    let data = EntryData {
        auth: "users",
        auth_id: Some("u1"),
        details: Some(None),
        error: Some("Missing."),
        exec_time: 0.25,
        method: "GET",
        referer: "",
        remote_ip: Some("127.0.0.1"),
        status: 404,
        kind: "request",
        url: "/api/x?a=\"b\"",
        user_agent: "ua",
        user_ip: Some("10.0.0.1"),
    };
    let text = serde_json::to_string(&data).unwrap();
    let parsed: BTreeMap<String, Json> = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = parsed.keys().map(String::as_str).collect();
    let written: Vec<&str> = text
        .match_indices("\":")
        .map(|(at, _)| {
            let start = text[..at].rfind('"').unwrap() + 1;
            &text[start..at]
        })
        .collect();
    assert_eq!(written, keys, "{text}");
    assert_eq!(parsed["details"], Json::Null);
    assert_eq!(parsed["url"], json!("/api/x?a=\"b\""));
    let plain = EntryData {
        auth_id: None,
        details: None,
        error: None,
        remote_ip: None,
        user_ip: None,
        ..data
    };
    let parsed: Json = serde_json::from_str(&serde_json::to_string(&plain).unwrap()).unwrap();
    let object = parsed.as_object().unwrap();
    for absent in ["authId", "details", "error", "remoteIP", "userIP"] {
        assert!(!object.contains_key(absent), "{absent} in {parsed}");
    }
    assert_eq!(object.len(), 8, "{parsed}");
}

#[test]
fn cut_appends_an_ellipsis_only_when_cutting() {
    assert_eq!(cut("abc", 3), "abc");
    assert_eq!(cut("abcd", 3), "abc...");
    assert_eq!(cut("ééééé", 2), "éé...");
}

#[test]
fn truncation_keeps_keys_while_they_fit() {
    // Sizes of `"key":value`: auth 9, execTime 19, method 14, referer 12, remoteIP 22,
    // status 12 (total 88), type 16 (104).
    let data: BTreeMap<String, Json> = [
        ("auth", json!("")),
        ("execTime", json!(0.033235)),
        ("method", json!("GET")),
        ("referer", json!("")),
        ("remoteIP", json!("127.0.0.1")),
        ("status", json!(200)),
        ("type", json!("request")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let kept = truncate_data(data.clone(), 100);
    let keys: Vec<&str> = kept.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["__pb_truncated__", "auth", "execTime", "method", "referer", "remoteIP", "status"]
    );
    assert_eq!(truncate_data(data.clone(), 1000), data);
}

/// A store whose writes never finish (a stuck log database); everything else succeeds.
struct StuckStore;

struct NoopTx;

#[async_trait::async_trait]
impl sb_store::Tx for NoopTx {
    async fn query(&mut self, _: &sb_sql::Stmt) -> sb_store::Result<sb_store::Rows> {
        Ok(sb_store::Rows::default())
    }
    async fn execute(&mut self, _: &sb_sql::Stmt) -> sb_store::Result<u64> {
        Ok(0)
    }
    async fn commit(self: Box<Self>) -> sb_store::Result<()> {
        Ok(())
    }
    async fn rollback(self: Box<Self>) -> sb_store::Result<()> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl sb_store::Store for StuckStore {
    fn dialect(&self) -> sb_sql::Dialect {
        sb_sql::Dialect::Sqlite
    }
    async fn query(&self, _: &sb_sql::Stmt) -> sb_store::Result<sb_store::Rows> {
        Ok(sb_store::Rows::default())
    }
    async fn begin(&self) -> sb_store::Result<Box<dyn sb_store::Tx>> {
        Ok(Box::new(NoopTx))
    }
    async fn write(&self, _: &[sb_sql::Stmt]) -> sb_store::Result<Vec<u64>> {
        std::future::pending().await
    }
    async fn ping(&self) -> sb_store::Result<()> {
        Ok(())
    }
    async fn table_columns(&self, _: &str) -> sb_store::Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn close(&self) {}
}

fn row(i: usize) -> super::LogRow {
    super::LogRow {
        id: format!("{i:015}"),
        created: "2026-11-29 00:00:00.000Z".into(),
        level: 0,
        message: "GET /api/health".into(),
        data: "{}".into(),
    }
}

/// With the log database stuck, offering entries never waits: once the queue (and the batch
/// the writer holds) is full, further entries are dropped.
#[tokio::test]
async fn a_stuck_log_store_drops_entries_instead_of_waiting() {
    let logs = super::RequestLogs::open(std::sync::Arc::new(StuckStore)).await.unwrap();
    let offered = super::QUEUE + super::BATCH + 1000;
    let mut queued = 0;
    let mut dropped = 0;
    for i in 0..offered {
        match logs.offer(row(i)) {
            super::LogOutcome::Queued => queued += 1,
            super::LogOutcome::Dropped => dropped += 1,
            super::LogOutcome::Skipped => unreachable!("offer never skips"),
        }
    }
    assert!(queued <= super::QUEUE + super::BATCH, "{queued} queued");
    assert!(dropped >= 1000, "{dropped} dropped");
}

#[test]
fn log_ids_have_the_id_format_and_sort_by_time() {
    let earlier = log_id(1_795_000_000_000);
    let later = log_id(1_795_000_000_001);
    for id in [&earlier, &later] {
        assert_eq!(id.len(), 15);
        assert!(id.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()), "{id}");
    }
    assert!(earlier < later, "{earlier} < {later}");
    assert!(log_id(0).starts_with("00000000"));
    assert!(log_id(2_821_109_907_455).starts_with("zzzzzzzz"));
}
