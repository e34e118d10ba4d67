//! The route table: one module per API area, one function per endpoint.

mod auth;
mod auth_mail;
mod backups;
mod batch;
mod collections;
mod crons;
pub(crate) mod files;
mod logs;
mod oauth2;
mod realtime;
mod records;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use sb_core::{App, CoreError};
use serde_json::{Value as Json, json};

use crate::HttpConfig;
use crate::error::{ApiError, ApiResult, error_response};
use crate::extract::{BodyError, Req};

pub fn api(config: Arc<HttpConfig>) -> Router<Arc<App>> {
    let limits = axum::Extension(config);
    Router::new()
        .route("/api/health", get(health))
        .route("/api/cluster", get(cluster))
        .route("/api/ready", get(ready))
        .route("/metrics", get(crate::observe::metrics_main))
        .route("/api/batch", post(batch::batch))
        .route("/api/collections", get(collections::list).post(collections::create))
        .route(
            "/api/collections/import",
            put(collections::import)
                .get(collections::view_import)
                .patch(collections::update_import)
                .delete(collections::delete_import),
        )
        .route("/api/collections/meta/scaffolds", get(collections::scaffolds))
        .route("/api/collections/meta/oauth2-providers", get(collections::oauth2_providers))
        .route("/api/collections/meta/dry-run-view", post(collections::dry_run_view))
        .route("/api/collections/meta/check-rules", post(collections::check_rules))
        .route(
            "/api/collections/{collection}",
            get(collections::view).patch(collections::update).delete(collections::delete),
        )
        .route("/api/collections/{collection}/truncate", delete(collections::truncate))
        .route("/api/collections/{collection}/records", get(records::list).post(records::create))
        .route(
            "/api/collections/{collection}/records/{id}",
            get(records::view).patch(records::update).delete(records::delete),
        )
        .route("/api/collections/{collection}/auth-with-password", post(auth::with_password))
        .route("/api/collections/{collection}/auth-with-oauth2", post(oauth2::with_oauth2))
        .route("/api/collections/{collection}/auth-refresh", post(auth::refresh))
        .route("/api/collections/{collection}/auth-methods", get(auth::methods))
        .route("/api/collections/{collection}/impersonate/{id}", post(auth::impersonate))
        .route("/api/realtime", get(realtime::connect).post(realtime::subscribe))
        .route(
            "/api/oauth2-redirect",
            get(realtime::oauth2_redirect).post(realtime::oauth2_redirect),
        )
        .route("/api/settings", get(settings::get).patch(settings::update))
        .route("/api/logs", get(logs::list).delete(logs::delete))
        .route("/api/logs/stats", get(logs::stats))
        .route("/api/logs/{id}", get(logs::view))
        .route("/api/backups", get(backups::list).post(backups::create))
        .route("/api/backups/upload", post(backups::upload))
        .route("/api/backups/{key}", get(backups::download).delete(backups::delete))
        .route("/api/backups/{key}/restore", post(backups::restore))
        .route("/api/crons", get(crons::list))
        .route("/api/crons/{id}", post(crons::run))
        .route("/api/files/token", post(files::token))
        .route("/api/files/{collection}/{id}/{filename}", get(files::download))
        .route("/api/settings/test/email", post(auth_mail::test_email))
        .route(
            "/api/collections/{collection}/request-verification",
            post(auth_mail::request_verification),
        )
        .route(
            "/api/collections/{collection}/confirm-verification",
            post(auth_mail::confirm_verification),
        )
        .route(
            "/api/collections/{collection}/request-password-reset",
            post(auth_mail::request_password_reset),
        )
        .route(
            "/api/collections/{collection}/confirm-password-reset",
            post(auth_mail::confirm_password_reset),
        )
        .route(
            "/api/collections/{collection}/request-email-change",
            post(auth_mail::request_email_change),
        )
        .route(
            "/api/collections/{collection}/confirm-email-change",
            post(auth_mail::confirm_email_change),
        )
        .route("/api/collections/{collection}/request-otp", post(auth_mail::request_otp))
        .route("/api/collections/{collection}/auth-with-otp", post(auth_mail::auth_with_otp))
        .merge(sb_admin::router())
        .route_layer(axum::middleware::from_fn(crate::observe::route_template))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(limits)
}

/// `GET /api/cluster` (a Scalebase addition, for the admin UI): the nodes of the deployment
/// and their figures (superusers only).
async fn cluster(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    crate::respond::json(app.cluster_status(), &req.query)
}

/// `GET /api/health` (spec §8.4). Superusers also see the client's IP (as the trusted proxy
/// settings decide it) and, when no proxy header is trusted, a proxy header the request
/// carries.
async fn health(
    State(app): State<Arc<App>>,
    req: Req,
    headers: axum::http::HeaderMap,
) -> ApiResult {
    let data = if sb_core::Viewer::from_request(&req.info).superuser {
        let ip = req.client_ip().map(|ip| ip.to_string()).unwrap_or_default();
        let hint = req.rate.as_ref().map_or("", |r| {
            crate::client_ip::possible_proxy_header(&headers, &r.policy.trusted_proxy)
        });
        json!({"canBackup": app.can_backup(), "realIP": ip, "possibleProxyHeader": hint})
    } else {
        json!({})
    };
    crate::respond::json(
        json!({"message": "API is healthy.", "code": 200, "data": data}),
        &req.query,
    )
}

/// `GET /api/ready` (Scalebase): readiness for load balancers and orchestrators — 200 while
/// the database answers, 503 when it does not. `/api/health` stays the liveness check.
async fn ready(
    State(app): State<Arc<App>>,
    axum::Extension(config): axum::Extension<Arc<crate::HttpConfig>>,
) -> Response {
    let started = std::time::Instant::now();
    let database = tokio::time::timeout(std::time::Duration::from_secs(2), app.ping()).await;
    let (status, database) = match database {
        Ok(Ok(())) => (200, "ok"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            (503, "unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer within 2 s");
            (503, "unavailable")
        }
    };
    let mut checks = serde_json::Map::new();
    checks.insert(
        "database".into(),
        json!({"status": database, "latencyMs": started.elapsed().as_millis() as u64}),
    );
    let (mut status, mut degraded) = (status, false);
    for check in &config.health_checks {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(2), check.check()).await;
        let ok = matches!(outcome, Ok(Ok(())));
        if !ok {
            let why = match outcome {
                Ok(Err(e)) => e,
                _ => "no answer within 2 s".into(),
            };
            tracing::warn!(dependency = check.name(), error = %why, "readiness: a dependency does not answer");
            if check.required() {
                status = 503;
            } else {
                degraded = true;
            }
        }
        checks.insert(
            check.name().into(),
            json!({"status": if ok { "ok" } else { "unavailable" },
                   "latencyMs": started.elapsed().as_millis() as u64}),
        );
    }
    // A replica that does not answer only sends reads to the primary.
    let replicas = app.store().replicas();
    if !replicas.is_empty() {
        degraded |= replicas.iter().any(|r| !r.healthy);
        let list: Vec<Json> = replicas
            .iter()
            .map(|r| {
                json!({"name": r.name, "status": if r.healthy { "ok" } else { "unavailable" },
                       "behindBytes": r.behind_bytes})
            })
            .collect();
        checks.insert("replicas".into(), Json::Array(list));
    }
    // A node still joining the cluster gets no requests; one cut off from it serves without
    // its caches.
    let cluster = match app.cluster_membership() {
        sb_core::Membership::Alone => None,
        sb_core::Membership::Joining => {
            status = 503;
            Some("joining")
        }
        sb_core::Membership::Joined => Some("ok"),
        sb_core::Membership::CutOff => {
            degraded = true;
            Some("unavailable")
        }
    };
    if let Some(cluster) = cluster {
        checks.insert("cluster".into(), json!({"status": cluster, "peers": app.cluster_peers()}));
    }
    let overall = match (status, degraded) {
        (200, false) => "ready",
        (200, true) => "degraded",
        _ => "unavailable",
    };
    let body = json!({"status": overall, "checks": checks});
    let mut response = axum::Json(body).into_response();
    *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn not_found() -> Response {
    error_response(404, "The requested resource wasn't found.", json!({}))
}

/// 401 for guests, 403 for non-superusers (spec §2.1).
fn require_superuser(req: &Req) -> Result<(), ApiError> {
    match &req.info.auth {
        None => Err(ApiError(CoreError::Unauthorized(
            "The request requires valid record authorization token.".into(),
        ))),
        Some(a) if !a.is_superuser() => Err(ApiError(CoreError::Forbidden(
            "The authorized record is not allowed to perform this action.".into(),
        ))),
        Some(_) => Ok(()),
    }
}

fn body_error(err: BodyError, malformed_message: &str) -> ApiError {
    match err {
        BodyError::UnsupportedType => ApiError(CoreError::bad_request("Unsupported Content-Type.")),
        BodyError::Malformed => ApiError(CoreError::bad_request(malformed_message)),
    }
}
