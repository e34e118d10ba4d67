//! Runtime settings (spec §8.6), stored as one JSON document in `_params` and hot-swapped.
//!
//! `PATCH` checks the body's shape (a value of the wrong JSON kind is a load error, as
//! PocketBase's typed decoding), deep-merges objects and replaces arrays, validates with
//! PocketBase's error codes, saves, then swaps the in-memory copy (readers such as the rate
//! limiter see the new settings on their next request). Secrets (`smtp.password`, `s3.secret`,
//! `backups.s3.secret`) are write-only.
//!
//! Scalebase addition: `rateLimits.failedAuth` (failed password logins per client IP and per
//! identity), enabled by default.

use std::sync::Arc;

use sb_schema::{ErrorMap, FieldError};
use sb_sql::{Expr, FromItem, Insert, Select, SelectItem, Stmt, Ty, Update, Value};
use sb_store::Store;
use serde_json::{Value as Json, json};

use crate::App;
use crate::error::{CoreError, CoreResult};
use crate::system::PARAMS_TABLE;

const SETTINGS_KEY: &str = "settings";

/// The settings document (the full JSON, secrets included).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub json: Json,
}

impl Settings {
    /// `batch.enabled` etc. are read through typed accessors as later features need them.
    pub fn get(&self, path: &[&str]) -> Option<&Json> {
        let mut node = &self.json;
        for key in path {
            node = node.get(key)?;
        }
        Some(node)
    }
}

fn defaults() -> Json {
    json!({
        "superuserIPs": [],
        "smtp": {"enabled": false, "port": 587, "host": "smtp.example.com", "username": "", "password": "", "authMethod": "", "tls": false, "localName": ""},
        "backups": {"cron": "", "cronMaxKeep": 3, "s3": {"enabled": false, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "secret": "", "forcePathStyle": false}},
        "s3": {"enabled": false, "bucket": "", "region": "", "endpoint": "", "accessKey": "", "secret": "", "forcePathStyle": false},
        "meta": {"accentColor": "#1055c9", "appName": "Acme", "appURL": "http://localhost:8090", "senderName": "Support", "senderAddress": "support@example.com", "hideControls": false},
        "rateLimits": {"rules": [
            {"label": "*:auth", "audience": "", "duration": 3, "maxRequests": 2},
            {"label": "*:create", "audience": "", "duration": 5, "maxRequests": 20},
            {"label": "/api/batch", "audience": "", "duration": 1, "maxRequests": 3},
            {"label": "/api/", "audience": "", "duration": 10, "maxRequests": 300}
        ], "excludedIPs": [], "enabled": false,
        // Scalebase: failed password logins per client IP and per identity, on by default
        // (PocketBase has no such guard, and its rules above ship disabled).
        "failedAuth": {"enabled": true, "duration": 300, "maxPerIP": 30, "maxPerIdentity": 10}},
        "trustedProxy": {"headers": [], "useLeftmostIP": false},
        "batch": {"enabled": false, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": true, "logAuthId": false}
    })
}

/// The shape of the elements of the settings' arrays, by key (the rest hold strings).
fn element_template(key: &str) -> Json {
    match key {
        "rules" => json!({"label": "", "audience": "", "duration": 0, "maxRequests": 0}),
        _ => json!(""),
    }
}

/// Loads the stored settings merged over the defaults (so new keys get their default).
pub(crate) async fn load(store: &dyn Store) -> CoreResult<Settings> {
    let rows = store
        .query(&Stmt::Select(Select {
            columns: vec![SelectItem::Expr { expr: Expr::bare("value"), alias: None }],
            from: Some(FromItem::Table { name: PARAMS_TABLE.into(), alias: None }),
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(SETTINGS_KEY), Ty::Text)),
            ..Default::default()
        }))
        .await?;
    let mut json = defaults();
    if let Some(text) =
        rows.rows.into_iter().next().and_then(|r| r.into_iter().next()).and_then(Value::into_string)
    {
        let stored: Json = serde_json::from_str(&text).map_err(CoreError::internal)?;
        // Stored documents were checked when saved; a value of another shape (written by an
        // older version) keeps its default.
        merge(&mut json, &stored, "");
    }
    Ok(Settings { json })
}

/// Whether `value` has the JSON shape of `template` (as PocketBase's typed decoding would
/// accept it): same kinds, integers where the template has integers, array elements shaped
/// like [`element_template`]; `null` and unknown keys are accepted (see [`merge`]).
fn well_typed(value: &Json, template: &Json, key: &str) -> bool {
    match (template, value) {
        (_, Json::Null) => true,
        (Json::Object(t), Json::Object(v)) => {
            v.iter().all(|(k, v)| t.get(k).is_none_or(|t| well_typed(v, t, k)))
        }
        (Json::Array(_), Json::Array(items)) => {
            let element = element_template(key);
            items.iter().all(|item| well_typed(item, &element, ""))
        }
        (Json::Bool(_), Json::Bool(_)) | (Json::String(_), Json::String(_)) => true,
        (Json::Number(t), Json::Number(v)) => !t.is_i64() || v.is_i64() || v.is_u64(),
        _ => false,
    }
}

/// The zero value of a template's kind (what `null` sets, as in PocketBase).
fn zero(template: &Json) -> Json {
    match template {
        Json::Bool(_) => Json::Bool(false),
        Json::Number(_) => json!(0),
        Json::String(_) => json!(""),
        Json::Array(_) => json!([]),
        Json::Object(_) => template.clone(),
        Json::Null => Json::Null,
    }
}

/// Merges a well-typed `patch` into `target`: objects key by key (unknown keys dropped),
/// arrays replaced (elements filled out to their template), `null` resets to the zero value,
/// and values of another shape are ignored.
fn merge(target: &mut Json, patch: &Json, key: &str) {
    match (&mut *target, patch) {
        (Json::Object(_), Json::Null) => {}
        (_, Json::Null) => *target = zero(target),
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                if let Some(existing) = t.get_mut(k) {
                    merge(existing, v, k);
                }
            }
        }
        (Json::Array(t), Json::Array(items)) => {
            let element = element_template(key);
            *t = items
                .iter()
                .filter(|item| well_typed(item, &element, ""))
                .map(|item| {
                    let mut e = element.clone();
                    merge(&mut e, item, "");
                    e
                })
                .collect();
        }
        (t, p) if well_typed(p, t, key) && !p.is_object() && !p.is_array() => *t = p.clone(),
        _ => {}
    }
}

/// The API form: secrets removed.
fn public(json: &Json) -> Json {
    let mut out = json.clone();
    for path in [&["smtp", "password"][..], &["s3", "secret"], &["backups", "s3", "secret"]] {
        let (last, parents) = path.split_last().unwrap_or((&"", &[]));
        let mut node = Some(&mut out);
        for key in parents {
            node = node.and_then(|n| n.get_mut(*key));
        }
        if let Some(Json::Object(m)) = node {
            m.remove(*last);
        }
    }
    out
}

fn text<'a>(section: &'a Json, key: &str) -> &'a str {
    section[key].as_str().unwrap_or("")
}

fn int(section: &Json, key: &str) -> i64 {
    section[key].as_i64().unwrap_or(0)
}

fn flag(section: &Json, key: &str) -> bool {
    section[key].as_bool().unwrap_or(false)
}

/// ozzo's `Required` + `Length(1, 255)`.
fn required_text(errors: &mut ErrorMap, section: &Json, key: &str) {
    let value = text(section, key);
    if value.is_empty() {
        errors.insert(key, FieldError::required());
    } else if value.chars().count() > 255 {
        errors.insert(key, FieldError::length_out_of_range(1, 255));
    }
}

/// `When(cond, Required)` + `Min(min)` on an integer.
fn checked_int(errors: &mut ErrorMap, section: &Json, key: &str, required: bool, min: i64) {
    let value = int(section, key);
    if required && value == 0 {
        errors.insert(key, FieldError::required());
    } else if value < min && (required || value != 0) {
        errors.insert(key, FieldError::min_threshold(min));
    }
}

fn nest(errors: &mut ErrorMap, key: &str, nested: ErrorMap) {
    if !nested.is_empty() {
        errors.insert_nested(key, nested);
    }
}

fn invalid_ip() -> FieldError {
    FieldError::new("validation_invlaid_ip_or_subnet", "Invalid IP or CIDR subnet.")
}

/// An IP address or a CIDR subnet (`10.0.0.0/8`, `2001:db8::/32`).
pub fn is_ip_or_subnet(s: &str) -> bool {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.is_none_or(|b| {
        !b.is_empty()
            && b.bytes().all(|c| c.is_ascii_digit())
            && b.parse::<u32>().is_ok_and(|n| n <= max)
    })
}

fn ip_list(list: &Json) -> ErrorMap {
    let mut errors = ErrorMap::new();
    for (i, item) in list.as_array().into_iter().flatten().enumerate() {
        if !item.as_str().is_some_and(is_ip_or_subnet) {
            errors.insert(i.to_string(), invalid_ip());
        }
    }
    errors
}

/// A host name or an IP address (ozzo's `is.Host`).
fn is_host(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A rate limit rule label (spec §9.1): `METHOD /path`, `/path`, `COLL:tag`, `*:tag` or `tag`.
pub fn is_rate_limit_label(label: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let path = |s: &str| {
        s.starts_with('/')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'-'))
    };
    if let Some((method, p)) = label.split_once(' ') {
        return word(method) && path(p);
    }
    if let Some((coll, tag)) = label.split_once(':') {
        return (coll == "*" || word(coll)) && word(tag);
    }
    path(label) || word(label)
}

/// A cron expression as PocketBase's scheduler accepts it: a macro, or five fields (minute,
/// hour, day of month, month, day of week) of `*`, numbers, ranges, lists and `/steps`.
pub fn is_cron(expr: &str) -> bool {
    crate::crons::Schedule::parse(expr).is_some()
}

fn validate_s3(s3: &Json) -> ErrorMap {
    let mut errors = ErrorMap::new();
    if flag(s3, "enabled") {
        let endpoint = text(s3, "endpoint");
        if endpoint.is_empty() {
            errors.insert("endpoint", FieldError::required());
        } else if !sb_schema::is_url(endpoint) {
            errors.insert("endpoint", FieldError::new("validation_is_url", "Must be a valid URL."));
        }
        for key in ["bucket", "region", "accessKey", "secret"] {
            if text(s3, key).is_empty() {
                errors.insert(key, FieldError::required());
            }
        }
    }
    errors
}

/// The checks of PocketBase's settings form, with its error codes.
fn validate(json: &Json) -> ErrorMap {
    let mut errors = ErrorMap::new();

    let meta = &json["meta"];
    let mut e = ErrorMap::new();
    required_text(&mut e, meta, "appName");
    let url = text(meta, "appURL");
    if url.is_empty() {
        e.insert("appURL", FieldError::required());
    } else if !sb_schema::is_url(url) {
        e.insert("appURL", FieldError::new("validation_is_url", "Must be a valid URL."));
    }
    required_text(&mut e, meta, "senderName");
    let sender = text(meta, "senderAddress");
    if sender.is_empty() {
        e.insert("senderAddress", FieldError::required());
    } else if !sb_schema::is_email(sender) {
        e.insert(
            "senderAddress",
            FieldError::new("validation_is_email", "Must be a valid email address."),
        );
    }
    nest(&mut errors, "meta", e);

    let smtp = &json["smtp"];
    let enabled = flag(smtp, "enabled");
    let mut e = ErrorMap::new();
    let host = text(smtp, "host");
    if host.is_empty() {
        if enabled {
            e.insert("host", FieldError::required());
        }
    } else if !is_host(host) {
        e.insert(
            "host",
            FieldError::new("validation_is_host", "Must be a valid IP address or DNS name."),
        );
    }
    checked_int(&mut e, smtp, "port", enabled, 0);
    if !["", "PLAIN", "LOGIN"].contains(&text(smtp, "authMethod")) {
        e.insert("authMethod", FieldError::in_invalid());
    }
    nest(&mut errors, "smtp", e);

    nest(&mut errors, "s3", validate_s3(&json["s3"]));

    let backups = &json["backups"];
    let mut e = ErrorMap::new();
    let cron = text(backups, "cron");
    if !cron.is_empty() && !is_cron(cron) {
        e.insert(
            "cron",
            FieldError::new(
                "validation_invalid_cron",
                "Invalid cron expression - must be a valid macro or to have exactly 5 space separated segments.",
            ),
        );
    }
    checked_int(&mut e, backups, "cronMaxKeep", !cron.is_empty(), 1);
    nest(&mut e, "s3", validate_s3(&backups["s3"]));
    nest(&mut errors, "backups", e);

    let batch = &json["batch"];
    let enabled = flag(batch, "enabled");
    let mut e = ErrorMap::new();
    checked_int(&mut e, batch, "maxRequests", enabled, 0);
    checked_int(&mut e, batch, "timeout", enabled, 0);
    checked_int(&mut e, batch, "maxBodySize", false, 0);
    nest(&mut errors, "batch", e);

    let logs = &json["logs"];
    let mut e = ErrorMap::new();
    checked_int(&mut e, logs, "maxDays", false, 0);
    checked_int(&mut e, logs, "maxDataSize", false, 0);
    nest(&mut errors, "logs", e);

    let limits = &json["rateLimits"];
    let mut e = ErrorMap::new();
    let mut rules_errors = ErrorMap::new();
    let rules = limits["rules"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        let mut re = ErrorMap::new();
        let label = text(rule, "label");
        if label.is_empty() {
            re.insert("label", FieldError::required());
        } else if !is_rate_limit_label(label) {
            re.insert("label", FieldError::match_invalid());
        } else if rules[..i]
            .iter()
            .any(|r| text(r, "label") == label && text(r, "audience") == text(rule, "audience"))
        {
            re.insert(
                "label",
                FieldError::new(
                    "validation_conflicting_rate_limit_rule",
                    format!(
                        "Rate limit rule configuration with label {label} already exists or conflicts with another rule."
                    ),
                )
                .with_param("label", label),
            );
        }
        if !["", "@guest", "@auth"].contains(&text(rule, "audience")) {
            re.insert("audience", FieldError::in_invalid());
        }
        checked_int(&mut re, rule, "duration", true, 1);
        checked_int(&mut re, rule, "maxRequests", true, 1);
        nest(&mut rules_errors, &i.to_string(), re);
    }
    nest(&mut e, "rules", rules_errors);
    nest(&mut e, "excludedIPs", ip_list(&limits["excludedIPs"]));
    let guard = &limits["failedAuth"];
    let mut ge = ErrorMap::new();
    let on = flag(guard, "enabled");
    for key in ["duration", "maxPerIP", "maxPerIdentity"] {
        checked_int(&mut ge, guard, key, on, 1);
    }
    nest(&mut e, "failedAuth", ge);
    nest(&mut errors, "rateLimits", e);

    let su_ips = ip_list(&json["superuserIPs"]);
    nest(&mut errors, "superuserIPs", su_ips);
    errors
}

/// Stores `json` as the settings document inside `tx` (updates the row, or inserts it).
async fn write_in_tx(tx: &mut dyn sb_store::Tx, json: &Json) -> CoreResult<()> {
    let now = sb_schema::datetime::now_string();
    let value = Value::Json(json.to_string());
    let updated = tx
        .execute(&Stmt::Update(Update {
            table: PARAMS_TABLE.into(),
            set: vec![
                ("value".into(), Expr::Param(value.clone())),
                ("updated".into(), Expr::param(now.as_str())),
            ],
            where_: Some(Expr::eq(Expr::bare("id"), Expr::param(SETTINGS_KEY), Ty::Text)),
        }))
        .await?;
    if updated == 0 {
        tx.execute(&Stmt::Insert(Insert {
            table: PARAMS_TABLE.into(),
            columns: vec!["id".into(), "value".into(), "created".into(), "updated".into()],
            values: vec![
                Expr::param(SETTINGS_KEY),
                Expr::Param(value),
                Expr::param(now.as_str()),
                Expr::param(now.as_str()),
            ],
        }))
        .await?;
    }
    Ok(())
}

/// Replaces the stored settings with `stored` merged over the defaults, as [`load`] merges
/// it (for bulk imports; the caller commits and then calls [`App::reload_settings`]).
pub(crate) async fn save_in_tx(tx: &mut dyn sb_store::Tx, stored: &Json) -> CoreResult<()> {
    let mut json = defaults();
    merge(&mut json, stored, "");
    write_in_tx(tx, &json).await
}

impl App {
    /// Re-reads the stored settings (a bulk import replaced them, or another node saved them;
    /// the writer applies them to the shared log store).
    pub(crate) async fn reload_settings(&self) -> CoreResult<()> {
        let settings = load(self.store.as_ref()).await?;
        *self.settings.write() = Arc::new(settings);
        Ok(())
    }

    /// `GET /api/settings`.
    pub fn settings_json(&self) -> Json {
        public(&self.settings.read().json)
    }

    /// The current settings snapshot (secrets included), for internal use.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings.read().clone()
    }

    /// `PATCH /api/settings`.
    pub async fn update_settings(&self, patch: &Json) -> CoreResult<Json> {
        if !patch.is_object() {
            return Err(CoreError::bad_request(
                "An error occurred while loading the submitted data.",
            ));
        }
        if !well_typed(patch, &defaults(), "") {
            return Err(CoreError::bad_request(
                "An error occurred while loading the submitted data.",
            ));
        }
        let _guard = self.schema_lock.lock().await;
        let mut json = self.settings.read().json.clone();
        merge(&mut json, patch, "");
        let errors = validate(&json);
        if !errors.is_empty() {
            return Err(CoreError::validation(
                "An error occurred while saving the new settings.",
                errors,
            ));
        }
        let mut tx = self.store.begin().await?;
        match write_in_tx(tx.as_mut(), &json).await {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e);
            }
        }
        *self.settings.write() = Arc::new(Settings { json: json.clone() });
        self.apply_log_settings().await;
        Ok(public(&json))
    }
}

#[cfg(test)]
mod tests {
    use super::{is_cron, is_ip_or_subnet, is_rate_limit_label};

    #[test]
    fn rate_limit_labels() {
        for ok in
            ["*:auth", "users:create", "list", "/api/", "/api/batch", "POST /api/x-y", "GET /", "/"]
        {
            assert!(is_rate_limit_label(ok), "{ok}");
        }
        for bad in [
            "",
            "bad label!",
            "GET  /x",
            "GET x",
            "*:",
            ":x",
            "a:b:c",
            "/api/é",
            "* :auth",
            "/api /x",
        ] {
            assert!(!is_rate_limit_label(bad), "{bad}");
        }
    }

    #[test]
    fn cron_expressions() {
        for ok in
            ["@daily", "@hourly", "* * * * *", "*/5 1-3 * * 0,6", "0 0 1 1 *", "59 23 31 12 6"]
        {
            assert!(is_cron(ok), "{ok}");
        }
        for bad in [
            "bad cron",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "@sometimes",
        ] {
            assert!(!is_cron(bad), "{bad}");
        }
    }

    #[test]
    fn ips_and_subnets() {
        for ok in ["1.2.3.4", "10.0.0.0/8", "::1", "2001:db8::/32", "0.0.0.0/0"] {
            assert!(is_ip_or_subnet(ok), "{ok}");
        }
        for bad in ["", "bad", "10.0.0.0/33", "::/129", "1.2.3.4/", "1.2.3.4/+1", "1.2.3"] {
            assert!(!is_ip_or_subnet(bad), "{bad}");
        }
    }
}
