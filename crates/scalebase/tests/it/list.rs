//! Records list: pagination envelope, sort, filters (relations, back-relations, modifiers),
//! list rules and the restrictions on client filters. Expected values were checked against
//! PocketBase 0.40.6.

use serde_json::json;

use crate::common::{Client, GENERIC_400, Resp, assert_error, record_token};

/// `authors` (3), `posts` (5, views 10..50, author/coauthors), `comments` on the first post,
/// and `vault` (listRule null) referenced by posts.
async fn dataset(su: &Client) {
    su.create_collection(
        json!({"name": "authors", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "name", "type": "text"}, {"name": "secret", "type": "text", "hidden": true},
        ]}),
    )
    .await;
    su.create_collection(
        json!({"name": "vault", "type": "base", "fields": [{"name": "code", "type": "text"}]}),
    )
    .await;
    let authors = su.get("/api/collections/authors").await.body["id"].as_str().unwrap().to_owned();
    let vault = su.get("/api/collections/vault").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(
        json!({"name": "posts", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "title", "type": "text"},
            {"name": "views", "type": "number"},
            {"name": "tags", "type": "select", "values": ["a", "b", "c"], "maxSelect": 3},
            {"name": "author", "type": "relation", "collectionId": authors, "maxSelect": 1},
            {"name": "coauthors", "type": "relation", "collectionId": authors, "maxSelect": 5},
            {"name": "box", "type": "relation", "collectionId": vault, "maxSelect": 1},
        ]}),
    )
    .await;
    let posts = su.get("/api/collections/posts").await.body["id"].as_str().unwrap().to_owned();
    su.create_collection(
        json!({"name": "comments", "type": "base", "listRule": "", "viewRule": "", "fields": [
            {"name": "message", "type": "text"},
            {"name": "post", "type": "relation", "collectionId": posts, "maxSelect": 1},
        ]}),
    )
    .await;
    for (i, name) in [(1, "zed"), (2, "amy"), (3, "bob")] {
        su.create_record(
            "authors",
            json!({"id": format!("author00000000{i}"), "name": name, "secret": format!("s{i}")}),
        )
        .await;
    }
    su.create_record("vault", json!({"id": "vault0000000001", "code": "x"})).await;
    let posts = [
        (
            "post00000000001",
            "delta",
            30,
            json!(["a", "b"]),
            "author000000001",
            json!(["author000000002"]),
        ),
        ("post00000000002", "alpha", 10, json!(["b"]), "author000000002", json!([])),
        (
            "post00000000003",
            "echo",
            50,
            json!([]),
            "author000000003",
            json!(["author000000001", "author000000003"]),
        ),
        (
            "post00000000004",
            "bravo",
            30,
            json!(["c"]),
            "author000000002",
            json!(["author000000003"]),
        ),
        ("post00000000005", "charlie", 20, json!(["a"]), "", json!([])),
    ];
    for (id, title, views, tags, author, coauthors) in posts {
        su.create_record("posts", json!({"id": id, "title": title, "views": views, "tags": tags, "author": author, "coauthors": coauthors, "box": "vault0000000001"}))
            .await;
    }
    for (msg, post) in
        [("first!", "post00000000001"), ("first!", "post00000000001"), ("hmm", "post00000000003")]
    {
        su.create_record("comments", json!({"message": msg, "post": post})).await;
    }
}

fn titles(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect()
}

fn envelope(r: &Resp) -> (i64, i64, i64, i64, usize) {
    let b = &r.body;
    let n = |k: &str| b[k].as_i64().unwrap();
    (
        n("page"),
        n("perPage"),
        n("totalItems"),
        n("totalPages"),
        b["items"].as_array().unwrap().len(),
    )
}

const POSTS: &str = "/api/collections/posts/records";

sb_testkit::sbtest_http!(pagination_envelope_and_totals, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    dataset(&su).await;
    let g = su.with_token(None);
    assert_eq!(envelope(&g.get(POSTS).await), (1, 30, 5, 1, 5));
    assert_eq!(envelope(&g.get(&format!("{POSTS}?perPage=2")).await), (1, 2, 5, 3, 2));
    assert_eq!(envelope(&g.get(&format!("{POSTS}?perPage=2&page=3")).await), (3, 2, 5, 3, 1));
    assert_eq!(
        envelope(&g.get(&format!("{POSTS}?perPage=2&page=9")).await),
        (9, 2, 5, 3, 0),
        "past the end: no items, real totals"
    );
    assert_eq!(envelope(&g.get(&format!("{POSTS}?page=0&perPage=0")).await), (1, 30, 5, 1, 5));
    assert_eq!(envelope(&g.get(&format!("{POSTS}?page=-3&perPage=-1")).await), (1, 30, 5, 1, 5));
    assert_eq!(envelope(&g.get(&format!("{POSTS}?perPage=5000")).await), (1, 1000, 5, 1, 5));
    assert_eq!(envelope(&g.get(&format!("{POSTS}?page=%2B1&perPage=01")).await), (1, 1, 5, 5, 1));
    assert_eq!(
        envelope(&g.get(&format!("{POSTS}?page=&perPage=&skipTotal=")).await),
        (1, 30, 5, 1, 5)
    );
    for v in ["1", "t", "TRUE", "True", "true"] {
        assert_eq!(
            envelope(&g.get(&format!("{POSTS}?skipTotal={v}&perPage=2")).await),
            (1, 2, -1, -1, 2)
        );
    }
    assert_eq!(envelope(&g.get(&format!("{POSTS}?skipTotal=0")).await), (1, 30, 5, 1, 5));
    // The list rule's exclusions do not count.
    assert_eq!(envelope(&g.get(&format!("{POSTS}?filter=views>20")).await), (1, 30, 3, 1, 3));
    let empty = g.get("/api/collections/vault/records").await;
    assert_error(&empty, 403, "Only superusers can perform this action.");
    assert_eq!(
        envelope(&su.get("/api/collections/vault/records?filter=code='nope'").await),
        (1, 30, 0, 0, 0)
    );
});

sb_testkit::sbtest_http!(sort_keys, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    dataset(&su).await;
    let g = su.with_token(None);
    let sorted = |q: &'static str| {
        let g = g.clone();
        async move { titles(&g.get(&format!("{POSTS}?sort={q}")).await) }
    };
    assert_eq!(
        sorted("").await,
        ["delta", "alpha", "echo", "bravo", "charlie"],
        "default: insertion order"
    );
    assert_eq!(sorted("title").await, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(sorted("-title").await, ["echo", "delta", "charlie", "bravo", "alpha"]);
    assert_eq!(sorted("-views,title").await, ["echo", "bravo", "delta", "charlie", "alpha"]);
    assert_eq!(sorted("%2Bviews,-title").await, ["alpha", "charlie", "delta", "bravo", "echo"]);
    assert_eq!(sorted("-@rowid").await, ["charlie", "bravo", "echo", "alpha", "delta"]);
    assert_eq!(sorted("@rowid").await, ["delta", "alpha", "echo", "bravo", "charlie"]);
    assert_eq!(sorted("author.name,title").await, ["charlie", "alpha", "bravo", "echo", "delta"]);
    assert_eq!(
        sorted("-coauthors:length,title").await,
        ["echo", "bravo", "delta", "alpha", "charlie"]
    );
    let mut random = sorted("@random").await;
    random.sort();
    assert_eq!(random, ["alpha", "bravo", "charlie", "delta", "echo"]);
    // Eight keys are allowed, nine are not; unknown fields and empty items are errors.
    let eight = ["title"; 8].join(",");
    assert_eq!(g.get(&format!("{POSTS}?sort={eight}")).await.status, 200);
    for bad in [
        ["title"; 9].join(","),
        ["title"; 20].join(","),
        "nope".into(),
        "title,".into(),
        "%20".into(),
        "-".into(),
        "random()".into(),
        "'x'".into(),
        "secret".into(),
    ] {
        assert_error(&g.get(&format!("{POSTS}?sort={bad}")).await, 400, GENERIC_400);
    }
    // A relation sort through a collection the guest cannot list is refused to guests.
    assert_error(&g.get(&format!("{POSTS}?sort=box.code")).await, 400, GENERIC_400);
    assert_eq!(su.get(&format!("{POSTS}?sort=box.code")).await.status, 200);
});

sb_testkit::sbtest_http!(filters_through_relations_and_modifiers, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    dataset(&su).await;
    let g = su.with_token(None);
    let found = |q: &'static str| {
        let g = g.clone();
        async move { titles(&g.get(&format!("{POSTS}?sort=title&filter={q}")).await) }
    };
    assert_eq!(found("author.name='amy'").await, ["alpha", "bravo"]);
    assert_eq!(found("author.id='author000000001'").await, ["delta"]);
    assert_eq!(found("coauthors.name?='bob'").await, ["bravo", "echo"]);
    assert_eq!(found("coauthors:each?='author000000003'").await, ["bravo", "echo"]);
    assert_eq!(found("coauthors:length>1").await, ["echo"]);
    assert_eq!(
        found("tags?='a'").await,
        Vec::<String>::new(),
        "a multi-value field compares as its JSON text"
    );
    assert_eq!(found("tags:each?='a'").await, ["charlie", "delta"]);
    assert_eq!(found("tags~'a'").await, ["charlie", "delta"]);
    assert_eq!(found("comments_via_post.message?='hmm'").await, ["echo"]);
    assert_eq!(
        found("comments_via_post.message='first!'").await,
        ["delta"],
        "all back-related rows match"
    );
    assert_eq!(found("views>20%20%26%26%20title~'e'").await, ["delta", "echo"]);
    assert_eq!(found("views>40%20||%20title='alpha'%20%26%26%20views=10").await, ["alpha", "echo"]);
    assert_eq!(found("(((title='alpha')))").await, ["alpha"]);
    assert_eq!(found("author=''").await, ["charlie"]);
    assert_eq!(found("author.name=null").await, ["charlie"]);
    assert_eq!(found("title~'ch%25'").await, ["charlie"], "an unescaped % is a LIKE pattern");
    // Hidden fields, relations into unlistable collections, @request and @collection are for
    // superusers.
    assert_error(&g.get(&format!("{POSTS}?filter=author.secret='s1'")).await, 400, GENERIC_400);
    assert_eq!(titles(&su.get(&format!("{POSTS}?filter=author.secret='s1'")).await), ["delta"]);
    assert_error(&g.get(&format!("{POSTS}?filter=box.code='x'")).await, 400, GENERIC_400);
    assert_eq!(titles(&su.get(&format!("{POSTS}?filter=box.code='x'")).await).len(), 5);
    for (q, what) in [
        ("%40request.auth.id=''", "@request."),
        ("title='%40collection.'", "@collection."),
        ("%40request.a=%40collection.b", "@collection."),
    ] {
        assert_error(
            &g.get(&format!("{POSTS}?filter={q}")).await,
            403,
            &format!("Only superusers can filter by {what}"),
        );
    }
    assert_error(
        &g.get(&format!("{POSTS}?filter=%40request.a&sort=%40collection.b")).await,
        403,
        "Only superusers can filter by @request.",
    );
    assert_error(
        &g.get(&format!("{POSTS}?sort=%40request.auth.id")).await,
        403,
        "Only superusers can filter by @request.",
    );
    assert_eq!(titles(&su.get(&format!("{POSTS}?filter=%40collection.comments.post?=id%20%26%26%20%40request.auth.id!=''&sort=title")).await), ["delta", "echo"]);
    // Syntax and resolution errors: 400 with the generic message.
    for bad in [
        "title",
        "nope=1",
        "TITLE='x'",
        "title=='x'",
        "%20",
        "title='x'%0D",
        "title='x",
        "(title='x'",
        "1e3=1",
        "unknownfn(title)=1",
    ] {
        assert_error(&g.get(&format!("{POSTS}?filter={bad}")).await, 400, GENERIC_400);
    }
});

sb_testkit::sbtest_http!(list_rules_filter_silently, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    dataset(&su).await;
    su.create_record("users", json!({"id": "user00000000001", "email": "u1@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let u1 = su.with_token(Some(&record_token(&app, "users", "user00000000001").await));
    su.patch(
        "/api/collections/posts",
        json!({"listRule": "views >= 30 || @request.auth.id != ''"}),
    )
    .await;
    let g = su.with_token(None);
    let r = g.get(&format!("{POSTS}?sort=title")).await;
    assert_eq!(titles(&r), ["bravo", "delta", "echo"]);
    assert_eq!(r.body["totalItems"], 3);
    assert_eq!(u1.get(POSTS).await.body["totalItems"], 5);
    // The rule is ANDed with the client filter, never ORed.
    assert_eq!(
        titles(&g.get(&format!("{POSTS}?filter=title='alpha'")).await),
        Vec::<String>::new()
    );
    // Users' listRule applies to relation walks: a guest sorting by `author.name` through a
    // collection whose rule hides every author gets no items.
    su.patch("/api/collections/authors", json!({"listRule": "@request.auth.id != ''"})).await;
    su.patch("/api/collections/posts", json!({"listRule": ""})).await;
    assert_eq!(
        titles(&g.get(&format!("{POSTS}?filter=author.name!=''")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        titles(&u1.get(&format!("{POSTS}?filter=author.name!=''&sort=title")).await),
        ["alpha", "bravo", "delta", "echo"]
    );
});
