//! `/api/collections` (spec §2.2), superusers only.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use sb_core::App;
use serde_json::Value as Json;

use super::{body_error, require_superuser};
use crate::HttpConfig;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Req, parse_body, read_body};
use crate::respond;

const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";
const INVALID_FORMAT: &str = "Failed to load the submitted data due to invalid formatting.";
const INVALID_TYPE_DATA: &str =
    "Failed to load the collection type data due to invalid formatting.";

/// Reads a body into a JSON object. PocketBase words the failures per endpoint: `syntax` for
/// JSON that does not parse, `shape` for JSON that is not an object (and for other malformed
/// bodies).
async fn body_json(
    config: &HttpConfig,
    headers: &HeaderMap,
    body: Body,
    syntax: &str,
    shape: &str,
) -> ApiResult<Json> {
    let bytes = read_body(body, config.body_limit).await?;
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if is_json && !bytes.is_empty() {
        // Only the first complete JSON value counts; trailing bytes are ignored.
        let mut values = serde_json::Deserializer::from_slice(&bytes).into_iter::<Json>();
        return match values.next() {
            Some(Ok(Json::Object(m))) => Ok(Json::Object(m)),
            Some(Ok(Json::Null)) => Ok(Json::Object(Default::default())),
            Some(Ok(_)) => Err(ApiError(sb_core::CoreError::bad_request(shape))),
            _ => Err(ApiError(sb_core::CoreError::bad_request(syntax))),
        };
    }
    let map = parse_body(headers, bytes).await.map_err(|e| body_error(e, shape))?;
    Ok(Json::Object(map))
}

pub async fn list(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    let params = req.query.list_params()?;
    respond::list(app.list_collections(&params).await?, &req.query)
}

pub async fn view(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.view_collection(&collection)?, &req.query)
}

pub async fn create(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let input = body_json(&config, &headers, body, INVALID_TYPE_DATA, INVALID_TYPE_DATA).await?;
    respond::json(app.create_collection(&input).await?, &req.query)
}

pub async fn update(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let input = body_json(&config, &headers, body, INVALID_FORMAT, LOAD_FAILED).await?;
    respond::json(app.update_collection(&collection, &input).await?, &req.query)
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    require_superuser(&req)?;
    app.delete_collection(&collection).await?;
    Ok(respond::no_content())
}

pub async fn truncate(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    require_superuser(&req)?;
    app.truncate_collection(&collection).await?;
    Ok(respond::no_content())
}

pub async fn import(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let input = body_json(&config, &headers, body, INVALID_FORMAT, LOAD_FAILED).await?;
    app.import_collections(&input).await?;
    Ok(respond::no_content())
}

// A collection named `import` stays reachable for the other methods of its path.
pub async fn view_import(state: State<Arc<App>>, req: Req) -> ApiResult {
    view(state, Path("import".into()), req).await
}

pub async fn update_import(
    state: State<Arc<App>>,
    config: Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    update(state, config, Path("import".into()), req, headers, body).await
}

pub async fn delete_import(state: State<Arc<App>>, req: Req) -> ApiResult {
    delete(state, Path("import".into()), req).await
}

pub async fn scaffolds(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.scaffolds(), &req.query)
}

pub async fn oauth2_providers(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.oauth2_providers(), &req.query)
}

/// `POST /api/collections/meta/check-rules`: which API rules of a collection, as the admin UI's
/// editor holds it, would not compile (superusers only).
pub async fn check_rules(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let input = body_json(&config, &headers, body, LOAD_FAILED, LOAD_FAILED).await?;
    respond::json(app.check_rules(&input)?, &req.query)
}

/// `POST /api/collections/meta/dry-run-view`.
pub async fn dry_run_view(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let input = body_json(&config, &headers, body, LOAD_FAILED, LOAD_FAILED).await?;
    respond::json(app.dry_run_view(&input).await?, &req.query)
}
