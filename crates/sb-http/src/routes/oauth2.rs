//! `POST /api/collections/COLL/auth-with-oauth2` (spec §6.8).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use sb_core::App;

use crate::HttpConfig;
use crate::error::ApiResult;
use crate::extract::Req;
use crate::ratelimit::FailedAuthTicket;
use crate::respond;

pub async fn with_oauth2(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["authWithOAuth2", "auth"]).await?;
    let body = super::auth::form(&config, &headers, body).await?;
    let result = app.auth_with_oauth2(&req.info, &collection, &body, req.query.expand()).await;
    // A failed code exchange is not a guessed secret: it does not count as a failed login.
    let unguarded = FailedAuthTicket::unguarded();
    let response = super::auth::finish_login(&app, &collection, result, unguarded, &req).await?;
    super::auth_mail::track_origin(&app, &collection, &response, peer, &req).await;
    respond::json(response.to_json(), &req.query)
}
