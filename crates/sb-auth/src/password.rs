//! Password hashing.
//!
//! New hashes are argon2id PHC strings with OWASP's minimum parameters (19 MiB, 2 passes,
//! 1 lane). PocketBase stores bcrypt hashes (`$2a$`/`$2b$`/`$2y$`); those still verify, and a
//! successful bcrypt (or outdated argon2) match reports `needs_rehash` so the caller can store a
//! fresh argon2id hash. Argon2 has no input-length limit worth mentioning, so unlike bcrypt
//! nothing is truncated; bcrypt verification refuses passwords over bcrypt's 72-byte limit
//! instead of truncating them (PocketBase could never store a hash of such a password).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// Memory cost in KiB.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// bcrypt's input limit in bytes.
const BCRYPT_MAX_LEN: usize = 72;

/// An argon2id hash with the parameters above, of a random password nobody knows; verified by
/// [`dummy_verify`].
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$dp04jGDP3THozFIQKp1iIA$HzIRc/r+pLoDLrtaKblGgwsrCjOt8lIDZm8YBTPaSPk";

/// The outcome of [`verify_password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches the hash.
    pub ok: bool,
    /// The hash matched but uses bcrypt or other argon2 parameters: store a new
    /// [`hash_password`] of the same password.
    pub needs_rehash: bool,
}

fn argon2id() -> Argon2<'static> {
    // The constants are valid parameters, so the fallback is never taken.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` into an argon2id PHC string with a random salt.
///
/// Argon2 only fails for inputs of 4 GiB or more, far beyond any request body we accept; in that
/// case the result is a string that no password verifies against.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let Ok(salt) = SaltString::encode_b64(&salt) else {
        return String::new();
    };
    argon2id()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
}

/// Checks `password` against a stored argon2 PHC string or bcrypt hash. A malformed or unknown
/// hash never verifies. Every call costs one hash computation, whatever the hash.
pub fn verify_password(password: &str, hash: &str) -> Verification {
    match verify_with_hash(password, hash) {
        Some(verification) => verification,
        None => {
            // Nothing was computed (a malformed or unknown hash, a password bcrypt cannot
            // take): spend one verification anyway, so the answer takes as long as a real one
            // and tells nothing about the stored hash.
            dummy_verify(password);
            Verification { ok: false, needs_rehash: false }
        }
    }
}

/// The outcome of a verification that ran the hash function, or `None` when the hash could not
/// be checked at all (so no time was spent).
fn verify_with_hash(password: &str, hash: &str) -> Option<Verification> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        // Go's bcrypt (like the crate's `verify`) uses at most 72 bytes, and PocketBase could
        // not hash a longer password, so a longer one is refused rather than truncated.
        if password.len() > BCRYPT_MAX_LEN {
            return None;
        }
        let ok = bcrypt::verify(password, hash).ok()?;
        count_computation();
        return Some(Verification { ok, needs_rehash: ok });
    }
    if !hash.starts_with("$argon2") {
        return None;
    }
    let parsed = PasswordHash::new(hash).ok()?;
    // The verifier takes the algorithm, version and parameters from the hash itself.
    match argon2id().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => {}
        Err(argon2::password_hash::Error::Password) => {
            count_computation();
            return Some(Verification { ok: false, needs_rehash: false });
        }
        Err(_) => return None,
    }
    count_computation();
    let current = parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(&parsed)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST, T_COST, P_COST));
    Some(Verification { ok: true, needs_rehash: !current })
}

#[cfg(test)]
thread_local! {
    /// Hash computations run by verifications on this thread (tests check that every
    /// verification costs exactly one).
    pub(crate) static COMPUTATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count_computation() {
    #[cfg(test)]
    COMPUTATIONS.with(|c| c.set(c.get() + 1));
}

/// Spends the time of one password verification, for paths where there is no account to check
/// (so an unknown identity costs the same as a wrong password).
pub fn dummy_verify(password: &str) {
    std::hint::black_box(verify_password(password, DUMMY_HASH));
}
