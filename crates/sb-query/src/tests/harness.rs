//! The vocabulary of the test cases: who asks, in which mode, what is expected, and the request
//! and scope a case is compiled with.

use std::collections::BTreeMap;

use sb_schema::Collection;
use sb_sql::{Expr, FromItem, OrderBy, Select, SelectItem, Stmt};

use super::fixture::{self, Fixture};
use crate::{Access, RequestInfo, Scope};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// A `filter` query parameter (client access unless the requester is a superuser).
    Filter,
    /// A listRule evaluated for the requester (full access).
    Rule,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Who {
    Guest,
    Admin,
    User(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    /// Matching record ids with trailing zeros removed, sorted.
    Ids(&'static [&'static str]),
    Error,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub coll: &'static str,
    pub mode: Mode,
    pub who: Who,
    pub expr: &'static str,
    pub overrides: &'static [(&'static str, Option<&'static str>)],
    pub expect: Expect,
}

/// The request of a case: the reference runs were made with `?x=a&n=5` and `X-Token: abc`.
pub(crate) fn request(fixture: &Fixture, who: Who) -> RequestInfo {
    RequestInfo {
        context: "default".into(),
        method: "GET".into(),
        headers: BTreeMap::from([("x_token".to_owned(), "abc".to_owned())]),
        query: BTreeMap::from([("x".to_owned(), "a".to_owned()), ("n".to_owned(), "5".to_owned())]),
        body: serde_json::Map::new(),
        auth: match who {
            Who::User(name) => Some(fixture::auth(fixture, name)),
            Who::Guest | Who::Admin => None,
        },
    }
}

pub(crate) fn access(mode: Mode, who: Who) -> Access {
    match (mode, who) {
        (Mode::Filter, Who::Guest | Who::User(_)) => Access::Client,
        _ => Access::Full,
    }
}

pub(crate) fn scope<'a>(
    fixture: &'a Fixture,
    collection: &'a Collection,
    request: &'a RequestInfo,
    access: Access,
) -> Scope<'a> {
    Scope { collection, alias: "r", lookup: fixture, request, access, now: fixture::now() }
}

/// `SELECT r.id FROM coll AS r WHERE ... ORDER BY ...`.
pub(crate) fn select_ids(coll: &str, where_: Option<Expr>, order_by: Vec<OrderBy>) -> Stmt {
    Stmt::Select(Select {
        columns: vec![SelectItem::Expr { expr: Expr::col("r", "id"), alias: None }],
        from: Some(FromItem::Table { name: coll.to_owned(), alias: Some("r".to_owned()) }),
        where_,
        order_by,
        ..Select::default()
    })
}

/// Record ids as the reference cases write them (trailing zeros removed).
pub(crate) fn short(ids: Vec<String>) -> Vec<String> {
    ids.into_iter().map(|id| id.trim_end_matches('0').to_owned()).collect()
}
