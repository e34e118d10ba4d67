//! `/api/files/...` (spec §8.2, §8.3).

use std::sync::Arc;

use axum::extract::State;
use sb_core::App;
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::Req;
use crate::respond;

/// `POST /api/files/token`: a short-lived file token for the authenticated record.
pub async fn token(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    let token = app.file_token(&req.info)?;
    respond::json(json!({ "token": token }), &req.query)
}
