//! OpenID Connect `id_token` verification against a provider's JSON Web Key Set (used for
//! Sign in with Apple, which has no user-info endpoint).
//!
//! The token must be an RSA-signed JWT (RS256/RS384/RS512) whose `kid` names an RSA key of the
//! set; when the key states its `alg`, the header must use that one. The signature, `iss`,
//! `aud` (a string or a list holding the client id) and `exp` (against the caller's `now`, with
//! [`LEEWAY_SECS`] of tolerance) are checked; `nbf`/`iat` in the future are refused too.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 60;

/// Why an `id_token` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("malformed id_token")]
    Malformed,
    #[error("id_token algorithm not allowed")]
    Algorithm,
    #[error("no key of the key set matches the id_token")]
    UnknownKey,
    #[error("invalid id_token signature")]
    Signature,
    #[error("id_token issuer mismatch")]
    Issuer,
    #[error("id_token audience mismatch")]
    Audience,
    #[error("id_token expired or not yet valid")]
    Expired,
}

/// Verifies `token` with the keys of `jwks` (`{"keys":[{kty,kid,alg?,n,e},...]}`) and returns
/// its claims.
pub fn verify_id_token(
    token: &str,
    jwks: &Json,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<Map<String, Json>, IdTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Malformed)?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) {
        return Err(IdTokenError::Algorithm);
    }
    let kid = header.kid.as_deref().filter(|k| !k.is_empty()).ok_or(IdTokenError::UnknownKey)?;
    let key = jwks
        .get("keys")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .find(|k| k.get("kid").and_then(Json::as_str) == Some(kid))
        .ok_or(IdTokenError::UnknownKey)?;
    let text = |name: &str| key.get(name).and_then(Json::as_str).unwrap_or("");
    if text("kty") != "RSA" {
        return Err(IdTokenError::UnknownKey);
    }
    if !text("alg").is_empty() && text("alg") != format!("{:?}", header.alg) {
        return Err(IdTokenError::Algorithm);
    }
    let decoding = DecodingKey::from_rsa_components(text("n"), text("e"))
        .map_err(|_| IdTokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    // The claims are checked below, against the caller's clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Map<String, Json>>(token, &decoding, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => IdTokenError::Signature,
            _ => IdTokenError::Malformed,
        })?
        .claims;
    if claims.get("iss").and_then(Json::as_str) != Some(issuer) {
        return Err(IdTokenError::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Json::String(aud)) => aud == audience,
        Some(Json::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if audience.is_empty() || !audience_ok {
        return Err(IdTokenError::Audience);
    }
    let seconds = |name: &str| claims.get(name).and_then(Json::as_f64).map(|s| s as i64);
    match seconds("exp") {
        Some(exp) if exp + LEEWAY_SECS > now => {}
        _ => return Err(IdTokenError::Expired),
    }
    for name in ["nbf", "iat"] {
        if seconds(name).is_some_and(|t| t - LEEWAY_SECS > now) {
            return Err(IdTokenError::Expired);
        }
    }
    Ok(claims)
}
