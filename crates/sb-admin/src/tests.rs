use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::{Bundle, router};

async fn get(path: &str, if_none_match: Option<&str>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response =
        router::<()>().oneshot(request.body(Body::empty()).unwrap()).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

fn asset(extension: &str) -> String {
    Bundle::iter()
        .find(|name| name.starts_with("assets/") && name.ends_with(extension))
        .unwrap_or_else(|| panic!("the bundle has a {extension} asset"))
        .into_owned()
}

#[tokio::test]
async fn the_root_serves_the_page_revalidated_and_locked_to_its_origin() {
    let (status, headers, body) = get("/_/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(
        headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'self'")
    );
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains(&format!("/_/{}", asset(".js"))), "the page loads the bundled script");
}

#[tokio::test]
async fn hashed_assets_are_cached_for_good_with_their_type() {
    let js = asset(".js");
    let (status, headers, body) = get(&format!("/_/{js}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(body, Bundle::get(&js).unwrap().data.as_ref());
    let (_, headers, _) = get(&format!("/_/{}", asset(".css")), None).await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/css");
}

#[tokio::test]
async fn a_matching_validator_gets_not_modified_and_no_body() {
    let (_, headers, _) = get("/_/", None).await;
    let tag = headers[header::ETAG].to_str().unwrap().to_owned();
    let (status, headers, body) = get("/_/", Some(&format!("\"other\", {tag}"))).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[header::ETAG], tag.as_str());
    assert!(body.is_empty());
    let (status, _, _) = get("/_/", Some("\"other\"")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn app_paths_get_the_page_and_missing_assets_a_404() {
    let (status, headers, _) = get("/_/collections/posts", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html");
    let (status, _, _) = get("/_/assets/index-gone.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_bare_prefix_redirects_to_the_page() {
    let (status, headers, _) = get("/_", None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/_/");
}
