//! The JSON form of collections and fields: parsing (create bodies, PATCH bodies, stored
//! definitions) and output (API form without secrets, storage form with them).
//!
//! Loading follows what PocketBase 0.40 does with a request body, verified against the
//! reference binary:
//! * a create body is layered on the factory defaults of its type ([`Collection::new`]); `type`
//!   and `name` are first read case-insensitively to pick that factory, every other key is
//!   matched case-sensitively and unknown keys are ignored;
//! * values are strictly typed (a string where a number is expected, `5.0` for an integer
//!   option, an unknown field `type` → [`LoadError::InvalidFormat`]); `null` resets a key to its
//!   zero value;
//! * nested option objects (`otp`, `authToken`, ...) are merged key by key into the current
//!   value, while `fields`, `indexes` and other lists are replaced wholesale; submitted OAuth2
//!   providers are merged onto the current provider of the same name (so a PATCH may omit the
//!   write-only `clientSecret`);
//! * `fields` behaves like PocketBase's `FieldsList`: a field without `id` gets
//!   `<type><crc32(name)>` (suffixed on collision) and replaces an earlier field of the same
//!   name in place; a field whose `id` repeats replaces the earlier one in place.
//!
//! Output key order matches PocketBase: collections in struct order, field objects with their
//! keys sorted alphabetically (PocketBase serialises fields through a map).

use serde_json::{Map, Value};

use crate::datetime;
use crate::errors::LoadError;
use crate::ids;
use crate::model::*;
use crate::record::number_to_json;

type Obj = Map<String, Value>;
type Load<T = ()> = Result<T, LoadError>;

const INVALID: LoadError = LoadError::InvalidFormat;

impl Collection {
    /// Loads a collection from a create body or a stored definition (see the module docs).
    /// The id stays empty when the input has none: [`crate::validate::prepare`] generates it.
    pub fn from_json(v: &Value) -> Load<Collection> {
        let obj = match v {
            Value::Object(m) => Some(m),
            Value::Null => None,
            _ => return Err(LoadError::InvalidTypeData),
        };
        let (type_name, name) = match obj {
            Some(m) => prepass(m)?,
            None => (String::new(), String::new()),
        };
        let kind = match type_name.as_str() {
            "" => Some(CollectionType::Base),
            other => CollectionType::parse(other),
        };
        let mut c = Collection::new(kind.unwrap_or(CollectionType::Base), name);
        c.id = String::new();
        if let Some(m) = obj {
            apply_collection(&mut c, m, true)?;
        }
        if kind.is_none() {
            return Err(LoadError::UnknownCollectionType);
        }
        Ok(c)
    }

    /// Applies a PATCH body to this (stored) collection: see [`merge_patch`].
    pub fn merge_patch(&self, patch: &Value) -> Load<Collection> {
        merge_patch(self, patch)
    }

    /// The API form: token secrets and OAuth2 client secrets omitted.
    pub fn to_json(&self) -> Value {
        self.to_json_impl(false)
    }

    /// The persisted form: the API form plus the secrets.
    pub fn to_storage_json(&self) -> Value {
        self.to_json_impl(true)
    }

    fn to_json_impl(&self, secrets: bool) -> Value {
        let mut m = Obj::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("listRule".into(), rule_json(&self.list_rule));
        m.insert("viewRule".into(), rule_json(&self.view_rule));
        m.insert("createRule".into(), rule_json(&self.create_rule));
        m.insert("updateRule".into(), rule_json(&self.update_rule));
        m.insert("deleteRule".into(), rule_json(&self.delete_rule));
        m.insert("name".into(), self.name.clone().into());
        m.insert("type".into(), self.kind.as_str().into());
        m.insert("fields".into(), Value::Array(self.fields.iter().map(Field::to_json).collect()));
        m.insert("indexes".into(), strings_json(&self.indexes));
        m.insert("created".into(), self.created.clone().into());
        m.insert("updated".into(), self.updated.clone().into());
        m.insert("system".into(), self.system.into());
        match self.kind {
            CollectionType::View => {
                m.insert("viewQuery".into(), self.view_query.clone().unwrap_or_default().into());
            }
            CollectionType::Auth => {
                let auth = self.auth.clone().unwrap_or_default();
                auth_to_json(&auth, secrets, &mut m);
            }
            CollectionType::Base => {}
        }
        Value::Object(m)
    }
}

/// Applies a PATCH body to a stored collection (spec §2.2): keys present replace the stored
/// ones (nested option objects merge, `fields`/`indexes` are replaced wholesale). The `id` is
/// kept; a changed `type` is reported by [`crate::validate::validate`].
pub fn merge_patch(stored: &Collection, patch: &Value) -> Load<Collection> {
    let mut c = stored.clone();
    match patch {
        Value::Object(m) => apply_collection(&mut c, m, false)?,
        Value::Null => {}
        _ => return Err(INVALID),
    }
    Ok(c)
}

/// Reads `type` and `name` matching keys case-insensitively, as PocketBase's create handler
/// does before picking the collection factory.
fn prepass(m: &Obj) -> Load<(String, String)> {
    let mut found: [Option<String>; 2] = [None, None];
    for (key, value) in m {
        let slot = if key.eq_ignore_ascii_case("type") {
            0
        } else if key.eq_ignore_ascii_case("name") {
            1
        } else {
            continue;
        };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            _ => return Err(LoadError::InvalidTypeData),
        };
        let entry = &mut found[slot];
        if entry.is_some() {
            return Err(LoadError::InvalidTypeData);
        }
        *entry = Some(text);
    }
    let [t, n] = found;
    Ok((t.unwrap_or_default(), n.unwrap_or_default()))
}

fn apply_collection(c: &mut Collection, m: &Obj, with_id: bool) -> Load {
    if let Some(v) = m.get("type") {
        let mut t = String::new();
        set_string(&mut t, v)?;
        // An empty type means "base", as PocketBase's save hook defaults it.
        let kind = match t.as_str() {
            "" => CollectionType::Base,
            other => CollectionType::parse(other).ok_or(LoadError::UnknownCollectionType)?,
        };
        if kind != c.kind {
            c.kind = kind;
            if kind == CollectionType::Auth && c.auth.is_none() {
                c.auth = Some(AuthOptions::new());
            }
            if kind == CollectionType::View && c.view_query.is_none() {
                c.view_query = Some(String::new());
            }
        }
    }
    let mut scratch_auth: Option<AuthOptions> = None;
    for (key, v) in m {
        match key.as_str() {
            "id" if with_id => set_string(&mut c.id, v)?,
            "name" => set_string(&mut c.name, v)?,
            "system" => set_bool(&mut c.system, v)?,
            "listRule" => set_rule(&mut c.list_rule, v)?,
            "viewRule" => set_rule(&mut c.view_rule, v)?,
            "createRule" => set_rule(&mut c.create_rule, v)?,
            "updateRule" => set_rule(&mut c.update_rule, v)?,
            "deleteRule" => set_rule(&mut c.delete_rule, v)?,
            "fields" => c.fields = parse_fields(v)?,
            "indexes" => set_strings(&mut c.indexes, v)?,
            "created" => c.created = datetime_option(v)?,
            "updated" => c.updated = datetime_option(v)?,
            "viewQuery" => {
                let mut q = String::new();
                set_string(&mut q, v)?;
                if c.kind == CollectionType::View {
                    c.view_query = Some(q);
                }
            }
            _ => {
                // Auth options are type-checked even on other collection types (PocketBase
                // decodes them into the same struct), but only kept on auth collections.
                let auth = match c.auth.as_mut() {
                    Some(auth) => auth,
                    None => scratch_auth.get_or_insert_with(AuthOptions::new),
                };
                apply_auth_key(auth, key, v)?;
            }
        }
    }
    Ok(())
}

fn datetime_option(v: &Value) -> Load<String> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(_) => Ok(datetime::normalize_value(v)),
        _ => Err(INVALID),
    }
}

fn apply_auth_key(a: &mut AuthOptions, key: &str, v: &Value) -> Load {
    match key {
        "authRule" => set_rule(&mut a.auth_rule, v),
        "manageRule" => set_rule(&mut a.manage_rule, v),
        "authAlert" => merge_object(&mut a.auth_alert, v, |t, k, v| match k {
            "enabled" => set_bool(&mut t.enabled, v),
            "emailTemplate" => set_template(&mut t.email_template, v),
            _ => Ok(()),
        }),
        "oauth2" => merge_object(&mut a.oauth2, v, |t, k, v| match k {
            "enabled" => set_bool(&mut t.enabled, v),
            "mappedFields" => merge_object(&mut t.mapped_fields, v, |f, k, v| match k {
                "id" => set_string(&mut f.id, v),
                "name" => set_string(&mut f.name, v),
                "username" => set_string(&mut f.username, v),
                "avatarURL" => set_string(&mut f.avatar_url, v),
                _ => Ok(()),
            }),
            "providers" => set_providers(&mut t.providers, v),
            _ => Ok(()),
        }),
        "passwordAuth" => merge_object(&mut a.password_auth, v, |t, k, v| match k {
            "enabled" => set_bool(&mut t.enabled, v),
            "identityFields" => set_strings(&mut t.identity_fields, v),
            _ => Ok(()),
        }),
        "mfa" => merge_object(&mut a.mfa, v, |t, k, v| match k {
            "enabled" => set_bool(&mut t.enabled, v),
            "duration" => set_int(&mut t.duration, v),
            "rule" => set_string(&mut t.rule, v),
            _ => Ok(()),
        }),
        "otp" => merge_object(&mut a.otp, v, |t, k, v| match k {
            "enabled" => set_bool(&mut t.enabled, v),
            "duration" => set_int(&mut t.duration, v),
            "length" => set_int(&mut t.length, v),
            "emailTemplate" => set_template(&mut t.email_template, v),
            _ => Ok(()),
        }),
        "authToken" => set_token(&mut a.auth_token, v),
        "passwordResetToken" => set_token(&mut a.password_reset_token, v),
        "emailChangeToken" => set_token(&mut a.email_change_token, v),
        "verificationToken" => set_token(&mut a.verification_token, v),
        "fileToken" => set_token(&mut a.file_token, v),
        "verificationTemplate" => set_template(&mut a.verification_template, v),
        "resetPasswordTemplate" => set_template(&mut a.reset_password_template, v),
        "confirmEmailChangeTemplate" => set_template(&mut a.confirm_email_change_template, v),
        _ => Ok(()),
    }
}

fn set_token(t: &mut TokenConfig, v: &Value) -> Load {
    merge_object(t, v, |t, k, v| match k {
        "duration" => set_int(&mut t.duration, v),
        "secret" => set_string(&mut t.secret, v),
        _ => Ok(()),
    })
}

fn set_template(t: &mut EmailTemplate, v: &Value) -> Load {
    merge_object(t, v, |t, k, v| match k {
        "subject" => set_string(&mut t.subject, v),
        "body" => set_string(&mut t.body, v),
        _ => Ok(()),
    })
}

/// Each submitted provider is merged onto the current provider with the same name, if any.
fn set_providers(providers: &mut Vec<OAuth2Provider>, v: &Value) -> Load {
    let items = match v {
        Value::Null => {
            providers.clear();
            return Ok(());
        }
        Value::Array(items) => items,
        _ => return Err(INVALID),
    };
    let previous = std::mem::take(providers);
    for item in items {
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut p = previous.iter().find(|p| p.name == name).cloned().unwrap_or_default();
        merge_object(&mut p, item, |p, k, v| match k {
            "name" => set_string(&mut p.name, v),
            "clientId" => set_string(&mut p.client_id, v),
            "clientSecret" => set_string(&mut p.client_secret, v),
            "authURL" => set_string(&mut p.auth_url, v),
            "tokenURL" => set_string(&mut p.token_url, v),
            "userInfoURL" => set_string(&mut p.user_info_url, v),
            "displayName" => set_string(&mut p.display_name, v),
            "pkce" => match v {
                Value::Null => {
                    p.pkce = None;
                    Ok(())
                }
                Value::Bool(b) => {
                    p.pkce = Some(*b);
                    Ok(())
                }
                _ => Err(INVALID),
            },
            "extra" => match v {
                Value::Null => {
                    p.extra = Map::new();
                    Ok(())
                }
                Value::Object(m) => {
                    p.extra = m.clone();
                    Ok(())
                }
                _ => Err(INVALID),
            },
            _ => Ok(()),
        })?;
        providers.push(p);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

/// Parses a `fields` array with PocketBase's `FieldsList` id/replace semantics.
pub fn parse_fields(v: &Value) -> Load<Vec<Field>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(INVALID),
    };
    let mut list: Vec<Field> = Vec::with_capacity(items.len());
    for item in items {
        add_field(&mut list, Field::from_json(item)?);
    }
    Ok(list)
}

/// Adds a field the way `FieldsList.Add` does: generate a missing id (unique within the list),
/// then replace an existing field in place (by name for id-less fields, reusing its id; by id
/// otherwise) or append.
pub fn add_field(list: &mut Vec<Field>, mut field: Field) {
    let by_name = field.id.is_empty();
    if by_name {
        field.id = unique_field_id(list, field.type_name(), &field.name);
    }
    let existing = if by_name {
        list.iter().position(|f| !field.name.is_empty() && f.name == field.name)
    } else {
        list.iter().position(|f| f.id == field.id)
    };
    match existing.and_then(|i| list.get_mut(i)) {
        Some(slot) => {
            if by_name {
                field.id = slot.id.clone();
            }
            *slot = field;
        }
        None => list.push(field),
    }
}

/// `<type><crc32(name)>`, with a numeric suffix 2..999 when the list already has that id.
pub fn unique_field_id(list: &[Field], type_name: &str, name: &str) -> String {
    let base = ids::field_id(type_name, name);
    let mut id = base.clone();
    for i in 2..1000 {
        if !list.iter().any(|f| f.id == id) {
            break;
        }
        id = format!("{base}{i}");
    }
    id
}

impl Field {
    /// Parses one field object (flat: common keys plus the options of its `type`).
    pub fn from_json(v: &Value) -> Load<Field> {
        let Value::Object(m) = v else { return Err(INVALID) };
        let type_name = m.get("type").and_then(Value::as_str).unwrap_or_default();
        let kind = FieldKind::default_for(type_name).ok_or(INVALID)?;
        let mut f = Field::new("", kind);
        let has_help = !matches!(f.kind, FieldKind::Autodate(_));
        for (key, v) in m {
            match key.as_str() {
                "id" => set_string(&mut f.id, v)?,
                "name" => set_string(&mut f.name, v)?,
                "system" => set_bool(&mut f.system, v)?,
                "hidden" => set_bool(&mut f.hidden, v)?,
                "presentable" => set_bool(&mut f.presentable, v)?,
                "help" if has_help => set_string(&mut f.help, v)?,
                other => apply_option(&mut f.kind, other, v)?,
            }
        }
        Ok(f)
    }

    /// The field object: common keys plus options, keys sorted alphabetically.
    pub fn to_json(&self) -> Value {
        let mut m = Obj::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("type".into(), self.type_name().into());
        m.insert("system".into(), self.system.into());
        m.insert("hidden".into(), self.hidden.into());
        m.insert("presentable".into(), self.presentable.into());
        if !matches!(self.kind, FieldKind::Autodate(_)) {
            m.insert("help".into(), self.help.clone().into());
        }
        options_to_json(&self.kind, &mut m);
        let mut entries: Vec<(String, Value)> = m.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(entries.into_iter().collect())
    }
}

fn apply_option(kind: &mut FieldKind, key: &str, v: &Value) -> Load {
    match kind {
        FieldKind::Text(o) => match key {
            "min" => set_int(&mut o.min, v),
            "max" => set_int(&mut o.max, v),
            "pattern" => set_string(&mut o.pattern, v),
            "autogeneratePattern" => set_string(&mut o.autogenerate_pattern, v),
            "required" => set_bool(&mut o.required, v),
            "primaryKey" => set_bool(&mut o.primary_key, v),
            _ => Ok(()),
        },
        FieldKind::Editor(o) => match key {
            "maxSize" => set_int(&mut o.max_size, v),
            "convertURLs" => set_bool(&mut o.convert_urls, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Number(o) => match key {
            "min" => set_float(&mut o.min, v),
            "max" => set_float(&mut o.max, v),
            "onlyInt" => set_bool(&mut o.only_int, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Bool(o) => match key {
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Email(o) | FieldKind::Url(o) => match key {
            "exceptDomains" => set_strings(&mut o.except_domains, v),
            "onlyDomains" => set_strings(&mut o.only_domains, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Date(o) => match key {
            "min" => datetime_option(v).map(|d| o.min = d),
            "max" => datetime_option(v).map(|d| o.max = d),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Autodate(o) => match key {
            "onCreate" => set_bool(&mut o.on_create, v),
            "onUpdate" => set_bool(&mut o.on_update, v),
            _ => Ok(()),
        },
        FieldKind::Select(o) => match key {
            "values" => set_strings(&mut o.values, v),
            "maxSelect" => set_int(&mut o.max_select, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Relation(o) => match key {
            "collectionId" => set_string(&mut o.collection_id, v),
            "cascadeDelete" => set_bool(&mut o.cascade_delete, v),
            "minSelect" => set_int(&mut o.min_select, v),
            "maxSelect" => set_int(&mut o.max_select, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::File(o) => match key {
            "maxSelect" => set_int(&mut o.max_select, v),
            "maxSize" => set_int(&mut o.max_size, v),
            "mimeTypes" => set_strings(&mut o.mime_types, v),
            "thumbs" => set_strings(&mut o.thumbs, v),
            "protected" => set_bool(&mut o.protected, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Json(o) => match key {
            "maxSize" => set_int(&mut o.max_size, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::Password(o) => match key {
            "min" => set_int(&mut o.min, v),
            "max" => set_int(&mut o.max, v),
            "pattern" => set_string(&mut o.pattern, v),
            "cost" => set_int(&mut o.cost, v),
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
        FieldKind::GeoPoint(o) => match key {
            "required" => set_bool(&mut o.required, v),
            _ => Ok(()),
        },
    }
}

fn options_to_json(kind: &FieldKind, m: &mut Obj) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    match kind {
        FieldKind::Text(o) => {
            put("min", o.min.into());
            put("max", o.max.into());
            put("pattern", o.pattern.clone().into());
            put("autogeneratePattern", o.autogenerate_pattern.clone().into());
            put("required", o.required.into());
            put("primaryKey", o.primary_key.into());
        }
        FieldKind::Editor(o) => {
            put("maxSize", o.max_size.into());
            put("convertURLs", o.convert_urls.into());
            put("required", o.required.into());
        }
        FieldKind::Number(o) => {
            put("min", o.min.map(number_to_json).unwrap_or(Value::Null));
            put("max", o.max.map(number_to_json).unwrap_or(Value::Null));
            put("onlyInt", o.only_int.into());
            put("required", o.required.into());
        }
        FieldKind::Bool(o) => put("required", o.required.into()),
        FieldKind::GeoPoint(o) => put("required", o.required.into()),
        FieldKind::Email(o) | FieldKind::Url(o) => {
            put("exceptDomains", strings_json(&o.except_domains));
            put("onlyDomains", strings_json(&o.only_domains));
            put("required", o.required.into());
        }
        FieldKind::Date(o) => {
            put("min", o.min.clone().into());
            put("max", o.max.clone().into());
            put("required", o.required.into());
        }
        FieldKind::Autodate(o) => {
            put("onCreate", o.on_create.into());
            put("onUpdate", o.on_update.into());
        }
        FieldKind::Select(o) => {
            put("values", strings_json(&o.values));
            put("maxSelect", o.max_select.into());
            put("required", o.required.into());
        }
        FieldKind::Relation(o) => {
            put("collectionId", o.collection_id.clone().into());
            put("cascadeDelete", o.cascade_delete.into());
            put("minSelect", o.min_select.into());
            put("maxSelect", o.max_select.into());
            put("required", o.required.into());
        }
        FieldKind::File(o) => {
            put("maxSelect", o.max_select.into());
            put("maxSize", o.max_size.into());
            put("mimeTypes", strings_json(&o.mime_types));
            put("thumbs", strings_json(&o.thumbs));
            put("protected", o.protected.into());
            put("required", o.required.into());
        }
        FieldKind::Json(o) => {
            put("maxSize", o.max_size.into());
            put("required", o.required.into());
        }
        FieldKind::Password(o) => {
            put("min", o.min.into());
            put("max", o.max.into());
            put("pattern", o.pattern.clone().into());
            put("cost", o.cost.into());
            put("required", o.required.into());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Auth options output
// ---------------------------------------------------------------------------------------------

fn auth_to_json(a: &AuthOptions, secrets: bool, m: &mut Obj) {
    m.insert("authRule".into(), rule_json(&a.auth_rule));
    m.insert("manageRule".into(), rule_json(&a.manage_rule));
    m.insert(
        "authAlert".into(),
        object([
            ("enabled", a.auth_alert.enabled.into()),
            ("emailTemplate", template_json(&a.auth_alert.email_template)),
        ]),
    );
    let providers = a.oauth2.providers.iter().map(|p| provider_json(p, secrets)).collect();
    let mapped = &a.oauth2.mapped_fields;
    m.insert(
        "oauth2".into(),
        object([
            ("providers", Value::Array(providers)),
            (
                "mappedFields",
                object([
                    ("id", mapped.id.clone().into()),
                    ("name", mapped.name.clone().into()),
                    ("username", mapped.username.clone().into()),
                    ("avatarURL", mapped.avatar_url.clone().into()),
                ]),
            ),
            ("enabled", a.oauth2.enabled.into()),
        ]),
    );
    m.insert(
        "passwordAuth".into(),
        object([
            ("enabled", a.password_auth.enabled.into()),
            ("identityFields", strings_json(&a.password_auth.identity_fields)),
        ]),
    );
    m.insert(
        "mfa".into(),
        object([
            ("enabled", a.mfa.enabled.into()),
            ("duration", a.mfa.duration.into()),
            ("rule", a.mfa.rule.clone().into()),
        ]),
    );
    m.insert(
        "otp".into(),
        object([
            ("enabled", a.otp.enabled.into()),
            ("duration", a.otp.duration.into()),
            ("length", a.otp.length.into()),
            ("emailTemplate", template_json(&a.otp.email_template)),
        ]),
    );
    for (key, token) in a.tokens() {
        let mut t = Obj::new();
        if secrets && !token.secret.is_empty() {
            t.insert("secret".into(), token.secret.clone().into());
        }
        t.insert("duration".into(), token.duration.into());
        m.insert(key.into(), Value::Object(t));
    }
    m.insert("verificationTemplate".into(), template_json(&a.verification_template));
    m.insert("resetPasswordTemplate".into(), template_json(&a.reset_password_template));
    m.insert("confirmEmailChangeTemplate".into(), template_json(&a.confirm_email_change_template));
}

fn provider_json(p: &OAuth2Provider, secrets: bool) -> Value {
    let mut m = Obj::new();
    m.insert("pkce".into(), p.pkce.map(Value::Bool).unwrap_or(Value::Null));
    m.insert("name".into(), p.name.clone().into());
    m.insert("clientId".into(), p.client_id.clone().into());
    if secrets && !p.client_secret.is_empty() {
        m.insert("clientSecret".into(), p.client_secret.clone().into());
    }
    m.insert("authURL".into(), p.auth_url.clone().into());
    m.insert("tokenURL".into(), p.token_url.clone().into());
    m.insert("userInfoURL".into(), p.user_info_url.clone().into());
    m.insert("displayName".into(), p.display_name.clone().into());
    m.insert("extra".into(), Value::Object(p.extra.clone()));
    Value::Object(m)
}

fn template_json(t: &EmailTemplate) -> Value {
    object([("subject", t.subject.clone().into()), ("body", t.body.clone().into())])
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn rule_json(rule: &Option<String>) -> Value {
    rule.clone().map(Value::String).unwrap_or(Value::Null)
}

fn strings_json(list: &[String]) -> Value {
    Value::Array(list.iter().cloned().map(Value::String).collect())
}

// ---------------------------------------------------------------------------------------------
// Strictly typed setters (`null` = zero value)
// ---------------------------------------------------------------------------------------------

fn set_string(dst: &mut String, v: &Value) -> Load {
    match v {
        Value::Null => dst.clear(),
        Value::String(s) => s.clone_into(dst),
        _ => return Err(INVALID),
    }
    Ok(())
}

fn set_rule(dst: &mut Option<String>, v: &Value) -> Load {
    *dst = match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(INVALID),
    };
    Ok(())
}

fn set_bool(dst: &mut bool, v: &Value) -> Load {
    *dst = match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(INVALID),
    };
    Ok(())
}

/// Integers must be integer literals (`5`, not `5.0` or `"5"`) that fit in 64 bits.
fn set_int(dst: &mut i64, v: &Value) -> Load {
    *dst = match v {
        Value::Null => 0,
        Value::Number(n) => n.as_i64().ok_or(INVALID)?,
        _ => return Err(INVALID),
    };
    Ok(())
}

fn set_float(dst: &mut Option<f64>, v: &Value) -> Load {
    *dst = match v {
        Value::Null => None,
        Value::Number(n) => Some(n.as_f64().ok_or(INVALID)?),
        _ => return Err(INVALID),
    };
    Ok(())
}

fn set_strings(dst: &mut Vec<String>, v: &Value) -> Load {
    *dst = match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                _ => Err(INVALID),
            })
            .collect::<Load<Vec<String>>>()?,
        _ => return Err(INVALID),
    };
    Ok(())
}

/// `null` resets `dst` to its zero value; an object is merged key by key with `apply`.
fn merge_object<T: Default>(
    dst: &mut T,
    v: &Value,
    mut apply: impl FnMut(&mut T, &str, &Value) -> Load,
) -> Load {
    match v {
        Value::Null => {
            *dst = T::default();
            Ok(())
        }
        Value::Object(m) => m.iter().try_for_each(|(k, v)| apply(dst, k, v)),
        _ => Err(INVALID),
    }
}
