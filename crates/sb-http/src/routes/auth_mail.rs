//! The e-mail auth routes of auth collections (spec §6.7, §6.9) and the settings' test e-mail
//! (§8.6).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use sb_core::App;
use serde_json::Value as Json;

use super::{body_error, require_superuser};
use crate::HttpConfig;
use crate::error::ApiResult;
use crate::extract::{Req, parse_form_body, read_body};
use crate::respond;

/// Records the origin of a successful login (and sends the login alert for a new one, spec
/// §6.12): the client IP (trusted proxy headers applied) and the user agent.
pub(super) async fn track_origin(
    app: &App,
    collection: &str,
    response: &sb_core::AuthResponse,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    req: &Req,
) {
    let ip = req
        .client_ip()
        .or(peer.map(|Extension(ConnectInfo(addr))| addr.ip()))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let user_agent = req.info.headers.get("user_agent").map(String::as_str).unwrap_or("");
    let id = response.record.get("id").and_then(Json::as_str).unwrap_or("");
    app.track_auth_origin(collection, id, &ip, user_agent).await;
}

/// The body as text values (multipart/urlencoded values are not type-inferred).
async fn text_form(config: &HttpConfig, headers: &HeaderMap, body: Body) -> ApiResult<Json> {
    let bytes = read_body(body, config.body_limit).await?;
    parse_form_body(headers, bytes)
        .await
        .map(Json::Object)
        .map_err(|e| body_error(e, "An error occurred while loading the submitted data."))
}

pub async fn request_verification(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["requestVerification"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.request_verification(&collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn confirm_verification(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["confirmVerification"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.confirm_verification(&collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn request_password_reset(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["requestPasswordReset"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.request_password_reset(&collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn confirm_password_reset(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["confirmPasswordReset"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.confirm_password_reset(&collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn request_email_change(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["requestEmailChange"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.request_email_change(&req.info, &collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn confirm_email_change(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["confirmEmailChange"]).await?;
    let body = text_form(&config, &headers, body).await?;
    app.confirm_email_change(&collection, &body).await?;
    Ok(respond::no_content())
}

pub async fn request_otp(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["requestOTP"]).await?;
    let body = text_form(&config, &headers, body).await?;
    respond::json(app.request_otp(&collection, &body).await?, &req.query)
}

pub async fn auth_with_otp(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["authWithOTP", "auth"]).await?;
    let body = text_form(&config, &headers, body).await?;
    let otp_id = body.get("otpId").and_then(Json::as_str).unwrap_or("");
    let guard = req.failed_auth_guard(&app, &collection, otp_id).await?;
    let result = app.auth_with_otp(&req.info, &collection, &body, req.query.expand()).await;
    let response = super::auth::finish_login(&app, &collection, result, guard, &req).await?;
    track_origin(&app, &collection, &response, peer, &req).await;
    respond::json(response.to_json(), &req.query)
}

/// `POST /api/settings/test/email` (superusers).
pub async fn test_email(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    require_superuser(&req)?;
    let body = text_form(&config, &headers, body).await?;
    app.send_test_email(&body).await?;
    Ok(respond::no_content())
}
