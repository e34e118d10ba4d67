//! File fields (spec §2.4, §3.9–3.11, §8.2): uploads and stored names, serving headers and
//! ranges, every thumb format, protected files, replace/remove/delete cleanup, hostile uploads,
//! and the S3 backend against a local moto server.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Client, RawResp, Resp, assert_error, code, record_token};

/// One file part: field (part name), file name, claimed content type, bytes.
pub(crate) type Part<'a> = (&'a str, &'a str, &'a str, Vec<u8>);

/// Sends a multipart body with text fields and file parts.
pub(crate) async fn send_files(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    fields: &[(&str, &str)],
    files: &[Part<'_>],
) -> Resp {
    let boundary = "sbfilesboundaryQ7x9";
    let mut body: Vec<u8> = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (name, filename, ct, bytes) in files {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = c.raw(method, path, Some(&ct), body, &[]).await;
    Resp { status: r.status, body: r.json(), headers: r.headers }
}

fn image_bytes(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 5 % 256) as u8, (y * 6 % 256) as u8, 90])
    });
    let img = image::DynamicImage::ImageRgb8(img);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    image_bytes(w, h, image::ImageFormat::Png)
}

async fn fetch(c: &Client, path: &str, headers: &[(&str, &str)]) -> RawResp {
    c.raw(reqwest::Method::GET, path, None, Vec::<u8>::new(), headers).await
}

fn file_url(r: &Value, field: &str) -> String {
    format!(
        "/api/files/{}/{}/{}",
        r["collectionId"].as_str().unwrap(),
        r["id"].as_str().unwrap(),
        r[field].as_str().unwrap()
    )
}

fn header<'a>(r: &'a RawResp, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Waits (bounded) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn docs_collection(su: &Client, name: &str, extra: Value) -> Value {
    let mut fields = vec![
        json!({"name": "title", "type": "text"}),
        json!({"name": "doc", "type": "file", "maxSelect": 1, "maxSize": 100000}),
        json!({"name": "imgs", "type": "file", "maxSelect": 5, "mimeTypes": ["image/png", "image/jpeg", "image/gif", "image/webp"],
               "thumbs": ["10x10", "10x10t", "10x10b", "20x20f", "20x0", "0x15", "8x8"]}),
    ];
    if let Some(more) = extra.as_array() {
        fields.extend(more.iter().cloned());
    }
    su.create_collection(json!({
        "name": name, "type": "base", "listRule": "", "viewRule": "", "createRule": "", "updateRule": "", "deleteRule": "",
        "fields": fields,
    }))
    .await
}

sb_testkit::sbtest_http!(uploads_are_named_stored_and_served, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    docs_collection(&su, "docs", json!([])).await;
    let g = su.with_token(None);
    let path = "/api/collections/docs/records";
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[("title", "t1")],
        &[("doc", "my doc.txt", "image/png", b"hello world".to_vec())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let doc = r.body["doc"].as_str().unwrap();
    assert!(doc.starts_with("my_doc_") && doc.ends_with(".txt") && doc.len() == 21, "{doc}");
    let url_path = file_url(&r.body, "doc");
    let f = fetch(&g, &url_path, &[]).await;
    assert_eq!(f.status, 200);
    assert_eq!(f.bytes, b"hello world");
    // The type is sniffed from the bytes, not the claimed image/png.
    assert_eq!(header(&f, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(header(&f, "content-disposition"), format!("attachment; filename=\"{doc}\""));
    assert_eq!(
        header(&f, "content-security-policy"),
        "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox"
    );
    assert_eq!(header(&f, "cache-control"), "max-age=2592000, stale-while-revalidate=86400");
    assert_eq!(header(&f, "accept-ranges"), "bytes");
    assert!(header(&f, "last-modified").ends_with(" GMT"));
    assert!(f.headers.get("x-frame-options").is_none());
    assert_eq!(header(&f, "x-content-type-options"), "nosniff");
    // Ranges and HEAD.
    let part = fetch(&g, &url_path, &[("Range", "bytes=6-")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, b"world");
    assert_eq!(header(&part, "content-range"), "bytes 6-10/11");
    let bad = fetch(&g, &url_path, &[("Range", "bytes=50-")]).await;
    assert_eq!(bad.status, 416);
    let head = g.raw(reqwest::Method::HEAD, &url_path, None, Vec::<u8>::new(), &[]).await;
    assert_eq!(head.status, 200);
    assert!(head.bytes.is_empty());
    assert_eq!(header(&head, "content-type"), "text/plain; charset=utf-8");
    let lm = header(&f, "last-modified").to_owned();
    assert_eq!(fetch(&g, &url_path, &[("If-Modified-Since", &lm)]).await.status, 304);

    // Images are inline unless download is asked for.
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[("imgs", "Red Dot.PNG", "text/plain", png(4, 3))],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let name = r.body["imgs"][0].as_str().unwrap().to_owned();
    assert!(name.starts_with("red_dot_") && name.ends_with(".PNG"), "{name}");
    let img_path = format!("/api/files/docs/{}/{name}", r.body["id"].as_str().unwrap());
    let f = fetch(&g, &img_path, &[]).await;
    assert_eq!(header(&f, "content-type"), "image/png");
    assert_eq!(header(&f, "content-disposition"), format!("inline; filename=\"{name}\""));
    let f = fetch(&g, &format!("{img_path}?download=1"), &[]).await;
    assert_eq!(header(&f, "content-disposition"), format!("attachment; filename=\"{name}\""));

    // 404s: unknown collection, record, file name, a name of another record, traversal.
    let id = r.body["id"].as_str().unwrap();
    for p in [
        format!("/api/files/nope/{id}/{name}"),
        format!("/api/files/docs/nope/{name}"),
        format!("/api/files/docs/{id}/other.png"),
        format!("/api/files/docs/{id}/{doc}"),
        format!("/api/files/docs/{id}/..%2F..%2Fdata.db"),
        format!("/api/files/docs/{id}/%2e%2e"),
        format!("/api/files/docs/..%2F{id}/{name}"),
    ] {
        let f = fetch(&g, &p, &[]).await;
        assert_eq!(f.status, 404, "{p}");
        assert_eq!(f.json()["status"], 404, "{p}");
    }
});

sb_testkit::sbtest_http!(every_thumb_format, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c = docs_collection(&su, "docs", json!([])).await;
    let g = su.with_token(None);
    let path = "/api/collections/docs/records";
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[
            ("imgs", "a.png", "image/png", png(30, 40)),
            ("imgs", "b.jpg", "image/jpeg", image_bytes(40, 30, image::ImageFormat::Jpeg)),
            ("imgs", "c.gif", "image/gif", image_bytes(40, 30, image::ImageFormat::Gif)),
            ("imgs", "d.webp", "image/webp", image_bytes(40, 30, image::ImageFormat::WebP)),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let names: Vec<String> =
        r.body["imgs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let thumb = |name: &str, t: &str| format!("/api/files/docs/{id}/{name}?thumb={t}");
    let size = |bytes: &[u8]| {
        let img = image::load_from_memory(bytes).expect("decodable thumb");
        (img.width(), img.height())
    };
    for (t, want) in [
        ("10x10", (10, 10)),
        ("10x10t", (10, 10)),
        ("10x10b", (10, 10)),
        ("20x20f", (15, 20)),
        ("20x0", (20, 27)),
        ("0x15", (11, 15)),
        ("100x100", (100, 100)),
        ("30x30", (30, 40)), // not listed: the original
        ("bogus", (30, 40)),
    ] {
        let f = fetch(&g, &thumb(&names[0], t), &[]).await;
        assert_eq!(f.status, 200, "{t}");
        assert_eq!(header(&f, "content-type"), "image/png", "{t}");
        assert_eq!(size(&f.bytes), want, "{t}");
    }
    // Top and bottom crops differ from the center crop on a gradient.
    let center = fetch(&g, &thumb(&names[0], "10x10"), &[]).await.bytes;
    let top = fetch(&g, &thumb(&names[0], "10x10t"), &[]).await.bytes;
    let bottom = fetch(&g, &thumb(&names[0], "10x10b"), &[]).await.bytes;
    assert_ne!(center, top);
    assert_ne!(top, bottom);
    // Cached in storage, served under the thumb's name.
    assert!(
        app.stored_file_exists(
            c["id"].as_str().unwrap(),
            &id,
            &format!("thumbs_{0}/10x10_{0}", names[0])
        )
        .await
        .unwrap()
    );
    let f = fetch(&g, &thumb(&names[0], "8x8"), &[]).await;
    assert_eq!(header(&f, "content-disposition"), format!("inline; filename=\"8x8_{}\"", names[0]));
    // JPEG and GIF keep their format, WebP becomes PNG.
    for (name, ct) in
        [(&names[1], "image/jpeg"), (&names[2], "image/gif"), (&names[3], "image/png")]
    {
        let f = fetch(&g, &thumb(name, "10x10"), &[]).await;
        assert_eq!(f.status, 200);
        assert_eq!(header(&f, "content-type"), ct, "{name}");
        assert_eq!(size(&f.bytes), (10, 10), "{name}");
    }
});

sb_testkit::sbtest_http!(protected_files_need_a_file_token, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let users = su.get("/api/collections/users").await.body;
    su.create_collection(json!({
        "name": "secret", "type": "base",
        "listRule": "owner = @request.auth.id", "viewRule": "owner = @request.auth.id && @request.context = 'protectedFile'",
        "fields": [
            {"name": "owner", "type": "relation", "collectionId": users["id"], "maxSelect": 1},
            {"name": "f", "type": "file", "maxSelect": 1, "protected": true},
        ],
    })).await;
    let mk = |email: &'static str| {
        let su = su.clone();
        async move {
            su.create_record("users", json!({"email": email, "password": "password123", "passwordConfirm": "password123"})).await
        }
    };
    let owner = mk("o@example.com").await;
    let other = mk("x@example.com").await;
    let owner_id = owner["id"].as_str().unwrap();
    let r = send_files(
        &su,
        reqwest::Method::POST,
        "/api/collections/secret/records",
        &[("owner", owner_id)],
        &[("f", "s.txt", "text/plain", b"top secret".to_vec())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let p = file_url(&r.body, "f");
    let g = su.with_token(None);
    assert_eq!(fetch(&g, &p, &[]).await.status, 404);
    let file_token = |id: String| {
        let url = url.clone();
        let app = app.clone();
        async move {
            let c = Client::guest(&url).with_token(Some(&record_token(&app, "users", &id).await));
            c.post("/api/files/token", json!({})).await.body["token"].as_str().unwrap().to_owned()
        }
    };
    let owner_token = file_token(owner_id.to_owned()).await;
    let other_token = file_token(other["id"].as_str().unwrap().to_owned()).await;
    let ok = fetch(&g, &format!("{p}?token={owner_token}"), &[]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.bytes, b"top secret");
    assert_eq!(fetch(&g, &format!("{p}?token={other_token}"), &[]).await.status, 404);
    assert_eq!(fetch(&g, &format!("{p}?token=garbage"), &[]).await.status, 404);
    // The Authorization header does not count, and an auth token is not a file token.
    let auth = record_token(&app, "users", owner_id).await;
    assert_eq!(fetch(&g.with_token(Some(&auth)), &p, &[]).await.status, 404);
    assert_eq!(fetch(&g, &format!("{p}?token={auth}"), &[]).await.status, 404);
    // Superuser file tokens pass.
    let su_token =
        su.post("/api/files/token", json!({})).await.body["token"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&g, &format!("{p}?token={su_token}"), &[]).await.status, 200);
    // A public view rule needs no token; a locked one only a superuser's.
    su.patch("/api/collections/secret", json!({"viewRule": ""})).await;
    assert_eq!(fetch(&g, &p, &[]).await.status, 200);
    su.patch("/api/collections/secret", json!({"viewRule": null})).await;
    assert_eq!(fetch(&g, &format!("{p}?token={owner_token}"), &[]).await.status, 404);
    assert_eq!(fetch(&g, &format!("{p}?token={su_token}"), &[]).await.status, 200);
});

sb_testkit::sbtest_http!(replaced_removed_and_deleted_files_leave_storage, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c = docs_collection(&su, "docs", json!([])).await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let g = su.with_token(None);
    let path = "/api/collections/docs/records";
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[
            ("doc", "one.txt", "text/plain", b"one".to_vec()),
            ("imgs", "a.png", "image/png", png(2, 2)),
            ("imgs", "b.png", "image/png", png(2, 2)),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let rec = format!("{path}/{id}");
    let exists = |name: String| {
        let app = app.clone();
        let (cid, id) = (cid.clone(), id.clone());
        async move { app.stored_file_exists(&cid, &id, &name).await.unwrap() }
    };
    let one = r.body["doc"].as_str().unwrap().to_owned();
    let imgs: Vec<String> =
        r.body["imgs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    // A thumb, to see it go with its file.
    assert_eq!(
        fetch(&g, &format!("/api/files/docs/{id}/{}?thumb=10x10", imgs[0]), &[]).await.status,
        200
    );
    assert!(exists(format!("thumbs_{0}/10x10_{0}", imgs[0])).await);

    // A single file field: a new upload replaces the old file.
    let u = send_files(
        &g,
        reqwest::Method::PATCH,
        &rec,
        &[],
        &[("doc", "two.txt", "text/plain", b"two".to_vec())],
    )
    .await;
    assert_eq!(u.status, 200, "{:?}", u.body);
    let two = u.body["doc"].as_str().unwrap().to_owned();
    assert!(two.starts_with("two_"));
    assert!(!exists(one.clone()).await);
    assert!(exists(two.clone()).await);
    // Append, prepend; names kept in order.
    let u = send_files(
        &g,
        reqwest::Method::PATCH,
        &rec,
        &[],
        &[("imgs+", "c.png", "image/png", png(2, 2)), ("+imgs", "z.png", "image/png", png(2, 2))],
    )
    .await;
    assert_eq!(u.status, 200, "{:?}", u.body);
    let now: Vec<String> =
        u.body["imgs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(now.len(), 4);
    assert!(now[0].starts_with('z') && now[3].starts_with('c'), "{now:?}");
    assert_eq!(&now[1..3], &imgs[..]);
    // A plain upload with the kept names listed merges; without them it replaces.
    let u = send_files(
        &g,
        reqwest::Method::PATCH,
        &rec,
        &[("imgs", &now[1])],
        &[("imgs", "d.png", "image/png", png(2, 2))],
    )
    .await;
    assert_eq!(u.status, 200, "{:?}", u.body);
    let merged: Vec<String> =
        u.body["imgs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(merged.len(), 2, "{merged:?}");
    assert_eq!(merged[0], now[1]);
    for gone in [&now[0], &now[2], &now[3]] {
        assert!(!exists(gone.clone()).await, "{gone}");
    }
    assert!(!exists(format!("thumbs_{0}/10x10_{0}", imgs[0])).await || merged[0] == imgs[0]);
    // Remove by name, then clear.
    let u = su.patch(&rec, json!({"imgs-": [merged[0]]})).await;
    assert_eq!(u.body["imgs"], json!([merged[1]]));
    assert!(!exists(merged[0].clone()).await);
    assert_eq!(fetch(&g, &format!("/api/files/docs/{id}/{}", merged[0]), &[]).await.status, 404);
    // Names that are not the record's files are refused; nothing is stored for a failed write.
    let u = send_files(&g, reqwest::Method::PATCH, &rec, &[("doc", "evil.txt")], &[]).await;
    assert_eq!(code(&u, "doc"), "validation_invalid_file");
    let u = su.patch(&rec, json!({"imgs": [], "doc": ""})).await;
    assert_eq!(u.body["imgs"], json!([]));
    assert_eq!(u.body["doc"], "");
    assert!(!exists(merged[1].clone()).await);
    assert!(!exists(two.clone()).await);

    // Record delete removes the folder (after the commit, in the background).
    let u = send_files(
        &g,
        reqwest::Method::PATCH,
        &rec,
        &[],
        &[("doc", "three.txt", "text/plain", b"3".to_vec())],
    )
    .await;
    let three = u.body["doc"].as_str().unwrap().to_owned();
    assert!(exists(three.clone()).await);
    assert_eq!(g.delete(&rec).await.status, 204);
    eventually("deleted record's files removed", || exists(three.clone()).map_not()).await;
});

trait MapNot {
    fn map_not(self) -> impl std::future::Future<Output = bool>;
}
impl<F: std::future::Future<Output = bool>> MapNot for F {
    async fn map_not(self) -> bool {
        !self.await
    }
}

sb_testkit::sbtest_http!(upload_limits_and_hostile_uploads, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c = docs_collection(
        &su,
        "docs",
        json!([{"name": "any", "type": "file", "maxSelect": 1, "thumbs": ["10x10"]}]),
    )
    .await;
    let g = su.with_token(None);
    let path = "/api/collections/docs/records";
    // Too big.
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[("doc", "big.txt", "text/plain", vec![b'x'; 100_001])],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(code(&r, "doc"), "validation_file_size_limit");
    assert_eq!(r.body["data"]["doc"]["params"], json!({"file": "big.txt", "maxSize": 100000}));
    assert_eq!(
        r.body["data"]["doc"]["message"],
        "Failed to upload big.txt - the maximum allowed file size is 100000 bytes."
    );
    // Wrong type: text claimed as PNG, and a PNG name on text.
    for (name, ct) in [("x.png", "image/png"), ("x.txt", "text/plain")] {
        let r = send_files(
            &g,
            reqwest::Method::POST,
            path,
            &[],
            &[("imgs", name, ct, b"not an image".to_vec())],
        )
        .await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(code(&r, "imgs"), "validation_invalid_mime_type");
        let msg = r.body["data"]["imgs"]["message"].as_str().unwrap();
        assert!(
            msg.ends_with(
                "mime type must be one of: image/png, image/jpeg, image/gif, image/webp."
            ),
            "{msg}"
        );
    }
    // Too many.
    let many: Vec<Part<'_>> = (0..6).map(|_| ("imgs", "p.png", "image/png", png(1, 1))).collect();
    let r = send_files(&g, reqwest::Method::POST, path, &[], &many).await;
    assert_eq!(code(&r, "imgs"), "validation_too_many_files");
    assert_eq!(r.body["data"]["imgs"]["params"], json!({"maxSelect": 5}));
    assert_eq!(su.all_records("docs").await.len(), 0);

    // Traversal in the client's file name stays inside the record's folder.
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[
            ("any", "../../../data.db", "text/plain", b"x".to_vec()),
            ("doc", "..\\..\\evil.txt", "text/plain", b"y".to_vec()),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let any = r.body["any"].as_str().unwrap();
    let doc = r.body["doc"].as_str().unwrap();
    assert!(any.starts_with("data_") && !any.contains('/') && any.ends_with(".db"), "{any}");
    assert!(doc.starts_with("evil_") && !doc.contains(['/', '\\']), "{doc}");
    assert_eq!(fetch(&g, &file_url(&r.body, "any"), &[]).await.bytes, b"x");

    // A PNG header declaring 100000x100000 pixels (a decompression bomb's shape) and a
    // truncated PNG: stored as uploaded; their thumbs fail and the original is served.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let truncated = png(30, 30)[..60].to_vec();
    for bytes in [bomb, truncated] {
        let r = send_files(
            &g,
            reqwest::Method::POST,
            path,
            &[],
            &[("any", "bomb.png", "image/png", bytes.clone())],
        )
        .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let f = fetch(&g, &format!("{}?thumb=10x10", file_url(&r.body, "any")), &[]).await;
        assert_eq!(f.status, 200);
        assert_eq!(f.bytes, bytes);
        let f = fetch(&g, &format!("{}?thumb=100x100", file_url(&r.body, "any")), &[]).await;
        assert_eq!(f.bytes, bytes);
        let id = r.body["id"].as_str().unwrap();
        let name = r.body["any"].as_str().unwrap();
        assert!(
            !app.stored_file_exists(
                c["id"].as_str().unwrap(),
                id,
                &format!("thumbs_{name}/10x10_{name}")
            )
            .await
            .unwrap()
        );
    }
    // A real decompression bomb: 7100x7100 pixels of zeros (50 megapixels, ~50 KB compressed).
    let mut enc = Vec::new();
    {
        use image::ImageEncoder;
        let zeros = vec![0u8; 7100 * 7100];
        image::codecs::png::PngEncoder::new_with_quality(
            &mut enc,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(&zeros, 7100, 7100, image::ExtendedColorType::L8)
        .unwrap();
    }
    assert!(enc.len() < 1_000_000, "{}", enc.len());
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[("any", "zeros.png", "image/png", enc.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let f = fetch(&g, &format!("{}?thumb=100x100", file_url(&r.body, "any")), &[]).await;
    assert_eq!(f.status, 200);
    assert_eq!(f.bytes.len(), enc.len(), "over the pixel limit: the original is served");
    su.assert_healthy().await;
    assert_error(
        &su.get("/api/collections/nope/records").await,
        404,
        "Missing collection context.",
    );
});

sb_testkit::sbtest_http!(s3_storage, |url, app| async move {
    let s3 = sb_testkit::s3::S3Server::start("sbfiles").await;
    let su = Client::admin(&url, &app).await;
    let r = su.patch("/api/settings", json!({"s3": s3.settings()})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["s3"]["secret"], Value::Null, "the secret is write-only");
    let c = docs_collection(&su, "docs", json!([])).await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let g = su.with_token(None);
    let path = "/api/collections/docs/records";
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[
            ("doc", "a.txt", "text/plain", b"in the bucket".to_vec()),
            ("imgs", "p.png", "image/png", png(40, 30)),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let doc = r.body["doc"].as_str().unwrap().to_owned();
    let img = r.body["imgs"][0].as_str().unwrap().to_owned();
    let keys = s3.keys().await;
    assert!(keys.contains(&format!("{cid}/{id}/{doc}")), "{keys:?}");
    let f = fetch(&g, &file_url(&r.body, "doc"), &[]).await;
    assert_eq!(f.bytes, b"in the bucket");
    let part = fetch(&g, &file_url(&r.body, "doc"), &[("Range", "bytes=0-1")]).await;
    assert_eq!((part.status, part.bytes.as_slice()), (206, &b"in"[..]));
    let t = fetch(&g, &format!("/api/files/docs/{id}/{img}?thumb=20x0"), &[]).await;
    assert_eq!(
        image::load_from_memory(&t.bytes).map(|i| (i.width(), i.height())).unwrap(),
        (20, 15)
    );
    assert!(s3.keys().await.contains(&format!("{cid}/{id}/thumbs_{img}/20x0_{img}")));
    // Replace: the old object goes.
    let u = send_files(
        &g,
        reqwest::Method::PATCH,
        &format!("{path}/{id}"),
        &[],
        &[("doc", "b.txt", "text/plain", b"b".to_vec())],
    )
    .await;
    assert_eq!(u.status, 200);
    assert!(!s3.keys().await.contains(&format!("{cid}/{id}/{doc}")));
    // Delete: everything of the record goes.
    assert_eq!(g.delete(&format!("{path}/{id}")).await.status, 204);
    let prefix = format!("{cid}/{id}/");
    let s3_ref = &s3;
    eventually("record objects deleted", || async {
        !s3_ref.keys().await.iter().any(|k| k.starts_with(&prefix))
    })
    .await;
    // Back to local storage.
    su.patch("/api/settings", json!({"s3": {"enabled": false}})).await;
    let r = send_files(
        &g,
        reqwest::Method::POST,
        path,
        &[],
        &[("doc", "l.txt", "text/plain", b"local".to_vec())],
    )
    .await;
    assert_eq!(fetch(&g, &file_url(&r.body, "doc"), &[]).await.bytes, b"local");
    assert!(s3.keys().await.is_empty());
    s3.stop().await;
});

sb_testkit::sbtest_http!(truncate_and_collection_delete_remove_files, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c = docs_collection(&su, "docs", json!([])).await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let path = "/api/collections/docs/records";
    let up = |name: &'static str| {
        let su = su.clone();
        async move {
            let r = send_files(
                &su,
                reqwest::Method::POST,
                path,
                &[],
                &[("doc", name, "text/plain", b"x".to_vec())],
            )
            .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            (r.body["id"].as_str().unwrap().to_owned(), r.body["doc"].as_str().unwrap().to_owned())
        }
    };
    let (id, name) = up("a.txt").await;
    assert!(app.stored_file_exists(&cid, &id, &name).await.unwrap());
    assert_eq!(su.delete("/api/collections/docs/truncate").await.status, 204);
    assert!(!app.stored_file_exists(&cid, &id, &name).await.unwrap());
    let (id, name) = up("b.txt").await;
    assert_eq!(su.delete("/api/collections/docs").await.status, 204);
    assert!(!app.stored_file_exists(&cid, &id, &name).await.unwrap());
});

// Files and batches: a batch that rolls back leaves none of its uploads behind; one that
// commits removes the files its updates replaced (and keeps them until then).
sb_testkit::sbtest_http!(batch_files_follow_the_transaction, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let c =
        docs_collection(&su, "docs", json!([{"name": "label", "type": "text", "required": true}]))
            .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = su
        .patch(
            "/api/settings",
            json!({"batch": {"enabled": true, "maxRequests": 10, "timeout": 10}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let g = su.with_token(None);

    // Rolled back: the second sub-request fails validation after the first stored its file.
    let payload = json!({"requests": [
        {"method": "POST", "url": "/api/collections/docs/records", "body": {"label": "kept?"}},
        {"method": "POST", "url": "/api/collections/docs/records", "body": {"label": ""}},
    ]})
    .to_string();
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/batch",
        &[("@jsonPayload", &payload)],
        &[("requests.0.doc", "one.txt", "text/plain", b"one".to_vec())],
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(su.all_records("docs").await.is_empty());
    assert_eq!(app.stored_files(&cid).await.unwrap(), Vec::<String>::new());

    // Committed: the update's replaced file goes, the new one stays.
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/collections/docs/records",
        &[("label", "first")],
        &[("doc", "old.txt", "text/plain", b"old".to_vec())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let old = r.body["doc"].as_str().unwrap().to_owned();
    let payload = json!({"requests": [
        {"method": "PATCH", "url": format!("/api/collections/docs/records/{id}"), "body": {"label": "second"}},
    ]})
    .to_string();
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/batch",
        &[("@jsonPayload", &payload)],
        &[("requests.0.doc", "new.txt", "text/plain", b"new".to_vec())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new = r.body[0]["body"]["doc"].as_str().unwrap().to_owned();
    assert!(new.starts_with("new_"), "{new}");
    assert_eq!(app.stored_files(&cid).await.unwrap(), vec![format!("{cid}/{id}/{new}")]);
    assert!(!app.stored_file_exists(&cid, &id, &old).await.unwrap());

    // Rolled back after an update replaced a file: the old file is still there and served.
    let payload = json!({"requests": [
        {"method": "PATCH", "url": format!("/api/collections/docs/records/{id}"), "body": {"label": "third"}},
        {"method": "POST", "url": "/api/collections/docs/records", "body": {"label": ""}},
    ]})
    .to_string();
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/batch",
        &[("@jsonPayload", &payload)],
        &[("requests.0.doc", "newer.txt", "text/plain", b"newer".to_vec())],
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(app.stored_files(&cid).await.unwrap(), vec![format!("{cid}/{id}/{new}")]);
    let served = fetch(&g, &format!("/api/files/docs/{id}/{new}"), &[]).await;
    assert_eq!(served.bytes, b"new");
});

// Large files are streamed from storage: the whole body and ranges arrive intact with their
// lengths declared up front.
sb_testkit::sbtest_http!(large_files_stream_whole_and_in_ranges, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({
        "name": "big", "type": "base", "listRule": "", "viewRule": "", "createRule": "",
        "fields": [{"name": "blob", "type": "file", "maxSelect": 1, "maxSize": 16 << 20}],
    }))
    .await;
    let size = 6 * 1024 * 1024 + 123;
    let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let g = su.with_token(None);
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/collections/big/records",
        &[],
        &[("blob", "data.bin", "application/octet-stream", content.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = format!(
        "/api/files/big/{}/{}",
        r.body["id"].as_str().unwrap(),
        r.body["blob"].as_str().unwrap()
    );
    let whole = fetch(&g, &path, &[]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(header(&whole, "content-length"), size.to_string());
    assert!(whole.bytes == content, "the streamed body differs from the upload");
    let start = 5 * 1024 * 1024 - 10;
    let range = format!("bytes={start}-{}", start + 99_999);
    let part = fetch(&g, &path, &[("range", &range)]).await;
    assert_eq!(part.status, 206);
    assert_eq!(header(&part, "content-length"), "100000");
    assert_eq!(header(&part, "content-range"), format!("bytes {start}-{}/{size}", start + 99_999));
    assert!(part.bytes == content[start..start + 100_000]);
});

// Files of view records are found as the reference finds them: through the view's column to
// the source field (aliases and views of views followed), and the source record holding the
// name — whatever the view's own id is.
sb_testkit::sbtest_http!(view_records_serve_their_source_files, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    docs_collection(&su, "docs", json!([])).await;
    let g = su.with_token(None);
    let r = send_files(
        &g,
        reqwest::Method::POST,
        "/api/collections/docs/records",
        &[("title", "t1")],
        &[
            ("doc", "a.txt", "text/plain", b"hello".to_vec()),
            ("imgs", "b.png", "image/png", png(2, 2)),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for (name, query) in [
        ("v1", "SELECT id, doc AS attachment, imgs AS pics FROM docs"),
        ("v2", "SELECT (id || 'v') AS id, doc FROM docs"),
        ("v3", "SELECT id, attachment AS att2 FROM v1"),
        ("v4", "SELECT id, upper(title) AS doc FROM docs"),
    ] {
        let r = su
            .post(
                "/api/collections",
                json!({"name": name, "type": "view", "listRule": "", "viewRule": "", "viewQuery": query}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
    }
    for (view, field, expected) in [
        ("v1", "attachment", b"hello".to_vec()),
        ("v1", "pics", png(2, 2)),
        ("v2", "doc", b"hello".to_vec()),
        ("v3", "att2", b"hello".to_vec()),
    ] {
        let list = g.get(&format!("/api/collections/{view}/records")).await;
        let record = &list.body["items"][0];
        let name = match &record[field] {
            Value::Array(names) => names[0].as_str().unwrap().to_owned(),
            other => other.as_str().unwrap().to_owned(),
        };
        let id = record["id"].as_str().unwrap();
        let served = fetch(&g, &format!("/api/files/{view}/{id}/{name}"), &[]).await;
        assert_eq!(served.status, 200, "{view}.{field}");
        assert_eq!(served.bytes, expected, "{view}.{field}");
        let other = fetch(&g, &format!("/api/files/{view}/{id}/nope_{name}"), &[]).await;
        assert_eq!(other.status, 404, "{view}.{field}");
    }
    // A column computed from the source is not a file column: nothing is served through it.
    let list = g.get("/api/collections/v4/records").await;
    let id = list.body["items"][0]["id"].as_str().unwrap().to_owned();
    let doc = r.body["doc"].as_str().unwrap();
    assert_eq!(fetch(&g, &format!("/api/files/v4/{id}/{doc}"), &[]).await.status, 404);
});
