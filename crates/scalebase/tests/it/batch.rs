//! Batch API (`POST /api/batch`, spec §8.1): sub-requests in one transaction, all or nothing,
//! rules per sub-request, later sub-requests seeing earlier writes, and the request limits.
//! Expected bodies were checked against PocketBase 0.40.6.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Client, assert_error};

const BATCH: &str = "/api/batch";
const OPEN: [(&str, &str); 5] = [
    ("listRule", ""),
    ("viewRule", ""),
    ("createRule", ""),
    ("updateRule", ""),
    ("deleteRule", ""),
];

async fn enable_batch(su: &Client, max_requests: u32) {
    let r = su
        .patch(
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": max_requests, "timeout": 10, "maxBodySize": 0}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// A collection with open rules (unless `rules` overrides some) and the given fields.
async fn collection(su: &Client, name: &str, rules: Value, fields: Value) -> String {
    let mut def = json!({"name": name, "type": "base", "fields": fields});
    for (k, v) in OPEN {
        def[k] = json!(v);
    }
    for (k, v) in rules.as_object().cloned().unwrap_or_default() {
        def[k] = v;
    }
    su.create_collection(def).await["id"].as_str().unwrap().to_owned()
}

/// `posts` (title required, views) and `tags` (name, unique).
async fn posts_and_tags(su: &Client) {
    collection(
        su,
        "posts",
        json!({}),
        json!([{"name": "title", "type": "text", "required": true}, {"name": "views", "type": "number"}]),
    )
    .await;
    collection(su, "tags", json!({}), json!([{"name": "name", "type": "text"}])).await;
    su.create_record("posts", json!({"id": "post00000000001", "title": "p1", "views": 1})).await;
    su.create_record("posts", json!({"id": "post00000000002", "title": "p2"})).await;
    su.create_record("tags", json!({"id": "tag000000000001", "name": "t1"})).await;
}

fn titles(records: &[Value], key: &str) -> Vec<String> {
    records.iter().map(|r| r[key].as_str().unwrap_or("").to_owned()).collect()
}

/// The failure body of a batch whose sub-request `index` answered `response`.
fn failure(index: usize, response: Value) -> Value {
    json!({
        "data": {"requests": {index.to_string(): {
            "code": "batch_request_failed", "message": "Batch request failed.", "response": response,
        }}},
        "message": "Batch transaction failed.",
        "status": 400,
    })
}

sb_testkit::sbtest_http!(disabled_by_default, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let r = su.post(BATCH, json!({"requests": [{"method": "POST", "url": "/x"}]})).await;
    assert_error(&r, 403, "Batch requests are not allowed.");
    enable_batch(&su, 2).await;
    let r = su
        .patch(
            "/api/settings",
            json!({"batch": {"enabled": false, "maxRequests": 2, "timeout": 3}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_error(
        &Client::guest(&url).post(BATCH, json!({})).await,
        403,
        "Batch requests are not allowed.",
    );
});

sb_testkit::sbtest_http!(mixed_writes_across_collections, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts_and_tags(&su).await;
    enable_batch(&su, 10).await;
    let guest = Client::guest(&url);
    let r = guest
        .post(
            BATCH,
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records?fields=id,title", "body": {"id": "post00000000003", "title": "p3"}},
                {"method": "PATCH", "url": "/api/collections/posts/records/post00000000001", "body": {"views+": 2}},
                {"method": "PUT", "url": "/api/collections/tags/records", "body": {"id": "tag000000000001", "name": "t1b"}},
                {"method": "PUT", "url": "/api/collections/tags/records?fields=name", "body": {"id": "tag000000000002", "name": "t2"}},
                {"method": "PUT", "url": "/api/collections/tags/records", "body": {"name": "t3"}},
                {"method": "DELETE", "url": "/api/collections/posts/records/post00000000002"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body.as_array().unwrap();
    assert_eq!(
        items.iter().map(|i| i["status"].as_u64().unwrap()).collect::<Vec<_>>(),
        [200, 200, 200, 200, 200, 204]
    );
    assert_eq!(items[0]["body"], json!({"id": "post00000000003", "title": "p3"}));
    assert_eq!(items[1]["body"]["views"], 3);
    assert_eq!(items[1]["body"]["collectionName"], "posts");
    assert_eq!(items[2]["body"]["id"], "tag000000000001");
    assert_eq!(items[2]["body"]["name"], "t1b");
    assert_eq!(items[3]["body"], json!({"name": "t2"}));
    assert_ne!(items[4]["body"]["id"], "tag000000000001");
    assert_eq!(items[5], json!({"body": null, "status": 204}));
    let posts = su.all_records("posts").await;
    assert_eq!(titles(&posts, "id"), ["post00000000001", "post00000000003"]);
    assert_eq!(posts[0]["views"], 3);
    assert_eq!(titles(&su.all_records("tags").await, "name"), ["t1b", "t2", "t3"]);
});

sb_testkit::sbtest_http!(a_failing_request_rolls_everything_back, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts_and_tags(&su).await;
    enable_batch(&su, 10).await;
    let guest = Client::guest(&url);
    let writes = json!([
        {"method": "POST", "url": "/api/collections/tags/records", "body": {"name": "new"}},
        {"method": "PATCH", "url": "/api/collections/posts/records/post00000000001", "body": {"title": "changed"}},
        {"method": "DELETE", "url": "/api/collections/posts/records/post00000000002"},
        {"method": "PUT", "url": "/api/collections/tags/records", "body": {"id": "tag000000000001", "name": "up"}},
    ]);
    let bad =
        json!({"method": "POST", "url": "/api/collections/posts/records", "body": {"title": ""}});
    let expected = json!({
        "data": {"title": {"code": "validation_required", "message": "Cannot be blank."}},
        "message": "Failed to create record.",
        "status": 400,
    });
    // The failing request second (of two), then last (of five).
    let mut second = vec![writes[0].clone(), bad.clone()];
    let mut last = writes.as_array().unwrap().clone();
    last.push(bad.clone());
    for (requests, index) in [(std::mem::take(&mut second), 1), (std::mem::take(&mut last), 4)] {
        let r = guest.post(BATCH, json!({"requests": requests})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body, failure(index, expected.clone()));
        let posts = su.all_records("posts").await;
        assert_eq!(titles(&posts, "title"), ["p1", "p2"], "nothing was written");
        assert_eq!(titles(&su.all_records("tags").await, "name"), ["t1"], "nothing was written");
    }
    // A unique violation (a database error mid-transaction) rolls back the same way.
    let r = guest
        .post(
            BATCH,
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/tags/records", "body": {"id": "tag000000000009", "name": "x"}},
                {"method": "POST", "url": "/api/collections/tags/records", "body": {"id": "tag000000000009", "name": "y"}},
            ]}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["data"]["requests"]["1"]["response"]["data"]["id"]["code"],
        "validation_not_unique"
    );
    assert_eq!(titles(&su.all_records("tags").await, "name"), ["t1"]);
});

sb_testkit::sbtest_http!(rule_failures_are_embedded, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    collection(
        &su,
        "locked",
        json!({"createRule": null, "updateRule": "title != 'frozen'", "deleteRule": "title = 'gone'"}),
        json!([{"name": "title", "type": "text"}]),
    )
    .await;
    su.create_record("locked", json!({"id": "lock00000000001", "title": "frozen"})).await;
    enable_batch(&su, 10).await;
    let guest = Client::guest(&url);
    let cases = [
        (
            json!({"method": "POST", "url": "/api/collections/locked/records", "body": {"title": "a"}}),
            json!({"data": {}, "message": "Only superusers can perform this action.", "status": 403}),
        ),
        (
            json!({"method": "PATCH", "url": "/api/collections/locked/records/lock00000000001", "body": {"title": "b"}}),
            json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404}),
        ),
        (
            json!({"method": "DELETE", "url": "/api/collections/locked/records/lock00000000001"}),
            json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404}),
        ),
        (
            json!({"method": "DELETE", "url": "/api/collections/locked/records/missing"}),
            json!({"data": {}, "message": "The requested resource wasn't found.", "status": 404}),
        ),
        (
            json!({"method": "POST", "url": "/api/collections/nope/records", "body": {}}),
            json!({"data": {}, "message": "Missing collection context.", "status": 404}),
        ),
    ];
    for (request, response) in cases {
        let r = guest.post(BATCH, json!({"requests": [request]})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body, failure(0, response));
    }
    // The caller's auth applies; a sub-request's Authorization header does not replace it.
    let token = su.token.clone().unwrap();
    let r = guest
        .post(
            BATCH,
            json!({"requests": [{"method": "POST", "url": "/api/collections/locked/records", "body": {}, "headers": {"Authorization": token}}]}),
        )
        .await;
    assert_eq!(r.body["data"]["requests"]["0"]["response"]["status"], 403);
    let r = su
        .post(BATCH, json!({"requests": [{"method": "POST", "url": "/api/collections/locked/records", "body": {}}]}))
        .await;
    assert_eq!(r.status, 200, "a superuser passes: {:?}", r.body);
});

sb_testkit::sbtest_http!(later_requests_see_earlier_writes, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let posts = collection(
        &su,
        "posts",
        json!({}),
        json!([{"name": "title", "type": "text"}, {"name": "views", "type": "number"}]),
    )
    .await;
    collection(
        &su,
        "comments",
        json!({"createRule": "@collection.posts.title ?= 'seen'"}),
        json!([
            {"name": "text", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": posts, "maxSelect": 1},
        ]),
    )
    .await;
    enable_batch(&su, 10).await;
    let r = Client::guest(&url)
        .post(
            BATCH,
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"id": "post00000000001", "title": "new"}},
                {"method": "PATCH", "url": "/api/collections/posts/records/post00000000001", "body": {"title": "seen", "views+": 5}},
                {"method": "POST", "url": "/api/collections/comments/records?expand=post&fields=text,expand.post.views", "body": {"text": "c", "post": "post00000000001"}},
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"id": "post00000000002", "title": "tmp"}},
                {"method": "PUT", "url": "/api/collections/posts/records", "body": {"id": "post00000000002", "views": 7}},
                {"method": "DELETE", "url": "/api/collections/posts/records/post00000000002"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let items = r.body.as_array().unwrap();
    assert_eq!(items[1]["body"]["views"], 5);
    assert_eq!(items[2]["body"], json!({"text": "c", "expand": {"post": {"views": 5}}}));
    assert_eq!(items[4]["body"]["title"], "tmp");
    assert_eq!(items[4]["body"]["views"], 7);
    assert_eq!(titles(&su.all_records("posts").await, "id"), ["post00000000001"]);
    assert_eq!(su.all_records("comments").await.len(), 1);
});

sb_testkit::sbtest_http!(request_context_and_headers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    collection(
        &su,
        "ctx",
        json!({"createRule": "@request.context = 'batch' && @request.headers.x_foo = 'bar' && @request.method = 'POST'"}),
        json!([{"name": "title", "type": "text"}]),
    )
    .await;
    enable_batch(&su, 10).await;
    let guest = Client::guest(&url);
    let create = |headers: Value| json!({"requests": [{"method": "POST", "url": "/api/collections/ctx/records", "body": {"title": "a"}, "headers": headers}]});
    // Sub-request headers are merged over the outer ones.
    let r = guest
        .raw(
            Method::POST,
            BATCH,
            Some("application/json"),
            create(json!({})).to_string(),
            &[("X-Foo", "bar")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = guest.post(BATCH, create(json!({"X-Foo": "bar"}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = guest
        .raw(
            Method::POST,
            BATCH,
            Some("application/json"),
            create(json!({"x-foo": "baz"})).to_string(),
            &[("X-Foo", "bar")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["data"]["requests"]["0"]["response"]["message"],
        "Failed to create record."
    );
    // The same create outside a batch fails its rule.
    let r = guest.post("/api/collections/ctx/records", json!({"title": "a"})).await;
    assert_eq!(r.status, 400);
    assert_eq!(su.all_records("ctx").await.len(), 2);
});

sb_testkit::sbtest_http!(sdk_multipart_with_json_payload, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts_and_tags(&su).await;
    enable_batch(&su, 10).await;
    let payload = json!({"requests": [
        {"method": "POST", "url": "/api/collections/tags/records", "headers": {}, "body": {"name": "m1"}},
        {"method": "DELETE", "url": "/api/collections/tags/records/tag000000000001", "headers": {}, "body": {}},
    ]})
    .to_string();
    let r = Client::guest(&url)
        .multipart(
            Method::POST,
            BATCH,
            &[("@jsonPayload", &payload), ("requests.0.name", "ignored")],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body[0]["body"]["name"], "m1");
    assert_eq!(r.body[1]["status"], 204);
    assert_eq!(titles(&su.all_records("tags").await, "name"), ["m1"]);
});

sb_testkit::sbtest_http!(invalid_batches, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts_and_tags(&su).await;
    enable_batch(&su, 2).await;
    let guest = Client::guest(&url);
    let invalid = |data: Value| json!({"data": data, "message": "Invalid batch request data.", "status": 400});
    let required = json!({"code": "validation_required", "message": "Cannot be blank."});
    for body in [json!({}), json!({"requests": []}), json!({"requests": null})] {
        assert_eq!(guest.post(BATCH, body).await.body, invalid(json!({"requests": required})));
    }
    let r = guest.post(BATCH, json!({"requests": [{}, {}, {}]})).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        invalid(
            json!({"requests": {"code": "validation_length_too_long", "message": "The length must be no more than 2.", "params": {"max": 2, "min": 0}}})
        )
    );
    let long = format!("/api/collections/tags/records?x={}", "a".repeat(2000));
    let r = guest
        .post(
            BATCH,
            json!({"requests": [{"method": "FOO", "url": "/x"}, {"method": "POST", "url": long}]}),
        )
        .await;
    assert_eq!(
        r.body,
        invalid(json!({"requests": {
            "0": {"method": {"code": "validation_in_invalid", "message": "Must be a valid value."}},
            "1": {"url": {"code": "validation_length_too_long", "message": "The length must be no more than 2000.", "params": {"max": 2000, "min": 0}}},
        }}))
    );
    for body in
        [json!({"requests": {}}), json!({"requests": [1]}), json!({"requests": [{"body": "x"}]})]
    {
        assert_error(
            &guest.post(BATCH, body).await,
            400,
            "Failed to read the submitted batch data.",
        );
    }
    let r = guest.raw(Method::POST, BATCH, Some("application/json"), "{nope", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "Failed to read the submitted batch data.");
    // Anything but the record write routes fails the batch (nothing written).
    let generic = json!({"data": {}, "message": "Something went wrong while processing your request.", "status": 400});
    for (method, url) in [
        ("GET", "/api/collections/tags/records"),
        ("POST", "/api/collections/tags/records/"),
        ("POST", "/api/collections/tags/records?fields=x:bad("),
        ("POST", "api/collections/tags/records"),
        ("POST", "/api/collections/tags/auth-with-password"),
    ] {
        let r = guest
            .post(
                BATCH,
                json!({"requests": [
                    {"method": "POST", "url": "/api/collections/tags/records", "body": {"name": "x"}},
                    {"method": method, "url": url, "body": {"name": "y"}},
                ]}),
            )
            .await;
        assert_eq!(r.body, failure(1, generic.clone()), "{method} {url}");
    }
    assert_eq!(titles(&su.all_records("tags").await, "name"), ["t1"]);
    // maxBodySize.
    let r = su
        .patch(
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 2, "timeout": 3, "maxBodySize": 64}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = guest
        .post(BATCH, json!({"requests": [{"method": "POST", "url": "/api/collections/tags/records", "body": {"name": "a".repeat(100)}}]}))
        .await;
    assert_error(&r, 413, "Request entity too large.");
});

sb_testkit::sbtest_http!(timeout_rolls_back, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    posts_and_tags(&su).await;
    let r = su
        .patch(
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 5, "timeout": 1, "maxBodySize": 0}}),
        )
        .await;
    assert_eq!(r.status, 200);
    // Another transaction holds the row (PostgreSQL) or the writer (SQLite) until the batch
    // has answered, so the batch cannot finish within its time limit.
    let mut blocker = app.store().begin().await.expect("begin");
    let touch = sb_sql::Stmt::Update(sb_sql::Update {
        table: "tags".into(),
        set: vec![("name".into(), sb_sql::Expr::param("held"))],
        where_: Some(sb_sql::Expr::eq(
            sb_sql::Expr::bare("id"),
            sb_sql::Expr::param("tag000000000001"),
            sb_sql::Ty::Text,
        )),
    });
    assert_eq!(blocker.execute(&touch).await.expect("update"), 1);
    let r = Client::guest(&url)
        .post(
            BATCH,
            json!({"requests": [
                {"method": "POST", "url": "/api/collections/posts/records", "body": {"title": "new"}},
                {"method": "PATCH", "url": "/api/collections/tags/records/tag000000000001", "body": {"name": "batch"}},
            ]}),
        )
        .await;
    assert_error(&r, 400, "Batch transaction failed.");
    blocker.rollback().await.expect("rollback");
    assert_eq!(titles(&su.all_records("posts").await, "title"), ["p1", "p2"]);
    assert_eq!(titles(&su.all_records("tags").await, "name"), ["t1"]);
    // The store is usable again.
    let r = Client::guest(&url)
        .post(BATCH, json!({"requests": [{"method": "POST", "url": "/api/collections/tags/records", "body": {"name": "t2"}}]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
});
