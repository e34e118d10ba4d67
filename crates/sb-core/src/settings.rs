//! Runtime settings (spec §8.6), stored as one JSON document in `_params` and hot-swapped.
//!
//! `PATCH` deep-merges objects and replaces arrays, validates, saves, then swaps the in-memory
//! copy. Secrets (`smtp.password`, `s3.secret`, `backups.s3.secret`) are write-only.

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
        ], "excludedIPs": [], "enabled": false},
        "trustedProxy": {"headers": [], "useLeftmostIP": false},
        "batch": {"enabled": false, "maxRequests": 50, "timeout": 3, "maxBodySize": 0},
        "logs": {"maxDataSize": 0, "maxDays": 5, "minLevel": 0, "logIP": true, "logAuthId": false}
    })
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
        merge(&mut json, &stored);
    }
    Ok(Settings { json })
}

/// Objects merge key by key; everything else (arrays included) is replaced.
fn merge(target: &mut Json, patch: &Json) {
    match (target, patch) {
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
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

fn validate(json: &Json) -> ErrorMap {
    let mut errors = ErrorMap::new();
    let expect = |errors: &mut ErrorMap, section: &str, key: &str, ok: bool| {
        if !ok {
            let mut nested = ErrorMap::new();
            nested.insert(key, FieldError::new("validation_invalid_value", "Invalid value."));
            errors.insert_nested(section, nested);
        }
    };
    let batch = &json["batch"];
    expect(&mut errors, "batch", "enabled", batch["enabled"].is_boolean());
    for key in ["maxRequests", "timeout", "maxBodySize"] {
        expect(&mut errors, "batch", key, batch[key].as_f64().is_some_and(|n| n >= 0.0));
    }
    let logs = &json["logs"];
    expect(&mut errors, "logs", "maxDays", logs["maxDays"].as_f64().is_some_and(|n| n >= 0.0));
    let meta = &json["meta"];
    expect(
        &mut errors,
        "meta",
        "appName",
        meta["appName"].as_str().is_some_and(|s| !s.is_empty() && s.len() <= 255),
    );
    expect(&mut errors, "rateLimits", "rules", json["rateLimits"]["rules"].is_array());
    expect(&mut errors, "rateLimits", "enabled", json["rateLimits"]["enabled"].is_boolean());
    if !json["superuserIPs"].is_array() {
        errors
            .insert("superuserIPs", FieldError::new("validation_invalid_value", "Invalid value."));
    }
    errors
}

impl App {
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
        let _guard = self.schema_lock.lock().await;
        let mut json = self.settings.read().json.clone();
        merge(&mut json, patch);
        let errors = validate(&json);
        if !errors.is_empty() {
            return Err(CoreError::validation(
                "An error occurred while submitting the form.",
                errors,
            ));
        }
        let now = sb_schema::datetime::now_string();
        let value = Value::Json(json.to_string());
        let mut tx = self.store.begin().await?;
        let updated = tx
            .execute(&Stmt::Update(Update {
                table: PARAMS_TABLE.into(),
                set: vec![
                    ("value".into(), Expr::Param(value.clone())),
                    ("updated".into(), Expr::param(now.as_str())),
                ],
                where_: Some(Expr::eq(Expr::bare("id"), Expr::param(SETTINGS_KEY), Ty::Text)),
            }))
            .await;
        let result = match updated {
            Ok(0) => tx
                .execute(&Stmt::Insert(Insert {
                    table: PARAMS_TABLE.into(),
                    columns: vec!["id".into(), "value".into(), "created".into(), "updated".into()],
                    values: vec![
                        Expr::param(SETTINGS_KEY),
                        Expr::Param(value),
                        Expr::param(now.as_str()),
                        Expr::param(now.as_str()),
                    ],
                }))
                .await
                .map(|_| ()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => tx.commit().await?,
            Err(e) => {
                tx.rollback().await.ok();
                return Err(e.into());
            }
        }
        *self.settings.write() = Arc::new(Settings { json: json.clone() });
        Ok(public(&json))
    }
}
