//! Every way authentication can fail, each with its HTTP status, its stable
//! error code and the close code used when the failure happens after an upgrade.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request or a connection was refused.
///
/// Each variant knows its HTTP status ([`AuthError::status`]), its stable
/// machine-readable code ([`AuthError::code`]) and its WebSocket close code
/// ([`AuthError::close_code`]). The human message never contains a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credential was presented where one is required.
    #[error("{0}")]
    MissingToken(&'static str),
    /// The token is malformed, badly signed, or its claims are invalid.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The token's `exp` has passed.
    #[error("Token has expired")]
    TokenExpired,
    /// The token was revoked (logout, log out everywhere, refresh reuse).
    #[error("Token has been revoked")]
    TokenRevoked,
    /// The token is signed by a known previous key whose `valid_until` has
    /// passed: the key was retired by a rotation; log in again.
    #[error("Token's signing key has been retired")]
    KeyRetired,
    /// An access token was presented where a refresh token is needed, or the reverse.
    #[error("{0}")]
    WrongTokenType(&'static str),
    /// The route needs a fresh access token (one issued by a password login).
    #[error("Fresh token required")]
    FreshTokenRequired,
    /// The CSRF double-submit value is missing or does not match.
    #[error("{0}")]
    CsrfFailed(&'static str),
    /// The request's `Origin` is not on the allow-list.
    #[error("Origin not allowed")]
    OriginNotAllowed,
    /// Two credentials were presented and they disagree.
    #[error("Conflicting credentials: present exactly one")]
    ConflictingCredentials,
    /// A one-time ticket is unknown, expired or already used.
    #[error("Ticket is invalid, expired or already used")]
    InvalidTicket,
    /// The WebSocket handshake itself is malformed.
    #[error("{0}")]
    BadHandshake(&'static str),
    /// A rate or connection limit was reached; retry after the given seconds.
    #[error("Too many requests")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// A backing store (revocation, tickets) failed: the request fails closed.
    #[error("Authentication backend unavailable")]
    Unavailable,
    /// Forward auth: the request names an original request (`X-Original-URI`
    /// and the like) but does not come from a trusted proxy.
    #[error("Only a trusted proxy may name the original request")]
    UntrustedProxy,
    /// Forward auth: a trusted proxy named the original request unreadably.
    #[error("{0}")]
    BadForwardedRequest(&'static str),
}

impl AuthError {
    /// The HTTP status used when the failure happens before an upgrade.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken(_)
            | Self::InvalidToken(_)
            | Self::TokenExpired
            | Self::TokenRevoked
            | Self::KeyRetired
            | Self::WrongTokenType(_)
            | Self::FreshTokenRequired
            | Self::InvalidTicket => StatusCode::UNAUTHORIZED,
            Self::CsrfFailed(_) | Self::OriginNotAllowed | Self::UntrustedProxy => {
                StatusCode::FORBIDDEN
            }
            Self::ConflictingCredentials | Self::BadHandshake(_) | Self::BadForwardedRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable error code (documented in docs/protocol.md).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken(_) => "missing_token",
            Self::InvalidToken(_) => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::KeyRetired => "key_retired",
            Self::WrongTokenType(_) => "wrong_token_type",
            Self::FreshTokenRequired => "fresh_token_required",
            Self::CsrfFailed(_) => "csrf_failed",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::ConflictingCredentials => "conflicting_credentials",
            Self::InvalidTicket => "invalid_ticket",
            Self::BadHandshake(_) => "bad_handshake",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable => "unavailable",
            Self::UntrustedProxy => "untrusted_proxy",
            Self::BadForwardedRequest(_) => "bad_forwarded_request",
        }
    }

    /// The WebSocket close code used when the failure happens after an upgrade
    /// (first-message authentication, in-band refresh).
    #[must_use]
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TokenExpired => close_code::TOKEN_EXPIRED,
            Self::TokenRevoked => close_code::TOKEN_REVOKED,
            Self::TooManyRequests { .. } => close_code::POLICY_VIOLATION,
            Self::Unavailable => close_code::TRY_AGAIN_LATER,
            _ => close_code::UNAUTHORIZED,
        }
    }

    /// The JSON body `{"detail": ..., "error": ...}`.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "detail": self.to_string(), "error": self.code() })
    }
}

/// WebSocket close codes used by wsauth (see docs/protocol.md).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol error by the peer.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Never sent: what a close frame without a code is reported as.
    pub const NO_STATUS_RECEIVED: u16 = 1005;
    /// Never sent: what a connection that ended without a close frame is
    /// reported as.
    pub const ABNORMAL_CLOSURE: u16 = 1006;
    /// A text frame that was not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A policy violation (rate limit, second auth frame, bad command).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server failed unexpectedly.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// A backend is unavailable; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The access token expired and was not refreshed in time.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// The token behind the connection was revoked.
    pub const TOKEN_REVOKED: u16 = 4003;
    /// First-message mode: the auth frame was missing, wrong or invalid.
    pub const UNAUTHORIZED: u16 = 4401;
    /// In-band refresh with a token for another subject.
    pub const SUBJECT_MISMATCH: u16 = 4403;
    /// First-message mode: no auth frame before the deadline.
    pub const AUTH_TIMEOUT: u16 = 4408;
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        match self {
            Self::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            // A backend that failed may answer again in a moment.
            Self::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
