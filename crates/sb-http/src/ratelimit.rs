//! Rate limiting (spec §9.1, §6.14) as configured in `settings.rateLimits`, and the failed
//! login guard that is on by default.
//!
//! Two kinds of checks, as in PocketBase:
//! - the middleware checks every request against the rules labelled by path
//!   (`METHOD /path`, `/path`, `/prefix/`);
//! - routes of a collection also check their tags (`COLL:tag`, `*:tag`, then the path labels),
//!   once the collection is known ([`Req::limit_tags`]).
//!
//! For each request the candidate labels are tried in order; the first label with a rule of a
//! matching audience (exact label, else a `/prefix/` rule) is the one rule applied. Requests of
//! superusers and of `excludedIPs` are never limited. Counting is per rule and client IP (IPv6
//! per /64), by a [`RateLimiter`].
//!
//! The failed-login guard (`rateLimits.failedAuth`, enabled by default) counts only failed
//! password logins, per client IP and per identity, and refuses further attempts with 429 while
//! either is over its quota.
//!
//! The settings are re-read on every request (parsed once per settings version), so a `PATCH
//! /api/settings` applies to the next request.

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::RwLock;
use sb_core::{App, AuthInfo, CoreError};
use serde_json::Value as Json;

pub use sb_ratelimit::{MemoryLimiter, Quota, RateLimiter};

use crate::client_ip::{TrustedProxy, client_ip};
use crate::error::ApiError;
use crate::extract::Req;

/// Who a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `""`: everyone.
    All,
    /// `@guest`: requests without a valid auth token.
    Guest,
    /// `@auth`: authenticated requests.
    Auth,
}

impl Audience {
    fn as_str(self) -> &'static str {
        match self {
            Audience::All => "",
            Audience::Guest => "@guest",
            Audience::Auth => "@auth",
        }
    }

    fn admits(self, authenticated: bool) -> bool {
        match self {
            Audience::All => true,
            Audience::Guest => !authenticated,
            Audience::Auth => authenticated,
        }
    }
}

/// One `rateLimits.rules` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub label: String,
    pub audience: Audience,
    pub quota: Quota,
}

/// The failed-login guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAuth {
    pub per_ip: Quota,
    pub per_identity: Quota,
}

/// The parsed `rateLimits` and `trustedProxy` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub enabled: bool,
    pub rules: Vec<Rule>,
    pub excluded: Vec<ipnet::IpNet>,
    pub failed_auth: Option<FailedAuth>,
    pub trusted_proxy: TrustedProxy,
    /// `superuserIPs`: when not empty, superusers are served only from these IPs/subnets.
    pub superuser_ips: Vec<ipnet::IpNet>,
}

fn quota(max: Option<i64>, seconds: Option<i64>) -> Option<Quota> {
    let max = u32::try_from(max?).ok().filter(|m| *m >= 1)?;
    let secs = u64::try_from(seconds?).ok().filter(|s| *s >= 1)?;
    Some(Quota { max_requests: max, period: Duration::from_secs(secs) })
}

/// An IP (`1.2.3.4`) or a CIDR subnet (`10.0.0.0/8`).
pub fn parse_ip_or_subnet(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>().ok().or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

impl Policy {
    /// Reads the settings document (already validated when saved; anything unusable is
    /// skipped rather than guessed).
    pub fn from_settings(settings: &Json) -> Policy {
        let limits = &settings["rateLimits"];
        let rules = limits["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let audience = match r["audience"].as_str().unwrap_or("") {
                    "" => Audience::All,
                    "@guest" => Audience::Guest,
                    "@auth" => Audience::Auth,
                    _ => return None,
                };
                Some(Rule {
                    label: r["label"].as_str()?.to_owned(),
                    audience,
                    quota: quota(r["maxRequests"].as_i64(), r["duration"].as_i64())?,
                })
            })
            .collect();
        let ip_list = |v: &Json| -> Vec<ipnet::IpNet> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| parse_ip_or_subnet(v.as_str()?))
                .collect()
        };
        let excluded = ip_list(&limits["excludedIPs"]);
        let guard = &limits["failedAuth"];
        let failed_auth = if guard["enabled"].as_bool().unwrap_or(false) {
            let secs = guard["duration"].as_i64();
            quota(guard["maxPerIP"].as_i64(), secs)
                .zip(quota(guard["maxPerIdentity"].as_i64(), secs))
                .map(|(per_ip, per_identity)| FailedAuth { per_ip, per_identity })
        } else {
            None
        };
        let proxy = &settings["trustedProxy"];
        let trusted_proxy = TrustedProxy {
            headers: proxy["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().map(str::trim).filter(|h| !h.is_empty()))
                .map(String::from)
                .collect(),
            use_leftmost_ip: proxy["useLeftmostIP"].as_bool().unwrap_or(false),
        };
        Policy {
            enabled: limits["enabled"].as_bool().unwrap_or(false),
            rules,
            excluded,
            failed_auth,
            trusted_proxy,
            superuser_ips: ip_list(&settings["superuserIPs"]),
        }
    }

    /// The one rule for these candidate labels (PocketBase's `FindRateLimitRule`): for each
    /// label in order, a rule with exactly that label, else a `/prefix/` rule the label (plus
    /// `/`) starts with; only rules whose audience admits the requester.
    pub fn find(&self, labels: &[String], authenticated: bool) -> Option<&Rule> {
        let admitted = |r: &&Rule| r.audience.admits(authenticated);
        for label in labels {
            if let Some(rule) = self.rules.iter().filter(admitted).find(|r| &r.label == label) {
                return Some(rule);
            }
            let slashed = format!("{label}/");
            if let Some(rule) = self
                .rules
                .iter()
                .filter(admitted)
                .find(|r| r.label.ends_with('/') && slashed.starts_with(r.label.as_str()))
            {
                return Some(rule);
            }
        }
        None
    }

    /// Whether a superuser may be served from `ip` (`superuserIPs` empty, or listing it).
    pub fn admits_superuser(&self, ip: IpAddr) -> bool {
        self.superuser_ips.is_empty() || self.superuser_ips.iter().any(|net| net.contains(&ip))
    }

    pub fn is_excluded(&self, ip: IpAddr) -> bool {
        self.excluded.iter().any(|net| net.contains(&ip))
    }
}

/// The client part of a limiter key: the IP, IPv6 reduced to its /64 (one subscriber's
/// allocation, so rotating addresses within it does not multiply the quota).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The quota part of a limiter key: a changed rule starts counting afresh (a GCRA state means
/// nothing under another quota), and the old keys expire on their own.
fn quota_key(quota: Quota) -> String {
    format!("{}/{}", quota.max_requests, quota.period.as_secs())
}

/// The rate limiting state shared by all requests: the limiter and the parsed policy of the
/// current settings version.
pub struct Limits {
    limiter: Arc<dyn RateLimiter>,
    cache: RwLock<Option<(Arc<sb_core::Settings>, Arc<Policy>)>>,
}

impl Limits {
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Limits {
        Limits { limiter, cache: RwLock::new(None) }
    }

    /// The policy of the app's current settings (re-parsed only when they changed).
    fn policy(&self, app: &App) -> Arc<Policy> {
        let settings = app.settings();
        if let Some((cached, policy)) = self.cache.read().as_ref()
            && Arc::ptr_eq(cached, &settings)
        {
            return policy.clone();
        }
        let policy = Arc::new(Policy::from_settings(&settings.json));
        *self.cache.write() = Some((settings, policy.clone()));
        policy
    }
}

/// What the middleware learned about the request, for the handlers.
#[derive(Clone)]
pub struct RateCtx {
    pub limits: Arc<Limits>,
    pub policy: Arc<Policy>,
    pub ip: IpAddr,
    /// The principal, when the middleware already resolved the token.
    pub auth: Option<Option<AuthInfo>>,
}

fn too_many(kind: &'static str) -> ApiError {
    sb_observe::rate_limited(kind);
    ApiError(CoreError::TooManyRequests)
}

/// The middleware: decides the client IP, then (when limits are enabled and the requester is
/// neither excluded nor a superuser) applies the rule for the request's path labels.
pub async fn middleware(
    State((app, limits)): State<(Arc<App>, Arc<Limits>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let policy = limits.policy(&app);
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(peer, request.headers(), &policy.trusted_proxy);
    if let Some(slot) = request.extensions().get::<Arc<crate::observe::LogSlot>>() {
        *slot.user_ip.lock() = Some(ip);
    }
    let mut ctx = RateCtx { limits: limits.clone(), policy: policy.clone(), ip, auth: None };
    if policy.enabled && !policy.rules.is_empty() && !policy.is_excluded(ip) {
        let token = crate::extract::auth_token(request.headers());
        let auth = match token {
            Some(t) => match app.resolve_token(&t).await {
                Ok(auth) => auth,
                Err(e) => return ApiError(e).into_response(),
            },
            None => None,
        };
        let superuser = auth.as_ref().is_some_and(AuthInfo::is_superuser);
        let authenticated = auth.is_some();
        ctx.auth = Some(auth);
        if !superuser {
            let path = request.uri().path();
            let labels = [format!("{} {path}", request.method()), path.to_owned()];
            if let Some(rule) = policy.find(&labels, authenticated) {
                let key = format!(
                    "rl:{}{}|{}|{}",
                    rule.label,
                    rule.audience.as_str(),
                    quota_key(rule.quota),
                    client_key(ip)
                );
                if !limits.limiter.hit(&key, rule.quota).await {
                    return too_many("rule").into_response();
                }
            }
        }
    }
    // Superuser tokens from outside `superuserIPs` are refused on every route (spec §6.13).
    if !policy.admits_superuser(ip) {
        let auth = match ctx.auth.take() {
            Some(resolved) => resolved,
            None => match crate::extract::auth_token(request.headers()) {
                Some(t) => match app.resolve_token(&t).await {
                    Ok(auth) => auth,
                    Err(e) => return ApiError(e).into_response(),
                },
                None => None,
            },
        };
        if auth.as_ref().is_some_and(AuthInfo::is_superuser) {
            return ApiError(CoreError::Forbidden(
                "You are not allowed to perform this request.".into(),
            ))
            .into_response();
        }
        ctx.auth = Some(auth);
    }
    request.extensions_mut().insert(ctx);
    next.run(request).await
}

impl Req {
    /// The tag check of a collection route (`COLL:tag`, `*:tag`, then the path labels);
    /// an unknown collection is left to the handler's 404.
    pub async fn limit_tags(
        &self,
        app: &App,
        collection: &str,
        tags: &[&str],
    ) -> Result<(), ApiError> {
        let Some(ctx) = &self.rate else { return Ok(()) };
        let policy = &ctx.policy;
        if !policy.enabled || policy.rules.is_empty() || policy.is_excluded(ctx.ip) {
            return Ok(());
        }
        if self.info.auth.as_ref().is_some_and(AuthInfo::is_superuser) {
            return Ok(());
        }
        let catalog = app.catalog();
        let Some(c) = catalog.get(collection) else { return Ok(()) };
        let mut labels: Vec<String> = tags.iter().map(|t| format!("{}:{t}", c.name)).collect();
        labels.extend(tags.iter().map(|t| format!("*:{t}")));
        labels.push(format!("{} {}", self.info.method, self.path));
        labels.push(self.path.clone());
        let Some(rule) = policy.find(&labels, self.info.auth.is_some()) else { return Ok(()) };
        // One counter per collection and route (as PocketBase), per rule audience and client.
        let key = format!(
            "rl:{}{} {}{}{}|{}|{}",
            c.id,
            self.info.method,
            self.pattern,
            tags.concat(),
            rule.audience.as_str(),
            quota_key(rule.quota),
            client_key(ctx.ip)
        );
        if ctx.limits.limiter.hit(&key, rule.quota).await { Ok(()) } else { Err(too_many("rule")) }
    }

    /// The failed-login guard for a login attempt on `identity` of `collection`: 429 while the
    /// client or the identity is over its quota of failures. The returned ticket counts the
    /// attempt as a failure when told to.
    pub async fn failed_auth_guard(
        &self,
        app: &App,
        collection: &str,
        identity: &str,
    ) -> Result<FailedAuthTicket, ApiError> {
        let none = FailedAuthTicket::unguarded();
        let Some(ctx) = &self.rate else { return Ok(none) };
        let Some(quotas) = ctx.policy.failed_auth else { return Ok(none) };
        if ctx.policy.is_excluded(ctx.ip)
            || self.info.auth.as_ref().is_some_and(AuthInfo::is_superuser)
        {
            return Ok(none);
        }
        let ip_key = format!("fa:ip|{}|{}", quota_key(quotas.per_ip), client_key(ctx.ip));
        let collection_id = app.catalog().get(collection).map(|c| c.id.clone()).unwrap_or_default();
        let id_key = format!(
            "fa:id|{}|{collection_id}|{}",
            quota_key(quotas.per_identity),
            identity.trim().to_lowercase()
        );
        let limiter = &ctx.limits.limiter;
        if !limiter.check(&ip_key, quotas.per_ip).await
            || !limiter.check(&id_key, quotas.per_identity).await
        {
            return Err(too_many("failed_auth"));
        }
        Ok(FailedAuthTicket { inner: Some((limiter.clone(), quotas, ip_key, id_key)) })
    }
}

/// A login attempt admitted by the failed-login guard.
pub struct FailedAuthTicket {
    inner: Option<(Arc<dyn RateLimiter>, FailedAuth, String, String)>,
}

impl FailedAuthTicket {
    /// A ticket for a login that is not guarded (its failures count nowhere).
    pub fn unguarded() -> Self {
        FailedAuthTicket { inner: None }
    }

    /// Counts the attempt as a failure for the client and the identity.
    pub async fn failed(self) {
        if let Some((limiter, quotas, ip_key, id_key)) = self.inner {
            limiter.hit(&ip_key, quotas.per_ip).await;
            limiter.hit(&id_key, quotas.per_identity).await;
        }
    }
}

/// The route pattern of a request (`/api/collections/{collection}/records`), for limiter keys.
pub(crate) fn route_pattern(parts: &axum::http::request::Parts) -> String {
    parts.extensions.get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default()
}
