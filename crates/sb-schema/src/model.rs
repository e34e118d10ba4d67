//! The collection model.
//!
//! The JSON form (see `json.rs` functions [`Collection::from_json`] / [`Collection::to_json`])
//! is exactly the PocketBase API shape (spec §2.3–2.4) and is also what the `_collections`
//! system table stores, so a stored definition round-trips through the API unchanged.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionType {
    Base,
    Auth,
    View,
}

impl CollectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionType::Base => "base",
            CollectionType::Auth => "auth",
            CollectionType::View => "view",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "base" => Some(CollectionType::Base),
            "auth" => Some(CollectionType::Auth),
            "view" => Some(CollectionType::View),
            _ => None,
        }
    }
}

/// A collection definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: String,
    pub name: String,
    pub kind: CollectionType,
    pub system: bool,
    pub list_rule: Option<String>,
    pub view_rule: Option<String>,
    pub create_rule: Option<String>,
    pub update_rule: Option<String>,
    pub delete_rule: Option<String>,
    /// In declaration order; system fields included.
    pub fields: Vec<Field>,
    /// SQLite-dialect `CREATE INDEX` statements, stored verbatim.
    pub indexes: Vec<String>,
    /// Collection timestamps (wire date format).
    pub created: String,
    pub updated: String,
    /// View collections only.
    pub view_query: Option<String>,
    /// Auth collections only.
    pub auth: Option<AuthOptions>,
}

/// The options of an auth collection (spec §2.3, "Auth collections add").
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOptions {
    pub auth_rule: Option<String>,
    pub manage_rule: Option<String>,
    pub auth_alert: AuthAlert,
    pub oauth2: OAuth2Options,
    pub password_auth: PasswordAuth,
    pub mfa: Mfa,
    pub otp: Otp,
    pub auth_token: TokenConfig,
    pub password_reset_token: TokenConfig,
    pub email_change_token: TokenConfig,
    pub verification_token: TokenConfig,
    pub file_token: TokenConfig,
    pub verification_template: EmailTemplate,
    pub reset_password_template: EmailTemplate,
    pub confirm_email_change_template: EmailTemplate,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmailTemplate {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthAlert {
    pub enabled: bool,
    pub email_template: EmailTemplate,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuth2Options {
    pub enabled: bool,
    /// `{"id","name","username","avatarURL"}` → collection field names.
    pub mapped_fields: MappedFields,
    pub providers: Vec<OAuth2Provider>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappedFields {
    pub id: String,
    pub name: String,
    pub username: String,
    pub avatar_url: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OAuth2Provider {
    pub name: String,
    pub client_id: String,
    /// Write-only: never serialised to the API.
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    pub user_info_url: String,
    pub display_name: String,
    pub pkce: Option<bool>,
    pub extra: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PasswordAuth {
    pub enabled: bool,
    pub identity_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mfa {
    pub enabled: bool,
    pub duration: i64,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Otp {
    pub enabled: bool,
    pub duration: i64,
    pub length: i64,
    pub email_template: EmailTemplate,
}

/// A token kind's lifetime and signing secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenConfig {
    /// Seconds.
    pub duration: i64,
    /// Write-only: never serialised to the API, but persisted.
    pub secret: String,
}

/// A field of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: String,
    pub name: String,
    pub system: bool,
    pub hidden: bool,
    pub presentable: bool,
    /// Absent on `autodate`.
    pub help: String,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text(TextOptions),
    Editor(EditorOptions),
    Number(NumberOptions),
    Bool(BoolOptions),
    Email(DomainOptions),
    Url(DomainOptions),
    Date(DateOptions),
    Autodate(AutodateOptions),
    Select(SelectOptions),
    Relation(RelationOptions),
    File(FileOptions),
    Json(JsonOptions),
    Password(PasswordOptions),
    GeoPoint(GeoPointOptions),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextOptions {
    pub min: i64,
    /// 0 means the default maximum of 5000.
    pub max: i64,
    pub pattern: String,
    pub autogenerate_pattern: String,
    pub required: bool,
    pub primary_key: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EditorOptions {
    /// Bytes; 0 means 5 MiB.
    pub max_size: i64,
    pub convert_urls: bool,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NumberOptions {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub only_int: bool,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BoolOptions {
    pub required: bool,
}

/// Options of `email` and `url` fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainOptions {
    pub except_domains: Vec<String>,
    pub only_domains: Vec<String>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DateOptions {
    /// Wire-format date or `""`.
    pub min: String,
    pub max: String,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutodateOptions {
    pub on_create: bool,
    pub on_update: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectOptions {
    pub values: Vec<String>,
    pub max_select: i64,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelationOptions {
    pub collection_id: String,
    pub cascade_delete: bool,
    pub min_select: i64,
    pub max_select: i64,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileOptions {
    pub max_select: i64,
    /// Bytes per file; 0 means 5 MiB.
    pub max_size: i64,
    pub mime_types: Vec<String>,
    pub thumbs: Vec<String>,
    pub protected: bool,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonOptions {
    /// Bytes of serialised JSON; 0 means 1 MiB.
    pub max_size: i64,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PasswordOptions {
    pub min: i64,
    /// 0 means 71.
    pub max: i64,
    pub pattern: String,
    pub cost: i64,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeoPointOptions {
    pub required: bool,
}

/// How a field's value is stored in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Storage {
    Text,
    Number,
    Bool,
    Json,
}

impl FieldKind {
    /// The wire name of the type (`"text"`, `"geoPoint"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::Text(_) => "text",
            FieldKind::Editor(_) => "editor",
            FieldKind::Number(_) => "number",
            FieldKind::Bool(_) => "bool",
            FieldKind::Email(_) => "email",
            FieldKind::Url(_) => "url",
            FieldKind::Date(_) => "date",
            FieldKind::Autodate(_) => "autodate",
            FieldKind::Select(_) => "select",
            FieldKind::Relation(_) => "relation",
            FieldKind::File(_) => "file",
            FieldKind::Json(_) => "json",
            FieldKind::Password(_) => "password",
            FieldKind::GeoPoint(_) => "geoPoint",
        }
    }

    /// True for select/relation/file fields holding more than one value (`maxSelect > 1`).
    pub fn is_multiple(&self) -> bool {
        match self {
            FieldKind::Select(o) => o.max_select > 1,
            FieldKind::Relation(o) => o.max_select > 1,
            FieldKind::File(o) => o.max_select > 1,
            _ => false,
        }
    }

    /// The column storage of the field.
    pub fn storage(&self) -> Storage {
        match self {
            FieldKind::Number(_) => Storage::Number,
            FieldKind::Bool(_) => Storage::Bool,
            FieldKind::Json(_) | FieldKind::GeoPoint(_) => Storage::Json,
            k if k.is_multiple() => Storage::Json,
            _ => Storage::Text,
        }
    }

    pub fn is_required(&self) -> bool {
        match self {
            FieldKind::Text(o) => o.required,
            FieldKind::Editor(o) => o.required,
            FieldKind::Number(o) => o.required,
            FieldKind::Bool(o) => o.required,
            FieldKind::Email(o) | FieldKind::Url(o) => o.required,
            FieldKind::Date(o) => o.required,
            FieldKind::Autodate(_) => false,
            FieldKind::Select(o) => o.required,
            FieldKind::Relation(o) => o.required,
            FieldKind::File(o) => o.required,
            FieldKind::Json(o) => o.required,
            FieldKind::Password(o) => o.required,
            FieldKind::GeoPoint(o) => o.required,
        }
    }
}

impl Collection {
    pub fn is_auth(&self) -> bool {
        self.kind == CollectionType::Auth
    }

    pub fn is_view(&self) -> bool {
        self.kind == CollectionType::View
    }

    /// The field with this exact (case-sensitive) name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_by_id(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }
}
