//! Collections API (spec §2): access, list/view, create with every field type and option,
//! validation codes, system collections, update, delete, truncate, import, scaffolds, OAuth2
//! providers, indexes. Expected bodies were captured from PocketBase 0.40.6.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Client, GENERIC_400, NOT_FOUND, assert_error, record_token};

const CREATE_FAILED: &str = "Failed to create collection.";
const UPDATE_FAILED: &str = "Failed to update collection.";
const IMPORT_FAILED: &str = "Failed to import collections.";

/// Asserts a 400 with `message` and exactly `data`.
#[track_caller]
fn assert_invalid(r: &crate::common::Resp, message: &str, data: Value) {
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body, json!({"data": data, "message": message, "status": 400}));
}

/// The names of every collection, in listing order.
async fn names(su: &Client, query: &str) -> Vec<String> {
    let r = su.get(&format!("/api/collections?perPage=100&{query}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

const BUILTINS: [&str; 6] =
    ["_mfas", "_otps", "_externalAuths", "_authOrigins", "_superusers", "users"];

sb_testkit::sbtest_http!(management_routes_need_a_superuser, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let user_token = record_token(&app, "users", user["id"].as_str().unwrap()).await;
    let routes: [(Method, &str); 11] = [
        (Method::GET, "/api/collections"),
        (Method::POST, "/api/collections"),
        (Method::GET, "/api/collections/users"),
        (Method::PATCH, "/api/collections/users"),
        (Method::DELETE, "/api/collections/users"),
        (Method::DELETE, "/api/collections/users/truncate"),
        (Method::PUT, "/api/collections/import"),
        (Method::GET, "/api/collections/meta/scaffolds"),
        (Method::GET, "/api/collections/meta/oauth2-providers"),
        (Method::POST, "/api/collections/meta/dry-run-view"),
        (Method::GET, "/api/collections/nope"),
    ];
    for (method, path) in routes {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let guest = su.with_token(None).send(method.clone(), path, body.clone()).await;
        assert_error(&guest, 401, "The request requires valid record authorization token.");
        let regular = su.with_token(Some(&user_token)).send(method.clone(), path, body).await;
        assert_error(&regular, 403, "The authorized record is not allowed to perform this action.");
    }
    // Nothing was changed by the refused requests.
    assert_eq!(su.all_records("users").await.len(), 1);
});

sb_testkit::sbtest_http!(list_paginates_filters_and_sorts, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    assert_eq!(names(&su, "").await, BUILTINS);
    for name in ["zeta", "alpha", "mid"] {
        su.create_collection(json!({"name": name})).await;
    }
    su.create_collection(json!({"name": "members", "type": "auth"})).await;
    let all = names(&su, "").await;
    assert_eq!(all[6..], ["zeta", "alpha", "mid", "members"]);

    let r = su.get("/api/collections?perPage=4&page=2&fields=name").await;
    assert_eq!(
        r.body,
        json!({"items": [{"name": "_superusers"}, {"name": "users"}, {"name": "zeta"}, {"name": "alpha"}],
               "page": 2, "perPage": 4, "totalItems": 10, "totalPages": 3})
    );
    let r = su.get("/api/collections?perPage=3&skipTotal=1&fields=name").await;
    assert_eq!(r.body["totalItems"], -1);
    assert_eq!(r.body["totalPages"], -1);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);

    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(names(&su, "sort=-name").await, sorted);
    assert_eq!(names(&su, "filter=system%3Dtrue").await, BUILTINS[..5]);
    assert_eq!(names(&su, "filter=type%3D'auth'").await, ["_superusers", "users", "members"]);
    assert_eq!(
        names(&su, "filter=name~'m'%26%26system%3Dfalse&sort=name").await,
        ["members", "mid"]
    );
    assert_eq!(
        names(&su, "filter=system%3Dfalse%26%26name!%3D'users'&sort=-created").await,
        ["members", "mid", "alpha", "zeta"]
    );
    assert_eq!(
        names(&su, "filter=updated>''%26%26id!=''&sort=updated&perPage=100").await.len(),
        10
    );
    let zeta_id = su.get("/api/collections/zeta").await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(names(&su, &format!("filter=id%3D'{zeta_id}'")).await, ["zeta"]);

    // Only id, name, type, system, created and updated can be filtered or sorted.
    for query in [
        "filter=listRule%3D''",
        "sort=listRule",
        "filter=fields%3D1",
        "filter=name%3D",
        "perPage=abc",
    ] {
        let r = su.get(&format!("/api/collections?{query}")).await;
        assert_error(&r, 400, GENERIC_400);
    }
});

sb_testkit::sbtest_http!(collections_are_found_by_id_or_name, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let by_id = su.get("/api/collections/_pb_users_auth_").await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body["name"], "users");
    for path in ["/api/collections/users", "/api/collections/USERS"] {
        let r = su.get(path).await;
        assert_eq!(r.body, by_id.body, "{path}");
    }
    let superusers = su.get("/api/collections/_superusers").await;
    assert_eq!(superusers.body["id"], "pbc_3142635823");
    assert_eq!(superusers.body["system"], true);
    assert_eq!(superusers.body["authToken"], json!({"duration": 86400}));

    assert_error(&su.get("/api/collections/nope").await, 404, NOT_FOUND);
    assert_error(&su.patch("/api/collections/nope", json!({})).await, 404, NOT_FOUND);
    assert_error(&su.delete("/api/collections/nope").await, 404, NOT_FOUND);
    assert_error(&su.delete("/api/collections/nope/truncate").await, 404, NOT_FOUND);
});

/// A base collection with one field of every type and non-default options.
fn every_field_type() -> Value {
    json!({"name": "allf", "type": "base", "listRule": "", "viewRule": null, "fields": [
        {"name": "t", "type": "text", "min": 2, "max": 20, "pattern": "^[a-z]+$", "autogeneratePattern": "", "required": true, "presentable": true, "help": "hint"},
        {"name": "ed", "type": "editor", "maxSize": 1000, "convertURLs": true},
        {"name": "n", "type": "number", "min": -5, "max": 10.5, "onlyInt": false, "required": false},
        {"name": "n2", "type": "number", "onlyInt": true},
        {"name": "b", "type": "bool", "hidden": true},
        {"name": "em", "type": "email", "exceptDomains": ["bad.com"]},
        {"name": "u", "type": "url", "onlyDomains": ["good.com"]},
        {"name": "d", "type": "date", "min": "2020-01-01 00:00:00.000Z", "max": "2030-01-01"},
        {"name": "ad", "type": "autodate", "onCreate": true, "onUpdate": true},
        {"name": "s", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
        {"name": "sm", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
        {"name": "r", "type": "relation", "collectionId": "_pb_users_auth_", "cascadeDelete": true, "minSelect": 0, "maxSelect": 1},
        {"name": "rm", "type": "relation", "collectionId": "_pb_users_auth_", "minSelect": 1, "maxSelect": 5},
        {"name": "f", "type": "file", "maxSelect": 2, "maxSize": 1024, "mimeTypes": ["image/png"], "thumbs": ["100x100", "0x50t"], "protected": true},
        {"name": "j", "type": "json", "maxSize": 2000},
        {"name": "p", "type": "password", "min": 5, "max": 50, "pattern": "", "cost": 6},
        {"name": "g", "type": "geoPoint", "required": true}
    ], "indexes": ["CREATE UNIQUE INDEX idx_allf_t ON allf (t)", "CREATE INDEX `idx_allf_n` ON `whatever` (`n` DESC, b)"]})
}

/// What PocketBase answers for [`every_field_type`] (without the timestamps).
fn every_field_type_expected() -> Value {
    json!({
        "id": "pbc_2844260936", "name": "allf", "type": "base", "system": false,
        "listRule": "", "viewRule": null, "createRule": null, "updateRule": null, "deleteRule": null,
        "fields": [
            {"autogeneratePattern": "[a-z0-9]{15}", "help": "", "hidden": false, "id": "text3208210256", "max": 15, "min": 15, "name": "id", "pattern": "^[a-z0-9]+$", "presentable": false, "primaryKey": true, "required": true, "system": true, "type": "text"},
            {"autogeneratePattern": "", "help": "hint", "hidden": false, "id": "text2238339752", "max": 20, "min": 2, "name": "t", "pattern": "^[a-z]+$", "presentable": true, "primaryKey": false, "required": true, "system": false, "type": "text"},
            {"convertURLs": true, "help": "", "hidden": false, "id": "editor327952476", "maxSize": 1000, "name": "ed", "presentable": false, "required": false, "system": false, "type": "editor"},
            {"help": "", "hidden": false, "id": "number2013832146", "max": 10.5, "min": -5, "name": "n", "onlyInt": false, "presentable": false, "required": false, "system": false, "type": "number"},
            {"help": "", "hidden": false, "id": "number1919944022", "max": null, "min": null, "name": "n2", "onlyInt": true, "presentable": false, "required": false, "system": false, "type": "number"},
            {"help": "", "hidden": true, "id": "bool1908338681", "name": "b", "presentable": false, "required": false, "system": false, "type": "bool"},
            {"exceptDomains": ["bad.com"], "help": "", "hidden": false, "id": "email1783664888", "name": "em", "onlyDomains": [], "presentable": false, "required": false, "system": false, "type": "email"},
            {"exceptDomains": [], "help": "", "hidden": false, "id": "url4067256894", "name": "u", "onlyDomains": ["good.com"], "presentable": false, "required": false, "system": false, "type": "url"},
            {"help": "", "hidden": false, "id": "date2564639436", "max": "2030-01-01 00:00:00.000Z", "min": "2020-01-01 00:00:00.000Z", "name": "d", "presentable": false, "required": false, "system": false, "type": "date"},
            {"hidden": false, "id": "autodate2011229528", "name": "ad", "onCreate": true, "onUpdate": true, "presentable": false, "system": false, "type": "autodate"},
            {"help": "", "hidden": false, "id": "select453955339", "maxSelect": 1, "name": "s", "presentable": false, "required": false, "system": false, "type": "select", "values": ["a", "b", "c"]},
            {"help": "", "hidden": false, "id": "select1992828207", "maxSelect": 3, "name": "sm", "presentable": false, "required": false, "system": false, "type": "select", "values": ["a", "b", "c"]},
            {"cascadeDelete": true, "collectionId": "_pb_users_auth_", "help": "", "hidden": false, "id": "relation1812594589", "maxSelect": 1, "minSelect": 0, "name": "r", "presentable": false, "required": false, "system": false, "type": "relation"},
            {"cascadeDelete": false, "collectionId": "_pb_users_auth_", "help": "", "hidden": false, "id": "relation1876104302", "maxSelect": 5, "minSelect": 1, "name": "rm", "presentable": false, "required": false, "system": false, "type": "relation"},
            {"help": "", "hidden": false, "id": "file1993550816", "maxSelect": 2, "maxSize": 1024, "mimeTypes": ["image/png"], "name": "f", "presentable": false, "protected": true, "required": false, "system": false, "thumbs": ["100x100", "0x50t"], "type": "file"},
            {"help": "", "hidden": false, "id": "json2137352139", "maxSize": 2000, "name": "j", "presentable": false, "required": false, "system": false, "type": "json"},
            {"cost": 6, "help": "", "hidden": false, "id": "password2181537457", "max": 50, "min": 5, "name": "p", "pattern": "", "presentable": false, "required": false, "system": false, "type": "password"},
            {"help": "", "hidden": false, "id": "geoPoint30677878", "name": "g", "presentable": false, "required": true, "system": false, "type": "geoPoint"}
        ],
        // An index naming another table is rewritten for this one; the others stay verbatim.
        "indexes": ["CREATE UNIQUE INDEX idx_allf_t ON allf (t)", "CREATE INDEX `idx_allf_n` ON `allf` (\n  `n` DESC,\n  `b`\n)"],
    })
}

fn without_timestamps(mut c: Value) -> Value {
    let m = c.as_object_mut().unwrap();
    for key in ["created", "updated"] {
        let v = m.remove(key).unwrap_or_default();
        let s = v.as_str().unwrap_or_default();
        assert!(s.len() == 24 && s.ends_with('Z'), "{key}: {v}");
    }
    c
}

sb_testkit::sbtest_http!(every_field_type_and_option_is_echoed, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let created = su.create_collection(every_field_type()).await;
    assert_eq!(created["created"], created["updated"]);
    assert_eq!(without_timestamps(created.clone()), every_field_type_expected());
    // Reads and listings give the same document; a no-op update keeps it.
    assert_eq!(su.get("/api/collections/allf").await.body, created);
    let listed = su.get("/api/collections?filter=name%3D'allf'").await;
    assert_eq!(listed.body["items"][0], created);
    let updated = su.patch("/api/collections/allf", json!({})).await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    assert_eq!(without_timestamps(updated.body.clone()), every_field_type_expected());
    assert_eq!(updated.body["created"], created["created"]);
});

sb_testkit::sbtest_http!(invalid_definitions_get_pocketbase_error_codes, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let field = |i: &str, key: &str, code: &str, message: &str| json!({"fields": {i: {key: {"code": code, "message": message}}}});
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({"name": ""}),
            json!({"name": {"code": "validation_required", "message": "Cannot be blank."}}),
        ),
        (
            json!({"name": "a b"}),
            json!({"name": {"code": "validation_match_invalid", "message": "Must be in a valid format."}}),
        ),
        (
            json!({"name": "USERS"}),
            json!({"name": {"code": "validation_collection_name_exists", "message": "Collection name must be unique (case insensitive)."}}),
        ),
        (
            json!({"name": "_collections"}),
            json!({"name": {"code": "validation_collection_name_invalid", "message": "The name shouldn't match with an existing internal table."}}),
        ),
        (
            json!({"name": "_params"}),
            json!({"name": {"code": "validation_collection_name_invalid", "message": "The name shouldn't match with an existing internal table."}}),
        ),
        (
            json!({"name": "pbc_3142635823"}),
            json!({"name": {"code": "validation_collection_name_id_duplicate", "message": "The name must not match an existing collection id."}}),
        ),
        (
            json!({"name": "posts_via_author"}),
            json!({"name": {"code": "validation_found_via", "message": "The value cannot contain \"_via_\"."}}),
        ),
        (
            json!({"name": "x", "type": "nope"}),
            json!({"type": {"code": "validation_in_invalid", "message": "Must be a valid value."}}),
        ),
        (
            json!({"name": "x", "id": "bad id"}),
            json!({"id": {"code": "validation_match_invalid", "message": "Must be in a valid format."}}),
        ),
        (
            json!({"name": "x", "id": "_pb_users_auth_"}),
            json!({"id": {"code": "validation_invalid_or_existing_id", "message": "The model id is invalid or already exists."}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "a", "type": "text"}, {"name": "A", "type": "text"}]}),
            json!({"fields": {"2": {"name": {"code": "validation_duplicated_field_name", "message": "Duplicated or invalid field name A.", "params": {"fieldName": "A"}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "id", "type": "number"}]}),
            json!({"fields": {"1": {"name": {"code": "validation_duplicated_field_name", "message": "Duplicated or invalid field name id.", "params": {"fieldName": "id"}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "null", "type": "text"}]}),
            field("1", "name", "validation_not_in_invalid", "Must not be in list."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "expand", "type": "text"}]}),
            field("1", "name", "validation_not_in_invalid", "Must not be in list."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "a_via_b", "type": "text"}]}),
            field("1", "name", "validation_found_via", "The value cannot contain \"_via_\"."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "a-b", "type": "text"}]}),
            field("1", "name", "validation_match_invalid", "Must be in a valid format."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "", "type": "text"}]}),
            field("1", "name", "validation_required", "Cannot be blank."),
        ),
        (
            json!({"name": "x", "type": "auth", "fields": [{"name": "passwordConfirm", "type": "text"}]}),
            field(
                "1",
                "name",
                "validation_reserved_field_name",
                "The field name is reserved and cannot be used.",
            ),
        ),
        (
            json!({"name": "x", "fields": [{"name": "r", "type": "relation", "collectionId": "missing"}]}),
            field(
                "1",
                "collectionId",
                "validation_field_relation_missing_collection",
                "The relation collection doesn't exist.",
            ),
        ),
        (
            json!({"name": "x", "fields": [{"name": "r", "type": "relation"}]}),
            field("1", "collectionId", "validation_required", "Cannot be blank."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "t", "type": "text", "min": 10, "max": 5}]}),
            json!({"fields": {"1": {"max": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 10.", "params": {"threshold": 10}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "n", "type": "number", "min": 10, "max": 5}]}),
            json!({"fields": {"1": {"max": {"code": "validation_min_number_constraint", "message": "Must be greater or equal than 10.", "params": {"min": 10}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "s", "type": "select"}]}),
            field("1", "values", "validation_required", "Cannot be blank."),
        ),
        (
            json!({"name": "x", "fields": [{"name": "s", "type": "select", "values": ["a"], "maxSelect": 3}]}),
            json!({"fields": {"1": {"maxSelect": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 1.", "params": {"threshold": 1}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "f", "type": "file", "thumbs": ["0x0", "abc"], "maxSelect": -1}]}),
            json!({"fields": {"1": {
                "maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}},
                "thumbs": {"0": {"code": "validation_not_in_invalid", "message": "Must not be in list."}, "1": {"code": "validation_match_invalid", "message": "Must be in a valid format."}},
            }}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "e", "type": "email", "onlyDomains": ["a.com"], "exceptDomains": ["b.com"]}]}),
            json!({"fields": {"1": {"exceptDomains": {"code": "validation_empty", "message": "Must be blank."}, "onlyDomains": {"code": "validation_empty", "message": "Must be blank."}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "e", "type": "url", "onlyDomains": ["not a domain"]}]}),
            json!({"fields": {"1": {"onlyDomains": {"0": {"code": "validation_is_domain", "message": "Must be a valid domain."}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "a", "type": "autodate"}]}),
            json!({"fields": {"1": {
                "onCreate": {"code": "validation_required", "message": "Either onCreate or onUpdate must be enabled."},
                "onUpdate": {"code": "validation_required", "message": "Either onCreate or onUpdate must be enabled."},
            }}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "p", "type": "password", "min": 80, "cost": 50}]}),
            json!({"fields": {"1": {
                "cost": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 31.", "params": {"threshold": 31}},
                "min": {"code": "validation_max_less_equal_than_required", "message": "Must be no greater than 71.", "params": {"threshold": 71}},
            }}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "j", "type": "json", "maxSize": -5}]}),
            json!({"fields": {"1": {"maxSize": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 0.", "params": {"threshold": 0}}}}}),
        ),
        (
            json!({"name": "x", "fields": [{"name": "r", "type": "relation", "collectionId": "_pb_users_auth_", "minSelect": 3, "maxSelect": 1}]}),
            json!({"fields": {"1": {"maxSelect": {"code": "validation_min_greater_equal_than_required", "message": "Must be no less than 3.", "params": {"threshold": 3}}}}}),
        ),
        (
            json!({"name": "x", "indexes": ["bogus"]}),
            json!({"indexes": {"0": {"code": "validation_invalid_index_expression", "message": "Invalid CREATE INDEX expression."}}}),
        ),
        (
            json!({"name": "x", "indexes": ["CREATE INDEX a ON x (id)", "CREATE INDEX a ON x (id)"]}),
            json!({"indexes": {"1": {"code": "validation_duplicated_index_name", "message": "The index name already exists."}}}),
        ),
        (
            json!({"name": "x", "indexes": ["CREATE INDEX a ON x (id)", "CREATE INDEX b ON x (id)"]}),
            json!({"indexes": {"1": {"code": "validation_duplicated_index_definition", "message": "The index definition already exists."}}}),
        ),
        (
            json!({"name": "x", "indexes": ["CREATE INDEX idx_tokenKey__pb_users_auth_ ON x (id)"]}),
            json!({"indexes": {"0": {"code": "validation_existing_index_name", "message": "The index name is already used in users collection.", "params": {"usedTableName": "users"}}}}),
        ),
        (
            // PocketBase only meets this one when it creates the index (its message has SQLite's
            // words); the code and the index name are the same here.
            json!({"name": "x", "indexes": ["CREATE INDEX a ON x (nope)"]}),
            json!({"indexes": {"0": {"code": "validation_invalid_index_expression", "message": "Failed to create index a - no such column: nope."}}}),
        ),
        (
            json!({"name": "x", "type": "view", "viewQuery": "select id from users", "createRule": ""}),
            json!({"createRule": {"code": "validation_nil", "message": "Must be blank."}}),
        ),
    ];
    for (body, data) in cases {
        let r = su.post("/api/collections", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
        assert_eq!(
            r.body,
            json!({"data": data, "message": CREATE_FAILED, "status": 400}),
            "{body}"
        );
    }
    // Invalid rules: the code and the "Invalid rule. Raw error:" prefix.
    for rule in ["nope = 1", "id =", "@request.nope = 1", "(id = '1'"] {
        let r = su.post("/api/collections", json!({"name": "x", "listRule": rule})).await;
        assert_eq!(r.status, 400, "{rule}: {:?}", r.body);
        assert_eq!(r.body["data"]["listRule"]["code"], "validation_invalid_rule", "{rule}");
        let message = r.body["data"]["listRule"]["message"].as_str().unwrap();
        assert!(message.starts_with("Invalid rule. Raw error: "), "{message}");
    }
    // Nothing of the refused definitions was stored.
    assert_eq!(names(&su, "").await, BUILTINS);
    assert_eq!(su.get("/api/collections/x/records").await.status, 404);
});

sb_testkit::sbtest_http!(bodies_that_do_not_load_are_refused, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let type_data = "Failed to load the collection type data due to invalid formatting.";
    let formatting = "Failed to load the submitted data due to invalid formatting.";
    let loading = "An error occurred while loading the submitted data.";
    let json_ct = Some("application/json");
    for (method, path, body, message) in [
        (Method::POST, "/api/collections", "{bad", type_data),
        (Method::POST, "/api/collections", "[1,2]", type_data),
        (Method::POST, "/api/collections", "\"str\"", type_data),
        (Method::POST, "/api/collections", r#"{"name":5}"#, type_data),
        (
            Method::POST,
            "/api/collections",
            r#"{"name":"x","fields":[{"name":"a","type":"nope"}]}"#,
            formatting,
        ),
        (
            Method::POST,
            "/api/collections",
            r#"{"name":"x","fields":[{"name":"t","type":"text","min":"5"}]}"#,
            formatting,
        ),
        (Method::POST, "/api/collections", r#"{"name":"x","fields":"nope"}"#, formatting),
        (Method::PATCH, "/api/collections/users", "{bad", formatting),
        (Method::PATCH, "/api/collections/users", "[1]", loading),
        (
            Method::PATCH,
            "/api/collections/users",
            r#"{"fields":[{"name":"a","type":"zzz"}]}"#,
            formatting,
        ),
        (Method::PUT, "/api/collections/import", "{bad", formatting),
        (Method::PUT, "/api/collections/import", "[1]", loading),
        (Method::PUT, "/api/collections/import", r#"{"collections":"x"}"#, loading),
        (Method::PUT, "/api/collections/import", r#"{"collections":[5]}"#, loading),
        (
            Method::PUT,
            "/api/collections/import",
            r#"{"collections":[{"name":"a"}],"deleteMissing":"yes"}"#,
            loading,
        ),
        (Method::POST, "/api/collections/meta/dry-run-view", "{bad", loading),
        (Method::POST, "/api/collections/meta/dry-run-view", r#"{"query":5}"#, loading),
    ] {
        let r = su.raw(method.clone(), path, json_ct, body, &[]).await;
        assert_eq!(r.status, 400, "{method} {path} {body}");
        assert_eq!(
            r.json(),
            json!({"data": {}, "message": message, "status": 400}),
            "{method} {path} {body}"
        );
    }
    // An unknown collection type is a validation error.
    let r = su.post("/api/collections", json!({"name": "x", "type": "nope"})).await;
    assert_invalid(
        &r,
        CREATE_FAILED,
        json!({"type": {"code": "validation_in_invalid", "message": "Must be a valid value."}}),
    );
    assert_eq!(names(&su, "").await, BUILTINS);
    su.assert_healthy().await;
});

sb_testkit::sbtest_http!(system_collections_are_protected, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let before = su.get("/api/collections/_superusers").await.body;
    let cases = [
        (
            json!({"name": "admins"}),
            json!({"name": {"code": "validation_collection_system_name_change", "message": "System collection name cannot be changed."}}),
        ),
        (
            json!({"listRule": ""}),
            json!({"listRule": {"code": "validation_collection_system_rule_change", "message": "System collection API rule cannot be changed."}}),
        ),
        (
            json!({"authRule": "id != ''"}),
            json!({"authRule": {"code": "validation_collection_system_rule_change", "message": "System collection API rule cannot be changed."}}),
        ),
        (
            json!({"system": false}),
            json!({"system": {"code": "validation_collection_system_flag_change", "message": "System collection state cannot be changed."}}),
        ),
        (
            json!({"type": "base"}),
            json!({"type": {"code": "validation_collection_type_change", "message": "Collection type cannot be changed."}}),
        ),
        (
            json!({"fields": []}),
            json!({"fields": {"code": "validation_system_field_change", "message": "System fields cannot be deleted or renamed."}}),
        ),
    ];
    for (patch, data) in cases {
        let r = su.patch("/api/collections/_superusers", patch.clone()).await;
        assert_invalid(&r, UPDATE_FAILED, data);
    }
    for name in ["_superusers", "_mfas", "_otps", "_externalAuths", "_authOrigins"] {
        assert_error(
            &su.delete(&format!("/api/collections/{name}")).await,
            400,
            "Failed to delete collection.",
        );
    }
    // Unchanged values of a system collection may be sent back.
    let r = su
        .patch(
            "/api/collections/_superusers",
            json!({"listRule": null, "indexes": before["indexes"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let after = su.get("/api/collections/_superusers").await.body;
    assert_eq!(after["fields"], before["fields"]);
    assert_eq!(after["name"], "_superusers");
    // The superuser can still log in.
    let login = su
        .with_token(None)
        .post(
            "/api/collections/_superusers/auth-with-password",
            json!({"identity": "root@example.com", "password": crate::common::ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    // A non-system auth collection: its system fields cannot go either.
    let r = su
        .patch(
            "/api/collections/users",
            json!({"fields": [{"name": "id", "type": "text", "primaryKey": true}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let kept: Vec<&str> =
        r.body["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(kept, ["id", "password", "tokenKey", "email", "emailVisibility", "verified"]);
});

sb_testkit::sbtest_http!(updates_replace_fields_and_check_types, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let created = su
        .create_collection(json!({"name": "posts", "listRule": "", "fields": [
            {"name": "title", "type": "text"},
            {"name": "r", "type": "relation", "collectionId": "_pb_users_auth_"},
        ]}))
        .await;
    let id_of = |c: &Value, name: &str| -> String {
        c["fields"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let title = id_of(&created, "title");
    let rel = id_of(&created, "r");

    let r = su
        .patch(
            "/api/collections/posts",
            json!({"fields": [{"id": title, "name": "title", "type": "number"}]}),
        )
        .await;
    assert_invalid(
        &r,
        UPDATE_FAILED,
        json!({"fields": {"1": {"code": "validation_field_type_change", "message": "Field type cannot be changed."}}}),
    );
    let r = su
        .patch("/api/collections/posts", json!({"fields": [{"id": rel, "name": "r", "type": "relation", "collectionId": "pbc_3142635823"}]}))
        .await;
    assert_invalid(
        &r,
        UPDATE_FAILED,
        json!({"fields": {"1": {"collectionId": {"code": "validation_field_relation_change", "message": "The relation collection cannot be changed."}}}}),
    );
    let r = su.patch("/api/collections/posts", json!({"type": "view"})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["data"]["type"]["code"], "validation_collection_type_change");
    let r = su.patch("/api/collections/posts", json!({"fields": [{"id": "text3208210256", "name": "id2", "type": "text", "primaryKey": true}]})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(su.get("/api/collections/posts").await.body, created);

    // Top-level keys replace the stored ones; `fields` is replaced wholesale (the id field comes
    // back by itself), a field sent by name keeps its id.
    let r = su.patch("/api/collections/posts", json!({"listRule": null, "viewRule": "title != ''", "fields": [{"name": "title", "type": "text", "max": 10}]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["listRule"], Value::Null);
    assert_eq!(r.body["viewRule"], "title != ''");
    assert_eq!(r.body["created"], created["created"]);
    assert_ne!(r.body["updated"], created["updated"]);
    let fields: Vec<(&str, &str)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["id"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, [("id", "text3208210256"), ("title", title.as_str())]);
    assert_eq!(r.body["fields"][1]["max"], 10);
});

sb_testkit::sbtest_http!(delete_refuses_referenced_collections, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let posts = su
        .create_collection(json!({"name": "posts", "fields": [{"name": "title", "type": "text"}]}))
        .await;
    let posts_id = posts["id"].as_str().unwrap();
    su.create_record("posts", json!({"title": "kept"})).await;
    for name in ["refs", "refs2"] {
        su.create_collection(json!({"name": name, "fields": [{"name": "r", "type": "relation", "collectionId": posts_id}]})).await;
    }
    // A relation to the collection itself can be added once the collection exists.
    su.create_collection(json!({"name": "self_ref", "id": "pbc_2155196064"})).await;
    let r = su
        .patch("/api/collections/self_ref", json!({"fields": [{"name": "r", "type": "relation", "collectionId": "pbc_2155196064"}]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_error(
        &su.delete("/api/collections/posts").await,
        400,
        "Failed to delete collection probably due to existing reference in refs, refs2.",
    );
    for name in ["refs", "refs2"] {
        assert_eq!(su.delete(&format!("/api/collections/{name}")).await.status, 204);
    }
    su.create_collection(
        json!({"name": "pv", "type": "view", "viewQuery": "SELECT id, title FROM posts"}),
    )
    .await;
    assert_error(&su.delete("/api/collections/posts").await, 400, "Failed to delete collection.");
    assert_eq!(su.all_records("posts").await.len(), 1);
    assert_eq!(su.delete("/api/collections/pv").await.status, 204);
    // A relation to itself does not block the delete.
    assert_eq!(su.delete("/api/collections/self_ref").await.status, 204);
    let r = su.delete(&format!("/api/collections/{posts_id}")).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_error(&su.get("/api/collections/posts").await, 404, NOT_FOUND);
    assert_eq!(su.get("/api/collections/posts/records").await.status, 404);
    // The name is free again, with an empty table.
    su.create_collection(json!({"name": "posts", "fields": [{"name": "title", "type": "text"}]}))
        .await;
    assert!(su.all_records("posts").await.is_empty());
});

sb_testkit::sbtest_http!(truncate_deletes_every_record, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "notes", "fields": [{"name": "n", "type": "number"}]}))
        .await;
    for n in 1..=3 {
        su.create_record("notes", json!({"n": n})).await;
    }
    su.create_collection(
        json!({"name": "nv", "type": "view", "viewQuery": "SELECT id, n FROM notes"}),
    )
    .await;
    assert_error(
        &su.delete("/api/collections/nv/truncate").await,
        400,
        "View collections cannot be truncated since they don't store their own records.",
    );
    let r = su.delete("/api/collections/notes/truncate").await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(su.all_records("notes").await.is_empty());
    assert!(su.all_records("nv").await.is_empty());
    // The collection itself stays.
    assert_eq!(su.get("/api/collections/notes").await.status, 200);
    su.create_record("notes", json!({"n": 4})).await;
});

sb_testkit::sbtest_http!(import_upserts_collections_in_one_transaction, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "imp", "fields": [{"id": "custom_a", "name": "a", "type": "text"}, {"name": "b", "type": "number"}], "indexes": ["CREATE INDEX idx_imp_a ON imp (a)"]})).await;
    su.create_record("imp", json!({"a": "x", "b": 2})).await;

    // Fields missing from the import are kept; an id-less field with a stored field's name and
    // type keeps that field (PocketBase keeps its stored options too).
    let r = su
        .put("/api/collections/import", json!({"collections": [
            {"name": "imp", "fields": [{"name": "c", "type": "bool"}, {"name": "a", "type": "text", "max": 5}]},
            {"name": "newone", "fields": [{"name": "z", "type": "text"}]},
        ]}))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let imp = su.get("/api/collections/imp").await.body;
    let fields: Vec<(&str, &str)> = imp["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("c", "bool112844655"),
            ("a", "custom_a"),
            ("id", "text3208210256"),
            ("b", "number1908338681")
        ]
    );
    assert_eq!(imp["fields"][1]["max"], 0);
    assert_eq!(imp["indexes"], json!(["CREATE INDEX idx_imp_a ON imp (a)"]));
    let records = su.get("/api/collections/imp/records?fields=a,b,c").await.body;
    assert_eq!(records["items"], json!([{"a": "x", "b": 2, "c": false}]));
    assert_eq!(su.get("/api/collections/newone").await.status, 200);

    // Collections of one import may point at each other, and views come after the tables.
    let r = su
        .put("/api/collections/import", json!({"collections": [
            {"name": "vv", "type": "view", "viewQuery": "select id, a from imp"},
            {"name": "ra", "fields": [{"name": "r", "type": "relation", "collectionId": "pbc_rb"}]},
            {"id": "pbc_rb", "name": "rb", "fields": [{"name": "r", "type": "relation", "collectionId": "pbc_1082531084"}]},
        ]}))
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(su.get("/api/collections/ra").await.body["fields"][1]["collectionId"], "pbc_rb");
    assert_eq!(
        su.get("/api/collections/rb").await.body["fields"][1]["collectionId"],
        "pbc_1082531084"
    );
    assert_eq!(
        su.get("/api/collections/vv/records?fields=a").await.body["items"],
        json!([{"a": "x"}])
    );

    // deleteMissing: other non-system collections go, with their data; missing fields too (a
    // field keeps its column only when listed with its id).
    let r = su
        .put(
            "/api/collections/import",
            json!({"deleteMissing": true, "collections": [
                {"name": "imp", "fields": [{"id": "custom_a", "name": "a", "type": "text"}]},
            ]}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(names(&su, "").await, [&BUILTINS[..5], &["imp"]].concat());
    let imp = su.get("/api/collections/imp").await.body;
    let fields: Vec<&str> =
        imp["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(fields, ["a", "id"]);
    assert_eq!(
        su.get("/api/collections/imp/records?fields=a,b").await.body["items"],
        json!([{"a": "x"}])
    );
    assert_eq!(su.get("/api/collections/vv/records").await.status, 404);
});

sb_testkit::sbtest_http!(import_failures_change_nothing, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "keep", "fields": [{"name": "a", "type": "text"}]})).await;
    su.create_record("keep", json!({"a": "x"})).await;
    let before = su.get("/api/collections?perPage=100").await.body;
    let failure = |message: &str| json!({"collections": {"code": "validation_collections_import_failure", "message": message}});

    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [{"name": "ok1"}, {"name": "bad one"}]}),
        )
        .await;
    assert_invalid(
        &r,
        IMPORT_FAILED,
        failure(
            "Data validations failed for collection \"bad one\" (pbc_2584936695):\n{\n  \"name\": \"must be in a valid format\"\n}.",
        ),
    );
    let r = su
        .put("/api/collections/import", json!({"collections": [{"name": "ok1", "fields": [{"name": "r", "type": "relation", "collectionId": "nope"}]}]}))
        .await;
    assert_invalid(
        &r,
        IMPORT_FAILED,
        failure(
            "Data validations failed for collection \"ok1\" (pbc_1681653032):\n{\n  \"fields\": {\n    \"1\": {\n      \"collectionId\": \"The relation collection doesn't exist.\"\n    }\n  }\n}.",
        ),
    );
    let r = su.put("/api/collections/import", json!({"collections": [null]})).await;
    assert_invalid(
        &r,
        IMPORT_FAILED,
        failure(
            "Data validations failed for collection \"\" (pbc_3233087073):\n{\n  \"name\": \"cannot be blank\"\n}.",
        ),
    );
    let r = su
        .put("/api/collections/import", json!({"collections": [{"name": "zz1", "type": "bogus"}]}))
        .await;
    assert_invalid(
        &r,
        IMPORT_FAILED,
        failure(
            "Data validations failed for collection \"zz1\" (pbc_171140940):\n{\n  \"type\": \"must be a valid value\"\n}.",
        ),
    );
    let r = su
        .put(
            "/api/collections/import",
            json!({"collections": [{"name": "zz1", "fields": [{"name": "x", "type": "bogus"}]}]}),
        )
        .await;
    assert_eq!(r.body["data"]["collections"]["code"], "validation_collections_import_failure");
    let message = r.body["data"]["collections"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to import the collections configuration. Raw error:\n"),
        "{message}"
    );
    let r = su.put("/api/collections/import", json!({"collections": []})).await;
    assert_invalid(
        &r,
        "An error occurred while validating the submitted data.",
        json!({"collections": {"code": "validation_required", "message": "Cannot be blank."}}),
    );

    // A failure after other collections were already written (a unique index that the kept
    // data violates) rolls everything back, deletions included.
    su.create_record("keep", json!({"a": "x"})).await;
    let r = su
        .put("/api/collections/import", json!({"deleteMissing": true, "collections": [
            {"name": "fresh", "fields": [{"name": "f", "type": "text"}]},
            {"name": "keep", "indexes": ["CREATE UNIQUE INDEX idx_keep_a ON keep (a)"], "fields": [{"name": "a", "type": "text"}, {"name": "extra", "type": "text"}]},
        ]}))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let index_error = &r.body["data"]["indexes"]["0"];
    assert_eq!(index_error["code"], "validation_invalid_index_expression", "{:?}", r.body);
    assert!(
        index_error["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to create index idx_keep_a - ")
    );
    let after = su.get("/api/collections?perPage=100").await.body;
    assert_eq!(after, before);
    assert_eq!(su.all_records("keep").await.len(), 2);
    assert_eq!(su.get("/api/collections/fresh").await.status, 404);
});

sb_testkit::sbtest_http!(scaffolds_and_oauth2_providers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let r = su.get("/api/collections/meta/scaffolds").await;
    assert_eq!(r.status, 200);
    let base = &r.body["base"];
    assert_eq!(base["id"], "");
    assert_eq!(base["name"], "");
    assert_eq!(base["created"], "");
    assert_eq!(base["fields"].as_array().unwrap().len(), 1);
    assert_eq!(base["fields"][0]["id"], "text3208210256");
    assert_eq!(r.body["view"]["viewQuery"], "");
    assert_eq!(r.body["view"]["fields"], json!([]));
    let auth = &r.body["auth"];
    let auth_fields: Vec<&str> =
        auth["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(auth_fields, ["id", "password", "tokenKey", "email", "emailVisibility", "verified"]);
    let indexes = auth["indexes"].as_array().unwrap();
    let suffix = indexes[0]
        .as_str()
        .unwrap()
        .trim_start_matches("CREATE UNIQUE INDEX `idx_tokenKey_")
        .get(..10)
        .unwrap()
        .to_owned();
    assert_eq!(
        indexes,
        &[
            json!(format!("CREATE UNIQUE INDEX `idx_tokenKey_{suffix}` ON `` (`tokenKey`)")),
            json!(format!(
                "CREATE UNIQUE INDEX `idx_email_{suffix}` ON `` (`email`) WHERE `email` != ''"
            ))
        ]
    );
    assert!(auth.get("authToken").is_some_and(|t| t == &json!({"duration": 432000})));

    let r = su.get("/api/collections/meta/oauth2-providers").await;
    assert_eq!(r.status, 200);
    let providers = r.body.as_array().unwrap();
    assert_eq!(providers.len(), 32);
    let names: Vec<&str> = providers.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names[..4], ["apple", "google", "microsoft", "yandex"]);
    assert_eq!(names[29..], ["oidc", "oidc2", "oidc3"]);
    for p in providers {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 3, "{p}");
        assert!(p["displayName"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(p["logo"].as_str().is_some_and(|l| l.starts_with("<svg") && l.ends_with("</svg>")));
    }
    assert_eq!(
        providers[6],
        json!({"name": "github", "displayName": "GitHub", "logo": providers[6]["logo"]})
    );
    assert_eq!(providers[12]["displayName"], "X/Twitter");
});

sb_testkit::sbtest_http!(unique_indexes_are_enforced_on_records, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "tags", "fields": [{"name": "slug", "type": "text"}, {"name": "label", "type": "text"}, {"name": "n", "type": "number"}],
        "indexes": [
            "CREATE UNIQUE INDEX `idx_tags_slug` ON `tags` (`slug` COLLATE NOCASE)",
            "CREATE UNIQUE INDEX idx_tags_label_n ON tags (label, n) WHERE label != ''",
        ]}))
        .await;
    su.create_record("tags", json!({"slug": "Rust", "label": "a", "n": 1})).await;
    let not_unique = json!({"code": "validation_not_unique", "message": "Value must be unique."});
    let r = su.post("/api/collections/tags/records", json!({"slug": "rUST"})).await;
    assert_invalid(&r, "Failed to create record.", json!({"slug": not_unique}));
    let r =
        su.post("/api/collections/tags/records", json!({"slug": "go", "label": "a", "n": 1})).await;
    assert_invalid(&r, "Failed to create record.", json!({"label": not_unique, "n": not_unique}));
    // The partial index ignores empty labels; other values pass.
    su.create_record("tags", json!({"slug": "go", "n": 1})).await;
    su.create_record("tags", json!({"slug": "zig", "n": 1})).await;
    su.create_record("tags", json!({"slug": "c", "label": "a", "n": 2})).await;
    let go =
        su.get("/api/collections/tags/records?filter=slug%3D'go'").await.body["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let r = su.patch(&format!("/api/collections/tags/records/{go}"), json!({"slug": "RUST"})).await;
    assert_invalid(&r, "Failed to update record.", json!({"slug": not_unique}));
    assert_eq!(su.all_records("tags").await.len(), 4);
    // Dropping the index lifts the constraint.
    let r = su.patch("/api/collections/tags", json!({"indexes": []})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    su.create_record("tags", json!({"slug": "rust"})).await;
});

sb_testkit::sbtest_http!(changing_the_auth_rule_invalidates_tokens, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let token = record_token(&app, "users", user["id"].as_str().unwrap()).await;
    let as_user = su.with_token(Some(&token));
    assert_eq!(as_user.post("/api/collections/users/auth-refresh", json!({})).await.status, 200);
    // Other changes keep the tokens.
    assert_eq!(su.patch("/api/collections/users", json!({"listRule": ""})).await.status, 200);
    assert_eq!(as_user.post("/api/collections/users/auth-refresh", json!({})).await.status, 200);
    assert_eq!(
        su.patch("/api/collections/users", json!({"authRule": "verified = false"})).await.status,
        200
    );
    let r = as_user.post("/api/collections/users/auth-refresh", json!({})).await;
    assert_error(&r, 401, "The request requires valid record authorization token.");
});
