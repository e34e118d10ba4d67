use super::*;

#[test]
fn view_targets_seeded_ids() {
    let w = Workload::new(Scenario::View, 10, 5);
    let mut rng = SplitMix64::new(1);
    for _ in 0..100 {
        let r = w.next_request(&mut rng);
        assert_eq!(r.method, Method::GET);
        let id = r.target.strip_prefix("/api/collections/posts/records/").unwrap_or_default();
        assert!((0..10).any(|i| id == data::post_id(i)), "{}", r.target);
    }
    assert_eq!(w.probe().target, "/api/collections/posts/records/bp0000000000009");
}

#[test]
fn list_target_is_encoded_filter_and_sort() {
    let r = Workload::new(Scenario::List, 10, 5).next_request(&mut SplitMix64::new(1));
    assert_eq!(
        r.target,
        "/api/collections/posts/records?filter=%28published%3Dtrue%20%26%26%20views%3E500%29\
         &sort=-views&perPage=30"
    );
    assert!(r.body.is_none());
}

#[test]
fn create_posts_a_json_record() {
    let r = Workload::new(Scenario::Create, 10, 5).next_request(&mut SplitMix64::new(1));
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.target, "/api/collections/posts/records");
    let body: serde_json::Value =
        serde_json::from_slice(r.body.as_deref().unwrap_or_default()).unwrap_or_default();
    assert!(body["title"].is_string() && body["views"].is_u64() && body["author"].is_string());
}
