//! Per-field record value handling: input coercion, zero values, modifiers and validation with
//! PocketBase's error codes and messages (spec §2.4, §3.9).
//!
//! Values are plain `serde_json::Value`s in their *normalised* form, which is also the form
//! records are returned in: strings for text-like, date and single select/relation/file
//! fields; arrays of strings for multiple ones; numbers; booleans; any JSON for `json`;
//! `{"lon","lat"}` for `geoPoint`. [`normalize`] produces that form from loose client input
//! the way PocketBase's casts do (Go `cast.ToString`/`ToFloat64`/`ToBool`, `strconv.ParseBool`,
//! `list.ToUniqueStringSlice`), and [`validate_value`] checks it.
//!
//! A `number` input that is NaN or ±Inf cannot be represented in JSON; [`normalize`] turns it
//! into `null`, which [`validate_value`] rejects with `validation_not_a_number`.

use serde_json::{Map, Value};

use crate::datetime;
use crate::errors::FieldError;
use crate::formats;
use crate::goregex;
use crate::ids;
use crate::model::{Field, FieldKind};

/// Default `maxSize` of `editor` and `file` fields (5 MiB).
pub const DEFAULT_MAX_SIZE: i64 = 5 << 20;
/// Default `maxSize` of `json` fields (1 MiB).
pub const DEFAULT_JSON_MAX_SIZE: i64 = 1 << 20;
/// Default `max` of `text` fields.
pub const DEFAULT_TEXT_MAX: i64 = 5000;
/// Maximum `password` length (bcrypt's limit).
pub const MAX_PASSWORD_LENGTH: i64 = 71;

/// A field modifier of a record input key (spec §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// `field+`: add to a number / append values.
    Add,
    /// `+field`: prepend values.
    Prepend,
    /// `field-`: subtract from a number / remove values.
    Remove,
    /// `field:autogenerate`: submitted prefix + a value generated from the pattern.
    Autogenerate,
}

/// Splits an input key into the field name and its modifier:
/// `tags+` → (`tags`, Add), `+tags` → (`tags`, Prepend), `tags-` → (`tags`, Remove),
/// `slug:autogenerate` → (`slug`, Autogenerate), `title` → (`title`, None).
pub fn parse_modifier_key(key: &str) -> (&str, Option<Modifier>) {
    if let Some(name) = key.strip_suffix(":autogenerate") {
        return (name, Some(Modifier::Autogenerate));
    }
    if let Some(name) = key.strip_prefix('+') {
        return (name, Some(Modifier::Prepend));
    }
    if let Some(name) = key.strip_suffix('+') {
        return (name, Some(Modifier::Add));
    }
    if let Some(name) = key.strip_suffix('-') {
        return (name, Some(Modifier::Remove));
    }
    (key, None)
}

/// A JSON number for `f`: an integer when `f` is integral and exactly representable (so `5.0`
/// prints as `5`), a float otherwise. Non-finite values become `null`.
pub fn number_to_json(f: f64) -> Value {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
        // Integral and within ±2^53: the conversion is exact.
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// The value of an unset field: `""`, `0`, `false`, `[]`, `null` or `{"lon":0,"lat":0}`.
pub fn zero_value(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Number(_) => Value::from(0),
        FieldKind::Bool(_) => Value::Bool(false),
        FieldKind::Json(_) => Value::Null,
        FieldKind::GeoPoint(_) => geo_point(0.0, 0.0),
        k if k.is_multiple() => Value::Array(Vec::new()),
        _ => Value::String(String::new()),
    }
}

/// Coerces client input to the field's normalised value (see the module docs).
pub fn normalize(field: &Field, raw: &Value) -> Value {
    match &field.kind {
        FieldKind::Text(_)
        | FieldKind::Editor(_)
        | FieldKind::Email(_)
        | FieldKind::Url(_)
        | FieldKind::Password(_) => Value::String(to_go_string(raw)),
        FieldKind::Number(_) => {
            let f = to_f64(raw);
            if f.is_finite() { number_to_json(f) } else { Value::Null }
        }
        FieldKind::Bool(_) => Value::Bool(to_bool(raw)),
        FieldKind::Date(_) | FieldKind::Autodate(_) => {
            Value::String(datetime::normalize_value(raw))
        }
        FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_) => {
            list_value(&field.kind, to_unique_strings(raw))
        }
        FieldKind::Json(_) => normalize_json(raw),
        FieldKind::GeoPoint(_) => normalize_geo_point(raw),
    }
}

/// Applies a modifier to the current (normalised) value. `None` when the modifier does not
/// exist for the field type: the input key is then an unknown key and is ignored.
pub fn apply_modifier(
    field: &Field,
    current: &Value,
    modifier: Modifier,
    arg: &Value,
) -> Option<Value> {
    match (&field.kind, modifier) {
        (FieldKind::Number(_), Modifier::Add | Modifier::Remove) => {
            let sign = if modifier == Modifier::Add { 1.0 } else { -1.0 };
            let f = to_f64(current) + sign * to_f64(arg);
            Some(if f.is_finite() { number_to_json(f) } else { Value::Null })
        }
        (
            FieldKind::Select(_) | FieldKind::Relation(_) | FieldKind::File(_),
            Modifier::Add | Modifier::Prepend | Modifier::Remove,
        ) => {
            let current = to_unique_strings(current);
            let arg = to_unique_strings(arg);
            let combined = match modifier {
                Modifier::Add => [current, arg].concat(),
                Modifier::Prepend => [arg, current].concat(),
                _ => current.into_iter().filter(|v| !arg.contains(v)).collect(),
            };
            Some(list_value(&field.kind, dedupe(combined)))
        }
        (FieldKind::Text(o), Modifier::Autogenerate) => {
            let mut v = to_go_string(arg);
            if !o.autogenerate_pattern.is_empty() {
                v.push_str(
                    &ids::generate_from_pattern(&o.autogenerate_pattern).unwrap_or_default(),
                );
            }
            Some(Value::String(v))
        }
        _ => None,
    }
}

/// Validates a normalised value against the field's options. Checks that need the database
/// (relation existence, uniqueness, file uploads, primary key changes) are the caller's.
///
/// For `password` fields `value` is the plain-text password being set.
pub fn validate_value(field: &Field, value: &Value) -> Result<(), FieldError> {
    match &field.kind {
        FieldKind::Text(o) => {
            let s = value.as_str().unwrap_or_default();
            if s.is_empty() {
                return required_if(o.required || o.primary_key);
            }
            let len = s.chars().count() as i64;
            if o.min > 0 && len < o.min {
                return Err(FieldError::new(
                    "validation_min_text_constraint",
                    format!("Must be at least {} character(s).", o.min),
                )
                .with_param("min", o.min));
            }
            let max = if o.max == 0 { DEFAULT_TEXT_MAX } else { o.max };
            if max > 0 && len > max {
                return Err(FieldError::new(
                    "validation_max_text_constraint",
                    format!("Must be no more than {max} character(s)."),
                )
                .with_param("max", max));
            }
            check_pattern(&o.pattern, s)
        }
        FieldKind::Editor(o) => {
            let s = value.as_str().unwrap_or_default();
            if s.is_empty() {
                return required_if(o.required);
            }
            let max = if o.max_size <= 0 { DEFAULT_MAX_SIZE } else { o.max_size };
            if s.len() as i64 > max {
                return Err(FieldError::new(
                    "validation_content_size_limit",
                    format!("The maximum allowed content size is {max} bytes."),
                )
                .with_param("maxSize", max));
            }
            Ok(())
        }
        FieldKind::Number(o) => {
            let Some(f) = value.as_f64().filter(|f| f.is_finite()) else {
                return Err(FieldError::new(
                    "validation_not_a_number",
                    "The submitted number is not properly formatted.",
                ));
            };
            if f == 0.0 {
                return required_if(o.required);
            }
            if o.only_int && f.fract() != 0.0 {
                return Err(only_int_error());
            }
            if let Some(min) = o.min.filter(|&min| f < min) {
                return Err(FieldError::new(
                    "validation_min_number_constraint",
                    format!("Must be greater or equal than {min}."),
                )
                .with_param("min", number_to_json(min)));
            }
            if let Some(max) = o.max.filter(|&max| f > max) {
                return Err(FieldError::new(
                    "validation_max_number_constraint",
                    format!("Must be less or equal than {max}."),
                )
                .with_param("max", number_to_json(max)));
            }
            Ok(())
        }
        FieldKind::Bool(o) => {
            if value.as_bool() == Some(true) {
                Ok(())
            } else {
                required_if(o.required)
            }
        }
        FieldKind::Email(o) => {
            let s = value.as_str().unwrap_or_default();
            if s.is_empty() {
                return required_if(o.required);
            }
            if !formats::is_email(s) {
                return Err(FieldError::new(
                    "validation_is_email",
                    "Must be a valid email address.",
                ));
            }
            let domain = s.rsplit_once('@').map_or("", |(_, d)| d);
            if !domain_allowed(&o.only_domains, &o.except_domains, domain) {
                return Err(FieldError::new(
                    "validation_email_domain_not_allowed",
                    "Email domain is not allowed.",
                ));
            }
            Ok(())
        }
        FieldKind::Url(o) => {
            let s = value.as_str().unwrap_or_default();
            if s.is_empty() {
                return required_if(o.required);
            }
            if !formats::is_url(s) {
                return Err(FieldError::new("validation_invalid_url", "Must be a valid url."));
            }
            if !domain_allowed(&o.only_domains, &o.except_domains, formats::url_host(s)) {
                return Err(FieldError::new(
                    "validation_url_domain_not_allowed",
                    "Url domain is not allowed.",
                ));
            }
            Ok(())
        }
        FieldKind::Date(o) => {
            let s = value.as_str().unwrap_or_default();
            let Some(date) = datetime::parse_lenient(s) else {
                return required_if(o.required);
            };
            if let Some(min) = datetime::parse_lenient(&o.min).filter(|min| date < *min) {
                return Err(FieldError::new(
                    "validation_min_greater_equal_than_required",
                    format!("Must be no less than {}.", datetime::go_string(min)),
                )
                .with_param("threshold", datetime::rfc3339(min)));
            }
            if let Some(max) = datetime::parse_lenient(&o.max).filter(|max| date > *max) {
                return Err(FieldError::new(
                    "validation_max_less_equal_than_required",
                    format!("Must be no greater than {}.", datetime::go_string(max)),
                )
                .with_param("threshold", datetime::rfc3339(max)));
            }
            Ok(())
        }
        FieldKind::Autodate(_) => Ok(()),
        FieldKind::Select(o) => {
            let values = to_unique_strings(value);
            if values.is_empty() {
                return required_if(o.required);
            }
            let max = o.max_select.max(1);
            if values.len() as i64 > max {
                return Err(too_many_values(max));
            }
            match values.iter().find(|v| !o.values.contains(v)) {
                Some(bad) => Err(FieldError::new(
                    "validation_invalid_value",
                    format!("Invalid value {bad}."),
                )
                .with_param("value", bad.clone())),
                None => Ok(()),
            }
        }
        FieldKind::Relation(o) => {
            let ids = to_unique_strings(value);
            if ids.is_empty() {
                return required_if(o.required);
            }
            if o.min_select > 0 && (ids.len() as i64) < o.min_select {
                return Err(FieldError::new(
                    "validation_not_enough_values",
                    format!("Select at least {}.", o.min_select),
                )
                .with_param("minSelect", o.min_select));
            }
            let max = o.max_select.max(1);
            if ids.len() as i64 > max {
                return Err(too_many_values(max));
            }
            Ok(())
        }
        FieldKind::File(o) => {
            let files = to_unique_strings(value);
            if files.is_empty() {
                return required_if(o.required);
            }
            let max = o.max_select.max(1);
            if files.len() as i64 > max {
                return Err(FieldError::new(
                    "validation_too_many_files",
                    format!("The maximum allowed files is {max}."),
                )
                .with_param("maxSelect", max));
            }
            Ok(())
        }
        FieldKind::Json(o) => {
            let empty = match value {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(m) => m.is_empty(),
                _ => false,
            };
            if empty {
                return required_if(o.required);
            }
            let max = if o.max_size <= 0 { DEFAULT_JSON_MAX_SIZE } else { o.max_size };
            let size = serde_json::to_string(value).map_or(0, |s| s.len()) as i64;
            if size > max {
                return Err(FieldError::new(
                    "validation_json_size_limit",
                    format!("The maximum allowed JSON size is {max} bytes."),
                )
                .with_param("maxSize", max));
            }
            Ok(())
        }
        FieldKind::Password(o) => {
            let s = value.as_str().unwrap_or_default();
            if s.is_empty() {
                return required_if(o.required);
            }
            let len = s.chars().count() as i64;
            if o.min > 0 && len < o.min {
                return Err(FieldError::new(
                    "validation_min_text_constraint",
                    format!("Must be at least {} character(s).", o.min),
                ));
            }
            let max = if o.max <= 0 { MAX_PASSWORD_LENGTH } else { o.max };
            if len > max {
                return Err(FieldError::new(
                    "validation_max_text_constraint",
                    format!("Must be less than {max} character(s)."),
                ));
            }
            check_pattern(&o.pattern, s)
        }
        FieldKind::GeoPoint(o) => {
            let coord = |k: &str| value.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let (lon, lat) = (coord("lon"), coord("lat"));
            if lon == 0.0 && lat == 0.0 {
                return required_if(o.required);
            }
            if !(-90.0..=90.0).contains(&lat) {
                return Err(FieldError::new(
                    "validation_invalid_latitude",
                    "Latitude must be between -90 and 90 degrees.",
                ));
            }
            if !(-180.0..=180.0).contains(&lon) {
                return Err(FieldError::new(
                    "validation_invalid_longitude",
                    "Longitude must be between -180 and 180 degrees.",
                ));
            }
            Ok(())
        }
    }
}

pub(crate) fn only_int_error() -> FieldError {
    FieldError::new("validation_only_int_constraint", "Decimal numbers are not allowed.")
}

fn required_if(required: bool) -> Result<(), FieldError> {
    if required { Err(FieldError::required()) } else { Ok(()) }
}

fn too_many_values(max: i64) -> FieldError {
    FieldError::new("validation_too_many_values", format!("Select no more than {max}."))
        .with_param("maxSelect", max)
}

fn check_pattern(pattern: &str, s: &str) -> Result<(), FieldError> {
    if pattern.is_empty() {
        return Ok(());
    }
    // An invalid stored pattern cannot match anything (Go's MatchString reports no match).
    let matched = goregex::compile(pattern).is_ok_and(|re| re.is_match(s));
    if matched {
        Ok(())
    } else {
        Err(FieldError::new("validation_invalid_format", "Invalid value format."))
    }
}

fn domain_allowed(only: &[String], except: &[String], domain: &str) -> bool {
    let listed = |list: &[String]| list.iter().any(|d| d == domain);
    !(!only.is_empty() && !listed(only) || !except.is_empty() && listed(except))
}

/// Single select/relation/file fields keep the last value, multiple ones the whole list.
fn list_value(kind: &FieldKind, values: Vec<String>) -> Value {
    if kind.is_multiple() {
        Value::Array(values.into_iter().map(Value::String).collect())
    } else {
        Value::String(values.into_iter().last().unwrap_or_default())
    }
}

fn geo_point(lon: f64, lat: f64) -> Value {
    let mut m = Map::new();
    m.insert("lon".into(), number_to_json(lon));
    m.insert("lat".into(), number_to_json(lat));
    Value::Object(m)
}

fn normalize_geo_point(raw: &Value) -> Value {
    let parsed;
    let raw = match raw {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &parsed
        }
        other => other,
    };
    let Value::Object(m) = raw else { return geo_point(0.0, 0.0) };
    let mut coords = [0.0; 2];
    for (slot, key) in coords.iter_mut().zip(["lon", "lat"]) {
        match m.get(key) {
            Some(Value::Number(n)) => *slot = n.as_f64().unwrap_or(0.0),
            None | Some(Value::Null | Value::String(_)) => {}
            // A coordinate of the wrong kind voids the whole point.
            Some(_) => return geo_point(0.0, 0.0),
        }
    }
    let [lon, lat] = coords;
    geo_point(lon, lat)
}

/// A `json` field input: JSON values are kept; strings that look like JSON (a number, array,
/// object or quoted string, or exactly `null`/`true`/`false`) are parsed, other strings are
/// stored as JSON strings.
fn normalize_json(raw: &Value) -> Value {
    let Value::String(s) = raw else { return raw.clone() };
    let looks_like_json = matches!(s.as_str(), "null" | "true" | "false")
        || s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '"' | '[' | '{'));
    if looks_like_json && let Ok(v) = serde_json::from_str::<Value>(s) {
        return v;
    }
    raw.clone()
}

// ---------------------------------------------------------------------------------------------
// Go-style casts
// ---------------------------------------------------------------------------------------------

/// `cast.ToString`: strings as is, numbers in plain decimal (`1e20` → `100000000000000000000`),
/// booleans as `true`/`false`, anything else `""`.
pub fn to_go_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(|f| f.to_string()).unwrap_or_else(|| n.to_string()),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// `cast.ToFloat64`: numbers, numeric strings (Go `ParseFloat` syntax, so `"inf"`/`"NaN"` are
/// accepted and rejected later), `true` → 1; anything else 0.
pub fn to_f64(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => s.parse::<f64>().unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// `cast.ToBool`: booleans, non-zero numbers, and strings accepted by Go's `strconv.ParseBool`.
pub fn to_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => matches!(s.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"),
        _ => false,
    }
}

/// `list.ToUniqueStringSlice`: a list of non-empty distinct strings (order kept) from a scalar,
/// an array (elements cast with [`to_go_string`]) or a string holding a JSON array of strings.
pub fn to_unique_strings(v: &Value) -> Vec<String> {
    let list = match v {
        Value::Null | Value::Object(_) => Vec::new(),
        Value::Array(items) => items.iter().map(to_go_string).collect(),
        Value::String(s) if s.contains('[') => {
            serde_json::from_str::<Vec<String>>(s).unwrap_or_else(|_| vec![s.clone()])
        }
        other => vec![to_go_string(other)],
    };
    dedupe(list)
}

fn dedupe(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for v in list {
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
