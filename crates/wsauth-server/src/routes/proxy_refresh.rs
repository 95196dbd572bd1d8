//! Out-of-band refresh for proxied sockets: `POST /auth/proxy/refresh`
//! moves a live proxied socket to a new access token, so the upstream's
//! own messages never share the socket with wsauth's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use wsauth::{AccessToken, RebindError};

use super::ApiJson;
use super::openapi::{BadRequest, Forbidden, Unauthorized, Unavailable};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(refresh))
}

/// The socket to move to the presented token.
#[derive(Deserialize, ToSchema)]
pub(super) struct RefreshSocket {
    /// The `wsauth_handle` the client gave the socket when it connected.
    handle: String,
}

/// The socket's new binding.
#[derive(Serialize, ToSchema)]
pub(super) struct SocketRefreshed {
    /// The new token's `exp`.
    exp: i64,
    /// Unix seconds at which the socket now closes with 4001 unless refreshed again.
    deadline: i64,
}

/// Binds a live proxied socket to a new access token of the same user: the
/// socket is named by the `wsauth_handle` its client chose at the handshake,
/// and found only with a token of the socket's own subject. The token must
/// meet the route's check, as the handshake did: on a `check = "fresh"`
/// route one that is not fresh is 401 `fresh_token_required`. Nothing is
/// sent on the socket, so the upstream's messages never meet wsauth's.
#[utoipa::path(
    post, path = "/auth/proxy/refresh", tag = "ws",
    request_body = RefreshSocket,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "The socket is bound to the new token", body = SocketRefreshed),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "`socket_not_found`: no open proxied socket of this \
            user has that handle", body = ErrorBody),
        (status = 503, response = Unavailable),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    AccessToken(claims): AccessToken,
    ApiJson(body): ApiJson<RefreshSocket>,
) -> Response {
    let Some(bound) = state.proxies.handles.find(&claims.sub, &body.handle) else {
        return socket_not_found();
    };
    if let Err(e) = bound.admits(&claims) {
        return ApiError::Auth(e).into_response();
    }
    match bound.binding.rebind(&state.auth, &claims).await {
        Ok(deadline) => {
            bound.deadline.set(deadline);
            Json(SocketRefreshed { exp: claims.exp, deadline }).into_response()
        }
        Err(RebindError::Refused(e)) => ApiError::Auth(e).into_response(),
        Err(_) => socket_not_found(),
    }
}

fn socket_not_found() -> Response {
    let body = ErrorBody {
        detail: "No open proxied socket of this user has that handle".to_owned(),
        error: "socket_not_found".to_owned(),
    };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
