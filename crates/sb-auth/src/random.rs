//! Random strings from a cryptographically secure generator (rand's thread-local generator,
//! a ChaCha CSPRNG seeded and periodically reseeded from the operating system).

use rand::Rng;

/// `[a-z0-9]`, the alphabet of record ids.
pub const LOWER_ALPHANUMERIC: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
/// `[a-zA-Z0-9]`, the alphabet of token keys and secrets.
pub const ALPHANUMERIC: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `len` characters drawn uniformly from `alphabet` (empty when the alphabet is empty).
pub fn random_string(len: usize, alphabet: &str) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut rng = rand::rng();
    (0..len).filter_map(|_| chars.get(rng.random_range(0..chars.len())).copied()).collect()
}

/// `len` characters of `[a-z0-9]`.
pub fn lower_alphanumeric(len: usize) -> String {
    random_string(len, LOWER_ALPHANUMERIC)
}

/// `len` characters of `[a-zA-Z0-9]`.
pub fn alphanumeric(len: usize) -> String {
    random_string(len, ALPHANUMERIC)
}
