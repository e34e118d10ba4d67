//! View collections (spec §2.3): fields derived from the SELECT, records listed through the
//! view on the active backend, rules, read-only records, invalid queries, dependencies, and
//! `POST /api/collections/meta/dry-run-view`. Expected shapes come from PocketBase 0.40.6.

use serde_json::{Value, json};

use crate::common::{Client, assert_error};

/// `posts` with three records, and one user.
async fn posts(su: &Client) -> String {
    let user = su
        .create_record("users", json!({"email": "u@example.com", "password": "password123", "passwordConfirm": "password123"}))
        .await;
    let user = user["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({"name": "posts", "fields": [
        {"name": "title", "type": "text", "max": 100},
        {"name": "n", "type": "number", "onlyInt": true},
        {"name": "owner", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        {"name": "tags", "type": "select", "values": ["a", "b"], "maxSelect": 2},
        {"name": "created", "type": "autodate", "onCreate": true},
    ]}))
    .await;
    for (i, tags) in [(1, json!(["a"])), (2, json!(["a", "b"])), (3, json!([]))] {
        su.create_record(
            "posts",
            json!({"title": format!("t{i}"), "n": i, "owner": user, "tags": tags}),
        )
        .await;
    }
    user
}

/// The field objects of a collection with generated clone ids replaced by `"_clone_"`.
fn fields_masked(c: &Value) -> Vec<Value> {
    c["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f["id"].as_str().is_some_and(|id| id.starts_with("_clone_")) {
                f["id"] = json!("_clone_");
            }
            f
        })
        .collect()
}

sb_testkit::sbtest_http!(view_fields_are_derived_from_the_query, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts(&su).await;
    // The query runs as written: SQLite's `total()` is spelled `coalesce(sum(...), 0)` on
    // PostgreSQL (which the scanner cannot type, so that column is left out there).
    let sqlite = app.store().dialect() == sb_store::Dialect::Sqlite;
    let total = if sqlite { "total(p.n) as t," } else { "" };
    let view = su
        .create_collection(json!({"name": "v1", "type": "view", "fields": [{"name": "ignored", "type": "bool"}], "viewQuery": format!(
            "SELECT p.id, p.title, p.owner AS who, p.created, p.tags, count(p.id) as c, {total} sum(p.n) as s, \
             cast(p.n as real) as r, cast(p.title as text) as ct, (p.title || 'x') as expr, u.id as uid, u.email, 5 as lit \
             FROM posts p LEFT JOIN users u ON u.id = p.owner GROUP BY p.id, u.id")}))
        .await;
    // What PocketBase derives from the same query (clone ids are random there).
    let expected = json!([
        {"autogeneratePattern": "", "help": "", "hidden": false, "id": "text3208210256", "max": 0, "min": 0, "name": "id", "pattern": "^[a-z0-9]+$", "presentable": false, "primaryKey": true, "required": true, "system": true, "type": "text"},
        {"autogeneratePattern": "", "help": "", "hidden": false, "id": "_clone_", "max": 100, "min": 0, "name": "title", "pattern": "", "presentable": false, "primaryKey": false, "required": false, "system": false, "type": "text"},
        {"cascadeDelete": false, "collectionId": "_pb_users_auth_", "help": "", "hidden": false, "id": "_clone_", "maxSelect": 1, "minSelect": 0, "name": "who", "presentable": false, "required": false, "system": false, "type": "relation"},
        {"hidden": false, "id": "_clone_", "name": "created", "onCreate": true, "onUpdate": false, "presentable": false, "system": false, "type": "autodate"},
        {"help": "", "hidden": false, "id": "_clone_", "maxSelect": 2, "name": "tags", "presentable": false, "required": false, "system": false, "type": "select", "values": ["a", "b"]},
        {"help": "", "hidden": false, "id": "number112844655", "max": null, "min": null, "name": "c", "onlyInt": true, "presentable": false, "required": false, "system": false, "type": "number"},
        {"help": "", "hidden": false, "id": "number2238339752", "max": null, "min": null, "name": "t", "onlyInt": false, "presentable": false, "required": false, "system": false, "type": "number"},
        {"help": "", "hidden": false, "id": "json453955339", "maxSize": 1, "name": "s", "presentable": false, "required": false, "system": false, "type": "json"},
        {"help": "", "hidden": false, "id": "number1812594589", "max": null, "min": null, "name": "r", "onlyInt": false, "presentable": false, "required": false, "system": false, "type": "number"},
        {"autogeneratePattern": "", "help": "", "hidden": false, "id": "text1482792894", "max": 0, "min": 0, "name": "ct", "pattern": "", "presentable": false, "primaryKey": false, "required": false, "system": false, "type": "text"},
        {"help": "", "hidden": false, "id": "json3865741347", "maxSize": 1, "name": "expr", "presentable": false, "required": false, "system": false, "type": "json"},
        {"cascadeDelete": false, "collectionId": "_pb_users_auth_", "help": "", "hidden": false, "id": "relation1402668550", "maxSelect": 1, "minSelect": 0, "name": "uid", "presentable": false, "required": false, "system": false, "type": "relation"},
        {"exceptDomains": [], "help": "", "hidden": false, "id": "_clone_", "name": "email", "onlyDomains": [], "presentable": false, "required": true, "system": true, "type": "email"},
        {"help": "", "hidden": false, "id": "json1574669981", "maxSize": 1, "name": "lit", "presentable": false, "required": false, "system": false, "type": "json"},
    ]);
    let mut expected = expected.as_array().unwrap().clone();
    if !sqlite {
        expected.retain(|f| f["name"] != "t");
    }
    assert_eq!(fields_masked(&view), expected);
    assert_eq!(view["indexes"], json!([]));
    assert_eq!(view["viewQuery"].as_str().unwrap().split_whitespace().next(), Some("SELECT"));
    // Clone ids are unique and stable: an unchanged query derives the same ids.
    let again = su.patch("/api/collections/v1", json!({"listRule": ""})).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["fields"], view["fields"]);
    // Column references match fields case-insensitively; the column name is the field name.
    let v2 = su
        .create_collection(
            json!({"name": "v2", "type": "view", "viewQuery": "SELECT id, TITLE FROM posts"}),
        )
        .await;
    // (PostgreSQL folds unquoted names to lower case.)
    assert_eq!(v2["fields"][1]["name"], if sqlite { "TITLE" } else { "title" });
    assert_eq!(v2["fields"][1]["max"], 100);
});

sb_testkit::sbtest_http!(view_records_are_listed_and_read_only, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let user = posts(&su).await;
    let view = su
        .create_collection(json!({"name": "pv", "type": "view", "viewQuery":
            "SELECT p.id, p.title, p.n, p.tags, p.owner, count(p.id) AS c, (p.n * 2) AS dbl FROM posts p GROUP BY p.id"}))
        .await;
    let r = su.get("/api/collections/pv/records?sort=title&fields=title,n,tags,owner,c,dbl").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["items"],
        json!([
            {"title": "t1", "n": 1, "tags": ["a"], "owner": user, "c": 1, "dbl": 2},
            {"title": "t2", "n": 2, "tags": ["a", "b"], "owner": user, "c": 1, "dbl": 4},
            {"title": "t3", "n": 3, "tags": [], "owner": user, "c": 1, "dbl": 6},
        ])
    );
    let r =
        su.get("/api/collections/pv/records?filter=n>1%26%26tags~'b'&sort=-n&fields=title").await;
    assert_eq!(r.body["items"], json!([{"title": "t2"}]));
    let all = su.all_records("pv").await;
    assert_eq!(all[0]["collectionName"], "pv");
    assert_eq!(all[0]["collectionId"], view["id"]);
    let id = all[0]["id"].as_str().unwrap().to_owned();
    let one = su.get(&format!("/api/collections/pv/records/{id}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, all[0]);
    // Relations of a view can be expanded.
    let r = su
        .get(&format!("/api/collections/pv/records/{id}?expand=owner&fields=expand.owner.email"))
        .await;
    assert_eq!(r.body, json!({"expand": {"owner": {"email": "u@example.com"}}}));

    let unsupported = "Unsupported collection type.";
    assert_error(
        &su.post("/api/collections/pv/records", json!({"title": "x"})).await,
        400,
        unsupported,
    );
    assert_error(
        &su.patch(&format!("/api/collections/pv/records/{id}"), json!({"title": "y"})).await,
        400,
        unsupported,
    );
    assert_error(&su.delete(&format!("/api/collections/pv/records/{id}")).await, 400, unsupported);
    assert_eq!(su.all_records("posts").await.len(), 3);
    // Changes of the source show through the view.
    su.create_record("posts", json!({"title": "t4", "n": 4})).await;
    assert_eq!(su.all_records("pv").await.len(), 4);
});

sb_testkit::sbtest_http!(view_rules_apply_to_their_records, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts(&su).await;
    su.create_collection(json!({"name": "pv", "type": "view", "viewQuery": "SELECT id, title, n FROM posts", "listRule": "n > 1"})).await;
    let guest = su.with_token(None);
    let r = guest.get("/api/collections/pv/records?sort=title&fields=title").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["items"], json!([{"title": "t2"}, {"title": "t3"}]));
    let ids: Vec<String> =
        su.all_records("pv").await.iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    let superusers_only = "Only superusers can perform this action.";
    assert_error(
        &guest.get(&format!("/api/collections/pv/records/{}", ids[0])).await,
        403,
        superusers_only,
    );

    let r = su.patch("/api/collections/pv", json!({"listRule": null, "viewRule": "n = 1"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_error(&guest.get("/api/collections/pv/records").await, 403, superusers_only);
    let t1 = guest.get(&format!("/api/collections/pv/records/{}?fields=title", ids[0])).await;
    assert_eq!(t1.body, json!({"title": "t1"}));
    assert_eq!(guest.get(&format!("/api/collections/pv/records/{}", ids[1])).await.status, 404);
    // Rules must compile against the view's own fields.
    let r = su.patch("/api/collections/pv", json!({"viewRule": "owner = ''"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["data"]["viewRule"]["code"], "validation_invalid_rule");
});

sb_testkit::sbtest_http!(invalid_view_queries_are_rejected, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts(&su).await;
    let view_query = |code: &str, message: &str| json!({"code": code, "message": message});
    let blank = json!({"code": "validation_required", "message": "Cannot be blank."});
    for (query, fields, message) in [
        (
            "SELECT 1",
            json!({"code": "validation_missing_primary_key", "message": "Missing or invalid \"id\" PK field."}),
            "Invalid query - missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don't have one).",
        ),
        (
            "SELECT * FROM posts",
            blank.clone(),
            "Invalid query - wildcard columns (*) are not supported - manually type the collection field names you want the view query to have.",
        ),
        (
            "SELECT p.* FROM posts p",
            blank.clone(),
            "Invalid query - wildcard columns (*) are not supported - manually type the collection field names you want the view query to have.",
        ),
        (
            "SELECT id FROM posts; DELETE FROM posts",
            blank.clone(),
            "Invalid query - multiple statements are not supported.",
        ),
    ] {
        let r = su
            .post("/api/collections", json!({"name": "x", "type": "view", "viewQuery": query}))
            .await;
        assert_eq!(
            r.body,
            json!({"data": {"fields": fields, "viewQuery": view_query("validation_invalid_view_query", message)}, "message": "Failed to create collection.", "status": 400}),
            "{query}"
        );
    }
    // SQL the database refuses: the driver's words follow "Invalid query - ".
    for query in [
        "SELEKT 1",
        "SELECT id FROM nope",
        "select id, nope from posts",
        "SELECT id FROM posts WHERE",
    ] {
        let r = su
            .post("/api/collections", json!({"name": "x", "type": "view", "viewQuery": query}))
            .await;
        assert_eq!(r.status, 400, "{query}: {:?}", r.body);
        assert_eq!(r.body["data"]["fields"], blank, "{query}");
        assert_eq!(r.body["data"]["viewQuery"]["code"], "validation_invalid_view_query", "{query}");
        assert!(
            r.body["data"]["viewQuery"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid query - "),
            "{query}"
        );
    }
    let r = su.post("/api/collections", json!({"name": "x", "type": "view"})).await;
    assert_eq!(r.body["data"], json!({"fields": blank, "viewQuery": blank}));
    // Column names come from the database: SQLite names an expression after its text (not a
    // valid field name), PostgreSQL after the function.
    let r = su.post("/api/collections", json!({"name": "y", "type": "view", "viewQuery": "SELECT id, count(*) FROM posts GROUP BY id"})).await;
    if app.store().dialect() == sb_store::Dialect::Sqlite {
        assert_eq!(r.status, 400);
        assert_eq!(r.body["data"]["fields"]["1"]["name"]["code"], "validation_match_invalid");
        assert_eq!(
            r.body["data"]["viewQuery"]["message"],
            "Invalid query - invalid field \"count(*)\" (1): name: must be in a valid format."
        );
    } else {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["fields"][1]["name"], "count");
        assert_eq!(r.body["fields"][1]["onlyInt"], true);
    }
    let r = su.post("/api/collections", json!({"name": "x", "type": "view", "viewQuery": "SELECT id FROM posts", "indexes": ["CREATE INDEX a ON x (id)"]})).await;
    assert_eq!(
        r.body["data"],
        json!({"indexes": {"code": "validation_indexes_not_supported", "message": "View collections don't support indexes."}})
    );
    for rule in ["createRule", "updateRule", "deleteRule"] {
        let r = su
            .post(
                "/api/collections",
                json!({"name": "x", "type": "view", "viewQuery": "SELECT id FROM posts", rule: ""}),
            )
            .await;
        assert_eq!(
            r.body["data"],
            json!({rule: {"code": "validation_nil", "message": "Must be blank."}}),
            "{rule}"
        );
    }
    // An update to an invalid query keeps the working one.
    su.create_collection(
        json!({"name": "good", "type": "view", "viewQuery": "SELECT id, title FROM posts"}),
    )
    .await;
    let r =
        su.patch("/api/collections/good", json!({"viewQuery": "SELECT title FROM posts"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["message"], "Failed to update collection.");
    assert_eq!(
        su.get("/api/collections/good").await.body["viewQuery"],
        "SELECT id, title FROM posts"
    );
    assert_eq!(su.all_records("good").await.len(), 3);
    // Nothing else was created, and the posts are intact.
    assert_eq!(su.get("/api/collections/x").await.status, 404);
    assert_eq!(su.all_records("posts").await.len(), 3);
    su.assert_healthy().await;
});

sb_testkit::sbtest_http!(views_of_views_and_changed_queries, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts(&su).await;
    su.create_collection(json!({"name": "base_view", "type": "view", "viewQuery": "SELECT id, title, CAST(n AS TEXT) AS label FROM posts"})).await;
    let top = su.create_collection(json!({"name": "top", "type": "view", "viewQuery": "SELECT id, title AS t, label FROM base_view WHERE label != '2'"})).await;
    assert_eq!(top["fields"][1]["type"], "text");
    assert_eq!(top["fields"][2]["type"], "text");
    let r = su.get("/api/collections/top/records?sort=t&fields=t,label").await;
    assert_eq!(r.body["items"], json!([{"t": "t1", "label": "1"}, {"t": "t3", "label": "3"}]));
    // A view another view reads from cannot be deleted; changing its query re-creates both.
    assert_error(
        &su.delete("/api/collections/base_view").await,
        400,
        "Failed to delete collection.",
    );
    let r = su
        .patch(
            "/api/collections/base_view",
            json!({"viewQuery": "SELECT id, title, CAST(n * 10 AS TEXT) AS label FROM posts"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = su.get("/api/collections/top/records?sort=t&fields=label").await;
    assert_eq!(r.body["items"], json!([{"label": "10"}, {"label": "20"}, {"label": "30"}]));
    // A change that would break the view on top is refused.
    let r = su
        .patch("/api/collections/base_view", json!({"viewQuery": "SELECT id, title FROM posts"}))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(su.all_records("top").await.len(), 3);
    assert_eq!(su.delete("/api/collections/top").await.status, 204);
    assert_eq!(su.delete("/api/collections/base_view").await.status, 204);
});

sb_testkit::sbtest_http!(dry_run_view_reports_fields_and_a_sample, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts(&su).await;
    let r = su
        .post("/api/collections/meta/dry-run-view", json!({"query": "SELECT id, title, count(id) as c, (title || '!') as e FROM posts GROUP BY id"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let fields: Vec<(&str, &str)> = r.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
        .collect();
    assert_eq!(fields, [("id", "text"), ("title", "text"), ("c", "number"), ("e", "json")]);
    assert_eq!(r.body["fields"][1]["max"], 100);
    let sample = r.body["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 3);
    let collection_name = sample[0]["collectionName"].as_str().unwrap();
    assert!(
        collection_name.starts_with("temp_view_") && collection_name.len() == 15,
        "{collection_name}"
    );
    assert!(sample[0]["collectionId"].as_str().unwrap().starts_with("pbc_"));
    let mut titles: Vec<(&str, &Value, &Value)> =
        sample.iter().map(|s| (s["title"].as_str().unwrap(), &s["c"], &s["e"])).collect();
    titles.sort_by_key(|t| t.0);
    assert_eq!(
        titles,
        [
            ("t1", &json!(1), &json!("t1!")),
            ("t2", &json!(1), &json!("t2!")),
            ("t3", &json!(1), &json!("t3!"))
        ]
    );
    // At most ten rows.
    for i in 0..12 {
        su.create_record("posts", json!({"title": format!("more{i}")})).await;
    }
    let r = su
        .post("/api/collections/meta/dry-run-view", json!({"query": "SELECT id FROM posts"}))
        .await;
    assert_eq!(r.body["sample"].as_array().unwrap().len(), 10);
    let r = su
        .post(
            "/api/collections/meta/dry-run-view",
            json!({"query": "SELECT id, title FROM posts WHERE n > 100"}),
        )
        .await;
    assert_eq!(r.body["sample"], json!([]));

    let invalid = |detail: &str| format!("Invalid view query. Raw error: \n{detail}");
    let r = su
        .post("/api/collections/meta/dry-run-view", json!({"query": "SELECT title FROM posts"}))
        .await;
    assert_error(
        &r,
        400,
        &invalid(
            "missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don't have one).",
        ),
    );
    let r = su
        .post(
            "/api/collections/meta/dry-run-view",
            json!({"query": "SELECT id FROM posts; select 1"}),
        )
        .await;
    assert_error(&r, 400, &invalid("multiple statements are not supported."));
    let r = su
        .post("/api/collections/meta/dry-run-view", json!({"query": "SELECT * FROM posts"}))
        .await;
    assert_error(
        &r,
        400,
        &invalid(
            "wildcard columns (*) are not supported - manually type the collection field names you want the view query to have.",
        ),
    );
    let r = su
        .post("/api/collections/meta/dry-run-view", json!({"query": "SELECT id FROM nope"}))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().starts_with("Invalid view query. Raw error: \n"));
    let validating = "An error occurred while validating the submitted data.";
    let r = su.post("/api/collections/meta/dry-run-view", json!({})).await;
    assert_eq!(
        r.body,
        json!({"data": {"query": {"code": "validation_required", "message": "Cannot be blank."}}, "message": validating, "status": 400})
    );
    let r = su.post("/api/collections/meta/dry-run-view", json!({"query": "x".repeat(5001)})).await;
    assert_eq!(
        r.body,
        json!({"data": {"query": {"code": "validation_length_too_long", "message": "The length must be no more than 5000.", "params": {"max": 5000, "min": 0}}}, "message": validating, "status": 400})
    );
    // A dry run creates nothing.
    let names: Vec<String> = su.get("/api/collections?perPage=100").await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("temp_view")), "{names:?}");
    assert_eq!(su.all_records("posts").await.len(), 15);
});
