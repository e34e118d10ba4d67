//! `/api/crons` (spec §8.8, superusers only).

use std::sync::Arc;

use axum::extract::{Path, State};
use sb_core::App;

use super::require_superuser;
use crate::error::ApiResult;
use crate::extract::Req;
use crate::respond;

pub async fn list(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    respond::json(app.list_crons(), &req.query)
}

pub async fn run(State(app): State<Arc<App>>, Path(id): Path<String>, req: Req) -> ApiResult {
    require_superuser(&req)?;
    app.run_cron_now(&id)?;
    Ok(respond::no_content())
}
