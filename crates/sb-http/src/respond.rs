//! Success responses: JSON with the `fields` picker applied (spec §1.10), list envelopes, 204.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_core::ListResult;
use serde_json::{Value as Json, json};

use crate::error::{ApiError, ApiResult, bad_request};
use crate::extract::Query;

/// A 200 JSON response; `fields` (when given) picks keys of the object.
pub fn json(value: Json, query: &Query) -> ApiResult {
    answer(value.into(), query)
}

/// A computed or cached answer: its text as it is, or the picked `fields` of its value.
pub fn answer(answer: sb_core::Answer, query: &Query) -> ApiResult {
    match picker(query)? {
        Some(picker) => {
            let mut value = answer.into_value();
            picker.apply(&mut value);
            Ok(raw_json(StatusCode::OK, &value))
        }
        None => Ok(json_typed((StatusCode::OK, answer.text()).into_response())),
    }
}

/// A list envelope; `fields` applies inside each item.
pub fn list(result: ListResult, query: &Query) -> ApiResult {
    let picker = picker(query)?;
    let items: Vec<Json> = result
        .items
        .into_iter()
        .map(|mut item| {
            if let Some(p) = &picker {
                p.apply(&mut item);
            }
            item
        })
        .collect();
    let body = json!({
        "items": items,
        "page": result.page,
        "perPage": result.per_page,
        "totalItems": result.total_items,
        "totalPages": result.total_pages,
    });
    Ok(raw_json(StatusCode::OK, &body))
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Checks the `fields` parameter before a write, so a bad picker answers 400 without writing
/// anything (PocketBase writes first and then fails to answer).
pub fn check_fields(query: &Query) -> Result<(), ApiError> {
    picker(query).map(|_| ())
}

pub(crate) fn picker(query: &Query) -> Result<Option<sb_filter::fields::FieldsPicker>, ApiError> {
    match query.get("fields").filter(|f| !f.trim().is_empty()) {
        None => Ok(None),
        Some(f) => sb_filter::fields::parse_fields(f).map(Some).map_err(|_| bad_request("")),
    }
}

pub fn raw_json(status: StatusCode, value: &Json) -> Response {
    json_typed((status, value.to_string()).into_response())
}

/// The response with `Content-Type: application/json`.
fn json_typed(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
