//! `/api/backups` (spec §8.7): superusers only; the download authenticates with a superuser
//! file token in `?token=` instead of the Authorization header.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use sb_core::{App, CoreError};
use serde_json::Value as Json;

use super::{body_error, require_superuser};
use crate::HttpConfig;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Req, parse_form_body, read_body};
use crate::respond;

const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";

pub async fn list(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.list_backups().await?, &req.query)
}

/// `POST /api/backups` with an optional `name` (JSON, urlencoded or multipart).
pub async fn create(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let bytes = read_body(body, config.body_limit).await?;
    let form = parse_form_body(&headers, bytes).await.map_err(|e| body_error(e, LOAD_FAILED))?;
    let name = match form.get("name") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(_) => return Err(ApiError(CoreError::bad_request(LOAD_FAILED))),
    };
    app.create_backup(name).await?;
    Ok(respond::no_content())
}

/// `POST /api/backups/upload`: multipart part `file`, streamed to disk.
pub async fn upload(
    State(app): State<Arc<App>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let required = || {
        let mut data = sb_schema::ErrorMap::new();
        data.insert("file", sb_schema::FieldError::required());
        ApiError(CoreError::validation(
            "An error occurred while validating the submitted data.",
            data,
        ))
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let Some(boundary) = content_type.and_then(|ct| multer::parse_boundary(ct).ok()) else {
        return Err(required());
    };
    let stream = body.into_data_stream();
    let mut multipart = multer::Multipart::new(stream, boundary);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Err(required()),
            Err(_) => return Err(ApiError(CoreError::bad_request(LOAD_FAILED))),
        };
        let Some(file_name) = field.file_name().map(str::to_owned) else { continue };
        if field.name() != Some("file") {
            continue;
        }
        let chunks = field.map(|c| c.map_err(|e| e.to_string()));
        app.upload_backup(&file_name, Box::pin(chunks)).await?;
        return Ok(respond::no_content());
    }
}

/// `GET /api/backups/KEY?token=`.
pub async fn download(State(app): State<Arc<App>>, Path(key): Path<String>, req: Req) -> ApiResult {
    let token = req.query.get("token").unwrap_or("");
    let file = app.download_backup(token, &key).await?;
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\'], "_"));
    let last_modified = file.meta.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let body = Body::from_stream(file.body.map(|c| c.map_err(std::io::Error::other)));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, file.meta.size)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        )
        .header(header::CACHE_CONTROL, "max-age=2592000, stale-while-revalidate=86400")
        .header(header::LAST_MODIFIED, last_modified)
        .extension(super::files::FileResponse)
        .body(body)
        .map_err(|e| ApiError(CoreError::internal(e)))
}

pub async fn delete(State(app): State<Arc<App>>, Path(key): Path<String>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    app.delete_backup(&key).await?;
    Ok(respond::no_content())
}

pub async fn restore(State(app): State<Arc<App>>, Path(key): Path<String>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    app.restore_backup(&key).await?;
    Ok(respond::no_content())
}
