//! Tests of passwords, tokens and random strings.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::password::DUMMY_HASH;
use crate::token::LEEWAY_SECS;
use crate::{
    Claims, TokenError, TokenType, Verification, hash_password, peek, random_string, sign, verify,
    verify_password,
};

const OK: Verification = Verification { ok: true, needs_rehash: false };
const FAILED: Verification = Verification { ok: false, needs_rehash: false };

#[test]
fn argon2_hashes_verify() {
    let hash = hash_password("correct horse");
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    assert_eq!(verify_password("correct horse", &hash), OK);
    assert_eq!(verify_password("correct horsE", &hash), FAILED);
    assert_eq!(verify_password("", &hash), FAILED);
    assert_ne!(hash_password("correct horse"), hash, "salts are random");

    // No silent truncation: passwords sharing their first 72 bytes still differ.
    let long = "x".repeat(100);
    let long_hash = hash_password(&long);
    assert_eq!(verify_password(&long, &long_hash), OK);
    assert_eq!(verify_password(&"x".repeat(99), &long_hash), FAILED);
    assert_eq!(verify_password(&format!("{}y", "x".repeat(99)), &long_hash), FAILED);

    let empty = hash_password("");
    assert_eq!(verify_password("", &empty), OK);
}

#[test]
fn other_argon2_parameters_need_rehash() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap_or_else(|e| panic!("{e}"));
    let weak = argon2::Params::new(8192, 1, 1, None).unwrap_or_else(|e| panic!("{e}"));
    for algorithm in [argon2::Algorithm::Argon2id, argon2::Algorithm::Argon2i] {
        let hasher = argon2::Argon2::new(algorithm, argon2::Version::V0x13, weak.clone());
        let hash = hasher.hash_password(b"pw", &salt).unwrap_or_else(|e| panic!("{e}")).to_string();
        assert_eq!(verify_password("pw", &hash), Verification { ok: true, needs_rehash: true });
        assert_eq!(verify_password("px", &hash), FAILED);
    }
}

#[test]
fn bcrypt_hashes_from_pocketbase_verify_and_need_rehash() {
    let hash = bcrypt::hash("secret123", 4).unwrap_or_else(|e| panic!("{e}"));
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    let rehash = Verification { ok: true, needs_rehash: true };
    assert_eq!(verify_password("secret123", &hash), rehash);
    assert_eq!(verify_password("secret124", &hash), FAILED);
    // PocketBase (Go) writes the `$2a$` prefix; `$2y$` comes from PHP-era imports.
    for prefix in ["$2a$", "$2y$"] {
        let other = hash.replacen("$2b$", prefix, 1);
        assert_eq!(verify_password("secret123", &other), rehash, "{prefix}");
    }
    // A password over bcrypt's 72-byte limit is refused instead of truncated.
    let at_limit = "p".repeat(72);
    let limit_hash = bcrypt::hash(&at_limit, 4).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verify_password(&at_limit, &limit_hash), rehash);
    assert_eq!(verify_password(&format!("{at_limit}extra"), &limit_hash), FAILED);
}

#[test]
fn malformed_hashes_never_verify() {
    let good = hash_password("pw");
    let cases = [
        "",
        "pw",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!",
        "$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$2b$",
        "$2b$04$short",
        "$2b$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
        "$1$md5$whatever",
        "plain:pw",
        &good[..good.len() - 2],
        &good.replace("$argon2id$", "$argon2d$"),
    ];
    for hash in cases {
        assert_eq!(verify_password("pw", hash), FAILED, "{hash:?}");
    }
}

#[test]
fn dummy_hash_is_a_real_hash_with_current_parameters() {
    assert!(DUMMY_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
    // Verification runs the full computation (a malformed hash would return early).
    assert_eq!(verify_password("anything", DUMMY_HASH), FAILED);
    crate::dummy_verify("anything");
}

fn claims(kind: TokenType, exp: i64) -> Claims {
    Claims {
        collection_id: "pbc_3142635823".into(),
        email: None,
        exp,
        id: "4k1457xh1b25p93".into(),
        new_email: None,
        refreshable: (kind == TokenType::Auth).then_some(true),
        kind,
    }
}

const KEY: &str = "tokenKey123secret456";
const NOW: i64 = 1_795_000_000;

fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn tokens_round_trip_with_pocketbase_claims() {
    let auth = claims(TokenType::Auth, 1_795_916_631);
    let token = sign(&auth, KEY);
    assert_eq!(token.split('.').count(), 3);
    // Exactly the spec's example payload, keys in PocketBase's (sorted) order.
    let expected = r#"{"collectionId":"pbc_3142635823","exp":1795916631,"id":"4k1457xh1b25p93","refreshable":true,"type":"auth"}"#;
    assert_eq!(payload(&token).to_string(), expected);
    assert_eq!(verify(&token, KEY, TokenType::Auth, NOW), Ok(auth.clone()));
    assert_eq!(peek(&token), Some(auth));

    let change = Claims {
        email: Some("a@x.io".into()),
        new_email: Some("b@x.io".into()),
        ..claims(TokenType::EmailChange, NOW + 1800)
    };
    let token = sign(&change, KEY);
    assert_eq!(
        payload(&token),
        json!({"collectionId": "pbc_3142635823", "email": "a@x.io", "exp": NOW + 1800,
               "id": "4k1457xh1b25p93", "newEmail": "b@x.io", "type": "emailChange"})
    );
    assert_eq!(verify(&token, KEY, TokenType::EmailChange, NOW), Ok(change));

    for (kind, name) in [
        (TokenType::File, "file"),
        (TokenType::Verification, "verification"),
        (TokenType::PasswordReset, "passwordReset"),
    ] {
        let token = sign(&claims(kind, NOW + 60), KEY);
        assert_eq!(payload(&token)["type"], name);
        assert!(payload(&token).get("refreshable").is_none());
        assert!(verify(&token, KEY, kind, NOW).is_ok());
    }
}

#[test]
fn expiry_allows_only_the_leeway() {
    let token = sign(&claims(TokenType::Auth, NOW), KEY);
    assert!(verify(&token, KEY, TokenType::Auth, NOW - 100).is_ok());
    assert!(verify(&token, KEY, TokenType::Auth, NOW + LEEWAY_SECS - 1).is_ok());
    assert_eq!(verify(&token, KEY, TokenType::Auth, NOW + LEEWAY_SECS), Err(TokenError::Expired));
    assert_eq!(verify(&token, KEY, TokenType::Auth, NOW + 3600), Err(TokenError::Expired));
    // peek does not look at the time.
    assert!(peek(&token).is_some());
}

#[test]
fn wrong_type_or_key_fails() {
    let token = sign(&claims(TokenType::PasswordReset, NOW + 60), KEY);
    assert_eq!(verify(&token, KEY, TokenType::Auth, NOW), Err(TokenError::WrongType));
    assert_eq!(
        verify(&token, "tokenKey123other", TokenType::PasswordReset, NOW),
        Err(TokenError::Signature)
    );
    assert_eq!(verify(&token, "", TokenType::PasswordReset, NOW), Err(TokenError::Signature));
}

#[test]
fn tampered_tokens_fail() {
    let token = sign(&claims(TokenType::Auth, NOW + 60), KEY);
    let parts: Vec<&str> = token.split('.').collect();
    let [header, body, signature] = parts.as_slice() else { panic!("{token}") };

    // Payload swapped for another id, signature kept.
    let mut other = claims(TokenType::Auth, NOW + 60);
    other.id = "someoneelse1234".into();
    let other_token = sign(&other, "attacker");
    let other_body = other_token.split('.').nth(1).unwrap_or_default();
    let forged = format!("{header}.{other_body}.{signature}");
    assert_eq!(verify(&forged, KEY, TokenType::Auth, NOW), Err(TokenError::Signature));

    // Signature changed.
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let bad_sig = format!("{header}.{body}.{flipped}{}", signature.get(1..).unwrap_or_default());
    assert_eq!(verify(&bad_sig, KEY, TokenType::Auth, NOW), Err(TokenError::Signature));
    let no_sig = format!("{header}.{body}.");
    assert_eq!(verify(&no_sig, KEY, TokenType::Auth, NOW), Err(TokenError::Signature));

    for garbage in ["", "a", "a.b", "a.b.c", "....", &format!("{token}.x"), "\u{0}.\u{0}.\u{0}"] {
        assert!(verify(garbage, KEY, TokenType::Auth, NOW).is_err(), "{garbage:?}");
        assert_eq!(peek(garbage), None, "{garbage:?}");
    }
}

#[test]
fn other_algorithms_are_refused() {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let body = b64(&serde_json::to_value(claims(TokenType::Auth, NOW + 60)).unwrap_or_default());

    for alg in ["none", "None", "NONE"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert!(verify(&token, KEY, TokenType::Auth, NOW).is_err(), "{token}");
            assert_eq!(peek(&token), None, "{token}");
        }
    }

    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(TokenType::Auth, NOW + 60),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verify(&hs512, KEY, TokenType::Auth, NOW), Err(TokenError::Signature));
    assert_eq!(peek(&hs512), None);
}

#[test]
fn peek_needs_no_key_but_checks_shape() {
    let token = sign(&claims(TokenType::Verification, NOW + 60), "whatever key");
    assert_eq!(peek(&token).map(|c| c.kind), Some(TokenType::Verification));

    let mut no_id = claims(TokenType::Auth, NOW + 60);
    no_id.id = String::new();
    assert_eq!(peek(&sign(&no_id, KEY)), None);
    assert_eq!(verify(&sign(&no_id, KEY), KEY, TokenType::Auth, NOW), Err(TokenError::Malformed));

    let unknown_type = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"collectionId": "c", "exp": NOW + 60, "id": "i", "type": "admin"}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(peek(&unknown_type), None);
    assert_eq!(verify(&unknown_type, KEY, TokenType::Auth, NOW), Err(TokenError::Malformed));

    let no_exp = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"collectionId": "c", "id": "i", "type": "auth"}),
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(peek(&no_exp), None);
    assert_eq!(verify(&no_exp, KEY, TokenType::Auth, NOW), Err(TokenError::Malformed));
}

#[test]
fn random_strings_use_the_alphabet() {
    let id = crate::random::lower_alphanumeric(15);
    assert_eq!(id.len(), 15);
    assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()), "{id}");
    let key = crate::random::alphanumeric(50);
    assert_eq!(key.len(), 50);
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    assert_ne!(crate::random::alphanumeric(50), key);
    assert_eq!(random_string(8, "é"), "éééééééé");
    assert_eq!(random_string(8, ""), "");
    assert_eq!(random_string(0, "ab"), "");
    // Every symbol shows up: 2000 draws from 36 symbols miss one with probability < 1e-20.
    let sample = crate::random::lower_alphanumeric(2000);
    assert!(crate::random::LOWER_ALPHANUMERIC.chars().all(|c| sample.contains(c)));
}

#[test]
fn every_verification_costs_one_hash_computation() {
    let computations = || crate::password::COMPUTATIONS.with(|c| c.get());
    let argon = hash_password("pw");
    let bcrypt = bcrypt::hash("pw", 4).unwrap_or_else(|e| panic!("{e}"));
    let long = "p".repeat(73);
    let cases: [(&str, &str, bool); 10] = [
        ("pw", &argon, true),
        ("px", &argon, false),
        ("pw", &bcrypt, true),
        ("px", &bcrypt, false),
        // Over bcrypt's limit: refused, but only after the same amount of work.
        (&long, &bcrypt, false),
        // Hashes that cannot be checked (empty, unknown scheme, malformed) cost a dummy one.
        ("pw", "", false),
        ("pw", "plain:pw", false),
        ("pw", "$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHQ$aGFzaA", false),
        ("pw", "$2b$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", false),
        ("pw", "$argon2id$", false),
    ];
    for (password, hash, ok) in cases {
        let before = computations();
        assert_eq!(verify_password(password, hash).ok, ok, "{hash:?}");
        assert_eq!(computations() - before, 1, "{hash:?}");
    }
}

/// The fake OAuth2 provider's test keys (sb-testkit/testdata).
const TEST_RSA: &str = include_str!("../../sb-testkit/testdata/oauth2-rsa.pem");
const OTHER_RSA: &str = include_str!("../../sb-testkit/testdata/oauth2-rsa-other.pem");
const TEST_JWK: &str = include_str!("../../sb-testkit/testdata/oauth2-rsa.jwk.json");

fn rs256(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    jsonwebtoken::encode(&header, claims, &key).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn id_tokens_verify_against_the_key_set() {
    use crate::{IdTokenError, verify_id_token};
    let jwk: Value = serde_json::from_str(TEST_JWK).unwrap_or_else(|e| panic!("{e}"));
    let jwks = json!({"keys": [{"kty": "EC", "kid": "ec"}, jwk]});
    let now = 1_700_000_000;
    let iss = "https://appleid.apple.com";
    let claims = json!({"iss": iss, "aud": "client", "sub": "u1", "exp": now + 600, "iat": now});
    let good = rs256(TEST_RSA, "test-key-1", &claims);
    let verified = verify_id_token(&good, &jwks, iss, "client", now);
    assert_eq!(verified.ok().and_then(|c| c.get("sub").cloned()), Some(json!("u1")));
    // A list audience holding the client id is accepted.
    let listed = json!({"iss": iss, "aud": ["x", "client"], "sub": "u1", "exp": now + 600});
    assert!(
        verify_id_token(&rs256(TEST_RSA, "test-key-1", &listed), &jwks, iss, "client", now).is_ok()
    );

    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            c[k] = v.clone();
        }
        rs256(TEST_RSA, "test-key-1", &c)
    };
    let cases: Vec<(String, IdTokenError)> = vec![
        (rs256(OTHER_RSA, "test-key-1", &claims), IdTokenError::Signature),
        (rs256(TEST_RSA, "unknown", &claims), IdTokenError::UnknownKey),
        (rs256(TEST_RSA, "ec", &claims), IdTokenError::UnknownKey),
        (with(json!({"aud": "other"})), IdTokenError::Audience),
        (with(json!({"aud": null})), IdTokenError::Audience),
        (with(json!({"iss": "https://evil.example"})), IdTokenError::Issuer),
        (with(json!({"exp": now - 120})), IdTokenError::Expired),
        (with(json!({"exp": null})), IdTokenError::Expired),
        (with(json!({"nbf": now + 3600})), IdTokenError::Expired),
        ("not.a.jwt".into(), IdTokenError::Malformed),
        (
            jsonwebtoken::encode(
                &Header { kid: Some("test-key-1".into()), ..Header::new(Algorithm::HS256) },
                &claims,
                &EncodingKey::from_secret(b"secret"),
            )
            .unwrap_or_default(),
            IdTokenError::Algorithm,
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(verify_id_token(&token, &jwks, iss, "client", now).err(), Some(expected));
    }
    // Within the leeway an expired token still passes.
    assert!(verify_id_token(&with(json!({"exp": now - 30})), &jwks, iss, "client", now).is_ok());
}
