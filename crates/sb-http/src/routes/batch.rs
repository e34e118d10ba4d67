//! `POST /api/batch` (spec §8.1): the wire side of the batch API. The body (JSON, or multipart
//! with the JSON in `@jsonPayload` and files in parts named `requests.N.field`) is parsed and
//! validated here, each sub-request's `METHOD url` becomes a [`BatchOp`], and `App::batch`
//! runs them in one transaction.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use sb_core::{App, BatchAction, BatchError, BatchOp, CoreError, RecordInput, UploadedFile};
use sb_schema::{ErrorMap, FieldError};
use serde_json::{Map, Value as Json, json};

use crate::error::{ApiError, ApiResult, bad_request, error_response};
use crate::extract::{Query, Req, parse_body_with_files, read_body};
use crate::respond;

const READ_FAILED: &str = "Failed to read the submitted batch data.";
const INVALID: &str = "Invalid batch request data.";
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
const MAX_URL: usize = 2000;

/// One entry of `requests`, as sent.
#[derive(Debug, Default, PartialEq)]
struct SubRequest {
    method: String,
    url: String,
    body: Map<String, Json>,
    headers: Vec<(String, String)>,
}

pub async fn batch(
    State(app): State<Arc<App>>,
    req: Req,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let settings = app.batch_settings();
    if !settings.enabled || settings.max_requests == 0 {
        return Err(ApiError(CoreError::Forbidden("Batch requests are not allowed.".into())));
    }
    let bytes = read_body(body, settings.max_body_size).await?;
    let (data, files) =
        parse_body_with_files(&headers, bytes).await.map_err(|_| bad_request(READ_FAILED))?;
    let requests = parse_requests(data.get("requests")).ok_or_else(|| bad_request(READ_FAILED))?;
    validate(&requests, settings.max_requests)?;
    let mut inputs: Vec<RecordInput> =
        requests.iter().map(|r| RecordInput::from_data(r.body.clone())).collect();
    route_files(&mut inputs, files);
    let mut ops = Vec::with_capacity(requests.len());
    let mut queries = Vec::with_capacity(requests.len());
    for (index, (sub, input)) in requests.into_iter().zip(inputs).enumerate() {
        let (op, query) = to_op(&req, sub, input).map_err(|e| failed(index, e))?;
        ops.push(op);
        queries.push(query);
    }
    match app.batch(ops, settings.timeout).await {
        Ok(bodies) => {
            let mut out = Vec::with_capacity(bodies.len());
            for (body, query) in bodies.into_iter().zip(&queries) {
                out.push(match body {
                    None => json!({"body": null, "status": 204}),
                    Some(mut body) => {
                        // `fields` was checked before the batch ran.
                        if let Ok(Some(picker)) = respond::picker(query) {
                            picker.apply(&mut body);
                        }
                        json!({"body": body, "status": 200})
                    }
                });
            }
            Ok(respond::raw_json(axum::http::StatusCode::OK, &Json::Array(out)))
        }
        Err(BatchError::Request { index, error }) => Err(failed(index, ApiError(error))),
        Err(BatchError::Transaction) => {
            Ok(error_response(400, "Batch transaction failed.", json!({})))
        }
    }
}

/// The 400 of a batch whose sub-request `index` failed with `error`.
fn failed(index: usize, error: ApiError) -> ApiError {
    let (_, response) = error.status_and_body();
    let mut requests = Map::new();
    requests.insert(
        index.to_string(),
        json!({"code": "batch_request_failed", "message": "Batch request failed.", "response": response}),
    );
    ApiError(CoreError::Custom {
        status: 400,
        body: json!({
            "data": {"requests": requests},
            "message": "Batch transaction failed.",
            "status": 400,
        }),
    })
}

/// Decodes `requests` (absent or null: none). `None` when it does not have the expected shape.
fn parse_requests(value: Option<&Json>) -> Option<Vec<SubRequest>> {
    let items = match value {
        None | Some(Json::Null) => return Some(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(_) => return None,
    };
    let text = |v: Option<&Json>| match v {
        None | Some(Json::Null) => Some(String::new()),
        Some(Json::String(s)) => Some(s.clone()),
        Some(_) => None,
    };
    items
        .iter()
        .map(|item| {
            let item = match item {
                Json::Object(m) => m,
                Json::Null => return Some(SubRequest::default()),
                _ => return None,
            };
            let body = match item.get("body") {
                None | Some(Json::Null) => Map::new(),
                Some(Json::Object(m)) => m.clone(),
                Some(_) => return None,
            };
            let headers = match item.get("headers") {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Object(m)) => m
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect::<Option<_>>()?,
                Some(_) => return None,
            };
            Some(SubRequest {
                method: text(item.get("method"))?,
                url: text(item.get("url"))?,
                body,
                headers,
            })
        })
        .collect()
}

/// `requests` required and at most `max`; each with a known method and a URL of at most 2000
/// characters.
fn validate(requests: &[SubRequest], max: usize) -> Result<(), ApiError> {
    let mut errors = ErrorMap::new();
    if requests.is_empty() {
        errors.insert("requests", FieldError::required());
    } else if requests.len() > max {
        errors.insert(
            "requests",
            FieldError::new(
                "validation_length_too_long",
                format!("The length must be no more than {max}."),
            )
            .with_param("max", max)
            .with_param("min", 0),
        );
    } else {
        let mut items = ErrorMap::new();
        for (index, r) in requests.iter().enumerate() {
            let mut e = ErrorMap::new();
            if r.method.is_empty() {
                e.insert("method", FieldError::required());
            } else if !METHODS.contains(&r.method.as_str()) {
                e.insert(
                    "method",
                    FieldError::new("validation_in_invalid", "Must be a valid value."),
                );
            }
            if r.url.is_empty() {
                e.insert("url", FieldError::required());
            } else if r.url.chars().count() > MAX_URL {
                e.insert(
                    "url",
                    FieldError::new(
                        "validation_length_too_long",
                        format!("The length must be no more than {MAX_URL}."),
                    )
                    .with_param("max", MAX_URL)
                    .with_param("min", 0),
                );
            }
            items.insert_nested(index.to_string(), e);
        }
        errors.insert_nested("requests", items);
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError(CoreError::validation(INVALID, errors))) }
}

/// Gives each file part named `requests.N.key` or `requests[N].key` to sub-request N, under
/// `key` (a field name, possibly with a modifier). Parts with other names, or for a
/// sub-request that does not exist, are ignored (as PocketBase does).
fn route_files(inputs: &mut [RecordInput], files: Vec<(String, UploadedFile)>) {
    for (name, file) in files {
        let Some((index, key)) = file_target(&name) else { continue };
        if let Some(input) = inputs.get_mut(index) {
            input.files.push((key.to_owned(), file));
        }
    }
}

/// `requests.3.doc+` → `(3, "doc+")`; `requests[3].doc` → `(3, "doc")`.
fn file_target(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("requests")?;
    let (digits, key) = if let Some(r) = rest.strip_prefix('.') {
        r.split_once('.')?
    } else {
        let (digits, after) = rest.strip_prefix('[')?.split_once(']')?;
        (digits, after.strip_prefix('.')?)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || key.is_empty() {
        return None;
    }
    Some((digits.parse().ok()?, key))
}

/// The action a sub-request's `METHOD url` names, with its collection: only the record
/// create, update, upsert and delete routes.
fn action(method: &str, path: &str) -> Option<(String, BatchAction)> {
    let rest = path.strip_prefix("/api/collections/")?;
    let (collection, rest) = rest.split_once('/')?;
    let id = match rest {
        "records" => None,
        _ => Some(rest.strip_prefix("records/")?),
    };
    let segment = |s: &str| {
        (!s.is_empty() && !s.contains('/'))
            .then(|| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
    };
    let collection = segment(collection)?;
    let action = match (method, id) {
        ("POST", None) => BatchAction::Create,
        ("PUT", None) => BatchAction::Upsert,
        ("PATCH", Some(id)) => BatchAction::Update { id: segment(id)? },
        ("DELETE", Some(id)) => BatchAction::Delete { id: segment(id)? },
        _ => return None,
    };
    Some((collection, action))
}

/// A validated sub-request as an operation of the batch, with its query (for `fields`).
fn to_op(outer: &Req, sub: SubRequest, input: RecordInput) -> Result<(BatchOp, Query), ApiError> {
    let (path, raw_query) = sub.url.split_once('?').unwrap_or((sub.url.as_str(), ""));
    let (collection, action) = action(&sub.method, path).ok_or_else(|| bad_request(""))?;
    let query = Query::parse(raw_query);
    // A bad `fields` fails before anything is written.
    respond::check_fields(&query)?;
    let mut info = outer.info.clone();
    info.context = "batch".into();
    info.method = sub.method.clone();
    info.query = query.first_values();
    for (name, value) in sub.headers {
        // `@request.headers` keys, as for the outer request; the caller's auth stays.
        let key = name.to_ascii_lowercase().replace('-', "_");
        if key != "authorization" {
            info.headers.insert(key, value);
        }
    }
    let expand = query.expand().map(String::from);
    Ok((BatchOp { req: info, collection, action, input, expand }, query))
}

#[cfg(test)]
mod tests;
