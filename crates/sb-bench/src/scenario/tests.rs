use super::*;

#[test]
fn view_targets_seeded_ids() {
    let w = Workload::new(Scenario::View, 10, 5);
    let mut rng = SplitMix64::new(1);
    for _ in 0..100 {
        let r = w.next_request(&mut rng, 0);
        assert_eq!(r.method, Method::GET);
        let id = r.target.strip_prefix("/api/collections/posts/records/").unwrap_or_default();
        assert!((0..10).any(|i| id == data::post_id(i)), "{}", r.target);
    }
    assert_eq!(w.probe().target, "/api/collections/posts/records/bp0000000000009");
}

#[test]
fn list_target_is_encoded_filter_and_sort() {
    let r = Workload::new(Scenario::List, 10, 5).next_request(&mut SplitMix64::new(1), 0);
    assert_eq!(
        r.target,
        "/api/collections/posts/records?filter=%28published%3Dtrue%20%26%26%20views%3E500%29\
         &sort=-views&perPage=30"
    );
    assert!(r.body.is_none());
}

#[test]
fn create_posts_a_json_record() {
    let r = Workload::new(Scenario::Create, 10, 5).next_request(&mut SplitMix64::new(1), 0);
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.target, "/api/collections/posts/records");
    let body: serde_json::Value =
        serde_json::from_slice(r.body.as_deref().unwrap_or_default()).unwrap_or_default();
    assert!(body["title"].is_string() && body["views"].is_u64() && body["author"].is_string());
}

/// A workload as [`Workload::prepare`] leaves it, with made-up tokens for `signed` authors and
/// the given file targets.
fn prepared(scenario: Scenario, records: u64, signed: u64, files: &[&str]) -> Workload {
    let mut w = Workload::new(scenario, records, 5);
    w.tokens = Arc::new(
        (0..signed)
            .map(|a| {
                HeaderValue::from_str(&format!("token-{a}"))
                    .unwrap_or(HeaderValue::from_static("x"))
            })
            .collect(),
    );
    w.files = Arc::new(files.iter().map(|f| (*f).to_owned()).collect());
    w
}

fn body_of(r: &RequestSpec) -> serde_json::Value {
    serde_json::from_slice(r.body.as_deref().unwrap_or_default()).unwrap_or_default()
}

#[test]
fn connections_keep_one_signed_in_author_each() {
    let w = prepared(Scenario::CreateOwner, 100, 3, &[]);
    let mut rng = SplitMix64::new(4);
    for connection in 0..9 {
        let r = w.next_request(&mut rng, connection);
        let author = connection % 3;
        assert_eq!(
            r.auth,
            Some(
                HeaderValue::from_str(&format!("token-{author}"))
                    .unwrap_or(HeaderValue::from_static("x"))
            )
        );
        assert_eq!(r.target, "/api/collections/notes/records");
        assert_eq!(body_of(&r)["owner"], data::author_id(author as u64));
    }
    // Before prepare (or for a guest scenario) requests carry no token.
    let guest = Workload::new(Scenario::CreateOwner, 100, 5).next_request(&mut rng, 0);
    assert_eq!(guest.auth, None);
}

#[test]
fn updates_change_a_note_of_the_signed_in_author() {
    let w = prepared(Scenario::Update, 23, 4, &[]);
    let mut rng = SplitMix64::new(2);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let r = w.next_request(&mut rng, 2);
        assert_eq!(r.method, Method::PATCH);
        let id = r.target.strip_prefix("/api/collections/notes/records/").unwrap_or_default();
        let index = (0..23).find(|i| data::note_id(*i) == id);
        let index = index.unwrap_or_else(|| panic!("{} is not a seeded note", r.target));
        assert_eq!(data::note_owner(index, 5), 2, "note {index} is not author 2's");
        assert!(body_of(&r)["title"].is_string() && body_of(&r)["done"].is_boolean());
        seen.insert(index);
    }
    // Author 2 of 5 owns notes 2, 7, 12, 17 and 22 of 23: every one gets updated.
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [2, 7, 12, 17, 22]);
}

#[test]
fn batch_creates_a_hundred_notes_of_the_author() {
    let w = prepared(Scenario::Batch, 10, 2, &[]);
    let r = w.next_request(&mut SplitMix64::new(1), 1);
    assert_eq!((r.method.clone(), r.target.as_str()), (Method::POST, "/api/batch"));
    let body = body_of(&r);
    let requests = body["requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(requests.len(), BATCH_SIZE);
    for sub in requests {
        assert_eq!(sub["method"], "POST");
        assert_eq!(sub["url"], "/api/collections/notes/records");
        assert_eq!(sub["body"]["owner"], data::author_id(1));
    }
}

#[test]
fn list_targets_encode_their_queries() {
    let mut rng = SplitMix64::new(1);
    let relation = Workload::new(Scenario::ListRelation, 10, 5).next_request(&mut rng, 0);
    assert_eq!(
        relation.target,
        "/api/collections/posts/records?filter=%28author.org.plan%3D%27pro%27%20%26%26%20\
         published%3Dtrue%29&sort=-views&skipTotal=1&perPage=30"
    );
    let owner = prepared(Scenario::ListOwner, 10, 1, &[]).next_request(&mut rng, 0);
    assert_eq!(owner.target, "/api/collections/notes/records?sort=-created&skipTotal=1&perPage=30");
    assert!(owner.auth.is_some());
}

#[test]
fn sign_in_scenarios_need_no_token_but_refresh_does() {
    let w = prepared(Scenario::AuthRefresh, 10, 2, &[]);
    let r = w.next_request(&mut SplitMix64::new(1), 0);
    assert_eq!(r.target, "/api/collections/authors/auth-refresh");
    assert!(r.auth.is_some() && r.body.is_none());
    assert!(Scenario::AuthRefresh.signed_in() && !Scenario::AuthPassword.signed_in());
    let r = Workload::new(Scenario::AuthPassword, 10, 5).next_request(&mut SplitMix64::new(1), 0);
    let body = body_of(&r);
    let identity = body["identity"].as_str().unwrap_or_default();
    assert!((0..5).any(|a| identity == data::author_email(a)), "{identity}");
    assert_eq!(body["password"], data::AUTHOR_PASSWORD);
}

#[test]
fn file_thumbs_are_drawn_from_the_listed_files() {
    let files =
        ["/api/files/media/a/x.png?thumb=100x100", "/api/files/media/b/y.png?thumb=100x100"];
    let w = prepared(Scenario::FileThumb, 10, 0, &files);
    let mut rng = SplitMix64::new(3);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..50 {
        seen.insert(w.next_request(&mut rng, 0).target);
    }
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|t| files.contains(&t.as_str())));
}
