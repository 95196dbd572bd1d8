//! Every target and every source address is on loopback (127.0.0.0/8 or ::1).

use anyhow::{Context, bail};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Resolves `host` to a loopback address, refusing anything else.
/// Accepts `localhost`, IPv4 in 127.0.0.0/8 and `::1` (with or without brackets).
pub fn resolve(host: &str) -> anyhow::Result<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if bare.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bare.parse::<IpAddr>()
            .with_context(|| format!("target host {host:?} is not an IP address or localhost"))?
    };
    if !ip.is_loopback() {
        bail!("refusing non-loopback address {ip}: benchmarks only talk to 127.0.0.0/8 or ::1");
    }
    Ok(ip)
}

/// Checks that a socket address is on loopback.
pub fn require(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        bail!("refusing non-loopback address {addr}: benchmarks only use 127.0.0.0/8 or ::1");
    }
    Ok(addr)
}

/// `n` distinct client source addresses on the target's loopback family:
/// 127.0.0.1, 127.0.0.2, ... for IPv4 (at most 254), `::1` alone for IPv6.
pub fn sources(target: IpAddr, n: usize) -> Vec<IpAddr> {
    match target {
        IpAddr::V4(_) => (1..=n.clamp(1, 254))
            .filter_map(|i| u8::try_from(i).ok())
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect(),
        IpAddr::V6(_) => vec![IpAddr::V6(Ipv6Addr::LOCALHOST)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(resolve("127.0.0.1").is_ok());
        assert!(resolve("127.4.5.6").is_ok());
        assert!(resolve("localhost").is_ok());
        assert!(resolve("[::1]").is_ok());
        for bad in ["10.0.0.1", "192.168.1.2", "8.8.8.8", "0.0.0.0", "example.com", "::"] {
            assert!(resolve(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn sources_stay_in_127_slash_8() {
        let v = sources(IpAddr::V4(Ipv4Addr::LOCALHOST), 1000);
        assert_eq!(v.len(), 254);
        assert!(v.iter().all(IpAddr::is_loopback));
        assert_eq!(sources(IpAddr::V6(Ipv6Addr::LOCALHOST), 8).len(), 1);
    }
}
