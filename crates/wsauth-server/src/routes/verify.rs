//! Forward auth: `GET` / `HEAD /auth/verify`, for nginx `auth_request` and
//! Traefik `ForwardAuth`. The library judges the original request
//! (`wsauth::ForwardAuth`); this route only describes it.

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::forward::ForwardAuth;

use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(verify))
}

/// Who the original request authenticated as.
#[derive(Serialize, ToSchema)]
#[allow(dead_code, reason = "describes the body `wsauth::ForwardAuth` writes")]
struct Verified {
    /// The subject.
    sub: String,
    /// How the credential travelled: `header`, `cookie`, `query`,
    /// `subprotocol` or `ticket`.
    credential: String,
}

/// Forward auth: authenticates the request a trusted proxy is about to pass
/// on, as `/ws` would authenticate it (every credential transport, Origin,
/// CSRF, ticket redemption, revocation, the handshake rate). The proxy names
/// it in `X-Original-URI` + `X-Original-Method` (nginx) or `X-Forwarded-Uri`
/// + `X-Forwarded-Method` (Traefik), believed only from `trusted_proxies`;
/// the client's headers travel on this request. Every refusal is 401 or 403
/// with the error code in `X-Wsauth-Error` (docs/front-door.md).
#[utoipa::path(
    method(get, head), path = "/auth/verify", tag = "auth",
    params(
        ("X-Original-URI" = Option<String>, Header,
            description = "The original path and query (nginx `$request_uri`); \
                only from a trusted proxy, with `X-Original-Method`"),
        ("X-Original-Method" = Option<String>, Header,
            description = "The original method (nginx `$request_method`): `GET` or `HEAD`"),
        ("X-Forwarded-Uri" = Option<String>, Header,
            description = "The original path and query (Traefik); only from a trusted proxy"),
        ("X-Forwarded-Method" = Option<String>, Header,
            description = "The original method (Traefik)"),
        ("Sec-WebSocket-Protocol" = Option<String>, Header,
            description = "The client's offer: `wsauth, bearer.<access JWT>`"),
        ("Origin" = Option<String>, Header,
            description = "Must be one of `allowed_origins` when present; required \
                with the cookie credential"),
    ),
    security(
        ("bearer" = []),
        ("query_token" = []),
        ("ticket" = []),
        ("access_cookie" = [], "ws_csrf" = []),
    ),
    responses(
        (status = 200, description = "Authenticated; the proxy passes the identity on",
            body = Verified,
            headers(
                ("X-Wsauth-Sub" = String,
                    description = "The subject, `%` and bytes outside visible ASCII \
                        percent-encoded"),
                ("X-Wsauth-Claims" = String,
                    description = "The verified claims as JSON, base64url without padding"),
            )),
        (status = 401, description = "Present another credential: `missing_token`, \
            `invalid_token`, `token_expired`, `token_revoked`, `key_retired`, `wrong_token_type`, \
            `invalid_ticket`, `conflicting_credentials`",
            body = crate::error::ErrorBody,
            headers(
                ("X-Wsauth-Error" = String, description = "The error code"),
                ("WWW-Authenticate" = String, description = "`Bearer error=\"invalid_token\"`"),
            )),
        (status = 403, description = "Refused whatever the credential, or not now: \
            `csrf_failed`, `origin_not_allowed`, `untrusted_proxy`, `bad_handshake`, \
            `bad_forwarded_request`, `too_many_requests` and `unavailable` (with `Retry-After`)",
            body = crate::error::ErrorBody,
            headers(
                ("X-Wsauth-Error" = String, description = "The error code"),
                ("Retry-After" = Option<u64>,
                    description = "With `too_many_requests` and `unavailable`"),
            )),
    )
)]
async fn verify(granted: ForwardAuth) -> Response {
    granted.into_response()
}
