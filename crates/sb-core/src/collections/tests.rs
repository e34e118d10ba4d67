//! Pure helpers of the collections API: index retargeting, import messages, provider logos.

use serde_json::json;

use super::import::messages_only;
use super::*;

#[test]
fn indexes_are_pointed_at_the_collection_table() {
    let mut c = Collection::new(CollectionType::Base, "posts");
    c.indexes = vec![
        "CREATE INDEX idx_a ON posts (a)".into(),
        "create unique index `idx_b` on `old` (b COLLATE NOCASE, c DESC) WHERE b != ''".into(),
        "not an index".into(),
    ];
    retarget_indexes(&mut c);
    assert_eq!(
        c.indexes,
        [
            "CREATE INDEX idx_a ON posts (a)",
            "CREATE UNIQUE INDEX `idx_b` ON `posts` (\n  `b` COLLATE NOCASE,\n  `c` DESC\n) WHERE b != ''",
            "not an index",
        ]
    );
}

#[test]
fn import_messages_use_ozzo_wording_for_generic_codes() {
    let tree = json!({
        "name": {"code": "validation_match_invalid", "message": "Must be in a valid format."},
        "fields": {"1": {"collectionId": {"code": "validation_field_relation_missing_collection", "message": "The relation collection doesn't exist."}}},
        "min": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 3.", "params": {"threshold": 3}},
    });
    assert_eq!(
        messages_only(tree),
        json!({
            "name": "must be in a valid format",
            "fields": {"1": {"collectionId": "The relation collection doesn't exist."}},
            "min": "must be no less than 3",
        })
    );
}

#[test]
fn periods_are_added_once() {
    assert_eq!(with_period("no such column: x (1)"), "no such column: x (1).");
    assert_eq!(with_period("done. "), "done.");
}

#[test]
fn provider_logos_are_svg_with_an_initial() {
    assert!(provider_logo("GitHub").contains(">G</text>"));
    assert!(provider_logo("ВКонтакте").contains(">В</text>"));
    assert!(provider_logo("").contains(">?</text>"));
    assert_eq!(OAUTH2_PROVIDERS.len(), sb_schema::validate::OAUTH2_PROVIDERS.len());
    for ((name, _), known) in OAUTH2_PROVIDERS.iter().zip(sb_schema::validate::OAUTH2_PROVIDERS) {
        assert_eq!(*name, known);
    }
}
