//! Reading the places a credential travels: the `Authorization` header,
//! the query, the `Cookie` headers, the CSRF header and
//! `Sec-WebSocket-Protocol`. Each refuses what is malformed, and two values
//! that disagree.

use std::borrow::Cow;

use axum::http::{HeaderMap, header};

use super::{Query, Subprotocol};
use crate::AuthError;

const BEARER_PREFIX: &str = "bearer.";
const MAX_SUBPROTOCOL_HEADER: usize = 16 * 1024;

/// `Bearer <token>`: the scheme case-insensitive, exactly one space, and a
/// token with no spaces.
pub(super) fn parse_bearer(value: &[u8]) -> Result<&str, AuthError> {
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
pub(super) fn parse_query(query: &str) -> Query<'_> {
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
pub(super) fn single<'a>(query: &Query<'a>, name: &str) -> Result<Option<Cow<'a, str>>, AuthError> {
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

pub(super) fn header_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, AuthError> {
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
pub(super) fn cookie_value(headers: &HeaderMap, name: &str) -> Result<Option<String>, AuthError> {
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
pub(super) fn parse_subprotocols(
    headers: &HeaderMap,
    name: &str,
) -> Result<(Subprotocol, Option<String>), AuthError> {
    let mut offered = Subprotocol::NotOffered;
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
                offered = Subprotocol::Offered;
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
    if bearer.is_some() && offered == Subprotocol::NotOffered {
        return Err(AuthError::BadHandshake(
            "A bearer subprotocol must be offered together with the wsauth subprotocol",
        ));
    }
    Ok((offered, bearer))
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
}
