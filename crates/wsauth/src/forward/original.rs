//! The request a proxy asks about ([`OriginalRequest`]), read from the
//! headers nginx (`X-Original-URI`, `X-Original-Method`) or Traefik
//! (`X-Forwarded-Uri`, `X-Forwarded-Method`) sends.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::AuthError;

/// The original request's path and query, as nginx names it (`$request_uri`).
pub const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
/// The original request's method, as nginx names it (`$request_method`).
pub const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// The original request's path and query, as Traefik names it.
pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
/// The original request's method, as Traefik names it.
pub const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
/// The longest original URI read, bytes: room for a token of
/// [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN) and the rest of a query.
const MAX_ORIGINAL_URI: usize = 16 * 1024;

/// The request a proxy asks about: its method and its URI (whose query
/// may carry `token`, `ticket` and `csrf_token`). Its headers are those of
/// the request that asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRequest {
    /// The original method; a WebSocket handshake is a `GET`.
    pub method: Method,
    /// The original path and query.
    pub uri: Uri,
}

impl OriginalRequest {
    /// Reads the forwarding headers: `Ok(None)` when there are none. The
    /// nginx and Traefik names may both be present only if they agree, and
    /// a URI needs its method (and the reverse).
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, AuthError> {
        let uri = agreeing(headers, &X_ORIGINAL_URI, &X_FORWARDED_URI)?;
        let method = agreeing(headers, &X_ORIGINAL_METHOD, &X_FORWARDED_METHOD)?;
        let (uri, method) = match (uri, method) {
            (None, None) => return Ok(None),
            (Some(uri), Some(method)) => (uri, method),
            _ => {
                return Err(AuthError::BadForwardedRequest(
                    "The original URI and the original method go together",
                ));
            }
        };
        if uri.len() > MAX_ORIGINAL_URI {
            return Err(AuthError::BadForwardedRequest("The original URI is too long"));
        }
        let uri = Uri::try_from(uri.as_bytes())
            .ok()
            .filter(|uri| uri.path().starts_with('/'))
            .ok_or(AuthError::BadForwardedRequest("The original URI is not a path and query"))?;
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| AuthError::BadForwardedRequest("The original method is malformed"))?;
        Ok(Some(Self { method, uri }))
    }
}

/// Whether any header that names an original request is present.
pub(crate) fn names_an_original(headers: &HeaderMap) -> bool {
    [&X_ORIGINAL_URI, &X_ORIGINAL_METHOD, &X_FORWARDED_URI, &X_FORWARDED_METHOD]
        .into_iter()
        .any(|name| headers.contains_key(name))
}

/// The one value the two names give (repeats must agree), if any.
fn agreeing<'h>(
    headers: &'h HeaderMap,
    nginx: &HeaderName,
    traefik: &HeaderName,
) -> Result<Option<&'h HeaderValue>, AuthError> {
    let mut found: Option<&HeaderValue> = None;
    for value in headers.get_all(nginx).iter().chain(headers.get_all(traefik)) {
        match found {
            Some(previous) if previous != value => {
                return Err(AuthError::BadForwardedRequest(
                    "The forwarding headers name two different requests",
                ));
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), value.parse().expect("value"));
        }
        map
    }

    #[test]
    fn the_original_is_read_from_either_proxys_names() {
        let nginx = headers(&[(&X_ORIGINAL_URI, "/ws?token=a"), (&X_ORIGINAL_METHOD, "GET")]);
        let traefik = headers(&[(&X_FORWARDED_URI, "/ws?token=a"), (&X_FORWARDED_METHOD, "GET")]);
        for map in [nginx, traefik] {
            let original = OriginalRequest::from_headers(&map).expect("ok").expect("some");
            assert_eq!(original.method, Method::GET);
            assert_eq!(original.uri.query(), Some("token=a"));
        }
        assert_eq!(OriginalRequest::from_headers(&HeaderMap::new()), Ok(None));
        let agree = headers(&[
            (&X_ORIGINAL_URI, "/ws"),
            (&X_FORWARDED_URI, "/ws"),
            (&X_ORIGINAL_METHOD, "GET"),
        ]);
        assert!(OriginalRequest::from_headers(&agree).is_ok());
    }

    #[test]
    fn disagreeing_incomplete_or_malformed_originals_are_refused() {
        let long = format!("/ws?token={}", "a".repeat(MAX_ORIGINAL_URI));
        for map in [
            headers(&[(&X_ORIGINAL_URI, "/ws?token=a"), (&X_FORWARDED_URI, "/ws?token=b")]),
            headers(&[(&X_ORIGINAL_URI, "/ws"), (&X_ORIGINAL_URI, "/other")]),
            headers(&[(&X_ORIGINAL_URI, "/ws")]),
            headers(&[(&X_FORWARDED_METHOD, "GET")]),
            headers(&[(&X_ORIGINAL_URI, "ws"), (&X_ORIGINAL_METHOD, "GET")]),
            headers(&[(&X_ORIGINAL_URI, &long), (&X_ORIGINAL_METHOD, "GET")]),
            headers(&[(&X_ORIGINAL_URI, "/ws"), (&X_ORIGINAL_METHOD, "G(T")]),
        ] {
            let refused = OriginalRequest::from_headers(&map).expect_err("refused");
            assert_eq!(refused.code(), "bad_forwarded_request", "{map:?}");
        }
    }
}
