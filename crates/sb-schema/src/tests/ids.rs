use crate::ids::*;
use crate::model::CollectionType;

#[test]
fn checksum_ids_match_reference() {
    assert_eq!(collection_id(CollectionType::Auth, "_superusers"), "pbc_3142635823");
    assert_eq!(collection_id(CollectionType::Base, "_mfas"), "pbc_2279338944");
    assert_eq!(collection_id(CollectionType::Base, "_otps"), "pbc_1638494021");
    assert_eq!(collection_id(CollectionType::Base, "_externalAuths"), "pbc_2281828961");
    assert_eq!(collection_id(CollectionType::Base, "_authOrigins"), "pbc_4275539003");
    assert_eq!(collection_id(CollectionType::Base, "bare"), "pbc_4272072848");
    assert_eq!(field_id("text", "id"), "text3208210256");
    assert_eq!(field_id("autodate", "created"), "autodate2990389176");
    assert_eq!(field_id("password", "password"), "password901924565");
    assert_eq!(field_id("geoPoint", "g"), "geoPoint30677878");
}

#[test]
fn random_values() {
    let id = random_id();
    assert_eq!(id.len(), 15);
    assert!(id.bytes().all(|b| LOWER_ALPHANUMERIC.contains(&b)));
    assert_ne!(random_id(), random_id());
    let secret = random_secret();
    assert_eq!(secret.len(), 50);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
}

#[test]
fn generated_values_match_their_pattern() {
    for pattern in [
        "[a-z0-9]{15}",
        "[a-zA-Z0-9]{50}",
        "prefix[0-9]{4}",
        "(foo|bar)-\\d{2,4}",
        "a?b*c+",
        "[^a-z]{5}",
        "\\w{3}\\.\\s",
        "(?i)abc",
        "x{0,3}y",
        "[[:upper:]]{3}",
        "é{2}",
        ".{4}",
    ] {
        let re =
            regex::Regex::new(&format!("^(?:{})$", crate::goregex::translate(pattern))).unwrap();
        for _ in 0..50 {
            let v = generate_from_pattern(pattern).unwrap();
            assert!(re.is_match(&v), "{pattern} generated {v:?}");
        }
    }
    // Go's \d and \w are ASCII-only
    for _ in 0..50 {
        assert!(generate_from_pattern("\\d{8}").unwrap().bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn unsupported_and_invalid_patterns() {
    for (pattern, op) in [("^abc", 9), ("abc$", 10), ("\\bx", 11), ("\\Bx", 12), ("(?m)^a", 7)] {
        assert_eq!(
            generate_from_pattern(pattern),
            Err(format!("Unsupported pattern operator {op}.")),
            "{pattern}"
        );
    }
    let err = generate_from_pattern("(").unwrap_err();
    assert!(err.starts_with("Error parsing regexp: ") && err.ends_with(": `(`."), "{err}");
}

#[test]
fn go_regex_translation() {
    use crate::goregex::translate;
    assert_eq!(translate("\\d+"), "[0-9]+");
    assert_eq!(translate("[\\d_]"), "[0-9_]");
    assert_eq!(translate("[]\\d]"), "[]0-9]");
    assert_eq!(translate("[[:alpha:]\\w]"), "[[:alpha:]0-9A-Za-z_]");
    assert_eq!(translate("\\\\d"), "\\\\d");
    assert_eq!(translate("\\S\\W\\D"), "[^\\t\\n\\f\\r ][^0-9A-Za-z_][^0-9]");
    let re = crate::goregex::compile("^\\d+$").unwrap();
    assert!(re.is_match("123") && !re.is_match("١٢٣"));
}
