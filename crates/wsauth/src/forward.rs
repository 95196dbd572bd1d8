//! Forward auth: judging, for a reverse proxy (nginx `auth_request`, Traefik
//! `ForwardAuth`), the request it is about to pass on, exactly as
//! [`WsGuard`](crate::WsGuard) judges a handshake, and answering in the only
//! statuses such a proxy understands (200, 401, 403).
//!
//! The proxy sends the client's headers on a request of its own and names
//! the original request in `X-Original-URI` + `X-Original-Method` (nginx)
//! or `X-Forwarded-Uri` + `X-Forwarded-Method` (Traefik). Those are believed
//! only when the TCP peer is one of the [`TrustedProxies`](crate::TrustedProxies);
//! from anyone else they are refused (403 `untrusted_proxy`), so no client can
//! have the query of a URI it did not send judged in its place. A request
//! that carries none of them is judged as it is.
//!
//! ```
//! use axum::{Router, routing::get, response::IntoResponse};
//! use wsauth::WsAuth;
//! use wsauth::forward::ForwardAuth;
//!
//! // 200 with `X-Wsauth-Sub` and `X-Wsauth-Claims`, or 401 / 403 with
//! // `X-Wsauth-Error` (`ForwardRefusal`).
//! async fn verify(granted: ForwardAuth) -> impl IntoResponse {
//!     granted
//! }
//! fn app(auth: WsAuth) -> Router {
//!     Router::new().route("/auth/verify", get(verify)).with_state(auth)
//! }
//! ```

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::net::SocketAddr;

use crate::auth::WsAuth;
use crate::handshake::Authenticated;
use crate::{AuthError, Claims};

/// The original request's path and query, as nginx names it (`$request_uri`).
pub const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
/// The original request's method, as nginx names it (`$request_method`).
pub const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
/// The original request's path and query, as Traefik names it.
pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
/// The original request's method, as Traefik names it.
pub const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
/// The verified subject, percent-encoded ([`IdentityHeaders`]).
pub const X_WSAUTH_SUB: HeaderName = HeaderName::from_static("x-wsauth-sub");
/// The verified claims as unpadded base64url JSON ([`IdentityHeaders`]).
pub const X_WSAUTH_CLAIMS: HeaderName = HeaderName::from_static("x-wsauth-claims");
/// The stable error code of a refusal ([`ForwardRefusal`]).
pub const X_WSAUTH_ERROR: HeaderName = HeaderName::from_static("x-wsauth-error");

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
fn names_an_original(headers: &HeaderMap) -> bool {
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

/// The request to judge, as the guard sees it: the one the forwarding
/// headers name (believed only from a trusted proxy; a `GET`, as a
/// handshake is, or a `HEAD`), or, without them, the request itself; with
/// the asking request's headers and peer address.
pub(crate) fn original_parts(auth: &WsAuth, asking: &Parts) -> Result<Parts, AuthError> {
    let original = original_request(auth, asking)?;
    if !matches!(original.method, Method::GET | Method::HEAD) {
        return Err(AuthError::BadHandshake("A WebSocket handshake is a GET"));
    }
    let (mut parts, ()) = axum::http::Request::new(()).into_parts();
    parts.method = original.method;
    parts.uri = original.uri;
    parts.headers = asking.headers.clone();
    if let Some(peer) = asking.extensions.get::<ConnectInfo<SocketAddr>>() {
        parts.extensions.insert(*peer);
    }
    Ok(parts)
}

fn original_request(auth: &WsAuth, parts: &Parts) -> Result<OriginalRequest, AuthError> {
    if !names_an_original(&parts.headers) {
        return Ok(OriginalRequest { method: parts.method.clone(), uri: parts.uri.clone() });
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if !peer.is_some_and(|ip| auth.trusted_proxies().contains(ip)) {
        return Err(AuthError::UntrustedProxy);
    }
    OriginalRequest::from_headers(&parts.headers)?
        .ok_or(AuthError::BadForwardedRequest("No original request named"))
}

/// `X-Wsauth-Sub` and `X-Wsauth-Claims`: who a verified credential belongs
/// to, for the application behind a proxy.
///
/// - `X-Wsauth-Sub`: the subject, with `%` and every byte outside visible
///   ASCII percent-encoded (`alice` stays `alice`; `zoë` is `zo%C3%AB`).
/// - `X-Wsauth-Claims`: the verified claims as JSON (as [`Claims`]
///   serialize), base64url without padding.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// The `X-Wsauth-Sub` value.
    pub sub: HeaderValue,
    /// The `X-Wsauth-Claims` value.
    pub claims: HeaderValue,
}

impl IdentityHeaders {
    /// The two values for `claims`.
    pub fn for_claims(claims: &Claims) -> Result<Self, AuthError> {
        // Neither can fail: plain data serializes, and base64url and
        // percent-encoded text are visible ASCII. Were either to, the
        // refusal fails closed.
        let json = serde_json::to_vec(claims).map_err(|_| AuthError::Unavailable)?;
        let encoded = URL_SAFE_NO_PAD.encode(json);
        Ok(Self {
            sub: HeaderValue::from_str(&percent_encode(&claims.sub))
                .map_err(|_| AuthError::Unavailable)?,
            claims: HeaderValue::from_str(&encoded).map_err(|_| AuthError::Unavailable)?,
        })
    }

    /// Sets both headers, replacing any value already there.
    pub fn insert_into(self, headers: &mut HeaderMap) {
        headers.insert(X_WSAUTH_SUB, self.sub);
        headers.insert(X_WSAUTH_CLAIMS, self.claims);
    }
}

/// `%` and every byte outside visible ASCII as `%XX`.
fn percent_encode(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A forward-auth verdict that let the request through: answers 200 with
/// [`IdentityHeaders`] and `{"sub","credential"}`.
#[derive(Debug, Clone)]
pub struct ForwardAuth(pub Authenticated);

impl<S> FromRequestParts<S> for ForwardAuth
where
    WsAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ForwardRefusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ForwardRefusal> {
        WsAuth::from_ref(state)
            .authenticate_forwarded(parts)
            .await
            .map(Self)
            .map_err(ForwardRefusal)
    }
}

impl IntoResponse for ForwardAuth {
    fn into_response(self) -> Response {
        let identity = match IdentityHeaders::for_claims(&self.0.claims) {
            Ok(identity) => identity,
            Err(e) => return ForwardRefusal(e).into_response(),
        };
        let body = serde_json::json!({
            "sub": self.0.claims.sub,
            "credential": self.0.credential,
        });
        let mut response = axum::Json(body).into_response();
        let headers = response.headers_mut();
        identity.insert_into(headers);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A forward-auth refusal: 401 or 403 only, since nginx's `auth_request`
/// turns any other status into a 500. `X-Wsauth-Error` carries the stable
/// error code, the body is the usual `{"detail","error"}`, and `Retry-After`
/// stays on rate limits and backend failures.
///
/// | error | status |
/// |---|---|
/// | every 401 of [`AuthError::status`] (`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `wrong_token_type`, `invalid_ticket`) | 401 |
/// | `conflicting_credentials` (400): present exactly one credential | 401 |
/// | `csrf_failed`, `origin_not_allowed`, `untrusted_proxy` | 403 |
/// | `bad_handshake`, `bad_forwarded_request` (400): no credential makes this request acceptable | 403 |
/// | `too_many_requests` (429), `unavailable` (503): not now, whatever the credential | 403 |
///
/// A 401 asks the client for another credential; a 403 says that another
/// credential would not help (or not yet), so a client never discards a
/// good token because of a rate limit or a backend failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRefusal(pub AuthError);

impl ForwardRefusal {
    /// 401 or 403, per the table above.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            AuthError::ConflictingCredentials => StatusCode::UNAUTHORIZED,
            e if e.status() == StatusCode::UNAUTHORIZED => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

impl IntoResponse for ForwardRefusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = HeaderValue::from_static(self.0.code());
        let mut response = self.0.into_response();
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        } else {
            headers.remove(header::WWW_AUTHENTICATE);
        }
        headers.insert(X_WSAUTH_ERROR, code);
        response
    }
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

    #[test]
    fn subjects_are_percent_encoded_only_where_needed() {
        assert_eq!(percent_encode("alice.b-c_d"), "alice.b-c_d");
        assert_eq!(percent_encode("zo\u{eb} 100%"), "zo%C3%AB%20100%25");
        assert_eq!(percent_encode("a\r\nX-Wsauth-Sub: root"), "a%0D%0AX-Wsauth-Sub:%20root");
    }

    #[test]
    fn every_refusal_is_401_or_403() {
        let cases = [
            (AuthError::MissingToken("x"), 401),
            (AuthError::InvalidToken("x"), 401),
            (AuthError::TokenExpired, 401),
            (AuthError::TokenRevoked, 401),
            (AuthError::WrongTokenType("x"), 401),
            (AuthError::FreshTokenRequired, 401),
            (AuthError::InvalidTicket, 401),
            (AuthError::ConflictingCredentials, 401),
            (AuthError::CsrfFailed("x"), 403),
            (AuthError::OriginNotAllowed, 403),
            (AuthError::UntrustedProxy, 403),
            (AuthError::BadHandshake("x"), 403),
            (AuthError::BadForwardedRequest("x"), 403),
            (AuthError::TooManyRequests { retry_after: 3 }, 403),
            (AuthError::Unavailable, 403),
        ];
        for (error, status) in cases {
            let code = error.code();
            let response = ForwardRefusal(error).into_response();
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()[&X_WSAUTH_ERROR], code);
            let challenged = response.headers().contains_key(header::WWW_AUTHENTICATE);
            assert_eq!(challenged, status == 401, "{code}");
        }
        let limited = ForwardRefusal(AuthError::TooManyRequests { retry_after: 3 }).into_response();
        assert_eq!(limited.headers()[header::RETRY_AFTER], "3");
    }
}
