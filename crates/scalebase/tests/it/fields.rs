//! The `fields` response picker on every kind of 2xx response: nested paths, `*`, `:excerpt`,
//! list envelopes, expands, write and auth responses; bad pickers. Checked against
//! PocketBase 0.40.6.

use serde_json::json;

use crate::common::{Client, GENERIC_400, assert_error};

async fn schema(su: &Client) {
    su.create_collection(json!({"name": "authors", "type": "base", "listRule": "", "viewRule": "", "fields": [{"name": "name", "type": "text"}]})).await;
    let authors = su.get("/api/collections/authors").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "fields": [
        {"name": "title", "type": "text"}, {"name": "body", "type": "editor"}, {"name": "views", "type": "number"},
        {"name": "author", "type": "relation", "collectionId": authors, "maxSelect": 1},
        {"name": "coauthors", "type": "relation", "collectionId": authors, "maxSelect": 5},
    ]}))
    .await;
    su.create_record("authors", json!({"id": "author000000001", "name": "a1"})).await;
    su.create_record("authors", json!({"id": "author000000002", "name": "a2"})).await;
    su.create_record(
        "posts",
        json!({"id": "post00000000001", "title": "p1", "views": 10,
        "body": "<p>Hello <b>big</b> world of text here</p>", "author": "author000000001",
        "coauthors": ["author000000002", "author000000001"]}),
    )
    .await;
    su.create_record("posts", json!({"id": "post00000000002", "title": "p2"})).await;
}

const P1: &str = "/api/collections/posts/records/post00000000001";

sb_testkit::sbtest_http!(picks_paths_of_records, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    let get = |q: &'static str| {
        let g = g.clone();
        async move {
            let r = g.get(&format!("{P1}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {:?}", r.body);
            r.body
        }
    };
    assert_eq!(get("fields=id,title").await, json!({"id": "post00000000001", "title": "p1"}));
    assert_eq!(get("fields=%20id%20,,nope,ID,expand.nope").await, json!({"id": "post00000000001"}));
    // A path below a scalar or list keeps the value whole.
    assert_eq!(
        get("fields=title.x,coauthors.x").await,
        json!({"title": "p1", "coauthors": ["author000000002", "author000000001"]})
    );
    assert_eq!(get("fields=expand.nope&expand=author").await, json!({"expand": {}}));
    assert_eq!(get("fields=body:excerpt(10,true)").await, json!({"body": "Hello big..."}));
    assert_eq!(get("fields=body:excerpt(10)").await, json!({"body": "Hello big"}));
    assert_eq!(
        get("fields=body:excerpt(100,true)").await,
        json!({"body": "Hello big world of text here"})
    );
    assert_eq!(
        get("fields=views:excerpt(1,true),title:excerpt(1,true)").await,
        json!({"views": 10, "title": "p..."})
    );
    let all = get("fields=*,body:excerpt(5)").await;
    assert_eq!(all["body"], "Hello");
    assert_eq!(all["views"], 10);
    assert_eq!(all.as_object().unwrap().len(), 8);
    assert_eq!(
        get("fields=expand.author.name,expand.coauthors.id&expand=author,coauthors").await,
        json!({"expand": {"author": {"name": "a1"}, "coauthors": [{"id": "author000000002"}, {"id": "author000000001"}]}})
    );
    let star = get("fields=*,expand.author.name&expand=author").await;
    assert_eq!(star["expand"], json!({"author": {"name": "a1"}}));
    assert_eq!(star["title"], "p1");
    assert_eq!(
        get("fields=expand.*&expand=author").await["expand"]["author"]["id"],
        "author000000001"
    );

    // Lists: the picker applies inside `items`; the envelope stays.
    let r = g.get("/api/collections/posts/records?fields=id&sort=-title").await;
    assert_eq!(
        r.body,
        json!({"items": [{"id": "post00000000002"}, {"id": "post00000000001"}], "page": 1, "perPage": 30, "totalItems": 2, "totalPages": 1})
    );
    let r = g.get("/api/collections/posts/records?fields=items.id,page&perPage=1").await;
    assert_eq!(r.body["items"], json!([{}]));
    assert_eq!(r.body["totalItems"], 2);

    // Bad pickers: 400 with the generic message.
    for bad in [
        "body:excerpt(0)",
        "body:excerpt(-1)",
        "body:excerpt(a)",
        "body:excerpt()",
        "body:excerpt(1,2,3)",
        "body:nope(1)",
    ] {
        assert_error(&g.get(&format!("{P1}?fields={bad}")).await, 400, GENERIC_400);
        assert_error(
            &g.get(&format!("/api/collections/posts/records?fields={bad}")).await,
            400,
            GENERIC_400,
        );
    }
});

sb_testkit::sbtest_http!(picks_on_write_auth_and_other_responses, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    let r = g
        .post(
            "/api/collections/posts/records?fields=id,title",
            json!({"id": "post00000000003", "title": "zz", "views": 3}),
        )
        .await;
    assert_eq!(r.body, json!({"id": "post00000000003", "title": "zz"}));
    let r = g
        .patch("/api/collections/posts/records/post00000000003?fields=views", json!({"views+": 2}))
        .await;
    assert_eq!(r.body, json!({"views": 5}));
    // A bad picker on a write answers 400 before anything is written.
    let r = g
        .post("/api/collections/posts/records?fields=title:nope()", json!({"title": "never"}))
        .await;
    assert_error(&r, 400, GENERIC_400);
    let r = g
        .patch(
            "/api/collections/posts/records/post00000000003?fields=title:excerpt(0)",
            json!({"title": "never"}),
        )
        .await;
    assert_error(&r, 400, GENERIC_400);
    let titles: Vec<_> = su.all_records("posts").await.iter().map(|p| p["title"].clone()).collect();
    assert_eq!(titles, [json!("p1"), json!("p2"), json!("zz")]);

    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let login = json!({"identity": "u1@example.com", "password": "password123"});
    let r = g
        .post(
            "/api/collections/users/auth-with-password?fields=record.id,record.email",
            login.clone(),
        )
        .await;
    assert_eq!(r.body, json!({"record": {"id": "user00000000001", "email": "u1@example.com"}}));
    let r = g.post("/api/collections/users/auth-with-password?fields=token", login).await;
    assert_eq!(r.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["token"]);
    assert_eq!(
        g.get("/api/health?fields=message").await.body,
        json!({"message": "API is healthy."})
    );
    assert_eq!(
        su.get("/api/settings?fields=meta.appName").await.body,
        json!({"meta": {"appName": "Acme"}})
    );
});
