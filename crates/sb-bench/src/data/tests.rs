use super::*;

#[test]
fn splitmix_matches_the_reference_sequence() {
    // First outputs of the published SplitMix64 for seed 0.
    let mut rng = SplitMix64::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}

#[test]
fn below_stays_in_range_and_handles_zero() {
    let mut rng = SplitMix64::new(7);
    assert!((0..1000).all(|_| rng.below(3) < 3));
    assert_eq!(rng.below(0), 0);
}

#[test]
fn ids_are_valid_pocketbase_ids() {
    for id in [post_id(0), post_id(9_999), author_id(49)] {
        assert_eq!(id.len(), 15, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    }
    assert_eq!(post_id(42), "bp0000000000042");
}

#[test]
fn seeded_posts_are_deterministic_and_varied() {
    assert_eq!(seeded_post(1, 5, 50), seeded_post(1, 5, 50));
    assert_ne!(seeded_post(1, 5, 50), seeded_post(1, 6, 50));
    assert_ne!(seeded_post(1, 5, 50), seeded_post(2, 5, 50));
    let post = seeded_post(1, 5, 50);
    assert_eq!(post["id"], post_id(5));
    let body = post["body"].as_str().unwrap_or_default();
    assert!((300..=600).contains(&body.len()), "body of {} bytes", body.len());
}

#[test]
fn post_fields_respect_the_schema() {
    let mut published = 0;
    for i in 0..500 {
        let post = seeded_post(3, i, 4);
        let views = post["views"].as_u64().unwrap_or(u64::MAX);
        assert!(views < MAX_VIEWS);
        assert!(CATEGORIES.contains(&post["category"].as_str().unwrap_or_default()));
        let author = post["author"].as_str().unwrap_or_default();
        assert!((0..4).any(|a| author == author_id(a)), "{author}");
        if post["published"] == true {
            published += 1;
        }
    }
    assert!((200..300).contains(&published), "{published} of 500 published");
}

#[test]
fn new_posts_have_no_id_and_a_short_body() {
    let post = new_post(&mut SplitMix64::new(9), 50);
    assert!(post.get("id").is_none());
    assert!(post["body"].as_str().unwrap_or_default().len() < 200);
}
