//! PocketBase-compatible JSON Web Tokens (spec §6.2).
//!
//! Tokens are HS256 JWTs whose payload is exactly PocketBase's: `collectionId`, `email`?, `exp`,
//! `id`, `newEmail`?, `refreshable`?, `type` (keys in that order, no `iat`/`nbf`/`iss`/`sub`).
//! The signing key is the record's `tokenKey` followed by the collection's secret for the token
//! type, so changing either invalidates every token signed with it.
//!
//! Verification is two-step because the key depends on the record: [`peek`] reads the claims
//! without checking anything but the header's algorithm, the caller loads the record and its
//! collection, then [`verify`] checks the signature (HS256 only, so `alg: none` and other
//! algorithms are refused), the expiry with [`LEEWAY_SECS`] of tolerance, and the token type.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated when checking `exp`, in seconds.
pub const LEEWAY_SECS: i64 = 5;

/// The `type` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenType {
    Auth,
    File,
    Verification,
    PasswordReset,
    EmailChange,
}

/// The payload of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub collection_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Expiry, Unix seconds. Always present (the SDKs treat a token without `exp` as valid).
    pub exp: i64,
    /// The record id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
    /// `true` on auth tokens, `false` on impersonation tokens, absent on the other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    #[serde(rename = "type")]
    pub kind: TokenType,
}

/// Why [`verify`] rejected a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("invalid token signature or algorithm")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("unexpected token type")]
    WrongType,
}

/// Signs `claims` with `key` (record `tokenKey` + collection secret).
pub fn sign(claims: &Claims, key: &str) -> String {
    // Serialising these claims and HMAC signing cannot fail; an empty string would not verify.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap_or_default()
}

/// Reads the claims of `token` WITHOUT verifying the signature or expiry, to find the record
/// and collection whose key verifies it. `None` unless the header says HS256 and the claims
/// have the expected shape with a non-empty `id` and `collectionId`.
pub fn peek(token: &str) -> Option<Claims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::HS256 {
        return None;
    }
    let mut validation = validation();
    validation.insecure_disable_signature_validation();
    let claims = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&[]), &validation)
        .ok()?
        .claims;
    (!claims.id.is_empty() && !claims.collection_id.is_empty()).then_some(claims)
}

/// Verifies `token`'s signature with `key`, that it has not expired at `now` (Unix seconds,
/// with [`LEEWAY_SECS`] of tolerance) and that it is of the `expected` type.
pub fn verify(token: &str, key: &str, expected: TokenType, now: i64) -> Result<Claims, TokenError> {
    use jsonwebtoken::errors::ErrorKind;
    let claims = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(key.as_bytes()),
        &validation(),
    )
    .map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => TokenError::Signature,
        _ => TokenError::Malformed,
    })?
    .claims;
    if claims.id.is_empty() || claims.collection_id.is_empty() {
        return Err(TokenError::Malformed);
    }
    if now >= claims.exp.saturating_add(LEEWAY_SECS) {
        return Err(TokenError::Expired);
    }
    if claims.kind != expected {
        return Err(TokenError::WrongType);
    }
    Ok(claims)
}

/// HS256 only; the time checks are ours (against the caller's `now`), and no registered claim
/// besides `exp` (enforced by the `Claims` type) is required.
fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation
}
