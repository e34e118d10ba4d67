//! Decodes arbitrary record bodies the way the server does and checks the field values it
//! derives from them.
//!
//! The first input byte chooses how the rest is read (bits 0-1), whether the requester is a
//! superuser (bit 2, hidden fields are then writable), which collection is written (bit 3) and
//! whether the body creates a record or updates a stored one (bit 4):
//!
//! * 0: JSON, as `serde_json`'s first value (and through `sb_http::parse_body`, which must agree);
//! * 1: `application/x-www-form-urlencoded` through `sb_http::parse_body`;
//! * 2: `multipart/form-data; boundary=fuzzb` through `sb_http::parse_body`;
//! * 3: the first line is the `Content-Type`, the rest the body, through `sb_http::parse_body`.
//!
//! The decoded object is applied like `sb-core` applies record input: keys in order of length,
//! `parse_modifier_key`, then `normalize` or `apply_modifier` on the current value; every field
//! of the collection is then validated with `validate_value`.
//!
//! Oracles:
//! * nothing panics;
//! * normalised values (also the results of modifiers) are fixed points of `normalize`;
//! * every value has its field's storage shape (strings for text-like, date and single
//!   select/relation/file fields, arrays of distinct non-empty strings for multiple ones,
//!   finite numbers, booleans, `{"lon","lat"}` numbers for geo points); the one exception is a
//!   number input that is not finite, normalised to `null`, which must then fail validation
//!   with `validation_not_a_number`;
//! * validation errors carry PocketBase codes (`validation_*`) and a message.

#![no_main]

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use sb_schema::record::{self, Modifier};
use sb_schema::{Collection, Field, FieldKind};
use serde_json::{Map, Value as Json, json};

/// Keys the server ignores in record bodies.
const IGNORED_KEYS: &[&str] = &["collectionId", "collectionName", "expand"];

struct Fixture {
    colls: [Collection; 2],
    /// A stored record of each collection, in normalised form (for updates).
    stored: [Map<String, Json>; 2],
}

/// A base collection with every field type, most with non-default options.
fn everything_json() -> Json {
    json!({
        "id": "pbc_everything", "name": "everything", "type": "base",
        "fields": [
            {"name": "title", "type": "text", "min": 3, "max": 10, "pattern": "^[a-z0-9 ]*$",
             "required": true},
            {"name": "slug", "type": "text", "autogeneratePattern": "[a-z0-9]{8}",
             "pattern": "^[a-z0-9-]+$"},
            {"name": "note", "type": "text"},
            {"name": "hiddenNote", "type": "text", "hidden": true},
            {"name": "body", "type": "editor", "maxSize": 64},
            {"name": "count", "type": "number", "min": -5, "max": 100, "onlyInt": true},
            {"name": "price", "type": "number", "required": true},
            {"name": "ratio", "type": "number", "min": 0.5, "max": 1.5},
            {"name": "flag", "type": "bool"},
            {"name": "mustFlag", "type": "bool", "required": true},
            {"name": "contact", "type": "email", "onlyDomains": ["example.com"]},
            {"name": "other", "type": "email", "exceptDomains": ["bad.com"], "required": true},
            {"name": "site", "type": "url", "onlyDomains": ["example.org"]},
            {"name": "link", "type": "url", "exceptDomains": ["bad.com"]},
            {"name": "when", "type": "date", "min": "2020-01-01 00:00:00.000Z",
             "max": "2030-12-31 23:59:59.999Z"},
            {"name": "anyDate", "type": "date", "required": true},
            {"name": "status", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
            {"name": "tags", "type": "select", "values": ["x", "y", "z", "w"], "maxSelect": 2,
             "required": true},
            {"name": "owner", "type": "relation", "collectionId": "pbc_everything",
             "maxSelect": 1},
            {"name": "refs", "type": "relation", "collectionId": "pbc_everything",
             "minSelect": 2, "maxSelect": 3},
            {"name": "avatar", "type": "file", "maxSelect": 1},
            {"name": "docs", "type": "file", "maxSelect": 3, "required": true},
            {"name": "meta", "type": "json", "maxSize": 20},
            {"name": "data", "type": "json"},
            {"name": "secret", "type": "password", "min": 4, "max": 8, "pattern": "^[a-z]+$"},
            {"name": "loc", "type": "geoPoint", "required": true},
            {"name": "spot", "type": "geoPoint"},
            {"name": "created", "type": "autodate", "onCreate": true, "onUpdate": false},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ],
    })
}

fn users_json() -> Json {
    json!({
        "id": "_pb_users_auth_", "name": "users", "type": "auth",
        "fields": [
            {"name": "name", "type": "text", "max": 20},
            {"name": "avatar", "type": "file", "maxSelect": 1},
            {"name": "friends", "type": "relation", "collectionId": "_pb_users_auth_",
             "maxSelect": 5},
        ],
    })
}

fn load(def: &Json) -> Collection {
    let mut c = Collection::from_json(def).expect("fixture collection loads");
    sb_schema::validate::prepare(&mut c, None, &[]);
    // Validated as an update of itself: a self-relation is only valid once the collection
    // exists.
    let errors = sb_schema::validate::validate(&c, Some(&c), &[&c]);
    assert!(errors.is_empty(), "fixture collection {} is invalid: {}", c.name, errors.to_json());
    c
}

/// A stored record: zero values overlaid with some normalised values.
fn stored(c: &Collection, values: Json) -> Map<String, Json> {
    let values = values.as_object().cloned().unwrap_or_default();
    c.fields
        .iter()
        .map(|f| {
            let v = match values.get(&f.name) {
                Some(raw) => record::normalize(f, raw),
                None => record::zero_value(&f.kind),
            };
            (f.name.clone(), v)
        })
        .collect()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let everything = load(&everything_json());
        let users = load(&users_json());
        let stored = [
            stored(
                &everything,
                json!({"title": "abc", "count": 7, "price": 1.5, "tags": ["x", "y"],
                       "refs": ["r1", "r2"], "docs": ["a.png"], "status": "b",
                       "when": "2024-05-06 07:08:09.123Z", "meta": {"k": 1},
                       "loc": {"lon": 1, "lat": 2}}),
            ),
            stored(
                &users,
                json!({"email": "a@example.com", "name": "Ann", "friends": ["u1"],
                       "verified": true}),
            ),
        ];
        Fixture { colls: [everything, users], stored }
    })
}

/// Decodes the body; `None` when it is rejected (as the server answers 400).
fn decode(mode: u8, body: &[u8]) -> Option<Map<String, Json>> {
    let (content_type, payload): (&[u8], &[u8]) = match mode {
        0 => {
            let first = serde_json::Deserializer::from_slice(body).into_iter::<Json>().next();
            let direct = match first {
                Some(Ok(Json::Object(m))) => Some(m),
                Some(Ok(Json::Null)) => Some(Map::new()),
                _ if body.is_empty() => Some(Map::new()),
                _ => None,
            };
            // The server is stricter (it refuses repeated keys and NUL characters) but never
            // reads a body differently. The lenient value is what gets applied: the per-field
            // steps must cope with anything.
            if let Some(via_http) = parse_body(b"application/json", body) {
                assert_eq!(
                    Some(&via_http),
                    direct.as_ref(),
                    "parse_body disagrees with serde_json"
                );
            }
            return direct;
        }
        1 => (b"application/x-www-form-urlencoded", body),
        2 => (b"multipart/form-data; boundary=fuzzb", body),
        _ => match body.iter().position(|&b| b == b'\n') {
            Some(i) => body.split_at(i),
            None => (body, &[]),
        },
    };
    let payload = payload.strip_prefix(b"\n").unwrap_or(payload);
    parse_body(content_type, payload)
}

fn parse_body(content_type: &[u8], body: &[u8]) -> Option<Map<String, Json>> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_bytes(content_type).ok()?);
    let bytes = bytes::Bytes::copy_from_slice(body);
    futures::executor::block_on(sb_http::parse_body(&headers, bytes)).ok()
}

/// A non-finite number input normalises to `null` (see `sb_schema::record`).
fn is_invalid_number(field: &Field, v: &Json) -> bool {
    matches!(field.kind, FieldKind::Number(_)) && v.is_null()
}

/// A single select/relation/file value that holds a JSON array of strings is not a fixed point:
/// normalising it again parses the array and keeps its last element (Go's
/// `list.ToUniqueStringSlice`). PocketBase applies that step twice to such input, `sb-schema`
/// once: a known difference, described in the fuzz README.
fn reparses(field: &Field, v: &Json) -> bool {
    matches!(field.kind, FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_))
        && !field.kind.is_multiple()
        && v.as_str().is_some_and(|s| s.contains('['))
}

fn assert_normalised(field: &Field, v: &Json, what: &str) {
    if is_invalid_number(field, v) || reparses(field, v) {
        return;
    }
    let again = record::normalize(field, v);
    assert_eq!(&again, v, "{what} of {} is not a fixed point of normalize", field.name);
}

fn assert_shape(field: &Field, v: &Json) {
    let strings = |v: &Json| {
        let Json::Array(items) = v else { return false };
        let mut seen: Vec<&str> = Vec::new();
        items.iter().all(|i| match i.as_str() {
            Some(s) if !s.is_empty() && !seen.contains(&s) => {
                seen.push(s);
                true
            }
            _ => false,
        })
    };
    let ok = match &field.kind {
        FieldKind::Text(_)
        | FieldKind::Editor(_)
        | FieldKind::Email(_)
        | FieldKind::Url(_)
        | FieldKind::Password(_)
        | FieldKind::Date(_)
        | FieldKind::Autodate(_) => v.is_string(),
        FieldKind::Number(_) => v.as_f64().is_some_and(f64::is_finite),
        FieldKind::Bool(_) => v.is_boolean(),
        FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_) => {
            if field.kind.is_multiple() { strings(v) } else { v.is_string() }
        }
        FieldKind::Json(_) => true,
        FieldKind::GeoPoint(_) => {
            let coord = |k: &str| v.get(k).and_then(Json::as_f64).is_some_and(f64::is_finite);
            v.as_object().is_some_and(|m| m.len() == 2) && coord("lon") && coord("lat")
        }
    };
    assert!(ok, "{} holds {v} (not the shape of a {} field)", field.name, field.type_name());
}

/// Applies the body as `sb-core` does and returns the record data plus new passwords.
fn apply(
    c: &Collection,
    mut data: Map<String, Json>,
    input: &Map<String, Json>,
    superuser: bool,
) -> Map<String, Json> {
    let mut keys: Vec<&String> = input.keys().collect();
    keys.sort_by_key(|k| k.len());
    for key in keys {
        let Some(raw) = input.get(key.as_str()) else { continue };
        if IGNORED_KEYS.contains(&key.as_str()) {
            continue;
        }
        let (name, modifier) = record::parse_modifier_key(key);
        let Some(field) = c.field(name) else { continue };
        if matches!(field.kind, FieldKind::Autodate(_)) {
            continue;
        }
        let is_auth_password = c.is_auth() && field.name == "password";
        if (field.hidden && !superuser && !is_auth_password) || field.name == "tokenKey" {
            continue;
        }
        let current = data.get(&field.name).cloned().unwrap_or(Json::Null);
        let value = match modifier {
            None => {
                let v = record::normalize(field, raw);
                assert_normalised(field, &v, "normalize");
                v
            }
            Some(m) => match record::apply_modifier(field, &current, m, raw) {
                Some(v) => {
                    let what = match m {
                        Modifier::Add => "field+",
                        Modifier::Prepend => "+field",
                        Modifier::Remove => "field-",
                        Modifier::Autogenerate => "field:autogenerate",
                    };
                    assert_normalised(field, &v, what);
                    v
                }
                None => continue,
            },
        };
        data.insert(field.name.clone(), value);
    }
    data
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, body)) = input.split_first() else {
        return;
    };
    let Some(decoded) = decode(control & 3, body) else {
        return;
    };
    let superuser = control & 4 != 0;
    let which = usize::from(control >> 3 & 1);
    let updating = control & 16 != 0;
    let fx = fixture();
    let (Some(c), Some(stored)) = (fx.colls.get(which), fx.stored.get(which)) else {
        return;
    };
    let start = if updating {
        stored.clone()
    } else {
        c.fields.iter().map(|f| (f.name.clone(), record::zero_value(&f.kind))).collect()
    };
    let data = apply(c, start, &decoded, superuser);
    for f in &c.fields {
        let Some(v) = data.get(&f.name) else {
            panic!("field {} lost its value", f.name);
        };
        let result = record::validate_value(f, v);
        if is_invalid_number(f, v) {
            let code = result.as_ref().err().map(|e| e.code);
            assert_eq!(code, Some("validation_not_a_number"), "{} = null", f.name);
            continue;
        }
        assert_shape(f, v);
        if let Err(e) = result {
            assert!(e.code.starts_with("validation_"), "{}: error code {:?}", f.name, e.code);
            assert!(!e.message.is_empty(), "{}: empty message for {}", f.name, e.code);
        }
    }
});
