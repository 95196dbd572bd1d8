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

pub(crate) mod original;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::WsAuth;
use crate::handshake::Authenticated;
use crate::{AuthError, Claims};

pub use original::{
    OriginalRequest, X_FORWARDED_METHOD, X_FORWARDED_URI, X_ORIGINAL_METHOD, X_ORIGINAL_URI,
};

/// The verified subject, percent-encoded ([`IdentityHeaders`]).
pub const X_WSAUTH_SUB: HeaderName = HeaderName::from_static("x-wsauth-sub");
/// The verified claims as unpadded base64url JSON ([`IdentityHeaders`]).
pub const X_WSAUTH_CLAIMS: HeaderName = HeaderName::from_static("x-wsauth-claims");
/// The stable error code of a refusal ([`ForwardRefusal`]).
pub const X_WSAUTH_ERROR: HeaderName = HeaderName::from_static("x-wsauth-error");

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
