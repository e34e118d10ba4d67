//! The SQL generated for representative filters, rules and sort keys, rendered for both
//! dialects side by side, so that every change to the generated SQL shows up in review.
//!
//! Update with `UPDATE_EXPECT=1 cargo test -p sb-query snapshots` and review the diff. Whether
//! the SQL selects the right rows is the business of `exec`; these snapshots are about its shape.

use expect_test::{Expect, expect};
use sb_sql::{Dialect, Rendered};
use serde_json::json;

use super::fixture::Fixture;
use super::harness::{self, Who, select_ids};
use crate::{Access, compile_query};

/// What to compile: a filter and/or sort keys on a collection of the fixture.
struct Input {
    coll: &'static str,
    filter: &'static str,
    sort: &'static str,
    access: Access,
    who: Who,
    body: serde_json::Value,
    list_rules: Vec<(&'static str, Option<&'static str>)>,
}

/// A filter compiled with full access (a superuser's filter, or an API rule) for a guest.
fn filter(coll: &'static str, filter: &'static str) -> Input {
    Input {
        coll,
        filter,
        sort: "",
        access: Access::Full,
        who: Who::Guest,
        body: json!({}),
        list_rules: Vec::new(),
    }
}

fn sort(coll: &'static str, sort: &'static str) -> Input {
    Input { sort, ..filter(coll, "") }
}

impl Input {
    /// A client's `filter`/`sort` parameter.
    fn client(self) -> Input {
        Input { access: Access::Client, ..self }
    }

    /// Evaluated for an authenticated fixture user.
    fn user(self, name: &'static str) -> Input {
        Input { who: Who::User(name), ..self }
    }

    fn body(self, body: serde_json::Value) -> Input {
        Input { body, ..self }
    }

    fn list_rule(mut self, coll: &'static str, rule: Option<&'static str>) -> Input {
        self.list_rules.push((coll, rule));
        self
    }
}

fn show_dialect(out: &mut String, label: &str, r: &Rendered) {
    out.push_str(&format!("{label:<10}{}\n", r.sql));
    if !r.params.is_empty() {
        out.push_str(&format!("{:<10}{:?}\n", "", r.params));
    }
}

fn check(input: Input, expect: Expect) {
    let fixture = Fixture::with_list_rules(&input.list_rules);
    let coll = fixture.get(input.coll);
    let mut request = harness::request(&fixture, input.who);
    request.body = input.body.as_object().cloned().unwrap_or_default();
    let scope = harness::scope(&fixture, &coll, &request, input.access);
    let parsed = (!input.filter.is_empty())
        .then(|| sb_filter::parse_filter(input.filter).expect("filter syntax"));
    let filters: Vec<_> = parsed.iter().map(|e| (e, input.access)).collect();
    let sort = sb_filter::parse_sort(input.sort).expect("sort syntax");
    let compiled = compile_query(&filters, &sort, &scope).expect("compile");
    let stmt = select_ids(input.coll, compiled.where_, compiled.order_by);
    let mut out = String::new();
    show_dialect(&mut out, "sqlite:", &Dialect::Sqlite.render(&stmt));
    show_dialect(&mut out, "postgres:", &Dialect::Postgres.render(&stmt));
    expect.assert_eq(&out);
}

#[test]
fn plain_comparisons() {
    check(
        filter("items", "n > 5 && title != ''"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((`r`.`n` > ?) AND ((`r`.`title` IS NOT '') AND (`r`.`title` IS NOT NULL)))
                      [Float(5.0)]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (("r"."n" > $1::float8) AND (("r"."title" IS DISTINCT FROM ('')::text) AND ("r"."title" IS NOT NULL)))
                      [Float(5.0)]
        "#]],
    );
    check(
        filter("items", "label ~ '50%' || label !~ 'off_sale'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((`r`.`label` LIKE ? ESCAPE '\') OR (`r`.`label` NOT LIKE ? ESCAPE '\'))
                      [Text("50%"), Text("%off\\_sale%")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE ((sb_like("r"."label", $1::text)) OR (NOT sb_like("r"."label", $2::text)))
                      [Text("50%"), Text("%off\\_sale%")]
        "#]],
    );
    check(
        filter("misc", "num = txt"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `misc` AS `r` WHERE (COALESCE(`r`.`num`, '') = COALESCE(`r`.`txt`, ''))
            postgres: SELECT "r"."id" FROM "misc" AS "r" WHERE (sb_cmp(COALESCE(to_jsonb(("r"."num")::float8), '""'::jsonb), COALESCE(to_jsonb("r"."txt"), '""'::jsonb)) = 0)
        "#]],
    );
    check(
        filter("items", "one = null"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((`r`.`one` = '') OR (`r`.`one` IS NULL))
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (("r"."one" = ('')::text) OR ("r"."one" IS NULL))
        "#]],
    );
}

#[test]
fn like_with_a_column_pattern() {
    check(
        filter("items", "label ~ flag"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE (`r`.`label` LIKE ('%' || `r`.`flag` || '%') ESCAPE '\')
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (sb_like("r"."label", ('%' || ("r"."flag")::int::text || '%')))
        "#]],
    );
}

#[test]
fn any_of_and_multi_value_fields() {
    check(
        filter("items", "tags ?= 'a'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE (`r`.`tags` = ?)
                      [Text("a")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (sb_cmp(sb_numaff(sb_vn(("r"."tags")::text)), to_jsonb($1::text)) = 0)
                      [Text("a")]
        "#]],
    );
    check(
        filter("items", "tags:each = 'c'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a4` LEFT JOIN json_each(CASE WHEN `r`.`tags` IS NULL THEN json_array() WHEN json_valid(`r`.`tags`) THEN (CASE WHEN json_type(`r`.`tags`) = 'array' THEN `r`.`tags` ELSE json_array(`r`.`tags`) END) ELSE json_array(`r`.`tags`) END) AS `_j1` ON 1 WHERE ((`_j1`.`value` = ?) AND NOT EXISTS (SELECT 1 FROM (SELECT 1) AS `_a3` LEFT JOIN json_each(CASE WHEN `r`.`tags` IS NULL THEN json_array() WHEN json_valid(`r`.`tags`) THEN (CASE WHEN json_type(`r`.`tags`) = 'array' THEN `r`.`tags` ELSE json_array(`r`.`tags`) END) ELSE json_array(`r`.`tags`) END) AS `_m2` ON 1 WHERE NOT ((`_m2`.`value` = ?)))))
                      [Text("c"), Text("c")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a4" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."tags")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."tags")::json) = 'array' THEN ("r"."tags")::json ELSE json_build_array((("r"."tags")::json)::text) END) AS "_j1"("value") ON TRUE WHERE (("_j1"."value" = $1::text) AND NOT EXISTS (SELECT 1 FROM (SELECT 1) AS "_a3" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."tags")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."tags")::json) = 'array' THEN ("r"."tags")::json ELSE json_build_array((("r"."tags")::json)::text) END) AS "_m2"("value") ON TRUE WHERE NOT (("_m2"."value" = $2::text)))))
                      [Text("c"), Text("c")]
        "#]],
    );
    check(
        filter("items", "tags:length > 1"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE (CASE WHEN (`r`.`tags` IS NULL) THEN 0 ELSE json_array_length(CASE WHEN json_valid(`r`.`tags`) THEN `r`.`tags` WHEN `r`.`tags` IS NULL THEN NULL ELSE json_array(`r`.`tags`) END) END > ?)
                      [Float(1.0)]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (CASE WHEN ("r"."tags" IS NULL) THEN 0 ELSE (CASE WHEN json_typeof(("r"."tags")::json) = 'array' THEN json_array_length(("r"."tags")::json) WHEN ("r"."tags")::json IS NULL THEN NULL ELSE 0 END) END > $1::float8)
                      [Float(1.0)]
        "#]],
    );
}

#[test]
fn relation_walks() {
    check(
        filter("items", "one.name = 'x'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a3` LEFT JOIN `ref` AS `_j1` ON (`_j1`.`id` = `r`.`one`) WHERE (`_j1`.`name` = ?))
                      [Text("x")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a3" LEFT JOIN "ref" AS "_j1" ON ("_j1"."id" = "r"."one") WHERE ("_j1"."name" = $1::text))
                      [Text("x")]
        "#]],
    );
    check(
        filter("items", "rels.score > 4"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a6` LEFT JOIN json_each(CASE WHEN `r`.`rels` IS NULL THEN json_array() WHEN json_valid(`r`.`rels`) THEN (CASE WHEN json_type(`r`.`rels`) = 'array' THEN `r`.`rels` ELSE json_array(`r`.`rels`) END) ELSE json_array(`r`.`rels`) END) AS `_j1` ON 1 LEFT JOIN `ref` AS `_j2` ON (`_j2`.`id` = `_j1`.`value`) WHERE ((`_j2`.`score` > ?) AND NOT EXISTS (SELECT 1 FROM (SELECT 1) AS `_a5` LEFT JOIN json_each(CASE WHEN `r`.`rels` IS NULL THEN json_array() WHEN json_valid(`r`.`rels`) THEN (CASE WHEN json_type(`r`.`rels`) = 'array' THEN `r`.`rels` ELSE json_array(`r`.`rels`) END) ELSE json_array(`r`.`rels`) END) AS `_m4` ON 1 LEFT JOIN `ref` AS `_m3` ON (`_m3`.`id` = `_m4`.`value`) WHERE NOT ((`_m3`.`score` > ?)))))
                      [Float(4.0), Float(4.0)]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a6" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."rels")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."rels")::json) = 'array' THEN ("r"."rels")::json ELSE json_build_array((("r"."rels")::json)::text) END) AS "_j1"("value") ON TRUE LEFT JOIN "ref" AS "_j2" ON ("_j2"."id" = "_j1"."value") WHERE (("_j2"."score" > $1::float8) AND NOT EXISTS (SELECT 1 FROM (SELECT 1) AS "_a5" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."rels")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."rels")::json) = 'array' THEN ("r"."rels")::json ELSE json_build_array((("r"."rels")::json)::text) END) AS "_m4"("value") ON TRUE LEFT JOIN "ref" AS "_m3" ON ("_m3"."id" = "_m4"."value") WHERE NOT (("_m3"."score" > $2::float8)))))
                      [Float(4.0), Float(4.0)]
        "#]],
    );
    check(
        filter("items", "rels.score ?> 4 && rels.name ?= 'y'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a7` LEFT JOIN json_each(CASE WHEN `r`.`rels` IS NULL THEN json_array() WHEN json_valid(`r`.`rels`) THEN (CASE WHEN json_type(`r`.`rels`) = 'array' THEN `r`.`rels` ELSE json_array(`r`.`rels`) END) ELSE json_array(`r`.`rels`) END) AS `_j1` ON 1 LEFT JOIN `ref` AS `_j2` ON (`_j2`.`id` = `_j1`.`value`) WHERE ((`_j2`.`score` > ?) AND (`_j2`.`name` = ?)))
                      [Float(4.0), Text("y")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a7" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."rels")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."rels")::json) = 'array' THEN ("r"."rels")::json ELSE json_build_array((("r"."rels")::json)::text) END) AS "_j1"("value") ON TRUE LEFT JOIN "ref" AS "_j2" ON ("_j2"."id" = "_j1"."value") WHERE (("_j2"."score" > $1::float8) AND ("_j2"."name" = $2::text)))
                      [Float(4.0), Text("y")]
        "#]],
    );
    check(
        filter("posts", "comments_via_post.text ?= 'c1'"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `posts` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a3` LEFT JOIN `comments` AS `_j1` ON (`_j1`.`post` = `r`.`id`) WHERE (`_j1`.`text` = ?))
                      [Text("c1")]
            postgres: SELECT "r"."id" FROM "posts" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a3" LEFT JOIN "comments" AS "_j1" ON ("_j1"."post" = "r"."id") WHERE ("_j1"."text" = $1::text))
                      [Text("c1")]
        "#]],
    );
}

#[test]
fn json_paths_and_functions() {
    check(
        filter("misc", "j.a.b.1 = 2"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `misc` AS `r` WHERE (JSON_EXTRACT(`r`.`j`, ?) IS ?)
                      [Text("$.\"a\".\"b\"[1]"), Float(2.0)]
            postgres: SELECT "r"."id" FROM "misc" AS "r" WHERE (sb_is(sb_vj((("r"."j")::json -> $1::text -> $2::text -> 1)), to_jsonb(($3::float8)::float8)))
                      [Text("a"), Text("b"), Float(2.0)]
        "#]],
    );
    check(
        filter("items", "geoDistance(loc.lon, loc.lat, 23.32, 42.69) < 10"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((6371 * acos(MIN(1.0, MAX(-1.0, cos(radians(JSON_EXTRACT(`r`.`loc`, ?))) * cos(radians(?)) * cos(radians(?) - radians(JSON_EXTRACT(`r`.`loc`, ?))) + sin(radians(JSON_EXTRACT(`r`.`loc`, ?))) * sin(radians(?)))))) < ?)
                      [Text("$.\"lat\""), Float(42.69), Float(23.32), Text("$.\"lon\""), Text("$.\"lat\""), Float(42.69), Float(10.0)]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE ((6371 * acos(sb_clamp1(cos(radians(sb_num(sb_vj((("r"."loc")::json -> $1::text))))) * cos(radians(($2::float8)::float8)) * cos(radians(($3::float8)::float8) - radians(sb_num(sb_vj((("r"."loc")::json -> $4::text))))) + sin(radians(sb_num(sb_vj((("r"."loc")::json -> $5::text))))) * sin(radians(($6::float8)::float8))))) < $7::float8)
                      [Text("lat"), Float(42.69), Float(23.32), Text("lon"), Text("lat"), Float(42.69), Float(10.0)]
        "#]],
    );
    check(
        filter("items", "strftime('%Y', when) = '2025' || when > @now"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((strftime(?, `r`.`when`) = ?) OR (`r`.`when` > ?))
                      [Text("%Y"), Text("2025"), Text("2025-06-15 12:30:45.000Z")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE ((sb_strftime($1::text, to_jsonb("r"."when"), ARRAY[]::text[]) = $2::text) OR (("r"."when") COLLATE "C" > $3::text))
                      [Text("%Y"), Text("2025"), Text("2025-06-15 12:30:45.000Z")]
        "#]],
    );
}

#[test]
fn request_and_collection_references() {
    check(
        filter("items", "owner = @request.auth.id && @request.auth.team.name = 'red'")
            .user("alice"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE ((`r`.`owner` = ?) AND EXISTS (SELECT 1 FROM (SELECT 1) AS `_a5` LEFT JOIN `users` AS `_j1` ON (`_j1`.`id` = ?) LEFT JOIN `teams` AS `_j3` ON (`_j3`.`id` = `_j1`.`team`) WHERE (`_j3`.`name` = ?)))
                      [Text("ualice000000000"), Text("ualice000000000"), Text("red")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE (("r"."owner" = $1::text) AND EXISTS (SELECT 1 FROM (SELECT 1) AS "_a5" LEFT JOIN "users" AS "_j1" ON ("_j1"."id" = $2::text) LEFT JOIN "teams" AS "_j3" ON ("_j3"."id" = "_j1"."team") WHERE ("_j3"."name" = $3::text)))
                      [Text("ualice000000000"), Text("ualice000000000"), Text("red")]
        "#]],
    );
    check(
        filter(
            "docs",
            "@collection.members:m.user ?= @request.auth.id && @collection.members:m.team ?= team",
        )
        .user("alice"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `docs` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a4` LEFT JOIN `members` AS `_j1` ON 1 WHERE ((`_j1`.`user` = ?) AND (COALESCE(`_j1`.`team`, '') = COALESCE(`r`.`team`, ''))))
                      [Text("ualice000000000")]
            postgres: SELECT "r"."id" FROM "docs" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a4" LEFT JOIN "members" AS "_j1" ON TRUE WHERE (("_j1"."user" = $1::text) AND (COALESCE("_j1"."team", '') = COALESCE("r"."team", ''))))
                      [Text("ualice000000000")]
        "#]],
    );
    check(
        filter(
            "items",
            "@request.body.tags:each ?= tags:each && @request.body.title:changed = false",
        )
        .body(json!({"tags": ["a", "c"], "title": "item1"})),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE (((? IS NOT `r`.`title`) IS ?) AND EXISTS (SELECT 1 FROM (SELECT 1) AS `_a5` LEFT JOIN json_each(CASE WHEN ? IS NULL THEN json_array() WHEN json_valid(?) THEN (CASE WHEN json_type(?) = 'array' THEN ? ELSE json_array(?) END) ELSE json_array(?) END) AS `_j1` ON 1 LEFT JOIN json_each(CASE WHEN `r`.`tags` IS NULL THEN json_array() WHEN json_valid(`r`.`tags`) THEN (CASE WHEN json_type(`r`.`tags`) = 'array' THEN `r`.`tags` ELSE json_array(`r`.`tags`) END) ELSE json_array(`r`.`tags`) END) AS `_j3` ON 1 WHERE (COALESCE(`_j1`.`value`, '') = COALESCE(`_j3`.`value`, ''))))
                      [Text("item1"), Bool(false), Json("[\"a\",\"c\"]"), Json("[\"a\",\"c\"]"), Json("[\"a\",\"c\"]"), Json("[\"a\",\"c\"]"), Json("[\"a\",\"c\"]"), Json("[\"a\",\"c\"]")]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE ((($1::text IS DISTINCT FROM "r"."title") IS NOT DISTINCT FROM $2::bool) AND EXISTS (SELECT 1 FROM (SELECT 1) AS "_a5" LEFT JOIN LATERAL json_array_elements_text(sb_each(($3::json)::text)) AS "_j1"("value") ON TRUE LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."tags")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."tags")::json) = 'array' THEN ("r"."tags")::json ELSE json_build_array((("r"."tags")::json)::text) END) AS "_j3"("value") ON TRUE WHERE (COALESCE("_j1"."value", '') = COALESCE("_j3"."value", ''))))
                      [Text("item1"), Bool(false), Json("[\"a\",\"c\"]")]
        "#]],
    );
}

#[test]
fn client_access() {
    check(
        filter("items", "owner.name = 'Alice'")
            .client()
            .list_rule("users", Some("verified = true")),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS `_a3` LEFT JOIN `users` AS `_j1` ON (`_j1`.`id` = `r`.`owner`) WHERE ((`_j1`.`name` = ?) AND (((`_j1`.`id` = '') OR (`_j1`.`id` IS NULL)) OR (`_j1`.`verified` = ?))))
                      [Text("Alice"), Bool(true)]
            postgres: SELECT "r"."id" FROM "items" AS "r" WHERE EXISTS (SELECT 1 FROM (SELECT 1) AS "_a3" LEFT JOIN "users" AS "_j1" ON ("_j1"."id" = "r"."owner") WHERE (("_j1"."name" = $1::text) AND ((("_j1"."id" = ('')::text) OR ("_j1"."id" IS NULL)) OR ("_j1"."verified" = $2::bool))))
                      [Text("Alice"), Bool(true)]
        "#]],
    );
    check(
        filter("users", "email = 'alice@example.com'").client(),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `users` AS `r` WHERE ((`r`.`email` = ?) AND (`r`.`emailVisibility` = ?))
                      [Text("alice@example.com"), Bool(true)]
            postgres: SELECT "r"."id" FROM "users" AS "r" WHERE (("r"."email" = $1::text) AND ("r"."emailVisibility" = $2::bool))
                      [Text("alice@example.com"), Bool(true)]
        "#]],
    );
}

#[test]
fn sort_keys() {
    check(
        sort("items", "rels.name,-meta.k,loc,-@rowid"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `items` AS `r` ORDER BY (SELECT `_j2`.`name` FROM (SELECT 1) AS `_a5` LEFT JOIN json_each(CASE WHEN `r`.`rels` IS NULL THEN json_array() WHEN json_valid(`r`.`rels`) THEN (CASE WHEN json_type(`r`.`rels`) = 'array' THEN `r`.`rels` ELSE json_array(`r`.`rels`) END) ELSE json_array(`r`.`rels`) END) AS `_j1` ON 1 LEFT JOIN `ref` AS `_j2` ON (`_j2`.`id` = `_j1`.`value`) LIMIT 1) ASC, JSON_EXTRACT(`r`.`meta`, ?) DESC, `r`.`loc` ASC, `r`.rowid DESC
                      [Text("$.\"k\"")]
            postgres: SELECT "r"."id" FROM "items" AS "r" ORDER BY sb_sort_key(sb_val((SELECT "_j2"."name" FROM (SELECT 1) AS "_a5" LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("r"."rels")::json IS NULL THEN '[]'::json WHEN json_typeof(("r"."rels")::json) = 'array' THEN ("r"."rels")::json ELSE json_build_array((("r"."rels")::json)::text) END) AS "_j1"("value") ON TRUE LEFT JOIN "ref" AS "_j2" ON ("_j2"."id" = "_j1"."value") LIMIT 1))) ASC, sb_sort_key(sb_vj((("r"."meta")::json -> $1::text))) DESC, sb_sort_key(sb_vn(("r"."loc")::text)) ASC, "r"."_rowid" DESC NULLS LAST
                      [Text("k")]
        "#]],
    );
    check(
        sort("links", "next.data.s,-next.tags"),
        expect![[r#"
            sqlite:   SELECT `r`.`id` FROM `links` AS `r` ORDER BY JSON_EXTRACT((SELECT `_j1`.`data` FROM (SELECT 1) AS `_a3` LEFT JOIN `links` AS `_j1` ON (`_j1`.`id` = `r`.`next`) LIMIT 1), ?) ASC, (SELECT `_j4`.`tags` FROM (SELECT 1) AS `_a6` LEFT JOIN `links` AS `_j4` ON (`_j4`.`id` = `r`.`next`) LIMIT 1) DESC
                      [Text("$.\"s\"")]
            postgres: SELECT "r"."id" FROM "links" AS "r" ORDER BY sb_sort_key(sb_vj((((SELECT "_j1"."data" FROM (SELECT 1) AS "_a3" LEFT JOIN "links" AS "_j1" ON ("_j1"."id" = "r"."next") LIMIT 1))::json -> $1::text))) ASC, sb_sort_key(sb_vn(((SELECT "_j4"."tags" FROM (SELECT 1) AS "_a6" LEFT JOIN "links" AS "_j4" ON ("_j4"."id" = "r"."next") LIMIT 1))::text)) DESC
                      [Text("s")]
        "#]],
    );
}
