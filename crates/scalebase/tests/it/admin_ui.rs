//! What the admin UI needs of the server beyond PocketBase's API: the first-run install link,
//! the rule check behind the rules editor, the cluster view, and the UI itself at `/_/`.

use serde_json::json;

use crate::common::{Client, assert_error};

const SUPERUSER_RECORDS: &str = "/api/collections/_superusers/records";

sb_testkit::sbtest_http!(the_install_link_makes_the_first_superuser_once, |url, app| async move {
    let token = app.install_token().await.expect("token").expect("no superuser yet");
    // Asked again (a restart), the same installer stands behind a new link.
    let again = app.install_token().await.unwrap().expect("still no superuser");
    let installer = Client::guest(&url).with_token(Some(&token));
    let r = installer.get(SUPERUSER_RECORDS).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["totalItems"], 1, "only the installer: {:?}", r.body);
    // The link's token cannot be turned into a longer session: a refresh hands it back.
    let r = installer.post("/api/collections/_superusers/auth-refresh", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["token"], token.as_str());

    let r = installer
        .post(
            SUPERUSER_RECORDS,
            json!({"email": "owner@example.com", "password": "owner-pass-123", "passwordConfirm": "owner-pass-123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The installer is gone with its links (their requests are a guest's), and no new link
    // is offered.
    for token in [&token, &again] {
        let r = Client::guest(&url).with_token(Some(token)).get(SUPERUSER_RECORDS).await;
        assert_error(&r, 403, "Only superusers can perform this action.");
    }
    assert_eq!(app.install_token().await.unwrap(), None);
    let owner = Client::login(&url, "_superusers", "owner@example.com", "owner-pass-123").await;
    let r = owner.get(SUPERUSER_RECORDS).await;
    assert_eq!(r.body["totalItems"], 1, "{:?}", r.body);
    assert_eq!(r.body["items"][0]["email"], "owner@example.com");
});

sb_testkit::sbtest_http!(the_rule_check_points_at_what_does_not_compile, |url, app| async move {
    let check = "/api/collections/meta/check-rules";
    let posts = json!({
        "name": "posts",
        "type": "base",
        "fields": [{"name": "title", "type": "text"}, {"name": "views", "type": "number"}],
        "listRule": "title != '' && views > 2",
        "viewRule": "title = ",
        "createRule": "nope = 1",
        "updateRule": null,
        "deleteRule": "",
    });
    let r = Client::guest(&url).post(check, posts.clone()).await;
    assert_eq!(r.status, 401, "superusers only: {:?}", r.body);

    let su = Client::superuser(&url, &app).await;
    let r = su.post(check, posts.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let errors = r.body.as_object().unwrap();
    let mut keys: Vec<&str> = errors.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["createRule", "viewRule"], "{:?}", r.body);
    // A syntax error comes with where it is; an unknown field with the resolver's message.
    let view = &errors["viewRule"];
    assert!(view["start"].as_u64().unwrap() <= 8 && view["end"].as_u64().is_some(), "{view}");
    assert!(errors["createRule"]["message"].as_str().unwrap().contains("nope"), "{r:?}");
    assert!(errors["createRule"].get("start").is_none());

    // An existing collection is checked as an update: a relation to itself and the stored
    // collections resolve, and the check saves nothing.
    let stored = su
        .create_collection(json!({"name": "posts", "type": "base",
        "fields": [{"name": "title", "type": "text"}]}))
        .await;
    let mut edited = stored.clone();
    edited["listRule"] = json!("title = @request.auth.id && @collection.users.email != ''");
    let r = su.post(check, edited).await;
    assert_eq!(r.body, json!({}));
    let r = su.get("/api/collections/posts").await;
    assert_eq!(r.body["listRule"], stored["listRule"]);

    // The auth rules of auth collections are checked too; a body that is not a collection is
    // refused as a create would refuse it.
    let mut users = su.get("/api/collections/users").await.body;
    users["manageRule"] = json!("@request.auth.id ~");
    let r = su.post(check, users).await;
    assert!(r.body["manageRule"]["message"].is_string(), "{:?}", r.body);
    let r = su.post(check, json!({"name": 5})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
});

sb_testkit::sbtest_http!(the_cluster_view_shows_this_node_and_its_figures, |url, app| async move {
    let r = Client::guest(&url).get("/api/cluster").await;
    assert_eq!(r.status, 401, "superusers only: {:?}", r.body);
    let su = Client::superuser(&url, &app).await;
    let first = su.get("/api/cluster").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    for _ in 0..20 {
        assert_eq!(su.get("/api/health").await.status, 200);
    }
    let r = su.get("/api/cluster").await;
    let nodes = r.body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "a node alone is a cluster of one: {:?}", r.body);
    let node = &nodes[0];
    assert_eq!(node["self"], true);
    assert_eq!(node["healthy"], true);
    assert!(node["requestsPerSecond"].as_f64().unwrap() > 0.0, "{node}");
    assert!(node["p99Ms"].as_f64().unwrap() > 0.0, "{node}");
    assert!(node["inFlight"].as_i64().unwrap() >= 1, "this request is in flight: {node}");
    assert!(node["startedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(r.body["transport"], serde_json::Value::Null, "{:?}", r.body);
});

sb_testkit::sbtest_http!(the_ui_is_served_under_its_prefix, |url, _app| async move {
    let r = reqwest::get(format!("{url}/_/")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.headers()["x-frame-options"], "SAMEORIGIN");
    let page = r.text().await.unwrap();
    assert!(page.contains("<title>Scalebase</title>"), "{page}");
    let script = page.split("src=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    assert!(script.starts_with("/_/assets/"), "{script}");
    let r = reqwest::get(format!("{url}{script}")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/javascript");
    // The API's own not-found answer is untouched by the UI's catch-all.
    let r = reqwest::get(format!("{url}/api/nothing-here")).await.unwrap();
    assert_eq!(r.status(), 404);
});
