//! Reading proxy chains: `Forwarded` (RFC 7239) and `X-Forwarded-For`.
//!
//! Both list one hop per comma-separated element, the client first and the
//! nearest proxy last, possibly over several header lines. Elements are read
//! from the right and only as far as the first hop that is not a trusted
//! proxy: whatever lies to its left was written by the client and is never
//! parsed.

use axum::http::header::{self, GetAll};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::net::{IpAddr, SocketAddr};

/// A header that records a proxy chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChainHeader {
    /// `Forwarded: for=192.0.2.1;proto=https, for="[2001:db8::1]:4711"` (RFC 7239).
    Forwarded,
    /// `X-Forwarded-For: 192.0.2.1, 10.0.0.7`.
    XForwardedFor,
}

impl ChainHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::Forwarded => header::FORWARDED,
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
        }
    }

    /// The elements of one header line, left to right.
    fn elements(self, line: &str) -> Vec<&str> {
        let parts = match self {
            Self::Forwarded => split_outside_quotes(line),
            Self::XForwardedFor => line.split(',').collect(),
        };
        parts.into_iter().map(str::trim).filter(|part| !part.is_empty()).collect()
    }

    fn node(self, element: &str) -> Option<IpAddr> {
        match self {
            Self::Forwarded => forwarded_node(element),
            Self::XForwardedFor => address(element),
        }
    }
}

/// What a chain says about the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    /// The header is not there.
    Absent,
    /// The trusted part of the chain names this client.
    Client(IpAddr),
    /// A hop that had to be read is not an address (or not text at all).
    Unusable,
}

/// Walks the hops of one header from the right: skips hops for which
/// `trusted` holds and returns the first that is not one (the leftmost when
/// every hop is trusted).
pub(crate) fn walk(
    headers: &HeaderMap,
    chain: ChainHeader,
    trusted: impl Fn(IpAddr) -> bool,
) -> Chain {
    let values: GetAll<'_, HeaderValue> = headers.get_all(chain.name());
    let mut lines = Vec::new();
    for value in values {
        match value.to_str() {
            Ok(line) => lines.push(line),
            Err(_) => return Chain::Unusable,
        }
    }
    let mut nearest_trusted = None;
    for element in lines.iter().rev().flat_map(|line| chain.elements(line).into_iter().rev()) {
        let Some(ip) = chain.node(element).map(|ip| ip.to_canonical()) else {
            return Chain::Unusable;
        };
        if !trusted(ip) {
            return Chain::Client(ip);
        }
        nearest_trusted = Some(ip);
    }
    nearest_trusted.map_or(Chain::Absent, Chain::Client)
}

/// A `Forwarded` line split on the commas outside quoted strings.
fn split_outside_quotes(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, byte) in line.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&line[start..]);
    parts
}

/// The address in one `Forwarded` element: its `for=` parameter, quoted or
/// not, with an optional port (`for="[2001:db8::1]:4711"`). `unknown` and
/// obfuscated identifiers (`_hidden`) are not addresses.
fn forwarded_node(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })?;
    let value = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    address(value)
}

/// An IP address, optionally bracketed (IPv6) and with a port: an
/// `X-Forwarded-For` element or a `Forwarded` node.
fn address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_splits_outside_quotes_only_and_x_forwarded_for_everywhere() {
        let line = r#" a , "b,c";x=1 ,, d\,e "#;
        let forwarded = ChainHeader::Forwarded.elements(line);
        assert_eq!(forwarded, [r#"a"#, r#""b,c";x=1"#, r#"d\"#, "e"]);
        let xff = ChainHeader::XForwardedFor.elements(line);
        assert_eq!(xff, ["a", r#""b"#, r#"c";x=1"#, r#"d\"#, "e"]);
    }

    #[test]
    fn nodes_take_addresses_with_or_without_ports() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(forwarded_node("for=192.0.2.60;proto=http;by=203.0.113.43"), ip("192.0.2.60"));
        assert_eq!(
            forwarded_node(r#"proto=https; FOR="[2001:db8:cafe::17]:4711""#),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(forwarded_node(r#"for="192.0.2.1:80""#), ip("192.0.2.1"));
        assert_eq!(forwarded_node("for=unknown"), None);
        assert_eq!(forwarded_node(r#"for="_mdn""#), None);
        assert_eq!(forwarded_node(r#"for="192.0.2.1"#), None);
        assert_eq!(address("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(address("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(address("[2001:db8::1]:8080"), ip("2001:db8::1"));
        assert_eq!(address("192.0.2.1:8080"), ip("192.0.2.1"));
        assert_eq!(address("192.0.2"), None);
    }
}
