use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{cut, truncate_data};

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
    let data: BTreeMap<&'static str, Json> = BTreeMap::from([
        ("auth", json!("")),
        ("execTime", json!(0.033235)),
        ("method", json!("GET")),
        ("referer", json!("")),
        ("remoteIP", json!("127.0.0.1")),
        ("status", json!(200)),
        ("type", json!("request")),
    ]);
    let kept = truncate_data(data.clone(), 100);
    let keys: Vec<&str> = kept.keys().copied().collect();
    assert_eq!(
        keys,
        ["__pb_truncated__", "auth", "execTime", "method", "referer", "remoteIP", "status"]
    );
    assert_eq!(truncate_data(data.clone(), 1000), data);
}
