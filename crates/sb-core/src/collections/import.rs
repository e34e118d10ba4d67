//! `PUT /api/collections/import`: the collections of one request are loaded on top of the
//! stored ones, validated against the final set (so they may refer to each other) and applied
//! in one transaction, tables first and views last, as PocketBase does.

use sb_schema::{Collection, CollectionType, ErrorMap, FieldError};
use sb_sql::{Delete, Expr, Stmt, Ty};
use sb_store::Tx;
use serde_json::Value as Json;

use super::{
    IMPORT_FAILED, create_storage, db, drop_storage, drop_views, find, migrate_table, prepare,
    recreate_views, with_period, write_definition,
};
use crate::error::{CoreError, CoreResult};
use crate::system::COLLECTIONS_TABLE;
use crate::views;

/// The `validation_collections_import_failure` error.
pub(super) fn import_failure(message: String) -> CoreError {
    let mut data = ErrorMap::new();
    data.insert(
        "collections",
        FieldError::new("validation_collections_import_failure", with_period(&message)),
    );
    CoreError::validation(IMPORT_FAILED, data)
}

/// The validation failure of one imported collection, in PocketBase's words: the error tree
/// as indented JSON of messages.
fn import_validation_failure(c: &Collection, errors: &ErrorMap) -> CoreError {
    let tree = messages_only(errors.to_json());
    let text = serde_json::to_string_pretty(&tree).unwrap_or_default();
    import_failure(format!(
        "Data validations failed for collection {:?} ({}):\n{text}",
        c.name, c.id
    ))
}

/// Replaces each `{code, message, params}` leaf by its message, written as ozzo-validation
/// writes its own messages (lower-case, no final period) for the generic codes.
pub(super) fn messages_only(tree: Json) -> Json {
    match tree {
        Json::Object(m) => {
            if let (Some(Json::String(code)), Some(Json::String(message))) =
                (m.get("code"), m.get("message"))
            {
                return Json::String(if is_generic_code(code) {
                    let trimmed = message.strip_suffix('.').unwrap_or(message);
                    let mut chars = trimmed.chars();
                    chars
                        .next()
                        .map(|c| c.to_lowercase().chain(chars).collect())
                        .unwrap_or_default()
                } else {
                    message.clone()
                });
            }
            Json::Object(m.into_iter().map(|(k, v)| (k, messages_only(v))).collect())
        }
        other => other,
    }
}

/// Codes whose messages come from ozzo-validation's generic rules.
fn is_generic_code(code: &str) -> bool {
    code.starts_with("validation_length_")
        || code.starts_with("validation_is_")
        || [
            "validation_required",
            "validation_nil_or_not_empty_required",
            "validation_nil",
            "validation_empty",
            "validation_match_invalid",
            "validation_in_invalid",
            "validation_not_in_invalid",
            "validation_min_greater_equal_than_required",
            "validation_max_less_equal_than_required",
            "validation_date_invalid",
        ]
        .contains(&code)
}

/// One collection of an import: its stored version (none when new) and the imported one.
struct Imported {
    old: Option<Collection>,
    new: Collection,
}

/// Imports `list` inside `tx` (spec §2.2), as PocketBase does:
/// * each item is looked up by `id`, or by `name` when it has no id; an existing collection
///   gets the item's keys on top of its stored definition, and keeps its fields that the item
///   does not list (system fields only, with `deleteMissing`); an item field without id that
///   has the name and type of a stored field is replaced by the stored field;
/// * with `deleteMissing`, every non-system collection absent from the list is deleted first;
/// * all collections are validated against the final set (so they may refer to each other),
///   then tables are created or migrated, then every view is (re-)created, views last.
pub(super) async fn import_in_tx(
    tx: &mut dyn Tx,
    current: Vec<Collection>,
    list: &[Json],
    delete_missing: bool,
) -> CoreResult<()> {
    let mut imported = Vec::with_capacity(list.len());
    for item in list {
        imported.push(load_import(&current, item, delete_missing)?);
    }
    // Views last: their queries may read from the other collections.
    imported.sort_by_key(|i| i.new.is_view());

    let views = drop_views(tx, &current, None).await?;
    let imported_ids: Vec<&str> =
        imported.iter().filter_map(|i| i.old.as_ref()).map(|c| c.id.as_str()).collect();
    let mut state: Vec<Collection> = Vec::new();
    for c in &current {
        let keep = c.system || imported_ids.contains(&c.id.as_str()) || !delete_missing;
        if keep {
            state.push(c.clone());
        } else if !c.is_view() {
            drop_storage(tx, c).await?;
        } else {
            tx.execute(&Stmt::Delete(Delete {
                table: COLLECTIONS_TABLE.into(),
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(c.id.as_str()), Ty::Text)),
            }))
            .await
            .map_err(db)?;
        }
    }

    // Tables: prepare every collection first (ids), then validate each against the final set.
    for i in imported.iter_mut().filter(|i| !i.new.is_view()) {
        if i.old.is_none() {
            i.new.created.clear();
        }
        let refs: Vec<&Collection> = state.iter().collect();
        sb_schema::validate::prepare(&mut i.new, i.old.as_ref(), &refs);
        upsert(&mut state, &i.new);
    }
    for i in imported.iter_mut().filter(|i| !i.new.is_view()) {
        let others: Vec<Collection> = state.iter().filter(|c| c.id != i.new.id).cloned().collect();
        let errors = prepare(tx, &mut i.new, i.old.as_ref(), &others).await;
        if !errors.is_empty() {
            return Err(import_validation_failure(&i.new, &errors));
        }
        if i.old.is_none() {
            i.new.created = i.new.updated.clone();
        }
        upsert(&mut state, &i.new);
    }
    for i in imported.iter().filter(|i| !i.new.is_view()) {
        match &i.old {
            Some(old) => migrate_table(tx, old, &i.new, IMPORT_FAILED).await?,
            None => create_storage(tx, &i.new, IMPORT_FAILED).await?,
        }
        write_definition(tx, &i.new, i.old.is_none()).await?;
    }

    // Views: the stored ones that stay (re-created from their queries), then the imported ones.
    let kept_views: Vec<String> = views
        .into_iter()
        .filter(|id| !imported.iter().any(|i| i.new.id == *id) && state.iter().any(|c| c.id == *id))
        .collect();
    recreate_views(tx, &mut state, &kept_views, None).await?;
    for i in imported.iter_mut().filter(|i| i.new.is_view()) {
        if i.old.is_none() {
            i.new.created.clear();
        }
        let others: Vec<Collection> = state.iter().filter(|c| c.id != i.new.id).cloned().collect();
        let errors = prepare(tx, &mut i.new, i.old.as_ref(), &others).await;
        if !errors.is_empty() {
            return Err(import_validation_failure(&i.new, &errors));
        }
        tx.execute(&views::create_view(&i.new)).await.map_err(db)?;
        write_definition(tx, &i.new, i.old.is_none()).await?;
        upsert(&mut state, &i.new);
    }
    Ok(())
}

/// Replaces the collection with `c`'s id in `state`, or appends `c`.
fn upsert(state: &mut Vec<Collection>, c: &Collection) {
    match state.iter_mut().find(|x| x.id == c.id) {
        Some(slot) => *slot = c.clone(),
        None => state.push(c.clone()),
    }
}

/// Loads one import item on top of its stored collection, if any (see [`import_in_tx`]).
fn load_import(current: &[Collection], item: &Json, delete_missing: bool) -> CoreResult<Imported> {
    let text = |key: &str| item.get(key).and_then(Json::as_str).unwrap_or_default();
    let identifier = if text("id").is_empty() { text("name") } else { text("id") };
    let existing = if identifier.is_empty() { None } else { find(current, identifier) };
    let raw = |e: sb_schema::errors::LoadError| CoreError::Internal(e.message().to_owned());
    let Some(old) = existing else {
        let new = match Collection::from_json(item) {
            Ok(c) => c,
            Err(e) if e.is_validation() => {
                // An unknown `type`: reported like the other validation failures.
                let mut c = Collection::new(CollectionType::Base, text("name"));
                c.id = format!(
                    "pbc_{}",
                    sb_schema::ids::crc32(&format!("{}{}", text("type"), text("name")))
                );
                return Err(import_validation_failure(&c, &e.errors()));
            }
            Err(e) => return Err(raw(e)),
        };
        return Ok(Imported { old: None, new });
    };
    let mut patch = item.clone();
    if delete_missing
        && let Json::Object(m) = &mut patch
        && m.get("fields").is_none_or(Json::is_null)
    {
        m.insert("fields".into(), Json::Array(Vec::new()));
    }
    let mut new = match old.merge_patch(&patch) {
        Ok(c) => c,
        Err(e) if e.is_validation() => return Err(import_validation_failure(old, &e.errors())),
        Err(e) => return Err(raw(e)),
    };
    for f in &old.fields {
        if (delete_missing && !f.system) || new.field_by_id(&f.id).is_some() {
            continue;
        }
        // A field imported without its id keeps the stored field (and its column), as in
        // PocketBase, which also keeps the stored options then.
        match new.fields.iter_mut().find(|n| n.name == f.name && n.type_name() == f.type_name()) {
            Some(same) => *same = f.clone(),
            None => new.fields.push(f.clone()),
        }
    }
    Ok(Imported { old: Some(old.clone()), new })
}
