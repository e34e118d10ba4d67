//! Records API: create and update of every field type (coercion, zero values, validation codes,
//! modifiers, form bodies), ids, unique indexes, hidden and autodate fields, API rules, and
//! delete with relation integrity. Expected values were checked against PocketBase 0.40.6.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Client, GENERIC_400, NOT_FOUND, assert_error, code, record_token};

/// `people` (a relation target) and `allf`, a collection with one field of every type.
async fn all_fields_schema(su: &Client) {
    su.create_collection(json!({
        "name": "people", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [{"name": "name", "type": "text"}],
    }))
    .await;
    let people = su.get("/api/collections/people").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({
        "name": "allf", "type": "base",
        "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": [
            {"name": "title", "type": "text", "max": 10},
            {"name": "body", "type": "editor"},
            {"name": "n", "type": "number"},
            {"name": "flag", "type": "bool"},
            {"name": "mail", "type": "email"},
            {"name": "site", "type": "url"},
            {"name": "when", "type": "date"},
            {"name": "cat", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
            {"name": "tags", "type": "select", "values": ["a", "b", "c", "d"], "maxSelect": 3},
            {"name": "owner", "type": "relation", "collectionId": people, "maxSelect": 1},
            {"name": "rels", "type": "relation", "collectionId": people, "maxSelect": 5},
            {"name": "files", "type": "file", "maxSelect": 3},
            {"name": "meta", "type": "json"},
            {"name": "secret", "type": "password"},
            {"name": "loc", "type": "geoPoint"},
            {"name": "hid", "type": "text", "hidden": true},
            {"name": "slug", "type": "text", "autogeneratePattern": "[a-z]{6}"},
            {"name": "created", "type": "autodate", "onCreate": true},
            {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
        ],
    }))
    .await;
    for (id, name) in [("person000000001", "p1"), ("person000000002", "p2")] {
        su.create_record("people", json!({"id": id, "name": name})).await;
    }
}

const ALLF: &str = "/api/collections/allf/records";

fn is_date(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    s.len() == 24 && s.ends_with('Z') && s.as_bytes().get(10) == Some(&b' ')
}

sb_testkit::sbtest_http!(
    create_answers_200_with_the_zero_value_of_every_field,
    |url, app| async move {
        let su = Client::admin(&url, &app).await;
        all_fields_schema(&su).await;
        let r = su.post(ALLF, json!({})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let rec = &r.body;
        let id = rec["id"].as_str().unwrap();
        assert!(id.len() == 15 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        for (field, zero) in [
            ("title", json!("")),
            ("body", json!("")),
            ("n", json!(0)),
            ("flag", json!(false)),
            ("mail", json!("")),
            ("site", json!("")),
            ("when", json!("")),
            ("cat", json!("")),
            ("tags", json!([])),
            ("owner", json!("")),
            ("rels", json!([])),
            ("files", json!([])),
            ("meta", Value::Null),
            ("secret", json!("")),
            ("loc", json!({"lon": 0, "lat": 0})),
            ("hid", json!("")),
        ] {
            assert_eq!(rec[field], zero, "zero value of {field}");
        }
        assert_eq!(rec["collectionName"], "allf");
        assert!(rec["collectionId"].as_str().unwrap().starts_with("pbc_"));
        let slug = rec["slug"].as_str().unwrap();
        assert!(slug.len() == 6 && slug.bytes().all(|b| b.is_ascii_lowercase()), "{slug}");
        assert!(is_date(&rec["created"]) && rec["created"] == rec["updated"]);

        // The same record as a guest: the hidden field is absent, the password field stays "".
        let guest = su.with_token(None);
        let r = guest.get(&format!("{ALLF}/{id}")).await;
        assert_eq!(r.status, 200);
        assert!(r.body.get("hid").is_none(), "{:?}", r.body);
        assert_eq!(r.body["secret"], "");
    }
);

sb_testkit::sbtest_http!(create_coerces_json_values_like_pocketbase, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let rec = su
        .create_record(
            "allf",
            json!({
                "title": 123, "body": true, "n": "12.5", "flag": "t", "mail": "x@y.z",
                "site": "https://a.b/c", "when": "2024-01-02", "cat": ["a", "b"], "tags": "a",
                "owner": ["person000000001", "person000000002"], "rels": "person000000001",
                "meta": "[1,2]", "secret": "abcdefgh", "loc": {"lon": 1.5}, "hid": "h",
                "created": "2020-01-01 00:00:00.000Z", "unknown": 1, "collectionName": "x",
                "collectionId": "y", "expand": {"owner": {}},
            }),
        )
        .await;
    assert_eq!(rec["title"], "123");
    assert_eq!(rec["body"], "true");
    assert_eq!(rec["n"], 12.5);
    assert_eq!(rec["flag"], true);
    assert_eq!(rec["when"], "2024-01-02 00:00:00.000Z");
    // A single select/relation keeps the last of several values.
    assert_eq!(rec["cat"], "b");
    assert_eq!(rec["tags"], json!(["a"]));
    assert_eq!(rec["owner"], "person000000002");
    assert_eq!(rec["rels"], json!(["person000000001"]));
    assert_eq!(rec["meta"], json!([1, 2]));
    assert_eq!(rec["secret"], "", "a password is never echoed");
    assert_eq!(rec["loc"], json!({"lon": 1.5, "lat": 0}));
    assert_eq!(rec["hid"], "h", "superusers write and see hidden fields");
    assert_ne!(rec["created"], "2020-01-01 00:00:00.000Z", "autodate input is ignored");
    assert_eq!(rec["collectionName"], "allf");
    assert!(rec.get("unknown").is_none() && rec.get("expand").is_none());

    // Loose casts: non-numeric text is 0, unparseable dates are empty, "yes" is false, a
    // string that is not JSON is stored as a JSON string, "{bad" too.
    let rec = su
        .create_record(
            "allf",
            json!({"n": "abc", "when": "garbage", "flag": "yes", "meta": "{bad", "loc": "x"}),
        )
        .await;
    assert_eq!(rec["n"], 0);
    assert_eq!(rec["when"], "");
    assert_eq!(rec["flag"], false);
    assert_eq!(rec["meta"], "{bad");
    assert_eq!(rec["loc"], json!({"lon": 0, "lat": 0}));
    let r = su.post(ALLF, json!({"n": "NaN"})).await;
    assert_eq!(code(&r, "n"), "validation_not_a_number");

    // Values of the wrong JSON type are cast, never rejected for their type.
    let rec = su
        .create_record(
            "allf",
            json!({"title": {"x": 1}, "body": [1, 2], "n": true, "flag": 1.5, "tags": {"a": 1},
                   "when": 12345, "loc": [1, 2], "site": ["https://x.y"], "cat": null, "rels": []}),
        )
        .await;
    for (field, value) in [
        ("title", json!("")),
        ("body", json!("")),
        ("n", json!(1)),
        ("flag", json!(true)),
        ("tags", json!([])),
        ("when", json!("")),
        ("loc", json!({"lon": 0, "lat": 0})),
        ("site", json!("")),
        ("cat", json!("")),
        ("rels", json!([])),
    ] {
        assert_eq!(rec[field], value, "{field}");
    }
    let r = su.post(ALLF, json!({"mail": true, "owner": 123, "cat": true, "tags": "a,b"})).await;
    assert_eq!(code(&r, "mail"), "validation_is_email");
    assert_eq!(code(&r, "owner"), "validation_missing_rel_records");
    assert_eq!(r.body["data"]["cat"]["params"], json!({"value": "true"}));
    assert_eq!(r.body["data"]["tags"]["message"], "Invalid value a,b.");
});

sb_testkit::sbtest_http!(every_validation_code_with_pocketbase_messages, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(
        json!({"name": "authors", "type": "base", "fields": [{"name": "name", "type": "text"}]}),
    )
    .await;
    let authors = su.get("/api/collections/authors").await.body["id"].as_str().unwrap().to_owned();
    for i in 1..=3 {
        su.create_record("authors", json!({"id": format!("author00000000{i}")})).await;
    }
    su.create_collection(json!({
        "name": "vals", "type": "base", "createRule": "",
        "fields": [
            {"name": "t", "type": "text", "min": 3, "max": 5, "pattern": "^[a-z]+$", "required": true},
            {"name": "e", "type": "editor", "maxSize": 10, "required": true},
            {"name": "n", "type": "number", "min": 1, "max": 10, "onlyInt": true, "required": true},
            {"name": "b", "type": "bool", "required": true},
            {"name": "m", "type": "email", "onlyDomains": ["good.com"], "required": true},
            {"name": "m2", "type": "email", "exceptDomains": ["bad.com"]},
            {"name": "u", "type": "url", "onlyDomains": ["good.com"], "required": true},
            {"name": "u2", "type": "url", "exceptDomains": ["bad.com"]},
            {"name": "d", "type": "date", "min": "2020-01-01 00:00:00.000Z", "max": "2021-01-01 00:00:00.000Z", "required": true},
            {"name": "s", "type": "select", "values": ["a", "b"], "maxSelect": 1, "required": true},
            {"name": "r", "type": "relation", "collectionId": authors, "minSelect": 2, "maxSelect": 3, "required": true},
            {"name": "f", "type": "file", "maxSelect": 1, "required": true},
            {"name": "j", "type": "json", "maxSize": 10, "required": true},
            {"name": "p", "type": "password", "min": 5, "max": 8, "pattern": "^[0-9]+$", "required": true},
            {"name": "g", "type": "geoPoint", "required": true},
        ],
    }))
    .await;
    let guest = su.with_token(None);
    let path = "/api/collections/vals/records";
    let before = su.all_records("vals").await.len();

    let r = guest.post(path, json!({})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Failed to create record.");
    let required = json!({"code": "validation_required", "message": "Cannot be blank."});
    for f in ["t", "e", "n", "b", "m", "u", "d", "s", "r", "f", "j", "p", "g"] {
        assert_eq!(r.body["data"][f], required, "{f}");
    }
    assert!(r.body["data"].get("m2").is_none() && r.body["data"].get("u2").is_none());

    let r = guest
        .post(
            path,
            json!({"t": "ab", "e": "12345678901", "n": 1.5, "m": "x@bad.com", "m2": "x@bad.com",
                   "u": "https://bad.com/x", "u2": "http://bad.com", "d": "2019-01-01",
                   "s": ["a", "b"], "r": ["author000000001"], "j": "12345678901", "p": "1234",
                   "g": {"lon": 1, "lat": 91}}),
        )
        .await;
    let data = &r.body["data"];
    assert_eq!(
        data["t"],
        json!({"code": "validation_min_text_constraint", "message": "Must be at least 3 character(s).", "params": {"min": 3}})
    );
    assert_eq!(
        data["e"],
        json!({"code": "validation_content_size_limit", "message": "The maximum allowed content size is 10 bytes.", "params": {"maxSize": 10}})
    );
    assert_eq!(
        data["n"],
        json!({"code": "validation_only_int_constraint", "message": "Decimal numbers are not allowed."})
    );
    assert_eq!(
        data["m"],
        json!({"code": "validation_email_domain_not_allowed", "message": "Email domain is not allowed."})
    );
    assert_eq!(code(&r, "m2"), "validation_email_domain_not_allowed");
    assert_eq!(
        data["u"],
        json!({"code": "validation_url_domain_not_allowed", "message": "Url domain is not allowed."})
    );
    assert_eq!(code(&r, "u2"), "validation_url_domain_not_allowed");
    assert_eq!(
        data["d"],
        json!({"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 2020-01-01 00:00:00 +0000 UTC.", "params": {"threshold": "2020-01-01T00:00:00Z"}})
    );
    assert_eq!(
        data["r"],
        json!({"code": "validation_not_enough_values", "message": "Select at least 2.", "params": {"minSelect": 2}})
    );
    assert_eq!(
        data["j"],
        json!({"code": "validation_json_size_limit", "message": "The maximum allowed JSON size is 10 bytes.", "params": {"maxSize": 10}})
    );
    assert_eq!(
        data["p"],
        json!({"code": "validation_min_text_constraint", "message": "Must be at least 5 character(s)."})
    );
    assert_eq!(
        data["g"],
        json!({"code": "validation_invalid_latitude", "message": "Latitude must be between -90 and 90 degrees."})
    );

    let r = guest
        .post(
            path,
            json!({"t": "abcdef", "n": 11, "d": "2022-01-01", "s": "c",
                   "r": ["author000000001", "author000000002", "author000000003", "x"],
                   "j": [1, 2, 3, 4, 5], "p": "123456789", "g": {"lon": 181, "lat": 1},
                   "f": ["x.txt"]}),
        )
        .await;
    let data = &r.body["data"];
    assert_eq!(
        data["t"],
        json!({"code": "validation_max_text_constraint", "message": "Must be no more than 5 character(s).", "params": {"max": 5}})
    );
    assert_eq!(
        data["n"],
        json!({"code": "validation_max_number_constraint", "message": "Must be less or equal than 10.", "params": {"max": 10}})
    );
    assert_eq!(
        data["d"],
        json!({"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 2021-01-01 00:00:00 +0000 UTC.", "params": {"threshold": "2021-01-01T00:00:00Z"}})
    );
    assert_eq!(
        data["s"],
        json!({"code": "validation_invalid_value", "message": "Invalid value c.", "params": {"value": "c"}})
    );
    assert_eq!(
        data["r"],
        json!({"code": "validation_too_many_values", "message": "Select no more than 3.", "params": {"maxSelect": 3}})
    );
    assert_eq!(code(&r, "j"), "validation_json_size_limit");
    assert_eq!(
        data["p"],
        json!({"code": "validation_max_text_constraint", "message": "Must be less than 8 character(s)."})
    );
    assert_eq!(
        data["g"],
        json!({"code": "validation_invalid_longitude", "message": "Longitude must be between -180 and 180 degrees."})
    );
    assert_eq!(
        data["f"],
        json!({"code": "validation_invalid_file", "message": "Invalid new files: [x.txt].", "params": {"invalidFiles": ["x.txt"]}})
    );

    let r = guest
        .post(path, json!({"t": "ab1", "n": -5, "p": "abcdef", "m": "bad", "u": "bad", "r": ["author000000001", "nope00000000000"]}))
        .await;
    let data = &r.body["data"];
    assert_eq!(
        data["t"],
        json!({"code": "validation_invalid_format", "message": "Invalid value format."})
    );
    assert_eq!(
        data["n"],
        json!({"code": "validation_min_number_constraint", "message": "Must be greater or equal than 1.", "params": {"min": 1}})
    );
    assert_eq!(code(&r, "p"), "validation_invalid_format");
    assert_eq!(
        data["m"],
        json!({"code": "validation_is_email", "message": "Must be a valid email address."})
    );
    assert_eq!(
        data["u"],
        json!({"code": "validation_invalid_url", "message": "Must be a valid url."})
    );
    assert_eq!(
        data["r"],
        json!({"code": "validation_missing_rel_records", "message": "Failed to find all relation records with the provided ids."})
    );

    assert_eq!(su.all_records("vals").await.len(), before, "nothing written");

    // A valid body passes (the file field is not required any more once files exist; here it
    // is dropped to isolate the rest).
    let ok = json!({"t": "abc", "e": "<p>x</p>", "n": 5, "b": true, "m": "x@good.com",
                    "u": "https://good.com/", "d": "2020-06-01", "s": "a",
                    "r": ["author000000001", "author000000002"], "j": {"a": 1}, "p": "123456",
                    "g": {"lon": 1, "lat": 1}});
    let r = guest.post(path, ok).await;
    assert_eq!(
        r.body["data"],
        json!({"f": {"code": "validation_required", "message": "Cannot be blank."}})
    );
});

sb_testkit::sbtest_http!(form_bodies_are_type_inferred, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let r = su
        .multipart(
            Method::POST,
            ALLF,
            &[
                ("title", "012"),
                ("n", "12"),
                ("flag", "true"),
                ("tags", "a"),
                ("tags", "b"),
                ("meta", "123"),
                ("cat", "b"),
                ("loc", r#"{"lon":3,"lat":4}"#),
                ("when", "2024-05-06T07:08:09Z"),
                ("body", "1e3"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rec = &r.body;
    assert_eq!(rec["title"], "012", "a number that does not re-print the same stays text");
    assert_eq!(rec["n"], 12);
    assert_eq!(rec["flag"], true);
    assert_eq!(rec["tags"], json!(["a", "b"]), "a repeated key is a list");
    assert_eq!(rec["meta"], 123);
    assert_eq!(rec["loc"], json!({"lon": 3, "lat": 4}));
    assert_eq!(rec["when"], "2024-05-06 07:08:09.000Z");
    assert_eq!(rec["body"], "1e3");

    let r = su
        .urlencoded(
            Method::POST,
            ALLF,
            &[
                ("title", "1.50"),
                ("n", "-1.5"),
                ("flag", "1"),
                ("meta", "[1,2]"),
                ("rels", "person000000001"),
                ("rels", "person000000002"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["title"], "1.50");
    assert_eq!(r.body["n"], -1.5);
    assert_eq!(r.body["flag"], true);
    assert_eq!(r.body["meta"], json!([1, 2]));
    assert_eq!(r.body["rels"], json!(["person000000001", "person000000002"]));

    // `@jsonPayload` parts are merged over the plain values, in order.
    let r = su
        .multipart(
            Method::POST,
            ALLF,
            &[
                ("title", "plain"),
                ("@jsonPayload", r#"{"title":"json","n":7}"#),
                ("@jsonPayload", r#"{"n":8}"#),
            ],
        )
        .await;
    assert_eq!((r.body["title"].as_str(), r.body["n"].as_i64()), (Some("json"), Some(8)));
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r =
        su.multipart(Method::PATCH, &format!("{ALLF}/{id}"), &[("n+", "2"), ("tags+", "c")]).await;
    assert_eq!((r.body["n"].as_i64(), r.body["tags"].clone()), (Some(10), json!(["c"])));

    let count = su.all_records("allf").await.len();
    for bad in ["notjson", "[1]", r#"{"a":1,"a":2}"#] {
        let r = su.multipart(Method::POST, ALLF, &[("title", "x"), ("@jsonPayload", bad)]).await;
        assert_error(&r, 400, GENERIC_400);
    }
    assert_eq!(su.all_records("allf").await.len(), count);
});

sb_testkit::sbtest_http!(field_modifiers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let rec = su
        .create_record(
            "allf",
            json!({"id": "mod000000000001", "n": 5, "n+": 2, "tags": ["a"], "+tags": "b",
                   "rels+": "person000000001", "slug:autogenerate": "pre-"}),
        )
        .await;
    assert_eq!(rec["n"], 7, "modifiers apply after the plain key");
    assert_eq!(rec["tags"], json!(["b", "a"]));
    assert_eq!(rec["rels"], json!(["person000000001"]));
    let slug = rec["slug"].as_str().unwrap();
    assert!(slug.starts_with("pre-") && slug.len() == 10, "{slug}");
    let path = format!("{ALLF}/mod000000000001");

    let r = su
        .patch(
            &path,
            json!({"n+": 3, "tags+": ["c", "a"], "rels+": "person000000002",
                   "title:autogenerate": "x", "title+": "zz", "flag+": 1, "cat+": "a",
                   "owner+": "person000000001"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let rec = &r.body;
    assert_eq!(rec["n"], 10);
    assert_eq!(rec["tags"], json!(["b", "a", "c"]), "append keeps order and dedupes");
    assert_eq!(rec["rels"], json!(["person000000001", "person000000002"]));
    assert_eq!(rec["title"], "x", "no pattern: the prefix alone; `title+` is an unknown key");
    assert_eq!(rec["flag"], false, "bool has no modifiers");
    assert_eq!(rec["cat"], "a");
    assert_eq!(rec["owner"], "person000000001");

    let r = su
        .patch(&path, json!({"n-": 15, "tags-": ["a", "d"], "rels-": ["person000000001"], "owner-": "person000000001"}))
        .await;
    let rec = &r.body;
    assert_eq!(rec["n"], -5);
    assert_eq!(rec["tags"], json!(["b", "c"]), "removing an absent value is a no-op");
    assert_eq!(rec["rels"], json!(["person000000002"]));
    assert_eq!(rec["owner"], "");

    // Plain key first, then the modifiers (shorter keys first).
    let r = su.patch(&path, json!({"tags-": "a", "tags+": "b", "tags": ["a"]})).await;
    assert_eq!(r.body["tags"], json!(["b"]));
    // Validation runs after the modifiers.
    let r = su.patch(&path, json!({"tags+": ["c", "d", "a"]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["data"]["tags"]["code"], "validation_too_many_values");
    let r = su.patch(&path, json!({"rels+": "nope00000000000"})).await;
    assert_eq!(code(&r, "rels"), "validation_missing_rel_records");
    assert_eq!(su.get(&path).await.body["tags"], json!(["b"]), "failed updates wrote nothing");
});

sb_testkit::sbtest_http!(custom_ids_and_primary_key_rules, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    su.create_record("allf", json!({"id": "custom000000001"})).await;
    let r = su.post(ALLF, json!({"id": "short"})).await;
    assert_eq!(
        r.body["data"]["id"],
        json!({"code": "validation_min_text_constraint", "message": "Must be at least 15 character(s).", "params": {"min": 15}})
    );
    let r = su.post(ALLF, json!({"id": "UPPERCASE000000"})).await;
    assert_eq!(code(&r, "id"), "validation_invalid_format");
    let r = su.post(ALLF, json!({"id": "custom000000001"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Failed to create record.");
    assert_eq!(
        r.body["data"],
        json!({"id": {"code": "validation_not_unique", "message": "Value must be unique."}})
    );
    // Field errors win over the duplicate id (uniqueness is checked by the write).
    let r = su.post(ALLF, json!({"id": "custom000000001", "title": "01234567890"})).await;
    assert_eq!(r.body["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["title"]);
    // A numeric id is cast to text.
    let rec = su.create_record("allf", json!({"id": 123456789012345u64})).await;
    assert_eq!(rec["id"], "123456789012345");

    // Ids are immutable; sending the same id is fine.
    let path = format!("{ALLF}/custom000000001");
    let r = su.patch(&path, json!({"id": "other0000000001", "title": "01234567890"})).await;
    assert_eq!(
        r.body["data"]["id"],
        json!({"code": "validation_pk_change", "message": "The record primary key cannot be changed."})
    );
    assert_eq!(code(&r, "title"), "validation_max_text_constraint");
    for same in [json!({"id": "custom000000001"}), json!({})] {
        assert_eq!(su.patch(&path, same).await.status, 200);
    }
    assert_eq!(su.get("/api/collections/allf/records/other0000000001").await.status, 404);

    // A collection whose ids may contain anything but path separators, compared
    // case-insensitively for duplicates.
    let coll = su
        .create_collection(json!({"name": "loose", "type": "base", "fields": [
            {"name": "id", "type": "text", "primaryKey": true, "required": true, "min": 1, "max": 30,
             "pattern": "^[^\\s]+$", "autogeneratePattern": "[a-z0-9]{15}"},
        ]}))
        .await;
    assert_eq!(coll["fields"][0]["pattern"], "^[^\\s]+$");
    su.create_record("loose", json!({"id": "Mixed.Case-Id"})).await;
    let r = su.post("/api/collections/loose/records", json!({"id": "mixed.case-id"})).await;
    assert_eq!(
        r.body["data"]["id"],
        json!({"code": "validation_pk_invalid", "message": "The record primary key is invalid or already exists."})
    );
    for (id, forbidden) in [("a/b", "/"), ("a\\b", "\\")] {
        let r = su.post("/api/collections/loose/records", json!({"id": id})).await;
        assert_eq!(
            r.body["data"]["id"],
            json!({"code": "validation_pk_forbidden", "message": "The record primary key contains forbidden characters.", "params": {"forbidden": forbidden}})
        );
    }
    assert_eq!(su.all_records("loose").await.len(), 1);
});

sb_testkit::sbtest_http!(unique_index_violations_name_the_indexed_fields, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({
        "name": "uniq", "type": "base", "createRule": "", "updateRule": "",
        "fields": [{"name": "code", "type": "text"}, {"name": "a", "type": "text"}, {"name": "b", "type": "number"}],
        "indexes": ["CREATE UNIQUE INDEX idx_uniq_code ON uniq (code)", "CREATE UNIQUE INDEX idx_uniq_ab ON uniq (a, b)"],
    }))
    .await;
    let path = "/api/collections/uniq/records";
    su.create_record("uniq", json!({"id": "uniq00000000001", "code": "x", "a": "k", "b": 1})).await;
    let r = su.post(path, json!({"code": "x"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"data": {"code": {"code": "validation_not_unique", "message": "Value must be unique."}}, "message": "Failed to create record.", "status": 400})
    );
    let r = su.post(path, json!({"code": "y", "a": "k", "b": 1})).await;
    assert_eq!((code(&r, "a"), code(&r, "b")), ("validation_not_unique", "validation_not_unique"));
    let second = su.create_record("uniq", json!({"code": "z", "a": "k", "b": 2})).await;
    let r =
        su.patch(&format!("{path}/{}", second["id"].as_str().unwrap()), json!({"code": "x"})).await;
    assert_eq!(r.body["message"], "Failed to update record.");
    assert_eq!(code(&r, "code"), "validation_not_unique");
    let codes: Vec<Value> =
        su.all_records("uniq").await.iter().map(|r| r["code"].clone()).collect();
    assert_eq!(codes, [json!("x"), json!("z")]);
});

sb_testkit::sbtest_http!(hidden_and_autodate_fields, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let guest = su.with_token(None);
    let r = guest.post(ALLF, json!({"id": "hidden000000001", "hid": "x", "title": "g"})).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("hid").is_none(), "hidden fields are not shown to guests");
    let path = format!("{ALLF}/hidden000000001");
    assert_eq!(su.get(&path).await.body["hid"], "", "guests cannot write hidden fields");
    assert_eq!(guest.patch(&path, json!({"hid": "y", "hid+": "z"})).await.status, 200);
    assert_eq!(su.get(&path).await.body["hid"], "");
    let r = su.patch(&path, json!({"hid": "set"})).await;
    assert_eq!(r.body["hid"], "set");
    assert!(guest.get(&path).await.body.get("hid").is_none());
    assert!(guest.get(ALLF).await.body["items"][0].get("hid").is_none());

    // Autodate values are the server's, whatever is sent, superusers included.
    let before = su.get(&path).await.body;
    let r = su.patch(&path, json!({"created": "2001-01-01 00:00:00.000Z", "updated": "2001-01-01 00:00:00.000Z", "title": "t2"})).await;
    assert_eq!(r.body["created"], before["created"]);
    assert!(r.body["updated"].as_str().unwrap() >= before["updated"].as_str().unwrap());
    assert_ne!(r.body["updated"], "2001-01-01 00:00:00.000Z");
});

sb_testkit::sbtest_http!(update_is_a_patch_and_unknown_keys_are_ignored, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let rec = su.create_record("allf", json!({"title": "t", "n": 4, "tags": ["a", "b"]})).await;
    let path = format!("{ALLF}/{}", rec["id"].as_str().unwrap());
    let r = su.patch(&path, json!({"n": 5, "nope": 1, "collectionName": "x", "expand": {}})).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.body["title"].clone(), r.body["n"].clone(), r.body["tags"].clone()),
        (json!("t"), json!(5), json!(["a", "b"]))
    );
    assert_eq!(r.body["collectionName"], "allf");
    // Updates coerce and validate like creates.
    let r = su
        .patch(&path, json!({"n": "7.5", "flag": "1", "cat": ["c", "a"], "when": "2024-02-03T04:05:06+01:00", "meta": "{\"k\":1}", "loc": {"lat": 10}}))
        .await;
    assert_eq!(
        (r.body["n"].clone(), r.body["flag"].clone(), r.body["cat"].clone()),
        (json!(7.5), json!(true), json!("a"))
    );
    assert_eq!(
        (r.body["when"].clone(), r.body["meta"].clone(), r.body["loc"].clone()),
        (json!("2024-02-03 03:05:06.000Z"), json!({"k": 1}), json!({"lon": 0, "lat": 10}))
    );
    let r = su
        .patch(
            &path,
            json!({"title": "01234567890", "mail": "bad", "owner": "nope00000000000", "cat": "z"}),
        )
        .await;
    assert_eq!(r.body["message"], "Failed to update record.");
    for (field, expected) in [
        ("title", "validation_max_text_constraint"),
        ("mail", "validation_is_email"),
        ("owner", "validation_missing_rel_records"),
        ("cat", "validation_invalid_value"),
    ] {
        assert_eq!(code(&r, field), expected, "{field}");
    }
    assert_eq!(su.get(&path).await.body["title"], "t", "a failed update writes nothing");
    // An empty body changes nothing but the onUpdate autodate.
    let r = su.raw(Method::PATCH, &path, None, "", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["n"], 7.5);
});

sb_testkit::sbtest_http!(missing_collections_records_and_view_collections, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    all_fields_schema(&su).await;
    let missing = "/api/collections/nope/records";
    assert_error(&su.get(missing).await, 404, "Missing collection context.");
    assert_error(&su.get(&format!("{missing}/x")).await, 404, "Missing collection context.");
    assert_error(&su.post(missing, json!({})).await, 404, "Missing or invalid collection context.");
    assert_error(
        &su.patch(&format!("{missing}/x"), json!({})).await,
        404,
        "Missing or invalid collection context.",
    );
    assert_error(&su.delete(&format!("{missing}/x")).await, 404, "Missing collection context.");
    for id in ["nope", "bad%20id", "..%2f..", "%27%20OR%201%3D1"] {
        let path = format!("{ALLF}/{id}");
        assert_error(&su.get(&path).await, 404, NOT_FOUND);
        assert_error(&su.patch(&path, json!({})).await, 404, NOT_FOUND);
        assert_error(&su.delete(&path).await, 404, NOT_FOUND);
    }
    // Collections are addressed by id too.
    let id = su.get("/api/collections/allf").await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(su.get(&format!("/api/collections/{id}/records")).await.status, 200);

    su.create_collection(json!({"name": "v", "type": "view", "listRule": "", "viewRule": "", "viewQuery": "SELECT id, name FROM people"}))
        .await;
    let v = "/api/collections/v/records";
    assert_eq!(su.get(v).await.body["totalItems"], 2);
    assert_eq!(su.get(&format!("{v}/person000000001")).await.body["name"], "p1");
    assert_error(&su.post(v, json!({})).await, 400, "Unsupported collection type.");
    assert_error(
        &su.patch(&format!("{v}/person000000001"), json!({})).await,
        400,
        "Unsupported collection type.",
    );
    assert_error(
        &su.delete(&format!("{v}/person000000001")).await,
        400,
        "Unsupported collection type.",
    );
});

/// Two users (tokens without password logins) and a superuser client.
async fn users(url: &str, app: &sb_core::App) -> (Client, Client, Client) {
    let su = Client::admin(url, app).await;
    for (id, email) in
        [("user00000000001", "u1@example.com"), ("user00000000002", "u2@example.com")]
    {
        su.create_record(
            "users",
            json!({"id": id, "email": email, "password": "password123", "passwordConfirm": "password123"}),
        )
        .await;
    }
    let u1 = su.with_token(Some(&record_token(app, "users", "user00000000001").await));
    let u2 = su.with_token(Some(&record_token(app, "users", "user00000000002").await));
    (su, u1, u2)
}

sb_testkit::sbtest_http!(rules_decide_every_action, |url, app| async move {
    let (su, u1, u2) = users(&url, &app).await;
    let guest = su.with_token(None);
    su.create_collection(json!({
        "name": "owned", "type": "base",
        "listRule": "owner = @request.auth.id",
        "viewRule": "owner = @request.auth.id",
        "createRule": "@request.auth.id != '' && owner = @request.auth.id && @request.body.status:isset = true",
        "updateRule": "owner = @request.auth.id && @request.body.owner:isset = false && @request.body.title:changed = false",
        "deleteRule": "owner = @request.auth.id && status = 'draft'",
        "fields": [
            {"name": "title", "type": "text"}, {"name": "status", "type": "text"},
            {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ],
    }))
    .await;
    let coll = "/api/collections/owned/records";
    let rec = format!("{coll}/owned0000000001");
    let body = json!({"id": "owned0000000001", "title": "x", "owner": "user00000000001", "status": "draft"});
    // Create: a failing rule answers 400 with an empty data object.
    assert_error(&guest.post(coll, body.clone()).await, 400, "Failed to create record.");
    assert_error(&u2.post(coll, body.clone()).await, 400, "Failed to create record.");
    let mut no_status = body.clone();
    no_status.as_object_mut().unwrap().remove("status");
    assert_error(&u1.post(coll, no_status).await, 400, "Failed to create record.");
    assert_eq!(u1.post(coll, body).await.status, 200);
    // List filters silently; view answers 404.
    assert_eq!(u2.get(coll).await.body["totalItems"], 0);
    assert_eq!(guest.get(coll).await.body["items"], json!([]));
    assert_eq!(u1.get(coll).await.body["totalItems"], 1);
    assert_error(&u2.get(&rec).await, 404, NOT_FOUND);
    assert_eq!(u1.get(&rec).await.status, 200);
    // Update: the rule sees the stored row and the body; failing → 404.
    assert_error(&u2.patch(&rec, json!({"status": "x"})).await, 404, NOT_FOUND);
    assert_error(&u1.patch(&rec, json!({"owner": "user00000000001"})).await, 404, NOT_FOUND);
    assert_error(&u1.patch(&rec, json!({"title": "y"})).await, 404, NOT_FOUND);
    assert_eq!(
        u1.patch(&rec, json!({"title": "x", "status": "final"})).await.body["status"],
        "final"
    );
    // Delete: the rule sees the stored row.
    assert_error(&u1.delete(&rec).await, 404, NOT_FOUND);
    assert_error(&u2.delete(&rec).await, 404, NOT_FOUND);
    assert_eq!(su.get(&rec).await.status, 200, "refused deletes deleted nothing");
    u1.patch(&rec, json!({"status": "draft"})).await;
    assert_eq!(u1.delete(&rec).await.status, 204);
    assert_eq!(su.get(&rec).await.status, 404);

    // Locked (null) rules: 403 for everyone but superusers; public ("") rules: anyone.
    su.create_collection(
        json!({"name": "locked", "type": "base", "fields": [{"name": "t", "type": "text"}]}),
    )
    .await;
    su.create_record("locked", json!({"id": "locked000000001"})).await;
    let only = "Only superusers can perform this action.";
    let locked = "/api/collections/locked/records";
    for c in [&guest, &u1] {
        assert_error(&c.get(locked).await, 403, only);
        assert_error(&c.get(&format!("{locked}/locked000000001")).await, 403, only);
        assert_error(&c.post(locked, json!({})).await, 403, only);
        assert_error(&c.patch(&format!("{locked}/locked000000001"), json!({})).await, 403, only);
        assert_error(&c.delete(&format!("{locked}/locked000000001")).await, 403, only);
        // Locked wins over "not found".
        assert_error(&c.get(&format!("{locked}/missing00000000")).await, 403, only);
    }
    su.patch("/api/collections/locked", json!({"listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": ""})).await;
    assert_eq!(guest.get(locked).await.body["totalItems"], 1);
    assert_eq!(
        guest.patch(&format!("{locked}/locked000000001"), json!({"t": "g"})).await.body["t"],
        "g"
    );
    assert_eq!(guest.delete(&format!("{locked}/locked000000001")).await.status, 204);

    // @collection rules: members of a team may view its projects.
    su.create_collection(json!({"name": "members", "type": "base", "fields": [
        {"name": "user", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "team", "type": "text"},
    ]}))
    .await;
    su.create_collection(json!({"name": "projects", "type": "base",
        "listRule": "@collection.members.user ?= @request.auth.id && @collection.members.team ?= team",
        "viewRule": "@collection.members:m.user ?= @request.auth.id && @collection.members:m.team ?= team",
        "fields": [{"name": "team", "type": "text"}]}))
    .await;
    su.create_record("members", json!({"user": "user00000000001", "team": "red"})).await;
    su.create_record("projects", json!({"id": "project00000001", "team": "red"})).await;
    su.create_record("projects", json!({"id": "project00000002", "team": "blue"})).await;
    let ids = |r: crate::common::Resp| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(u1.get("/api/collections/projects/records").await), ["project00000001"]);
    assert!(ids(u2.get("/api/collections/projects/records").await).is_empty());
    assert_eq!(u1.get("/api/collections/projects/records/project00000001").await.status, 200);
    assert_eq!(u1.get("/api/collections/projects/records/project00000002").await.status, 404);
});

sb_testkit::sbtest_http!(update_and_delete_rules_are_checked_at_the_write, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "gate", "type": "base",
        "listRule": "", "viewRule": "", "updateRule": "status = 'open'", "deleteRule": "status = 'open'",
        "fields": [{"name": "status", "type": "text"}, {"name": "n", "type": "number"}]}))
    .await;
    su.create_record("gate", json!({"id": "gate00000000001", "status": "open"})).await;
    let guest = su.with_token(None);
    let path = "/api/collections/gate/records/gate00000000001";
    // Concurrent updates that each close the gate: the rule admits exactly one of them.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let c = guest.clone();
            tokio::spawn(
                async move { c.patch(path, json!({"status": "closed", "n+": 1})).await.status },
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
    assert_eq!(su.get(path).await.body["n"], 1);

    // A collection named like a generated SQL alias takes the sub-query form of the check.
    su.create_collection(json!({"name": "_j0", "type": "base", "viewRule": "",
        "updateRule": "title != 'locked' && @collection._j0.title ?= 'key'", "deleteRule": "title != 'locked'",
        "fields": [{"name": "title", "type": "text"}]}))
    .await;
    su.create_record("_j0", json!({"id": "jzero0000000001", "title": "locked"})).await;
    su.create_record("_j0", json!({"id": "jzero0000000002", "title": "key"})).await;
    let locked = "/api/collections/_j0/records/jzero0000000001";
    assert_eq!(guest.patch(locked, json!({"title": "x"})).await.status, 404);
    assert_eq!(guest.delete(locked).await.status, 404);
    su.patch(locked, json!({"title": "open"})).await;
    assert_eq!(guest.patch(locked, json!({"title": "y"})).await.body["title"], "y");
    assert_eq!(guest.delete(locked).await.status, 204);

    // Concurrent deletes: one 204, the others 404.
    su.patch(path, json!({"status": "open"})).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = guest.clone();
            tokio::spawn(async move { c.delete(path).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 204 || *s == 404), "{statuses:?}");
});

/// authors ← posts (author single, coauthors multi) ← comments (post, cascade).
async fn blog(su: &Client) -> (String, String) {
    su.create_collection(json!({"name": "authors", "type": "base", "listRule": "", "viewRule": "", "fields": [{"name": "name", "type": "text"}]}))
        .await;
    let authors = su.get("/api/collections/authors").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "fields": [
        {"name": "title", "type": "text"},
        {"name": "author", "type": "relation", "collectionId": authors, "maxSelect": 1, "required": true},
        {"name": "coauthors", "type": "relation", "collectionId": authors, "maxSelect": 5},
        {"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
    ]}))
    .await;
    let posts = su.get("/api/collections/posts").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({"name": "comments", "type": "base", "listRule": "", "viewRule": "", "fields": [
        {"name": "message", "type": "text"},
        {"name": "post", "type": "relation", "collectionId": posts, "maxSelect": 1, "cascadeDelete": true},
    ]}))
    .await;
    for i in 1..=3 {
        su.create_record(
            "authors",
            json!({"id": format!("author00000000{i}"), "name": format!("a{i}")}),
        )
        .await;
    }
    (authors, posts)
}

sb_testkit::sbtest_http!(delete_cascades_and_releases_references, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    blog(&su).await;
    su.create_record("posts", json!({"id": "post00000000001", "title": "p1", "author": "author000000001", "coauthors": ["author000000002", "author000000003"]})).await;
    su.create_record("posts", json!({"id": "post00000000002", "title": "p2", "author": "author000000001", "coauthors": ["author000000002"]})).await;
    for (id, post) in [
        ("comm00000000001", "post00000000001"),
        ("comm00000000002", "post00000000001"),
        ("comm00000000003", "post00000000002"),
    ] {
        su.create_record("comments", json!({"id": id, "post": post})).await;
    }
    // A post's comments cascade.
    assert_eq!(su.delete("/api/collections/posts/records/post00000000002").await.status, 204);
    let left: Vec<Value> =
        su.all_records("comments").await.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(left, [json!("comm00000000001"), json!("comm00000000002")]);

    // Deleting a co-author removes its id from the multi relation and refreshes `updated`.
    let before = su.get("/api/collections/posts/records/post00000000001").await.body;
    assert_eq!(su.delete("/api/collections/authors/records/author000000002").await.status, 204);
    let after = su.get("/api/collections/posts/records/post00000000001").await.body;
    assert_eq!(after["coauthors"], json!(["author000000003"]));
    assert!(after["updated"].as_str().unwrap() >= before["updated"].as_str().unwrap());

    // The required `author` relation refuses the delete; nothing at all is deleted.
    let r = su.delete("/api/collections/authors/records/author000000001").await;
    assert_error(
        &r,
        400,
        "Failed to delete record. Make sure that the record is not part of a required relation reference.",
    );
    assert_eq!(su.all_records("authors").await.len(), 2);
    assert_eq!(su.all_records("posts").await.len(), 1);
    assert_eq!(su.all_records("comments").await.len(), 2);
});

sb_testkit::sbtest_http!(delete_handles_self_references_and_cycles, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(
        json!({"name": "nodes", "type": "base", "fields": [{"name": "name", "type": "text"}]}),
    )
    .await;
    let nodes = su.get("/api/collections/nodes").await.body["id"].as_str().unwrap().to_owned();
    let fields = |required: bool| {
        json!({"fields": [
            {"name": "name", "type": "text"},
            {"name": "next", "type": "relation", "collectionId": nodes, "maxSelect": 1, "cascadeDelete": true},
            {"name": "parent", "type": "relation", "collectionId": nodes, "maxSelect": 1, "required": required},
            {"name": "links", "type": "relation", "collectionId": nodes, "maxSelect": 9},
        ]})
    };
    assert_eq!(su.patch("/api/collections/nodes", fields(false)).await.status, 200);
    let path = |id: &str| format!("/api/collections/nodes/records/{id}");
    let ids = [
        "self00000000001",
        "cyca00000000001",
        "cycb00000000001",
        "root00000000001",
        "kid000000000001",
        "lnk000000000001",
        "lnk000000000002",
    ];
    for id in ids {
        su.create_record("nodes", json!({"id": id})).await;
        assert_eq!(su.patch(&path(id), json!({"parent": id})).await.status, 200);
    }
    su.patch(&path("cyca00000000001"), json!({"next": "cycb00000000001"})).await;
    su.patch(&path("cycb00000000001"), json!({"next": "cyca00000000001"})).await;
    su.patch(
        &path("kid000000000001"),
        json!({"parent": "root00000000001", "links": ["root00000000001", "kid000000000001"]}),
    )
    .await;
    su.patch(&path("lnk000000000002"), json!({"links": ["lnk000000000001", "lnk000000000002"]}))
        .await;
    assert_eq!(su.patch("/api/collections/nodes", fields(true)).await.status, 200);

    // A record whose required relation points at itself can be deleted.
    assert_eq!(su.delete(&path("self00000000001")).await.status, 204);
    // A cascade cycle deletes both records once.
    assert_eq!(su.delete(&path("cyca00000000001")).await.status, 204);
    assert_eq!(su.get(&path("cycb00000000001")).await.status, 404);
    // Another record's required reference refuses the delete (no partial change).
    let r = su.delete(&path("root00000000001")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        su.get(&path("kid000000000001")).await.body["links"],
        json!(["root00000000001", "kid000000000001"])
    );
    // Removing one id from a multi relation that keeps others is allowed.
    assert_eq!(su.delete(&path("lnk000000000001")).await.status, 204);
    assert_eq!(su.get(&path("lnk000000000002")).await.body["links"], json!(["lnk000000000002"]));
    let left: Vec<Value> = su.all_records("nodes").await.iter().map(|n| n["id"].clone()).collect();
    assert_eq!(
        left,
        [json!("root00000000001"), json!("kid000000000001"), json!("lnk000000000002")]
    );
});

sb_testkit::sbtest_http!(auth_record_form_checks, |url, app| async move {
    let (su, u1, u2) = users(&url, &app).await;
    let guest = su.with_token(None);
    let coll = "/api/collections/users/records";
    let required = json!({"code": "validation_required", "message": "Cannot be blank."});
    let mismatch = json!({"code": "validation_values_mismatch", "message": "Values don't match."});
    // Create: the form checks come first and hide the field errors.
    let r = guest.post(coll, json!({"email": "bad"})).await;
    assert_eq!(r.body["data"], json!({"password": required, "passwordConfirm": required}));
    let r = guest.post(coll, json!({"passwordConfirm": "abc"})).await;
    assert_eq!(r.body["data"], json!({"password": required, "passwordConfirm": mismatch}));
    let r = guest
        .post(coll, json!({"email": "bad", "password": "password123", "passwordConfirm": "password124", "verified": true}))
        .await;
    assert_eq!(r.body["data"], json!({"passwordConfirm": mismatch, "verified": mismatch}));
    let r = guest
        .post(coll, json!({"email": "bad", "password": "short", "passwordConfirm": "short"}))
        .await;
    assert_eq!(
        (code(&r, "email"), code(&r, "password")),
        ("validation_is_email", "validation_min_text_constraint")
    );
    let r = guest.post(coll, json!({"email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    assert_eq!(code(&r, "email"), "validation_not_unique");
    // Form bodies: a numeric-looking password and confirmation still match.
    let r = guest
        .multipart(
            Method::POST,
            coll,
            &[
                ("email", "n1@example.com"),
                ("password", "12345678"),
                ("passwordConfirm", "12345678"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("email").is_none(), "the creator is not the record");
    assert_eq!(r.body["verified"], false);

    // Update by the record itself.
    let me = format!("{coll}/user00000000001");
    let r = u1.patch(&me, json!({"email": "new@example.com", "verified": true})).await;
    assert_eq!(r.body["data"], json!({"email": mismatch, "verified": mismatch}));
    let r = u1.patch(&me, json!({"passwordConfirm": "x"})).await;
    assert_eq!(
        r.body["data"],
        json!({"oldPassword": required, "password": required, "passwordConfirm": mismatch})
    );
    let r = u1.patch(&me, json!({"password": "newpass123", "passwordConfirm": "newpass123", "oldPassword": "wrong", "verified": true})).await;
    let invalid_old = json!({"code": "validation_invalid_old_password", "message": "Missing or invalid old password."});
    assert_eq!(r.body["data"], json!({"oldPassword": invalid_old, "verified": mismatch}));
    let r = u1.patch(&me, json!({"password": "", "passwordConfirm": ""})).await;
    assert_eq!(
        r.body["data"],
        json!({"password": required}),
        "an empty password clears a required field"
    );
    let r = u1.patch(&me, json!({"password": "newpass123", "passwordConfirm": "newpass123", "oldPassword": "password123"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_error(&u1.get(&me).await, 404, NOT_FOUND);
    let r = guest
        .post(
            "/api/collections/users/auth-with-password",
            json!({"identity": "u1@example.com", "password": "newpass123"}),
        )
        .await;
    assert_eq!(r.status, 200);

    // A manager (manageRule) changes e-mail, verified and password without the old one, but
    // only where the update rule lets it update at all.
    su.patch(
        "/api/collections/users",
        json!({
            "manageRule": "@request.auth.id = 'user00000000002'",
            "updateRule": "id = @request.auth.id || @request.auth.id = 'user00000000002'",
            "viewRule": "", "listRule": "",
        }),
    )
    .await;
    let r = u2.patch(&me, json!({"email": "moved@example.com", "verified": true, "password": "managed123", "passwordConfirm": "managed123"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["email"].as_str(), r.body["verified"].as_bool()),
        (Some("moved@example.com"), Some(true))
    );
    // The manager sees the managed records' e-mails in views and lists too; others do not.
    assert_eq!(u2.get(&me).await.body["email"], "moved@example.com");
    let r = u2.get(&format!("{coll}?filter=id='user00000000001'")).await;
    assert_eq!(r.body["items"][0]["email"], "moved@example.com");
    assert!(guest.get(&me).await.body.get("email").is_none());
    su.patch("/api/collections/users", json!({"updateRule": "id = @request.auth.id"})).await;
    assert_error(&u2.patch(&me, json!({"verified": false})).await, 404, NOT_FOUND);
});
