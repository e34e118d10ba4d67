//! Auth routes of auth collections (spec §6).

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use sb_core::{App, CoreError};
use serde_json::Value as Json;

use super::body_error;
use crate::HttpConfig;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Req, parse_body, parse_form_body, read_body};
use crate::ratelimit::FailedAuthTicket;
use crate::respond;

const LOAD_FAILED: &str = "An error occurred while loading the submitted data.";
const NOT_ALLOWED: &str = "You are not allowed to perform this request.";
const VALIDATION_FAILED: &str = "An error occurred while validating the submitted data.";

/// The body as JSON (multipart/urlencoded values type-inferred).
pub(super) async fn form(config: &HttpConfig, headers: &HeaderMap, body: Body) -> ApiResult<Json> {
    let bytes = read_body(body, config.body_limit).await?;
    parse_body(headers, bytes).await.map(Json::Object).map_err(|e| body_error(e, LOAD_FAILED))
}

/// A text-only form: multipart/urlencoded values are not type-inferred.
async fn text_form(config: &HttpConfig, headers: &HeaderMap, body: Body) -> ApiResult<Json> {
    let bytes = read_body(body, config.body_limit).await?;
    parse_form_body(headers, bytes).await.map(Json::Object).map_err(|e| body_error(e, LOAD_FAILED))
}

pub async fn with_password(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["authWithPassword", "auth"]).await?;
    let body = text_form(&config, &headers, body).await?;
    let identity = body
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case("identity")))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("");
    let guard = req.failed_auth_guard(&app, &collection, identity).await?;
    let result = app.auth_with_password(&req.info, &collection, &body, req.query.expand()).await;
    let response = finish_login(&app, &collection, result, guard, &req).await?;
    super::auth_mail::track_origin(&app, &collection, &response, peer, &req).await;
    respond::json(response.to_json(), &req.query)
}

/// The common end of the login routes: wrong credentials (400) and refused logins (403) count
/// against the failed-login guard (a missing collection or a server failure does not), and once
/// the credentials proved right (a response, or MFA's 401 asking for the second factor) a
/// superuser from outside `settings.superuserIPs` is refused with 403.
pub(super) async fn finish_login(
    app: &App,
    collection: &str,
    result: Result<sb_core::AuthResponse, CoreError>,
    guard: FailedAuthTicket,
    req: &Req,
) -> Result<sb_core::AuthResponse, ApiError> {
    let credentials_ok = result.as_ref().map_or_else(|e| e.status() == 401, |_| true);
    if credentials_ok
        && !req.superuser_ip_allowed()
        && app.catalog().get(collection).is_some_and(|c| c.name == sb_core::SUPERUSERS)
    {
        return Err(ApiError(CoreError::Forbidden(NOT_ALLOWED.into())));
    }
    match result {
        Ok(response) => Ok(response),
        Err(e) => {
            if matches!(e.status(), 400 | 403) {
                guard.failed().await;
            }
            Err(e.into())
        }
    }
}

pub async fn refresh(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["authRefresh"]).await?;
    let token = req.token.clone().unwrap_or_default();
    let response = app.auth_refresh(&req.info, &collection, &token, req.query.expand()).await?;
    respond::json(response.to_json(), &req.query)
}

pub async fn methods(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["listAuthMethods"]).await?;
    respond::json(app.auth_methods(&collection)?, &req.query)
}

pub async fn impersonate(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path((collection, id)): Path<(String, String)>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    if req.info.auth.is_none() {
        return Err(ApiError(CoreError::Unauthorized(
            "The request requires valid record authorization token.".into(),
        )));
    }
    let body = form(&config, &headers, body).await?;
    let duration = match body.get("duration") {
        None | Some(Json::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| ApiError(CoreError::bad_request(LOAD_FAILED)))?,
    };
    if duration < 0 {
        let mut data = sb_schema::ErrorMap::new();
        data.insert(
            "duration",
            sb_schema::FieldError::new(
                "validation_min_greater_equal_than_required",
                "Must be no less than 0.",
            )
            .with_param("threshold", 0),
        );
        return Err(ApiError(CoreError::validation(VALIDATION_FAILED, data)));
    }
    let response =
        app.impersonate(&req.info, &collection, &id, duration, req.query.expand()).await?;
    respond::json(response.to_json(), &req.query)
}
