//! `/api/settings` (spec §8.6), superusers only.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use sb_core::App;
use serde_json::Value as Json;

use super::{body_error, require_superuser};
use crate::HttpConfig;
use crate::error::ApiResult;
use crate::extract::{Req, parse_body, read_body};
use crate::respond;

pub async fn get(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.settings_json(), &req.query)
}

pub async fn update(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let bytes = read_body(body, config.body_limit).await?;
    let patch = parse_body(&headers, bytes)
        .await
        .map_err(|e| body_error(e, "An error occurred while loading the submitted data."))?;
    respond::json(app.update_settings(&Json::Object(patch)).await?, &req.query)
}
