//! The client's IP address (spec §9.4): from the first trusted proxy header present, else the
//! TCP peer. Headers not listed in `settings.trustedProxy.headers` are never read, so a client
//! talking to the server directly cannot choose its own address.

use std::net::{IpAddr, Ipv4Addr};

use axum::http::HeaderMap;

/// The trusted-proxy part of the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxy {
    /// Header names, in priority order (e.g. `X-Forwarded-For`, `CF-Connecting-IP`).
    pub headers: Vec<String>,
    /// Take the left-most valid address of a list instead of the right-most.
    pub use_leftmost_ip: bool,
}

/// The client IP: for the first listed header present with a non-empty value, its last
/// occurrence (the one the nearest proxy wrote) split by commas, and the right-most (or
/// left-most) entry that parses as an IP; otherwise the peer address.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxy) -> IpAddr {
    for name in &trusted.headers {
        let Some(value) = headers.get_all(name.as_str()).iter().next_back() else { continue };
        let Ok(list) = value.to_str() else { continue };
        let parse = |s: &str| parse_ip(s.trim());
        let found = if trusted.use_leftmost_ip {
            list.split(',').find_map(parse)
        } else {
            list.split(',').rev().find_map(parse)
        };
        if let Some(ip) = found {
            return ip;
        }
    }
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), canonical)
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    // `[::1]` as some proxies write IPv6 addresses.
    let s = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    s.parse::<IpAddr>().ok().map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, from dual-stack sockets) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The name of a well-known proxy header present on the request, when none is trusted yet
/// (`/api/health`'s `possibleProxyHeader`, a hint for the superuser).
pub fn possible_proxy_header(headers: &HeaderMap, trusted: &TrustedProxy) -> &'static str {
    if !trusted.headers.is_empty() {
        return "";
    }
    const KNOWN: [&str; 5] =
        ["CF-Connecting-IP", "Fly-Client-IP", "X-Real-IP", "X-Forwarded-For", "Forwarded"];
    KNOWN.into_iter().find(|h| headers.contains_key(*h)).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn trusted(names: &[&str], leftmost: bool) -> TrustedProxy {
        TrustedProxy {
            headers: names.iter().map(|s| s.to_string()).collect(),
            use_leftmost_ip: leftmost,
        }
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));

    #[test]
    fn untrusted_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")]);
        assert_eq!(client_ip(PEER, &h, &TrustedProxy::default()), PEER.unwrap());
        assert_eq!(client_ip(PEER, &h, &trusted(&["CF-Connecting-IP"], false)), PEER.unwrap());
    }

    #[test]
    fn rightmost_by_default_leftmost_on_request() {
        let h = headers(&[("x-forwarded-for", "1.1.1.1, bogus, 2.2.2.2 , junk")]);
        let right = client_ip(PEER, &h, &trusted(&["X-Forwarded-For"], false));
        assert_eq!(right.to_string(), "2.2.2.2");
        let left = client_ip(PEER, &h, &trusted(&["X-Forwarded-For"], true));
        assert_eq!(left.to_string(), "1.1.1.1");
    }

    #[test]
    fn last_occurrence_and_header_order() {
        let h = headers(&[
            ("x-forwarded-for", "9.9.9.9"),
            ("x-forwarded-for", "3.3.3.3"),
            ("x-real-ip", "4.4.4.4"),
        ]);
        let ip = client_ip(PEER, &h, &trusted(&["X-Real-IP", "X-Forwarded-For"], false));
        assert_eq!(ip.to_string(), "4.4.4.4");
        let ip = client_ip(PEER, &h, &trusted(&["X-Forwarded-For"], true));
        assert_eq!(ip.to_string(), "3.3.3.3");
        // A trusted header without any valid address falls through to the next, then the peer.
        let h = headers(&[("x-real-ip", "nope"), ("x-forwarded-for", "[2001:db8::1]")]);
        let ip = client_ip(PEER, &h, &trusted(&["X-Real-IP", "X-Forwarded-For"], false));
        assert_eq!(ip.to_string(), "2001:db8::1");
        assert_eq!(client_ip(PEER, &h, &trusted(&["X-Real-IP"], false)), PEER.unwrap());
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let peer: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(Some(peer), &HeaderMap::new(), &TrustedProxy::default()).to_string(),
            "127.0.0.1"
        );
    }

    #[test]
    fn proxy_hint() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(possible_proxy_header(&h, &TrustedProxy::default()), "X-Forwarded-For");
        assert_eq!(possible_proxy_header(&h, &trusted(&["X-Forwarded-For"], false)), "");
        assert_eq!(possible_proxy_header(&HeaderMap::new(), &TrustedProxy::default()), "");
    }
}
