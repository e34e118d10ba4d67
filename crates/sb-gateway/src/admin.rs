//! The admin endpoint (its own listener, `--admin-addr`; every call needs
//! `Authorization: Bearer <admin token>`):
//! - `GET /pools`: every pool with its upstreams' health, ejection and load;
//! - `POST /pools/NAME/upstreams` `{"url": "http://…", "weight": 1}`: adds an upstream (it
//!   takes requests once its health check has passed `rise` times);
//! - `DELETE /pools/NAME/upstreams?url=http://…`: removes one (its requests in flight finish);
//! - `POST /reload`: re-reads the configuration file;
//! - `GET /cache`: the response cache's state (in use, its id and the nodes it hears on the
//!   cluster channel); `DELETE /cache` empties it;
//! - `GET /metrics`: the Prometheus metrics (`render`, given by the binary).
//!
//! Upstreams added or removed here last until a reload changes their pool's definition.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value as Json, json};

use crate::Running;
use crate::proxy::{Body, error};

/// What the admin endpoint needs besides the running gateway.
pub struct Admin {
    pub running: Arc<Running>,
    /// Compared in constant time with the bearer token of each call.
    pub token: String,
    /// Re-reads and applies the configuration file (`None`: started without a file).
    pub reload: Option<Box<dyn Fn() -> anyhow::Result<()> + Send + Sync>>,
    /// The metrics in the Prometheus text format.
    pub render: Box<dyn Fn() -> String + Send + Sync>,
}

impl Admin {
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if !self.authorized(&req) {
            return error(StatusCode::UNAUTHORIZED, "The admin token is missing or wrong.");
        }
        let path = req.uri().path().trim_end_matches('/').to_owned();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (req.method().clone(), segments.as_slice()) {
            (Method::GET, ["pools"]) => json_response(StatusCode::OK, self.pools()),
            (Method::GET, ["metrics"]) => {
                let mut response = Response::new(full((self.render)()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                response
            }
            (Method::GET, ["cache"]) => match self.running.current().cache() {
                Some(cache) => json_response(
                    StatusCode::OK,
                    json!({
                        "enabled": true,
                        "trusted": cache.trusted(),
                        "node": cache.node_id(),
                        "peers": cache.peers(),
                    }),
                ),
                None => json_response(StatusCode::OK, json!({"enabled": false})),
            },
            (Method::DELETE, ["cache"]) => match self.running.current().cache() {
                Some(cache) => {
                    cache.purge("admin");
                    json_response(StatusCode::OK, json!({"purged": true}))
                }
                None => error(StatusCode::BAD_REQUEST, "The gateway has no response cache."),
            },
            (Method::POST, ["reload"]) => match &self.reload {
                Some(reload) => match reload() {
                    Ok(()) => json_response(StatusCode::OK, json!({"reloaded": true})),
                    Err(e) => error(StatusCode::BAD_REQUEST, &format!("{e:#}")),
                },
                None => error(StatusCode::BAD_REQUEST, "The gateway was started without a file."),
            },
            (Method::POST, ["pools", name, "upstreams"]) => {
                let name = name.to_string();
                let body = match Limited::new(req.into_body(), 16 * 1024).collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(_) => return error(StatusCode::BAD_REQUEST, "The body could not be read."),
                };
                let Ok(input) = serde_json::from_slice::<Json>(&body) else {
                    return error(StatusCode::BAD_REQUEST, "The body is not JSON.");
                };
                let Some(url) = input["url"].as_str() else {
                    return error(StatusCode::BAD_REQUEST, "\"url\" is required.");
                };
                let weight = input["weight"].as_u64().unwrap_or(1).min(1000) as u32;
                self.change(&name, |pool| pool.add(url, weight))
            }
            (Method::DELETE, ["pools", name, "upstreams"]) => {
                let url = req
                    .uri()
                    .query()
                    .and_then(|q| {
                        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "url")
                    })
                    .map(|(_, v)| v.into_owned());
                let Some(url) = url else {
                    return error(StatusCode::BAD_REQUEST, "?url= is required.");
                };
                self.change(name, |pool| pool.remove(&url))
            }
            _ => error(StatusCode::NOT_FOUND, "No such admin endpoint."),
        }
    }

    fn authorized<B>(&self, req: &Request<B>) -> bool {
        let Some(given) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.token.as_bytes());
        !self.token.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    fn change(
        &self,
        pool: &str,
        apply: impl FnOnce(&crate::pool::Pool) -> Result<(), String>,
    ) -> Response<Body> {
        let gateway = self.running.current();
        let Some(pool) = gateway.pool(pool) else {
            return error(StatusCode::NOT_FOUND, "No such pool.");
        };
        match apply(pool) {
            Ok(()) => json_response(StatusCode::OK, self.pools()),
            Err(e) => error(StatusCode::BAD_REQUEST, &e),
        }
    }

    fn pools(&self) -> Json {
        let gateway = self.running.current();
        let mut pools: Vec<Json> = gateway
            .pools()
            .map(|pool| {
                let upstreams: Vec<Json> = pool
                    .endpoints()
                    .iter()
                    .map(|e| {
                        json!({
                            "url": e.url,
                            "weight": e.weight,
                            "healthy": e.is_healthy(),
                            "ejected": pool.is_ejected(e),
                            "inFlight": e.inflight(),
                        })
                    })
                    .collect();
                json!({"name": pool.name, "balance": format!("{:?}", pool.config.balance), "upstreams": upstreams})
            })
            .collect();
        pools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        json!({"pools": pools})
    }
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed()
}

fn json_response(status: StatusCode, body: Json) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}
