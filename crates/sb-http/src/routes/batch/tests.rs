//! The wire side of batches: `requests` decoding and validation, action matching, file routing.

use axum::http::{HeaderMap, HeaderValue, header};
use sb_core::{BatchAction, RecordInput, UploadedFile};
use serde_json::json;

use super::{action, file_target, parse_requests, route_files, validate};
use crate::extract::parse_body_with_files;

fn file(name: &str) -> UploadedFile {
    UploadedFile {
        original_name: name.into(),
        claimed_type: "text/plain".into(),
        bytes: bytes::Bytes::from_static(b"hi"),
    }
}

#[test]
fn file_part_names() {
    assert_eq!(file_target("requests.0.doc"), Some((0, "doc")));
    assert_eq!(file_target("requests[12].doc+"), Some((12, "doc+")));
    assert_eq!(file_target("requests.3.+doc"), Some((3, "+doc")));
    assert_eq!(file_target("requests.1.a.b"), Some((1, "a.b")));
    for bad in [
        "doc",
        "requests",
        "requests.x.doc",
        "requests.0",
        "requests.0.",
        "requests[1]doc",
        "requests[].doc",
        "requests.-1.doc",
        "requests..doc",
        "requestsX.0.doc",
    ] {
        assert_eq!(file_target(bad), None, "{bad}");
    }
}

#[test]
fn files_go_to_their_sub_request_without_the_prefix() {
    let mut inputs = vec![RecordInput::default(), RecordInput::default()];
    route_files(
        &mut inputs,
        vec![
            ("requests.1.doc".into(), file("a.txt")),
            ("requests[0].doc+".into(), file("b.txt")),
            ("requests.1.doc".into(), file("c.txt")),
            ("requests.5.doc".into(), file("ignored.txt")),
            ("doc".into(), file("ignored.txt")),
        ],
    );
    let names = |i: &RecordInput| {
        i.files.iter().map(|(k, f)| (k.clone(), f.original_name.clone())).collect::<Vec<_>>()
    };
    assert_eq!(names(&inputs[0]), vec![("doc+".to_owned(), "b.txt".to_owned())]);
    assert_eq!(
        names(&inputs[1]),
        vec![("doc".to_owned(), "a.txt".to_owned()), ("doc".to_owned(), "c.txt".to_owned())]
    );
}

/// What the official SDK's `batch.send()` posts: multipart with `@jsonPayload` and the files as
/// `requests.N.field` parts.
#[tokio::test]
async fn sdk_multipart_bodies() {
    let raw = "--XyZ\r\n\
        Content-Disposition: form-data; name=\"@jsonPayload\"\r\n\r\n\
        {\"requests\":[{\"method\":\"POST\",\"url\":\"/api/collections/docs/records\",\"body\":{\"t\":\"a\"}}]}\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"requests.0.doc\"; filename=\"a.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        hi\r\n\
        --XyZ--\r\n";
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/form-data; boundary=XyZ"),
    );
    let (data, files) =
        parse_body_with_files(&headers, bytes::Bytes::from(raw)).await.expect("parses");
    let requests = parse_requests(data.get("requests")).expect("a requests list");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].body.get("t"), Some(&json!("a")));
    let mut inputs = vec![RecordInput::from_data(requests[0].body.clone())];
    route_files(&mut inputs, files);
    assert_eq!(inputs[0].files.len(), 1);
    assert_eq!(inputs[0].files[0].0, "doc");
    assert_eq!(inputs[0].files[0].1.original_name, "a.txt");
    assert_eq!(&inputs[0].files[0].1.bytes[..], b"hi");
}

#[test]
fn requests_shapes() {
    assert_eq!(parse_requests(None).map(|r| r.len()), Some(0));
    assert_eq!(parse_requests(Some(&json!(null))).map(|r| r.len()), Some(0));
    for bad in [
        json!({}),
        json!("x"),
        json!(1),
        json!([1]),
        json!([{"method": 1}]),
        json!([{"body": []}]),
        json!([{"headers": {"a": 1}}]),
    ] {
        assert!(parse_requests(Some(&bad)).is_none(), "{bad}");
    }
    let r =
        parse_requests(Some(&json!([{"method": "PATCH", "url": "/u", "headers": {"X-A": "b"}}])))
            .unwrap();
    assert_eq!(r[0].headers, vec![("X-A".to_owned(), "b".to_owned())]);
    assert!(r[0].body.is_empty());
}

#[test]
fn validation_errors() {
    let body = |requests: serde_json::Value, max: usize| {
        let requests = parse_requests(Some(&requests)).unwrap();
        match validate(&requests, max) {
            Ok(()) => json!(null),
            Err(e) => e.status_and_body().1,
        }
    };
    assert_eq!(
        body(json!([]), 3)["data"],
        json!({"requests": {"code": "validation_required", "message": "Cannot be blank."}})
    );
    assert_eq!(
        body(json!([{}, {}, {}, {}]), 3)["data"]["requests"],
        json!({"code": "validation_length_too_long", "message": "The length must be no more than 3.", "params": {"max": 3, "min": 0}})
    );
    let long = format!("/api/collections/a/records?x={}", "a".repeat(2000));
    let b = body(json!([{"method": "POST", "url": "/x"}, {}, {"method": "post", "url": long}]), 5);
    assert_eq!(b["message"], "Invalid batch request data.");
    assert_eq!(
        b["data"]["requests"],
        json!({
            "1": {"method": {"code": "validation_required", "message": "Cannot be blank."},
                  "url": {"code": "validation_required", "message": "Cannot be blank."}},
            "2": {"method": {"code": "validation_in_invalid", "message": "Must be a valid value."},
                  "url": {"code": "validation_length_too_long", "message": "The length must be no more than 2000.", "params": {"max": 2000, "min": 0}}},
        })
    );
    assert_eq!(body(json!([{"method": "GET", "url": "/x"}]), 1), json!(null));
}

#[test]
fn actions() {
    let a = |m: &str, p: &str| action(m, p);
    assert_eq!(
        a("POST", "/api/collections/posts/records"),
        Some(("posts".into(), BatchAction::Create))
    );
    assert_eq!(
        a("PUT", "/api/collections/posts/records"),
        Some(("posts".into(), BatchAction::Upsert))
    );
    assert_eq!(
        a("PATCH", "/api/collections/posts/records/abc"),
        Some(("posts".into(), BatchAction::Update { id: "abc".into() }))
    );
    assert_eq!(
        a("DELETE", "/api/collections/p%20q/records/a%2Fb"),
        Some(("p q".into(), BatchAction::Delete { id: "a/b".into() }))
    );
    for (m, p) in [
        ("GET", "/api/collections/posts/records"),
        ("GET", "/api/collections/posts/records/abc"),
        ("PATCH", "/api/collections/posts/records"),
        ("POST", "/api/collections/posts/records/abc"),
        ("POST", "/api/collections/posts/records/"),
        ("DELETE", "/api/collections/posts/records/a/b"),
        ("POST", "api/collections/posts/records"),
        ("POST", "/api/collections//records"),
        ("POST", "/api/collections/posts/auth-with-password"),
    ] {
        assert_eq!(a(m, p), None, "{m} {p}");
    }
}
