//! The collection model.
//!
//! The JSON form (see `json.rs` functions [`Collection::from_json`] / [`Collection::to_json`])
//! is exactly the PocketBase API shape (spec §2.3–2.4) and is also what the `_collections`
//! system table stores, so a stored definition round-trips through the API unchanged.
//!
//! The constructors here ([`Collection::new`], [`scaffold`], the system field builders) produce
//! the same defaults as PocketBase's collection factories, which is what partial create bodies
//! are layered on.

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

#[derive(Debug, Clone, PartialEq, Default)]
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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PasswordAuth {
    pub enabled: bool,
    pub identity_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mfa {
    pub enabled: bool,
    pub duration: i64,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Otp {
    pub enabled: bool,
    pub duration: i64,
    pub length: i64,
    pub email_template: EmailTemplate,
}

/// A token kind's lifetime and signing secret.
#[derive(Debug, Clone, PartialEq, Default)]
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

// ---------------------------------------------------------------------------------------------
// Constructors and defaults
// ---------------------------------------------------------------------------------------------

/// Field names with a fixed meaning.
pub mod names {
    pub const ID: &str = "id";
    pub const PASSWORD: &str = "password";
    pub const TOKEN_KEY: &str = "tokenKey";
    pub const EMAIL: &str = "email";
    pub const EMAIL_VISIBILITY: &str = "emailVisibility";
    pub const VERIFIED: &str = "verified";
    pub const COLLECTION_ID: &str = "collectionId";
    pub const COLLECTION_NAME: &str = "collectionName";
    pub const EXPAND: &str = "expand";
}

/// Every field type name, in PocketBase's documentation order.
pub const FIELD_TYPES: [&str; 14] = [
    "text", "editor", "number", "bool", "email", "url", "date", "autodate", "select", "relation",
    "file", "json", "password", "geoPoint",
];

impl FieldKind {
    /// The options of a fresh field of the given wire type (all zero, as PocketBase's field
    /// factories create them), or `None` for an unknown type name.
    pub fn default_for(type_name: &str) -> Option<FieldKind> {
        Some(match type_name {
            "text" => FieldKind::Text(TextOptions::default()),
            "editor" => FieldKind::Editor(EditorOptions::default()),
            "number" => FieldKind::Number(NumberOptions::default()),
            "bool" => FieldKind::Bool(BoolOptions::default()),
            "email" => FieldKind::Email(DomainOptions::default()),
            "url" => FieldKind::Url(DomainOptions::default()),
            "date" => FieldKind::Date(DateOptions::default()),
            "autodate" => FieldKind::Autodate(AutodateOptions::default()),
            "select" => FieldKind::Select(SelectOptions::default()),
            "relation" => FieldKind::Relation(RelationOptions::default()),
            "file" => FieldKind::File(FileOptions::default()),
            "json" => FieldKind::Json(JsonOptions::default()),
            "password" => FieldKind::Password(PasswordOptions::default()),
            "geoPoint" => FieldKind::GeoPoint(GeoPointOptions::default()),
            _ => return None,
        })
    }
}

impl Field {
    /// A non-system field with an empty id (ids are generated by [`crate::validate::prepare`]).
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Field {
        Field {
            id: String::new(),
            name: name.into(),
            system: false,
            hidden: false,
            presentable: false,
            help: String::new(),
            kind,
        }
    }

    /// Sets the id to the default `<type><crc32(name)>`.
    pub fn with_default_id(mut self) -> Field {
        self.id = crate::ids::field_id(self.kind.type_name(), &self.name);
        self
    }

    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// The `id` primary key field every base/auth collection has (spec §2.5).
    pub fn id_field() -> Field {
        Field {
            system: true,
            ..Field::new(
                names::ID,
                FieldKind::Text(TextOptions {
                    min: 15,
                    max: 15,
                    pattern: "^[a-z0-9]+$".into(),
                    autogenerate_pattern: "[a-z0-9]{15}".into(),
                    required: true,
                    primary_key: true,
                }),
            )
        }
        .with_default_id()
    }

    /// The auth `password` system field.
    pub fn password_field() -> Field {
        Field {
            system: true,
            hidden: true,
            ..Field::new(
                names::PASSWORD,
                FieldKind::Password(PasswordOptions {
                    min: 8,
                    required: true,
                    ..Default::default()
                }),
            )
        }
        .with_default_id()
    }

    /// The auth `tokenKey` system field.
    pub fn token_key_field() -> Field {
        Field {
            system: true,
            hidden: true,
            ..Field::new(
                names::TOKEN_KEY,
                FieldKind::Text(TextOptions {
                    min: 30,
                    max: 60,
                    autogenerate_pattern: "[a-zA-Z0-9]{50}".into(),
                    required: true,
                    ..Default::default()
                }),
            )
        }
        .with_default_id()
    }

    /// The auth `email` system field.
    pub fn email_field() -> Field {
        Field {
            system: true,
            ..Field::new(
                names::EMAIL,
                FieldKind::Email(DomainOptions { required: true, ..Default::default() }),
            )
        }
        .with_default_id()
    }

    /// The auth `emailVisibility` system field.
    pub fn email_visibility_field() -> Field {
        Field {
            system: true,
            ..Field::new(names::EMAIL_VISIBILITY, FieldKind::Bool(BoolOptions::default()))
        }
        .with_default_id()
    }

    /// The auth `verified` system field.
    pub fn verified_field() -> Field {
        Field {
            system: true,
            ..Field::new(names::VERIFIED, FieldKind::Bool(BoolOptions::default()))
        }
        .with_default_id()
    }

    /// An `autodate` field (e.g. `created`: on create; `updated`: on create and update).
    pub fn autodate(name: impl Into<String>, on_create: bool, on_update: bool) -> Field {
        Field::new(name, FieldKind::Autodate(AutodateOptions { on_create, on_update }))
            .with_default_id()
    }
}

/// The auth system fields, in the order PocketBase appends them.
pub fn auth_system_fields() -> Vec<Field> {
    vec![
        Field::password_field(),
        Field::token_key_field(),
        Field::email_field(),
        Field::email_visibility_field(),
        Field::verified_field(),
    ]
}

/// `CREATE UNIQUE INDEX` statement of an auth system field (`tokenKey`, or `email` which is
/// partial: `WHERE email != ''`), named `idx_<field>_<suffix>`.
pub fn system_unique_index(field: &str, suffix: &str, table: &str) -> String {
    let base = format!("CREATE UNIQUE INDEX `idx_{field}_{suffix}` ON `{table}` (`{field}`)");
    if field == names::EMAIL { format!("{base} WHERE `{field}` != ''") } else { base }
}

impl EmailTemplate {
    pub fn new(subject: &str, body: &str) -> EmailTemplate {
        EmailTemplate { subject: subject.into(), body: body.into() }
    }
}

impl TokenConfig {
    /// A token config with a fresh random 50-character secret.
    pub fn with_duration(duration: i64) -> TokenConfig {
        TokenConfig { duration, secret: crate::ids::random_secret() }
    }
}

/// Default e-mail templates. The wording is Scalebase's own; placeholders are PocketBase's.
pub mod templates {
    use super::EmailTemplate;

    const SIGNATURE: &str = "<p>\n  Best regards,<br/>\n  The {APP_NAME} team\n</p>";

    pub fn verification() -> EmailTemplate {
        EmailTemplate::new(
            "Verify your {APP_NAME} email",
            &format!(
                "<p>Hi,</p>\n<p>Welcome to {{APP_NAME}}! Please confirm that this is your email address.</p>\n<p>\n  <a class=\"btn\" href=\"{{APP_URL}}/_/#/auth/confirm-verification/{{TOKEN}}\" target=\"_blank\" rel=\"noopener\">Confirm email</a>\n</p>\n<p><i>You can ignore this message if you did not create an account.</i></p>\n{SIGNATURE}"
            ),
        )
    }

    pub fn reset_password() -> EmailTemplate {
        EmailTemplate::new(
            "Reset your {APP_NAME} password",
            &format!(
                "<p>Hi,</p>\n<p>A password reset was requested for your {{APP_NAME}} account. Use the button below to choose a new password.</p>\n<p>\n  <a class=\"btn\" href=\"{{APP_URL}}/_/#/auth/confirm-password-reset/{{TOKEN}}\" target=\"_blank\" rel=\"noopener\">Choose a new password</a>\n</p>\n<p><i>You can ignore this message if you did not request a reset.</i></p>\n{SIGNATURE}"
            ),
        )
    }

    pub fn confirm_email_change() -> EmailTemplate {
        EmailTemplate::new(
            "Confirm your {APP_NAME} new email address",
            &format!(
                "<p>Hi,</p>\n<p>Please confirm the new email address of your {{APP_NAME}} account.</p>\n<p>\n  <a class=\"btn\" href=\"{{APP_URL}}/_/#/auth/confirm-email-change/{{TOKEN}}\" target=\"_blank\" rel=\"noopener\">Confirm new email</a>\n</p>\n<p><i>You can ignore this message if you did not ask for this change.</i></p>\n{SIGNATURE}"
            ),
        )
    }

    pub fn otp() -> EmailTemplate {
        EmailTemplate::new(
            "OTP for {APP_NAME}",
            &format!(
                "<p>Hi,</p>\n<p>Your {{APP_NAME}} one-time password is: <strong>{{OTP}}</strong></p>\n<p><i>You can ignore this message if you did not request it.</i></p>\n{SIGNATURE}"
            ),
        )
    }

    pub fn auth_alert() -> EmailTemplate {
        EmailTemplate::new(
            "Login from a new location",
            &format!(
                "<p>Hi,</p>\n<p>Your {{APP_NAME}} account was just signed in from a new location:</p>\n<p><em>{{ALERT_INFO}}</em></p>\n<p><strong>If this was not you, change your {{APP_NAME}} password now to sign out every other location.</strong></p>\n<p>If it was you, no action is needed.</p>\n{SIGNATURE}"
            ),
        )
    }
}

impl AuthOptions {
    /// The options of a new auth collection (spec §2.3), with fresh random token secrets.
    pub fn new() -> AuthOptions {
        AuthOptions {
            auth_rule: Some(String::new()),
            manage_rule: None,
            auth_alert: AuthAlert { enabled: true, email_template: templates::auth_alert() },
            oauth2: OAuth2Options::default(),
            password_auth: PasswordAuth {
                enabled: true,
                identity_fields: vec![names::EMAIL.to_owned()],
            },
            mfa: Mfa { enabled: false, duration: 600, rule: String::new() },
            otp: Otp { enabled: false, duration: 180, length: 8, email_template: templates::otp() },
            auth_token: TokenConfig::with_duration(432_000),
            password_reset_token: TokenConfig::with_duration(1800),
            email_change_token: TokenConfig::with_duration(1800),
            verification_token: TokenConfig::with_duration(86_400),
            file_token: TokenConfig::with_duration(180),
            verification_template: templates::verification(),
            reset_password_template: templates::reset_password(),
            confirm_email_change_template: templates::confirm_email_change(),
        }
    }

    /// The five token configs with their JSON keys, in output order.
    pub fn tokens(&self) -> [(&'static str, &TokenConfig); 5] {
        [
            ("authToken", &self.auth_token),
            ("passwordResetToken", &self.password_reset_token),
            ("emailChangeToken", &self.email_change_token),
            ("verificationToken", &self.verification_token),
            ("fileToken", &self.file_token),
        ]
    }
}

impl Default for AuthOptions {
    /// Same as [`AuthOptions::new`]: PocketBase's defaults with fresh secrets.
    fn default() -> Self {
        AuthOptions::new()
    }
}

impl Collection {
    /// A collection as PocketBase's factory creates it: id `pbc_<crc32(type+name)>`, the system
    /// fields of its type (`id`; plus the auth fields and their unique indexes for auth), the
    /// default auth options, and `viewQuery: ""` for views. Timestamps are empty.
    pub fn new(kind: CollectionType, name: impl Into<String>) -> Collection {
        let name = name.into();
        let id = crate::ids::collection_id(kind, &name);
        let mut c = Collection {
            id,
            name,
            kind,
            system: false,
            list_rule: None,
            view_rule: None,
            create_rule: None,
            update_rule: None,
            delete_rule: None,
            fields: Vec::new(),
            indexes: Vec::new(),
            created: String::new(),
            updated: String::new(),
            view_query: None,
            auth: None,
        };
        match kind {
            CollectionType::Base => c.fields.push(Field::id_field()),
            CollectionType::Auth => {
                c.fields.push(Field::id_field());
                c.fields.extend(auth_system_fields());
                for f in [names::TOKEN_KEY, names::EMAIL] {
                    c.indexes.push(system_unique_index(f, &c.id, &c.name));
                }
                c.auth = Some(AuthOptions::new());
            }
            CollectionType::View => c.view_query = Some(String::new()),
        }
        c
    }

    /// The blank template of a collection type: see [`scaffold`].
    pub fn scaffold(kind: CollectionType) -> Collection {
        scaffold(kind)
    }

    pub fn is_base(&self) -> bool {
        self.kind == CollectionType::Base
    }

    pub fn field_mut(&mut self, name: &str) -> Option<&mut Field> {
        self.fields.iter_mut().find(|f| f.name == name)
    }
}

/// The blank template of a collection type for `GET /api/collections/meta/scaffolds`: id and
/// name empty; auth system indexes named with a random 10-character suffix on an empty table.
pub fn scaffold(kind: CollectionType) -> Collection {
    let mut c = Collection::new(kind, "");
    c.id = String::new();
    if kind == CollectionType::Auth {
        let suffix = crate::ids::random_string(10, crate::ids::LOWER_ALPHANUMERIC);
        c.indexes = [names::TOKEN_KEY, names::EMAIL]
            .into_iter()
            .map(|f| system_unique_index(f, &suffix, ""))
            .collect();
    }
    c
}
