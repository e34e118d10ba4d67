//! The test collections and their rows. The same data was created on the reference
//! PocketBase to record `reference_cases` (dates relative to "now", fixed ids).
//!
//! ```text
//!  item | n | title | grp  | tags  | when     | flag | meta  | rels    | one | label              | loc          | status    | owner
//!  1    | 1 | item1 | odd  | [c]   | now-3d   | f    | {k:1} | [x]     | x   | O'Brien "the" \ man | 23.32,42.69 | published | alice
//!  2    | 2 | item2 | even | []    | now+3d   | f    | {k:2} | []      |     | 50% off_sale       | 24.75,42.15  | draft     | alice
//!  3    | 3 | item3 | odd  | [a,b] | now-400d | f    | {k:3} | [x,y]   | x   | MiXeD              | 0,0          | published | bob
//!  4    | 4 | item4 | even | [c]   | now+400d | f    | {k:4} | [y,z]   | y   | plain              | 0,0          | draft     |
//!  5    | 5 | item5 | odd  | []    |          | f    | {k:5} | [z]     | z   | plain              | 0,0          | published |
//!  6    | 6 | item6 | even | [a,b] |          | t    | {k:6} | [x,y,z] | x   | plain              | 0,0          | draft     |
//!  7    | 7 | item7 | odd  | [c]   |          | t    | {k:7} | [y]     | y   | plain              | 0,0          |           |
//! ```
//! ref: x (score 1), y (5), z (9). users: alice (admin, team red, email visible, verified),
//! bob (member, team blue), carol (member, no team). authors ann, bob; posts first (ann),
//! second (bob), third (no author); comments c1 (first, likes bob+ann), c2 (first, no likes),
//! c3 (second, likes ann). members: alice in red, bob in blue; docs red, blue, green.
//!
//! `links` exists only here (not on the reference): JSON values reached through a relation
//! walk, for the sort cases that check the backends against SQLite's semantics.
//!
//! ```text
//!  link | data         | next | tags
//!  la   | {s:"a b"}    | lb   | [b]
//!  lb   | {s:"a"}      | lc   | [a,b]
//!  lc   | {s:5}        | ld   | []
//!  ld   | {s:true}     | le   | [c]
//!  le   | {s:null}     | la   | [a]
//!  lf   | null         |      | []
//! ```

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sb_schema::{
    AutodateOptions, BoolOptions, Collection, CollectionType, DateOptions, DomainOptions,
    EditorOptions, Field, FieldKind, GeoPointOptions, JsonOptions, NumberOptions, PasswordOptions,
    RelationOptions, SelectOptions, TextOptions,
};
use sb_sql::Value;
use serde_json::{Value as Json, json};

use crate::{AuthInfo, CollectionLookup};

/// The fixed "now" of the tests.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).single().unwrap_or_default()
}

/// A 15-character record id (`item1` → `item10000000000`), as on the reference.
pub(crate) fn rid(prefix: &str) -> String {
    format!("{prefix:0<15}")
}

fn date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

fn field(name: &str, kind: FieldKind) -> Field {
    Field {
        id: format!("f_{name}"),
        name: name.to_owned(),
        system: false,
        hidden: false,
        presentable: false,
        help: String::new(),
        kind,
    }
}

fn text(name: &str) -> Field {
    field(name, FieldKind::Text(TextOptions::default()))
}

fn number(name: &str) -> Field {
    field(name, FieldKind::Number(NumberOptions::default()))
}

fn boolean(name: &str) -> Field {
    field(name, FieldKind::Bool(BoolOptions::default()))
}

fn select(name: &str, values: &[&str], max_select: i64) -> Field {
    let values = values.iter().map(|v| (*v).to_owned()).collect();
    field(name, FieldKind::Select(SelectOptions { values, max_select, required: false }))
}

fn relation(name: &str, collection_id: &str, max_select: i64) -> Field {
    field(
        name,
        FieldKind::Relation(RelationOptions {
            collection_id: collection_id.to_owned(),
            max_select,
            ..RelationOptions::default()
        }),
    )
}

fn collection(
    name: &str,
    kind: CollectionType,
    list_rule: Option<&str>,
    fields: Vec<Field>,
) -> Collection {
    let mut all = vec![field(
        "id",
        FieldKind::Text(TextOptions {
            primary_key: true,
            required: true,
            ..TextOptions::default()
        }),
    )];
    if kind == CollectionType::Auth {
        let mut password = field("password", FieldKind::Password(PasswordOptions::default()));
        password.hidden = true;
        let mut token_key = text("tokenKey");
        token_key.hidden = true;
        all.extend([
            password,
            token_key,
            field("email", FieldKind::Email(DomainOptions::default())),
            boolean("emailVisibility"),
            boolean("verified"),
        ]);
    }
    all.extend(fields);
    for (n, on_update) in [("created", false), ("updated", true)] {
        all.push(field(n, FieldKind::Autodate(AutodateOptions { on_create: true, on_update })));
    }
    for f in &mut all {
        if matches!(
            f.name.as_str(),
            "id" | "password"
                | "tokenKey"
                | "email"
                | "emailVisibility"
                | "verified"
                | "created"
                | "updated"
        ) {
            f.system = true;
        }
    }
    Collection {
        id: rid(&format!("pbc{name}")),
        name: name.to_owned(),
        kind,
        system: false,
        list_rule: list_rule.map(str::to_owned),
        view_rule: Some(String::new()),
        create_rule: None,
        update_rule: None,
        delete_rule: None,
        fields: all,
        indexes: Vec::new(),
        created: String::new(),
        updated: String::new(),
        view_query: None,
        auth: None,
    }
}

/// All test collections (listRules as on the reference: public except members and docs).
pub(crate) fn collections() -> Vec<Collection> {
    use CollectionType::{Auth, Base};
    let id = |n: &str| rid(&format!("pbc{n}"));
    let mut secret = text("secret");
    secret.hidden = true;
    vec![
        collection("teams", Base, Some(""), vec![text("name")]),
        collection(
            "users",
            Auth,
            Some(""),
            vec![
                text("name"),
                select("role", &["admin", "member"], 1),
                relation("team", &id("teams"), 1),
                secret,
            ],
        ),
        collection("ref", Base, Some(""), vec![text("name"), number("score")]),
        collection(
            "items",
            Base,
            Some(""),
            vec![
                number("n"),
                text("title"),
                text("grp"),
                select("tags", &["a", "b", "c"], 3),
                field("when", FieldKind::Date(DateOptions::default())),
                boolean("flag"),
                field("meta", FieldKind::Json(JsonOptions::default())),
                relation("rels", &id("ref"), 5),
                relation("one", &id("ref"), 1),
                text("label"),
                field("loc", FieldKind::GeoPoint(GeoPointOptions::default())),
                select("status", &["draft", "published"], 1),
                relation("owner", &id("users"), 1),
            ],
        ),
        collection(
            "misc",
            Base,
            Some(""),
            vec![
                text("k"),
                field("j", FieldKind::Json(JsonOptions::default())),
                number("num"),
                text("txt"),
                boolean("b"),
            ],
        ),
        collection(
            "authors",
            Base,
            Some(""),
            vec![text("name"), field("bio", FieldKind::Editor(EditorOptions::default()))],
        ),
        collection(
            "posts",
            Base,
            Some(""),
            vec![
                text("title"),
                relation("author", &id("authors"), 1),
                field("body", FieldKind::Editor(EditorOptions::default())),
            ],
        ),
        collection(
            "comments",
            Base,
            Some(""),
            vec![
                text("text"),
                relation("post", &id("posts"), 1),
                relation("likes", &id("authors"), 9),
            ],
        ),
        collection("members", Base, None, vec![relation("user", &id("users"), 1), text("team")]),
        collection("docs", Base, None, vec![text("team"), text("t")]),
        collection(
            "links",
            Base,
            Some(""),
            vec![
                field("data", FieldKind::Json(JsonOptions::default())),
                relation("next", &id("links"), 1),
                select("tags", &["a", "b", "c"], 3),
            ],
        ),
    ]
}

/// The collections, found by id or name.
pub(crate) struct Fixture {
    pub colls: Vec<Arc<Collection>>,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture::with_list_rules(&[])
    }

    /// The fixture with some listRules replaced.
    pub fn with_list_rules(overrides: &[(&str, Option<&str>)]) -> Self {
        let colls = collections()
            .into_iter()
            .map(|mut c| {
                if let Some((_, rule)) = overrides.iter().find(|(n, _)| *n == c.name) {
                    c.list_rule = rule.map(str::to_owned);
                }
                Arc::new(c)
            })
            .collect();
        Fixture { colls }
    }

    pub fn get(&self, name: &str) -> Arc<Collection> {
        self.find(name).unwrap_or_else(|| panic!("no collection {name}"))
    }
}

impl CollectionLookup for Fixture {
    fn find(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.colls.iter().find(|c| c.id == id_or_name || c.name == id_or_name).cloned()
    }

    fn all(&self) -> Vec<Arc<Collection>> {
        self.colls.clone()
    }
}

/// One record: column values by field name (missing fields take their zero value).
pub(crate) type Row = Vec<(&'static str, Json)>;

fn user(
    name: &str,
    email: &str,
    visible: bool,
    verified: bool,
    role: &str,
    team: &str,
    secret: &str,
) -> Row {
    vec![
        ("id", json!(rid(&format!("u{}", name.to_lowercase())))),
        ("email", json!(email)),
        ("emailVisibility", json!(visible)),
        ("verified", json!(verified)),
        ("password", json!("$2a$10$hash")),
        ("tokenKey", json!(format!("key_{name}"))),
        ("name", json!(name)),
        ("role", json!(role)),
        ("team", json!(if team.is_empty() { String::new() } else { rid(&format!("t{team}")) })),
        ("secret", json!(secret)),
    ]
}

/// The rows of every collection, in insertion order.
pub(crate) fn rows() -> Vec<(&'static str, Vec<Row>)> {
    let now = now();
    let r = |n: &str| rid(&format!("ref{n}"));
    let mut items = Vec::new();
    let whens = [Some(-3), Some(3), Some(-400), Some(400), None, None, None];
    let tags: [&[&str]; 7] = [&["c"], &[], &["a", "b"], &["c"], &[], &["a", "b"], &["c"]];
    let rels: [&[&str]; 7] =
        [&["x"], &[], &["x", "y"], &["y", "z"], &["z"], &["x", "y", "z"], &["y"]];
    let labels =
        ["O'Brien \"the\" \\ man", "50% off_sale", "MiXeD", "plain", "plain", "plain", "plain"];
    let locs = [json!({"lon": 23.32, "lat": 42.69}), json!({"lon": 24.75, "lat": 42.15})];
    let owners = [rid("ualice"), rid("ualice"), rid("ubob")];
    for i in 0..7 {
        let n = i + 1;
        let rel_ids: Vec<String> = rels[i].iter().map(|x| r(x)).collect();
        items.push(vec![
            ("id", json!(rid(&format!("item{n}")))),
            ("n", json!(n)),
            ("title", json!(format!("item{n}"))),
            ("grp", json!(if n % 2 == 1 { "odd" } else { "even" })),
            ("tags", json!(tags[i])),
            ("when", json!(whens[i].map(|d| date(now + Duration::days(d))).unwrap_or_default())),
            ("flag", json!(n > 5)),
            ("meta", json!({ "k": n })),
            ("one", json!(rel_ids.first().cloned().unwrap_or_default())),
            ("rels", json!(rel_ids)),
            ("label", json!(labels[i])),
            ("loc", locs.get(i).cloned().unwrap_or(json!({"lon": 0, "lat": 0}))),
            (
                "status",
                json!(match n {
                    7 => "",
                    n if n % 2 == 1 => "published",
                    _ => "draft",
                }),
            ),
            ("owner", json!(owners.get(i).cloned().unwrap_or_default())),
        ]);
    }
    let misc = |k: &str, j: Json, num: f64, txt: &str, b: bool| -> Row {
        vec![
            ("id", json!(rid(k))),
            ("k", json!(k)),
            ("j", j),
            ("num", json!(num)),
            ("txt", json!(txt)),
            ("b", json!(b)),
        ]
    };
    let link = |id: &str, data: Json, next: &str, tags: &[&str]| -> Row {
        let next = if next.is_empty() { String::new() } else { rid(next) };
        vec![("id", json!(rid(id))), ("data", data), ("next", json!(next)), ("tags", json!(tags))]
    };
    let links = vec![
        link("la", json!({"s": "a b"}), "lb", &["b"]),
        link("lb", json!({"s": "a"}), "lc", &["a", "b"]),
        link("lc", json!({"s": 5}), "ld", &[]),
        link("ld", json!({"s": true}), "le", &["c"]),
        link("le", json!({"s": null}), "la", &["a"]),
        link("lf", Json::Null, "", &[]),
    ];
    vec![
        (
            "teams",
            vec![
                vec![("id", json!(rid("tred"))), ("name", json!("red"))],
                vec![("id", json!(rid("tblue"))), ("name", json!("blue"))],
            ],
        ),
        (
            "users",
            vec![
                user("Alice", "alice@example.com", true, true, "admin", "red", "s1"),
                user("Bob", "bob@example.com", false, false, "member", "blue", "s2"),
                user("carol", "carol@example.com", false, false, "member", "", ""),
            ],
        ),
        (
            "ref",
            [("x", 1), ("y", 5), ("z", 9)]
                .iter()
                .map(|(n, s)| vec![("id", json!(r(n))), ("name", json!(n)), ("score", json!(s))])
                .collect(),
        ),
        ("items", items),
        (
            "misc",
            vec![
                misc("m1", json!({"a": {"b": [1, 2]}, "s": "x"}), 1.5, "5", true),
                misc("m2", json!("hello"), 0.0, "", false),
                misc("m3", json!(5), 5.0, "5.0", false),
                misc("m4", Json::Null, -2.0, "abc", true),
                misc("m5", json!([1, "two", null]), 10.0, " 10 ", false),
                misc("m6", json!(true), 2.25, "2.25", true),
            ],
        ),
        (
            "authors",
            vec![
                vec![
                    ("id", json!(rid("aann"))),
                    ("name", json!("ann")),
                    ("bio", json!("<p>Hello</p>")),
                ],
                vec![("id", json!(rid("abob"))), ("name", json!("bob"))],
            ],
        ),
        (
            "posts",
            vec![
                vec![
                    ("id", json!(rid("pfirst"))),
                    ("title", json!("first")),
                    ("author", json!(rid("aann"))),
                ],
                vec![
                    ("id", json!(rid("psecond"))),
                    ("title", json!("second")),
                    ("author", json!(rid("abob"))),
                ],
                vec![("id", json!(rid("pthird"))), ("title", json!("third"))],
            ],
        ),
        (
            "comments",
            vec![
                vec![
                    ("id", json!(rid("cc1"))),
                    ("text", json!("c1")),
                    ("post", json!(rid("pfirst"))),
                    ("likes", json!([rid("abob"), rid("aann")])),
                ],
                vec![
                    ("id", json!(rid("cc2"))),
                    ("text", json!("c2")),
                    ("post", json!(rid("pfirst"))),
                    ("likes", json!([])),
                ],
                vec![
                    ("id", json!(rid("cc3"))),
                    ("text", json!("c3")),
                    ("post", json!(rid("psecond"))),
                    ("likes", json!([rid("aann")])),
                ],
            ],
        ),
        (
            "members",
            vec![
                vec![
                    ("id", json!(rid("mema"))),
                    ("user", json!(rid("ualice"))),
                    ("team", json!("red")),
                ],
                vec![
                    ("id", json!(rid("memb"))),
                    ("user", json!(rid("ubob"))),
                    ("team", json!("blue")),
                ],
            ],
        ),
        (
            "docs",
            vec![
                vec![("id", json!(rid("dred"))), ("team", json!("red")), ("t", json!("r"))],
                vec![("id", json!(rid("dblue"))), ("team", json!("blue")), ("t", json!("b"))],
                vec![("id", json!(rid("dgreen"))), ("team", json!("green")), ("t", json!("g"))],
            ],
        ),
        ("links", links),
    ]
}

/// The stored value of a field (missing ones take the field's zero value), as bound on insert.
pub(crate) fn cell(field: &Field, value: Option<&Json>) -> Value {
    use sb_schema::Storage;
    match (field.kind.storage(), value) {
        (Storage::Number, v) => Value::Float(v.and_then(Json::as_f64).unwrap_or(0.0)),
        (Storage::Bool, v) => Value::Bool(v.and_then(Json::as_bool).unwrap_or(false)),
        (Storage::Json, Some(v)) => Value::Json(v.to_string()),
        (Storage::Json, None) => match &field.kind {
            FieldKind::GeoPoint(_) => Value::Json(r#"{"lon":0,"lat":0}"#.to_owned()),
            FieldKind::Json(_) => Value::Null,
            _ => Value::Json("[]".to_owned()),
        },
        (Storage::Text, Some(Json::String(s))) => Value::Text(s.clone()),
        (Storage::Text, _) => Value::Text(String::new()),
    }
}

/// The authenticated record of a fixture user, as `sb-core` would serialise it.
pub(crate) fn auth(fixture: &Fixture, name: &str) -> AuthInfo {
    let users = fixture.get("users");
    let id = rid(&format!("u{name}"));
    let row = rows()
        .into_iter()
        .find(|(c, _)| *c == "users")
        .and_then(|(_, rows)| {
            rows.into_iter().find(|r| r.iter().any(|(k, v)| *k == "id" && *v == json!(id)))
        })
        .unwrap_or_default();
    let mut record = serde_json::Map::new();
    for f in &users.fields {
        let v = row.iter().find(|(k, _)| *k == f.name).map(|(_, v)| v.clone());
        let v = match cell(f, v.as_ref()) {
            Value::Text(s) => Json::String(s),
            Value::Float(n) => json!(n),
            Value::Bool(b) => json!(b),
            Value::Json(s) => serde_json::from_str(&s).unwrap_or(Json::Null),
            _ => Json::Null,
        };
        record.insert(f.name.clone(), v);
    }
    record.insert("collectionId".into(), json!(users.id));
    record.insert("collectionName".into(), json!(users.name));
    AuthInfo { collection: users, record }
}
