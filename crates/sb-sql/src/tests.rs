//! Rendering snapshots (both dialects side by side) and index parsing.
//!
//! Update the snapshots with `UPDATE_EXPECT=1 cargo test -p sb-sql`; review the diff.
//! The semantic proof that the dialects agree is the differential suite in `tests/it`.

use expect_test::{Expect, expect};

use crate::*;

fn show(stmt: &Stmt) -> String {
    let s = Dialect::Sqlite.render(stmt);
    let p = Dialect::Postgres.render(stmt);
    let mut out = format!("sqlite:   {}\n", s.sql);
    if !s.params.is_empty() {
        out.push_str(&format!("          {:?}\n", s.params));
    }
    out.push_str(&format!("postgres: {}\n", p.sql));
    if !p.params.is_empty() {
        out.push_str(&format!("          {:?}\n", p.params));
    }
    out
}

fn check(stmt: Stmt, expect: Expect) {
    expect.assert_eq(&show(&stmt));
}

/// Renders `SELECT * FROM t WHERE <e>` and shows the condition only.
fn check_where(e: Expr, expect: Expect) {
    let stmt = Stmt::Select(Select { where_: Some(e), ..Select::default() });
    let shown = show(&stmt).replace("SELECT * WHERE ", "");
    expect.assert_eq(&shown);
}

fn col(name: &str, ty: Ty) -> Typed {
    Expr::col("t", name).typed(ty)
}

fn param(v: impl Into<Value>) -> Typed {
    let v = v.into();
    let ty = match &v {
        Value::Text(_) | Value::Json(_) => Ty::Text,
        Value::Int(_) | Value::Float(_) => Ty::Number,
        Value::Bool(_) => Ty::Bool,
        Value::Null => Ty::Null,
    };
    Expr::Param(v).typed(ty)
}

fn cmp(op: CmpOp, l: Typed, r: Typed) -> Expr {
    Expr::Cmp { op, lhs: Box::new(l), rhs: Box::new(r) }
}

fn extract(column: &str, path: &[&str]) -> Expr {
    let path = path
        .iter()
        .map(|s| match s.parse::<u32>() {
            Ok(i) => JsonPathSeg::Index(i),
            Err(_) => JsonPathSeg::Key((*s).to_owned()),
        })
        .collect();
    Expr::JsonExtract { expr: Box::new(Expr::col("t", column)), path }
}

#[test]
fn cmp_same_types_are_native() {
    check_where(
        cmp(CmpOp::Eq, col("title", Ty::Text), param("a")),
        expect![[r#"
            sqlite:   (`t`.`title` = ?)
                      [Text("a")]
            postgres: ("t"."title" = $1::text)
                      [Text("a")]
        "#]],
    );
    check_where(
        cmp(CmpOp::Lt, col("title", Ty::Text), col("body", Ty::Text)),
        expect![[r#"
            sqlite:   (`t`.`title` < `t`.`body`)
            postgres: (("t"."title") COLLATE "C" < "t"."body")
        "#]],
    );
    check_where(
        cmp(CmpOp::IsNot, col("n", Ty::Number), param(1.5)),
        expect![[r#"
            sqlite:   (`t`.`n` IS NOT ?)
                      [Float(1.5)]
            postgres: ("t"."n" IS DISTINCT FROM $1::float8)
                      [Float(1.5)]
        "#]],
    );
    check_where(
        cmp(CmpOp::LooseEq, col("a", Ty::Text), col("b", Ty::Text)),
        expect![[r#"
            sqlite:   (COALESCE(`t`.`a`, '') = COALESCE(`t`.`b`, ''))
            postgres: (COALESCE("t"."a", '') = COALESCE("t"."b", ''))
        "#]],
    );
    check_where(
        cmp(CmpOp::LooseIsNot, col("n", Ty::Number), col("m", Ty::Number)),
        expect![[r#"
            sqlite:   (COALESCE(`t`.`n`, '') IS NOT COALESCE(`t`.`m`, ''))
            postgres: ("t"."n" IS DISTINCT FROM "t"."m")
        "#]],
    );
    check_where(
        cmp(CmpOp::Gte, col("flag", Ty::Bool), col("n", Ty::Number)),
        expect![[r#"
            sqlite:   (`t`.`flag` >= `t`.`n`)
            postgres: (("t"."flag")::int >= "t"."n")
        "#]],
    );
    check_where(
        cmp(CmpOp::Is, col("flag", Ty::Bool), param(true)),
        expect![[r#"
            sqlite:   (`t`.`flag` IS ?)
                      [Bool(true)]
            postgres: ("t"."flag" IS NOT DISTINCT FROM $1::bool)
                      [Bool(true)]
        "#]],
    );
    check_where(
        cmp(CmpOp::LooseEq, col("title", Ty::Text), Expr::Null.typed(Ty::Null)),
        expect![[r#"
            sqlite:   (COALESCE(`t`.`title`, '') = COALESCE(NULL, ''))
            postgres: (COALESCE("t"."title", '') = COALESCE(NULL, ''))
        "#]],
    );
}

#[test]
fn cmp_affinity_and_mixed_types() {
    // TEXT column vs a number: SQLite compares the number's text.
    check_where(
        cmp(CmpOp::Eq, col("title", Ty::Text), param(5.0)),
        expect![[r#"
            sqlite:   (`t`.`title` = ?)
                      [Float(5.0)]
            postgres: ("t"."title" = sb_real_text(($1::float8)::float8))
                      [Float(5.0)]
        "#]],
    );
    // NUMERIC column vs numeric-looking text parameter: converted to a number.
    check_where(
        cmp(CmpOp::Gt, col("n", Ty::Number), param("1.5")),
        expect![[r#"
            sqlite:   (`t`.`n` > ?)
                      [Text("1.5")]
            postgres: ("t"."n" > $1::float8)
                      [Float(1.5)]
        "#]],
    );
    check_where(
        cmp(CmpOp::Eq, col("n", Ty::Number), param("abc")),
        expect![[r#"
            sqlite:   (`t`.`n` = ?)
                      [Text("abc")]
            postgres: (sb_cmp(to_jsonb(("t"."n")::float8), to_jsonb($1::text)) = 0)
                      [Text("abc")]
        "#]],
    );
    // Two columns, one numeric: numeric affinity on both.
    check_where(
        cmp(CmpOp::Lt, col("title", Ty::Text), col("n", Ty::Number)),
        expect![[r#"
            sqlite:   (`t`.`title` < `t`.`n`)
            postgres: (sb_cmp(sb_numaff(to_jsonb("t"."title")), to_jsonb(("t"."n")::float8)) < 0)
        "#]],
    );
    // No affinity with COALESCE: text never equals a number.
    check_where(
        cmp(CmpOp::LooseEq, col("title", Ty::Text), col("n", Ty::Number)),
        expect![[r#"
            sqlite:   (COALESCE(`t`.`title`, '') = COALESCE(`t`.`n`, ''))
            postgres: (sb_cmp(COALESCE(to_jsonb("t"."title"), '""'::jsonb), COALESCE(to_jsonb(("t"."n")::float8), '""'::jsonb)) = 0)
        "#]],
    );
    check_where(
        cmp(CmpOp::Is, Expr::Null.typed(Ty::Null), extract("meta", &["a"]).typed(Ty::Json)),
        expect![[r#"
            sqlite:   (NULL IS JSON_EXTRACT(`t`.`meta`, ?))
                      [Text("$.\"a\"")]
            postgres: (sb_is(NULL::jsonb, sb_vj((("t"."meta")::json -> $1::text))))
                      [Text("a")]
        "#]],
    );
    check_where(
        cmp(CmpOp::IsNot, col("tags", Ty::JsonText), param("[\"a\"]")),
        expect![[r#"
            sqlite:   (`t`.`tags` IS NOT ?)
                      [Text("[\"a\"]")]
            postgres: (NOT sb_is(sb_numaff(sb_vn(("t"."tags")::text)), to_jsonb($1::text)))
                      [Text("[\"a\"]")]
        "#]],
    );
    // TEXT column vs a JSON value: the JSON value's text.
    check_where(
        cmp(CmpOp::Eq, col("title", Ty::Text), extract("meta", &["k", "0"]).typed(Ty::Json)),
        expect![[r#"
            sqlite:   (`t`.`title` = JSON_EXTRACT(`t`.`meta`, ?))
                      [Text("$.\"k\"[0]")]
            postgres: ("t"."title" = sb_jt((("t"."meta")::json -> $1::text -> 0)))
                      [Text("k")]
        "#]],
    );
    check_where(
        cmp(
            CmpOp::Lte,
            Expr::Lower(Box::new(Expr::col("t", "title"))).typed(Ty::Text),
            col("v", Ty::Any),
        ),
        expect![[r#"
            sqlite:   (LOWER(`t`.`title`) <= `t`.`v`)
            postgres: (sb_cmp(to_jsonb(sb_lower(sb_text("t"."title"))), sb_val("t"."v")) <= 0)
        "#]],
    );
}

#[test]
fn like_lower_contains() {
    check_where(
        Expr::Like {
            expr: Box::new(col("title", Ty::Text)),
            pattern: Box::new(param("%a\\_b%")),
            negated: false,
        },
        expect![[r#"
            sqlite:   (`t`.`title` LIKE ? ESCAPE '\')
                      [Text("%a\\_b%")]
            postgres: (sb_like("t"."title", $1::text))
                      [Text("%a\\_b%")]
        "#]],
    );
    check_where(
        Expr::Like {
            expr: Box::new(col("n", Ty::Number)),
            pattern: Box::new(
                Expr::ContainsPattern(Box::new(Expr::col("t", "m"))).typed(Ty::Number),
            ),
            negated: true,
        },
        expect![[r#"
            sqlite:   (`t`.`n` NOT LIKE ('%' || `t`.`m` || '%') ESCAPE '\')
            postgres: (NOT sb_like(sb_num_text(("t"."n")::float8), ('%' || sb_num_text(("t"."m")::float8) || '%')))
        "#]],
    );
    check_where(
        Expr::Like {
            expr: Box::new(extract("meta", &["a b"]).typed(Ty::Json)),
            pattern: Box::new(col("tags", Ty::JsonText)),
            negated: false,
        },
        expect![[r#"
            sqlite:   (JSON_EXTRACT(`t`.`meta`, ?) LIKE `t`.`tags` ESCAPE '\')
                      [Text("$.\"a b\"")]
            postgres: (sb_like(sb_jt((("t"."meta")::json -> $1::text)), ("t"."tags")::text))
                      [Text("a b")]
        "#]],
    );
}

#[test]
fn json_nodes() {
    check_where(
        cmp(
            CmpOp::Gt,
            Expr::JsonArrayLength(Box::new(col("tags", Ty::JsonText))).typed(Ty::Number),
            param(1.0),
        ),
        expect![[r#"
            sqlite:   (json_array_length(CASE WHEN json_valid(`t`.`tags`) THEN `t`.`tags` WHEN `t`.`tags` IS NULL THEN NULL ELSE json_array(`t`.`tags`) END) > ?)
                      [Float(1.0)]
            postgres: ((CASE WHEN json_typeof(("t"."tags")::json) = 'array' THEN json_array_length(("t"."tags")::json) WHEN ("t"."tags")::json IS NULL THEN NULL ELSE 0 END) > $1::float8)
                      [Float(1.0)]
        "#]],
    );
    check_where(
        Expr::IsNull {
            expr: Box::new(Expr::JsonArrayLength(Box::new(col("title", Ty::Text)))),
            negated: true,
        },
        expect![[r#"
            sqlite:   (json_array_length(CASE WHEN json_valid(`t`.`title`) THEN `t`.`title` WHEN `t`.`title` IS NULL THEN NULL ELSE json_array(`t`.`title`) END) IS NOT NULL)
            postgres: (sb_json_len("t"."title") IS NOT NULL)
        "#]],
    );
    // Keys are quoted in the path; a key with a double quote cannot be addressed.
    check_where(
        Expr::IsNull { expr: Box::new(extract("meta", &["a.b", "x\\y", "3"])), negated: false },
        expect![[r#"
            sqlite:   (JSON_EXTRACT(`t`.`meta`, ?) IS NULL)
                      [Text("$.\"a.b\".\"x\\\\y\"[3]")]
            postgres: ((("t"."meta")::json -> $1::text -> $2::text -> 3) IS NULL)
                      [Text("a.b"), Text("x\\y")]
        "#]],
    );
    check_where(
        Expr::IsNull { expr: Box::new(extract("meta", &["a\"b"])), negated: false },
        expect![[r#"
            sqlite:   (NULL IS NULL)
            postgres: (NULL::json IS NULL)
        "#]],
    );
    check_where(
        Expr::IsNull {
            expr: Box::new(Expr::JsonText(Box::new(Expr::col("t", "tags")))),
            negated: false,
        },
        expect![[r#"
            sqlite:   (`t`.`tags` IS NULL)
            postgres: (("t"."tags")::text IS NULL)
        "#]],
    );
}

#[test]
fn json_each_joins_and_one() {
    let each = |x: Typed, kind: JoinKind| Join {
        kind,
        source: JoinSource::JsonEach(Box::new(x)),
        alias: "je".into(),
        on: None,
    };
    check(
        Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::col("je", "value"), alias: None }],
            from: Some(FromItem::One { alias: "o".into() }),
            joins: vec![
                Join {
                    kind: JoinKind::Left,
                    source: JoinSource::Table("posts".into()),
                    alias: "t".into(),
                    on: Some(Expr::Int(1)),
                },
                each(col("tags", Ty::JsonText), JoinKind::Left),
                each(col("title", Ty::Text), JoinKind::Inner),
            ],
            ..Select::default()
        }),
        expect![[r#"
            sqlite:   SELECT `je`.`value` FROM (SELECT 1) AS `o` LEFT JOIN `posts` AS `t` ON 1 LEFT JOIN json_each(CASE WHEN `t`.`tags` IS NULL THEN json_array() WHEN json_valid(`t`.`tags`) THEN (CASE WHEN json_type(`t`.`tags`) = 'array' THEN `t`.`tags` ELSE json_array(`t`.`tags`) END) ELSE json_array(`t`.`tags`) END) AS `je` ON 1 INNER JOIN json_each(CASE WHEN `t`.`title` IS NULL THEN json_array() WHEN json_valid(`t`.`title`) THEN (CASE WHEN json_type(`t`.`title`) = 'array' THEN `t`.`title` ELSE json_array(`t`.`title`) END) ELSE json_array(`t`.`title`) END) AS `je` ON 1
            postgres: SELECT "je"."value" FROM (SELECT 1) AS "o" LEFT JOIN "posts" AS "t" ON TRUE LEFT JOIN LATERAL json_array_elements_text(CASE WHEN ("t"."tags")::json IS NULL THEN '[]'::json WHEN json_typeof(("t"."tags")::json) = 'array' THEN ("t"."tags")::json ELSE json_build_array((("t"."tags")::json)::text) END) AS "je"("value") ON TRUE INNER JOIN LATERAL json_array_elements_text(sb_each("t"."title")) AS "je"("value") ON TRUE
        "#]],
    );
}

#[test]
fn functions() {
    check_where(
        cmp(
            CmpOp::Eq,
            Expr::Strftime {
                format: Box::new(Expr::param("%Y-%m")),
                time: Some(Box::new(col("created", Ty::Text))),
                modifiers: vec![Expr::param("start of month"), Expr::Str("+1 day")],
            }
            .typed(Ty::Text),
            Expr::Strftime { format: Box::new(Expr::Str("%Y")), time: None, modifiers: vec![] }
                .typed(Ty::Text),
        ),
        expect![[r#"
            sqlite:   (strftime(?, `t`.`created`, ?, '+1 day') = strftime('%Y'))
                      [Text("%Y-%m"), Text("start of month")]
            postgres: (sb_strftime($1::text, to_jsonb("t"."created"), ARRAY[$2::text, ('+1 day')::text]::text[]) = sb_strftime(('%Y')::text, '"now"'::jsonb, ARRAY[]::text[]))
                      [Text("%Y-%m"), Text("start of month")]
        "#]],
    );
    check_where(
        cmp(
            CmpOp::Lt,
            Expr::GeoDistance {
                lon_a: Box::new(extract("loc", &["lon"]).typed(Ty::Json)),
                lat_a: Box::new(extract("loc", &["lat"]).typed(Ty::Json)),
                lon_b: Box::new(param(23.3)),
                lat_b: Box::new(col("lat", Ty::Number)),
            }
            .typed(Ty::Number),
            param(5.0),
        ),
        expect![[r#"
            sqlite:   ((6371 * acos(MIN(1.0, MAX(-1.0, cos(radians(JSON_EXTRACT(`t`.`loc`, ?))) * cos(radians(`t`.`lat`)) * cos(radians(?) - radians(JSON_EXTRACT(`t`.`loc`, ?))) + sin(radians(JSON_EXTRACT(`t`.`loc`, ?))) * sin(radians(`t`.`lat`)))))) < ?)
                      [Text("$.\"lat\""), Float(23.3), Text("$.\"lon\""), Text("$.\"lat\""), Float(5.0)]
            postgres: ((6371 * acos(sb_clamp1(cos(radians(sb_num(sb_vj((("t"."loc")::json -> $1::text))))) * cos(radians(("t"."lat")::float8)) * cos(radians(($2::float8)::float8) - radians(sb_num(sb_vj((("t"."loc")::json -> $3::text))))) + sin(radians(sb_num(sb_vj((("t"."loc")::json -> $4::text))))) * sin(radians(("t"."lat")::float8))))) < $5::float8)
                      [Text("lat"), Float(23.3), Text("lon"), Text("lat"), Float(5.0)]
        "#]],
    );
    check(
        Stmt::Select(Select {
            columns: vec![
                SelectItem::Expr { expr: Expr::CountStar, alias: Some("n".into()) },
                SelectItem::All(Some("t".into())),
            ],
            from: Some(FromItem::Table { name: "posts".into(), alias: Some("t".into()) }),
            where_: Some(Expr::and(vec![])),
            order_by: vec![OrderBy { expr: Expr::Random, desc: false }],
            limit: Some(1),
            ..Select::default()
        }),
        expect![[r#"
            sqlite:   SELECT COUNT(*) AS `n`, `t`.* FROM `posts` AS `t` WHERE 1 ORDER BY RANDOM() ASC LIMIT 1
            postgres: SELECT COUNT(*) AS "n", "t".* FROM "posts" AS "t" WHERE TRUE ORDER BY random() ASC NULLS FIRST LIMIT 1
        "#]],
    );
}

#[test]
fn select_structure() {
    let sub = Select {
        columns: vec![SelectItem::Expr { expr: Expr::col("c", "post"), alias: None }],
        from: Some(FromItem::Table { name: "comments".into(), alias: Some("c".into()) }),
        where_: Some(cmp(CmpOp::Eq, col("title", Ty::Text), param("x"))),
        ..Select::default()
    };
    check(
        Stmt::Select(Select {
            distinct: true,
            columns: vec![SelectItem::All(Some("t".into()))],
            from: Some(FromItem::Subquery { select: Box::new(sub.clone()), alias: "s".into() }),
            where_: Some(Expr::Or(vec![
                Expr::Exists { select: Box::new(sub.clone()), negated: true },
                Expr::InSelect {
                    expr: Box::new(Expr::RowId { table: Some("t".into()) }),
                    select: Box::new(sub.clone()),
                    negated: false,
                },
                Expr::InList { expr: Box::new(Expr::col("t", "id")), list: vec![], negated: false },
                Expr::InList {
                    expr: Box::new(Expr::col("t", "id")),
                    list: vec![Expr::param("a"), Expr::param("b")],
                    negated: true,
                },
                Expr::Not(Box::new(Expr::Param(Value::Int(0)))),
            ])),
            group_by: vec![Expr::col("t", "id")],
            order_by: vec![
                OrderBy { expr: Expr::col("t", "created"), desc: true },
                OrderBy { expr: extract("meta", &["n"]), desc: false },
                OrderBy { expr: Expr::Lower(Box::new(Expr::col("t", "title"))), desc: true },
                OrderBy { expr: Expr::RowId { table: Some("t".into()) }, desc: false },
                OrderBy { expr: Expr::Subquery(Box::new(sub)), desc: false },
            ],
            limit: None,
            offset: Some(20),
            ..Select::default()
        }),
        expect![[r#"
            sqlite:   SELECT DISTINCT `t`.* FROM (SELECT `c`.`post` FROM `comments` AS `c` WHERE (`t`.`title` = ?)) AS `s` WHERE (NOT EXISTS (SELECT `c`.`post` FROM `comments` AS `c` WHERE (`t`.`title` = ?)) OR (`t`.rowid IN (SELECT `c`.`post` FROM `comments` AS `c` WHERE (`t`.`title` = ?))) OR 0 OR (`t`.`id` NOT IN (?, ?)) OR NOT (?)) GROUP BY `t`.`id` ORDER BY `t`.`created` DESC, JSON_EXTRACT(`t`.`meta`, ?) ASC, LOWER(`t`.`title`) DESC, `t`.rowid ASC, (SELECT `c`.`post` FROM `comments` AS `c` WHERE (`t`.`title` = ?)) ASC LIMIT -1 OFFSET 20
                      [Text("x"), Text("x"), Text("x"), Text("a"), Text("b"), Int(0), Text("$.\"n\""), Text("x")]
            postgres: SELECT DISTINCT "t".* FROM (SELECT "c"."post" FROM "comments" AS "c" WHERE ("t"."title" = $1::text)) AS "s" WHERE (NOT EXISTS (SELECT "c"."post" FROM "comments" AS "c" WHERE ("t"."title" = $2::text)) OR ("t"."_rowid" IN (SELECT "c"."post" FROM "comments" AS "c" WHERE ("t"."title" = $3::text))) OR FALSE OR ("t"."id" NOT IN ($4::text, $5::text)) OR NOT (($6::int8 <> 0))) GROUP BY "t"."id" ORDER BY "t"."created" DESC NULLS LAST, sb_sort_key(sb_vj((("t"."meta")::json -> $7::text))) ASC, (sb_lower(sb_text("t"."title"))) COLLATE "C" DESC NULLS LAST, "t"."_rowid" ASC NULLS FIRST, sb_sort_key(sb_val((SELECT "c"."post" FROM "comments" AS "c" WHERE ("t"."title" = $8::text)))) ASC OFFSET 20
                      [Text("x"), Text("x"), Text("x"), Text("a"), Text("b"), Int(0), Text("n"), Text("x")]
        "#]],
    );
    check_where(
        Expr::Case {
            whens: vec![(
                Expr::Int(1),
                Expr::Arith {
                    op: ArithOp::Sub,
                    lhs: Box::new(Expr::Int(3)),
                    rhs: Box::new(Expr::param(1i64)),
                },
            )],
            else_: Some(Box::new(Expr::Null)),
        },
        expect![[r#"
            sqlite:   CASE WHEN 1 THEN (3 - ?) ELSE NULL END
                      [Int(1)]
            postgres: CASE WHEN TRUE THEN (3 - $1::int8) ELSE NULL END
                      [Int(1)]
        "#]],
    );
}

#[test]
fn dml() {
    check(
        Stmt::Insert(Insert {
            table: "posts".into(),
            columns: vec!["id".into(), "n".into(), "ok".into(), "meta".into(), "x".into()],
            values: vec![
                Expr::param("a'b"),
                Expr::param(2.5),
                Expr::param(true),
                Expr::Param(Value::Json("{\"a\":1}".into())),
                Expr::Param(Value::Null),
            ],
        }),
        expect![[r#"
            sqlite:   INSERT INTO `posts` (`id`, `n`, `ok`, `meta`, `x`) VALUES (?, ?, ?, ?, ?)
                      [Text("a'b"), Float(2.5), Bool(true), Json("{\"a\":1}"), Null]
            postgres: INSERT INTO "posts" ("id", "n", "ok", "meta", "x") VALUES ($1::text, $2::float8, $3::bool, $4::json, NULL)
                      [Text("a'b"), Float(2.5), Bool(true), Json("{\"a\":1}")]
        "#]],
    );
    check(
        Stmt::Update(Update {
            table: "we`ird\"".into(),
            set: vec![("title".into(), Expr::Str("it's"))],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param("x"), Ty::Text)),
        }),
        expect![[r#"
            sqlite:   UPDATE `we``ird"` SET `title` = 'it''s' WHERE (`id` = ?)
                      [Text("x")]
            postgres: UPDATE "we`ird""" SET "title" = 'it''s' WHERE ("id" = $1::text)
                      [Text("x")]
        "#]],
    );
    check(
        Stmt::Delete(Delete { table: "posts".into(), where_: None }),
        expect![[r#"
            sqlite:   DELETE FROM `posts`
            postgres: DELETE FROM "posts"
        "#]],
    );
}

#[test]
fn raw_placeholders() {
    check(
        Stmt::Raw {
            sql: "SELECT '?', \"a?\", ? -- ?\n, /* ? */ ?, ?".into(),
            params: vec![Value::Int(1), Value::Null, Value::Json("[]".into())],
        },
        expect![[r#"
            sqlite:   SELECT '?', "a?", ? -- ?
            , /* ? */ ?, ?
                      [Int(1), Null, Json("[]")]
            postgres: SELECT '?', "a?", $1::int8 -- ?
            , /* ? */ NULL, $2::json
                      [Int(1), Json("[]")]
        "#]],
    );
}

fn column(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef { name: name.into(), ty, primary_key: false, not_null: false, default: None }
}

#[test]
fn ddl() {
    check(
        Stmt::CreateTable(CreateTable {
            name: "posts".into(),
            if_not_exists: true,
            rowid: true,
            columns: vec![
                ColumnDef { primary_key: true, ..column("id", ColumnType::Text) },
                column("title", ColumnType::Text),
                column("n", ColumnType::Number),
                column("ok", ColumnType::Bool),
                column("meta", ColumnType::Json),
                ColumnDef {
                    default: Some(Value::Json("[]".into())),
                    not_null: true,
                    ..column("tags", ColumnType::Json)
                },
                column("seq", ColumnType::Integer),
                ColumnDef { default: Some(Value::Float(1.5)), ..column("m", ColumnType::Number) },
            ],
        }),
        expect![[r#"
            sqlite:   CREATE TABLE IF NOT EXISTS `posts` (`id` TEXT PRIMARY KEY NOT NULL, `title` TEXT DEFAULT '' NOT NULL, `n` NUMERIC DEFAULT 0 NOT NULL, `ok` BOOLEAN DEFAULT FALSE NOT NULL, `meta` JSON DEFAULT NULL, `tags` JSON DEFAULT '[]' NOT NULL, `seq` INTEGER, `m` NUMERIC DEFAULT 1.5 NOT NULL)
            postgres: CREATE TABLE IF NOT EXISTS "posts" ("_rowid" BIGINT GENERATED ALWAYS AS IDENTITY, "id" TEXT COLLATE "C" PRIMARY KEY NOT NULL, "title" TEXT COLLATE "C" NOT NULL DEFAULT '', "n" DOUBLE PRECISION NOT NULL DEFAULT 0, "ok" BOOLEAN NOT NULL DEFAULT FALSE, "meta" JSON, "tags" JSON NOT NULL DEFAULT '[]', "seq" BIGINT, "m" DOUBLE PRECISION NOT NULL DEFAULT 1.5)
        "#]],
    );
    check(
        Stmt::AddColumn { table: "posts".into(), column: column("x", ColumnType::Text) },
        expect![[r#"
            sqlite:   ALTER TABLE `posts` ADD COLUMN `x` TEXT DEFAULT '' NOT NULL
            postgres: ALTER TABLE "posts" ADD COLUMN "x" TEXT COLLATE "C" NOT NULL DEFAULT ''
        "#]],
    );
    let mut out = String::new();
    for stmt in [
        Stmt::DropColumn { table: "posts".into(), column: "x".into() },
        Stmt::RenameColumn { table: "posts".into(), from: "x".into(), to: "y".into() },
        Stmt::RenameTable { from: "posts".into(), to: "articles".into() },
        Stmt::DropTable { name: "posts".into(), if_exists: true },
        Stmt::DropIndex { name: "idx".into(), if_exists: false },
        Stmt::CreateView { name: "v".into(), sql: "SELECT id FROM posts".into() },
        Stmt::DropView { name: "v".into(), if_exists: true },
    ] {
        out.push_str(&show(&stmt));
    }
    expect![[r#"
        sqlite:   ALTER TABLE `posts` DROP COLUMN `x`
        postgres: ALTER TABLE "posts" DROP COLUMN "x"
        sqlite:   ALTER TABLE `posts` RENAME COLUMN `x` TO `y`
        postgres: ALTER TABLE "posts" RENAME COLUMN "x" TO "y"
        sqlite:   ALTER TABLE `posts` RENAME TO `articles`
        postgres: ALTER TABLE "posts" RENAME TO "articles"
        sqlite:   DROP TABLE IF EXISTS `posts`
        postgres: DROP TABLE IF EXISTS "posts"
        sqlite:   DROP INDEX `idx`
        postgres: DROP INDEX "idx"
        sqlite:   CREATE VIEW `v` AS SELECT id FROM posts
        postgres: CREATE VIEW "v" AS SELECT id FROM posts
        sqlite:   DROP VIEW IF EXISTS `v`
        postgres: DROP VIEW IF EXISTS "v"
    "#]]
    .assert_eq(&out);
}

fn check_index(sql: &str, expect: Expect) {
    let shown = match parse_index(sql) {
        Ok(def) => {
            let reparsed = parse_index(&def.to_sqlite());
            assert_eq!(reparsed.as_ref(), Ok(&def), "to_sqlite must round-trip");
            format!("{def:?}\n{}", show(&Stmt::CreateIndex(def.clone())))
        }
        Err(e) => format!("error: {e}\n"),
    };
    expect.assert_eq(&shown);
}

#[test]
fn index_parsing_and_rendering() {
    check_index(
        "CREATE INDEX `idx_x` ON `posts` (`title`)",
        expect![[r#"
            IndexDef { name: "idx_x", table: "posts", unique: false, if_not_exists: false, columns: [IndexColumn { name: "title", is_expr: false, nocase: false, desc: false }], where_: None }
            sqlite:   CREATE INDEX `idx_x` ON `posts` (`title`)
            postgres: CREATE INDEX "idx_x" ON "posts" ("title")
        "#]],
    );
    check_index(
        "create unique index if not exists [idx u]\n on \"my \"\"t\"\"\"(\n  name COLLATE nocase,\n  `b` desc, (lower([c]))  ASC\n) where `email` != '' and [x] = 'a`b'",
        expect![[r#"
            IndexDef { name: "idx u", table: "my \"t\"", unique: true, if_not_exists: true, columns: [IndexColumn { name: "name", is_expr: false, nocase: true, desc: false }, IndexColumn { name: "b", is_expr: false, nocase: false, desc: true }, IndexColumn { name: "(lower([c]))", is_expr: true, nocase: false, desc: false }], where_: Some("`email` != '' and [x] = 'a`b'") }
            sqlite:   CREATE UNIQUE INDEX IF NOT EXISTS `idx u` ON `my "t"` (
              `name` COLLATE NOCASE,
              `b` DESC,
              (lower([c]))
            ) WHERE `email` != '' and [x] = 'a`b'
            postgres: CREATE UNIQUE INDEX IF NOT EXISTS "idx u" ON "my ""t""" (sb_lower(("name")::text), "b" DESC, ((lower("c")))) WHERE "email" != '' and "x" = 'a`b'
        "#]],
    );
    check_index(
        "CREATE INDEX idx ON t (a COLLATE NOCASE DESC);",
        expect![[r#"
            IndexDef { name: "idx", table: "t", unique: false, if_not_exists: false, columns: [IndexColumn { name: "a", is_expr: false, nocase: true, desc: true }], where_: None }
            sqlite:   CREATE INDEX `idx` ON `t` (`a` COLLATE NOCASE DESC)
            postgres: CREATE INDEX "idx" ON "t" ("a" DESC)
        "#]],
    );
    check_index(
        "CREATE UNIQUE INDEX main.idx ON t (`a,b`, (a || ','), `c` COLLATE BINARY)",
        expect![[r#"
            IndexDef { name: "idx", table: "t", unique: true, if_not_exists: false, columns: [IndexColumn { name: "a,b", is_expr: false, nocase: false, desc: false }, IndexColumn { name: "(a || ',')", is_expr: true, nocase: false, desc: false }, IndexColumn { name: "c", is_expr: false, nocase: false, desc: false }], where_: None }
            sqlite:   CREATE UNIQUE INDEX `idx` ON `t` (
              `a,b`,
              (a || ','),
              `c`
            )
            postgres: CREATE UNIQUE INDEX "idx" ON "t" ("a,b", ((a || ',')), "c")
        "#]],
    );
    let errors = [
        "",
        "CREATE TABLE x (a)",
        "CREATE INDEX ON t (a)",
        "CREATE INDEX i ON t",
        "CREATE INDEX i ON t ()",
        "CREATE INDEX i ON t (a,)",
        "CREATE INDEX i ON t (a",
        "CREATE INDEX i ON t (a) WHERE",
        "CREATE INDEX i ON t (a) garbage",
        "CREATE INDEX i ON t (a COLLATE rtrim)",
        "CREATE INDEX `i ON t (a)",
        "CREATE INDEX i ON t ([a)",
        "CREATE INDEX i ON t (a)) x",
        "CREATE INDEX é ON t (a COLLATE)",
    ];
    let shown: Vec<String> = errors
        .iter()
        .map(|s| format!("{s:?} -> {:?}", parse_index(s).map(|d| d.to_sqlite())))
        .collect();
    expect![[r#"
        "" -> Err("expected CREATE")
        "CREATE TABLE x (a)" -> Err("expected INDEX")
        "CREATE INDEX ON t (a)" -> Err("expected ON")
        "CREATE INDEX i ON t" -> Err("expected a column list")
        "CREATE INDEX i ON t ()" -> Err("empty index column")
        "CREATE INDEX i ON t (a,)" -> Err("empty index column")
        "CREATE INDEX i ON t (a" -> Err("unbalanced parentheses")
        "CREATE INDEX i ON t (a) WHERE" -> Err("empty WHERE clause")
        "CREATE INDEX i ON t (a) garbage" -> Err("unexpected text after the column list: \"garbage\"")
        "CREATE INDEX i ON t (a COLLATE rtrim)" -> Err("unsupported collation \"rtrim\"")
        "CREATE INDEX `i ON t (a)" -> Err("expected a name")
        "CREATE INDEX i ON t ([a)" -> Err("unbalanced parentheses")
        "CREATE INDEX i ON t (a)) x" -> Err("unexpected text after the column list: \") x\"")
        "CREATE INDEX é ON t (a COLLATE)" -> Ok("CREATE INDEX `é` ON `t` (a COLLATE)")"#]]
    .assert_eq(&shown.join("\n"));
}

#[test]
fn table_name_rewrite_keeps_the_rest() {
    let mut def =
        parse_index("CREATE UNIQUE INDEX `idx_email_x` ON `` (`email`) WHERE `email` != ''")
            .expect("valid index");
    def.table = "users".into();
    assert_eq!(
        def.to_sqlite(),
        "CREATE UNIQUE INDEX `idx_email_x` ON `users` (`email`) WHERE `email` != ''"
    );
}

#[test]
fn sqlite_numeric_text() {
    use crate::postgres::sqlite_numeric;
    let cases = [
        ("5", Some(5.0)),
        (" 1.5 ", Some(1.5)),
        ("+.5", Some(0.5)),
        ("5.", Some(5.0)),
        ("-1e3", Some(-1000.0)),
        ("1E+2", Some(100.0)),
        ("", None),
        (".", None),
        ("1e", None),
        ("abc", None),
        ("0x10", None),
        ("1 2", None),
        ("inf", None),
    ];
    for (s, want) in cases {
        assert_eq!(sqlite_numeric(s), want, "{s:?}");
    }
}

#[test]
fn footprint_names_every_table_read_and_written() {
    let sub = |table: &str| Select {
        columns: vec![SelectItem::All(None)],
        from: Some(FromItem::Table { name: table.into(), alias: None }),
        ..Select::default()
    };
    let select = Stmt::Select(Select {
        from: Some(FromItem::Table { name: "posts".into(), alias: Some("t".into()) }),
        joins: vec![Join {
            kind: JoinKind::Left,
            source: JoinSource::Table("users".into()),
            alias: "u".into(),
            on: None,
        }],
        where_: Some(Expr::Or(vec![
            Expr::Exists { select: Box::new(sub("tags")), negated: false },
            Expr::Case {
                whens: vec![(Expr::Subquery(Box::new(sub("users"))), Expr::Null)],
                else_: Some(Box::new(Expr::InSelect {
                    expr: Box::new(Expr::Null),
                    select: Box::new(sub("comments")),
                    negated: true,
                })),
            },
        ])),
        ..Select::default()
    });
    let fp = select.footprint();
    assert_eq!(fp.reads, ["posts", "users", "tags", "comments"]);
    assert!(fp.writes.is_empty() && !fp.opaque);

    let update = Stmt::Update(Update {
        table: "posts".into(),
        set: vec![("n".into(), Expr::Subquery(Box::new(sub("stats"))))],
        where_: Some(Expr::Exists { select: Box::new(sub("users")), negated: false }),
    });
    let fp = update.footprint();
    assert_eq!(fp.reads, ["stats", "users"]);
    assert_eq!(fp.writes, ["posts"]);

    assert!(Stmt::Raw { sql: "DELETE FROM x".into(), params: vec![] }.footprint().opaque);
    assert!(Stmt::DropTable { name: "x".into(), if_exists: true }.footprint().opaque);
}

#[test]
fn footprint_confines_statements_pinned_to_one_id_to_that_row() {
    let by_id = |alias: &str, id: &str| Expr::eq(Expr::col(alias, "id"), Expr::param(id), Ty::Text);
    let view = Stmt::Select(Select {
        from: Some(FromItem::Table { name: "posts".into(), alias: Some("t".into()) }),
        where_: Some(Expr::And(vec![by_id("t", "p1"), Expr::Null])),
        ..Select::default()
    });
    let fp = view.footprint();
    assert_eq!(fp.rows_read, [("posts".to_owned(), "p1".to_owned())]);
    assert!(fp.reads.is_empty());

    // The same table read as a whole elsewhere in the statement: a table read.
    let sub = Select {
        from: Some(FromItem::Table { name: "posts".into(), alias: Some("o".into()) }),
        ..Select::default()
    };
    let with_rule = Stmt::Select(Select {
        from: Some(FromItem::Table { name: "posts".into(), alias: Some("t".into()) }),
        where_: Some(Expr::And(vec![
            by_id("t", "p1"),
            Expr::Exists { select: Box::new(sub), negated: false },
        ])),
        ..Select::default()
    });
    let fp = with_rule.footprint();
    assert_eq!(fp.reads, ["posts"]);
    assert!(fp.rows_read.is_empty());

    // An id compared under an OR, or of another alias, pins nothing.
    let either = Stmt::Select(Select {
        from: Some(FromItem::Table { name: "posts".into(), alias: Some("t".into()) }),
        where_: Some(Expr::Or(vec![by_id("t", "p1"), by_id("t", "p2")])),
        ..Select::default()
    });
    assert_eq!(either.footprint().reads, ["posts"]);

    let update = Stmt::Update(Update {
        table: "posts".into(),
        set: vec![("title".into(), Expr::param("x"))],
        where_: Some(Expr::And(vec![Expr::eq(Expr::bare("id"), Expr::param("p1"), Ty::Text)])),
    });
    assert_eq!(update.footprint().rows_written, [("posts".to_owned(), "p1".to_owned())]);
    // Columns qualified by the table's own name, as record writes spell them.
    let qualified = Stmt::Delete(Delete {
        table: "posts".into(),
        where_: Some(Expr::eq(Expr::col("posts", "id"), Expr::param("p1"), Ty::Text)),
    });
    assert_eq!(qualified.footprint().rows_written, [("posts".to_owned(), "p1".to_owned())]);
    let renames_id = Stmt::Update(Update {
        table: "posts".into(),
        set: vec![("id".into(), Expr::param("p9"))],
        where_: Some(Expr::eq(Expr::bare("id"), Expr::param("p1"), Ty::Text)),
    });
    assert_eq!(renames_id.footprint().writes, ["posts"]);
    let insert = Stmt::Insert(Insert {
        table: "posts".into(),
        columns: vec!["title".into(), "id".into()],
        values: vec![Expr::param("t"), Expr::param("p2")],
    });
    assert_eq!(insert.footprint().rows_written, [("posts".to_owned(), "p2".to_owned())]);
    let delete_all = Stmt::Delete(Delete { table: "posts".into(), where_: None });
    assert_eq!(delete_all.footprint().writes, ["posts"]);
}
