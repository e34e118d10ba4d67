//! Resolution of filter expressions, API rules and sort keys against the schema, producing
//! dialect-neutral SQL trees (`sb_sql::Expr`).
//!
//! Input: a parsed `sb_filter::Expr`, the collection it applies to, a lookup for other
//! collections, and the request data visible to rules (`@request.*`). Output: a boolean
//! `sb_sql::Expr` that references only columns of the base table alias, so callers can AND it
//! into any SELECT, UPDATE or DELETE (or a SELECT over a virtual row for create rules).
//!
//! Semantics are PocketBase's (spec §4, §5), which are defined on SQLite:
//!
//! * PocketBase resolves relation walks, back-relations, `@collection.*` and joined
//!   `@request.*` paths with LEFT JOINs on the main query (one join per distinct path, shared
//!   by every comparison) and selects DISTINCT rows. Here those joins live in one correlated
//!   `EXISTS (SELECT 1 FROM (SELECT 1) AS _a LEFT JOIN ... WHERE ...)` around the conjuncts
//!   that need them; conjuncts without joins stay outside (see `resolve`).
//! * Plain operators on multi-valued operands mean ALL: a `NOT EXISTS` over an independent
//!   copy of the join chain (PocketBase's multi-match sub-query, see `compare`).
//! * `=`/`!=` use PocketBase's NULL/empty-string forms; parameters compared directly with a
//!   column are converted to the column's SQLite affinity (see `affinity`), and every operand
//!   carries its `sb_sql::Ty` so the PostgreSQL rendering can emulate the remaining cases.
//!
//! Aliases `_j<n>` (joins), `_m<n>` (multi-match chains) and `_a<n>` (anchors) are generated;
//! the caller's base alias must not look like them.
//!
//! Pure: no I/O. Every literal becomes a bound parameter.

use std::collections::BTreeMap;
use std::sync::Arc;

use sb_schema::Collection;

mod affinity;
mod compare;
mod context;
mod eval;
mod functions;
mod macros;
mod operand;
mod path;
mod request;
mod resolve;
mod sort;

pub use eval::evaluate;
pub use resolve::{Compiled, compile_filter, compile_query, compile_sort};

/// Finds collections by id or by name (exact match), for relation walks and `@collection.*`.
pub trait CollectionLookup {
    fn find(&self, id_or_name: &str) -> Option<Arc<Collection>>;
    /// Every collection (for back-relations `x_via_y`).
    fn all(&self) -> Vec<Arc<Collection>>;
}

/// The authenticated principal, as rules see it (`@request.auth.*`).
#[derive(Debug, Clone)]
pub struct AuthInfo {
    pub collection: Arc<Collection>,
    /// Every field of the auth record, hidden ones included, keyed by field name, in the
    /// record's JSON form (as `sb-core` serialises records for superusers).
    pub record: serde_json::Map<String, serde_json::Value>,
}

impl AuthInfo {
    pub fn id(&self) -> &str {
        self.record.get("id").and_then(|v| v.as_str()).unwrap_or("")
    }

    pub fn is_superuser(&self) -> bool {
        self.collection.name == "_superusers"
    }
}

/// The request data visible to rules (`@request.*`, spec §4.5).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// `default`, `expand`, `realtime`, `protectedFile`, `batch`, `oauth2`, `otp`, `password`.
    pub context: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Header values keyed by lower snake_case name (`x_token`, `user_agent`); first value only.
    pub headers: BTreeMap<String, String>,
    /// Query parameters (first value), always strings.
    pub query: BTreeMap<String, String>,
    /// The submitted body (record create/update): every key as sent, except that modifier keys
    /// (`tags+`) are replaced by their field's resolved value and hidden fields are dropped for
    /// non-superusers.
    pub body: serde_json::Map<String, serde_json::Value>,
    pub auth: Option<AuthInfo>,
}

/// What the expression is allowed to reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A `filter`/`sort` query parameter from a non-superuser: hidden fields are refused,
    /// relation walks into collections with a `null` listRule are refused and non-empty
    /// listRules of walked collections are applied to the joined rows; `@request.*` and
    /// `@collection.*` are refused (callers also apply the 403 substring check of spec §3.2).
    Client,
    /// API rules, and any expression from a superuser: everything is allowed.
    Full,
}

/// Why an expression could not be compiled. Callers answer 400 with a generic message
/// (the text is for logs and for superuser-facing "Invalid rule" errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
}

impl QueryError {
    pub fn new(message: impl Into<String>) -> Self {
        QueryError { message: message.into() }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// Everything a compilation needs besides the expression itself.
pub struct Scope<'a> {
    /// The collection the expression is about.
    pub collection: &'a Collection,
    /// SQL alias of the base table in the statement the result is embedded into.
    pub alias: &'a str,
    pub lookup: &'a dyn CollectionLookup,
    pub request: &'a RequestInfo,
    pub access: Access,
    /// The current time used for `@now` and the other date macros (wire format is derived).
    pub now: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests;
