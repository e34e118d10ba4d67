//! The admin UI: the single-page app built from `ui/` (Preact + the PocketBase JS SDK) into
//! `dist/`, embedded in the binary at compile time, so `cargo build` never runs Node. `dist/` is
//! committed; CI rebuilds it from `ui/` and fails when the two differ.
//!
//! [`router`] serves it under `/_/`: `/_/` (and any path that names no file, since the app routes
//! by the URL's hash) answers `index.html`, revalidated on every load; files under `/_/assets/`
//! carry a content hash in their name and are cached for a year.

use std::borrow::Cow;
use std::fmt::Write;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rust_embed::{Embed, EmbeddedFile};

#[derive(Embed)]
#[folder = "dist/"]
struct Bundle;

/// Where the UI lives.
pub const PREFIX: &str = "/_/";

/// The routes of the UI: `/_` redirects to `/_/`, `/_/` and `/_/{*path}` serve the bundle.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/_", get(|| async { Redirect::permanent(PREFIX) }))
        .route("/_/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/_/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                serve(&path, &headers)
            }),
        )
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if let Some(file) = Bundle::get(path) {
        return answer(path, file, headers);
    }
    // A missing hashed asset is an error (a stale page asking for an old build); anything else
    // is a path of the app itself.
    if path.starts_with("assets/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    match Bundle::get("index.html") {
        Some(index) => answer("index.html", index, headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn answer(path: &str, file: EmbeddedFile, headers: &HeaderMap) -> Response {
    let etag = etag(&file);
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // The embedded bytes are served in place, not copied per request.
        let body = match file.data {
            Cow::Borrowed(bytes) => Body::from(bytes),
            Cow::Owned(bytes) => Body::from(bytes),
        };
        let mut response = Response::new(body);
        if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
            response.headers_mut().insert(header::CONTENT_TYPE, mime);
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(tag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, tag);
    }
    if path == "index.html" {
        // The page runs only its own bundled script and talks only to this origin (the API's
        // security headers middleware adds `X-Frame-Options` and `nosniff` to every answer).
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                 frame-ancestors 'self'",
            ),
        );
    }
    response
}

/// A strong validator: the first 16 bytes of the file's SHA-256, in hex.
fn etag(file: &EmbeddedFile) -> String {
    let hash = file.metadata.sha256_hash();
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &hash[..16] {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

#[cfg(test)]
mod tests;
