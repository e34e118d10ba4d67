//! The structure of compiled trees: typed parameters, where the EXISTS goes, join sharing.

use sb_sql::{CmpOp, Expr, Select, Ty, Typed, Value};

use super::fixture::Fixture;
use super::harness::{self, Who};
use crate::{Access, compile_filter, compile_query};

fn compile_as(coll: &str, access: Access, who: Who, src: &str) -> Expr {
    let fixture = Fixture::new();
    let c = fixture.get(coll);
    let request = harness::request(&fixture, who);
    let scope = harness::scope(&fixture, &c, &request, access);
    let expr = sb_filter::parse_filter(src).expect("syntax");
    compile_filter(&expr, &scope).expect("compile")
}

fn compile(coll: &str, src: &str) -> Expr {
    compile_as(coll, Access::Full, Who::Guest, src)
}

fn cmp(op: CmpOp, lhs: Typed, rhs: Typed) -> Expr {
    Expr::Cmp { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}

fn col(name: &str, ty: Ty) -> Typed {
    Typed::new(Expr::col("r", name), ty)
}

fn param(v: Value, ty: Ty) -> Typed {
    Typed::new(Expr::Param(v), ty)
}

fn exists_select(e: &Expr) -> &Select {
    match e {
        Expr::Exists { select, negated: false } => select,
        other => panic!("expected EXISTS, got {other:?}"),
    }
}

#[test]
fn parameters_take_the_column_affinity() {
    assert_eq!(
        compile("misc", "num = '1.5'"),
        cmp(CmpOp::Eq, col("num", Ty::Number), param(Value::Float(1.5), Ty::Number))
    );
    assert_eq!(
        compile("misc", "txt = 5"),
        cmp(CmpOp::Eq, col("txt", Ty::Text), param(Value::Text("5.0".into()), Ty::Text))
    );
    assert_eq!(
        compile("misc", "b = true"),
        cmp(CmpOp::Eq, col("b", Ty::Bool), param(Value::Bool(true), Ty::Bool))
    );
    assert_eq!(
        compile("misc", "b = 2"),
        cmp(CmpOp::Eq, col("b", Ty::Bool), param(Value::Float(2.0), Ty::Number))
    );
    assert_eq!(
        compile("misc", "num > 'abc'"),
        cmp(CmpOp::Gt, col("num", Ty::Number), param(Value::Text("abc".into()), Ty::Text))
    );
}

#[test]
fn equality_forms_follow_pocketbase() {
    // one side empty
    assert_eq!(
        compile("misc", "txt = ''"),
        Expr::Or(vec![
            cmp(CmpOp::Eq, col("txt", Ty::Text), Typed::new(Expr::Str(""), Ty::Text)),
            Expr::IsNull { expr: Box::new(Expr::col("r", "txt")), negated: false },
        ])
    );
    // neither side known: COALESCE
    assert_eq!(
        compile("misc", "txt != k"),
        cmp(CmpOp::LooseIsNot, col("txt", Ty::Text), col("k", Ty::Text))
    );
    // json extraction: IS
    let Expr::Cmp { op: CmpOp::Is, lhs, .. } = compile("misc", "j.a = 1") else {
        panic!("expected IS");
    };
    assert_eq!(lhs.ty, Ty::Json);
    // both empty: a constant
    assert_eq!(compile("misc", "null != ''"), Expr::eq(Expr::Int(1), Expr::Int(0), Ty::Number));
}

#[test]
fn conjuncts_without_joins_stay_outside_the_exists() {
    let e = compile("items", "n > 1 && rels.name ?= 'x' && (title = 'a' || one.name = 'y')");
    let Expr::And(parts) = &e else { panic!("expected AND, got {e:?}") };
    assert_eq!(parts.len(), 2);
    assert!(matches!(&parts[0], Expr::Cmp { op: CmpOp::Gt, .. }));
    let select = exists_select(&parts[1]);
    // rels: json_each + ref; one: ref
    assert_eq!(select.joins.len(), 3);
}

#[test]
fn plain_filters_need_no_sub_query() {
    assert!(matches!(compile("items", "one.id = 'x' && n = 1"), Expr::And(_)));
    assert!(matches!(compile("items", "title ~ 'a'"), Expr::Like { .. }));
}

#[test]
fn same_collection_alias_shares_one_join() {
    let rule = "@collection.members.user ?= @request.auth.id && @collection.members.team ?= team";
    let e = compile_as("docs", Access::Full, Who::User("alice"), rule);
    assert_eq!(exists_select(&e).joins.len(), 1);
    let aliased =
        "@collection.members:a.user ?= @request.auth.id && @collection.members:b.team ?= team";
    let e = compile_as("docs", Access::Full, Who::User("alice"), aliased);
    assert_eq!(exists_select(&e).joins.len(), 2);
}

#[test]
fn plain_operators_on_multi_valued_operands_add_a_not_exists() {
    let e = compile("items", "rels.name = 'x'");
    let select = exists_select(&e);
    let Some(Expr::And(parts)) = &select.where_ else { panic!("expected AND") };
    assert!(matches!(parts.last(), Some(Expr::Exists { negated: true, .. })));
    let any = compile("items", "rels.name ?= 'x'");
    assert!(matches!(exists_select(&any).where_, Some(Expr::Cmp { .. })));
}

#[test]
fn client_email_comparisons_require_visibility() {
    let e = compile_as("users", Access::Client, Who::Guest, "email = 'a@b.c'");
    let Expr::And(parts) = &e else { panic!("expected AND, got {e:?}") };
    assert_eq!(
        parts[1],
        cmp(CmpOp::Eq, col("emailVisibility", Ty::Bool), param(Value::Bool(true), Ty::Bool))
    );
    let full = compile_as("users", Access::Full, Who::Guest, "email = 'a@b.c'");
    assert!(matches!(full, Expr::Cmp { .. }));
}

#[test]
fn compilation_is_deterministic() {
    let src = "rels.name = one.name || @request.auth.team.name ?= tags:each";
    let a = compile_as("items", Access::Full, Who::User("alice"), src);
    let b = compile_as("items", Access::Full, Who::User("alice"), src);
    assert_eq!(a, b);
}

#[test]
fn rule_and_filter_share_joins() {
    let fixture = Fixture::new();
    let c = fixture.get("items");
    let request = harness::request(&fixture, Who::Guest);
    let scope = harness::scope(&fixture, &c, &request, Access::Client);
    let rule = sb_filter::parse_filter("rels.name ?= 'x'").expect("syntax");
    let filter = sb_filter::parse_filter("rels.score ?> 4").expect("syntax");
    let q = compile_query(&[(&rule, Access::Full), (&filter, Access::Client)], &[], &scope)
        .expect("compile");
    let e = q.where_.expect("where");
    let select = exists_select(&e);
    assert_eq!(select.joins.len(), 2, "one json_each and one ref join");
}
