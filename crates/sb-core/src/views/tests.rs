//! The SQL scanner of view queries: SELECT items, FROM tables, dependencies and renames.

use super::*;

fn items(sql: &str) -> Vec<(String, String)> {
    select_items(sql, &tokenize(sql)).into_iter().map(|i| (i.expr, i.name)).collect()
}

fn pair(expr: &str, name: &str) -> (String, String) {
    (expr.to_owned(), name.to_owned())
}

#[test]
fn select_items_keep_expressions_and_find_aliases() {
    assert_eq!(
        items("SELECT p.id, p.title AS t, count(c.id) total, `x`.\"y\", cast(p.n as real) FROM p"),
        vec![
            pair("p.id", "id"),
            pair("p.title", "t"),
            pair("count(c.id)", "total"),
            pair("`x`.\"y\"", "y"),
            pair("cast(p.n as real)", "cast(p.n as real)"),
        ]
    );
    assert_eq!(
        items("select distinct a || b, -1, CASE WHEN a THEN 1 ELSE 2 END, x COLLATE NOCASE from t"),
        vec![
            pair("a || b", "a || b"),
            pair("-1", "-1"),
            pair("CASE WHEN a THEN 1 ELSE 2 END", "CASE WHEN a THEN 1 ELSE 2 END"),
            pair("x COLLATE NOCASE", "x COLLATE NOCASE"),
        ]
    );
    // Commas inside calls and sub-queries do not split items; a SELECT without FROM works.
    assert_eq!(
        items("SELECT coalesce(a, b) AS c, (SELECT max(x) FROM y, z) AS m"),
        vec![pair("coalesce(a, b)", "c"), pair("(SELECT max(x) FROM y, z)", "m")]
    );
    // Comments and strings are not parsed as SQL.
    assert_eq!(
        items("SELECT 'a, b' AS s -- , hidden\n, /* x, */ id FROM t"),
        vec![pair("'a, b'", "s"), pair("id", "id")]
    );
    // Malformed input gives what it can, never panics.
    assert!(items("SELECT AS x").is_empty());
    assert!(items("").is_empty());
    assert!(items("SELECT").is_empty());
    assert_eq!(items("SELECT 'unterminated"), vec![pair("'unterminated", "'unterminated")]);
}

#[test]
fn from_tables_resolve_aliases_at_the_top_level() {
    let refs = |sql: &str| -> Vec<(Option<String>, String)> {
        from_tables(&tokenize(sql), true).into_iter().map(|r| (r.table, r.alias)).collect()
    };
    assert_eq!(
        refs("SELECT 1 FROM posts p LEFT JOIN users AS u ON u.id = p.owner, tags WHERE x"),
        vec![
            (Some("posts".into()), "p".into()),
            (Some("users".into()), "u".into()),
            (Some("tags".into()), "tags".into()),
        ]
    );
    assert_eq!(
        refs("SELECT 1 FROM (SELECT id FROM posts) AS sub JOIN `main`.\"users\" ON 1"),
        vec![(None, "sub".into()), (Some("users".into()), "users".into())]
    );
}

#[test]
fn mentions_table_ignores_column_parts_of_references() {
    assert!(mentions_table("SELECT id FROM posts", "posts"));
    assert!(mentions_table("SELECT id FROM \"Posts\"", "posts"));
    assert!(mentions_table("SELECT id FROM (SELECT id FROM posts) x", "posts"));
    assert!(!mentions_table("SELECT p.posts FROM other p", "posts"));
    assert!(!mentions_table("SELECT id FROM postsx", "posts"));
    assert!(!mentions_table("SELECT 'posts' AS id FROM t", "posts"));
}

#[test]
fn rename_table_rewrites_table_references_only() {
    assert_eq!(
        rename_table(
            "SELECT posts.id, p.title FROM posts p JOIN x ON x.a = posts.id",
            "posts",
            "articles"
        ),
        "SELECT articles.id, p.title FROM articles p JOIN x ON x.a = articles.id"
    );
    assert_eq!(
        rename_table("SELECT id, posts FROM `Posts` WHERE posts = 'posts'", "posts", "a"),
        "SELECT id, posts FROM `a` WHERE posts = 'posts'"
    );
    assert_eq!(
        rename_table("SELECT s.id FROM (SELECT id FROM posts) s, [posts]", "posts", "b"),
        "SELECT s.id FROM (SELECT id FROM b) s, [b]"
    );
}

#[test]
fn cast_types_are_read_from_both_spellings() {
    assert_eq!(cast_type("cast(p.n as real)"), Some("real"));
    assert_eq!(cast_type("cast ( x  as  integer )"), Some("integer"));
    assert_eq!(cast_type("(x + 1)::numeric"), Some("numeric"));
    assert_eq!(cast_type("cast(x)"), None);
    assert_eq!(cast_type("castle"), None);
    assert_eq!(cast_type("x"), None);
}

#[test]
fn driver_messages_lose_the_probe_statement() {
    assert_eq!(
        driver_message(
            "near \"1\": syntax error in SELECT * FROM (SELEKT 1) AS p LIMIT 0 at offset 22"
        ),
        "near \"1\": syntax error"
    );
    assert_eq!(
        driver_message("relation \"nope\" does not exist (42P01)"),
        "relation \"nope\" does not exist (42P01)"
    );
}
