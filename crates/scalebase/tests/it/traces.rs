//! Traces: spans exported over OTLP/HTTP to a receiver the test starts (request, rule
//! compilation, database statements, bus publish and the OAuth2 client call, all in the
//! caller's trace), and `traceparent` on outgoing calls also when nothing is exported.
//!
//! The subscriber is process-wide: each test here is its own process under nextest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use reqwest::Method;
use sb_testkit::oauth2::FakeProvider;
use serde_json::json;

use crate::common::{Client, encode};
use crate::oauth2::{REDIRECT, enable_oauth2};

/// One exported span, flattened.
#[derive(Clone, Debug)]
struct Got {
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    attributes: HashMap<String, String>,
    service: String,
}

/// A local OTLP/HTTP receiver: decodes `POST /v1/traces` (protobuf) and keeps the spans.
struct Receiver {
    url: String,
    spans: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let spans: Arc<Mutex<Vec<Got>>> = Arc::default();
        let sink = spans.clone();
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let mut out = sink.lock().unwrap();
                    for rs in request.resource_spans {
                        let resource =
                            rs.resource.map(|r| flatten(&r.attributes)).unwrap_or_default();
                        let service = resource.get("service.name").cloned().unwrap_or_default();
                        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                            out.push(Got {
                                name: span.name,
                                trace_id: hex(&span.trace_id),
                                span_id: hex(&span.span_id),
                                parent_id: hex(&span.parent_span_id),
                                attributes: flatten(&span.attributes),
                                service: service.clone(),
                            });
                        }
                    }
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url, spans }
    }

    /// Waits (bounded) until the spans of `trace_id` satisfy `done`; returns them.
    async fn wait_for(&self, trace_id: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        for _ in 0..200 {
            let of_trace: Vec<Got> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| s.trace_id == trace_id)
                .cloned()
                .collect();
            if done(&of_trace) {
                return of_trace;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let of_trace: Vec<Got> =
            self.spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
        panic!("spans of trace {trace_id} never became complete: {of_trace:#?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn flatten(
    attributes: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> HashMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn named<'a>(spans: &'a [Got], name: &str) -> Vec<&'a Got> {
    spans.iter().filter(|s| s.name == name || s.name.starts_with(&format!("{name} "))).collect()
}

fn backend_name(spans: &[Got]) -> String {
    spans.iter().find_map(|s| s.attributes.get("db.system.name").cloned()).unwrap_or_default()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

sb_testkit::sbtest_http!(spans_reach_an_otlp_receiver, |url, app| async move {
    let receiver = Receiver::start().await;
    let otlp = scalebase::config::Otlp {
        endpoint: receiver.url.clone(),
        service_name: "scalebase-test".into(),
    };
    let telemetry =
        scalebase::telemetry::init(true, "warn", Some(&otlp), Duration::from_millis(100))
            .expect("telemetry");
    let su = Client::admin(&url, &app).await;
    su.create_collection(json!({"name": "posts", "type": "base", "listRule": "title != 'secret'",
        "createRule": "", "fields": [{"name": "title", "type": "text"}]}))
        .await;

    // A list with the caller's trace context: request span → rule compilation and the
    // database statements as its children.
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let g = su.with_token(None);
    let r = g
        .raw(
            Method::GET,
            "/api/collections/posts/records",
            None,
            "",
            &[("traceparent", &traceparent)],
        )
        .await;
    assert_eq!(r.status, 200);
    let spans = receiver
        .wait_for(TRACE, |s| !named(s, "GET").is_empty() && !named(s, "select").is_empty())
        .await;
    let request = named(&spans, "GET")[0];
    assert_eq!(request.name, "GET /api/collections/{collection}/records");
    assert_eq!(request.parent_id, PARENT, "the request continues the caller's span");
    assert_eq!(request.attributes["http.route"], "/api/collections/{collection}/records");
    assert_eq!(request.attributes["http.response.status_code"], "200");
    assert_eq!(request.attributes["url.path"], "/api/collections/posts/records");
    assert_eq!(request.service, "scalebase-test");
    let compile = named(&spans, "rule.compile");
    assert!(
        compile
            .iter()
            .any(|s| s.parent_id == request.span_id
                && s.attributes["scalebase.collection"] == "posts"),
        "{spans:#?}"
    );
    let selects = named(&spans, "select");
    assert!(selects.iter().all(|s| s.parent_id == request.span_id), "{spans:#?}");
    let backend = backend_name(&spans);
    assert!(["sqlite", "postgres"].contains(&backend.as_str()), "{spans:#?}");
    assert!(selects[0].attributes["db.query.text"].contains("posts"), "{:?}", selects[0]);

    // A create: the write's statements and the bus publish join the caller's trace, and so
    // does the access check of the realtime subscriber it is delivered to.
    let mut sse = crate::realtime::Sse::connect(&url).await;
    sse.subscribe(&g, &["posts"]).await;
    let trace2 = "0af7651916cd43dd8448eb211c80319c";
    let r = g
        .raw(
            Method::POST,
            "/api/collections/posts/records",
            Some("application/json"),
            json!({"title": "hello"}).to_string(),
            &[("traceparent", &format!("00-{trace2}-b7ad6b7169203331-01"))],
        )
        .await;
    assert_eq!(r.status, 200);
    let spans = receiver
        .wait_for(trace2, |s| !named(s, "POST").is_empty() && !named(s, "bus.publish").is_empty())
        .await;
    let request = named(&spans, "POST")[0];
    assert_eq!(request.attributes["http.response.status_code"], "200");
    let publish = named(&spans, "bus.publish")[0];
    assert_eq!(publish.parent_id, request.span_id);
    assert_eq!(publish.attributes["messaging.batch.message_count"], "1");
    sse.until(|e| e.name == "posts").await;
    let spans = receiver.wait_for(trace2, |s| !named(s, "rule.evaluate").is_empty()).await;
    let evaluate = named(&spans, "rule.evaluate")[0];
    assert_eq!(evaluate.parent_id, publish.span_id, "{spans:#?}");
    assert_eq!(evaluate.attributes["scalebase.collection"], "posts");
    assert_eq!(evaluate.attributes["scalebase.rule.in_memory"], "1");
    let own: Vec<&Got> = spans.iter().filter(|s| s.span_id != request.span_id).collect();
    assert!(
        own.iter().any(|s| s.parent_id == request.span_id
            && s.attributes.get("db.query.text").is_some_and(|q| q.starts_with("INSERT"))),
        "the insert is traced: {spans:#?}"
    );

    // Without a caller's context the request starts a new sampled trace of its own.
    let before = receiver.spans.lock().unwrap().len();
    assert_eq!(g.get("/api/health").await.status, 200);
    telemetry.flush();
    let health = {
        let mut found = None;
        for _ in 0..200 {
            found = receiver.spans.lock().unwrap()[before..]
                .iter()
                .find(|s| s.name == "GET /api/health")
                .cloned();
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found.expect("the health request's span is exported")
    };
    assert_eq!(health.parent_id, "");
    assert_ne!(health.trace_id, TRACE);

    // The OAuth2 client call: its own span in the caller's trace, and the provider receives
    // that span's `traceparent`.
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    fake.set_user(json!({"sub": "trace-user", "email": "t@example.com", "email_verified": true}));
    let methods = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    let provider = methods.body["oauth2"]["providers"][0].clone();
    let auth_url = format!("{}{}", provider["authURL"].as_str().unwrap(), encode(REDIRECT));
    let (code, _) = fake.authorize(&auth_url).await;
    let trace3 = "11111111111111112222222222222222";
    let body = json!({"provider": "oidc", "code": code, "codeVerifier": provider["codeVerifier"], "redirectURL": REDIRECT});
    let r = g
        .raw(
            Method::POST,
            "/api/collections/users/auth-with-oauth2",
            Some("application/json"),
            body.to_string(),
            &[("traceparent", &format!("00-{trace3}-3333333333333333-01"))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let seen = fake.user_info_requests();
    let sent = seen.last().expect("user info fetched").headers["traceparent"].clone();
    let spans = receiver
        .wait_for(trace3, |s| s.iter().filter(|x| x.name == "POST" || x.name == "GET").count() >= 2)
        .await;
    let client_spans: Vec<&Got> =
        spans.iter().filter(|s| s.attributes.contains_key("server.address")).collect();
    assert!(client_spans.len() >= 2, "token and user-info calls: {spans:#?}");
    let user_info = client_spans
        .iter()
        .find(|s| sent == format!("00-{trace3}-{}-01", s.span_id))
        .unwrap_or_else(|| panic!("the provider got {sent}, not one of {client_spans:#?}"));
    assert_eq!(user_info.attributes["http.response.status_code"], "200");
    fake.stop().await;
});

// Without an exporter, a caller's trace context still reaches the services Scalebase calls.
sb_testkit::sbtest_http!(traceparent_is_passed_on_without_export, |url, app| async move {
    let su = Client::admin(&url, &app).await;
    let fake = FakeProvider::start().await;
    enable_oauth2(&su, "users", &fake, json!({})).await;
    fake.set_user(json!({"sub": "plain-user", "email": "p@example.com", "email_verified": true}));
    let methods = Client::guest(&url).get("/api/collections/users/auth-methods").await;
    let provider = methods.body["oauth2"]["providers"][0].clone();
    let auth_url = format!("{}{}", provider["authURL"].as_str().unwrap(), encode(REDIRECT));
    let (code, _) = fake.authorize(&auth_url).await;
    let body = json!({"provider": "oidc", "code": code, "codeVerifier": provider["codeVerifier"], "redirectURL": REDIRECT});
    let r = Client::guest(&url)
        .raw(
            Method::POST,
            "/api/collections/users/auth-with-oauth2",
            Some("application/json"),
            body.to_string(),
            &[("traceparent", &format!("00-{TRACE}-{PARENT}-01"))],
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.bytes));
    let seen = fake.user_info_requests();
    let sent = &seen.last().expect("user info fetched").headers["traceparent"];
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!(parts[1], TRACE, "the caller's trace id is passed on");
    assert_ne!(parts[2], PARENT, "the parent is this server's span, not the caller's");
    assert_eq!(parts[3], "01");
    fake.stop().await;
});
