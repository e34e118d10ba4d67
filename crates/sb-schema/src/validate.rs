//! Validation and normalisation of collection definitions (spec §2.3–2.5).
//!
//! [`prepare`] does what PocketBase's save hooks do before validating: generate missing ids,
//! (re)insert the system fields and indexes, refresh the timestamps. [`validate`] then
//! produces PocketBase's error tree. Like ozzo-validation, each key reports only its first
//! failing rule, and some list-level checks (`fields`, `indexes`) stop at the first problem.
//!
//! Left to the caller (they need the rule compiler or the database):
//! * rule expressions (`listRule`..`deleteRule`, `authRule`, `manageRule`, `mfa.rule`):
//!   compile them and put `validation_invalid_rule` errors into an [`ErrorMap`] *before*
//!   merging this module's errors into it ([`ErrorMap::merge`] keeps the first error of a key),
//!   since PocketBase checks the expression before the system-rule-change rule;
//! * view collections: derive `fields` from `viewQuery` and assign them to
//!   [`Collection::fields`] before calling [`prepare`]; check the query itself;
//! * index statements that parse but fail in the database (unknown columns, ...).

use crate::errors::{ErrorMap, ErrorNode, FieldError};
use crate::formats;
use crate::goregex;
use crate::ids;
use crate::index;
use crate::json::{add_field, unique_field_id};
use crate::model::*;
use crate::record;

/// Largest integer exactly representable in JSON numbers (2^53 - 1).
const MAX_SAFE_INT: i64 = (1 << 53) - 1;

/// Tables that exist next to the collection tables; a collection cannot take their names.
/// Scalebase adds `_cronRuns` (the scheduler's slot claims) and `_clusterEpoch` (writes a node
/// could not tell the cluster about).
pub const INTERNAL_TABLES: [&str; 5] =
    ["_collections", "_params", "_migrations", "_cronRuns", "_clusterEpoch"];

/// Field names that clash with filter literals or record keys.
pub const RESERVED_FIELD_NAMES: [&str; 7] =
    ["null", "true", "false", "_rowid_", "collectionId", "collectionName", "expand"];

/// Field names reserved in auth collections (form-only inputs).
pub const RESERVED_AUTH_FIELD_NAMES: [&str; 2] = ["passwordConfirm", "oldPassword"];

/// Built-in OAuth2 provider names (spec §6.8).
pub const OAUTH2_PROVIDERS: [&str; 32] = [
    "apple",
    "google",
    "microsoft",
    "yandex",
    "facebook",
    "instagram2",
    "github",
    "gitlab",
    "bitbucket",
    "gitee",
    "gitea",
    "discord",
    "twitter",
    "kakao",
    "vk",
    "linear",
    "notion",
    "monday",
    "lark",
    "box",
    "spotify",
    "trakt",
    "twitch",
    "patreon",
    "strava",
    "wakatime",
    "livechat",
    "mailcow",
    "planningcenter",
    "oidc",
    "oidc2",
    "oidc3",
];

// ---------------------------------------------------------------------------------------------
// prepare
// ---------------------------------------------------------------------------------------------

/// Normalises a collection before validation and save.
///
/// * new collections without id get `pbc_<crc32(type+name)>`, suffixed 2..999 when `existing`
///   already has that id (index names carrying the base id are renamed along);
/// * `created` is kept from `old` (or set now for new collections), `updated` is set now;
/// * fields without id get `<type><crc32(name)>`; base/auth collections get the `id` field
///   prepended when missing (an existing one has its system settings enforced);
/// * auth collections get `password`, `tokenKey`, `email`, `emailVisibility`, `verified`
///   appended when missing (or their system flags enforced), the unique indexes on `tokenKey`
///   and `email` when missing, and OAuth2 mapped fields naming unknown fields are blanked.
///
/// View collections keep their fields: the caller assigns the fields derived from the query.
pub fn prepare(c: &mut Collection, old: Option<&Collection>, existing: &[&Collection]) {
    if old.is_none() && c.id.is_empty() {
        let base = ids::collection_id(c.kind, &c.name);
        let mut id = base.clone();
        for i in 2..1000 {
            if !existing.iter().any(|e| e.id == id) {
                break;
            }
            id = format!("{base}{i}");
        }
        if id != base {
            for idx in &mut c.indexes {
                *idx = idx.replace(&format!("_{base}`"), &format!("_{id}`"));
            }
        }
        c.id = id;
    }

    let now = crate::datetime::now_string();
    match old {
        Some(o) if !o.created.is_empty() => c.created = o.created.clone(),
        _ if c.created.is_empty() => c.created = now.clone(),
        _ => {}
    }
    c.updated = now;

    let fields = std::mem::take(&mut c.fields);
    for f in fields {
        add_field(&mut c.fields, f);
    }

    match c.kind {
        CollectionType::View => {}
        CollectionType::Base => ensure_id_field(c),
        CollectionType::Auth => {
            ensure_id_field(c);
            ensure_auth_fields(c);
            let suffix = if c.id.is_empty() {
                ids::random_string(10, ids::LOWER_ALPHANUMERIC)
            } else {
                c.id.clone()
            };
            for name in [names::TOKEN_KEY, names::EMAIL] {
                if !index::has_single_column_unique(&c.indexes, name) {
                    c.indexes.push(system_unique_index(name, &suffix, &c.name));
                }
            }
            let field_names: Vec<String> = c.fields.iter().map(|f| f.name.clone()).collect();
            let auth = c.auth.get_or_insert_with(AuthOptions::new);
            let mapped = &mut auth.oauth2.mapped_fields;
            for slot in
                [&mut mapped.id, &mut mapped.name, &mut mapped.username, &mut mapped.avatar_url]
            {
                if !slot.is_empty() && !field_names.contains(slot) {
                    slot.clear();
                }
            }
        }
    }
}

fn ensure_id_field(c: &mut Collection) {
    let existing =
        c.fields.iter_mut().find(|f| f.name == names::ID && matches!(f.kind, FieldKind::Text(_)));
    match existing {
        Some(f) => {
            f.system = true;
            f.hidden = false;
            if let FieldKind::Text(o) = &mut f.kind {
                o.required = true;
                o.primary_key = true;
                if o.pattern.is_empty() {
                    o.pattern = "^[a-z0-9]+$".into();
                }
            }
        }
        None => {
            let mut f = Field::id_field();
            f.id = unique_field_id(&c.fields, f.type_name(), &f.name);
            c.fields.insert(0, f);
        }
    }
}

fn ensure_auth_fields(c: &mut Collection) {
    for default in auth_system_fields() {
        let found = c.fields.iter_mut().find(|f| {
            f.name == default.name
                && std::mem::discriminant(&f.kind) == std::mem::discriminant(&default.kind)
        });
        match found {
            Some(f) => {
                f.system = true;
                match &mut f.kind {
                    FieldKind::Password(o) => {
                        f.hidden = true;
                        o.required = true;
                    }
                    FieldKind::Text(o) => {
                        f.hidden = true;
                        o.required = true;
                    }
                    FieldKind::Email(_) => f.hidden = false,
                    _ => {}
                }
            }
            None => {
                let mut f = default;
                f.id = String::new();
                add_field(&mut c.fields, f);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------------

/// Validates a prepared collection. `old` is the stored version for updates; `others` are the
/// other collections (on update, an entry with `old`'s id is ignored).
pub fn validate(new: &Collection, old: Option<&Collection>, others: &[&Collection]) -> ErrorMap {
    let others: Vec<&Collection> =
        others.iter().copied().filter(|o| old.is_none_or(|old| o.id != old.id)).collect();
    let ctx = Ctx { new, old, others: &others };
    let mut errs = ErrorMap::new();

    if let Some(e) = ctx.check_id() {
        errs.insert("id", e);
    }
    if let Some(old) = old {
        if new.system != old.system {
            errs.insert(
                "system",
                FieldError::new(
                    "validation_collection_system_flag_change",
                    "System collection state cannot be changed.",
                ),
            );
        }
        if new.kind != old.kind {
            errs.insert(
                "type",
                FieldError::new(
                    "validation_collection_type_change",
                    "Collection type cannot be changed.",
                ),
            );
        }
    }
    if let Some(e) = ctx.check_name() {
        errs.insert("name", e);
    }
    if let Some(node) = ctx.check_fields() {
        errs.insert_node("fields", node);
    }
    ctx.check_rules(&mut errs);
    if let Some(node) = ctx.check_indexes() {
        errs.insert_node("indexes", node);
    }
    match new.kind {
        CollectionType::View => {
            if new.view_query.as_deref().unwrap_or_default().is_empty() {
                errs.insert("viewQuery", FieldError::required());
            }
        }
        CollectionType::Auth => errs.merge(ctx.check_auth_options()),
        CollectionType::Base => {}
    }
    errs
}

struct Ctx<'a> {
    new: &'a Collection,
    old: Option<&'a Collection>,
    others: &'a [&'a Collection],
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn char_len(s: &str) -> i64 {
    s.chars().count() as i64
}

fn length_rule(s: &str, min: i64, max: i64) -> Option<FieldError> {
    let n = char_len(s);
    (!s.is_empty() && (n < min || n > max)).then(|| FieldError::length_out_of_range(min, max))
}

fn found_via(s: &str) -> Option<FieldError> {
    s.to_lowercase()
        .contains("_via_")
        .then(|| FieldError::new("validation_found_via", "The value cannot contain \"_via_\"."))
}

/// ozzo's `Min` (zero values are skipped).
fn min_rule(v: i64, min: i64) -> Option<FieldError> {
    (v != 0 && v < min).then(|| FieldError::min_threshold(min))
}

/// ozzo's `Max` (zero values are skipped).
fn max_rule(v: i64, max: i64) -> Option<FieldError> {
    (v != 0 && v > max).then(|| FieldError::max_threshold(max))
}

fn regex_rule(pattern: &str) -> Option<FieldError> {
    if pattern.is_empty() {
        return None;
    }
    goregex::compile(pattern).err().map(|msg| FieldError::new("validation_invalid_regex", msg))
}

fn first(rules: impl IntoIterator<Item = Option<FieldError>>) -> Option<FieldError> {
    rules.into_iter().flatten().next()
}

impl Ctx<'_> {
    fn check_id(&self) -> Option<FieldError> {
        let id = &self.new.id;
        if id.is_empty() {
            return Some(FieldError::required());
        }
        if let Some(old) = self.old {
            return (*id != old.id).then(FieldError::values_mismatch);
        }
        first([
            length_rule(id, 1, 100),
            (!is_word(id)).then(FieldError::match_invalid),
            self.others.iter().any(|o| o.id == *id).then(|| {
                FieldError::new(
                    "validation_invalid_or_existing_id",
                    "The model id is invalid or already exists.",
                )
            }),
        ])
    }

    fn check_name(&self) -> Option<FieldError> {
        let name = &self.new.name;
        if name.is_empty() {
            return Some(FieldError::required());
        }
        let system_rename = self.old.is_some_and(|o| o.system && o.name != *name);
        let name_changed = self.old.is_none_or(|o| o.name != *name);
        first([
            length_rule(name, 1, 255),
            found_via(name),
            (!is_word(name)).then(FieldError::match_invalid),
            system_rename.then(|| {
                FieldError::new(
                    "validation_collection_system_name_change",
                    "System collection name cannot be changed.",
                )
            }),
            self.others.iter().any(|o| o.name.eq_ignore_ascii_case(name)).then(|| {
                FieldError::new(
                    "validation_collection_name_exists",
                    "Collection name must be unique (case insensitive).",
                )
            }),
            self.others.iter().any(|o| o.id == *name).then(|| {
                FieldError::new(
                    "validation_collection_name_id_duplicate",
                    "The name must not match an existing collection id.",
                )
            }),
            (name_changed
                && (INTERNAL_TABLES.iter().any(|t| t.eq_ignore_ascii_case(name))
                    || name.to_ascii_lowercase().starts_with("sqlite_")))
            .then(|| {
                FieldError::new(
                    "validation_collection_name_invalid",
                    "The name shouldn't match with an existing internal table.",
                )
            }),
        ])
    }

    /// The `fields` checks: the first failing list-level check wins.
    fn check_fields(&self) -> Option<ErrorNode> {
        let fields = &self.new.fields;
        let at = |i: usize, key: &str, e: FieldError| {
            let mut inner = ErrorMap::new();
            inner.insert(key, e);
            let mut outer = ErrorMap::new();
            outer.insert_nested(i.to_string(), inner);
            Some(ErrorNode::Nested(outer))
        };

        // duplicates
        let mut ids: Vec<&str> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if ids.contains(&f.id.as_str()) {
                return at(
                    i,
                    "id",
                    FieldError::new(
                        "validation_duplicated_field_id",
                        format!("Duplicated or invalid field id \"{}\".", f.id),
                    ),
                );
            }
            let lower = f.name.to_lowercase();
            if names.contains(&lower) {
                return at(
                    i,
                    "name",
                    FieldError::new(
                        "validation_duplicated_field_name",
                        format!("Duplicated or invalid field name {}.", f.name),
                    )
                    .with_param("fieldName", f.name.clone()),
                );
            }
            ids.push(&f.id);
            names.push(lower);
        }

        // required fields
        if fields.is_empty() {
            return Some(ErrorNode::Leaf(FieldError::required()));
        }
        if let Some(node) = self.check_required_fields() {
            return Some(node);
        }

        if !self.new.is_view()
            && let Some(old) = self.old
        {
            let changed = old
                .fields
                .iter()
                .filter(|f| f.system)
                .any(|of| self.new.field_by_id(&of.id).is_none_or(|nf| nf.name != of.name));
            if changed {
                return Some(ErrorNode::Leaf(FieldError::new(
                    "validation_system_field_change",
                    "System fields cannot be deleted or renamed.",
                )));
            }
            let mut errs = ErrorMap::new();
            for (i, f) in fields.iter().enumerate() {
                if old.field_by_id(&f.id).is_some_and(|of| of.type_name() != f.type_name()) {
                    errs.insert(
                        i.to_string(),
                        FieldError::new(
                            "validation_field_type_change",
                            "Field type cannot be changed.",
                        ),
                    );
                }
            }
            if !errs.is_empty() {
                return Some(ErrorNode::Nested(errs));
            }
        }

        if self.new.is_auth() {
            let mut errs = ErrorMap::new();
            for (i, f) in fields.iter().enumerate() {
                if RESERVED_AUTH_FIELD_NAMES.contains(&f.name.as_str()) {
                    let mut inner = ErrorMap::new();
                    inner.insert(
                        "name",
                        FieldError::new(
                            "validation_reserved_field_name",
                            "The field name is reserved and cannot be used.",
                        ),
                    );
                    errs.insert_nested(i.to_string(), inner);
                }
            }
            if !errs.is_empty() {
                return Some(ErrorNode::Nested(errs));
            }
        }

        let mut errs = ErrorMap::new();
        for (i, f) in fields.iter().enumerate() {
            errs.insert_nested(i.to_string(), self.field_settings(f));
        }
        (!errs.is_empty()).then_some(ErrorNode::Nested(errs))
    }

    fn check_required_fields(&self) -> Option<ErrorNode> {
        let c = self.new;
        let has_pk = c
            .field(names::ID)
            .is_some_and(|f| matches!(&f.kind, FieldKind::Text(o) if o.primary_key));
        if !has_pk {
            return Some(ErrorNode::Leaf(FieldError::new(
                "validation_missing_primary_key",
                "Missing or invalid \"id\" PK field.",
            )));
        }
        if !c.is_auth() {
            return None;
        }
        let system_hidden = FieldError::new(
            "validation_must_be_system_and_hidden",
            "The field must be marked as \"System\" and \"Hidden\".",
        );
        let system_only =
            FieldError::new("validation_must_be_system", "The field must be marked as \"System\".");
        let checks = [
            (names::PASSWORD, "password", true, "validation_missing_password_field"),
            (names::TOKEN_KEY, "text", true, "validation_missing_tokenKey_field"),
            (names::EMAIL, "email", false, "validation_missing_email_field"),
            (names::EMAIL_VISIBILITY, "bool", false, "validation_missing_emailVisibility_field"),
            (names::VERIFIED, "bool", false, "validation_missing_verified_field"),
        ];
        for (name, type_name, hidden, missing_code) in checks {
            let Some(f) = c.field(name).filter(|f| f.type_name() == type_name) else {
                return Some(ErrorNode::Leaf(FieldError::new(
                    missing_code,
                    format!("System \"{name}\" field is required."),
                )));
            };
            if !f.system || (hidden && !f.hidden) {
                let mut m = ErrorMap::new();
                m.insert(name, if hidden { system_hidden } else { system_only });
                return Some(ErrorNode::Nested(m));
            }
        }
        None
    }

    /// `ValidateSettings` of one field.
    fn field_settings(&self, f: &Field) -> ErrorMap {
        let mut e = ErrorMap::new();
        insert_opt(
            &mut e,
            "id",
            if f.id.is_empty() { Some(FieldError::required()) } else { length_rule(&f.id, 1, 100) },
        );
        let name_rule = if f.name.is_empty() {
            Some(FieldError::required())
        } else {
            first([
                length_rule(&f.name, 1, 100),
                (!is_word(&f.name)).then(FieldError::match_invalid),
                RESERVED_FIELD_NAMES.contains(&f.name.as_str()).then(FieldError::not_in_invalid),
                found_via(&f.name),
            ])
        };
        insert_opt(&mut e, "name", name_rule);
        if !matches!(f.kind, FieldKind::Autodate(_)) {
            insert_opt(&mut e, "help", length_rule(&f.help, 1, 300));
        }

        match &f.kind {
            FieldKind::Text(o) => {
                if o.primary_key && f.name != names::ID {
                    insert_opt(
                        &mut e,
                        "name",
                        Some(FieldError::new(
                            "validation_in_invalid",
                            "The primary key must be named \"id\".",
                        )),
                    );
                }
                let pk_count = self
                    .new
                    .fields
                    .iter()
                    .filter(|f| matches!(&f.kind, FieldKind::Text(t) if t.primary_key))
                    .count();
                insert_opt(
&mut e,
                    "primaryKey",
                    (o.primary_key && pk_count > 1).then(|| {
                        FieldError::new(
                            "validation_unsupported_composite_pk",
                            "Composite PKs are not supported and the collection must have only 1 PK.",
                        )
                    }),
                );
                insert_opt(
                    &mut e,
                    "min",
                    first([min_rule(o.min, 0), max_rule(o.min, MAX_SAFE_INT)]),
                );
                insert_opt(
                    &mut e,
                    "max",
                    first([min_rule(o.max, o.min), max_rule(o.max, MAX_SAFE_INT)]),
                );
                insert_opt(
                    &mut e,
                    "pattern",
                    first([
                        (o.primary_key && o.pattern.is_empty()).then(FieldError::required),
                        regex_rule(&o.pattern),
                    ]),
                );
                insert_opt(&mut e, "hidden", (o.primary_key && f.hidden).then(FieldError::empty));
                insert_opt(
                    &mut e,
                    "required",
                    (o.primary_key && !o.required).then(FieldError::required),
                );
                insert_opt(
                    &mut e,
                    "autogeneratePattern",
                    first([
                        regex_rule(&o.autogenerate_pattern),
                        check_autogenerate_pattern(f, &o.autogenerate_pattern),
                    ]),
                );
            }
            FieldKind::Number(o) => {
                let only_int = |v: Option<f64>| {
                    (o.only_int && v.is_some_and(|v| v.fract() != 0.0)).then(record::only_int_error)
                };
                insert_opt(&mut e, "min", only_int(o.min));
                let below_min = match (o.min, o.max) {
                    (Some(min), Some(max)) if max < min => Some(
                        FieldError::new(
                            "validation_min_number_constraint",
                            format!("Must be greater or equal than {min}."),
                        )
                        .with_param("min", record::number_to_json(min)),
                    ),
                    _ => None,
                };
                insert_opt(&mut e, "max", first([only_int(o.max), below_min]));
            }
            FieldKind::Email(o) | FieldKind::Url(o) => {
                insert_node_opt(
                    &mut e,
                    "exceptDomains",
                    domains_rule(&o.except_domains, &o.only_domains),
                );
                insert_node_opt(
                    &mut e,
                    "onlyDomains",
                    domains_rule(&o.only_domains, &o.except_domains),
                );
            }
            FieldKind::Autodate(o) => {
                if !o.on_create && !o.on_update {
                    let err = FieldError::new(
                        "validation_required",
                        "Either onCreate or onUpdate must be enabled.",
                    );
                    insert_opt(&mut e, "onCreate", Some(err.clone()));
                    insert_opt(&mut e, "onUpdate", Some(err));
                }
            }
            FieldKind::Select(o) => {
                insert_opt(&mut e, "values", o.values.is_empty().then(FieldError::required));
                insert_opt(
                    &mut e,
                    "maxSelect",
                    first([
                        min_rule(o.max_select, 0),
                        max_rule(o.max_select, o.values.len() as i64),
                    ]),
                );
            }
            FieldKind::Relation(o) => {
                insert_opt(&mut e, "collectionId", self.relation_collection_rule(f, o));
                insert_opt(&mut e, "minSelect", min_rule(o.min_select, 0));
                insert_opt(
                    &mut e,
                    "maxSelect",
                    first([
                        (o.min_select > 0 && o.max_select == 0).then(FieldError::required),
                        min_rule(o.max_select, o.min_select),
                    ]),
                );
            }
            FieldKind::File(o) => {
                insert_opt(&mut e, "maxSelect", min_rule(o.max_select, 0));
                insert_opt(
                    &mut e,
                    "maxSize",
                    first([min_rule(o.max_size, 0), max_rule(o.max_size, MAX_SAFE_INT)]),
                );
                let mut thumbs = ErrorMap::new();
                for (i, t) in o.thumbs.iter().enumerate() {
                    if let Some(err) = thumb_rule(t) {
                        thumbs.insert(i.to_string(), err);
                    }
                }
                e.insert_nested("thumbs", thumbs);
            }
            FieldKind::Json(o) => insert_opt(&mut e, "maxSize", min_rule(o.max_size, 0)),
            FieldKind::Editor(o) => insert_opt(&mut e, "maxSize", min_rule(o.max_size, 0)),
            FieldKind::Password(o) => {
                insert_opt(
                    &mut e,
                    "min",
                    first([min_rule(o.min, 1), max_rule(o.min, record::MAX_PASSWORD_LENGTH)]),
                );
                insert_opt(
                    &mut e,
                    "max",
                    first([min_rule(o.max, o.min), max_rule(o.max, record::MAX_PASSWORD_LENGTH)]),
                );
                insert_opt(&mut e, "cost", first([min_rule(o.cost, 4), max_rule(o.cost, 31)]));
                insert_opt(&mut e, "pattern", regex_rule(&o.pattern));
            }
            FieldKind::Bool(_) | FieldKind::Date(_) | FieldKind::GeoPoint(_) => {}
        }
        e
    }

    fn relation_collection_rule(&self, f: &Field, o: &RelationOptions) -> Option<FieldError> {
        let cid = &o.collection_id;
        if cid.is_empty() {
            return Some(FieldError::required());
        }
        let old_target =
            self.old.and_then(|old| old.field_by_id(&f.id)).and_then(|of| match &of.kind {
                FieldKind::Relation(r) => Some(r.collection_id.as_str()),
                _ => None,
            });
        if old_target.is_some_and(|t| t != cid) {
            return Some(FieldError::new(
                "validation_field_relation_change",
                "The relation collection cannot be changed.",
            ));
        }
        let target_is_view = match self.others.iter().find(|c| c.id == *cid) {
            Some(target) => target.is_view(),
            // A relation to the collection itself exists only once it is saved.
            None if self.old.is_some_and(|old| old.id == *cid) => self.new.is_view(),
            None => {
                return Some(FieldError::new(
                    "validation_field_relation_missing_collection",
                    "The relation collection doesn't exist.",
                ));
            }
        };
        (!self.new.is_view() && target_is_view).then(|| {
            FieldError::new(
                "validation_relation_field_non_view_base_collection",
                "Only view collections are allowed to have relations to other views.",
            )
        })
    }

    fn check_rules(&self, errs: &mut ErrorMap) {
        let c = self.new;
        if c.is_view() {
            for (key, rule) in [
                ("createRule", &c.create_rule),
                ("updateRule", &c.update_rule),
                ("deleteRule", &c.delete_rule),
            ] {
                if rule.is_some() {
                    errs.insert(key, FieldError::nil());
                }
            }
        }
        let Some(old) = self.old.filter(|o| o.system) else { return };
        let mut pairs = vec![
            ("listRule", &c.list_rule, &old.list_rule),
            ("viewRule", &c.view_rule, &old.view_rule),
            ("createRule", &c.create_rule, &old.create_rule),
            ("updateRule", &c.update_rule, &old.update_rule),
            ("deleteRule", &c.delete_rule, &old.delete_rule),
        ];
        if let (Some(a), Some(oa)) = (&c.auth, &old.auth) {
            pairs.push(("authRule", &a.auth_rule, &oa.auth_rule));
            pairs.push(("manageRule", &a.manage_rule, &oa.manage_rule));
        }
        for (key, new_rule, old_rule) in pairs {
            if new_rule != old_rule {
                errs.insert(key, system_rule_change());
            }
        }
    }

    fn check_indexes(&self) -> Option<ErrorNode> {
        let c = self.new;
        let at = |i: usize, e: FieldError| {
            let mut m = ErrorMap::new();
            m.insert(i.to_string(), e);
            Some(ErrorNode::Nested(m))
        };
        if c.is_view() && !c.indexes.is_empty() {
            return Some(ErrorNode::Leaf(FieldError::new(
                "validation_indexes_not_supported",
                "View collections don't support indexes.",
            )));
        }
        let mut names: Vec<String> = Vec::new();
        let mut definitions: Vec<String> = Vec::new();
        for (i, raw) in c.indexes.iter().enumerate() {
            let Some(parsed) = index::parse(raw) else {
                return at(
                    i,
                    FieldError::new(
                        "validation_invalid_index_expression",
                        "Invalid CREATE INDEX expression.",
                    ),
                );
            };
            let lower = parsed.name.to_lowercase();
            if names.contains(&lower) {
                return at(
                    i,
                    FieldError::new(
                        "validation_duplicated_index_name",
                        "The index name already exists.",
                    ),
                );
            }
            names.push(lower);
            let used_by = self.others.iter().find(|o| {
                o.indexes
                    .iter()
                    .filter_map(|idx| index::parse(idx))
                    .any(|p| p.name.eq_ignore_ascii_case(&parsed.name))
            });
            if let Some(other) = used_by {
                return at(
                    i,
                    FieldError::new(
                        "validation_existing_index_name",
                        format!("The index name is already used in {} collection.", other.name),
                    )
                    .with_param("usedTableName", other.name.clone()),
                );
            }
            let definition = parsed.definition(true);
            if definitions.contains(&definition) {
                return at(
                    i,
                    FieldError::new(
                        "validation_duplicated_index_definition",
                        "The index definition already exists.",
                    ),
                );
            }
            definitions.push(definition);
        }

        // Unique indexes on system fields must survive an update.
        if let Some(old) = self.old {
            let new_parsed: Vec<_> = c.indexes.iter().filter_map(|i| index::parse(i)).collect();
            for old_index in old.indexes.iter().filter_map(|i| index::parse(i)) {
                if !old_index.unique {
                    continue;
                }
                let system_field = old_index.columns.iter().find_map(|col| {
                    old.fields.iter().find(|f| f.system && f.name.eq_ignore_ascii_case(&col.name))
                });
                let Some(field) = system_field else { continue };
                let wanted = old_index.definition(false);
                if !new_parsed.iter().any(|p| p.definition(false) == wanted) {
                    return Some(ErrorNode::Leaf(
                        FieldError::new(
                            "validation_invalid_unique_system_field_index",
                            format!(
                                "Unique index definition on system fields ({}) is invalid or missing.",
                                field.name
                            ),
                        )
                        .with_param("fieldName", field.name.clone()),
                    ));
                }
            }
        }

        if c.is_auth() {
            for name in [names::TOKEN_KEY, names::EMAIL] {
                if !index::has_single_column_unique(&c.indexes, name) {
                    return Some(ErrorNode::Leaf(
                        FieldError::new(
                            "validation_missing_required_unique_index",
                            format!("Missing required unique index for field \"{name}\"."),
                        )
                        .with_param("fieldName", name),
                    ));
                }
            }
        }
        None
    }

    fn check_auth_options(&self) -> ErrorMap {
        let mut errs = ErrorMap::new();
        let Some(a) = &self.new.auth else { return errs };

        if a.manage_rule.as_deref() == Some("") {
            errs.insert("manageRule", FieldError::nil_or_not_empty());
        }
        errs.insert_nested(
            "authAlert",
            nested("emailTemplate", template_errors(&a.auth_alert.email_template)),
        );

        if a.password_auth.enabled && a.password_auth.identity_fields.iter().all(String::is_empty) {
            let mut m = ErrorMap::new();
            m.insert("identityFields", FieldError::required());
            errs.insert_nested("passwordAuth", m);
        }
        if a.oauth2.enabled {
            errs.insert_nested(
                "oauth2",
                nested_node("providers", providers_errors(&a.oauth2.providers)),
            );
        }

        let mut otp = ErrorMap::new();
        if a.otp.enabled {
            insert_opt(&mut otp, "duration", duration_rule(a.otp.duration, 86_400));
            insert_opt(
                &mut otp,
                "length",
                if a.otp.length == 0 {
                    Some(FieldError::required())
                } else {
                    min_rule(a.otp.length, 4)
                },
            );
        }
        otp.insert_nested("emailTemplate", template_errors(&a.otp.email_template));
        errs.insert_nested("otp", otp);

        if a.mfa.enabled {
            let mut mfa = ErrorMap::new();
            insert_opt(&mut mfa, "duration", duration_rule(a.mfa.duration, 86_400));
            errs.insert_nested("mfa", mfa);
        }
        for (key, token) in a.tokens() {
            let mut t = ErrorMap::new();
            let secret = &token.secret;
            insert_opt(
                &mut t,
                "secret",
                if secret.is_empty() {
                    Some(FieldError::required())
                } else {
                    length_rule(secret, 30, 255)
                },
            );
            insert_opt(&mut t, "duration", duration_rule(token.duration, 94_670_856));
            errs.insert_nested(key, t);
        }
        for (key, template) in [
            ("verificationTemplate", &a.verification_template),
            ("resetPasswordTemplate", &a.reset_password_template),
            ("confirmEmailChangeTemplate", &a.confirm_email_change_template),
        ] {
            errs.insert_nested(key, template_errors(template));
        }
        if !errs.is_empty() {
            return errs;
        }

        if a.mfa.enabled {
            let methods = [a.password_auth.enabled, a.oauth2.enabled, a.otp.enabled];
            if methods.iter().filter(|&&m| m).count() < 2 {
                let mut m = ErrorMap::new();
                m.insert(
                    "enabled",
                    FieldError::new(
                        "validation_mfa_not_enough_auths",
                        "MFA requires at least 2 auth methods to be enabled.",
                    ),
                );
                errs.insert_nested("mfa", m);
                return errs;
            }
            let old_rule =
                self.old.filter(|o| o.system).and_then(|o| o.auth.as_ref()).map(|o| &o.mfa.rule);
            if !a.mfa.rule.is_empty() && old_rule.is_some_and(|r| *r != a.mfa.rule) {
                let mut m = ErrorMap::new();
                m.insert("rule", system_rule_change());
                errs.insert_nested("mfa", m);
                return errs;
            }
        }

        if a.password_auth.enabled {
            let mut seen: Vec<&str> = Vec::new();
            for name in &a.password_auth.identity_fields {
                if name.is_empty() || seen.contains(&name.as_str()) {
                    continue;
                }
                seen.push(name);
                let err = if self.new.field(name).is_none() {
                    Some(
                        FieldError::new(
                            "validation_missing_field",
                            format!("Invalid or missing field {name}."),
                        )
                        .with_param("fieldName", name.clone()),
                    )
                } else if !index::has_single_column_unique(&self.new.indexes, name) {
                    Some(
                        FieldError::new(
                            "validation_missing_unique_constraint",
                            format!("The field {name} doesn't have a UNIQUE constraint."),
                        )
                        .with_param("fieldName", name.clone()),
                    )
                } else {
                    None
                };
                if let Some(err) = err {
                    let mut m = ErrorMap::new();
                    m.insert("identityFields", err);
                    errs.insert_nested("passwordAuth", m);
                    break;
                }
            }
        }
        errs
    }
}

fn insert_node_opt(m: &mut ErrorMap, key: &str, node: Option<ErrorNode>) {
    if let Some(node) = node {
        m.insert_node(key, node);
    }
}

fn insert_opt(m: &mut ErrorMap, key: &str, err: Option<FieldError>) {
    if let Some(err) = err {
        m.insert(key, err);
    }
}

fn nested(key: &str, inner: ErrorMap) -> ErrorMap {
    let mut m = ErrorMap::new();
    m.insert_nested(key, inner);
    m
}

fn nested_node(key: &str, node: Option<ErrorNode>) -> ErrorMap {
    let mut m = ErrorMap::new();
    insert_node_opt(&mut m, key, node);
    m
}

fn system_rule_change() -> FieldError {
    FieldError::new(
        "validation_collection_system_rule_change",
        "System collection API rule cannot be changed.",
    )
}

/// Required, then 10..=max seconds.
fn duration_rule(d: i64, max: i64) -> Option<FieldError> {
    if d == 0 { Some(FieldError::required()) } else { first([min_rule(d, 10), max_rule(d, max)]) }
}

fn template_errors(t: &EmailTemplate) -> ErrorMap {
    let mut m = ErrorMap::new();
    insert_opt(&mut m, "subject", t.subject.is_empty().then(FieldError::required));
    insert_opt(&mut m, "body", t.body.is_empty().then(FieldError::required));
    m
}

fn providers_errors(providers: &[OAuth2Provider]) -> Option<ErrorNode> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        if p.name.is_empty() {
            continue;
        }
        if seen.contains(&p.name.as_str()) {
            let mut inner = ErrorMap::new();
            inner.insert(
                "name",
                FieldError::new(
                    "validation_duplicated_provider",
                    format!("The provider {} is already registered.", p.name),
                )
                .with_param("name", p.name.clone()),
            );
            let mut m = ErrorMap::new();
            m.insert_nested(i.to_string(), inner);
            return Some(ErrorNode::Nested(m));
        }
        seen.push(&p.name);
    }
    let mut m = ErrorMap::new();
    for (i, p) in providers.iter().enumerate() {
        let mut e = ErrorMap::new();
        let name_err = if p.name.is_empty() {
            Some(FieldError::required())
        } else {
            (!OAUTH2_PROVIDERS.contains(&p.name.as_str())).then(|| {
                FieldError::new(
                    "validation_missing_provider",
                    format!("Invalid or missing provider with name {}.", p.name),
                )
                .with_param("name", p.name.clone())
            })
        };
        insert_opt(&mut e, "name", name_err);
        insert_opt(&mut e, "clientId", p.client_id.is_empty().then(FieldError::required));
        insert_opt(&mut e, "clientSecret", p.client_secret.is_empty().then(FieldError::required));
        for (key, url) in [
            ("authURL", &p.auth_url),
            ("tokenURL", &p.token_url),
            ("userInfoURL", &p.user_info_url),
        ] {
            insert_opt(
                &mut e,
                key,
                (!url.is_empty() && !formats::is_url(url))
                    .then(|| FieldError::new("validation_is_url", "Must be a valid URL.")),
            );
        }
        m.insert_nested(i.to_string(), e);
    }
    (!m.is_empty()).then_some(ErrorNode::Nested(m))
}

/// `exceptDomains`/`onlyDomains`: must be empty when the other list is set, else valid domains.
fn domains_rule(list: &[String], other: &[String]) -> Option<ErrorNode> {
    if !other.is_empty() {
        return (!list.is_empty()).then(|| ErrorNode::Leaf(FieldError::empty()));
    }
    let mut m = ErrorMap::new();
    for (i, d) in list.iter().enumerate() {
        if !d.is_empty() && !formats::is_domain(d) {
            m.insert(
                i.to_string(),
                FieldError::new("validation_is_domain", "Must be a valid domain."),
            );
        }
    }
    (!m.is_empty()).then_some(ErrorNode::Nested(m))
}

/// A thumb size `WxH` with an optional `t`/`b`/`f` suffix, not `0x0`.
fn thumb_rule(t: &str) -> Option<FieldError> {
    if t.is_empty() {
        return None;
    }
    if matches!(t, "0x0" | "0x0t" | "0x0b" | "0x0f") {
        return Some(FieldError::not_in_invalid());
    }
    let body = t.strip_suffix(['t', 'b', 'f']).unwrap_or(t);
    let valid = body.split_once('x').is_some_and(|(w, h)| {
        !w.is_empty() && !h.is_empty() && (w.bytes().chain(h.bytes())).all(|b| b.is_ascii_digit())
    });
    (!valid).then(FieldError::match_invalid)
}

/// Generates sample values from the pattern and checks them against the field's own
/// constraints, as PocketBase does (10 tries).
fn check_autogenerate_pattern(f: &Field, pattern: &str) -> Option<FieldError> {
    if pattern.is_empty() || goregex::compile(pattern).is_err() {
        return None;
    }
    for _ in 0..10 {
        let generated = match ids::generate_from_pattern(pattern) {
            Ok(g) => g,
            Err(msg) => {
                return Some(FieldError::new("validation_invalid_autogenerate_pattern", msg));
            }
        };
        if record::validate_value(f, &serde_json::Value::String(generated.clone())).is_err() {
            return Some(FieldError::new(
                "validation_invalid_autogenerate_pattern_value",
                format!(
                    "The provided autogenerate pattern could produce invalid field values, ex.: {generated:?}."
                ),
            ));
        }
    }
    None
}
