//! The record cache on one node: hits for repeated reads, exact invalidation (a record's
//! change does not evict another record's view, a list page is evicted by any change of its
//! table), and answers that must never be shared: per principal, per header a rule reads, and
//! rules that depend on the time.

use serde_json::json;

use crate::common::Client;

fn records_cache(app: &sb_core::App) -> sb_core::CacheStats {
    app.cache_stats().0
}

sb_testkit::sbtest_http!(record_cache_hits_and_exact_invalidation, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({
        "name": "notes", "type": "base", "listRule": "", "viewRule": "",
        "fields": [{"name": "n", "type": "number"}]
    }))
    .await;
    let x = su.post("/api/collections/notes/records", json!({"n": 1})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let y = su.post("/api/collections/notes/records", json!({"n": 2})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let guest = Client::guest(&url);
    let view_x = format!("/api/collections/notes/records/{x}");
    let s0 = records_cache(&app);
    assert_eq!(guest.get(&view_x).await.body["n"], 1);
    assert_eq!(guest.get(&view_x).await.body["n"], 1);
    assert_eq!(guest.get("/api/collections/notes/records").await.body["totalItems"], 2);
    let s1 = records_cache(&app);
    assert_eq!((s1.hits - s0.hits, s1.misses - s0.misses), (1, 2), "miss, hit, miss");

    // Another record changes: X's view stays cached, the list page does not.
    let r = su.patch(&format!("/api/collections/notes/records/{y}"), json!({"n": 3})).await;
    assert_eq!(r.status, 200);
    assert_eq!(guest.get(&view_x).await.body["n"], 1);
    let list = guest.get("/api/collections/notes/records?sort=n").await;
    assert_eq!(list.body["items"][1]["n"], 3);
    let s2 = records_cache(&app);
    assert_eq!((s2.hits - s1.hits, s2.misses - s1.misses), (1, 1));

    // X itself changes: its view is read again.
    let r = su.patch(&view_x, json!({"n": 4})).await;
    assert_eq!(r.status, 200);
    assert_eq!(guest.get(&view_x).await.body["n"], 4);
    let s3 = records_cache(&app);
    assert_eq!((s3.hits - s2.hits, s3.misses - s2.misses), (0, 1));
    // Deleted: 404 at once.
    assert_eq!(su.delete(&view_x).await.status, 204);
    assert_eq!(guest.get(&view_x).await.status, 404);
});

sb_testkit::sbtest_http!(
    cached_answers_are_never_shared_across_principals_headers_or_time,
    |url, app| async move {
        let su = Client::admin(&url, &app).await;
        su.create_collection(json!({
            "name": "owned", "type": "base",
            "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id",
            "fields": [{"name": "owner", "type": "text"}]
        }))
        .await;
        su.create_collection(json!({
            "name": "team", "type": "base", "listRule": "@request.headers.x_team = 'red'",
            "viewRule": "@request.headers.x_team = 'red'", "fields": [{"name": "t", "type": "text"}]
        }))
        .await;
        su.create_collection(json!({
            "name": "timed", "type": "base", "listRule": "@now != ''", "viewRule": "@now != ''",
            "fields": [{"name": "t", "type": "text"}]
        }))
        .await;
        let mut users = Vec::new();
        for name in ["ann", "bob"] {
            let email = format!("{name}@example.com");
            let r = su
            .post("/api/collections/users/records", json!({"email": email, "password": "password123", "passwordConfirm": "password123"}))
            .await;
            let id = r.body["id"].as_str().unwrap().to_owned();
            let mut c = Client::guest(&url);
            let r = c
                .post(
                    "/api/collections/users/auth-with-password",
                    json!({"identity": email, "password": "password123"}),
                )
                .await;
            c.token = r.body["token"].as_str().map(String::from);
            users.push((c, id));
        }
        let (ann, ann_id) = &users[0];
        let (bob, _) = &users[1];
        let r = su.post("/api/collections/owned/records", json!({"owner": ann_id})).await;
        let owned = format!("/api/collections/owned/records/{}", r.body["id"].as_str().unwrap());
        for _ in 0..2 {
            assert_eq!(ann.get(&owned).await.status, 200);
            assert_eq!(bob.get(&owned).await.status, 404, "never ann's cached answer");
            assert_eq!(Client::guest(&url).get(&owned).await.status, 404);
            assert_eq!(ann.get("/api/collections/owned/records").await.body["totalItems"], 1);
            assert_eq!(bob.get("/api/collections/owned/records").await.body["totalItems"], 0);
        }

        let r = su.post("/api/collections/team/records", json!({"t": "x"})).await;
        let team = format!("/api/collections/team/records/{}", r.body["id"].as_str().unwrap());
        let guest = Client::guest(&url);
        for _ in 0..2 {
            let red = guest.raw(reqwest::Method::GET, &team, None, "", &[("X-Team", "red")]).await;
            assert_eq!(red.status, 200);
            let blue =
                guest.raw(reqwest::Method::GET, &team, None, "", &[("X-Team", "blue")]).await;
            assert_eq!(blue.status, 404, "the header a rule reads is part of the key");
        }

        let r = su.post("/api/collections/timed/records", json!({"t": "x"})).await;
        let timed = format!("/api/collections/timed/records/{}", r.body["id"].as_str().unwrap());
        let before = records_cache(&app);
        for _ in 0..3 {
            assert_eq!(su.get(&timed).await.status, 200);
            assert_eq!(guest.get(&timed).await.status, 200);
        }
        let after = records_cache(&app);
        assert_eq!(after.hits, before.hits, "answers of rules using @now are not kept");
    }
);
