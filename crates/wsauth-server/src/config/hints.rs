//! What to write instead, for values whose parse error alone does not say:
//! addresses (`--listen`, `listen`) and reverse-proxy networks
//! (`--trusted-proxy`, `trusted_proxies`). Used by the flags' parsers and
//! by the file's error messages, so both say the same.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Why an address is refused: host names are not resolved.
const ADDRESS: &str = "expected an IP address and a port, such as 127.0.0.1:8000 or [::1]:8000 \
                       (host names such as localhost are not looked up)";

/// Why a network is refused: it needs its prefix length.
const NETWORK: &str =
    "expected a network in CIDR form, such as 10.0.0.0/8 (one address: 10.0.0.7/32)";

/// Parses `--listen` and `--metrics-listen`.
pub(super) fn address(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| format!("{text:?}: {ADDRESS}"))
}

/// Parses one `--trusted-proxy`.
pub(super) fn network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<IpAddr>() {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        return Err(format!(
            "{text:?} is one address, not a network: {NETWORK}; for this address alone, {text}/{bits}"
        ));
    }
    text.parse().map_err(|_| format!("{text:?}: {NETWORK}"))
}

/// Parses a flag counted in whole seconds.
pub(super) fn seconds<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| {
        "expected a whole number of seconds, such as 600 (units such as 10m are not read)"
            .to_owned()
    })
}

/// The hint to add to a file's error about the setting `name`.
pub(super) fn for_setting(name: &str) -> String {
    match name {
        "listen" | "metrics_listen" => format!("; {ADDRESS}"),
        "trusted_proxies" => format!("; {NETWORK}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_without_a_prefix_length_is_told_to_add_one() {
        let refused = network("10.0.0.0").expect_err("no prefix");
        assert!(refused.contains("10.0.0.0/8") && refused.contains("10.0.0.0/32"), "{refused}");
        assert!(network("::1").expect_err("no prefix").contains("::1/128"));
        assert_eq!(network(" 10.0.0.0/8 ").ok(), "10.0.0.0/8".parse().ok());
    }

    #[test]
    fn a_host_name_is_told_an_ip_address_is_needed() {
        assert!(address("localhost:8062").expect_err("a name").contains("127.0.0.1:8000"));
        assert_eq!(address("127.0.0.1:8062").ok(), "127.0.0.1:8062".parse().ok());
    }
}
