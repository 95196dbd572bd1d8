//! The `[[proxy]]` tables, the `--proxy PATH=UPSTREAM` flag and
//! `WSAUTH_PROXY`, and their validation at start.

use axum::http::Uri;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One proxied WebSocket route: handshakes on `path` are authenticated as
/// `/ws` is, then relayed to `upstream`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRoute {
    /// The path clients connect to, e.g. `/chat`: exact, no parameters.
    pub path: String,
    /// The upstream WebSocket URL, `ws://` or `wss://`; the client's query
    /// (without its credential) is appended to it.
    pub upstream: String,
    /// PEM file of the certificate authorities a `wss://` upstream's
    /// certificate must chain to. Default (unset): the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// What the client's credential must be. Default `access`.
    #[serde(default)]
    pub check: ProxyCheck,
    /// The identity headers the upstream receives. Default both,
    /// `X-Wsauth-Sub` and `X-Wsauth-Claims`.
    #[serde(default = "IdentityHeader::all")]
    pub identity_headers: Vec<IdentityHeader>,
    /// Seconds to open the upstream socket (TCP, TLS and its handshake)
    /// before the client gets 502. Default 5, at most 60.
    #[serde(default = "ProxyRoute::default_connect_timeout")]
    pub connect_timeout: u64,
}

/// What a proxied route requires of the client's credential.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyCheck {
    /// A valid access token (as `/ws`).
    #[default]
    Access,
    /// An access token straight from a password login.
    Fresh,
    /// No credential is fine (the upstream then gets no identity); a bad
    /// one is refused.
    Optional,
}

/// An identity header sent to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdentityHeader {
    /// `X-Wsauth-Sub`: the verified subject.
    #[serde(rename = "X-Wsauth-Sub")]
    Sub,
    /// `X-Wsauth-Claims`: the verified claims, JSON, base64url without padding.
    #[serde(rename = "X-Wsauth-Claims")]
    Claims,
}

impl IdentityHeader {
    /// Both headers: the default.
    pub fn all() -> Vec<Self> {
        vec![Self::Sub, Self::Claims]
    }

    /// The header's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sub => "x-wsauth-sub",
            Self::Claims => "x-wsauth-claims",
        }
    }
}

impl ProxyRoute {
    const DEFAULT_CONNECT_TIMEOUT: u64 = 5;
    const MAX_CONNECT_TIMEOUT: u64 = 60;

    fn default_connect_timeout() -> u64 {
        Self::DEFAULT_CONNECT_TIMEOUT
    }

    /// A route with every default but its path and upstream.
    pub fn new(path: impl Into<String>, upstream: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            upstream: upstream.into(),
            ca_file: None,
            check: ProxyCheck::default(),
            identity_headers: IdentityHeader::all(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Parses the flag and environment form `PATH=UPSTREAM`.
    pub fn parse_flag(text: &str) -> Result<Self, String> {
        let (path, upstream) = text
            .split_once('=')
            .ok_or_else(|| format!("--proxy {text:?}: expected PATH=UPSTREAM"))?;
        // `/a=ws://x/a;/b=ws://y/b` would be one route to a strange upstream.
        if let Some((_, next)) = upstream.split_once(';')
            && next.contains('=')
        {
            return Err(
                "routes are separated by `,`, not `;`: PATH=UPSTREAM,PATH=UPSTREAM".to_owned()
            );
        }
        Ok(Self::new(path.trim(), upstream.trim()))
    }

    /// The upstream URL, parsed.
    pub fn upstream_uri(&self) -> Result<Uri, String> {
        let uri: Uri = self.upstream.parse().map_err(|_| {
            format!("proxy {}: upstream {:?} is not a URL", self.path, self.upstream)
        })?;
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => {
                return Err(format!(
                    "proxy {}: upstream {:?} must start with ws:// or wss://",
                    self.path, self.upstream
                ));
            }
        };
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.is_empty() || authority.contains('@') || uri.host().is_none_or(str::is_empty) {
            return Err(format!(
                "proxy {}: upstream {:?} needs a host (and no user name or password)",
                self.path, self.upstream
            ));
        }
        if self.ca_file.is_some() && !secure {
            return Err(format!("proxy {}: ca_file is only for wss:// upstreams", self.path));
        }
        Ok(uri)
    }

    fn check_path(&self) -> Result<(), String> {
        let path = &self.path;
        let well_formed = path.starts_with('/')
            && path.len() > 1
            && path.len() <= 256
            && !path.ends_with('/')
            && path.split('/').skip(1).all(|seg| !seg.is_empty() && seg != "." && seg != "..")
            && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
        if !well_formed {
            return Err(format!(
                "proxy path {path:?} must look like /name[/name...] (letters, digits, - . _ ~; \
                 no trailing slash, no parameters)"
            ));
        }
        if OwnPaths::reserved(path) {
            return Err(collision(path));
        }
        Ok(())
    }
}

fn collision(path: &str) -> String {
    format!("proxy path {path:?} collides with one of wsauth's own routes")
}

/// wsauth's own routes, which no proxy path may take. The route table
/// knows them, so they are checked where the application is assembled;
/// [`validate`] checks the prefixes reserved whole.
#[derive(Debug)]
pub struct OwnPaths {
    exact: HashSet<String>,
}

impl OwnPaths {
    /// Prefixes reserved whole: routes under them are added over time.
    const RESERVED_PREFIXES: [&'static str; 3] = ["/auth/", "/admin/", "/.well-known/"];

    /// The paths of every route the server serves itself.
    pub fn new(exact: impl IntoIterator<Item = String>) -> Self {
        Self { exact: exact.into_iter().collect() }
    }

    /// Refuses a route whose path is one of these (in any letter case).
    pub fn refuse_taken(&self, routes: &[ProxyRoute]) -> Result<(), String> {
        match routes
            .iter()
            .find(|route| self.exact.iter().any(|own| own.eq_ignore_ascii_case(&route.path)))
        {
            Some(route) => Err(collision(&route.path)),
            None => Ok(()),
        }
    }

    /// Whether `path` is under (or is) a prefix reserved whole.
    fn reserved(path: &str) -> bool {
        let lower = path.to_ascii_lowercase();
        ["/auth", "/admin", "/.well-known"].contains(&lower.as_str())
            || Self::RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p))
    }
}

/// Checks every route: a well-formed path outside the reserved prefixes,
/// no duplicates, a `ws://` or `wss://` upstream, a readable CA file. That
/// no path is one of wsauth's own routes is [`OwnPaths::refuse_taken`]'s.
pub fn validate(routes: &[ProxyRoute]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for route in routes {
        route.check_path()?;
        if !seen.insert(route.path.to_ascii_lowercase()) {
            return Err(format!("proxy path {:?} is configured twice", route.path));
        }
        route.upstream_uri()?;
        if route.identity_headers.iter().collect::<HashSet<_>>().len()
            != route.identity_headers.len()
        {
            return Err(format!("proxy {}: identity_headers lists a header twice", route.path));
        }
        if !(1..=ProxyRoute::MAX_CONNECT_TIMEOUT).contains(&route.connect_timeout) {
            return Err(format!(
                "proxy {}: connect_timeout must be 1 to {} seconds",
                route.path,
                ProxyRoute::MAX_CONNECT_TIMEOUT
            ));
        }
        if let Some(file) = &route.ca_file {
            load_roots(file).map_err(|e| format!("proxy {}: {e}", route.path))?;
        }
    }
    Ok(())
}

/// The certificate authorities in a PEM file.
pub(crate) fn load_roots(file: &Path) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("cannot read ca_file {}: {e}", file.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("ca_file {}: {e}", file.display()))?;
        roots.add(cert).map_err(|e| format!("ca_file {}: {e}", file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("ca_file {} holds no certificate", file.display()));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnPaths {
        OwnPaths::new(["/", "/ws", "/ws/deferred", "/healthz", "/metrics"].map(String::from))
    }

    fn check(routes: &[ProxyRoute]) -> Result<(), String> {
        validate(routes)?;
        own().refuse_taken(routes)
    }

    #[test]
    fn the_flag_form_is_path_equals_upstream_with_every_default() {
        let route = ProxyRoute::parse_flag("/chat=ws://127.0.0.1:9000/ws").expect("parses");
        assert_eq!(route, ProxyRoute::new("/chat", "ws://127.0.0.1:9000/ws"));
        assert_eq!(route.check, ProxyCheck::Access);
        assert_eq!(route.identity_headers, IdentityHeader::all());
        assert!(ProxyRoute::parse_flag("/chat").is_err());
        assert!(check(&[route]).is_ok());
    }

    #[test]
    fn bad_urls_duplicates_and_own_routes_are_refused_with_a_clear_message() {
        let cases = [
            (vec![ProxyRoute::new("/chat", "http://h/x")], "must start with ws://"),
            (vec![ProxyRoute::new("/chat", "ws://")], "not a URL"),
            (vec![ProxyRoute::new("/chat", "ws://u:p@h/x")], "needs a host"),
            (vec![ProxyRoute::new("/ws", "ws://h/x")], "collides"),
            (vec![ProxyRoute::new("/WS/deferred", "ws://h/x")], "collides"),
            (vec![ProxyRoute::new("/auth/verify", "ws://h/x")], "collides"),
            (vec![ProxyRoute::new("/admin", "ws://h/x")], "collides"),
            (vec![ProxyRoute::new("/chat/{id}", "ws://h/x")], "must look like"),
            (vec![ProxyRoute::new("chat", "ws://h/x")], "must look like"),
            (vec![ProxyRoute::new("/a/../ws", "ws://h/x")], "must look like"),
            (
                vec![ProxyRoute::new("/chat", "ws://h/x"), ProxyRoute::new("/chat", "ws://h/y")],
                "configured twice",
            ),
            (
                vec![ProxyRoute {
                    ca_file: Some("/x.pem".into()),
                    ..ProxyRoute::new("/c", "ws://h/")
                }],
                "only for wss://",
            ),
            (
                vec![ProxyRoute { connect_timeout: 0, ..ProxyRoute::new("/c", "ws://h/") }],
                "connect_timeout",
            ),
        ];
        for (routes, expected) in cases {
            let message = check(&routes).expect_err(expected);
            assert!(message.contains(expected), "{routes:?}: {message}");
        }
    }
}
