//! `expand`: forward, multiple (stored order), nested (6 levels), back-relations (array, or one
//! record under a single-column unique index, legacy `coll(field)` form), access rules, void
//! paths, and expand on write and auth responses. Checked against PocketBase 0.40.6.

use serde_json::{Value, json};

use crate::common::{Client, record_token};

async fn id_of(su: &Client, collection: &str) -> String {
    su.get(&format!("/api/collections/{collection}")).await.body["id"].as_str().unwrap().to_owned()
}

/// authors ← posts (author, coauthors) ← comments; profiles (unique author); chain (self).
async fn schema(su: &Client) {
    su.create_collection(
        json!({"name": "authors", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "name", "type": "text"}, {"name": "secret", "type": "text", "hidden": true},
        ]}),
    )
    .await;
    let authors = id_of(su, "authors").await;
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "fields": [
        {"name": "title", "type": "text"},
        {"name": "author", "type": "relation", "collectionId": authors, "maxSelect": 1},
        {"name": "coauthors", "type": "relation", "collectionId": authors, "maxSelect": 5},
    ]}))
    .await;
    let posts = id_of(su, "posts").await;
    su.create_collection(
        json!({"name": "comments", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "message", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": posts, "maxSelect": 1},
        ]}),
    )
    .await;
    su.create_collection(json!({"name": "profiles", "type": "base", "listRule": "", "viewRule": "",
        "fields": [{"name": "bio", "type": "text"}, {"name": "author", "type": "relation", "collectionId": authors, "maxSelect": 1}],
        "indexes": ["CREATE UNIQUE INDEX idx_profiles_author ON profiles (author)"]}))
    .await;
    for i in 1..=3 {
        su.create_record(
            "authors",
            json!({"id": format!("author00000000{i}"), "name": format!("a{i}"), "secret": "s"}),
        )
        .await;
    }
    su.create_record("posts", json!({"id": "post00000000001", "title": "p1", "author": "author000000001", "coauthors": ["author000000003", "author000000001"]})).await;
    su.create_record(
        "posts",
        json!({"id": "post00000000002", "title": "p2", "author": "author000000002"}),
    )
    .await;
    for (id, post) in
        [("comm00000000001", "post00000000001"), ("comm00000000002", "post00000000001")]
    {
        su.create_record("comments", json!({"id": id, "message": id, "post": post})).await;
    }
    su.create_record(
        "profiles",
        json!({"id": "prof00000000001", "bio": "b1", "author": "author000000001"}),
    )
    .await;
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect()
}

const P1: &str = "/api/collections/posts/records/post00000000001";

sb_testkit::sbtest_http!(forward_multiple_and_back_relations, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    let r = g
        .get(&format!("{P1}?expand=author,coauthors,comments_via_post,author.profiles_via_author"))
        .await;
    assert_eq!(r.status, 200);
    let e = &r.body["expand"];
    assert_eq!(e["author"]["id"], "author000000001");
    assert_eq!(e["author"]["collectionName"], "authors");
    assert!(e["author"].get("secret").is_none(), "hidden fields stay hidden in expands");
    assert_eq!(ids(&e["coauthors"]), ["author000000003", "author000000001"], "stored order");
    assert_eq!(ids(&e["comments_via_post"]), ["comm00000000001", "comm00000000002"]);
    assert_eq!(
        e["author"]["expand"]["profiles_via_author"]["id"], "prof00000000001",
        "unique index: one record"
    );
    assert!(
        e["coauthors"][1].get("expand").is_none(),
        "only the path's records are expanded further"
    );

    // Back-relations from the other side, nested; the legacy form keeps its spelling.
    let r = g.get("/api/collections/authors/records/author000000001?expand=posts_via_author.comments_via_post,posts(coauthors)").await;
    let e = &r.body["expand"];
    assert_eq!(ids(&e["posts_via_author"]), ["post00000000001"]);
    assert_eq!(
        ids(&e["posts_via_author"][0]["expand"]["comments_via_post"]),
        ["comm00000000001", "comm00000000002"]
    );
    assert_eq!(ids(&e["posts(coauthors)"]), ["post00000000001"]);

    // Lists expand every item with one query per relation; empty relations give `{}`.
    let r = g.get("/api/collections/posts/records?expand=author,coauthors&sort=title").await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items[0]["expand"]["author"]["name"], "a1");
    assert_eq!(items[1]["expand"], json!({"author": items[1]["expand"]["author"].clone()}));
    assert_eq!(items[1]["expand"]["author"]["id"], "author000000002");
    let r =
        g.get("/api/collections/authors/records/author000000003?expand=profiles_via_author").await;
    assert_eq!(r.body["expand"], json!({}));
    // Superusers see hidden fields of expanded records.
    assert_eq!(
        su.get(&format!("{P1}?expand=author")).await.body["expand"]["author"]["secret"],
        "s"
    );
});

sb_testkit::sbtest_http!(nesting_stops_at_six_levels, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "chain", "type": "base", "listRule": "", "viewRule": "", "fields": [{"name": "n", "type": "number"}]})).await;
    let chain = id_of(&su, "chain").await;
    su.patch("/api/collections/chain", json!({"fields": [{"name": "n", "type": "number"}, {"name": "next", "type": "relation", "collectionId": chain, "maxSelect": 1}]}))
        .await;
    for i in (1..=8).rev() {
        let next = if i == 8 { String::new() } else { format!("chain000000000{}", i + 1) };
        su.create_record(
            "chain",
            json!({"id": format!("chain000000000{i}"), "n": i, "next": next}),
        )
        .await;
    }
    let r = su.with_token(None).get("/api/collections/chain/records/chain0000000001?expand=next.next.next.next.next.next.next.next").await;
    let mut node = &r.body;
    let mut depth = 0;
    while let Some(next) = node.get("expand").and_then(|e| e.get("next")) {
        node = next;
        depth += 1;
    }
    assert_eq!(depth, 6);
    assert_eq!(node["id"], "chain0000000007");
    assert!(node.get("expand").is_none());
});

sb_testkit::sbtest_http!(access_rules_of_expanded_collections, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let u1 = su.with_token(Some(&record_token(&app, "users", "user00000000001").await));
    let g = su.with_token(None);
    // viewRule null: no `expand` at all for non-superusers (the path is void).
    su.patch("/api/collections/authors", json!({"viewRule": null})).await;
    assert!(g.get(&format!("{P1}?expand=author")).await.body.get("expand").is_none());
    assert_eq!(
        g.get(&format!("{P1}?expand=author,comments_via_post")).await.body["expand"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["comments_via_post"]
    );
    assert_eq!(
        su.get(&format!("{P1}?expand=author")).await.body["expand"]["author"]["id"],
        "author000000001"
    );
    // A rule that rejects the related records: `expand: {}` (not viewable), rule evaluated
    // with @request.context = "expand".
    su.patch(
        "/api/collections/authors",
        json!({"viewRule": "@request.auth.id != '' && @request.context = 'expand'"}),
    )
    .await;
    assert_eq!(g.get(&format!("{P1}?expand=author,coauthors")).await.body["expand"], json!({}));
    let r = u1.get(&format!("{P1}?expand=author,coauthors")).await;
    assert_eq!(ids(&r.body["expand"]["coauthors"]), ["author000000003", "author000000001"]);
    assert_eq!(
        u1.get("/api/collections/authors/records/author000000001").await.status,
        404,
        "the context is 'default' when viewing directly"
    );
    // A rule that keeps some of the records drops the others from multiple relations.
    su.patch("/api/collections/authors", json!({"viewRule": "name != 'a3'"})).await;
    assert_eq!(
        ids(&g.get(&format!("{P1}?expand=coauthors")).await.body["expand"]["coauthors"]),
        ["author000000001"]
    );
    // Auth records in expands hide e-mails unless visible.
    su.patch("/api/collections/users", json!({"viewRule": ""})).await;
    su.create_collection(json!({"name": "notes", "type": "base", "viewRule": "", "fields": [
        {"name": "by", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
    ]}))
    .await;
    su.create_record("notes", json!({"id": "note00000000001", "by": "user00000000001"})).await;
    let note = "/api/collections/notes/records/note00000000001?expand=by";
    assert!(g.get(note).await.body["expand"]["by"].get("email").is_none());
    assert_eq!(
        u1.get(note).await.body["expand"]["by"]["email"],
        "u1@example.com",
        "the owner sees its e-mail"
    );
    assert_eq!(su.get(note).await.body["expand"]["by"]["email"], "u1@example.com");
});

sb_testkit::sbtest_http!(invalid_paths_are_void_as_a_whole, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    let keys = |v: &Value| -> Option<Vec<String>> {
        v.get("expand").map(|e| e.as_object().unwrap().keys().cloned().collect())
    };
    for (q, expected) in [
        ("nope", None),
        ("title", None),
        ("author.name", None),
        ("author.nope", None),
        ("nope.author", None),
        ("author,nope", Some(vec!["author"])),
        ("author,coauthors.nope", Some(vec!["author"])),
        ("author.nope,coauthors", Some(vec!["coauthors"])),
        ("comments_via_nope", None),
        ("nope_via_post", None),
        ("comments_via_post.nope,author", Some(vec!["author"])),
        (" author , ", Some(vec!["author"])),
        ("author.,.", Some(vec!["author"])),
    ] {
        let r = g.get(&format!("{P1}?expand={}", crate::common::encode(q))).await;
        assert_eq!(r.status, 200, "{q}");
        let expected = expected.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(keys(&r.body), expected, "expand={q}");
    }
    // Below an empty relation nothing is checked: the path succeeds with `{}`.
    let r = g.get("/api/collections/posts/records/post00000000002?expand=coauthors.nope").await;
    assert_eq!(r.body["expand"], json!({}));
    // In a list a void path is void for every item.
    let r = g.get("/api/collections/posts/records?expand=coauthors.nope").await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|i| i.get("expand").is_none()));
});

sb_testkit::sbtest_http!(expand_on_write_and_auth_responses, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    schema(&su).await;
    let g = su.with_token(None);
    let r = g
        .post(
            "/api/collections/posts/records?expand=author,coauthors",
            json!({"title": "n", "author": "author000000002", "coauthors": ["author000000001"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["expand"]["author"]["name"], "a2");
    assert_eq!(ids(&r.body["expand"]["coauthors"]), ["author000000001"]);
    let r = g.patch(&format!("{P1}?expand=author"), json!({"author": "author000000003"})).await;
    assert_eq!(r.body["expand"]["author"]["id"], "author000000003");

    // Auth responses expand the auth record.
    su.patch("/api/collections/users", json!({"fields": [
        {"name": "fav", "type": "relation", "collectionId": id_of(&su, "posts").await, "maxSelect": 1},
    ]}))
    .await;
    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123", "fav": "post00000000001"})).await;
    let r = g
        .post(
            "/api/collections/users/auth-with-password?expand=fav.author",
            json!({"identity": "u1@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["record"]["expand"]["fav"]["expand"]["author"]["id"], "author000000003");
    let u1 = g.with_token(r.body["token"].as_str());
    let r = u1.post("/api/collections/users/auth-refresh?expand=fav", json!({})).await;
    assert_eq!(r.body["record"]["expand"]["fav"]["id"], "post00000000001");
    let r =
        su.post("/api/collections/users/impersonate/user00000000001?expand=fav", json!({})).await;
    assert_eq!(r.body["record"]["expand"]["fav"]["title"], "p1");
});
