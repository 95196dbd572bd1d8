//! Finding the credential in a request: `Authorization: Bearer`, the access
//! cookie (with its CSRF companion), `?token=`, the `bearer.<JWT>`
//! subprotocol, or `?ticket=`. Two credentials that disagree are refused.

//!
//! This is stage one of the handshake pipeline (`handshake/mod.rs`), and
//! the place the CSRF rule is stated.

mod kinds;
mod parse;

use std::borrow::Cow;

use axum::http::{HeaderMap, Method, header, request::Parts};
use subtle::ConstantTimeEq;

use crate::{AuthError, TokenKind};
use parse::{cookie_value, header_value, parse_bearer, parse_query, parse_subprotocols, single};

pub use kinds::{CredentialKind, CredentialNames, Transports};

/// Stage one of the handshake pipeline ([`crate::handshake`]): the one
/// credential a request carries, found and not yet verified, borrowed from
/// the request where it could be.
#[derive(Debug)]
pub(crate) struct Located<'a> {
    pub(crate) kind: CredentialKind,
    pub(crate) value: Cow<'a, str>,
    /// What the CSRF rule asks of it.
    pub(crate) csrf: Csrf<'a>,
    /// Whether the client offered the wsauth subprotocol.
    pub(crate) subprotocol: Subprotocol,
}

/// What the CSRF rule ([`cookie_csrf`]) asks of a located credential.
#[derive(Debug)]
pub(crate) enum Csrf<'a> {
    /// Nothing: not a cookie, or a cookie on a safe HTTP method.
    NotRequired,
    /// A cookie's double-submit value, presented beside it: it must equal
    /// the token's `csrf` claim once the token is verified.
    Presented(Cow<'a, str>),
}

/// Whether a handshake offered the configured subprotocol (which the
/// upgrade then selects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subprotocol {
    /// Offered.
    Offered,
    /// Not offered (and never on an HTTP request).
    NotOffered,
}

/// A query's decoded pairs.
pub(super) type Query<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Finds exactly one credential in an HTTP request, or says why there is
/// none: the `Authorization` header or the cookie.
pub(crate) fn in_request<'a>(
    parts: &'a Parts,
    kind: TokenKind,
    names: &CredentialNames,
    transports: &Transports,
) -> Result<Located<'a>, AuthError> {
    let mut found = Found::default();
    found.header(parts, transports)?;
    found.cookie(parts, kind, names, transports, CsrfSource::Header)?;
    found.one(Subprotocol::NotOffered)
}

/// Finds exactly one credential in a WebSocket handshake, or says why
/// there is none: the `Authorization` header, `?token=`, `?ticket=`, a
/// `bearer.<JWT>` subprotocol, or the cookie.
pub(crate) fn in_handshake<'a>(
    parts: &'a Parts,
    kind: TokenKind,
    names: &CredentialNames,
    transports: &Transports,
) -> Result<Located<'a>, AuthError> {
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let mut found = Found::default();
    found.header(parts, transports)?;
    if transports.query
        && let Some(token) = single(&query, &names.token_query)?
    {
        found.push(CredentialKind::Query, token);
    }
    if transports.ticket
        && let Some(ticket) = single(&query, &names.ticket_query)?
    {
        found.push(CredentialKind::Ticket, ticket);
    }
    let (offered, bearer) = parse_subprotocols(&parts.headers, &names.subprotocol)?;
    if let Some(token) = bearer {
        if !transports.subprotocol {
            return Err(AuthError::BadHandshake("Subprotocol credentials are disabled"));
        }
        found.push(CredentialKind::Subprotocol, Cow::Owned(token));
    }
    found.cookie(parts, kind, names, transports, CsrfSource::Query(&query))?;
    found.one(offered)
}

/// Where a cookie's CSRF double-submit value travels.
enum CsrfSource<'q, 'a> {
    /// An HTTP request: the CSRF header.
    Header,
    /// A WebSocket handshake (a browser sets no header on it): the query.
    Query(&'q Query<'a>),
}

/// The CSRF rule, stated once. A cookie is ambient: the browser sends it on
/// its own, with any site's request. So a cookie credential counts only
/// with its double-submit value beside it on every WebSocket handshake and
/// on every HTTP request of an unsafe method; on a safe method (GET, HEAD,
/// OPTIONS) none is needed, and none is compared. The presented value must
/// then equal the token's `csrf` claim ([`check_csrf`], once verified).
/// `Ok(None)`: the cookie does not count (its value is missing).
fn cookie_csrf<'a>(
    parts: &'a Parts,
    source: CsrfSource<'_, 'a>,
    names: &CredentialNames,
) -> Result<Option<Csrf<'a>>, AuthError> {
    let (presented, required) = match source {
        CsrfSource::Query(query) => (single(query, &names.csrf_query)?, true),
        CsrfSource::Header => (
            header_value(&parts.headers, &names.csrf_header)?.map(Cow::Owned),
            !is_safe(&parts.method),
        ),
    };
    Ok(match presented {
        Some(value) if required => Some(Csrf::Presented(value)),
        None if required => None,
        _ => Some(Csrf::NotRequired),
    })
}

/// The credentials found so far.
#[derive(Default)]
struct Found<'a> {
    found: Vec<(CredentialKind, Cow<'a, str>)>,
    csrf: Option<Csrf<'a>>,
    cookie_without_csrf: bool,
}

impl<'a> Found<'a> {
    fn push(&mut self, kind: CredentialKind, value: Cow<'a, str>) {
        self.found.push((kind, value));
    }

    /// `Authorization: Bearer`.
    fn header(&mut self, parts: &'a Parts, transports: &Transports) -> Result<(), AuthError> {
        if transports.header {
            let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
            if let Some(value) = values.next() {
                if values.next().is_some() {
                    return Err(AuthError::ConflictingCredentials);
                }
                self.push(CredentialKind::Header, Cow::Borrowed(parse_bearer(value.as_bytes())?));
            }
        }
        Ok(())
    }

    /// The cookie. It is ambient, and a sibling subdomain can add one of
    /// its own: it is read only when the request carries no explicit
    /// credential (which it could neither lower nor break), and counts only
    /// as the CSRF rule says.
    fn cookie(
        &mut self,
        parts: &'a Parts,
        kind: TokenKind,
        names: &CredentialNames,
        transports: &Transports,
        source: CsrfSource<'_, 'a>,
    ) -> Result<(), AuthError> {
        if !transports.cookie || !self.found.is_empty() {
            return Ok(());
        }
        let cookie_name = match kind {
            TokenKind::Refresh => &names.refresh_cookie,
            _ => &names.access_cookie,
        };
        if let Some(token) = cookie_value(&parts.headers, cookie_name)? {
            match cookie_csrf(parts, source, names)? {
                Some(csrf) => {
                    self.push(CredentialKind::Cookie, Cow::Owned(token));
                    self.csrf = Some(csrf);
                }
                None => self.cookie_without_csrf = true,
            }
        }
        Ok(())
    }

    /// The one credential: two that disagree conflict.
    fn one(self, subprotocol: Subprotocol) -> Result<Located<'a>, AuthError> {
        let mut found = self.found.into_iter();
        let Some((kind, value)) = found.next() else {
            return Err(if self.cookie_without_csrf {
                AuthError::CsrfFailed("Missing CSRF Token")
            } else {
                AuthError::MissingToken("Missing credential")
            });
        };
        if found.any(|(_, v)| v.as_bytes().ct_ne(value.as_bytes()).into()) {
            return Err(AuthError::ConflictingCredentials);
        }
        let csrf = self.csrf.unwrap_or(Csrf::NotRequired);
        Ok(Located { kind, value, csrf, subprotocol })
    }
}

/// Whether the client offered the configured subprotocol (for handshakes
/// without a bearer entry, such as first-message mode).
pub(crate) fn offered_subprotocol(
    headers: &HeaderMap,
    name: &str,
) -> Result<Subprotocol, AuthError> {
    parse_subprotocols(headers, name).map(|(offered, _)| offered)
}

/// GET, HEAD and OPTIONS: methods that need no CSRF value.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Compares the presented CSRF value with the token's `csrf` claim in
/// constant time (the second half of the CSRF rule, [`cookie_csrf`]).
pub(crate) fn check_csrf(presented: &str, claim: Option<&str>) -> Result<(), AuthError> {
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
    fn csrf_compare() {
        assert!(check_csrf("a", Some("a")).is_ok());
        assert!(check_csrf("a", Some("b")).is_err());
        assert!(check_csrf("", Some("b")).is_err());
        assert!(check_csrf("a", None).is_err());
    }
}
