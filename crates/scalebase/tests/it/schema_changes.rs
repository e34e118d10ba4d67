//! Schema changes migrate the table without losing data (spec §2.2): added, renamed, removed
//! and swapped fields, single ↔ multiple values, renamed collections (indexes and views
//! follow), changes that fail half-way (nothing changes), and concurrent first starts on one
//! database.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::Client;

/// The records of `collection` restricted to `fields`, in insertion order.
async fn rows(su: &Client, collection: &str, fields: &str) -> Value {
    let r =
        su.get(&format!("/api/collections/{collection}/records?perPage=100&fields={fields}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].clone()
}

/// The field of `c` named `name`.
fn field<'a>(c: &'a Value, name: &str) -> &'a Value {
    c["fields"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap_or(&Value::Null)
}

sb_testkit::sbtest_http!(fields_are_added_renamed_and_removed_with_data, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let items = su
        .create_collection(json!({"name": "items", "fields": [
            {"name": "title", "type": "text"},
            {"name": "qty", "type": "number"},
            {"name": "note", "type": "text"},
        ]}))
        .await;
    for (title, qty) in [("a", 1), ("b", 2), ("c", 3)] {
        su.create_record("items", json!({"title": title, "qty": qty, "note": "n"})).await;
    }
    let title_id = field(&items, "title")["id"].clone();
    let qty_id = field(&items, "qty")["id"].clone();
    let r = su
        .patch(
            "/api/collections/items",
            json!({"fields": [
                {"id": "text3208210256", "name": "id", "type": "text", "primaryKey": true},
                {"id": title_id, "name": "name", "type": "text", "max": 50},
                {"id": qty_id, "name": "qty", "type": "number"},
                {"name": "tag", "type": "text"},
                {"name": "flag", "type": "bool"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(field(&r.body, "name")["id"], title_id);
    assert_eq!(
        rows(&su, "items", "name,qty,tag,flag,note,title").await,
        json!([
            {"name": "a", "qty": 1, "tag": "", "flag": false},
            {"name": "b", "qty": 2, "tag": "", "flag": false},
            {"name": "c", "qty": 3, "tag": "", "flag": false},
        ])
    );
    // The renamed column answers filters and sorts; new records use the new shape.
    let r = su.get("/api/collections/items/records?filter=name%3D'b'&fields=qty").await;
    assert_eq!(r.body["items"], json!([{"qty": 2}]));
    su.create_record("items", json!({"name": "d", "qty": 4, "tag": "t", "flag": true})).await;
    assert_eq!(rows(&su, "items", "name").await[3], json!({"name": "d"}));
    // A new field that reuses a removed field's name starts empty.
    let r = su
        .patch(
            "/api/collections/items",
            json!({"fields": [
                {"id": title_id, "name": "name", "type": "text"},
                {"id": qty_id, "name": "qty", "type": "number"},
                {"name": "note", "type": "text"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(rows(&su, "items", "name,note").await[0], json!({"name": "a", "note": ""}));
});

sb_testkit::sbtest_http!(two_fields_can_swap_names, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c = su
        .create_collection(json!({"name": "pairs", "fields": [
            {"name": "first", "type": "text"},
            {"name": "second", "type": "text"},
        ]}))
        .await;
    su.create_record("pairs", json!({"first": "one", "second": "two"})).await;
    let (first, second) = (field(&c, "first")["id"].clone(), field(&c, "second")["id"].clone());
    let r = su
        .patch(
            "/api/collections/pairs",
            json!({"fields": [
                {"id": first, "name": "second", "type": "text"},
                {"id": second, "name": "first", "type": "text"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        rows(&su, "pairs", "first,second").await,
        json!([{"first": "two", "second": "one"}])
    );
});

sb_testkit::sbtest_http!(single_and_multiple_values_convert, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let u1 = su.create_record("users", json!({"email": "a@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let u2 = su.create_record("users", json!({"email": "b@example.com", "password": "password123", "passwordConfirm": "password123"})).await;
    let (u1, u2) = (u1["id"].as_str().unwrap().to_owned(), u2["id"].as_str().unwrap().to_owned());
    let c = su
        .create_collection(json!({"name": "picks", "fields": [
            {"name": "s", "type": "select", "values": ["a", "b", "c"], "maxSelect": 1},
            {"name": "r", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": 1},
        ]}))
        .await;
    su.create_record("picks", json!({"s": "a", "r": u1})).await;
    su.create_record("picks", json!({})).await;
    let (s, r) = (field(&c, "s")["id"].clone(), field(&c, "r")["id"].clone());
    let fields = |max: u32| {
        json!({"fields": [
            {"id": s, "name": "s", "type": "select", "values": ["a", "b", "c"], "maxSelect": max},
            {"id": r, "name": "r", "type": "relation", "collectionId": "_pb_users_auth_", "maxSelect": max},
        ]})
    };
    // Single → multiple: a value becomes a one-element list, an empty value an empty list.
    let resp = su.patch("/api/collections/picks", fields(3)).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(
        rows(&su, "picks", "s,r").await,
        json!([{"s": ["a"], "r": [u1]}, {"s": [], "r": []}])
    );
    let id = rows(&su, "picks", "id").await[1]["id"].as_str().unwrap().to_owned();
    let resp = su
        .patch(
            &format!("/api/collections/picks/records/{id}"),
            json!({"s": ["a", "c"], "r": [u1, u2]}),
        )
        .await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    // Multiple → single: the last value stays.
    let resp = su.patch("/api/collections/picks", fields(1)).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    assert_eq!(rows(&su, "picks", "s,r").await, json!([{"s": "a", "r": u1}, {"s": "c", "r": u2}]));
    let resp = su.get(&format!("/api/collections/picks/records?filter=r%3D'{u2}'&fields=s")).await;
    assert_eq!(resp.body["items"], json!([{"s": "c"}]));
});

sb_testkit::sbtest_http!(
    renaming_a_collection_keeps_records_indexes_and_views,
    |url, app| async move {
        let su = Client::admin(&url, &app).await;
        su.create_collection(json!({"name": "posts", "fields": [{"name": "title", "type": "text"}, {"name": "n", "type": "number"}],
        "indexes": ["CREATE UNIQUE INDEX idx_posts_title ON posts (title)", "CREATE INDEX `idx_posts_n` ON `posts` (`n`)"]}))
        .await;
        for (title, n) in [("one", 1), ("two", 2)] {
            su.create_record("posts", json!({"title": title, "n": n})).await;
        }
        su.create_collection(
            json!({"name": "pv", "type": "view", "viewQuery": "SELECT id, title FROM posts"}),
        )
        .await;
        su.create_collection(json!({"name": "pq", "type": "view", "viewQuery": "SELECT posts.id, posts.n AS num FROM posts WHERE posts.n > 1"})).await;
        su.create_collection(
            json!({"name": "pvv", "type": "view", "viewQuery": "SELECT id, title FROM pv"}),
        )
        .await;

        let r = su.patch("/api/collections/posts", json!({"name": "articles"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body["indexes"],
            json!([
                "CREATE UNIQUE INDEX `idx_posts_title` ON `articles` (`title`)",
                "CREATE INDEX `idx_posts_n` ON `articles` (`n`)"
            ])
        );
        assert_eq!(su.get("/api/collections/posts/records").await.status, 404);
        assert_eq!(
            rows(&su, "articles", "title,n").await,
            json!([{"title": "one", "n": 1}, {"title": "two", "n": 2}])
        );
        let dup = su.post("/api/collections/articles/records", json!({"title": "one"})).await;
        assert_eq!(dup.status, 400, "{:?}", dup.body);
        assert_eq!(dup.body["data"]["title"]["code"], "validation_not_unique");

        // The views read from the renamed table, and their queries say so.
        assert_eq!(rows(&su, "pv", "title").await, json!([{"title": "one"}, {"title": "two"}]));
        assert_eq!(rows(&su, "pq", "num").await, json!([{"num": 2}]));
        assert_eq!(rows(&su, "pvv", "title").await, json!([{"title": "one"}, {"title": "two"}]));
        assert_eq!(
            su.get("/api/collections/pv").await.body["viewQuery"],
            "SELECT id, title FROM articles"
        );
        assert_eq!(
            su.get("/api/collections/pq").await.body["viewQuery"],
            "SELECT articles.id, articles.n AS num FROM articles WHERE articles.n > 1"
        );
        // Renaming a view renames it in the views that read from it.
        let r = su.patch("/api/collections/pv", json!({"name": "titles"})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            su.get("/api/collections/pvv").await.body["viewQuery"],
            "SELECT id, title FROM titles"
        );
        assert_eq!(rows(&su, "pvv", "title").await, json!([{"title": "one"}, {"title": "two"}]));
        // And the old name is free again.
        su.create_collection(json!({"name": "posts"})).await;
    }
);

sb_testkit::sbtest_http!(a_failing_change_leaves_everything_as_it_was, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let items = su.create_collection(json!({"name": "items", "fields": [{"name": "title", "type": "text"}, {"name": "qty", "type": "number"}]})).await;
    for qty in [1, 2] {
        su.create_record("items", json!({"title": "same", "qty": qty})).await;
    }
    su.create_collection(
        json!({"name": "iv", "type": "view", "viewQuery": "SELECT id, qty FROM items"}),
    )
    .await;
    let before = su.get("/api/collections?perPage=100").await.body;
    let data = rows(&su, "items", "*").await;
    let title_id = field(&items, "title")["id"].clone();

    // Rename a field, add one, drop one, rename the collection... and add a UNIQUE index that
    // the existing rows violate: the index is the last step, and it fails.
    let r = su
        .patch("/api/collections/items", json!({
            "name": "things",
            "fields": [{"id": title_id, "name": "label", "type": "text"}, {"name": "extra", "type": "text"}],
            "indexes": ["CREATE UNIQUE INDEX idx_things_label ON things (label)"],
        }))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["message"], "Failed to update collection.");
    let error = &r.body["data"]["indexes"]["0"];
    assert_eq!(error["code"], "validation_invalid_index_expression");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to create index idx_things_label - "),
        "{error}"
    );
    // A change that breaks a view that reads from the collection fails the same way.
    let r = su
        .patch(
            "/api/collections/items",
            json!({"fields": [{"id": title_id, "name": "title", "type": "text"}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap();
    assert!(message.starts_with("Failed to update collection. Raw error: \n"), "{message}");
    assert!(message.contains("\"iv\""), "{message}");

    assert_eq!(su.get("/api/collections?perPage=100").await.body, before);
    assert_eq!(rows(&su, "items", "*").await, data);
    assert_eq!(su.get("/api/collections/things/records").await.status, 404);
    assert_eq!(rows(&su, "iv", "qty").await, json!([{"qty": 1}, {"qty": 2}]));
    // The database is fine afterwards: the same change without the index works.
    let r = su
        .patch("/api/collections/items", json!({
            "name": "things",
            "fields": [{"id": title_id, "name": "label", "type": "text"}, {"name": "qty", "type": "number", "id": field(&items, "qty")["id"]}],
            "indexes": ["CREATE INDEX idx_things_label ON things (label)"],
        }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        rows(&su, "things", "label,qty").await,
        json!([{"label": "same", "qty": 1}, {"label": "same", "qty": 2}])
    );
    assert_eq!(rows(&su, "iv", "qty").await, json!([{"qty": 1}, {"qty": 2}]));
});

sb_testkit::sbtest_http!(views_follow_changes_of_their_sources, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let posts = su
        .create_collection(
            json!({"name": "posts", "fields": [{"name": "title", "type": "text", "max": 100}]}),
        )
        .await;
    su.create_record("posts", json!({"title": "hello"})).await;
    let view = su
        .create_collection(
            json!({"name": "pv", "type": "view", "viewQuery": "SELECT id, title FROM posts"}),
        )
        .await;
    assert_eq!(field(&view, "title")["max"], 100);
    let title_id = field(&posts, "title")["id"].clone();
    let r = su
        .patch("/api/collections/posts", json!({"fields": [{"id": title_id, "name": "title", "type": "text", "max": 20}, {"name": "more", "type": "bool"}]}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The view's copy of the field follows, under the same field id.
    let after = su.get("/api/collections/pv").await.body;
    assert_eq!(field(&after, "title")["max"], 20);
    assert_eq!(field(&after, "title")["id"], field(&view, "title")["id"]);
    assert_eq!(rows(&su, "pv", "title").await, json!([{"title": "hello"}]));
    // Unrelated changes leave the view's definition alone.
    let unchanged = su.get("/api/collections/pv").await.body;
    su.create_collection(json!({"name": "other"})).await;
    assert_eq!(su.patch("/api/collections/other", json!({"listRule": ""})).await.status, 200);
    assert_eq!(su.get("/api/collections/pv").await.body, unchanged);
});

/// Opens two stores on one fresh database and two apps on them at the same time; both must
/// start, and the system migration must have run once.
async fn concurrent_first_start(backend: sb_testkit::Backend) {
    for _ in 0..3 {
        // SQLite: a second store on the test database's file.
        let sqlite = match backend {
            sb_testkit::Backend::Sqlite => Some(sb_testkit::TestDb::open(backend).await),
            sb_testkit::Backend::Postgres => None,
        };
        let (stores, pg_name): (Vec<Arc<dyn sb_store::Store>>, Option<String>) = match &sqlite {
            Some(db) => {
                let config = sb_store_sqlite::SqliteConfig::new(db.dir.path().join("data.db"));
                let second = sb_store_sqlite::open(config).await.expect("open");
                (vec![db.store.clone(), Arc::new(second)], None)
            }
            None => {
                let name = sb_testkit::create_pg_database().await;
                let config =
                    || sb_store_postgres::PostgresConfig::new(sb_testkit::pg_url_for(&name));
                let (first, second) = tokio::join!(
                    sb_store_postgres::open(config()),
                    sb_store_postgres::open(config())
                );
                (vec![Arc::new(first.expect("open")), Arc::new(second.expect("open"))], Some(name))
            }
        };
        let config = sb_core::AppConfig::default;
        let (a, b) = tokio::join!(
            sb_core::App::open(stores[0].clone(), config()),
            sb_core::App::open(stores[1].clone(), config()),
        );
        let (a, b) = (a.expect("first node starts"), b.expect("second node starts"));
        assert_eq!(a.catalog().all().len(), 6);
        assert_eq!(b.catalog().all().len(), 6);
        // Every system migration applied once.
        for (table, expected) in [("_collections", 6), ("_migrations", 3)] {
            let count = stores[0]
                .query(&sb_store::Stmt::Raw {
                    sql: format!("SELECT count(*) FROM {table}"),
                    params: Vec::new(),
                })
                .await
                .expect("count");
            assert_eq!(count.rows[0][0].as_i64(), Some(expected), "{table}");
        }
        drop((a, b));
        for store in &stores {
            store.close().await;
        }
        if let Some(name) = pg_name {
            sb_testkit::drop_pg_database(&name).await;
        }
        if let Some(db) = sqlite {
            db.cleanup().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_start_sqlite() {
    concurrent_first_start(sb_testkit::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_start_postgres() {
    concurrent_first_start(sb_testkit::Backend::Postgres).await;
}
