//! A token's JOSE header: read strictly in one pass, then checked. Only
//! `alg`, `kid` and `typ` are kept; a parameter that would make us fetch,
//! trust or interpret something is noted so the token is refused; any other
//! is ignored, but, like every key, refused when given twice.

use std::borrow::Cow;

use serde_json::Value;

use crate::AuthError;
use crate::strict_json::{Entries, fill_once};

/// Which `typ` header values a token may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderTypes {
    /// Only `JWT` (any letter case), or none: this server's own tokens.
    Jwt,
    /// Also `at+jwt` and `application/at+jwt` (RFC 9068 access tokens, as
    /// Auth0 and Okta mint them): tokens of trusted issuers.
    JwtOrAccessToken,
}

/// Header parameters that would make us fetch, trust or interpret something
/// we never do: refused outright rather than ignored.
const REFUSED_HEADERS: [&str; 7] = ["jku", "x5u", "jwk", "x5c", "crit", "cty", "zip"];

/// A token's header as read, not yet checked ([`read_header`] checks it).
#[derive(Debug, Default)]
pub(crate) struct Header {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    /// Whether one of [`REFUSED_HEADERS`] was present.
    refused: bool,
    /// The names of the other parameters, kept only to refuse one given twice.
    others: Vec<String>,
}

impl Entries for Header {
    fn insert(&mut self, key: Cow<'_, str>, value: Value) -> bool {
        match &*key {
            "alg" => fill_once(&mut self.alg, value),
            "kid" => fill_once(&mut self.kid, value),
            "typ" => fill_once(&mut self.typ, value),
            other if self.others.iter().any(|seen| seen == other) => false,
            other => {
                self.refused |= REFUSED_HEADERS.contains(&other);
                self.others.push(key.into_owned());
                true
            }
        }
    }
}

/// Reads `alg` (required) and `kid` (optional) with exact types, and refuses
/// unsupported header parameters and a `typ` other than JWT.
pub(crate) fn read_header(
    header: &Header,
    types: HeaderTypes,
) -> Result<(&str, Option<&str>), AuthError> {
    if header.refused {
        return Err(AuthError::InvalidToken("Unsupported token header"));
    }
    let Some(Value::String(alg)) = &header.alg else {
        return Err(AuthError::InvalidToken("Token header has no algorithm"));
    };
    let kid = match &header.kid {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(AuthError::InvalidToken("Unknown key id")),
    };
    match &header.typ {
        None => {}
        Some(Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
        Some(Value::String(t))
            if types == HeaderTypes::JwtOrAccessToken
                && (t.eq_ignore_ascii_case("at+jwt")
                    || t.eq_ignore_ascii_case("application/at+jwt")) => {}
        Some(_) => return Err(AuthError::InvalidToken("Unsupported token type header")),
    }
    Ok((alg, kid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strict_json::parse_entries;

    fn read(json: &str, types: HeaderTypes) -> Result<(String, Option<String>), String> {
        let header: Header = parse_entries(json.as_bytes()).ok_or("unparsable")?;
        read_header(&header, types)
            .map(|(alg, kid)| (alg.to_owned(), kid.map(str::to_owned)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn alg_and_kid_are_read_with_exact_types() {
        let jwt = HeaderTypes::Jwt;
        assert_eq!(read(r#"{"typ":"JWT","alg":"HS256"}"#, jwt), Ok(("HS256".into(), None)));
        assert_eq!(
            read(r#"{"alg":"ES256","kid":"k1","x5t":"ignored"}"#, jwt),
            Ok(("ES256".into(), Some("k1".into())))
        );
        assert!(read(r#"{"typ":"JWT"}"#, jwt).is_err());
        assert!(read(r#"{"alg":5}"#, jwt).is_err());
        assert!(read(r#"{"alg":"HS256","kid":7}"#, jwt).is_err());
        assert!(read(r#"{"alg":"HS256","typ":"at+jwt"}"#, jwt).is_err());
        assert!(read(r#"{"alg":"HS256","typ":"at+jwt"}"#, HeaderTypes::JwtOrAccessToken).is_ok());
    }

    #[test]
    fn parameters_we_would_have_to_act_on_are_refused() {
        for name in REFUSED_HEADERS {
            let json = format!(r#"{{"alg":"HS256","{name}":1}}"#);
            assert!(read(&json, HeaderTypes::Jwt).is_err(), "{name}");
        }
    }

    #[test]
    fn any_parameter_given_twice_refuses_the_header() {
        for json in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","\u0061lg":"none"}"#,
            r#"{"alg":"HS256","x5t":1,"x5t":2}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
        ] {
            assert!(parse_entries::<Header>(json.as_bytes()).is_none(), "{json}");
        }
    }
}
