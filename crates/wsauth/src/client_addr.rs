//! Client addresses: which address a request comes from, and how per-client
//! limits key it.
//!
//! The TCP peer is the client, unless the peer is a [`TrustedProxies`] entry:
//! then the client is read from `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//! Every per-address limit keys the result by [`ClientKey`], which takes an
//! IPv6 address by its /64: one subscriber is routinely handed a whole /64,
//! so rotating addresses inside it must not buy a fresh budget.
//!
//! ```
//! use axum::http::HeaderMap;
//! use wsauth::{ClientKey, TrustedProxies};
//!
//! let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
//! let client = proxies.client_ip("10.0.0.2".parse().unwrap(), &headers);
//! assert_eq!(client, "203.0.113.9".parse::<std::net::IpAddr>().unwrap());
//!
//! let a = ClientKey::from("2001:db8:1:2::1".parse::<std::net::IpAddr>().unwrap());
//! let b = ClientKey::from("2001:db8:1:2:ffff::9".parse::<std::net::IpAddr>().unwrap());
//! assert_eq!(a, b);
//! ```

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::forwarded::{self, Chain, ChainHeader};

/// What per-client limits count by: an IPv4 address whole, an IPv6 address by
/// its /64 prefix, an IPv4-mapped IPv6 address as the IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(Prefix);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Prefix {
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6Net64(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(Prefix::V4(v4)),
            // The shift leaves 64 bits: the conversion never truncates.
            IpAddr::V6(v6) => Self(Prefix::V6Net64((v6.to_bits() >> 64) as u64)),
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Prefix::V4(v4) => v4.fmt(f),
            Prefix::V6Net64(net) => write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(net) << 64)),
        }
    }
}

/// The proxies whose word on the client address is believed. Default: none,
/// so the TCP peer is always the client.
///
/// Only when the peer is inside one of these ranges is the client taken from
/// the forwarding headers: the hops are walked from the right (the nearest
/// proxy's entry last), trusted proxies are skipped, and the first hop that is
/// not a trusted proxy is the client (every hop trusted: the leftmost). A
/// header the trusted part of the chain wrote unreadably, an `unknown` or
/// obfuscated hop, or `Forwarded` and `X-Forwarded-For` naming different
/// clients, all fall back to the peer address: such requests share the
/// proxy's budget rather than pick their own.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// No trusted proxy: the peer address is the client address.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts peers inside these ranges.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self { nets: nets.into_iter().collect() }
    }

    /// Parses CIDRs such as `10.0.0.0/8`, `127.0.0.1/32` or `fd00::/8`.
    pub fn parse<I, S>(cidrs: I) -> Result<Self, ipnet::AddrParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets =
            cidrs.into_iter().map(|c| c.as_ref().trim().parse()).collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether no proxy is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let trusted = |ip| self.contains(ip);
        let forwarded = forwarded::walk(headers, ChainHeader::Forwarded, trusted);
        let x_forwarded = forwarded::walk(headers, ChainHeader::XForwardedFor, trusted);
        match (forwarded, x_forwarded) {
            (Chain::Absent, Chain::Absent) => peer,
            (Chain::Client(ip), Chain::Absent) | (Chain::Absent, Chain::Client(ip)) => ip,
            (Chain::Client(a), Chain::Client(b)) if a == b => a,
            (f, x) => {
                tracing::debug!(
                    %peer, forwarded = ?f, x_forwarded_for = ?x,
                    "unusable forwarding headers from a trusted proxy; using the peer address"
                );
                peer
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("value"));
        }
        map
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_as_ipv4() {
        let key = |s| ClientKey::from(ip(s));
        assert_eq!(key("2001:db8:0:1::1"), key("2001:db8:0:1:abcd::2"));
        assert_ne!(key("2001:db8:0:1::1"), key("2001:db8:0:2::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("2001:db8:0:1::1").to_string(), "2001:db8:0:1::/64");
        assert_eq!(key("192.0.2.1").to_string(), "192.0.2.1");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).expect("cidr");
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(proxies.client_ip(ip("192.0.2.7"), &h), ip("192.0.2.7"));
        assert_eq!(TrustedProxies::none().client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn hops_are_walked_from_the_right_skipping_trusted_proxies() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"]).expect("cidr");
        let peer = ip("10.0.0.1");
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 192.0.2.9, 10.1.1.1")]);
        assert_eq!(proxies.client_ip(peer, &xff), ip("192.0.2.9"));
        let split =
            headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "192.0.2.9:443")]);
        assert_eq!(proxies.client_ip(peer, &split), ip("192.0.2.9"));
        let fwd = headers(&[(
            "forwarded",
            r#"for=6.6.6.6, for="[2001:db8::1]:4711";proto=https, For="[fd00::2]""#,
        )]);
        assert_eq!(proxies.client_ip(peer, &fwd), ip("2001:db8::1"));
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(proxies.client_ip(peer, &all_trusted), ip("10.9.9.9"));
        assert_eq!(proxies.client_ip(ip("::ffff:10.0.0.1"), &xff), ip("192.0.2.9"));
    }

    #[test]
    fn garbage_left_of_the_client_is_never_read() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).expect("cidr");
        let h = headers(&[("x-forwarded-for", "not an address, \"x, 192.0.2.9")]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &h), ip("192.0.2.9"));
        let h = headers(&[("forwarded", r#"for="unterminated, for=192.0.2.9"#)]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn unusable_chains_fall_back_to_the_peer() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).expect("cidr");
        let peer = ip("10.0.0.1");
        for h in [
            headers(&[("x-forwarded-for", "192.0.2.9, banana")]),
            headers(&[("forwarded", "for=unknown")]),
            headers(&[("forwarded", "for=_hidden")]),
            headers(&[("forwarded", "proto=https")]),
            headers(&[("forwarded", "for=192.0.2.1"), ("x-forwarded-for", "192.0.2.2")]),
        ] {
            assert_eq!(proxies.client_ip(peer, &h), peer, "{h:?}");
        }
        let agree = headers(&[("forwarded", "for=192.0.2.1"), ("x-forwarded-for", "192.0.2.1")]);
        assert_eq!(proxies.client_ip(peer, &agree), ip("192.0.2.1"));
        assert!(TrustedProxies::parse(["10.0.0.0"]).is_err());
    }
}
