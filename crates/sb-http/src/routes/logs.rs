//! `/api/logs` (spec §8.5, superusers only): the request log.

use std::sync::Arc;

use axum::extract::{Path, State};
use sb_core::App;

use super::require_superuser;
use crate::error::ApiResult;
use crate::extract::Req;
use crate::respond;

pub async fn list(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    let params = req.query.list_params()?;
    respond::list(app.list_logs(&params).await?, &req.query)
}

pub async fn stats(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    let filter = req.query.get("filter").filter(|f| !f.is_empty());
    respond::json(app.log_stats(filter).await?, &req.query)
}

pub async fn view(State(app): State<Arc<App>>, Path(id): Path<String>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.view_log(&id).await?, &req.query)
}

pub async fn delete(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    app.delete_logs().await?;
    Ok(respond::no_content())
}
