//! `@request.*` (spec §4.5) and `@collection.*` (spec §4.6) identifiers.
//!
//! Request values are static: they become bound parameters (or NULL when missing), except
//! where PocketBase joins rows: relation walks from the authenticated record
//! (`@request.auth.team.name`) or from submitted ids (`@request.body.post.author`), the
//! `:each` iteration of submitted arrays, and `@collection.*`.

use std::sync::Arc;

use sb_schema::{Collection, FieldKind, Storage};
use sb_sql::{Expr, JoinSource, Ty, Typed, Value};
use serde_json::Value as Json;

use crate::affinity::Affinity;
use crate::compare::{constant, equal};
use crate::context::{Ctx, Frame, err};
use crate::operand::{Fallback, MultiMatch, Operand, Shape};
use crate::path::{
    Modifier, Walk, column_type, is_multi_valuer, left_join, split_modifier, text_eq,
};
use crate::{Access, QueryError};

/// Fields of the authenticated record that PocketBase treats as static values.
const PLAIN_AUTH_FIELDS: [&str; 6] =
    ["id", "collectionId", "collectionName", "email", "emailVisibility", "verified"];

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `@request.*`; `props` is the identifier split at dots (`props[0] == "@request"`).
pub(crate) fn resolve_request(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    props: &[&str],
) -> Result<Operand, QueryError> {
    if frame.access == Access::Client {
        return Err(err("@request.* is only allowed for superusers and in API rules"));
    }
    let section = props.get(1).copied().unwrap_or_default();
    let allowed = match section {
        "context" | "method" => props.len() == 2,
        "auth" | "body" | "query" | "headers" => props.len() > 2,
        _ => false,
    };
    if !allowed {
        return Err(err(format!("failed to resolve field {:?}", props.join("."))));
    }
    match section {
        "auth" => auth_field(ctx, props),
        "body" => body_field(ctx, frame, props),
        _ => static_field(ctx, props.get(1..).unwrap_or_default()),
    }
}

/// `@request.auth.*`.
fn auth_field(ctx: &mut Ctx<'_, '_>, props: &[&str]) -> Result<Operand, QueryError> {
    let Some(auth) = ctx.scope.request.auth.as_ref() else {
        return Ok(Operand::null());
    };
    let rest = props.get(2..).unwrap_or_default();
    if let [name] = rest {
        if PLAIN_AUTH_FIELDS.contains(name) {
            let value = match *name {
                "collectionId" => Json::String(auth.collection.id.clone()),
                "collectionName" => Json::String(auth.collection.name.clone()),
                _ => auth.record.get(*name).cloned().unwrap_or(Json::Null),
            };
            return Ok(static_value(ctx, &value, name, None));
        }
        if let Some(op) = auth_param(&auth.collection, &auth.record, name)? {
            return Ok(op);
        }
    }

    // everything else walks from the joined auth record, as PocketBase does
    let coll = auth.collection.clone();
    let id = Expr::Param(Value::Text(auth.id().to_owned()));
    let alias = ctx.join("@auth".to_owned(), |a| {
        (JoinSource::Table(coll.name.clone()), Some(text_eq(Expr::col(a, "id"), id.clone())))
    });
    let mm_alias = ctx.fresh("_m");
    let mm_root = left_join(
        JoinSource::Table(coll.name.clone()),
        &mm_alias,
        Some(text_eq(Expr::col(&mm_alias, "id"), id)),
    );
    Walk::from_join(coll, alias, "@auth".to_owned(), mm_root, false, true).run(ctx, rest)
}

/// A scalar field of the authenticated record as a parameter typed like its column (text-like,
/// number, bool and single-value fields, optionally `:lower`). `None` when the field needs the
/// joined record (json and multi-value fields, `:each`, `:length`).
fn auth_param(
    coll: &Collection,
    record: &serde_json::Map<String, Json>,
    prop: &str,
) -> Result<Option<Operand>, QueryError> {
    let (name, modifier) = split_modifier(prop)?;
    let Some(field) = coll.field(name) else {
        return Ok(Some(Operand::null()));
    };
    let storage = field.kind.storage();
    let iterates =
        matches!(modifier, Some(Modifier::Each | Modifier::Length)) && is_multi_valuer(&field.kind);
    if storage == Storage::Json || iterates {
        return Ok(None);
    }
    let raw = record.get(name).unwrap_or(&Json::Null);
    let value = match (storage, raw) {
        (_, Json::Null) => Value::Null,
        (Storage::Number, Json::Number(n)) => Value::Float(n.as_f64().unwrap_or(0.0)),
        (Storage::Bool, Json::Bool(b)) => Value::Bool(*b),
        (_, Json::String(s)) => Value::Text(s.clone()),
        (_, other) => Value::Text(other.to_string()),
    };
    let mut op = Operand::param(value);
    if op.shape == Shape::Null {
        return Ok(Some(op));
    }
    op.from_path = true;
    if modifier == Some(Modifier::Lower) {
        op.expr = Expr::Lower(Box::new(op.expr));
        op.ty = Ty::Text;
    } else {
        let (ty, affinity) = column_type(field);
        op.ty = ty;
        op.affinity = affinity;
    }
    Ok(Some(op))
}

/// `@request.body.*`.
fn body_field(ctx: &mut Ctx<'_, '_>, frame: &Frame, props: &[&str]) -> Result<Operand, QueryError> {
    let path = props.get(1..).unwrap_or_default();
    let Some(first) = props.get(2) else {
        return static_field(ctx, path);
    };
    let (name, modifier) = split_modifier(first)?;
    let base = frame.collection.clone();
    let Some(field) = base.field(name) else {
        return static_field(ctx, path);
    };
    let body = &ctx.scope.request.body;
    let single = props.len() == 3;

    if let FieldKind::Relation(opts) = &field.kind
        && props.len() > 3
    {
        let ids = unique_strings(body.get(name));
        if ids.is_empty() {
            return Ok(Operand::null());
        }
        let target = ctx
            .load(&opts.collection_id)
            .ok_or_else(|| err(format!("failed to load the collection of {name:?}")))?;
        let key = format!("@body:{name}");
        let in_ids = |alias: &str| Expr::InList {
            expr: Box::new(Expr::col(alias, "id")),
            list: ids.iter().map(|id| Expr::Param(Value::Text(id.clone()))).collect(),
            negated: false,
        };
        let alias =
            ctx.join(key.clone(), |a| (JoinSource::Table(target.name.clone()), Some(in_ids(a))));
        let mm_alias = ctx.fresh("_m");
        let mm_root =
            left_join(JoinSource::Table(target.name.clone()), &mm_alias, Some(in_ids(&mm_alias)));
        let multiple = field.kind.is_multiple();
        let rest = props.get(3..).unwrap_or_default();
        return Walk::from_join(target, alias, key, mm_root, multiple, true).run(ctx, rest);
    }

    match modifier {
        Some(Modifier::Each) if single => {
            if !is_multi_valuer(&field.kind) {
                return Err(err(format!("field {name:?} doesn't support multivalue operations")));
            }
            let items = Json::Array(to_items(body.get(name)));
            let json = Expr::Param(Value::Json(items.to_string()));
            let source = || JoinSource::JsonEach(Box::new(Typed::new(json.clone(), Ty::JsonText)));
            let je = ctx.join(format!("@body-each:{name}"), |_| (source(), None));
            let mut op = Operand::new(Expr::col(&je, "value"), Ty::Text, Shape::Plain);
            op.uses_joins = true;
            if field.kind.is_multiple() {
                let mm = ctx.fresh("_m");
                op.multi = Some(MultiMatch {
                    joins: vec![left_join(source(), &mm, None)],
                    value: Expr::col(&mm, "value"),
                });
            }
            Ok(op)
        }
        Some(Modifier::Length) if single => {
            if !is_multi_valuer(&field.kind) {
                return Err(err(format!("field {name:?} doesn't support multivalue operations")));
            }
            let n = i64::try_from(to_items(body.get(name)).len()).unwrap_or(i64::MAX);
            let shape = if n <= 1 { Shape::BoolLiteral } else { Shape::Plain };
            Ok(Operand::new(Expr::Int(n), Ty::Number, shape))
        }
        Some(Modifier::Lower) if single => {
            let text = match body.get(name) {
                Some(Json::String(s)) => s.clone(),
                Some(v @ (Json::Number(_) | Json::Bool(_))) => v.to_string(),
                _ => String::new(),
            };
            let mut op = Operand::param(Value::Text(text));
            op.expr = Expr::Lower(Box::new(op.expr));
            Ok(op)
        }
        Some(Modifier::Changed) if single => {
            let value = body.get(name);
            let changed = match value {
                None => constant(false),
                Some(v) => {
                    let submitted = static_value(ctx, v, name, None);
                    let stored = Walk::from_frame(frame).run(ctx, &[name])?;
                    equal(false, &submitted, &stored)
                }
            };
            let mut op = Operand::new(changed, Ty::Bool, Shape::Plain);
            op.fallback = Fallback::Disabled;
            // a boolean value: `= false` binds a boolean, as against a bool column
            op.affinity = Affinity::Numeric;
            Ok(op)
        }
        _ => static_field(ctx, path),
    }
}

/// `@request.<path>` read from the static request data (`path[0]` is the section).
fn static_field(ctx: &mut Ctx<'_, '_>, path: &[&str]) -> Result<Operand, QueryError> {
    let Some((last, init)) = path.split_last() else {
        return Err(err("invalid @request field"));
    };
    let (last, modifier) = split_modifier(last)?;
    if modifier == Some(Modifier::Changed) {
        return Err(err(format!("invalid modifier sequence {last}:changed")));
    }
    let mut keys: Vec<&str> = init.to_vec();
    keys.push(last);
    let value = lookup(ctx, &keys);
    if modifier == Some(Modifier::Isset) {
        return Ok(Operand::bool_literal(value.is_some()));
    }
    let value = value.unwrap_or(Json::Null);
    Ok(static_value(ctx, &value, last, modifier))
}

/// A static request value as an operand: NULL, a number/bool/text parameter, or the JSON text
/// of arrays and objects. A numeric text is converted to a number when `name` is a number
/// field of the base collection.
fn static_value(
    ctx: &Ctx<'_, '_>,
    value: &Json,
    name: &str,
    modifier: Option<Modifier>,
) -> Operand {
    let v = match value {
        Json::Null => return Operand::null(),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        Json::String(s) => {
            let number_field = ctx
                .scope
                .collection
                .field(name)
                .is_some_and(|f| matches!(f.kind, FieldKind::Number(_)));
            match s.trim().parse::<f64>() {
                Ok(n) if number_field && n.is_finite() && s.trim() == s => Value::Float(n),
                _ => Value::Text(s.clone()),
            }
        }
        other => Value::Text(other.to_string()),
    };
    let mut op = Operand::param(v);
    if modifier == Some(Modifier::Lower) {
        op.expr = Expr::Lower(Box::new(op.expr));
        op.ty = Ty::Text;
        op.affinity = Affinity::None;
    }
    op
}

/// Looks a key path up in the request data; `None` when a key is missing.
fn lookup(ctx: &Ctx<'_, '_>, keys: &[&str]) -> Option<Json> {
    let req = ctx.scope.request;
    let (first, rest) = keys.split_first()?;
    let map_lookup = |m: &std::collections::BTreeMap<String, String>| match rest {
        [k] => m.get(*k).map(|v| Json::String(v.clone())),
        _ => None,
    };
    match *first {
        "context" if rest.is_empty() => Some(Json::String(req.context.clone())),
        "method" if rest.is_empty() => Some(Json::String(req.method.clone())),
        "query" => map_lookup(&req.query),
        "headers" => map_lookup(&req.headers),
        "body" => {
            let (k, more) = rest.split_first()?;
            let mut cur = req.body.get(*k)?;
            for k in more {
                cur = match cur {
                    Json::Object(m) => m.get(*k)?,
                    Json::Array(a) => a.get(k.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(cur.clone())
        }
        _ => None,
    }
}

/// A body value as a list of items (absent/null → none, scalar → one).
fn to_items(v: Option<&Json>) -> Vec<Json> {
    match v {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    }
}

/// Submitted relation ids: unique non-empty strings, in order.
fn unique_strings(v: Option<&Json>) -> Vec<String> {
    let items = match v {
        Some(Json::String(s)) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Array(a)) => a,
            _ => vec![Json::String(s.clone())],
        },
        other => to_items(other),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let s = match item {
            Json::String(s) => s,
            Json::Null => continue,
            other => other.to_string(),
        };
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `@collection.<nameOrId>[:alias].<field...>`: all rows of another collection, joined once
/// per collection name (or per alias).
pub(crate) fn resolve_collection(
    ctx: &mut Ctx<'_, '_>,
    frame: &Frame,
    props: &[&str],
) -> Result<Operand, QueryError> {
    if frame.access == Access::Client {
        return Err(err("@collection.* is only allowed for superusers and in API rules"));
    }
    let (Some(target), Some(rest)) = (props.get(1), props.get(2..)) else {
        return Err(err("invalid @collection field path"));
    };
    if rest.is_empty() {
        return Err(err("invalid @collection field path"));
    }
    let (name, alias) = match target.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (*target, None),
    };
    if !is_word(name) || alias.is_some_and(|a| !is_word(a)) {
        return Err(err(format!("invalid @collection reference {target:?}")));
    }
    let coll: Arc<Collection> =
        ctx.load(name).ok_or_else(|| err(format!("failed to load collection {name:?}")))?;
    let key = match alias {
        Some(a) => format!("@collection:alias:{a}"),
        None => format!("@collection:{}", coll.name),
    };
    let table = coll.name.clone();
    let main = ctx.join(key.clone(), |_| (JoinSource::Table(table.clone()), None));
    let mm_alias = ctx.fresh("_m");
    let mm_root = left_join(JoinSource::Table(table), &mm_alias, None);
    Walk::from_join(coll, main, key, mm_root, true, false).run(ctx, rest)
}
