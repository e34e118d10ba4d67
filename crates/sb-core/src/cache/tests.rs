use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::cluster::Cluster;

fn coherence() -> Coherence {
    Coherence::new(Cluster::new("test".into()))
}

fn tables(names: &[&str]) -> Changed {
    Changed::Tables { tables: names.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
}

fn rows(rows: &[(&str, &str)]) -> Changed {
    let rows = rows.iter().map(|(t, id)| (t.to_string(), id.to_string())).collect();
    Changed::Tables { tables: Vec::new(), rows }
}

fn read(names: &[&str], rows: &[(&str, &str)]) -> Reads {
    let mut reads = Reads::default();
    for t in names {
        reads.add_table(t.to_string());
    }
    reads.rows = rows.iter().map(|(t, id)| (t.to_string(), id.to_string())).collect();
    reads
}

/// Hits share one JSON text per entry, written at the first hit; a computed answer writes its
/// own.
#[tokio::test]
async fn hits_share_the_entry_text() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let value = json!({"id": "p1", "title": "a \"quoted\" title", "n": 2.5});
    let Err(Some(fill)) = cache.get(&c, "k").await else { panic!("empty cache misses") };
    cache.put(&c, &catalog, "k".into(), fill, read(&["posts"], &[]), &value).await;
    let first = cache.get(&c, "k").await.ok().expect("a hit").text();
    let second = cache.get(&c, "k").await.ok().expect("a hit").text();
    assert_eq!(serde_json::from_slice::<Json>(&first).unwrap(), value);
    assert_eq!(first.as_ptr(), second.as_ptr(), "the second hit shares the first one's text");
    assert_eq!(Answer::from(value.clone()).text(), first);
    assert_eq!(cache.get(&c, "k").await.ok().map(Answer::into_value), Some(value));
}

#[tokio::test]
async fn an_entry_is_served_until_a_table_it_read_changes() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let Err(Some(fill)) = cache.get(&c, "k").await else { panic!("empty cache misses") };
    cache.put(&c, &catalog, "k".into(), fill, read(&["posts", "users"], &[]), &json!(1)).await;
    assert_eq!(cache.get(&c, "k").await.ok().map(Answer::into_value), Some(json!(1)));
    c.advance(&tables(&["comments"]));
    assert_eq!(
        cache.get(&c, "k").await.ok().map(Answer::into_value),
        Some(json!(1)),
        "unrelated table"
    );
    c.advance(&tables(&["users"]));
    assert!(cache.get(&c, "k").await.is_err(), "a table it read changed");
    assert_eq!(cache.stats(), CacheStats { hits: 2, misses: 2, bypasses: 0, shared_hits: 0 });
}

#[tokio::test]
async fn a_change_during_the_computation_makes_the_entry_stale_at_once() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let Err(Some(fill)) = cache.get(&c, "k").await else { panic!() };
    // The write commits while the answer is being computed from older data.
    c.advance(&tables(&["posts"]));
    cache.put(&c, &catalog, "k".into(), fill, read(&["posts"], &[]), &json!("old")).await;
    assert!(cache.get(&c, "k").await.is_err());
}

#[tokio::test]
async fn raw_reads_and_everything_changes_depend_on_all_tables() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let Err(Some(fill)) = cache.get(&c, "raw").await else { panic!() };
    let mut raw = read(&[], &[]);
    raw.any = true;
    cache.put(&c, &catalog, "raw".into(), fill, raw, &json!(1)).await;
    let Err(Some(fill)) = cache.get(&c, "plain").await else { panic!() };
    cache.put(&c, &catalog, "plain".into(), fill, read(&["posts"], &[]), &json!(2)).await;
    c.advance(&tables(&["anything"]));
    assert!(cache.get(&c, "raw").await.is_err());
    assert!(cache.get(&c, "plain").await.is_ok());
    c.advance(&Changed::All);
    assert!(cache.get(&c, "plain").await.is_err());
}

#[tokio::test]
async fn answers_of_time_dependent_rules_are_not_kept() {
    let mut c = sb_schema::Collection::new(sb_schema::CollectionType::Base, "posts");
    c.list_rule = Some("created > @now".into());
    let catalog = Catalog::new(vec![c]);
    let co = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let Err(Some(fill)) = cache.get(&co, "k").await else { panic!() };
    cache.put(&co, &catalog, "k".into(), fill, read(&[], &[("posts", "p1")]), &json!(1)).await;
    assert_eq!(cache.len(), 0);
}

#[test]
fn rule_text_analysis() {
    assert!(is_volatile("created > @now"));
    assert!(is_volatile("@random"));
    assert!(!is_volatile("@request.auth.id != '' && @collection.x.id = id"));
    assert_eq!(
        header_refs("@request.headers.x_token = 'a' || @request.headers.origin != ''"),
        ["x_token", "origin"]
    );
    let mut c = sb_schema::Collection::new(sb_schema::CollectionType::Base, "posts");
    c.view_rule = Some("@request.headers.x_team = team".into());
    let profile = CacheProfile::of(&[Arc::new(c)]);
    assert_eq!(profile.headers, ["x_team"]);
}

#[test]
fn keys_hold_the_principal_the_query_and_the_headers_rules_read() {
    let mut c = sb_schema::Collection::new(sb_schema::CollectionType::Base, "posts");
    c.view_rule = Some("@request.headers.x_team = team".into());
    let catalog = Catalog::new(vec![c]);
    let mut req = sb_query::RequestInfo { method: "GET".into(), ..Default::default() };
    let base = request_key(&catalog, "view", "posts", "id1", &req);
    req.headers.insert("user_agent".into(), "curl".into());
    assert_eq!(request_key(&catalog, "view", "posts", "id1", &req), base, "unread header");
    req.headers.insert("x_team".into(), "red".into());
    let with_team = request_key(&catalog, "view", "posts", "id1", &req);
    assert_ne!(with_team, base);
    req.query.insert("expand".into(), "author".into());
    assert_ne!(request_key(&catalog, "view", "posts", "id1", &req), with_team);
}

#[tokio::test]
async fn a_row_entry_is_served_until_its_row_or_its_whole_table_changes() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let Err(Some(fill)) = cache.get(&c, "view p1").await else { panic!() };
    cache.put(&c, &catalog, "view p1".into(), fill, read(&[], &[("posts", "p1")]), &json!(1)).await;
    let Err(Some(fill)) = cache.get(&c, "list").await else { panic!() };
    cache.put(&c, &catalog, "list".into(), fill, read(&["posts"], &[]), &json!(2)).await;
    c.advance(&rows(&[("posts", "p2")]));
    assert!(cache.get(&c, "view p1").await.is_ok(), "another row changed");
    assert!(cache.get(&c, "list").await.is_err(), "a list reads every row");
    c.advance(&rows(&[("users", "p1")]));
    assert!(cache.get(&c, "view p1").await.is_ok(), "the same id in another table");
    c.advance(&rows(&[("posts", "p1")]));
    assert!(cache.get(&c, "view p1").await.is_err(), "its row changed");

    let Err(Some(fill)) = cache.get(&c, "view p3").await else { panic!() };
    cache.put(&c, &catalog, "view p3".into(), fill, read(&[], &[("posts", "p3")]), &json!(3)).await;
    c.advance(&tables(&["posts"]));
    assert!(cache.get(&c, "view p3").await.is_err(), "a change not confined to rows");
}

#[tokio::test]
async fn a_row_read_next_to_a_whole_read_of_its_table_counts_as_the_table() {
    let c = coherence();
    let cache = ReadCache::new("test", 1 << 20);
    let catalog = Catalog::default();
    let Err(Some(fill)) = cache.get(&c, "k").await else { panic!() };
    cache
        .put(&c, &catalog, "k".into(), fill, read(&["posts"], &[("posts", "p1")]), &json!(1))
        .await;
    c.advance(&rows(&[("posts", "p2")]));
    assert!(cache.get(&c, "k").await.is_err());
}
