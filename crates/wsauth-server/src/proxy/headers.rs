//! Which of the client's handshake headers the upstream receives.
//!
//! Header names are matched as CGI, WSGI and Rack servers read them: without
//! regard to case and with `_` the same as `-` (both `X-Wsauth-Sub` and
//! `X_Wsauth_Sub` are `HTTP_X_WSAUTH_SUB` there). [`fold`] is that rule, and
//! every name matched here for stripping goes through it, so no spelling of a
//! header wsauth owns or strips reaches the upstream.

use axum::http::header::{self, HeaderMap, HeaderValue};
use wsauth::CredentialNames;

/// Hop-by-hop headers (RFC 9110, section 7.6.1, with the older
/// `Keep-Alive`, `Proxy-Connection` and `Proxy-Authenticate`); the client's
/// `Connection` header may name more.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// This hop's own request line and body: the upstream request has its own.
const THIS_HOP: [&str; 2] = ["host", "content-length"];

/// The credential's carriers. The cookie header comes back filtered
/// ([`forwarded_cookies`]); the CSRF header's configured name is added.
const CREDENTIAL: [&str; 3] = ["authorization", "cookie", "x-csrf-token"];

/// Headers that name the client: replaced by wsauth's own
/// (`forwarding.rs`).
const CLIENT_NAMING: [&str; 9] = [
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "x-client-ip",
    "client-ip",
    "x-cluster-client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-original-forwarded-for",
];

/// Families never forwarded: wsauth's own identity headers, forwarding
/// headers, and this hop's WebSocket handshake.
const PREFIXES: [&str; 3] = ["x-wsauth-", "x-forwarded-", "sec-websocket-"];

/// A header name's byte as CGI-style servers read it: lower case, `_` as `-`.
fn fold(byte: u8) -> u8 {
    if byte == b'_' { b'-' } else { byte.to_ascii_lowercase() }
}

/// Whether two header names are the same once folded.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fold(*x) == fold(*y))
}

/// Whether `name`, folded, starts with `prefix`.
fn has_prefix(name: &[u8], prefix: &str) -> bool {
    name.get(..prefix.len()).is_some_and(|head| same_name(head, prefix.as_bytes()))
}

/// Whether the client's header `name` stays on this hop.
fn stays(name: &[u8], names: &CredentialNames, named_by_connection: &[&str]) -> bool {
    let listed = |list: &[&str]| list.iter().any(|n| same_name(name, n.as_bytes()));
    listed(&HOP_BY_HOP)
        || listed(&THIS_HOP)
        || listed(&CREDENTIAL)
        || listed(&CLIENT_NAMING)
        || listed(named_by_connection)
        || same_name(name, names.csrf_header.as_bytes())
        || PREFIXES.iter().any(|prefix| has_prefix(name, prefix))
}

/// The header names the client's `Connection` header lists: hop-by-hop by
/// RFC 9110, so never forwarded.
fn named_by_connection(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect()
}

/// Copies the client's end-to-end headers: everything but hop-by-hop
/// headers (the standard ones and those `Connection` names), this hop's
/// own, the credential's carriers, headers that name the client, and every
/// `X-Wsauth-*`, whatever the spelling.
pub(crate) fn copy_client_headers(from: &HeaderMap, to: &mut HeaderMap, names: &CredentialNames) {
    let connection = named_by_connection(from);
    for (name, value) in from {
        if !stays(name.as_str().as_bytes(), names, &connection) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// The client's cookies without the token and CSRF cookies.
pub(crate) fn forwarded_cookies(
    headers: &HeaderMap,
    names: &CredentialNames,
) -> Option<HeaderValue> {
    let auth = [
        &names.access_cookie,
        &names.refresh_cookie,
        &names.access_csrf_cookie,
        &names.refresh_csrf_cookie,
    ];
    let kept: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
            !auth.iter().any(|a| a.as_str() == name)
        })
        .collect();
    if kept.is_empty() { None } else { HeaderValue::from_str(&kept.join("; ")).ok() }
}

/// The client's offered subprotocols without `wsauth` and bearer entries.
pub(crate) fn app_subprotocols(headers: &HeaderMap, wsauth_name: &str) -> String {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty() && *p != wsauth_name)
        .filter(|p| !p.get(..7).is_some_and(|prefix| prefix.eq_ignore_ascii_case("bearer.")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copied(pairs: &[(&str, &str)]) -> Vec<String> {
        let mut from = HeaderMap::new();
        for (name, value) in pairs {
            let name = header::HeaderName::from_bytes(name.as_bytes()).expect("name");
            from.append(name, HeaderValue::from_str(value).expect("value"));
        }
        let mut to = HeaderMap::new();
        copy_client_headers(&from, &mut to, &CredentialNames::default());
        to.keys().map(|n| n.as_str().to_owned()).collect()
    }

    #[test]
    fn names_are_matched_without_case_and_with_underscore_as_dash() {
        assert!(same_name(b"x_wsauth_sub", b"x-wsauth-sub"));
        assert!(same_name(b"X-Real_IP", b"x-real-ip"));
        assert!(!same_name(b"x-wsauth-subx", b"x-wsauth-sub"));
        assert!(has_prefix(b"x_WSAUTH-claims", "x-wsauth-"));
        assert!(!has_prefix(b"x-wsaut", "x-wsauth-"));
    }

    #[test]
    fn every_spelling_of_a_stripped_header_is_stripped() {
        let kept = copied(&[
            ("x_wsauth_sub", "admin"),
            ("x-wsauth_anything", "admin"),
            ("x_forwarded_for", "6.6.6.6"),
            ("x-forwarded_port", "1"),
            ("x_real_ip", "6.6.6.6"),
            ("true_client_ip", "6.6.6.6"),
            ("x_csrf_token", "c"),
            ("sec_websocket_key", "k"),
            ("proxy_authorization", "p"),
            ("keep_alive", "1"),
            ("x_app", "kept"),
        ]);
        assert_eq!(kept, ["x_app"]);
    }

    #[test]
    fn headers_named_in_connection_are_hop_by_hop() {
        let kept = copied(&[
            ("connection", "Upgrade, X-Hop_One"),
            ("connection", "x_hop_two"),
            ("x-hop-one", "1"),
            ("x_hop_one", "1"),
            ("x-hop-two", "2"),
            ("x-end", "kept"),
        ]);
        assert_eq!(kept, ["x-end"]);
    }

    #[test]
    fn auth_cookies_are_removed_and_the_others_kept() {
        let names = CredentialNames::default();
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; access_token_cookie=eyJ; csrf_access_token=x"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("refresh_token_cookie=r; b=2"));
        assert_eq!(forwarded_cookies(&headers, &names), Some(HeaderValue::from_static("a=1; b=2")));
        headers.clear();
        headers.append(header::COOKIE, HeaderValue::from_static("access_token_cookie=eyJ"));
        assert_eq!(forwarded_cookies(&headers, &names), None);
    }

    #[test]
    fn only_application_subprotocols_are_offered_upstream() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("wsauth, Bearer.eyJ, chat.v2"),
        );
        headers.append(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("chat.v1"));
        assert_eq!(app_subprotocols(&headers, "wsauth"), "chat.v2, chat.v1");
    }
}
