//! In-memory evaluation of rules and filters against an event record.

use sb_query::{Access, RequestInfo};
use sb_schema::Collection;
use serde_json::{Map, Value as Json};

use crate::catalog::Catalog;

/// The value of `expr` for `record`, or `None` when it needs the database.
pub(crate) fn evaluate(
    _expr: &sb_filter::Expr,
    _c: &Collection,
    _record: &Map<String, Json>,
    _req: &RequestInfo,
    _catalog: &Catalog,
    _access: Access,
) -> Option<bool> {
    None
}
