//! Body and query parsing: PocketBase's inference, the strict JSON decoding and list parameters.

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::{Value as Json, json};

use super::{BodyError, Query, parse_body, parse_form_body};

fn headers(content_type: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    h
}

async fn body(content_type: &str, raw: &'static [u8]) -> Result<Json, BodyError> {
    parse_body(&headers(content_type), bytes::Bytes::from_static(raw)).await.map(Json::Object)
}

#[tokio::test]
async fn json_bodies() {
    assert_eq!(body("application/json", br#"{"a":1} trailing"#).await, Ok(json!({"a": 1})));
    assert_eq!(body("Application/JSON; charset=utf-8", b"null").await, Ok(json!({})));
    assert_eq!(body("text/plain", b"").await, Ok(json!({})), "an empty body is no data");
    for bad in [
        &br#"{"a":1,"a":2}"#[..],
        br#"{"a":{"b":1,"b":1}}"#,
        br#"{"a":"x\u0000"}"#,
        br#"{"a\u0000":1}"#,
        b"[1]",
        b"{",
        b"\xff",
    ] {
        let parsed = parse_body(&headers("application/json"), bytes::Bytes::from_static(bad)).await;
        assert_eq!(parsed, Err(BodyError::Malformed), "{bad:?}");
    }
    assert_eq!(body("text/plain", b"x").await, Err(BodyError::UnsupportedType));
}

#[tokio::test]
async fn form_bodies_infer_like_pocketbase() {
    let form = b"s=012&n=12&f=-1.5&e=1e3&t=true&x=&l=a&l=b";
    let parsed = body("application/x-www-form-urlencoded", form).await.unwrap();
    assert_eq!(
        parsed,
        json!({"s": "012", "n": 12, "f": -1.5, "e": "1e3", "t": true, "x": "", "l": ["a", "b"]})
    );
    let text = parse_form_body(
        &headers("application/x-www-form-urlencoded"),
        bytes::Bytes::from_static(b"n=12&t=true"),
    )
    .await
    .unwrap();
    assert_eq!(Json::Object(text), json!({"n": "12", "t": "true"}));
    assert_eq!(
        body("application/x-www-form-urlencoded", b"a=%00").await,
        Err(BodyError::Malformed)
    );
}

#[tokio::test]
async fn multipart_keeps_the_boundary_case_and_merges_json_payloads() {
    let raw = b"--AbC\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--AbC\r\nContent-Disposition: form-data; name=\"@jsonPayload\"\r\n\r\n{\"b\":[1]}\r\n--AbC--\r\n";
    let parsed = body("multipart/form-data; boundary=AbC", raw).await.unwrap();
    assert_eq!(parsed, json!({"a": 1, "b": [1]}));
}

#[test]
fn list_parameters() {
    let params =
        |q: &str| Query::parse(q).list_params().map(|p| (p.page, p.per_page, p.skip_total));
    assert_eq!(params("").ok(), Some((1, 30, false)));
    assert_eq!(params("page=%2B2&perPage=5000&skipTotal=t").ok(), Some((2, 1000, true)));
    assert_eq!(params("page=-1&perPage=0&skipTotal=").ok(), Some((1, 30, false)));
    for bad in ["page=%201", "page=1.0", "perPage=x", "skipTotal=yes", "page=99999999999999999999"]
    {
        assert!(params(bad).is_err(), "{bad}");
    }
}
