//! Finding the credential in a request: `Authorization: Bearer`, the access
//! cookie (with its CSRF companion), `?token=`, the `bearer.<JWT>`
//! subprotocol, or `?ticket=`. Two credentials that disagree are refused.

use std::borrow::Cow;

use axum::http::{HeaderMap, Method, header, request::Parts};
use subtle::ConstantTimeEq;

use crate::{AuthError, TokenKind};

/// Where a credential travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// `Authorization: Bearer <JWT>`.
    Header,
    /// The token cookie plus its CSRF double-submit value.
    Cookie,
    /// `?token=<JWT>` on the WebSocket URL.
    Query,
    /// `Sec-WebSocket-Protocol: wsauth, bearer.<JWT>`.
    Subprotocol,
    /// `?ticket=<one-time ticket>`.
    Ticket,
    /// The first frame after the upgrade (first-message mode).
    FirstMessage,
}

impl CredentialKind {
    /// A short name for logs and frames.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Cookie => "cookie",
            Self::Query => "query",
            Self::Subprotocol => "subprotocol",
            Self::Ticket => "ticket",
            Self::FirstMessage => "first_message",
        }
    }
}

/// The names credentials travel under. Defaults are fastapi-jwt-auth's.
#[derive(Debug, Clone)]
pub struct CredentialNames {
    /// Access token cookie. Default `access_token_cookie`.
    pub access_cookie: String,
    /// Refresh token cookie. Default `refresh_token_cookie`.
    pub refresh_cookie: String,
    /// Script-readable CSRF cookie for the access token. Default `csrf_access_token`.
    pub access_csrf_cookie: String,
    /// Script-readable CSRF cookie for the refresh token. Default `csrf_refresh_token`.
    pub refresh_csrf_cookie: String,
    /// CSRF header on HTTP. Default `X-CSRF-Token`.
    pub csrf_header: String,
    /// CSRF query parameter on a WebSocket. Default `csrf_token`.
    pub csrf_query: String,
    /// Token query parameter on a WebSocket. Default `token`.
    pub token_query: String,
    /// Ticket query parameter on a WebSocket. Default `ticket`.
    pub ticket_query: String,
    /// The subprotocol the server selects when a client offers a bearer
    /// entry. Default `wsauth`.
    pub subprotocol: String,
}

impl Default for CredentialNames {
    fn default() -> Self {
        Self {
            access_cookie: "access_token_cookie".into(),
            refresh_cookie: "refresh_token_cookie".into(),
            access_csrf_cookie: "csrf_access_token".into(),
            refresh_csrf_cookie: "csrf_refresh_token".into(),
            csrf_header: "X-CSRF-Token".into(),
            csrf_query: "csrf_token".into(),
            token_query: "token".into(),
            ticket_query: "ticket".into(),
            subprotocol: "wsauth".into(),
        }
    }
}

/// Which transports are accepted. By default all are, each where it makes sense
/// (query, subprotocol and ticket only on WebSocket handshakes).
#[derive(Debug, Clone, Copy)]
pub struct Transports {
    /// `Authorization: Bearer`. Default on.
    pub header: bool,
    /// Cookie + CSRF. Default on.
    pub cookie: bool,
    /// `?token=` on WebSocket handshakes. Default on.
    pub query: bool,
    /// `bearer.<JWT>` subprotocol on WebSocket handshakes. Default on.
    pub subprotocol: bool,
    /// `?ticket=` on WebSocket handshakes. Default on.
    pub ticket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Self { header: true, cookie: true, query: true, subprotocol: true, ticket: true }
    }
}

/// A located credential, not yet verified, borrowed from the request where
/// it could be.
#[derive(Debug)]
pub(crate) struct Located<'a> {
    pub(crate) kind: CredentialKind,
    pub(crate) value: Cow<'a, str>,
    /// For cookies: the CSRF value presented beside it.
    pub(crate) csrf: Option<Cow<'a, str>>,
    /// Whether the client offered the wsauth subprotocol.
    pub(crate) offered_subprotocol: bool,
}

/// Where the request is going: an HTTP route or a WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Http,
    WebSocket,
}

const BEARER_PREFIX: &str = "bearer.";
const MAX_SUBPROTOCOL_HEADER: usize = 16 * 1024;

/// Finds exactly one credential in `parts`, or says why there is none.
pub(crate) fn locate<'a>(
    parts: &'a Parts,
    target: Target,
    kind: TokenKind,
    names: &CredentialNames,
    transports: &Transports,
) -> Result<Located<'a>, AuthError> {
    // Only WebSocket handshakes carry credentials in the query.
    let query = match target {
        Target::WebSocket => parse_query(parts.uri.query().unwrap_or("")),
        Target::Http => Vec::new(),
    };
    let mut found: Vec<(CredentialKind, Cow<'a, str>)> = Vec::new();
    let mut offered_subprotocol = false;

    if transports.header {
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        if let Some(value) = values.next() {
            if values.next().is_some() {
                return Err(AuthError::ConflictingCredentials);
            }
            found.push((CredentialKind::Header, Cow::Borrowed(parse_bearer(value.as_bytes())?)));
        }
    }
    if target == Target::WebSocket {
        if transports.query
            && let Some(token) = single(&query, &names.token_query)?
        {
            found.push((CredentialKind::Query, token));
        }
        if transports.ticket
            && let Some(ticket) = single(&query, &names.ticket_query)?
        {
            found.push((CredentialKind::Ticket, ticket));
        }
        let (offered, bearer) = parse_subprotocols(&parts.headers, &names.subprotocol)?;
        offered_subprotocol = offered;
        if let Some(token) = bearer {
            if !transports.subprotocol {
                return Err(AuthError::BadHandshake("Subprotocol credentials are disabled"));
            }
            found.push((CredentialKind::Subprotocol, Cow::Owned(token)));
        }
    }

    // The cookie is ambient: the browser sends it on its own, and a sibling
    // subdomain can add one of its own. It is read only when the request
    // carries no explicit credential (which it could neither lower nor
    // break), and counts only where its CSRF companion is presented, or on
    // safe HTTP methods, where no CSRF value is needed.
    let mut csrf = None;
    let mut cookie_without_csrf = false;
    if transports.cookie && found.is_empty() {
        let cookie_name = match kind {
            TokenKind::Refresh => &names.refresh_cookie,
            _ => &names.access_cookie,
        };
        if let Some(token) = cookie_value(&parts.headers, cookie_name)? {
            csrf = match target {
                Target::WebSocket => single(&query, &names.csrf_query)?,
                Target::Http => header_value(&parts.headers, &names.csrf_header)?.map(Cow::Owned),
            };
            let needs_csrf = target == Target::WebSocket || !is_safe(&parts.method);
            if csrf.is_some() || !needs_csrf {
                found.push((CredentialKind::Cookie, Cow::Owned(token)));
            } else {
                cookie_without_csrf = true;
            }
        }
    }

    let mut found = found.into_iter();
    let Some((first_kind, first_value)) = found.next() else {
        return Err(if cookie_without_csrf {
            AuthError::CsrfFailed("Missing CSRF Token")
        } else {
            AuthError::MissingToken("Missing credential")
        });
    };
    if found.any(|(_, v)| v.as_bytes().ct_ne(first_value.as_bytes()).into()) {
        return Err(AuthError::ConflictingCredentials);
    }
    Ok(Located { kind: first_kind, value: first_value, csrf, offered_subprotocol })
}

/// Whether the client offered the configured subprotocol (for handshakes
/// without a bearer entry, such as first-message mode).
pub(crate) fn offers_subprotocol(headers: &HeaderMap, name: &str) -> Result<bool, AuthError> {
    parse_subprotocols(headers, name).map(|(offered, _)| offered)
}

/// GET, HEAD and OPTIONS: methods that need no CSRF value.
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Bearer <token>`: the scheme case-insensitive, exactly one space, and a
/// token with no spaces.
fn parse_bearer(value: &[u8]) -> Result<&str, AuthError> {
    const MALFORMED: AuthError =
        AuthError::InvalidToken("Authorization header must be 'Bearer <token>'");
    let text = std::str::from_utf8(value).map_err(|_| MALFORMED)?;
    let (scheme, token) = text.split_once(' ').ok_or(MALFORMED)?;
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(|c: char| c.is_ascii_whitespace())
    {
        return Err(MALFORMED);
    }
    Ok(token)
}

/// The query's pairs, decoded as `application/x-www-form-urlencoded`. A
/// query with nothing to decode (no `%`, no `+`, as a JWT or a ticket
/// travels) is split in place, exactly as the decoder would split it.
fn parse_query(query: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    if query.bytes().any(|b| b == b'%' || b == b'+') {
        return form_urlencoded::parse(query.as_bytes()).collect();
    }
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(key), Cow::Borrowed(value))
        })
        .collect()
}

/// The one value of `name` in the query; two different values conflict.
fn single<'a>(
    query: &[(Cow<'a, str>, Cow<'a, str>)],
    name: &str,
) -> Result<Option<Cow<'a, str>>, AuthError> {
    let mut out: Option<&Cow<'a, str>> = None;
    for (_, v) in query.iter().filter(|(k, _)| k == name) {
        match out {
            Some(prev) if prev != v => return Err(AuthError::ConflictingCredentials),
            _ => out = Some(v),
        }
    }
    match out {
        Some(v) if v.is_empty() => Err(AuthError::InvalidToken("Empty credential")),
        other => Ok(other.cloned()),
    }
}

fn header_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::CsrfFailed("More than one CSRF header"));
    }
    let text = first.to_str().map_err(|_| AuthError::CsrfFailed("Malformed CSRF header"))?;
    Ok(Some(text.to_owned()))
}

/// The value of cookie `name` across every `Cookie` header; two different
/// values conflict.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, AuthError> {
    let mut out: Option<String> = None;
    for header in headers.get_all(header::COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k.trim() != name {
                continue;
            }
            let v = v.trim().trim_matches('"');
            match &out {
                Some(prev) if prev != v => return Err(AuthError::ConflictingCredentials),
                _ => out = Some(v.to_owned()),
            }
        }
    }
    Ok(out.filter(|v| !v.is_empty()))
}

/// Reads `Sec-WebSocket-Protocol`: whether `name` is offered, and the token of
/// the one `bearer.<JWT>` entry, if any.
fn parse_subprotocols(
    headers: &HeaderMap,
    name: &str,
) -> Result<(bool, Option<String>), AuthError> {
    let mut offered = false;
    let mut bearer = None;
    let mut total = 0usize;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        total += value.len();
        if total > MAX_SUBPROTOCOL_HEADER {
            return Err(AuthError::BadHandshake("Sec-WebSocket-Protocol is too long"));
        }
        let text = value
            .to_str()
            .map_err(|_| AuthError::BadHandshake("Malformed Sec-WebSocket-Protocol"))?;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == name {
                offered = true;
            } else if entry.len() >= BEARER_PREFIX.len()
                && entry[..BEARER_PREFIX.len()].eq_ignore_ascii_case(BEARER_PREFIX)
            {
                if bearer.is_some() {
                    return Err(AuthError::BadHandshake("More than one bearer subprotocol"));
                }
                let token = &entry[BEARER_PREFIX.len()..];
                if token.is_empty() {
                    return Err(AuthError::InvalidToken("Empty credential"));
                }
                bearer = Some(token.to_owned());
            }
        }
    }
    if bearer.is_some() && !offered {
        return Err(AuthError::BadHandshake(
            "A bearer subprotocol must be offered together with the wsauth subprotocol",
        ));
    }
    Ok((offered, bearer))
}

/// Compares the presented CSRF value with the token's `csrf` claim in constant time.
pub(crate) fn check_csrf(presented: Option<&str>, claim: Option<&str>) -> Result<(), AuthError> {
    let presented = presented.ok_or(AuthError::CsrfFailed("Missing CSRF Token"))?;
    let claim = claim.ok_or(AuthError::CsrfFailed("Token carries no CSRF claim"))?;
    if presented.as_bytes().ct_eq(claim.as_bytes()).into() {
        Ok(())
    } else {
        Err(AuthError::CsrfFailed("CSRF double submit tokens do not match"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_strict() {
        assert_eq!(parse_bearer(b"Bearer abc").unwrap(), "abc");
        assert_eq!(parse_bearer(b"bearer abc").unwrap(), "abc");
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer  abc",
            b"Bearer a b",
            b"Basic abc",
            b"Bearer\tabc",
            b"Bearer abc ",
            b"\xff\xfe",
        ] {
            assert!(parse_bearer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn queries_split_in_place_as_the_decoder_splits_them() {
        for query in [
            "",
            "token=a.b.c",
            "token=a.b.c&csrf_token=x",
            "&&token=a&&",
            "token",
            "token=",
            "=x",
            "a=b=c",
            "token=1&token=2",
            "t%6Fken=a",
            "token=a+b",
            "token=%zz&x=%C3%A9",
            "token=%FF",
        ] {
            let ours: Vec<_> = parse_query(query);
            let decoder: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(ours, decoder, "{query:?}");
        }
    }

    #[test]
    fn csrf_compare() {
        assert!(check_csrf(Some("a"), Some("a")).is_ok());
        assert!(check_csrf(Some("a"), Some("b")).is_err());
        assert!(check_csrf(None, Some("b")).is_err());
        assert!(check_csrf(Some("a"), None).is_err());
    }
}
