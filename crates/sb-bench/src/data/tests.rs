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

#[test]
fn owned_notes_belong_to_their_owner_and_exist() {
    let mut rng = SplitMix64::new(5);
    for (authors, records) in [(5, 23), (50, 10_000), (7, 7), (16, 3)] {
        for owner in 0..authors.min(records) {
            for _ in 0..50 {
                let note = owned_note(&mut rng, owner, authors, records);
                assert!(note < records, "note {note} of {records}");
                assert_eq!(note_owner(note, authors), owner);
            }
        }
    }
}

#[test]
fn seeded_authors_notes_and_orgs_fit_the_schema() {
    let author = author(1, 3, 10);
    assert_eq!(author["id"], author_id(3));
    assert_eq!(author["email"], author_email(3));
    assert_eq!(author["password"], author["passwordConfirm"]);
    let org = author["org"].as_str().unwrap_or_default();
    assert!((0..10).any(|o| org == org_id(o)), "{org}");
    let note = seeded_note(1, 12, 5);
    assert_eq!(note["id"], note_id(12));
    assert_eq!(note["owner"], author_id(2));
    let plans: Vec<Value> = (0..6).map(|i| self::org(1, i)["plan"].clone()).collect();
    assert_eq!(plans.iter().filter(|p| **p == FILTER_PLAN).count(), 2);
    for id in [org_id(9), note_id(99_999), media_id(19)] {
        assert_eq!(id.len(), 15, "{id}");
    }
}

#[test]
fn sample_images_are_pngs() {
    let png = sample_png(3).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert_ne!(png, sample_png(4).unwrap_or_default());
}
