//! What the upstream is told about the client, in place of whatever
//! forwarding headers the client sent: `X-Forwarded-For`, `X-Real-IP`,
//! `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded`, from what wsauth
//! itself knows (the TCP peer, and what a trusted proxy says).

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::uri::Authority;
use std::net::{IpAddr, SocketAddr};
use wsauth::WsAuth;

/// The scheme the client used to reach the front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else if text.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else {
            None
        }
    }
}

/// The hop a handshake came over, as wsauth knows it.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    /// The TCP peer; `None` without `ConnectInfo` (never in the server).
    pub(crate) peer: Option<IpAddr>,
    /// The client: the peer, or the client a trusted proxy names
    /// (`WsAuth::client_ip`).
    pub(crate) client: Option<IpAddr>,
    /// `https` only when a trusted proxy says so: wsauth itself serves HTTP.
    pub(crate) scheme: Scheme,
    /// The host the client asked for: a trusted proxy's `X-Forwarded-Host`,
    /// else the `Host` header; `None` when that is not a host and port.
    pub(crate) host: Option<Authority>,
}

impl<S: Send + Sync> FromRequestParts<S> for Hop
where
    WsAuth: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = WsAuth::from_ref(state);
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let trusted = peer.is_some_and(|ip| auth.trusted_proxies().contains(ip));
        let headers = &parts.headers;
        let said = |name: &str| if trusted { last_entry(headers, name) } else { None };
        let scheme = said("x-forwarded-proto").and_then(Scheme::parse).unwrap_or(Scheme::Http);
        let host = said("x-forwarded-host").and_then(authority).or_else(|| {
            headers.get(header::HOST).and_then(|v| v.to_str().ok()).and_then(authority)
        });
        Ok(Self { peer, client: auth.client_ip(parts), scheme, host })
    }
}

impl Hop {
    /// Writes the forwarding headers onto the upstream request, replacing
    /// any of those names already there.
    pub(crate) fn write(&self, to: &mut HeaderMap) {
        for name in ["x-forwarded-for", "x-real-ip", "x-forwarded-host"] {
            to.remove(name);
        }
        let mut forwarded = Vec::with_capacity(3);
        if let Some(ip) = self.client {
            let text = ip.to_string();
            if let Ok(value) = HeaderValue::from_str(&text) {
                to.insert(HeaderName::from_static("x-forwarded-for"), value.clone());
                to.insert(HeaderName::from_static("x-real-ip"), value);
            }
            forwarded.push(match ip {
                IpAddr::V4(_) => format!("for={text}"),
                IpAddr::V6(_) => format!("for=\"[{text}]\""),
            });
        }
        if let Some(host) = &self.host {
            if let Ok(value) = HeaderValue::from_str(host.as_str()) {
                to.insert(HeaderName::from_static("x-forwarded-host"), value);
            }
            forwarded.push(format!("host=\"{host}\""));
        }
        let scheme = self.scheme.as_str();
        to.insert(HeaderName::from_static("x-forwarded-proto"), HeaderValue::from_static(scheme));
        forwarded.push(format!("proto={scheme}"));
        if let Ok(value) = HeaderValue::from_str(&forwarded.join(";")) {
            to.insert(header::FORWARDED, value);
        }
    }
}

/// The last comma-separated entry of the last `name` header: what the
/// nearest proxy wrote.
fn last_entry<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    line.rsplit(',').next().map(str::trim).filter(|entry| !entry.is_empty())
}

/// `text` when it is a host with an optional port (no user information).
fn authority(text: &str) -> Option<Authority> {
    let parsed: Authority = text.parse().ok()?;
    (!parsed.as_str().contains('@') && !parsed.host().is_empty()).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(hop: &Hop) -> Vec<(String, String)> {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        hop.write(&mut headers);
        headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ascii").to_owned()))
            .collect()
    }

    #[test]
    fn every_forwarding_header_says_the_same_client() {
        let hop = Hop {
            peer: Some([10, 0, 0, 1].into()),
            client: Some("2001:db8::7".parse().expect("ip")),
            scheme: Scheme::Https,
            host: authority("chat.example:8443"),
        };
        let pairs = |list: &[(&str, &str)]| {
            list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect::<Vec<_>>()
        };
        let mut got = written(&hop);
        got.sort();
        assert_eq!(
            got,
            pairs(&[
                ("forwarded", "for=\"[2001:db8::7]\";host=\"chat.example:8443\";proto=https"),
                ("x-forwarded-for", "2001:db8::7"),
                ("x-forwarded-host", "chat.example:8443"),
                ("x-forwarded-proto", "https"),
                ("x-real-ip", "2001:db8::7"),
            ])
        );
        let unknown = Hop { peer: None, client: None, scheme: Scheme::Http, host: None };
        let mut got = written(&unknown);
        got.sort();
        assert_eq!(
            got,
            pairs(&[("forwarded", "proto=http"), ("x-forwarded-proto", "http")]),
            "no client known: the client's own X-Forwarded-For is not kept either"
        );
    }

    #[test]
    fn only_a_host_and_port_is_a_forwarded_host() {
        assert!(authority("chat.example").is_some());
        assert!(authority("[2001:db8::1]:443").is_some());
        for bad in ["", "user@chat.example", "chat example", "a/b", "\"quoted\""] {
            assert!(authority(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_nearest_proxys_entry_is_read() {
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-proto", HeaderValue::from_static("http"));
        headers.append("x-forwarded-proto", HeaderValue::from_static("ftp, https "));
        assert_eq!(last_entry(&headers, "x-forwarded-proto"), Some("https"));
        headers.insert("x-forwarded-host", HeaderValue::from_static("a, "));
        assert_eq!(last_entry(&headers, "x-forwarded-host"), None);
    }
}
