//! Field paths: plain fields, relation and back-relation walks, JSON paths and the
//! `:each` / `:length` / `:lower` modifiers (spec §4.4, §4.7).
//!
//! A walk registers its joins on the main query (shared by path, see `context`) and, at the
//! same time, builds an independent copy of the chain for the multi-match sub-query that gives
//! the plain operators their ALL meaning on multi-valued operands.

use std::sync::Arc;

use sb_schema::{Collection, Field, FieldKind, Storage};
use sb_sql::{Expr, Join, JoinKind, JoinSource, JsonPathSeg, Select, SelectItem, Ty, Typed};

use crate::affinity::Affinity;
use crate::context::{Ctx, Frame, err};
use crate::operand::{Fallback, MultiMatch, Operand, Shape};
use crate::{Access, QueryError};

/// Maximum relation hops per identifier.
pub(crate) const MAX_HOPS: usize = 6;

/// A field modifier (`name:modifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    Isset,
    Each,
    Length,
    Lower,
    Changed,
}

/// Splits `name:modifier`. More than one `:` leaves the text as a (never matching) name; an
/// unknown modifier is an error.
pub(crate) fn split_modifier(prop: &str) -> Result<(&str, Option<Modifier>), QueryError> {
    let mut parts = prop.split(':');
    let (Some(name), Some(m), None) = (parts.next(), parts.next(), parts.next()) else {
        return Ok((prop, None));
    };
    let modifier = match m {
        "isset" => Modifier::Isset,
        "each" => Modifier::Each,
        "length" => Modifier::Length,
        "lower" => Modifier::Lower,
        "changed" => Modifier::Changed,
        _ => return Err(err(format!("unknown modifier in {prop:?}"))),
    };
    Ok((name, Some(modifier)))
}

/// select, relation and file fields (PocketBase's "multi-valuers", whatever their maxSelect).
pub(crate) fn is_multi_valuer(kind: &FieldKind) -> bool {
    matches!(kind, FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_))
}

/// The static type and SQLite affinity of a field's column.
pub(crate) fn column_type(field: &Field) -> (Ty, Affinity) {
    match field.kind.storage() {
        Storage::Text => (Ty::Text, Affinity::Text),
        Storage::Number => (Ty::Number, Affinity::Numeric),
        Storage::Bool => (Ty::Bool, Affinity::Numeric),
        Storage::Json => (Ty::JsonText, Affinity::Numeric),
    }
}

pub(crate) fn text_eq(a: Expr, b: Expr) -> Expr {
    Expr::eq(a, b, Ty::Text)
}

fn col(alias: &str, name: &str) -> Expr {
    Expr::col(alias, name)
}

/// The state of one identifier's walk.
pub(crate) struct Walk {
    coll: Arc<Collection>,
    alias: String,
    key: String,
    mm_alias: String,
    mm_joins: Vec<Join>,
    multi: bool,
    allow_hidden: bool,
    /// Missing fields resolve to NULL instead of failing (`@request.*` paths).
    nullify: bool,
    /// Client restrictions apply (hidden fields, listRules of walked collections, emails).
    client: bool,
    uses_joins: bool,
}

impl Walk {
    /// A walk starting at the frame's row.
    pub fn from_frame(frame: &Frame) -> Self {
        let client = frame.access == Access::Client;
        Walk {
            coll: frame.collection.clone(),
            alias: frame.alias.clone(),
            key: frame.key.clone(),
            mm_alias: frame.alias.clone(),
            mm_joins: Vec::new(),
            multi: false,
            allow_hidden: !client,
            nullify: false,
            client,
            uses_joins: false,
        }
    }

    /// A walk starting at a joined row (`@collection.*`, `@request.auth.*`,
    /// `@request.body.rel.*`): `mm_root` is the same join for the multi-match chain.
    pub fn from_join(
        coll: Arc<Collection>,
        alias: String,
        key: String,
        mm_root: Join,
        multi: bool,
        nullify: bool,
    ) -> Self {
        Walk {
            coll,
            alias,
            key,
            mm_alias: mm_root.alias.clone(),
            mm_joins: vec![mm_root],
            multi,
            allow_hidden: true,
            nullify,
            client: false,
            uses_joins: true,
        }
    }

    fn missing(&self, message: String) -> Result<Operand, QueryError> {
        if self.nullify { Ok(Operand::null()) } else { Err(err(message)) }
    }

    fn check_hidden(&self, field: &Field) -> Result<(), QueryError> {
        if field.hidden && !self.allow_hidden {
            return Err(err(format!("non-filterable field {:?}", field.name)));
        }
        Ok(())
    }

    /// Resolves the remaining dot-separated props.
    pub fn run(mut self, ctx: &mut Ctx<'_, '_>, props: &[&str]) -> Result<Operand, QueryError> {
        let total = props.len();
        for (i, prop) in props.iter().enumerate() {
            let coll = self.coll.clone();
            if i + 1 == total {
                return self.last(ctx, prop);
            }
            let field = coll.field(prop);
            if let Some(f) = field {
                self.check_hidden(f)?;
                if matches!(f.kind, FieldKind::Json(_) | FieldKind::GeoPoint(_)) {
                    return Ok(self.json_path(f, props.get(i + 1..).unwrap_or_default()));
                }
            }
            if i >= MAX_HOPS {
                return Err(err(format!("max nested relations reached for field {prop:?}")));
            }
            let Some(f) = field else {
                if let Some(missing) = self.back_relation(ctx, prop)? {
                    return Ok(missing);
                }
                continue;
            };
            let FieldKind::Relation(opts) = &f.kind else {
                return Err(err(format!("field {prop:?} is not a valid relation")));
            };
            let target = ctx
                .load(&opts.collection_id)
                .ok_or_else(|| err(format!("failed to load field {prop:?} collection")))?;
            // `rel.id` on a single relation is the relation column itself
            if !f.kind.is_multiple() && i + 2 == total && props.get(i + 1) == Some(&"id") {
                return self.last(ctx, prop);
            }
            self.relation(ctx, f, target)?;
        }
        Err(err("failed to resolve field"))
    }

    /// Joins the target of a forward relation.
    fn relation(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        f: &Field,
        target: Arc<Collection>,
    ) -> Result<(), QueryError> {
        let multiple = f.kind.is_multiple();
        let key = format!("{}.{}", self.key, f.name);
        let source = col(&self.alias, &f.name);
        let alias = if multiple {
            let je = ctx.join(format!("{key}#je"), |_| (json_each(source), None));
            ctx.join(key.clone(), |a| {
                (
                    JoinSource::Table(target.name.clone()),
                    Some(text_eq(col(a, "id"), col(&je, "value"))),
                )
            })
        } else {
            ctx.join(key.clone(), |a| {
                (JoinSource::Table(target.name.clone()), Some(text_eq(col(a, "id"), source)))
            })
        };
        if self.client {
            check_visibility(ctx, &target, &alias, &key)?;
        }

        let mm_source = col(&self.mm_alias, &f.name);
        let mm_alias = ctx.fresh("_m");
        if multiple {
            let mm_je = ctx.fresh("_m");
            self.mm_joins.push(left_join(json_each(mm_source), &mm_je, None));
            self.mm_joins.push(left_join(
                JoinSource::Table(target.name.clone()),
                &mm_alias,
                Some(text_eq(col(&mm_alias, "id"), col(&mm_je, "value"))),
            ));
        } else {
            self.mm_joins.push(left_join(
                JoinSource::Table(target.name.clone()),
                &mm_alias,
                Some(text_eq(col(&mm_alias, "id"), mm_source)),
            ));
        }

        self.multi |= multiple;
        self.uses_joins = true;
        self.coll = target;
        self.alias = alias;
        self.key = key;
        self.mm_alias = mm_alias;
        Ok(())
    }

    /// Joins the rows of `coll_via_field` (records of `coll` whose relation `field` points to
    /// the current row). Returns `Some` when the walk ends here with NULL (`@request.*`).
    fn back_relation(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        prop: &str,
    ) -> Result<Option<Operand>, QueryError> {
        let Some((coll_name, field_name)) = split_via(prop) else {
            return self.missing(format!("failed to resolve field {prop:?}")).map(Some);
        };
        let Some(back_coll) = ctx.load(coll_name) else {
            return self.missing(format!("failed to load back relation {prop:?}")).map(Some);
        };
        let Some(back_field) = back_coll.field(field_name) else {
            return self.missing(format!("missing back relation field {field_name:?}")).map(Some);
        };
        let FieldKind::Relation(opts) = &back_field.kind else {
            return self.missing(format!("invalid back relation field {field_name:?}")).map(Some);
        };
        self.check_hidden(back_field)?;
        if opts.collection_id != self.coll.id {
            return self
                .missing(format!("invalid collection reference of back relation {prop:?}"))
                .map(Some);
        }
        let field_multiple = back_field.kind.is_multiple();
        let multiple = field_multiple || !has_unique_index(&back_coll, field_name);

        let key = format!("{}.{prop}", self.key);
        let base_id = col(&self.alias, "id");
        let alias = ctx.join(key.clone(), |a| {
            let on = back_on(a, field_name, base_id, field_multiple);
            (JoinSource::Table(back_coll.name.clone()), Some(on))
        });
        if self.client {
            check_visibility(ctx, &back_coll, &alias, &key)?;
        }

        let mm_alias = ctx.fresh("_m");
        let on = back_on(&mm_alias, field_name, col(&self.mm_alias, "id"), field_multiple);
        self.mm_joins.push(left_join(
            JoinSource::Table(back_coll.name.clone()),
            &mm_alias,
            Some(on),
        ));

        self.multi |= multiple;
        self.uses_joins = true;
        self.coll = back_coll;
        self.alias = alias;
        self.key = key;
        self.mm_alias = mm_alias;
        Ok(None)
    }

    /// The rest of the props form a JSON path into a json/geoPoint field.
    fn json_path(self, f: &Field, rest: &[&str]) -> Operand {
        let path: Vec<JsonPathSeg> = rest.iter().map(|p| json_seg(p)).collect();
        let extract = |alias: &str| Expr::JsonExtract {
            expr: Box::new(col(alias, &f.name)),
            path: path.clone(),
        };
        let expr = extract(&self.alias);
        let mm_value = extract(&self.mm_alias);
        let mut op = Operand::new(expr, Ty::Json, Shape::Plain);
        op.fallback = Fallback::Disabled;
        self.finish(op, mm_value)
    }

    /// The last prop: a field of the current collection, with an optional modifier.
    fn last(mut self, ctx: &mut Ctx<'_, '_>, prop: &str) -> Result<Operand, QueryError> {
        let (name, modifier) = split_modifier(prop)?;
        let coll = self.coll.clone();
        let Some(field) = coll.field(name) else {
            return self.missing(format!("unknown field {name:?}"));
        };
        self.check_hidden(field)?;
        let multi_valuer = is_multi_valuer(&field.kind);

        if modifier == Some(Modifier::Length) && multi_valuer {
            let multiple = field.kind.is_multiple();
            let expr = length_expr(col(&self.alias, name), multiple);
            let mm_value = length_expr(col(&self.mm_alias, name), multiple);
            return Ok(self.finish(Operand::new(expr, Ty::Number, Shape::Plain), mm_value));
        }

        if modifier == Some(Modifier::Each) && multi_valuer {
            let (ty, _) = column_type(field);
            let source = col(&self.alias, name);
            let je = ctx.join(format!("{}.{name}#je", self.key), |_| {
                (JoinSource::JsonEach(Box::new(Typed::new(source, ty))), None)
            });
            self.uses_joins = true;
            self.multi |= field.kind.is_multiple();
            let mm_je = ctx.fresh("_m");
            let mm_source = Typed::new(col(&self.mm_alias, name), ty);
            self.mm_joins.push(left_join(JoinSource::JsonEach(Box::new(mm_source)), &mm_je, None));
            let op = Operand::new(col(&je, "value"), Ty::Text, Shape::Plain);
            return Ok(self.finish(op, col(&mm_je, "value")));
        }

        let (ty, affinity) = column_type(field);
        let mut op = Operand::new(col(&self.alias, name), ty, Shape::Plain);
        op.affinity = affinity;
        let mut mm_value = col(&self.mm_alias, name);

        if self.client && name == "email" && coll.is_auth() {
            op.after = Some(Expr::Cmp {
                op: sb_sql::CmpOp::Eq,
                lhs: Box::new(Typed::new(col(&self.alias, "emailVisibility"), Ty::Bool)),
                rhs: Box::new(Typed::new(Expr::Param(sb_sql::Value::Bool(true)), Ty::Bool)),
            });
        }

        // whole json fields are compared through a json extraction, so that top-level
        // primitives compare like their SQL equivalents
        if matches!(field.kind, FieldKind::Json(_)) {
            op.expr = Expr::JsonExtract { expr: Box::new(op.expr), path: Vec::new() };
            mm_value = Expr::JsonExtract { expr: Box::new(mm_value), path: Vec::new() };
            op.ty = Ty::Json;
            op.affinity = Affinity::None;
            op.fallback = Fallback::Disabled;
        }

        if modifier == Some(Modifier::Lower) {
            op.expr = Expr::Lower(Box::new(op.expr));
            mm_value = Expr::Lower(Box::new(mm_value));
            op.ty = Ty::Text;
            op.affinity = Affinity::None;
        }

        Ok(self.finish(op, mm_value))
    }

    fn finish(self, mut op: Operand, mm_value: Expr) -> Operand {
        op.from_path = true;
        op.uses_joins |= self.uses_joins;
        if self.multi {
            op.multi = Some(MultiMatch { joins: self.mm_joins, value: mm_value });
        }
        op
    }
}

/// ON condition of a back-relation join: the back field of `alias` points to `base_id`.
fn back_on(alias: &str, field: &str, base_id: Expr, field_multiple: bool) -> Expr {
    if !field_multiple {
        return text_eq(col(alias, field), base_id);
    }
    let je = format!("{alias}_je");
    Expr::InSelect {
        expr: Box::new(base_id),
        select: Box::new(Select {
            columns: vec![SelectItem::Expr { expr: col(&je, "value"), alias: None }],
            from: Some(sb_sql::FromItem::One { alias: format!("{alias}_a") }),
            joins: vec![Join {
                kind: JoinKind::Inner,
                source: json_each(col(alias, field)),
                alias: je,
                on: None,
            }],
            ..Select::default()
        }),
        negated: false,
    }
}

pub(crate) fn json_each(source: Expr) -> JoinSource {
    JoinSource::JsonEach(Box::new(Typed::new(source, Ty::JsonText)))
}

pub(crate) fn left_join(source: JoinSource, alias: &str, on: Option<Expr>) -> Join {
    Join { kind: JoinKind::Left, source, alias: alias.to_owned(), on }
}

/// `:length`: the number of items; a NULL (absent joined row) counts 0, a single-value field
/// counts 1 unless empty.
fn length_expr(column: Expr, multiple: bool) -> Expr {
    let is_null = Expr::IsNull { expr: Box::new(column.clone()), negated: false };
    if multiple {
        Expr::Case {
            whens: vec![(is_null, Expr::Int(0))],
            else_: Some(Box::new(Expr::JsonArrayLength(Box::new(Typed::new(
                column,
                Ty::JsonText,
            ))))),
        }
    } else {
        let empty = text_eq(column, Expr::Str(""));
        Expr::Case {
            whens: vec![(Expr::Or(vec![is_null, empty]), Expr::Int(0))],
            else_: Some(Box::new(Expr::Int(1))),
        }
    }
}

/// A JSON path segment: digits are array indexes; other characters than word characters are
/// dropped from keys (as PocketBase's column-name cleaning does).
fn json_seg(p: &str) -> JsonPathSeg {
    if !p.is_empty()
        && p.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = p.parse::<u32>()
    {
        return JsonPathSeg::Index(i);
    }
    JsonPathSeg::Key(p.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect())
}

/// `coll_via_field` → (`coll`, `field`); the last `_via_` separates them.
fn split_via(prop: &str) -> Option<(&str, &str)> {
    let idx = prop.rfind("_via_")?;
    let (coll, field) = (prop.get(..idx)?, prop.get(idx + 5..)?);
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
    (word(coll) && word(field)).then_some((coll, field))
}

/// True when `field` has a single-column UNIQUE index (back-relations through it are
/// single-valued).
fn has_unique_index(coll: &Collection, field: &str) -> bool {
    coll.indexes.iter().any(|sql| {
        sb_sql::parse_index(sql).is_ok_and(|idx| {
            idx.unique
                && idx.columns.len() == 1
                && idx
                    .columns
                    .first()
                    .is_some_and(|c| !c.is_expr && c.name.eq_ignore_ascii_case(field))
        })
    })
}

/// Client filters may walk into a collection only if its listRule allows listing; a non-empty
/// listRule is ANDed to the query for the joined row (absent rows pass), as PocketBase does.
pub(crate) fn check_visibility(
    ctx: &mut Ctx<'_, '_>,
    target: &Arc<Collection>,
    alias: &str,
    key: &str,
) -> Result<(), QueryError> {
    let Some(rule) = &target.list_rule else {
        return Err(err(format!(
            "only superusers can filter by fields of collection {:?}",
            target.name
        )));
    };
    if rule.is_empty() || !ctx.first_visibility(alias) {
        return Ok(());
    }
    let parsed = sb_filter::parse_filter(rule)
        .map_err(|e| err(format!("invalid listRule of collection {:?}: {e}", target.name)))?;
    let frame = Frame {
        collection: target.clone(),
        alias: alias.to_owned(),
        key: key.to_owned(),
        access: Access::Full,
    };
    let compiled = crate::resolve::compile_expr(ctx, &frame, &parsed)?;
    let id = col(alias, "id");
    let absent = Expr::Or(vec![
        text_eq(id.clone(), Expr::Str("")),
        Expr::IsNull { expr: Box::new(id), negated: false },
    ]);
    ctx.visibility.push(Expr::Or(vec![absent, compiled.expr]));
    Ok(())
}
