//! `/api/files/...` (spec §8.2, §8.3).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sb_core::{App, FileRequest};
use serde_json::json;

use crate::error::ApiResult;
use crate::extract::Req;
use crate::respond;

/// Marks a file response: the security headers middleware leaves out `X-Frame-Options`.
#[derive(Clone, Copy)]
pub(crate) struct FileResponse;

/// `POST /api/files/token`: a short-lived file token for the authenticated record.
pub async fn token(State(app): State<Arc<App>>, req: Req) -> ApiResult {
    let token = app.file_token(&req.info)?;
    respond::json(json!({ "token": token }), &req.query)
}

/// `GET /api/files/COLL/RID/FILENAME`: the file, a thumb of it (`?thumb=`), as an attachment
/// (`?download=1`); protected files need `?token=`. Single byte ranges answer 206.
pub async fn download(
    State(app): State<Arc<App>>,
    Path((collection, id, filename)): Path<(String, String, String)>,
    req: Req,
    headers: HeaderMap,
) -> ApiResult {
    req.limit_tags(&app, &collection, &["file"]).await?;
    let request = FileRequest {
        thumb: req.query.get("thumb").unwrap_or("").to_owned(),
        token: req.query.get("token").unwrap_or("").to_owned(),
    };
    let file = app.serve_file(&collection, &id, &filename, &request).await?;
    let attachment = req.query.get("download").is_some_and(is_true) || !file.inline();
    let disposition = format!(
        "{}; filename=\"{}\"",
        if attachment { "attachment" } else { "inline" },
        file.name.replace(['"', '\\'], "_")
    );
    let last_modified = file.last_modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, header_value(&file.content_type))
        .header(header::CONTENT_DISPOSITION, header_value(&disposition))
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        )
        .header(header::CACHE_CONTROL, "max-age=2592000, stale-while-revalidate=86400")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::LAST_MODIFIED, header_value(&last_modified))
        .extension(FileResponse);
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(&v.replace("GMT", "+0000")).ok())
        && file.last_modified.timestamp() <= since.timestamp()
    {
        return Ok(builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default());
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    match range.map(|r| parse_range(r, file.size)) {
        Some(RangeAsk::Unsatisfiable) => {
            return Ok(builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{}", file.size))
                .body(Body::empty())
                .unwrap_or_default());
        }
        Some(RangeAsk::Range(start, end)) => {
            let chunks = file.stream(Some(start..end + 1)).await?;
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, end + 1 - start)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", file.size));
            return Ok(builder.body(Body::from_stream(chunks)).unwrap_or_default());
        }
        Some(RangeAsk::Whole) | None => {}
    }
    // Streamed from storage as the client reads: a large file never sits in memory whole.
    let chunks = file.stream(None).await?;
    Ok(builder
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, file.size)
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Go's `strconv.ParseBool` true values.
fn is_true(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

#[derive(Debug, PartialEq)]
enum RangeAsk {
    /// No usable range (malformed or several ranges): the whole file.
    Whole,
    /// Inclusive byte range.
    Range(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range; several ranges or a malformed header serve the whole file.
fn parse_range(header: &str, size: u64) -> RangeAsk {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeAsk::Whole };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeAsk::Whole };
    let num = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, false) => {
            let Some(n) = num(b) else { return RangeAsk::Whole };
            if n == 0 || size == 0 {
                return RangeAsk::Unsatisfiable;
            }
            (size.saturating_sub(n), size - 1)
        }
        (false, _) => {
            let Some(start) = num(a) else { return RangeAsk::Whole };
            let end = if b.trim().is_empty() {
                size.saturating_sub(1)
            } else {
                let Some(e) = num(b) else { return RangeAsk::Whole };
                e.min(size.saturating_sub(1))
            };
            if start >= size || end < start {
                return RangeAsk::Unsatisfiable;
            }
            (start, end)
        }
        (true, true) => return RangeAsk::Whole,
    };
    RangeAsk::Range(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), RangeAsk::Range(0, 4));
        assert_eq!(parse_range("bytes=5-", 10), RangeAsk::Range(5, 9));
        assert_eq!(parse_range("bytes=-3", 10), RangeAsk::Range(7, 9));
        assert_eq!(parse_range("bytes=5-100", 10), RangeAsk::Range(5, 9));
        assert_eq!(parse_range("bytes=10-", 10), RangeAsk::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 10), RangeAsk::Whole);
        assert_eq!(parse_range("items=0-1", 10), RangeAsk::Whole);
        assert_eq!(parse_range("bytes=x-1", 10), RangeAsk::Whole);
    }
}
