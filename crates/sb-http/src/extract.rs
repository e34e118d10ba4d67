//! Request parsing: the principal and `@request.*` data, query parameters, list parameters and
//! bodies (JSON, multipart with `@jsonPayload`, urlencoded, with PocketBase's type inference).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use sb_core::{App, ListParams, RequestInfo, UploadedFile};
use serde_json::{Map, Value as Json};

use crate::error::{ApiError, bad_request};

/// The request as API rules see it (`@request.*`), with the authenticated principal.
pub struct Req {
    pub info: RequestInfo,
    /// The raw `Authorization` token (without a `Bearer ` prefix), if any.
    pub token: Option<String>,
    pub query: Query,
    /// The client IP and rate limiting state (absent only when the router is built without
    /// the rate limiting middleware).
    pub rate: Option<crate::ratelimit::RateCtx>,
    /// The request path and the matched route pattern (rate limit labels and keys).
    pub path: String,
    pub pattern: String,
}

impl Req {
    /// The client IP (spec §9.4), when known.
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.rate.as_ref().map(|r| r.ip)
    }

    /// Whether a superuser may be served to this client (`settings.superuserIPs`).
    pub fn superuser_ip_allowed(&self) -> bool {
        self.rate.as_ref().is_none_or(|r| r.policy.admits_superuser(r.ip))
    }
}

impl FromRequestParts<Arc<App>> for Req {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        let query = Query::parse(parts.uri.query().unwrap_or(""));
        let token = auth_token(&parts.headers);
        let rate = parts.extensions.get::<crate::ratelimit::RateCtx>().cloned();
        let auth = match (&token, rate.as_ref().and_then(|r| r.auth.clone())) {
            // The rate limiting middleware already resolved this token.
            (_, Some(resolved)) => resolved,
            (Some(t), None) => app.resolve_token(t).await.map_err(ApiError)?,
            (None, None) => None,
        };
        if let (Some(a), Some(slot)) =
            (&auth, parts.extensions.get::<Arc<crate::observe::LogSlot>>())
        {
            *slot.auth.lock() = Some((a.collection.name.clone(), a.id().to_owned()));
        }
        let info = RequestInfo {
            context: "default".into(),
            method: parts.method.as_str().to_ascii_uppercase(),
            headers: snake_headers(&parts.headers),
            query: query.first_values(),
            body: Map::new(),
            auth,
        };
        let path = parts.uri.path().to_owned();
        let pattern = crate::ratelimit::route_pattern(parts);
        Ok(Req { info, token, query, rate, path, pattern })
    }
}

/// The raw token of the `Authorization` header (a `Bearer ` prefix, any case, is stripped).
pub(crate) fn auth_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim(),
        _ => value,
    };
    (!token.is_empty()).then(|| token.to_owned())
}

/// Header values keyed by lower snake_case name (`X-Token` → `x_token`), first value only.
fn snake_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let key = name.as_str().to_ascii_lowercase().replace('-', "_");
        if let Ok(v) = value.to_str() {
            out.entry(key).or_insert_with(|| v.to_owned());
        }
    }
    out
}

/// Parsed query string (all values, in order).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query { pairs: url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect() }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub(crate) fn first_values(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.pairs {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out
    }

    /// `expand`, when present and non-empty.
    pub fn expand(&self) -> Option<&str> {
        self.get("expand").filter(|s| !s.trim().is_empty())
    }

    /// Pagination, filter and sort (spec §1.9). Numbers are parsed like Go's `strconv.Atoi`
    /// (no surrounding spaces); an empty value means the default.
    pub fn list_params(&self) -> Result<ListParams, ApiError> {
        let int = |key: &str, default: i64| -> Result<i64, ApiError> {
            match self.get(key).filter(|s| !s.is_empty()) {
                None => Ok(default),
                Some(s) => s.parse::<i64>().map_err(|_| bad_request("")),
            }
        };
        let page = int("page", 1)?;
        let per_page = int("perPage", DEFAULT_PER_PAGE)?;
        let skip_total = match self.get("skipTotal") {
            None | Some("") => false,
            Some(v) => parse_bool(v).ok_or_else(|| bad_request(""))?,
        };
        Ok(ListParams {
            page: if page <= 0 { 1 } else { page },
            per_page: if per_page <= 0 { DEFAULT_PER_PAGE } else { per_page.min(MAX_PER_PAGE) },
            sort: self.get("sort").map(String::from),
            filter: self.get("filter").map(String::from),
            skip_total,
            expand: self.expand().map(String::from),
        })
    }
}

/// `perPage` when absent or not positive.
const DEFAULT_PER_PAGE: i64 = 30;
/// Larger `perPage` values are clamped to this.
const MAX_PER_PAGE: i64 = 1000;

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Reads a body up to `limit` bytes; larger bodies answer 413.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    // A declared Content-Length over the limit is refused before reading anything.
    if usize::try_from(http_body::Body::size_hint(&body).lower()).unwrap_or(usize::MAX) > limit {
        return Err(ApiError(sb_core::CoreError::TooLarge));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large { ApiError(sb_core::CoreError::TooLarge) } else { bad_request("") }
    })
}

/// How a body could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON / multipart / urlencoded.
    UnsupportedType,
    Malformed,
}

/// Parses a request body into a JSON object (spec §1.2). An empty body is an empty object.
/// Multipart and urlencoded text values are type-inferred as PocketBase does.
///
/// Rejected as malformed, besides syntax errors: JSON objects that repeat a key (PocketBase's
/// JSON decoder refuses them too, and a silent "last one wins" invites parser-differential
/// tricks), and NUL characters anywhere in keys or values (PostgreSQL cannot store them in
/// text, so accepting them on one backend only would make the backends disagree).
pub async fn parse_body(
    headers: &HeaderMap,
    bytes: bytes::Bytes,
) -> Result<Map<String, Json>, BodyError> {
    parse(headers, bytes, true, None).await
}

/// Like [`parse_body`], but also returns the multipart file parts (part name as sent, and the
/// file), in the order they came.
pub async fn parse_body_with_files(
    headers: &HeaderMap,
    bytes: bytes::Bytes,
) -> Result<(Map<String, Json>, Vec<(String, UploadedFile)>), BodyError> {
    let mut files = Vec::new();
    let data = parse(headers, bytes, true, Some(&mut files)).await?;
    Ok((data, files))
}

/// Like [`parse_body`], but multipart and urlencoded values stay strings, as PocketBase binds
/// them into its fixed forms (auth forms: an identity `123` is the text "123").
pub async fn parse_form_body(
    headers: &HeaderMap,
    bytes: bytes::Bytes,
) -> Result<Map<String, Json>, BodyError> {
    parse(headers, bytes, false, None).await
}

async fn parse(
    headers: &HeaderMap,
    bytes: bytes::Bytes,
    infer_types: bool,
    mut files: Option<&mut Vec<(String, UploadedFile)>>,
) -> Result<Map<String, Json>, BodyError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    // The media type is matched case-insensitively; the multipart boundary is case-sensitive.
    let raw_content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let content_type = raw_content_type.to_ascii_lowercase();
    let mut form = FormBuilder { infer_types, ..FormBuilder::default() };
    if content_type.starts_with("application/json") {
        // Only the first complete JSON value counts; trailing bytes are ignored.
        let mut values = serde_json::Deserializer::from_slice(&bytes).into_iter::<StrictJson>();
        return match values.next() {
            Some(Ok(StrictJson(Json::Object(m)))) => Ok(m),
            Some(Ok(StrictJson(Json::Null))) => Ok(Map::new()),
            _ => Err(BodyError::Malformed),
        };
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            form.push_text(&k, &v)?;
        }
        return Ok(form.finish());
    }
    if content_type.starts_with("multipart/form-data") {
        let boundary =
            multer::parse_boundary(raw_content_type).map_err(|_| BodyError::Malformed)?;
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
        let constraints =
            multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(u64::MAX));
        let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
        while let Some(field) = multipart.next_field().await.map_err(|_| BodyError::Malformed)? {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let claimed_type = field.content_type().map(|m| m.to_string()).unwrap_or_default();
            let data = field.bytes().await.map_err(|_| BodyError::Malformed)?;
            if let Some(original_name) = file_name {
                // Callers that take no files ignore file parts.
                if let Some(files) = files.as_deref_mut() {
                    if name.contains('\0') {
                        return Err(BodyError::Malformed);
                    }
                    files.push((name, UploadedFile { original_name, claimed_type, bytes: data }));
                }
                continue;
            }
            let text = String::from_utf8_lossy(&data);
            if name == "@jsonPayload" {
                match serde_json::from_str::<StrictJson>(&text) {
                    Ok(StrictJson(Json::Object(m))) => form.payloads.push(m),
                    _ => return Err(BodyError::Malformed),
                }
            } else {
                form.push_text(&name, &text)?;
            }
        }
        return Ok(form.finish());
    }
    Err(BodyError::UnsupportedType)
}

/// A JSON value decoded with two extra refusals: an object repeating a key, and a NUL
/// character in any string or key (see [`parse_body`]).
struct StrictJson(Json);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::from(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Json, E> {
        no_nul(v)?;
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Json, E> {
        no_nul(&v)?;
        Ok(Json::String(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            no_nul(&key)?;
            let StrictJson(value) = map.next_value()?;
            if out.insert(key, value).is_some() {
                return Err(serde::de::Error::custom("duplicate object key"));
            }
        }
        Ok(Json::Object(out))
    }
}

fn no_nul<E: serde::de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') { Err(E::custom("NUL character")) } else { Ok(()) }
}

/// Collects form values with PocketBase's inference: a key sent once is a scalar, several
/// times an array; `@jsonPayload` objects are merged over the plain values.
#[derive(Default)]
struct FormBuilder {
    infer_types: bool,
    values: Vec<(String, Vec<Json>)>,
    payloads: Vec<Map<String, Json>>,
}

impl FormBuilder {
    fn push_text(&mut self, key: &str, value: &str) -> Result<(), BodyError> {
        if key.contains('\0') || value.contains('\0') {
            return Err(BodyError::Malformed);
        }
        let v = if self.infer_types { infer(value) } else { Json::String(value.to_owned()) };
        match self.values.iter_mut().find(|(k, _)| k == key) {
            Some((_, list)) => list.push(v),
            None => self.values.push((key.to_owned(), vec![v])),
        }
        Ok(())
    }

    fn finish(self) -> Map<String, Json> {
        let mut out = Map::new();
        for (k, mut list) in self.values {
            let v =
                if list.len() == 1 { list.pop().unwrap_or(Json::Null) } else { Json::Array(list) };
            out.insert(k, v);
        }
        for payload in self.payloads {
            for (k, v) in payload {
                out.insert(k, v);
            }
        }
        out
    }
}

/// Type inference of a multipart/urlencoded text value (spec §1.2).
fn infer(value: &str) -> Json {
    match value {
        "" => Json::String(String::new()),
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        _ => match value.parse::<f64>() {
            Ok(n) if n.is_finite() && format_go_float(n) == value => {
                if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
                    Json::from(n as i64)
                } else {
                    serde_json::Number::from_f64(n)
                        .map(Json::Number)
                        .unwrap_or_else(|| Json::String(value.into()))
                }
            }
            _ => Json::String(value.into()),
        },
    }
}

/// Go's `strconv.FormatFloat(n, 'f', -1, 64)`: shortest decimal without exponent.
fn format_go_float(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 { format!("{}", n as i128) } else { format!("{n}") }
}

#[cfg(test)]
mod tests;
