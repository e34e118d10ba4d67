//! `/api/collections/COLL/records[/RID]` (spec §3).

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use sb_core::{App, RecordInput};
use sb_schema::FieldKind;

use super::body_error;
use crate::HttpConfig;
use crate::error::ApiResult;
use crate::extract::{Req, parse_body_with_files, read_body};
use crate::respond;

const GENERIC: &str = "Something went wrong while processing your request.";
const MIB: i64 = 1 << 20;

/// The body limit of record writes: the base limit plus, per collection, every file field's
/// `maxSize × max(maxSelect, 1)`, editor `maxSize` and json `maxSize` (spec §1.11).
fn record_body_limit(app: &App, collection: &str, base: usize) -> usize {
    let Some(c) = app.catalog().get(collection).cloned() else { return base };
    let extra: i64 = c
        .fields
        .iter()
        .map(|f| match &f.kind {
            FieldKind::File(o) => {
                (if o.max_size > 0 { o.max_size } else { 5 * MIB }) * o.max_select.max(1)
            }
            FieldKind::Editor(o) => {
                if o.max_size > 0 {
                    o.max_size
                } else {
                    5 * MIB
                }
            }
            FieldKind::Json(o) => {
                if o.max_size > 0 {
                    o.max_size
                } else {
                    MIB
                }
            }
            _ => 0,
        })
        .sum();
    base.saturating_add(usize::try_from(extra).unwrap_or(0))
}

async fn record_input(
    app: &App,
    config: &HttpConfig,
    collection: &str,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<RecordInput> {
    let bytes = read_body(body, record_body_limit(app, collection, config.body_limit)).await?;
    let (data, files) =
        parse_body_with_files(headers, bytes).await.map_err(|e| body_error(e, GENERIC))?;
    Ok(RecordInput { data, files })
}

pub async fn list(
    State(app): State<Arc<App>>,
    Path(collection): Path<String>,
    req: Req,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["list"]).await?;
    let params = req.query.list_params()?;
    respond::list(app.list_records(&req.info, &collection, &params).await?, &req.query)
}

pub async fn view(
    State(app): State<Arc<App>>,
    Path((collection, id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["view"]).await?;
    let record = app.view_record(&req.info, &collection, &id, req.query.expand()).await?;
    respond::answer(record, &req.query)
}

pub async fn create(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path(collection): Path<String>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["create"]).await?;
    respond::check_fields(&req.query)?;
    let input = record_input(&app, &config, &collection, &headers, body).await?;
    let record = app.create_record(&req.info, &collection, input, req.query.expand()).await?;
    respond::json(record, &req.query)
}

pub async fn update(
    State(app): State<Arc<App>>,
    Extension(config): Extension<Arc<HttpConfig>>,
    Path((collection, id)): Path<(String, String)>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["update"]).await?;
    respond::check_fields(&req.query)?;
    let input = record_input(&app, &config, &collection, &headers, body).await?;
    let record = app.update_record(&req.info, &collection, &id, input, req.query.expand()).await?;
    respond::json(record, &req.query)
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path((collection, id)): Path<(String, String)>,
    req: Req,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["delete"]).await?;
    app.delete_record(&req.info, &collection, &id).await?;
    Ok(respond::no_content())
}
