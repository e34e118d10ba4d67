//! Stored file names (spec §3.10): `<snake_case base>_<10 random [a-z0-9]><.ext>`.

use rand::Rng;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `n` random characters of `[a-z0-9]`.
pub fn random_suffix(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// The extension of an original name, a double extension (`.tar.gz`) included.
fn extension(name: &str) -> &str {
    let Some(primary) = name.rfind('.') else { return "" };
    match name[..primary].rfind('.') {
        Some(secondary) => &name[secondary..],
        None => &name[primary..],
    }
}

/// PocketBase's snake_case: split at non-word ASCII characters and underscores, `_` before an
/// upper-case letter that follows a lower-case one, lower-cased.
fn snake_case(s: &str) -> String {
    let mut out = String::new();
    for word in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('_');
        }
        let mut prev_upper = true;
        for (i, c) in word.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 && !prev_upper {
                out.push('_');
            }
            prev_upper = c.is_ascii_uppercase();
            out.push(c);
        }
    }
    out.to_ascii_lowercase()
}

/// The name a new upload is stored under. `detected_ext` (with its dot) is used when the
/// original name has no usable extension.
pub fn stored_name(original: &str, detected_ext: &str) -> String {
    // Only the last path component of what the client sent counts.
    let original = original.rsplit(['/', '\\']).next().unwrap_or("");
    let ext = extension(original);
    let mut clean_ext: String =
        ext.chars().filter(|c| c.is_ascii_alphanumeric() || "_.*-+=#".contains(*c)).collect();
    if clean_ext.trim_matches('.').is_empty() {
        clean_ext = detected_ext.to_owned();
    }
    if clean_ext.len() > 20 {
        clean_ext = format!(".{}", &clean_ext[clean_ext.len() - 20..]);
    }
    let base = original[..original.len() - ext.len()].trim_matches('.');
    let mut clean = snake_case(base);
    if clean.len() < 3 {
        clean.push_str(&random_suffix(10));
    } else if clean.len() > 100 {
        clean.truncate(100);
    }
    format!("{clean}_{}{clean_ext}", random_suffix(10))
}

/// A path component that is safe as a storage key segment: `^[^./\\][^/\\]*$`, no control
/// characters, at most 255 bytes.
pub fn is_valid_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('.')
        && !s.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}
