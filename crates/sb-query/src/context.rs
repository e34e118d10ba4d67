//! The state shared by every comparison of one compilation: the main-query joins, the
//! visibility conditions of walked collections, and the alias counter.
//!
//! PocketBase resolves every relation walk of a whole expression with LEFT JOINs on the main
//! query, identified by the walked path, and selects DISTINCT rows: comparisons that walk the
//! same path therefore talk about the same joined row. The joins registered here play that
//! role; the caller wraps the compiled expression in one `EXISTS` over them (see
//! `resolve::assemble`), which keeps the same-row semantics without DISTINCT.

use std::collections::HashSet;
use std::sync::Arc;

use sb_schema::Collection;
use sb_sql::{Expr, Join, JoinKind, JoinSource};

use crate::{Access, QueryError, Scope};

/// Where a (sub-)expression is evaluated: the collection whose fields plain names refer to, and
/// the alias of its row.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub collection: Arc<Collection>,
    pub alias: String,
    /// Identity of the row for join sharing (`""` for the base row).
    pub key: String,
    pub access: Access,
}

pub(crate) struct Ctx<'s, 'a> {
    pub scope: &'s Scope<'a>,
    base: Arc<Collection>,
    joins: Vec<(String, Join)>,
    /// Conditions PocketBase ANDs to the main query for collections walked by a client filter.
    pub visibility: Vec<Expr>,
    visibility_done: HashSet<String>,
    counter: usize,
}

/// A snapshot of the registered joins, to undo the registrations of an operand that turned out
/// not to need them.
pub(crate) struct Mark {
    joins: usize,
    visibility: usize,
}

impl<'s, 'a> Ctx<'s, 'a> {
    pub fn new(scope: &'s Scope<'a>) -> Self {
        Ctx {
            scope,
            base: Arc::new(scope.collection.clone()),
            joins: Vec::new(),
            visibility: Vec::new(),
            visibility_done: HashSet::new(),
            counter: 0,
        }
    }

    /// An empty context for an independent sub-query, numbering aliases after this one's.
    pub fn child(&self) -> Self {
        Ctx {
            scope: self.scope,
            base: self.base.clone(),
            joins: Vec::new(),
            visibility: Vec::new(),
            visibility_done: HashSet::new(),
            counter: self.counter,
        }
    }

    /// Continues alias numbering after a child's.
    pub fn adopt_counter(&mut self, child: &Ctx<'_, '_>) {
        self.counter = self.counter.max(child.counter);
    }

    pub fn base_frame(&self, access: Access) -> Frame {
        Frame {
            collection: self.base.clone(),
            alias: self.scope.alias.to_owned(),
            key: String::new(),
            access,
        }
    }

    /// A fresh alias (`_j1`, `_m2`, ...), unique within the compilation.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    /// The collection with this id or name (the base collection included).
    pub fn load(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        if id_or_name == self.base.id || id_or_name == self.base.name {
            return Some(self.base.clone());
        }
        self.scope.lookup.find(id_or_name)
    }

    /// Registers the main-query LEFT JOIN identified by `key` (or reuses it) and returns its
    /// alias. `make` builds the source and ON condition for a new alias.
    pub fn join(
        &mut self,
        key: String,
        make: impl FnOnce(&str) -> (JoinSource, Option<Expr>),
    ) -> String {
        if let Some((_, j)) = self.joins.iter().find(|(k, _)| *k == key) {
            return j.alias.clone();
        }
        let alias = self.fresh("_j");
        let (source, on) = make(&alias);
        self.joins.push((key, Join { kind: JoinKind::Left, source, alias: alias.clone(), on }));
        alias
    }

    pub fn has_joins(&self) -> bool {
        !self.joins.is_empty()
    }

    pub fn take_joins(&mut self) -> Vec<Join> {
        std::mem::take(&mut self.joins).into_iter().map(|(_, j)| j).collect()
    }

    pub fn mark(&self) -> Mark {
        Mark { joins: self.joins.len(), visibility: self.visibility.len() }
    }

    pub fn rollback(&mut self, mark: &Mark) {
        self.joins.truncate(mark.joins);
        for _ in mark.visibility..self.visibility.len() {
            self.visibility.pop();
        }
        // Aliases stay consumed; `visibility_done` entries of rolled-back joins are harmless
        // because their keys can only come back with a new alias.
    }

    /// Records that the visibility condition of the joined row `alias` is handled; returns false
    /// when it already was.
    pub fn first_visibility(&mut self, alias: &str) -> bool {
        self.visibility_done.insert(alias.to_owned())
    }
}

pub(crate) fn err(message: impl Into<String>) -> QueryError {
    QueryError::new(message)
}
