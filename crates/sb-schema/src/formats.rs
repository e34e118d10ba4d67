//! Syntax checks for e-mail addresses, URLs and domain names, matching the validators
//! PocketBase uses (govalidator's `IsEmail`/`IsURL`, ozzo's `is.Domain`) on the inputs that
//! matter in practice (checked against the reference binary; see the tests).

use std::sync::LazyLock;

use regex::Regex;

/// Non-ASCII ranges govalidator accepts in e-mail addresses.
const EMAIL_UNICODE: &str = r"\x{A0}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFEF}";

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let u = EMAIL_UNICODE;
    let local = format!(r"[a-zA-Z0-9!#$%&'*+/=?^_`{{|}}~\-{u}]+");
    let label_end = format!("[a-zA-Z0-9{u}]");
    let label_mid = format!(r"[a-zA-Z0-9\-.~_{u}]");
    let tld_end = format!("[a-zA-Z{u}]");
    let pattern = format!(
        r"^{local}(?:\.{local})*@(?:{label_end}(?:{label_mid}*{label_end})?\.)+{tld_end}(?:{label_mid}*{tld_end})?\.?$"
    );
    Regex::new(&pattern).ok()
});

static URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    let ipv4 = format!(r"(?:{octet}\.){{3}}{octet}");
    let ch = r"a-zA-Z0-9\x{A1}-\x{FFFF}";
    let label = format!(r"[{ch}](?:[{ch}_\-]*[{ch}])?");
    let tld = r"[a-zA-Z\x{A1}-\x{FFFF}]+";
    let host = format!(r"(?:(?:{label}\.)+{tld}|{label})");
    let pattern = format!(
        r"^(?:(?:ftp|tcp|udp|wss?|https?)://)?(?:\S+(?::\S*)?@)?(?:{ipv4}|\[[0-9A-Fa-f:.]+\]|{host})\.?(?::[0-9]{{1,5}})?(?:[/?#]\S*)?$"
    );
    Regex::new(&pattern).ok()
});

static DOMAIN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{1,63}|xn--[a-z0-9]{1,59})$")
        .ok()
});

fn matches(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(s))
}

/// An e-mail address in the syntax PocketBase accepts (`a@b.c`, not `a@b`).
pub fn is_email(s: &str) -> bool {
    matches(&EMAIL, s)
}

/// A URL as PocketBase's `url` field accepts it: a few schemes (`http(s)`, `ws(s)`, `ftp`,
/// `tcp`, `udp`) or none (`example.com`), optional user info, host, port, path.
pub fn is_url(s: &str) -> bool {
    let runes = s.chars().count();
    if runes >= 2083 || s.len() <= 3 || s.starts_with('.') {
        return false;
    }
    // Without a scheme or a port, Go's url.Parse sees a bare path, which must contain a dot.
    if !s.contains("://") && !s.contains(':') && !s.contains('.') {
        return false;
    }
    matches(&URL, s)
}

/// A lowercase DNS domain name with at least two labels (`example.com`).
pub fn is_domain(s: &str) -> bool {
    s.len() <= 255 && matches(&DOMAIN, s)
}

/// The host of an absolute URL (`https://user@Host:8080/x` → `Host`), or `""` when the URL has
/// no `scheme://` authority (as Go's `url.URL.Hostname()` reports for such input).
pub fn url_host(s: &str) -> &str {
    let Some((_, rest)) = s.split_once("://") else { return "" };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(inner) = host_port.strip_prefix('[') {
        return inner.split(']').next().unwrap_or_default();
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => host_port,
    }
}
