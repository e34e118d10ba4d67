//! Differential tests: the same trees, rendered for SQLite and PostgreSQL, must give the same
//! results on the same data. SQLite is the reference.
//!
//! Every test creates the same table in an in-memory SQLite and in a fresh PostgreSQL database
//! (`SCALEBASE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`), fills it
//! with tricky values, evaluates many generated expressions per row on both, and compares the
//! cells (three-valued: a NULL where SQLite has false is a failure too).

mod harness;

use harness::{Dbs, Out};
use sb_sql::*;

const TEXTS: &[&str] = &[
    "",
    "0",
    "1.5",
    "5",
    "5.0",
    " 5 ",
    "1e2",
    "abc",
    "ABC",
    "abd",
    "É",
    "é",
    "%",
    "_",
    "\\",
    "a%b",
    "a_b",
    "a\\b",
    "true",
    "null",
    "[1,2]",
    "{\"a\":1}",
    "\"q\"",
    "2024-01-31 10:20:30.123Z",
    "2024-02-29",
    "2024-03-31 23:59:59",
    "12:30",
    "1700000000",
    "2460000.5",
    "-1",
    "Zz",
    "0.1",
];

const NUMS: &[f64] = &[
    0.0,
    1.0,
    -1.0,
    1.5,
    5.0,
    100.0,
    1e20,
    0.1,
    -2.5,
    1700000000.0,
    2460000.5,
    123456789.125,
    0.30000000000000004,
    1e-7,
    12.0,
];

/// Values of `js.a` (JSON text).
const JSONS: &[&str] = &[
    "5",
    "5.0",
    "1.5",
    "\"5\"",
    "\"abc\"",
    "\"\"",
    "true",
    "false",
    "null",
    "[1,2]",
    "{\"x\":1}",
    "\"É\"",
    "0",
    "-0.5",
    "1e2",
    "\"1.5\"",
    "\"2024-01-31 10:20:30.123Z\"",
    "1700000000",
    "[\"a\",\"b\"]",
    "[]",
    "\"%\"",
    "12345678901234567890",
    "0.1",
];

/// Values of the `tags` column (JSON text; `None` = SQL NULL).
const TAGS: &[Option<&str>] = &[
    Some("[\"a\",\"b\"]"),
    Some("[]"),
    Some("[\"abc\",\"5\"]"),
    Some("\"abc\""),
    Some("5"),
    None,
    Some("null"),
    Some("[\"a\"]"),
    Some("{\"a\":1}"),
    Some("[\"É\",\"%\",\"\"]"),
    Some("1.5"),
    Some("\"\""),
    Some("[1,2.5,\"x\"]"),
];

/// Values of the `sel` column: string arrays and non-array values (what multi-value fields and
/// the `JsonEach` guard see).
const SELS: &[Option<&str>] = &[
    Some("[\"a\",\"b\"]"),
    Some("[]"),
    Some("[\"abc\",\"5\"]"),
    Some("\"abc\""),
    None,
    Some("[\"a\"]"),
    Some("[\"É\",\"%\",\"\"]"),
    Some("\"\""),
    Some("{\"a\":\"b\"}"),
    Some("null"),
];

const ROWS: usize = 32;

fn id(i: usize) -> String {
    format!("r{i:02}")
}

fn js_of(i: usize) -> Option<String> {
    if i % 7 == 6 {
        return None;
    }
    let a = JSONS[i % JSONS.len()];
    let b = JSONS[(i + 3) % JSONS.len()];
    let lon = ((i * 37) % 360) as f64 - 180.0 + 0.25;
    let lat = ((i * 17) % 180) as f64 - 90.0 + 0.5;
    let lon = if i % 5 == 2 { format!("\"{lon}\"") } else { format!("{lon}") };
    Some(format!(
        "{{\"a\":{a},\"arr\":[{b},\"z\"],\"n\":{{\"k\":{b}}},\"a b\":\"x\",\"lon\":{lon},\"lat\":{lat}}}"
    ))
}

fn table_def() -> CreateTable {
    let c = |name: &str, ty| ColumnDef {
        name: name.into(),
        ty,
        primary_key: false,
        not_null: false,
        default: None,
    };
    CreateTable {
        name: "t".into(),
        if_not_exists: false,
        rowid: true,
        columns: vec![
            ColumnDef { primary_key: true, ..c("id", ColumnType::Text) },
            c("txt", ColumnType::Text),
            c("num", ColumnType::Number),
            c("flag", ColumnType::Bool),
            c("js", ColumnType::Json),
            c("tags", ColumnType::Json),
            c("sel", ColumnType::Json),
            c("other", ColumnType::Text),
        ],
    }
}

async fn setup() -> Dbs {
    let dbs = Dbs::new().await;
    dbs.exec(&Stmt::CreateTable(table_def())).await;
    let json = |s: Option<&str>| s.map_or(Value::Null, |s| Value::Json(s.to_owned()));
    for i in 0..ROWS {
        let other = if i % 4 == 0 { String::new() } else { id((i * 7 + 3) % ROWS) };
        let insert = Insert {
            table: "t".into(),
            columns: ["id", "txt", "num", "flag", "js", "tags", "sel", "other"]
                .map(String::from)
                .to_vec(),
            values: vec![
                Expr::param(id(i)),
                Expr::param(TEXTS[i % TEXTS.len()]),
                Expr::param(NUMS[i % NUMS.len()]),
                Expr::param(i % 3 == 0),
                Expr::Param(json(js_of(i).as_deref())),
                Expr::Param(json(TAGS[i % TAGS.len()])),
                Expr::Param(json(SELS[i % SELS.len()])),
                Expr::param(other),
            ],
        };
        dbs.exec(&Stmt::Insert(insert)).await;
    }
    dbs
}

/// `t` joined with the row its `other` column names (`n.*` is NULL for a quarter of the rows).
fn base(columns: Vec<Expr>) -> Select {
    let mut items = vec![SelectItem::Expr { expr: Expr::col("t", "id"), alias: None }];
    items.extend(columns.into_iter().map(|expr| SelectItem::Expr { expr, alias: None }));
    Select {
        columns: items,
        from: Some(FromItem::Table { name: "t".into(), alias: Some("t".into()) }),
        joins: vec![Join {
            kind: JoinKind::Left,
            source: JoinSource::Table("t".into()),
            alias: "n".into(),
            on: Some(Expr::eq(Expr::col("n", "id"), Expr::col("t", "other"), Ty::Text)),
        }],
        order_by: vec![OrderBy { expr: Expr::col("t", "id"), desc: false }],
        ..Select::default()
    }
}

/// Evaluates labelled expressions for every row on both databases; returns the mismatches.
async fn compare(dbs: &Dbs, probes: &[(String, Expr)]) -> Vec<String> {
    let mut failures = Vec::new();
    for chunk in probes.chunks(120) {
        let select = base(chunk.iter().map(|(_, e)| e.clone()).collect());
        match (dbs.query_lite(&select), dbs.query_pg(&select).await) {
            (Ok(l), Ok(p)) => {
                for (row_l, row_p) in l.iter().zip(&p) {
                    for (k, (label, _)) in chunk.iter().enumerate() {
                        let (a, b) = (&row_l[k + 1], &row_p[k + 1]);
                        if !a.same(b) {
                            failures.push(format!(
                                "{label} @ {:?}: sqlite {a:?} postgres {b:?}",
                                row_l[0]
                            ));
                        }
                    }
                }
                if l.len() != p.len() {
                    failures.push(format!("row counts differ: {} vs {}", l.len(), p.len()));
                }
            }
            _ if chunk.len() > 1 => {
                // Find the culprit(s) one by one.
                for probe in chunk {
                    failures.extend(Box::pin(compare(dbs, std::slice::from_ref(probe))).await);
                }
            }
            (Err(l), Err(p)) => {
                failures.push(format!("{}: both failed: {l} / {p}", chunk[0].0));
            }
            (l, p) => failures.push(format!(
                "{}: only one failed: sqlite {:?} / postgres {:?}",
                chunk[0].0,
                l.err(),
                p.err()
            )),
        }
    }
    failures
}

async fn finish(dbs: Dbs, what: &str, n: usize, failures: Vec<String>) {
    dbs.drop_pg().await;
    assert!(n > 0, "no probes generated for {what}");
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(40).map(String::as_str).collect();
        panic!("{what}: {} of {n} probes x rows differ:\n{}", failures.len(), shown.join("\n"));
    }
}

type Operand = (String, Typed);

fn op(label: &str, e: Expr, ty: Ty) -> Operand {
    (label.to_owned(), e.typed(ty))
}

fn json_path(col: &str, table: &str, path: &[&str]) -> Expr {
    let path = path
        .iter()
        .map(|s| match s.parse::<u32>() {
            Ok(i) => JsonPathSeg::Index(i),
            Err(_) => JsonPathSeg::Key((*s).to_owned()),
        })
        .collect();
    Expr::JsonExtract { expr: Box::new(Expr::col(table, col)), path }
}

/// Column-ish operands, as the resolver would type them.
fn column_operands() -> Vec<Operand> {
    let mut v = Vec::new();
    for t in ["t", "n"] {
        v.push(op(&format!("{t}.txt"), Expr::col(t, "txt"), Ty::Text));
        v.push(op(&format!("{t}.num"), Expr::col(t, "num"), Ty::Number));
        v.push(op(&format!("{t}.flag"), Expr::col(t, "flag"), Ty::Bool));
        v.push(op(&format!("{t}.js"), Expr::col(t, "js"), Ty::JsonText));
        v.push(op(&format!("{t}.js.a"), json_path("js", t, &["a"]), Ty::Json));
    }
    v.push(op("t.js.arr.0", json_path("js", "t", &["arr", "0"]), Ty::Json));
    v.push(op("t.js.n.k", json_path("js", "t", &["n", "k"]), Ty::Json));
    v.push(op("t.js.missing", json_path("js", "t", &["a", "b", "c"]), Ty::Json));
    v.push(op("t.tags", Expr::col("t", "tags"), Ty::JsonText));
    v.push(op("jsontext(t.tags)", Expr::JsonText(Box::new(Expr::col("t", "tags"))), Ty::JsonText));
    v.push(op("lower(t.txt)", Expr::Lower(Box::new(Expr::col("t", "txt"))), Ty::Text));
    v.push(op(
        "length(t.tags)",
        Expr::JsonArrayLength(Box::new(Expr::col("t", "tags").typed(Ty::JsonText))),
        Ty::Number,
    ));
    v.push(op("rowid", Expr::RowId { table: Some("t".into()) }, Ty::Number));
    // Correlated scalar sub-queries take the affinity of their column.
    let sub = |col: &str| {
        Expr::Subquery(Box::new(Select {
            columns: vec![SelectItem::Expr { expr: Expr::col("x", col), alias: None }],
            from: Some(FromItem::Table { name: "t".into(), alias: Some("x".into()) }),
            where_: Some(Expr::eq(Expr::col("x", "id"), Expr::col("t", "other"), Ty::Text)),
            ..Select::default()
        }))
    };
    v.push(op("(select x.txt)", sub("txt"), Ty::Text));
    v.push(op("(select x.num)", sub("num"), Ty::Number));
    v.push(op("(select x.js)", sub("js"), Ty::JsonText));
    v
}

/// Operands whose type the tree does not know (view columns): PostgreSQL's own type decides.
fn any_operands() -> Vec<Operand> {
    ["txt", "num", "flag", "js", "tags"]
        .iter()
        .map(|c| op(&format!("any(t.{c})"), Expr::col("t", c), Ty::Any))
        .collect()
}

fn value_operands() -> Vec<Operand> {
    let mut v: Vec<Operand> =
        TEXTS.iter().map(|s| op(&format!("{s:?}"), Expr::param(*s), Ty::Text)).collect();
    v.extend(NUMS.iter().map(|n| op(&format!("{n:?}"), Expr::param(*n), Ty::Number)));
    v.push(op("int 5", Expr::param(5i64), Ty::Number));
    v.push(op("int 0", Expr::param(0i64), Ty::Number));
    v.push(op("true", Expr::param(true), Ty::Bool));
    v.push(op("false", Expr::param(false), Ty::Bool));
    v.push(op("null param", Expr::Param(Value::Null), Ty::Null));
    v.push(op("NULL", Expr::Null, Ty::Null));
    v.push(op("json [\"a\",\"b\"]", Expr::Param(Value::Json("[\"a\",\"b\"]".into())), Ty::Text));
    v.push(op("const 1", Expr::Int(1), Ty::Number));
    v.push(op("const 'abc'", Expr::Str("abc"), Ty::Text));
    v
}

const OPS: &[CmpOp] = &[
    CmpOp::Eq,
    CmpOp::Is,
    CmpOp::IsNot,
    CmpOp::Lt,
    CmpOp::Lte,
    CmpOp::Gt,
    CmpOp::Gte,
    CmpOp::LooseEq,
    CmpOp::LooseIsNot,
];

fn cmp(op: CmpOp, l: &Operand, r: &Operand) -> (String, Expr) {
    (
        format!("{} {op:?} {}", l.0, r.0),
        Expr::Cmp { op, lhs: Box::new(l.1.clone()), rhs: Box::new(r.1.clone()) },
    )
}

#[tokio::test]
async fn comparisons_agree() {
    let dbs = setup().await;
    let cols = column_operands();
    let mut rhs = value_operands();
    rhs.extend(cols.iter().cloned());
    let mut probes = Vec::new();
    for &o in OPS {
        for l in &cols {
            for r in &rhs {
                probes.push(cmp(o, l, r));
            }
        }
        // Values on the left of columns, too.
        for l in value_operands() {
            for r in cols.iter().take(10) {
                probes.push(cmp(o, &l, r));
            }
        }
    }
    // Unknown types carry no affinity, so only the affinity-free operators are compared.
    for o in [CmpOp::LooseEq, CmpOp::LooseIsNot] {
        for l in any_operands() {
            for r in rhs.iter().chain(&any_operands()) {
                probes.push(cmp(o, &l, r));
            }
        }
    }
    // Comparisons nested in boolean structure.
    let title_eq = cmp(CmpOp::Eq, &cols[0], &value_operands()[7]).1;
    let num_gt = cmp(CmpOp::Gt, &cols[1], &value_operands()[40]).1;
    probes.push(("not".into(), Expr::Not(Box::new(title_eq.clone()))));
    probes.push(("and".into(), Expr::And(vec![title_eq.clone(), num_gt.clone()])));
    probes.push(("or".into(), Expr::Or(vec![title_eq, num_gt])));
    let failures = compare(&dbs, &probes).await;
    finish(dbs, "comparisons", probes.len(), failures).await;
}

#[tokio::test]
async fn like_agrees() {
    let dbs = setup().await;
    let patterns = [
        "%a%", "a%", "%A%", "%\\%%", "%\\_%", "a\\_b", "a_b", "%É%", "%é%", "5%", "%.5", "_", "%",
        "\\", "abc\\", "%\\\\%", "1.5", "5.0", "%5", "true", "1", "%\"%", "", "%\\", "_\\a%",
        "%z\"%", "A_C", "%1%",
    ];
    let mut pats: Vec<Operand> =
        patterns.iter().map(|p| op(&format!("{p:?}"), Expr::param(*p), Ty::Text)).collect();
    pats.push(op("num 1.5", Expr::param(1.5), Ty::Number));
    pats.push(op("int 5", Expr::param(5i64), Ty::Number));
    pats.push(op("null", Expr::Param(Value::Null), Ty::Null));
    pats.push(op(
        "contains(n.txt)",
        Expr::ContainsPattern(Box::new(Expr::col("n", "txt"))),
        Ty::Text,
    ));
    pats.push(op(
        "contains(n.num)",
        Expr::ContainsPattern(Box::new(Expr::col("n", "num"))),
        Ty::Number,
    ));
    pats.push(op(
        "contains(t.js.a)",
        Expr::ContainsPattern(Box::new(json_path("js", "t", &["a"]))),
        Ty::Json,
    ));
    pats.push(op("t.txt", Expr::col("t", "txt"), Ty::Text));
    let mut probes = Vec::new();
    for l in column_operands() {
        for p in &pats {
            for negated in [false, true] {
                probes.push((
                    format!("{} {}LIKE {}", l.0, if negated { "NOT " } else { "" }, p.0),
                    Expr::Like {
                        expr: Box::new(l.1.clone()),
                        pattern: Box::new(p.1.clone()),
                        negated,
                    },
                ));
            }
        }
    }
    // LOWER and the contains pattern as values.
    for l in column_operands().into_iter().chain(any_operands()) {
        probes.push((format!("lower({})", l.0), Expr::Lower(Box::new(l.1.expr.clone()))));
    }
    probes.push(("lower param".into(), Expr::Lower(Box::new(Expr::param("ÀBÇ dÉ")))));
    let failures = compare(&dbs, &probes).await;
    finish(dbs, "like", probes.len(), failures).await;
}

#[tokio::test]
async fn json_nodes_agree() {
    let dbs = setup().await;
    let mut probes = Vec::new();
    let paths: &[&[&str]] = &[
        &[],
        &["a"],
        &["a", "0"],
        &["a", "x"],
        &["arr"],
        &["arr", "0"],
        &["arr", "1"],
        &["arr", "5"],
        &["0"],
        &["n"],
        &["n", "k"],
        &["a b"],
        &["lon"],
        &["missing"],
    ];
    for p in paths {
        for t in ["t", "n"] {
            probes.push((format!("{t}.js{p:?}"), json_path("js", t, p)));
        }
    }
    for p in [&["0"][..], &["1"], &["a"]] {
        probes.push((format!("tags{p:?}"), json_path("tags", "t", p)));
    }
    let sources: Vec<Operand> = vec![
        op("t.tags", Expr::col("t", "tags"), Ty::JsonText),
        op("t.sel", Expr::col("t", "sel"), Ty::JsonText),
        op("n.sel", Expr::col("n", "sel"), Ty::JsonText),
        op("t.txt", Expr::col("t", "txt"), Ty::Text),
        op("n.txt", Expr::col("n", "txt"), Ty::Text),
        op("t.num", Expr::col("t", "num"), Ty::Number),
        op("t.js.a", json_path("js", "t", &["a"]), Ty::Json),
        op("t.js.arr", json_path("js", "t", &["arr"]), Ty::Json),
        op("param array", Expr::Param(Value::Json("[\"a\",\"b\",\"c\"]".into())), Ty::Text),
        op("param text", Expr::param("plain"), Ty::Text),
        op("jsontext(t.sel)", Expr::JsonText(Box::new(Expr::col("t", "sel"))), Ty::JsonText),
    ];
    for s in &sources {
        probes.push((format!("length({})", s.0), Expr::JsonArrayLength(Box::new(s.1.clone()))));
    }
    // JsonEach: element counts over every kind of source, and per-element predicates over
    // sources whose elements are strings (what multi-value fields hold). Elements that are
    // JSON numbers or booleans are numbers on SQLite but text on PostgreSQL (documented).
    for s in &sources {
        let each = |on: Option<Expr>, kind: JoinKind| Select {
            columns: vec![SelectItem::Expr { expr: Expr::CountStar, alias: None }],
            from: Some(FromItem::One { alias: "o".into() }),
            joins: vec![Join {
                kind,
                source: JoinSource::JsonEach(Box::new(s.1.clone())),
                alias: "je".into(),
                on: None,
            }],
            where_: on,
            ..Select::default()
        };
        probes.push((
            format!("count each({})", s.0),
            Expr::Subquery(Box::new(each(None, JoinKind::Inner))),
        ));
        probes.push((
            format!("count left each({})", s.0),
            Expr::Subquery(Box::new(each(None, JoinKind::Left))),
        ));
        let strings_only = ["t.sel", "n.sel", "jsontext(t.sel)", "param array", "param text"];
        if !strings_only.contains(&s.0.as_str()) {
            continue;
        }
        let value = Expr::col("je", "value").typed(Ty::Text);
        for v in ["a", "b", "abc", "5", "", "É", "%", "plain", "{\"a\":\"b\"}", "\"abc\"", "null"]
        {
            for o in [CmpOp::Eq, CmpOp::IsNot, CmpOp::Gt, CmpOp::LooseEq] {
                let pred = Expr::Cmp {
                    op: o,
                    lhs: Box::new(value.clone()),
                    rhs: Box::new(Expr::param(v).typed(Ty::Text)),
                };
                probes.push((
                    format!("count each({}) where value {o:?} {v:?}", s.0),
                    Expr::Subquery(Box::new(each(Some(pred), JoinKind::Inner))),
                ));
            }
        }
        let like = Expr::Like {
            expr: Box::new(value.clone()),
            pattern: Box::new(Expr::param("%B%").typed(Ty::Text)),
            negated: false,
        };
        probes.push((
            format!("exists each({}) like", s.0),
            Expr::Exists { select: Box::new(each(Some(like), JoinKind::Inner)), negated: false },
        ));
        // The element against another column (ALL/ANY patterns of the resolver).
        let vs_col = Expr::Cmp {
            op: CmpOp::LooseEq,
            lhs: Box::new(value.clone()),
            rhs: Box::new(Expr::col("t", "txt").typed(Ty::Text)),
        };
        probes.push((
            format!("not exists each({}) value != t.txt", s.0),
            Expr::Exists {
                select: Box::new(each(Some(Expr::Not(Box::new(vs_col))), JoinKind::Inner)),
                negated: true,
            },
        ));
    }
    let failures = compare(&dbs, &probes).await;
    finish(dbs, "json", probes.len(), failures).await;
}

#[tokio::test]
async fn strftime_agrees() {
    let dbs = setup().await;
    let formats = [
        "%Y-%m-%d %H:%M:%S",
        "%f|%j|%W|%w|%U|%V|%u|%G|%g",
        "%s",
        "%J",
        "%e|%k|%l|%I|%p|%P|%R|%T|%F|%d|%m",
        "x%%y",
        "%Q",
        "%",
    ];
    let times: Vec<Option<Operand>> = vec![
        Some(op("t.txt", Expr::col("t", "txt"), Ty::Text)),
        Some(op("n.txt", Expr::col("n", "txt"), Ty::Text)),
        Some(op("t.num", Expr::col("t", "num"), Ty::Number)),
        Some(op("t.js.a", json_path("js", "t", &["a"]), Ty::Json)),
        Some(op("t.flag", Expr::col("t", "flag"), Ty::Bool)),
    ];
    let mods: &[&[&str]] = &[
        &[],
        &["start of month"],
        &["start of year"],
        &["start of day"],
        &["+1 month"],
        &["-1 month", "start of year"],
        &["weekday 0"],
        &["weekday 3"],
        &["unixepoch"],
        &["+1.5 days"],
        &["-2 hours", "+30 minutes"],
        &["+45 seconds"],
        &["start of day", "+12:30"],
        &["-01:15:30.5"],
        &["auto"],
        &["julianday"],
        &["subsec"],
        &["+1 year"],
        &["-1 years"],
        &["+13 months", "floor"],
        &["+1 month", "ceiling"],
        &["bogus"],
        &["localtime"],
        &["utc"],
        &["+1 DAY"],
        &["+1day"],
        &["unixepoch", "start of month"],
        &["start of month", "unixepoch"],
        &["+0.5 month"],
        &["+24:00"],
    ];
    let mut probes = Vec::new();
    for f in formats {
        for t in &times {
            for m in mods {
                let label = format!("strftime({f:?}, {}, {m:?})", t.as_ref().map_or("-", |t| &t.0));
                probes.push((
                    label,
                    Expr::Strftime {
                        format: Box::new(Expr::param(f)),
                        time: t.as_ref().map(|t| Box::new(t.1.clone())),
                        modifiers: m.iter().map(|s| Expr::param(*s)).collect(),
                    },
                ));
            }
        }
    }
    let fixed_times = [
        Value::Text("2024-02-29T12:00:00+02:00".into()),
        Value::Text("-0001-01-01".into()),
        Value::Text("12:30:45.678".into()),
        Value::Text("2024-13-01".into()),
        Value::Text("2024-02-30".into()),
        Value::Text("2024-01-31 10:20:30.1239".into()),
        Value::Text("2024-01-31 10:20:30.Z".into()),
        Value::Text("2024-01-31 25:00".into()),
        Value::Text(" 2024-01-31".into()),
        Value::Text("2024-01-31   10:20 Z ".into()),
        Value::Text("2024-01-31 10:20-14:59".into()),
        Value::Text("9999-12-31 23:59:59.999".into()),
        Value::Float(2460000.5),
        Value::Float(-1.0),
        Value::Int(1700000000),
        Value::Float(1700000000.5),
    ];
    for t in &fixed_times {
        for m in [&[][..], &["unixepoch"], &["auto"], &["+1 month"], &["start of year", "-1 day"]] {
            probes.push((
                format!("strftime(full, {t:?}, {m:?})"),
                Expr::Strftime {
                    format: Box::new(Expr::Str("%Y-%m-%d %H:%M:%f %j %W %s %J")),
                    time: Some(Box::new(Expr::Param(t.clone()).typed(Ty::Any))),
                    modifiers: m.iter().map(|s| Expr::param(*s)).collect(),
                },
            ));
        }
    }
    // `now` (and no time at all) at day resolution; both run within the same second or so.
    probes.push((
        "strftime now".into(),
        Expr::Strftime { format: Box::new(Expr::Str("%Y-%m-%d")), time: None, modifiers: vec![] },
    ));
    probes.push((
        "strftime now +1 day".into(),
        Expr::Strftime {
            format: Box::new(Expr::Str("%Y-%m")),
            time: Some(Box::new(Expr::param("now").typed(Ty::Text))),
            modifiers: vec![Expr::Str("start of month"), Expr::Str("+1 day")],
        },
    ));
    let failures = compare(&dbs, &probes).await;
    finish(dbs, "strftime", probes.len(), failures).await;
}

#[tokio::test]
async fn geo_distance_agrees() {
    let dbs = setup().await;
    let coords: Vec<Operand> = vec![
        op("t.js.lon", json_path("js", "t", &["lon"]), Ty::Json),
        op("t.js.lat", json_path("js", "t", &["lat"]), Ty::Json),
        op("n.num", Expr::col("n", "num"), Ty::Number),
        op("t.txt", Expr::col("t", "txt"), Ty::Text),
        op("23.3", Expr::param(23.3), Ty::Number),
        op("'42.7'", Expr::param("42.7"), Ty::Text),
        op("int 0", Expr::param(0i64), Ty::Number),
        op("null", Expr::Null, Ty::Null),
        op("t.flag", Expr::col("t", "flag"), Ty::Bool),
    ];
    let mut probes = Vec::new();
    for a in &coords {
        for b in &coords {
            let geo = Expr::GeoDistance {
                lon_a: Box::new(coords[0].1.clone()),
                lat_a: Box::new(a.1.clone()),
                lon_b: Box::new(b.1.clone()),
                lat_b: Box::new(coords[1].1.clone()),
            };
            probes.push((format!("geo(lon, {}, {}, lat)", a.0, b.0), geo.clone()));
            probes.push((
                format!("geo(lon, {}, {}, lat) < 5000", a.0, b.0),
                Expr::Cmp {
                    op: CmpOp::Lt,
                    lhs: Box::new(geo.typed(Ty::Number)),
                    rhs: Box::new(Expr::param(5000.0).typed(Ty::Number)),
                },
            ));
        }
    }
    // Same point: acos(1 + rounding) must not fail (clamped).
    probes.push((
        "same point".into(),
        Expr::GeoDistance {
            lon_a: Box::new(Expr::param(23.319941).typed(Ty::Number)),
            lat_a: Box::new(Expr::param(42.697708).typed(Ty::Number)),
            lon_b: Box::new(Expr::param(23.319941).typed(Ty::Number)),
            lat_b: Box::new(Expr::param(42.697708).typed(Ty::Number)),
        },
    ));
    let failures = compare(&dbs, &probes).await;
    finish(dbs, "geo", probes.len(), failures).await;
}

/// ORDER BY gives the same row order (ties broken by id).
#[tokio::test]
async fn ordering_agrees() {
    let dbs = setup().await;
    let mut keys: Vec<(String, Expr)> =
        column_operands().into_iter().map(|(l, t)| (l, t.expr)).collect();
    keys.push(("jsontext(t.js)".into(), Expr::JsonText(Box::new(Expr::col("t", "js")))));
    keys.push((
        "strftime".into(),
        Expr::Strftime {
            format: Box::new(Expr::Str("%Y")),
            time: Some(Box::new(Expr::col("t", "txt").typed(Ty::Text))),
            modifiers: vec![],
        },
    ));
    let mut failures = Vec::new();
    for (label, key) in &keys {
        if label.ends_with(".js") || label == "t.tags" {
            continue; // whole JSON columns are sorted through JsonText (documented contract)
        }
        for desc in [false, true] {
            let mut select = base(vec![]);
            select.order_by = vec![
                OrderBy { expr: key.clone(), desc },
                OrderBy { expr: Expr::col("t", "id"), desc: false },
            ];
            let l = dbs.query_lite(&select);
            let p = dbs.query_pg(&select).await;
            if l != p {
                failures.push(format!("order by {label} desc={desc}: {l:?}\n  vs {p:?}"));
            }
        }
    }
    // LIMIT/OFFSET.
    let mut select = base(vec![]);
    select.offset = Some(5);
    let l = dbs.query_lite(&select);
    let p = dbs.query_pg(&select).await;
    if l != p || l.as_ref().map(Vec::len) != Ok(ROWS - 5) {
        failures.push(format!("offset: {l:?} vs {p:?}"));
    }
    select.limit = Some(3);
    let (l, p) = (dbs.query_lite(&select), dbs.query_pg(&select).await);
    if l != p || l.as_ref().map(Vec::len) != Ok(3) {
        failures.push(format!("limit: {l:?} vs {p:?}"));
    }
    let n = keys.len();
    finish(dbs, "ordering", n, failures).await;
}

fn outcome<T, E>(r: &Result<T, E>) -> &'static str {
    if r.is_ok() { "ok" } else { "error" }
}

/// DDL renders valid SQL on both, and unique indexes enforce the same rules (NOCASE is
/// ASCII-only case folding).
#[tokio::test]
async fn ddl_and_unique_indexes_agree() {
    let dbs = setup().await;
    let mut failures = Vec::new();
    let stmts = [
        Stmt::AddColumn {
            table: "t".into(),
            column: ColumnDef {
                name: "extra".into(),
                ty: ColumnType::Text,
                primary_key: false,
                not_null: false,
                default: Some(Value::Text("d'x".into())),
            },
        },
        Stmt::RenameColumn { table: "t".into(), from: "extra".into(), to: "extra2".into() },
        Stmt::DropColumn { table: "t".into(), column: "extra2".into() },
        Stmt::CreateTable(CreateTable {
            name: "u".into(),
            if_not_exists: true,
            rowid: true,
            columns: vec![
                ColumnDef {
                    name: "id".into(),
                    ty: ColumnType::Text,
                    primary_key: true,
                    not_null: true,
                    default: None,
                },
                ColumnDef {
                    name: "name".into(),
                    ty: ColumnType::Text,
                    primary_key: false,
                    not_null: false,
                    default: None,
                },
                ColumnDef {
                    name: "seq".into(),
                    ty: ColumnType::Integer,
                    primary_key: false,
                    not_null: false,
                    default: Some(Value::Int(7)),
                },
            ],
        }),
        Stmt::RenameTable { from: "u".into(), to: "users".into() },
        Stmt::CreateIndex(
            parse_index("CREATE UNIQUE INDEX `idx_name` ON `users` (`name` COLLATE NOCASE) WHERE `name` != ''")
                .expect("valid index"),
        ),
        Stmt::CreateIndex(
            parse_index("create index idx2 on users ([seq] desc, (lower(`name`)))").expect("valid"),
        ),
        Stmt::CreateView { name: "v".into(), sql: "SELECT id FROM users".into() },
        Stmt::DropView { name: "v".into(), if_exists: true },
        Stmt::DropIndex { name: "idx2".into(), if_exists: true },
    ];
    for s in &stmts {
        let (l, p) = (dbs.exec_lite(s), dbs.exec_pg(s).await);
        if l.is_err() || p.is_err() {
            failures.push(format!("{s:?}: {l:?} / {p:?}"));
        }
    }
    let names = ["Bob", "bob", "BOB", "É", "é", "", "", "x", "X"];
    for (i, name) in names.iter().enumerate() {
        let insert = Stmt::Insert(Insert {
            table: "users".into(),
            columns: vec!["id".into(), "name".into()],
            values: vec![Expr::param(format!("u{i}")), Expr::param(*name)],
        });
        let (l, p) = (dbs.exec_lite(&insert), dbs.exec_pg(&insert).await);
        if outcome(&l) != outcome(&p) {
            failures.push(format!("insert {name:?}: {l:?} / {p:?}"));
        }
    }
    let expected_ok = [true, false, false, true, true, true, true, true, false];
    let select = Select {
        columns: vec![SelectItem::Expr { expr: Expr::col("u", "name"), alias: None }],
        from: Some(FromItem::Table { name: "users".into(), alias: Some("u".into()) }),
        order_by: vec![OrderBy { expr: Expr::col("u", "id"), desc: false }],
        ..Select::default()
    };
    let l = dbs.query_lite(&select);
    let p = dbs.query_pg(&select).await;
    let want: Vec<Vec<Out>> = names
        .iter()
        .zip(expected_ok)
        .filter(|(_, ok)| *ok)
        .map(|(n, _)| vec![Out::Text((*n).to_owned())])
        .collect();
    if l.as_ref() != Ok(&want) || p.as_ref() != Ok(&want) {
        failures.push(format!("unique nocase: want {want:?}\n sqlite {l:?}\n postgres {p:?}"));
    }
    // Insertion order: rowid / _rowid.
    let mut by_rowid = base(vec![Expr::RowId { table: Some("t".into()) }]);
    by_rowid.order_by = vec![OrderBy { expr: Expr::RowId { table: Some("t".into()) }, desc: true }];
    let l = dbs.query_lite(&by_rowid);
    let p = dbs.query_pg(&by_rowid).await;
    if l != p {
        failures.push(format!("rowid order: {l:?} vs {p:?}"));
    }
    // Updates and deletes through the same predicates.
    let upd = Stmt::Update(Update {
        table: "t".into(),
        set: vec![("txt".into(), Expr::param("changed")), ("flag".into(), Expr::param(true))],
        where_: Some(Expr::Cmp {
            op: CmpOp::Gt,
            lhs: Box::new(Expr::bare("num").typed(Ty::Number)),
            rhs: Box::new(Expr::param("1.5").typed(Ty::Text)),
        }),
    });
    let del = Stmt::Delete(Delete {
        table: "t".into(),
        where_: Some(Expr::Like {
            expr: Box::new(Expr::bare("txt").typed(Ty::Text)),
            pattern: Box::new(Expr::param("%a%").typed(Ty::Text)),
            negated: false,
        }),
    });
    for s in [&upd, &del] {
        let (l, p) = (dbs.exec_lite(s), dbs.exec_pg(s).await);
        if l.as_ref().ok().map(|n| *n as u64) != p.as_ref().ok().copied() {
            failures.push(format!("{s:?}: {l:?} / {p:?}"));
        }
    }
    let all = base(vec![Expr::col("t", "txt"), Expr::col("t", "flag")]);
    let (l, p) = (dbs.query_lite(&all), dbs.query_pg(&all).await);
    if l != p {
        failures.push(format!("after update/delete: {l:?}\n vs {p:?}"));
    }
    // Raw SQL with placeholders.
    let raw = Stmt::Raw {
        sql: "UPDATE t SET txt = ? WHERE id = ? AND txt <> '?'".into(),
        params: vec![Value::Text("raw".into()), Value::Text(id(1))],
    };
    let (l, p) = (dbs.exec_lite(&raw), dbs.exec_pg(&raw).await);
    if l != Ok(1) || p != Ok(1) {
        failures.push(format!("raw: {l:?} / {p:?}"));
    }
    let n = stmts.len();
    finish(dbs, "ddl", n, failures).await;
}
