//! Authentication primitives: password hashing, tokens and random strings.
//!
//! * [`password`]: argon2id hashes for new passwords; bcrypt hashes imported from PocketBase
//!   still verify and are flagged for rehashing.
//! * [`token`]: PocketBase-compatible JWTs (HS256 only), signed with the record's `tokenKey`
//!   plus the collection's secret for the token type.
//! * [`random`]: random strings from a CSPRNG (ids, token keys, secrets, OTPs).
//! * [`id_token`]: OpenID Connect `id_token` verification with a provider's key set (RS256).
//!
//! Pure: no storage, no clock (callers pass `now`), no I/O besides the OS random source.

pub mod id_token;
pub mod password;
pub mod random;
pub mod token;

pub use id_token::{IdTokenError, verify_id_token};
pub use password::{Verification, dummy_verify, hash_password, verify_password};
pub use random::random_string;
pub use token::{Claims, TokenError, TokenType, peek, sign, verify};

#[cfg(test)]
mod tests;
