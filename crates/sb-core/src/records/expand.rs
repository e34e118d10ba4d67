//! Relation expansion (spec §3.5): `expand=rel,rel.sub,other_via_field`.
//!
//! One query per relation and level for a whole page of records (never one per record); every
//! expanded record must pass its collection's view rule with `@request.context = "expand"`.
//!
//! Paths succeed or fail as a whole, as in PocketBase: a segment that is not a relation (or a
//! target whose view rule is `null` for the requester) voids every path through it, and
//! nothing of a void path is attached. A record gets its `expand` object (possibly `{}`) as
//! soon as one path through its level succeeds. Segments are checked only where records are
//! reached: a path below an empty relation succeeds without looking further.

use std::collections::BTreeMap;
use std::sync::Arc;

use sb_query::RequestInfo;
use sb_schema::{Collection, FieldKind};
use sb_sql::{Expr, FromItem, Join, JoinKind, JoinSource, Select, Stmt, Ty, Typed};
use serde_json::{Map, Value as Json};

use super::db::Db;
use super::{Record, Viewer, compile_rule, is_superuser};
use crate::catalog::Catalog;
use crate::error::CoreResult;
use crate::{App, storage};

const ALIAS: &str = "t";
/// Most back-related records loaded per record.
const MAX_BACK_RELATIONS: usize = 1000;
/// Ids per `IN (...)` list.
const CHUNK: usize = 500;

/// Expand paths grouped by their first segment.
#[derive(Default, Debug)]
struct Tree(BTreeMap<String, Tree>);

impl Tree {
    fn from_paths(paths: &[Vec<String>]) -> Tree {
        let mut root = Tree::default();
        for path in paths {
            let mut node = &mut root;
            for segment in path {
                node = node.0.entry(segment.clone()).or_default();
            }
        }
        root
    }
}

enum Relation {
    /// A relation field of the records' own collection.
    Forward { field: String, target: Arc<Collection>, multiple: bool },
    /// `<collection>_via_<field>`: records of `source` whose `field` points here.
    Back { source: Arc<Collection>, field: String, multiple_field: bool, single: bool },
}

impl App {
    pub(crate) async fn expand(
        &self,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        records: &mut [Record],
        expand: &str,
    ) -> CoreResult<()> {
        let mut db = Db::Store(self.store.as_ref());
        self.expand_in(&mut db, catalog, req, viewer, records, expand).await
    }

    /// [`App::expand`], reading through `db` (a batch's transaction).
    pub(crate) async fn expand_in(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        records: &mut [Record],
        expand: &str,
    ) -> CoreResult<()> {
        let paths = sb_filter::parse_expand(expand);
        if paths.is_empty() || records.is_empty() {
            return Ok(());
        }
        let mut expand_req = req.clone();
        expand_req.context = "expand".into();
        let tree = Tree::from_paths(&paths);
        self.expand_level(db, catalog, &expand_req, viewer, records, &tree).await.map(|_| ())
    }

    /// Expands every path of `tree` on `records` (all of one collection). True when at least
    /// one path succeeded (or there is nothing to expand).
    fn expand_level<'a>(
        &'a self,
        db: &'a mut Db<'_>,
        catalog: &'a Catalog,
        req: &'a RequestInfo,
        viewer: &'a Viewer,
        records: &'a mut [Record],
        tree: &'a Tree,
    ) -> futures_like::BoxFuture<'a, CoreResult<bool>> {
        Box::pin(async move {
            if records.is_empty() {
                return Ok(true);
            }
            let mut any = false;
            for (name, sub) in &tree.0 {
                any |= self.expand_one(db, catalog, req, viewer, records, name, sub).await?;
            }
            Ok(any)
        })
    }

    /// Expands relation `name` (and the paths of `sub` below it) on `records`; false when
    /// every path through it is void.
    #[allow(clippy::too_many_arguments, reason = "the expansion context, one call site")]
    async fn expand_one(
        &self,
        db: &mut Db<'_>,
        catalog: &Catalog,
        req: &RequestInfo,
        viewer: &Viewer,
        records: &mut [Record],
        name: &str,
        sub: &Tree,
    ) -> CoreResult<bool> {
        let Some(collection) = records.first().map(|r| r.collection.clone()) else {
            return Ok(true);
        };
        let Some(relation) = resolve(catalog, &collection, name) else { return Ok(false) };
        let target = match &relation {
            Relation::Forward { target, .. } => target.clone(),
            Relation::Back { source, .. } => source.clone(),
        };
        let rule = if is_superuser(req) {
            None
        } else {
            match target.view_rule.as_deref() {
                None => return Ok(false),
                Some("") => None,
                Some(rule) => match compile_rule(catalog, &target, rule, ALIAS, req) {
                    Ok(condition) => Some(condition),
                    Err(_) => return Ok(false),
                },
            }
        };
        let mut related = match &relation {
            Relation::Forward { field, .. } => {
                let mut ids: Vec<String> = Vec::new();
                for r in records.iter() {
                    for id in relation_ids(r.data.get(field)) {
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                }
                self.load_where(db, &target, &ids, rule, |ids| Expr::InList {
                    expr: Box::new(Expr::col(ALIAS, "id")),
                    list: ids,
                    negated: false,
                })
                .await?
            }
            Relation::Back { field, multiple_field, .. } => {
                let ids: Vec<String> = records.iter().map(|r| r.id().to_owned()).collect();
                let multiple = *multiple_field;
                let field = field.clone();
                self.load_where(db, &target, &ids, rule, move |ids| {
                    back_condition(&field, multiple, ids)
                })
                .await?
            }
        };
        if !sub.0.is_empty()
            && !self.expand_level(db, catalog, req, viewer, &mut related, sub).await?
        {
            return Ok(false);
        }
        self.mark_managed_in(db, catalog, req, viewer, &mut related).await?;
        for r in records.iter_mut() {
            r.expand.get_or_insert_with(Map::new);
        }
        attach(records, &relation, name, &related, viewer);
        Ok(true)
    }

    /// Loads records of `c` matching `condition(ids)` (ids chunked) and the rule.
    async fn load_where(
        &self,
        db: &mut Db<'_>,
        c: &Arc<Collection>,
        ids: &[String],
        rule: Option<Expr>,
        condition: impl Fn(Vec<Expr>) -> Expr,
    ) -> CoreResult<Vec<Record>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let list: Vec<Expr> = chunk.iter().map(|id| Expr::param(id.as_str())).collect();
            let mut select = storage::select_record(c, ALIAS);
            let mut conditions = vec![condition(list)];
            conditions.extend(rule.clone());
            select.where_ = Some(Expr::And(conditions));
            if !c.is_view() {
                select.order_by = vec![sb_sql::OrderBy {
                    expr: Expr::RowId { table: Some(ALIAS.into()) },
                    desc: false,
                }];
            }
            let rows = db.query(&Stmt::Select(select)).await?;
            out.extend(Record::from_rows(c, rows));
        }
        Ok(out)
    }
}

/// A tiny boxed-future alias (recursion needs boxing).
mod futures_like {
    pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

fn resolve(catalog: &Catalog, c: &Collection, name: &str) -> Option<Relation> {
    if let Some(field) = c.field(name) {
        if let FieldKind::Relation(o) = &field.kind {
            let target = catalog.get(&o.collection_id)?.clone();
            return Some(Relation::Forward {
                field: field.name.clone(),
                target,
                multiple: field.kind.is_multiple(),
            });
        }
        return None;
    }
    let (source_name, field_name) = sb_filter::parse_back_relation(name)?;
    let source = catalog.get(source_name)?.clone();
    let field = source.field(field_name)?;
    let FieldKind::Relation(o) = &field.kind else { return None };
    if o.collection_id != c.id {
        return None;
    }
    let single = !field.kind.is_multiple() && has_unique_index(&source, field_name);
    Some(Relation::Back {
        multiple_field: field.kind.is_multiple(),
        field: field_name.to_owned(),
        source,
        single,
    })
}

fn has_unique_index(c: &Collection, column: &str) -> bool {
    c.indexes.iter().filter_map(|sql| sb_sql::parse_index(sql).ok()).any(|def| {
        def.unique
            && def.where_.is_none()
            && def.columns.len() == 1
            && def.columns[0].name == column
    })
}

/// `field IN (ids)` for a single relation field, or "any element of the array is in ids".
fn back_condition(field: &str, multiple: bool, ids: Vec<Expr>) -> Expr {
    if !multiple {
        return Expr::InList { expr: Box::new(Expr::col(ALIAS, field)), list: ids, negated: false };
    }
    Expr::Exists {
        select: Box::new(Select {
            columns: vec![sb_sql::SelectItem::Expr { expr: Expr::Int(1), alias: None }],
            from: Some(FromItem::One { alias: "_a".into() }),
            joins: vec![Join {
                kind: JoinKind::Inner,
                source: JoinSource::JsonEach(Box::new(Typed::new(
                    Expr::col(ALIAS, field),
                    Ty::JsonText,
                ))),
                alias: "_je".into(),
                on: None,
            }],
            where_: Some(Expr::InList {
                expr: Box::new(Expr::col("_je", "value")),
                list: ids,
                negated: false,
            }),
            ..Default::default()
        }),
        negated: false,
    }
}

fn relation_ids(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

fn attach(
    records: &mut [Record],
    relation: &Relation,
    name: &str,
    related: &[Record],
    viewer: &Viewer,
) {
    match relation {
        Relation::Forward { field, multiple, .. } => {
            for r in records.iter_mut() {
                let ids = relation_ids(r.data.get(field));
                let found: Vec<Json> = ids
                    .iter()
                    .filter_map(|id| related.iter().find(|x| x.id() == id))
                    .map(|x| x.to_json(viewer))
                    .collect();
                let expand = r.expand.get_or_insert_with(Map::new);
                if *multiple {
                    if !found.is_empty() {
                        expand.insert(name.to_owned(), Json::Array(found));
                    }
                } else if let Some(first) = found.into_iter().next() {
                    expand.insert(name.to_owned(), first);
                }
            }
        }
        Relation::Back { field, single, .. } => {
            for r in records.iter_mut() {
                let id = r.id().to_owned();
                let found: Vec<Json> = related
                    .iter()
                    .filter(|x| relation_ids(x.data.get(field)).contains(&id))
                    .take(MAX_BACK_RELATIONS)
                    .map(|x| x.to_json(viewer))
                    .collect();
                if found.is_empty() {
                    continue;
                }
                let expand = r.expand.get_or_insert_with(Map::new);
                if *single {
                    if let Some(first) = found.into_iter().next() {
                        expand.insert(name.to_owned(), first);
                    }
                } else {
                    expand.insert(name.to_owned(), Json::Array(found));
                }
            }
        }
    }
}
