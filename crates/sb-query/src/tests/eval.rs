//! The in-memory evaluator (`crate::evaluate`) against the SQL path: on every fixture row, an
//! expression the evaluator decides must select exactly the rows the compiled SQL selects on
//! SQLite and on PostgreSQL. Checked on the reference cases (whose expected ids come from the
//! reference PocketBase) and on generated expressions over scalar fields, literals of every
//! type and `@request.*` values.

use super::db::{Backend, TestDb};
use super::fixture::{self, Fixture};
use super::harness::{self, Expect, Mode, Who, select_ids, short};
use super::reference_cases::CASES;
use crate::{Scope, compile_filter, evaluate};

/// The ids of `coll`'s rows the evaluator selects; `None` when it declines any row.
fn eval_ids(
    fixture: &Fixture,
    coll: &str,
    expr: &sb_filter::Expr,
    scope: &Scope<'_>,
) -> Option<Vec<String>> {
    let c = fixture.get(coll);
    let rows = fixture::rows().into_iter().find(|(n, _)| *n == coll).map(|(_, r)| r)?;
    let mut out = Vec::new();
    for row in rows {
        let value = |name: &str| {
            let v = row.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            match c.field(name) {
                Some(f) => fixture::cell(f, v.as_ref()),
                None => sb_sql::Value::Null,
            }
        };
        if evaluate(expr, scope, &value)? {
            let id = row.iter().find(|(k, _)| *k == "id").and_then(|(_, v)| v.as_str());
            out.push(id.unwrap_or_default().to_owned());
        }
    }
    out.sort();
    Some(out)
}

/// Reference cases: where the evaluator decides, it selects the recorded ids; where the SQL
/// path refuses the expression, the evaluator never admits a row.
fn reference_cases(db: &TestDb) {
    let mut decided = 0;
    let mut failures = Vec::new();
    for case in CASES {
        let fixture = Fixture::with_list_rules(case.overrides);
        let coll = fixture.get(case.coll);
        let request = harness::request(&fixture, case.who);
        let scope = harness::scope(&fixture, &coll, &request, harness::access(case.mode, case.who));
        let Ok(expr) = sb_filter::parse_filter(case.expr) else { continue };
        let Some(got) = eval_ids(&fixture, case.coll, &expr, &scope) else { continue };
        decided += 1;
        let got = short(got);
        match case.expect {
            Expect::Ids(want) if got == want => {}
            Expect::Error if got.is_empty() => {}
            want => {
                failures.push(format!("{} {:?}: got {got:?}, want {want:?}", case.coll, case.expr))
            }
        }
    }
    assert!(
        failures.is_empty(),
        "[{:?}] evaluator disagrees:\n{}",
        db.backend(),
        failures.join("\n")
    );
    assert!(decided > 20, "only {decided} reference cases were decided in memory");
}

/// A small deterministic generator (no dependency needed for this).
struct Lcg(u64);

impl Lcg {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        &items[((self.0 >> 33) as usize) % items.len()]
    }
}

const LITERALS: &[&str] = &[
    "''",
    "'item1'",
    "'5'",
    "'5.0'",
    "'1.5'",
    "' 10 '",
    "'abc'",
    "'ABC'",
    "'MiX'",
    "'%'",
    "'_'",
    "'50%'",
    "'\\\\'",
    "'1'",
    "'0'",
    "'true'",
    "0",
    "1",
    "5",
    "1.5",
    "-2",
    "2.25",
    "true",
    "false",
    "null",
    "@request.auth.id",
    "@request.auth.name",
    "@request.auth.verified",
    "@request.auth.emailVisibility",
    "@request.auth.email",
    "@request.auth.role",
    "@request.query.n",
    "@request.query.x",
    "@request.query.missing",
    "@request.headers.x_token",
    "@request.context",
    "@request.method",
    "@request.auth.collectionName",
];
const OPS: &[&str] = &["=", "!=", "<", "<=", ">", ">=", "~", "!~", "?=", "?!=", "?~", "?>"];

fn generated(db: &TestDb) {
    let cases: &[(&str, &[&str])] = &[
        ("misc", &["k", "num", "txt", "b", "id"]),
        ("items", &["n", "title", "grp", "flag", "label", "status", "owner", "one", "when"]),
        ("users", &["name", "role", "verified", "emailVisibility", "team", "id"]),
    ];
    let mut rng = Lcg(7);
    let (mut decided, mut total) = (0, 0);
    let mut failures = Vec::new();
    let fixture = Fixture::new();
    for round in 0..900 {
        let (coll, fields) = *rng.pick(cases);
        let operand = |rng: &mut Lcg| -> String {
            if round % 3 == 0 {
                rng.pick(LITERALS).to_string()
            } else {
                rng.pick(fields).to_string()
            }
        };
        let cmp = |rng: &mut Lcg| {
            let l = operand(rng);
            let r = rng.pick(LITERALS).to_string();
            let op = rng.pick(OPS);
            if round % 2 == 0 { format!("{l} {op} {r}") } else { format!("{r} {op} {l}") }
        };
        let expr = match round % 4 {
            0 | 1 => cmp(&mut rng),
            2 => format!("{} && {}", cmp(&mut rng), cmp(&mut rng)),
            _ => format!("({} || {}) && {}", cmp(&mut rng), cmp(&mut rng), cmp(&mut rng)),
        };
        let who = *rng.pick(&[Who::Guest, Who::User("alice"), Who::User("bob"), Who::Admin]);
        let mode = *rng.pick(&[Mode::Rule, Mode::Filter]);
        let c = fixture.get(coll);
        let mut request = harness::request(&fixture, who);
        request.context = "realtime".into();
        let access = harness::access(mode, who);
        let scope = harness::scope(&fixture, &c, &request, access);
        let parsed = sb_filter::parse_filter(&expr).expect("generated expressions parse");
        total += 1;
        let Some(got) = eval_ids(&fixture, coll, &parsed, &scope) else { continue };
        decided += 1;
        let want = match compile_filter(&parsed, &scope) {
            Ok(sql) => match db.ids(&select_ids(coll, Some(sql), vec![])) {
                Ok(mut ids) => {
                    ids.sort();
                    ids
                }
                Err(e) => {
                    failures.push(format!("{coll} {expr:?}: SQL failed: {e}"));
                    continue;
                }
            },
            Err(_) => Vec::new(),
        };
        if got != want {
            failures.push(format!(
                "{coll} {access:?} {expr:?}: memory {:?}, SQL {:?}",
                short(got),
                short(want)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "[{:?}] {} of {decided} decided expressions disagree:\n{}",
        db.backend(),
        failures.len(),
        failures.join("\n")
    );
    eprintln!("[{:?}] {decided} of {total} generated expressions decided in memory", db.backend());
    assert!(decided * 2 > total, "only {decided} of {total} expressions decided in memory");
}

#[test]
fn evaluator_matches_sql_on_sqlite() {
    let db = TestDb::open(Backend::Sqlite);
    reference_cases(&db);
    generated(&db);
}

#[test]
fn evaluator_matches_sql_on_postgres() {
    let db = TestDb::open(Backend::Postgres);
    reference_cases(&db);
    generated(&db);
}
