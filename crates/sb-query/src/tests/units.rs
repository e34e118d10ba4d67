//! Pure pieces and compile errors.

use chrono::{TimeZone, Utc};
use sb_sql::Value;

use super::fixture::Fixture;
use super::harness::{self, Who};
use crate::affinity::{numeric_text, real_to_text};
use crate::compare::wrap_like;
use crate::{Access, compile_filter, compile_sort, macros};

#[test]
fn real_to_text_matches_sqlite() {
    let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
    for f in [
        5.0,
        1.5,
        0.1,
        2.25,
        100.0,
        -2.0,
        1e14,
        1e15,
        1e16,
        1e20,
        1e-5,
        0.0001,
        123_456_789.123_456_79,
        12345678901234567.0,
        0.30000000000000004,
        -0.5,
        1.0 / 3.0,
        9.999999999999999e14,
    ] {
        let sqlite: String =
            conn.query_row("SELECT CAST(?1 AS TEXT)", [f], |r| r.get(0)).expect("cast");
        assert_eq!(real_to_text(f), sqlite, "{f:e}");
    }
}

#[test]
fn numeric_text_matches_sqlite_affinity() {
    let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
    conn.execute("CREATE TABLE t (n NUMERIC)", []).expect("create");
    for s in [
        "1", "1.", ".5", " 1.5 ", "+1", "-1", "1e5", "1E5", "1.5e+3", "\t5", "5\n", "00012", "1e",
        ".", "", " ", "0x10", "1_000", "Inf", "NaN", "abc", "1.5x", "--1", "e5",
    ] {
        conn.execute("DELETE FROM t", []).expect("delete");
        conn.execute("INSERT INTO t VALUES (?1)", [s]).expect("insert");
        let (ty, real): (String, Option<f64>) = conn
            .query_row(
                "SELECT typeof(n), CASE WHEN typeof(n) IN ('integer','real') THEN n END FROM t",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("select");
        let expected = if ty == "text" { None } else { real };
        assert_eq!(numeric_text(s), expected, "{s:?}");
    }
}

#[test]
fn like_patterns_are_wrapped_and_escaped_like_pocketbase() {
    for (input, want) in [
        ("abc", "%abc%"),
        ("50%", "50%"),
        ("Hello%", "Hello%"),
        ("off_sale", r"%off\_sale%"),
        (r"off\_sale", r"%off\_sale%"),
        ("a__", r"%a_\_%"),
        (r"50\%", r"%50\%%"),
        (r"a\b", r"%a\\b%"),
        ("_x", r"%\_x%"),
        ("", "%%"),
    ] {
        assert_eq!(wrap_like(input), want, "{input:?}");
    }
}

#[test]
fn datetime_macros_follow_now() {
    let now = Utc.with_ymd_and_hms(2024, 2, 10, 8, 5, 3).single().expect("date");
    let text = |m: &str| macros::resolve(m, now);
    let t = |s: &str| Some(Value::Text(s.to_owned()));
    assert_eq!(text("@now"), t("2024-02-10 08:05:03.000Z"));
    assert_eq!(text("@yesterday"), t("2024-02-09 08:05:03.000Z"));
    assert_eq!(text("@tomorrow"), t("2024-02-11 08:05:03.000Z"));
    assert_eq!(text("@todayStart"), t("2024-02-10 00:00:00.000Z"));
    assert_eq!(text("@todayEnd"), t("2024-02-10 23:59:59.999Z"));
    assert_eq!(text("@monthStart"), t("2024-02-01 00:00:00.000Z"));
    assert_eq!(text("@monthEnd"), t("2024-02-29 23:59:59.999Z"));
    assert_eq!(text("@yearStart"), t("2024-01-01 00:00:00.000Z"));
    assert_eq!(text("@yearEnd"), t("2024-12-31 23:59:59.999Z"));
    assert_eq!(text("@second"), Some(Value::Int(3)));
    assert_eq!(text("@minute"), Some(Value::Int(5)));
    assert_eq!(text("@hour"), Some(Value::Int(8)));
    assert_eq!(text("@day"), Some(Value::Int(10)));
    assert_eq!(text("@month"), Some(Value::Int(2)));
    assert_eq!(text("@weekday"), Some(Value::Int(6)));
    assert_eq!(text("@year"), Some(Value::Int(2024)));
    assert_eq!(text("@Now"), None);
}

fn compile(coll: &str, access: Access, who: Who, src: &str) -> Result<sb_sql::Expr, String> {
    let fixture = Fixture::new();
    let c = fixture.get(coll);
    let request = harness::request(&fixture, who);
    let scope = harness::scope(&fixture, &c, &request, access);
    let expr = sb_filter::parse_filter(src).map_err(|e| e.to_string())?;
    compile_filter(&expr, &scope).map_err(|e| e.message)
}

#[test]
fn invalid_expressions_are_errors() {
    for (access, src) in [
        (Access::Client, "owner.secret = 's1'"),
        (Access::Client, "owner.tokenKey != ''"),
        (Access::Client, "@request.auth.id = ''"),
        (Access::Client, "@collection.ref.name = 'x'"),
        (Access::Full, "unknown = 1"),
        (Access::Full, "TITLE = 'x'"),
        (Access::Full, "nope(n) = 1"),
        (Access::Full, "title:bad = 'x'"),
        (Access::Full, "title.x = 1"),
        (Access::Full, "rels.nope = 1"),
        (Access::Full, "strftime(title) = ''"),
        (Access::Full, "strftime('%Y', title, 5) = ''"),
        (Access::Full, "strftime('%Y', strftime('%Y')) = ''"),
        (Access::Full, "geoDistance(1, 2, 3) = 1"),
        (Access::Full, "geoDistance(1, 2, 3, 'x') = 1"),
        (Access::Full, "@request.foo = 1"),
        (Access::Full, "@request.context:isset = true"),
        (Access::Full, "@request.query.x:changed = true"),
        (Access::Full, "@request.body.zzz:changed = true"),
        (Access::Full, "@request.body.title:each = 'x'"),
        (Access::Full, "@collection.nope.x = 1"),
        (Access::Full, "@collection.ref = 1"),
        (Access::Full, "@collection.ref:.name = 1"),
        (Access::Full, "ref_via_one.n = 1"),
        (Access::Full, "#x = 1"),
    ] {
        assert!(compile("items", access, Who::User("alice"), src).is_err(), "{src}");
    }
    assert!(compile("items", Access::Full, Who::Guest, "owner.secret = 's1'").is_ok());
}

#[test]
fn relation_walks_are_limited_to_six_hops() {
    let ok = "owner.team.name = owner.team.name";
    assert!(compile("items", Access::Full, Who::Guest, ok).is_ok());
    let seven = "one.items_via_one.one.items_via_one.one.items_via_one.one.name = 'x'";
    let six = "one.items_via_one.one.items_via_one.one.items_via_one.n = 1";
    assert!(compile("items", Access::Full, Who::Guest, six).is_ok());
    assert!(compile("items", Access::Full, Who::Guest, seven).is_err());
}

#[test]
fn invalid_sort_keys_are_errors() {
    let fixture = Fixture::new();
    let c = fixture.get("items");
    let request = harness::request(&fixture, Who::User("alice"));
    for (access, src) in [
        (Access::Client, "nope"),
        (Access::Client, "@now"),
        (Access::Client, "true"),
        (Access::Client, "owner.secret"),
        (Access::Client, "@request.auth.id"),
        (Access::Full, "@request.auth.id"),
        (Access::Full, "@request.query.x"),
        (Access::Client, "items_via_rels.n"),
    ] {
        let scope = harness::scope(&fixture, &c, &request, access);
        let items = sb_filter::parse_sort(src).expect("sort syntax");
        assert!(compile_sort(&items, &scope).is_err(), "{src}");
    }
}
